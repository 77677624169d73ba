public import PGMWire

/// Writes the classic pcap file format (tcpdump.org "pcap-savefile"), microsecond timestamps, in memory.
///
/// Used for traces the simulator and labs produce; files are read back with libpcap by ``PacketCapture``.
public struct PcapWriter: Sendable {
    /// Link-layer header type numbers (tcpdump.org "link-layer header types").
    public enum LinkType: UInt32, Sendable {
        case ethernet = 1
        /// Raw IP, version from the first nibble.
        case raw = 101
        case linuxCooked = 113
        case ipv4 = 228
        case ipv6 = 229
        case linuxCookedV2 = 276
    }

    public private(set) var bytes: [UInt8] = []
    public let linkType: LinkType
    public let snapshotLength: UInt32

    public init(linkType: LinkType = .raw, snapshotLength: UInt32 = 262_144) {
        self.linkType = linkType
        self.snapshotLength = snapshotLength
        appendLittleEndian(UInt32(0xA1B2_C3D4))  // magic, microsecond resolution
        appendLittleEndian(UInt16(2))
        appendLittleEndian(UInt16(4))
        appendLittleEndian(UInt32(0))  // thiszone
        appendLittleEndian(UInt32(0))  // sigfigs
        appendLittleEndian(snapshotLength)
        appendLittleEndian(linkType.rawValue)
    }

    /// Appends one frame captured at `nanoseconds` since the epoch (or since any origin, for simulations).
    public mutating func append(frame: [UInt8], nanoseconds: Int64) {
        let seconds = nanoseconds / 1_000_000_000
        let microseconds = (nanoseconds % 1_000_000_000) / 1000
        let captured = min(frame.count, Int(snapshotLength))
        appendLittleEndian(UInt32(truncatingIfNeeded: seconds))
        appendLittleEndian(UInt32(truncatingIfNeeded: microseconds))
        appendLittleEndian(UInt32(captured))
        appendLittleEndian(UInt32(frame.count))
        bytes.append(contentsOf: frame[..<captured])
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Builds IP (and UDP) headers around PGM bytes, for traces and test captures.
public enum IPFrameBuilder {
    /// IP protocol number of PGM (RFC 3208 §8).
    public static let pgmProtocol: UInt8 = 113
    public static let udpProtocol: UInt8 = 17

    /// An IPv4 datagram carrying `pgm` natively (protocol 113), or inside UDP when `udpPorts` is given, with
    /// don't-fragment set and the header checksum computed. `routerAlert` adds the RFC 2113 option.
    public static func ipv4(
        pgm: [UInt8], source: IPv4Address, destination: IPv4Address, ttl: UInt8 = 16, routerAlert: Bool = false,
        udpPorts: (source: UInt16, destination: UInt16)? = nil, identification: UInt16 = 0
    ) -> [UInt8] {
        let udpLength = udpPorts == nil ? 0 : 8
        var header = IPv4Header(
            source: source, destination: destination, protocolNumber: udpPorts == nil ? pgmProtocol : udpProtocol,
            timeToLive: ttl, payloadLength: udpLength + pgm.count, routerAlert: routerAlert)
        header.identification = identification
        header.dontFragment = true
        var frame: [UInt8] = []
        frame.reserveCapacity(header.totalLength)
        header.encode(into: &frame)
        if let udpPorts {
            appendBigEndian(udpPorts.source, to: &frame)
            appendBigEndian(udpPorts.destination, to: &frame)
            appendBigEndian(UInt16(truncatingIfNeeded: 8 + pgm.count), to: &frame)
            appendBigEndian(UInt16(0), to: &frame)  // UDP checksum optional over IPv4
        }
        frame.append(contentsOf: pgm)
        return frame
    }

    private static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to frame: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { frame.append(contentsOf: $0) }
    }
}
