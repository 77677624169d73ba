import PGMOrdering
import Testing

/// Many seeded runs of the message-level simulator per mode (the total modes other than the sequencer come from
/// ``makeStrategy(mode:me:members:view:nextGlobal:at:)``), with and without safe delivery, with no crash, one
/// crash (the smallest member, the sequencer, or any), two crashes, and a crash during the flush of another;
/// every run is judged by ``OrderingInvariants`` (Docs/ordering.md).
@Suite struct OrderingSimulationTests {
    struct Totals {
        var runs = 0
        var viewChanges = 0
        var relayed = 0
        var relayDelivered = 0
        /// Runs where a crashed member had delivered what the survivors did not (uniform delivery, not promised).
        var nonUniform = 0
        var failed = false
    }

    /// Runs one configuration per seed; stops at the first run with a violation (reported with its seed).
    static func sweep(
        _ mode: OrderingMode, seeds: Range<UInt64>, members: ClosedRange<Int> = 2...8,
        configure: (UInt64, inout OrderingSimulation.Configuration) -> Void = { _, _ in }
    ) -> Totals {
        var totals = Totals()
        for seed in seeds {
            let count = members.lowerBound + Int(seed % UInt64(members.count))
            var configuration = OrderingSimulation.Configuration(seed: seed, members: count, mode: mode)
            configuration.messagesPerMember = 10
            configuration.safe = seed % 2 == 1
            configure(seed, &configuration)
            let outcome = OrderingSimulation.run(configuration)
            totals.runs += 1
            #expect(
                outcome.violations.isEmpty,
                """
                \(mode.rawValue) seed \(seed) members \(count) safe \(configuration.safe) \
                crashes \(configuration.crashes): \(outcome.violations.prefix(4))
                """)
            guard outcome.violations.isEmpty else {
                totals.failed = true
                break
            }
            // Every run delivered something at every survivor: the checker had logs to judge.
            #expect(outcome.logs.filter { !$0.crashed }.allSatisfy { !$0.entries.isEmpty })
            if !outcome.uniformViolations.isEmpty { totals.nonUniform += 1 }
            totals.viewChanges += outcome.statistics.values.map(\.viewChanges).max() ?? 0
            totals.relayed += outcome.statistics.values.map(\.relayed).reduce(0, +)
            totals.relayDelivered += outcome.statistics.values.map(\.relayDelivered).reduce(0, +)
        }
        return totals
    }

    /// A time in [from, from + span) drawn from the seed (the tests pin crash times they reason about).
    static func time(_ seed: UInt64, from: Duration, span: Duration) -> Duration {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let microseconds = Int64((z ^ (z >> 31)) % UInt64(max(1, span / .microseconds(1))))
        return from + .microseconds(microseconds)
    }

    @Test(arguments: OrderingMode.allCases)
    func noCrash(mode: OrderingMode) {
        let clock = ContinuousClock()
        let start = clock.now
        let totals = Self.sweep(mode, seeds: 0..<300)
        let elapsed = clock.now - start
        #expect(totals.viewChanges == 0)
        let rate = Double(totals.runs) / (Double(elapsed / .milliseconds(1)) / 1000)
        print("\(mode.rawValue) no crash: \(totals.runs) runs, \(Int(rate)) runs/s")
    }

    /// One crash: the smallest member (the sequencer, the token's creator) or any member; the survivors learn
    /// of it after 300 ms (when the traffic is over) on a third of the seeds, after 10-49 ms (while members
    /// still submit, so that messages wait through the flush and a fresh strategy orders them) on the rest.
    @Test(arguments: OrderingMode.allCases)
    func oneCrash(mode: OrderingMode) {
        let totals = Self.sweep(mode, seeds: 1000..<1300) { seed, configuration in
            configuration.crashes = [.init(target: seed / 2 % 2 == 0 ? .smallest : .random)]
            configuration.expiry = seed % 3 == 0 ? .milliseconds(300) : .milliseconds(10 + Int64(seed % 40))
        }
        guard !totals.failed else { return }
        #expect(totals.viewChanges == totals.runs)
        // Some survivors were behind when the crash came, and relays filled them.
        #expect(totals.relayed > 0 && totals.relayDelivered > 0)
        print("\(mode.rawValue) one crash: \(totals)")
    }

    /// Two crashes one after the other, each with its own view change (a short expiry, so that the first flush
    /// ends before the second crash): the sequencer, then the member that became sequencer.
    @Test(arguments: OrderingMode.allCases)
    func twoCrashes(mode: OrderingMode) {
        let totals = Self.sweep(mode, seeds: 2000..<2100, members: 3...8) { seed, configuration in
            configuration.expiry = .milliseconds(20)
            let first = Self.time(seed, from: .milliseconds(30), span: .milliseconds(70))
            configuration.crashes = [
                .init(target: .smallest, at: first),
                .init(
                    target: .smallest,
                    at: Self.time(seed &* 31, from: first + .milliseconds(40), span: .milliseconds(50))),
            ]
        }
        guard !totals.failed else { return }
        #expect(totals.viewChanges == 2 * totals.runs)
        print("\(mode.rawValue) two crashes: \(totals)")
    }

    /// A second member crashes while the survivors flush the first one out (the flush starts at the first
    /// crash plus the expiry, and takes a few channel delays): the flush widens to both.
    @Test(arguments: OrderingMode.allCases)
    func crashDuringFlush(mode: OrderingMode) {
        let totals = Self.sweep(mode, seeds: 3000..<3100, members: 3...8) { seed, configuration in
            let first = Self.time(seed, from: .milliseconds(30), span: .milliseconds(150))
            configuration.crashes = [
                .init(target: .random, at: first),
                .init(
                    target: .random,
                    at: first + configuration.expiry + Self.time(seed, from: .zero, span: .milliseconds(4))),
            ]
        }
        guard !totals.failed else { return }
        #expect(totals.viewChanges >= totals.runs)
        print("\(mode.rawValue) crash during flush: \(totals)")
    }

    /// Formation by the quiet period (no `--members`).
    @Test(arguments: OrderingMode.allCases)
    func formationWithoutExpectedMembers(mode: OrderingMode) {
        let totals = Self.sweep(mode, seeds: 4000..<4030) { _, configuration in
            configuration.expectMembers = false
            configuration.submitWindow = .milliseconds(1500)
        }
        #expect(totals.runs == 30)
    }
}
