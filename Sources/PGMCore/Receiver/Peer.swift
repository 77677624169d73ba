import PGMWire

/// The RFC 3208 §6.3 per-sequence NAK state machine's state for one missing sequence number. Its deadline is
/// queued in the peer's timers as well; a queued entry whose deadline no longer matches is stale.
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

/// A session's path as `PathDamping` tells paths apart: its SPMs' network-layer source and their SPM_PATH.
struct PathKey: Equatable {
    var sender: NLA
    var path: NLA
}

/// A lead claimed further ahead than a window allows, and the packets near it that claimed it so far.
struct LeadClaim {
    var sequence: SequenceNumber
    var spms = 0
    var data = 0
}

/// Receive state for one TSI (RFC 3208 §6): the path learned from SPMs, the NAK state machine of every gap in
/// its ``ReceiveWindow`` with their timers in one ``DeadlineQueue`` rather than one timer each, SPM requests,
/// poll answers and the NAK_BO_IVL in force.
///
/// A session belongs to its path (RFC 3208 §10): the network-layer address its SPMs come from (``sender``; before
/// any SPM, the first data's) and their SPM_PATH (``path``). Data, SPMs, NCFs and POLLs from any other address are
/// dropped and counted; the path moves only by `PathDamping`'s rule. Within the path, no packet moves the window
/// further than the source's advertised window allows (``leadAllowance(_:)``) until data confirms it.
struct Peer {
    let tsi: TSI
    /// NAK_SRC: the source's unicast NLA, from the IP source of its ODATA (or of its SPM before any data).
    var source: NLA
    var sourceFromData = false
    /// The network-layer source of the session's SPMs (before any SPM, of its first data): with ``path``, the only
    /// addresses its packets are taken from.
    var sender: NLA
    /// SPM_PATH of the last SPM: where NAKs go. `nil` until the first SPM: no NAK may be sent before it.
    var path: NLA?
    var lastSPMSequence: SequenceNumber?
    /// When SPMs of another path may replace this one.
    var damping = PathDamping<PathKey>()
    /// Packets of this session dropped for coming from an address off its path, and when that was last reported.
    var offPathDropped = 0
    var offPathReportedAt: Instant?
    /// TXW_LEAD − TXW_TRAIL + 1 as the source last advertised it (SPM or data): how far a lead may jump.
    var advertisedSpan = 0
    /// A lead further ahead than ``leadAllowance(_:)``, waiting for data near it.
    var leadClaim: LeadClaim?
    /// OPT_NBR_UNREACH from the session's parent (RFC 3208 §15.3.2): no NAKs until a regular SPM.
    var neighborUnreachable = false
    /// ``Receiver/Configuration/nakRateLimit``, created with the first NAK.
    var nakBucket: TokenBucket?
    /// The window is anchored once the first SPM or data defined where this receiver starts.
    var started = false
    /// The sequences not yet delivered or reported; its gaps carry their NAK state.
    var window = ReceiveWindow<Repair>()
    /// The NAK timers of the gaps: an entry is live while its slot is missing with that deadline (and not
    /// waiting for an SPM).
    var timers = DeadlineQueue<SequenceTimerKey>()
    /// SPMR timer (RFC 3208 Appendix C): armed while data flows and no SPM is known.
    var spmrDue: Instant?
    /// SPM_LEAD (or data sequence) that carried OPT_FIN, or SPM_LEAD of an SPM with OPT_RST.
    var finLead: SequenceNumber?
    /// OPT_RST's error code once an SPM carried it: the session ends as a reset at ``finLead``.
    var resetCode: UInt8?
    var closedReported = false
    /// The last packet taken from the session's path (off-path packets do not keep a session alive).
    var lastHeard: Instant
    var loss: LossRateEstimator
    /// The reports the source asked for with OPT_CRQST on its last SPM (RFC 3208 Appendix B.1).
    var congestionRequest: Option.CongestionReport.Kinds = []
    /// NAK_BO_IVL from the last usable OPT_NAK_BO_IVL (RFC 3208 §15.2.2); `nil`: the configured default.
    var learnedBackoff: Duration?
    /// The latest OPT_NAK_BO_IVL derived from a poll this receiver has not seen round 0 of: unusable until it
    /// does (RFC 3208 §6.3).
    var pendingBackoff: (interval: Duration, pollSequence: SequenceNumber)?
    /// NAK_BO_IVL_MIN ... NAK_BO_IVL_MAX from OPT_NAK_BO_RNG on SPMs (RFC 3208 §15.2.2).
    var backoffRange: ClosedRange<Duration>?
    /// POLL_SQN of the first round-0 POLL seen: a polled NAK_BO_IVL is usable once its NAK_BO_IVL_SQN is at
    /// or after it (RFC 3208 §6.3, "POLL_SQN =< NAK_BO_IVL_SQN"), i.e. once this receiver took part in the poll.
    var firstPollSequence: SequenceNumber?
    /// POLL_SQN of the last POLL, and whether its round 0 was seen (RFC 3208 §14.5).
    var pollSequence: SequenceNumber?
    var pollRoundZeroSeen = false
    /// The one POLR scheduled for this session (RFC 3208 §14.5: a single reply at a random time).
    var pendingPOLR: (due: Instant, transmit: Transmit)?
    /// Of the back-offs that ended (not those coalesced early), the share an NCF or another receiver's NAK
    /// suppressed: an EWMA that starts at 1 (assume others share our losses until we see otherwise).
    var suppressedShare = 1.0
    /// PGMCC's measurements, once the source's data carries OPT_PGMCC_DATA.
    var congestion: CongestionFeedback?
    /// FEC, once an SPM offered it in OPT_PARITY_PRM (``Peer/learnParity(modeBits:groupSize:context:)``).
    var parity: ParityReceiver?
    /// The lead of the last windowed SPM when it equalled the window's: the source had nothing newer, so a
    /// group still open may be NAKed selectively (RFC 3208 §11.5).
    var quietLead: SequenceNumber?

