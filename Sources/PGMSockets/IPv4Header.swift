package import PGMWire

/// The IPv4 header the driver writes in native mode (IP_HDRINCL) and reads on raw-socket arrivals, with the
/// shared codec of PGMWire.
extension IPv4Header {
    /// Appends a header for a PGM datagram of `payloadLength` bytes. The kernel fills in the identification
    /// and the header checksum (raw(7)), so both stay 0, and no flag is set; the total length is written all
    /// the same so that captures of the buffer read right.
    package static func append(
        to buffer: inout [UInt8], source: IPv4Address, destination: IPv4Address, ttl: UInt8, routerAlert: Bool,
        payloadLength: Int
    ) {
        IPv4Header(
            source: source, destination: destination, protocolNumber: 113, timeToLive: ttl,
            payloadLength: payloadLength, routerAlert: routerAlert
        ).encode(into: &buffer, computingChecksum: false)
    }

    /// A received header's addresses and where the PGM bytes are.
    package struct Parsed: Equatable {
        package var source: IPv4Address
        package var destination: IPv4Address
        package var routerAlert: Bool
        package var payload: Range<Int>
    }

    /// The header of a datagram a raw PGM socket received, or nil when it is not IPv4 PGM with its whole header
    /// (short, wrong version or protocol, IHL below 5 or past the datagram). Options are walked for Router Alert
    /// as far as they are well formed (the kernel drops datagrams with malformed options before a raw socket
    /// sees them).
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> Parsed? {
        guard var header = try? IPv4Header(decodingFixedPart: bytes), header.protocolNumber == 113 else { return nil }
        try? header.decodeOptions(bytes)
        // The kernel may report the total length in host order or trim nothing; trust the smaller bound.
        let total = header.totalLength
        let end = total >= header.headerLength && total <= bytes.count ? total : bytes.count
        return Parsed(
            source: header.source, destination: header.destination, routerAlert: header.routerAlert,
            payload: header.headerLength..<end)
    }
}
