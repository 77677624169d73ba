import PGMCore
import PGMWire
import Testing

/// `.joined` tells the application where delivery starts, and whether the source still held earlier data
/// (RFC 3208 §6.1 late join), so that a stream joined mid-way is never taken for a whole one.
@Suite struct ReceiverJoinTests {
    @Test func dataAtTheTrailJoinsAtTheStart() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(odata(100, trail: 100, [1], options: [Option(.syn)]), arrival: fromSource, at: at(0))
        #expect(
            receiver.events() == [
                .peerDiscovered(tsi, source: sourceAddress),
                .joined(tsi, firstSequence: SequenceNumber(100), lateJoin: false),
                .data(tsi, bytes: [1]),
            ]
        )
    }

    @Test func dataPastTheTrailIsALateJoinThatNeverAsksForEarlierSequences() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(odata(500, trail: 100, [5]), arrival: fromSource, at: at(0))
        #expect(
            receiver.events() == [
                .peerDiscovered(tsi, source: sourceAddress),
                .joined(tsi, firstSequence: SequenceNumber(500), lateJoin: true),
                .data(tsi, bytes: [5]),
            ]
        )
        receiver.receive(spm(1, trail: 100, lead: 500), arrival: fromSource, at: at(1))
        #expect(receiver.advance(to: at(5_000)).isEmpty, "no NAK for 100...499")
        #expect(receiver.events().isEmpty, "and no second join")
    }

    @Test func anSPMWithAnEmptyWindowJoinsAtTheStartAndOneWithDataJoinsLate() {
        var early = EngineHarness(Receiver(configuration: receiverConfiguration()))
        early.receive(spm(0, trail: 7, lead: 6), arrival: fromSource, at: at(0))
        #expect(early.events().contains(.joined(tsi, firstSequence: SequenceNumber(7), lateJoin: false)))
        var late = EngineHarness(Receiver(configuration: receiverConfiguration()))
        late.receive(spm(9, trail: 7, lead: 40), arrival: fromSource, at: at(0))
        #expect(late.events().contains(.joined(tsi, firstSequence: SequenceNumber(41), lateJoin: true)))
    }

    /// OPT_JOIN lets a late joiner start further back, but it is still late if the trail precedes that point.
    @Test func optJoinMovesTheFirstSequenceBack() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(
            odata(50, trail: 10, [5], options: [Option(.join(minimumSequence: SequenceNumber(40)))]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(receiver.events().contains(.joined(tsi, firstSequence: SequenceNumber(40), lateJoin: true)))
        var fromTrail = EngineHarness(Receiver(configuration: receiverConfiguration()))
        fromTrail.receive(
            odata(50, trail: 10, [5], options: [Option(.join(minimumSequence: SequenceNumber(10)))]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(fromTrail.events().contains(.joined(tsi, firstSequence: SequenceNumber(10), lateJoin: false)))
    }

    /// A receiver listening before the session began whose first packet (fragment 0 of the first APDU) was lost
    /// starts at that APDU's first sequence, NAKs it, and delivers the whole APDU: not a late join.
    @Test func aLostFirstFragmentIsAskedForNotSkipped() {
        func fragment(_ sequence: UInt32, offset: UInt32, _ payload: [UInt8]) -> Packet {
            odata(
                sequence, trail: 20, payload,
                options: [Option(.fragment(.init(firstSequence: SequenceNumber(20), offset: offset, apduLength: 4)))])
        }
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(fragment(21, offset: 2, [3, 4]), arrival: fromSource, at: at(0))
        #expect(receiver.events().contains(.joined(tsi, firstSequence: SequenceNumber(20), lateJoin: false)))
        receiver.receive(spm(1, trail: 20, lead: 21), arrival: fromSource, at: at(1))
        #expect(receiver.nakSequences(receiver.advance(to: at(100))) == [20])
        receiver.receive(fragment(20, offset: 0, [1, 2]), arrival: fromSource, at: at(101))
        #expect(receiver.events() == [.data(tsi, bytes: [1, 2, 3, 4])])
    }

    /// The APDU's start is only asked for while the source holds it: past the trail, delivery waits for the
    /// next whole APDU as before.
    @Test func anAPDUBegunBeforeTheTrailIsNotAskedFor() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(
            odata(
                31, trail: 30, [9],
                options: [Option(.fragment(.init(firstSequence: SequenceNumber(29), offset: 2, apduLength: 3)))]),
            arrival: fromSource, at: at(0))
        #expect(receiver.events().contains(.joined(tsi, firstSequence: SequenceNumber(31), lateJoin: true)))
    }
}
