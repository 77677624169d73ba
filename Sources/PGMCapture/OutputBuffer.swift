internal import Glibc
public import PGMWire

/// A growable byte buffer the formatters append text to, with allocation-free integer, address and hex writers.
///
/// Formatting a million packets is the hot path of pgm-dump; appending bytes directly avoids building a `String`
/// per field. ``flush(to:)`` writes and empties it.
public struct OutputBuffer: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    public var count: Int { bytes.count }

    @inline(__always)
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    public mutating func append(byte: UInt8) { bytes.append(byte) }

    public mutating func append<T: BinaryInteger>(decimal value: T) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendUnsigned(UInt64(truncatingIfNeeded: value.magnitude))
        } else {
            appendUnsigned(UInt64(value))
        }
    }

    private mutating func appendUnsigned(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 20 digits fit in 32 bytes
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { scratch in
            while rest > 0 {
                scratch[31 - count] = UInt8(truncatingIfNeeded: rest % 10) &+ 48
                rest /= 10
                count += 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[(32 - count)...]))
        }
    }

    /// Zero-padded decimal of exactly `width` digits (timestamps).
    public mutating func append(decimal value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(truncatingIfNeeded: (rest / divisor) % 10) &+ 48)
            rest %= divisor
            divisor /= 10
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func append(hexByte byte: UInt8) {
        bytes.append(Self.hexDigits[Int(byte >> 4)])
        bytes.append(Self.hexDigits[Int(byte & 0x0F)])
    }

    /// `0x` and lowercase hex without leading zeros.
    public mutating func append<T: FixedWidthInteger & UnsignedInteger>(hex value: T) {
        append("0x")
        var started = false
        var shift = T.bitWidth - 4
        while shift >= 0 {
            let nibble = Int(truncatingIfNeeded: value >> shift) & 0x0F
            if nibble != 0 || started || shift == 0 {
                started = true
                bytes.append(Self.hexDigits[nibble])
            }
            shift -= 4
        }
    }

    public mutating func append(ipv4 address: IPv4Address) {
        let raw = address.rawValue
        append(decimal: raw >> 24)
        bytes.append(UInt8(ascii: "."))
        append(decimal: (raw >> 16) & 0xFF)
        bytes.append(UInt8(ascii: "."))
        append(decimal: (raw >> 8) & 0xFF)
        bytes.append(UInt8(ascii: "."))
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
            bytes.append(UInt8(ascii: ":"))
            shift -= 8
        }
    }

    public mutating func append(tsi: TSI) {
        append(gsi: tsi.gsi)
        bytes.append(UInt8(ascii: "."))
        append(decimal: tsi.sourcePort)
    }

    /// A JSON string literal: quotes, and escapes for `"`, `\` and control characters (RFC 8259 §7).
    public mutating func append(jsonString text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\t"): append("\\t")
            case 0..<0x20:
                append("\\u00")
                append(hexByte: byte)
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Writes everything to a file descriptor (retrying short writes) and empties the buffer.
    /// Returns false if the descriptor refused the bytes (closed pipe, full disk).
    @discardableResult
    public mutating func flush(to fileDescriptor: Int32) -> Bool {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}
