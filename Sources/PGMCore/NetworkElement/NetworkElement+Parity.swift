public import PGMWire

/// On-demand parity in a network element (RFC 3208 Appendix A §11.6): parity NAKs, NCFs, NNAKs and RDATA keep
/// repair state per (TSI, TG_SQN) in ``ElementSession/parityRepairs``, each interface with its known packet count
/// (``RepairState/Requester/count``) and the state with the largest known count (``RepairState/largestCount``).
/// Proactive parity (ODATA with OPT_PARITY) needs none of this: it is switched like data.
///
/// Counts are kept 1-based (a parity NAK's low-order bits plus one, §11.3.1's "Nota Bene"): an interface whose
/// count falls to 0 (or to the TG size offset) has had every parity packet it asked for.
///
/// Where §11.6 is silent, the element does what it does for selective NAKs: the same NAK_RPT_RTE / NAK_RPT_IVL /
/// NAK_ELIM_IVL / NAK_RDATA_IVL timers, the session's repair-state cap (shared with selective state), the source's
/// window (a TG is repairable while its first or last sequence is in it), and DLR redirection (§9.5.3.2), to a DLR
/// only when its POLR carried OPT_PARITY (§11.7). Beyond the RFC: a parity RDATA arriving while the NAK is still
/// pending confirms it (the source evidently has it), so the element stops repeating.
///
/// Also beyond the RFC: parity RDATA as forwarded is kept (like selective repairs,
/// ``Configuration/repairCacheLifetime``), and a later parity NAK from another interface, once the group's state has
/// gone with the parity, is answered from those copies. §11.6 sends parity only where it was asked, so without
/// them each subnet's need for a group costs the source fresh parity of its own; any c parity packets of a group
/// repair any c losses in it, so copies that went elsewhere serve as well as new ones.
extension NetworkElement {
    // MARK: Inspection

    /// PARITY_PRM_TGS (k) of `tsi` as its SPMs gave it.
    public func parityGroupSize(of tsi: TSI) -> UInt32? { sessions[tsi]?.parityGroupSize }

    /// The parity repair state of transmission group `group` of `tsi`: its largest known packet count and each
    /// interface's known packet count, in the order they asked.
    public func parityRepair(
        _ tsi: TSI, group: SequenceNumber
    ) -> (largest: UInt32, interfaces: [InterfaceID], counts: [UInt32])? {
        sessions[tsi]?.parityRepairs[group].map {
            ($0.largestCount, $0.requesters.map(\.interface), $0.requesters.map(\.count))
        }
    }

    // MARK: SPM

    /// OPT_PARITY_PRM gives k, a power of two constant for the session (§11.2); OPT_CURR_TGSIZE on an SPM says the
    /// TG holding SPM_LEAD is that short (§11.4). A k that changes nonetheless makes the parity states' TG_SQNs
    /// meaningless: they are dropped.
    mutating func learnParity(_ spm: SPM, options: [Option], in session: inout ElementSession) {
        for option in options {
            guard case .parityParameters(_, let groupSize) = option.value else { continue }
            guard TransmissionGroups(size: Int(min(groupSize, 256))) != nil else {
                counters.parityOptionsIgnored += 1
                continue
            }
            if let known = session.parityGroupSize, known != groupSize {
                session.parityRepairs = RepairTable(capacity: session.parityRepairs.capacity)
                session.dropParityCopies()
                session.truncatedGroup = nil
            }
            session.parityGroupSize = groupSize
        }
        if let size = Self.currentGroupSize(in: options), let (group, _) = session.parityGroup(of: spm.lead) {
            noteTruncated(group, size: size, in: &session)
        }
    }

    static func currentGroupSize(in options: [Option]) -> UInt32? {
        for option in options {
            if case .currentGroupSize(let size) = option.value { return size }
        }
        return nil
    }

    /// OPT_CURR_TGSIZE: `group` holds only `size` data packets; its TG size offset is k − size (§11.6).
    private mutating func noteTruncated(_ group: SequenceNumber, size: UInt32, in session: inout ElementSession) {
        guard let k = session.parityGroupSize, (1...k).contains(size) else {
            counters.parityOptionsIgnored += 1
            return
        }
        session.truncatedGroup = (group, size)
        session.parityRepairs[group]?.groupOffset = k - size
    }

    /// The transmission groups a parity NAK, NCF or NNAK names (its sequence and OPT_NAK_LIST) with their counts
    /// (low-order bits + 1), each group once with its largest count, in order; groups outside the window left out.
    private func parityRequests(
        _ first: SequenceNumber, _ options: [Option], in session: ElementSession, windowed: Bool = true
    ) -> [(group: SequenceNumber, count: UInt32)] {
        var requests: [(group: SequenceNumber, count: UInt32)] = []
        for sequence in Self.sequences(first, options) {
            guard let (group, low) = session.parityGroup(of: sequence), !windowed || session.groupInWindow(group)
            else { continue }
            if let index = requests.firstIndex(where: { $0.group == group }) {
                requests[index].count = max(requests[index].count, low + 1)
            } else {
                requests.append((group, low + 1))
            }
        }
        return requests
    }

