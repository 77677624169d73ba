public import ArgumentParser
internal import Glibc
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

            Examples:
              pgm-ne --upstream eth0 --downstream eth1 --downstream eth2
              pgm-ne --upstream 198.18.1.1 --downstream 198.18.2.1 --native --group 239.192.0.7 --json

            Exit codes:
              0   stopped by SIGINT/SIGTERM
              1   runtime failure
              64  usage error
              69  an interface or the group is unavailable
              77  --native without root or CAP_NET_RAW
            """)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions

    @ArgumentParser.Option(help: ArgumentHelp("Interface towards the source, by name or IPv4 address.", valueName: "interface"))
    public var upstream: String

    @ArgumentParser.Option(help: ArgumentHelp("Interface towards receivers (repeat for each).", valueName: "interface"))
    public var downstream: [String] = []

    @ArgumentParser.Option(
        name: .customLong("nak-rpt-ivl"),
        help: ArgumentHelp("NAK_RPT_IVL: seconds to repeat a forwarded NAK until an NCF confirms it.", valueName: "seconds"))
    public var nakRepeatInterval: Double = 2

    @ArgumentParser.Option(
        name: .customLong("nak-rdata-ivl"),
        help: ArgumentHelp("NAK_RDATA_IVL: seconds repair state waits for RDATA after an NCF.", valueName: "seconds"))
    public var nakRdataInterval: Double = 2

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
    public var lossDetectionBackoff: Double = 0.002

    @ArgumentParser.Option(
        name: .customLong("max-sessions"), help: ArgumentHelp("Most sessions (TSIs) kept; more are dropped and counted.", valueName: "count"))
    public var maximumSessions = 1024

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
            throw ValidationError("\(error) (--nak-rpt-ivl, --nak-rdata-ivl, --nak-elim-ivl, --nak-rpt-rte, --loss-detection-backoff)")
        }
    }

    /// The engine's configuration from the options, for interfaces with these addresses (upstream first).
    func elementConfiguration(addresses: [NLA]) -> NetworkElement.Configuration {
        var configuration = NetworkElement.Configuration(
            interfaces: addresses.enumerated().map { NetworkElement.Interface(id: InterfaceID($0.offset), address: $0.element) },
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
                            encapsulation: network.encapsulation, ttl: network.ttl, multicastLoop: network.multicastLoop,
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
        printer.note(
            "pgm-ne: \(network.groupAddress):\(network.port) upstream \(interfaces[0]), downstream "
                + interfaces.dropFirst().map(\.description).joined(separator: ", ")
                + ", \(network.native ? "native" : "UDP port \(network.udpPort)")",
            json: ["type": "start", "group": "\(network.groupAddress)", "upstream": interfaces[0].name,
                   "downstream": interfaces.dropFirst().map(\.name).joined(separator: ",")])

        var stopped = false
        driver.onSignal = { _, _, _ in stopped = true }
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() {
                let (text, object) = Self.describe(event, interfaces: interfaces)
                printer.note("pgm-ne: " + text, json: object)
            }
            printer.tick(at: now) { Self.sample(engine) }
            return stopped ? .stop : .proceed
        }
        try driver.run()
        printer.finish(at: driver.now, Self.sample(driver.engine))
        return .success
    }

    static func describe(_ event: NetworkElement.Event, interfaces: [NetworkInterface]) -> (String, [String: String]) {
        func name(_ id: InterfaceID) -> String { interfaces.indices.contains(id.rawValue) ? interfaces[id.rawValue].name : "\(id)" }
        switch event {
        case .sessionLearned(let tsi, let upstream, let neighbor):
            return ("session \(tsi) upstream \(neighbor) on \(name(upstream))",
                    ["type": "session", "tsi": "\(tsi)", "upstream": name(upstream), "neighbor": "\(neighbor)"])
        case .upstreamChanged(let tsi, let upstream, let neighbor):
            return ("session \(tsi) moved upstream to \(neighbor) on \(name(upstream))",
                    ["type": "upstream_changed", "tsi": "\(tsi)", "upstream": name(upstream), "neighbor": "\(neighbor)"])
        case .sessionExpired(let tsi):
            return ("session \(tsi) expired", ["type": "session_expired", "tsi": "\(tsi)"])
        case .repairerLearned(let tsi, let address, let interface):
            return ("session \(tsi): NAKs now go to the DLR \(address) on \(name(interface))",
                    ["type": "dlr", "tsi": "\(tsi)", "address": "\(address)", "interface": name(interface)])
        case .repairerDropped(let tsi, let address):
            return ("session \(tsi): DLR \(address) dropped, NAKs go upstream",
                    ["type": "dlr_dropped", "tsi": "\(tsi)", "address": "\(address)"])
        }
    }

    static func sample(_ engine: NetworkElement) -> StatisticsSample {
        let statistics = engine.statistics
        var sample = StatisticsSample(role: "network_element")
        sample.packets = statistics.packetsReceived
        sample.naks = statistics.naksReceived
        sample.ncfs = statistics.ncfsSent
        sample.repairs = statistics.rdataForwarded
        sample.element = ElementCounters(statistics, sessions: engine.sessionCount)
        return sample
    }
}

/// Entry point for the `pgm-ne` executable, so that it needs no import but PGMCommandLine.
public enum PGMNetworkElement {
    public static func main() { NetworkElementCommand.main() }
}

/// The element's counters in its statistics lines (`"element": {...}` with `--json`): what the lab and an
/// operator read to see NAK elimination and constrained repairs at work.
public struct ElementCounters: Encodable, Sendable {
    public var sessions: Int
    public var spmsForwarded: Int
    public var odataForwarded: Int
    public var rdataForwarded: Int
    public var rdataCopiesSent: Int
    public var rdataWithoutRepairStateDropped: Int
    public var naksReceived: Int
    public var naksEliminated: Int
    public var naksForwarded: Int
    public var nakSequencesForwarded: Int
    public var naksRedirected: Int
    public var ncfsSent: Int
    public var ncfsReceived: Int
    public var spmrsReceived: Int
    public var repairersLearned: Int
    /// Sequences missing from the ODATA the element forwarded (loss above it), which it asked for itself.
    public var lossesDetected: Int
    /// Those asked for again because the repair did not arrive within a repair round trip.
    public var repairRetries: Int
    /// Forwarded NAK sequences repeated at NAK_RPT_RTE for want of an NCF.
    public var nakRepeats: Int
    /// NAKed sequences answered from a kept copy of a repair that had already passed, and the copies sent.
    public var nakSequencesAnsweredFromCopies: Int
    public var repairsResentFromCopies: Int
    public var dropped: Int
    /// The worst receiver loss reported with OPT_CR over all sessions (0…1), and who reported it.
    public var worstLossRate: Double
    public var worstReceiver: String?

    init(_ statistics: NetworkElement.Statistics, sessions: Int) {
        self.sessions = sessions
        spmsForwarded = statistics.spmsForwarded
        odataForwarded = statistics.odataForwarded
        rdataForwarded = statistics.rdataForwarded
        rdataCopiesSent = statistics.rdataCopiesSent
        rdataWithoutRepairStateDropped = statistics.rdataWithoutRepairStateDropped
        naksReceived = statistics.naksReceived
        naksEliminated = statistics.naksEliminated
        naksForwarded = statistics.naksForwarded
        nakSequencesForwarded = statistics.nakSequencesForwarded
        naksRedirected = statistics.naksRedirected
        ncfsSent = statistics.ncfsSent
        ncfsReceived = statistics.ncfsReceived
        spmrsReceived = statistics.spmrsReceived
        repairersLearned = statistics.repairersLearned
        lossesDetected = statistics.lossesDetected
        repairRetries = statistics.repairRetries
        nakRepeats = statistics.nakRepeats
        nakSequencesAnsweredFromCopies = statistics.nakSequencesAnsweredFromCopies
        repairsResentFromCopies = statistics.repairsResentFromCopies
        dropped = statistics.foreignPacketsDropped + statistics.packetsDiscardedByOption + statistics.sessionsRejected
            + statistics.spmsStaleDropped + statistics.spmsFromDownstreamDropped + statistics.odataDropped
            + statistics.rdataWithoutRepairStateDropped + statistics.rdataMisroutedDropped
            + statistics.naksWithoutSessionDropped + statistics.naksMisroutedDropped + statistics.naksMisaddressedDropped
            + statistics.naksOutsideWindowDropped + statistics.parityNAKsDropped + statistics.repairStatesRejected
            + statistics.ncfsFromDownstreamDropped + statistics.ncfsMisaddressedDropped + statistics.nnaksDropped
            + statistics.spmrsDropped + statistics.polrsDropped
        let worst = statistics.worstCongestionReports.values.max { $0.receiverWorstPath < $1.receiverWorstPath }
        worstLossRate = Double(worst?.receiverWorstPath ?? 0) / Double(UInt16.max)
        worstReceiver = worst.map { "\($0.worstReceiver)" }
    }
}