    init(tsi: TSI, source: NLA, now: Instant, lossWeight: Double) {
        self.tsi = tsi
        self.source = source
        self.sender = source
        self.lastHeard = now
        self.loss = LossRateEstimator(weight: lossWeight)
    }

    func nextDeadline(expiry: Duration) -> Instant {
        var deadline = lastHeard + expiry
        if let timer = timers.first { deadline = min(deadline, timer.deadline) }
        if let spmr = spmrDue { deadline = min(deadline, spmr) }
        if let reply = pendingPOLR { deadline = min(deadline, reply.due) }
        return deadline
    }

    // MARK: NAK_BO_IVL (RFC 3208 §6.3, §15.2)

    /// Bounds on a learned NAK_BO_IVL, beyond the RFC: a source's 0 would make every receiver NAK at once (no
    /// suppression), and a huge value would stall repairs; NAK_RPT_IVL is the ceiling, as a NAK should be
    /// confirmed within it anyway.
    static let minimumLearnedBackoff = Duration.milliseconds(1)

    /// The session's NAK_BO_IVL, for every new back-off.
    func nakBackoffInterval(_ configuration: Receiver.Configuration) -> Duration {
        guard var interval = learnedBackoff else { return configuration.nakBackoffInterval }
        if let range = backoffRange { interval = min(max(interval, range.lowerBound), range.upperBound) }
        let ceiling = max(Self.minimumLearnedBackoff, configuration.nakRepeatInterval)
        return min(max(interval, Self.minimumLearnedBackoff), ceiling)
    }

    /// OPT_NAK_BO_IVL from an SPM or NCF: usable at once when NAK_BO_IVL_SQN is 0 or a round-0 POLL at or
    /// before it was seen; otherwise held until such a POLL comes (RFC 3208 §6.3, §15.4.1).
    private mutating func learnBackoff(microseconds: UInt32, pollSequence: SequenceNumber) {
        let interval = Duration.microseconds(Int64(microseconds))
        if pollSequence.rawValue == 0 || firstPollSequence.map({ $0.precedesOrEquals(pollSequence) }) == true {
            learnedBackoff = interval
            pendingBackoff = nil
        } else {
            pendingBackoff = (interval, pollSequence)
        }
    }

    private mutating func learnBackoff(from options: [Option], rangeAllowed: Bool) {
        for option in options {
            switch option.value {
            case .nakBackoffInterval(let microseconds, let pollSequence):
                learnBackoff(microseconds: microseconds, pollSequence: pollSequence)
            case .nakBackoffRange(let maximum, let minimum) where rangeAllowed:
                let bounds = (Duration.microseconds(Int64(maximum)), Duration.microseconds(Int64(minimum)))
                backoffRange = min(bounds.0, bounds.1)...max(bounds.0, bounds.1)
            default:
                break
            }
        }
    }

    // MARK: Inputs

