import PGMWire

/// NAK confirmation, forwarding and elimination, NAK anticipation, constrained RDATA forwarding and NNAKs
/// (RFC 3208 §7.2 to §7.8, §9.5.3.2).
extension NetworkElement {
    // MARK: NAK

    mutating func receiveNAK(_ nak: NAK, packet: Packet, arrival: Arrival) {
        counters.naksReceived += 1
        let known: Void? = withSession(packet.tsi) { $0.receiveNAK(nak, packet: packet, arrival: arrival, in: &$1) }
        if known == nil { counters.naksWithoutSessionDropped += 1 }
    }

    private mutating func receiveNAK(_ nak: NAK, packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard packet.dataDestinationPort == session.dataDestinationPort else {
            counters.foreignPacketsDropped += 1
            return
        }
        // §7.7: NAKs come unicast to this element from below; one arriving from upstream or addressed elsewhere
        // is not ours to confirm.
        guard arrival.interface != session.upstream, arrival.destination == addresses[arrival.interface] else {
            counters.naksMisroutedDropped += 1
            return
        }
        guard namesSource(nak.source, of: session, arrival: arrival), nak.group == session.group else {
            counters.naksMisaddressedDropped += 1
            return
        }
        if packet.flags.contains(.parity) {
            receiveParityNAK(nak, packet: packet, arrival: arrival, in: &session)
            return
        }
        // The source's advertised window bounds what a NAK may create state for (§10); a NAK naming nothing in it
        // is dropped unconfirmed, which keeps a flood of made-up sequences from costing NCFs.
        let requested = Self.sequences(nak.sequence, packet.options).filter { session.inWindow($0) }
        guard !requested.isEmpty else {
            counters.naksOutsideWindowDropped += 1
            return
        }
        let reportMoved = mergeCongestionReport(packet, arrival: arrival, in: &session)
        let fromRepairer = session.repairer?.address == arrival.source
        var accepted: [SequenceNumber] = []
        var answeredLocally: [SequenceNumber] = []
        var resend: [Packet] = []
        var needsNCF = false
        var anyNotEliminated = false
        var leaveRepairer: [SequenceNumber] = []
        for sequence in requested {
            if session.repairs[sequence] == nil, var copy = session.repairCopy(sequence, at: now) {
                // The repair passed before this NAK came: answer it here rather than send the sequence upstream
                // again (``Configuration/repairCacheLifetime``), at most once per NCF hold-off per interface.
                if copy.admitResend(on: arrival.interface, at: now, holdOff: configuration.ncfHoldOff) {
                    session.repairCopies[sequence] = copy
                    resend.append(copy.packet)
                }
                answeredLocally.append(sequence)
                needsNCF = true
                continue
            }
            var repair: RepairState
            if let existing = session.repairs[sequence] {
                repair = existing
                if !repair.eliminates(at: now) { anyNotEliminated = true }
            } else {
                guard !session.repairsFull else {
                    counters.repairStatesRejected += 1
                    continue
                }
                // Replaced by `.pending` below: a new sequence is never eliminated.
                repair = RepairState(phase: .nullNAK(expires: now))
                anyNotEliminated = true
            }
            if repair.add(arrival.interface), let tuning = configuration.backoffTuning,
                session.widenBackoff(on: arrival.interface, tuning: tuning, floor: backoffFloor)
            {
                counters.nakBackoffIncreases += 1
            }
            // §9.5.3.2: no sequence to a DLR whose interface asked for it; a NAK from the DLR itself ends
            // redirection for that sequence at once.
            if let repairer = session.repairer, arrival.interface == repairer.interface || fromRepairer {
                if !repair.avoidsRepairer {
                    repair.avoidsRepairer = true
                    counters.redirectionsAvoided += 1
                }
                if fromRepairer && repair.askedRepairer { leaveRepairer.append(sequence) }
            }
            if repair.admitNCF(on: arrival.interface, at: now, holdOff: configuration.ncfHoldOff) { needsNCF = true }
            session.repairs[sequence] = repair
            accepted.append(sequence)
        }
        guard !accepted.isEmpty || !answeredLocally.isEmpty else { return }
        // §7.2, §9.3.3: an NCF identical to the NAK (its whole list) at once, multicast on the NAK's interface,
        // before anything goes upstream; only NCFs for sequences all confirmed there within ncfHoldOff are held
        // back (the storm counter-measure §7.2 suggests).
        if needsNCF {
            sendNCFEcho(session, nak.sequence, packet.options, on: arrival.interface)
        } else {
            counters.ncfsRateLimited += 1
        }
        for copy in resend {
            sendDownstream(copy, on: arrival.interface, session: session)
            counters.rdataCopiesSent += 1
            counters.repairsResentFromCopies += 1
        }
        counters.nakSequencesAnsweredFromCopies += answeredLocally.count
        // A NAK answered entirely from kept repairs goes nowhere, even when its OPT_CR report moved: forwarding it
        // would draw the repair again; the report rides on the next NAK that goes up.
        if anyNotEliminated || (reportMoved && !accepted.isEmpty) {
            if !anyNotEliminated { counters.naksForwardedForCongestionReport += 1 }
            // §9.3.3: a NAK list goes whole, as it came, when any of it is not under elimination.
            forward(&session, accepted, intact: packet, except: arrival.interface)
        } else if !leaveRepairer.isEmpty {
            forward(&session, leaveRepairer, except: arrival.interface)
        } else {
            counters.naksEliminated += 1
            for sequence in accepted { armRepair(&session, sequence) }
        }
    }

