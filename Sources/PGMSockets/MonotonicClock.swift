internal import CPGMSystem
internal import Glibc
public import PGMCore

/// CLOCK_MONOTONIC as an offset from the driver's start (Docs/style.md#time-and-randomness-are-inputs): engines
/// see time begin near zero and never go backwards. Read with `clock_gettime` directly: the driver reads it
/// several times per batch, and `ContinuousClock` arithmetic goes through 128-bit `Duration` math.
public struct MonotonicClock: Sendable {
    /// The start, in nanoseconds of CLOCK_MONOTONIC.
    public let start: Int64

    public init() { start = Self.read() }

    public var now: Instant { Instant(nanoseconds: Self.read() &- start) }

    private static func read() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }
}
