import Foundation
import PGMCapture
import PGMSimulation

/// The repair part of both summaries (namespace lab and simulator), so the two read alike: per subnet what its
/// wire carried and how fast its losses were repaired, then what the losses cost the source.
enum RepairSummary {
    static func subnetTable(_ figures: RepairFigures) -> [String] {
        var lines = [
            pad("subnet", 12) + pad("ODATA", 8) + pad("NAK", 7) + pad("NCF", 7) + pad("RDATA", 7) + pad("SPM", 6)
                + pad("lost", 7) + pad("RDATA/lost", 12) + pad("repair ms p50/p99/max", 24) + "never repaired"
        ]
        for subnet in figures.subnets {
            lines.append(
                pad(subnet.name, 12) + pad(String(subnet.odata), 8) + pad(String(subnet.naks), 7)
                    + pad(String(subnet.ncfs), 7) + pad(String(subnet.rdata), 7) + pad(String(subnet.spms), 6)
                    + pad(String(subnet.lostSequences), 7) + pad(subnet.rdataPerLost.map { fixed($0, 2) } ?? "-", 12)
                    + pad(latency(subnet.repairLatency), 24) + String(subnet.neverRepaired))
        }
        return lines
    }

    /// p50/p99/max in milliseconds, or `-` without samples.
    static func latency(_ summary: TraceAnalyzer.LatencySummary) -> String {
        guard summary.count > 0 else { return "-" }
        return [summary.p50, summary.p99, summary.maximum].map { fixed(Double($0) / 1e6, 1) }.joined(separator: "/")
    }

    static func sourceLines(_ figures: RepairFigures) -> [String] {
        func share(_ ratio: Double?) -> String { ratio.map { " (\(fixed($0, 2)) per lost)" } ?? "" }
        return [
            "distinct lost sequences (union of every subnet's gaps, NAKs and NCFs): \(figures.distinctLostSequences)",
            "at the source (\(figures.sourceSubnet)): NAK packets \(figures.sourceNAKPackets)"
                + share(figures.sourceNAKPacketsPerLost) + ", NAKed sequences \(figures.sourceNAKSequences)"
                + share(figures.sourceNAKSequencesPerLost) + ", RDATA sent \(figures.sourceRDATAPackets)"
                + share(figures.sourceRDATAPerLost),
        ]
    }

    /// NAK elimination at one element, from its counters.
    static func eliminationLine(element: String, received: Int, eliminated: Int) -> String {
        let ratio = received == 0 ? "-" : fixed(Double(eliminated) / Double(received), 2)
        return "element \(element): eliminated \(eliminated) of \(received) NAKs received (\(ratio))"
    }

    /// The figures for `report.json`: counts, ratios (null without loss) and latencies in nanoseconds.
    static func json(_ figures: RepairFigures) -> [String: Any] {
        func ratio(_ value: Double?) -> Any { value.map { ($0 * 10_000).rounded() / 10_000 } ?? NSNull() }
        return [
            "distinct_lost_sequences": figures.distinctLostSequences,
            "source_subnet": figures.sourceSubnet,
            "source_nak_packets": figures.sourceNAKPackets,
            "source_nak_sequences": figures.sourceNAKSequences,
            "source_rdata_packets": figures.sourceRDATAPackets,
            "source_nak_packets_per_lost": ratio(figures.sourceNAKPacketsPerLost),
            "source_nak_sequences_per_lost": ratio(figures.sourceNAKSequencesPerLost),
            "source_rdata_per_lost": ratio(figures.sourceRDATAPerLost),
            "subnets": figures.subnets.map { subnet -> [String: Any] in
                [
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
            },
        ]
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { RepairFigures.fixed(value, digits) }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