    /// Merges a NAK's OPT_CR into the session's report (Appendix B). Returns whether the report moved by more than
    /// 5 %, which makes a NAK go up even when elimination would drop it.
    mutating func mergeCongestionReport(_ packet: Packet, arrival: Arrival, in session: inout ElementSession) -> Bool {
        guard let report = Self.congestionReport(in: packet.options) else { return false }
        return session.congestion.merge(
            report, reference: session.lead, arrivalLoad: interfaceLoads[arrival.interface] ?? 0,
            worstOutgoingLoad: worstOutgoingLoad(excluding: session.upstream))
    }

    /// Sends `sequences` on to the DLR or upstream, each to where its state says (§9.5.3.2), starting
    /// NAK_RPT_IVL for the ones not already pending towards that target. With `intact`, a NAK from below whose
    /// sequences all go one way is forwarded as it came (its list and options; OPT_CR replaced by the session's
    /// report, §9.3.3 and Appendix B); otherwise NAKs are built from the sequences. Losses the element detected
    /// itself get their downstream NCFs now, except on `except` (the interface whose NAK gets its own NCF).
    mutating func forward(
        _ session: inout ElementSession, _ sequences: [SequenceNumber], intact: Packet? = nil,
        except: InterfaceID? = nil
    ) {
        var upstream: [SequenceNumber] = []
        var redirected: [SequenceNumber] = []
        var detected: [SequenceNumber] = []
        let retryWait = repairRetryWait(session)
        for sequence in sequences {
            guard var repair = session.repairs[sequence] else { continue }
            var target = RepairState.Target.upstream
            if let repairer = session.repairer, !repair.avoidsRepairer, !repair.holds(repairer.interface) {
                target = .repairer
            }
            if case .pending(let current, _, _) = repair.phase, current == target {
                // Already pending there: keep its NAK_RPT_IVL running.
            } else {
                // A repair asked for again gives up with the rest of its NAK_RDATA_IVL.
                let giveUpAt = repair.retryAnchor.map {
                    min($0 + configuration.nakRdataInterval, now + configuration.nakRepeatInterval)
                }
                repair.phase = .pending(
                    target: target, nextRepeat: now + repeatPeriod(repair, retryWait),
                    giveUpAt: giveUpAt ?? now + configuration.nakRepeatInterval)
            }
            if repair.firstRequestAt == nil { repair.firstRequestAt = now } else { repair.requestRepeated = true }
            repair.lastRequestAt = now
            repair.askedRepairer = target == .repairer
            if repair.confirmsDownstream { detected.append(sequence) }
            session.repairs[sequence] = repair
            if target == .upstream { upstream.append(sequence) } else { redirected.append(sequence) }
        }
        if let intact, redirected.isEmpty != upstream.isEmpty {
            // All of it one way.
            sendIntact(&session, intact, to: upstream.isEmpty ? .repairer : .upstream)
        } else {
            sendNAKs(&session, redirected, to: .repairer)
            sendNAKs(&session, upstream, to: .upstream)
        }
        // A NAK's own interface has its NCF already; the other interfaces detection added get theirs.
        confirmDownstream(&session, detected, except: except)
        for sequence in sequences { armRepair(&session, sequence) }
    }

