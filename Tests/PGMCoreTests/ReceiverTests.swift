import PGMCore
import PGMWire
import Testing

let pathAddress = NLA.ipv4(IPv4Address(10, 0, 0, 9))
let fromSource = Arrival(source: sourceAddress, destination: group)

func receiverConfiguration() -> Receiver.Configuration {
    var configuration = Receiver.Configuration(dataDestinationPort: 7500, group: group)
    configuration.seed = 42
    return configuration
}

func odata(
    _ sequence: UInt32, trail: UInt32, _ payload: [UInt8], options: [Option] = [], repair: Bool = false,
    tsi sessionTSI: TSI = tsi
) -> Packet {
    let data = DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), payload: payload[...])
    return Packet(
        tsi: sessionTSI, dataDestinationPort: 7500, body: repair ? .rdata(data) : .odata(data), options: options)
}

func spm(_ sequence: UInt32, trail: UInt32, lead: UInt32, options: [Option] = []) -> Packet {
    Packet(
        tsi: tsi, dataDestinationPort: 7500,
        body: .spm(
            SPM(
                sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), lead: SequenceNumber(lead),
                path: pathAddress)),
        options: options)
}

func ncf(_ sequences: [UInt32]) -> Packet {
    let options = sequences.count > 1 ? [Option(.nakList(sequences.dropFirst().map(SequenceNumber.init)))] : []
    return Packet(
        tsi: tsi, dataDestinationPort: 7500, flags: .required(by: options),
        body: .ncf(NAK(sequence: SequenceNumber(sequences[0]), source: sourceAddress, group: group)), options: options)
}

