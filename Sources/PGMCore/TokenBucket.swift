/// A byte-counting token bucket (RFC 3208 §5.1.1: "never faster than TXW_MAX_RTE"), refilled from the `now`
/// the engine is given, so it reads no clock.
///
/// The bucket holds at most ``capacity`` bytes of credit, which bounds the burst; a packet may leave when the
/// credit covers all of its bytes on the wire.
public struct TokenBucket: Hashable, Sendable {
    /// Bytes per second.
    public let rate: Int
    /// The burst bound in bytes; at least one maximum-size packet, or nothing large could ever leave.
    public let capacity: Int
    private var tokens: Double
    private var updated: Instant

    public init(rate: Int, capacity: Int, at now: Instant) {
        precondition(rate > 0, "rate must be positive")
        precondition(capacity > 0, "capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.tokens = Double(capacity)
        self.updated = now
    }

    private mutating func refill(at now: Instant) {
        guard now > updated else { return }
        tokens = min(Double(capacity), tokens + Double(rate) * (now - updated).secondsValue)
        updated = now
    }

    /// Takes `bytes` of credit if the bucket holds them.
    public mutating func consume(_ bytes: Int, at now: Instant) -> Bool {
        refill(at: now)
        // A packet larger than the whole bucket may go when the bucket is full, so it is late, never stuck.
        let needed = Double(min(bytes, capacity))
        guard tokens + 1e-9 >= needed else { return false }
        tokens -= Double(bytes)
        return true
    }

    /// Takes `bytes` of credit unconditionally (the balance may go negative), for packets that must not wait.
    public mutating func charge(_ bytes: Int, at now: Instant) {
        refill(at: now)
        tokens -= Double(bytes)
    }

    /// The earliest instant at which `bytes` would be accepted.
    public func availability(of bytes: Int) -> Instant {
        let needed = Double(min(bytes, capacity)) - tokens
        if needed <= 0 { return updated }
        let nanoseconds = (needed / Double(rate) * 1e9).rounded(.up)
        return updated + Duration(nanoseconds: Int64(nanoseconds) + 1)
    }
}
