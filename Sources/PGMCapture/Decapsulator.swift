public import PGMWire

/// Finds the PGM bytes in a captured frame: link layer, IPv4 (with options) or IPv6 (with extension headers),
/// then native PGM (IP protocol 113) or UDP encapsulation.
///
/// A pure function of the bytes, so it is tested with frames built in memory and fuzzed without libpcap.
/// Never traps: every bound is checked before a read, and a frame that cannot be followed is reported as
/// ``Decapsulated/malformed(_:_:)``.
public struct Decapsulator: Sendable {
    /// OpenPGM's UDP encapsulation ports (3055 unicast, 3056 multicast, Docs/openpgm.md#udp-encapsulation) and its
    /// default data-destination port 7500, which PGM-over-UDP deployments commonly reuse as the UDP port.
    public static let defaultUDPPorts: [UInt16] = [3055, 3056, 7500]

    /// UDP ports whose payload is decoded as PGM whatever it holds.
    public var udpPorts: [UInt16]
    /// Whether UDP on other ports is taken as PGM when its payload looks like a PGM packet with a valid,
    /// non-zero checksum (16-bit one's complement: about 1 in 65,536 random payloads would pass the checksum,
    /// and the header checks below cut that further).
    public var udpHeuristic: Bool

    public init(udpPorts: [UInt16] = Decapsulator.defaultUDPPorts, udpHeuristic: Bool = true) {
        self.udpPorts = udpPorts
        self.udpHeuristic = udpHeuristic
    }

    static let pgmProtocol: UInt8 = 113
    static let udpProtocol: UInt8 = 17
    static let maximumVLANTags = 8

    /// Decapsulates one frame as captured (`frame` may be shorter than on the wire, see ``Decapsulated``).
    public func decapsulate(_ frame: [UInt8], linkType: LinkType) -> Decapsulated {
        frame.withUnsafeBytes { decapsulate($0, linkType: linkType) }
    }

