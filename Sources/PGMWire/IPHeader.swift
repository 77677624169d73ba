/// Why bytes are not a well-formed IPv4 or IPv6 header. Lengths and offsets count from the header's first byte.
public enum IPHeaderError: Error, Hashable, Sendable {
    /// The header needs `needed` bytes and only `available` are there.
    case truncated(needed: Int, available: Int)
    /// The version nibble is not the one the decoder reads.
    case unsupportedVersion(UInt8)
    /// IPv4: an IHL below 5 words (the value is IHL × 4).
    case headerLengthTooShort(Int)
    /// IPv4: a total length below the header's own length.
    case totalLengthBelowHeader(total: Int, header: Int)
    /// IPv4: an option other than end-of-list and no-operation, without room for its length byte.
    case optionWithoutLength(type: UInt8)
    /// IPv4: an option whose length is below 2 or runs past the header.
    case optionLength(type: UInt8, length: Int)
    /// IPv6: more extension headers than ``IPv6ExtensionHeaders/maximumCount``.
    case tooManyExtensionHeaders(limit: Int)
}

/// An IPv4 header (RFC 791): decoded from borrowed bytes with every read bounds-checked, and encoded into a
/// caller's buffer. PGM cares about one option, Router Alert (RFC 2113), which RFC 3208 §4 asks for on SPM,
/// NCF, RDATA and POLL so that routers intercept them; others are walked over and not kept.
///
/// Decoding is two steps, as the header is: ``init(decodingFixedPart:)`` reads the 20 fixed bytes and checks
/// that the whole header is there, ``decodeOptions(_:)`` walks the options. A capture decoder reports a
/// malformed option together with the fields before it; the socket driver keeps what the kernel delivered
/// (Linux drops datagrams with malformed options before they reach a raw socket). ``init(decoding:)`` is both
/// steps and the total-length check.
public struct IPv4Header: Hashable, Sendable {
    /// The fixed part: version/IHL, TOS, total length, identification, flags/fragment offset, TTL, protocol,
    /// checksum, source, destination.
    public static let fixedLength = 20
    /// RFC 2113 Router Alert: type 148 (copied flag + option 20), length 4, value 0 "examine packet".
    public static let routerAlertOption: [UInt8] = [0x94, 0x04, 0x00, 0x00]
    public static let routerAlertType: UInt8 = 0x94

    /// IHL × 4: 20, or 24 with Router Alert as encoded here; up to 60 as read.
    public var headerLength: Int
    /// Type of service (DSCP and ECN).
    public var typeOfService: UInt8 = 0
    public var totalLength: Int
    public var identification: UInt16 = 0
    public var dontFragment = false
    public var moreFragments = false
    /// Offset of this fragment's data in the original datagram, in bytes (a multiple of 8).
    public var fragmentOffset = 0
    public var timeToLive: UInt8
    public var protocolNumber: UInt8
    /// As read, or what ``encode(into:computingChecksum:)`` writes when it does not compute one.
    public var checksum: UInt16 = 0
    public var source: IPv4Address
    public var destination: IPv4Address
    /// Whether the options hold Router Alert (after ``decodeOptions(_:)``).
    public var routerAlert: Bool

