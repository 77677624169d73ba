import PGMWire
import DequeModule

/// One sequence number's place in a receive window (RFC 3208 §6.1, §6.3).
enum Slot {
    /// Not held; its NAK state machine runs.
    case missing(Repair)
    /// Held, waiting for in-order delivery.
    case received(ReceivedTPDU)
    /// Unrecoverable; reported when delivery reaches it.
    case lost(Receiver.LossReason)
}

/// The RFC 3208 §6.3 per-sequence NAK state machine's state for one missing sequence number. Its deadline
/// lives in the peer's timer heap as well; a heap entry whose deadline no longer matches is stale.
struct Repair {
    enum Phase {
        /// Waiting a random NAK_RB_IVL before NAKing; an NCF moves to ``waitData``.
        case backOff
        /// Back-off ran out before any SPM told us where to NAK (RFC 3208 §6.2): no timer until one does.
        case awaitingSPM
        /// NAK sent; waiting NAK_RPT_IVL for its NCF.
        case waitNCF
        /// NCF seen; waiting NAK_RDATA_IVL for RDATA.
        case waitData
    }

    var phase: Phase
    var deadline: Instant
    var ncfRetries = 0
    var dataRetries = 0
}

struct ReceivedTPDU {
    var payload: ArraySlice<UInt8>
    var fragment: Option.Fragment?
    /// Arrived as RDATA, i.e. the ODATA was missed: a loss-rate sample.
    var repaired: Bool
}

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
