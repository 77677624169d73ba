import ArgumentParser
import Foundation
import PGMCommandLine
import PGMCore
import PGMSimulation
import Synchronization

/// Set by SIGINT/SIGTERM during a run; the run then stops its programs and removes its namespaces.
let interruption = Atomic<Bool>(false)

@main
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Bring PGM topologies up in network namespaces, run them, check them, take them down.",
        discussion: """
            Topologies are YAML files in Topologies/ (format: Topologies/README.md). Every namespace is named
            pgmlab-<id>-<host>, with a run id unique to the run, and is removed by name when the run ends, fails or
            is interrupted. Needs root (network namespaces, nftables, tcpdump).

            Examples:
              Tools/lab run basic              # the basic lab, UDP encapsulation, with its summary
              Tools/lab run tree --native      # native PGM (IP protocol 113)
              Tools/lab up dlr && Tools/lab list && Tools/lab down --all
              Tools/lab simulate tree --seed 7  # the same file in the deterministic simulator (no root)
              Tools/lab run bottleneck --rate 200M --arg src=--txw-secs --arg src=8  # other source options
              PGM_LAB_SCRATCH=.build-lab Tools/lab run shared-loss  # build and run from another build directory

            Each run prints a summary and writes it as report.json in its results directory: per host, per
            element (NAKs eliminated / received), per subnet from its capture (what pgm-dump --stats finds:
            lost sequences, RDATA per lost sequence, repair latency p50/p99/max), distinct lost sequences over
            all subnets, and the NAKs and RDATA they cost the source.

            Environment: PGM_LAB_BIN directory holding the programs (default: the release build; --binaries
            overrides it); PGM_LAB_SCRATCH build directory Tools/lab builds into and runs from (swift build
            --scratch-path, default .build); PGM_LAB_SKIP_BUILD=1 makes Tools/lab skip the build.

            Exit codes: 0 every check passed; 1 a check failed or the run did not finish; 64 bad usage or
            topology; 77 not root.
            """,
        subcommands: [Run.self, Simulate.self, Up.self, Down.self, List.self, Validate.self],
        defaultSubcommand: nil)

    struct TopologyOptions: ParsableArguments {
        @Argument(
            help:
                "A topology name in Topologies/ (basic, tree, dlr, shared-loss, openpgm, bottleneck, chat) or a path to a YAML file."
        )
        var topology: String

        @Flag(help: "Native PGM (IP protocol 113) instead of the topology's encapsulation.")
        var native = false

        @Flag(help: "UDP encapsulation instead of the topology's encapsulation.")
        var udp = false

        func load() throws -> LabTopology {
            let root = LabCommand.projectRoot
            let path =
                topology.contains("/") || topology.hasSuffix(".yaml") ? topology : "\(root)/Topologies/\(topology).yaml"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("no topology at \(path) (try: Tools/lab list)")
            }
            let decoded: LabTopology
            do {
                decoded = try LabTopology.parse(text)
            } catch {
                throw ValidationError("\(path): \(error)")
            }
            do {
                try decoded.validate()
            } catch {
                throw ValidationError(error.description)
            }
            return decoded
        }

        func encapsulation(of topology: Topology) throws -> Topology.Encapsulation {
            if native && udp { throw ValidationError("--native and --udp exclude each other") }
            if native { return .native }
            if udp { return .udp }
            return topology.encapsulation ?? .udp
        }
    }

    /// The package root: this tool is started as `Tools/lab`, which passes it.
    static var projectRoot: String {
        ProcessInfo.processInfo.environment["PGM_LAB_ROOT"] ?? FileManager.default.currentDirectoryPath
    }

    /// Where the programs are: `PGM_LAB_BIN` (Tools/lab sets it to the build it made), else the release build.
    static var defaultBinaries: String {
        ProcessInfo.processInfo.environment["PGM_LAB_BIN"] ?? "\(projectRoot)/.build/release"
    }

    static func requireRoot() throws {
        guard geteuid() == 0 else {
            FileHandle.standardError.write(
                Data("lab: needs root (network namespaces, veth, nftables, tcpdump); run it with sudo\n".utf8))
            throw ExitCode(77)
        }
    }

    static func say(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring a topology up, run it, check it, print its summary, take it down.")

        @OptionGroup var options: TopologyOptions

        @Option(help: "Directory for captures, logs and received files (default: /tmp/pgm-lab/<topology>-<id>).")
        var output: String?

        @Option(help: "Directory holding the programs (default: $PGM_LAB_BIN, else the release build).")
        var binaries: String?

        @Option(help: "The source's --rate instead of the topology's traffic.rate (e.g. 200M, 1G).")
        var rate: String?

        @Option(
            name: .customLong("arg"),
            help: ArgumentHelp(
                "HOST=ARGUMENT: one more argument for HOST's program, after the topology's own (repeatable).",
                discussion: "e.g. --arg src=--congestion-control --arg src=pgmcc"))
        var extraArguments: [String] = []

        @Option(
            name: .customLong("chat"),
            help: ArgumentHelp(
                "KEY=VALUE: overrides the topology's chat: block (repeatable): order, safe, messages, size, members, rate, interval, kill (HOST@SECONDS, first-in-view@SECONDS or none).",
                discussion: "e.g. --chat order=total-isis --chat safe=true --chat kill=m3@2"))
        var chatOverrides: [String] = []

        func run() throws {
            try LabCommand.requireRoot()
            var lab = try options.load()
            try Self.override(&lab.topology, rate: rate, arguments: extraArguments)
            try Self.override(&lab.topology, chat: chatOverrides)
            let topology = lab.topology
            let encapsulation = try options.encapsulation(of: topology)
            var network = LabNetwork(id: LabNetwork.newID(), topology: topology)
            installInterruptHandlers()
            LabCommand.say(
                "lab \(topology.name) (\(encapsulation.rawValue)): run \(network.id), bringing up \(topology.hosts.count) hosts on \(topology.subnets.count) subnets"
            )
            try network.up(lab, encapsulation: encapsulation, log: LabCommand.say)
            defer {
                network.down(log: LabCommand.say)
                LabCommand.say("lab \(topology.name): removed run \(network.id)")
            }
            let directory = output ?? "/tmp/pgm-lab/\(topology.name)-\(encapsulation.rawValue)-\(network.id)"
            let run = LabRun(
                lab: lab, network: network, encapsulation: encapsulation, directory: directory,
                binaries: binaries ?? LabCommand.defaultBinaries, log: LabCommand.say)
            let outcome = try run.run(interrupted: { interruption.load(ordering: .relaxed) })
            print(outcome.summary)
            if !outcome.passed { throw ExitCode(1) }
        }

        /// Applies `--chat KEY=VALUE` to the topology's `chat:` block, then validates the result again.
        static func override(_ topology: inout Topology, chat overrides: [String]) throws {
            guard !overrides.isEmpty else { return }
            guard var chat = topology.chat else { throw ValidationError("--chat: \(topology.name) has no chat: block") }
            for override in overrides {
                guard let equals = override.firstIndex(of: "=") else {
                    throw ValidationError("--chat \(override): use KEY=VALUE")
                }
                let key = override[..<equals]
                let value = String(override[override.index(after: equals)...])
                func number(_ text: String) throws -> Int {
                    guard let value = Int(text) else { throw ValidationError("--chat \(override): not a number") }
                    return value
                }
                switch key {
                case "order": chat.order = value
                case "safe":
                    guard let flag = Bool(value) else { throw ValidationError("--chat \(override): true or false") }
                    chat.safe = flag
                case "messages": chat.messages = try number(value)
                case "size": chat.size = try number(value)
                case "members": chat.members = try number(value)
                case "interval":
                    guard let seconds = Double(value) else { throw ValidationError("--chat \(override): seconds") }
                    chat.interval = seconds
                case "rate":
                    guard Rate(argument: value) != nil else { throw ValidationError("--chat \(override): not a rate") }
                    chat.rate = value
                case "kill":
                    if value == "none" {
                        chat.kill = nil
                    } else {
                        let parts = value.split(separator: "@")
                        guard parts.count == 2, let after = Double(parts[1]) else {
                            throw ValidationError("--chat \(override): use kill=HOST@SECONDS or kill=none")
                        }
                        chat.kill = .init(host: String(parts[0]), after: after)
                    }
                default:
                    throw ValidationError(
                        "--chat \(override): keys are order, safe, messages, size, members, rate, kill, interval")
                }
            }
            topology.chat = chat
            do {
                try topology.validate()
            } catch {
                throw ValidationError("after --chat: \(error.description)")
            }
        }

        /// Applies `--rate` and `--arg` to the topology before anything is created.
        static func override(_ topology: inout Topology, rate: String?, arguments: [String]) throws {
            if let rate {
                guard Rate(argument: rate) != nil else {
                    throw ValidationError("--rate \(rate): not a rate (e.g. 200M)")
                }
                if topology.chat != nil {
                    topology.chat?.rate = rate
                } else {
                    topology.traffic?.rate = rate
                }
            }
            for argument in arguments {
                guard let equals = argument.firstIndex(of: "="),
                    let index = topology.hosts.firstIndex(where: { $0.name == argument[..<equals] })
                else {
                    throw ValidationError("--arg \(argument): use HOST=ARGUMENT with a host of \(topology.name)")
                }
                topology.hosts[index].run.args =
                    (topology.hosts[index].run.args ?? []) + [
                        String(argument[argument.index(after: equals)...])
                    ]
            }
        }
    }

    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a topology in the deterministic simulator (virtual time, no root), with the same checks.")

        @OptionGroup var options: TopologyOptions

        @Option(help: "Seed of the simulated run (loss, back-off, data).")
        var seed: UInt64 = 1

        func run() throws {
            let lab = try options.load()
            let topology = lab.topology
            if topology.chat != nil {
                LabCommand.say(
                    "lab simulate: \(topology.name) is a chat topology: its pgm-chat members run only in the "
                        + "namespace lab (Tools/lab run \(options.topology)); the simulator runs one source's session")
                throw ExitCode(64)
            }
            if !lab.rateLimits.isEmpty || !lab.congestionChecks.isEmpty {
                // The simulator has no queueing link model yet: say what it leaves out rather than pass quietly.
                LabCommand.say(
                    "lab simulate \(topology.name): rate_limit and the congestion checks are namespace-lab only; "
                        + "simulating without them")
            }
            // Of hosts' `args` it takes FEC's (source --fec-*, receiver --no-fec, TopologyScenario.parity); the
            // rest (congestion control, timers) it leaves at the programs' defaults. Say so rather than pass quietly.
            let modelled: Set<String> = ["--fec-group-size", "--fec-proactive", "--fec-on-demand", "--no-fec"]
            let withArguments = topology.hosts.compactMap { host -> String? in
                var arguments = host.run.args ?? []
                for (index, argument) in arguments.enumerated().reversed() where modelled.contains(argument) {
                    let takesValue = argument == "--fec-group-size" || argument == "--fec-proactive"
                    arguments.removeSubrange(index..<min(arguments.count, index + (takesValue ? 2 : 1)))
                }
                return arguments.isEmpty ? nil : "\(host.name): \(arguments.joined(separator: " "))"
            }
            if !withArguments.isEmpty {
                LabCommand.say(
                    "lab simulate \(topology.name): these hosts' args are namespace-lab only, not passed to the "
                        + "simulator (it models the programs' defaults and FEC's options): "
                        + withArguments.joined(separator: "; "))
            }
            let encapsulation = try options.encapsulation(of: topology)
            var rate = ProgramDefaults.rate
            if let text = topology.traffic?.rate {
                guard let parsed = Rate(argument: text) else {
                    throw ValidationError("\(topology.name): bad traffic.rate \(text)")
                }
                rate = parsed
            }
            let scenario: TopologyScenario
            do {
                scenario = try TopologyScenario(
                    topology, options: .init(programDefaultsIn: encapsulation, seed: seed, rate: rate))
            } catch {
                throw ValidationError(error.description)
            }
            let clock = ContinuousClock()
            let start = clock.now
            let outcome = scenario.run()
            let wall = clock.now - start
            print(
                SimulationReport.format(
                    outcome, topology: topology, encapsulation: encapsulation, seed: seed, wall: wall))
            if !outcome.passed { throw ExitCode(1) }
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a topology's namespaces, links, routes and loss, and leave them up.")

        @OptionGroup var options: TopologyOptions

        func run() throws {
            try LabCommand.requireRoot()
            let lab = try options.load()
            let topology = lab.topology
            var network = LabNetwork(id: LabNetwork.newID(), topology: topology)
            try network.up(lab, encapsulation: try options.encapsulation(of: topology), log: LabCommand.say)
            print("lab \(topology.name) up as run \(network.id):")
            for host in topology.hosts {
                print(
                    "  ip netns exec \(network.hostNamespaces[host.name]!) …   # \(host.name): \(host.run.program.rawValue)"
                )
            }
            print("take it down with: Tools/lab down \(network.id)")
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove labs brought up by `up` (by run id, or all of them).")

        @Argument(help: "Run ids, as `list` shows them.")
        var ids: [String] = []

        @Flag(help: "Remove every lab that `up` recorded.")
        var all = false

        func run() throws {
            try LabCommand.requireRoot()
            guard all || !ids.isEmpty else { throw ValidationError("name run ids, or --all") }
            var labs = LabNetwork.loadAll().filter { all || ids.contains($0.id) }
            for missing in ids where !labs.contains(where: { $0.id == missing }) {
                LabCommand.say("lab: no run \(missing)")
            }
            for index in labs.indices {
                labs[index].down(log: LabCommand.say)
                print("removed lab \(labs[index].topology) run \(labs[index].id)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the topologies shipped and the labs that are up.")

        func run() throws {
            let directory = "\(LabCommand.projectRoot)/Topologies"
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
                $0.hasSuffix(".yaml")
            }.sorted()
            print("topologies:")
            for file in files {
                let text = (try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)) ?? ""
                let topology = try? LabTopology.parse(text).topology
                print("  \(file.dropLast(5))\t\(topology?.description ?? "(does not parse)")")
            }
            let labs = LabNetwork.loadAll()
            print(labs.isEmpty ? "labs up: none" : "labs up:")
            for lab in labs {
                print("  \(lab.id)\t\(lab.topology)\t\(lab.created.count) namespaces")
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and check a topology without creating anything.")

        @OptionGroup var options: TopologyOptions

        func run() throws {
            let lab = try options.load()
            let topology = lab.topology
            let limits = lab.rateLimits.isEmpty ? "" : ", \(lab.rateLimits.count) rate limits"
            print(
                "\(topology.name): \(topology.hosts.count) hosts, \(topology.subnets.count) subnets\(limits), \(topology.checks.count + lab.congestionChecks.count) checks: valid"
            )
        }
    }
}

/// SIGINT/SIGTERM during a run set ``interruption``; the run loop notices, stops its programs and tears down.
func installInterruptHandlers() {
    signal(SIGINT) { _ in interruption.store(true, ordering: .relaxed) }
    signal(SIGTERM) { _ in interruption.store(true, ordering: .relaxed) }
}
