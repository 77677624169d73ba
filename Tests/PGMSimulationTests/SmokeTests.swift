import PGMCore
import PGMSimulation
import PGMWire
import Testing

@Suite struct SessionScenarioTests {
    @Test func losslessDeliveryToThreeReceivers() {
        let seed = Seeds.seed(1)
        let scenario = SessionScenario(.init(seed: seed, receivers: 3, apdus: makeAPDUs(count: 50, sizes: 1...4000, seed: seed)))
        let finished = scenario.run()
        #expect(finished, "seed \(seed)")
        let failures = scenario.verify()
        #expect(failures.isEmpty, Comment(rawValue: describe(failures, seed: seed)))
        for log in scenario.logs { #expect(log.delivered.count == 50) }
        #expect(scenario.source.engine.statistics.rdataSent == 0)
    }
}
