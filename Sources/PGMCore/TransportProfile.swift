/// What carries PGM below it, in the terms engines count: every packet's bytes under the PGM header, which the
/// rate limiter charges (RFC 3208 §5.1.1, TXW_MAX_RTE counts what goes on the wire) and a TPDU must leave room for
/// within the largest datagram, and the IPv4 Router Alert option RFC 3208 §4 asks for on SPM, NCF, RDATA and POLL.
///
/// One value per way of running (ARCHITECTURE.md, "Encapsulations"): ``nativeIPv4`` or ``udpIPv4``. Drivers open
/// their sockets for ``encapsulation``; engines only count bytes.
public struct TransportProfile: Hashable, Sendable {
    /// How PGM packets travel.
    public enum Encapsulation: Hashable, Sendable {
        /// IP protocol 113 on raw sockets (root or CAP_NET_RAW).
        case native
        /// Inside UDP, as OpenPGM's UDP encapsulation: unprivileged, but without Router Alert.
        case udp
    }

    public var encapsulation: Encapsulation
    /// Bytes below PGM on every packet: the IP header, and UDP's with ``Encapsulation/udp``.
    public var headerOverhead: Int
    /// Extra bytes on packets that carry the Router Alert option (``Transmit/routerAlert``); 0 when the
    /// encapsulation cannot carry it.
    public var routerAlertOverhead: Int

    public init(encapsulation: Encapsulation, headerOverhead: Int, routerAlertOverhead: Int) {
        precondition(headerOverhead >= 0 && routerAlertOverhead >= 0, "overheads cannot be negative")
        self.encapsulation = encapsulation
        self.headerOverhead = headerOverhead
        self.routerAlertOverhead = routerAlertOverhead
    }

    /// An IPv4 header without options.
    public static let ipv4HeaderLength = 20
    /// A UDP header.
    public static let udpHeaderLength = 8
    /// The IPv4 Router Alert option (RFC 2113), padded to a 32-bit boundary.
    public static let routerAlertOptionLength = 4

    /// Native PGM over IPv4: a 20-byte header, 4 more with Router Alert.
    public static let nativeIPv4 = TransportProfile(
        encapsulation: .native, headerOverhead: ipv4HeaderLength, routerAlertOverhead: routerAlertOptionLength)
    /// UDP-encapsulated PGM over IPv4: 20 + 8 bytes; UDP carries no Router Alert.
    public static let udpIPv4 = TransportProfile(
        encapsulation: .udp, headerOverhead: ipv4HeaderLength + udpHeaderLength, routerAlertOverhead: 0)

    /// The bytes a PGM packet of `length` bytes takes on the wire.
    public func wireLength(ofPGM length: Int, routerAlert: Bool) -> Int {
        headerOverhead + (routerAlert ? routerAlertOverhead : 0) + length
    }

    /// The most PGM bytes a datagram of `maximumDatagram` bytes (IP header included, OpenPGM's max_tpdu) holds,
    /// leaving room for Router Alert so that a packet fits whether or not it carries it.
    public func maximumPGMLength(inDatagramsOf maximumDatagram: Int) -> Int {
        maximumDatagram - headerOverhead - routerAlertOverhead
    }
}
