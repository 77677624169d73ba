/// Global Source Identifier: six opaque bytes, never byte-swapped (RFC 3208 §8), kept in the low 48 bits.
public struct GSI: Hashable, Sendable, CustomStringConvertible {
    /// The six bytes in wire order, the first byte in bits 47...40.
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    public init(_ bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        self.rawValue =
            UInt64(bytes.0) << 40 | UInt64(bytes.1) << 32 | UInt64(bytes.2) << 24
            | UInt64(bytes.3) << 16 | UInt64(bytes.4) << 8 | UInt64(bytes.5)
    }

    /// The bytes in wire order.
    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) } }

    /// Colon-separated hex, as tshark prints it: `27:22:46:9a:2f:37`.
    public var description: String { bytes.map(hexByte).joined(separator: ":") }
}

/// Transport Session Identifier: GSI plus the data-source port (RFC 3208 §3.1, §8).
///
/// Downstream packets carry that port as their source port; upstream packets (NAK, NNAK, SPMR, POLR, ACK)
/// as their destination port. ``Packet/tsi`` picks the right one.
public struct TSI: Hashable, Sendable, CustomStringConvertible {
    public var gsi: GSI
    public var sourcePort: UInt16

    public init(gsi: GSI, sourcePort: UInt16) {
        self.gsi = gsi
        self.sourcePort = sourcePort
    }

    /// `gsi.port`, e.g. `27:22:46:9a:2f:37.4000`.
    public var description: String { "\(gsi).\(sourcePort)" }
}

@usableFromInline
func hexByte(_ byte: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
