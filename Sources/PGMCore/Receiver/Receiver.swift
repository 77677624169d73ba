import DequeModule
public import PGMWire

/// A PGM receiver (RFC 3208 §6) for every session on one group and port, sans-IO.
///
/// Usage: after every ``receive(_:arrival:at:)`` or ``handleTimeout(at:)``, drain ``pollTransmit(at:)``
/// (NAKs, SPMRs, POLRs) until `nil`, then ``pollEvent()`` (data, unrecoverable loss, session changes), then wait
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
        self.init(configuration: configuration, repairerAddress: nil)
    }

    /// `repairerAddress`: set by a ``DesignatedLocalRepairer``, whose receiver answers DLR polls too.
    init(configuration: Configuration, repairerAddress: NLA?) {
        precondition(
            configuration.maximumAPDUSize < configuration.maximumWindowBytes,
            "the window must hold one maximum-size APDU")
        precondition(configuration.maximumWindowSequences > 0 && configuration.maximumPeers > 0)
        // RAND_NODE_ID comes from a generator of its own, seeded from the same seed, so that the back-off stream
        // (and every seeded trace) is the same whether or not polls are answered.
        var nodeIDs = SplitMix64(seed: configuration.seed ^ Self.nodeIDSeedSalt)
        context = ReceiverContext(
            configuration: configuration, nodeID: UInt32(truncatingIfNeeded: nodeIDs.next()),
            repairerAddress: repairerAddress, random: SplitMix64(seed: configuration.seed), now: .zero,
            loss: LossRateEstimator(weight: configuration.lossRateWeight))
    }

    private static let nodeIDSeedSalt: UInt64 = 0x504F_4C4C_4E4F_4445  // "POLLNODE"

    /// RAND_NODE_ID (RFC 3208 §14.5): drawn at start from the seeded generator, matched against POLL_RAND.
    public var randomNodeID: UInt32 { context.nodeID }

    /// Sessions currently tracked.
    public var sessions: [TSI] { peers.map(\.tsi) }

    /// One session's loss-rate estimate (for OPT_CR on its NAKs).
    public func lossRate(for tsi: TSI) -> LossRateEstimator? { peerIndex[tsi].map { peers[$0].loss } }

    /// The NAK_BO_IVL `tsi`'s back-offs are drawn from: the configured default, or what its source advertised
    /// (RFC 3208 §15.2.2), within the source's OPT_NAK_BO_RNG and sane bounds.
    public func nakBackoffInterval(for tsi: TSI) -> Duration? {
        peerIndex[tsi].map { peers[$0].nakBackoffInterval(configuration) }
    }

    /// The SPM_PATH NAKs for `tsi` go to, once an SPM has been seen.
    public func path(for tsi: TSI) -> NLA? { peerIndex[tsi].flatMap { peers[$0].path } }

    /// What one session holds and where it comes from, for checks of its bounds.
    public struct SessionState: Hashable, Sendable {
        /// The network-layer source its packets are taken from (its SPMs', or before any SPM its first data's), and
        /// SPM_PATH: the session's path (RFC 3208 §10).
        public var sender: NLA
        public var path: NLA?
        /// Sequences in the receive window (missing, held or lost, not yet delivered or reported).
        public var windowSequences: Int
        public var heldBytes: Int
        /// NAK timers queued, live or stale.
        public var queuedTimers: Int
        /// Packets dropped for coming from off the path.
        public var offPathDropped: Int
    }

    public func state(of tsi: TSI) -> SessionState? {
        peerIndex[tsi].map {
            let peer = peers[$0]
            return SessionState(
                sender: peer.sender, path: peer.path, windowSequences: peer.window.count,
                heldBytes: peer.window.heldBytes, queuedTimers: peer.timers.count, offPathDropped: peer.offPathDropped)
        }
    }

    /// Whether a packet of `tsi` from `sender` would be taken: from the session's path, or creating the session.
    func admits(_ tsi: TSI, sender: NLA) -> Bool {
        peerIndex[tsi].map { peers[$0].admits(sender) } ?? true
    }

    /// The next event. Events are not capped, since they carry the application's data: drain them after
    /// every input, as the engine contract asks.
    public mutating func pollEvent() -> Event? { context.events.popFirst() }

    // MARK: Engine

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        receive(packet, arrival: arrival, at: now, payloadOwned: false)
    }

    /// `payloadOwned`: the payload is a copy already kept elsewhere (a DLR's cache), not a slice of the driver's
    /// buffer, so holding it needs no copy of its own (see ``Engine``, who owns payload bytes).
    mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant, payloadOwned: Bool) {
        advanceClock(to: now)
        context.statistics.packetsReceived += 1
        guard packet.dataDestinationPort == context.configuration.dataDestinationPort else {
            context.statistics.foreignPackets += 1
            return
        }
        let tsi = packet.tsi
        switch packet.body {
        case .odata(let data), .rdata(let data):
            // Parity packets are counted as ``Statistics/parityReceived``, not as data.
            let repair = packet.body.type == .rdata
            guard !packet.flags.contains(.parity) else {
                // FEC parity (RFC 3208 §11.5): for a session we already follow.
                context.statistics.parityReceived += 1
                guard existingPeer(tsi) != nil else {
                    context.statistics.parityUnusable += 1
                    return
                }
                withPeer(tsi, creatingFrom: nil) { peer, context in
                    peer.handleParity(
                        data, options: packet.options, flags: packet.flags, from: arrival.source, context: &context)
                }
                return
            }
            if repair { context.statistics.rdataReceived += 1 } else { context.statistics.odataReceived += 1 }
            withPeer(tsi, creatingFrom: arrival.source) { peer, context in
                peer.handleData(
                    data, options: packet.options, repair: repair, payloadOwned: payloadOwned, from: arrival.source,
                    context: &context)
                peer.noteCongestion(
                    data, options: packet.options, repair: repair, from: arrival.source, context: &context)
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
            var relay = false
            let isParity = packet.flags.contains(.parity)
            withPeer(tsi, creatingFrom: nil) { peer, context in
                // A parity NCF confirms groups by count (RFC 3208 §11.5): the missing sequences it covers.
                if isParity { sequences = peer.sequencesCovered(byParityRequests: sequences) }
                relay = peer.handleNCF(sequences, options: packet.options, from: arrival.source, context: &context)
            }
            // RFC 3208 §15.3.2: a unicast NCF with OPT_NBR_UNREACH is multicast on with TTL 1, so that the other
            // receivers on the link stop NAKing too.
            if relay && arrival.destination != context.configuration.group {
                context.outbound.append(
                    Transmit(packet: packet, destination: .multicast(context.configuration.group), ttl: 1))
            }
        case .spmr:
            withPeer(tsi, creatingFrom: nil) { peer, context in peer.handleOverheardSPMR(context: &context) }
        case .nak(let nak) where arrival.destination == context.configuration.group:
            // Another receiver's NAK multicast to the group suppresses ours as an NCF does (RFC 3208 §6.3); a
            // parity NAK by count, like a parity NCF (§11.5).
            guard let index = existingPeer(tsi) else {
                context.statistics.foreignPackets += 1
                return
            }
            context.statistics.naksOverheard += 1
            var sequences = [nak.sequence]
            for option in packet.options {
                if case .nakList(let list) = option.value { sequences.append(contentsOf: list) }
            }
            if packet.flags.contains(.parity) { sequences = peers[index].sequencesCovered(byParityRequests: sequences) }
            peers[index].handleOverheardNAK(sequences, context: &context)
        case .poll(let poll):
            context.statistics.pollsReceived += 1
            guard let index = existingPeer(tsi) else {
                context.statistics.pollsIgnored += 1
                return
            }
            peers[index].handlePOLL(poll, from: arrival.source, context: &context)
        case .nak, .nnak, .polr, .ack:
            // Unicast NAKs are for a source, element or DLR, not for a receiver's suppression.
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

    /// The index of a session already tracked.
    private mutating func existingPeer(_ tsi: TSI) -> Int? {
        if lastPeer < peers.count && peers[lastPeer].tsi == tsi { return lastPeer }
        guard let index = peerIndex[tsi] else { return nil }
        lastPeer = index
        return index
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
            peers.append(
                Peer(tsi: tsi, source: source, now: context.now, lossWeight: context.configuration.lossRateWeight))
            peerIndex[tsi] = index
            context.events.append(.peerDiscovered(tsi, source: source))
        }
        lastPeer = index
        body(&peers[index], &context)
    }
}
