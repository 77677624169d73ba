public import ArgumentParser
import Logging
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
            Sends the FILEs in order (standard input when none is given), cut into APDUs of at most \
            --apdu-size bytes (by default 22,800 or 16 TPDUs, whichever is less: an OpenPGM receiver \
            reassembles at most 16 fragments), at --rate \
            (bits/s, K/M/G suffixes). At the end it closes the session with OPT_FIN and lingers up to --linger \
            seconds to answer NAKs with repairs (less when the transmit window has drained sooner). SIGINT or SIGTERM stops reading, closes and lingers; a second \
            one exits at once. Statistics go to stderr once a second.

            With --key FILE every packet is signed (OPT_AUTH, a truncated HMAC-SHA-256 under the key; 28 bytes of \
            each TPDU are kept for it) and NAKs or SPMRs without a valid tag are dropped and counted. Receivers \
            without the key (OpenPGM too) ignore the option; receivers and elements with it accept only this \
            source's signed packets. OpenPGM receivers cannot sign their NAKs: add --accept-unsigned-naks for \
            them to get repairs (Docs/key.md).

            Examples:
              pgm-source --interface eth0 --rate 50M big.iso
              tar c dir | pgm-source --interface lo --multicast-loop --group 239.192.0.7

            Exit codes:
              0   the data was sent, the session closed and the linger ended (also after SIGINT/SIGTERM)
              1   runtime failure
              64  usage error (also a --key shorter than 16 bytes)
              66  a FILE or the --key file cannot be opened
              69  the interface, group or UDP port is unavailable (e.g. another source holds the port)
              77  --native without root or CAP_NET_RAW
            """)

    public init() {}

    @OptionGroup public var network: NetworkOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var logging: LoggingOptions
    @OptionGroup public var key: KeyOptions

    @Argument(help: ArgumentHelp("Files to send, in order (default: standard input).", valueName: "file"))
    public var files: [String] = []

    @ArgumentParser.Option(
        help: ArgumentHelp(
            "Rate limit for data, repairs and SPMs, in bits/s on the wire (K, M, G suffixes).", valueName: "rate"))
    public var rate: Rate = ProgramDefaults.rate

    @ArgumentParser.Option(
        name: .customLong("max-tpdu"), help: ArgumentHelp("Largest IP datagram, headers included.", valueName: "bytes"))
    public var maxTPDU: Int = ProgramDefaults.maxTPDU

    @ArgumentParser.Option(
        name: .customLong("txw-secs"),
        help: ArgumentHelp("Transmit window: seconds of data kept for repairs.", valueName: "seconds"))
    public var txwSeconds: Double = ProgramDefaults.transmitWindowSeconds

    @ArgumentParser.Option(
        name: .customLong("txw-bytes"),
        help: ArgumentHelp("Cap on the transmit window in bytes (default: --txw-secs at --rate).", valueName: "bytes"))
    public var txwBytes: Int?

    @ArgumentParser.Option(
        name: .customLong("apdu-size"),
        help: ArgumentHelp(
            "Largest APDU (message) cut from the input (default: what OpenPGM receivers take).", valueName: "bytes"))
    public var apduSize: Int?

    @ArgumentParser.Option(
        help: ArgumentHelp("Seconds to keep answering NAKs after the last data.", valueName: "seconds"))
    public var linger: Double = ProgramDefaults.lingerSeconds

    @ArgumentParser.Option(
        name: .customLong("spm-interval"),
        help: ArgumentHelp("Seconds between ambient SPMs, also while data flows.", valueName: "seconds"))
    public var spmInterval: Double = ProgramDefaults.ambientSPMIntervalSeconds

    @ArgumentParser.Option(
        name: .customLong("source-port"),
        help: ArgumentHelp("Data-source port of the TSI (default: random).", valueName: "port"))
    public var sourcePort: UInt16?

    public mutating func validate() throws {
        guard rate.bitsPerSecond >= 8_000 else { throw ValidationError("--rate \(rate) is below 8 kbit/s") }
        guard (576...65_535).contains(maxTPDU) else { throw ValidationError("--max-tpdu must be 576...65535") }
        guard txwSeconds > 0, txwSeconds <= 3600 else { throw ValidationError("--txw-secs must be in (0, 3600]") }
        if let txwBytes, txwBytes < maxTPDU { throw ValidationError("--txw-bytes must hold at least one TPDU") }
        if let apduSize, !(1...(1 << 24)).contains(apduSize) {
            throw ValidationError("--apdu-size must be 1...16777216")
        }
        guard linger >= 0, linger <= 3600 else { throw ValidationError("--linger must be in [0, 3600]") }
        guard spmInterval >= 0.01, spmInterval <= 3600 else {
            throw ValidationError("--spm-interval must be in [0.01, 3600]")
        }
        if sourcePort == 0 { throw ValidationError("--source-port must not be 0") }
    }

    /// Bytes the window holds: --txw-secs at --rate, or --txw-bytes if smaller.
    public var windowBytes: Int {
        let bySeconds = Int(txwSeconds * Double(rate.bytesPerSecond))
        return min(bySeconds, txwBytes ?? .max)
    }

    /// `window 4 s at 100 Mbit/s = 50,000,000 bytes`, printed at start so the memory it may take is visible.
    public var windowDescription: String {
        let seconds = formatDecimal(txwSeconds, places: txwSeconds.rounded() == txwSeconds ? 0 : 1)
        var text =
            "window \(seconds) s at \(rate) = \(formatGrouped(Int(txwSeconds * Double(rate.bytesPerSecond)))) bytes"
        if let txwBytes, txwBytes < Int(txwSeconds * Double(rate.bytesPerSecond)) {
            text += ", capped by --txw-bytes at \(formatGrouped(txwBytes)) bytes"
        }
        return text
    }

    public func run() throws {
        try runReportingFailure("pgm-source") { try execute() }
    }

    func execute() throws -> PGMExitCode {
        let logger = logging.makeLogger(label: "pgm-source")
        let authenticator = try key.loadAuthenticator()
        let interface = try network.resolveInterface()

        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        // GSI: our address and 16 random bits, as OpenPGM's pgm_gsi_create_from_addr does.
        let gsi = GSI(rawValue: UInt64(interface.address.rawValue) << 16 | (random & 0xFFFF))
        let tsi = TSI(gsi: gsi, sourcePort: sourcePort ?? UInt16(truncatingIfNeeded: random >> 16 | 0x400))
        var configuration = Source.Configuration(
            tsi: tsi, dataDestinationPort: network.port, group: .ipv4(network.groupAddress),
            sourceAddress: .ipv4(interface.address))
        configuration.maxTPDU = maxTPDU
        configuration.transport = ProgramDefaults.transport(native: network.native)
        configuration.transport.headerOverhead += key.signingOverhead  // room for OPT_AUTH, counted by the rate
        configuration.rate = rate.bytesPerSecond
        // 2 ms of credit: a sleeping poll loop wakes tens of microseconds late (timer slack), so a bucket of a
        // few packets would cap a fast link far below --rate.
        configuration.burst = max(configuration.burst, rate.bytesPerSecond / 500)
        configuration.txwSeconds = .seconds(txwSeconds)
        configuration.ambientSPMInterval = .seconds(spmInterval)
        configuration.openingSPMs = ProgramDefaults.openingSPMs
        configuration.txwMaxBytes = windowBytes
        let apduSize = self.apduSize ?? ProgramDefaults.apduSize(configuration)
        configuration.maximumAPDUSize = apduSize
        configuration.maximumQueuedBytes = max(1 << 20, 4 * apduSize)
        configuration.seed = random >> 32
        let input = try SourceInput(paths: files, apduSize: apduSize)
        // Natively, only what a source answers: not its own data, which its raw socket sees too.
        let sockets = try network.openSockets(
            on: interface, joinGroup: false, listenUnicast: true, nativeTypes: [.nak, .nnak, .spmr])

        let printer = StatisticsPrinter(json: output.json)
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
                    apduSize: apduSize, window: windowDescription)))

        var program = SourceProgram(
            linger: .seconds(linger), apduSize: apduSize, maximumQueuedBytes: configuration.maximumQueuedBytes)
        driver.inputDescriptor = { engine in program.watchesInput(input, engine: engine) ? input.descriptor : nil }
        driver.onInput = { engine, now in
            printer.perform(program.readInput(input, into: &engine, at: now), logger: logger)
        }
        driver.onSignal = { engine, _, now in
            printer.perform(program.signalled(input, engine: &engine, at: now), logger: logger)
        }
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() { printer.perform(program.handle(event), logger: logger) }
            printer.tick(at: now) { SourceProgram.sample(engine, accepted: input.bytesAccepted) }
            return program.turnEnded(engine, at: now) ? .stop : .proceed
        }
        try driver.run()
        printer.finish(at: driver.now, SourceProgram.sample(driver.engine, accepted: input.bytesAccepted))
        return program.exitCode
    }
}

/// Entry point for the `pgm-source` executable, so that it needs no import but PGMCommandLine.
public enum PGMSource {
    public static func main() { SourceCommand.main() }
}
