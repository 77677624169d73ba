import PGMWire

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
    var repairs: [SequenceNumber: RepairState] = [:]
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
    var backoffs: [InterfaceBackoff] = []
    /// NAK_BO_IVL_MIN and NAK_BO_IVL_MAX from the source's OPT_NAK_BO_RNG, if it sent one.
    var backoffRange: (minimum: Duration, maximum: Duration)?

    struct InterfaceBackoff {
        var interface: InterfaceID
        var value: Duration
        /// Repair states in a row without a duplicate NAK from this interface.
        var cleanStates = 0
    }

    /// NAK_BO_IVL advertised on `interface`.
    func backoff(on interface: InterfaceID, tuning: NetworkElement.BackoffTuning) -> Duration {
        let value = backoffs.first { $0.interface == interface }?.value ?? tuning.initial
        return clamp(value, tuning)
    }

    private func clamp(_ value: Duration, _ tuning: NetworkElement.BackoffTuning) -> Duration {
        let minimum = backoffRange?.minimum ?? tuning.minimum
        let maximum = max(minimum, backoffRange?.maximum ?? tuning.maximum)
        return min(max(value, minimum), maximum)
    }

    /// The first duplicate NAK for a sequence from `interface`: double its NAK_BO_IVL. Returns whether it changed.
    mutating func widenBackoff(on interface: InterfaceID, tuning: NetworkElement.BackoffTuning) -> Bool {
        let current = backoff(on: interface, tuning: tuning)
        let widened = clamp(current * 2, tuning)
        set(interface, from: current) {
            $0.value = widened
            $0.cleanStates = 0
        }
        return widened != current
    }

    /// A repair state is gone: every interface that asked exactly once counts one clean measurement, and
    /// NAK_PROBE_NUM in a row halve its NAK_BO_IVL. Returns how many interfaces were halved.
    mutating func measureBackoff(_ repair: RepairState, tuning: NetworkElement.BackoffTuning) -> Int {
        var halved = 0
        for requester in repair.requesters where requester.naks == 1 {
            let current = backoff(on: requester.interface, tuning: tuning)
            let narrowed = clamp(current / 2, tuning)
            var probed = false
            set(requester.interface, from: current) {
                $0.cleanStates += 1
                if $0.cleanStates >= tuning.probeCount {
                    $0.cleanStates = 0
                    $0.value = narrowed
                    probed = true
                }
            }
            if probed && narrowed != current { halved += 1 }
        }
        return halved
    }

    /// Changes `interface`'s entry, creating it at `current` (its advertised value) first.
    private mutating func set(
        _ interface: InterfaceID, from current: Duration, _ change: (inout InterfaceBackoff) -> Void
    ) {
        if let index = backoffs.firstIndex(where: { $0.interface == interface }) {
            change(&backoffs[index])
        } else {
            var entry = InterfaceBackoff(interface: interface, value: current)
            change(&entry)
            backoffs.append(entry)
        }
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

    /// A sequence the source may still repair: within the advertised window, when one is known.
    func inWindow(_ sequence: SequenceNumber) -> Bool {
        if let lead, !sequence.precedesOrEquals(lead) { return false }
        if let trail, sequence.precedes(trail) { return false }
        return true
    }

    /// Raises the known window from a data packet or SPM.
    mutating func advertise(trail newTrail: SequenceNumber, lead newLead: SequenceNumber) {
        trail = trail.map { SequenceNumber.serialMax($0, newTrail) } ?? newTrail
        lead = lead.map { SequenceNumber.serialMax($0, newLead) } ?? newLead
    }

    /// `sequences` in serial order around the known lead, so repeats list them the same way on every run.
    func ordered(_ sequences: [SequenceNumber]) -> [SequenceNumber] {
        guard let reference = lead ?? sequences.first else { return sequences }
        return sequences.sorted { reference.distance(to: $0) < reference.distance(to: $1) }
    }

    func deadline(expiry: Duration) -> Instant {
        var deadline = lastHeard + expiry
        if let reply = pendingPOLR { deadline = min(deadline, reply.due) }
        if let poll = nextDLRPoll { deadline = min(deadline, poll) }
        return deadline
    }
}
