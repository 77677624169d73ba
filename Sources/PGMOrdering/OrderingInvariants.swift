/// One delivered message as the invariants see it: simple enough to be read back from pgm-chat's JSON logs.
public struct OrderingLogEntry: Sendable, Equatable {
    public var id: MessageID
    public var global: UInt64?
    public var dependencies: [MemberID: UInt64]

    public init(id: MessageID, global: UInt64? = nil, dependencies: [MemberID: UInt64] = [:]) {
        self.id = id
        self.global = global
        self.dependencies = dependencies
    }
}

/// What one member delivered, in order, and how its run ended.
public struct MemberOrderingLog: Sendable, Equatable {
    public var member: MemberID
    public var entries: [OrderingLogEntry]
    /// The member crashed, left or was excluded: it is not a survivor, and its own messages need not arrive.
    public var crashed: Bool
    /// The member saw ``GroupEvent/groupFinished``.
    public var finished: Bool
    /// How many messages it sent (sequences 1...sent); liveness asks every survivor to deliver them.
    public var sent: UInt64

    public init(member: MemberID, entries: [OrderingLogEntry], crashed: Bool, finished: Bool, sent: UInt64) {
        self.member = member
        self.entries = entries
        self.crashed = crashed
        self.finished = finished
        self.sent = sent
    }
}

public struct OrderingViolation: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A message delivered twice at one member.
        case duplicate
        /// A sender's messages out of order or with a gap at one member.
        case fifo
        /// A message delivered before one it depends on.
        case causal
        /// Total modes: global sequences not 1, 2, ... or survivors' orders that differ.
        case total
        /// A message some survivor delivered and another did not (virtual synchrony, and what safe promises).
        case agreement
        /// A survivor that did not finish, or did not deliver a live member's message.
        case liveness
        /// A crashed member delivered something the survivors did not, or in another order (uniform delivery:
        /// measured, not promised; see ``OrderingInvariants/uniformViolations(mode:logs:)``).
        case uniform
    }

    public var kind: Kind
    public var member: MemberID
    public var detail: String

    public init(kind: Kind, member: MemberID, detail: String) {
        self.kind = kind
        self.member = member
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) at \(member): \(detail)" }
}

/// The ordering invariants of Docs/ordering.md, checked on delivered logs only (no access to the protocol), so
/// that the simulator, the lab and pgm-chat's logs are judged by one checker.
public enum OrderingInvariants {
    /// Every invariant the mode promises: per-sender order without duplicates or gaps (every mode), causal
    /// order (causal), one order at every survivor (total modes), agreement among survivors, and liveness
    /// (every survivor finished and delivered every message of every member that did not crash).
    public static func check(mode: OrderingMode, logs: [MemberOrderingLog], liveness: Bool = true)
        -> [OrderingViolation]
    {
        var violations: [OrderingViolation] = []
        for log in logs {
            violations += fifoViolations(log)
            if mode == .causal { violations += causalViolations(log) }
            if mode.isTotal { violations += globalViolations(log) }
        }
        let survivors = logs.filter { !$0.crashed }
        if mode.isTotal { violations += totalViolations(survivors) }
        let everyoneFinished = survivors.allSatisfy(\.finished)
        if everyoneFinished { violations += agreementViolations(survivors) }
        if liveness { violations += livenessViolations(logs) }
        return violations
    }

    /// Per sender: sequences 1, 2, 3, ... with no repeat and no gap.
    static func fifoViolations(_ log: MemberOrderingLog) -> [OrderingViolation] {
        var next: [MemberID: UInt64] = [:]
        var seen: Set<MessageID> = []
        var violations: [OrderingViolation] = []
        for entry in log.entries {
            guard seen.insert(entry.id).inserted else {
                violations.append(.init(kind: .duplicate, member: log.member, detail: "\(entry.id) again"))
                continue
            }
            let expected = next[entry.id.sender, default: 1]
            if entry.id.sequence != expected {
                violations.append(
                    .init(kind: .fifo, member: log.member, detail: "\(entry.id) where #\(expected) was next"))
            }
            next[entry.id.sender] = max(expected, entry.id.sequence + 1)
        }
        return violations
    }

    /// Each message after every message its sender had delivered when it sent (its dependency counts).
    static func causalViolations(_ log: MemberOrderingLog) -> [OrderingViolation] {
        var counts: [MemberID: UInt64] = [:]
        var violations: [OrderingViolation] = []
        for entry in log.entries {
            for (member, needed) in entry.dependencies where counts[member, default: 0] < needed {
                violations.append(
                    .init(
                        kind: .causal, member: log.member,
                        detail: "\(entry.id) needs \(needed) of \(member), \(counts[member, default: 0]) delivered"))
            }
            counts[entry.id.sender, default: 0] += 1
        }
        return violations
    }

