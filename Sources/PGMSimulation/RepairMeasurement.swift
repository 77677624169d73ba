public import PGMCapture
public import PGMWire

/// What the repair checks of a ``Topology`` judge, measured on every subnet's wire: the namespace lab feeds it
/// its subnet captures, the simulator its trace, so both judge a run by the same numbers.
///
/// One ``TraceAnalyzer`` per subnet (the analysis behind `pgm-dump --stats`), plus what only addresses tell: on
/// the source's subnet, NAKs whose IP destination is the source and RDATA whose IP source is the source. Feed it
/// each subnet's packets in capture order (subnets may interleave), then read ``figures()``.
public struct RepairMeasurement {
    public let sourceSubnet: String
    /// The source host's address: NAKs to it and RDATA from it are the source's repair work.
    public let sourceAddress: NLA?
    private let subnets: [(name: String, hasReceiver: Bool)]
    private var analyzers: [String: TraceAnalyzer] = [:]
    private var sourceNAKPackets = 0
    private var sourceNAKSequences = 0
    private var sourceRDATAPackets = 0

    public init(topology: Topology) {
        let source = topology.hosts.first { $0.run.program.sends }
        sourceSubnet = source?.interfaces.first?.subnet ?? ""
        sourceAddress = source.flatMap { IPv4Address($0.interfaces[0].address) }.map { .ipv4($0) }
        subnets = topology.subnets.map { subnet in
            let hasReceiver = topology.hosts.contains { host in
                host.run.program.receives && host.interfaces.contains { $0.subnet == subnet.name }
            }
            return (subnet.name, hasReceiver)
        }
        for subnet in topology.subnets { analyzers[subnet.name] = TraceAnalyzer() }
    }

    /// Records one frame of `subnet`'s capture (GSO runs already split, as pgm-dump does).
    public mutating func record(_ dissection: Dissection, on subnet: String) {
        analyzers[subnet, default: TraceAnalyzer()].record(dissection)
        guard case .pgm(let network, _, _) = dissection.layers, let packet = dissection.pgm?.packet else { return }
        recordAddresses(packet, on: subnet, from: network.source, to: network.destination)
    }

    /// Records one packet that made it onto `subnet`'s wire (the simulator's trace).
    public mutating func record(
        _ packet: Packet, length: Int, on subnet: String, from source: NLA, to destination: NLA,
        at time: CaptureTimestamp
    ) {
        analyzers[subnet, default: TraceAnalyzer()].record(packet, length: length, at: time)
        recordAddresses(packet, on: subnet, from: source, to: destination)
    }

    private mutating func recordAddresses(_ packet: Packet, on subnet: String, from source: NLA, to destination: NLA) {
        guard subnet == sourceSubnet, let sourceAddress else { return }
        switch packet.body {
        case .nak where destination == sourceAddress:
            sourceNAKPackets += 1
            sourceNAKSequences += 1
            for option in packet.options {
                if case .nakList(let list) = option.value { sourceNAKSequences += list.count }
            }
        case .rdata where source == sourceAddress:
            sourceRDATAPackets += 1
        default:
            break
        }
    }

    public func figures() -> RepairFigures {
        var distinct = Set<SessionSequence>()
        var figures: [RepairFigures.Subnet] = []
        for (name, hasReceiver) in subnets {
            let report = analyzers[name]?.report() ?? TraceAnalyzer().report()
            var subnet = RepairFigures.Subnet(name: name, hasReceiver: hasReceiver, capture: report.capture)
            for session in report.sessions {
                for row in session.traffic {
                    switch row.type {
                    case .odata: subnet.odata += row.packets
                    case .rdata: subnet.rdata += row.packets
                    case .nak: subnet.naks += row.packets
                    case .ncf: subnet.ncfs += row.packets
                    case .spm: subnet.spms += row.packets
                    default: break
                    }
                }
                subnet.lostSequences += session.lostSequences
                subnet.neverRepaired += session.neverRepaired.count
                // Several sessions on one subnet (a restarted source): the check must hold for each, so the
                // worst one speaks for the subnet.
                if session.detectToRDATA.count > 0 && session.detectToRDATA.p99 >= subnet.repairLatency.p99 {
                    subnet.repairLatency = session.detectToRDATA
                }
                for sequence in session.lost { distinct.insert(SessionSequence(tsi: session.tsi, sequence: sequence)) }
            }
            figures.append(subnet)
        }
        return RepairFigures(
            distinctLostSequences: distinct.count, sourceSubnet: sourceSubnet, sourceNAKPackets: sourceNAKPackets,
            sourceNAKSequences: sourceNAKSequences, sourceRDATAPackets: sourceRDATAPackets, subnets: figures)
    }

    private struct SessionSequence: Hashable {
        var tsi: TSI
        var sequence: SequenceNumber
    }
}

