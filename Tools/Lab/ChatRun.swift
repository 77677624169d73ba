import Foundation
import PGMLabSupport
import PGMSimulation

/// A run of `pgm-chat` members (a topology with a `chat:` block): every member gets its lines on standard input
/// at once, all members start together (elements half a second before), one may be killed mid-run, and
/// ``ChatReport`` judges the ordering invariants on their JSON logs. No captures: the figures are the members'
/// own timestamps, and tcpdump on every subnet would take a core from the 2 the figures are measured on.
extension LabRun {
    func runChat(_ chat: Topology.Chat, interrupted: @escaping () -> Bool) throws -> Outcome {
        let members = topology.hosts.filter { $0.run.program == .chat }
        for host in members where chat.interval == nil {
            try Data(ChatLines.input(host: host.name, chat: chat).utf8).write(
                to: URL(fileURLWithPath: "\(directory)/\(host.name).in"))
        }
        startBursts()
        var started: [String: Date] = [:]
        var finished: [String: Date] = [:]
        for host in topology.hosts where host.run.program == .networkElement {
            try start(host, started: &started)
        }
        if !processes.isEmpty { Thread.sleep(forTimeInterval: 0.5) }  // elements joined before members speak
        let begin = Date()
        var feeders: [Thread] = []
        for host in members {
            if let interval = chat.interval {
                feeders.append(try feed(host.name, chat: chat, every: interval, from: begin.addingTimeInterval(1)))
            }
            try start(host, started: &started)
        }
        defer {
            // A feeder blocked on a member that stopped reading is left behind (the lab exits soon after).
            let deadline = Date().addingTimeInterval(2)
            while feeders.contains(where: \.isExecuting) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        }
        let timeout = Double(topology.timeout ?? 120)
        var killed: (host: String, at: Double)?
        var killNote: String?
        while Date().timeIntervalSince(begin) < timeout && !interrupted() {
            let now = Date().timeIntervalSince(begin)
            if let plan = chat.kill, killed == nil, killNote == nil, now >= plan.after {
                // The first member of a formed view is known only once a member printed it.
                if let name = plan.host == Topology.Chat.firstInView ? firstInView(members) : plan.host {
                    if let process = processes.first(where: { $0.name == name })?.process, process.isRunning {
                        kill(process.processIdentifier, SIGKILL)
                        killed = (name, now)
                        log(
                            "lab \(topology.name): killed \(name) (SIGKILL, pid \(process.processIdentifier)) at \(String(format: "%.2f", now)) s"
                        )
                    } else {
                        killNote = "\(name) had already exited when it was to be killed at \(plan.after) s"
                    }
                }
            }
            for (name, process) in processes where !process.isRunning && finished[name] == nil {
                finished[name] = Date()
            }
            if members.allSatisfy({ finished[$0.name] != nil }) { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let timedOut = members.contains { finished[$0.name] == nil }
        stopEverything()
        var report = ChatReport(
            topology: topology, chat: chat, encapsulation: encapsulation, runID: network.id, directory: directory)
        report.started = started
        report.finished = finished
        report.exitCodes = Dictionary(
            uniqueKeysWithValues: processes.map {
                (
                    $0.name,
                    $0.process.terminationReason == .uncaughtSignal
                        ? -$0.process.terminationStatus : $0.process.terminationStatus
                )
            })
        report.killed = killed
        report.killNote = killNote
        if chat.kill != nil && killed == nil && killNote == nil {
            report.killNote = "nobody was killed: no member printed a formed view in time"
        }
        report.timedOut = timedOut || interrupted()
        return report.evaluate()
    }

    /// Writes a member's lines into a FIFO that is its standard input, one every `interval` from `start` (a
    /// thread per member; it stops when the member is gone: the write fails with EPIPE, ignored by the lab).
    private func feed(_ host: String, chat: Topology.Chat, every interval: Double, from start: Date) throws -> Thread {
        let path = "\(directory)/\(host).in"
        try? FileManager.default.removeItem(atPath: path)
        guard mkfifo(path, 0o600) == 0 else { throw LabFormatError(description: "mkfifo \(path) failed") }
        signal(SIGPIPE, SIG_IGN)
        let thread = Thread {
            let descriptor = open(path, O_WRONLY)  // until the member opens its end
            guard descriptor >= 0 else { return }
            defer { close(descriptor) }
            for number in 1...chat.messages {
                let due = start.addingTimeInterval(Double(number - 1) * interval)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                let bytes = Array((ChatLines.line(host: host, number: number, size: chat.size) + "\n").utf8)
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written != bytes.count { return }
            }
        }
        thread.start()
        return thread
    }

    private func start(_ host: Topology.Host, started: inout [String: Date]) throws {
        let invocation = command(for: host, input: "")
        let process = try Shell.spawn(
            network.hostNamespaces[host.name]!, invocation.arguments,
            stdout: invocation.stdout ?? "\(directory)/\(host.name).out", stderr: "\(directory)/\(host.name).err",
            stdin: invocation.stdin)
        processes.append((host.name, process))
        started[host.name] = Date()
    }

    /// The name a member's `formed` event lists first (the smallest member id), from the first log that has one.
    private func firstInView(_ members: [Topology.Host]) -> String? {
        for host in members {
            guard let text = try? String(contentsOfFile: "\(directory)/\(host.name).jsonl", encoding: .utf8) else {
                continue
            }
            for line in text.split(separator: "\n") where line.contains("\"formed\"") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    object["type"] as? String == "formed", let names = object["members"] as? [String]
                else { continue }
                return names.first
            }
        }
        return nil
    }

    /// `pgm-chat` for one member: its name is its host's, the group's order and size from the `chat:` block.
    func chatArguments(for host: Topology.Host, common: [String]) -> [String] {
        guard let chat = topology.chat else { return [] }
        let members = chat.members ?? topology.hosts.filter { $0.run.program == .chat }.count
        var arguments = [
            "\(binaries)/pgm-chat", "--name", host.name, "--interface", host.interfaces[0].subnet, "--order",
            chat.order, "--members", String(members), "--timeout", "30", "--linger", "10",
        ]
        if chat.safe == true { arguments.append("--safe") }
        if let rate = chat.rate { arguments += ["--rate", rate] }
        return arguments + common
    }
}

/// The lines a member sends: "NAME N " and padding to the chat's size, N from 1; unique over the group, and
/// the report knows each one's text from its sender and number.
enum ChatLines {
    static func line(host: String, number: Int, size: Int) -> String {
        let head = "\(host) \(number) "
        guard head.utf8.count < size else { return head }
        let padding = Array(String(repeating: alphabet, count: size / alphabet.utf8.count + 2).utf8)
        let offset = number % alphabet.utf8.count
        return head + String(decoding: padding[offset..<(offset + size - head.utf8.count)], as: UTF8.self)
    }

    static let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

    static func input(host: String, chat: Topology.Chat) -> String {
        var text = ""
        text.reserveCapacity(chat.messages * (chat.size + 1))
        for number in 1...chat.messages { text += line(host: host, number: number, size: chat.size) + "\n" }
        return text
    }
}
