public import PGMWire

/// One host that both sends and receives on one PGM group: its own session (``source``) and every other
/// session on the group (``receiver``), behind one ``Engine`` so that one driver loop or one simulated host runs
/// both (a member of an ordered group, Docs/ordering.md).
///
/// Packets are routed by TSI: those of our own session (NAKs, SPMRs, ACKs for it, and our own data and SPMs
/// looped back by the host) go to the source, which ignores what is not for a source; everything else goes to the
/// receiver. So the receiver never treats our own data as a session to repair, and our source still answers the
/// NAKs of everyone else (RFC 3208 §5.3: NAKs name the TSI of the session they are for).
public struct GroupTransport: Engine {
    public enum Event: Hashable, Sendable {
        case source(Source.Event)
        case receiver(Receiver.Event)
    }

    public var source: Source
    public var receiver: Receiver
    /// Whose turn it is to transmit first, so that a busy source cannot starve the receiver's NAKs and back.
    private var receiverFirst = false

    public init(source: Source, receiver: Receiver) {
        self.source = source
        self.receiver = receiver
    }

    public var tsi: TSI { source.configuration.tsi }

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        if packet.tsi == source.configuration.tsi {
            source.receive(packet, arrival: arrival, at: now)
        } else {
            receiver.receive(packet, arrival: arrival, at: now)
        }
    }

    public mutating func handleTimeout(at now: Instant) {
        if let deadline = source.nextDeadline, deadline <= now { source.handleTimeout(at: now) }
        if let deadline = receiver.nextDeadline, deadline <= now { receiver.handleTimeout(at: now) }
    }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        receiverFirst.toggle()
        if receiverFirst {
            return receiver.pollTransmit(at: now) ?? source.pollTransmit(at: now)
        }
        return source.pollTransmit(at: now) ?? receiver.pollTransmit(at: now)
    }

    public mutating func pollEvent() -> Event? {
        if let event = receiver.pollEvent() { return .receiver(event) }
        return source.pollEvent().map(Event.source)
    }

    public var nextDeadline: Instant? {
        switch (source.nextDeadline, receiver.nextDeadline) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b): b
        }
    }
}