    /// A parity request's sequence: TG_SQN | (count − 1) (§11.3.1); `count` ≥ 1 and at most k here.
    private static func encode(_ group: SequenceNumber, count: UInt32) -> SequenceNumber {
        group &+ (count - 1)
    }

    // MARK: NAK

    /// A parity NAK from below, already checked like a selective one (session, port, interface, NAK_SRC/GRP).
    mutating func receiveParityNAK(_ nak: NAK, packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard session.parityGroupSize != nil else {
            counters.parityNAKsDropped += 1
            return
        }
        let requests = parityRequests(nak.sequence, packet.options, in: session)
        guard !requests.isEmpty else {
            counters.naksOutsideWindowDropped += 1
            return
        }
        let reportMoved = mergeCongestionReport(packet, arrival: arrival, in: &session)
        let fromRepairer = session.repairer?.address == arrival.source
        var accepted: [SequenceNumber] = []
        var confirmations: [SequenceNumber] = []
        var needsNCF = false
        var anyNotEliminated = false
        var leaveRepairer: [SequenceNumber] = []
        var resend: [Packet] = []
        var answeredLocally = 0
        for (group, count) in requests {
            // Only where no interface is waiting for the group's parity (that parity will serve this NAK too).
            let offset = session.parityRepairs[group]?.groupOffset ?? session.groupOffset(of: group)
            if session.parityRepairs[group]?.requesters.isEmpty ?? true, count > offset,
                let packets = session.parityResend(
                    group, count: Int(count - offset), on: arrival.interface, at: now, holdOff: configuration.ncfHoldOff
                )
            {
                resend += packets
                answeredLocally += 1
                confirmations.append(Self.encode(group, count: count))
                needsNCF = true
                continue
            }
            var repair: RepairState
            if let existing = session.parityRepairs[group] {
                repair = existing
                // An NNAK's state eliminates no real NAK (§9.5.3.2), nor does its count stand for one.
                if case .nullNAK = repair.phase { repair.largestCount = 0 }
                // §11.6: eliminate only within NAK_ELIM_IVL (or while pending) and for no more than the largest
                // known count.
                if !repair.eliminates(at: now) || count > repair.largestCount { anyNotEliminated = true }
            } else {
                guard !session.repairsFull else {
                    counters.repairStatesRejected += 1
                    continue
                }
                repair = RepairState(phase: .nullNAK(expires: now))
                repair.groupOffset = session.groupOffset(of: group)
                anyNotEliminated = true
            }
            let known = repair.addParity(arrival.interface, count: count)
            repair.largestCount = max(repair.largestCount, count)
            // The parity NCF: NCF_PKT_CNT = max(NAK_PKT_CNT, the interface's known count) (§11.6). A larger count
            // than the interface had is news there and is confirmed at once.
            confirmations.append(Self.encode(group, count: max(count, known)))
            if repair.admitNCF(on: arrival.interface, at: now, holdOff: configuration.ncfHoldOff) || count > known {
                needsNCF = true
            }
            if let repairer = session.repairer, arrival.interface == repairer.interface || fromRepairer {
                if !repair.avoidsRepairer {
                    repair.avoidsRepairer = true
                    counters.redirectionsAvoided += 1
                }
                if fromRepairer && repair.askedRepairer { leaveRepairer.append(group) }
            }
            session.parityRepairs[group] = repair
            accepted.append(group)
        }
        guard !accepted.isEmpty || answeredLocally > 0 else { return }
        if needsNCF {
            sendNCFs(session, confirmations, on: arrival.interface, parity: true)
        } else {
            counters.ncfsRateLimited += 1
        }
        // After the NCF, as selective copies go.
        for copy in resend {
            sendDownstream(copy, on: arrival.interface, session: session)
            counters.rdataCopiesSent += 1
            counters.parityRDATAResentFromCopies += 1
        }
        counters.parityNAKsAnsweredFromCopies += answeredLocally
        // As for selective NAKs: groups answered here go nowhere, even when the OPT_CR report moved.
        if accepted.isEmpty { return }
        if anyNotEliminated || reportMoved {
            if !anyNotEliminated { counters.naksForwardedForCongestionReport += 1 }
            // Like a selective NAK list (§9.3.3): all of it goes when any of it is not eliminated, each group with
            // the largest known count.
            forwardParity(&session, accepted)
        } else if !leaveRepairer.isEmpty {
            forwardParity(&session, leaveRepairer)
        } else {
            counters.naksEliminated += 1
            counters.parityNAKsEliminated += 1
            for group in accepted { armParityRepair(&session, group) }
        }
    }

