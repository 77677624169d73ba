import PGMWire

/// Repair state for one (TSI, sequence) in a network element (RFC 3208 §7.2 to §7.8, §9.5.3.2): the
/// interfaces that asked, where the NAK went, and which interval runs.
struct RepairState {
    /// Where a pending NAK was sent.
    enum Target: Hashable {
        /// The upstream PGM neighbour from SPM_PATH.
        case upstream
        /// The session's DLR (RFC 3208 §9.5.3.2).
        case repairer
    }

    enum Phase: Hashable {
        /// The element missed this ODATA itself (a jump in what it forwards) and waits a short random back-off
        /// before asking upstream on behalf of every downstream interface; a NAK from below or an NCF from
        /// upstream ends the wait early. Beyond RFC 3208 (see ``NetworkElement/Configuration/lossDetectionBackoff``).
        case detected(due: Instant)
        /// Forwarded to `target`, no matching NCF yet: every duplicate is discarded, the NAK is repeated at
        /// `nextRepeat` until `giveUpAt` (NAK_RPT_IVL from the first transmission, §7.3).
        case pending(target: Target, nextRepeat: Instant, giveUpAt: Instant)
        /// Confirmed by an NCF, or anticipated by an unsolicited one (§7.5): duplicates are discarded until
        /// `eliminateUntil` (NAK_ELIM_IVL), the first one after it is forwarded again; the state is dropped at
        /// `rdataDeadline` (NAK_RDATA_IVL) if no RDATA came.
        case outstanding(eliminateUntil: Instant, rdataDeadline: Instant)
        /// Created by an NNAK: eliminates no real NAK and lives until `expires` (NAK_ELIM_IVL, §9.5.3.2).
        case nullNAK(expires: Instant)
    }

    /// One interface of the repair interface list (§7.8), with when it last got an NCF for this sequence.
    struct Requester: Hashable {
        var interface: InterfaceID
        var lastNCF: Instant?
        /// NAKs for this sequence from this interface since it was added (RFC 3208 §15.2.1); 0 when the element
        /// added the interface for a loss it detected itself.
        var naks = 1
        /// Parity state only: the interface's known packet count, the largest NAK_PKT_CNT (as a count, 1...k) its
        /// parity NAKs asked for, less the parity RDATA forwarded to it since (RFC 3208 §11.6).
        var count: UInt32 = 0
    }

    var phase: Phase
    /// Interfaces RDATA must go to, in the order they first asked.
    var requesters: [Requester] = []
    /// The DLR must not get this sequence: its interface asked for it, or it NAKed it itself (§9.5.3.2).
    var avoidsRepairer = false
    /// The last forwarding of this sequence went to the DLR: a NAK from the DLR for it means it cannot repair
    /// it, even after confirming (§9.5.2.2).
    var askedRepairer = false
    /// The deadline a timer is queued for; `nil` when none is (see ``NetworkElement`` timers).
    var scheduled: Instant?
    /// When the element found this sequence missing from the ODATA it forwards. Such a loss is the element's own
    /// to ask for: it repeats an unconfirmed request every repair round-trip timeout, not NAK_RPT_RTE.
    var detectedAt: Instant?
    /// When the repair was first confirmed (or detected): an RDATA overdue by a repair round-trip timeout after
    /// an NCF was lost above the element, and is asked for again until NAK_RDATA_IVL after this
    /// (``NetworkElement/Configuration/repairRetryMinimum``).
    var retryAnchor: Instant?
    /// Requests repeated so far; each doubles the next wait (as TCP backs off its retransmission timer).
    var retries = 0
    /// The downstream interfaces detection added still have to get an NCF (sent once the element has asked
    /// upstream or an NCF from upstream confirmed the repair), so that their receivers do not NAK.
    var confirmsDownstream = false
    /// When the first NAK for this state went upstream, for a round-trip sample; `nil` once it was repeated
    /// (Karn's rule).
    var firstRequestAt: Instant?
    var requestRepeated = false
    /// When the latest request went, and when the latest NCF confirmed it, numbered in confirmation order.
    var lastRequestAt: Instant?
    var confirmedAt: Instant?
    var confirmation: UInt64 = 0
    /// Parity state only (RFC 3208 §11.6, keyed by TG_SQN in ``ElementSession/parityRepairs``): the largest known
    /// packet count over the interfaces and the NCFs seen, less the parity RDATA forwarded since.
    var largestCount: UInt32 = 0
    /// Parity state only: maximum TG size minus the TG's actual size once OPT_CURR_TGSIZE said it is shorter; an
    /// interface whose count falls to it has every parity packet the source will send for its request.
    var groupOffset: UInt32 = 0

