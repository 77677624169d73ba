import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// One scenario per RFC 3208 behaviour, in the manner of OpenPGM's conformance scripts, but in-process and
/// deterministic. Host 0 is the source; receivers are hosts 1...n.
@Suite struct RFCScenarioTests {
    private static func odataSequence(_ query: Network.DropQuery) -> SequenceNumber? {
        if case .odata(let data) = query.packet.body { return data.sequence }
        return nil
    }

    private static func sequences(of packet: Packet) -> [SequenceNumber] {
        switch packet.body {
        case .nak(let nak), .ncf(let nak):
            var list = [nak.sequence]
            for option in packet.options { if case .nakList(let more) = option.value { list += more } }
            return list
        default:
            return []
        }
    }

    @Test("5.3 NAK back-off and NCF suppression: 50 receivers lose the same ODATA, few NAKs reach the source")
    func nakSuppressionAmongFiftyReceivers() {
        let seed = Seeds.seed(11)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 50, apdus: makeAPDUs(count: 80, sizes: 100...1000, seed: seed))
        configuration.source.initialSequence = SequenceNumber(1000)
        configuration.tracing = true
        let scenario = SessionScenario(configuration)
        let lost: Set<UInt32> = [1005, 1020, 1021, 1022, 1050, 1070]
        // Lost on the source's uplink: every receiver misses the same packets at the same time.
        scenario.network.dropRule = { query in
            query.receiver == nil && Self.odataSequence(query).map { lost.contains($0.rawValue) } == true
        }
        #expect(scenario.run(), "seed \(seed)")
        let failures = scenario.verify()
        #expect(failures.isEmpty, Comment(rawValue: describe(failures, seed: seed)))
        let source = scenario.source.engine.statistics
        let perLost = Double(source.nakSequencesReceived) / Double(lost.count)
        // Without suppression this would be 50 per lost sequence.
        #expect(perLost <= 4, "seed \(seed): \(perLost) NAKed sequences per lost sequence")
        // NAKs that escaped suppression and arrive right after the repair are repaired once more when the
        // hold-off ends (RFC 3208 §5.3); once the source has heard how far behind the first NAK they come, it
        // holds the RDATA that long (§5.3 MAY) and one repair answers them all: the later losses get one each.
        var repairs: [UInt32: Int] = [:]
        for record in scenario.network.trace where record.receiver == nil {
            if case .rdata(let data)? = (try? Packet(decoding: record.bytes))?.body {
                repairs[data.sequence.rawValue, default: 0] += 1
            }
        }
        #expect(repairs.keys.sorted() == lost.sorted(), "seed \(seed): every lost sequence repaired")
        #expect(repairs.values.allSatisfy { $0 <= 2 }, "seed \(seed): \(repairs)")
        #expect(repairs[1050] == 1 && repairs[1070] == 1, "seed \(seed): \(repairs)")
        let suppressed = scenario.receivers.reduce(0) { $0 + $1.engine.statistics.naksSuppressed }
        #expect(suppressed >= 40 * lost.count, "seed \(seed): \(suppressed) NAKs suppressed by NCFs")
    }

    @Test("6.3 WAIT_NCF: the NAK is repeated after NAK_RPT_IVL when its NCF (and RDATA) are lost")
    func nakRepeatedWhenNCFLost() {
        let seed = Seeds.seed(12)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 1, apdus: makeAPDUs(count: 20, sizes: 10...100, seed: seed))
        configuration.source.initialSequence = SequenceNumber(0)
        configuration.receiver.nakRepeatInterval = .milliseconds(700)
        configuration.tracing = true
        let scenario = SessionScenario(configuration)
        var droppedNCF = false
        var droppedRDATA = false
        scenario.network.dropRule = { query in
            guard query.receiver != nil else { return false }
            switch query.packet.body {
            case .odata(let data): return data.sequence.rawValue == 5
            case .ncf where !droppedNCF:
                droppedNCF = true
                return true
            case .rdata where !droppedRDATA:
                droppedRDATA = true
                return true
            default: return false
            }
        }
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        let naks = scenario.network.trace.filter { $0.receiver == nil && $0.packet?.body.type == .nak }
        #expect(naks.count == 2, "seed \(seed)")
        if naks.count == 2 {
            #expect(naks[1].time - naks[0].time >= .milliseconds(700), "seed \(seed): repeat after NAK_RPT_IVL")
            #expect(naks[1].time - naks[0].time <= .milliseconds(700 + 50 + 5), "seed \(seed)")
        }
        #expect(scenario.receivers[0].engine.statistics.naksSent == 2)
        #expect(scenario.source.engine.statistics.rdataSent == 2)
    }

    @Test("6.3 WAIT_DATA: lost RDATA is requested again after NAK_RDATA_IVL")
    func rdataLostAndRequestedAgain() {
        let seed = Seeds.seed(13)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 3, apdus: makeAPDUs(count: 20, sizes: 10...100, seed: seed))
        configuration.source.initialSequence = SequenceNumber(0)
        configuration.receiver.nakRdataInterval = .milliseconds(400)
        configuration.tracing = true
        let scenario = SessionScenario(configuration)
        var rdataDropped = 0
        scenario.network.dropRule = { query in
            switch query.packet.body {
            case .odata(let data): return query.receiver == nil && data.sequence.rawValue == 7
            case .rdata where query.receiver == nil && rdataDropped == 0:
                rdataDropped += 1
                return true
            default: return false
            }
        }
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        let rdata = scenario.network.trace.filter { $0.receiver == nil && $0.packet?.body.type == .rdata }
        #expect(rdata.count == 2, "seed \(seed)")
        if rdata.count == 2 {
            #expect(rdata[1].time - rdata[0].time >= .milliseconds(400), "seed \(seed): after NAK_RDATA_IVL")
        }
        let naks = scenario.network.trace.filter { $0.receiver == nil && $0.packet?.body.type == .nak }
        #expect(naks.count == 2, "seed \(seed): one NAK per round, the others suppressed by the NCF")
    }

    @Test("Appendix C: SPMR before the first SPM; no NAK before an SPM; an overheard SPMR suppresses others")
    func spmrBeforeFirstSPM() {
        let seed = Seeds.seed(14)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 5, apdus: makeAPDUs(count: 200, sizes: 900...1000, seed: seed))
        configuration.source.initialSequence = SequenceNumber(0)
        configuration.source.rate = 200_000
        configuration.tracing = true
        let scenario = SessionScenario(configuration)
        var spmrSeen = false
        scenario.network.dropRule = { query in
            if query.receiver == nil, query.sender == 0, case .spm = query.packet.body, !spmrSeen { return true }
            if case .spmr = query.packet.body { spmrSeen = true }
            if case .odata(let data) = query.packet.body { return query.receiver == nil && data.sequence.rawValue == 3 }
            return false
        }
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        let wire = scenario.network.trace.filter { $0.receiver == nil }
        let firstSPMR = wire.first { $0.packet?.body.type == .spmr }
        let firstSPM = wire.first { $0.packet?.body.type == .spm && !$0.dropped }
        let firstNAK = wire.first { $0.packet?.body.type == .nak }
        #expect(firstSPMR != nil && firstSPM != nil && firstNAK != nil, "seed \(seed)")
        if let firstSPMR, let firstSPM, let firstNAK {
            #expect(firstSPMR.time <= .zero + .milliseconds(260), "seed \(seed): SPMR within SPMR_BO_IVL")
            #expect(firstSPM.time > firstSPMR.time, "seed \(seed)")
            #expect(firstNAK.time > firstSPM.time, "seed \(seed): no NAK before the first SPM")
            #expect(firstSPM.time < .zero + .milliseconds(400), "seed \(seed): SPM long before the 30 s ambient")
        }
        // The SPMR's TTL-1 multicast copy and its unicast copy to the source.
        let spmrs = wire.filter { $0.packet?.body.type == .spmr }
        #expect(spmrs.contains { $0.ttl == 1 } && spmrs.contains { $0.destination == SessionScenario.sourceAddress })
        let sent = scenario.receivers.reduce(0) { $0 + $1.engine.statistics.spmrSent }
        let suppressed = scenario.receivers.reduce(0) { $0 + $1.engine.statistics.spmrSuppressed }
        #expect(sent <= 2 && suppressed >= 3, "seed \(seed): \(sent) SPMRs sent, \(suppressed) suppressed")
    }

    @Test("6.3 the source's trail passing a gap: an exact unrecoverable report, then delivery continues")
    func trailPassingGap() {
        let seed = Seeds.seed(15)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 2, apdus: makeAPDUs(count: 60, sizes: 10...200, seed: seed))
        configuration.source.initialSequence = SequenceNumber(100)
        configuration.source.txwSeconds = .milliseconds(300)
        configuration.source.rate = 20_000
        configuration.source.burst = 1500
        let scenario = SessionScenario(configuration)
        // Receiver 1 (host 1) misses 110...113 and its NAKs never arrive, so only the trail ends the wait.
        scenario.network.dropRule = { query in
            if query.receiver == 1, let sequence = Self.odataSequence(query), (110...113).contains(sequence.rawValue) {
                return true
            }
            return query.sender == 1 && query.packet.body.type == .nak
        }
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        let log = scenario.logs[0]
        // The trail moves one sequence at a time as data ages out; the receiver still reports the gap once.
        #expect(log.unrecoverable.count == 1, "seed \(seed): \(log.unrecoverable)")
        if let report = log.unrecoverable.first {
            #expect(report.first == SequenceNumber(110) && report.last == SequenceNumber(113), "seed \(seed)")
            #expect(report.reason == .windowAdvanced, "seed \(seed)")
        }
        #expect(log.delivered.count == 56 && log.delivered.last == 59, "seed \(seed)")
        #expect(scenario.logs[1].unrecoverable.isEmpty && scenario.logs[1].delivered.count == 60)
    }

    @Test("3.2 sequence numbers wrap at 2^32 under loss")
    func wrapAround() {
        let seed = Seeds.seed(16)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 5, apdus: makeAPDUs(count: 150, sizes: 10...3000, seed: seed))
        configuration.source.initialSequence = SequenceNumber(0xFFFF_FF80)
        configuration.receiverDownlink.loss = .bernoulli(0.05)
        configuration.receiverUplink.loss = .bernoulli(0.05)
        let scenario = SessionScenario(configuration)
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        #expect(scenario.source.engine.lead.rawValue < 0x1000, "the session crossed the wrap")
        for log in scenario.logs { #expect(log.delivered.count == 150 && log.unrecoverable.isEmpty, "seed \(seed)") }
    }

    @Test("9.2.4 OPT_FRAGMENT: 64 KiB and 1 MiB APDUs reassembled under loss", arguments: [65_536, 1 << 20])
    func largeAPDUs(size: Int) {
        let seed = Seeds.seed(17)
        let apdus = (0..<3).map { SessionScenario.apdu(index: $0, size: size - $0) }
        var configuration = SessionScenario.Configuration(seed: seed, receivers: 4, apdus: apdus)
        configuration.source.maximumAPDUSize = 1 << 20
        configuration.source.maximumQueuedBytes = 4 << 20
        configuration.source.rate = 4_000_000
        configuration.source.burst = 64 << 10
        configuration.receiverDownlink.loss = .bernoulli(0.03)
        configuration.receiverUplink.loss = .bernoulli(0.03)
        let scenario = SessionScenario(configuration)
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        for (index, log) in scenario.logs.enumerated() {
            #expect(log.delivered == [0, 1, 2], "seed \(seed) receiver \(index)")
        }
        #expect(scenario.source.engine.statistics.rdataSent > 0, "seed \(seed): the loss needed repairs")
    }

    @Test("6.1 duplicated and reordered packets: duplicates dropped, order restored")
    func duplicatesAndReordering() {
        let seed = Seeds.seed(18)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 8, apdus: makeAPDUs(count: 120, sizes: 10...4000, seed: seed))
        configuration.receiverDownlink = LinkProfile(
            delay: .milliseconds(1), jitter: .milliseconds(2), loss: .bernoulli(0.02), duplication: 0.1,
            reordering: 0.2, reorderDelay: .milliseconds(4))
        configuration.receiverUplink = LinkProfile(delay: .milliseconds(1), duplication: 0.1)
        let scenario = SessionScenario(configuration)
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        let duplicates = scenario.receivers.reduce(0) { $0 + $1.engine.statistics.duplicates }
        #expect(duplicates > 50, "seed \(seed): \(duplicates) duplicates dropped")
        for log in scenario.logs { #expect(log.delivered == Array(0..<120), "seed \(seed)") }
        #expect(scenario.source.engine.statistics.nakSequencesIgnored > 0, "seed \(seed): duplicated NAKs absorbed")
    }

    @Test("9.7 OPT_FIN: SPMs carry it after close; receivers report the session closed after the last data")
    func sourceClosingWithFIN() {
        let seed = Seeds.seed(19)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 3, apdus: makeAPDUs(count: 30, sizes: 10...500, seed: seed))
        configuration.source.txwSeconds = .seconds(2)
        configuration.tracing = true
        let scenario = SessionScenario(configuration)
        // The last ODATA is lost for everyone: the FIN SPM's lead exposes it, so it is repaired before close.
        let last = scenario.initialSequence &+ UInt32(scenario.apduSequences.last!.upperBound - 1)
        scenario.network.dropRule = { query in query.receiver == nil && Self.odataSequence(query) == last }
        #expect(scenario.run(), "seed \(seed)")
        #expect(scenario.verify().isEmpty, Comment(rawValue: describe(scenario.verify(), seed: seed)))
        for (index, receiver) in scenario.receivers.enumerated() {
            #expect(scenario.logs[index].delivered.count == 30)
            _ = receiver
        }
        let spms = scenario.network.trace.compactMap { $0.receiver == nil ? $0.packet : nil }.filter {
            $0.body.type == .spm
        }
        let fins = spms.filter { $0.options.contains { $0.value == .fin } }
        #expect(!fins.isEmpty)
        if let firstFIN = spms.firstIndex(where: { $0.options.contains { $0.value == .fin } }) {
            #expect(spms[firstFIN...].allSatisfy { $0.options.contains { $0.value == .fin } }, "every later SPM")
        }
        #expect(!scenario.source.engine.isFinished)
        scenario.network.run(until: scenario.network.now + .seconds(90))
        #expect(scenario.source.engine.isFinished, "the window drained and the FIN SPM schedule ran out")
        #expect(scenario.source.engine.nextDeadline == nil)
    }

    @Test("trace export: the simulated wire as a pcap file")
    func pcapExport() throws {
        let seed = Seeds.seed(20)
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 2, apdus: makeAPDUs(count: 5, sizes: 10...50, seed: seed))
        configuration.tracing = true
        let scenario = SessionScenario(configuration)
        scenario.run()
        let pcap = scenario.network.pcap(segment: scenario.segment)
        let frames = scenario.network.trace.filter { $0.receiver == nil && !$0.dropped }
        #expect(pcap.count > 24 + frames.count * 16)
        #expect(
            Array(pcap.prefix(4)) == [0xD4, 0xC3, 0xB2, 0xA1] || Array(pcap.prefix(4)) == [0xA1, 0xB2, 0xC3, 0xD4])
        // The first frame's IP payload decodes as the first PGM packet sent.
        let firstLength = Int(pcap[24 + 8]) | Int(pcap[24 + 9]) << 8 | Int(pcap[24 + 10]) << 16
        let frame = Array(pcap[(24 + 16)..<(24 + 16 + firstLength)])
        let headerLength = Int(frame[0] & 0x0F) * 4
        let packet = try Packet(decoding: Array(frame[headerLength...]))
        #expect(packet == frames[0].packet)
    }
}
