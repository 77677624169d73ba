import Foundation
import PGMSimulation

/// Reads what a run left behind (programs' JSON summaries, receivers' files, subnet captures), checks the
/// topology's assertions and formats the summary.
struct Report {
    var topology: Topology
    var directory: String
    var inputDigest: String
    var started: [String: Date] = [:]
    var finished: [String: Date] = [:]
    var exitCodes: [String: Int32] = [:]
    var timedOut = false
    var captures: [(subnet: String, path: String)] = []

    /// The last `"type":"summary"` JSON line a program printed on stderr.
    func summary(of host: String) -> [String: Any] {
        guard let text = try? String(contentsOfFile: "\(directory)/\(host).err", encoding: .utf8) else { return [:] }
        for line in text.split(separator: "\n").reversed() where line.contains("\"summary\"") {
            if let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                object["type"] as? String == "summary"
            {
                return object
            }
        }
        return [:]
    }

    /// The per-session objects (`"type":"session_stats"`) of `pgm-dump --stats --json` on one subnet's capture.
    func captureSessions(_ path: String, binaries: String) -> [[String: Any]] {
        guard let output = try? Shell.run(["\(binaries)/pgm-dump", "-r", path, "--stats", "--json"], timeout: 60, allowFailure: true)
        else { return [] }
        return output.split(separator: "\n").compactMap { line in
            guard let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                object["type"] as? String == "session_stats"
            else { return nil }
            return object
        }
    }

    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }
    static func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }

    /// Packets of one type over every session seen on a subnet.
    static func packets(_ sessions: [[String: Any]], type: String) -> Int {
        sessions.reduce(0) { total, session in
            let traffic = session["traffic"] as? [String: Any] ?? [:]
            return total + int((traffic[type] as? [String: Any])?["packets"])
        }
    }

    func evaluate(binaries: String) throws -> LabRun.Outcome {
        var lines: [String] = []
        var failures: [String] = []
        let mode = "\(topology.name)"
        lines.append("lab \(mode): results in \(directory)")
        if timedOut { failures.append("the run did not finish within \(topology.timeout ?? 120) s") }

        lines.append("")
        lines.append(pad("host", 10) + pad("program", 15) + pad("exit", 6) + pad("bytes", 12) + pad("time s", 8)
            + pad("loss %", 8) + pad("NAKs", 7) + pad("repairs", 8) + "unrecoverable")
        var receiverNAKs = 0
        var sourceNAKs = 0
        for host in topology.hosts {
            let summary = summary(of: host.name)
            let elapsed = finished[host.name].flatMap { end in started[host.name].map { end.timeIntervalSince($0) } }
            let exit = exitCodes[host.name].map(String.init) ?? "-"
            lines.append(
                pad(host.name, 10) + pad(host.run.program.rawValue, 15) + pad(exit, 6) + pad(String(Self.int(summary["bytes"])), 12)
                    + pad(elapsed.map { String(format: "%.1f", $0) } ?? "-", 8)
                    + pad(String(format: "%.2f", Self.double(summary["loss_rate"]) * 100), 8)
                    + pad(String(Self.int(summary["naks"])), 7) + pad(String(Self.int(summary["repairs"])), 8)
                    + String(Self.int(summary["unrecoverable"])))
            switch host.run.program {
            case .receiver, .dlr, .openPGMReceiver: receiverNAKs += Self.int(summary["naks"])
            case .source, .openPGMSource: sourceNAKs = Self.int(summary["naks"])
            case .networkElement: break
            }
        }

        let elements = topology.hosts.filter { $0.run.program == .networkElement }
        if !elements.isEmpty {
            lines.append("")
            for element in elements {
                let counters = (summary(of: element.name)["element"] as? [String: Any] ?? [:])
                    .filter { $0.value is NSNumber || $0.value is String }
                    .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                lines.append("element \(element.name): " + (counters.isEmpty ? "(no summary)" : counters.joined(separator: " ")))
            }
        }

        lines.append("")
        lines.append(pad("subnet", 12) + pad("ODATA", 8) + pad("NAK", 7) + pad("NCF", 7) + pad("RDATA", 7) + pad("SPM", 6) + "never repaired")
        var rdataBySubnet: [String: Int] = [:]
        for capture in captures {
            let stats = captureSessions(capture.path, binaries: binaries)
            let rdata = Self.packets(stats, type: "rdata")
            rdataBySubnet[capture.subnet] = rdata
            let neverRepaired = stats.reduce(0) { $0 + (($1["never_repaired"] as? [Any])?.count ?? 0) }
            lines.append(
                pad(capture.subnet, 12) + pad(String(Self.packets(stats, type: "odata")), 8) + pad(String(Self.packets(stats, type: "nak")), 7)
                    + pad(String(Self.packets(stats, type: "ncf")), 7) + pad(String(rdata), 7) + pad(String(Self.packets(stats, type: "spm")), 6)
                    + String(neverRepaired))
        }

        lines.append("")
        for check in topology.checks {
            switch check {
            case .receiversMatchSource:
                for host in topology.hosts where [.receiver, .dlr, .openPGMReceiver].contains(host.run.program) {
                    let digest = (try? LabRun.sha256("\(directory)/\(host.name).data")) ?? "missing"
                    if digest != inputDigest { failures.append("\(host.name): sha256 \(digest.prefix(16))… ≠ source \(inputDigest.prefix(16))…") }
                }
                lines.append("check receivers_match_source: every receiver's sha256 = \(inputDigest.prefix(16))…")
            case .sourceNAKsAtMostReceiverNAKs:
                if sourceNAKs > receiverNAKs { failures.append("source received \(sourceNAKs) NAKs > \(receiverNAKs) sent by receivers") }
                lines.append("check source_naks_at_most_receiver_naks: source \(sourceNAKs) ≤ receivers \(receiverNAKs)")
            case .noRepairsOn(let subnets):
                for subnet in subnets where rdataBySubnet[subnet, default: 0] > 0 {
                    failures.append("\(rdataBySubnet[subnet]!) RDATA captured on \(subnet), which lost nothing")
                }
                lines.append("check no_rdata_on \(subnets.joined(separator: ",")): " + subnets.map { "\($0)=\(rdataBySubnet[$0, default: 0])" }.joined(separator: " "))
            case .noUnrecoverableLoss:
                for host in topology.hosts where Self.int(summary(of: host.name)["unrecoverable"]) > 0 {
                    failures.append("\(host.name) reported unrecoverable loss")
                }
                lines.append("check no_unrecoverable_loss")
            }
        }
        lines.append("")
        if failures.isEmpty {
            lines.append("PASS \(mode)")
        } else {
            lines.append("FAIL \(mode):")
            lines += failures.map { "  - \($0)" }
        }
        return LabRun.Outcome(passed: failures.isEmpty, summary: lines.joined(separator: "\n"))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