    /// ODATA or RDATA. `payloadOwned`: its payload is no slice of the driver's receive buffer (a DLR's cached
    /// copy), so holding it keeps nothing else alive.
    mutating func handleData(
        _ data: DataPacket, options: [Option], repair: Bool, payloadOwned: Bool, from sender: NLA,
        context: inout ReceiverContext
    ) {
        let configuration = context.configuration
        guard admits(sender) else {
            dropOffPath(from: sender, context: &context)
            return
        }
        var fragment: Option.Fragment?
        var join: SequenceNumber?
        var fin = false
        for option in options {
            switch option.value {
            case .fragment(let value): fragment = value
            case .join(let minimum): join = minimum
            case .fin: fin = true
            default: break
            }
        }
        // Sanity checks OpenPGM applies too (Docs/openpgm.md#receiver-behaviour): trail not after the sequence,
        // fragments inside their APDU, APDU within our limit.
        guard data.trail.precedesOrEquals(data.sequence) else {
            context.statistics.malformedPackets += 1
            return
        }
        if let fragment {
            let offset = Int(fragment.offset)
            let length = Int(fragment.apduLength)
            let position = fragment.firstSequence.distance(to: data.sequence)
            guard length <= configuration.maximumAPDUSize, offset + data.payload.count <= length,
                position >= 0, Int(position) < configuration.maximumWindowSequences,
                data.payload.count > 0 || length == 0
            else {
                context.statistics.malformedPackets += 1
                return
            }
        }
        lastHeard = context.now
        if !sourceFromData {
            source = sender
            sourceFromData = true
        }
        if !started {
            // Late join (RFC 3208 §6.1): start at this packet, or at OPT_JOIN's minimum when it lies inside
            // the advertised window; never ask for anything earlier, except the first fragments of this
            // packet's APDU while the source still holds them: a receiver up before the session began whose
            // first packet was lost would otherwise discard the whole first APDU.
            var start = data.sequence
            if let first = fragment?.firstSequence, data.trail.precedesOrEquals(first), first.precedes(start) {
                start = first
            }
            if let join, data.trail.precedesOrEquals(join), join.precedes(start) { start = join }
            anchor(at: start, trail: data.trail, context: &context)
        }
        if path == nil && spmrDue == nil { spmrDue = context.backOff(configuration.spmrBackoffInterval) }
        // A sequence further ahead than the advertised window allows is taken only once more data confirms it;
        // its trail (never after it) then counts too.
        if window.lead.precedes(data.sequence) {
            guard trustLead(data.sequence, byData: true, context: &context) else { return }
            advertisedSpan = Int(data.trail.distance(to: data.sequence)) + 1
        }
        declareLost(before: data.trail, reason: .windowAdvanced, context: &context)
        if fin { finLead = data.sequence }
        guard !data.sequence.precedes(window.next) else {
            context.statistics.duplicates += 1
            deliver(context: &context)
            return
        }
        // FEC: every data packet of a group counts towards decoding it; a group that becomes decodable is decoded
        // once this packet is in place.
        let decodable = noteParityData(data.sequence, payload: data.payload, fragment: fragment, context: &context)
        defer { if let decodable { recoverGroup(decodable, from: sender, context: &context) } }
        if data.sequence == window.next && window.count == 0 && fragment == nil {
            // In order with nothing held (almost every packet): delivered without entering the window. The window
            // path would draw a NAK back-off for the slot it makes; the same draw here keeps every seeded run
            // (simulator, tests, benchmarks) identical to it.
            _ = context.backOff(nakBackoffInterval(configuration))
            var passed = false
            let tpdu = ReceivedTPDU(payload: data.payload, fragment: nil, repaired: repair)
            withDelivery(context: &context) { window, output in passed = window.passThrough(tpdu, output) }
            if passed {
                if repair { context.statistics.sequencesRepaired += 1 }
                pruneTimers()
                return
            }
        }
        extend(through: data.sequence, context: &context)
        guard let index = window.index(of: data.sequence) else { return }
        // A sequence given up (trail passed, retries ran out, window overflow) but not yet reported, because a gap
        // before it holds delivery back, is still delivered when its data comes after all: only what is still
        // lost when delivery reaches it is reported.
        if window.hold(ReceivedTPDU(payload: data.payload, fragment: fragment, repaired: repair), at: index) {
            if repair { context.statistics.sequencesRepaired += 1 }
        } else {
            context.statistics.duplicates += 1
        }
        enforceLimits(context: &context)
        deliver(context: &context)
        // Held behind a gap until a repair comes (a round trip at least): keep only its own bytes, not the driver's
        // receive buffer (a coalesced run of up to 64 datagrams) that the payload is a slice of.
        if !payloadOwned, case .missing? = window.slots.first, let held = window.index(of: data.sequence) {
            window.ownPayload(at: held)
        }
    }

