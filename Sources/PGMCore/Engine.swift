public import PGMWire

/// The sans-IO contract every engine (source, receiver, network element, DLR) follows, so that one driver loop,
/// one simulator and one test harness run any of them.
///
/// Inputs are verbs and carry the time; outputs are `poll…`. After every input: drain ``pollTransmit(at:)``
/// until `nil`, then ``pollEvent()`` until `nil`, then sleep until ``nextDeadline``. `now` never goes backwards.
/// Bad network input is dropped and counted in the engine's statistics, never thrown.
///
/// Who owns payload bytes: a packet handed to ``receive(_:arrival:at:)`` carries its payload as a slice of the
/// driver's receive buffer (one datagram, or a run of up to 64 read at once), never copied on the way in. A slice
/// stays valid, but whatever holds it keeps the whole buffer alive. So an engine that keeps a payload for longer
/// than its burst copies it once, where it decides to keep it: a receiver's data held behind a gap until its repair
/// comes (a round trip at least), a DLR's repair cache, a network element's copies of the repairs it forwarded.
/// Nothing else copies: the fragments of an APDU whose rest is still arriving stay slices until reassembly copies
/// them into the APDU; a payload kept as a copy already (a DLR hands its receiver the cached bytes) is not copied
/// again; payloads an engine passes on (forwarded packets, delivered data) are slices too, and an application that
/// keeps delivered data copies it.
public protocol Engine {
    /// What the engine tells its application (data, losses, session changes), in the order they happened.
    associatedtype Event: Sendable

    /// A decoded packet from the network. Bad or foreign packets are dropped and counted, never thrown.
    mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant)
    /// Runs every timer due at or before `now`; early or repeated calls do nothing.
    mutating func handleTimeout(at now: Instant)
    /// The next packet to send, if the rate limiter lets one go at `now`.
    mutating func pollTransmit(at now: Instant) -> Transmit?
    /// The next event for the application, oldest first.
    mutating func pollEvent() -> Event?
    /// When ``handleTimeout(at:)`` or ``pollTransmit(at:)`` next has work.
    var nextDeadline: Instant? { get }
}

extension Engine where Event == Never {
    /// An engine that tells its application nothing (a plain router in the simulator, a scripted test engine).
    public mutating func pollEvent() -> Never? { nil }
}
