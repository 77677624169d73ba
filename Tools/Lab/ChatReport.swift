import Foundation
import PGMSimulation

/// Judges a chat run on the members' JSON logs (`<host>.jsonl`: `pgm-chat --json` standard output) and writes
/// `report.json`. The checks are the ordering layer's promises (Docs/ordering.md), each strict and each failing
/// when what it needs is missing:
/// - `exit`: every member that was not killed exits 0.
/// - `formed`: every survivor printed a `formed` event naming every member.
/// - `complete`: every survivor delivered every line of every member that was not killed exactly once, with
///   the text that member sent, and nothing else of theirs.
/// - `killed_agree` (with a kill): the survivors delivered the same lines of the killed member.
/// - `fifo` (fifo, causal): each sender's lines in the order sent, at every member.
/// - `causal` (causal): no line before one its sender had delivered when sending it (`deps`).
/// - `total` (total orders): the survivors' logs are the same list, the killed member's the same up to the
///   survivors' view change, and `global` rises by one from line to line within a view.
/// - `safe` (--safe): no survivor delivered a line another survivor lacks.
/// What the killed member delivered beyond the survivors' cut is a note: Docs/ordering.md makes delivery uniform
/// only among survivors.
struct ChatReport {
    var topology: Topology
    var chat: Topology.Chat
    var encapsulation: Topology.Encapsulation
    var runID: String
    var directory: String
    var started: [String: Date] = [:]
    var finished: [String: Date] = [:]
    /// Exit status; minus the signal for a member ended by one.
    var exitCodes: [String: Int32] = [:]
    var killed: (host: String, at: Double)?
    var killNote: String?
    var timedOut = false

    /// One delivered line, as a member's log has it.
    struct Delivery {
        var from: String
        var member: String
        var sequence: Int
        var global: Int?
        var view: Int
        var deps: [String: Int]
        var text: String
        var deliveredAt: Double
        var sentAt: Double?

        var key: Key { Key(member: member, sequence: sequence) }
    }

    struct Key: Hashable {
        var member: String
        var sequence: Int
    }

    /// A member's log.
    struct Log {
        var host: String
        var formed: [String]?
        var views: [String] = []
        /// Lines delivered before the first view change.
        var viewChangeAt: Int?
        var deliveries: [Delivery] = []
        var problems: [String] = []
    }

    struct Verdict {
        var name: String
        var detail: String
        var failures: [String]
    }

