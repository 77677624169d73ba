import PGMCore
import PGMWire
import Testing

/// Session integrity at the receiver (RFC 3208 §10, Docs/integrity.md): each hostile packet kind, from another
/// address (dropped and counted) and from the session's own (bounded by the windows).
@Suite struct ReceiverIntegrityTests {
    static let stranger = NLA.ipv4(IPv4Address(10, 0, 0, 66))
    static let fromStranger = Arrival(source: stranger, destination: group)

    /// A session at SPM 1 with sequences 10...12 delivered: window [10, 12].
    static func session(_ configure: (inout Receiver.Configuration) -> Void = { _ in }) -> EngineHarness<Receiver> {
        var configuration = receiverConfiguration()
        configure(&configuration)
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 10, lead: 9), arrival: fromSource, at: at(0))
        for sequence: UInt32 in 10...12 {
            receiver.receive(odata(sequence, trail: 10, [UInt8(sequence)]), arrival: fromSource, at: at(1))
        }
        _ = receiver.events()
        return receiver
    }

    static func unrecoverable(_ events: [Receiver.Event]) -> Int {
        events.reduce(0) {
            if case .unrecoverable(_, let first, let last, _) = $1 {
                $0 + Int(first.distance(to: last)) + 1
            } else {
                $0
            }
        }
    }

    static func delivered(_ events: [Receiver.Event]) -> [UInt8] {
        events.flatMap { event -> [UInt8] in if case .data(_, let bytes) = event { Array(bytes) } else { [] } }
    }

    static func poll(_ sequence: UInt32) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .poll(
                POLL(
                    sequence: SequenceNumber(sequence), round: 0, subtype: POLL.generalSubtype, path: stranger,
                    backoffInterval: 1000, random: 0, mask: 0)))
    }

    static let unreachable = [Option(.neighborUnreachable)]

    // MARK: 1. The RFC's own windowless SPMs

    @Test func anSPMWithoutAWindowMovesNothing() {
        var receiver = Self.session()
        receiver.receive(spm(2, trail: 0, lead: 0x8000_0000), arrival: fromSource, at: at(2))
        let sent = receiver.advance(to: at(3000))
        #expect(receiver.nakSequences(sent).isEmpty)
        #expect(Self.unrecoverable(receiver.events()) == 0)
        #expect(receiver.engine.state(of: tsi)?.windowSequences == 0)
        #expect(receiver.statistics.windowlessSPMs == 1)
        receiver.receive(odata(13, trail: 10, [13]), arrival: fromSource, at: at(3001))
        #expect(Self.delivered(receiver.events()) == [13])
    }

    /// §15.3.2: OPT_NBR_UNREACH from the parent stops NAKs until a regular SPM, and carries no window; from
    /// another SPM_PATH (or another address) it is ignored.
    @Test func neighborUnreachableFromTheParentHoldsNAKsUntilARegularSPM() {
        var receiver = Self.session()
        var elsewhere = spm(2, trail: 0, lead: 0x8000_0000, options: Self.unreachable)
        if case .spm(var body) = elsewhere.body {
            body.path = Self.stranger
            elsewhere.body = .spm(body)
        }
        elsewhere.flags = .required(by: elsewhere.options)
        receiver.receive(elsewhere, arrival: fromSource, at: at(2))
        #expect(receiver.statistics.neighborUnreachableIgnored == 1)
        var parent = spm(1, trail: 0, lead: 0x8000_0000, options: Self.unreachable)
        parent.flags = .required(by: parent.options)
        receiver.receive(parent, arrival: fromSource, at: at(3))
        receiver.receive(odata(15, trail: 10, [15]), arrival: fromSource, at: at(4))
        let held = receiver.advance(to: at(2000))
        #expect(receiver.nakSequences(held).isEmpty, "no NAK while the parent cannot be reached")
        #expect(Self.unrecoverable(receiver.events()) == 0)
        receiver.receive(spm(3, trail: 10, lead: 15), arrival: fromSource, at: at(2001))
        let after = receiver.advance(to: at(2100))
        #expect(receiver.nakSequences(after).sorted() == [13, 14])
    }

    // MARK: 2. Packets from another address

    @Test func everyKindFromAnotherAddressIsDroppedAndCountedOnce() {
        var receiver = Self.session()
        let hostile: [Packet] = [
            spm(2, trail: 0, lead: 0x8000_0000),
            spm(3, trail: 10, lead: 5_000_000),
            spm(4, trail: 2_000_000, lead: 2_000_100),
            spm(5, trail: 10, lead: 14),
            odata(13, trail: 10, [0xEE]),
            odata(
                20, trail: 10, [0xEE],
                options: [Option(.fragment(.init(firstSequence: SequenceNumber(20), offset: 0, apduLength: 1 << 20)))]),
            odata(14, trail: 10, [0xEE], repair: true),
            ncf(Array(13...75)),
            Self.poll(7),
        ]
        var time: Int64 = 2
        var sent: [Transmit] = []
        for packet in hostile {
            sent += receiver.receive(packet, arrival: Self.fromStranger, at: at(time))
            time += 10
        }
        sent += receiver.advance(to: at(3000)).map(\.transmit)
        #expect(receiver.nakSequences(sent).isEmpty)
        #expect(ofType(.polr, sent).isEmpty)
        let events = receiver.events()
        #expect(Self.delivered(events).isEmpty && Self.unrecoverable(events) == 0)
        #expect(receiver.statistics.offPathPackets == hostile.count)
        #expect(receiver.engine.state(of: tsi)?.offPathDropped == hostile.count)
        #expect(
            receiver.engine.state(of: tsi)?.sender == sourceAddress && receiver.engine.path(for: tsi) == pathAddress)
        let warnings = events.filter { if case .offPathPackets = $0 { true } else { false } }
        #expect(warnings == [.offPathPackets(tsi, from: Self.stranger, dropped: 1)], "one a second")
        // The real source goes on as if nothing happened.
        receiver.receive(odata(13, trail: 10, [13]), arrival: fromSource, at: at(3001))
        receiver.receive(Self.poll(8), arrival: Self.fromStranger, at: at(3002))
        let later = receiver.events()
        #expect(Self.delivered(later) == [13])
        #expect(later.contains(.offPathPackets(tsi, from: Self.stranger, dropped: hostile.count + 1)))
    }

    /// The path rule (Docs/integrity.md): SPMs from another address take the session only after the current path
    /// has been silent for the silence (3 s) and three of them came in a row; data from the old address is then
    /// dropped.
    @Test func aNewPathIsTakenOnlyOnceTheOldOneFellSilent() {
        var receiver = Self.session()
        let moved = Arrival(source: Self.stranger, destination: group)
        // While the source keeps sending, no number of SPMs from elsewhere moves the session.
        for index: UInt32 in 0..<10 {
            receiver.receive(spm(2 + index, trail: 10, lead: 12), arrival: moved, at: at(100 + 400 * Int64(index)))
            receiver.receive(
                odata(13 + index, trail: 10, [UInt8(13 + index)]), arrival: fromSource, at: at(101 + 400 * Int64(index))
            )
        }
        #expect(receiver.statistics.pathChanges == 0)
        #expect(Self.delivered(receiver.events()) == (13...22).map { UInt8($0) })
        // Silent from 4 s: three SPMs from the new address after 7 s.
        for (index, time) in [7_100, 7_200, 7_300].enumerated() {
            receiver.receive(spm(100 + UInt32(index), trail: 10, lead: 22), arrival: moved, at: at(Int64(time)))
        }
        #expect(receiver.statistics.pathChanges == 1)
        #expect(receiver.engine.state(of: tsi)?.sender == Self.stranger)
        #expect(receiver.events().contains(.pathChanged(tsi, sender: Self.stranger, path: pathAddress)))
        receiver.receive(odata(23, trail: 10, [23]), arrival: moved, at: at(7_400))
        receiver.receive(odata(24, trail: 10, [0xEE]), arrival: fromSource, at: at(7_401))
        #expect(Self.delivered(receiver.events()) == [23])
        #expect(receiver.statistics.offPathPackets == 11)
    }

    // MARK: 3. Bounded damage from the session's own address

    @Test func aLeadJumpIsDistrustedUntilDataConfirmsIt() {
        var receiver = Self.session()
        receiver.receive(spm(2, trail: 10, lead: 5_000_000), arrival: fromSource, at: at(2))
        receiver.receive(spm(3, trail: 2_000_000, lead: 2_000_100), arrival: fromSource, at: at(3))
        let sent = receiver.advance(to: at(3000))
        #expect(receiver.nakSequences(sent).isEmpty)
        #expect(Self.unrecoverable(receiver.events()) == 0)
        #expect(receiver.engine.state(of: tsi)?.windowSequences == 0)
        #expect(receiver.statistics.leadJumpsDistrusted == 2)
        // Garbage data far ahead is distrusted the same way; data just ahead cannot be told from the source's.
        receiver.receive(odata(3_000_000, trail: 10, [0xEE]), arrival: fromSource, at: at(3001))
        #expect(receiver.engine.state(of: tsi)?.windowSequences == 0)
        // A real jump (the source sent on while we heard nothing): its SPM and data near it confirm each other.
        receiver.receive(spm(4, trail: 10, lead: 100_000), arrival: fromSource, at: at(3002))
        receiver.receive(odata(100_000, trail: 100_000, [1]), arrival: fromSource, at: at(3003))
        let events = receiver.events()
        #expect(Self.unrecoverable(events) == 100_000 - 13)
        #expect(Self.delivered(events) == [1])
    }

    /// One packet declares at most the receive window unrecoverable; a jump three SPMs confirm is the source's
    /// (or a forger of its address, which only a key stops) and reports the real range.
    @Test func aSinglePacketNeverDeclaresMoreThanTheWindowUnrecoverable() {
        var receiver = Self.session { $0.maximumWindowSequences = 2048 }
        // Within the allowance (1024 sequences past the lead): the trail moves and takes what it passes.
        receiver.receive(spm(2, trail: 1000, lead: 1030), arrival: fromSource, at: at(2))
        #expect(Self.unrecoverable(receiver.events()) == 1000 - 13)
        for (index, lead) in [UInt32(40_000_000), 40_000_100].enumerated() {
            receiver.receive(spm(3 + UInt32(index), trail: lead - 10, lead: lead), arrival: fromSource, at: at(3))
            #expect(Self.unrecoverable(receiver.events()) == 0)
            #expect(receiver.engine.state(of: tsi)!.windowSequences <= 2048)
        }
        receiver.receive(spm(5, trail: 40_000_190, lead: 40_000_200), arrival: fromSource, at: at(3))
        #expect(Self.unrecoverable(receiver.events()) == 40_000_190 - 1000)
        #expect(receiver.engine.state(of: tsi)!.windowSequences <= 2048)
    }

    @Test func naksNeverOutrunTheRateLimit() {
        var receiver = Self.session { $0.nakRateLimit = Receiver.NAKRateLimit(packetsPerSecond: 10, burst: 2) }
        // 1,000 sequences missing (data for 1,013 after 12), inside the allowance.
        receiver.receive(odata(1013, trail: 10, [1]), arrival: fromSource, at: at(2))
        let first = receiver.advance(to: at(1002))
        let packets = ofType(.nak, first.map(\.transmit)).count
        #expect(packets >= 2 && packets <= 2 + 10 + 1)
        #expect(receiver.statistics.nakSequencesRateLimited > 0)
        // In the end every gap is NAKed, at that pace: 16 packets of 63 sequences.
        let rest = receiver.advance(to: at(4000))
        #expect(Set(receiver.nakSequences(first) + receiver.nakSequences(rest)).count == 1000)
    }

    @Test func ncfsAndRDATAFromTheSessionsAddressForSequencesAheadMakeNoState() {
        var receiver = Self.session()
        receiver.receive(ncf(Array(500...562)), arrival: fromSource, at: at(2))
        #expect(receiver.engine.state(of: tsi)?.windowSequences == 0)
        receiver.receive(odata(4_000_000, trail: 10, [0xEE], repair: true), arrival: fromSource, at: at(3))
        #expect(receiver.engine.state(of: tsi)?.windowSequences == 0)
        #expect(Self.unrecoverable(receiver.events()) == 0)
    }
}