    /// Sends parity NAKs for `groups` with their largest known counts, each to the session's DLR if it can repair
    /// with parity (§11.7) and may have the group (§9.5.3.2), else upstream, starting NAK_RPT_IVL where the state
    /// was not already pending towards that target.
    private mutating func forwardParity(_ session: inout ElementSession, _ groups: [SequenceNumber]) {
        var upstream: [SequenceNumber] = []
        var redirected: [SequenceNumber] = []
        for group in groups {
            guard var repair = session.parityRepairs[group], repair.largestCount > 0 else { continue }
            var target = RepairState.Target.upstream
            if let repairer = session.repairer, repairer.parityCapable, !repair.avoidsRepairer,
                !repair.holds(repairer.interface)
            {
                target = .repairer
            }
            if case .pending(let current, _, _) = repair.phase, current == target {
                // Already pending there: keep its NAK_RPT_IVL running.
            } else {
                repair.phase = .pending(
                    target: target, nextRepeat: now + configuration.nakRepeatPeriod,
                    giveUpAt: now + configuration.nakRepeatInterval)
            }
            repair.askedRepairer = target == .repairer
            session.parityRepairs[group] = repair
            let entry = Self.encode(group, count: repair.largestCount)
            if target == .upstream { upstream.append(entry) } else { redirected.append(entry) }
        }
        sendNAKs(&session, redirected, to: .repairer, parity: true)
        sendNAKs(&session, upstream, to: .upstream, parity: true)
        for group in groups { armParityRepair(&session, group) }
    }

    // MARK: NCF

    /// A parity NCF from upstream or the DLR (checked by the caller). It stops the repeats of a pending parity NAK
    /// only when its count covers the largest known count; a larger count raises that (partial anticipation); with
    /// no state, one from upstream anticipates NAKs up to its count (§11.6).
    mutating func receiveParityNCF(_ ncf: NAK, packet: Packet, fromUpstream: Bool, in session: inout ElementSession) {
        guard session.parityGroupSize != nil else {
            counters.parityNAKsDropped += 1
            return
        }
        var touched: [SequenceNumber] = []
        for (group, count) in parityRequests(ncf.sequence, packet.options, in: session, windowed: false) {
            if var repair = session.parityRepairs[group] {
                guard count >= repair.largestCount else { continue }
                repair.confirm(
                    at: now, elimination: configuration.nakEliminationInterval, rdata: configuration.nakRdataInterval)
                repair.largestCount = count
                session.parityRepairs[group] = repair
                touched.append(group)
            } else if fromUpstream && session.groupInWindow(group) && !session.repairsFull {
                var repair = RepairState(phase: .nullNAK(expires: now))
                repair.confirm(
                    at: now, elimination: configuration.nakEliminationInterval, rdata: configuration.nakRdataInterval)
                repair.largestCount = count
                repair.groupOffset = session.groupOffset(of: group)
                session.parityRepairs[group] = repair
                counters.ncfsAnticipated += 1
                touched.append(group)
            }
        }
        for group in touched { armParityRepair(&session, group) }
    }

    // MARK: RDATA

    /// An on-demand parity packet from upstream or the DLR (checked by the caller): forwarded on every interface
    /// of its group's state, whose counts each drop by one; interfaces at 0 (or at the TG size offset, learned
    /// from OPT_CURR_TGSIZE) leave, and the state goes with its last interface (§11.6). Without state: discarded.
    /// Returns the packet as forwarded, where to, and its group and parity index, to be kept for late NAKs.
    mutating func forwardParityRDATA(
        _ data: DataPacket, packet: Packet, arrival: Arrival, fromUpstream: Bool, in session: inout ElementSession
    ) -> ForwardedRepair? {
        guard let (group, _) = session.parityGroup(of: data.sequence), let groups = session.transmissionGroups else {
            discardParityRDATA()
            return nil
        }
        if let size = Self.currentGroupSize(in: packet.options) { noteTruncated(group, size: size, in: &session) }
        guard var repair = session.parityRepairs[group] else {
            discardParityRDATA()
            return nil
        }
        let hadInterfaces = !repair.requesters.isEmpty
        var targets = repair.passParity()
        if fromUpstream { targets.removeAll { $0 == arrival.interface } }
        if case .pending = repair.phase {
            repair.confirm(
                at: now, elimination: configuration.nakEliminationInterval, rdata: configuration.nakRdataInterval)
        }
        // Anticipated state (no interfaces) lives on while its count still eliminates NAKs.
        if repair.requesters.isEmpty && (hadInterfaces || repair.largestCount <= repair.groupOffset) {
            session.parityRepairs[group] = nil
        } else {
            session.parityRepairs[group] = repair
            armParityRepair(&session, group)
        }
        guard !targets.isEmpty else {
            discardParityRDATA()
            return nil
        }
        guard let copy = fanOutRDATA(packet, to: targets, payloadBytes: data.payload.count, session: session) else {
            return nil
        }
        counters.parityRDATAForwarded += 1
        let index = groups.parityIndex(sequence: data.sequence, parityGroup: Self.parityGroupNumber(in: packet.options))
        return ForwardedRepair(packet: copy, interfaces: targets, parity: (group, index))
    }

