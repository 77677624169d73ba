import PGMWire

/// NAK confirmation, forwarding and elimination, NAK anticipation, constrained RDATA forwarding and NNAKs
/// (RFC 3208 §7.2 to §7.8, §9.5.3.2).
extension NetworkElement {
    // MARK: NAK

    mutating func receiveNAK(_ nak: NAK, packet: Packet, arrival: Arrival) {
        counters.naksReceived += 1
        let tsi = packet.tsi
        guard var session = checkOut(tsi) else {
            counters.naksWithoutSessionDropped += 1
            return
        }
        defer { checkIn(session) }
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
        guard !packet.flags.contains(.parity) else {
            counters.parityNAKsDropped += 1
            return
        }
        let requested = Self.sequences(nak.sequence, packet.options).filter { session.inWindow($0) }
        guard !requested.isEmpty else {
            counters.naksOutsideWindowDropped += 1
            return
        }
        var reportMoved = false
        if let report = Self.congestionReport(in: packet.options) {
            reportMoved = session.congestion.merge(
                report, reference: session.lead, arrivalLoad: interfaceLoads[arrival.interface] ?? 0,
                worstOutgoingLoad: worstOutgoingLoad(excluding: session.upstream))
        }
        let fromRepairer = session.repairer?.address == arrival.source
        var accepted: [SequenceNumber] = []
        var confirmed: [SequenceNumber] = []
        var anyNotEliminated = false
        var leaveRepairer: [SequenceNumber] = []
        for sequence in requested {
            var repair: RepairState
            if let existing = session.repairs[sequence] {
                repair = existing
                if !repair.eliminates(at: now) { anyNotEliminated = true }
            } else {
                guard session.repairs.count < configuration.maximumRepairStatesPerSession else {
                    counters.repairStatesRejected += 1
                    continue
                }
                // Replaced by `.pending` below: a new sequence is never eliminated.
                repair = RepairState(phase: .nullNAK(expires: now))
                repairStateCount += 1
                anyNotEliminated = true
            }
            if repair.add(arrival.interface), let tuning = configuration.backoffTuning,
                session.widenBackoff(on: arrival.interface, tuning: tuning)
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
            if repair.admitNCF(on: arrival.interface, at: now, holdOff: configuration.ncfHoldOff) {
                confirmed.append(sequence)
            }
            session.repairs[sequence] = repair
            accepted.append(sequence)
        }
        guard !accepted.isEmpty else { return }
        // §7.2: the NCF goes at once, multicast on the NAK's interface, before anything goes upstream.
        if confirmed.isEmpty {
            counters.ncfsRateLimited += 1
        } else {
            sendNCFs(session, confirmed, on: arrival.interface)
        }
        let forwarded: [SequenceNumber]
        if anyNotEliminated || reportMoved {
            if !anyNotEliminated { counters.naksForwardedForCongestionReport += 1 }
            forwarded = accepted  // §7.4: a NAK list goes whole when any of it is not under elimination
        } else if !leaveRepairer.isEmpty {
            forwarded = leaveRepairer
        } else {
            counters.naksEliminated += 1
            for sequence in accepted { armRepair(&session, sequence) }
            return
        }
        forward(&session, forwarded)
    }