/// A run's repair figures (see ``RepairMeasurement``) and the checks that judge them.
public struct RepairFigures: Sendable {
    /// The union over every subnet of the sequences lost there (missing from ODATA, or named in a NAK or an NCF):
    /// every loss that got repaired was named somewhere, so this is what the run lost, each loss once.
    public var distinctLostSequences: Int
    public var sourceSubnet: String
    /// NAK packets on the source's subnet addressed to the source.
    public var sourceNAKPackets: Int
    /// The sequences those NAKs name: one each, plus their OPT_NAK_LIST entries.
    public var sourceNAKSequences: Int
    /// RDATA packets the source sent.
    public var sourceRDATAPackets: Int
    /// In topology order.
    public var subnets: [Subnet]

    public struct Subnet: Sendable {
        public var name: String
        /// A receiver (or DLR) is on it: the repair latency check covers it.
        public var hasReceiver: Bool
        public var capture: TraceAnalyzer.CaptureCounters
        public var odata = 0
        public var rdata = 0
        public var naks = 0
        public var ncfs = 0
        public var spms = 0
        /// Sequences this subnet lost (`pgm-dump --stats` `lost_sequences`, over its sessions).
        public var lostSequences = 0
        public var neverRepaired = 0
        /// First sign of a loss → first RDATA (`detect_to_rdata`), of the worst session on the subnet.
        public var repairLatency = TraceAnalyzer.LatencySummary([])

        public init(name: String, hasReceiver: Bool, capture: TraceAnalyzer.CaptureCounters) {
            self.name = name
            self.hasReceiver = hasReceiver
            self.capture = capture
        }

        public var rdataPerLost: Double? { lostSequences == 0 ? nil : Double(rdata) / Double(lostSequences) }
    }

    public var sourceNAKPacketsPerLost: Double? { perLost(sourceNAKPackets) }
    public var sourceNAKSequencesPerLost: Double? { perLost(sourceNAKSequences) }
    public var sourceRDATAPerLost: Double? { perLost(sourceRDATAPackets) }

    private func perLost(_ count: Int) -> Double? {
        distinctLostSequences == 0 ? nil : Double(count) / Double(distinctLostSequences)
    }

    /// Judges one of the repair checks: a line saying what was measured, and what failed. `nil` for checks these
    /// figures do not decide.
    public func evaluate(_ check: Topology.Check) -> (summary: String, failures: [String])? {
        switch check {
        case .sourceNAKSequencesPerLostAtMost(let limit):
            return ratioCheck(
                check, limit: limit, count: sourceNAKSequences, what: "NAKed sequences reaching the source")
        case .sourceRDATAPerLostAtMost(let limit):
            return ratioCheck(check, limit: limit, count: sourceRDATAPackets, what: "RDATA sent by the source")
        case .repairLatencyP99AtMostMilliseconds(let limit):
            var failures: [String] = []
            var measured: [String] = []
            for subnet in subnets where subnet.hasReceiver {
                let latency = subnet.repairLatency
                if subnet.lostSequences == 0 {
                    measured.append("\(subnet.name) no loss")
                } else if latency.count == 0 {
                    measured.append("\(subnet.name) no RDATA")
                    failures.append("\(subnet.name): \(subnet.lostSequences) lost sequences, none repaired by RDATA")
                } else {
                    let p99 = Double(latency.p99) / 1e6
                    measured.append("\(subnet.name) \(Self.fixed(p99, 1))")
                    if p99 > limit {
                        failures.append(
                            "\(subnet.name): repair latency p99 \(Self.fixed(p99, 1)) ms > \(Self.fixed(limit, 1)) ms "
                                + "(\(latency.count) repairs, max \(Self.fixed(Double(latency.maximum) / 1e6, 1)) ms)")
                    }
                }
            }
            return ("check \(check.name) \(Self.fixed(limit, 1)): p99 ms " + measured.joined(separator: ", "), failures)
        case .receiversMatchSource, .sourceNAKsAtMostReceiverNAKs, .noRepairsOn, .noUnrecoverableLoss:
            return nil
        }
    }

    private func ratioCheck(_ check: Topology.Check, limit: Double, count: Int, what: String)
        -> (summary: String, failures: [String])
    {
        guard let ratio = perLost(count) else {
            return ("check \(check.name) \(Self.fixed(limit, 2)): no loss measured (\(count) \(what))", [])
        }
        let summary =
            "check \(check.name) \(Self.fixed(limit, 2)): \(count) \(what) / \(distinctLostSequences) lost = "
            + Self.fixed(ratio, 2)
        guard ratio > limit else { return (summary, []) }
        return (
            summary,
            [
                "\(count) \(what) for \(distinctLostSequences) distinct lost sequences: \(Self.fixed(ratio, 2)) per loss "
                    + "> \(Self.fixed(limit, 2))"
            ]
        )
    }

    /// `value` with `digits` decimals (no Foundation here).
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * Double(scale)).rounded())
        let sign = scaled < 0 ? "-" : ""
        let whole = abs(scaled) / scale
        guard digits > 0 else { return "\(sign)\(whole)" }
        let fraction = String(abs(scaled) % scale)
        return "\(sign)\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
