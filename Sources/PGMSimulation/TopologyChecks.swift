/// What one run of a ``Topology`` did, as its checks judge it: gathered by the namespace lab (the programs'
/// summaries, the received files, every subnet's capture) or by the simulator (its engines, the bytes they
/// delivered, its trace of every segment). ``Topology/Check/evaluate(on:)`` judges both the same way.
public struct RunFacts: Sendable {
    /// One host of the topology.
    public struct Host: Sendable {
        public var name: String
        public var role: Topology.Role
        /// NAKs sent (a receiver) or received (the source).
        public var naks: Int
        /// Sequences reported unrecoverable.
        public var unrecoverable: Int
        /// How the host's output differs from what the source sent (`sha256 … ≠ source …`); nil when it matches
        /// or was not compared.
        public var outputMismatch: String?

        public init(name: String, role: Topology.Role, naks: Int, unrecoverable: Int, outputMismatch: String? = nil) {
            self.name = name
            self.role = role
            self.naks = naks
            self.unrecoverable = unrecoverable
            self.outputMismatch = outputMismatch
        }
    }

    /// Where the facts come from, which decides what the repair checks can be judged on and how failures read.
    public enum Origin: Sendable {
        /// The namespace lab; `unreadableCaptures` names the subnet captures that could not be read, on which the
        /// repair checks must not pass by default.
        case lab(unreadableCaptures: [String])
        /// The simulator; without its trace (`traced` false) the repair checks cannot be judged.
        case simulator(traced: Bool)
    }

    /// In topology order.
    public var hosts: [Host]
    /// What every receiver's output must equal, for the line of `receivers_match_source` (`sha256 = …`).
    public var expectedOutput: String
    /// The repair figures of every subnet's wire.
    public var repair: RepairFigures
    public var origin: Origin

    public init(hosts: [Host], expectedOutput: String, repair: RepairFigures, origin: Origin) {
        self.hosts = hosts
        self.expectedOutput = expectedOutput
        self.repair = repair
        self.origin = origin
    }
}

/// One check's verdict: the line a summary prints and what failed.
public struct CheckVerdict: Sendable {
    public var check: Topology.Check
    public var line: String
    public var failures: [String]

    public var passed: Bool { failures.isEmpty }
}

extension Topology.Role {
    /// The programs that receive the session: their output must equal the source's, their NAKs are the
    /// receivers', their subnets' repair latency is checked.
    public var receives: Bool {
        switch self {
        case .receiver, .dlr, .openPGMReceiver: true
        case .source, .openPGMSource, .networkElement, .chat: false
        }
    }

    /// The session's source, ours or OpenPGM's.
    public var sends: Bool { self == .source || self == .openPGMSource }
}

extension Topology.Check {
    /// The checks decided by the repair figures of the wire (``RepairFigures/evaluate(_:)``), as opposed to the
    /// hosts' own outcomes.
    public var isRepairCheck: Bool {
        switch self {
        case .sourceNAKSequencesPerLostAtMost, .sourceRDATAPerLostAtMost, .repairLatencyP99AtMostMilliseconds: true
        case .receiversMatchSource, .sourceNAKsAtMostReceiverNAKs, .noRepairsOn, .noUnrecoverableLoss: false
        }
    }

    /// Judges this check on a run's facts: the one evaluator of the namespace lab's report and the simulator's.
    public func evaluate(on facts: RunFacts) -> CheckVerdict {
        var failures: [String] = []
        let line: String
        switch self {
        case .receiversMatchSource:
            for host in facts.hosts where host.role.receives {
                if let mismatch = host.outputMismatch { failures.append("\(host.name): \(mismatch)") }
            }
            line = "check \(name): every receiver's \(facts.expectedOutput)"
        case .sourceNAKsAtMostReceiverNAKs:
            let source = facts.hosts.last { $0.role.sends }?.naks ?? 0
            let receivers = facts.hosts.filter(\.role.receives).reduce(0) { $0 + $1.naks }
            if source > receivers { failures.append("source received \(source) NAKs > \(receivers) sent by receivers") }
            line = "check \(name): source \(source) ≤ receivers \(receivers)"
        case .noRepairsOn(let subnets):
            let rdata = Dictionary(facts.repair.subnets.map { ($0.name, $0.rdata) }, uniquingKeysWith: +)
            let seen: String
            switch facts.origin {
            case .lab: seen = "captured on"
            case .simulator: seen = "on"
            }
            for subnet in subnets where rdata[subnet, default: 0] > 0 {
                failures.append("\(rdata[subnet, default: 0]) RDATA \(seen) \(subnet), which lost nothing")
            }
            line =
                "check \(name) \(subnets.joined(separator: ",")): "
                + subnets.map { "\($0)=\(rdata[$0, default: 0])" }.joined(separator: " ")
        case .noUnrecoverableLoss:
            for host in facts.hosts where host.unrecoverable > 0 {
                switch facts.origin {
                case .lab: failures.append("\(host.name) reported unrecoverable loss")
                case .simulator: failures.append("\(host.name) reported \(host.unrecoverable) unrecoverable sequences")
                }
            }
            line = "check \(name)"
        case .sourceNAKSequencesPerLostAtMost, .sourceRDATAPerLostAtMost, .repairLatencyP99AtMostMilliseconds:
            let judged = facts.repair.evaluate(self) ?? ("check \(name)", [])
            line = judged.summary
            switch facts.origin {
            case .lab(let unreadable):
                failures = judged.failures
                // Judged on the captures: one that could not be read must not pass by default.
                if !unreadable.isEmpty {
                    failures.append("check \(name): unreadable captures (\(unreadable.joined(separator: "; ")))")
                }
            case .simulator(let traced):
                // The figures come from the trace: without it the check cannot be judged, which must not pass.
                failures = traced ? judged.failures : ["check \(name) not evaluated: the simulator's trace was off"]
            }
        }
        return CheckVerdict(check: self, line: line, failures: failures)
    }
}