    /// An SPM (RFC 3208 §6.2): from the session's path, newer than the last one, it sets where NAKs go and, when it
    /// carries a window (§8.1), moves the window within ``leadAllowance(_:)``. OPT_NBR_UNREACH from the current
    /// parent stops NAKs until a regular SPM (§15.3.2). From another path it is a candidate (`PathDamping`). Returns
    /// whether it was taken.
    @discardableResult
    mutating func handleSPM(_ spm: SPM, options: [Option], from sender: NLA, context: inout ReceiverContext) -> Bool {
        let configuration = context.configuration
        let onPath = sender == self.sender && (path == nil || spm.path == path)
        if options.contains(where: { $0.value == .neighborUnreachable }) {
            // §15.3.2: ignored unless SPM_PATH is the current parent; its SPM_SQN may repeat the last regular one.
            guard admits(sender) else {
                dropOffPath(from: sender, context: &context)
                return false
            }
            guard onPath, path != nil else {
                context.statistics.neighborUnreachableIgnored += 1
                return false
            }
            if let last = lastSPMSequence, spm.sequence.precedes(last) {
                context.statistics.staleSPMs += 1
                return false
            }
            context.statistics.windowlessSPMs += 1
            neighborUnreachable = true
            lastHeard = context.now
            return true
        }
        if !onPath {
            let rule = PathDamping<PathKey>.Rule(
                spms: configuration.pathChangeSPMs, silence: configuration.pathChangeSilence)
            guard
                damping.offer(
                    PathKey(sender: sender, path: spm.path), sequence: spm.sequence, sameAddress: sender == self.sender,
                    lastHeard: lastHeard, at: context.now, rule: rule)
            else {
                dropOffPath(from: sender, context: &context)
                return false
            }
            movePath(to: sender, path: spm.path, context: &context)
        }
        // RFC 3208 §6.2: only an SPM newer than the last one counts.
        if let last = lastSPMSequence, !last.precedes(spm.sequence) {
            context.statistics.staleSPMs += 1
            return false
        }
        lastSPMSequence = spm.sequence
        damping.heardSPM(at: context.now)
        lastHeard = context.now
        if !sourceFromData { source = sender }
        // Gaps that waited for a NAK destination (no SPM yet, or OPT_NBR_UNREACH) back off afresh below.
        let naksWereHeld = path == nil || neighborUnreachable
        path = spm.path
        neighborUnreachable = false
        spmrDue = nil
        var windowed = spm.carriesWindow(options)
        if windowed && !spm.trail.precedesOrEquals(spm.lead &+ 1) {
            context.statistics.malformedPackets += 1  // a trail past the lead + 1 is no window
            windowed = false
        }
        if !windowed { context.statistics.windowlessSPMs += 1 }
        var join: SequenceNumber?
        var resetIgnoresNAKs = false
        congestionRequest = []
        learnBackoff(from: options, rangeAllowed: true)
        for option in options {
            switch option.value {
            case .join(let minimum): join = minimum
            case .congestionReportRequest(let kinds): congestionRequest = kinds
            case .parityParameters(let bits, let size): learnParity(modeBits: bits, groupSize: size, context: &context)
            case .fin where windowed: finLead = spm.lead
            case .reset(let ignoresNAKs, let code) where windowed:
                // RFC 3208 §9.8.1: an abort; with N set no NAK is answered any more, so what is missing is lost.
                (finLead, resetCode, resetIgnoresNAKs) = (spm.lead, code, ignoresNAKs)
            default: break
            }
        }
        if windowed && !started {
            // An SPM alone anchors an empty window after its lead, or at OPT_JOIN's minimum.
            var start = spm.lead &+ 1
            if let join, spm.trail.precedesOrEquals(join), join.precedesOrEquals(start) { start = join }
            anchor(at: start, trail: spm.trail, context: &context)
        }
        // The window moves only as far as the advertised window allows beyond what data showed; a lead further
        // ahead, and its trail, count once data (or more SPMs) near it confirm it.
        if windowed && started
            && (!window.lead.precedes(spm.lead) || trustLead(spm.lead, byData: false, context: &context))
        {
            advertisedSpan = Int(spm.trail.distance(to: spm.lead)) + 1
            declareLost(before: spm.trail, reason: .windowAdvanced, context: &context)
            if resetIgnoresNAKs { declareLost(before: spm.lead &+ 1, reason: .windowAdvanced, context: &context) }
            if window.next.precedesOrEquals(spm.lead) { extend(through: spm.lead, context: &context) }
        }
        if windowed && started { quietLead = spm.lead == window.lead ? spm.lead : nil }
        if naksWereHeld {
            for index in 0..<window.count {
                guard var repair = window.gap(at: index), repair.phase == .awaitingSPM else { continue }
                repair.phase = .backOff
                repair.deadline = context.backOff(nakBackoffInterval(configuration))
                window.updateGap(at: index, repair)
                timers.schedule(SequenceTimerKey(window.next &+ UInt32(index)), at: repair.deadline)
            }
        }
        enforceLimits(context: &context)
        deliver(context: &context)
        return true
    }

    // MARK: Path (RFC 3208 §10)

    /// Whether a packet from `address` belongs to this session: its SPMs' network-layer source, or their SPM_PATH
    /// (an element in UDP encapsulation forwards with its own address, which is its SPM_PATH).
    func admits(_ address: NLA) -> Bool { address == sender || address == path }

    /// A packet from off the path: counted, and told to the application at most once per
    /// ``Receiver/Configuration/offPathReportInterval``.
    mutating func dropOffPath(from address: NLA, context: inout ReceiverContext) {
        context.statistics.offPathPackets += 1
        offPathDropped += 1
        if let reported = offPathReportedAt, context.now - reported < context.configuration.offPathReportInterval {
            return
        }
        offPathReportedAt = context.now
        context.events.append(.offPathPackets(tsi, from: address, dropped: offPathDropped))
    }

    /// The session's SPMs now come from `newSender` with SPM_PATH `newPath` (`PathDamping` allowed it): NAKs go
    /// there, and SPM_SQN starts over with the new path (a source restarted elsewhere counts anew). From another
    /// address, NAK_SRC is learned again from its data.
    private mutating func movePath(to newSender: NLA, path newPath: NLA, context: inout ReceiverContext) {
        if newSender != sender {
            sender = newSender
            source = newSender
            sourceFromData = false
        }
        lastSPMSequence = nil
        leadClaim = nil
        context.statistics.pathChanges += 1
        context.events.append(.pathChanged(tsi, sender: newSender, path: newPath))
    }

    /// How far past the window's lead a lead may be taken at once: the source's advertised window (TXW_LEAD −
    /// TXW_TRAIL + 1), at least ``minimumLeadAllowance``, at most the receive window. Beyond RFC 3208, which takes
    /// any lead (§6.3); §10 asks for the windows learned from SPMs to bound what a packet can make a receiver do.
    func leadAllowance(_ configuration: Receiver.Configuration) -> Int {
        min(configuration.maximumWindowSequences, max(advertisedSpan, Self.minimumLeadAllowance))
    }

    /// A window just started, or a source that advertised a tiny one, still takes a burst of losses this long.
    static let minimumLeadAllowance = 1024

