/// A point on an injected monotonic clock, in nanoseconds from an arbitrary origin.
///
/// Engines never read a clock: drivers map `ContinuousClock.now` to an offset from their start, the simulator
/// uses virtual time, and tests begin at ``zero``.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.totalNanoseconds)
    }

    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.totalNanoseconds)
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        Duration(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public static func += (lhs: inout Instant, rhs: Duration) { lhs = lhs + rhs }

    /// Seconds since the origin, for statistics and traces.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String {
        let milliseconds = nanoseconds / 1_000_000
        let fraction = milliseconds % 1000
        let padded = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return "\(milliseconds / 1000).\(padded)s"
    }
}

extension Duration {
    /// `.nanoseconds(_:)` without the generic 128-bit multiplication the standard library does for any integer
    /// type: engines take instant differences several times per packet.
    @inlinable
    public init(nanoseconds: Int64) {
        self.init(attoseconds: Int128(nanoseconds) &* 1_000_000_000)
    }

    /// Whole nanoseconds, saturating at the bounds of `Int64` (about 292 years). Durations under 9.2 s take a
    /// 64-bit division: `components` (a 128-bit division) showed up at 15 % of a source's instructions.
    @inlinable
    public var totalNanoseconds: Int64 {
        let attoseconds = self.attoseconds
        if let small = Int64(exactly: attoseconds) { return small / 1_000_000_000 }
        let nanoseconds = attoseconds / 1_000_000_000
        return Int64(exactly: nanoseconds) ?? (nanoseconds < 0 ? .min : .max)
    }

    public var secondsValue: Double { Double(totalNanoseconds) / 1e9 }
}