    static func read(host: String, directory: String, truncatedTailAllowed: Bool) -> Log {
        var log = Log(host: host)
        guard let text = try? String(contentsOfFile: "\(directory)/\(host).jsonl", encoding: .utf8) else {
            log.problems.append("\(host): no log")
            return log
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        for (index, line) in lines.enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                // A killed member may have been stopped mid-line.
                if !(truncatedTailAllowed && index == lines.count - 1) {
                    log.problems.append("\(host): line \(index + 1) is not a JSON object")
                }
                continue
            }
            switch object["type"] as? String {
            case "message":
                guard let from = object["from"] as? String, let member = object["member"] as? String,
                    let sequence = (object["sequence"] as? NSNumber)?.intValue,
                    let text = object["text"] as? String,
                    let deliveredAt = (object["delivered_at"] as? NSNumber)?.doubleValue
                else {
                    log.problems.append(
                        "\(host): line \(index + 1): a message without from/member/sequence/text/delivered_at")
                    continue
                }
                let deps = (object["deps"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
                log.deliveries.append(
                    Delivery(
                        from: from, member: member, sequence: sequence,
                        global: (object["global"] as? NSNumber)?.intValue,
                        view: (object["view"] as? NSNumber)?.intValue ?? 0, deps: deps, text: text,
                        deliveredAt: deliveredAt, sentAt: (object["sent_at"] as? NSNumber)?.doubleValue))
            case "formed":
                if log.formed == nil { log.formed = object["members"] as? [String] ?? [] }
            case "view":
                if log.viewChangeAt == nil { log.viewChangeAt = log.deliveries.count }
                let removed = (object["removed"] as? [String] ?? []).joined(separator: ", ")
                log.views.append("view \((object["view"] as? NSNumber)?.intValue ?? 0): removed \(removed)")
            default:
                break
            }
        }
        return log
    }

    var mode: String { chat.order + (chat.safe == true ? " safe" : "") }
    var isTotal: Bool { chat.order.hasPrefix("total-") }

    func evaluate() -> LabRun.Outcome {
        let members = topology.hosts.filter { $0.run.program == .chat }.map(\.name)
        let survivors = members.filter { $0 != killed?.host }
        var logs: [String: Log] = [:]
        for name in members {
            logs[name] = Self.read(host: name, directory: directory, truncatedTailAllowed: name == killed?.host)
        }
        var verdicts: [Verdict] = []
        var failures: [String] = []
        if timedOut { failures.append("the run did not finish within \(topology.timeout ?? 120) s") }
        if let killNote { failures.append("kill: \(killNote)") }
        for log in logs.values.sorted(by: { $0.host < $1.host }) { failures += log.problems }

        // Member ids by name, from every log; one name per id and one id per name.
        var ids: [String: String] = [:]
        for log in logs.values {
            for delivery in log.deliveries {
                if let known = ids[delivery.from], known != delivery.member {
                    failures.append("\(log.host): \(delivery.from) has two member ids (\(known), \(delivery.member))")
                }
                ids[delivery.from] = delivery.member
            }
        }
        let names = Dictionary(ids.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })

        verdicts.append(
            check("exit", survivors.map { "\($0)=\(exitCodes[$0].map(String.init) ?? "-")" }.joined(separator: " ")) {
                survivors.compactMap { name in
                    exitCodes[name] == 0 ? nil : "\(name) exited \(exitCodes[name].map(String.init) ?? "not")"
                }
            })
        verdicts.append(
            check("formed", "every survivor formed a view of \(members.count)") {
                survivors.compactMap { name -> String? in
                    guard let formed = logs[name]?.formed else { return "\(name): no formed event" }
                    return Set(formed) == Set(members) ? nil : "\(name): formed with \(formed.sorted())"
                }
            })
        verdicts.append(
            check(
                "complete",
                "\(chat.messages) lines of \(chat.size) B from each of \(survivors.count) members, once each"
            ) {
                var problems: [String] = []
                for name in survivors {
                    guard let log = logs[name] else { continue }
                    var seen: [Key: Int] = [:]
                    for delivery in log.deliveries { seen[delivery.key, default: 0] += 1 }
                    let duplicates = seen.filter { $0.value > 1 }.count
                    if duplicates > 0 { problems.append("\(name): \(duplicates) lines delivered more than once") }
                    for sender in survivors {
                        guard let id = ids[sender] else {
                            problems.append("\(name): nothing of \(sender)")
                            continue
                        }
                        let mine = log.deliveries.filter { $0.member == id }
                        let missing = (1...chat.messages).filter { seen[Key(member: id, sequence: $0)] == nil }.count
                        if missing > 0 {
                            problems.append("\(name): \(missing) of \(sender)'s \(chat.messages) lines missing")
                        }
                        let extra = mine.filter { !(1...chat.messages).contains($0.sequence) }.count
                        if extra > 0 {
                            problems.append("\(name): \(extra) lines of \(sender) beyond its \(chat.messages)")
                        }
                        let wrong = mine.filter {
                            $0.text != ChatLines.line(host: sender, number: $0.sequence, size: chat.size)
                        }
                        if let first = wrong.first {
                            problems.append(
                                "\(name): \(wrong.count) lines of \(sender) with other text (sequence \(first.sequence))"
                            )
                        }
                    }
                    let strangers = log.deliveries.filter { names[$0.member] == nil || !members.contains($0.from) }
                        .count
                    if strangers > 0 { problems.append("\(name): \(strangers) lines from no member of this run") }
                }
                return problems
            })
        if let killed {
            let id = ids[killed.host]
            let sets = survivors.map { name in
                Set((logs[name]?.deliveries ?? []).filter { $0.member == id }.map(\.sequence))
            }
            verdicts.append(
                check(
                    "killed_agree",
                    "\(killed.host) killed at \(String(format: "%.2f", killed.at)) s; survivors delivered "
                        + sets.map { String($0.count) }.joined(separator: "/") + " of its lines"
                ) {
                    Set(sets).count <= 1 ? [] : ["the survivors delivered different lines of \(killed.host)"]
                })
        }
        if chat.order == "fifo" || chat.order == "causal" {
            verdicts.append(
                check("fifo", "each sender's lines in order at every member") {
                    members.compactMap { name in
                        guard let log = logs[name] else { return nil }
                        var next: [String: Int] = [:]
                        for delivery in log.deliveries {
                            let expected = next[delivery.member, default: 1]
                            if delivery.sequence != expected {
                                return
                                    "\(name): \(delivery.from) \(delivery.sequence) delivered when \(expected) was next"
                            }
                            next[delivery.member] = expected + 1
                        }
                        return nil
                    }
                })
        }
        if chat.order == "causal" {
            verdicts.append(
                check("causal", "no line before one its sender had delivered") {
                    members.compactMap { name in
                        guard let log = logs[name] else { return nil }
                        var delivered: [String: Int] = [:]
                        for delivery in log.deliveries {
                            for (member, count) in delivery.deps where delivered[member, default: 0] < count {
                                return "\(name): \(delivery.from) \(delivery.sequence) needs \(count) of "
                                    + "\(names[member] ?? member), only \(delivered[member, default: 0]) delivered"
                            }
                            delivered[delivery.member, default: 0] += 1
                        }
                        return nil
                    }
                })
        }
        var notes: [String] = []
        if isTotal {
            verdicts.append(
                check(
                    "total",
                    "the survivors' logs are one list"
                        + (killed == nil ? "" : ", the killed member's agrees with it up to the view change")
                ) {
                    var problems: [String] = []
                    let reference = survivors.first.flatMap { logs[$0] } ?? Log(host: "")
                    let keys = reference.deliveries.map(\.key)
                    for name in members {
                        guard let log = logs[name] else { continue }
                        let mine = log.deliveries.map(\.key)
                        if name == killed?.host {
                            // Up to the survivors' view change the killed member's log is theirs; beyond it the
                            // killed member may have delivered what the survivors never saw ordered (Docs/ordering.md:
                            // delivery is not uniform), which is a note.
                            let common = min(mine.count, reference.viewChangeAt ?? keys.count)
                            if let at = zip(mine.prefix(common), keys.prefix(common)).enumerated().first(where: {
                                $0.element.0 != $0.element.1
                            })?.offset {
                                problems.append(
                                    "\(name) (killed): its log differs from the survivors' at line \(at + 1), before the view change"
                                )
                            }
                            if mine.count > common {
                                let beyond = mine.dropFirst(common)
                                let everywhere = Set(keys)
                                let lacking = beyond.filter { !everywhere.contains($0) }.count
                                notes.append(
                                    "\(name) (killed) delivered \(beyond.count) lines after the survivors' cut (line \(common)), "
                                        + "\(lacking) of them never delivered by the survivors")
                            }
                        } else if mine != keys {
                            let at = zip(mine, keys).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                            problems.append(
                                "\(name): differs from \(reference.host) at line \((at ?? min(mine.count, keys.count)) + 1) "
                                    + "(\(mine.count) vs \(keys.count) lines)")
                        }
                        // A new view orders afresh: global rises by one within a view.
                        if log.deliveries.contains(where: { $0.global == nil }) {
                            problems.append("\(name): a line without global")
                        } else if let at = Self.globalStep(log.deliveries) {
                            problems.append("\(name): global does not rise by one at line \(at + 1)")
                        }
                    }
                    return problems
                })
        }
        if chat.safe == true {
            verdicts.append(
                check("safe", "no line at one survivor that another lacks") {
                    let sets = survivors.map { Set((logs[$0]?.deliveries ?? []).map(\.key)) }
                    var problems: [String] = []
                    let all = sets.reduce(into: Set<Key>()) { $0.formUnion($1) }
                    for (name, set) in zip(survivors, sets) where set.count < all.count {
                        problems.append("\(name) lacks \(all.count - set.count) lines another survivor delivered")
                    }
                    if let killed, let log = logs[killed.host] {
                        let everywhere = sets.dropFirst().reduce(sets.first ?? []) { $0.intersection($1) }
                        let beyond = log.deliveries.filter { !everywhere.contains($0.key) }.count
                        if beyond > 0 {
                            problems.append("\(killed.host) (killed) delivered \(beyond) lines a survivor lacks")
                        }
                    }
                    return problems
                })
        }
        let figures = ChatFigures(logs: survivors.compactMap { logs[$0] }, killedLog: killed.flatMap { logs[$0.host] })

        var lines: [String] = []
        lines.append("lab \(topology.name) \(mode) (\(encapsulation.rawValue)): results in \(directory)")
        lines.append("")
        lines.append("host        exit  time s  sent   delivered  views")
        for name in members {
            let summary = Self.summary(of: name, directory: directory)
            let elapsed = finished[name].flatMap { end in started[name].map { end.timeIntervalSince($0) } }
            let exit = name == killed?.host ? "kill" : exitCodes[name].map(String.init) ?? "-"
            lines.append(
                pad(name, 12) + pad(exit, 6) + pad(elapsed.map { String(format: "%.1f", $0) } ?? "-", 8)
                    + pad(String(Report.int(summary["sent"])), 7) + pad(String(Report.int(summary["delivered"])), 11)
                    + (logs[name]?.views.joined(separator: "; ") ?? ""))
        }
        for element in topology.hosts where element.run.program == .networkElement {
            let object = Self.summary(of: element.name, directory: directory)["element"] as? [String: Any] ?? [:]
            let counters = object.filter { $0.value is NSNumber }.sorted { $0.key < $1.key }
            lines.append(
                "element \(element.name): "
                    + (counters.isEmpty
                        ? "(no summary)" : counters.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
        }
        lines.append("")
        lines.append(figures.line)
        lines.append("")
        for verdict in verdicts {
            lines.append("check \(verdict.name): \(verdict.detail)" + (verdict.failures.isEmpty ? "" : "  FAILED"))
            failures += verdict.failures.prefix(20).map { "\(verdict.name): \($0)" }
        }
        lines += notes.map { "note: \($0)" }
        lines.append("")
        if failures.isEmpty {
            lines.append("PASS \(topology.name) \(mode)")
        } else {
            lines.append("FAIL \(topology.name) \(mode):")
            lines += failures.map { "  - \($0)" }
        }
        let results: [String: Any] = [
            "topology": topology.name, "encapsulation": encapsulation.rawValue, "run_id": runID,
            "passed": failures.isEmpty, "failures": failures, "notes": notes, "timed_out": timedOut,
            "chat": [
                "order": chat.order, "safe": chat.safe == true, "messages": chat.messages, "size": chat.size,
                "members": members, "killed": killed?.host ?? NSNull(), "killed_at": killed?.at ?? NSNull(),
                "first_in_view": survivors.lazy.compactMap { logs[$0]?.formed?.first }.first ?? NSNull(),
                "views": survivors.first.flatMap { logs[$0]?.views } ?? [],
            ] as [String: Any],
            "hosts": members.map { name -> [String: Any] in
                let summary = Self.summary(of: name, directory: directory)
                return [
                    "name": name, "exit": exitCodes[name].map { Int($0) } ?? NSNull(),
                    "sent": Report.int(summary["sent"]), "delivered": Report.int(summary["delivered"]),
                    "seconds": finished[name].flatMap { end in started[name].map { end.timeIntervalSince($0) } }
                        ?? NSNull(),
                ]
            },
            "checks": verdicts.map {
                ["check": $0.name, "detail": $0.detail, "passed": $0.failures.isEmpty, "failures": $0.failures]
            },
            "figures": figures.json,
        ]
        let path = "\(directory)/report.json"
        if let data = try? JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys]),
            (try? data.write(to: URL(fileURLWithPath: path))) != nil
        {
            lines.insert("lab \(topology.name): machine-readable results in \(path)", at: 1)
        } else {
            lines.insert("lab \(topology.name): could not write \(path)", at: 1)
        }
        return LabRun.Outcome(passed: failures.isEmpty, summary: lines.joined(separator: "\n"))
    }