    /// Whether `lead` (after the window's lead) may be taken now: within ``leadAllowance(_:)``, or confirmed. A lead
    /// further ahead is a claim; claims near one another (within the allowance) add up, and two packets of which one
    /// is data, or three SPMs, confirm it. Returns false, counting it, while it is not.
    mutating func trustLead(_ lead: SequenceNumber, byData: Bool, context: inout ReceiverContext) -> Bool {
        let allowance = leadAllowance(context.configuration)
        if let claim = leadClaim, !window.lead.precedes(claim.sequence) { leadClaim = nil }
        if Int(window.lead.distance(to: lead)) <= allowance { return true }
        var claim = LeadClaim(sequence: lead)
        if let previous = leadClaim, abs(Int(previous.sequence.distance(to: lead))) <= allowance {
            claim = previous
            claim.sequence = SequenceNumber.serialMax(previous.sequence, lead)
        }
        if byData { claim.data += 1 } else { claim.spms += 1 }
        if (claim.data >= 1 && claim.data + claim.spms >= 2) || claim.spms >= 3 {
            leadClaim = nil
            return true
        }
        leadClaim = claim
        context.statistics.leadJumpsDistrusted += 1
        return false
    }

    /// Starts the window at `start` and tells the application where it joined: late when the source still
    /// held sequences before `start` (its trail precedes it) that this receiver will not ask for.
    private mutating func anchor(at start: SequenceNumber, trail: SequenceNumber, context: inout ReceiverContext) {
        window.start(at: start)
        started = true
        if parity != nil && parity?.trackedFrom == nil { parity?.trackedFrom = start }
        context.events.append(.joined(tsi, firstSequence: start, lateJoin: trail.precedes(start)))
    }

    /// An NCF from the session's path confirms a NAK: back-off is cancelled (suppression) or the RDATA wait
    /// restarts (RFC 3208 §6.3). Its OPT_NAK_BO_IVL sets the session's NAK_BO_IVL (§15.2.2). With OPT_NBR_UNREACH
    /// and OPT_PATH_NLA naming the session's parent it also stops NAKs until a regular SPM; naming another
    /// neighbour, it is ignored (§15.3.2). Returns whether it was such an NCF and was taken.
    @discardableResult
    mutating func handleNCF(
        _ sequences: [SequenceNumber], options: [Option], from sender: NLA, context: inout ReceiverContext
    ) -> Bool {
        let configuration = context.configuration
        guard admits(sender) else {
            dropOffPath(from: sender, context: &context)
            return false
        }
        var unreachable = false
        if options.contains(where: { $0.value == .neighborUnreachable }) {
            let parent = options.lazy.compactMap { if case .pathNLA(let nla) = $0.value { nla } else { nil } }.first
            guard let parent, parent == path else {
                context.statistics.neighborUnreachableIgnored += 1
                return false
            }
            neighborUnreachable = true
            unreachable = true
        }
        lastHeard = context.now
        learnBackoff(from: options, rangeAllowed: false)
        for sequence in sequences {
            guard let index = window.index(of: sequence), var repair = window.gap(at: index) else { continue }
            switch repair.phase {
            case .backOff, .awaitingSPM:
                context.statistics.naksSuppressed += 1
                recordBackoffEnd(suppressed: true)
            case .waitNCF, .waitData:
                break
            }
            repair.phase = .waitData
            repair.deadline = context.now + configuration.nakRdataInterval
            window.updateGap(at: index, repair)
            timers.schedule(SequenceTimerKey(sequence), at: repair.deadline)
        }
        pruneTimers()
        return unreachable
    }

    /// Another receiver's NAK multicast to the group is "a matching NAK" (RFC 3208 §6.3): during back-off it
    /// suppresses ours and waits NAK_RDATA_IVL, as the text says (the diagram's WAIT_NCF would NAK again after
    /// NAK_RPT_IVL though the NAK is already outstanding); it restarts NAK_RPT_IVL in WAIT_NCF and NAK_RDATA_IVL in
    /// WAIT_DATA. Sequences outside the window or already received are ignored (§6.3, last paragraph).
    mutating func handleOverheardNAK(_ sequences: [SequenceNumber], context: inout ReceiverContext) {
        let configuration = context.configuration
        for sequence in sequences {
            guard let index = window.index(of: sequence), var repair = window.gap(at: index) else { continue }
            switch repair.phase {
            case .backOff, .awaitingSPM:
                context.statistics.naksSuppressed += 1
                recordBackoffEnd(suppressed: true)
                repair.phase = .waitData
                repair.deadline = context.now + configuration.nakRdataInterval
            case .waitNCF:
                repair.deadline = context.now + configuration.nakRepeatInterval
            case .waitData:
                repair.deadline = context.now + configuration.nakRdataInterval
            }
            window.updateGap(at: index, repair)
            timers.schedule(SequenceTimerKey(sequence), at: repair.deadline)
        }
        pruneTimers()
    }

    /// Another receiver's multicast SPMR for this session: ours would be redundant. Wait SPMR_SPM_IVL, then a
    /// fresh random delay on SPMR_BO_IVL, so that the receivers that all heard it do not ask again together
    /// (RFC 3208 §13.5).
    mutating func handleOverheardSPMR(context: inout ReceiverContext) {
        guard path == nil, spmrDue != nil else { return }
        spmrDue = context.backOff(context.configuration.spmrBackoffInterval) + context.configuration.spmrRetryInterval
        context.statistics.spmrSuppressed += 1
    }

