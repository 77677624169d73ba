/// An exponentially weighted moving average of the fraction of sequence numbers whose original
/// transmission was missed, which is what a receiver reports in OPT_CR (RFC 3208 Appendix B, "loss rate").
public struct LossRateEstimator: Hashable, Sendable {
    /// Weight of each new sample: larger follows changes faster but is noisier.
    public let weight: Double
    /// The current estimate, 0 ... 1.
    public private(set) var fraction: Double = 0
    public private(set) var samples: Int = 0

    public init(weight: Double = 1.0 / 64) {
        precondition(weight > 0 && weight <= 1, "weight must be in (0, 1]")
        self.weight = weight
    }

    /// Records one resolved sequence number: `missed` when its ODATA did not arrive (repaired or not).
    public mutating func record(missed: Bool) {
        let sample = missed ? 1.0 : 0.0
        // Until 1/weight samples are in, average plainly so that the first samples do not dominate.
        samples += 1
        let effective = max(weight, 1.0 / Double(samples))
        fraction += effective * (sample - fraction)
    }

    /// The estimate on OPT_CR's scale, where 0xFFFF is 100 % (RFC 3208 Appendix B, OpenPGM `pgm_fp16`).
    public var scaled: UInt16 { UInt16((min(max(fraction, 0), 1) * 65535).rounded()) }
}