    /// The first line whose `global` is not its predecessor's plus one in the same view, if any.
    static func globalStep(_ deliveries: [Delivery]) -> Int? {
        for index in deliveries.indices.dropFirst() {
            let previous = deliveries[index - 1]
            let current = deliveries[index]
            guard previous.view == current.view, let before = previous.global, let now = current.global else {
                continue
            }
            if before + 1 != now { return index }
        }
        return nil
    }

    private func check(_ name: String, _ detail: String, _ body: () -> [String]) -> Verdict {
        Verdict(name: name, detail: detail, failures: body())
    }

    /// The last `"type":"summary"` JSON line on a program's standard error.
    static func summary(of host: String, directory: String) -> [String: Any] {
        guard let text = try? String(contentsOfFile: "\(directory)/\(host).err", encoding: .utf8) else { return [:] }
        for line in text.split(separator: "\n").reversed() where line.contains("\"summary\"") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["type"] as? String == "summary"
            {
                return object
            }
        }
        return [:]
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// Throughput and latency of a chat run, from the members' own clocks (one machine: the namespaces share
/// CLOCK_REALTIME). A line counts once every survivor delivered it; its latency is the latest of those
/// deliveries minus its sender's `sent_at` (when its sender submitted it to the group).
struct ChatFigures {
    var complete = 0
    var seconds: Double?
    var latencies: [Double] = []

