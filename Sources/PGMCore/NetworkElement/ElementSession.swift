import DequeModule
import PGMWire

/// A session's path as an element tells paths apart: the network-layer source of its SPMs, the interface they
/// arrive on and their SPM_PATH.
struct ElementPath: Equatable {
    var sender: NLA
    var interface: InterfaceID
    var path: NLA
}

/// What a network element knows about one TSI: its source path state (RFC 3208 §7.1), the source's window as
/// far as SPMs and data showed it, repair state per sequence, the DLR it redirects to, and its OPT_CR report.
struct ElementSession {
    let tsi: TSI
    var dataDestinationPort: UInt16
    /// The ODATA source's NLA: the network-layer source of its SPMs, NAK_SRC of its NAKs, and the source
    /// address the element claims on everything it sends downstream (RFC 3208 §7.2, §14.4).
    var source: NLA
    /// The group: the network-layer destination of its SPMs, NAK_GRP of its NAKs.
    var group: NLA
    /// The interface SPMs arrive on, towards the source.
    var upstream: InterfaceID
    /// SPM_PATH of the last SPM: the upstream PGM neighbour NAKs are unicast to (RFC 3208 §7.7).
    var neighbor: NLA
    var spmSequence: SequenceNumber
    /// The last SPM as received, to answer SPMRs from downstream.
    var cachedSPM: Packet
    var cachedSPMAt: Instant
    /// TXW_TRAIL and TXW_LEAD as far as SPMs, ODATA and RDATA advertised them; `nil` until known.
    var trail: SequenceNumber?
    var lead: SequenceNumber?
    /// The last packet from the source (SPM, ODATA, RDATA), for ``NetworkElement/Configuration/sessionExpiry``.
    var lastHeard: Instant
    var repairs: RepairTable
    /// Repair state for parity NAKs by TG_SQN (RFC 3208 §11.6), apart from ``repairs``: a TG_SQN is also the
    /// sequence number of the group's first data packet, whose selective state is another thing. Both tables share
    /// the session's cap (``repairsFull``).
    var parityRepairs: RepairTable
    /// PARITY_PRM_TGS (k) from the last OPT_PARITY_PRM of the source's SPMs; `nil` until one: parity NAKs cannot
    /// be read without it.
    var parityGroupSize: UInt32?
    /// The TG an SPM's OPT_CURR_TGSIZE said is shorter (the one holding SPM_LEAD, RFC 3208 §11.4), and its size.
    var truncatedGroup: (group: SequenceNumber, size: UInt32)?
    var repairer: Repairer?
    var congestion = CongestionAggregate()
    /// Per interface, when an SPMR was last answered there.
    var spmrAnswers: [(interface: InterfaceID, at: Instant)] = []
    /// The parent's current POLL_SQN and whether its round 0 was seen (RFC 3208 §14.5).
    var parentPoll: (sequence: SequenceNumber, sawRoundZero: Bool)?
    /// A POLR waiting out its random back-off.
    var pendingPOLR: (transmit: Transmit, due: Instant)?
    /// POLL_SQN of the element's own DLR polls.
    var dlrPollSequence = SequenceNumber(0)
    var nextDLRPoll: Instant?
    /// The session timer queued (see ``NetworkElement`` timers).
    var scheduled: Instant?
    /// NAK_BO_IVL per downstream interface, once tuned away from NAK_BO_IVL_DEFAULT (RFC 3208 §15.2.1).
    var backoffs: [(interface: InterfaceID, tuner: NAKBackoffTuner)] = []
    /// NAK_BO_IVL_MIN and NAK_BO_IVL_MAX from the source's OPT_NAK_BO_RNG, if it sent one.
    var backoffRange: (minimum: Duration, maximum: Duration)?
    /// The highest ODATA sequence forwarded: a jump past it is loss above the element (see
    /// ``NetworkElement/Configuration/lossDetectionBackoff``).
    var odataLead: SequenceNumber?
    /// NAK → RDATA round trip towards the source, for the element's own repair requests.
    var repairRoundTrip = RoundTripEstimator()
    /// When RDATA last came from upstream, and the latest confirmation (``RepairState/confirmation``) an RDATA
    /// answered: a source works through its repairs in the order it confirmed them, at its rate, so a repair
    /// confirmed after the last one answered is still queued there, not lost, while RDATA keep coming.
    var lastUpstreamRDATA: Instant?
    var answeredConfirmation: UInt64 = 0
    var confirmations: UInt64 = 0
    /// RDATA recently forwarded, kept to answer NAKs that arrive after the repair passed (see
    /// ``NetworkElement/Configuration/repairCacheLifetime``), with their expiry in insertion order.
    var repairCopies: [SequenceNumber: RepairCopy] = [:]
    var repairCopyOrder: Deque<(sequence: SequenceNumber, expires: Instant)> = []
    /// Parity RDATA recently forwarded, by TG_SQN, kept to answer parity NAKs from other interfaces that arrive
    /// after the parity passed (beyond RFC 3208, see
    /// ``NetworkElement/Configuration/repairCacheLifetime``); their expiry in insertion
    /// order, and how many there are over all groups.
    var parityCopies: [SequenceNumber: ParityCopies] = [:]
    var parityCopyOrder: Deque<(group: SequenceNumber, index: Int, expires: Instant)> = []
    private(set) var parityCopyCount = 0
    /// When SPMs by another path may replace this one (RFC 3208 §10, `PathDamping`).
    var damping = PathDamping<ElementPath>()
    /// Packets of this session dropped for coming from an address off its path, and when that was last reported.
    var offPathDropped = 0
    var offPathReportedAt: Instant?
    /// OPT_NBR_UNREACH from the parent (RFC 3208 §15.3.2): no NAKs forwarded until a regular SPM.
    var neighborUnreachable = false
    /// A lead jump not yet taken (``advertise(trail:lead:)``), and how many packets in a row claimed it.
    var leadClaim: (sequence: SequenceNumber, count: Int)?

