import Foundation
import PGMCapture
import PGMSimulation

/// Reads what a run left behind (programs' JSON summaries, receivers' files, subnet captures), checks the
/// topology's assertions, formats the summary and writes it as `report.json` in the run's directory.
struct Report {
    var topology: Topology
    var encapsulation: Topology.Encapsulation
    var runID: String
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

    /// Every subnet's capture through the analysis behind `pgm-dump --stats`, in process. A capture that cannot be
    /// opened is `unreadable` (the repair checks cannot be judged); one damaged after some frames (tcpdump stopped
    /// mid-record) is a `note`, the frames before the damage still count.
    func measureCaptures() -> (figures: RepairFigures, unreadable: [String], notes: [String]) {
        var measurement = RepairMeasurement(topology: topology)
        var unreadable: [String] = []
        var notes: [String] = []
        let decapsulator = Decapsulator()
        for capture in captures {
            let file: PacketCapture
            do {
                file = try PacketCapture(file: capture.path)
            } catch {
                unreadable.append("\(capture.subnet): \(error)")
                continue
            }
            let linkType = file.linkType
            var frames = 0
            do {
                // A capture is finite; the bound only guards against a file that never ends.
                while frames < Self.maximumFramesPerCapture {
                    let result = try file.next { frame, timestamp, originalLength in
                        frames += 1
                        let dissections = Dissection.dissect(
                            frame: frame, linkType: linkType, decapsulator: decapsulator, number: frames,
                            timestamp: timestamp, originalLength: originalLength
                        ).splittingSegmentationRun(frame: frame)
                        for dissection in dissections { measurement.record(dissection, on: capture.subnet) }
                    }
                    if case .endOfFile = result { break }
                }
            } catch {
                notes.append("\(capture.subnet): \(error) (after \(frames) frames)")
            }
        }
        return (measurement.figures(), unreadable, notes)
    }

