public import PGMWire

/// Identifies one of a host's interfaces to an engine. Hosts with one interface use ``primary``; a network
/// element numbers its upstream and downstream interfaces.
public struct InterfaceID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static let primary = InterfaceID(0)
    public var description: String { "if\(rawValue)" }
}

/// Where a packet goes.
public enum Destination: Hashable, Sendable {
    /// To the session's multicast group.
    case multicast(NLA)
    /// To one host.
    case unicast(NLA)
}

/// One packet an engine wants sent; the driver carries out every field, it decides none of them.
public struct Transmit: Hashable, Sendable {
    public var packet: Packet
    public var destination: Destination
    /// The interface to send on (a network element has several; end hosts use ``InterfaceID/primary``).
    public var interface: InterfaceID
    /// IPv4 Router Alert (RFC 2113): RFC 3208 §4 asks for it on SPM, NCF, RDATA and POLL. Only native PGM
    /// can carry it.
    public var routerAlert: Bool
    /// A TTL other than the session's, e.g. 1 for the on-link copy of an SPMR (RFC 3208 Appendix C).
    public var ttl: UInt8?
    /// The IP source to claim, when the RFC requires another host's address: a network element's NCFs carry
    /// the data source's address (RFC 3208 §7.2). Drivers honour it only in native mode with a raw socket.
    public var spoofedSource: NLA?

    public init(
        packet: Packet, destination: Destination, interface: InterfaceID = .primary, routerAlert: Bool = false,
        ttl: UInt8? = nil, spoofedSource: NLA? = nil
    ) {
        self.packet = packet
        self.destination = destination
        self.interface = interface
        self.routerAlert = routerAlert
        self.ttl = ttl
        self.spoofedSource = spoofedSource
    }

    /// The Router Alert rule of RFC 3208 §4 and §14.7.1 for a packet type.
    public static func needsRouterAlert(_ type: PacketType) -> Bool {
        switch type {
        case .spm, .ncf, .rdata, .poll: true
        case .polr, .odata, .nak, .nnak, .spmr, .ack: false
        }
    }
}

/// A received datagram's addressing, as the driver learned it from the IP header or socket ancillary data.
public struct Arrival: Hashable, Sendable {
    /// The IP source address.
    public var source: NLA
    /// The IP destination: the group for multicast, our own address for unicast.
    public var destination: NLA
    public var interface: InterfaceID

    public init(source: NLA, destination: NLA, interface: InterfaceID = .primary) {
        self.source = source
        self.destination = destination
        self.interface = interface
    }
}