    /// A header to encode in front of `payloadLength` bytes.
    public init(
        source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8, timeToLive: UInt8,
        payloadLength: Int, routerAlert: Bool = false
    ) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        self.timeToLive = timeToLive
        self.routerAlert = routerAlert
        headerLength = Self.fixedLength + (routerAlert ? Self.routerAlertOption.count : 0)
        totalLength = headerLength + payloadLength
    }

    /// Reads the fixed part of the header at the start of `bytes` and checks that the whole header, options
    /// included, is there. The total length is not checked against it (see ``checkTotalLength()``); options
    /// are not read, so ``routerAlert`` is false.
    public init(decodingFixedPart bytes: UnsafeRawBufferPointer) throws(IPHeaderError) {
        guard bytes.count >= Self.fixedLength else {
            throw .truncated(needed: Self.fixedLength, available: bytes.count)
        }
        let first = bytes[0]
        guard first >> 4 == 4 else { throw .unsupportedVersion(first >> 4) }
        headerLength = Int(first & 0x0F) * 4
        guard headerLength >= Self.fixedLength else { throw .headerLengthTooShort(headerLength) }
        guard bytes.count >= headerLength else { throw .truncated(needed: headerLength, available: bytes.count) }
        typeOfService = bytes[1]
        totalLength = Int(bytes.bigEndianUInt16(at: 2))
        identification = bytes.bigEndianUInt16(at: 4)
        let fragmentField = bytes.bigEndianUInt16(at: 6)
        dontFragment = fragmentField & 0x4000 != 0
        moreFragments = fragmentField & 0x2000 != 0
        fragmentOffset = Int(fragmentField & 0x1FFF) * 8
        timeToLive = bytes[8]
        protocolNumber = bytes[9]
        checksum = bytes.bigEndianUInt16(at: 10)
        source = IPv4Address(rawValue: bytes.bigEndianUInt32(at: 12))
        destination = IPv4Address(rawValue: bytes.bigEndianUInt32(at: 16))
        routerAlert = false
    }

    /// Decodes a whole header: the fixed part, the total length against the header length, the options.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(IPHeaderError) {
        try self.init(decodingFixedPart: bytes)
        try checkTotalLength()
        try decodeOptions(bytes)
    }

    /// Throws when the total length is below the header's length.
    public func checkTotalLength() throws(IPHeaderError) {
        guard totalLength >= headerLength else {
            throw .totalLengthBelowHeader(total: totalLength, header: headerLength)
        }
    }

    /// Walks the options of the header at the start of `bytes` (decoded with ``init(decodingFixedPart:)``, so
    /// they are there): end-of-list (0) stops, no-operation (1) is one byte, every other option has a length
    /// byte counting itself and its type. Sets ``routerAlert`` for each Router Alert met before it throws.
    public mutating func decodeOptions(_ bytes: UnsafeRawBufferPointer) throws(IPHeaderError) {
        var offset = Self.fixedLength
        let end = min(headerLength, bytes.count)
        while offset < end {
            let type = bytes[offset]
            if type == 0 { break }
            if type == 1 {
                offset += 1
                continue
            }
            guard offset + 1 < end else { throw .optionWithoutLength(type: type) }
            let length = Int(bytes[offset + 1])
            guard length >= 2, offset + length <= end else { throw .optionLength(type: type, length: length) }
            if type == Self.routerAlertType { routerAlert = true }
            offset += length
        }
    }

    /// Appends the header to `buffer`: 20 bytes, or 24 with ``routerAlert`` (its option, then nothing more).
    /// With `computingChecksum` the checksum field holds the header checksum; without it holds ``checksum``,
    /// 0 for a raw socket with IP_HDRINCL, whose kernel fills it in (raw(7)).
    public func encode(into buffer: inout [UInt8], computingChecksum: Bool = true) {
        let start = buffer.count
        let length = Self.fixedLength + (routerAlert ? Self.routerAlertOption.count : 0)
        buffer.append(0x40 | UInt8(length / 4))
        buffer.append(typeOfService)
        buffer.appendUInt16(UInt16(truncatingIfNeeded: totalLength))
        buffer.appendUInt16(identification)
        let flags: UInt16 = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0)
        buffer.appendUInt16(flags | UInt16(truncatingIfNeeded: fragmentOffset / 8) & 0x1FFF)
        buffer.append(timeToLive)
        buffer.append(protocolNumber)
        buffer.appendUInt16(computingChecksum ? 0 : checksum)
        buffer.appendUInt32(source.rawValue)
        buffer.appendUInt32(destination.rawValue)
        if routerAlert { buffer.append(contentsOf: Self.routerAlertOption) }
        if computingChecksum {
            let value = buffer.withUnsafeBytes { Self.checksum(of: UnsafeRawBufferPointer(rebasing: $0[start...])) }
            buffer[start + 10] = UInt8(truncatingIfNeeded: value >> 8)
            buffer[start + 11] = UInt8(truncatingIfNeeded: value)
        }
    }

    /// The header checksum (RFC 791) of the header in `bytes`, computed as if its checksum field were zero. A
    /// sum of zero is written 0xFFFF, as PGM's checksum does: in one's complement both are zero, so a verifier
    /// accepts either.
    public static func checksum(of bytes: UnsafeRawBufferPointer) -> UInt16 {
        let stored = bytes.count >= 12 ? bytes.bigEndianUInt16(at: 10) : 0
        return PGMChecksum.finish(PGMChecksum.fold(PGMChecksum.partialSum(bytes) + UInt32(~stored)))
    }
}