    init(
        tsi: TSI, dataDestinationPort: UInt16, source: NLA, group: NLA, upstream: InterfaceID, neighbor: NLA,
        spmSequence: SequenceNumber, cachedSPM: Packet, cachedSPMAt: Instant, lastHeard: Instant, repairCapacity: Int
    ) {
        self.tsi = tsi
        self.dataDestinationPort = dataDestinationPort
        self.source = source
        self.group = group
        self.upstream = upstream
        self.neighbor = neighbor
        self.spmSequence = spmSequence
        self.cachedSPM = cachedSPM
        self.cachedSPMAt = cachedSPMAt
        self.lastHeard = lastHeard
        self.repairs = RepairTable(capacity: repairCapacity)
        self.parityRepairs = RepairTable(capacity: repairCapacity)
    }

    /// What the session holds that the element counts over all sessions.
    struct Holdings: Equatable {
        var repairStates = 0
        var repairCopies = 0
    }

    var holdings: Holdings {
        Holdings(repairStates: repairs.count + parityRepairs.count, repairCopies: repairCopies.count + parityCopyCount)
    }

    /// An RDATA as forwarded, and when each interface last had it.
    struct RepairCopy {
        var packet: Packet
        var expires: Instant
        var sent: [(interface: InterfaceID, at: Instant)]

        /// Whether `interface` should have the copy again for a NAK arriving now: not if it went there within
        /// `holdOff` (that NAK most likely crossed the repair on its way), and then records the send.
        mutating func admitResend(on interface: InterfaceID, at now: Instant, holdOff: Duration) -> Bool {
            if let index = sent.firstIndex(where: { $0.interface == interface }) {
                guard now - sent[index].at >= holdOff else { return false }
                sent[index].at = now
            } else {
                sent.append((interface, now))
            }
            return true
        }
    }

    /// The clamp of advertised values: the source's OPT_NAK_BO_RNG or the tuning limits, never below `floor`.
    func backoffLimits(_ tuning: NAKBackoffTuning, floor: Duration) -> ClosedRange<Duration> {
        let minimum = max(backoffRange?.minimum ?? tuning.minimum, floor)
        let maximum = max(minimum, backoffRange?.maximum ?? tuning.maximum)
        return minimum...maximum
    }

    /// NAK_BO_IVL advertised on `interface`.
    func backoff(on interface: InterfaceID, tuning: NAKBackoffTuning, floor: Duration) -> Duration {
        let value = backoffs.first { $0.interface == interface }?.tuner.value ?? tuning.initial
        let limits = backoffLimits(tuning, floor: floor)
        return min(max(value, limits.lowerBound), limits.upperBound)
    }

    /// The largest NAK_BO_IVL advertised on `interfaces`: how long receivers below may still be backing off.
    func largestBackoff(on interfaces: [InterfaceID], tuning: NAKBackoffTuning, floor: Duration) -> Duration {
        interfaces.reduce(Duration.zero) { max($0, backoff(on: $1, tuning: tuning, floor: floor)) }
    }

