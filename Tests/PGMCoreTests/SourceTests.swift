import PGMCore
import PGMWire
import Testing

let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))
let sourceAddress = NLA.ipv4(IPv4Address(10, 0, 0, 1))
let receiverAddress = NLA.ipv4(IPv4Address(10, 0, 0, 2))
let tsi = TSI(gsi: GSI(rawValue: 0x0A0B_0C0D_0E0F), sourcePort: 4000)

func sourceConfiguration() -> Source.Configuration {
    var configuration = Source.Configuration(
        tsi: tsi, dataDestinationPort: 7500, group: group, sourceAddress: sourceAddress)
    configuration.initialSequence = SequenceNumber(100)
    return configuration
}

func at(_ milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

func nakPacket(_ sequences: [UInt32], source: NLA = sourceAddress, group nakGroup: NLA = group) -> Packet {
    let options = sequences.count > 1 ? [Option(.nakList(sequences.dropFirst().map(SequenceNumber.init)))] : []
    return Packet(
        tsi: tsi, dataDestinationPort: 7500, flags: .required(by: options),
        body: .nak(NAK(sequence: SequenceNumber(sequences[0]), source: source, group: nakGroup)), options: options)
}

let fromReceiver = Arrival(source: receiverAddress, destination: sourceAddress)

@Suite struct SourceTests {
    @Test func firstSPMThenODATAWithSYN() throws {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        try source.send([1, 2, 3], at: .zero)
        let out = source.drain(at: .zero)
        #expect(out.count == 2)
        guard case .spm(let spm) = out[0].packet.body, case .odata(let data) = out[1].packet.body else {
            Issue.record("expected SPM then ODATA, got \(out.map(\.packet.body.type))")
            return
        }
        #expect(spm.lead == SequenceNumber(99) && spm.trail == SequenceNumber(100) && spm.path == sourceAddress)
        #expect(out[0].routerAlert && !out[1].routerAlert)
        #expect(out[0].destination == .multicast(group))
        #expect(data.sequence == SequenceNumber(100) && Array(data.payload) == [1, 2, 3])
        #expect(out[1].packet.options == [Option(.syn)])
        #expect(out[1].packet.tsi == tsi && out[1].packet.destinationPort == 7500)
        #expect(source.lead == SequenceNumber(100))
    }

    @Test func largeAPDUIsFragmented() throws {
        var configuration = sourceConfiguration()
        configuration.maximumAPDUSize = 1 << 20
        configuration.maximumQueuedBytes = 2 << 20
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        let apdu = (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
        try source.send(apdu, at: .zero)
        let data = source.drain(at: .zero).compactMap { transmit -> (DataPacket, [Option])? in
            if case .odata(let data) = transmit.packet.body { return (data, transmit.packet.options) }
            return nil
        }
        let size = Source.maximumPayload(configuration, fragmented: true)
        #expect(data.count == (5000 + size - 1) / size)
        var reassembled: [UInt8] = []
        for (index, (packet, options)) in data.enumerated() {
            #expect(packet.sequence == SequenceNumber(100 + UInt32(index)))
            let fragment = options.compactMap { option -> Option.Fragment? in
                if case .fragment(let fragment) = option.value { return fragment }
                return nil
            }.first
            #expect(
                fragment
                    == Option.Fragment(
                        firstSequence: SequenceNumber(100), offset: UInt32(index * size), apduLength: 5000))
            reassembled += packet.payload
        }
        #expect(reassembled == apdu)
        // Every TPDU, as RDATA with Router Alert, fits the configured maximum.
        for (packet, options) in data {
            let rdata = Packet(tsi: tsi, dataDestinationPort: 7500, body: .rdata(packet), options: options)
            #expect(rdata.encodedLength + 20 + 4 <= 1500)
        }
    }

    @Test func sendErrorsGiveBackPressure() throws {
        var configuration = sourceConfiguration()
        configuration.maximumAPDUSize = 1000
        configuration.maximumQueuedBytes = 2500
        configuration.rate = 1000
        configuration.burst = 1
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        #expect(throws: Source.SendError.apduTooLarge(size: 1001, maximum: 1000)) {
            try source.send([UInt8](repeating: 0, count: 1001), at: .zero)
        }
        try source.send([UInt8](repeating: 0, count: 1000), at: .zero)
        try source.send([UInt8](repeating: 0, count: 1000), at: .zero)
        #expect(throws: Source.SendError.queueFull(available: 500)) {
            try source.send([UInt8](repeating: 0, count: 1000), at: .zero)
        }
        #expect(source.queuedBytesAvailable == 500)
        source.close(at: .zero)
        #expect(throws: Source.SendError.closed) { try source.send([1], at: .zero) }
    }

    @Test func rateLimitSpacesPackets() throws {
        var configuration = sourceConfiguration()
        configuration.rate = 100_000
        configuration.burst = 1500
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        for _ in 0..<10 { try source.send([UInt8](repeating: 7, count: 1000), at: .zero) }
        var times: [Instant] = []
        while times.count < 10, let step = source.step(notAfter: at(999)) {
            for transmit in step.sent where transmit.packet.body.type == .odata { times.append(step.time) }
        }
        #expect(times.count == 10)
        // 10 × ~1,048 bytes on the wire at 100 kB/s after a 1,500-byte burst: about 90 ms.
        #expect(times.last! - times.first! >= .milliseconds(80))
        #expect(times.last! - times.first! <= .milliseconds(110))
        #expect(source.statistics.bytesSent >= 10 * 1048)
    }

    @Test func nakAnsweredWithNCFThenRDATAOnce() throws {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        for index in 0..<5 { try source.send([UInt8(index)], at: .zero) }
        _ = source.drain(at: .zero)
        let out = source.receive(nakPacket([101, 103]), arrival: fromReceiver, at: at(10))
        #expect(out.map(\.packet.body.type) == [.ncf, .rdata, .rdata])
        if case .ncf(let ncf) = out[0].packet.body {
            #expect(ncf.sequence == SequenceNumber(101) && ncf.source == sourceAddress && ncf.group == group)
            // The NAK's list echoed, and the NAK_BO_IVL the source advertises (RFC 3208 §9.3.4, §15.2.1).
            #expect(
                out[0].packet.options == [
                    Option(.nakList([SequenceNumber(103)])), NAKBackoffTuning.option(.milliseconds(50)),
                ])
            #expect(out[0].routerAlert && out[0].destination == .multicast(group))
        }
        if case .rdata(let data) = out[1].packet.body {
            #expect(data.sequence == SequenceNumber(101) && Array(data.payload) == [1])
            #expect(out[1].routerAlert)
        }
        // Another receiver's NAK within the hold-off is confirmed at once and repaired when the hold-off ends (RFC
        // 3208 §5.3: every NAK for data in the window is repaired); a third one meanwhile rides on that repair.
        let other = Arrival(source: .ipv4(IPv4Address(10, 0, 0, 3)), destination: sourceAddress)
        let third = Arrival(source: .ipv4(IPv4Address(10, 0, 0, 4)), destination: sourceAddress)
        #expect(source.receive(nakPacket([101]), arrival: other, at: at(12)).map(\.packet.body.type) == [.ncf])
        #expect(source.statistics.nakSequencesDeferred == 1)
        #expect(source.nextDeadline == at(30))
        // The first NAKer asking again a tenth of the hold-off after its repair lost that repair: a new repair
        // without waiting for the hold-off, held only as long as duplicates have lately trailed the first NAK
        // (the 2 ms of the NAK at 12 ms, §5.3 MAY).
        #expect(source.receive(nakPacket([103]), arrival: fromReceiver, at: at(16)).map(\.packet.body.type) == [.ncf])
        #expect(source.handleTimeout(at: at(18)).map(\.packet.body.type) == [.rdata])
        #expect(source.receive(nakPacket([101]), arrival: third, at: at(25)).map(\.packet.body.type) == [.ncf])
        #expect(source.statistics.nakSequencesIgnored == 1)
        #expect(source.handleTimeout(at: at(30)).map(\.packet.body.type) == [.rdata])
        // After the hold-off anyone's NAK is a new repair.
        #expect(source.receive(nakPacket([101]), arrival: other, at: at(300)).map(\.packet.body.type) == [.ncf])
        let repairs = source.handleTimeout(at: at(302)).filter { $0.packet.body.type != .spm }
        #expect(repairs.map(\.packet.body.type) == [.rdata])
        #expect(source.statistics.rdataSent == 5)
        #expect(
            source.events().first
                == .nakReceived(sequences: [SequenceNumber(101), SequenceNumber(103)], from: receiverAddress))
    }

    @Test func nakBackoffIntervalFollowsDuplicatesAndTheirSpread() throws {
        var configuration = sourceConfiguration()
        configuration.rate = 10_000_000
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        for index in 0..<60 { try source.send([UInt8(index)], at: .zero) }
        _ = source.drain(at: .zero)
        #expect(source.advertisedNAKBackoff == .milliseconds(50))
        // Another receiver's NAK 5 ms behind the first: a duplicate (NAK_BO_IVL doubles, §15.2.1) 5 ms apart.
        let other = Arrival(source: .ipv4(IPv4Address(10, 0, 0, 3)), destination: sourceAddress)
        source.receiveInBatch(nakPacket([100]), arrival: fromReceiver, at: at(1))
        source.receiveInBatch(nakPacket([100]), arrival: other, at: at(6))
        #expect(source.advertisedNAKBackoff == .milliseconds(100))
        #expect(source.statistics.nakBackoffIncreases == 1)
        // Then single-NAK repairs: every eight halve it, down to the 10 ms minimum, but not under four times the
        // (decaying) 5 ms spread.
        var now: Int64 = 100
        for sequence in UInt32(101)..<140 {
            source.receiveInBatch(nakPacket([sequence]), arrival: fromReceiver, at: at(now))
            now += 30
            source.handleTimeout(at: at(now))
        }
        let advertised = try #require(source.advertisedNAKBackoff)
        #expect(source.statistics.nakBackoffDecreases >= 3)
        #expect(advertised > .milliseconds(10) && advertised < .milliseconds(20), "\(advertised)")
        // SPMs and NCFs carry it.
        let ncf = try #require(
            source.receive(nakPacket([140]), arrival: fromReceiver, at: at(now)).first { $0.packet.body.type == .ncf })
        #expect(ncf.packet.options.contains(NAKBackoffTuning.option(advertised)))
    }

    @Test func invalidNAKsAreDroppedAndOutOfWindowOnesOnlyConfirmed() throws {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        try source.send([1], at: .zero)
        _ = source.drain(at: .zero)
        let otherGroup = NLA.ipv4(IPv4Address(239, 1, 1, 1))
        source.receiveInBatch(nakPacket([100], group: otherGroup), arrival: fromReceiver, at: at(1))
        source.receiveInBatch(nakPacket([100], source: receiverAddress), arrival: fromReceiver, at: at(1))
        source.receiveInBatch(nakPacket([500]), arrival: fromReceiver, at: at(1))
        var foreign = nakPacket([100])
        foreign.gsi = GSI(rawValue: 1)
        source.receiveInBatch(foreign, arrival: fromReceiver, at: at(1))
        // Only the NAK outside the window is ours: it is confirmed (RFC 3208 §5.2, every NAK) but not repaired.
        #expect(source.drain(at: at(1)).map { named($0.packet) } == [[500]])
        #expect(source.statistics.naksMisaddressed == 2)
        #expect(source.statistics.naksOutsideWindow == 1)
        #expect(source.statistics.packetsDiscarded == 1)
        #expect(source.statistics.rdataSent == 0 && source.statistics.ncfSent == 1)
    }

    @Test func repairsGoBeforeNewData() throws {
        var configuration = sourceConfiguration()
        configuration.rate = 10_000
        configuration.burst = 1500
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        for _ in 0..<20 { try source.send([UInt8](repeating: 1, count: 500), at: .zero) }
        _ = source.drain(at: .zero)
        var next = source.receive(nakPacket([100]), arrival: fromReceiver, at: at(1)).map(\.packet.body.type)
        while next.filter({ $0 != .ncf }).count < 2, let step = source.step() {
            next += step.sent.map(\.packet.body.type)
        }
        #expect(next.first == .ncf)
        #expect(next.filter { $0 != .ncf && $0 != .spm }.first == .rdata)
    }

    @Test func spmrAnsweredAtMostOncePerHoldOff() {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        _ = source.drain(at: .zero)
        let spmr = Packet(tsi: tsi, dataDestinationPort: 7500, body: .spmr)
        #expect(source.receive(spmr, arrival: fromReceiver, at: at(500)).map(\.packet.body.type) == [.spm])
        #expect(source.receive(spmr, arrival: fromReceiver, at: at(550)).isEmpty)
        #expect(source.statistics.spmrRateLimited == 1)
        #expect(source.receive(spmr, arrival: fromReceiver, at: at(700)).map(\.packet.body.type) == [.spm])
    }

    @Test func heartbeatSPMsFollowOpenPGMSchedule() throws {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        try source.send([1], at: .zero)
        _ = source.drain(at: .zero)
        var times: [Int64] = []
        while times.count < 6, let step = source.step() {
            if step.sent.contains(where: { $0.packet.body.type == .spm }) {
                times.append(step.time.nanoseconds / 1_000_000)
            }
        }
        #expect(times == [100, 200, 300, 400, 1700, 8700])
    }

    @Test func windowTrailAdvancesByTimeAndBytes() throws {
        var configuration = sourceConfiguration()
        configuration.txwSeconds = .seconds(1)
        configuration.txwMaxBytes = 3000
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        for _ in 0..<4 { try source.send([UInt8](repeating: 0, count: 1000), at: .zero) }
        _ = source.drain(at: .zero)
        // 4,000 bytes sent into a 3,000-byte window: the oldest left it.
        #expect(source.trail == SequenceNumber(101) && source.lead == SequenceNumber(103))
        source.handleTimeout(at: at(1000))
        #expect(source.trail == SequenceNumber(104), "empty window: trail = lead + 1")
        let answer = source.receive(nakPacket([102]), arrival: fromReceiver, at: at(1001))
        #expect(answer.filter { $0.packet.body.type != .spm }.map(\.packet.body.type) == [.ncf])
        #expect(source.statistics.naksOutsideWindow == 1)
    }

    @Test func closeSendsFINSPMsThenFinishes() throws {
        var configuration = sourceConfiguration()
        configuration.txwSeconds = .seconds(1)
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        try source.send([1], at: .zero)
        source.close(at: .zero)
        var spms: [Packet] = []
        var now = Instant.zero
        for transmit in source.drain(at: now) where transmit.packet.body.type == .spm { spms.append(transmit.packet) }
        while let step = source.step() {
            now = step.time
            for transmit in step.sent where transmit.packet.body.type == .spm { spms.append(transmit.packet) }
        }
        #expect(source.isFinished)
        #expect(spms.count >= 10)
        // The first SPM (before the data) has no FIN; every SPM after the data left does.
        #expect(spms.dropFirst().allSatisfy { $0.options.contains(Option(.fin)) })
        if case .spm(let last) = spms.last?.body {
            #expect(last.trail == SequenceNumber(101) && last.lead == SequenceNumber(100))
        }
        #expect(source.events() == [.finished])
        #expect(now.seconds >= 80 && now.seconds < 90, "one heartbeat round after the window drained")
    }

    @Test func sequenceNumbersWrap() throws {
        var configuration = sourceConfiguration()
        configuration.initialSequence = SequenceNumber(UInt32.max - 1)
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        for index in 0..<4 { try source.send([UInt8(index)], at: .zero) }
        let sequences = source.drain(at: .zero).compactMap { transmit -> UInt32? in
            if case .odata(let data) = transmit.packet.body { return data.sequence.rawValue }
            return nil
        }
        #expect(sequences == [UInt32.max - 1, UInt32.max, 0, 1])
        let answer = source.receive(nakPacket([UInt32.max, 0]), arrival: fromReceiver, at: at(1))
        #expect(answer.map(\.packet.body.type) == [.ncf, .rdata, .rdata])
    }
}