    public func decapsulate(_ frame: UnsafeRawBufferPointer, linkType: LinkType) -> Decapsulated {
        var vlans: [UInt16] = []
        let network: (offset: Int, etherType: UInt16?)
        switch linkType {
        case .ethernet:
            guard frame.count >= 14 else {
                return .malformed(nil, .truncated(layer: .link, needed: 14, available: frame.count))
            }
            var offset = 12
            var etherType = frame.u16(at: offset)
            offset += 2
            while etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
                guard vlans.count < Self.maximumVLANTags else { return .malformed(nil, .tooManyVLANTags) }
                guard frame.count >= offset + 4 else {
                    return .malformed(nil, .truncated(layer: .link, needed: offset + 4, available: frame.count))
                }
                vlans.append(frame.u16(at: offset) & 0x0FFF)
                etherType = frame.u16(at: offset + 2)
                offset += 4
            }
            network = (offset, etherType)
        case .linuxCooked:
            // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
            guard frame.count >= 16 else {
                return .malformed(nil, .truncated(layer: .link, needed: 16, available: frame.count))
            }
            network = (16, frame.u16(at: 14))
        case .linuxCookedV2:
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
            guard frame.count >= 20 else {
                return .malformed(nil, .truncated(layer: .link, needed: 20, available: frame.count))
            }
            network = (20, frame.u16(at: 0))
        case .null, .loop:
            guard frame.count >= 4 else {
                return .malformed(nil, .truncated(layer: .link, needed: 4, available: frame.count))
            }
            // The family is in the capturing host's byte order (DLT_NULL) or big-endian (DLT_LOOP); AF_INET is 2
            // everywhere, AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
            let big = frame.u32(at: 0)
            let family = big > 0xFFFF ? big.byteSwapped : big
            switch family {
            case 2: network = (4, 0x0800)
            case 10, 24, 28, 30: network = (4, 0x86DD)
            default: return .other(reason: .linkProtocol(UInt16(truncatingIfNeeded: family)))
            }
        case .raw, .rawDLT, .rawOpenBSD:
            network = (0, nil)
        case .ipv4:
            network = (0, 0x0800)
        case .ipv6:
            network = (0, 0x86DD)
        default:
            return .malformed(nil, .unsupportedLinkType(linkType.rawValue))
        }
        var context = NetworkHeader(linkType: linkType, vlanIDs: vlans, ipOffset: network.offset)
        switch network.etherType {
        case 0x0800: return decapsulateIPv4(frame, &context)
        case 0x86DD: return decapsulateIPv6(frame, &context)
        case nil:
            guard frame.count > network.offset else {
                return .malformed(nil, .truncated(layer: .ip, needed: network.offset + 1, available: frame.count))
            }
            switch frame[network.offset] >> 4 {
            case 4: return decapsulateIPv4(frame, &context)
            case 6: return decapsulateIPv6(frame, &context)
            case let version: return .malformed(nil, .unsupportedIPVersion(version))
            }
        case let other?: return .other(reason: .linkProtocol(other))
        }
    }

    /// IPv4 (RFC 791), with options; the Router Alert option (RFC 2113, `94 04 00 00`) is noted.
    private func decapsulateIPv4(_ frame: UnsafeRawBufferPointer, _ header: inout NetworkHeader) -> Decapsulated {
        let start = header.ipOffset
        let bytes = UnsafeRawBufferPointer(rebasing: frame[start...])
        var ip: IPv4Header
        do {
            ip = try IPv4Header(decodingFixedPart: bytes)
            try ip.checkTotalLength()
        } catch {
            return .malformed(nil, Self.decapsulationError(error, at: start))
        }
        header.ipVersion = 4
        header.trafficClass = ip.typeOfService
        header.identification = UInt32(ip.identification)
        header.hopLimit = ip.timeToLive
        header.protocolNumber = ip.protocolNumber
        header.source = .ipv4(ip.source)
        header.destination = .ipv4(ip.destination)
        header.ipHeaderLength = ip.headerLength
        header.ipLength = ip.totalLength
        header.dontFragment = ip.dontFragment
        do {
            try ip.decodeOptions(bytes)
        } catch {
            header.routerAlert = ip.routerAlert
            return .malformed(header, Self.decapsulationError(error, at: start))
        }
        header.routerAlert = ip.routerAlert
        let headerLength = ip.headerLength
        let totalLength = ip.totalLength
        let available = min(frame.count, start + totalLength) - (start + headerLength)
        header.truncatedBySnapshot = frame.count < start + totalLength
        if ip.moreFragments || ip.fragmentOffset != 0 {
            guard header.protocolNumber == Self.pgmProtocol || header.protocolNumber == Self.udpProtocol else {
                return .other(reason: .ipProtocol(header.protocolNumber))
            }
            return .fragment(
                header,
                IPFragment(
                    identification: header.identification,
                    offset: ip.fragmentOffset,
                    moreFragments: ip.moreFragments,
                    length: totalLength - headerLength
                )
            )
        }
        return decapsulateTransport(frame, header: header, payloadStart: start + headerLength, available: available)
    }

    /// IPv6 (RFC 8200) and the extension headers that may precede PGM: hop-by-hop (with Router Alert, RFC 2711),
    /// routing, destination options, authentication; a fragment header makes the packet a fragment.
    private func decapsulateIPv6(_ frame: UnsafeRawBufferPointer, _ header: inout NetworkHeader) -> Decapsulated {
        let start = header.ipOffset
        let ip: IPv6Header
        do {
            ip = try IPv6Header(decoding: UnsafeRawBufferPointer(rebasing: frame[start...]))
        } catch {
            return .malformed(nil, Self.decapsulationError(error, at: start))
        }
        header.ipVersion = 6
        header.trafficClass = ip.trafficClass
        header.identification = ip.flowLabel
        header.hopLimit = ip.hopLimit
        header.source = .ipv6(ip.source)
        header.destination = .ipv6(ip.destination)
        header.ipLength = IPv6Header.length + ip.payloadLength
        header.truncatedBySnapshot = frame.count < start + header.ipLength
        let end = min(frame.count, start + header.ipLength)
        var chain = IPv6ExtensionHeaders()
        do {
            try chain.decode(UnsafeRawBufferPointer(rebasing: frame[start..<end]), nextHeader: ip.nextHeader)
        } catch {
            header.routerAlert = chain.routerAlert
            return .malformed(header, Self.decapsulationError(error, at: start))
        }
        header.routerAlert = chain.routerAlert
        header.protocolNumber = chain.protocolNumber
        header.ipHeaderLength = chain.headerLength
        if let fragment = chain.fragment {
            guard chain.protocolNumber == Self.pgmProtocol || chain.protocolNumber == Self.udpProtocol else {
                return .other(reason: .ipProtocol(chain.protocolNumber))
            }
            return .fragment(
                header,
                IPFragment(
                    identification: fragment.identification,
                    offset: fragment.offset,
                    moreFragments: fragment.moreFragments,
                    length: header.ipLength - header.ipHeaderLength
                )
            )
        }
        let payloadStart = start + chain.headerLength
        return decapsulateTransport(frame, header: header, payloadStart: payloadStart, available: end - payloadStart)
    }

    /// The codec's error as pgm-dump reports it, with offsets counted from the frame's start.
    private static func decapsulationError(_ error: IPHeaderError, at start: Int) -> DecapsulationError {
        switch error {
        case .truncated(let needed, let available):
            .truncated(layer: .ip, needed: start + needed, available: start + available)
        case .unsupportedVersion(let version):
            .unsupportedIPVersion(version)
        case .headerLengthTooShort(let length):
            .badIPHeader("IPv4 header length \(length)")
        case .totalLengthBelowHeader(let total, let headerLength):
            .badIPHeader("IPv4 total length \(total) below header length \(headerLength)")
        case .optionWithoutLength(let type):
            .badIPHeader("IPv4 option 0x\(hex(type)) without length")
        case .optionLength(let type, let length):
            .badIPHeader("IPv4 option 0x\(hex(type)) with length \(length)")
        case .tooManyExtensionHeaders(let limit):
            .badIPHeader("more than \(limit) IPv6 extension headers")
        }
    }

    private func decapsulateTransport(
        _ frame: UnsafeRawBufferPointer,
        header: NetworkHeader,
        payloadStart: Int,
        available: Int
    ) -> Decapsulated {
        switch header.protocolNumber {
        case Self.pgmProtocol:
            return .pgm(header, udp: nil, pgm: payloadStart..<(payloadStart + available))
        case Self.udpProtocol:
            guard available >= 8 else {
                return .malformed(
                    header,
                    .truncated(layer: .udp, needed: payloadStart + 8, available: payloadStart + available)
                )
            }
            let sourcePort = frame.u16(at: payloadStart)
            let destinationPort = frame.u16(at: payloadStart + 2)
            let udpLength = Int(frame.u16(at: payloadStart + 4))
            // UDP length 0 is a jumbogram over IPv6 (RFC 2675); otherwise it must fit in the IP payload.
            let datagramLength: Int
            if udpLength == 0 && header.ipVersion == 6 {
                datagramLength = header.ipLength - header.ipHeaderLength
            } else {
                guard udpLength >= 8, udpLength <= header.ipLength - header.ipHeaderLength else {
                    return .malformed(header, .badUDPLength(udpLength))
                }
                datagramLength = udpLength
            }
            let pgmStart = payloadStart + 8
            let pgm = pgmStart..<(pgmStart + min(datagramLength, available) - 8)
            let configured = udpPorts.contains(destinationPort) || udpPorts.contains(sourcePort)
            var udp = UDPHeader(
                sourcePort: sourcePort,
                destinationPort: destinationPort,
                length: udpLength,
                heuristic: false
            )
            if configured { return .pgm(header, udp: udp, pgm: pgm) }
            guard udpHeuristic, Self.looksLikePGM(UnsafeRawBufferPointer(rebasing: frame[pgm])) else {
                return .other(reason: .udpPort(destinationPort))
            }
            udp.heuristic = true
            return .pgm(header, udp: udp, pgm: pgm)
        default:
            return .other(reason: .ipProtocol(header.protocolNumber))
        }
    }

    /// The UDP heuristic: a known type with version and reserved bits 0, TSDU length within the datagram, and a
    /// non-zero checksum that verifies.
    static func looksLikePGM(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= Packet.commonHeaderLength else { return false }
        let typeByte = bytes[4]
        guard typeByte & 0xF0 == 0, PacketType(wireValue: typeByte) != nil else { return false }
        guard Int(bytes.u16(at: 14)) <= bytes.count - Packet.commonHeaderLength else { return false }
        guard bytes.u16(at: PGMChecksum.fieldOffset) != 0 else { return false }
        return PGMChecksum.isValid(bytes)
    }
}