    /// A NAK from below sent on as it came (§9.3.3 "forwarded intact"): NAK_SRC as the element knows the source
    /// (UDP encapsulation aliases it, see ``namesSource(_:of:arrival:)``), unknown options by their OPX bits,
    /// OPT_CR replaced by the session's worst report (Appendix B), everything else untouched.
    private mutating func sendIntact(_ session: inout ElementSession, _ packet: Packet, to target: RepairState.Target) {
        guard case .nak(let nak) = packet.body, var options = forwardableOptions(packet.options) else { return }
        let report = session.congestion.current
        options.removeAll { if case .congestionReport = $0.value { true } else { false } }
        if let report, options.count < Option.maximumCount { options.append(Option(.congestionReport(report))) }
        var copy = packet
        copy.body = .nak(NAK(sequence: nak.sequence, source: session.source, group: nak.group))
        copy.options = options
        copy.flags = copy.flags.subtracting(.network).union(.required(by: options))
        guard let (address, interface) = destination(of: session, target) else { return }
        outbound.append(Transmit(packet: copy, destination: .unicast(address), interface: interface))
        counters.naksForwarded += 1
        counters.nakSequencesForwarded += Self.sequences(nak.sequence, packet.options).count
        if target == .repairer { counters.naksRedirected += 1 }
        if report != nil { session.congestion.markSent() }
    }

    /// Where NAKs for `target` go; none upstream while the parent said it cannot reach us (OPT_NBR_UNREACH, RFC 3208
    /// §15.3.2: "stop forwarding NAKs for the TSI until [...] a regular SPM").
    func destination(of session: ElementSession, _ target: RepairState.Target) -> (NLA, InterfaceID)? {
        switch target {
        case .upstream: session.neighborUnreachable ? nil : (session.neighbor, session.upstream)
        case .repairer: session.repairer.map { ($0.address, $0.interface) }
        }
    }