    /// OPT_PARITY_GRP: the parity group number of a parity packet beyond the first k (§11.2).
    private static func parityGroupNumber(in options: [Option]) -> UInt32? {
        for option in options {
            if case .parityGroup(let number) = option.value { return number }
        }
        return nil
    }

    private mutating func discardParityRDATA() { counters.parityRDATADiscarded += 1 }

    // MARK: NNAK

    /// A parity NNAK (checked by the caller like a selective one): eliminated only where existing state has a
    /// larger count than the NNAK's (§11.6); the DLR's own always go up, as selective ones do (§9.5.3.2).
    mutating func receiveParityNNAK(_ nak: NAK, packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard session.parityGroupSize != nil else {
            counters.parityNAKsDropped += 1
            return
        }
        let requests = parityRequests(nak.sequence, packet.options, in: session)
        guard !requests.isEmpty else {
            counters.nnaksDropped += 1
            return
        }
        var forward = session.repairer?.address == arrival.source
        for (group, count) in requests {
            if var existing = session.parityRepairs[group] {
                guard existing.largestCount <= count else { continue }
                if case .nullNAK = existing.phase {
                    existing.largestCount = count
                    session.parityRepairs[group] = existing
                }
                forward = true
                continue
            }
            guard !session.repairsFull else {
                counters.repairStatesRejected += 1
                continue
            }
            var repair = RepairState(phase: .nullNAK(expires: now + configuration.nakEliminationInterval))
            repair.largestCount = count
            repair.groupOffset = session.groupOffset(of: group)
            session.parityRepairs[group] = repair
            armParityRepair(&session, group)
            forward = true
        }
        guard forward else {
            counters.nnaksEliminated += 1
            return
        }
        sendNNAKs(session, requests.map { Self.encode($0.group, count: $0.count) }, parity: true)
    }

    // MARK: Timers

    /// NAK_RPT_RTE repeats and NAK_RPT_IVL give-up of a pending parity NAK (a silent DLR is dropped and the group
    /// goes upstream, §9.5.3.2), NAK_RDATA_IVL expiry of a confirmed one, expiry of an NNAK's state.
    mutating func runParityTimer(_ tsi: TSI, _ group: SequenceNumber) {
        withSession(tsi) { $0.runParityTimer(group, in: &$1) }
    }

    private mutating func runParityTimer(_ group: SequenceNumber, in session: inout ElementSession) {
        guard var repair = session.parityRepairs[group] else { return }
        switch repair.phase {
        case .detected:
            session.parityRepairs[group] = nil
            return
        case .pending(let target, let nextRepeat, let giveUpAt):
            var sendTo: RepairState.Target?
            if now >= giveUpAt {
                guard target == .repairer else {
                    session.parityRepairs[group] = nil
                    counters.nakForwardingTimeouts += 1
                    return
                }
                if let repairer = session.repairer {
                    session.repairer = nil
                    counters.repairerFallbacks += 1
                    push(.repairerDropped(session.tsi, address: repairer.address))
                }
                repair.phase = .pending(
                    target: .upstream, nextRepeat: now + configuration.nakRepeatPeriod,
                    giveUpAt: now + configuration.nakRepeatInterval)
                repair.askedRepairer = false
                sendTo = .upstream
            } else if now >= nextRepeat {
                repair.phase = .pending(
                    target: target, nextRepeat: now + configuration.nakRepeatPeriod, giveUpAt: giveUpAt)
                sendTo = target
                counters.nakRepeats += 1
            }
            session.parityRepairs[group] = repair
            if let sendTo, repair.largestCount > 0 {
                sendNAKs(&session, [Self.encode(group, count: repair.largestCount)], to: sendTo, parity: true)
            }
        case .outstanding(_, let rdataDeadline):
            if now >= rdataDeadline {
                session.parityRepairs[group] = nil
                counters.repairStatesExpired += 1
                return
            }
        case .nullNAK(let expires):
            if now >= expires {
                session.parityRepairs[group] = nil
                return
            }
        }
        armParityRepair(&session, group)
    }
}
