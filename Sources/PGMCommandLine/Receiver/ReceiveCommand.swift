public import ArgumentParser
internal import Glibc
import Logging
public import PGM
import PGMAuthentication
import PGMCore
import PGMSockets
public import PGMWire

/// `pgm-recv`: joins a PGM session and writes what it delivers, in order, to stdout or a file.
public struct ReceiveCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pgm-recv",
        abstract: "Receive a PGM (RFC 3208) session and write its data to standard output or a file.",
        discussion: """
            Joins --group on --interface, NAKs for what is lost, and writes the delivered bytes in order. With \
            several sources it keeps the first one seen, or the one --tsi names, and reports the others on \
            stderr. It exits when the source closes the session (OPT_FIN) and everything before it was \
            delivered or declared lost. Data that cannot be recovered is named on stderr with its place in the \
            output ("unrecoverable: 3 packets missing from the output (sequences 10–12 at output byte 4,194,304): \
            the source moved its window past them"), at most one line a second, and in all after the summary \
            (with --json, every range). Statistics go to stderr every --interval seconds (none with --quiet): \
            bytes, rate, NAKs, repairs, and loss: data packets whose first transmission did not arrive (repaired \
            or not) over those expected, since the start; "avg" is the moving average the source is told \
            (OPT_CR). The summary's rate counts the data phase only (first byte to last).

            A session that ends without OPT_FIN was cut short, and pgm-recv says so and exits 4, keeping what \
            arrived: its source reset it (OPT_RST, e.g. pgm-source interrupted by SIGINT), or it went silent \
            for --peer-expiry seconds (a source killed). If another session is already on the group (a \
            restarted source), pgm-recv follows it instead, from its start (one already seen, whose data \
            meanwhile was kept up to 64 MiB), after what was written ("following session", JSON type "follow", \
            with the output byte it starts at), and still exits 4 at the end; with --tsi only that session is \
            taken. With --follow it waits for the next session after any end, OPT_FIN included, until \
            SIGINT/SIGTERM or --timeout.

            --output is created (or truncated) when the first data arrives, or at the end of an empty transfer \
            that closed normally: a run that receives nothing leaves an existing file as it was. - means standard \
            output. The receive window holds up to 64 MiB of one session's data waiting for repairs (more is \
            declared lost), and a DLR's repair cache --dlr-cache bytes (K, M, G, Ki, Mi, Gi suffixes).

            Joining a session already under way, it says so on stderr ("joined session ... mid-stream", JSON \
            type "joined" with "late": true) with the sequence number it delivers from: the output then starts \
            with the first whole message at or after it.

            A session belongs to its path: the address its SPMs come from (the source, or the network element \
            above) and their path address. Data, SPMs, NCFs and POLLs for it from any other host are dropped \
            and counted ("off-path" in the statistics, JSON "off_path_packets"), with a warning on stderr at \
            most once a second ("off_path"); the path moves only after three SPMs in a row from the new one \
            while the old one has been silent for 3 s (twice its longest SPM gap if longer). SPMs without a \
            window (RFC 3208 §8.1, §15.3.2) never move the receive window, a lead jumping further than the \
            source's window waits for data to confirm it, and NAKs never exceed --nak-rate. Without a key, a \
            host that forges the source's own address can still disturb the session (Docs/integrity.md).

            With --key FILE every packet must carry a valid OPT_AUTH tag under that key: packets without one, \
            with another key's or a forged one, and replayed SPMs are dropped before the receiver sees them, \
            counted in the statistics ("authentication" in JSON) and reported on stderr; NAKs and SPMRs are \
            signed. Give the source and every element the same file (Docs/key.md).

            Examples:
              pgm-recv --interface eth0 --output big.iso
              pgm-recv --interface lo --multicast-loop --group 239.192.0.7 --timeout 10 | tar x
              pgm-recv --interface eth0 --follow --peer-expiry 10 >> feed.log

            Exit codes:
              0   the source closed the session (OPT_FIN) and every byte was delivered
              1   runtime failure (the output cannot be created or written, standard output is closed), or \
            --timeout seconds passed without data
              3   some data was unrecoverable (what could be delivered was written; the ranges are on stderr)
              4   the session was cut short: reset by its source (OPT_RST) or silent for --peer-expiry without \
            OPT_FIN (what arrived was written; 3 wins when data was also unrecoverable)
              64  usage error (also a --key shorter than 16 bytes)
              66  the --key file cannot be read
              69  the interface or group is unavailable, or the interface is down or does not do multicast
              77  --native without root or CAP_NET_RAW
              130 interrupted by SIGINT (143 for SIGTERM), whatever arrived was written
            """,
        version: ProgramVersion.current)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions
    @OptionGroup public var key: KeyOptions

    @ArgumentParser.Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp(
            "Write the data to this file (created on the first data; - is standard output).", valueName: "file"),
        completion: .file())
    public var outputFile: String?

    @ArgumentParser.Option(
        help: ArgumentHelp("Take only this session, as GSI.PORT (e.g. c6:12:00:01:ab:cd.4000).", valueName: "tsi"))
    public var tsi: TSIArgument?

    @ArgumentParser.Option(
        help: ArgumentHelp("Fail (exit 1) after this many seconds without data.", valueName: "seconds"))
    public var timeout: Double?

    @Flag(help: "Go on with the next session after one closes (OPT_FIN), and wait for one when none is there.")
    public var follow = false

    @Flag(
        name: .customLong("no-fec"),
        help: """
            Ignore the FEC a source offers (RFC 3208 Appendix A): no decoding from parity, and NAKs by sequence \
            instead of parity NAKs by count.
            """)
    public var noFEC = false

    @ArgumentParser.Option(
        name: .customLong("peer-expiry"),
        help: ArgumentHelp("Seconds of silence after which a session has ended without OPT_FIN.", valueName: "seconds"))
    public var peerExpiry: Double = ProgramDefaults.peerExpirySeconds

    @Flag(
        help: """
            Also be a designated local repairer (RFC 3208 §9.5): keep a repair cache and answer the network \
            element's DLR polls, so NAKs from nearby subnets are repaired here instead of by the source.
            """)
    public var dlr = false

    @ArgumentParser.Option(
        name: .customLong("dlr-cache"),
        help: ArgumentHelp(
            "Bytes of the stream a DLR keeps for repairs (K, M, G, Ki, Mi, Gi). (default: 32Mi)", valueName: "bytes"),
        transform: ByteCount.argument)
    public var dlrCacheBytes = ProgramDefaults.dlrCacheBytes

    @ArgumentParser.Option(
        name: .customLong("dlr-linger"),
        help: ArgumentHelp("Seconds a DLR keeps serving repairs after the session closed.", valueName: "seconds"))
    public var dlrLinger: Double = ProgramDefaults.dlrLingerSeconds

    @ArgumentParser.Option(
        name: .customLong("nak-rpt-ivl"),
        help: ArgumentHelp("NAK_RPT_IVL: seconds to wait for an NCF before NAKing again.", valueName: "seconds"))
    public var nakRepeatInterval: Double = ProgramDefaults.receiverNAKRepeatIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("nak-rdata-ivl"),
        help: ArgumentHelp(
            "NAK_RDATA_IVL: seconds to wait for RDATA after an NCF before NAKing again.", valueName: "seconds"))
    public var nakRdataInterval: Double = ProgramDefaults.receiverNAKRdataIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("nak-bo-ivl"),
        help: ArgumentHelp(
            "NAK_BO_IVL: the most seconds a NAK waits at random, so one NCF suppresses other receivers' NAKs.",
            valueName: "seconds"))
    public var nakBackoffInterval: Double = ProgramDefaults.receiverNAKBackoffIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("nak-rate"),
        help: ArgumentHelp(
            "The most NAK packets per second per session (each names up to 63 sequences), in bursts of a fifth of "
                + "it; 0 is no limit. Whatever packets claim, NAKs never go faster.", valueName: "packets"))
    public var nakRate = Receiver.NAKRateLimit.standard.packetsPerSecond

    public mutating func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= 604_800) {
            throw ValidationError("--timeout must be in (0, 604800] (a week)")
        }
        guard peerExpiry >= 0.1, peerExpiry <= 86_400 else {
            throw ValidationError("--peer-expiry must be in [0.1, 86400]")
        }
        guard dlrLinger >= 0, dlrLinger <= 3600 else { throw ValidationError("--dlr-linger must be in [0, 3600]") }
        guard dlrCacheBytes >= 65536 else { throw ValidationError("--dlr-cache must be at least 65536 bytes") }
        for (name, value) in [
            ("--nak-rpt-ivl", nakRepeatInterval), ("--nak-rdata-ivl", nakRdataInterval),
            ("--nak-bo-ivl", nakBackoffInterval),
        ] {
            guard value >= 0.001, value <= 60 else { throw ValidationError("\(name) must be in [0.001, 60]") }
        }
        guard nakRate >= 0, nakRate <= 10_000_000 else { throw ValidationError("--nak-rate must be in [0, 10000000]") }
    }

    /// The session as the library takes it: pgm-recv runs the engine ``PGMReceiver`` runs, from the same value.
    public var sessionOptions: PGMOptions {
        var options = network.sessionOptions
        options.keyFile = key.keyFile
        options.receiveParity = !noFEC
        options.peerExpiry = .seconds(peerExpiry)
        options.nakRepeatInterval = .seconds(nakRepeatInterval)
        options.nakRdataInterval = .seconds(nakRdataInterval)
        options.nakBackoffInterval = .seconds(nakBackoffInterval)
        options.nakRate = nakRate
        return options
    }

    public func run() throws {
        try runReportingFailure("pgm-recv", json: output.json) { try execute() }
    }

    func execute() throws -> PGMExitCode {
        let standard = StandardDescriptors.guardClosed()
        let destination = OutputWriter.Destination(outputFile)
        switch destination {
        case .standardOutput where standard.outputClosed:
            throw CommandFailure(.failure, "standard output is closed: name a file with --output, or redirect it")
        case .file(let path):
            if let reason = OutputWriter.checkWritable(path) { throw CommandFailure(.failure, reason) }
        default:
            break
        }
        let logger = logging.makeLogger(label: "pgm-recv", json: output.json)
        let authenticator = try key.loadAuthenticator()
        signal(SIGPIPE, SIG_IGN)
        let interface = try network.resolveInterface()
        let options = sessionOptions
        let sockets: InterfaceSockets
        do {
            sockets = try options.openReceiverSockets(on: interface, repairer: dlr)
        } catch {
            throw CommandFailure(error)
        }
        let writer = OutputWriter(destination)

        var generator = SystemRandomNumberGenerator()
        let configuration = options.receiverConfiguration(address: interface.address, seed: generator.next())
        if dlr {
            var repairer = DesignatedLocalRepairer.Configuration(
                receiver: configuration, address: .ipv4(interface.address))
            repairer.cacheBytes = dlrCacheBytes
            return try receive(
                with: DesignatedLocalRepairer(configuration: repairer), role: .dlr, statistics: \.receiver.statistics,
                sockets: sockets, interface: interface, writer: writer, logger: logger,
                authenticator: authenticator)
        }
        return try receive(
            with: Receiver(configuration: configuration), role: .receiver, statistics: \.statistics, sockets: sockets,
            interface: interface, writer: writer, logger: logger, authenticator: authenticator)
    }

    /// Runs the driver around a receiver, or a DLR wrapping one, until ``ReceiverProgram`` says the run is over.
    /// - Parameter statistics: where the engine keeps the receiver's counters.
    func receive<E: Engine>(
        with engine: E, role: ReceiverProgram.Role, statistics: @escaping (E) -> Receiver.Statistics,
        sockets: InterfaceSockets, interface: NetworkInterface, writer: OutputWriter, logger: Logger,
        authenticator: HMACAuthenticator? = nil
    ) throws -> PGMExitCode where E.Event == Receiver.Event {
        let printer = StatisticsPrinter(output)
        let driver = try Driver(engine: engine, sockets: [sockets], handleSignals: true, logger: logger)
        key.install(authenticator, on: driver, printer: printer)
        printer.print(
            .receiver(
                .started(
                    group: "\(network.groupAddress)", port: network.port, interface: "\(interface)",
                    interfaceName: interface.name,
                    transport: network.native ? "native" : "UDP port \(network.udpPort)")))

        var program = ReceiverProgram(
            role: role, wanted: tsi?.value, follow: follow, timeout: timeout.map { .seconds($0) },
            dlrLinger: .seconds(dlrLinger), start: driver.now)
        driver.onSignal = { _, signal, _ in printer.perform(program.signalled(signal), logger: logger) }
        var decisions = DecisionLog()
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() {
                let outputs = program.handle(event, at: now) { bytes in writer.append(bytes) ? nil : writer.failure }
                if !outputs.isEmpty { printer.perform(outputs, logger: logger) }
            }
            if !writer.flush() { printer.perform(program.outputFailed(writer.failure), logger: logger) }
            printer.perform(program.turnEnded(at: now), logger: logger)
            if logger.logLevel <= .debug,
                let line = decisions.line("repairs", statistics(engine).decisions, at: now)
            {
                logger.debug("\(line)")
            }
            printer.tick(at: now) { program.sample(statistics(engine), at: now) }
            return program.isStopped ? .stop : .proceed
        }
        try driver.run()
        // An empty transfer that ended well still leaves its (empty) file.
        if program.exitCode == .success && !writer.createIfNeeded() {
            printer.perform(program.outputFailed(writer.failure), logger: logger)
        }
        printer.finish(at: driver.now, program.sample(statistics(driver.engine)))
        printer.perform(program.closingNotes, logger: logger)
        return program.exitCode
    }
}

/// `--tsi GSI.PORT`, as ``TSI/description`` prints it.
public struct TSIArgument: ExpressibleByArgument, Sendable {
    public var value: TSI

    public init?(argument: String) {
        let parts = argument.split(separator: ".")
        guard parts.count == 2, let port = UInt16(parts[1]), port != 0 else { return nil }
        let bytes = parts[0].split(separator: ":", omittingEmptySubsequences: false)
        guard bytes.count == 6 else { return nil }
        var raw: UInt64 = 0
        for byte in bytes {
            guard byte.count == 2, let value = UInt8(byte, radix: 16) else { return nil }
            raw = raw << 8 | UInt64(value)
        }
        value = TSI(gsi: GSI(rawValue: raw), sourcePort: port)
    }
}

/// Entry point for the `pgm-recv` executable, so that it needs no import but PGMCommandLine.
public enum PGMReceive {
    public static func main() -> Never { ProgramEntry.main(ReceiveCommand.self) }
}
