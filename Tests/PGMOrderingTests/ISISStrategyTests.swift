import Testing

@testable import PGMOrdering

/// ``ISISStrategy`` alone (hand-fed frames) and in ``StrategyHarness`` views of 1 to 8 members over many seeds.
@Suite struct ISISStrategyTests {
    static let a = MemberID(rawValue: 0x0A_0000)
    static let b = MemberID(rawValue: 0x0B_0000)
    static let c = MemberID(rawValue: 0x0C_0000)
    static let view = [a, b, c]

    static func control(
        proposals: [(MessageID, UInt64)] = [], finals: [(MessageID, UInt64, MemberID)] = [], trailing: [UInt8] = []
    ) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(ISISStrategy.kind)
        writer.writeVarint(UInt64(proposals.count))
        for (id, counter) in proposals {
            writer.write(id)
            writer.writeVarint(counter)
        }
        writer.writeVarint(UInt64(finals.count))
        for (id, counter, proposer) in finals {
            writer.write(id)
            writer.writeVarint(counter)
            writer.write(proposer)
        }
        return writer.bytes + trailing
    }

    static func drainOrdered(_ strategy: inout ISISStrategy) -> [MessageID] {
        var ids: [MessageID] = []
        while let (id, _) = strategy.pollOrdered() { ids.append(id) }
        return ids
    }

    /// Hundreds of seeds, 2 to 8 members, bursts and trickles, 5 % malformed frames and 5 % replays: every member
    /// orders every message once, in the same order, per-sender order kept, globals consecutive; every malformed
    /// frame counted.
    @Test func everyMemberOrdersTheSameOverManySeeds() {
        var failures: [String] = []
        var messages = 0
        var early = 0
        for seed in UInt64(0)..<400 {
            var random = HarnessRandom(seed: seed ^ 0x15)
            var configuration = StrategyHarness<ISISStrategy>.Configuration()
            configuration.seed = seed
            configuration.members = 2 + Int(seed % 7)
            configuration.messagesPerMember = Int.random(in: 1...20, using: &random)
            configuration.submitSpan = [.milliseconds(2), .milliseconds(20), .milliseconds(200)][Int(seed / 4 % 3)]
            configuration.delay = .zero ... .microseconds(Int64.random(in: 100...5000, using: &random))
            if seed % 4 < 3 { configuration.channelSkew = .zero ... .milliseconds(Int64(seed % 3 + 1) * 5) }
            configuration.nextGlobal = UInt64.random(in: 1...1_000_000, using: &random)
            configuration.malformedChance = 0.05
            configuration.replayChance = 0.05
            configuration.loopback = seed % 5 != 0
            let outcome = StrategyHarness<ISISStrategy>.run(configuration)
            messages += outcome.messages.count
            for strategy in outcome.strategies where strategy.retainedCount != 0 {
                failures.append("seed \(seed): \(strategy.retainedCount) items kept after the run")
            }
            early += outcome.strategies.map(\.earlyItems).reduce(0, +)
            failures += outcome.violations().map { "seed \(seed): \($0)" }
            for (member, strategy) in outcome.strategies.enumerated()
            where strategy.malformedControls != outcome.malformedInjected[member] {
                failures.append(
                    "seed \(seed): \(strategy.malformedControls) malformed counted, injected \(outcome.malformedInjected[member])"
                )
            }
        }
        let firstFailures = Array(failures.prefix(10))
        #expect(firstFailures.isEmpty, "\(failures.count) failures")
        #expect(messages > 10_000)
        // The runs did exercise frames that overtook what they follow.
        #expect(early > 1000)
        print("\(messages) messages, \(early) early")
    }

    /// A view of one orders each message at once, without a control.
    @Test func aViewOfOneOrdersAtOnce() {
        var configuration = StrategyHarness<ISISStrategy>.Configuration()
        configuration.members = 1
        let outcome = StrategyHarness<ISISStrategy>.run(configuration)
        #expect(outcome.violations().isEmpty)
        #expect(outcome.controls.isEmpty)
    }

    /// Controls per ordered message: each member proposes once per message of the others and the sender finalizes,
    /// so at most `n` per message, fewer when proposals and finals pending at once share a control.
    @Test(arguments: [3, 8]) func framesPerMessage(members: Int) {
        let loads = [(Duration.seconds(2), "trickle"), (.milliseconds(20), "burst")]
        for (span, label) in loads {
            for pollInterval in [nil, Duration.microseconds(100)] {
                var configuration = StrategyHarness<ISISStrategy>.Configuration()
                configuration.members = members
                configuration.messagesPerMember = 100
                configuration.submitSpan = span
                configuration.delay = .microseconds(50) ... .microseconds(500)
                configuration.pollInterval = pollInterval
                let outcome = StrategyHarness<ISISStrategy>.run(configuration)
                #expect(outcome.violations().isEmpty)
                let perMessage = Double(outcome.controls.count) / Double(outcome.messages.count)
                let bytes = outcome.controls.map(\.bytes.count).reduce(0, +)
                print(
                    "isis n=\(members) \(label), polled \(pollInterval.map { "every \($0)" } ?? "per frame"): \(outcome.controls.count) controls for \(outcome.messages.count) messages,",
                    "\(perMessage) per message, \(Double(bytes) / Double(outcome.messages.count)) bytes per message,",
                    "ordered everywhere after p50 \(outcome.latency(0.5)), p99 \(outcome.latency(0.99))")
                #expect(perMessage <= Double(members))
                #expect(perMessage > 0)
            }
        }
    }

    /// A proposal can come before the message (from a member that got it first); the final can be the first this
    /// member hears of a message; the head is delivered only once final, and keys follow the largest proposal seen.
    @Test func proposalsAndFinalsBeforeTheMessage() {
        var strategy = ISISStrategy(me: Self.b, members: Self.view, view: 1, nextGlobal: 7, at: .zero)
        strategy.controlSpacing = .zero
        let fromA = MessageID(sender: Self.a, sequence: 1)
        let fromC = MessageID(sender: Self.c, sequence: 1)
        // C got A's message first and proposes 5.
        strategy.receive(control: Self.control(proposals: [(fromA, 5)])[...], from: Self.c, at: .zero)
        #expect(strategy.pollOrdered() == nil)
        strategy.messageArrived(fromA, at: .zero)
        strategy.messageArrived(fromC, at: .zero)
        // B proposed 1 for A's message and 2 for C's, in one control.
        #expect(strategy.pollControl() == Self.control(proposals: [(fromA, 1), (fromC, 2)]))
        #expect(strategy.pollControl() == nil)
        // C's message is final at (3, A): its key (3, A) is below A's message's key (5, C), which is not final.
        strategy.receive(control: Self.control(finals: [(fromC, 3, Self.a)])[...], from: Self.c, at: .zero)
        #expect(Self.drainOrdered(&strategy) == [fromC])
        // A's next message: final (6, C) before B got it; delivered, and its late arrival proposes nothing.
        let secondFromA = MessageID(sender: Self.a, sequence: 2)
        strategy.receive(control: Self.control(finals: [(fromA, 5, Self.c)])[...], from: Self.a, at: .zero)
        strategy.receive(control: Self.control(finals: [(secondFromA, 6, Self.c)])[...], from: Self.a, at: .zero)
        #expect(strategy.pollOrdered()! == (fromA, 8))
        #expect(strategy.pollOrdered()! == (secondFromA, 9))
        strategy.messageArrived(secondFromA, at: .zero)
        #expect(strategy.pollControl() == nil)
        #expect(strategy.pendingCount == 0)
        // The counter follows what was agreed: B's next proposal is 7.
        let secondFromC = MessageID(sender: Self.c, sequence: 2)
        strategy.messageArrived(secondFromC, at: .zero)
        #expect(strategy.pollControl() == Self.control(proposals: [(secondFromC, 7)]))
        // Replays of what was ordered are stale, not malformed.
        strategy.receive(control: Self.control(proposals: [(fromA, 5)])[...], from: Self.c, at: .zero)
        #expect(strategy.staleItems == 1 && strategy.malformedControls == 0)
    }

    /// The sender finalizes with the largest proposal once every member proposed (ties: the larger proposer).
    @Test func theSenderFinalizesWithTheLargestProposal() {
        var strategy = ISISStrategy(me: Self.a, members: Self.view, view: 1, nextGlobal: 1, at: .zero)
        strategy.controlSpacing = .zero
        let mine = MessageID(sender: Self.a, sequence: 1)
        strategy.messageArrived(mine, at: .zero)
        #expect(strategy.pollControl() == nil)  // no proposal for my own message
        strategy.receive(control: Self.control(proposals: [(mine, 4)])[...], from: Self.b, at: .zero)
        #expect(strategy.pollControl() == nil && strategy.pollOrdered() == nil)
        strategy.receive(control: Self.control(proposals: [(mine, 4)])[...], from: Self.c, at: .zero)
        #expect(strategy.pollControl() == Self.control(finals: [(mine, 4, Self.c)]))
        #expect(strategy.pollOrdered()! == (mine, 1))
        #expect(strategy.counter == 4)
    }

    /// Frames that are short, of another kind, or that a member may not send are dropped and counted, one each.
    @Test func malformedControlsAreCountedAndIgnored() {
        let mine = MessageID(sender: Self.b, sequence: 1)
        let fromA = MessageID(sender: Self.a, sequence: 1)
        let stranger = MemberID(rawValue: 0x0D_0000)
        let valid = Self.control(proposals: [(fromA, 3)], finals: [(MessageID(sender: Self.c, sequence: 1), 2, Self.a)])
        var bad: [(from: MemberID, bytes: [UInt8])] = (0..<valid.count).map { (Self.c, Array(valid.prefix($0))) }
        bad += [
            (Self.c, Self.control(proposals: [(fromA, 3)], trailing: [0])),  // bytes after the items
            (Self.c, [0x54] + Self.control(proposals: [(fromA, 3)]).dropFirst()),  // a token's kind
            (Self.c, Self.control(proposals: [(MessageID(sender: Self.c, sequence: 1), 3)])),  // for its own message
            (Self.c, Self.control(proposals: [(fromA, 0)])),  // counter 0
            (Self.c, Self.control(proposals: [(fromA, ISISStrategy.maximumCounter + 1)])),
            (Self.c, Self.control(proposals: [(MessageID(sender: stranger, sequence: 1), 3)])),  // not a member's
            (Self.c, Self.control(finals: [(fromA, 3, Self.a)])),  // a final for another's message
            (Self.a, Self.control(finals: [(fromA, 3, stranger)])),  // proposed by a stranger
            (Self.a, Self.control(finals: [(fromA, 1, Self.a)])),  // below the proposal B made for it
            (stranger, Self.control(proposals: [(fromA, 3)])),  // from outside the view
            (Self.c, [ISISStrategy.kind, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),  // a forged count
        ]
        var strategy = ISISStrategy(me: Self.b, members: Self.view, view: 1, nextGlobal: 1, at: .zero)
        strategy.controlSpacing = .zero
        strategy.messageArrived(mine, at: .zero)
        strategy.messageArrived(fromA, at: .zero)
        _ = strategy.pollControl()
        for (from, bytes) in bad { strategy.receive(control: bytes[...], from: from, at: .zero) }
        #expect(strategy.malformedControls == bad.count)
        #expect(strategy.pollOrdered() == nil && strategy.pollControl() == nil)
        // Seeded random bytes, half of them led by ISIS's kind: never a trap; whatever does not decode is counted.
        var random = HarnessRandom(seed: 17)
        var refusedBefore = strategy.malformedControls
        for round in 0..<5000 {
            var bytes = (0..<Int.random(in: 0...60, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            if round % 2 == 0, !bytes.isEmpty { bytes[0] = ISISStrategy.kind }
            let before = strategy.malformedControls
            strategy.receive(control: bytes[...], from: Self.view[round % 3], at: .zero)
            if bytes.first != ISISStrategy.kind { #expect(strategy.malformedControls == before + 1) }
            _ = strategy.pollControl()
            _ = Self.drainOrdered(&strategy)
        }
        refusedBefore = strategy.malformedControls - refusedBefore
        #expect(refusedBefore >= 2500)
    }

    /// An idle member sends its control at once; what comes within the spacing waits for the next one.
    @Test func controlsAreSpaced() {
        var strategy = ISISStrategy(me: Self.b, members: Self.view, view: 1, nextGlobal: 1, at: .zero)
        #expect(strategy.controlSpacing == .microseconds(100))
        let a1 = MessageID(sender: Self.a, sequence: 1)
        let a2 = MessageID(sender: Self.a, sequence: 2)
        let c1 = MessageID(sender: Self.c, sequence: 1)
        strategy.messageArrived(a1, at: .microseconds(1000))
        #expect(strategy.pollControl() == Self.control(proposals: [(a1, 1)]))
        #expect(strategy.nextDeadline == nil)
        strategy.messageArrived(a2, at: .microseconds(1010))
        strategy.messageArrived(c1, at: .microseconds(1050))
        #expect(strategy.pollControl() == nil && strategy.nextDeadline == .microseconds(1100))
        strategy.advance(to: .microseconds(1100))
        #expect(strategy.pollControl() == Self.control(proposals: [(a2, 2), (c1, 3)]))
        #expect(strategy.nextDeadline == nil)
        // Idle for longer than the spacing: the next one goes at once.
        strategy.messageArrived(MessageID(sender: Self.c, sequence: 2), at: .microseconds(1300))
        #expect(strategy.pollControl() != nil)
    }

    /// Proposals for messages not here yet are kept up to a bound; beyond, they are dropped and counted.
    @Test func earlyProposalsAreBounded() {
        var strategy = ISISStrategy(me: Self.b, members: Self.view, view: 1, nextGlobal: 1, at: .zero)
        let perControl = 1000
        let controls = ISISStrategy.maximumUnarrived / perControl + 2
        for control in 0..<controls {
            let proposals = (0..<perControl).map {
                (MessageID(sender: Self.a, sequence: UInt64(control * perControl + $0 + 1)), UInt64(1))
            }
            strategy.receive(control: Self.control(proposals: proposals)[...], from: Self.c, at: .zero)
        }
        #expect(strategy.earlyItems == ISISStrategy.maximumUnarrived)
        #expect(strategy.refusedItems == controls * perControl - ISISStrategy.maximumUnarrived)
        #expect(strategy.retainedCount == ISISStrategy.maximumUnarrived && strategy.malformedControls == 0)
    }
}
