import PGMCore

/// How one direction of an interface's attachment to a segment treats packets. A packet crosses the
/// sender's uplink once (so an uplink loss hits every receiver of a multicast alike) and each receiver's
/// downlink separately (independent losses).
public struct LinkProfile: Sendable {
    /// Fixed one-way propagation delay.
    public var delay: Duration = .microseconds(500)
    /// Extra delay uniform in `0 ... jitter`; packets may overtake each other.
    public var jitter: Duration = .zero
    /// Serialisation rate in bytes per second (packets queue behind each other); `nil` is unlimited.
    public var bandwidth: Int?
    /// With ``bandwidth``: a drop-tail queue of this many bytes (a packet that would find more than this waiting
    /// ahead of it is dropped, as `tc ... tbf limit` does); `nil` queues without bound.
    public var queueLimit: Int?
    public var loss: LossModel = .none
    /// Probability that a packet is delivered twice.
    public var duplication = 0.0
    /// Probability that a packet is held back by ``reorderDelay``, so later ones overtake it.
    public var reordering = 0.0
    public var reorderDelay: Duration = .milliseconds(3)

    public init(
        delay: Duration = .microseconds(500), jitter: Duration = .zero, bandwidth: Int? = nil,
        loss: LossModel = .none, duplication: Double = 0, reordering: Double = 0,
        reorderDelay: Duration = .milliseconds(3), queueLimit: Int? = nil
    ) {
        self.queueLimit = queueLimit
        self.delay = delay
        self.jitter = jitter
        self.bandwidth = bandwidth
        self.loss = loss
        self.duplication = duplication
        self.reordering = reordering
        self.reorderDelay = reorderDelay
    }

    /// No delay and nothing lost.
    public static let perfect = LinkProfile(delay: .zero)
}

/// Packet-loss processes.
public enum LossModel: Hashable, Sendable {
    case none
    /// Each packet lost independently with this probability.
    case bernoulli(Double)
    /// Two-state burst loss (Gilbert 1960, Elliott 1963): the chain moves between a good and a bad state
    /// before each packet, and each state loses with its own probability.
    case gilbertElliott(goodToBad: Double, badToGood: Double, lossInGood: Double, lossInBad: Double)

    /// Bursts of mean length `burstLength` packets, all lost, with a long-run loss rate of `rate`.
    public static func bursts(rate: Double, burstLength: Double) -> LossModel {
        let badToGood = 1 / burstLength
        let goodToBad = rate * badToGood / (1 - rate)
        return .gilbertElliott(goodToBad: goodToBad, badToGood: badToGood, lossInGood: 0, lossInBad: 1)
    }
}

/// One direction's mutable state: its random stream, the Gilbert-Elliott state, the serialisation queue.
struct LinkState {
    var profile: LinkProfile
    var random: SplitMix64
    var bad = false
    var busyUntil = Instant.zero
    /// Packets the drop-tail queue refused.
    var queueDrops = 0

    /// The delays after which copies of a packet of `bytes` come out; empty when it is lost.
    mutating func transit(bytes: Int, at now: Instant) -> [Duration] {
        var departure = now
        if let bandwidth = profile.bandwidth, bandwidth > 0 {
            let start = max(now, busyUntil)
            if let limit = profile.queueLimit {
                let waiting = Double((start - now).totalNanoseconds) / 1e9 * Double(bandwidth)
                if waiting + Double(bytes) > Double(limit) {
                    queueDrops += 1
                    return []
                }
            }
            departure = start + Duration(nanoseconds: Int64(Double(bytes) / Double(bandwidth) * 1e9))
            busyUntil = departure
        }
        if isLost() { return [] }
        var copies = [delay(from: departure - now)]
        if profile.duplication > 0, random.unit() < profile.duplication {
            copies.append(delay(from: departure - now))
        }
        return copies
    }

    private mutating func isLost() -> Bool {
        switch profile.loss {
        case .none:
            return false
        case .bernoulli(let probability):
            return probability > 0 && random.unit() < probability
        case .gilbertElliott(let goodToBad, let badToGood, let lossInGood, let lossInBad):
            bad = bad ? random.unit() >= badToGood : random.unit() < goodToBad
            let probability = bad ? lossInBad : lossInGood
            return probability > 0 && random.unit() < probability
        }
    }

    private mutating func delay(from queueing: Duration) -> Duration {
        var total = queueing + profile.delay
        let jitter = profile.jitter.totalNanoseconds
        if jitter > 0 { total += Duration(nanoseconds: Int64(random.bounded(UInt64(jitter) + 1))) }
        if profile.reordering > 0, random.unit() < profile.reordering { total += profile.reorderDelay }
        return total
    }
}