    init(logs: [ChatReport.Log], killedLog: ChatReport.Log?) {
        var latest: [ChatReport.Key: (count: Int, at: Double)] = [:]
        for log in logs {
            for delivery in log.deliveries {
                let entry = latest[delivery.key] ?? (0, 0)
                latest[delivery.key] = (entry.count + 1, max(entry.at, delivery.deliveredAt))
            }
        }
        var sent: [ChatReport.Key: Double] = [:]
        for log in logs + (killedLog.map { [$0] } ?? []) {
            for delivery in log.deliveries { if let at = delivery.sentAt { sent[delivery.key] = at } }
        }
        let everywhere = latest.filter { $0.value.count == logs.count }
        complete = everywhere.count
        if let first = sent.values.min(), let last = everywhere.values.map(\.at).max(), last > first {
            seconds = last - first
        }
        latencies = everywhere.compactMap { key, value in sent[key].map { value.at - $0 } }.sorted()
    }

    var messagesPerSecond: Double? { seconds.map { Double(complete) / $0 } }

    func percentile(_ fraction: Double) -> Double? {
        guard !latencies.isEmpty else { return nil }
        return latencies[min(latencies.count - 1, Int((Double(latencies.count - 1) * fraction).rounded()))]
    }

    static func milliseconds(_ value: Double?) -> String { value.map { String(format: "%.3f", $0 * 1000) } ?? "-" }

    var line: String {
        "figures: \(complete) lines at every survivor in \(seconds.map { String(format: "%.3f", $0) } ?? "-") s = "
            + "\(messagesPerSecond.map { String(format: "%.0f", $0) } ?? "-") lines/s; latency send → last delivery "
            + "p50 \(Self.milliseconds(percentile(0.5))) ms, p99 \(Self.milliseconds(percentile(0.99))) ms, "
            + "max \(Self.milliseconds(latencies.last)) ms (\(latencies.count) lines)"
    }

    var json: [String: Any] {
        [
            "lines_at_every_survivor": complete, "seconds": seconds ?? NSNull(),
            "lines_per_second": messagesPerSecond ?? NSNull(), "latency_samples": latencies.count,
            "latency_p50_seconds": percentile(0.5) ?? NSNull(), "latency_p99_seconds": percentile(0.99) ?? NSNull(),
            "latency_max_seconds": latencies.last ?? NSNull(),
        ]
    }
}
