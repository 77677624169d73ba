import PGMOrdering
import Testing

/// `total-sequencer` on its own (Docs/ordering.md#delivery-per-mode): the smallest member orders, one ORDER per
/// poll, everyone (the sequencer too) orders from ORDER batches only, and bad controls are counted.
@Suite struct SequencerStrategyTests {
    static let a = MemberID(rawValue: 10)
    static let b = MemberID(rawValue: 20)
    static let c = MemberID(rawValue: 30)

    static func id(_ sender: MemberID, _ sequence: UInt64) -> MessageID {
        MessageID(sender: sender, sequence: sequence)
    }

    @Test func smallestOrdersFromNextGlobal() throws {
        var sequencer = SequencerStrategy(
            me: Self.a, members: [Self.c, Self.a, Self.b], view: 3, nextGlobal: 8, at: .zero)
        var other = SequencerStrategy(me: Self.b, members: [Self.a, Self.b, Self.c], view: 3, nextGlobal: 8, at: .zero)
        #expect(sequencer.isSequencer && !other.isSequencer)
        other.messageArrived(Self.id(Self.b, 1), at: .zero)
        #expect(other.pollControl() == nil)
        sequencer.messageArrived(Self.id(Self.b, 1), at: .zero)
        sequencer.messageArrived(Self.id(Self.a, 1), at: .zero)
        let controlPolled = sequencer.pollControl()
        let control = try #require(controlPolled)
        #expect(sequencer.pollControl() == nil)
        // Nothing is ordered until the ORDER comes back, at the sequencer as anywhere.
        #expect(sequencer.pollOrdered() == nil)
        for index in 0..<2 {
            if index == 0 {
                sequencer.receive(control: control[...], from: Self.a, at: .zero)
            } else {
                other.receive(control: control[...], from: Self.a, at: .zero)
            }
        }
        for index in 0..<2 {
            var order: [(id: MessageID, global: UInt64)] = []
            while let next = index == 0 ? sequencer.pollOrdered() : other.pollOrdered() { order.append(next) }
            #expect(order.map(\.id) == [Self.id(Self.b, 1), Self.id(Self.a, 1)])
            #expect(order.map(\.global) == [8, 9])
        }
        // The next batch starts at 10.
        sequencer.messageArrived(Self.id(Self.c, 1), at: .zero)
        let nextPolled = sequencer.pollControl()
        let next = try #require(nextPolled)
        other.receive(control: next[...], from: Self.a, at: .zero)
        #expect(other.pollOrdered()?.global == 10)
        #expect(other.malformedControls == 0)
    }

    @Test func badControlsAreCounted() throws {
        var sequencer = SequencerStrategy(me: Self.a, members: [Self.a, Self.b], view: 1, nextGlobal: 1, at: .zero)
        var other = SequencerStrategy(me: Self.b, members: [Self.a, Self.b], view: 1, nextGlobal: 1, at: .zero)
        sequencer.messageArrived(Self.id(Self.a, 1), at: .zero)
        let controlPolled = sequencer.pollControl()
        let control = try #require(controlPolled)
        other.receive(control: control[...], from: Self.b, at: .zero)  // not the sequencer
        other.receive(control: (control + [0])[...], from: Self.a, at: .zero)  // trailing byte
        other.receive(control: control.dropLast(), from: Self.a, at: .zero)  // truncated
        other.receive(control: [2, 1, 0][...], from: Self.a, at: .zero)  // unknown kind
        other.receive(control: [1, 5, 0][...], from: Self.a, at: .zero)  // starts at 5, 1 expected
        #expect(other.malformedControls == 5)
        #expect(other.pollOrdered() == nil)
        other.receive(control: control[...], from: Self.a, at: .zero)
        #expect(other.pollOrdered()?.id == Self.id(Self.a, 1))
    }
}