    static let maximumFramesPerCapture = 50_000_000

    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? 0 }
    static func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }

    func evaluate() throws -> LabRun.Outcome {
        var lines: [String] = []
        var failures: [String] = []
        var checkResults: [[String: Any]] = []
        let mode = "\(topology.name)"
        lines.append("lab \(mode): results in \(directory)")
        if timedOut { failures.append("the run did not finish within \(topology.timeout ?? 120) s") }

        lines.append("")
        lines.append(pad("host", 10) + pad("program", 15) + pad("exit", 6) + pad("bytes", 12) + pad("time s", 8)
            + pad("loss %", 8) + pad("NAKs", 7) + pad("repairs", 8) + "unrecoverable")
        var receiverNAKs = 0
        var sourceNAKs = 0
        var hostResults: [[String: Any]] = []
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
            hostResults.append([
                "name": host.name, "program": host.run.program.rawValue,
                "exit": exitCodes[host.name].map { Int($0) as Any } ?? NSNull(), "seconds": elapsed ?? NSNull(),
                "bytes": Self.int(summary["bytes"]), "loss_rate": Self.double(summary["loss_rate"]),
                "naks": Self.int(summary["naks"]), "repairs": Self.int(summary["repairs"]),
                "unrecoverable": Self.int(summary["unrecoverable"]),
            ])
        }

        let elements = topology.hosts.filter { $0.run.program == .networkElement }
        var elementResults: [[String: Any]] = []
        if !elements.isEmpty {
            lines.append("")
            for element in elements {
                let object = summary(of: element.name)["element"] as? [String: Any] ?? [:]
                let counters = object.filter { $0.value is NSNumber || $0.value is String }.sorted { $0.key < $1.key }
                let listed = counters.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                lines.append("element \(element.name): " + (counters.isEmpty ? "(no summary)" : listed))
                let received = Self.int(object["naks_received"])
                let eliminated = Self.int(object["naks_eliminated"])
                if !object.isEmpty {
                    lines.append(
                        RepairSummary.eliminationLine(element: element.name, received: received, eliminated: eliminated))
                }
                elementResults.append([
                    "name": element.name, "naks_received": received, "naks_eliminated": eliminated,
                    "eliminated_per_received": received == 0 ? NSNull() : Double(eliminated) / Double(received),
                    "counters": object,
                ])
            }
        }

        let (repair, unreadable, notes) = measureCaptures()
        lines.append("")
        lines += RepairSummary.subnetTable(repair)
        lines += (unreadable + notes).map { "capture \($0)" }
        lines.append("")
        lines += RepairSummary.sourceLines(repair)

        lines.append("")
        for check in topology.checks {
            var checkFailures: [String] = []
            let line: String
            switch check {
            case .receiversMatchSource:
                for host in topology.hosts where [.receiver, .dlr, .openPGMReceiver].contains(host.run.program) {
                    let digest = (try? LabRun.sha256("\(directory)/\(host.name).data")) ?? "missing"
                    if digest != inputDigest {
                        checkFailures.append(
                            "\(host.name): sha256 \(digest.prefix(16))… ≠ source \(inputDigest.prefix(16))…")
                    }
                }
                line = "check receivers_match_source: every receiver's sha256 = \(inputDigest.prefix(16))…"
            case .sourceNAKsAtMostReceiverNAKs:
                if sourceNAKs > receiverNAKs {
                    checkFailures.append("source received \(sourceNAKs) NAKs > \(receiverNAKs) sent by receivers")
                }
                line = "check source_naks_at_most_receiver_naks: source \(sourceNAKs) ≤ receivers \(receiverNAKs)"
            case .noRepairsOn(let subnets):
                let rdata = Dictionary(uniqueKeysWithValues: repair.subnets.map { ($0.name, $0.rdata) })
                for subnet in subnets where rdata[subnet, default: 0] > 0 {
                    checkFailures.append("\(rdata[subnet]!) RDATA captured on \(subnet), which lost nothing")
                }
                line = "check no_rdata_on \(subnets.joined(separator: ",")): "
                    + subnets.map { "\($0)=\(rdata[$0, default: 0])" }.joined(separator: " ")
            case .noUnrecoverableLoss:
                for host in topology.hosts where Self.int(summary(of: host.name)["unrecoverable"]) > 0 {
                    checkFailures.append("\(host.name) reported unrecoverable loss")
                }
                line = "check no_unrecoverable_loss"
            case .sourceNAKSequencesPerLostAtMost, .sourceRDATAPerLostAtMost, .repairLatencyP99AtMostMilliseconds:
                // Judged on the captures: one that could not be read must not pass by default.
                let judged = repair.evaluate(check) ?? ("check \(check.name)", [])
                line = judged.summary
                checkFailures = judged.failures
                if !unreadable.isEmpty {
                    checkFailures.append(
                        "check \(check.name): unreadable captures (\(unreadable.joined(separator: "; ")))")
                }
            }
            lines.append(line + (checkFailures.isEmpty ? "" : "  FAILED"))
            failures += checkFailures
            checkResults.append(
                ["check": check.name, "detail": line, "passed": checkFailures.isEmpty, "failures": checkFailures])
        }
        lines.append("")
        if failures.isEmpty {
            lines.append("PASS \(mode)")
        } else {
            lines.append("FAIL \(mode):")
            lines += failures.map { "  - \($0)" }
        }
        let results: [String: Any] = [
            "topology": topology.name, "encapsulation": encapsulation.rawValue, "run_id": runID,
            "passed": failures.isEmpty, "failures": failures, "timed_out": timedOut, "hosts": hostResults,
            "elements": elementResults, "repair": RepairSummary.json(repair), "checks": checkResults,
        ]
        let resultsPath = "\(directory)/report.json"
        do {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: resultsPath))
            lines.insert("lab \(mode): machine-readable results in \(resultsPath)", at: 1)
        } catch {
            lines.insert("lab \(mode): could not write \(resultsPath): \(error)", at: 1)
        }
        return LabRun.Outcome(passed: failures.isEmpty, summary: lines.joined(separator: "\n"))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
