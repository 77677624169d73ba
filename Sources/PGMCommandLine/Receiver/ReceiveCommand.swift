public import ArgumentParser
internal import Glibc
import Logging
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
            delivered or declared lost. Unrecoverable ranges are named on stderr as they happen; statistics go \
            to stderr once a second.

            Joining a session already under way, it says so on stderr ("joined session ... mid-stream", JSON \
            type "joined" with "late": "true") with the sequence number it delivers from: the output then \
            starts with the first whole message at or after it. When the session ends without OPT_FIN (the \
            source was killed or restarted: nothing heard for --peer-expiry seconds), pgm-recv follows the \
            next session on the group (one already seen, whose data meanwhile was kept up to 64 MiB, else the \
            next to appear, waiting as at start-up) and writes its data from its start after what was written \
            ("following session", JSON type "follow", with the output byte it starts at); with --tsi only that \
            session again. With --follow it does the same after a session closed with OPT_FIN, until \
            SIGINT/SIGTERM or --timeout.

            With --key FILE every packet must carry a valid OPT_AUTH tag under that key: packets without one, \
            with another key's or a forged one, and replayed SPMs are dropped before the receiver sees them, \
            counted in the statistics ("authentication" in JSON) and reported on stderr; NAKs and SPMRs are \
            signed. Give the source and every element the same file (Docs/key.md).

            Examples:
              pgm-recv --interface eth0 --output big.iso
              pgm-recv --interface lo --multicast-loop --group 239.192.0.7 --timeout 10 | tar x
              pgm-recv --interface eth0 --follow --peer-expiry 10 >> feed.log

            Exit codes:
              0   the source closed the session and every byte was delivered (also on SIGINT/SIGTERM without loss)
              1   runtime failure, or --timeout seconds passed without data
              3   some data was unrecoverable (what could be delivered was written; the ranges are on stderr)
              64  usage error (also a --key shorter than 16 bytes)
              66  the --key file cannot be read
              69  the interface or group is unavailable
              77  --native without root or CAP_NET_RAW
            """)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions
    @OptionGroup public var key: KeyOptions

    @ArgumentParser.Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp("Write the data to this file instead of standard output.", valueName: "file"))
    public var outputFile: String?

    @ArgumentParser.Option(
        help: ArgumentHelp("Take only this session, as GSI.PORT (e.g. c6:12:00:01:ab:cd.4000).", valueName: "tsi"))
    public var tsi: TSIArgument?

    @ArgumentParser.Option(
        help: ArgumentHelp("Fail (exit 1) after this many seconds without data.", valueName: "seconds"))
    public var timeout: Double?

    @Flag(help: "Go on with the next session after one closes (OPT_FIN), and wait for one when none is there.")
    public var follow = false

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
        help: ArgumentHelp("Bytes of the stream a DLR keeps for repairs.", valueName: "bytes"))
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

    public mutating func validate() throws {
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
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
    }

    public func run() throws {
        try runReportingFailure("pgm-recv") { try execute() }
    }

    func execute() throws -> PGMExitCode {
        let logger = logging.makeLogger(label: "pgm-recv")
        let authenticator = try key.loadAuthenticator()
        signal(SIGPIPE, SIG_IGN)
        let interface = try network.resolveInterface()
        // Natively, a plain receiver reads downstream packets, SPMRs and NAKs multicast by other receivers
        // (which suppress its own), and POLLs (which it answers). A DLR also repairs NAKs, so it reads everything.
        let sockets = try network.openSockets(
            on: interface, joinGroup: true, listenUnicast: dlr,
            nativeTypes: dlr ? nil : [.spm, .odata, .rdata, .ncf, .spmr, .nak, .poll])
        let outputDescriptor: Int32
        if let outputFile {
            outputDescriptor = open(outputFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard outputDescriptor >= 0 else {
                throw CommandFailure(.failure, "cannot create \(outputFile): \(String(cString: strerror(errno)))")
            }
        } else {
            outputDescriptor = 1
        }
        defer { if outputFile != nil { close(outputDescriptor) } }

        var generator = SystemRandomNumberGenerator()
        var configuration = Receiver.Configuration(
            dataDestinationPort: network.port, group: .ipv4(network.groupAddress))
        configuration.seed = generator.next()
        configuration.address = .ipv4(interface.address)
        configuration.nakRepeatInterval = .seconds(nakRepeatInterval)
        configuration.nakRdataInterval = .seconds(nakRdataInterval)
        configuration.nakBackoffInterval = .seconds(nakBackoffInterval)
        configuration.peerExpiry = .seconds(peerExpiry)
        if dlr {
            var repairer = DesignatedLocalRepairer.Configuration(
                receiver: configuration, address: .ipv4(interface.address))
            repairer.cacheBytes = dlrCacheBytes
            return try receive(
                with: DesignatedLocalRepairer(configuration: repairer), role: .dlr, statistics: \.receiver.statistics,
                sockets: sockets, interface: interface, output: outputDescriptor, logger: logger,
                authenticator: authenticator)
        }
        return try receive(
            with: Receiver(configuration: configuration), role: .receiver, statistics: \.statistics, sockets: sockets,
            interface: interface, output: outputDescriptor, logger: logger, authenticator: authenticator)
    }

    /// Runs the driver around a receiver, or a DLR wrapping one, until ``ReceiverProgram`` says the run is over.
    /// - Parameter statistics: where the engine keeps the receiver's counters.
    func receive<E: Engine>(
        with engine: E, role: ReceiverProgram.Role, statistics: @escaping (E) -> Receiver.Statistics,
        sockets: InterfaceSockets, interface: NetworkInterface, output outputDescriptor: Int32, logger: Logger,
        authenticator: HMACAuthenticator? = nil
    ) throws -> PGMExitCode where E.Event == Receiver.Event {
        let printer = StatisticsPrinter(json: output.json)
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
        let writer = OutputWriter(descriptor: outputDescriptor)
        driver.onSignal = { _, _, _ in program.signalled() }
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() {
                let outputs = program.handle(event, at: now) { bytes in writer.append(bytes) ? nil : Self.lastError }
                if !outputs.isEmpty { printer.perform(outputs, logger: logger) }
            }
            if !writer.flush() { printer.perform(program.outputFailed(Self.lastError), logger: logger) }
            printer.perform(program.turnEnded(at: now), logger: logger)
            printer.tick(at: now) { program.sample(statistics(engine)) }
            return program.isStopped ? .stop : .proceed
        }
        try driver.run()
        printer.finish(at: driver.now, program.sample(statistics(driver.engine)))
        for line in program.closingLines { writeError(line + "\n") }
        return program.exitCode
    }

    /// The last system call's failure in words (`errno`).
    private static var lastError: String { String(cString: strerror(errno)) }
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
    public static func main() { ReceiveCommand.main() }
}
