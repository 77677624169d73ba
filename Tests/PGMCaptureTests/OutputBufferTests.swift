import PGMCapture
import PGMWire
import Testing

/// The hand-written number and address writers against the standard library's own formatting.
@Suite("Output buffer")
struct OutputBufferTests {
    static let unsignedSamples: [UInt64] = {
        var samples: [UInt64] = [0, UInt64.max, UInt64.max - 1]
        var power: UInt64 = 1
        for _ in 0..<19 {
            samples += [power - 1, power, power + 1]
            power *= 10
        }
        // SplitMix64 with a fixed seed: the same samples on every run.
        var state: UInt64 = 0x5047_4D2D_4455_4D50
        for _ in 0..<200 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            samples.append(z >> (z & 63))
        }
        return samples
    }()

    @Test func decimalsMatchTheStandardLibrary() {
        for value in Self.unsignedSamples {
            var out = OutputBuffer(capacity: 1)
            out.append(decimal: value)
            #expect(out.string == String(value))
        }
        for value: Int64 in [Int64.min, -1, -10, -99, Int64.max, 0] {
            var out = OutputBuffer()
            out.append(decimal: value)
            #expect(out.string == String(value))
        }
    }

    @Test func paddedDecimalsHexAndAddresses() {
        var out = OutputBuffer()
        out.append(decimal: 42, width: 6)
        out.append(literal: " ")
        out.append(hex: UInt16(0))
        out.append(literal: " ")
        out.append(hex: UInt32(0xdead_beef))
        out.append(literal: " ")
        out.append(ipv4: IPv4Address(255, 0, 10, 1))
        out.append(literal: " ")
        out.append(gsi: GSI((0x27, 0x22, 0x46, 0x9a, 0x2f, 0x37)))
        out.append(literal: " ")
        out.append(jsonString: "a\"b\\c\u{1}")
        #expect(out.string == #"000042 0x0 0xdeadbeef 255.0.10.1 27:22:46:9a:2f:37 "a\"b\\c\u0001""#)
    }

    @Test func growsPastItsInitialCapacity() {
        var out = OutputBuffer(capacity: 1)
        for index in 0..<10_000 { out.append(decimal: index % 10) }
        #expect(out.count == 10_000)
        #expect(out.bytes.prefix(12) == Array("012345678901".utf8)[...])
        out.removeAll()
        #expect(out.count == 0)
    }
}
