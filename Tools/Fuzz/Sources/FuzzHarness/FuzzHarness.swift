public import PGMCapture
import PGMWire

/// What the fuzz targets do with one input, shared with the regression tests (`FuzzRegressionTests`, run by
/// `swift test`), so that every kept input is replayed through exactly the code that fuzzed it. A broken
/// contract comes back as a description, which the fuzz targets turn into a crash and the tests into a failure.
public enum FuzzHarness {
    /// WireFuzz: the decoder never traps, and a packet that decodes (checksum ignored) re-encodes to bytes that
    /// decode, checksum verified, to the same packet.
    public static func wire(_ bytes: [UInt8]) -> String? {
        _ = try? Packet(decoding: bytes)
        guard let packet = try? Packet(decoding: bytes, checksum: .ignore) else { return nil }
        let encoded = packet.encoded()
        guard let again = try? Packet(decoding: encoded) else { return "re-encoded packet does not decode: \(packet)" }
        guard again == packet else { return "round trip changed the packet: \(packet) became \(again)" }
        _ = packet.tsi.description
        return nil
    }

    /// CaptureFuzz: pgm-dump's whole packet path, link layer -> IP -> UDP -> PGM -> text, JSON and the trace
    /// analyzer. One value lives for a whole run, so state built from earlier inputs (sessions, loss records)
    /// is exercised too.
    public struct Capture {
        var analyzer = TraceAnalyzer()
        var inputs = 0

        public init() {}

        /// One input: the first byte picks the link type (and, by its top bit, the UDP port configuration), the
        /// rest is the frame. Returns the formatted output's size, which is never zero for a frame.
        public mutating func run(_ data: UnsafeRawBufferPointer) -> Int {
            guard let first = data.first else { return 0 }
            let linkType = LinkType.supported[Int(first) % LinkType.supported.count]
            let frame = UnsafeRawBufferPointer(rebasing: data[1...])
            // Alternate port configurations so both the configured-port and the heuristic UDP paths run.
            let decapsulator = Decapsulator(
                udpPorts: first & 0x80 == 0 ? Decapsulator.defaultUDPPorts : [],
                udpHeuristic: true
            )
            let dissection = Dissection.dissect(
                frame: frame,
                linkType: linkType,
                decapsulator: decapsulator,
                number: 1,
                timestamp: CaptureTimestamp(seconds: Int64(data.count), nanoseconds: Int32(data.count % 1_000_000_000)),
                originalLength: frame.count
            )
            var out = OutputBuffer()
            TextFormatter(verbose: true, hexDump: .hexAndASCII).format(dissection, frame: frame, into: &out)
            TextFormatter().format(dissection, frame: frame, into: &out)
            JSONFormatter().format(dissection, into: &out)
            analyzer.record(dissection)
            inputs += 1
            if inputs % 4096 == 0 {
                // Reports are built at the end of a capture; build one now and then, and start over to bound memory.
                finish(into: &out)
            }
            return out.count
        }

        /// Builds the analyzer's report in both formats, as pgm-dump --stats does at the end of a capture, and
        /// starts a new analyzer.
        public mutating func finish(into out: inout OutputBuffer) {
            let report = analyzer.report()
            StatisticsFormatter.text(report, into: &out)
            StatisticsFormatter.json(report, into: &out)
            analyzer = TraceAnalyzer()
        }
    }
}