    /// The first duplicate NAK for a sequence from `interface`: double its NAK_BO_IVL. Returns whether it changed.
    mutating func widenBackoff(on interface: InterfaceID, tuning: NAKBackoffTuning, floor: Duration) -> Bool {
        let current = backoff(on: interface, tuning: tuning, floor: floor)
        let limits = backoffLimits(tuning, floor: floor)
        return tuner(interface, current) { $0.widen(within: limits) }
    }

    /// A repair state is gone: every interface that asked exactly once counts one clean measurement, and
    /// NAK_PROBE_NUM in a row halve its NAK_BO_IVL. Returns how many interfaces were halved. Interfaces the
    /// element added for a loss it detected itself (no NAK from them) are no measurement.
    mutating func measureBackoff(_ repair: RepairState, tuning: NAKBackoffTuning, floor: Duration) -> Int {
        var halved = 0
        let limits = backoffLimits(tuning, floor: floor)
        for requester in repair.requesters where requester.naks == 1 {
            let current = backoff(on: requester.interface, tuning: tuning, floor: floor)
            if tuner(requester.interface, current, { $0.measureClean(within: limits, probeCount: tuning.probeCount) }) {
                halved += 1
            }
        }
        return halved
    }

    /// Changes `interface`'s tuner, creating it at `current` (its advertised value) first.
    private mutating func tuner(
        _ interface: InterfaceID, _ current: Duration, _ change: (inout NAKBackoffTuner) -> Bool
    ) -> Bool {
        if let index = backoffs.firstIndex(where: { $0.interface == interface }) {
            return change(&backoffs[index].tuner)
        }
        var tuner = NAKBackoffTuner(initial: current)
        let changed = change(&tuner)
        backoffs.append((interface, tuner))
        return changed
    }

    // MARK: Repair copies

    /// The copy of a recent repair of `sequence`, if it has not expired.
    func repairCopy(_ sequence: SequenceNumber, at now: Instant) -> RepairCopy? {
        guard let copy = repairCopies[sequence], copy.expires > now else { return nil }
        return copy
    }

    /// Keeps `packet` (an RDATA as forwarded to `interfaces`) until `expires`, within `capacity` copies for the
    /// session (the oldest go first). The payload is copied out of the driver's receive buffer, once, so that a
    /// copy never pins a whole coalesced read (see ``Engine``, who owns payload bytes).
    mutating func keepRepairCopy(
        _ packet: Packet, sequence: SequenceNumber, interfaces: [InterfaceID], expires: Instant, now: Instant,
        capacity: Int
    ) {
        pruneRepairCopies(at: now)
        guard capacity > 0 else { return }
        while repairCopies.count >= capacity, let oldest = repairCopyOrder.popFirst() {
            if repairCopies[oldest.sequence]?.expires == oldest.expires { repairCopies[oldest.sequence] = nil }
        }
        var compact = packet
        if case .rdata(var data) = packet.body {
            data.payload = ArraySlice(Array(data.payload))
            compact.body = .rdata(data)
        }
        repairCopies[sequence] = RepairCopy(packet: compact, expires: expires, sent: interfaces.map { ($0, now) })
        repairCopyOrder.append((sequence, expires))
    }

    /// Drops expired copies from the front of the insertion order. Lifetimes follow the advertised NAK_BO_IVL,
    /// so the front is close to, not always exactly, the earliest expiry: a later one waits its turn, and
    /// ``repairCopy(_:at:)`` never returns an expired copy.
    mutating func pruneRepairCopies(at now: Instant) {
        while let oldest = repairCopyOrder.first, oldest.expires <= now {
            repairCopyOrder.removeFirst()
            if repairCopies[oldest.sequence]?.expires == oldest.expires { repairCopies[oldest.sequence] = nil }
        }
    }

    // MARK: Parity copies

    /// The parity packets of one transmission group as forwarded, by parity index (SQN low bits + k ×
    /// OPT_PARITY_GRP, each index once), and when copies were last resent on an interface for a NAK, and how many.
    struct ParityCopies {
        var copies: [(index: Int, copy: RepairCopy)] = []
        var resends: [(interface: InterfaceID, at: Instant, count: Int)] = []
    }

