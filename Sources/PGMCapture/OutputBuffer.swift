internal import Glibc
public import PGMWire

/// A growable byte buffer the formatters append text to, with allocation-free integer, address and hex writers.
///
/// Formatting a million packets is the hot path of pgm-dump: appending bytes straight into owned memory avoids
/// building a `String` per field and the per-append bookkeeping of `Array`. Noncopyable, so the memory has one
/// owner and is freed with it. ``flush(to:)`` writes and empties it.
public struct OutputBuffer: ~Copyable {
    /// Internal (not private) so the JSON writers can fill a reserved span without one call per byte.
    private(set) var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    public internal(set) var count = 0

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 64)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// A copy of the bytes written so far.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: storage, count: count)) }

    /// The last byte written (JSON helpers decide on commas from it).
    var last: UInt8? { count > 0 ? storage[count - 1] : nil }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    @inline(__always)
    public mutating func append(byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    public mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(storage + count).copyMemory(from: base, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Literals: no `String` involved at all.
    @inline(__always)
    public mutating func append(literal text: StaticString) {
        append(bytes: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func append<T: BinaryInteger>(decimal value: T) {
        if value < 0 {
            append(byte: UInt8(ascii: "-"))
            appendUnsigned(UInt64(truncatingIfNeeded: value.magnitude))
        } else {
            appendUnsigned(UInt64(truncatingIfNeeded: value))
        }
    }

    private mutating func appendUnsigned(_ value: UInt64) {
        if value < 10 {
            append(byte: UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        // Digit count by comparison (most values printed are ports and sequence numbers of 2 to 10 digits), then
        // two digits per division.
        var digits = 2
        var threshold: UInt64 = 100
        while digits < 20 && value >= threshold {
            digits += 1
            threshold &*= 10
        }
        reserve(digits)
        var rest = value
        var index = count + digits
        while rest >= 100 {
            let pair = rest % 100
            rest /= 100
            index -= 2
            storage[index] = UInt8(truncatingIfNeeded: pair / 10) &+ 48
            storage[index + 1] = UInt8(truncatingIfNeeded: pair % 10) &+ 48
        }
        if rest >= 10 {
            index -= 2
            storage[index] = UInt8(truncatingIfNeeded: rest / 10) &+ 48
            storage[index + 1] = UInt8(truncatingIfNeeded: rest % 10) &+ 48
        } else {
            index -= 1
            storage[index] = UInt8(truncatingIfNeeded: rest) &+ 48
        }
        count += digits
    }

    /// Zero-padded decimal of exactly `width` digits (timestamps).
    public mutating func append(decimal value: Int, width: Int) {
        reserve(width)
        var rest = value
        var index = count + width - 1
        while index >= count {
            storage[index] = UInt8(truncatingIfNeeded: rest % 10) &+ 48
            rest /= 10
            index -= 1
        }
        count += width
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 &+ nibble : 87 &+ nibble }

    public mutating func append(hexByte byte: UInt8) {
        reserve(2)
        storage[count] = Self.hexDigit(byte >> 4)
        storage[count + 1] = Self.hexDigit(byte & 0x0F)
        count += 2
    }

    /// `0x` and lowercase hex without leading zeros.
    public mutating func append<T: FixedWidthInteger & UnsignedInteger>(hex value: T) {
        append(literal: "0x")
        var started = false
        var shift = T.bitWidth - 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: value >> shift) & 0x0F
            if nibble != 0 || started || shift == 0 {
                started = true
                append(byte: Self.hexDigit(nibble))
            }
            shift -= 4
        }
    }

    public mutating func append(ipv4 address: IPv4Address) {
        let raw = address.rawValue
        append(decimal: raw >> 24)
        append(byte: UInt8(ascii: "."))
        append(decimal: (raw >> 16) & 0xFF)
        append(byte: UInt8(ascii: "."))
        append(decimal: (raw >> 8) & 0xFF)
        append(byte: UInt8(ascii: "."))
        append(decimal: raw & 0xFF)
    }

    public mutating func append(nla: NLA) {
        switch nla {
        case .ipv4(let address): append(ipv4: address)
        case .ipv6(let address): append(address.description)
        }
    }

    /// Colon-separated GSI bytes, as tshark prints it.
    public mutating func append(gsi: GSI) {
        var shift: UInt64 = 40
        while true {
            append(hexByte: UInt8(truncatingIfNeeded: gsi.rawValue >> shift))
            if shift == 0 { break }
            append(byte: UInt8(ascii: ":"))
            shift -= 8
        }
    }

    public mutating func append(tsi: TSI) {
        append(gsi: tsi.gsi)
        append(byte: UInt8(ascii: "."))
        append(decimal: tsi.sourcePort)
    }

    /// A JSON string literal: quotes, and escapes for `"`, `\` and control characters (RFC 8259 §7).
    public mutating func append(jsonString text: String) {
        append(byte: UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\t"): append("\\t")
            case 0..<0x20:
                append("\\u00")
                append(hexByte: byte)
            default: append(byte: byte)
            }
        }
        append(byte: UInt8(ascii: "\""))
    }

    public mutating func removeAll() { count = 0 }

    /// Writes everything to a file descriptor (retrying short writes) and empties the buffer.
    /// Returns false if the descriptor refused the bytes (closed pipe, full disk).
    @discardableResult
    public mutating func flush(to fileDescriptor: Int32) -> Bool {
        defer { count = 0 }
        var offset = 0
        while offset < count {
            let written = Glibc.write(fileDescriptor, storage + offset, count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