    /// A POLL (RFC 3208 §14.5). Only the session's upstream counts: the data source, whose address POLLs carry
    /// (§14.4), or, beyond the RFC, the SPM_PATH, since an element relaying over UDP cannot claim the source's
    /// address. Every POLL of a new POLL_SQN cancels a pending reply, and a round-0 POLL counts as seen, whether
    /// or not this node is selected: rounds freeze the population that received round 0 (§14.3.1).
    mutating func handlePOLL(_ poll: POLL, from sender: NLA, context: inout ReceiverContext) {
        guard admits(sender) else {
            context.statistics.pollsIgnored += 1
            dropOffPath(from: sender, context: &context)
            return
        }
        if pollSequence != poll.sequence {
            pollSequence = poll.sequence
            pollRoundZeroSeen = false
            pendingPOLR = nil
        }
        if poll.round == 0 {
            pollRoundZeroSeen = true
            if firstPollSequence == nil {
                firstPollSequence = poll.sequence
                if let pending = pendingBackoff, poll.sequence.precedesOrEquals(pending.pollSequence) {
                    learnedBackoff = pending.interval
                    pendingBackoff = nil
                }
            }
        }
        guard (context.nodeID ^ poll.random) & poll.mask == 0, pollRoundZeroSeen else { return }
        let options: [Option]
        switch poll.subtype {
        case POLL.generalSubtype:
            options = []
        case POLL.dlrSubtype:
            // §9.5.2.2: a DLR answers with OPT_REDIRECT naming itself; a plain receiver does not answer.
            guard let address = context.repairerAddress else { return }
            options = [Option(.redirect(address))]
        default:
            return  // §14.5: an unknown POLL_S_TYPE MUST NOT be answered
        }
        // A single POLR at a uniform time in [0, POLL_BO_IVL] (microseconds), unicast to POLL_PATH.
        let span = UInt64(poll.backoffInterval) * 1000 + 1
        let due = context.now + Duration(nanoseconds: Int64(context.random.bounded(span)))
        let port = context.configuration.dataDestinationPort
        let polr = Packet(
            tsi: tsi, dataDestinationPort: port, flags: .required(by: options),
            body: .polr(POLR(sequence: poll.sequence, round: poll.round)), options: options)
        pendingPOLR = (due, Transmit(packet: polr, destination: .unicast(poll.path)))
    }

    // MARK: Timers

    mutating func handleTimeout(context: inout ReceiverContext) {
        let configuration = context.configuration
        let now = context.now
        // Judged on the back-offs that ended before these.
        let coalescing = coalescingWindow(configuration)
        var nak: [SequenceNumber] = []
        while let timer = timers.popDue(at: now) {
            let sequence = timer.key.sequence
            guard let index = window.index(of: sequence), var repair = window.gap(at: index),
                repair.deadline == timer.deadline, repair.phase != .awaitingSPM
            else { continue }
            switch repair.phase {
            case .backOff:
                if path == nil || neighborUnreachable {
                    repair.phase = .awaitingSPM
                    window.updateGap(at: index, repair)
                    continue
                }
                nak.append(sequence)
                recordBackoffEnd(suppressed: false)
                continue
            case .waitNCF:
                repair.ncfRetries += 1
                if repair.ncfRetries > configuration.nakNCFRetries {
                    window.markLost(at: index, reason: .retriesExhausted)
                    continue
                }
            case .waitData:
                repair.dataRetries += 1
                if repair.dataRetries > configuration.nakDataRetries {
                    window.markLost(at: index, reason: .retriesExhausted)
                    continue
                }
            case .awaitingSPM:
                continue
            }
            repair.phase = .backOff
            repair.deadline = context.backOff(nakBackoffInterval(configuration))
            window.updateGap(at: index, repair)
            timers.schedule(timer.key, at: repair.deadline)
        }
        if !nak.isEmpty, let path {
            let parityRequests = takeParityRequests(from: &nak, context: &context)
            if !parityRequests.isEmpty { sendParityNAKs(parityRequests, to: path, context: &context) }
        }
        if !nak.isEmpty, let path {
            coalesce(into: &nak, within: coalescing, context: &context)
            limitRate(&nak, context: &context)
            sendNAKs(nak, to: path, context: &context)
        }
        if let due = spmrDue, due <= now {
            if path == nil {
                sendSPMR(context: &context)
                spmrDue = context.backOff(configuration.spmrBackoffInterval) + configuration.spmrRetryInterval
            } else {
                spmrDue = nil
            }
        }
        if let reply = pendingPOLR, reply.due <= now {
            context.outbound.append(reply.transmit)
            context.statistics.polrsSent += 1
            pendingPOLR = nil
        }
        deliver(context: &context)
        pruneTimers()
    }

    static let suppressionWeight = 1.0 / 16

    private mutating func recordBackoffEnd(suppressed: Bool) {
        suppressedShare += ((suppressed ? 1 : 0) - suppressedShare) * Self.suppressionWeight
    }

    /// How far ahead a NAK takes back-offs along (``Receiver/Configuration/nakCoalescingWindow``). By default
    /// the whole NAK_BO_IVL, scaled by the share of back-offs that ended unsuppressed: a sequence taken early
    /// loses its chance of being suppressed by another receiver's NAK, which costs nothing when no other
    /// receiver shares our losses and the most when all do (RFC 3208 §9.3.2 asks receivers to back off as
    /// for single NAKs). None behind a network element (SPM_PATH is not the source): it must forward a NAK
    /// list intact when any one sequence in it is new (§9.3.3), so sequences taken along would pass its
    /// elimination.
    private func coalescingWindow(_ configuration: Receiver.Configuration) -> Duration {
        if let window = configuration.nakCoalescingWindow { return window }
        guard path == source else { return .zero }
        return nakBackoffInterval(configuration) * (1 - suppressedShare)
    }

