package import PGMWire

/// The IPv4 header the driver writes in native mode (IP_HDRINCL) and reads on raw-socket arrivals.
package enum IPv4Header {
    /// RFC 2113 Router Alert: type 148 (copied, option 20), length 4, value 0 "examine packet".
    package static let routerAlertOption: [UInt8] = [0x94, 0x04, 0x00, 0x00]

    /// Appends a header for a PGM datagram of `payloadLength` bytes. The kernel fills in the identification
    /// and the header checksum (raw(7)); the total length is written here all the same so captures of
    /// the buffer read right.
    package static func append(
        to buffer: inout [UInt8], source: IPv4Address, destination: IPv4Address, ttl: UInt8, routerAlert: Bool,
        payloadLength: Int
    ) {
        let headerLength = routerAlert ? 24 : 20
        let total = headerLength + payloadLength
        buffer.append(0x40 | UInt8(headerLength / 4))
        buffer.append(0)  // DSCP/ECN
        buffer.append(UInt8(truncatingIfNeeded: total >> 8))
        buffer.append(UInt8(truncatingIfNeeded: total))
        buffer.append(contentsOf: [0, 0, 0, 0])  // identification (kernel), flags/fragment offset
        buffer.append(ttl)
        buffer.append(113)
        buffer.append(contentsOf: [0, 0])  // checksum (kernel)
        appendAddress(source, to: &buffer)
        appendAddress(destination, to: &buffer)
        if routerAlert { buffer.append(contentsOf: routerAlertOption) }
    }

    private static func appendAddress(_ address: IPv4Address, to buffer: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: address.rawValue >> UInt32(shift)))
        }
    }

    /// A received header's addresses and where the PGM bytes are, or nil when it is not a well-formed IPv4
    /// PGM header (short, wrong version, wrong protocol, bad lengths).
    package struct Parsed: Equatable {
        package var source: IPv4Address
        package var destination: IPv4Address
        package var routerAlert: Bool
        package var payload: Range<Int>
    }

    package static func parse(_ bytes: UnsafeRawBufferPointer) -> Parsed? {
        guard bytes.count >= 20, bytes[0] >> 4 == 4, bytes[9] == 113 else { return nil }
        let headerLength = Int(bytes[0] & 0x0F) * 4
        let total = Int(bytes[2]) << 8 | Int(bytes[3])
        guard headerLength >= 20, headerLength <= bytes.count else { return nil }
        // The kernel may report the total length in host order or trim nothing; trust the smaller bound.
        let end = total >= headerLength && total <= bytes.count ? total : bytes.count
        func address(at offset: Int) -> IPv4Address {
            IPv4Address(
                rawValue: UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
                    | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3]))
        }
        var routerAlert = false
        var offset = 20
        while offset < headerLength {
            let type = bytes[offset]
            if type == 0 { break }  // end of option list
            if type == 1 { offset += 1; continue }  // no-operation
            guard offset + 1 < headerLength else { break }
            let length = Int(bytes[offset + 1])
            guard length >= 2 else { break }
            if type == 0x94 { routerAlert = true }
            offset += length
        }
        return Parsed(
            source: address(at: 12), destination: address(at: 16), routerAlert: routerAlert,
            payload: headerLength..<end)
    }
}
