public import PGMWire
import DequeModule

/// A PGM receiver (RFC 3208 §6) for every session on one group and port, sans-IO.
///
/// Usage: after every ``receive(_:arrival:at:)`` or ``handleTimeout(at:)``, drain ``pollTransmit(at:)``
/// (NAKs, SPMRs) until `nil`, then ``pollEvent()`` (data, unrecoverable loss, session changes), then wait
/// until ``nextDeadline``. Each TSI gets its own window and NAK state; unrecoverable loss is always reported
/// with the exact sequence range before delivery continues.
public struct Receiver: Engine {
    public var configuration: Configuration { context.configuration }
    public var statistics: Statistics {
        var statistics = context.statistics
        statistics.lossRate = context.loss.fraction
        statistics.lossRateScaled = context.loss.scaled
        return statistics
    }

    private var context: ReceiverContext
    /// Insertion-ordered, so that timers of different sessions fire in the same order on every run.
    private var peers: [Peer] = []
    private var peerIndex: [TSI: Int] = [:]
    /// The index of the peer the last packet was for.
    private var lastPeer = 0

    public init(configuration: Configuration) {
        precondition(configuration.maximumAPDUSize < configuration.maximumWindowBytes,
                     "the window must hold one maximum-size APDU")
        precondition(configuration.maximumWindowSequences > 0 && configuration.maximumPeers > 0)
        context = ReceiverContext(
            configuration: configuration, random: SplitMix64(seed: configuration.seed), now: .zero,
            loss: LossRateEstimator(weight: configuration.lossRateWeight))
    }

    /// Sessions currently tracked.
    public var sessions: [TSI] { peers.map(\.tsi) }

    /// One session's loss-rate estimate (for OPT_CR on its NAKs).
    public func lossRate(for tsi: TSI) -> LossRateEstimator? { peerIndex[tsi].map { peers[$0].loss } }

    /// The SPM_PATH NAKs for `tsi` go to, once an SPM has been seen.
    public func path(for tsi: TSI) -> NLA? { peerIndex[tsi].flatMap { peers[$0].path } }

    /// The next event. Events are not capped, since they carry the application's data: drain them after
    /// every input, as the engine contract asks.
    public mutating func pollEvent() -> Event? { context.events.popFirst() }

    // MARK: Engine

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        advanceClock(to: now)
        context.statistics.packetsReceived += 1
        guard packet.dataDestinationPort == context.configuration.dataDestinationPort else {
            context.statistics.foreignPackets += 1
            return
        }
        let tsi = packet.tsi
        switch packet.body {
        case .odata(let data), .rdata(let data):
            let repair = packet.body.type == .rdata
            if repair { context.statistics.rdataReceived += 1 } else { context.statistics.odataReceived += 1 }
            guard !packet.flags.contains(.parity) else {
                context.statistics.foreignPackets += 1  // FEC parity: not supported by this receiver
                return
            }
            withPeer(tsi, creatingFrom: arrival.source) { peer, context in
                peer.handleData(data, options: packet.options, repair: repair, from: arrival.source, context: &context)
            }
        case .spm(let spm):
            context.statistics.spmReceived += 1
            withPeer(tsi, creatingFrom: arrival.source) { peer, context in
                peer.handleSPM(spm, options: packet.options, from: arrival.source, context: &context)
            }
        case .ncf(let ncf):
            context.statistics.ncfReceived += 1
            var sequences = [ncf.sequence]
            for option in packet.options {
                if case .nakList(let list) = option.value { sequences.append(contentsOf: list) }
            }
            withPeer(tsi, creatingFrom: nil) { peer, context in peer.handleNCF(sequences, context: &context) }
        case .spmr:
            withPeer(tsi, creatingFrom: nil) { peer, context in peer.handleOverheardSPMR(context: &context) }
        case .nak, .nnak:
            // Overheard NAKs are not used for suppression (as in OpenPGM): NCFs are, and NAKs go unicast.
            context.statistics.foreignPackets += 1
        case .poll, .polr, .ack:
            context.statistics.foreignPackets += 1
        }
    }

    public mutating func handleTimeout(at now: Instant) {
        advanceClock(to: now)
        var expired: [TSI] = []
        for index in peers.indices {
            peers[index].handleTimeout(context: &context)
            if peers[index].lastHeard + context.configuration.peerExpiry <= now { expired.append(peers[index].tsi) }
        }
        guard !expired.isEmpty else { return }
        peers.removeAll { expired.contains($0.tsi) }
        peerIndex = Dictionary(uniqueKeysWithValues: peers.enumerated().map { ($1.tsi, $0) })
        for tsi in expired { context.events.append(.peerExpired(tsi)) }
    }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        advanceClock(to: now)
        return context.outbound.popFirst()
    }

    public var nextDeadline: Instant? {
        if !context.outbound.isEmpty { return context.now }
        var deadline: Instant?
        for peer in peers {
            let candidate = peer.nextDeadline(expiry: context.configuration.peerExpiry)
            deadline = deadline.map { min($0, candidate) } ?? candidate
        }
        return deadline
    }

    // MARK: Internals

    private mutating func advanceClock(to now: Instant) {
        precondition(now >= context.now, "time went backwards: \(now) < \(context.now)")
        context.now = now
    }

    /// Runs `body` on the session's state; creates it (on SPM or data) when `source` is given and the peer
    /// limit allows.
    private mutating func withPeer(
        _ tsi: TSI, creatingFrom source: NLA?, _ body: (inout Peer, inout ReceiverContext) -> Void
    ) {
        let index: Int
        if lastPeer < peers.count && peers[lastPeer].tsi == tsi {
            index = lastPeer  // the common case, one session: no hashing per packet
        } else if let existing = peerIndex[tsi] {
            index = existing
        } else {
            guard let source else { return }
            guard peers.count < context.configuration.maximumPeers else {
                context.statistics.peersRejected += 1
                return
            }
            index = peers.count
            peers.append(Peer(tsi: tsi, source: source, now: context.now, lossWeight: context.configuration.lossRateWeight))
            peerIndex[tsi] = index
            context.events.append(.peerDiscovered(tsi, source: source))
        }
        lastPeer = index
        if source != nil { peers[index].lastHeard = context.now }
        body(&peers[index], &context)
    }
}
