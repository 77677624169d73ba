import Testing

@testable import PGMOrdering

/// ``TokenStrategy`` alone (hand-fed tokens) and in ``StrategyHarness`` views of 1 to 8 members over many seeds.
@Suite struct TokenStrategyTests {
    static let a = MemberID(rawValue: 0x0A_0000)
    static let b = MemberID(rawValue: 0x0B_0000)
    static let c = MemberID(rawValue: 0x0C_0000)
    static let view = [a, b, c]

    static func token(
        _ round: UInt64, first: UInt64, _ stamped: [MessageID] = [], next: MemberID, idle: UInt64 = 0
    ) -> [UInt8] {
        TokenStrategy.Token(round: round, firstGlobal: first, stamped: stamped, next: next, idle: idle).encoded()
    }

    static func drainOrdered(_ strategy: inout TokenStrategy) -> [TokenOrdered] {
        var ordered: [TokenOrdered] = []
        while let (id, global) = strategy.pollOrdered() { ordered.append(TokenOrdered(id: id, global: global)) }
        return ordered
    }

    struct TokenOrdered: Equatable {
        var id: MessageID
        var global: UInt64
    }

    /// Hundreds of seeds, 2 to 8 members, bursts and trickles, 5 % malformed frames and 5 % replayed tokens: every
    /// member orders every message once, in the same order, per-sender order kept, globals consecutive; every
    /// malformed frame and every replay counted (a replay always comes after its original on a FIFO channel).
    @Test func everyMemberOrdersTheSameOverManySeeds() {
        var failures: [String] = []
        var messages = 0
        var early = 0
        for seed in UInt64(0)..<400 {
            var random = HarnessRandom(seed: seed ^ 0x70)
            var configuration = StrategyHarness<TokenStrategy>.Configuration()
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
            let outcome = StrategyHarness<TokenStrategy>.run(configuration)
            messages += outcome.messages.count
            for strategy in outcome.strategies where strategy.retainedCount != 0 {
                failures.append("seed \(seed): \(strategy.retainedCount) items kept after the run")
            }
            early += outcome.strategies.map(\.tokensAhead).reduce(0, +)
            failures += outcome.violations().map { "seed \(seed): \($0)" }
            for (member, strategy) in outcome.strategies.enumerated() {
                if strategy.malformedControls != outcome.malformedInjected[member] {
                    failures.append(
                        "seed \(seed): \(strategy.malformedControls) malformed counted, injected \(outcome.malformedInjected[member])"
                    )
                }
                if strategy.ignoredTokens != outcome.replaysInjected[member] {
                    failures.append(
                        "seed \(seed): \(strategy.ignoredTokens) tokens ignored, replayed \(outcome.replaysInjected[member])"
                    )
                }
            }
            failures += Self.rotationViolations(outcome).map { "seed \(seed): \($0)" }
        }
        let firstFailures = Array(failures.prefix(10))
        #expect(firstFailures.isEmpty, "\(failures.count) failures")
        #expect(messages > 10_000)
        // The runs did exercise frames that overtook what they follow.
        #expect(early > 1000)
        print("\(messages) messages, \(early) early")
    }

    /// Tokens go out from `members[0]`, `members[1]`, ... in turn, rounds 1, 2, ..., and every member's
    /// ``TokenStrategy/holder`` ends as the member the last token named.
    static func rotationViolations(_ outcome: StrategyHarness<TokenStrategy>.Outcome) -> [String] {
        var found: [String] = []
        let n = outcome.members.count
        for (offset, control) in outcome.controls.enumerated() {
            guard let token = try? TokenStrategy.Token.decode(control.bytes[...]) else {
                found.append("control \(offset) is no token")
                continue
            }
            if control.member != offset % n || token.round != UInt64(offset + 1)
                || token.next != outcome.members[(offset + 1) % n]
            {
                found.append("control \(offset): round \(token.round) from member \(control.member)")
            }
        }
        let lastHolder = outcome.members[outcome.controls.count % n]
        for strategy in outcome.strategies where strategy.holder != lastHolder {
            found.append("a member thinks \(String(describing: strategy.holder)) holds, not \(lastHolder)")
        }
        return found
    }

    /// A view of one stamps its messages as they come and never passes an idle token.
    @Test func aViewOfOneOrdersAtOnce() {
        var configuration = StrategyHarness<TokenStrategy>.Configuration()
        configuration.members = 1
        configuration.runAtLeast = .seconds(1)
        let outcome = StrategyHarness<TokenStrategy>.run(configuration)
        #expect(outcome.violations().isEmpty)
        #expect(outcome.strategies[0].idlePasses == 0)
        #expect(outcome.controls.count <= outcome.messages.count)
    }

