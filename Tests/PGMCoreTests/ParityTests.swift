import PGMCore
import PGMWire
import Testing

/// FEC in the source and receiver engines (RFC 3208 Appendix A, §11.4, §11.5).
@Suite struct ParityTests {
    static let groups = TransmissionGroups(size: 4)!

    static func source(proactive: Int = 0, onDemand: Bool = true) -> EngineHarness<Source> {
        var configuration = sourceConfiguration()
        configuration.initialSequence = SequenceNumber(98)  // not a group boundary: the source aligns it to 96
        configuration.backoffTuning = nil
        configuration.maximumRepairDelay = .zero
        configuration.parity = Source.Parity(groupSize: 4, proactive: proactive, onDemand: onDemand)
        return EngineHarness(Source(configuration: configuration, at: .zero))
    }

    static func payload(_ index: Int, size: Int = 20) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 + index * 31) }
    }

    static func parityNAK(_ transmissionGroup: UInt32, count: Int, more: [(UInt32, Int)] = []) -> Packet {
        let listed = more.map { groups.requestSequence(group: SequenceNumber($0.0), count: $0.1) }
        let options = listed.isEmpty ? [] : [Option(.nakList(listed))]
        var flags = Packet.Flags.required(by: options)
        flags.insert(.parity)
        return Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: flags,
            body: .nak(
                NAK(
                    sequence: groups.requestSequence(group: SequenceNumber(transmissionGroup), count: count),
                    source: sourceAddress, group: group)), options: options)
    }

    static func data(_ sent: [Transmit]) -> [(Packet, DataPacket)] {
        sent.compactMap { transmit in
            switch transmit.packet.body {
            case .odata(let data), .rdata(let data): (transmit.packet, data)
            default: nil
            }
        }
    }

    @Test func sourceAdvertisesParityAndSendsProactiveParityAfterEachGroup() throws {
        var source = Self.source(proactive: 2)
        for index in 0..<5 { try source.send(Self.payload(index), at: .zero) }
        let sent = source.drain(at: .zero)
        guard case .spm = sent.first?.packet.body else { throw Failure("no SPM first") }
        #expect(sent[0].packet.options.contains(Option(.parityParameters(modeBits: 0x03, groupSize: 4))))
        let packets = Self.data(sent)
        // 96 ... 99 data, then parity 96|0 and 96|1 as ODATA, then 100 (the next group's first).
        #expect(packets.map { $0.1.sequence.rawValue } == [96, 97, 98, 99, 96, 97, 100])
        #expect(packets.map { $0.0.flags.contains(.parity) } == [false, false, false, false, true, true, false])
        let code = try ReedSolomonCode(dataCount: 4)
        let expected = try code.parity(index: 1, of: (0..<4).map { Self.payload($0) }, length: 20)
        #expect(Array(packets[5].1.payload) == expected)
        #expect(source.statistics.proactiveParitySent == 2 && source.statistics.groupsCompleted == 1)
    }

    @Test func parityNAKIsConfirmedAndAnsweredWithFreshIndexesAndConsolidated() throws {
        var source = Self.source(proactive: 1)
        for index in 0..<8 { try source.send(Self.payload(index), at: .zero) }
        _ = source.drain(at: .zero)
        let answer = source.receive(Self.parityNAK(96, count: 2), arrival: fromReceiver, at: at(30))
        guard case .ncf(let ncf) = answer.first?.packet.body else { throw Failure("no NCF") }
        #expect(answer[0].packet.flags.contains(.parity) && ncf.sequence == SequenceNumber(97))
        let parity = Self.data(answer)
        // Indexes 1 and 2: index 0 went proactively.
        #expect(parity.map { $0.1.sequence.rawValue } == [97, 98])
        #expect(parity.allSatisfy { $0.0.body.type == .rdata && $0.0.flags.contains(.parity) })
        // A NAK for one packet while none is pending asks again: one more, index 3.
        let again = Self.data(source.receive(Self.parityNAK(96, count: 1), arrival: fromReceiver, at: at(60)))
        #expect(again.map { $0.1.sequence.rawValue } == [99])
        #expect(source.statistics.onDemandParitySent == 3 && source.statistics.parityNAKsReceived == 2)
    }

    @Test func pendingParityIsRaisedNotAdded() throws {
        var source = Self.source()
        var configuration = source.engine.configuration
        configuration.rate = 1000  // slow: parity stays pending between the two NAKs
        configuration.burst = 1600
        source = EngineHarness(Source(configuration: configuration, at: .zero))
        for index in 0..<4 { try source.send(Self.payload(index), at: .zero) }
        _ = source.advance(to: at(2000))
        source.receiveInBatch(Self.parityNAK(96, count: 2), arrival: fromReceiver, at: at(2001))
        source.receiveInBatch(Self.parityNAK(96, count: 3), arrival: fromReceiver, at: at(2001))
        source.receiveInBatch(Self.parityNAK(96, count: 1), arrival: fromReceiver, at: at(2001))
        _ = source.advance(to: at(10_000))
        #expect(source.statistics.onDemandParitySent == 3)
        #expect(source.statistics.parityPacketsRequested == 3)
    }

    /// Parity sent within the hold-off counts against another NAKer's request (its NAK crossed the parity), not
    /// against the same NAKer's: an element asks once per need, for a subnet the parity on its way does not reach.
    @Test func parityInFlightCountsOnlyAgainstOtherNAKers() throws {
        var source = Self.source()
        for index in 0..<8 { try source.send(Self.payload(index), at: .zero) }
        _ = source.drain(at: .zero)
        let element = Arrival(source: NLA.ipv4(IPv4Address(10, 0, 0, 3)), destination: sourceAddress)
        #expect(Self.data(source.receive(Self.parityNAK(96, count: 2), arrival: element, at: at(30))).count == 2)
        // Another receiver 5 ms later, count 2: the two on their way cover it.
        #expect(Self.data(source.receive(Self.parityNAK(96, count: 2), arrival: fromReceiver, at: at(35))).isEmpty)
        // The element again (another of its subnets), count 1: a fresh parity packet.
        #expect(Self.data(source.receive(Self.parityNAK(100, count: 1), arrival: element, at: at(36))).count == 1)
        #expect(Self.data(source.receive(Self.parityNAK(100, count: 1), arrival: element, at: at(37))).count == 1)
    }

    @Test func openGroupCannotBeAskedForByParity() throws {
        var source = Self.source()
        for index in 0..<2 { try source.send(Self.payload(index), at: .zero) }
        _ = source.drain(at: .zero)
        let answer = source.receive(Self.parityNAK(96, count: 1), arrival: fromReceiver, at: at(10))
        #expect(answer.count == 1)  // the NCF only
        #expect(source.statistics.parityUnavailable == 1)
    }

    @Test func shortenedLastGroupAtClose() throws {
        var source = Self.source(proactive: 1)
        for index in 0..<6 { try source.send(Self.payload(index, size: 10 + index), at: .zero) }
        source.engine.close(at: .zero)
        let sent = source.drain(at: .zero)
        let parity = Self.data(sent).filter { $0.0.flags.contains(.parity) }
        #expect(parity.count == 2)
        // The second group holds 100 and 101 only: OPT_CURR_TGSIZE 2, variable lengths.
        let last = try #require(parity.last)
        #expect(last.0.options.contains(Option(.currentGroupSize(2))))
        #expect(last.0.flags.contains(.variableLength))
        #expect(last.1.payload.count == 15 + 2)
        let spms = sent.filter { $0.packet.body.type == .spm }
        #expect(spms.last?.packet.options.contains(Option(.currentGroupSize(2))) == true)
    }

    /// The largest parity packet fits the TPDU: a shortened group mixing a full-size unfragmented TPDU with
    /// fragments (encoded OPT_FRAGMENT, appended length, OPT_CURR_TGSIZE), parity index ≥ k (OPT_PARITY_GRP), as
    /// RDATA with Router Alert (OPT_PGMCC_DATA, under PGMCC, takes the same room in data and parity).
    @Test func theLargestParityPacketFitsTheTPDU() throws {
        var configuration = sourceConfiguration()
        configuration.initialSequence = SequenceNumber(96)
        configuration.maximumAPDUSize = 1 << 16
        configuration.maximumQueuedBytes = 1 << 20
        configuration.parity = Source.Parity(groupSize: 4, proactive: 0, onDemand: true)
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        try source.send(Self.payload(0, size: Source.maximumPayload(configuration, fragmented: false)), at: .zero)
        try source.send(Self.payload(1, size: Source.maximumPayload(configuration, fragmented: true) + 5), at: .zero)
        source.engine.close(at: .zero)
        _ = source.advance(to: at(100))
        var largest = 0
        var shortened = false
        var beyondK = false
        for index in 0..<8 {
            let sent = source.receive(
                Self.parityNAK(96, count: 4), arrival: fromReceiver, at: at(200 + 40 * Int64(index)))
            for transmit in sent where transmit.packet.flags.contains(.parity) {
                let bytes = configuration.transport.wireLength(ofPGM: transmit.packet.encodedLength, routerAlert: true)
                largest = max(largest, bytes)
                for option in transmit.packet.options {
                    if case .currentGroupSize = option.value { shortened = true }
                    if case .parityGroup = option.value { beyondK = true }
                }
            }
        }
        #expect(shortened && beyondK)
        #expect(largest > 0 && largest <= configuration.maxTPDU, "largest parity packet \(largest) B")
    }

    @Test func parityNAKWithoutOnDemandIsMisaddressed() throws {
        var source = Self.source(proactive: 1, onDemand: false)
        for index in 0..<4 { try source.send(Self.payload(index), at: .zero) }
        _ = source.drain(at: .zero)
        #expect(source.receive(Self.parityNAK(96, count: 1), arrival: fromReceiver, at: at(10)).isEmpty)
        #expect(source.statistics.naksMisaddressed == 1)
    }

    // MARK: Receiver

    static func receiver() -> EngineHarness<Receiver> {
        EngineHarness(Receiver(configuration: receiverConfiguration()))
    }

    static func parityPacket(
        _ group: UInt32, index: Int, of payloads: [[UInt8]], repair: Bool = false, options: [Option] = []
    ) throws -> Packet {
        let code = try ReedSolomonCode(dataCount: 4)
        let bytes = try code.parity(index: index, of: payloads, length: payloads.map(\.count).max()!)
        let numbering = groups.parityNumbering(group: SequenceNumber(group), index: index)
        var options = options
        if let number = numbering.parityGroup { options.append(Option(.parityGroup(number))) }
        let data = DataPacket(sequence: numbering.sequence, trail: SequenceNumber(96), payload: bytes[...])
        var flags = Packet.Flags.required(by: options)
        flags.insert(.parity)
        return Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: flags, body: repair ? .rdata(data) : .odata(data),
            options: options)
    }

    static let parityPRM = Option(.parityParameters(modeBits: 0x03, groupSize: 4))

    static func delivered(_ events: [Receiver.Event]) -> [[UInt8]] {
        events.compactMap { if case .data(_, let bytes) = $0 { Array(bytes) } else { nil } }
    }

    @Test func proactiveParityRepairsWithoutANAK() throws {
        var receiver = Self.receiver()
        let payloads = (0..<4).map { Self.payload($0) }
        receiver.receive(spm(1, trail: 96, lead: 95, options: [Self.parityPRM]), arrival: fromSource, at: at(0))
        receiver.receive(odata(96, trail: 96, payloads[0]), arrival: fromSource, at: at(1))
        receiver.receive(odata(98, trail: 96, payloads[2]), arrival: fromSource, at: at(1))
        receiver.receive(odata(99, trail: 96, payloads[3]), arrival: fromSource, at: at(1))
        let sent = receiver.receive(try Self.parityPacket(96, index: 0, of: payloads), arrival: fromSource, at: at(2))
        #expect(sent.isEmpty)
        #expect(Self.delivered(receiver.events()) == payloads)
        #expect(receiver.statistics.sequencesRecoveredByParity == 1 && receiver.statistics.parityReceived == 1)
    }

    @Test func parityIndexBeyondKUsesParityGroupAndAnyKDecode() throws {
        var receiver = Self.receiver()
        let payloads = (0..<4).map { Self.payload($0) }
        receiver.receive(spm(1, trail: 96, lead: 95, options: [Self.parityPRM]), arrival: fromSource, at: at(0))
        receiver.receive(odata(97, trail: 96, payloads[1]), arrival: fromSource, at: at(1))
        // Three parity packets, indexes 2, 5 (OPT_PARITY_GRP 1) and 9 (group 2), decode the three missing.
        for index in [2, 5, 9] {
            receiver.receive(try Self.parityPacket(96, index: index, of: payloads, repair: true), arrival: fromSource)
        }
        #expect(Self.delivered(receiver.events()) == payloads)
    }

    @Test func receiverSendsOneParityNAKPerGroupWithTheMissingCount() throws {
        var receiver = Self.receiver()
        receiver.receive(spm(1, trail: 96, lead: 95, options: [Self.parityPRM]), arrival: fromSource, at: at(0))
        receiver.receive(odata(96, trail: 96, Self.payload(0)), arrival: fromSource, at: at(1))
        receiver.receive(odata(99, trail: 96, Self.payload(3)), arrival: fromSource, at: at(1))
        receiver.receive(odata(100, trail: 96, Self.payload(4)), arrival: fromSource, at: at(1))
        let sent = receiver.advance(to: at(1000)).map(\.transmit)
        let naks = sent.filter { $0.packet.body.type == .nak }
        #expect(naks.count == 1)
        guard case .nak(let nak) = naks.first?.packet.body else { throw Failure("no NAK") }
        #expect(naks[0].packet.flags.contains(.parity))
        #expect(nak.sequence == Self.groups.requestSequence(group: SequenceNumber(96), count: 2))
        #expect(receiver.statistics.parityNAKsSent == 1 && receiver.statistics.parityPacketsRequested == 2)
    }

    @Test func parityNCFSuppressesOnlyWithEnoughCount() throws {
        var receiver = Self.receiver()
        receiver.receive(spm(1, trail: 96, lead: 95, options: [Self.parityPRM]), arrival: fromSource, at: at(0))
        receiver.receive(odata(96, trail: 96, Self.payload(0)), arrival: fromSource, at: at(1))
        receiver.receive(odata(100, trail: 96, Self.payload(4)), arrival: fromSource, at: at(1))
        var flags = Packet.Flags()
        flags.insert(.parity)
        func parityNCF(count: Int) -> Packet {
            Packet(
                tsi: tsi, dataDestinationPort: 7500, flags: flags,
                body: .ncf(
                    NAK(
                        sequence: Self.groups.requestSequence(group: SequenceNumber(96), count: count),
                        source: sourceAddress, group: group)))
        }
        receiver.receive(parityNCF(count: 2), arrival: fromSource, at: at(2))  // 3 missing: not enough
        #expect(receiver.statistics.naksSuppressed == 0)
        receiver.receive(parityNCF(count: 3), arrival: fromSource, at: at(3))
        #expect(receiver.statistics.naksSuppressed == 3)
    }

    @Test func parityThatNeverComesFallsBackToSelectiveNAKs() throws {
        var receiver = Self.receiver()
        receiver.receive(spm(1, trail: 96, lead: 95, options: [Self.parityPRM]), arrival: fromSource, at: at(0))
        receiver.receive(odata(96, trail: 96, Self.payload(0)), arrival: fromSource, at: at(1))
        receiver.receive(odata(100, trail: 96, Self.payload(4)), arrival: fromSource, at: at(1))
        let naks = receiver.advance(to: at(30_000)).map(\.transmit).filter { $0.packet.body.type == .nak }
        let kinds = naks.map { $0.packet.flags.contains(.parity) }
        #expect(Array(kinds.prefix(3)) == [true, true, false])
        #expect(receiver.statistics.parityGroupsNAKedBySequence == 1)
        // One group alone does not end parity for the session; a second one while no parity ever came does.
        #expect(receiver.statistics.parityFallbacks == 0)
        receiver.receive(odata(104, trail: 96, Self.payload(8)), arrival: fromSource, at: at(30_001))
        let later = receiver.advance(to: at(60_000)).map(\.transmit).filter { $0.packet.body.type == .nak }
        #expect(later.filter { $0.packet.flags.contains(.parity) }.count == 2)
        #expect(receiver.statistics.parityFallbacks == 1)
        #expect(receiver.statistics.parityGroupsNAKedBySequence == 2)
        // The selective NAK names missing sequences, not a group and count.
        guard case .nak(let nak) = naks[2].packet.body else { throw Failure("no NAK") }
        #expect((97...99).contains(nak.sequence.rawValue))
    }

    /// Thousands of random parity packets and parity NCFs (any index, OPT_PARITY_GRP, OPT_CURR_TGSIZE, encoded
    /// fragments, lengths, flags) among a real stream with 10 % loss: no crash, bounded state. With `fromPath`
    /// the garbage parity claims the session's path (as forged ODATA could, which `--key` prevents) and only
    /// safety is checked; from another address it is dropped as off-path and nothing but the source's data may be
    /// delivered.
    @Test(arguments: [(1, false), (2, false), (3, true), (4, true)] as [(UInt64, Bool)])
    func randomParityNeverCrashesOrLeaks(seed: UInt64, fromPath: Bool) throws {
        var random = SplitMix64(seed: seed)
        var configuration = receiverConfiguration()
        configuration.maximumWindowSequences = 2048
        var receiver = EngineHarness(Receiver(configuration: configuration))
        let stranger = Arrival(source: NLA.ipv4(IPv4Address(10, 0, 0, 66)), destination: group)
        receiver.receive(spm(1, trail: 96, lead: 95, options: [Self.parityPRM]), arrival: fromSource, at: at(0))
        var sent: [UInt32: [UInt8]] = [:]
        var time: Int64 = 1
        for step in 0..<4000 {
            time += Int64(random.next() % 3)
            let sequence = UInt32(96 + step / 4)
            switch random.next() % 8 {
            case 0, 1, 2:
                if sent[sequence] == nil {
                    sent[sequence] = Self.payload(Int(sequence), size: 1 + Int(random.next() % 40))
                    if random.next() % 10 != 0 {
                        receiver.receive(odata(sequence, trail: 96, sent[sequence]!), arrival: fromSource, at: at(time))
                    }
                }
            case 3, 4:
                var options: [Option] = []
                if random.next() % 3 == 0 { options.append(Option(.parityGroup(UInt32(random.next() % 80)))) }
                if random.next() % 3 == 0 { options.append(Option(.currentGroupSize(UInt32(random.next() % 6)))) }
                if random.next() % 3 == 0 {
                    let value = UInt32(truncatingIfNeeded: random.next())
                    options.append(
                        Option(
                            .fragment(.init(firstSequence: SequenceNumber(value), offset: value, apduLength: value)),
                            flags: Option.Flags(byte2: 0x04, byte3: UInt8(truncatingIfNeeded: random.next()))))
                }
                var flags = Packet.Flags.required(by: options)
                flags.insert(.parity)
                if random.next() % 2 == 0 { flags.insert(.variableLength) }
                let target = sequence &- UInt32(random.next() % 64)
                let data = DataPacket(
                    sequence: SequenceNumber(target), trail: SequenceNumber(96),
                    payload: [UInt8](
                        repeating: UInt8(truncatingIfNeeded: random.next()), count: Int(random.next() % 50))[...])
                let packet = Packet(
                    tsi: tsi, dataDestinationPort: 7500, flags: flags,
                    body: random.next() % 2 == 0 ? .odata(data) : .rdata(data), options: options)
                receiver.receive(packet, arrival: fromPath ? fromSource : stranger, at: at(time))
            case 5:
                var flags = Packet.Flags()
                flags.insert(.parity)
                let ncf = Packet(
                    tsi: tsi, dataDestinationPort: 7500, flags: flags,
                    body: .ncf(
                        NAK(
                            sequence: SequenceNumber(sequence &- UInt32(random.next() % 32)), source: sourceAddress,
                            group: group)))
                receiver.receive(ncf, arrival: fromSource, at: at(time))
            case 6:
                _ = receiver.advance(to: at(time))
            default:
                receiver.receive(
                    spm(UInt32(2 + step), trail: 96, lead: sequence, options: [Self.parityPRM]),
                    arrival: fromSource, at: at(time))
            }
            if let state = receiver.engine.state(of: tsi) { #expect(state.windowSequences <= 2048) }
        }
        let delivered = Self.delivered(receiver.events())
        #expect(!delivered.isEmpty)
        guard !fromPath else { return }
        for bytes in delivered {
            #expect(sent.values.contains(bytes), "delivered bytes the source never sent: \(bytes.prefix(8))")
        }
    }

    @Test func malformedParityIsCountedNotUsed() throws {
        var receiver = Self.receiver()
        let payloads = (0..<4).map { Self.payload($0) }
        // Before any OPT_PARITY_PRM: unusable.
        receiver.receive(odata(96, trail: 96, payloads[0]), arrival: fromSource, at: at(1))
        receiver.receive(try Self.parityPacket(96, index: 0, of: payloads), arrival: fromSource, at: at(1))
        #expect(receiver.statistics.parityUnusable == 1)
        receiver.receive(spm(1, trail: 96, lead: 96, options: [Self.parityPRM]), arrival: fromSource, at: at(2))
        // Index 255 − 4 = 251 is past the code; OPT_CURR_TGSIZE 9 > k.
        receiver.receive(
            try Self.parityPacket(96, index: 0, of: payloads, options: [Option(.parityGroup(63))]),
            arrival: fromSource, at: at(3))
        receiver.receive(
            try Self.parityPacket(96, index: 0, of: payloads, options: [Option(.currentGroupSize(9))]),
            arrival: fromSource, at: at(3))
        #expect(receiver.statistics.parityUnusable == 3)
        // Parity of inconsistent lengths: a decoding failure, no crash, nothing delivered wrongly.
        receiver.receive(odata(98, trail: 96, payloads[2]), arrival: fromSource, at: at(4))
        receiver.receive(odata(99, trail: 96, [1, 2, 3]), arrival: fromSource, at: at(4))
        // (96 came before OPT_PARITY_PRM, so it does not count towards the group: two parity packets are needed.)
        receiver.receive(try Self.parityPacket(96, index: 1, of: payloads), arrival: fromSource, at: at(5))
        receiver.receive(try Self.parityPacket(96, index: 2, of: payloads), arrival: fromSource, at: at(5))
        #expect(receiver.statistics.parityDecodingFailures == 1)
        #expect(Self.delivered(receiver.events()) == [payloads[0]])
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