    /// Sends `sequences` on to the DLR or upstream, each to where its state says (§9.5.3.2), starting
    /// NAK_RPT_IVL for the ones not already pending towards that target.
    private mutating func forward(_ session: inout ElementSession, _ sequences: [SequenceNumber]) {
        var upstream: [SequenceNumber] = []
        var redirected: [SequenceNumber] = []
        for sequence in sequences {
            guard var repair = session.repairs[sequence] else { continue }
            var target = RepairState.Target.upstream
            if let repairer = session.repairer, !repair.avoidsRepairer, !repair.holds(repairer.interface) {
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
            session.repairs[sequence] = repair
            if target == .upstream { upstream.append(sequence) } else { redirected.append(sequence) }
        }
        sendNAKs(&session, redirected, to: .repairer)
        sendNAKs(&session, upstream, to: .upstream)
        for sequence in sequences { armRepair(&session, sequence) }
    }

    /// NAKs unicast to the upstream neighbour on the upstream interface (§7.7), or to the DLR, batched with
    /// OPT_NAK_LIST, carrying the session's OPT_CR report when it has one (Appendix B).
    private mutating func sendNAKs(
        _ session: inout ElementSession, _ sequences: [SequenceNumber], to target: RepairState.Target
    ) {
        guard !sequences.isEmpty else { return }
        let tsi = session.tsi
        let address: NLA
        let interface: InterfaceID
        switch target {
        case .upstream:
            address = session.neighbor
            interface = session.upstream
        case .repairer:
            guard let repairer = session.repairer else { return }
            address = repairer.address
            interface = repairer.interface
        }
        let report = session.congestion.current
        var start = 0
        while start < sequences.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, sequences.count)
            var options: [Option] = []
            if end - start > 1 { options.append(Option(.nakList(Array(sequences[(start + 1)..<end])))) }
            if let report { options.append(Option(.congestionReport(report))) }
            let packet = Packet(
                tsi: tsi, dataDestinationPort: session.dataDestinationPort, flags: .required(by: options),
                body: .nak(NAK(sequence: sequences[start], source: session.source, group: session.group)),
                options: options)
            outbound.append(Transmit(packet: packet, destination: .unicast(address), interface: interface))
            counters.naksForwarded += 1
            counters.nakSequencesForwarded += end - start
            if target == .repairer { counters.naksRedirected += 1 }
            start = end
        }
        if report != nil { session.congestion.markSent() }
    }

    /// NCFs for `sequences` multicast on `interface` with the source's address and Router Alert (§7.2), the
    /// list echoed in OPT_NAK_LIST (§9.3).
    private mutating func sendNCFs(_ session: ElementSession, _ sequences: [SequenceNumber], on interface: InterfaceID) {
        let tsi = session.tsi
        var start = 0
        while start < sequences.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, sequences.count)
            var options = end - start > 1 ? [Option(.nakList(Array(sequences[(start + 1)..<end])))] : []
            if let tuning = configuration.backoffTuning {
                options.append(Self.backoffOption(session.backoff(on: interface, tuning: tuning)))
            }
            let packet = Packet(
                tsi: tsi, dataDestinationPort: session.dataDestinationPort, flags: .required(by: options),
                body: .ncf(NAK(sequence: sequences[start], source: session.source, group: session.group)),
                options: options)
            sendDownstream(packet, on: interface, session: session)
            counters.ncfsSent += 1
            start = end
        }
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
        let tsi = packet.tsi
        guard var session = checkOut(tsi) else {
            counters.ncfsMisaddressedDropped += 1
            return
        }
        defer { checkIn(session) }
        guard packet.dataDestinationPort == session.dataDestinationPort,
            namesSource(ncf.source, of: session, arrival: arrival), ncf.group == session.group,
            !packet.flags.contains(.parity)
        else {
            counters.ncfsMisaddressedDropped += 1
            return
        }
        let fromUpstream = arrival.interface == session.upstream
        // An off-tree DLR confirms with a unicast NCF from its own address (§9.5.2.2).
        let fromRepairer = session.repairer?.address == arrival.source
            && arrival.destination == addresses[arrival.interface]
        guard fromUpstream || fromRepairer else {
            counters.ncfsFromDownstreamDropped += 1
            return
        }
        var touched: [SequenceNumber] = []
        for sequence in Self.sequences(ncf.sequence, packet.options) {
            if var repair = session.repairs[sequence] {
                repair.confirm(
                    at: now, elimination: configuration.nakEliminationInterval, rdata: configuration.nakRdataInterval)
                session.repairs[sequence] = repair
                touched.append(sequence)
            } else if fromUpstream && session.inWindow(sequence)
                && session.repairs.count < configuration.maximumRepairStatesPerSession
            {
                // Anticipation: state without interfaces, so NAKs from below are eliminated for NAK_ELIM_IVL.
                var repair = RepairState(phase: .nullNAK(expires: now))
                repair.confirm(
                    at: now, elimination: configuration.nakEliminationInterval, rdata: configuration.nakRdataInterval)
                session.repairs[sequence] = repair
                repairStateCount += 1
                counters.ncfsAnticipated += 1
                touched.append(sequence)
            }
        }
        for sequence in touched { armRepair(&session, sequence) }
    }

    // MARK: RDATA (§7.8)

    mutating func receiveRDATA(_ data: DataPacket, packet: Packet, arrival: Arrival) {
        let tsi = packet.tsi
        guard var session = checkOut(tsi) else {
            counters.rdataMisroutedDropped += 1
            return
        }
        defer { checkIn(session) }
        guard packet.dataDestinationPort == session.dataDestinationPort else {
            counters.rdataMisroutedDropped += 1
            return
        }
        let fromUpstream = arrival.interface == session.upstream
        // An off-tree DLR unicasts RDATA to the element (§9.5.2.2); anything else from below is not a repair.
        let fromRepairer = !fromUpstream && session.repairer?.address == arrival.source
            && arrival.destination == addresses[arrival.interface]
        guard fromUpstream || fromRepairer else {
            counters.rdataMisroutedDropped += 1
            return
        }
        if fromUpstream {
            session.lastHeard = now
            if data.trail.precedesOrEquals(data.sequence) {
                session.advertise(trail: data.trail, lead: data.sequence)
            }
        }
        guard !packet.flags.contains(.parity), let repair = session.repairs.removeValue(forKey: data.sequence) else {
            counters.rdataWithoutRepairStateDropped += 1
            return
        }
        repairStateCount -= 1
        measureBackoff(repair, in: &session)
        let targets = repair.requesters.map(\.interface).filter { !(fromUpstream && $0 == arrival.interface) }
        guard !targets.isEmpty else {
            counters.rdataWithoutRepairStateDropped += 1
            return
        }
        guard let options = forwardableOptions(packet.options) else { return }
        var copy = packet
        copy.options = options
        for interface in targets {
            sendDownstream(copy, on: interface, session: session)
            counters.rdataCopiesSent += 1
        }
        counters.rdataForwarded += 1
    }

    // MARK: NNAK (§9.5.3.2)

    mutating func receiveNNAK(_ nak: NAK, packet: Packet, arrival: Arrival) {
        counters.nnaksReceived += 1
        let tsi = packet.tsi
        guard var session = checkOut(tsi) else {
            counters.nnaksDropped += 1
            return
        }
        defer { checkIn(session) }
        guard packet.dataDestinationPort == session.dataDestinationPort,
            arrival.interface != session.upstream, arrival.destination == addresses[arrival.interface],
            namesSource(nak.source, of: session, arrival: arrival), nak.group == session.group,
            !packet.flags.contains(.parity)
        else {
            counters.nnaksDropped += 1
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
            guard session.repairs.count < configuration.maximumRepairStatesPerSession else {
                counters.repairStatesRejected += 1
                continue
            }
            session.repairs[sequence] = RepairState(phase: .nullNAK(expires: now + configuration.nakEliminationInterval))
            repairStateCount += 1
            created.append(sequence)
            forward = true
        }
        for sequence in created { armRepair(&session, sequence) }
        guard forward else {
            counters.nnaksEliminated += 1
            return
        }
        var start = 0
        while start < requested.count {
            let end = min(start + 1 + Option.maximumNAKListEntries, requested.count)
            let options = end - start > 1 ? [Option(.nakList(Array(requested[(start + 1)..<end])))] : []
            let packet = Packet(
                tsi: tsi, dataDestinationPort: session.dataDestinationPort, flags: .required(by: options),
                body: .nnak(NAK(sequence: requested[start], source: session.source, group: session.group)),
                options: options)
            outbound.append(Transmit(packet: packet, destination: .unicast(session.neighbor), interface: session.upstream))
            counters.nnaksForwarded += 1
            start = end
        }
    }

    // MARK: Repair timers

    /// Repeats pending NAKs at NAK_RPT_RTE, cancels forwarding after NAK_RPT_IVL, gives up a silent DLR, and
    /// drops confirmed state after NAK_RDATA_IVL (§7.3, §9.5.3.2).
    mutating func runRepairTimers(_ tsi: TSI, _ sequences: [SequenceNumber]) {
        guard var session = checkOut(tsi) else { return }
        defer { checkIn(session) }
        var repeatUpstream: [SequenceNumber] = []
        var repeatRepairer: [SequenceNumber] = []
        var reforward: [SequenceNumber] = []
        var repairerSilent = false
        for sequence in sequences {
            guard var repair = session.repairs[sequence] else { continue }
            switch repair.phase {
            case .pending(let target, let nextRepeat, let giveUpAt):
                if now >= giveUpAt {
                    switch target {
                    case .upstream:
                        session.repairs[sequence] = nil
                        repairStateCount -= 1
                        counters.nakForwardingTimeouts += 1
                        measureBackoff(repair, in: &session)
                    case .repairer:
                        repairerSilent = true
                        reforward.append(sequence)
                    }
                    continue
                }
                if now >= nextRepeat {
                    repair.phase = .pending(
                        target: target, nextRepeat: now + configuration.nakRepeatPeriod, giveUpAt: giveUpAt)
                    if target == .upstream { repeatUpstream.append(sequence) } else { repeatRepairer.append(sequence) }
                }
            case .outstanding(_, let rdataDeadline):
                if now >= rdataDeadline {
                    session.repairs[sequence] = nil
                    repairStateCount -= 1
                    counters.repairStatesExpired += 1
                    measureBackoff(repair, in: &session)
                    continue
                }
            case .nullNAK(let expires):
                if now >= expires {
                    session.repairs[sequence] = nil
                    repairStateCount -= 1
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
            for (sequence, repair) in session.repairs {
                if case .pending(.repairer, _, _) = repair.phase { reforward.append(sequence) }
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
        for sequence in sequences { armRepair(&session, sequence) }
        for sequence in reforward { armRepair(&session, sequence) }
    }

    // MARK: Helpers

    /// A discarded repair state is one NAK_BO_IVL measurement per interface that asked (§15.2.1).
    private mutating func measureBackoff(_ repair: RepairState, in session: inout ElementSession) {
        guard let tuning = configuration.backoffTuning else { return }
        counters.nakBackoffDecreases += session.measureBackoff(repair, tuning: tuning)
    }

    /// OPT_NAK_BO_IVL with NAK_BO_IVL_SQN 0: the value holds now, not from a poll round (§15.2.2).
    static func backoffOption(_ interval: Duration) -> Option {
        Option(.nakBackoffInterval(
            microseconds: UInt32(clamping: interval.totalNanoseconds / 1000), pollSequence: SequenceNumber(0)))
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
}