    init(phase: Phase) { self.phase = phase }

    /// When the state next needs attention.
    var deadline: Instant {
        switch phase {
        case .detected(let due): due
        case .pending(_, let nextRepeat, let giveUpAt): min(nextRepeat, giveUpAt)
        case .outstanding(_, let rdataDeadline): rdataDeadline
        case .nullNAK(let expires): expires
        }
    }

    /// RFC 3208 §7.4: duplicates of a pending NAK are always discarded, of an outstanding one only within
    /// NAK_ELIM_IVL; an NNAK's state must not eliminate a real NAK (§9.5.3.2), nor may a loss the element has not
    /// asked for yet.
    func eliminates(at now: Instant) -> Bool {
        switch phase {
        case .detected: false
        case .pending: true
        case .outstanding(let eliminateUntil, _): now < eliminateUntil
        case .nullNAK: false
        }
    }

    var isPending: Bool {
        if case .pending = phase { true } else { false }
    }

    func holds(_ interface: InterfaceID) -> Bool { requesters.contains { $0.interface == interface } }

    /// Interfaces the element added for its own loss detection, which have not NAKed.
    var detectionInterfaces: [InterfaceID] { requesters.filter { $0.naks == 0 }.map(\.interface) }

    /// Adds `interface` without a NAK: the element detected the loss and RDATA must reach it.
    mutating func addDetected(_ interface: InterfaceID) {
        guard !holds(interface) else { return }
        requesters.append(Requester(interface: interface, naks: 0))
    }

    /// Adds `interface` to the repair interface list (§7.2) if absent, and counts the NAK. Returns whether
    /// this was the first duplicate from that interface, which widens its NAK_BO_IVL (§15.2.1).
    mutating func add(_ interface: InterfaceID) -> Bool {
        guard let index = requesters.firstIndex(where: { $0.interface == interface }) else {
            requesters.append(Requester(interface: interface))
            return false
        }
        requesters[index].naks += 1
        return requesters[index].naks == 2
    }

    /// Parity state: records a parity NAK asking for `count` packets on `interface` (RFC 3208 §11.6): adds the
    /// interface or raises its known packet count. Returns the interface's count before (0 when new).
    mutating func addParity(_ interface: InterfaceID, count: UInt32) -> UInt32 {
        guard let index = requesters.firstIndex(where: { $0.interface == interface }) else {
            requesters.append(Requester(interface: interface, count: count))
            return 0
        }
        let known = requesters[index].count
        requesters[index].naks += 1
        requesters[index].count = max(known, count)
        return known
    }

    /// Parity state: one parity RDATA passed to every interface listed (RFC 3208 §11.6). Lowers the largest and
    /// every interface's known packet count by one and removes the interfaces whose count reached the TG size
    /// offset (0 for a full-size TG). Returns the interfaces the RDATA goes to.
    mutating func passParity() -> [InterfaceID] {
        largestCount = largestCount > 0 ? largestCount - 1 : 0
        let targets = requesters.map(\.interface)
        for index in requesters.indices where requesters[index].count > 0 { requesters[index].count -= 1 }
        requesters.removeAll { $0.count <= groupOffset }
        return targets
    }

    /// Whether an NCF for this sequence may go on `interface` now, and if so records it (§7.2 rate limit).
    mutating func admitNCF(on interface: InterfaceID, at now: Instant, holdOff: Duration) -> Bool {
        guard let index = requesters.firstIndex(where: { $0.interface == interface }) else { return true }
        if let last = requesters[index].lastNCF, now - last < holdOff { return false }
        requesters[index].lastNCF = now
        return true
    }

    /// A matching NCF: stop repeating, discard duplicates for NAK_ELIM_IVL and wait NAK_RDATA_IVL for RDATA
    /// (both restarted by every confirmation, §7.4, §7.5).
    mutating func confirm(at now: Instant, elimination: Duration, rdata: Duration) {
        phase = .outstanding(eliminateUntil: now + elimination, rdataDeadline: now + rdata)
    }
}
