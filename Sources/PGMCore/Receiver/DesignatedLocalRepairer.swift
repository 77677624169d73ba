import DequeModule
public import PGMWire

/// A designated local repairer (RFC 3208 §9.5, Appendix D): a receiver of the session that also keeps a repair
/// cache of the stream and repairs for the network element above it, so that losses it can repair never reach
/// the source.
///
/// It acts as an *off-tree* DLR (§9.5.2.2): it answers the element's DLR poll (POLL with POLL_S_TYPE =
/// PGM_POLL_DLR) with a POLR carrying OPT_REDIRECT(its own address), unicast to the poll's POLL_PATH, under the
/// same rules as any poll (§14.5: POLL_MASK and POLL_RAND, round 0 first, the session's upstream only; the
/// wrapped ``Receiver`` does it), and then gets NAKs unicast from the element. It also announces itself
/// unsolicited, with the same POLR (POLR_SQN 0), to the SPM path of each session as soon as it learns or changes
/// it: a poll answered only after its back-off would leave the first losses of a session to the source. For each
/// NAK it sends, unicast to the element, in this order:
/// 1. for every sequence it holds, an NNAK (§9.5.2.2: "before the RDATA"), flow-control feedback the element
///    forwards to the source without provoking a repair;
/// 2. an NCF echoing the NAK (sequence, NAK_SRC, NAK_GRP and any OPT_NAK_LIST): it confirms the NAK;
/// 3. RDATA for every sequence it holds, exactly as the source sent it (same TSI, ports, sequence, options;
///    payload copied from the ODATA or RDATA it received), with the session's trail as last seen;
/// 4. a NAK to the element for the sequences it does not hold, so the element sends those upstream.
/// Unicast from an off-tree DLR carries no Router Alert (§9.5.2.2). Delivery to the application is the
/// wrapped ``Receiver``'s, unchanged.
public struct DesignatedLocalRepairer: Engine {
    public struct Configuration: Sendable {
        public var receiver: Receiver.Configuration
        /// This host's unicast address: OPT_REDIRECT names it, and only NAKs sent to it are answered.
        public var address: NLA
        /// Bytes of payload kept for repairs; the oldest packets go first.
        public var cacheBytes = 32 << 20

        public init(receiver: Receiver.Configuration, address: NLA) {
            self.receiver = receiver
            self.address = address
        }
    }

    public struct Statistics: Hashable, Sendable {
        /// Redirecting POLRs sent in answer to DLR polls.
        public var pollsAnswered = 0
        /// Unsolicited redirecting POLRs sent to a session's SPM path.
        public var announcements = 0
        public var naksReceived = 0
        public var sequencesRepaired = 0
        /// Requested sequences not in the cache: NAKed back to the element, which sends them upstream.
        public var sequencesNotCached = 0
        /// NAKs not addressed to this host, of another session, or not from a known parent.
        public var naksIgnored = 0
        public var cachedPackets = 0
        public var cachedBytes = 0
    }

    public private(set) var receiver: Receiver
    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    private struct Cached {
        var packet: Packet
        var bytes: Int
    }

    private var cache: [TSI: [SequenceNumber: Cached]] = [:]
    /// Insertion order, for eviction by age.
    private var order = Deque<(tsi: TSI, sequence: SequenceNumber)>()
    /// The latest trail each session advertised, which repairs carry (RFC 3208 §8.2: RDATA has the current trail).
    private var trails: [TSI: SequenceNumber] = [:]
    private var outbound = Deque<Transmit>()
    /// The parent each session was last announced to.
    private var announcedTo: [TSI: NLA] = [:]
    /// The latest input's time: replies to NAKs and announcements are due then. The repairer's timers are its
    /// receiver's.
    private var now = Instant.zero

    public init(configuration: Configuration) {
        self.configuration = configuration
        var seeds = SplitMix64(seed: configuration.receiver.seed)
        var receiverConfiguration = configuration.receiver
        receiverConfiguration.seed = seeds.next()
        receiver = Receiver(configuration: receiverConfiguration, repairerAddress: configuration.address)
    }

