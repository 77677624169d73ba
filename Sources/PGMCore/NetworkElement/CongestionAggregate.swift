public import PGMWire

/// The worst OPT_CR report of one session as a network element carries it upstream (RFC 3208 Appendix B,
/// §12.6 of the RFC text).
///
/// Stored values are aged by sequence distance as §12.6 prescribes, `aged = v · exp(−ΔSQN · v / 2)` with `v` as
/// a fraction, so a receiver that stops reporting fades after a few of its expected inter-NAK gaps; values in
/// an incoming report and local link loads are current and not aged. The reference SQN is the highest the
/// element knows: CR_LEAD of the incoming report, or the session's lead if that is later.
public struct CongestionAggregate: Hashable, Sendable {
    /// The report as it stands after the last merge: what the next forwarded NAK carries.
    public private(set) var current: Option.CongestionReport?
    /// The report last carried upstream, for the 5 % rule (RFC 3208 Appendix B §12.6.1).
    public private(set) var lastSent: Option.CongestionReport?

    /// RFC 3208 §12.6.1: "changed by more than 5 %" — read as 5 % of the 0xFFFF scale, for every field.
    public static let overrideThreshold = 3277

    public init() {}

    /// Folds an incoming report in. `arrivalLoad` is the measured loss on the interface the NAK came from
    /// (NE_WP's `if_load`), `worstOutgoingLoad` the worst over the session's outgoing interfaces (NE_WL); both
    /// on the 0xFFFF scale. Returns whether the result moved by more than 5 % from what was last sent upstream
    /// (or nothing was sent yet), which lets a NAK through that elimination would drop.
    public mutating func merge(
        _ incoming: Option.CongestionReport, reference knownLead: SequenceNumber?, arrivalLoad: UInt16 = 0,
        worstOutgoingLoad: UInt16 = 0
    ) -> Bool {
        var reference = incoming.lead
        if let knownLead { reference = SequenceNumber.serialMax(reference, knownLead) }
        var result = incoming
        result.lead = reference
        // NE_WP = if_load + NE_WP · (1 − if_loss) on the arrival interface (§12.3).
        let adjusted =
            Double(arrivalLoad) + Double(incoming.networkElementWorstPath) * (1 - Double(arrivalLoad) / 65535)
        result.networkElementWorstPath = UInt16(min(65535, adjusted.rounded()))
        result.networkElementWorstLink = max(incoming.networkElementWorstLink, worstOutgoingLoad)
        if let previous = current {
            let distance = max(0, Int(previous.lead.distance(to: reference)))
            result.kinds.formUnion(previous.kinds)
            result.networkElementWorstLink = max(
                result.networkElementWorstLink, Self.aged(previous.networkElementWorstLink, by: distance))
            result.networkElementWorstPath = max(
                result.networkElementWorstPath, Self.aged(previous.networkElementWorstPath, by: distance))
            let agedReceiver = Self.aged(previous.receiverWorstPath, by: distance)
            // RCVR follows the RX_WP that wins; the incoming one wins ties, being the fresher measurement.
            if agedReceiver > incoming.receiverWorstPath {
                result.receiverWorstPath = agedReceiver
                result.worstReceiver = previous.worstReceiver
            }
        }
        current = result
        guard let lastSent else { return true }
        func moved(_ a: UInt16, _ b: UInt16) -> Bool { abs(Int(a) - Int(b)) > Self.overrideThreshold }
        return moved(result.receiverWorstPath, lastSent.receiverWorstPath)
            || moved(result.networkElementWorstLink, lastSent.networkElementWorstLink)
            || moved(result.networkElementWorstPath, lastSent.networkElementWorstPath)
    }

    /// Records that ``current`` went upstream.
    public mutating func markSent() { lastSent = current }

    /// `value · exp(−distance · v / 2)` with `v = value / 0xFFFF` (RFC 3208 §12.6).
    public static func aged(_ value: UInt16, by distance: Int) -> UInt16 {
        guard value > 0, distance > 0 else { return value }
        let fraction = Double(value) / 65535
        return UInt16((Double(value) * negativeExponential(Double(distance) * fraction / 2)).rounded())
    }

    /// `e^−x` for `x ≥ 0` without Foundation: halve `x` below 1/2, a Taylor series, square back.
    static func negativeExponential(_ x: Double) -> Double {
        guard x > 0 else { return 1 }
        guard x < 745 else { return 0 }
        var reduced = x
        var squarings = 0
        while reduced > 0.5 {
            reduced /= 2
            squarings += 1
        }
        var term = 1.0
        var sum = 1.0
        for n in 1...16 {
            term *= -reduced / Double(n)
            sum += term
        }
        for _ in 0..<squarings { sum *= sum }
        return sum
    }
}