/// Where the IP layer of a frame was found and what it said.
public struct NetworkHeader: Hashable, Sendable {
    public var linkType: LinkType
    /// 802.1Q / 802.1ad VLAN IDs, outermost first.
    public var vlanIDs: [UInt16]
    /// Offset of the IP header in the frame.
    public var ipOffset: Int
    public var ipVersion: UInt8 = 0
    public var source: NLA = .unspecifiedIPv4
    public var destination: NLA = .unspecifiedIPv4
    /// TTL (IPv4) or hop limit (IPv6).
    public var hopLimit: UInt8 = 0
    /// TOS (IPv4) or traffic class (IPv6).
    public var trafficClass: UInt8 = 0
    /// IPv4 identification, or the IPv6 flow label.
    public var identification: UInt32 = 0
    public var dontFragment = false
    /// The IPv4 Router Alert option (RFC 2113) or the IPv6 hop-by-hop Router Alert (RFC 2711).
    public var routerAlert = false
    /// The upper-layer protocol after any IPv6 extension headers.
    public var protocolNumber: UInt8 = 0
    /// IPv4 header with options, or IPv6 header with extension headers.
    public var ipHeaderLength = 0
    /// The IP packet's length as its header declares it.
    public var ipLength = 0
    /// The frame was cut by the capture's snapshot length before the end of the IP packet.
    public var truncatedBySnapshot = false