    /// Keeps parity packet `index` of `group` (as forwarded to `interfaces`) until `expires`, at most `perGroup`
    /// of a group and `capacity` over the session (the oldest go first). The same index forwarded again only adds
    /// its interfaces.
    mutating func keepParityCopy(
        _ packet: Packet, group: SequenceNumber, index: Int, interfaces: [InterfaceID], expires: Instant,
        now: Instant, capacity: Int, perGroup: Int
    ) {
        pruneParityCopies(at: now)
        var held = parityCopies[group] ?? ParityCopies()
        if let known = held.copies.firstIndex(where: { $0.index == index }) {
            for interface in interfaces
            where !held.copies[known].copy.sent.contains(where: { $0.interface == interface }) {
                held.copies[known].copy.sent.append((interface, now))
            }
            parityCopies[group] = held
            return
        }
        guard capacity > 0, held.copies.count < perGroup else { return }
        while parityCopyCount >= capacity, let oldest = parityCopyOrder.popFirst() {
            removeParityCopy(oldest)
        }
        var compact = packet
        if case .rdata(var data) = packet.body {
            data.payload = ArraySlice(Array(data.payload))
            compact.body = .rdata(data)
        }
        held = parityCopies[group] ?? ParityCopies()
        held.copies.append((index, RepairCopy(packet: compact, expires: expires, sent: interfaces.map { ($0, now) })))
        parityCopies[group] = held
        parityCopyCount += 1
        parityCopyOrder.append((group, index, expires))
    }

    /// Drops expired parity copies from the front of the insertion order (as ``pruneRepairCopies(at:)``).
    mutating func pruneParityCopies(at now: Instant) {
        while let oldest = parityCopyOrder.first, oldest.expires <= now {
            parityCopyOrder.removeFirst()
            removeParityCopy(oldest)
        }
    }

    /// Forgets every parity copy: k changed, so their TG_SQNs mean nothing.
    mutating func dropParityCopies() {
        parityCopies = [:]
        parityCopyOrder = []
        parityCopyCount = 0
    }

    private mutating func removeParityCopy(_ entry: (group: SequenceNumber, index: Int, expires: Instant)) {
        guard var held = parityCopies[entry.group],
            let position = held.copies.firstIndex(where: { $0.index == entry.index && $0.copy.expires == entry.expires }
            )
        else { return }
        held.copies.remove(at: position)
        parityCopyCount -= 1
        parityCopies[entry.group] = held.copies.isEmpty ? nil : held
    }

    /// Answers a parity NAK from `interface` for `count` packets of `group` from copies that did not go there and
    /// have not expired: the copies to send (each then marked sent on `interface`), none when copies went there
    /// for a NAK of at least `count` within `holdOff` (a burst of NAKs costs one resend), or `nil` when fewer than
    /// `count` are at hand: the NAK then goes its usual way, with its whole count (the source's fresh parity
    /// repairs it as well as ours would, and the state needs no partial counts).
    mutating func parityResend(
        _ group: SequenceNumber, count: Int, on interface: InterfaceID, at now: Instant, holdOff: Duration
    ) -> [Packet]? {
        guard count > 0, var held = parityCopies[group] else { return nil }
        let resend = held.resends.firstIndex { $0.interface == interface }
        if let resend, now - held.resends[resend].at < holdOff, count <= held.resends[resend].count { return [] }
        let fresh = held.copies.indices.filter { position in
            held.copies[position].copy.expires > now
                && !held.copies[position].copy.sent.contains { $0.interface == interface }
        }
        guard fresh.count >= count else { return nil }
        var packets: [Packet] = []
        for position in fresh.prefix(count) {
            held.copies[position].copy.sent.append((interface, now))
            packets.append(held.copies[position].copy.packet)
        }
        if let resend {
            held.resends[resend] = (interface, now, count)
        } else {
            held.resends.append((interface, now, count))
        }
        parityCopies[group] = held
        return packets
    }

    /// A DLR learned from a redirecting POLR (RFC 3208 §9.5.3.2).
    struct Repairer: Hashable {
        /// OPT_REDIRECT's NLA.
        var address: NLA
        /// The interface the POLR came in on: the upstream one for an upstream DLR, a downstream one for an
        /// off-tree DLR.
        var interface: InterfaceID
        /// OPT_PARITY in the POLR's header: the DLR can repair with parity.
        var parityCapable: Bool
    }

