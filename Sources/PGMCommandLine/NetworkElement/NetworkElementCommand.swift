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
            SPMRs) is left to the kernel's routing. Runs until SIGINT or SIGTERM, printing its counters once a \
            second.

            With --key FILE the element drops every packet without a valid OPT_AUTH tag under that key (counted \
            in the statistics) and signs what it forwards and sends (its NCFs, SPMRs, POLLs). Without --key it \
            forwards keyed traffic unchanged, but keyed receivers drop its own packets (Docs/key.md).

            Examples:
              pgm-ne --upstream eth0 --downstream eth1 --downstream eth2
              pgm-ne --upstream 198.18.1.1 --downstream 198.18.2.1 --native --group 239.192.0.7 --json

            Exit codes:
              0   stopped by SIGINT/SIGTERM
              1   runtime failure
              64  usage error (also a --key shorter than 16 bytes)
              66  the --key file cannot be read
              69  an interface or the group is unavailable
              77  --native without root or CAP_NET_RAW
            """)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions
    @OptionGroup public var key: KeyOptions

    @ArgumentParser.Option(
        help: ArgumentHelp("Interface towards the source, by name or IPv4 address.", valueName: "interface"))
    public var upstream: String

    @ArgumentParser.Option(help: ArgumentHelp("Interface towards receivers (repeat for each).", valueName: "interface"))
    public var downstream: [String] = []

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
        guard Set([upstream] + downstream).count == downstream.count + 1 else {
            throw ValidationError("--upstream and --downstream must name different interfaces")
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
            upstream: InterfaceID(0))
        configuration.nakRepeatInterval = .seconds(nakRepeatInterval)
        configuration.nakRdataInterval = .seconds(nakRdataInterval)
        if let nakEliminationInterval { configuration.nakEliminationInterval = .seconds(nakEliminationInterval) }
        if let nakRepeatRate { configuration.nakRepeatPeriod = .seconds(1 / nakRepeatRate) }
        configuration.lossDetectionBackoff = lossDetectionBackoff > 0 ? .seconds(lossDetectionBackoff) : nil
        configuration.maximumSessions = maximumSessions
        return configuration
    }

    public func run() throws {
        try runReportingFailure("pgm-ne") { try execute() }
    }

    func execute() throws -> PGMExitCode {
        let logger = logging.makeLogger(label: "pgm-ne")
        let authenticator = try key.loadAuthenticator()
        let names = [upstream] + downstream
        var interfaces: [NetworkInterface] = []
        for name in names {
            do {
                interfaces.append(try NetworkInterface.named(name))
            } catch {
                throw CommandFailure(.unavailable, "\(error)")
            }
        }
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

        let printer = StatisticsPrinter(json: output.json)
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
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() { printer.perform(program.handle(event), logger: logger) }
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
    public static func main() { NetworkElementCommand.main() }
}