/// The fixed IPv6 header (RFC 8200 §3). What follows it, up to the upper-layer protocol, is read by
/// ``IPv6ExtensionHeaders``.
public struct IPv6Header: Hashable, Sendable {
    public static let length = 40
    /// Hop-by-hop options carrying Router Alert (RFC 2711, value 0 "MLD", used for any router to look), padded
    /// to 8 bytes: next header (filled in), length 0, option 5 of 2 bytes, PadN of 2 bytes.
    static let hopByHopRouterAlert: [UInt8] = [0, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]

    public var trafficClass: UInt8 = 0
    public var flowLabel: UInt32 = 0
    /// Bytes after the fixed header, extension headers included.
    public var payloadLength: Int
    public var nextHeader: UInt8
    public var hopLimit: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address

    public init(
        source: IPv6Address, destination: IPv6Address, nextHeader: UInt8, hopLimit: UInt8, payloadLength: Int
    ) {
        self.source = source
        self.destination = destination
        self.nextHeader = nextHeader
        self.hopLimit = hopLimit
        self.payloadLength = payloadLength
    }

    /// Reads the fixed header at the start of `bytes`.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(IPHeaderError) {
        guard bytes.count >= Self.length else { throw .truncated(needed: Self.length, available: bytes.count) }
        let first = bytes.bigEndianUInt32(at: 0)
        guard first >> 28 == 6 else { throw .unsupportedVersion(UInt8(first >> 28)) }
        trafficClass = UInt8(truncatingIfNeeded: first >> 20)
        flowLabel = first & 0xF_FFFF
        payloadLength = Int(bytes.bigEndianUInt16(at: 4))
        nextHeader = bytes[6]
        hopLimit = bytes[7]
        source = IPv6Address(high: bytes.bigEndianUInt64(at: 8), low: bytes.bigEndianUInt64(at: 16))
        destination = IPv6Address(high: bytes.bigEndianUInt64(at: 24), low: bytes.bigEndianUInt64(at: 32))
    }

    /// Appends the fixed header to `buffer`; with `routerAlert`, a hop-by-hop header carrying Router Alert follows
    /// it (next header 0 here, ``nextHeader`` there) and counts in the payload length.
    public func encode(into buffer: inout [UInt8], routerAlert: Bool = false) {
        let extensionLength = routerAlert ? Self.hopByHopRouterAlert.count : 0
        buffer.appendUInt32(6 << 28 | UInt32(trafficClass) << 20 | flowLabel & 0xF_FFFF)
        buffer.appendUInt16(UInt16(truncatingIfNeeded: payloadLength + extensionLength))
        buffer.append(routerAlert ? 0 : nextHeader)
        buffer.append(hopLimit)
        buffer.appendUInt64(source.high)
        buffer.appendUInt64(source.low)
        buffer.appendUInt64(destination.high)
        buffer.appendUInt64(destination.low)
        if routerAlert {
            buffer.append(nextHeader)
            buffer.append(contentsOf: Self.hopByHopRouterAlert.dropFirst())
        }
    }
}

/// The IPv6 extension headers that may stand between the fixed header and PGM (RFC 8200 §4): hop-by-hop
/// options (with Router Alert, RFC 2711), routing, destination options, authentication (RFC 4302), and a
/// fragment header, which makes the packet a fragment unless it is an atomic one (offset 0, no more fragments).
public struct IPv6ExtensionHeaders: Hashable, Sendable {
    /// A cap on the chain, so that a hostile packet of 8-byte headers cannot make the walk long.
    public static let maximumCount = 16

