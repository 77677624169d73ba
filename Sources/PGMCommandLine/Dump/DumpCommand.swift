public import ArgumentParser
internal import Glibc
import PGMCapture

/// `pgm-dump`: prints PGM packets from a capture file or a live interface, or a per-session summary.
public struct DumpCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pgm-dump",
        abstract: "Print PGM (RFC 3208) packets from a capture file or an interface, or per-session statistics.",
        discussion: """
            Reads pcap and pcapng files (-r FILE, or -r - for standard input) or captures live (-i IF). Finds PGM \
            natively (IP protocol 113) and in UDP on the --udp-port ports (default 3055, 3056 and 7500); UDP on \
            other ports is shown when its payload is PGM with a valid checksum. Link types: Ethernet (VLAN tags \
            included), Linux cooked v1/v2, raw IP, IPv4, IPv6, BSD loopback. IP fragments are reported, never \
            decoded. A bad checksum is flagged; a malformed packet is printed with the reason.

            Without a filter expression a live capture uses: native PGM, UDP on the configured ports, and IP \
            fragments (also inside a VLAN tag). Files are read without a filter unless one is given.

            Examples:
              pgm-dump -r session.pcap -v
              pgm-dump -i lo -c 100 --json --udp-port 7500 > packets.jsonl
              pgm-dump -r session.pcap --stats
              pgm-dump -i lo -w - | tcpdump -r -     (the text goes to standard error)

            --json writes one JSON object per line; the schema (every field, the "type" values, and the \
            statistics objects) is documented in Docs/pgm-dump-json.md.

            With --key FILE, each packet's OPT_AUTH tag is checked with that key (the programs' --key) and shown \
            as [auth valid], [auth invalid] or [auth absent] ("authentication" in JSON); --stats counts them.

            Exit codes:
              0   success (also when a live capture is stopped with SIGINT or SIGTERM)
              1   runtime failure (capture error, -w file not writable, unknown link type)
              64  usage error (bad option or filter expression, or a --key shorter than 16 bytes)
              65  the capture file is truncated or corrupt (earlier frames are printed)
              66  the capture file or the --key file does not exist or cannot be read
              69  the interface does not exist or is down
              77  no permission to capture (needs root or CAP_NET_RAW)
            """,
        version: ProgramVersion.current
    )

    @Option(
        name: [.customShort("r"), .customLong("read")],
        help: ArgumentHelp("Read packets from a capture file ('-' for standard input).", valueName: "file"),
        completion: .file(extensions: ["pcap", "pcapng", "cap"])
    )
    public var file: String?

    @Option(
        name: [.customShort("i"), .customLong("interface")],
        help: ArgumentHelp("Capture live on an interface.", valueName: "interface"),
        completion: .interface
    )
    public var interface: String?

    @Flag(
        name: [.customShort("p"), .customLong("no-promiscuous-mode")],
        help: "Do not put the interface into promiscuous mode."
    )
    public var noPromiscuous = false

    @Option(
        name: [.customShort("s"), .customLong("snapshot-length")],
        help: ArgumentHelp(
            "Bytes to capture per packet (live; K, M, Ki, Mi suffixes). (default: 262144)", valueName: "bytes"),
        transform: { text in
            let bytes = try ByteCount.argument(text)
            guard bytes <= Int(Int32.max) else { throw ValidationError("-s \(text) is above \(Int32.max) bytes") }
            return Int32(bytes)
        }
    )
    public var snapshotLength: Int32 = 262_144

    @Option(
        name: [.customShort("B"), .customLong("buffer-size")],
        help: ArgumentHelp("Kernel capture buffer size in KiB (live).", valueName: "KiB")
    )
    public var bufferSize: Int32?

    @Option(
        name: [.customShort("w"), .customLong("write")],
        help: ArgumentHelp(
            "Also save the captured frames to a pcap file ('-' for standard output: the text then goes to standard error).",
            valueName: "file"),
        completion: .file()
    )
    public var writeFile: String?

    @Option(
        name: [.customShort("c"), .customLong("count")],
        help: ArgumentHelp(
            "Stop after this many PGM packets (fragments and malformed packets count).",
            valueName: "count"
        )
    )
    public var count: Int?

    @Option(
        name: .customLong("udp-port"),
        help: ArgumentHelp(
            "UDP port carrying PGM (repeatable; replaces the defaults 3055, 3056, 7500).",
            valueName: "port"
        )
    )
    public var udpPorts: [UInt16] = []

    @Flag(name: .customLong("no-udp-heuristic"), help: "Do not look for PGM on UDP ports other than --udp-port.")
    public var noUDPHeuristic = false

    @Flag(
        name: [.customShort("v"), .customLong("verbose")],
        help: "Print every header field and every field of every option."
    )
    public var verbose = false

    @Flag(name: .customShort("x"), help: "Print each packet in hex, from the IP header on.")
    public var hex = false

    @Flag(name: .customShort("X"), help: "Print each packet in hex and ASCII, from the IP header on.")
    public var hexAndASCII = false

    @Flag(
        name: .customShort("n"),
        help: "Do not resolve addresses (accepted for tcpdump habits; pgm-dump never resolves names)."
    )
    public var numeric = false

    @Flag(name: .customLong("json"), help: "Write JSON Lines instead of text (schema: Docs/pgm-dump-json.md).")
    public var json = false

    @Flag(
        name: .customLong("stats"),
        help: "Print per-session statistics at the end (or on SIGINT) instead of packets."
    )
    public var stats = false

    @Option(
        name: .customLong("key"),
        help: ArgumentHelp(
            "Check every packet's OPT_AUTH tag with the key in this file (as pgm-source --key; Docs/key.md).",
            valueName: "file"
        ),
        completion: .file()
    )
    public var keyFile: String?

    @Argument(help: ArgumentHelp("A BPF filter expression (pcap-filter(7)).", valueName: "expression"))
    public var filter: [String] = []

    public init() {}

    public func validate() throws {
        switch (file, interface) {
        case (nil, nil): throw ValidationError("Give a capture file (-r FILE) or an interface (-i IF).")
        case (_?, _?): throw ValidationError("-r and -i cannot be combined.")
        default: break
        }
        if let count, count <= 0 { throw ValidationError("-c needs a positive count.") }
        if snapshotLength <= 0 { throw ValidationError("-s needs a positive length.") }
        if let bufferSize, bufferSize <= 0 || bufferSize > Int32.max / 1024 {
            throw ValidationError("-B needs a size in KiB between 1 and \(Int32.max / 1024).")
        }
        if udpPorts.contains(0) { throw ValidationError("--udp-port 0 is not a port.") }
    }

    public func run() throws {
        _ = StandardDescriptors.guardClosed()
        var runner = DumpRunner(command: self)
        // `-w -` puts the pcap on standard output; the text then goes to standard error, as tcpdump's does.
        if writeFile == "-" { runner.flush = { $0.flush(to: STDERR_FILENO) } }
        if json {
            runner.diagnose = { writeError(JSONLines.error(program: "pgm-dump", message: $0, exitCode: nil)) }
        }
        let code = runner.run()
        if code != .success { throw ExitCode(code.rawValue) }
    }

    /// The effective settings, for the runner.
    var decapsulator: Decapsulator {
        Decapsulator(
            udpPorts: udpPorts.isEmpty ? Decapsulator.defaultUDPPorts : udpPorts,
            udpHeuristic: !noUDPHeuristic
        )
    }
}

/// Entry point for the `pgm-dump` executable, so that it needs no import but PGMCommandLine.
public enum PGMDump {
    /// Parses the process arguments, runs, and exits with the documented code.
    public static func main() -> Never { ProgramEntry.main(DumpCommand.self) }
}
