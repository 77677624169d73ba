/// An IPv4 address, host order in `rawValue` (so `198.18.0.1` is `0xC612_0001`).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        rawValue = value
    }

    public var isMulticast: Bool { rawValue >> 28 == 0xE }

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xFF).\(rawValue >> 8 & 0xFF).\(rawValue & 0xFF)"
    }
}

/// An IPv6 address as two 64-bit halves in network order (`high` holds the first eight bytes).
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses RFC 4291 text (with `::` compression and an optional embedded IPv4 tail); `nil` otherwise.
    public init?(_ text: some StringProtocol) {
        var groups: [UInt16] = []
        var compressionIndex: Int?
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count >= 3 || text == "::", pieces.count <= 9 else { return nil }
        var index = 0
        while index < pieces.count {
            let piece = pieces[index]
            if piece.isEmpty {
                // "::" shows up as one or two empty pieces (two at the start or end of the text).
                if compressionIndex == nil {
                    compressionIndex = groups.count
                } else if !(index == pieces.count - 1 && pieces[index - 1].isEmpty)
                    && !(index == 1 && pieces[0].isEmpty)
                {
                    return nil
                }
                index += 1
                continue
            }
            if index == pieces.count - 1, piece.contains("."), let v4 = IPv4Address(piece) {
                groups.append(UInt16(v4.rawValue >> 16))
                groups.append(UInt16(v4.rawValue & 0xFFFF))
            } else {
                guard piece.count <= 4, let group = UInt16(piece, radix: 16) else { return nil }
                groups.append(group)
            }
            index += 1
        }
        if let compressionIndex {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: compressionIndex)
        }
        guard groups.count == 8 else { return nil }
        high = groups[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = groups[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    /// The sixteen bytes in network order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// RFC 5952 text: lower case, the longest run of zero groups compressed.
    public var description: String {
        let groups = (0..<8).map { i -> UInt16 in
            let half = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: half >> (48 - 16 * UInt64(i % 4)))
        }
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength && i - runStart > 1 {
                    bestStart = runStart
                    bestLength = i - runStart
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// A Network Layer Address as PGM carries it: an AFI (RFC 1700: 1 = IPv4, 2 = IPv6) and the address.
public enum NLA: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)

    /// NLA_AFI values (RFC 3208 §8, "Address Family Indicators" of RFC 1700).
    public enum AddressFamily: UInt16, Sendable {
        case ipv4 = 1
        case ipv6 = 2

        /// Bytes of an address of this family.
        public var addressLength: Int { self == .ipv4 ? 4 : 16 }
    }

    public var addressFamily: AddressFamily {
        switch self {
        case .ipv4: .ipv4
        case .ipv6: .ipv6
        }
    }

    /// Parses IPv4 or IPv6 text.
    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self = .ipv4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .ipv6(v6)
        } else {
            return nil
        }
    }

    /// The unspecified address of the same family (0.0.0.0 or ::), used e.g. by PGMCC for "ACKer election".
    public static let unspecifiedIPv4 = NLA.ipv4(IPv4Address(rawValue: 0))

    public var description: String {
        switch self {
        case .ipv4(let address): address.description
        case .ipv6(let address): address.description
        }
    }
}
