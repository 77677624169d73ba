import PGMCapture
public import PGMCore
public import PGMWire

/// One packet as the simulator saw it: on the wire of its sender's segment (`receiver == nil`), or lost on
/// the way into one receiver (`receiver` named, `dropped`).
public struct TraceRecord: Sendable {
    public var time: Instant
    public var segment: SegmentID
    public var source: NLA
    public var destination: NLA
    /// The encoded PGM packet.
    public var bytes: [UInt8]
    public var ttl: UInt8?
    public var routerAlert: Bool
    public var receiver: String?
    public var dropped: Bool

    /// The packet decoded again, for assertions on traces.
    public var packet: Packet? { try? Packet(decoding: bytes) }
}

extension Network {
    /// The trace as a classic pcap file of raw IPv4 frames (native PGM, protocol 113), one frame per packet
    /// that made it onto `segment`'s wire (or every segment when `nil`); `includeDropped` adds packets lost
    /// on their sender's uplink. IPv6 packets are skipped.
    public func pcap(segment: SegmentID? = nil, includeDropped: Bool = false, ttl: UInt8 = 16) -> [UInt8] {
        var writer = PcapWriter(linkType: .raw)
        var identification: UInt16 = 0
        for record in trace where record.receiver == nil && (includeDropped || !record.dropped) {
            if let segment, record.segment != segment { continue }
            guard case .ipv4(let source) = record.source, case .ipv4(let destination) = record.destination else {
                continue
            }
            identification &+= 1
            let frame = IPFrameBuilder.ipv4(
                pgm: record.bytes, source: source, destination: destination, ttl: record.ttl ?? ttl,
                routerAlert: record.routerAlert, identification: identification)
            writer.append(frame: frame, nanoseconds: record.time.nanoseconds)
        }
        return writer.bytes
    }
}
