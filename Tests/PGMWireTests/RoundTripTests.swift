import PGMCore
import PGMWire
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `decode(encode(p)) == p` for thousands of random packets, and decoding never traps on random bytes.
@Suite("Round trips")
struct RoundTripTests {
    /// `PGM_SEED` overrides the seed, to replay a failure.
    static var seed: UInt64 {
        getenv("PGM_SEED").flatMap { UInt64(String(cString: $0)) } ?? 0x5047_4D31
    }

    @Test func randomPacketsRoundTrip() throws {
        var generator = RandomPackets(seed: Self.seed)
        for index in 0..<5000 {
            let packet = generator.packet()
            let bytes = packet.encoded()
            #expect(bytes.count == packet.encodedLength)
            #expect(PGMChecksum.compute(bytes) == UInt16(bytes[6]) << 8 | UInt16(bytes[7]))
            let decoded = try #require(
                try Packet(decoding: bytes), "seed \(Self.seed) packet \(index): \(packet)")
            #expect(decoded == packet, "seed \(Self.seed) packet \(index)")
        }
    }

    @Test func encodingAppendsAfterExistingBytes() throws {
        var generator = RandomPackets(seed: Self.seed &+ 1)
        var buffer: [UInt8] = [1, 2, 3]
        let packet = generator.packet()
        packet.encode(into: &buffer)
        #expect(Array(buffer[..<3]) == [1, 2, 3])
        #expect(try Packet(decoding: buffer[3...]) == packet)
    }

    /// Random bytes, and random mutations of valid packets, give a packet or a typed error, never a trap.
    @Test func arbitraryBytesNeverTrap() {
        var generator = RandomPackets(seed: Self.seed &+ 2)
        var decodedCount = 0
        for _ in 0..<20000 {
            var bytes = generator.packet().encoded()
            for _ in 0..<(1 + generator.int(4)) {
                switch generator.int(3) {
                case 0: bytes[generator.int(bytes.count)] = generator.u8()
                case 1: bytes.removeLast(generator.int(bytes.count))
                default: bytes.append(contentsOf: generator.bytes(generator.int(8)))
                }
            }
            if (try? Packet(decoding: bytes, checksum: .ignore)) != nil { decodedCount += 1 }
        }
        // Some mutations leave a valid packet, most do not; both paths ran.
        #expect(decodedCount > 0 && decodedCount < 20000)
    }
}