    /// Controls per ordered message, idle passes included: under load a token carries the holder's backlog.
    @Test(arguments: [3, 8]) func framesPerMessage(members: Int) {
        let loads = [(Duration.seconds(2), "trickle"), (.milliseconds(20), "burst")]
        for (span, label) in loads {
            for pollInterval in [nil, Duration.microseconds(100)] {
                var configuration = StrategyHarness<TokenStrategy>.Configuration()
                configuration.members = members
                configuration.messagesPerMember = 100
                configuration.submitSpan = span
                configuration.delay = .microseconds(50) ... .microseconds(500)
                configuration.pollInterval = pollInterval
                let outcome = StrategyHarness<TokenStrategy>.run(configuration)
                #expect(outcome.violations().isEmpty)
                let perMessage = Double(outcome.controls.count) / Double(outcome.messages.count)
                let idle = outcome.strategies.map(\.idlePasses).reduce(0, +)
                let bytes = outcome.controls.map(\.bytes.count).reduce(0, +)
                print(
                    "token n=\(members) \(label), polled \(pollInterval.map { "every \($0)" } ?? "per frame"): \(outcome.controls.count) controls (\(idle) idle) for",
                    "\(outcome.messages.count) messages in \(outcome.end), \(perMessage) per message,",
                    "\(Double(bytes) / Double(outcome.messages.count)) bytes per message,",
                    "ordered everywhere after p50 \(outcome.latency(0.5)), p99 \(outcome.latency(0.99))")
                #expect(perMessage > 0)
            }
        }
    }

    /// The hold doubles per rotation without a stamp, from 1 ms to at most 20 ms.
    @Test func holdBacksOffPerIdleRotation() {
        let holds = (UInt64(0)..<30).map { TokenStrategy.hold(afterIdlePasses: $0, members: 3) }
        let milliseconds: [Int64] = [1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 16] + Array(repeating: 20, count: 15)
        #expect(holds == milliseconds.map { .milliseconds($0) })
        #expect(TokenStrategy.hold(afterIdlePasses: .max, members: 8) == TokenStrategy.maximumHold)
    }

    /// In a run with a few messages over 3 s: an idle holder never keeps the token beyond 20 ms, keeps it 20 ms once
    /// the ring has been idle for long, and the token moves on within 1 ms (plus the channel's delay) after a stamp.
    @Test(arguments: [2, 5]) func idleTokenBacksOffAndComesBack(members: Int) throws {
        var configuration = StrategyHarness<TokenStrategy>.Configuration()
        configuration.members = members
        configuration.messagesPerMember = 3
        configuration.submitSpan = .seconds(3)
        configuration.delay = .microseconds(100) ... .microseconds(100)
        configuration.runAtLeast = .seconds(3)
        configuration.seed = 5
        let outcome = StrategyHarness<TokenStrategy>.run(configuration)
        #expect(outcome.violations().isEmpty)
        let tokens = try outcome.controls.map { try TokenStrategy.Token.decode($0.bytes[...]) }
        let delay = Duration.microseconds(100)
        var longHolds = 0
        for offset in 1..<tokens.count {
            let gap = outcome.controls[offset].time - outcome.controls[offset - 1].time
            #expect(gap <= TokenStrategy.maximumHold + delay)
            if !tokens[offset - 1].stamped.isEmpty { #expect(gap <= TokenStrategy.minimumHold + delay) }
            // A holder that stamped nothing kept the token for its whole hold.
            if tokens[offset - 1].idle >= UInt64(5 * members) && tokens[offset].stamped.isEmpty {
                #expect(gap == TokenStrategy.maximumHold + delay)
                longHolds += 1
            }
        }
        // After each stamp the hold climbs back to 20 ms within 5 rotations; without the back-off an idle ring
        // would pass about 1,000 tokens a second per member hop.
        #expect(longHolds > 0)
        let stamps = tokens.filter { !$0.stamped.isEmpty }.count
        #expect(tokens.count <= (stamps + 1) * 5 * members + 3 * 50 + members)
    }

    /// Round 2 before round 1: nothing is ordered until every earlier global is known; the holder acts at once.
    @Test func tokensOutOfRoundOrderWaitForTheGap() {
        var strategy = TokenStrategy(me: Self.c, members: Self.view, view: 1, nextGlobal: 10, at: .zero)
        #expect(strategy.holder == Self.a && !strategy.isHolding)
        let a1 = MessageID(sender: Self.a, sequence: 1)
        let b1 = MessageID(sender: Self.b, sequence: 1)
        let b2 = MessageID(sender: Self.b, sequence: 2)
        let c1 = MessageID(sender: Self.c, sequence: 1)
        strategy.messageArrived(c1, at: .zero)
        #expect(strategy.pollControl() == nil)
        strategy.receive(control: Self.token(2, first: 11, [b1, b2], next: Self.c)[...], from: Self.b, at: .zero)
        #expect(strategy.isHolding && strategy.holder == Self.c)
        #expect(strategy.pollOrdered() == nil)
        // C stamps c1 with 13 and passes round 3 to A at once.
        #expect(strategy.pollControl() == Self.token(3, first: 13, [c1], next: Self.a))
        #expect(!strategy.isHolding && strategy.holder == Self.a)
        #expect(strategy.pollOrdered() == nil)
        strategy.receive(control: Self.token(1, first: 10, [a1], next: Self.b)[...], from: Self.a, at: .zero)
        #expect(
            Self.drainOrdered(&strategy) == [
                TokenOrdered(id: a1, global: 10), TokenOrdered(id: b1, global: 11), TokenOrdered(id: b2, global: 12),
                TokenOrdered(id: c1, global: 13),
            ])
        // The late round 1 did not make anyone else the holder; its replay, and C's own loopback, change nothing.
        #expect(strategy.holder == Self.a)
        strategy.receive(control: Self.token(1, first: 10, [a1], next: Self.b)[...], from: Self.a, at: .zero)
        strategy.receive(control: Self.token(3, first: 13, [c1], next: Self.a)[...], from: Self.c, at: .zero)
        #expect(strategy.ignoredTokens == 1 && strategy.malformedControls == 0)
    }

