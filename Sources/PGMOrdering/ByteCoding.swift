/// Appends the big-endian fields of an ordering frame (Docs/ordering.md#framing).
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }

    /// A length (as a LEB128 varint) and the bytes.
    public mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Unsigned LEB128: counts and sequence numbers are small most of the time.
    public mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }
}

/// Why an ordering frame could not be read: the frame is dropped and counted, never trusted.
public enum FrameError: Error, Equatable, Sendable {
    /// The frame ends before a field does.
    case truncated
    /// A varint longer than 64 bits, a count beyond what the frame can hold, or a value out of range.
    case malformed(String)
    /// Not an ordering frame (wrong magic) or a version this build does not read.
    case unknownFormat
    /// A frame type this build does not know.
    case unknownType(UInt8)
}

/// Reads the fields ``ByteWriter`` wrote, from borrowed bytes, with a typed error for every short or bad field.
public struct ByteReader {
    public let bytes: ArraySlice<UInt8>
    public private(set) var position: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    public var isAtEnd: Bool { position >= bytes.endIndex }
    public var remaining: Int { bytes.endIndex - position }

    public mutating func read() throws(FrameError) -> UInt8 {
        guard position < bytes.endIndex else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func read<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(FrameError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated }
        var value: T = 0
        for index in position..<(position + size) { value = value << 8 | T(bytes[index]) }
        position += size
        return value
    }

    public mutating func readVarint() throws(FrameError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try read()
            guard shift < 64, shift < 63 || byte & 0x7F <= 1 else { throw .malformed("varint beyond 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A count of items that take at least `minimumItemSize` bytes each: refused when the rest of the frame
    /// cannot hold that many, so that a forged count cannot make the reader reserve memory.
    public mutating func readCount(minimumItemSize: Int = 1) throws(FrameError) -> Int {
        let count = try readVarint()
        guard count <= UInt64(remaining / max(1, minimumItemSize)) else {
            throw .malformed("count \(count) beyond the frame")
        }
        return Int(count)
    }

    public mutating func readBytes() throws(FrameError) -> ArraySlice<UInt8> {
        let count = try readCount()
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    public mutating func readMember() throws(FrameError) -> MemberID { MemberID(rawValue: try read(UInt64.self)) }

    public mutating func readMessageID() throws(FrameError) -> MessageID {
        MessageID(sender: try readMember(), sequence: try readVarint())
    }
}

extension ByteWriter {
    public mutating func write(_ member: MemberID) { write(member.rawValue) }

    public mutating func write(_ id: MessageID) {
        write(id.sender)
        writeVarint(id.sequence)
    }
}
