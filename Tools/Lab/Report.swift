import Foundation
import PGMCapture
import PGMSimulation

/// Reads what a run left behind (programs' JSON summaries, receivers' files, subnet captures), checks the
/// topology's assertions, formats the summary and writes it as `report.json` in the run's directory.
struct Report {
    var lab: LabTopology
    var topology: Topology { lab.topology }
    var encapsulation: Topology.Encapsulation
    var runID: String
    var directory: String
    var inputDigest: String
    var started: [String: Date] = [:]
    var finished: [String: Date] = [:]
    var exitCodes: [String: Int32] = [:]
    var timedOut = false
    var captures: [(subnet: String, path: String)] = []
    /// Each rate-limited link direction's queue counters, read at the end of the run.
    var queues: [CongestionFacts.Queue] = []

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
    /// `parity` is what ``ParityMeasurement`` found, `nil` for a run without FEC.
    func measureCaptures() -> (figures: RepairFigures, parity: ParityFigures?, unreadable: [String], notes: [String]) {
        var measurement = RepairMeasurement(topology: topology)
        var parity = ParityMeasurement(
            sourceSubnet: measurement.sourceSubnet, sourceAddress: measurement.sourceAddress)
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
                        for dissection in dissections {
                            measurement.record(dissection, on: capture.subnet)
                            parity.record(dissection, on: capture.subnet)
                        }
                    }
                    if case .endOfFile = result { break }
                }
            } catch {
                notes.append("\(capture.subnet): \(error) (after \(frames) frames)")
            }
        }
        return (measurement.figures(), parity.figures(), unreadable, notes)
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
        lines.append(
            pad("host", 10) + pad("program", 15) + pad("exit", 6) + pad("bytes", 12) + pad("time s", 8)
                + pad("loss %", 8) + pad("NAKs", 7) + pad("repairs", 8) + "unrecoverable")
        var hostFacts: [RunFacts.Host] = []
        var hostResults: [[String: Any]] = []
        var fecLines: [String] = []
        for host in topology.hosts {
            let summary = summary(of: host.name)
            let elapsed = finished[host.name].flatMap { end in started[host.name].map { end.timeIntervalSince($0) } }
            let exit = exitCodes[host.name].map(String.init) ?? "-"
            lines.append(
                pad(host.name, 10) + pad(host.run.program.rawValue, 15) + pad(exit, 6)
                    + pad(String(Self.int(summary["bytes"])), 12)
                    + pad(elapsed.map { String(format: "%.1f", $0) } ?? "-", 8)
                    + pad(String(format: "%.2f", Self.double(summary["loss_rate"]) * 100), 8)
                    + pad(String(Self.int(summary["naks"])), 7) + pad(String(Self.int(summary["repairs"])), 8)
                    + String(Self.int(summary["unrecoverable"])))
            hostFacts.append(
                RunFacts.Host(
                    name: host.name, role: host.run.program, naks: Self.int(summary["naks"]),
                    unrecoverable: Self.int(summary["unrecoverable"]), outputMismatch: outputMismatch(of: host)))
            var result: [String: Any] = [
                "name": host.name, "program": host.run.program.rawValue,
                "exit": exitCodes[host.name].map { Int($0) as Any } ?? NSNull(), "seconds": elapsed ?? NSNull(),
                "bytes": Self.int(summary["bytes"]), "loss_rate": Self.double(summary["loss_rate"]),
                "naks": Self.int(summary["naks"]), "repairs": Self.int(summary["repairs"]),
                "unrecoverable": Self.int(summary["unrecoverable"]),
            ]
            // FEC's counters as the program reported them (pgm-source with FEC on, pgm-recv once parity came).
            if let fec = summary["fec"] as? [String: Any] {
                result["fec"] = fec
                let listed = fec.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                fecLines.append("fec \(host.name): \(listed)")
            }
            hostResults.append(result)
        }
        if !fecLines.isEmpty { lines += [""] + fecLines }

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
                        RepairSummary.eliminationLine(element: element.name, received: received, eliminated: eliminated)
                    )
                }
                elementResults.append([
                    "name": element.name, "naks_received": received, "naks_eliminated": eliminated,
                    "eliminated_per_received": received == 0 ? NSNull() : Double(eliminated) / Double(received),
                    "counters": object,
                ])
            }
        }

        let (repair, parity, unreadable, notes) = measureCaptures()
        lines.append("")
        lines += RepairSummary.subnetTable(repair, parity: parity)
        lines += (unreadable + notes).map { "capture \($0)" }
        lines.append("")
        lines += RepairSummary.sourceLines(
            repair, parity: parity, receiverLosses: parity == nil ? [] : receiverLosses(repair: repair, parity: parity))
        let congestion = congestionFacts(repair: repair, unreadable: unreadable)
        if !lab.rateLimits.isEmpty {
            lines.append("")
            lines += CongestionSummary.lines(congestion)
        }

        lines.append("")
        let facts = RunFacts(
            hosts: hostFacts, expectedOutput: "sha256 = \(inputDigest.prefix(16))…", repair: repair,
            origin: .lab(unreadableCaptures: unreadable))
        for check in topology.checks {
            let verdict = check.evaluate(on: facts)
            lines.append(verdict.line + (verdict.passed ? "" : "  FAILED"))
            failures += verdict.failures
            checkResults.append(
                ["check": check.name, "detail": verdict.line, "passed": verdict.passed, "failures": verdict.failures])
        }
        // These two are judged by RepairFigures, which counts a parity NAK's groups as NAKed sequences and parity
        // RDATA as RDATA over distinct lost sequences that miss what receivers NAKed by count: say so.
        for check in topology.checks where parity != nil {
            if case .sourceNAKSequencesPerLostAtMost = check {
                lines.append("note: \(check.name) is judged parity-blind (parity NAK groups count as NAKed sequences)")
            }
            if case .sourceRDATAPerLostAtMost = check {
                lines.append("note: \(check.name) is judged parity-blind (parity RDATA counts as RDATA)")
            }
        }
        for check in lab.congestionChecks {
            let verdict = check.evaluate(on: congestion)
            lines.append(verdict.line + (verdict.passed ? "" : "  FAILED"))
            failures += verdict.failures
            checkResults.append(
                ["check": check.name, "detail": verdict.line, "passed": verdict.passed, "failures": verdict.failures])
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
            "elements": elementResults, "repair": RepairSummary.json(repair, parity: parity), "checks": checkResults,
            "congestion": CongestionSummary.json(congestion),
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

    /// The congestion figures: each receiver's goodput from its summary, the source's ODATA and RDATA from its
    /// subnet's capture, the queues' counters.
    func congestionFacts(repair: RepairFigures, unreadable: [String]) -> CongestionFacts {
        let receivers = topology.hosts.filter { $0.run.program.receives }.map { host in
            let summary = summary(of: host.name)
            let bytes = Self.int(summary["bytes"])
            let seconds = Self.double(summary["data_seconds"])
            return CongestionFacts.Receiver(
                host: host.name, bytes: bytes, goodputBitsPerSecond: seconds > 0 ? Double(bytes) * 8 / seconds : nil)
        }
        let sourceSubnet = repair.subnets.first { $0.name == repair.sourceSubnet }
        return CongestionFacts(
            receivers: receivers, bottleneckBitsPerSecond: lab.bottleneckBitsPerSecond,
            sourceODATA: sourceSubnet?.odata ?? 0, sourceRDATA: repair.sourceRDATAPackets,
            unreadableSourceCapture: unreadable.first { $0.hasPrefix(repair.sourceSubnet + ":") }, queues: queues)
    }

    /// Each receiver's lost ODATA by its own count: its `loss_rate` (data packets whose ODATA did not arrive over
    /// those expected) times the data ODATA the source sent (its subnet's capture, parity left out). Behind an
    /// ingress drop and NAKs by count no capture names these losses (``RepairSummary/sourceLines(_:parity:receiverLosses:)``).
    /// `nil` for a receiver that printed no summary (OpenPGM's peer).
    func receiverLosses(repair: RepairFigures, parity: ParityFigures?) -> [(host: String, lost: Int?)] {
        let sourceSubnet = repair.subnets.first { $0.name == repair.sourceSubnet }
        let data = (sourceSubnet?.odata ?? 0) - (parity?.subnet(repair.sourceSubnet).proactive ?? 0)
        return topology.hosts.filter { $0.run.program.receives }.map { host -> (host: String, lost: Int?) in
            let rate = summary(of: host.name)["loss_rate"] as? NSNumber
            return (host.name, rate.map { Int(($0.doubleValue * Double(data)).rounded()) })
        }
    }

    /// How a receiving host's file differs from the input, when `receivers_match_source` asks (`nil`: the same).
    private func outputMismatch(of host: Topology.Host) -> String? {
        guard topology.checks.contains(.receiversMatchSource), host.run.program.receives else { return nil }
        let digest = (try? LabRun.sha256("\(directory)/\(host.name).data")) ?? "missing"
        return digest == inputDigest ? nil : "sha256 \(digest.prefix(16))… ≠ source \(inputDigest.prefix(16))…"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
