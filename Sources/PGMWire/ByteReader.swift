/// A bounds-checked cursor over borrowed bytes. Method names follow NIO's `ByteBuffer`; every read throws
/// ``PacketDecodingError/truncated(field:needed:available:)`` instead of trapping.
@usableFromInline
struct ByteReader {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var readerIndex: Int
    @usableFromInline var endIndex: Int

    @inlinable
    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.readerIndex = start
        self.endIndex = end ?? bytes.count
    }

    @inlinable
    var readableBytes: Int { endIndex - readerIndex }

    @inlinable
    func require(_ count: Int, _ field: PacketDecodingError.Field) throws(PacketDecodingError) {
        guard count <= readableBytes else {
            throw .truncated(field: field, needed: count, available: readableBytes)
        }
    }

    @inlinable
    mutating func readUInt8(_ field: PacketDecodingError.Field) throws(PacketDecodingError) -> UInt8 {
        try require(1, field)
        defer { readerIndex += 1 }
        return bytes[readerIndex]
    }

    @inlinable
    mutating func readUInt16(_ field: PacketDecodingError.Field) throws(PacketDecodingError) -> UInt16 {
        try require(2, field)
        defer { readerIndex += 2 }
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: readerIndex, as: UInt16.self))
    }

    @inlinable
    mutating func readUInt32(_ field: PacketDecodingError.Field) throws(PacketDecodingError) -> UInt32 {
        try require(4, field)
        defer { readerIndex += 4 }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: readerIndex, as: UInt32.self))
    }

    @inlinable
    mutating func readUInt64(_ field: PacketDecodingError.Field) throws(PacketDecodingError) -> UInt64 {
        try require(8, field)
        defer { readerIndex += 8 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: readerIndex, as: UInt64.self))
    }

    @inlinable
    mutating func readSequence(_ field: PacketDecodingError.Field) throws(PacketDecodingError) -> SequenceNumber {
        SequenceNumber(try readUInt32(field))
    }

    @inlinable
    mutating func skip(_ count: Int, _ field: PacketDecodingError.Field) throws(PacketDecodingError) {
        try require(count, field)
        readerIndex += count
    }

    /// Reads an address of a known family.
    @inlinable
    mutating func readAddress(_ family: NLA.AddressFamily) throws(PacketDecodingError) -> NLA {
        switch family {
        case .ipv4:
            return .ipv4(IPv4Address(rawValue: try readUInt32(.networkAddress)))
        case .ipv6:
            try require(16, .networkAddress)
            let high = try readUInt64(.networkAddress)
            let low = try readUInt64(.networkAddress)
            return .ipv6(IPv6Address(high: high, low: low))
        }
    }

    /// Reads `AFI (2) | reserved (2) | address`, the NLA layout of SPM, NAK, POLL and several options.
    @inlinable
    mutating func readNLA() throws(PacketDecodingError) -> NLA {
        let afi = try readUInt16(.networkAddress)
        try skip(2, .networkAddress)
        guard let family = NLA.AddressFamily(rawValue: afi) else { throw .unsupportedAddressFamily(afi) }
        return try readAddress(family)
    }
}

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    @inlinable
    mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    @inlinable
    mutating func appendUInt64(_ value: UInt64) {
        appendUInt32(UInt32(truncatingIfNeeded: value >> 32))
        appendUInt32(UInt32(truncatingIfNeeded: value))
    }

    @inlinable
    mutating func appendAddress(_ nla: NLA) {
        switch nla {
        case .ipv4(let address):
            appendUInt32(address.rawValue)
        case .ipv6(let address):
            appendUInt64(address.high)
            appendUInt64(address.low)
        }
    }

    /// Appends `AFI (2) | reserved (2) | address`.
    @inlinable
    mutating func appendNLA(_ nla: NLA) {
        appendUInt16(nla.addressFamily.rawValue)
        appendUInt16(0)
        appendAddress(nla)
    }

    @inlinable
    mutating func setUInt16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}