    /// Whether data, SPMs, NCFs or POLLs of the session from `address` belong to it: the network-layer source of
    /// its SPMs (the source, or in UDP encapsulation the upstream element) or their SPM_PATH (RFC 3208 §10).
    func admits(_ address: NLA) -> Bool { address == source || address == neighbor }

    /// No room for another repair state: ``NetworkElement/Configuration/maximumRepairStatesPerSession`` held, or
    /// as many as the source's advertised window (TXW_LEAD − TXW_TRAIL + 1) holds once known (RFC 3208 §10).
    /// Selective and parity state count together.
    var repairsFull: Bool {
        let count = repairs.count + parityRepairs.count
        return count >= repairs.capacity || (span > 0 && count >= span)
    }

    /// A sequence the source may still repair: within the advertised window, when one is known.
    func inWindow(_ sequence: SequenceNumber) -> Bool {
        if let lead, !sequence.precedesOrEquals(lead) { return false }
        if let trail, sequence.precedes(trail) { return false }
        return true
    }

    /// Raises the known window from a data packet or SPM. A lead further past the known one than the window's
    /// span (at least ``Peer/minimumLeadAllowance``) is a claim, taken with its trail only once
    /// ``leadConfirmations`` packets in a row claimed one near it: a source moves its lead by its rate, a stranger's
    /// single SPM could otherwise open the window to NAKs for sequences never sent (RFC 3208 §10). Returns whether
    /// it was taken.
    @discardableResult
    mutating func advertise(trail newTrail: SequenceNumber, lead newLead: SequenceNumber) -> Bool {
        let allowance = max(span, Peer.minimumLeadAllowance)
        if let lead, Int(lead.distance(to: newLead)) > allowance {
            var claim = (sequence: newLead, count: 1)
            if let previous = leadClaim, abs(Int(previous.sequence.distance(to: newLead))) <= allowance {
                claim = (SequenceNumber.serialMax(previous.sequence, newLead), previous.count + 1)
            }
            guard claim.count >= Self.leadConfirmations else {
                leadClaim = claim
                return false
            }
        }
        leadClaim = nil
        trail = trail.map { SequenceNumber.serialMax($0, newTrail) } ?? newTrail
        lead = lead.map { SequenceNumber.serialMax($0, newLead) } ?? newLead
        return true
    }

    /// Packets in a row that must claim a lead jump before it is taken.
    static let leadConfirmations = 3

    /// TXW_LEAD − TXW_TRAIL + 1 as known, 0 before.
    var span: Int {
        guard let trail, let lead, trail.precedesOrEquals(lead) else { return 0 }
        return Int(trail.distance(to: lead)) + 1
    }

    /// `sequences` in serial order around the known lead, so repeats list them the same way on every run.
    func ordered(_ sequences: [SequenceNumber]) -> [SequenceNumber] {
        guard let reference = lead ?? sequences.first else { return sequences }
        return sequences.sorted { reference.distance(to: $0) < reference.distance(to: $1) }
    }

    // MARK: Parity (RFC 3208 Appendix A)

    /// The TG_SQN of `sequence` and the low-order bits, when k is known: TG_SQN = SQN with the low log2(k) bits
    /// cleared (RFC 3208 §11.2).
    func parityGroup(of sequence: SequenceNumber) -> (group: SequenceNumber, low: UInt32)? {
        guard let groups = transmissionGroups else { return nil }
        return (groups.group(of: sequence), UInt32(groups.position(of: sequence)))
    }

    /// The TG split of ``parityGroupSize`` (RFC 3208 §11.2).
    var transmissionGroups: TransmissionGroups? { parityGroupSize.flatMap { TransmissionGroups(size: Int($0)) } }

    /// Whether a transmission group may still be repaired: its first or last sequence in the advertised window.
    func groupInWindow(_ group: SequenceNumber) -> Bool {
        guard let k = parityGroupSize else { return false }
        return inWindow(group) || inWindow(group &+ (k - 1))
    }

    /// The TG size offset of `group` (RFC 3208 §11.6): k minus the size OPT_CURR_TGSIZE gave it, else 0.
    func groupOffset(of group: SequenceNumber) -> UInt32 {
        guard let k = parityGroupSize, let truncated = truncatedGroup, truncated.group == group else { return 0 }
        return k - truncated.size
    }

    func deadline(expiry: Duration) -> Instant {
        var deadline = lastHeard + expiry
        if let reply = pendingPOLR { deadline = min(deadline, reply.due) }
        if let poll = nextDLRPoll { deadline = min(deadline, poll) }
        return deadline
    }
}
