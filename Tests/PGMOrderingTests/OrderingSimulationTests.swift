import PGMOrdering
import Testing

/// Many seeded runs of the message-level simulator per mode, with and without safe delivery and crashes; every
/// run is judged by ``OrderingInvariants`` (Docs/ordering.md).
@Suite struct OrderingSimulationTests {
    static let totalModes: [OrderingMode] = [.totalSequencer, .totalISIS, .totalToken]

    /// Runs `seeds` seeds and fails with the first violations found.
    static func sweep(
        _ mode: OrderingMode, safe: Bool, crashes: [OrderingSimulation.Crash] = [], seeds: Range<UInt64>,
        members: ClosedRange<Int> = 2...8, messages: Int = 12, expect: Bool = true
    ) -> (runs: Int, uniform: Int, viewChanges: Int, relayed: Int) {
        var uniform = 0
        var viewChanges = 0
        var relayed = 0
        for seed in seeds {
            let count = members.lowerBound + Int(seed % UInt64(members.count))
            var configuration = OrderingSimulation.Configuration(seed: seed, members: count, mode: mode)
            configuration.safe = safe
            configuration.messagesPerMember = messages
            configuration.crashes = crashes.count < count ? crashes : []
            configuration.expectMembers = expect
            let outcome = OrderingSimulation.run(configuration)
            #expect(
                outcome.violations.isEmpty,
                "\(mode.rawValue) safe=\(safe) seed \(seed) members \(count) crashes \(crashes): \(outcome.violations.prefix(5))"
            )
            if !outcome.violations.isEmpty { break }
            if !outcome.uniformViolations.isEmpty { uniform += 1 }
            viewChanges += outcome.statistics.values.map(\.viewChanges).max() ?? 0
            relayed += outcome.statistics.values.map(\.relayed).reduce(0, +)
        }
        return (seeds.count, uniform, viewChanges, relayed)
    }

    @Test(arguments: OrderingMode.allCases, [false, true])
    func noCrash(mode: OrderingMode, safe: Bool) {
        _ = Self.sweep(mode, safe: safe, seeds: 0..<300)
    }
}

extension OrderingSimulationTests {
    @Test(arguments: OrderingMode.allCases, [false, true])
    func crashOfSmallest(mode: OrderingMode, safe: Bool) {
        let result = Self.sweep(mode, safe: safe, crashes: [.init(target: .smallest)], seeds: 1000..<1060)
        print("crash smallest \(mode.rawValue) safe=\(safe): \(result)")
    }

    @Test(arguments: OrderingMode.allCases, [false, true])
    func crashOfRandom(mode: OrderingMode, safe: Bool) {
        let result = Self.sweep(mode, safe: safe, crashes: [.init(target: .random)], seeds: 2000..<2060)
        print("crash random \(mode.rawValue) safe=\(safe): \(result)")
    }
}
