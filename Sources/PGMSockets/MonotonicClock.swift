public import PGMCore

/// Maps `ContinuousClock` to ``Instant`` as an offset from the driver's start (STYLE.md §4): engines see time
/// begin near zero and never go backwards.
public struct MonotonicClock: Sendable {
    public let start: ContinuousClock.Instant

    public init(start: ContinuousClock.Instant = .now) { self.start = start }

    public var now: Instant { Instant(nanoseconds: (ContinuousClock.now - start).totalNanoseconds) }
}
