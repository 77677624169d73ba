public import ArgumentParser
import Logging
import PGMCore
import PGMSockets
import PGMWire

/// `pgm-ne`: a PGM network element (RFC 3208 §7) on a host between subnets.
public struct NetworkElementCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pgm-ne",
        abstract: "Run a PGM network element: forward, NAK elimination, NCFs, constrained repairs, DLR redirection.",
        discussion: """
            Joins --group on every interface and forwards the session itself from the --upstream interface to \
            the --downstream ones (no kernel multicast routing needed): SPMs with their path rewritten to this \
            host's address on each interface, ODATA everywhere below, RDATA only where a NAK asked for it. NAKs \
            from below are confirmed at once with an NCF and forwarded upstream once per sequence; NAKs are \
            redirected to a designated local repairer when one announces itself; the worst OPT_CR loss report \
            is carried upstream. Loss above the element (ODATA it never saw) is asked for by the element itself, \
            confirmed below so that receivers do not NAK it, and repaired on every downstream interface; a \
            repair that already passed answers late NAKs from a kept copy. Unicast between subnets (NAKs, \
            SPMRs) is left to the kernel's routing. Runs until SIGINT or SIGTERM, printing every --interval \
            seconds (none with --quiet) the data it forwarded (payload bytes, ODATA and RDATA packets) and its \
            NAK counters.

            Each session is bound to its path: the interface its SPMs arrive on, their source address and their \
            path address. Data, SPMs, NCFs and POLLs of the session from other addresses are dropped and counted \
            (JSON "off_path_dropped"), with a warning at most once a second per session, except RDATA and NCFs \
            from the DLR a redirecting POLR named. The path moves after three SPMs in a row from the new one \
            while the old one has been silent for 3 s (twice its longest SPM gap if longer). SPMs without a \
            window are forwarded but teach no window; OPT_NBR_UNREACH from the parent holds NAKs until a regular \
            SPM. Repair state per session never exceeds the source's advertised window, and a lead jump beyond \
            it counts only once three packets claim it (Docs/integrity.md).

            With --key FILE the element drops every packet without a valid OPT_AUTH tag under that key (counted \
            in the statistics) and signs what it forwards and sends (its NCFs, SPMRs, POLLs). Without --key it \
            forwards keyed traffic unchanged, but keyed receivers drop its own packets (Docs/key.md).

            Examples:
              pgm-ne --upstream eth0 --downstream eth1 --downstream eth2
              pgm-ne --upstream 198.18.1.1 --downstream 198.18.2.1 --native --group 239.192.0.7 --json

            Exit codes:
              0   stopped by SIGINT/SIGTERM
              1   runtime failure
              64  usage error (also: one interface named twice, by name or address; a --key shorter than 16 bytes)
              66  the --key file cannot be read
              69  an interface or the group is unavailable, or an interface is down or does not do multicast
              77  --native without root or CAP_NET_RAW
            """,
        version: ProgramVersion.current)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions
    @OptionGroup public var key: KeyOptions

    @ArgumentParser.Option(
        help: ArgumentHelp("Interface towards the source, by name or IPv4 address.", valueName: "interface"),
        completion: .interface)
    public var upstream: String

    @ArgumentParser.Option(
        help: ArgumentHelp("Interface towards receivers (repeat for each).", valueName: "interface"),
        completion: .interface)
    public var downstream: [String] = []

    /// Off by default: an element at a fixed point of the tree takes no session from below (a spoofed source
    /// downstream cannot draw repairs from above). A group whose members all send needs it on.
    @Flag(
        name: .customLong("per-session-upstream"),
        help: ArgumentHelp(
            "Take each session's upstream from the interface its SPMs arrive on (RFC 3208 §7.1) instead of --upstream: sources on every side of this element, as pgm-chat members are."
        ))
    public var perSessionUpstream = false

    @ArgumentParser.Option(
        name: .customLong("nak-rpt-ivl"),
        help: ArgumentHelp(
            "NAK_RPT_IVL: seconds to repeat a forwarded NAK until an NCF confirms it.", valueName: "seconds"))
    public var nakRepeatInterval: Double = ProgramDefaults.elementNAKRepeatIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("nak-rdata-ivl"),
        help: ArgumentHelp("NAK_RDATA_IVL: seconds repair state waits for RDATA after an NCF.", valueName: "seconds"))
    public var nakRdataInterval: Double = ProgramDefaults.elementNAKRdataIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("nak-elim-ivl"),
        help: ArgumentHelp(
            "NAK_ELIM_IVL: seconds duplicates of a confirmed NAK are discarded (default: a tenth of --nak-rdata-ivl; at most half of it).",
            valueName: "seconds"))
    public var nakEliminationInterval: Double?

    @ArgumentParser.Option(
        name: .customLong("nak-rpt-rte"),
        help: ArgumentHelp(
            "NAK_RPT_RTE: repeats per second of a forwarded NAK without NCF (default: 8 per --nak-rpt-ivl).",
            valueName: "per-second"))
    public var nakRepeatRate: Double?

    @ArgumentParser.Option(
        name: .customLong("loss-detection-backoff"),
        help: ArgumentHelp(
            "Seconds (random, up to this) the element waits before asking for ODATA it missed itself; 0 leaves such loss to receivers.",
            valueName: "seconds"))
    public var lossDetectionBackoff: Double = ProgramDefaults.lossDetectionBackoffSeconds

    @ArgumentParser.Option(
        name: .customLong("max-sessions"),
        help: ArgumentHelp("Most sessions (TSIs) kept; more are dropped and counted.", valueName: "count"))
    public var maximumSessions = ProgramDefaults.maximumSessions

    public mutating func validate() throws {
        guard !downstream.isEmpty else { throw ValidationError("name at least one --downstream interface") }
        guard network.interface == nil else {
            throw ValidationError("pgm-ne takes --upstream and --downstream instead of --interface")
        }
        var named: [String: String] = [:]
        for (option, name) in [("--upstream", upstream)] + downstream.map({ ("--downstream", $0) }) {
            if let earlier = named[name] {
                throw ValidationError(
                    "\(option) \(name) names the same interface as \(earlier) \(name): name each once")
            }
            named[name] = option
        }
        for (name, value) in [("--nak-rpt-ivl", nakRepeatInterval), ("--nak-rdata-ivl", nakRdataInterval)] {
            guard value >= 0.001, value <= 60 else { throw ValidationError("\(name) must be in [0.001, 60]") }
        }
        guard maximumSessions > 0 else { throw ValidationError("--max-sessions must be positive") }
        if let value = nakEliminationInterval, !(value > 0 && value <= 60) {
            throw ValidationError("--nak-elim-ivl must be in (0, 60]")
        }
        if let value = nakRepeatRate, !(value >= 0.01 && value <= 1000) {
            throw ValidationError("--nak-rpt-rte must be in [0.01, 1000] per second")
        }
        guard lossDetectionBackoff >= 0, lossDetectionBackoff <= 1 else {
            throw ValidationError("--loss-detection-backoff must be in [0, 1]")
        }
        do {
            try elementConfiguration(addresses: [.ipv4(IPv4Address(198, 18, 0, 1)), .ipv4(IPv4Address(198, 18, 1, 1))])
                .validate()
        } catch {
            throw ValidationError(
                "\(error) (--nak-rpt-ivl, --nak-rdata-ivl, --nak-elim-ivl, --nak-rpt-rte, --loss-detection-backoff)")
        }
    }

    /// The engine's configuration from the options, for interfaces with these addresses (upstream first).
    func elementConfiguration(addresses: [NLA]) -> NetworkElement.Configuration {
        var configuration = NetworkElement.Configuration(
            interfaces: addresses.enumerated().map {
                NetworkElement.Interface(id: InterfaceID($0.offset), address: $0.element)
            },
            upstream: perSessionUpstream ? nil : InterfaceID(0))
        configuration.nakRepeatInterval = .seconds(nakRepeatInterval)
        configuration.nakRdataInterval = .seconds(nakRdataInterval)
        if let nakEliminationInterval { configuration.nakEliminationInterval = .seconds(nakEliminationInterval) }
        if let nakRepeatRate { configuration.nakRepeatPeriod = .seconds(1 / nakRepeatRate) }
        configuration.lossDetectionBackoff = lossDetectionBackoff > 0 ? .seconds(lossDetectionBackoff) : nil
        configuration.maximumSessions = maximumSessions
        return configuration
    }

    public func run() throws {
        try runReportingFailure("pgm-ne", json: output.json) { try execute() }
    }

    /// Finds every interface (by name or address), upstream first: one that is missing, down or without
    /// multicast fails with 69, and one named twice, even once by name and once by address (`--upstream
    /// 127.0.0.1 --downstream lo`), is a usage error that names both.
    static func resolve(
        upstream: String, downstream: [String],
        lookup: (String) throws(NetworkConfigurationError) -> NetworkInterface =
            NetworkInterface.named
    ) throws(CommandFailure) -> [NetworkInterface] {
        var interfaces: [NetworkInterface] = []
        let named = [("--upstream", upstream)] + downstream.map { ("--downstream", $0) }
        for (option, name) in named {
            let interface: NetworkInterface
            do {
                interface = try lookup(name)
                try interface.checkUsable()
            } catch {
                throw CommandFailure(.unavailable, "\(option) \(name): \(error)")
            }
            if let index = interfaces.firstIndex(where: { $0.name == interface.name }) {
                throw CommandFailure(
                    .usage,
                    "\(option) \(name) is \(interface), the same interface as \(named[index].0) \(named[index].1): "
                        + "name each interface once")
            }
            interfaces.append(interface)
        }
        return interfaces
    }

    func execute() throws -> PGMExitCode {
        _ = StandardDescriptors.guardClosed()
        let logger = logging.makeLogger(label: "pgm-ne", json: output.json)
        let authenticator = try key.loadAuthenticator()
        let interfaces = try Self.resolve(upstream: upstream, downstream: downstream)
        var sockets: [InterfaceSockets] = []
        for (index, interface) in interfaces.enumerated() {
            do {
                sockets.append(
                    try InterfaceSockets(
                        InterfaceSockets.Configuration(
                            id: InterfaceID(index), interface: interface, group: network.groupAddress,
                            encapsulation: network.encapsulation, ttl: network.ttl,
                            multicastLoop: network.multicastLoop,
                            joinGroup: true, listenUnicast: true)))
            } catch {
                throw CommandFailure(error)
            }
        }

        var generator = SystemRandomNumberGenerator()
        var configuration = elementConfiguration(addresses: interfaces.map { .ipv4($0.address) })
        configuration.seed = generator.next()

        let printer = StatisticsPrinter(output)
        let driver = try Driver(
            engine: NetworkElement(configuration: configuration), sockets: sockets, handleSignals: true, logger: logger)
        key.install(authenticator, on: driver, printer: printer)
        printer.print(
            .element(
                .started(
                    group: "\(network.groupAddress)", port: network.port, upstream: "\(interfaces[0])",
                    upstreamName: interfaces[0].name, downstream: interfaces.dropFirst().map(\.description),
                    downstreamNames: interfaces.dropFirst().map(\.name),
                    transport: network.native ? "native" : "UDP port \(network.udpPort)")))

        var program = ElementProgram(interfaceNames: interfaces.map(\.name))
        driver.onSignal = { _, _, _ in program.signalled() }
        var decisions = DecisionLog()
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() { printer.perform(program.handle(event), logger: logger) }
            if logger.logLevel <= .debug, let line = decisions.line("repairs", engine.statistics.decisions, at: now) {
                logger.debug("\(line)")
            }
            printer.tick(at: now) { ElementProgram.sample(engine) }
            return program.isStopped ? .stop : .proceed
        }
        try driver.run()
        printer.finish(at: driver.now, ElementProgram.sample(driver.engine))
        return program.exitCode
    }
}

/// Entry point for the `pgm-ne` executable, so that it needs no import but PGMCommandLine.
public enum PGMNetworkElement {
    public static func main() -> Never { ProgramEntry.main(NetworkElementCommand.self) }
}
