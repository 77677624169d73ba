/// A smoothed round trip and its variation, as TCP keeps them (RFC 6298: SRTT and RTTVAR with gains 1/8 and
/// 1/4), so that a retry waits "a little longer than a repair usually takes" on any network, sub-millisecond
/// or intercontinental. Samples must come from requests sent once (Karn's rule), or from a repeated request
/// whose answer came sooner after the repeat than any round trip seen (``minimum``), so it answers the first:
/// without that, the slow answers that caused repeats would never be sampled (as RFC 4015's Eifel response).
public struct RoundTripEstimator: Hashable, Sendable {
    /// SRTT, `nil` before the first sample.
    public private(set) var smoothed: Duration?
    /// RTTVAR.
    public private(set) var variation: Duration = .zero
    public private(set) var samples = 0
    /// The shortest sample so far.
    public private(set) var minimum: Duration?

    public init() {}

    public mutating func record(_ sample: Duration) {
        let sample = max(sample, .zero)
        samples += 1
        minimum = min(minimum ?? sample, sample)
        guard let current = smoothed else {
            smoothed = sample
            variation = sample / 2
            return
        }
        let deviation = current > sample ? current - sample : sample - current
        variation = (variation * 3 + deviation) / 4
        smoothed = (current * 7 + sample) / 8
    }

    /// SRTT + 4·RTTVAR clamped to `limits`; `fallback` (clamped too) before any sample.
    public func timeout(within limits: ClosedRange<Duration>, fallback: Duration) -> Duration {
        let value = smoothed.map { $0 + variation * 4 } ?? fallback
        return min(max(value, limits.lowerBound), limits.upperBound)
    }
}
