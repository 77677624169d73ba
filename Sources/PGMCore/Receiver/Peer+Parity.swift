import PGMWire

/// FEC for one session (RFC 3208 §11.5): OPT_PARITY_PRM learned from SPMs, parity packets held and decoded,
/// parity NAKs by count per transmission group instead of selective NAKs when the source offers on-demand
/// parity, and parity NCFs and overheard parity NAKs suppressing them by count.
extension Peer {
    /// OPT_PARITY_PRM: the group size, and whether proactive and on-demand parity are offered (RFC bits:
    /// P 0x02, O 0x01). A size that is not a power of two 2 ... 128 is not taken (the session runs without FEC).
    mutating func learnParity(modeBits: UInt8, groupSize: UInt32, context: inout ReceiverContext) {
        guard context.configuration.useParity, let groups = TransmissionGroups(size: Int(min(groupSize, 256))) else {
            return
        }
        let proactive = modeBits & 0x02 != 0
        let onDemand = modeBits & 0x01 != 0
        if let current = parity, current.groups == groups {
            parity?.proactive = proactive
            parity?.onDemand = onDemand && !current.onDemandRefused
            return
        }
        parity = ParityReceiver(
            groups: groups, proactive: proactive, onDemand: onDemand, kernel: context.configuration.parityKernel)
        if started { parity?.trackedFrom = window.lead &+ 1 }
    }

    /// The most groups ``ParityReceiver`` keeps for this session.
    func parityCapacity(_ configuration: Receiver.Configuration) -> Int {
        ParityReceiver.capacity(
            forWindowOf: configuration.maximumWindowSequences, groupSize: parity?.groups.size ?? 1)
    }

    /// A data packet (ODATA, RDATA, or recovered) of a session with FEC: kept for decoding its group. Returns
    /// the group when it can now be decoded.
    mutating func noteParityData(
        _ sequence: SequenceNumber, payload: ArraySlice<UInt8>, fragment: Option.Fragment?,
        context: inout ReceiverContext
    ) -> SequenceNumber? {
        guard parity != nil else { return nil }
        let capacity = parityCapacity(context.configuration)
        parity?.forget(before: window.next)
        return parity?.noteData(sequence, payload: payload, fragment: fragment, capacity: capacity)
    }

    /// A parity packet (ODATA or RDATA with OPT_PARITY, RFC 3208 §11.5): it shows its group is complete at the
    /// source (the window extends to the group's end, so its missing packets are NAKed), and with any k of the
    /// group's packets the missing data is decoded and delivered as if repaired.
    mutating func handleParity(
        _ data: DataPacket, options: [Option], flags: Packet.Flags, from sender: NLA, context: inout ReceiverContext
    ) {
        guard admits(sender) else {
            dropOffPath(from: sender, context: &context)
            return
        }
        guard let groups = parity?.groups, let maximumIndex = parity?.code.maximumParityCount, started else {
            context.statistics.parityUnusable += 1
            return
        }
        var parityGroup: UInt32?
        var size: Int?
        for option in options {
            switch option.value {
            case .parityGroup(let number): parityGroup = number
            case .currentGroupSize(let value): size = Int(min(value, UInt32(Int32.max)))
            default: break
            }
        }
        let group = groups.group(of: data.sequence)
        let index = groups.parityIndex(sequence: data.sequence, parityGroup: parityGroup)
        guard data.trail.precedesOrEquals(data.sequence), index < maximumIndex,
            size.map({ $0 >= 1 && $0 <= groups.size }) ?? true
        else {
            context.statistics.parityUnusable += 1
            context.statistics.malformedPackets += 1
            return
        }
        lastHeard = context.now
        let end = group &+ UInt32((size ?? groups.size) - 1)
        guard !end.precedes(window.next) else {
            context.statistics.duplicates += 1
            return
        }
        if window.lead.precedes(end) {
            guard trustLead(end, byData: true, context: &context) else { return }
            extend(through: end, context: &context)
        }
        declareLost(before: data.trail, reason: .windowAdvanced, context: &context)
        guard !end.precedes(window.next) else { return }
        let received = ParitySymbols.Received(
            payload: ArraySlice(Array(data.payload)), options: options,
            variableLength: flags.contains(.variableLength))
        parity?.forget(before: window.next)
        let capacity = parityCapacity(context.configuration)
        if let decodable = parity?.noteParity(
            group: group, index: index, packet: received, size: size, capacity: capacity)
        {
            recoverGroup(decodable, from: sender, context: &context)
        }
        pruneTimers()
    }

    /// Decodes `group` and hands each recovered packet to ``handleData`` as a repair.
    mutating func recoverGroup(_ group: SequenceNumber, from sender: NLA, context: inout ReceiverContext) {
        guard let result = parity?.recover(group) else { return }
        switch result {
        case .success(let recovered):
            for (sequence, member) in recovered where !sequence.precedes(window.next) {
                guard let index = window.index(of: sequence), window.gap(at: index) != nil else { continue }
                context.statistics.sequencesRecoveredByParity += 1
                handleData(
                    DataPacket(sequence: sequence, trail: window.next, payload: member.payload),
                    options: member.fragment.map { [Option(.fragment($0))] } ?? [], repair: true, payloadOwned: true,
                    from: sender, context: &context)
            }
        case .failure:
            context.statistics.parityDecodingFailures += 1
        }
    }

