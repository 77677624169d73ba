import PGMCapture
import PGMWire
import Testing

/// A seeded, in-suite cousin of the CaptureFuzz target: mutated real frames under every link type go through the
/// whole path (decapsulation, PGM decoding, every formatter, the analyzer) and nothing traps.
@Suite("Random frames")
struct RandomFrameTests {
    /// SplitMix64: fixed seeds give the same inputs on every run (Docs/style.md#time-and-randomness-are-inputs).
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    @Test(arguments: [1, 2, 3])
    func mutatedFramesNeverTrap(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let seeds =
            try TestData.frames(TestData.nativeCapture).1.map(\.bytes)
            + TestData.frames(TestData.zeroMQUDP).1.map(\.bytes)
        var analyzer = TraceAnalyzer()
        var parity = ParityContext()
        var decoded = 0
        for round in 0..<3_000 {
            var frame = seeds[random.below(seeds.count)]
            // Mutations libFuzzer also uses: flip bytes, cut, duplicate a span, and strip link headers.
            for _ in 0...random.below(4) {
                switch random.below(4) {
                case 0 where !frame.isEmpty: frame[random.below(frame.count)] = UInt8(truncatingIfNeeded: random.next())
                case 1 where !frame.isEmpty: frame.removeLast(random.below(frame.count))
                case 2 where !frame.isEmpty:
                    let start = random.below(frame.count)
                    frame.insert(
                        contentsOf: frame[start..<min(frame.count, start + random.below(32))],
                        at: random.below(frame.count)
                    )
                default: frame.removeFirst(min(frame.count, random.below(24)))
                }
            }
            let linkType = LinkType.supported[random.below(LinkType.supported.count)]
            let dissection = Dissection.dissect(
                frame: frame,
                linkType: linkType,
                decapsulator: Decapsulator(udpPorts: round % 2 == 0 ? [3055] : []),
                number: round,
                timestamp: CaptureTimestamp(seconds: Int64(round), nanoseconds: Int32(round))
            )
            if dissection.pgm?.packet != nil { decoded += 1 }
            parity.record(dissection)
            var out = OutputBuffer(capacity: 8)
            frame.withUnsafeBytes {
                TextFormatter(verbose: true, hexDump: .hexAndASCII).format(
                    dissection, frame: $0, parity: parity, into: &out)
            }
            #expect(out.count > 0)
            var json = OutputBuffer(capacity: 8)
            JSONFormatter().format(dissection, parity: parity, into: &json)
            // Whatever the bytes, the JSON line is well-formed (the escaping of error texts included).
            #expect((try? TolerantJSON.parse(Array(json.bytes.dropLast()))) != nil, "\(json.string)")
            analyzer.record(dissection)
        }
        var out = OutputBuffer()
        StatisticsFormatter.text(analyzer.report(), into: &out)
        StatisticsFormatter.json(analyzer.report(), into: &out)
        #expect(analyzer.capture.frames == 3_000)
        #expect(decoded > 0)
    }
}