    public mutating func pollEvent() -> Receiver.Event? { receiver.pollEvent() }

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        advanceClock(to: now)
        switch packet.body {
        case .odata(let data), .rdata(let data):
            if let cached = remember(packet, data: data) {
                // The receiver holds the cache's copy rather than a second one of its own.
                var owned = packet
                let copy = DataPacket(sequence: data.sequence, trail: data.trail, payload: cached)
                owned.body = packet.body.type == .odata ? .odata(copy) : .rdata(copy)
                receiver.receive(owned, arrival: arrival, at: now, payloadOwned: true)
                return
            }
        case .spm(let spm):
            if packet.dataDestinationPort == configuration.receiver.dataDestinationPort {
                trails[packet.tsi] = spm.trail
                announce(packet.tsi, to: spm.path, dataDestinationPort: packet.dataDestinationPort)
            }
        case .nak(let nak) where arrival.destination == configuration.address:
            // A NAK for us to repair: not the receiver's business (it never sees unicast NAKs otherwise).
            repair(nak, packet: packet, arrival: arrival)
            return
        case .poll, .polr, .nnak, .ncf, .spmr, .ack, .nak:
            break  // polls are the receiver's to answer, DLR polls included
        }
        receiver.receive(packet, arrival: arrival, at: now)
    }

    public mutating func handleTimeout(at now: Instant) {
        advanceClock(to: now)
        receiver.handleTimeout(at: now)
    }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        advanceClock(to: now)
        if let transmit = outbound.popFirst() { return transmit }
        guard let transmit = receiver.pollTransmit(at: now) else { return nil }
        if case .polr = transmit.packet.body, !transmit.packet.options.isEmpty { statistics.pollsAnswered += 1 }
        return transmit
    }

    /// Now while replies wait to be sent, else the receiver's next timer.
    public var nextDeadline: Instant? {
        outbound.isEmpty ? receiver.nextDeadline : now
    }

    private mutating func advanceClock(to now: Instant) {
        precondition(now >= self.now, "time went backwards: \(now) < \(self.now)")
        self.now = now
    }

    // MARK: Cache

    /// Caches the packet as the RDATA that would repair it; returns the cached payload when it was cached now.
    private mutating func remember(_ packet: Packet, data: DataPacket) -> ArraySlice<UInt8>? {
        let tsi = packet.tsi
        guard packet.dataDestinationPort == configuration.receiver.dataDestinationPort, !packet.flags.contains(.parity)
        else { return nil }
        trails[tsi] = data.trail
        guard cache[tsi]?[data.sequence] == nil, data.payload.count <= configuration.cacheBytes else { return nil }
        // Own the payload: the decoded slice shares the whole datagram buffer with the driver.
        let payload = ArraySlice(Array(data.payload))
        var stored = packet
        stored.body = .rdata(DataPacket(sequence: data.sequence, trail: data.trail, payload: payload))
        cache[tsi, default: [:]][data.sequence] = Cached(packet: stored, bytes: data.payload.count)
        order.append((tsi, data.sequence))
        statistics.cachedPackets += 1
        statistics.cachedBytes += data.payload.count
        while statistics.cachedBytes > configuration.cacheBytes, let oldest = order.popFirst() {
            if let evicted = cache[oldest.tsi]?.removeValue(forKey: oldest.sequence) {
                statistics.cachedPackets -= 1
                statistics.cachedBytes -= evicted.bytes
            }
        }
        return payload
    }

    // MARK: Announcements (§9.5.2.2)

    private static func redirectingPOLR(
        _ tsi: TSI, dataDestinationPort: UInt16, sequence: SequenceNumber, round: UInt16, address: NLA
    ) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: dataDestinationPort, flags: .network,
            body: .polr(POLR(sequence: sequence, round: round)), options: [Option(.redirect(address))])
    }

    private mutating func announce(_ tsi: TSI, to parent: NLA, dataDestinationPort: UInt16) {
        guard parent != configuration.address, announcedTo[tsi] != parent else { return }
        if announcedTo[tsi] == nil && announcedTo.count >= configuration.receiver.maximumPeers { return }
        announcedTo[tsi] = parent
        let polr = Self.redirectingPOLR(
            tsi, dataDestinationPort: dataDestinationPort, sequence: SequenceNumber(0), round: 0,
            address: configuration.address)
        outbound.append(Transmit(packet: polr, destination: .unicast(parent)))
        statistics.announcements += 1
    }

    // MARK: Repairs (§9.5.2.2)

    private mutating func repair(_ nak: NAK, packet: Packet, arrival: Arrival) {
        let tsi = packet.tsi
        statistics.naksReceived += 1
        guard packet.dataDestinationPort == configuration.receiver.dataDestinationPort, !packet.flags.contains(.parity),
            let sessionCache = cache[tsi]
        else {
            statistics.naksIgnored += 1
            return
        }
        var requested = [nak.sequence]
        for option in packet.options {
            if case .nakList(let list) = option.value { requested += list }
        }
        let parent = arrival.source
        let held = requested.filter { sessionCache[$0] != nil }
        let missing = requested.filter { sessionCache[$0] == nil }
        func reply(_ body: Packet.Body, sequences: [SequenceNumber]) -> Packet {
            let extra = Array(sequences.dropFirst())
            return Packet(
                tsi: tsi, dataDestinationPort: packet.dataDestinationPort, flags: extra.isEmpty ? [] : .network,
                body: body, options: extra.isEmpty ? [] : [Option(.nakList(extra))])
        }
        if let first = held.first {
            outbound.append(
                Transmit(
                    packet: reply(.nnak(NAK(sequence: first, source: nak.source, group: nak.group)), sequences: held),
                    destination: .unicast(parent)))
        }
        outbound.append(Transmit(packet: reply(.ncf(nak), sequences: requested), destination: .unicast(parent)))
        let trail = trails[tsi]
        for sequence in held {
            guard var repair = sessionCache[sequence]?.packet, case .rdata(var data) = repair.body else { continue }
            if let trail { data.trail = trail }
            repair.body = .rdata(data)
            outbound.append(Transmit(packet: repair, destination: .unicast(parent)))
            statistics.sequencesRepaired += 1
        }
        if let first = missing.first {
            statistics.sequencesNotCached += missing.count
            outbound.append(
                Transmit(
                    packet: reply(.nak(NAK(sequence: first, source: nak.source, group: nak.group)), sequences: missing),
                    destination: .unicast(parent)))
        }
    }
}
