import PGMCapture
import PGMSimulation
import PGMWire

/// FEC (RFC 3208 Appendix A) in a lab run's captures, measured beside ``RepairMeasurement``, which counts a parity
/// packet as the type it travels as: parity ODATA as ODATA, parity RDATA as RDATA, a parity NAK's or NCF's
/// TG_SQN | (count − 1) as a NAKed sequence. These counts take parity apart again, so the summary can say what was
/// selective and what was parity. Parity never makes a data gap or a lost sequence there already
/// (``TraceAnalyzer`` skips it). k comes from each session's OPT_PARITY_PRM through ``ParityContext``, as
/// `pgm-dump` reads it; without k a parity NAK still counts as a packet, but not by the parity it asked for.
///
/// Feed it the same dissections as the ``RepairMeasurement``, then read ``figures()``: `nil` when the run showed
/// no FEC at all (no parity packet, no OPT_PARITY_PRM), and the summary stays as it always was.
struct ParityMeasurement {
    private let sourceSubnet: String
    private let sourceAddress: NLA?
    private var contexts: [String: ParityContext] = [:]
    private var subnets: [String: ParityFigures.Counts] = [:]
    private var source = ParityFigures.Counts()
    private var groupSize: UInt32?
    private var seen = false

    init(sourceSubnet: String, sourceAddress: NLA?) {
        self.sourceSubnet = sourceSubnet
        self.sourceAddress = sourceAddress
    }

    mutating func record(_ dissection: Dissection, on subnet: String) {
        guard case .pgm(let network, _, _) = dissection.layers, let packet = dissection.pgm?.packet else { return }
        contexts[subnet, default: ParityContext()].record(packet)
        if case .spm = packet.body, let k = contexts[subnet]?.groupSize(of: packet.tsi) {
            seen = true
            groupSize = k
        }
        guard packet.flags.contains(.parity) else { return }
        seen = true
        let description = contexts[subnet]?.describe(packet)
        var counts = subnets[subnet] ?? ParityFigures.Counts()
        counts.add(packet, description)
        subnets[subnet] = counts
        guard subnet == sourceSubnet, let sourceAddress else { return }
        // What only addresses tell, as RepairMeasurement judges the source's work: NAKs to it, RDATA from it.
        switch packet.body {
        case .nak where network.destination == sourceAddress: source.add(packet, description)
        case .rdata where network.source == sourceAddress: source.add(packet, description)
        default: break
        }
    }

    func figures() -> ParityFigures? {
        guard seen else { return nil }
        return ParityFigures(groupSize: groupSize, subnets: subnets, source: source)
    }
}

/// A run's parity packets (see ``ParityMeasurement``).
struct ParityFigures {
    /// k as the last OPT_PARITY_PRM seen anywhere advertised it.
    var groupSize: UInt32?
    /// Per subnet, what its wire carried; subnets without parity are missing.
    var subnets: [String: Counts]
    /// On the source's subnet: parity NAKs addressed to the source and parity RDATA it sent (its other fields 0).
    var source: Counts

    struct Counts {
        /// Parity ODATA (proactive) and parity RDATA (on demand).
        var proactive = 0
        var onDemand = 0
        /// Parity NAK packets, the transmission groups they name (the packet's TG_SQN plus its OPT_NAK_LIST), and
        /// the parity packets asked for (each group's count; only with k known).
        var naks = 0
        var nakGroups = 0
        var requested = 0
        var ncfs = 0
        var ncfGroups = 0

        var data: Int { proactive + onDemand }

        mutating func add(_ packet: Packet, _ description: ParityDescription?) {
            var groups = 1
            for option in packet.options {
                if case .nakList(let list) = option.value { groups += list.count }
            }
            switch packet.body {
            case .odata: proactive += 1
            case .rdata: onDemand += 1
            case .nak:
                naks += 1
                nakGroups += groups
                if case .request(_, let entries)? = description {
                    requested += entries.reduce(0) { $0 + Int($1.count) }
                }
            case .ncf:
                ncfs += 1
                ncfGroups += groups
            default: break
            }
        }

        func json() -> [String: Any] {
            [
                "proactive": proactive, "on_demand": onDemand, "naks": naks, "nak_groups": nakGroups,
                "requested": requested, "ncfs": ncfs, "ncf_groups": ncfGroups,
            ]
        }
    }

    func subnet(_ name: String) -> Counts { subnets[name] ?? Counts() }
}
