import Foundation
import PGMCapture
import PGMSimulation

/// The repair part of both summaries (namespace lab and simulator), so the two read alike: per subnet what its
/// wire carried and how fast its losses were repaired, then what the losses cost the source.
enum RepairSummary {
    /// With `parity` (a run that used FEC), ODATA, NAK, NCF and RDATA count data and selective repair only, and
    /// the parity packets get columns of their own: `parity` (proactive ODATA plus on-demand RDATA), `pNAK` and
    /// `pNCF`; RDATA/lost is selective RDATA per lost sequence. Without it the table is as it always was.
    static func subnetTable(_ figures: RepairFigures, parity: ParityFigures? = nil) -> [String] {
        guard let parity else {
            var lines = [
                pad("subnet", 12) + pad("ODATA", 8) + pad("NAK", 7) + pad("NCF", 7) + pad("RDATA", 7) + pad("SPM", 6)
                    + pad("lost", 7) + pad("RDATA/lost", 12) + pad("repair ms p50/p99/max", 24) + "never repaired"
            ]
            for subnet in figures.subnets {
                lines.append(
                    pad(subnet.name, 12) + pad(String(subnet.odata), 8) + pad(String(subnet.naks), 7)
                        + pad(String(subnet.ncfs), 7) + pad(String(subnet.rdata), 7) + pad(String(subnet.spms), 6)
                        + pad(String(subnet.lostSequences), 7)
                        + pad(subnet.rdataPerLost.map { fixed($0, 2) } ?? "-", 12)
                        + pad(latency(subnet.repairLatency), 24) + String(subnet.neverRepaired))
            }
            return lines
        }
        var lines = [
            pad("subnet", 12) + pad("ODATA", 8) + pad("NAK", 7) + pad("NCF", 7) + pad("RDATA", 7) + pad("parity", 8)
                + pad("pNAK", 7) + pad("pNCF", 7) + pad("SPM", 6) + pad("lost", 7) + pad("RDATA/lost", 12)
                + pad("repair ms p50/p99/max", 24) + "never repaired"
        ]
        for subnet in figures.subnets {
            let counts = parity.subnet(subnet.name)
            let selective = subnet.rdata - counts.onDemand
            let perLost = subnet.lostSequences == 0 ? "-" : fixed(Double(selective) / Double(subnet.lostSequences), 2)
            lines.append(
                pad(subnet.name, 12) + pad(String(subnet.odata - counts.proactive), 8)
                    + pad(String(subnet.naks - counts.naks), 7) + pad(String(subnet.ncfs - counts.ncfs), 7)
                    + pad(String(selective), 7) + pad(String(counts.data), 8) + pad(String(counts.naks), 7)
                    + pad(String(counts.ncfs), 7) + pad(String(subnet.spms), 6) + pad(String(subnet.lostSequences), 7)
                    + pad(perLost, 12) + pad(latency(subnet.repairLatency), 24) + String(subnet.neverRepaired))
        }
        return lines
    }

    /// p50/p99/max in milliseconds, or `-` without samples.
    static func latency(_ summary: TraceAnalyzer.LatencySummary) -> String {
        guard summary.count > 0 else { return "-" }
        return [summary.p50, summary.p99, summary.maximum].map { fixed(Double($0) / 1e6, 1) }.joined(separator: "/")
    }