    /// Fills the last NAK's room with the sequences whose back-off ends within the coalescing window, earliest
    /// deadline first; they leave BACK_OFF early.
    private mutating func coalesce(
        into nak: inout [SequenceNumber], within coalescing: Duration, context: inout ReceiverContext
    ) {
        let perPacket = 1 + Option.maximumNAKListEntries
        var room = (perPacket - nak.count % perPacket) % perPacket
        guard room > 0, coalescing > .zero else { return }
        let horizon = context.now + coalescing
        var others: [DeadlineQueue<SequenceTimerKey>.Entry] = []
        while room > 0, let timer = timers.popDue(at: horizon) {
            guard let index = window.index(of: timer.key.sequence), let repair = window.gap(at: index),
                repair.deadline == timer.deadline, repair.phase != .awaitingSPM
            else { continue }  // stale
            if repair.phase == .backOff {
                nak.append(timer.key.sequence)
                room -= 1
            } else {
                others.append(timer)
            }
        }
        for timer in others { timers.schedule(timer.key, at: timer.deadline) }
    }

    /// Keeps the NAKs about to go within ``Receiver/Configuration/nakRateLimit``: the oldest sequences go, as many
    /// NAK packets as the bucket holds tokens; the rest stay in back-off until it holds enough for them (or a
    /// burst's worth), so that however many gaps a session has, its NAKs never outrun the limit.
    private mutating func limitRate(_ nak: inout [SequenceNumber], context: inout ReceiverContext) {
        guard let limit = context.configuration.nakRateLimit, !nak.isEmpty else { return }
        let now = context.now
        var bucket = nakBucket ?? TokenBucket(rate: limit.packetsPerSecond, capacity: limit.burst, at: now)
        defer { nakBucket = bucket }
        let perPacket = 1 + Option.maximumNAKListEntries
        let packets = (nak.count + perPacket - 1) / perPacket
        var allowed = 0
        while allowed < packets, bucket.consume(1, at: now) { allowed += 1 }
        guard allowed < packets else { return }
        let next = window.next
        nak.sort { next.distance(to: $0) < next.distance(to: $1) }
        let deferred = nak[(allowed * perPacket)...]
        let due = bucket.availability(of: min(packets - allowed, limit.burst))
        for sequence in deferred {
            guard let index = window.index(of: sequence), var repair = window.gap(at: index) else { continue }
            repair.phase = .backOff
            repair.deadline = due
            window.updateGap(at: index, repair)
            timers.schedule(SequenceTimerKey(sequence), at: due)
        }
        context.statistics.nakSequencesRateLimited += deferred.count
        nak.removeSubrange((allowed * perPacket)...)
    }

    /// OPT_CR for our NAKs when the source asked for the receivers' worst path loss (RFC 3208 Appendix B.2):
    /// our own measured loss as RX_WP, our address as the worst receiver, our leading edge as CR_LEAD; the
    /// network-element fields stay 0 for elements to fill.
    func congestionReport(_ configuration: Receiver.Configuration) -> Option.CongestionReport? {
        guard congestionRequest.contains(.receiverWorstPath), let address = configuration.address else { return nil }
        return Option.CongestionReport(
            kinds: .receiverWorstPath, lead: window.lead, receiverWorstPath: loss.scaled, worstReceiver: address)
    }

    /// NAKs unicast to the path NLA, oldest first, batched with OPT_NAK_LIST (RFC 3208 §9.3: the packet's own
    /// sequence plus up to 62 listed).
    private mutating func sendNAKs(_ sequences: [SequenceNumber], to path: NLA, context: inout ReceiverContext) {
        let next = window.next
        let ordered = sequences.sorted { next.distance(to: $0) < next.distance(to: $1) }
        context.statistics.naksSent += emitNAKs(ordered, parity: false, to: path, context: &context)
        context.statistics.nakSequencesSent += ordered.count
        awaitNCF(ordered, context: &context)
    }

