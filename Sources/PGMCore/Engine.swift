public import PGMWire

/// The sans-IO contract every engine (source, receiver, network element, DLR) follows, so that one driver loop,
/// one simulator and one test harness run any of them.
///
/// Inputs are verbs and carry the time; outputs are `poll…`. After every input: drain ``pollTransmit(at:)``
/// until `nil`, then ``pollEvent()`` until `nil`, then sleep until ``nextDeadline``. `now` never goes backwards.
/// Bad network input is dropped and counted in the engine's statistics, never thrown.
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
