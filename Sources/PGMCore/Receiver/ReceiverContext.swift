import DequeModule
import PGMWire

/// Engine-wide state a peer needs while handling an input: configuration, random source, outputs.
struct ReceiverContext {
    let configuration: Receiver.Configuration
    /// RAND_NODE_ID, matched against POLL_RAND under POLL_MASK (RFC 3208 §14.5).
    let nodeID: UInt32
    /// A DLR's own address: DLR polls are answered, with OPT_REDIRECT naming it (RFC 3208 §9.5.2.2). `nil` for
    /// a plain receiver, which ignores them (§14.5: a POLL_S_TYPE it does not serve).
    let repairerAddress: NLA?
    var random: SplitMix64
    var now: Instant
    var statistics = Receiver.Statistics()
    var loss: LossRateEstimator
    var events: Deque<Receiver.Event> = []
    var outbound: Deque<Transmit> = []

    /// NAK_RB_IVL: uniform in (0, NAK_BO_IVL] (RFC 3208 §6.3).
    mutating func backOff(_ interval: Duration) -> Instant {
        let span = UInt64(max(1, interval.totalNanoseconds))
        return now + Duration(nanoseconds: Int64(random.bounded(span)) + 1)
    }
}