    /// With `parity`, the source's NAKs and RDATA are split into selective and parity: a parity NAK names
    /// transmission groups and a count of parity packets, not sequences, so it is counted as groups and packets
    /// asked for, and never as NAKed sequences. The captures see a loss only where it shows on a wire (a gap, a
    /// selective NAK or NCF): a receiver that drops at its own ingress and NAKs by count leaves no trace of
    /// which sequences it lost, so `receiverLosses` (the receivers' own loss rates) says how many there were.
    static func sourceLines(
        _ figures: RepairFigures, parity: ParityFigures? = nil, receiverLosses: [(host: String, lost: Int?)] = []
    ) -> [String] {
        func share(_ ratio: Double?) -> String { ratio.map { " (\(fixed($0, 2)) per lost)" } ?? "" }
        guard let parity else {
            return [
                "distinct lost sequences (union of every subnet's gaps, NAKs and NCFs): \(figures.distinctLostSequences)",
                "at the source (\(figures.sourceSubnet)): NAK packets \(figures.sourceNAKPackets)"
                    + share(figures.sourceNAKPacketsPerLost) + ", NAKed sequences \(figures.sourceNAKSequences)"
                    + share(figures.sourceNAKSequencesPerLost) + ", RDATA sent \(figures.sourceRDATAPackets)"
                    + share(figures.sourceRDATAPerLost),
            ]
        }
        func perLost(_ count: Int) -> String {
            share(figures.distinctLostSequences == 0 ? nil : Double(count) / Double(figures.distinctLostSequences))
        }
        let source = parity.source
        let sourceSubnet = parity.subnet(figures.sourceSubnet)
        let selectiveNAKs = figures.sourceNAKPackets - source.naks
        let selectiveSequences = figures.sourceNAKSequences - source.nakGroups
        let selectiveRDATA = figures.sourceRDATAPackets - source.onDemand
        var lines = [
            "distinct lost sequences (union of every subnet's gaps, selective NAKs and NCFs): "
                + "\(figures.distinctLostSequences)"
        ]
        if !receiverLosses.isEmpty {
            let total = receiverLosses.reduce(0) { $0 + ($1.lost ?? 0) }
            let each = receiverLosses.map { "\($0.host) \($0.lost.map(String.init) ?? "-")" }.joined(separator: ", ")
            lines.append("ODATA lost at the receivers (their loss_rate × data packets): \(total) (\(each))")
        }
        lines += [
            "at the source (\(figures.sourceSubnet)): selective NAK packets \(selectiveNAKs)" + perLost(selectiveNAKs)
                + ", NAKed sequences \(selectiveSequences)" + perLost(selectiveSequences) + ", selective RDATA sent "
                + "\(selectiveRDATA)" + perLost(selectiveRDATA),
            "parity at the source (k \(parity.groupSize.map(String.init) ?? "unknown")): parity NAK packets "
                + "\(source.naks) naming \(source.nakGroups) groups, asking for \(source.requested) packets; parity sent "
                + "\(sourceSubnet.proactive) proactive + \(source.onDemand) on demand; repair packets (selective + "
                + "on-demand parity RDATA) \(figures.sourceRDATAPackets)",
        ]
        return lines
    }

    /// NAK elimination at one element, from its counters.
    static func eliminationLine(element: String, received: Int, eliminated: Int) -> String {
        let ratio = received == 0 ? "-" : fixed(Double(eliminated) / Double(received), 2)
        return "element \(element): eliminated \(eliminated) of \(received) NAKs received (\(ratio))"
    }

    /// The figures for `report.json`: counts, ratios (null without loss) and latencies in nanoseconds.
    /// With `parity`, a `parity` object beside the figures (``ParityFigures``: the source's parity NAKs and
    /// RDATA, and its selective ones) and one in each subnet; the other fields keep what they always counted.
    static func json(_ figures: RepairFigures, parity: ParityFigures? = nil) -> [String: Any] {
        func ratio(_ value: Double?) -> Any { value.map { ($0 * 10_000).rounded() / 10_000 } ?? NSNull() }
        var object: [String: Any] = [
            "distinct_lost_sequences": figures.distinctLostSequences,
            "source_subnet": figures.sourceSubnet,
            "source_nak_packets": figures.sourceNAKPackets,
            "source_nak_sequences": figures.sourceNAKSequences,
            "source_rdata_packets": figures.sourceRDATAPackets,
            "source_nak_packets_per_lost": ratio(figures.sourceNAKPacketsPerLost),
            "source_nak_sequences_per_lost": ratio(figures.sourceNAKSequencesPerLost),
            "source_rdata_per_lost": ratio(figures.sourceRDATAPerLost),
            "subnets": figures.subnets.map { subnet -> [String: Any] in
                var object: [String: Any] = [
                    "name": subnet.name, "has_receiver": subnet.hasReceiver, "odata": subnet.odata, "naks": subnet.naks,
                    "ncfs": subnet.ncfs, "rdata": subnet.rdata, "spms": subnet.spms,
                    "lost_sequences": subnet.lostSequences, "rdata_per_lost": ratio(subnet.rdataPerLost),
                    "never_repaired": subnet.neverRepaired, "malformed": subnet.capture.malformed,
                    "repair_latency_ns": [
                        "count": subnet.repairLatency.count, "p50": subnet.repairLatency.p50,
                        "p90": subnet.repairLatency.p90, "p99": subnet.repairLatency.p99,
                        "max": subnet.repairLatency.maximum,
                    ],
                ]
                if let parity { object["parity"] = parity.subnet(subnet.name).json() }
                return object
            },
        ]
        if let parity {
            var source = parity.source.json()
            source["group_size"] = parity.groupSize.map { Int($0) as Any } ?? NSNull()
            source["proactive"] = parity.subnet(figures.sourceSubnet).proactive
            source["selective_nak_packets"] = figures.sourceNAKPackets - parity.source.naks
            source["selective_nak_sequences"] = figures.sourceNAKSequences - parity.source.nakGroups
            source["selective_rdata"] = figures.sourceRDATAPackets - parity.source.onDemand
            object["parity"] = source
        }
        return object
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { RepairFigures.fixed(value, digits) }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
