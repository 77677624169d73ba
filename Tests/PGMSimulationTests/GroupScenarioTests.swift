import PGMCore
import PGMGroupEngine
import PGMOrdering
import PGMSimulation
import PGMWire
import Testing

/// Ordered groups on PGM in virtual time: every member a GroupEngine on a lossy LAN (5 % independent loss into each
/// member, jitter), messages from every member at once, and a member crashing mid-run. What must hold per mode is
/// Docs/ordering.md's: per-sender order; causes before effects; identical logs; with safe delivery, nothing at one
/// survivor that another lacks; and every message of a member that did not crash delivered at every survivor.
@Suite struct GroupScenarioTests {
    static let seeds: [UInt64] = Array(1...6)

    static func run(
        mode: OrderingMode, seed: UInt64, members: Int = 4, messages: Int = 25, safe: Bool = false,
        crash: (member: Int, after: Duration)? = nil
    ) -> GroupScenario {
        var configuration = GroupScenario.Configuration(
            seed: seed, members: members, messagesPerMember: messages, mode: mode)
        configuration.safe = safe
        configuration.downlink.loss = .bernoulli(0.05)
        configuration.downlink.jitter = .milliseconds(2)
        configuration.sendingTime = .seconds(1)
        configuration.crash = crash
        let scenario = GroupScenario(configuration)
        scenario.run()
        return scenario
    }

    /// Failures of the order's invariants across the members' logs (empty when they all hold).
    static func failures(_ scenario: GroupScenario) -> [String] {
        let configuration = scenario.configuration
        let logs = scenario.logs
        var failures: [String] = []
        let crashed = Set(logs.filter(\.crashed).map(\.id))
        let survivors = logs.filter { !$0.crashed }
        for log in survivors {
            if !log.finished || !log.allLeft {
                failures.append("\(log.id): finished \(log.finished), all left \(log.allLeft)")
            }
            if log.excluded { failures.append("\(log.id) excluded") }
        }
        for log in logs {
            let ids = log.delivered.map(\.id)
            if Set(ids).count != ids.count { failures.append("\(log.id): duplicates") }
            var next: [MemberID: UInt64] = [:]
            for id in ids {
                let expected = next[id.sender, default: 0] + 1
                if id.sequence != expected { failures.append("\(log.id): \(id) after \(expected - 1) (FIFO)") }
                next[id.sender] = id.sequence
            }
            if configuration.mode == .causal {
                var delivered: [MemberID: UInt64] = [:]
                for message in log.delivered {
                    for (member, count) in message.dependencies
                    where member != message.id.sender
                        && delivered[member, default: 0] < count
                    {
                        failures.append("\(log.id): \(message.id) before \(member)#\(count) (causal)")
                    }
                    delivered[message.id.sender] = message.id.sequence
                }
            }
            guard !log.crashed else { continue }
            for other in logs where !crashed.contains(other.id) {
                if next[other.id, default: 0] != UInt64(configuration.messagesPerMember) {
                    failures.append("\(log.id): \(next[other.id, default: 0]) of \(other.id)'s messages")
                }
            }
        }
        if configuration.mode.isTotal, let reference = survivors.first {
            let order = reference.delivered.map(\.id)
            for log in survivors.dropFirst() where log.delivered.map(\.id) != order {
                failures.append("\(log.id)'s order differs from \(reference.id)'s")
            }
            for log in logs where log.crashed {
                let prefix = log.delivered.map(\.id)
                if Array(order.prefix(prefix.count)) != prefix { failures.append("crashed \(log.id) not a prefix") }
            }
            let globals = reference.delivered.compactMap(\.global)
            if globals != Array(1...UInt64(max(1, globals.count))).prefix(globals.count).map({ $0 }) {
                failures.append("globals not consecutive")
            }
        }
        if configuration.safe || configuration.mode.isTotal, let reference = survivors.first {
            let set = Set(reference.delivered.map(\.id))
            for log in survivors.dropFirst() where Set(log.delivered.map(\.id)) != set {
                failures.append("\(log.id) delivered other messages than \(reference.id)")
            }
        }
        return failures
    }

    @Test(arguments: OrderingMode.allCases)
    func everyModeHoldsItsOrderThroughLoss(mode: OrderingMode) {
        for seed in Self.seeds {
            let scenario = Self.run(mode: mode, seed: seed)
            let failures = Self.failures(scenario)
            #expect(failures.isEmpty, "\(mode) seed \(seed): \(failures.prefix(5))")
        }
    }

    @Test(arguments: OrderingMode.allCases)
    func safeDeliveryHoldsThroughLoss(mode: OrderingMode) {
        for seed in Self.seeds.prefix(3) {
            let scenario = Self.run(mode: mode, seed: seed, safe: true)
            let failures = Self.failures(scenario)
            #expect(failures.isEmpty, "\(mode) safe seed \(seed): \(failures.prefix(5))")
        }
    }

    /// Member 0 has the smallest member ID: in total-sequencer it is the sequencer.
    @Test(arguments: OrderingMode.allCases)
    func survivorsAgreeAfterACrash(mode: OrderingMode) {
        for seed in Self.seeds.prefix(4) {
            for safe in [false, true] {
                let scenario = Self.run(
                    mode: mode, seed: seed, messages: 40, safe: safe,
                    crash: (member: Int(seed % 2 == 0 ? 0 : seed % 4), after: .milliseconds(300 + Int64(seed) * 97)))
                let failures = Self.failures(scenario)
                #expect(failures.isEmpty, "\(mode) safe \(safe) seed \(seed): \(failures.prefix(5))")
                let views = scenario.logs.filter { !$0.crashed }.map { $0.views.last?.members.count }
                #expect(views.allSatisfy { $0 == 3 }, "\(mode) seed \(seed): final views \(views)")
            }
        }
    }
}
