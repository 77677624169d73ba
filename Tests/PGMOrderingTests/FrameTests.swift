import Testing

@testable import PGMOrdering

/// The ordering frame codec (Docs/ordering.md#framing): every frame type round-trips, and no byte string, random
/// or cut short, makes decoding trap; it gives a ``FrameError``.
@Suite struct FrameTests {
    /// The simulator's seeded SplitMix64: the same inputs on every run.
    typealias Random = SeededRandom

    static let a = MemberID(rawValue: 0x0102_0304_0506_0FA0)
    static let b = MemberID(rawValue: 0x0A0B_0C0D_0E0F_1F40)
    static let c = MemberID(rawValue: 0xFFFF_FFFF_FFFF_FFFF)

    /// One of each frame type, with large and zero values where the encoding has edges (varint widths).
    static let samples: [Frame] = [
        Frame(
            view: 0,
            body: .hello(.init(name: "ålice ✓", mode: .totalISIS, safe: true, expected: 8, known: [a, b, c]))),
        Frame(view: 0, body: .hello(.init(name: "", mode: .fifo, safe: false, expected: 0, known: []))),
        Frame(view: 1, body: .data(.init(sequence: 1, payload: []))),
        Frame(
            view: 7,
            body: .data(.init(sequence: UInt64.max, dependencies: [a: 3, b: 1 << 40], payload: Array(0...255)))),
        Frame(view: 2, body: .control([1, 2, 3])),
        Frame(view: 2, body: .control([])),
        Frame(view: 3, body: .ack(.init(receivedThrough: [a: 127, b: 128, c: 0], deliveredCount: 16_384))),
        Frame(
            view: UInt32.max,
            body: .flush(.init(newView: 9, removed: [a, c], deliveredCount: 5, delivered: [a: 1, b: 2, c: 3]))),
        Frame(
            view: 4,
            body: .relay(
                .init(
                    newView: 5,
                    entries: [
                        .init(id: MessageID(sender: a, sequence: 3), global: 0, dependencies: [b: 2], payload: [9]),
                        .init(id: MessageID(sender: b, sequence: 1), global: 77, dependencies: [:], payload: []),
                    ]))),
        Frame(view: 4, body: .relay(.init(newView: 5, entries: []))),
        Frame(view: 6, body: .done(lastSequence: 0)),
        Frame(view: 6, body: .leave(lastSequence: 300)),
    ]

    @Test(arguments: samples.indices)
    func roundTrip(sample: Int) throws {
        let frame = Self.samples[sample]
        let bytes = frame.encoded()
        #expect(bytes[0] == 0xB7 && bytes[1] == 1)
        #expect(try Frame(decoding: bytes[...]) == frame)
        // From a slice that does not start at index 0 (as a driver hands a payload inside a packet).
        let padded = [0xEE] + bytes + [0xEE]
        #expect(try Frame(decoding: padded[1..<(padded.count - 1)]) == frame)
    }

    /// Every proper prefix of every sample is refused, and so is every sample with a byte appended.
    @Test func truncatedAndTrailing() {
        for frame in Self.samples {
            let bytes = frame.encoded()
            for length in 0..<bytes.count {
                #expect(throws: FrameError.self) { try Frame(decoding: bytes[..<length]) }
            }
            #expect(throws: FrameError.self) { try Frame(decoding: (bytes + [0])[...]) }
        }
    }

    @Test func typedErrors() {
        #expect(throws: FrameError.unknownFormat) { try Frame(decoding: [0xB6, 1, 1, 0, 0, 0, 0][...]) }
        #expect(throws: FrameError.unknownFormat) { try Frame(decoding: [0xB7, 2, 1, 0, 0, 0, 0][...]) }
        #expect(throws: FrameError.unknownType(9)) { try Frame(decoding: [0xB7, 1, 9, 0, 0, 0, 0][...]) }
        #expect(throws: FrameError.truncated) { try Frame(decoding: [0xB7, 1, 2, 0, 0][...]) }
        // DATA whose dependency count claims more entries than the frame holds: refused before any allocation.
        #expect(throws: FrameError.malformed("count 1000000 beyond the frame")) {
            try Frame(decoding: [0xB7, 1, 2, 0, 0, 0, 1, 1, 0xC0, 0x84, 0x3D][...])
        }
        // Sequence 0 does not exist (members number their messages from 1).
        #expect(throws: FrameError.malformed("sequence 0")) {
            try Frame(decoding: [0xB7, 1, 2, 0, 0, 0, 1, 0, 0, 0][...])
        }
        // A HELLO with an unknown mode or a safe flag that is not 0 or 1.
        let hello = Frame(view: 0, body: .hello(.init(name: "x", mode: .causal, safe: false, expected: 0, known: [])))
        var bytes = hello.encoded()
        bytes[9] = 5
        #expect(throws: FrameError.malformed("unknown mode 5")) { try Frame(decoding: bytes[...]) }
        bytes[9] = 1
        bytes[10] = 2
        #expect(throws: FrameError.malformed("safe flag 2")) { try Frame(decoding: bytes[...]) }
        // Members listed twice, or out of order.
        let flush = Frame(
            view: 1, body: .flush(.init(newView: 2, removed: [Self.a, Self.b], deliveredCount: 0, delivered: [:])))
        var swapped = flush.encoded()
        swapped.replaceSubrange(12..<28, with: Array(swapped[20..<28] + swapped[12..<20]))
        #expect(throws: FrameError.malformed("members not sorted")) { try Frame(decoding: swapped[...]) }
    }

    /// Thousands of random strings, and random mutations of valid frames (which get past the magic and the type),
    /// never trap; whatever decodes encodes to bytes that decode to the same frame (lists are canonical: sorted,
    /// no repeats; a varint may have been written with more bytes than needed, which is why the bytes may differ).
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomBytesNeverTrap(seed: UInt64) {
        var random = Random(seed: seed)
        var decoded = 0
        for round in 0..<5_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = random.bytes(random.below(64))
                if bytes.count >= 3, round % 4 == 0 {
                    bytes[0] = 0xB7
                    bytes[1] = 1
                    bytes[2] = UInt8(1 + random.below(8))
                }
            } else {
                bytes = Self.samples[random.below(Self.samples.count)].encoded()
                for _ in 0..<(1 + random.below(4)) where !bytes.isEmpty {
                    bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                }
                if random.below(3) == 0 { bytes.removeLast(random.below(bytes.count + 1)) }
            }
            do {
                let frame = try Frame(decoding: bytes[...])
                decoded += 1
                #expect(try Frame(decoding: frame.encoded()[...]) == frame)
            } catch {
                // FrameError is the only error the decoder can throw (typed throws); nothing to check beyond it.
            }
        }
        // Mutations of valid frames decode sometimes (a payload byte changed): the test reaches the decoders' ends.
        #expect(decoded > 0)
    }
}

extension SeededRandom {
    mutating func below(_ bound: Int) -> Int { Int(below(Int64(bound))) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
