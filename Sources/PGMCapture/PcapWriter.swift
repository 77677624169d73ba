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

    /// An IPv4 datagram carrying `pgm` natively (protocol 113), or inside UDP when `udpPorts` is given.
    /// `routerAlert` adds the RFC 2113 option (`94 04 00 00`).
    public static func ipv4(
        pgm: [UInt8], source: IPv4Address, destination: IPv4Address, ttl: UInt8 = 16, routerAlert: Bool = false,
        udpPorts: (source: UInt16, destination: UInt16)? = nil, identification: UInt16 = 0
    ) -> [UInt8] {
        let headerLength = routerAlert ? 24 : 20
        let udpLength = udpPorts == nil ? 0 : 8
        let total = headerLength + udpLength + pgm.count
        var frame: [UInt8] = []
        frame.reserveCapacity(total)
        frame.append(0x40 | UInt8(headerLength / 4))
        frame.append(0)
        appendBigEndian(UInt16(truncatingIfNeeded: total), to: &frame)
        appendBigEndian(identification, to: &frame)
        appendBigEndian(UInt16(0x4000), to: &frame)  // don't fragment
        frame.append(ttl)
        frame.append(udpPorts == nil ? pgmProtocol : udpProtocol)
        appendBigEndian(UInt16(0), to: &frame)
        appendBigEndian(source.rawValue, to: &frame)
        appendBigEndian(destination.rawValue, to: &frame)
        if routerAlert { frame.append(contentsOf: [0x94, 0x04, 0x00, 0x00]) }
        let checksum = frame.withUnsafeBytes { PGMChecksum.finish(PGMChecksum.partialSum($0)) }
        frame[10] = UInt8(checksum >> 8)
        frame[11] = UInt8(checksum & 0xFF)
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