@Suite struct ReceiverTests {
    @Test func deliversInOrderAndDropsDuplicates() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(odata(10, trail: 10, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(12, trail: 10, [3]), arrival: fromSource, at: at(1))
        receiver.receive(odata(11, trail: 10, [2]), arrival: fromSource, at: at(2))
        receiver.receive(odata(11, trail: 10, [2]), arrival: fromSource, at: at(3))
        receiver.receive(odata(9, trail: 9, [0]), arrival: fromSource, at: at(3))
        #expect(
            receiver.events() == [
                .peerDiscovered(tsi, source: sourceAddress),
                .joined(tsi, firstSequence: SequenceNumber(10), lateJoin: false),
                .data(tsi, bytes: [1]), .data(tsi, bytes: [2]),
                .data(tsi, bytes: [3]),
            ])
        #expect(receiver.statistics.duplicates == 2)
    }

    @Test func noNAKBeforeFirstSPMButSPMR() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(odata(10, trail: 10, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(13, trail: 10, [4]), arrival: fromSource, at: at(1))
        let sent = receiver.advance(to: at(400))
        #expect(receiver.nakSequences(sent).isEmpty, "no NAK before an SPM (RFC 3208 §6.2)")
        let spmrs = sent.filter { $0.1.packet.body.type == .spmr }
        #expect(spmrs.count == 2)
        #expect(spmrs.contains { $0.1.destination == .multicast(group) && $0.1.ttl == 1 })
        #expect(spmrs.contains { $0.1.destination == .unicast(sourceAddress) })
        #expect(spmrs.allSatisfy { $0.0 <= at(251) })
        // The SPM arrives: the waiting gap backs off afresh and is NAKed to SPM_PATH within NAK_BO_IVL.
        receiver.receive(spm(1, trail: 10, lead: 13), arrival: fromSource, at: at(400))
        let after = receiver.advance(to: at(451))
        #expect(receiver.nakSequences(after).sorted() == [11, 12])
        let nak = after.first { $0.1.packet.body.type == .nak }!.1
        #expect(nak.destination == .unicast(pathAddress))
        if case .nak(let body) = nak.packet.body { #expect(body.source == sourceAddress && body.group == group) }
        #expect(nak.packet.tsi == tsi && nak.packet.sourcePort == 7500 && nak.packet.destinationPort == 4000)
    }

    @Test func overheardSPMRSuppressesOurs() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(odata(10, trail: 10, [1]), arrival: fromSource, at: at(0))
        let spmr = Packet(tsi: tsi, dataDestinationPort: 7500, body: .spmr)
        receiver.receive(spmr, arrival: Arrival(source: receiverAddress, destination: group), at: at(0))
        #expect(receiver.advance(to: at(900)).isEmpty)
        #expect(receiver.statistics.spmrSuppressed == 1)
        // Still no SPM after SPMR_SPM_IVL and a random delay on SPMR_BO_IVL: ask ourselves.
        #expect(receiver.advance(to: at(1000)).isEmpty)
        #expect(receiver.advance(to: at(1251)).filter { $0.1.packet.body.type == .spmr }.count == 2)
    }

    @Test func nakStateMachineWithNCFSuppressionAndRetries() {
        var configuration = receiverConfiguration()
        configuration.nakRepeatInterval = .milliseconds(200)
        configuration.nakRdataInterval = .milliseconds(300)
        configuration.nakNCFRetries = 2
        configuration.nakDataRetries = 1
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(4, trail: 0, [4]), arrival: fromSource, at: at(0))
        // 2 and 3 missing. An NCF for 2 during back-off suppresses its NAK (BACK_OFF → WAIT_DATA).
        receiver.receive(ncf([2]), arrival: fromSource, at: at(0))
        let first = receiver.advance(to: at(50))
        #expect(receiver.nakSequences(first) == [3])
        #expect(receiver.statistics.naksSuppressed == 1)
        // 3: WAIT_NCF times out after NAK_RPT_IVL, backs off, NAKs again (twice allowed), then is lost.
        // 2: WAIT_DATA times out after NAK_RDATA_IVL, backs off, NAKs, waits for an NCF that never comes...
        let rest = receiver.advance(to: at(5000))
        let naks = receiver.nakSequences(rest)
        #expect(naks.filter { $0 == 3 }.count == 2)
        #expect(naks.filter { $0 == 2 }.count == 3)
        let events = receiver.events()
        #expect(
            events.contains(
                .unrecoverable(tsi, first: SequenceNumber(2), last: SequenceNumber(3), reason: .retriesExhausted)))
        #expect(events.last == .data(tsi, bytes: [4]), "delivery continues after the reported loss")
        #expect(receiver.statistics.sequencesLost == 2 && receiver.statistics.lossEvents == 1)
    }

    @Test func rdataFillsGapAndNAKListBatches() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(102, trail: 0, [102]), arrival: fromSource, at: at(0))
        // 100 missing sequences, back-offs spread over 50 ms: advance past all of them at once.
        let naks = receiver.handleTimeout(at: at(60))
        #expect(naks.count == 2, "63 + 37 sequences")
        #expect(receiver.nakSequences(naks) == Array(2...101))
        for sequence in UInt32(2)...101 {
            receiver.receive(
                odata(sequence, trail: 0, [UInt8(sequence)], repair: true), arrival: fromSource, at: at(70))
        }
        let data = receiver.events().compactMap { event -> UInt8? in
            if case .data(_, let bytes) = event { return bytes.first }
            return nil
        }
        #expect(data == (1...102).map { UInt8($0) })
        #expect(receiver.statistics.sequencesRepaired == 100)
        #expect(receiver.statistics.lossRate > 0.9, "100 of 102 ODATA missed")
        #expect(receiver.statistics.lossRateScaled > 0xE000)
    }

    @Test func trailAdvancePastGapIsReportedExactly() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(5, trail: 0, [5]), arrival: fromSource, at: at(1))
        _ = receiver.events()
        // SPM: trail 4, lead 8: 2 and 3 are gone; 4, 6, 7, 8 still repairable. The report waits for 4, which
        // blocks delivery anyway, so that a trail creeping forward gives one report per gap.
        receiver.receive(spm(2, trail: 4, lead: 8), arrival: fromSource, at: at(2))
        #expect(receiver.events().isEmpty)
        // A trail far past the lead: everything up to it is lost, held data still delivered in order.
        receiver.receive(odata(20, trail: 20, [20]), arrival: fromSource, at: at(3))
        #expect(
            receiver.events() == [
                .unrecoverable(tsi, first: SequenceNumber(2), last: SequenceNumber(4), reason: .windowAdvanced),
                .data(tsi, bytes: [5]),
                .unrecoverable(tsi, first: SequenceNumber(6), last: SequenceNumber(19), reason: .windowAdvanced),
                .data(tsi, bytes: [20]),
            ])
        // A report is not held back when nothing follows the lost run.
        receiver.receive(spm(3, trail: 23, lead: 22), arrival: fromSource, at: at(4))
        #expect(
            receiver.events() == [
                .unrecoverable(tsi, first: SequenceNumber(21), last: SequenceNumber(22), reason: .windowAdvanced)
            ])
    }

    @Test func fragmentsReassembleOutOfOrderAndBrokenAPDUsAreDropped() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        func fragment(_ sequence: UInt32, first: UInt32, offset: UInt32, length: UInt32, _ payload: [UInt8]) -> Packet {
            odata(
                sequence, trail: 0, payload,
                options: [
                    Option(
                        .fragment(
                            .init(
                                firstSequence: SequenceNumber(first), offset: offset, apduLength: length)))
                ])
        }
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(fragment(3, first: 1, offset: 4, length: 6, [5, 6]), arrival: fromSource, at: at(0))
        receiver.receive(fragment(1, first: 1, offset: 0, length: 6, [1, 2]), arrival: fromSource, at: at(0))
        receiver.receive(fragment(2, first: 1, offset: 2, length: 6, [3, 4]), arrival: fromSource, at: at(0))
        #expect(
            receiver.events().filter { if case .data = $0 { true } else { false } } == [
                .data(tsi, bytes: [1, 2, 3, 4, 5, 6])
            ])
        // APDU 4...6 loses 5 to the trail: its fragments are discarded, the loss reported, then APDU 7 follows.
        receiver.receive(fragment(4, first: 4, offset: 0, length: 3, [1]), arrival: fromSource, at: at(1))
        receiver.receive(fragment(6, first: 4, offset: 2, length: 3, [3]), arrival: fromSource, at: at(1))
        receiver.receive(odata(7, trail: 6, [7]), arrival: fromSource, at: at(1))
        #expect(
            receiver.events() == [
                .unrecoverable(tsi, first: SequenceNumber(5), last: SequenceNumber(5), reason: .windowAdvanced),
                .data(tsi, bytes: [7]),
            ])
        #expect(receiver.statistics.fragmentsDiscarded == 2)
        // A fragment claiming more than it can hold is malformed.
        receiver.receive(fragment(8, first: 8, offset: 10, length: 4, [1]), arrival: fromSource, at: at(2))
        #expect(receiver.statistics.malformedPackets == 1)
    }

    @Test func lateJoinStartsAtFirstPacketOrOPTJOIN() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        // Joining mid-session at 50 with trail 10: nothing before 50 is requested.
        receiver.receive(spm(1, trail: 10, lead: 49), arrival: fromSource, at: at(0))
        receiver.receive(odata(50, trail: 10, [50]), arrival: fromSource, at: at(0))
        #expect(receiver.advance(to: at(1000)).isEmpty)
        #expect(receiver.events().last == .data(tsi, bytes: [50]))

        // With OPT_JOIN advertising 45, the receiver asks for 45...49 and delivers from there.
        var joiner = EngineHarness(Receiver(configuration: receiverConfiguration()))
        joiner.receive(
            spm(1, trail: 10, lead: 50, options: [Option(.join(minimumSequence: SequenceNumber(45)))]),
            arrival: fromSource, at: at(0))
        #expect(joiner.nakSequences(joiner.advance(to: at(60))).sorted() == [45, 46, 47, 48, 49, 50])
    }

    @Test func finReportsSessionClosedAfterEverythingBeforeIt() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(spm(2, trail: 0, lead: 2, options: [Option(.fin)]), arrival: fromSource, at: at(1))
        #expect(!receiver.events().contains(.sessionClosed(tsi)), "2 is still missing")
        receiver.receive(odata(2, trail: 0, [2], repair: true), arrival: fromSource, at: at(2))
        #expect(receiver.events() == [.data(tsi, bytes: [2]), .sessionClosed(tsi)])
    }

    @Test func badAndForeignPacketsAreCountedNeverFatal() {
        var configuration = receiverConfiguration()
        configuration.maximumPeers = 1
        var receiver = EngineHarness(Receiver(configuration: configuration))
        var foreignPort = odata(1, trail: 0, [1])
        foreignPort.destinationPort = 9999
        receiver.receive(foreignPort, arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 5, [1]), arrival: fromSource, at: at(0))  // trail after sequence
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        let other = TSI(gsi: GSI(rawValue: 77), sourcePort: 1)
        receiver.receive(odata(1, trail: 0, [1], tsi: other), arrival: fromSource, at: at(0))
        receiver.receive(spm(5, trail: 0, lead: 1), arrival: fromSource, at: at(0))
        receiver.receive(spm(4, trail: 0, lead: 1), arrival: fromSource, at: at(0))
        #expect(receiver.statistics.foreignPackets == 1)
        #expect(receiver.statistics.malformedPackets == 1)
        #expect(receiver.statistics.peersRejected == 1)
        #expect(receiver.statistics.staleSPMs == 1)
        #expect(receiver.sessions == [tsi])
    }

    @Test func sessionsOnOneGroupAreIndependent() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        let second = TSI(gsi: GSI(rawValue: 0x99), sourcePort: 5000)
        receiver.receive(odata(1, trail: 1, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(700, trail: 1, [7]), arrival: fromSource, at: at(0))  // same TSI: a gap
        receiver.receive(odata(1, trail: 1, [9], tsi: second), arrival: fromSource, at: at(0))
        let data = receiver.events().filter { if case .data = $0 { true } else { false } }
        #expect(data == [.data(tsi, bytes: [1]), .data(second, bytes: [9])])
        #expect(Set(receiver.sessions) == [tsi, second])
    }

    @Test func windowByteLimitDeclaresOldestGapLost() {
        var configuration = receiverConfiguration()
        configuration.maximumWindowBytes = 2000
        configuration.maximumAPDUSize = 1000
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(odata(1, trail: 1, [1]), arrival: fromSource, at: at(0))
        for sequence in UInt32(3)...5 {
            receiver.receive(
                odata(sequence, trail: 1, [UInt8](repeating: UInt8(sequence), count: 900)), arrival: fromSource,
                at: at(0))
        }
        let events = receiver.events()
        #expect(
            events.contains(
                .unrecoverable(tsi, first: SequenceNumber(2), last: SequenceNumber(2), reason: .receiveWindowOverflow)))
        #expect(events.filter { if case .data = $0 { true } else { false } }.count == 4)
    }

    @Test func peersExpire() {
        var configuration = receiverConfiguration()
        configuration.peerExpiry = .seconds(10)
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        _ = receiver.advance(to: at(11_000))
        #expect(receiver.events().last == .peerExpired(tsi))
        #expect(receiver.sessions.isEmpty && receiver.nextDeadline == nil)
    }

    /// Payload ownership (see ``Engine``): data delivered at once stays a slice of the receive buffer; data held
    /// behind a gap until its repair gets its own bytes, once, so that it does not keep the buffer alive.
    @Test func onlyDataHeldBehindAGapCopiesItsBytesOutOfTheReceiveBuffer() {
        let buffer = [UInt8](repeating: 0, count: 64) + [1, 1, 3, 3]
        func data(_ sequence: UInt32, _ range: Range<Int>) -> Packet {
            let body = DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(1), payload: buffer[range])
            return Packet(tsi: tsi, dataDestinationPort: 7500, body: .odata(body))
        }
        func inBuffer(_ bytes: ArraySlice<UInt8>) -> Bool {
            bytes.withUnsafeBufferPointer { held in
                buffer.withUnsafeBufferPointer { whole in
                    held.baseAddress.map { $0 >= whole.baseAddress! && $0 < whole.baseAddress! + whole.count } ?? false
                }
            }
        }
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(data(1, 64..<66), arrival: fromSource, at: at(0))
        receiver.receive(data(3, 66..<68), arrival: fromSource, at: at(0))
        receiver.receive(odata(2, trail: 1, [2]), arrival: fromSource, at: at(1))
        let delivered = receiver.events().compactMap { event -> ArraySlice<UInt8>? in
            if case .data(_, let bytes) = event { return bytes }
            return nil
        }
        #expect(delivered.map(Array.init) == [[1, 1], [2], [3, 3]])
        #expect(inBuffer(delivered[0]), "delivered at once: no copy")
        #expect(!inBuffer(delivered[2]), "held behind the gap: its own bytes")
    }
}
