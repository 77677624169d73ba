import PGMWire

/// SPMR answers (Appendix C), the element as a polled child and as a poller for DLRs (Appendix D), and DLRs
/// learned from redirecting POLRs (§9.5.3).
extension NetworkElement {
    // MARK: SPMR

    mutating func receiveSPMR(packet: Packet, arrival: Arrival) {
        counters.spmrsReceived += 1
        let known: Void? = withSession(packet.tsi) { $0.receiveSPMR(packet: packet, arrival: arrival, in: &$1) }
        if known == nil { counters.spmrsDropped += 1 }
    }

    private mutating func receiveSPMR(packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard packet.dataDestinationPort == session.dataDestinationPort, arrival.interface != session.upstream,
            let address = addresses[arrival.interface]
        else {
            counters.spmrsDropped += 1
            return
        }
        guard case .spm(let cached) = session.cachedSPM.body else {
            counters.spmrsDropped += 1
            return
        }
        let leadUnchanged =
            !Self.carriesWindow(cached, options: session.cachedSPM.options) || session.lead == cached.lead
        if now - session.cachedSPMAt < configuration.spmrAnswerMaximumAge && leadUnchanged {
            if let last = session.spmrAnswers.first(where: { $0.interface == arrival.interface }),
                now - last.at < configuration.spmrHoldOff
            {
                counters.spmrsDropped += 1
                return
            }
            session.spmrAnswers.removeAll { $0.interface == arrival.interface }
            session.spmrAnswers.append((arrival.interface, now))
            guard let options = forwardableOptions(session.cachedSPM.options) else { return }
            let answer = spmCopy(
                session.cachedSPM, cached, options: options, for: Interface(id: arrival.interface, address: address),
                session: session)
            sendDownstream(answer, on: arrival.interface, session: session)
            counters.spmrsAnswered += 1
        } else if arrival.destination == address {
            outbound.append(
                Transmit(packet: packet, destination: .unicast(session.source), interface: session.upstream))
            counters.spmrsForwarded += 1
        } else {
            counters.spmrsDropped += 1
        }
    }

    // MARK: POLL as a child (§14.5)

    mutating func receivePOLL(_ poll: POLL, packet: Packet, arrival: Arrival) {
        counters.pollsReceived += 1
        switch withSession(packet.tsi, { $0.receivePOLL(poll, packet: packet, arrival: arrival, in: &$1) }) {
        case nil: counters.pollsIgnored += 1
        case true?: armSession(packet.tsi)
        case false?: break
        }
    }

    /// Returns whether a reply was scheduled.
    private mutating func receivePOLL(
        _ poll: POLL, packet: Packet, arrival: Arrival, in session: inout ElementSession
    ) -> Bool {
        let tsi = session.tsi
        guard !offPath(&session, arrival) else { return false }
        guard packet.dataDestinationPort == session.dataDestinationPort, arrival.interface == session.upstream,
            poll.subtype == POLL.generalSubtype
        else {
            counters.pollsIgnored += 1
            return false
        }
        // A new POLL_SQN cancels any pending reply; a round other than 0 counts only after round 0 of its SQN.
        var state = session.parentPoll ?? (poll.sequence, false)
        if state.sequence != poll.sequence {
            state = (poll.sequence, false)
            session.pendingPOLR = nil
        }
        if poll.round == 0 { state.sawRoundZero = true }
        session.parentPoll = state
        guard state.sawRoundZero, (nodeID ^ poll.random) & poll.mask == 0 else {
            counters.pollsIgnored += 1
            return false
        }
        let backoff = UInt64(poll.backoffInterval) * 1000
        let due = now + Duration(nanoseconds: Int64(random.bounded(backoff + 1)))
        let polr = Packet(
            tsi: tsi, dataDestinationPort: session.dataDestinationPort,
            body: .polr(POLR(sequence: poll.sequence, round: poll.round)))
        let reply = Transmit(packet: polr, destination: .unicast(poll.path), interface: session.upstream)
        session.pendingPOLR = (reply, due)
        return true
    }

    // MARK: DLR discovery and redirection (§9.5.3)

    /// A deterministic DLR poll (POLL_MASK 0: every DLR answers) on every downstream interface, with the
    /// source's address and Router Alert (§14.4).
    mutating func sendDLRPolls(_ session: inout ElementSession) {
        session.dlrPollSequence = session.dlrPollSequence &+ 1
        let backoff = UInt32(clamping: configuration.dlrPollBackoffInterval.totalNanoseconds / 1000)
        for interface in configuration.interfaces where interface.id != session.upstream {
            let poll = POLL(
                sequence: session.dlrPollSequence, round: 0, subtype: POLL.dlrSubtype, path: interface.address,
                backoffInterval: backoff, random: UInt32(truncatingIfNeeded: random.next()), mask: 0)
            sendDownstream(
                Packet(tsi: session.tsi, dataDestinationPort: session.dataDestinationPort, body: .poll(poll)),
                on: interface.id, session: session)
            counters.dlrPollsSent += 1
        }
    }

    mutating func receivePOLR(packet: Packet, arrival: Arrival) {
        counters.polrsReceived += 1
        let known: Void? = withSession(packet.tsi) { $0.receivePOLR(packet: packet, arrival: arrival, in: &$1) }
        if known == nil { counters.polrsDropped += 1 }
    }

    private mutating func receivePOLR(packet: Packet, arrival: Arrival, in session: inout ElementSession) {
        guard packet.dataDestinationPort == session.dataDestinationPort,
            let address = Self.redirect(in: packet.options), !addresses.values.contains(address)
        else {
            counters.polrsDropped += 1
            return
        }
        // Off-tree DLRs answer unicast (§9.5.2.2); a multicast POLR on a downstream link belongs to the element
        // below whose upstream link that is. Upstream DLRs multicast theirs on our upstream link (§9.5.2.1).
        guard arrival.interface == session.upstream || arrival.destination == addresses[arrival.interface] else {
            counters.polrsDropped += 1
            return
        }
        let repairer = ElementSession.Repairer(
            address: address, interface: arrival.interface, parityCapable: packet.flags.contains(.parity))
        guard session.repairer != repairer else { return }
        session.repairer = repairer
        counters.repairersLearned += 1
        push(.repairerLearned(session.tsi, address: address, interface: arrival.interface))
    }

    static func redirect(in options: [Option]) -> NLA? {
        for option in options {
            if case .redirect(let address) = option.value { return address }
        }
        return nil
    }
}
