public import PGMCore
public import PGMWire

/// Identifies a LAN segment of a ``Network``.
public struct SegmentID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public var description: String { "segment\(rawValue)" }
}

/// One interface of a host: which segment it sits on, its unicast address, and how each direction of its
/// attachment behaves. ``Transmit/interface`` indexes a host's interfaces in the order given.
public struct InterfaceConfiguration: Sendable {
    public var segment: SegmentID
    public var address: NLA
    /// Host to segment.
    public var uplink: LinkProfile
    /// Segment to host.
    public var downlink: LinkProfile

    public init(
        segment: SegmentID, address: NLA, uplink: LinkProfile = LinkProfile(), downlink: LinkProfile = LinkProfile()
    ) {
        self.segment = segment
        self.address = address
        self.uplink = uplink
        self.downlink = downlink
    }
}

/// What the network needs from a host, whatever engine it runs.
protocol SimulatedHost: AnyObject {
    var name: String { get }
    var interfaces: [InterfaceConfiguration] { get }
    var scheduledDeadline: Instant? { get set }
    var timerGeneration: UInt64 { get set }
    func deliver(_ packet: Packet, arrival: Arrival, at now: Instant)
    func timeout(at now: Instant)
    func nextTransmit(at now: Instant) -> Transmit?
    func activity(at now: Instant)
    var deadline: Instant? { get }
}

/// A host running one engine. ``onActivity`` runs after every input the host handles (packet, timer, or
/// ``Network/wake(_:)``): drain the engine's events there, and feed a source more data.
public final class Host<E: Engine>: SimulatedHost {
    public let name: String
    public var engine: E
    public let interfaces: [InterfaceConfiguration]
    public var onActivity: ((Host<E>, Instant) -> Void)?
    /// Datagrams that failed to decode on arrival (the codec runs on every hop).
    public internal(set) var decodeFailures = 0
    var scheduledDeadline: Instant?
    var timerGeneration: UInt64 = 0

    init(name: String, engine: E, interfaces: [InterfaceConfiguration]) {
        self.name = name
        self.engine = engine
        self.interfaces = interfaces
    }

    /// The address of the host's first interface.
    public var address: NLA { interfaces[0].address }

    func deliver(_ packet: Packet, arrival: Arrival, at now: Instant) {
        engine.receive(packet, arrival: arrival, at: now)
    }
    func timeout(at now: Instant) { engine.handleTimeout(at: now) }
    func nextTransmit(at now: Instant) -> Transmit? { engine.pollTransmit(at: now) }
    func activity(at now: Instant) { onActivity?(self, now) }
    var deadline: Instant? { engine.nextDeadline }
}
