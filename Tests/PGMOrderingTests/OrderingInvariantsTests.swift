import PGMOrdering
import Testing

/// The checker finds each kind of violation it names, and passes logs that keep every invariant: the simulator's
/// sweeps mean something only if it does.
@Suite struct OrderingInvariantsTests {
    static let a = MemberID(rawValue: 1)
    static let b = MemberID(rawValue: 2)
    static let c = MemberID(rawValue: 3)

    static func entry(_ sender: MemberID, _ sequence: UInt64, global: UInt64? = nil, deps: [MemberID: UInt64] = [:])
        -> OrderingLogEntry
    {
        OrderingLogEntry(id: MessageID(sender: sender, sequence: sequence), global: global, dependencies: deps)
    }

    static func log(
        _ member: MemberID, _ entries: [OrderingLogEntry], crashed: Bool = false, finished: Bool = true,
        sent: UInt64 = 0
    ) -> MemberOrderingLog {
        MemberOrderingLog(member: member, entries: entries, crashed: crashed, finished: finished, sent: sent)
    }

    static func kinds(_ violations: [OrderingViolation]) -> Set<OrderingViolation.Kind> { Set(violations.map(\.kind)) }

    @Test func cleanLogsPass() {
        let total = [Self.entry(Self.a, 1, global: 1), Self.entry(Self.b, 1, global: 2)]
        let logs = [Self.log(Self.a, total, sent: 1), Self.log(Self.b, total, sent: 1)]
        #expect(OrderingInvariants.check(mode: .totalSequencer, logs: logs).isEmpty)
        let causal = [
            Self.log(Self.a, [Self.entry(Self.a, 1), Self.entry(Self.b, 1, deps: [Self.a: 1])], sent: 1),
            Self.log(Self.b, [Self.entry(Self.a, 1), Self.entry(Self.b, 1, deps: [Self.a: 1])], sent: 1),
        ]
        #expect(OrderingInvariants.check(mode: .causal, logs: causal).isEmpty)
    }

    @Test func fifoDuplicateAndGap() {
        let logs = [
            Self.log(Self.a, [Self.entry(Self.a, 1), Self.entry(Self.a, 1)], sent: 1),
            Self.log(Self.b, [Self.entry(Self.a, 2)], sent: 0),
        ]
        let found = Self.kinds(OrderingInvariants.check(mode: .fifo, logs: logs, liveness: false))
        #expect(found.isSuperset(of: [.duplicate, .fifo]))
    }

    @Test func causalOrder() {
        let logs = [Self.log(Self.a, [Self.entry(Self.b, 1, deps: [Self.c: 1]), Self.entry(Self.c, 1)])]
        #expect(Self.kinds(OrderingInvariants.check(mode: .causal, logs: logs, liveness: false)) == [.causal])
    }

    @Test func totalOrder() {
        let one = [Self.entry(Self.a, 1, global: 1), Self.entry(Self.b, 1, global: 2)]
        let other = [Self.entry(Self.b, 1, global: 1), Self.entry(Self.a, 1, global: 2)]
        let logs = [Self.log(Self.a, one), Self.log(Self.b, other)]
        #expect(Self.kinds(OrderingInvariants.check(mode: .totalISIS, logs: logs, liveness: false)) == [.total])
        // Global sequences that skip.
        let skipping = [Self.log(Self.a, [Self.entry(Self.a, 1, global: 2)])]
        #expect(Self.kinds(OrderingInvariants.check(mode: .totalToken, logs: skipping, liveness: false)) == [.total])
    }

    @Test func agreementAndLiveness() {
        let logs = [
            Self.log(Self.a, [Self.entry(Self.a, 1), Self.entry(Self.c, 1)], sent: 1),
            Self.log(Self.b, [Self.entry(Self.a, 1)], sent: 0),
            Self.log(Self.c, [Self.entry(Self.c, 1)], crashed: true, finished: false, sent: 1),
        ]
        #expect(Self.kinds(OrderingInvariants.check(mode: .fifo, logs: logs)) == [.agreement])
        let unfinished = [Self.log(Self.a, [], finished: false, sent: 0), Self.log(Self.b, [], sent: 2)]
        let violations = OrderingInvariants.check(mode: .fifo, logs: unfinished)
        #expect(Self.kinds(violations) == [.liveness])
        #expect(violations.count == 3)  // a did not finish; neither a nor b delivered b's two messages
    }

    /// Uniform delivery is measured apart: a crashed member that delivered what no survivor did.
    @Test func uniformIsSeparate() {
        let logs = [
            Self.log(Self.a, [Self.entry(Self.a, 1, global: 1)], sent: 1),
            Self.log(Self.c, [Self.entry(Self.c, 1, global: 1)], crashed: true, finished: false, sent: 1),
        ]
        #expect(OrderingInvariants.check(mode: .totalSequencer, logs: logs).isEmpty)
        #expect(Self.kinds(OrderingInvariants.uniformViolations(mode: .totalSequencer, logs: logs)) == [.uniform])
    }
}
