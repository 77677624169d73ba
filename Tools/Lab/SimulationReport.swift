import Foundation
import PGMCore
import PGMSimulation

/// The simulated run's summary, laid out like the namespace lab's.
enum SimulationReport {
    static func format(
        _ outcome: TopologyScenario.Outcome, topology: Topology, encapsulation: Topology.Encapsulation, seed: UInt64,
        wall: Duration
    ) -> String {
        var lines: [String] = []
        lines.append(
            "lab \(topology.name) simulated (\(encapsulation.rawValue), seed \(seed)): "
                + String(format: "%.2f s virtual in %.2f s", outcome.virtualTime.secondsValue, wall.secondsValue))
        lines.append("")
        lines.append(
            pad("host", 10) + pad("program", 15) + pad("bytes", 12) + pad("done s", 8) + pad("loss %", 8)
                + pad("NAKs", 7) + pad("repairs", 8) + "unrecoverable")
        for host in outcome.hosts {
            lines.append(
                pad(host.name, 10) + pad(host.role.rawValue, 15) + pad(String(host.bytes), 12)
                    + pad(host.finishedAt.map { String(format: "%.2f", $0.seconds) } ?? "-", 8)
                    + pad(String(format: "%.2f", host.lossRate * 100), 8) + pad(String(host.naks), 7)
                    + pad(String(host.repairs), 8) + String(host.unrecoverable))
        }
        if !outcome.elements.isEmpty { lines.append("") }
        for (name, statistics) in outcome.elements {
            lines.append(
                "element \(name): naks_received=\(statistics.naksReceived) naks_eliminated=\(statistics.naksEliminated) "
                    + "naks_forwarded=\(statistics.naksForwarded) naks_redirected=\(statistics.naksRedirected) "
                    + "ncfs_sent=\(statistics.ncfsSent) rdata_forwarded=\(statistics.rdataForwarded) "
                    + "rdata_copies_sent=\(statistics.rdataCopiesSent)")
            lines.append(
                RepairSummary.eliminationLine(
                    element: name, received: statistics.naksReceived, eliminated: statistics.naksEliminated))
        }
        lines.append("")
        lines += RepairSummary.subnetTable(outcome.repair)
        lines.append("")
        lines += RepairSummary.sourceLines(outcome.repair)
        // The repair checks' lines, judged on the simulated wire like the lab's captures (every check's failures
        // are in the outcome).
        let judged = outcome.checks.filter(\.check.isRepairCheck)
        if !judged.isEmpty { lines.append("") }
        for verdict in judged { lines.append(verdict.line + (verdict.passed ? "" : "  FAILED")) }
        lines.append("")
        if outcome.passed {
            lines.append("PASS \(topology.name) (simulated)")
        } else {
            lines.append("FAIL \(topology.name) (simulated):")
            lines += outcome.failures.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
