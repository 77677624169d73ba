import Foundation
import PGMCommandLine
import PGMCore
import PGMLabSupport
import PGMSimulation
import Synchronization

/// One run of a topology on a realised ``LabNetwork``: starts the programs, captures every subnet, waits with
/// a bound, checks what the topology asks and summarises.
final class LabRun {
    let lab: LabTopology
    var topology: Topology { lab.topology }
    let network: LabNetwork
    let encapsulation: Topology.Encapsulation
    let directory: String
    let binaries: String
    let log: (String) -> Void

    var processes: [(name: String, process: Process)] = []
    private var captures: [(subnet: String, process: Process, path: String)] = []
    private var burstThreads: [Thread] = []
    private let burstsStopped = StopFlag()

    init(
        lab: LabTopology, network: LabNetwork, encapsulation: Topology.Encapsulation, directory: String,
        binaries: String, log: @escaping (String) -> Void
    ) {
        self.lab = lab
        self.network = network
        self.encapsulation = encapsulation
        self.directory = directory
        self.binaries = binaries
        self.log = log
    }

    struct Outcome {
        var passed: Bool
        var summary: String
    }

    /// The run proper. Always stops what it started, by PID, before returning or throwing.
    func run(interrupted: @escaping () -> Bool) throws -> Outcome {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { stopEverything() }
        if let chat = topology.chat { return try runChat(chat, interrupted: interrupted) }
        guard let traffic = topology.traffic else { throw LabFormatError(description: "no traffic: to send") }
        let input = "\(directory)/input.bin"
        try Self.writeRandomFile(path: input, bytes: traffic.bytes)
        let inputDigest = try Self.sha256(input)

        for subnet in topology.subnets {
            let path = "\(directory)/\(subnet.name).pcap"
            let process = try Shell.spawn(
                network.subnetNamespaces[subnet.name]!, ["tcpdump", "-i", "br0", "-n", "-U", "-s", "0", "-w", path],
                stdout: "\(directory)/\(subnet.name).tcpdump.log", stderr: "\(directory)/\(subnet.name).tcpdump.err")
            captures.append((subnet.name, process, path))
        }
        Thread.sleep(forTimeInterval: 0.5)  // tcpdump opens its capture
        startBursts()

        // Elements first, then receivers, then (after they joined) the source; each at its `start` offset.
        let order: [Topology.Role] = [
            .networkElement, .receiver, .dlr, .openPGMReceiver, .source, .openPGMSource, .chat,
        ]
        let hosts = topology.hosts.sorted {
            order.firstIndex(of: $0.run.program)! < order.firstIndex(of: $1.run.program)!
        }
        let begin = Date()
        let timeout = Double(topology.timeout ?? 120)
        var pending = hosts
        var started: [String: Date] = [:]
        var finished: [String: Date] = [:]
        while Date().timeIntervalSince(begin) < timeout && !interrupted() {
            let now = Date().timeIntervalSince(begin)
            while let host = pending.first {
                let delay =
                    host.run.start ?? (host.run.program == .source || host.run.program == .openPGMSource ? 1.0 : 0)
                guard now >= delay else { break }
                pending.removeFirst()
                let invocation = command(for: host, input: input)
                let process = try Shell.spawn(
                    network.hostNamespaces[host.name]!, invocation.arguments,
                    stdout: invocation.stdout ?? "\(directory)/\(host.name).out",
                    stderr: "\(directory)/\(host.name).err",
                    stdin: invocation.stdin)
                processes.append((host.name, process))
                started[host.name] = Date()
            }
            for (name, process) in processes where !process.isRunning && finished[name] == nil {
                finished[name] = Date()
            }
            let endHosts = topology.hosts.filter { $0.run.program != .networkElement }
            if pending.isEmpty && endHosts.allSatisfy({ finished[$0.name] != nil }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let timedOut = topology.hosts.contains { $0.run.program != .networkElement && finished[$0.name] == nil }
        stopEverything()
        // The queues' counters, while the namespaces are still there (the caller takes them down).
        let queues = lab.rateLimits.map { link in
            let counters = network.queueStatistics(link, topology: topology)
            return CongestionFacts.Queue(
                link: link.label, bitsPerSecond: link.limit.bitsPerSecond ?? 0, sentPackets: counters?.packets,
                sentBytes: counters?.bytes, dropped: counters?.dropped, overlimits: counters?.overlimits)
        }

        var report = Report(
            lab: lab, encapsulation: encapsulation, runID: network.id, directory: directory,
            inputDigest: inputDigest)
        report.started = started
        report.finished = finished
        report.exitCodes = Dictionary(uniqueKeysWithValues: processes.map { ($0.name, $0.process.terminationStatus) })
        report.timedOut = timedOut || interrupted()
        report.captures = captures.map { ($0.subnet, $0.path) }
        report.queues = queues
        return try report.evaluate()
    }

    /// The command line of a host's program, and where its standard input and output go when they carry data.
    func command(for host: Topology.Host, input: String) -> (arguments: [String], stdin: String?, stdout: String?) {
        var common = ["--group", topology.group, "--port", String(topology.port), "--json"]
        if encapsulation == .native { common.append("--native") }
        let interface = host.interfaces[0].subnet
        let output = "\(directory)/\(host.name).data"
        var arguments: [String]
        var stdin: String?
        var stdout: String?
        switch host.run.program {
        case .source:
            arguments = ["\(binaries)/pgm-source", "--interface", interface] + common
            if let rate = topology.traffic?.rate { arguments += ["--rate", rate] }
            arguments.append(input)
        case .receiver, .dlr:
            arguments =
                ["\(binaries)/pgm-recv", "--interface", interface, "--output", output, "--timeout", "20"] + common
            if host.run.program == .dlr { arguments.append("--dlr") }
        case .networkElement:
            arguments = ["\(binaries)/pgm-ne", "--upstream", host.run.upstream!]
            for other in host.interfaces where other.subnet != host.run.upstream {
                arguments += ["--downstream", other.subnet]
            }
            arguments += common
        case .chat:
            arguments = chatArguments(for: host, common: common)
            stdin = "\(directory)/\(host.name).in"
            stdout = "\(directory)/\(host.name).jsonl"
        case .openPGMSource, .openPGMReceiver:
            // Tools/openpgm-peer/peer.c on Debian's libpgm; numeric addresses, as libpgm resolves names first.
            arguments = [
                "\(binaries)/openpgm-peer", host.run.program == .openPGMSource ? "send" : "recv",
                "--network", "\(host.interfaces[0].address);\(topology.group)", "--port", String(topology.port),
            ]
            if encapsulation == .udp { arguments += ["--udp", String(ProgramDefaults.udpPort)] }
            if host.run.program == .openPGMSource {
                // As pgm-source would run: its rate (bytes/s for OpenPGM) and linger.
                let rate = topology.traffic?.rate.flatMap { Rate(argument: $0) } ?? ProgramDefaults.rate
                let linger = String(Int(ProgramDefaults.lingerSeconds))
                arguments += ["--rate", String(rate.bitsPerSecond / 8), "--linger", linger]
                stdin = input
            } else {
                arguments += ["--timeout", "20", "--bytes", String(topology.traffic?.bytes ?? 0)]
                stdout = output
            }
        }
        return (arguments + (host.run.args ?? []), stdin, stdout)
    }

    /// Toggles a drop-everything rule on links with bursts, from one thread per link direction, until the run
    /// stops (bounded by the run's own bound).
    func startBursts() {
        for host in topology.hosts {
            for interface in host.interfaces {
                for (direction, loss) in [("in", interface.loss?.in), ("out", interface.loss?.out)] {
                    guard let loss, let every = loss.burstEvery, let length = loss.burstLength else { continue }
                    let network = self.network
                    let stopped = burstsStopped
                    let hostName = host.name
                    let interfaceName = interface.subnet
                    let thread = Thread {
                        while stopped.sleep(seconds: every) {
                            try? network.setBurst(
                                host: hostName, interface: interfaceName, direction: direction, on: true)
                            _ = stopped.sleep(seconds: length)
                            try? network.setBurst(
                                host: hostName, interface: interfaceName, direction: direction, on: false)
                        }
                    }
                    thread.start()
                    burstThreads.append(thread)
                }
            }
        }
    }

    /// Ends every process this run started, by PID: SIGTERM, then SIGKILL after a grace period.
    func stopEverything() {
        burstsStopped.stop()
        for thread in burstThreads { while thread.isExecuting { Thread.sleep(forTimeInterval: 0.01) } }
        for (_, process) in processes where process.isRunning { process.terminate() }
        for capture in captures where capture.process.isRunning { capture.process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline
            && (processes.contains { $0.process.isRunning } || captures.contains { $0.process.isRunning })
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        for (_, process) in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for capture in captures where capture.process.isRunning { kill(capture.process.processIdentifier, SIGKILL) }
        for (_, process) in processes { process.waitUntilExit() }
        for capture in captures { capture.process.waitUntilExit() }
    }

    /// Lets burst threads sleep in short steps and notice the end of the run.
    final class StopFlag: Sendable {
        private let stopped = Atomic<Bool>(false)

        func stop() { stopped.store(true, ordering: .relaxed) }

        /// Sleeps up to `seconds`; false if the run stopped meanwhile.
        func sleep(seconds: Double) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if stopped.load(ordering: .relaxed) { return false }
                Thread.sleep(forTimeInterval: min(0.01, max(0, end.timeIntervalSinceNow)))
            }
            return !stopped.load(ordering: .relaxed)
        }
    }

    static func writeRandomFile(path: String, bytes: Int) throws {
        var generator = SystemRandomNumberGenerator()
        var data = Data(capacity: bytes)
        var remaining = bytes
        while remaining > 0 {
            var word = generator.next()
            let count = min(8, remaining)
            withUnsafeBytes(of: &word) { data.append(contentsOf: $0.prefix(count)) }
            remaining -= count
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    static func sha256(_ path: String) throws -> String {
        let output = try Shell.run(["sha256sum", path])
        return String(output.prefix(64))
    }
}
