public import ArgumentParser
import Logging
public import PGM
import PGMCore
import PGMSockets
import PGMWire

/// `pgm-source`: sends files or standard input to a PGM session, then closes it (OPT_FIN) and lingers to
/// serve repairs.
public struct SourceCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pgm-source",
        abstract: "Send files or standard input reliably to a PGM (RFC 3208) multicast group.",
        discussion: """
            Sends the FILEs in order (standard input when none is given; - names it among files), cut into APDUs \
            of at most --apdu-size bytes (by default 22,800 or 16 TPDUs, whichever is less: an OpenPGM receiver \
            reassembles at most 16 fragments), at --rate (bits/s, K/M/G suffixes). At the end it closes the \
            session with OPT_FIN and lingers up to --linger seconds to answer NAKs with repairs (less when the \
            transmit window has drained sooner). Statistics go to stderr every --interval seconds (none with \
            --quiet), in 80 columns: the share of the input sent and the ETA when its size is known, the rate, \
            NAKs and repairs, the worst receiver's reported loss, PGMCC's window and acker; "lingering for repairs (N s)" once everything \
            was sent. The summary's rate counts the data phase only (first byte read to the end of sending).

            Byte options (--apdu-size, --max-tpdu, --txw-bytes) take K, M, G (×1000) and Ki, Mi, Gi (×1024) \
            suffixes. The transmit window keeps --txw-secs of data at --rate for repairs, up to 256 MiB unless \
            --txw-bytes says otherwise; the first line says what it holds ("window 0.537 s at 4 Gbit/s = 256 \
            MiB"). Every option is checked before anything is sent: a value the engine cannot take is a usage \
            error (64), not a crash.

            SIGINT or SIGTERM cuts the transfer short: reading stops (what was read is still sent), it says \
            "interrupted after X of Y bytes", lingers as after a complete transfer to repair what was sent, then \
            resets the session: its SPMs carry OPT_RST (RFC 3208 §9.8) instead of OPT_FIN, without the N bit \
            while it still answers NAKs and with it for the last 0.3 s, when it no longer does; the error code is \
            the signal's number (2 or 15). pgm-recv then exits 4 instead of 0; OpenPGM receivers ignore OPT_RST. \
            A second signal, or one during the linger after a complete transfer, stops at once.

            Congestion control (--congestion-control pgmcc, the default): PGMCC (Rizzo, SIGCOMM 2000; \
            draft-ietf-rmt-bb-pgmcc). Receivers report their loss rate and echo a timestamp in their NAKs; the \
            source elects the receiver with the worst TCP throughput (1/(RTT·√loss)) as acker, moves to a clearly \
            worse one when it reports, and to another when the acker falls silent. The acker ACKs every packet \
            and a window clocked by those ACKs (growing as TCP CUBIC, RFC 9438) paces ODATA and RDATA, under \
            --rate, which stays the ceiling. pgm-recv takes part without options. When no receiver answers as \
            acker within a second (OpenPGM receivers without PGMCC do not), the source says so once and runs at \
            --rate. The statistics line shows the window and the acker with its loss and RTT; "none" is --rate \
            alone, as before PGMCC was the default.

            FEC (RFC 3208 Appendix A): --fec-group-size K, --fec-proactive N and --fec-on-demand turn on \
            Reed-Solomon parity over transmission groups of K packets (default 16), the code OpenPGM uses. \
            Proactive parity sends N parity packets after every group: a receiver missing up to N packets of a \
            group decodes them without a NAK, at N/K more bandwidth. On-demand parity answers a receiver's parity \
            NAK (how many packets of a group it misses) with that many parity packets, and one parity packet \
            repairs a different loss at every receiver: with many receivers losing different packets, a group \
            costs the largest loss of any receiver instead of the sum. --fec-group-size alone means on-demand. \
            pgm-recv --no-fec NAKs by sequence and is repaired as before; OpenPGM 5.3 receivers crash or stall \
            when parity reaches them (Docs/openpgm.md), so use FEC where every receiver is pgm-recv.

            With --key FILE every packet is signed (OPT_AUTH, a truncated HMAC-SHA-256 under the key; 28 bytes of \
            each TPDU are kept for it) and NAKs or SPMRs without a valid tag are dropped and counted. Receivers \
            without the key (OpenPGM too) ignore the option; receivers and elements with it accept only this \
            source's signed packets. OpenPGM receivers cannot sign their NAKs: add --accept-unsigned-naks for \
            them to get repairs (Docs/key.md).

            Examples:
              pgm-source --interface eth0 --rate 50M big.iso
              tar c dir | pgm-source --interface lo --multicast-loop --group 239.192.0.7

            Exit codes:
              0   the data was sent, the session closed and the linger ended
              1   runtime failure
              64  usage error (also a --key shorter than 16 bytes)
              66  a FILE or the --key file cannot be opened, a FILE is a directory, or standard input is closed
              69  the interface, group or UDP port is unavailable (e.g. another source holds the port), or the \
            interface is down or does not do multicast
              77  --native without root or CAP_NET_RAW
              130 SIGINT cut the transfer short (the session was reset; 143 for SIGTERM)
            """,
        version: ProgramVersion.current)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions
    @OptionGroup public var key: KeyOptions
    @OptionGroup(title: "Forward error correction (RFC 3208 Appendix A)") public var fec: FECOptions

    @Argument(
        help: ArgumentHelp("Files to send, in order (default: standard input).", valueName: "file"),
        completion: .file())
    public var files: [String] = []

    @ArgumentParser.Option(
        help: ArgumentHelp(
            "Rate limit for data, repairs and SPMs, in bits/s on the wire (K, M, G suffixes).", valueName: "rate"))
    public var rate: Rate = ProgramDefaults.rate

    @ArgumentParser.Option(
        name: .customLong("max-tpdu"),
        help: ArgumentHelp(
            "Largest IP datagram, headers included. (default: \(ProgramDefaults.maxTPDU))", valueName: "bytes"),
        transform: ByteCount.argument)
    public var maxTPDU: Int = ProgramDefaults.maxTPDU

    @ArgumentParser.Option(
        name: .customLong("txw-secs"),
        help: ArgumentHelp("Transmit window: seconds of data kept for repairs.", valueName: "seconds"))
    public var txwSeconds: Double = ProgramDefaults.transmitWindowSeconds

    @ArgumentParser.Option(
        name: .customLong("txw-bytes"),
        help: ArgumentHelp(
            "Cap on the transmit window (default: 256 MiB; the window is --txw-secs at --rate up to this cap).",
            valueName: "bytes"),
        transform: ByteCount.argument)
    public var txwBytes: Int?

    @ArgumentParser.Option(
        name: .customLong("apdu-size"),
        help: ArgumentHelp(
            "Largest APDU (message) cut from the input, at most 1 MiB (default: what OpenPGM receivers take).",
            valueName: "bytes"),
        transform: ByteCount.argument)
    public var apduSize: Int?

    @ArgumentParser.Option(
        help: ArgumentHelp("Seconds to keep answering NAKs after the last data.", valueName: "seconds"))
    public var linger: Double = ProgramDefaults.lingerSeconds

    @ArgumentParser.Option(
        name: .customLong("spm-interval"),
        help: ArgumentHelp("Seconds between ambient SPMs, also while data flows.", valueName: "seconds"))
    public var spmInterval: Double = ProgramDefaults.ambientSPMIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("congestion-control"),
        help: ArgumentHelp(
            "pgmcc (default): a TCP-friendly window clocked by the worst receiver's ACKs, under --rate; none: "
                + "--rate alone.",
            valueName: "pgmcc|none"))
    public var congestionControl: CongestionControlMode = .pgmcc

    @ArgumentParser.Option(
        name: .customLong("source-port"),
        help: ArgumentHelp("Data-source port of the TSI (default: random).", valueName: "port"))
    public var sourcePort: UInt16?

    public mutating func validate() throws {
        guard rate.bitsPerSecond >= 8_000 else { throw ValidationError("--rate \(rate) is below 8 kbit/s") }
        guard rate.bitsPerSecond <= Self.maximumRate else { throw ValidationError("--rate \(rate) is above 1 Tbit/s") }
        guard PGMOptions.maxTPDURange.contains(maxTPDU) else { throw ValidationError("--max-tpdu must be 576...65535") }
        guard txwSeconds > 0, txwSeconds <= 3600 else { throw ValidationError("--txw-secs must be in (0, 3600]") }
        if let txwBytes, txwBytes < maxTPDU { throw ValidationError("--txw-bytes must hold at least one TPDU") }
        if let apduSize, !(1...Source.Configuration.maximumAPDUSizeLimit).contains(apduSize) {
            throw ValidationError(
                "--apdu-size must be 1...\(Source.Configuration.maximumAPDUSizeLimit) (1 MiB, the largest APDU a "
                    + "PGM receiver reassembles)")
        }
        guard linger >= 0, linger <= 3600 else { throw ValidationError("--linger must be in [0, 3600]") }
        guard spmInterval >= 0.01, spmInterval <= 3600 else {
            throw ValidationError("--spm-interval must be in [0.01, 3600]")
        }
        if sourcePort == 0 { throw ValidationError("--source-port must not be 0") }
        // Whatever the engine would trap on, refused here in its words (the addresses do not matter).
        do {
            try sourceConfiguration(
                tsi: TSI(gsi: GSI(rawValue: 1), sourcePort: 1), sourceAddress: IPv4Address(198, 18, 0, 1)
            ).validate()
        } catch {
            throw ValidationError("\(error) (--apdu-size, --max-tpdu, --rate, --txw-secs, --txw-bytes)")
        }
    }

    /// 1 Tbit/s (``PGMOptions``' range).
    static let maximumRate = PGMOptions.rateRange.upperBound

    /// The transmit window's byte cap when --txw-bytes is not given (``PGMOptions/defaultWindowCap``).
    public static var defaultWindowCap: Int { PGMOptions.defaultWindowCap }

    /// The session as the library takes it: pgm-source runs the engine ``PGMSource`` runs, from the same value.
    public var sessionOptions: PGMOptions {
        var options = network.sessionOptions
        options.keyFile = key.keyFile
        options.rateBitsPerSecond = rate.bitsPerSecond
        options.maxTPDU = maxTPDU
        options.transmitWindow = .seconds(txwSeconds)
        options.transmitWindowBytes = txwBytes
        options.maximumMessageSize = apduSize
        options.linger = .seconds(linger)
        options.ambientSPMInterval = .seconds(spmInterval)
        options.congestionControl = congestionControl == .pgmcc ? .pgmcc : .none
        options.fec = fec.settings
        options.sourcePort = sourcePort
        return options
    }

    /// Bytes the window holds: --txw-secs at --rate, up to --txw-bytes (default ``defaultWindowCap``).
    public var windowBytes: Int { sessionOptions.windowBytes }

    /// `window 4 s at 100 Mbit/s = 50 MB`, or when the cap bites `window 0.537 s at 4 Gbit/s = 256 MiB (cap;
    /// --txw-bytes raises it)`: printed at start so that the memory the window may take is visible.
    public var windowDescription: String {
        let bytes = windowBytes
        let seconds = formatSeconds(.seconds(Double(bytes) / Double(rate.bytesPerSecond)))
        var text = "window \(seconds) at \(rate) = \(ByteCount.describe(bytes))"
        if bytes < sessionOptions.windowBytesBySeconds {
            text += txwBytes == nil ? " (cap; --txw-bytes raises it)" : " (--txw-bytes)"
        }
        return text
    }

    /// The engine's configuration from the options, for this session and address.
    func sourceConfiguration(tsi: TSI, sourceAddress: IPv4Address) -> Source.Configuration {
        sessionOptions.sourceConfiguration(tsi: tsi, sourceAddress: sourceAddress)
    }

    public func run() throws {
        try runReportingFailure("pgm-source", json: output.json) { try execute() }
    }

    func execute() throws -> PGMExitCode {
        let standard = StandardDescriptors.guardClosed()
        if standard.inputClosed && (files.isEmpty || files.contains("-")) {
            throw CommandFailure(.noInput, "standard input is closed: name the FILEs to send, or redirect it")
        }
        let logger = logging.makeLogger(label: "pgm-source", json: output.json)
        let authenticator = try key.loadAuthenticator()
        let interface = try network.resolveInterface()
        let options = sessionOptions
        let (tsi, seed) = options.makeSession(address: interface.address)
        var configuration = options.sourceConfiguration(tsi: tsi, sourceAddress: interface.address)
        let apduSize = configuration.maximumAPDUSize
        configuration.seed = seed
        let input = try SourceInput(paths: files, apduSize: apduSize)
        let sockets: InterfaceSockets
        do {
            sockets = try options.openSourceSockets(on: interface)
        } catch {
            throw CommandFailure(error)
        }

        let printer = StatisticsPrinter(output)
        let clock = MonotonicClock()
        let driver = try Driver(
            engine: Source(configuration: configuration, at: clock.now), sockets: [sockets], clock: clock,
            handleSignals: true, logger: logger)
        key.install(authenticator, on: driver, printer: printer)
        printer.print(
            .source(
                .started(
                    tsi: tsi, group: "\(network.groupAddress)", port: network.port, interface: "\(interface)",
                    interfaceName: interface.name,
                    transport: network.native ? "native" : "UDP port \(sockets.localPort ?? network.udpPort)",
                    apduSize: apduSize, window: windowDescription, windowBytes: windowBytes)))

        var program = SourceProgram(
            linger: .seconds(linger), apduSize: apduSize, maximumQueuedBytes: configuration.maximumQueuedBytes)
        driver.inputDescriptor = { engine in program.watchesInput(input, engine: engine) ? input.descriptor : nil }
        driver.onInput = { engine, now in
            printer.perform(program.readInput(input, into: &engine, at: now), logger: logger)
        }
        driver.onSignal = { engine, signal, now in
            printer.perform(program.signalled(signal, input, engine: &engine, at: now), logger: logger)
        }
        var decisions = DecisionLog()
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() { printer.perform(program.handle(event), logger: logger) }
            if logger.logLevel <= .debug, let line = decisions.line("repairs", engine.statistics.decisions, at: now) {
                logger.debug("\(line)")
            }
            let stop = program.turnEnded(&engine, at: now)
            printer.perform(program.pendingNotes(at: now), logger: logger)
            printer.tick(at: now) { program.sample(engine, input: input, at: now) }
            return stop ? .stop : .proceed
        }
        try driver.run()
        printer.finish(at: driver.now, program.sample(driver.engine, input: input, at: driver.now))
        printer.perform(program.closingNotes(input, engine: driver.engine), logger: logger)
        return program.exitCode
    }
}

/// Entry point for the `pgm-source` executable, so that it needs no import but PGMCommandLine.
public enum PGMSource {
    public static func main() -> Never { ProgramEntry.main(SourceCommand.self) }
}