    /// NAK packets for `entries` (sequences, or parity requests TG_SQN | (count − 1) with OPT_PARITY in the header,
    /// RFC 3208 §11.3.1), each packet its first entry plus up to 62 in OPT_NAK_LIST, with OPT_CR and PGMCC feedback
    /// when asked for; unicast to `path`. Returns how many packets went.
    mutating func emitNAKs(
        _ entries: [SequenceNumber], parity: Bool, to path: NLA, context: inout ReceiverContext
    ) -> Int {
        let configuration = context.configuration
        var packets = 0
        var start = 0
        while start < entries.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, entries.count)
            let listed = Array(entries[(start + 1)..<end])
            var options = listed.isEmpty ? [] : [Option(.nakList(listed))]
            if let report = congestionReport(configuration) { options.append(Option(.congestionReport(report))) }
            if let congestion, let address = configuration.address { options.append(congestion.option(from: address)) }
            var flags = Packet.Flags.required(by: options)
            if parity { flags.insert(.parity) }
            let packet = Packet(
                tsi: tsi, dataDestinationPort: configuration.dataDestinationPort, flags: flags,
                body: .nak(NAK(sequence: entries[start], source: source, group: configuration.group)),
                options: options)
            context.outbound.append(Transmit(packet: packet, destination: .unicast(path)))
            packets += 1
            start = end
        }
        return packets
    }

    /// Our NAK for these missing sequences went: each waits NAK_RPT_IVL for its NCF (RFC 3208 §6.3, WAIT_NCF).
    mutating func awaitNCF(_ sequences: some Sequence<SequenceNumber>, context: inout ReceiverContext) {
        for sequence in sequences {
            guard let index = window.index(of: sequence), var repair = window.gap(at: index) else { continue }
            repair.phase = .waitNCF
            repair.deadline = context.now + context.configuration.nakRepeatInterval
            window.updateGap(at: index, repair)
            timers.schedule(SequenceTimerKey(sequence), at: repair.deadline)
        }
    }

    /// RFC 3208 Appendix C: a TTL-1 multicast copy (which suppresses other receivers' SPMRs on the link) and
    /// a unicast to the source.
    private mutating func sendSPMR(context: inout ReceiverContext) {
        let configuration = context.configuration
        let packet = Packet(tsi: tsi, dataDestinationPort: configuration.dataDestinationPort, body: .spmr)
        context.outbound.append(Transmit(packet: packet, destination: .multicast(configuration.group), ttl: 1))
        context.outbound.append(Transmit(packet: packet, destination: .unicast(source)))
        context.statistics.spmrSent += 1
    }

    // MARK: Window

    /// Adds missing slots up to `sequence`, each in BACK_OFF, first making room if the window would exceed
    /// its sequence limit.
    mutating func extend(through sequence: SequenceNumber, context: inout ReceiverContext) {
        let limit = context.configuration.maximumWindowSequences
        let span = Int(window.next.distance(to: sequence)) + 1
        guard span > window.count else { return }
        if span > limit {
            declareLost(before: sequence &- UInt32(limit - 1), reason: .receiveWindowOverflow, context: &context)
        }
        let interval = nakBackoffInterval(context.configuration)
        while window.lead.precedes(sequence) {
            let deadline = context.backOff(interval)
            let sequence = window.lead &+ 1
            window.appendGap(Repair(phase: .backOff, deadline: deadline))
            timers.schedule(SequenceTimerKey(sequence), at: deadline)
        }
    }

    /// Everything before `trail` that is not held is unrecoverable (RFC 3208 §6.3: the trail passing is the loss
    /// indication), sequences never seen too: the source sent them and will no longer repair them.
    mutating func declareLost(
        before trail: SequenceNumber, reason: Receiver.LossReason, context: inout ReceiverContext
    ) {
        guard started, window.next.precedes(trail) else { return }
        let maximumSequences = context.configuration.maximumWindowSequences
        withDelivery(context: &context) { window, output in
            window.declareLost(before: trail, reason: reason, maximumSequences: maximumSequences, output)
        }
        pruneTimers()
    }

    /// Keeps the window within its byte and sequence limits by giving up on the oldest gaps.
    private mutating func enforceLimits(context: inout ReceiverContext) {
        let configuration = context.configuration
        // Within both limits (nearly always): nothing to give up, no delivery pass.
        guard window.heldBytes > configuration.maximumWindowBytes || window.count > configuration.maximumWindowSequences
        else {
            pruneTimers()
            return
        }
        withDelivery(context: &context) { window, output in
            window.enforceLimits(
                maximumBytes: configuration.maximumWindowBytes, maximumSequences: configuration.maximumWindowSequences,
                output)
        }
        pruneTimers()
    }

    // MARK: Delivery

    /// Delivers whole APDUs in order and reports lost runs as they reach the front (RFC 3208 §6.1: in order,
    /// contiguous only); then, once everything before OPT_FIN is out, the session's end.
    mutating func deliver(context: inout ReceiverContext) {
        withDelivery(context: &context) { window, output in window.deliver(output) }
    }

    /// Runs a change of the window, turning what leaves it into statistics, loss-rate samples and events, in the
    /// order it leaves.
    private mutating func withDelivery(
        context: inout ReceiverContext,
        _ change: (inout ReceiveWindow<Repair>, (ReceiveWindow<Repair>.Output) -> Void) -> Void
    ) {
        var sink = DeliverySink(
            tsi: tsi, finLead: finLead, resetCode: resetCode, closedReported: closedReported, loss: loss)
        change(&window) { sink.take($0, context: &context) }
        loss = sink.loss
        closedReported = sink.closedReported
    }

    /// Drops queued timers that no longer match their gap, so ``nextDeadline`` is rarely a spurious wake-up.
    /// Entries superseded deeper in the queue (a timer restarted by each of a flood of NCFs or NAKs) are
    /// dropped once they outnumber the window, which keeps the queue bounded.
    mutating func pruneTimers() {
        let window = self.window
        func isLive(_ timer: DeadlineQueue<SequenceTimerKey>.Entry) -> Bool {
            guard let index = window.index(of: timer.key.sequence), let repair = window.gap(at: index) else {
                return false
            }
            return repair.deadline == timer.deadline && repair.phase != .awaitingSPM
        }
        timers.compact(above: 2 * window.count + 1024, keeping: isLive)
        timers.dropStale(keeping: isLive)
    }
}