    /// NAKs unicast to the upstream neighbour on the upstream interface (§7.7), or to the DLR, batched with
    /// OPT_NAK_LIST, carrying the session's OPT_CR report when it has one (Appendix B). `parity`: parity NAKs
    /// (OPT_PARITY, each sequence TG_SQN | (count − 1), §11.6).
    mutating func sendNAKs(
        _ session: inout ElementSession, _ sequences: [SequenceNumber], to target: RepairState.Target,
        parity: Bool = false
    ) {
        guard !sequences.isEmpty, let (address, interface) = destination(of: session, target) else { return }
        let tsi = session.tsi
        let report = session.congestion.current
        var start = 0
        while start < sequences.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, sequences.count)
            var options: [Option] = []
            if end - start > 1 { options.append(Option(.nakList(Array(sequences[(start + 1)..<end])))) }
            if let report { options.append(Option(.congestionReport(report))) }
            let packet = Packet(
                tsi: tsi, dataDestinationPort: session.dataDestinationPort,
                flags: .required(by: options).union(parity ? .parity : []),
                body: .nak(NAK(sequence: sequences[start], source: session.source, group: session.group)),
                options: options)
            outbound.append(Transmit(packet: packet, destination: .unicast(address), interface: interface))
            counters.naksForwarded += 1
            counters.nakSequencesForwarded += end - start
            if parity { counters.parityNAKsForwarded += 1 }
            if target == .repairer { counters.naksRedirected += 1 }
            start = end
        }
        if report != nil { session.congestion.markSent() }
    }

    /// An NCF identical to a NAK from below (§9.3.3): its sequence and whole OPT_NAK_LIST, with the source's
    /// address and the interface's NAK_BO_IVL.
    private mutating func sendNCFEcho(
        _ session: ElementSession, _ sequence: SequenceNumber, _ nakOptions: [Option], on interface: InterfaceID
    ) {
        var options = nakOptions.filter { if case .nakList = $0.value { true } else { false } }
        if let tuning = configuration.backoffTuning {
            options.append(NAKBackoffTuning.option(session.backoff(on: interface, tuning: tuning, floor: backoffFloor)))
        }
        let packet = Packet(
            tsi: session.tsi, dataDestinationPort: session.dataDestinationPort, flags: .required(by: options),
            body: .ncf(NAK(sequence: sequence, source: session.source, group: session.group)), options: options)
        sendDownstream(packet, on: interface, session: session)
        counters.ncfsSent += 1
    }

    /// NCFs for `sequences` multicast on `interface` with the source's address and Router Alert (§7.2), the
    /// list in OPT_NAK_LIST (§9.3), for the element's own confirmations (losses it detected). `parity`: parity
    /// NCFs (OPT_PARITY, each sequence TG_SQN | (count − 1), §11.6).
    mutating func sendNCFs(
        _ session: ElementSession, _ sequences: [SequenceNumber], on interface: InterfaceID, parity: Bool = false
    ) {
        let tsi = session.tsi
        var start = 0
        while start < sequences.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, sequences.count)
            var options = end - start > 1 ? [Option(.nakList(Array(sequences[(start + 1)..<end])))] : []
            if let tuning = configuration.backoffTuning {
                let interval = session.backoff(on: interface, tuning: tuning, floor: backoffFloor)
                options.append(NAKBackoffTuning.option(interval))
            }
            let packet = Packet(
                tsi: tsi, dataDestinationPort: session.dataDestinationPort,
                flags: .required(by: options).union(parity ? .parity : []),
                body: .ncf(NAK(sequence: sequences[start], source: session.source, group: session.group)),
                options: options)
            sendDownstream(packet, on: interface, session: session)
            counters.ncfsSent += 1
            if parity { counters.parityNCFsSent += 1 }
            start = end
        }
    }

    /// The wait for a confirmed repair's RDATA: the retry timeout doubled per retry, never past NAK_RDATA_IVL.
    func overdue(_ repair: RepairState, _ retryWait: Duration) -> Duration {
        min(retryWait * (1 << min(repair.retries, 16)), configuration.nakRdataInterval)
    }

    /// Repeats of an unconfirmed NAK: NAK_RPT_RTE (§7.3), or for a loss the element detected itself the retry
    /// timeout, doubled per repeat and at most NAK_RPT_RTE's period.
    func repeatPeriod(_ repair: RepairState, _ retryWait: Duration) -> Duration {
        guard repair.detectedAt != nil else { return configuration.nakRepeatPeriod }
        return min(retryWait * (1 << min(repair.retries, 16)), configuration.nakRepeatPeriod)
    }

    /// The repair round-trip timeout: how long after asking (or after an NCF) the element waits for RDATA before
    /// asking again (``Configuration/repairRetryMinimum``).
    /// A slow source (OpenPGM answers NAKs only between its sends) raises it up to NAK_RDATA_IVL.
    func repairRetryWait(_ session: ElementSession) -> Duration {
        let ceiling = max(configuration.repairRetryMinimum, configuration.nakRdataInterval)
        return session.repairRoundTrip.timeout(
            within: configuration.repairRetryMinimum...ceiling, fallback: configuration.nakRepeatPeriod)
    }

    /// Whether a NAK_SRC names the session's data source. Native PGM keeps the source's address end to end
    /// (the element forwards with it), but UDP encapsulation cannot: what the element forwards carries its own
    /// address, so hosts below name the element itself as NAK_SRC, and NCFs from an element above name the
    /// source as that element knows it. Both are aliases of the one source; the element always forwards the
    /// source as it knows it (``ElementSession/source``).
    func namesSource(_ nla: NLA, of session: ElementSession, arrival: Arrival) -> Bool {
        nla == session.source || nla == addresses[arrival.interface] || arrival.interface == session.upstream
    }

    // MARK: NCF (§7.3, §7.5)

    mutating func receiveNCF(_ ncf: NAK, packet: Packet, arrival: Arrival) {
        counters.ncfsReceived += 1
        let known: Void? = withSession(packet.tsi) { $0.receiveNCF(ncf, packet: packet, arrival: arrival, in: &$1) }
        if known == nil { counters.ncfsMisaddressedDropped += 1 }
    }

    private mutating func receiveNCF(_ ncf: NAK, packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard packet.dataDestinationPort == session.dataDestinationPort,
            namesSource(ncf.source, of: session, arrival: arrival), ncf.group == session.group
        else {
            counters.ncfsMisaddressedDropped += 1
            return
        }
        // From the session's path, or from its DLR (§9.5.2.2); anything else is a stranger's (§10).
        guard !offPath(&session, arrival, also: session.repairer?.address) else { return }
        let fromUpstream = arrival.interface == session.upstream
        // An off-tree DLR confirms with a unicast NCF from its own address (§9.5.2.2).
        let fromRepairer =
            session.repairer?.address == arrival.source
            && arrival.destination == addresses[arrival.interface]
        guard fromUpstream || fromRepairer else {
            counters.ncfsFromDownstreamDropped += 1
            return
        }
        if packet.flags.contains(.parity) {
            receiveParityNCF(ncf, packet: packet, fromUpstream: fromUpstream, in: &session)
            return
        }
        var touched: [SequenceNumber] = []
        var detected: [SequenceNumber] = []
        let retryWait = repairRetryWait(session)
        for sequence in Self.sequences(ncf.sequence, packet.options) {
            if var repair = session.repairs[sequence] {
                // The source sends RDATA right behind its NCF: one overdue by the repair round-trip timeout was
                // lost above us and is asked for again (``Configuration/repairRetryMinimum``). A DLR's repairs wait
                // NAK_RDATA_IVL (§9.5.3.2).
                repair.confirm(
                    at: now, elimination: configuration.nakEliminationInterval,
                    rdata: repair.askedRepairer ? configuration.nakRdataInterval : overdue(repair, retryWait))
                if repair.retryAnchor == nil { repair.retryAnchor = now }
                repair.confirmedAt = now
                session.confirmations += 1
                repair.confirmation = session.confirmations
                if repair.confirmsDownstream { detected.append(sequence) }
                session.repairs[sequence] = repair
                touched.append(sequence)
            } else if fromUpstream && session.inWindow(sequence) && !session.repairsFull {
                // Anticipation: state without interfaces, so NAKs from below are eliminated for NAK_ELIM_IVL.
                var repair = RepairState(phase: .nullNAK(expires: now))
                repair.confirm(
                    at: now, elimination: configuration.nakEliminationInterval, rdata: configuration.nakRdataInterval)
                session.repairs[sequence] = repair
                counters.ncfsAnticipated += 1
                touched.append(sequence)
            }
        }
        confirmDownstream(&session, detected)
        for sequence in touched { armRepair(&session, sequence) }
    }

    // MARK: RDATA (§7.8)

    mutating func receiveRDATA(_ data: DataPacket, packet: Packet, arrival: Arrival) {
        switch withSession(packet.tsi, { $0.receiveRDATA(data, packet: packet, arrival: arrival, in: &$1) }) {
        case nil:
            counters.rdataMisroutedDropped += 1
        case let forwarded??:
            keepRepairCopy(
                forwarded.packet, of: data.sequence, parity: forwarded.parity, sentTo: forwarded.interfaces,
                in: packet.tsi)
        case .some(nil):
            break
        }
    }

    /// Forwards an RDATA to the interfaces that asked for it and ends its repair state (§7.8). Returns the RDATA as
    /// forwarded, and where to, when it went anywhere (for parity RDATA, also its TG_SQN and parity index).
    private mutating func receiveRDATA(
        _ data: DataPacket, packet: Packet, arrival: Arrival, in session: inout ElementSession
    ) -> ForwardedRepair? {
        guard packet.dataDestinationPort == session.dataDestinationPort else {
            counters.rdataMisroutedDropped += 1
            return nil
        }
        guard !offPath(&session, arrival, also: session.repairer?.address) else { return nil }
        let fromUpstream = arrival.interface == session.upstream
        // An off-tree DLR unicasts RDATA to the element (§9.5.2.2); anything else from below is not a repair.
        let fromRepairer =
            !fromUpstream && session.repairer?.address == arrival.source
            && arrival.destination == addresses[arrival.interface]
        guard fromUpstream || fromRepairer else {
            counters.rdataMisroutedDropped += 1
            return nil
        }
        if fromUpstream {
            session.lastHeard = now
            session.lastUpstreamRDATA = now
            // A parity RDATA's SQN is TG_SQN | parity index, no data sequence: it advertises no lead.
            if data.trail.precedesOrEquals(data.sequence) && !packet.flags.contains(.parity) {
                session.advertise(trail: data.trail, lead: data.sequence)
            }
        }
        if packet.flags.contains(.parity) {
            return forwardParityRDATA(
                data, packet: packet, arrival: arrival, fromUpstream: fromUpstream, in: &session)
        }
        guard let repair = session.repairs.removeValue(forKey: data.sequence) else {
            counters.rdataWithoutRepairStateDropped += 1
            return nil
        }
        measureBackoff(repair, in: &session)
        if fromUpstream { session.answeredConfirmation = max(session.answeredConfirmation, repair.confirmation) }
        if let asked = repair.firstRequestAt {
            // Karn's rule, except for an answer too quick for the last request: it answers the first.
            let tooQuick = repair.lastRequestAt.map { last in
                session.repairRoundTrip.minimum.map { now - last < $0 } ?? false
            }
            if !repair.requestRepeated || tooQuick == true { session.repairRoundTrip.record(now - asked) }
        }
        let targets = repair.requesters.map(\.interface).filter { !(fromUpstream && $0 == arrival.interface) }
        guard !targets.isEmpty else {
            counters.rdataWithoutRepairStateDropped += 1
            return nil
        }
        guard let copy = fanOutRDATA(packet, to: targets, payloadBytes: data.payload.count, session: session) else {
            return nil
        }
        return ForwardedRepair(packet: copy, interfaces: targets)
    }

    /// An RDATA as forwarded and where it went; `parity` names a parity RDATA's TG_SQN and parity index.
    struct ForwardedRepair {
        var packet: Packet
        var interfaces: [InterfaceID]
        var parity: (group: SequenceNumber, index: Int)? = nil
    }

    /// Keeps a forwarded RDATA for late NAKs, within the per-session and element-wide limits; when the element is
    /// full, expired copies of every session are swept first, and if it is still full this one is not kept.
    /// Selective and parity copies share the element-wide limit; each kind has the per-session one to itself, so
    /// that a stream of parity never evicts the selective copies (nor the reverse), and a group keeps at most k
    /// parity copies.
    private mutating func keepRepairCopy(
        _ packet: Packet, of sequence: SequenceNumber, parity: (group: SequenceNumber, index: Int)?,
        sentTo interfaces: [InterfaceID], in tsi: TSI
    ) {
        if repairCopyCount >= configuration.maximumRepairCopies {
            for other in Array(sessions.keys) {
                withSession(other) { element, session in
                    session.pruneRepairCopies(at: element.now)
                    session.pruneParityCopies(at: element.now)
                }
            }
        }
        withSession(tsi) { element, session in
            // A session may always replace its own oldest copies; it grows only while the element has room.
            let room = max(0, element.configuration.maximumRepairCopies - element.repairCopyCount)
            let held = parity == nil ? session.repairCopies.count : session.parityCopyCount
            let capacity = min(element.configuration.maximumRepairCopiesPerSession, held + room)
            guard capacity > 0 else {
                element.counters.repairCopiesRefused += 1
                return
            }
            let expires = element.now + element.repairCopyLifetime(session)
            if let parity {
                session.keepParityCopy(
                    packet, group: parity.group, index: parity.index, interfaces: interfaces, expires: expires,
                    now: element.now, capacity: capacity, perGroup: Int(session.parityGroupSize ?? 0))
            } else {
                session.keepRepairCopy(
                    packet, sequence: sequence, interfaces: interfaces, expires: expires, now: element.now,
                    capacity: capacity)
            }
        }
    }

    /// ``Configuration/repairCacheLifetime``, or what it derives from: receivers below may still NAK for as long
    /// as the largest NAK_BO_IVL advertised to them (twice that for margin), and a receiver whose copy was lost
    /// asks again after its NAK_RDATA_IVL (pgm-recv: 250 ms; OpenPGM's examples: 2 s): half of ours.
    func repairCopyLifetime(_ session: ElementSession) -> Duration {
        if let lifetime = configuration.repairCacheLifetime { return lifetime }
        let tuning = configuration.backoffTuning ?? NAKBackoffTuning()
        let backoff = session.largestBackoff(on: downstreamInterfaces(of: session), tuning: tuning, floor: backoffFloor)
        return max(configuration.nakEliminationInterval, backoff * 2, configuration.nakRdataInterval / 2)
    }

    // MARK: NNAK (§9.5.3.2)

    mutating func receiveNNAK(_ nak: NAK, packet: Packet, arrival: Arrival) {
        counters.nnaksReceived += 1
        let known: Void? = withSession(packet.tsi) { $0.receiveNNAK(nak, packet: packet, arrival: arrival, in: &$1) }
        if known == nil { counters.nnaksDropped += 1 }
    }

    private mutating func receiveNNAK(_ nak: NAK, packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard packet.dataDestinationPort == session.dataDestinationPort,
            arrival.interface != session.upstream, arrival.destination == addresses[arrival.interface],
            namesSource(nak.source, of: session, arrival: arrival), nak.group == session.group
        else {
            counters.nnaksDropped += 1
            return
        }
        if packet.flags.contains(.parity) {
            receiveParityNNAK(nak, packet: packet, arrival: arrival, in: &session)
            return
        }
        let requested = Self.sequences(nak.sequence, packet.options).filter { session.inWindow($0) }
        guard !requested.isEmpty else {
            counters.nnaksDropped += 1
            return
        }
        // The DLR's NNAKs for repairs asked of it always go up (they precede its RDATA); others only where no
        // repair state exists, and the state they create must not eliminate a later real NAK.
        var forward = session.repairer?.address == arrival.source
        var created: [SequenceNumber] = []
        for sequence in requested where session.repairs[sequence] == nil {
            guard !session.repairsFull else {
                counters.repairStatesRejected += 1
                continue
            }
            let expires = now + configuration.nakEliminationInterval
            session.repairs[sequence] = RepairState(phase: .nullNAK(expires: expires))
            created.append(sequence)
            forward = true
        }
        for sequence in created { armRepair(&session, sequence) }
        guard forward else {
            counters.nnaksEliminated += 1
            return
        }
        sendNNAKs(session, requested)
    }

    /// NNAKs unicast to the upstream neighbour, batched with OPT_NAK_LIST; `parity`: parity NNAKs (§11.6).
    mutating func sendNNAKs(_ session: ElementSession, _ sequences: [SequenceNumber], parity: Bool = false) {
        var start = 0
        while start < sequences.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, sequences.count)
            let options = end - start > 1 ? [Option(.nakList(Array(sequences[(start + 1)..<end])))] : []
            let packet = Packet(
                tsi: session.tsi, dataDestinationPort: session.dataDestinationPort,
                flags: .required(by: options).union(parity ? .parity : []),
                body: .nnak(NAK(sequence: sequences[start], source: session.source, group: session.group)),
                options: options)
            outbound.append(
                Transmit(packet: packet, destination: .unicast(session.neighbor), interface: session.upstream))
            counters.nnaksForwarded += 1
            start = end
        }
    }

    // MARK: Repair timers

    /// Repeats pending NAKs at NAK_RPT_RTE, cancels forwarding after NAK_RPT_IVL, gives up a silent DLR, and
    /// drops confirmed state after NAK_RDATA_IVL (§7.3, §9.5.3.2).
    mutating func runRepairTimers(_ tsi: TSI, _ sequences: [SequenceNumber]) {
        withSession(tsi) { $0.runRepairTimers(sequences, in: &$1) }
    }

    private mutating func runRepairTimers(_ sequences: [SequenceNumber], in session: inout ElementSession) {
        let tsi = session.tsi
        var repeatUpstream: [SequenceNumber] = []
        var repeatRepairer: [SequenceNumber] = []
        var reforward: [SequenceNumber] = []
        var ownRequests: [SequenceNumber] = []
        var repairerSilent = false
        let retryWait = repairRetryWait(session)
        for sequence in sequences {
            guard var repair = session.repairs[sequence] else { continue }
            switch repair.phase {
            case .detected(let due):
                if now >= due { ownRequests.append(sequence) }
            case .pending(let target, let nextRepeat, let giveUpAt):
                if now >= giveUpAt {
                    switch target {
                    case .upstream:
                        session.repairs[sequence] = nil
                        counters.nakForwardingTimeouts += 1
                        measureBackoff(repair, in: &session)
                    case .repairer:
                        repairerSilent = true
                        reforward.append(sequence)
                    }
                    continue
                }
                if now >= nextRepeat {
                    if repair.detectedAt != nil { repair.retries += 1 }
                    repair.phase = .pending(
                        target: target, nextRepeat: now + repeatPeriod(repair, retryWait), giveUpAt: giveUpAt)
                    repair.requestRepeated = true
                    repair.lastRequestAt = now
                    if target == .upstream { repeatUpstream.append(sequence) } else { repeatRepairer.append(sequence) }
                }
            case .outstanding(let eliminateUntil, let rdataDeadline):
                if now >= rdataDeadline, !repair.askedRepairer, let confirmed = repair.confirmedAt,
                    let last = session.lastUpstreamRDATA, last >= confirmed, now < last + retryWait,
                    session.answeredConfirmation < repair.confirmation,
                    repair.retryAnchor.map({ now < $0 + configuration.nakRdataInterval }) == true
                {
                    // Repairs confirmed before this one are still coming: it is queued behind them at the source's
                    // rate, not lost. Wait a retry timeout past the latest.
                    repair.phase = .outstanding(eliminateUntil: eliminateUntil, rdataDeadline: last + retryWait)
                } else if now >= rdataDeadline, let anchor = repair.retryAnchor,
                    now < anchor + configuration.nakRdataInterval, !repair.askedRepairer
                {
                    // Confirmed by the source, which sends RDATA right behind its NCF, but the RDATA did not reach
                    // the element: lost above it, so every interface in the list lacks it. Ask again (beyond RFC
                    // 3208 §7.3, see Configuration/repairRetryMinimum; a DLR keeps §9.5.3.2's rules).
                    repair.retries += 1
                    ownRequests.append(sequence)
                    counters.repairRetries += 1
                } else if now >= rdataDeadline {
                    session.repairs[sequence] = nil
                    counters.repairStatesExpired += 1
                    measureBackoff(repair, in: &session)
                    continue
                }
            case .nullNAK(let expires):
                if now >= expires {
                    session.repairs[sequence] = nil
                    continue
                }
            }
            session.repairs[sequence] = repair
        }
        if repairerSilent, let repairer = session.repairer {
            // §9.5.3.2: no NCF from the DLR within NAK_RPT_IVL: forget it for the session and send everything
            // still waiting on it upstream.
            session.repairer = nil
            counters.repairerFallbacks += 1
            push(.repairerDropped(tsi, address: repairer.address))
            reforward += session.repairs.sequences {
                if case .pending(.repairer, _, _) = $0.phase { true } else { false }
            }
        }
        if !reforward.isEmpty {
            reforward = session.ordered(Array(Set(reforward)))
            for sequence in reforward {
                session.repairs[sequence]?.phase = .pending(
                    target: .upstream, nextRepeat: now + configuration.nakRepeatPeriod,
                    giveUpAt: now + configuration.nakRepeatInterval)
                session.repairs[sequence]?.askedRepairer = false
            }
            repeatRepairer.removeAll { reforward.contains($0) }
        }
        counters.nakRepeats += repeatUpstream.count + repeatRepairer.count
        sendNAKs(&session, repeatRepairer, to: .repairer)
        sendNAKs(&session, session.ordered(repeatUpstream + reforward), to: .upstream)
        if !ownRequests.isEmpty { forward(&session, session.ordered(ownRequests)) }
        for sequence in sequences { armRepair(&session, sequence) }
        for sequence in reforward { armRepair(&session, sequence) }
    }

    // MARK: Helpers

    /// A discarded repair state is one NAK_BO_IVL measurement per interface that asked (§15.2.1).
    private mutating func measureBackoff(_ repair: RepairState, in session: inout ElementSession) {
        guard let tuning = configuration.backoffTuning else { return }
        counters.nakBackoffDecreases += session.measureBackoff(repair, tuning: tuning, floor: backoffFloor)
    }

    /// The packet's sequence and its OPT_NAK_LIST, each once, in order.
    static func sequences(_ first: SequenceNumber, _ options: [Option]) -> [SequenceNumber] {
        var result = [first]
        for option in options {
            guard case .nakList(let list) = option.value else { continue }
            for sequence in list where !result.contains(sequence) { result.append(sequence) }
        }
        return result
    }

    static func congestionReport(in options: [Option]) -> Option.CongestionReport? {
        for option in options {
            if case .congestionReport(let report) = option.value { return report }
        }
        return nil
    }

    /// NE_WL's local part: the worst measured loss over the interfaces data leaves by.
    private func worstOutgoingLoad(excluding upstream: InterfaceID) -> UInt16 {
        var worst: UInt16 = 0
        for interface in configuration.interfaces where interface.id != upstream {
            worst = max(worst, interfaceLoads[interface.id] ?? 0)
        }
        return worst
    }

    /// Sends RDATA (selective or parity) on each of `targets` with the options an element forwards, and counts
    /// it; returns the copy sent, `nil` when its options are not forwardable.
    mutating func fanOutRDATA(
        _ packet: Packet, to targets: [InterfaceID], payloadBytes: Int, session: ElementSession
    ) -> Packet? {
        guard let options = forwardableOptions(packet.options) else { return nil }
        var copy = packet
        copy.options = options
        for interface in targets {
            sendDownstream(copy, on: interface, session: session)
            counters.rdataCopiesSent += 1
        }
        counters.rdataForwarded += 1
        counters.dataBytesForwarded += payloadBytes
        return copy
    }
}