    /// Splits the sequences whose back-off ended into selective NAKs and parity requests (RFC 3208 §11.5): with
    /// on-demand parity offered, a group known to be complete is asked for by count, for all its missing
    /// packets at once ("loss detection occurs at transmission group boundaries"); a gap in the group still being
    /// sent backs off again until the group closes, or is NAKed selectively once an SPM shows the source has
    /// nothing after our lead (§11.5: "in the absence of data ... receivers MAY resort to selective NAKs").
    /// A group's NAK goes when the first back-off of its missing packets ends: a group missing c packets NAKs
    /// after about NAK_BO_IVL/(c+1), so larger counts go first and suppress smaller ones, the bias §11.5 asks
    /// for. Returns the parity requests, group → count.
    mutating func takeParityRequests(
        from nak: inout [SequenceNumber], context: inout ReceiverContext
    ) -> [(SequenceNumber, Int)] {
        guard var parity, parity.onDemand else { return [] }
        // A group whose parity never comes is asked for by sequence, and a session whose parity never comes at all
        // stops asking for parity (its losses are repaired either way; see ParityReceiver.parityAnswered).
        var givenUp = Set<SequenceNumber>()
        for sequence in nak {
            let group = parity.groups.group(of: sequence)
            guard !parity.parityAnswered(group), givenUp.insert(group).inserted,
                parity.group(group)?.gaveUp == false
            else { continue }
            context.statistics.parityGroupsNAKedBySequence += 1
            if parity.noteUnanswered(group) {
                parity.onDemand = false
                parity.onDemandRefused = true
                context.statistics.parityFallbacks += 1
                self.parity = parity
                return []
            }
        }
        self.parity = parity
        var requests: [(SequenceNumber, Int)] = []
        var asked = Set<SequenceNumber>()
        var waiting: [SequenceNumber] = []
        let idle = quietLead == window.lead
        nak.removeAll { sequence in
            let group = parity.groups.group(of: sequence)
            guard parity.tracksWhole(group), parity.parityAnswered(group) else { return false }
            guard parity.isClosed(group, lead: window.lead) else {
                if idle { return false }
                waiting.append(sequence)
                return true
            }
            if asked.insert(group).inserted { requests.append((group, parity.missingCount(of: group))) }
            return true
        }
        let interval = nakBackoffInterval(context.configuration)
        for sequence in waiting {
            guard let index = window.index(of: sequence), var repair = window.gap(at: index) else { continue }
            repair.phase = .backOff
            repair.deadline = context.backOff(interval)
            window.updateGap(at: index, repair)
            timers.schedule(SequenceTimerKey(sequence), at: repair.deadline)
        }
        return requests
    }

    /// Parity NAKs (RFC 3208 §11.3.1): OPT_PARITY in the header, NAK_SQN = TG_SQN | (count − 1), up to 62 more
    /// groups in OPT_NAK_LIST; every missing packet of those groups then waits for the NCF.
    mutating func sendParityNAKs(_ requests: [(SequenceNumber, Int)], to path: NLA, context: inout ReceiverContext) {
        guard let groups = parity?.groups else { return }
        let entries = requests.map { groups.requestSequence(group: $0.0, count: $0.1) }
        let packets = emitNAKs(entries, parity: true, to: path, context: &context)
        context.statistics.naksSent += packets
        context.statistics.parityNAKsSent += packets
        let capacity = parityCapacity(context.configuration)
        for (group, count) in requests {
            parity?.noteParityNAK(group, capacity: capacity)
            context.statistics.parityPacketsRequested += count
            let missing = missingSequences(of: group)
            context.statistics.nakSequencesSent += missing.count
            awaitNCF(missing, context: &context)
        }
    }

    /// The missing sequences a parity NCF or another receiver's parity NAK covers (RFC 3208 §11.5: "a parity NCF
    /// with NCF_PKT_CNT equal to or greater than" what we would ask for confirms ours); a smaller count covers
    /// nothing, so our NAK for more still goes.
    func sequencesCovered(byParityRequests requests: [SequenceNumber]) -> [SequenceNumber] {
        guard let parity else { return [] }
        var covered: [SequenceNumber] = []
        for request in requests {
            let group = parity.groups.group(of: request)
            guard parity.groups.requestedCount(request) >= parity.missingCount(of: group) else { continue }
            covered += missingSequences(of: group)
        }
        return covered
    }

    private func missingSequences(of group: SequenceNumber) -> [SequenceNumber] {
        guard let size = parity?.groups.size else { return [] }
        return (0..<UInt32(size)).compactMap { offset in
            let sequence = group &+ offset
            guard let index = window.index(of: sequence), window.gap(at: index) != nil else { return nil }
            return sequence
        }
    }
}