    /// The creator holds at first, passes an idle token after 1 ms, and passes at once when it has a message.
    @Test func theSmallestMemberCreatesTheToken() {
        var strategy = TokenStrategy(me: Self.a, members: Self.view, view: 1, nextGlobal: 1, at: .milliseconds(5))
        #expect(strategy.isHolding && strategy.nextDeadline == .milliseconds(6))
        #expect(strategy.pollControl() == nil)
        strategy.advance(to: .milliseconds(6))
        #expect(strategy.pollControl() == Self.token(1, first: 1, next: Self.b, idle: 1))
        #expect(strategy.nextDeadline == nil)
        // Round 3 comes back from C after a stamp elsewhere: hold 1 ms; a message makes A pass at once.
        strategy.receive(
            control: Self.token(3, first: 1, [MessageID(sender: Self.c, sequence: 1)], next: Self.a)[...],
            from: Self.c, at: .milliseconds(9))
        #expect(strategy.isHolding && strategy.nextDeadline == .milliseconds(10))
        strategy.messageArrived(MessageID(sender: Self.a, sequence: 1), at: .milliseconds(9))
        #expect(
            strategy.pollControl()
                == Self.token(4, first: 2, [MessageID(sender: Self.a, sequence: 1)], next: Self.b, idle: 0))
    }

    /// Tokens that are short, of another kind, or out of the rotation are dropped and counted, one each.
    @Test func malformedTokensAreCountedAndIgnored() {
        let b1 = MessageID(sender: Self.b, sequence: 1)
        let valid = Self.token(2, first: 1, [b1], next: Self.c)
        var bad: [(from: MemberID, bytes: [UInt8])] = (0..<valid.count).map { (Self.b, Array(valid.prefix($0))) }
        bad += [
            (Self.b, valid + [0]),  // bytes after the token
            (Self.b, [ISISStrategy.kind] + valid.dropFirst()),  // ISIS's kind
            (Self.c, valid),  // round 2 is B's to pass
            (Self.b, Self.token(2, first: 1, [b1], next: Self.a)),  // round 2 goes to C
            (Self.b, Self.token(0, first: 1, next: Self.a)),  // round 0 is never passed
            (Self.b, Self.token(2, first: 1, [MessageID(sender: Self.a, sequence: 1)], next: Self.c)),  // not B's
            (Self.b, Self.token(2, first: 1, [b1, b1], next: Self.c)),  // sequences must grow
            (Self.b, Self.token(2, first: TokenStrategy.maximumValue + 1, next: Self.c)),
            (Self.b, [TokenStrategy.kind, 2, 1, 0xFF, 0xFF, 0xFF, 0x0F]),  // a forged count
        ]
        var strategy = TokenStrategy(me: Self.c, members: Self.view, view: 1, nextGlobal: 1, at: .zero)
        for (from, bytes) in bad { strategy.receive(control: bytes[...], from: from, at: .zero) }
        #expect(strategy.malformedControls == bad.count)
        #expect(!strategy.isHolding && strategy.holder == Self.a)
        // A round whose first global does not follow the rounds before it is counted when it is reached.
        strategy.receive(control: Self.token(2, first: 5, [b1], next: Self.c)[...], from: Self.b, at: .zero)
        strategy.receive(control: Self.token(1, first: 1, next: Self.b)[...], from: Self.a, at: .zero)
        #expect(strategy.malformedControls == bad.count + 1)
        #expect(strategy.pollOrdered() == nil)
        // A token far beyond the first missing round is ignored (bounded buffering).
        let far = TokenStrategy.maximumBufferedRounds + 3
        strategy.receive(
            control: Self.token(far, first: 1, next: Self.view[Int(far % 3)])[...],
            from: Self.view[Int((far - 1) % 3)], at: .zero)
        #expect(strategy.ignoredTokens == 1)
        // Seeded random bytes, half of them led by the token's kind: never a trap.
        var random = HarnessRandom(seed: 23)
        for round in 0..<5000 {
            var bytes = (0..<Int.random(in: 0...60, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            if round % 2 == 0, !bytes.isEmpty { bytes[0] = TokenStrategy.kind }
            let before = strategy.malformedControls
            strategy.receive(control: bytes[...], from: Self.view[round % 3], at: .zero)
            if bytes.first != TokenStrategy.kind { #expect(strategy.malformedControls == before + 1) }
            strategy.advance(to: .seconds(1))
            _ = strategy.pollControl()
            _ = Self.drainOrdered(&strategy)
        }
    }
}
