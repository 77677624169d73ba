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