    /// Global sequences 1, 2, 3, ... at one member.
    static func globalViolations(_ log: MemberOrderingLog) -> [OrderingViolation] {
        for (index, entry) in log.entries.enumerated() where entry.global != UInt64(index + 1) {
            return [
                .init(
                    kind: .total, member: log.member,
                    detail: "\(entry.id) has global \(entry.global.map(String.init) ?? "none") at position \(index + 1)"
                )
            ]
        }
        return []
    }

    /// Survivors deliver one order: at every position where two survivors both delivered, the same message;
    /// survivors that finished delivered the same log.
    static func totalViolations(_ survivors: [MemberOrderingLog]) -> [OrderingViolation] {
        guard let longest = survivors.max(by: { $0.entries.count < $1.entries.count }) else { return [] }
        var violations: [OrderingViolation] = []
        for log in survivors {
            if let position = firstDifference(log.entries, longest.entries) {
                violations.append(
                    .init(
                        kind: .total, member: log.member,
                        detail:
                            "position \(position + 1): \(log.entries[position].id), \(longest.member) has \(longest.entries[position].id)"
                    ))
            } else if log.finished, longest.finished, log.entries.count != longest.entries.count {
                violations.append(
                    .init(
                        kind: .total, member: log.member,
                        detail:
                            "finished with \(log.entries.count) messages, \(longest.member) with \(longest.entries.count)"
                    ))
            }
        }
        return violations
    }

    /// The first position where both logs have a message and the messages differ.
    static func firstDifference(_ a: [OrderingLogEntry], _ b: [OrderingLogEntry]) -> Int? {
        (0..<min(a.count, b.count)).first { a[$0].id != b[$0].id }
    }

    /// Every message a survivor delivered, every other survivor delivered.
    static func agreementViolations(_ survivors: [MemberOrderingLog]) -> [OrderingViolation] {
        let sets = survivors.map { Set($0.entries.map(\.id)) }
        let all = sets.reduce(into: Set<MessageID>()) { $0.formUnion($1) }
        var violations: [OrderingViolation] = []
        for (log, set) in zip(survivors, sets) where set.count != all.count {
            let missing = all.subtracting(set).sorted().prefix(3)
            violations.append(
                .init(
                    kind: .agreement, member: log.member,
                    detail: "lacks \(all.count - set.count) messages others delivered, e.g. \(Array(missing))"))
        }
        return violations
    }

    /// Every survivor finished and delivered every message of every member that did not crash.
    static func livenessViolations(_ logs: [MemberOrderingLog]) -> [OrderingViolation] {
        var violations: [OrderingViolation] = []
        for log in logs where !log.crashed {
            if !log.finished {
                violations.append(.init(kind: .liveness, member: log.member, detail: "did not finish"))
            }
            var counts: [MemberID: UInt64] = [:]
            for entry in log.entries { counts[entry.id.sender, default: 0] += 1 }
            for sender in logs where !sender.crashed && counts[sender.member, default: 0] < sender.sent {
                violations.append(
                    .init(
                        kind: .liveness, member: log.member,
                        detail: "delivered \(counts[sender.member, default: 0]) of \(sender.sent) from \(sender.member)"
                    ))
            }
        }
        return violations
    }

    /// Uniform delivery, which this design does not promise: a crashed member's log is a prefix of the
    /// survivors' (total modes), or its messages are all delivered at every survivor (other modes). A member
    /// can deliver and crash before anyone learned the order (or, without safe, the message); measured so that
    /// the cost of not promising it is known.
    public static func uniformViolations(mode: OrderingMode, logs: [MemberOrderingLog]) -> [OrderingViolation] {
        let survivors = logs.filter { !$0.crashed }
        guard let reference = survivors.max(by: { $0.entries.count < $1.entries.count }) else { return [] }
        let delivered = Set(reference.entries.map(\.id))
        var violations: [OrderingViolation] = []
        for log in logs where log.crashed {
            if mode.isTotal {
                if let position = firstDifference(log.entries, reference.entries) {
                    violations.append(.init(kind: .uniform, member: log.member, detail: "differs at \(position + 1)"))
                } else if log.entries.count > reference.entries.count {
                    violations.append(.init(kind: .uniform, member: log.member, detail: "delivered beyond survivors"))
                }
            } else if let extra = log.entries.first(where: { !delivered.contains($0.id) }) {
                violations.append(.init(kind: .uniform, member: log.member, detail: "\(extra.id) nowhere else"))
            }
        }
        return violations
    }
}