    public init(linkType: LinkType, vlanIDs: [UInt16] = [], ipOffset: Int) {
        self.linkType = linkType
        self.vlanIDs = vlanIDs
        self.ipOffset = ipOffset
    }
}

/// The UDP header of UDP-encapsulated PGM.
public struct UDPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var length: Int
    /// Recognized by the checksum heuristic rather than by a configured port.
    public var heuristic: Bool
}

/// An IPv4 or IPv6 fragment of a PGM or UDP packet. PGM is not expected to be fragmented (OpenPGM drops
/// fragments); the fragment is reported, never decoded.
public struct IPFragment: Hashable, Sendable {
    public var identification: UInt32
    /// Byte offset of this fragment in the original payload.
    public var offset: Int
    public var moreFragments: Bool
    /// Fragment payload bytes as the IP header declares them.
    public var length: Int
}

/// What a frame turned out to hold.
public enum Decapsulated: Hashable, Sendable {
    /// PGM bytes at `pgm` in the frame (fewer than sent if ``NetworkHeader/truncatedBySnapshot``).
    case pgm(NetworkHeader, udp: UDPHeader?, pgm: Range<Int>)
    case fragment(NetworkHeader, IPFragment)
    /// Not PGM (another protocol or UDP port); not printed, only counted.
    case other(reason: NotPGMReason)
    /// A link, IP or UDP header that cannot be followed; the IP header if it was read.
    case malformed(NetworkHeader?, DecapsulationError)
}

public enum NotPGMReason: Hashable, Sendable {
    case linkProtocol(UInt16)
    case ipProtocol(UInt8)
    case udpPort(UInt16)
}

/// Why a frame's headers below PGM cannot be followed.
public enum DecapsulationError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Layer: String, Hashable, Sendable {
        case link, ip = "IP", udp = "UDP"
    }

    case truncated(layer: Layer, needed: Int, available: Int)
    case unsupportedLinkType(Int32)
    case unsupportedIPVersion(UInt8)
    case tooManyVLANTags
    case badIPHeader(String)
    case badUDPLength(Int)

    public var description: String {
        switch self {
        case .truncated(let layer, let needed, let available):
            "truncated \(layer.rawValue) header: frame needs \(needed) bytes, has \(available)"
        case .unsupportedLinkType(let type): "unsupported link type \(type)"
        case .unsupportedIPVersion(let version): "IP version \(version)"
        case .tooManyVLANTags: "more than \(Decapsulator.maximumVLANTags) VLAN tags"
        case .badIPHeader(let reason): "bad IP header: \(reason)"
        case .badUDPLength(let length): "bad UDP length \(length)"
        }
    }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

extension UnsafeRawBufferPointer {
    /// Big-endian reads; callers check bounds first.
    @inline(__always)
    func u16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    @inline(__always)
    func u32(at offset: Int) -> UInt32 { UInt32(u16(at: offset)) << 16 | UInt32(u16(at: offset + 2)) }
}