    /// Offset and identification of a fragment (RFC 8200 §4.5).
    public struct Fragment: Hashable, Sendable {
        public var identification: UInt32
        /// Byte offset of this fragment's data in the original payload.
        public var offset: Int
        public var moreFragments: Bool

        public init(identification: UInt32, offset: Int, moreFragments: Bool) {
            self.identification = identification
            self.offset = offset
            self.moreFragments = moreFragments
        }
    }

    /// The upper-layer protocol: after the last extension header, or the one a fragment header names.
    public var protocolNumber: UInt8 = 0
    /// The fixed header and the extension headers walked: where the upper-layer header starts, or for a
    /// fragment, where its data starts.
    public var headerLength = IPv6Header.length
    /// A hop-by-hop header carries Router Alert.
    public var routerAlert = false
    public var fragment: Fragment?

    public init() {}

    /// Walks the chain after the fixed header in `packet` (the bytes from the IPv6 header up to where its
    /// payload length or the capture ends), starting with `nextHeader`. Throws when a header runs past the end
    /// or there are more than ``maximumCount``; what was read before stays set.
    public mutating func decode(_ packet: UnsafeRawBufferPointer, nextHeader first: UInt8) throws(IPHeaderError) {
        var nextHeader = first
        var offset = IPv6Header.length
        var count = 0
        while true {
            switch nextHeader {
            case 0, 43, 60, 51, 44:
                count += 1
                guard count <= Self.maximumCount else { throw .tooManyExtensionHeaders(limit: Self.maximumCount) }
                guard offset + 8 <= packet.count else { throw .truncated(needed: offset + 8, available: packet.count) }
                let following = packet[offset]
                let length: Int
                if nextHeader == 44 {
                    length = 8
                    let field = packet.bigEndianUInt16(at: offset + 2)
                    let fragmentOffset = Int(field >> 3) * 8
                    let moreFragments = field & 1 != 0
                    if fragmentOffset != 0 || moreFragments {
                        protocolNumber = following
                        headerLength = offset + 8
                        fragment = Fragment(
                            identification: packet.bigEndianUInt32(at: offset + 4), offset: fragmentOffset,
                            moreFragments: moreFragments)
                        return
                    }
                } else if nextHeader == 51 {
                    length = (Int(packet[offset + 1]) + 2) * 4
                } else {
                    length = (Int(packet[offset + 1]) + 1) * 8
                }
                guard offset + length <= packet.count else {
                    throw .truncated(needed: offset + length, available: packet.count)
                }
                if nextHeader == 0 && Self.hasRouterAlert(packet, options: (offset + 2)..<(offset + length)) {
                    routerAlert = true
                }
                nextHeader = following
                offset += length
            default:
                protocolNumber = nextHeader
                headerLength = offset
                return
            }
        }
    }

    /// Walks hop-by-hop TLV options looking for Router Alert (type 5); a malformed tail ends the search.
    static func hasRouterAlert(_ bytes: UnsafeRawBufferPointer, options: Range<Int>) -> Bool {
        var index = options.lowerBound
        while index < options.upperBound {
            let type = bytes[index]
            if type == 0 {  // Pad1
                index += 1
                continue
            }
            guard index + 1 < options.upperBound else { return false }
            if type == 5 { return true }
            index += 2 + Int(bytes[index + 1])
        }
        return false
    }
}

extension UnsafeRawBufferPointer {
    /// Big-endian reads for the IP decoders; callers check bounds first.
    @inline(__always)
    func bigEndianUInt16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    @inline(__always)
    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndianUInt16(at: offset)) << 16 | UInt32(bigEndianUInt16(at: offset + 2))
    }
    @inline(__always)
    func bigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndianUInt32(at: offset)) << 32 | UInt64(bigEndianUInt32(at: offset + 4))
    }
}
