import DequeModule
public import PGMWire

/// A PGM source (RFC 3208 §5) for one TSI, sans-IO.
///
/// Usage: ``send(_:at:)`` queues APDUs; after every input (`send`, ``receive(_:arrival:at:)``,
/// ``handleTimeout(at:)``) drain ``pollTransmit(at:)`` until `nil`, then ``pollEvent()``, then wait until
/// ``nextDeadline``. Transmit priority: NCFs at once (unmetered), then SPM, RDATA, ODATA through one token
/// bucket, so repairs are never starved by new data; under PGMCC (``Configuration/congestionControl``) RDATA and
/// ODATA also wait for ``CongestionControl``'s window.
public struct Source: Engine {
    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    /// TXW_LEAD: the last ODATA sent (initial − 1 before any).
    public var lead: SequenceNumber { window.lead }
    /// TXW_TRAIL: the oldest sequence still repairable; `lead + 1` when the window is empty.
    public var trail: SequenceNumber { window.trail }
    /// `true` once ``close(at:)`` or ``reset(at:errorCode:)`` was called.
    public private(set) var isClosing = false
    /// The OPT_RST error code once ``reset(at:errorCode:)`` turned the close into an abort; `nil` for OPT_FIN.
    public private(set) var resetCode: UInt8?
    /// `true` once the source no longer answers NAKs after a reset: its window is empty, so OPT_RST carries the
    /// N bit (RFC 3208 §9.8.4).
    public var ignoresNAKs: Bool { resetCode != nil && finalSPMQueued }
    /// `true` once closed, all data sent and the window empty: the engine sends nothing more.
    public private(set) var isFinished = false
    /// PGMCC's state (acker, window, its counters) when ``Configuration/congestionControl`` is set.
    public private(set) var congestion: CongestionControl?

    private struct PendingTPDU {
        var sequence: SequenceNumber
        var payload: ArraySlice<UInt8>
        var fragment: Option.Fragment?
    }

    private var window: TransmitWindow
    /// When the worst OPT_CR report was last confirmed.
    private var worstReportAt: Instant?
    private var pending: Deque<PendingTPDU> = []
    private var pendingBytes = 0
    private var nextSequence: SequenceNumber
    private let firstSequence: SequenceNumber
    private var repairQueue: Deque<SequenceNumber> = []
    /// Repairs due at the end of their sequence's hold-off or delay; an entry counts while its sequence is in the
    /// window and still marked deferred.
    private var deferredRepairs = DeadlineQueue<SequenceTimerKey>()
    /// NAK_BO_IVL advertised to the receivers (RFC 3208 §15.2.1), when ``Configuration/backoffTuning`` is on.
    private var backoff: NAKBackoffTuner?
    /// How far behind a repair cycle's first NAK its duplicates have been arriving (a decaying maximum): the
    /// RDATA waits this long, up to ``Configuration/maximumRepairDelay``.
    private var duplicateSpread: Duration = .zero
    private var controlQueue: Deque<Transmit> = []
    private var events: Deque<Event> = []
    private var bucket: TokenBucket
    private var now: Instant

    private var spmSequence = SequenceNumber(0)
    private var spmPending = true
    /// SPMs still to go back to back when the session opens (``Configuration/openingSPMs``).
    private var openingSPMsLeft: Int
    private var nextAmbientSPM: Instant
    private var heartbeatIndex = 0
    private var nextHeartbeatSPM: Instant?
    private var lastSPMRAnswer: Instant?
    /// OPT_FIN (or OPT_RST) goes on SPMs once every queued APDU has left (RFC 3208 §9.7, §9.8), so its lead
    /// covers them all.
    private var finActive = false
    private var finalSPMQueued = false
    /// FEC (``Configuration/parity``): the parity owed, and the next parity packet once built (encoding is the
    /// expensive part, so a packet the bucket or window holds back is kept, not rebuilt).
    private var parity: ParitySender?
    private var preparedParity: (job: ParitySender.Job, packet: Packet)?

    /// The most events kept for an application that does not drain them.
    public static let eventCapacity = 1024

    public init(configuration: Configuration, at now: Instant) {
        do {
            try configuration.validate()
        } catch {
            preconditionFailure("\(error)")
        }
        self.configuration = configuration
        var random = SplitMix64(seed: configuration.seed)
        var initial = configuration.initialSequence ?? SequenceNumber(UInt32(truncatingIfNeeded: random.next()))
        // With FEC the first ODATA opens a transmission group (RFC 3208 §11.2: groups start on multiples of k),
        // so that the first group is a whole one.
        if let groups = configuration.parity?.groups { initial = groups.group(of: initial) }
        self.firstSequence = initial
        self.nextSequence = initial
        self.window = TransmitWindow(
            before: initial, maximumAge: configuration.txwSeconds, maximumBytes: configuration.txwMaxBytes)
        self.now = now
        self.nextAmbientSPM = now + configuration.ambientSPMInterval
        self.openingSPMsLeft = configuration.openingSPMs
        let capacity = max(configuration.burst, configuration.maxTPDU + configuration.transport.routerAlertOverhead)
        self.bucket = TokenBucket(rate: configuration.rate, capacity: capacity, at: now)
        if let first = configuration.heartbeatIntervals.first { nextHeartbeatSPM = now + first }
        congestion = configuration.congestionControl.map { CongestionControl(configuration: $0, at: now) }
        backoff = configuration.backoffTuning.map { NAKBackoffTuner(initial: Self.clamp($0.initial, $0)) }
        parity = configuration.parity.map { ParitySender($0, holdOff: configuration.repairHoldOff) }
    }

    // MARK: Application side

    /// Bytes ``send(_:at:)`` accepts right now.
    public var queuedBytesAvailable: Int { configuration.maximumQueuedBytes - pendingBytes }

    /// Queues one APDU, split into OPT_FRAGMENT TPDUs when it does not fit one (RFC 3208 §9.2.4).
    public mutating func send(_ apdu: [UInt8], at now: Instant) throws(SendError) {
        try send(apdu[...], at: now)
    }

    /// Queues one APDU held in part of a larger buffer: the transmit window keeps slices of it, so an
    /// application that reads many APDUs at once (pgm-source) copies nothing per APDU.
    public mutating func send(_ apdu: ArraySlice<UInt8>, at now: Instant) throws(SendError) {
        advanceClock(to: now)
        guard !isClosing else { throw .closed }
        guard apdu.count <= configuration.maximumAPDUSize else {
            throw .apduTooLarge(size: apdu.count, maximum: configuration.maximumAPDUSize)
        }
        guard apdu.count <= queuedBytesAvailable else { throw .queueFull(available: queuedBytesAvailable) }
        statistics.apdusQueued += 1
        pendingBytes += apdu.count
        if apdu.count <= Self.maximumPayload(configuration, fragmented: false) {
            pending.append(PendingTPDU(sequence: nextSequence, payload: apdu, fragment: nil))
            nextSequence = nextSequence &+ 1
            return
        }
        let size = Self.maximumPayload(configuration, fragmented: true)
        let first = nextSequence
        var offset = 0
        while offset < apdu.count {
            let end = min(offset + size, apdu.count)
            let fragment = Option.Fragment(
                firstSequence: first, offset: UInt32(offset), apduLength: UInt32(apdu.count))
            let range = (apdu.startIndex + offset)..<(apdu.startIndex + end)
            pending.append(PendingTPDU(sequence: nextSequence, payload: apdu[range], fragment: fragment))
            nextSequence = nextSequence &+ 1
            offset = end
        }
    }

    /// Ends the session: once queued data has gone, every SPM carries OPT_FIN (RFC 3208 §9.7) and SPMs go on
    /// until the window has drained.
    public mutating func close(at now: Instant) {
        advanceClock(to: now)
        guard !isClosing else { return }
        isClosing = true
        activateFINIfDrained()
    }

    /// Aborts the session (RFC 3208 §9.8) instead of closing it: no more data is accepted, what is queued is still
    /// sent, and then every SPM carries OPT_RST with `errorCode` (6 bits; 0 is "unknown") instead of OPT_FIN, sent
    /// at once. The source keeps answering NAKs while its window holds data, so OPT_RST goes without the N bit;
    /// once the window is empty (TXW_SECS later, or at once after ``abandonRepairs(at:)``) it carries the N bit and
    /// the empty window (trail = lead + 1) for one more round of the heartbeat schedule, and the engine finishes.
    /// A session whose OPT_FIN already went out stays closed: nothing changes.
    public mutating func reset(at now: Instant, errorCode: UInt8 = 0) {
        advanceClock(to: now)
        guard !finActive || resetCode != nil else { return }
        resetCode = errorCode & 0x3F
        isClosing = true
        activateFINIfDrained()
    }

    /// Stops answering NAKs at once, for a closing or reset session: what is queued is dropped, the window is
    /// emptied, and the SPMs that follow show the empty window (with OPT_RST's N bit after a reset), so receivers
    /// still waiting for repairs learn at once that none will come (RFC 3208 §6.3, §9.8.1).
    public mutating func abandonRepairs(at now: Instant) {
        advanceClock(to: now)
        guard isClosing else { return }
        pending.removeAll()
        pendingBytes = 0
        repairQueue.removeAll()
        statistics.sequencesExpired += window.removeAll()
        activateFINIfDrained()
        advanceWindow()
    }

    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// TPDU payload bytes per packet; fragments reserve room for OPT_FRAGMENT, and every ODATA for OPT_SYN,
    /// OPT_JOIN and the Router Alert its RDATA copy will carry, so repairs fit the same MTU.
    public static func maximumPayload(_ configuration: Configuration, fragmented: Bool) -> Int {
        var options = 4 + 4  // OPT_LENGTH, OPT_SYN
        if configuration.joinHistory != nil { options += 8 }
        if fragmented { options += 16 }
        options += pgmccDataLength(configuration)
        // A parity packet is as long as its group's longest payload plus the appended TSDU length, with an
        // encoded OPT_FRAGMENT (when any packet of the group has one: a fragment's own OPT_FRAGMENT room covers
        // it), OPT_PARITY_GRP and OPT_CURR_TGSIZE (RFC 3208 §11.2): room for all of them.
        if configuration.parity != nil { options += 2 + 8 + 8 + (fragmented ? 0 : 16) }
        return configuration.transport.maximumPGMLength(inDatagramsOf: configuration.maxTPDU)
            - Packet.commonHeaderLength - 8 - options
    }

    /// Bytes of OPT_PGMCC_DATA on every data packet under PGMCC, 0 without.
    static func pgmccDataLength(_ configuration: Configuration) -> Int {
        configuration.congestionControl == nil ? 0 : 12 + configuration.sourceAddress.addressFamily.addressLength
    }

    // MARK: Engine

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        advanceClock(to: now)
        guard packet.tsi == configuration.tsi, packet.dataDestinationPort == configuration.dataDestinationPort
        else {
            statistics.packetsDiscarded += 1
            return
        }
        switch packet.body {
        case .nak(let nak):
            handleNAK(nak, packet: packet, from: arrival.source)
        case .nnak:
            // RFC 3208 §5.3: NNAKs never cause repairs; counted as feedback only.
            statistics.nnaksReceived += 1
        case .spmr:
            statistics.spmrReceived += 1
            if let last = lastSPMRAnswer, now - last < configuration.spmrHoldOff {
                statistics.spmrRateLimited += 1
            } else {
                lastSPMRAnswer = now
                spmPending = true
            }
        case .ack(let ack):
            guard congestion != nil, let feedback = Self.feedback(in: packet.options) else {
                statistics.packetsDiscarded += 1
                return
            }
            handleFeedback(feedback, ack: ack)
        case .spm, .poll, .polr, .odata, .rdata, .ncf:
            statistics.packetsDiscarded += 1
        }
    }

    private mutating func handleNAK(_ nak: NAK, packet: Packet, from sender: NLA) {
        guard nak.source == configuration.sourceAddress, nak.group == configuration.group,
            !packet.flags.contains(.parity) || parity?.onDemand == true
        else {
            statistics.naksMisaddressed += 1
            return
        }
        statistics.naksReceived += 1
        var requested = [nak.sequence]
        for option in packet.options {
            switch option.value {
            case .nakList(let list): requested.append(contentsOf: list)
            case .congestionReport(let report): noteCongestionReport(report)
            default: break
            }
        }
        let isParity = packet.flags.contains(.parity)
        if congestion != nil, let feedback = Self.feedback(in: packet.options) {
            // A parity NAK names groups and counts, not sequences: its feedback counts, its entries do not.
            handleFeedback(feedback, ack: nil, naked: isParity ? [] : requested)
        }
        advanceWindow()
        if isParity {
            handleParityNAK(nak, requested: requested, options: packet.options, from: sender)
            return
        }
        // RFC 3208 §5.2, §9.3.4: an NCF identical to the NAK (its whole list) at once, for every NAK, even when
        // RDATA follows at once or none can (outside the window).
        queueNCF(echoing: nak.sequence, packet.options)
        let inWindow = requested.filter { window.contains($0) }
        guard !inWindow.isEmpty else {
            statistics.naksOutsideWindow += 1
            push(.nakOutsideWindow(sequence: nak.sequence, from: sender))
            return
        }
        statistics.nakSequencesReceived += inWindow.count
        for sequence in inWindow {
            let repair = window[sequence].repair
            if repair.isPending {
                statistics.nakSequencesIgnored += 1
                noteDuplicateNAK(sequence, from: sender)
            } else if let repaired = repair.lastRepairAt, now - repaired < configuration.repairHoldOff,
                !isRetry(repair, from: sender, repairedAt: repaired)
            {
                // §5.3: a NAK for data in the window MUST be repaired. Within the hold-off it is, once, when the
                // hold-off ends, so a burst of late duplicates costs one more RDATA, not one each.
                window[sequence].repair.deferred = true
                deferredRepairs.schedule(SequenceTimerKey(sequence), at: repaired + configuration.repairHoldOff)
                statistics.nakSequencesDeferred += 1
                noteDuplicateNAK(sequence, from: sender)
            } else {
                startRepairCycle(sequence, from: sender)
            }
        }
        push(.nakReceived(sequences: inWindow, from: sender))
    }

    /// A parity NAK (RFC 3208 §11.4): a parity NCF at once, then each named group's pending parity raised to
    /// the count asked for, less a shortened group's shortfall. Groups still open (their last packet not sent)
    /// or already partly out of the window cannot be encoded: counted, not answered.
    private mutating func handleParityNAK(
        _ nak: NAK, requested: [SequenceNumber], options: [Option], from sender: NLA
    ) {
        guard var parity else { return }
        statistics.parityNAKsReceived += 1
        queueNCF(echoing: nak.sequence, options, parity: true)
        var answered: [SequenceNumber] = []
        for sequence in requested {
            let group = parity.groups.group(of: sequence)
            guard let size = encodableSize(of: group) else {
                statistics.parityUnavailable += 1
                continue
            }
            let added = parity.request(
                group, count: parity.groups.requestedCount(sequence), size: size, from: sender, at: now)
            statistics.parityPacketsRequested += added
            if added == 0 { statistics.nakSequencesIgnored += 1 }
            answered.append(group)
        }
        self.parity = parity
        if answered.isEmpty {
            statistics.naksOutsideWindow += 1
            push(.nakOutsideWindow(sequence: nak.sequence, from: sender))
        } else {
            push(.nakReceived(sequences: answered, from: sender))
        }
    }

    /// How many data packets `group` has if parity can be computed for it now: k when all of them are in the
    /// window; fewer for the last group of a closed session, which ends early (RFC 3208 §11.4, OPT_CURR_TGSIZE);
    /// `nil` when part of it has left the window or it is still being filled.
    private func encodableSize(of group: SequenceNumber) -> Int? {
        guard let groups = parity?.groups, window.contains(group) else { return nil }
        let last = groups.last(of: group)
        if window.contains(last) { return groups.size }
        guard isClosing, pending.isEmpty, groups.group(of: lead) == group else { return nil }
        return groups.position(of: lead) + 1
    }

    /// The next parity packet to send: its job and the packet, built once.
    private mutating func nextParity() -> (job: ParitySender.Job, packet: Packet)? {
        guard var parity else { return nil }
        defer { self.parity = parity }
        parity.forget(before: trail)
        if let prepared = preparedParity, prepared.job == parity.next { return prepared }
        preparedParity = nil
        while let job = parity.next {
            if let packet = makeParity(job, code: parity.code) {
                preparedParity = (job, packet)
                return preparedParity
            }
            statistics.parityUnavailable += 1
            parity.finish(job, sentAt: nil)
        }
        return nil
    }

    /// A parity packet (RFC 3208 §11.2, §11.4): ODATA for proactive parity, RDATA for on-demand, with OPT_PARITY
    /// (and OPT_VAR_PKTLEN) in the header, SQN = TG_SQN | index mod k, OPT_PARITY_GRP beyond k, OPT_CURR_TGSIZE
    /// for a shortened group, the encoded OPT_FRAGMENT of a group with fragments. `nil` if the group's data has
    /// left the window.
    private func makeParity(_ job: ParitySender.Job, code: ReedSolomonCode) -> Packet? {
        guard let groups = parity?.groups, let size = encodableSize(of: job.group) else { return nil }
        var members: [ParityMember?] = []
        members.reserveCapacity(groups.size)
        for position in 0..<groups.size {
            guard position < size else {
                members.append(nil)
                continue
            }
            let entry = window[job.group &+ UInt32(position)]
            var fragment: Option.Fragment?
            for option in entry.options { if case .fragment(let value) = option.value { fragment = value } }
            members.append(ParityMember(payload: entry.payload, fragment: fragment))
        }
        guard let encoded = try? ParitySymbols.encode(members, index: job.index, code: code) else { return nil }
        let numbering = groups.parityNumbering(group: job.group, index: job.index)
        var options: [Option] = []
        if let fragment = encoded.encodedFragment { options.append(fragment) }
        if let number = numbering.parityGroup { options.append(Option(.parityGroup(number))) }
        if size < groups.size { options.append(Option(.currentGroupSize(UInt32(size)))) }
        if let pgmcc = pgmccData() { options.append(pgmcc) }
        var flags: Packet.Flags = .parity
        if encoded.variableLength { flags.insert(.variableLength) }
        flags.formUnion(.required(by: options))
        let data = DataPacket(sequence: numbering.sequence, trail: trail, payload: encoded.payload[...])
        return Packet(
            tsi: configuration.tsi, dataDestinationPort: configuration.dataDestinationPort, flags: flags,
            body: job.proactive ? .odata(data) : .rdata(data), options: options)
    }

    private enum ParityTurn {
        case sent(Transmit)
        case blocked
        case idle
    }

    /// Sends the next parity packet under the rate and, with PGMCC, the window, like RDATA.
    private mutating func pollParity() -> ParityTurn {
        guard let (job, packet) = nextParity() else { return .idle }
        guard windowAllows() else { return .blocked }
        let routerAlert = Transmit.needsRouterAlert(packet.body.type)
        guard bucket.consume(wireBytes(packet, routerAlert: routerAlert), at: now) else { return .blocked }
        preparedParity = nil
        parity?.finish(job, sentAt: now)
        congestion?.sent(odata: nil, at: now)
        if job.proactive { statistics.proactiveParitySent += 1 } else { statistics.onDemandParitySent += 1 }
        account(packet, routerAlert: routerAlert)
        restartHeartbeat()
        return .sent(Transmit(packet: packet, destination: .multicast(configuration.group), routerAlert: routerAlert))
    }

    private static func feedback(in options: [Option]) -> (timestamp: UInt32, loss: UInt16, receiver: NLA)? {
        for option in options {
            if case .pgmccFeedback(let timestamp, let loss, let receiver) = option.value {
                return (timestamp, loss, receiver)
            }
        }
        return nil
    }

    private mutating func handleFeedback(
        _ feedback: (timestamp: UInt32, loss: UInt16, receiver: NLA), ack: ACK?, naked: [SequenceNumber] = []
    ) {
        guard var congestion else { return }
        let change = congestion.handleFeedback(
            timestamp: feedback.timestamp, loss: feedback.loss, receiver: feedback.receiver, ack: ack, naked: naked,
            at: now)
        self.congestion = congestion
        if let change { push(Self.event(change)) }
    }

    private static func event(_ change: CongestionControl.Change) -> Event {
        switch change {
        case .elected(let address): .ackerElected(address)
        case .lost(let address): .ackerLost(address)
        case .unanswered: .noAcker
        }
    }

    /// Under PGMCC, whether the window (counted when it does not) and pacing let the next data packet go.
    private mutating func windowAllows() -> Bool {
        guard let canSend = congestion?.canSend else { return true }
        guard canSend else {
            congestion?.noteWindowLimited()
            return false
        }
        return congestion?.pacingAllows(at: now) ?? true
    }

    /// The first NAK of a repair: RDATA at once, or after the duplicate spread seen lately (RFC 3208 §5.3: a
    /// source MAY delay RDATA to hear the whole loss neighbourhood, by at most about twice its propagation delay,
    /// which is what that spread measures), so that NAKs still on their way are answered by the same RDATA.
    private mutating func startRepairCycle(_ sequence: SequenceNumber, from sender: NLA) {
        duplicateSpread = duplicateSpread * 63 / 64
        window[sequence].repair.startCycle(at: now, by: sender)
        let delay = min(duplicateSpread, configuration.maximumRepairDelay)
        if delay > .zero {
            window[sequence].repair.deferred = true
            deferredRepairs.schedule(SequenceTimerKey(sequence), at: now + delay)
            statistics.repairsDelayed += 1
        } else {
            window[sequence].repair.queued = true
            repairQueue.append(sequence)
        }
    }

    /// The cycle's own NAKer asking again a while after the repair went (a tenth of the hold-off): its repair was
    /// lost, and waiting out the hold-off would only delay it (a network element asks again within a few round
    /// trips, Configuration/repairRetryMinimum). Others' NAKs, and this one's own right behind the repair, wait.
    private func isRetry(_ repair: TransmitWindow.RepairBookkeeping, from sender: NLA, repairedAt: Instant) -> Bool {
        sender == repair.cycleNAKer && now - repairedAt >= configuration.repairHoldOff / 10
    }

    /// Queues the NCF for a NAK: its sequence and OPT_NAK_LIST as they came, and the NAK_BO_IVL we advertise.
    private mutating func queueNCF(echoing sequence: SequenceNumber, _ nakOptions: [Option], parity: Bool = false) {
        var options = nakOptions.filter { if case .nakList = $0.value { true } else { false } }
        if let advertisedNAKBackoff { options.append(NAKBackoffTuning.option(advertisedNAKBackoff)) }
        var flags = Packet.Flags.required(by: options)
        if parity { flags.insert(.parity) }  // RFC 3208 §11.3.2: a parity NCF for a parity NAK
        let ncf = Packet(
            tsi: configuration.tsi, dataDestinationPort: configuration.dataDestinationPort,
            flags: flags,
            body: .ncf(NAK(sequence: sequence, source: configuration.sourceAddress, group: configuration.group)),
            options: options)
        controlQueue.append(
            Transmit(
                packet: ncf, destination: .multicast(configuration.group),
                routerAlert: Transmit.needsRouterAlert(.ncf)))
    }

    /// A NAK for a sequence already queued, deferred or just repaired: the first such duplicate of a repair cycle
    /// doubles the advertised NAK_BO_IVL (RFC 3208 §15.2.1). The cycle's first NAKer asking again is a retry,
    /// which no NAK_BO_IVL would have suppressed.
    private mutating func noteDuplicateNAK(_ sequence: SequenceNumber, from sender: NLA) {
        guard sender != window[sequence].repair.cycleNAKer else { return }
        if let start = window[sequence].repair.cycleStart, now - start <= configuration.maximumRepairDelay {
            duplicateSpread = max(duplicateSpread, now - start)
        }
        guard window[sequence].repair.countNAK() == 2, let tuning = configuration.backoffTuning, var tuner = backoff
        else { return }
        if tuner.widen(within: Self.limits(tuning)) { statistics.nakBackoffIncreases += 1 }
        backoff = tuner
    }

    /// A repair sent for a cycle with a single NAK: NAK_PROBE_NUM of them in a row halve NAK_BO_IVL.
    private mutating func noteRepairCycle(_ sequence: SequenceNumber) {
        guard window[sequence].repair.cycleNAKs == 1, let tuning = configuration.backoffTuning, var tuner = backoff
        else { return }
        if tuner.measureClean(within: Self.limits(tuning), probeCount: tuning.probeCount) {
            statistics.nakBackoffDecreases += 1
        }
        backoff = tuner
    }

    private static func limits(_ tuning: NAKBackoffTuning) -> ClosedRange<Duration> {
        tuning.minimum...max(tuning.minimum, tuning.maximum)
    }

    private static func clamp(_ value: Duration, _ tuning: NAKBackoffTuning) -> Duration {
        let limits = limits(tuning)
        return min(max(value, limits.lowerBound), limits.upperBound)
    }

    /// The NAK_BO_IVL advertised on NCFs and SPMs; `nil` when tuning is off. The tuned value (§15.2.1, from
    /// duplicate NAKs), but never under four times the measured duplicate spread: a receiver's NCF arrives about
    /// that long after the first NAK left, and a back-off much shorter than it cannot suppress anything.
    public var advertisedNAKBackoff: Duration? {
        guard let tuning = configuration.backoffTuning, let backoff else { return nil }
        return Self.clamp(max(backoff.value, duplicateSpread * 4), tuning)
    }

    /// Keeps the worst receiver's loss as OPT_CR reports it (RFC 3208 Appendix B; network elements keep the worst
    /// of their subtree), and tells when it changes: a new worst receiver, or the same one moving by a 1 %
    /// step or more. Stale reports fade: after ``Configuration/congestionReportLifetime`` any report replaces it.
    private mutating func noteCongestionReport(_ report: Option.CongestionReport) {
        guard report.kinds.contains(.receiverWorstPath) else { return }
        statistics.congestionReports += 1
        let stale = worstReportAt.map { now - $0 > configuration.congestionReportLifetime } ?? true
        let current = statistics.worstReceiverLoss
        let replaces =
            stale || current == nil || report.receiverWorstPath >= current!
            || report.worstReceiver == statistics.worstReceiver
        guard replaces else { return }
        worstReportAt = now
        let step = UInt16.max / 100
        let moved = current.map { Int($0).distance(to: Int(report.receiverWorstPath)).magnitude >= Int(step) } ?? true
        let changed = report.worstReceiver != statistics.worstReceiver || moved
        statistics.worstReceiverLoss = report.receiverWorstPath
        statistics.worstReceiver = report.worstReceiver
        if changed {
            push(
                .worstReceiver(
                    lossRate: Double(report.receiverWorstPath) / Double(UInt16.max), address: report.worstReceiver))
        }
    }

    public mutating func handleTimeout(at now: Instant) {
        advanceClock(to: now)
        advanceWindow()
        guard !isFinished else { return }
        promoteDeferredRepairs()
        if var congestion {
            let change = congestion.handleTimeout(at: now)
            self.congestion = congestion
            if let change { push(Self.event(change)) }
        }
        if now >= nextAmbientSPM {
            spmPending = true
            nextAmbientSPM = now + configuration.ambientSPMInterval
        }
        if let due = nextHeartbeatSPM, now >= due {
            spmPending = true
            heartbeatIndex += 1
            nextHeartbeatSPM =
                heartbeatIndex < configuration.heartbeatIntervals.count
                ? now + configuration.heartbeatIntervals[heartbeatIndex] : nil
        }
    }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        advanceClock(to: now)
        if let control = controlQueue.popFirst() {
            statistics.ncfSent += 1
            account(control.packet, routerAlert: control.routerAlert)
            return control
        }
        advanceWindow()
        guard !isFinished else { return nil }
        promoteDeferredRepairs()
        if spmPending {
            let spm = makeSPM()
            guard bucket.consume(wireBytes(spm, routerAlert: true), at: now) else { return nil }
            spmPending = false
            if openingSPMsLeft > 0 {
                openingSPMsLeft -= 1
                spmPending = openingSPMsLeft > 0
            }
            spmSequence = spmSequence &+ 1
            statistics.spmSent += 1
            account(spm, routerAlert: true)
            if finalSPMQueued && nextHeartbeatSPM == nil {
                isFinished = true
                push(.finished)
            }
            return Transmit(
                packet: spm, destination: .multicast(configuration.group),
                routerAlert: Transmit.needsRouterAlert(.spm))
        }
        while let sequence = repairQueue.first {
            guard window.contains(sequence) else {
                repairQueue.removeFirst()  // left the window while queued
                continue
            }
            guard windowAllows() else { return nil }
            let rdata = makeRDATA(sequence)
            guard bucket.consume(wireBytes(rdata, routerAlert: true), at: now) else { return nil }
            repairQueue.removeFirst()
            window[sequence].repair.queued = false
            window[sequence].repair.lastRepairAt = now
            noteRepairCycle(sequence)
            congestion?.sent(odata: nil, at: now)
            statistics.rdataSent += 1
            account(rdata, routerAlert: true)
            restartHeartbeat()
            return Transmit(
                packet: rdata, destination: .multicast(configuration.group),
                routerAlert: Transmit.needsRouterAlert(.rdata))
        }
        switch pollParity() {
        case .sent(let transmit): return transmit
        case .blocked: return nil
        case .idle: break
        }
        guard let next = pending.first, windowAllows() else { return nil }
        let odata = makeODATA(next)
        assert(odataWireBytes(next) == wireBytes(odata, routerAlert: false), "odataWireBytes disagrees with makeODATA")
        // The window keeps the options RDATA copies; OPT_PGMCC_DATA is made afresh for each packet.
        var options = odata.options
        if congestion != nil { options.removeLast() }
        guard bucket.consume(wireBytes(odata, routerAlert: false), at: now) else { return nil }
        congestion?.sent(odata: next.sequence, at: now)
        pending.removeFirst()
        pendingBytes -= next.payload.count
        window.append(next.sequence, payload: next.payload, options: options, sentAt: now)
        statistics.odataSent += 1
        if let groups = parity?.groups, groups.position(of: next.sequence) == groups.size - 1 {
            statistics.groupsCompleted += 1
            let group = groups.group(of: next.sequence)
            parity?.groupCompleted(group)
        }
        account(odata, routerAlert: false)
        restartHeartbeat()
        advanceWindow()
        activateFINIfDrained()
        return Transmit(
            packet: odata, destination: .multicast(configuration.group),
            routerAlert: Transmit.needsRouterAlert(.odata))
    }

    public var nextDeadline: Instant? {
        if !controlQueue.isEmpty { return now }
        if isFinished { return nil }
        var deadline = nextAmbientSPM
        if let heartbeat = nextHeartbeatSPM { deadline = min(deadline, heartbeat) }
        if let expiry = window.expiry { deadline = min(deadline, expiry) }
        if let deferred = deferredRepairs.first { deadline = min(deadline, deferred.deadline) }
        if let congestionDeadline = congestion?.nextDeadline { deadline = min(deadline, congestionDeadline) }
        // A closed window waits for an ACK (an input) or the window's own timers, not for the bucket.
        let windowOpen = congestion?.canSend ?? true
        if let (size, isData) = headOfLine(dataAllowed: windowOpen) {
            var available = bucket.availability(of: size)
            if isData, let paced = congestion?.pacingAvailability { available = max(available, paced) }
            deadline = min(deadline, max(now, available))
        }
        return deadline
    }

    // MARK: Internals

    private mutating func advanceClock(to now: Instant) {
        precondition(now >= self.now, "time went backwards: \(now) < \(self.now)")
        self.now = now
    }

    /// Moves TXW_TRAIL past data older than TXW_SECS and past the oldest data while the window holds more
    /// than ``Configuration/txwMaxBytes`` (RFC 3208 Appendix F).
    private mutating func advanceWindow() {
        statistics.sequencesExpired += window.advance(to: now)
        if isClosing && finActive && window.isEmpty && pending.isEmpty && !finalSPMQueued {
            // FIN SPMs go on showing the empty window (trail = lead + 1) for one more round of the heartbeat
            // schedule, so receivers still waiting for repairs learn they will get none (RFC 3208 §6.3: the
            // trail passing is the loss indication) even if some of these SPMs are lost.
            finalSPMQueued = true
            spmPending = true
            restartHeartbeat()
        }
    }

    /// Repairs whose hold-off has ended join the repair queue (sequences that left the window meanwhile are
    /// dropped when they reach its front).
    private mutating func promoteDeferredRepairs() {
        while let deferred = deferredRepairs.popDue(at: now) {
            let sequence = deferred.key.sequence
            guard window.contains(sequence), window[sequence].repair.deferred else { continue }
            window[sequence].repair.deferred = false
            window[sequence].repair.queued = true
            repairQueue.append(sequence)
        }
    }

    private mutating func activateFINIfDrained() {
        guard isClosing, !finActive, pending.isEmpty else { return }
        // The last group ends here, short of k packets: its proactive parity goes now, with OPT_CURR_TGSIZE
        // (RFC 3208 §11.4: "in the absence of data ... prematurely terminate the current transmission group").
        if let groups = parity?.groups, !window.isEmpty, groups.position(of: lead) != groups.size - 1 {
            statistics.groupsCompleted += 1
            let group = groups.group(of: lead)
            parity?.groupCompleted(group)
        }
        finActive = true
        spmPending = true
        restartHeartbeat()
    }

    private mutating func restartHeartbeat() {
        heartbeatIndex = 0
        nextHeartbeatSPM = configuration.heartbeatIntervals.first.map { now + $0 }
    }

    private func joinMinimum(lead: SequenceNumber) -> SequenceNumber? {
        guard let history = configuration.joinHistory else { return nil }
        let next = lead &+ 1
        let held = UInt32(max(0, trail.distance(to: next)))
        return next &- min(history, held)
    }

    private func makeSPM() -> Packet {
        var options: [Option] = []
        if let join = joinMinimum(lead: lead) { options.append(Option(.join(minimumSequence: join))) }
        if configuration.requestCongestionReports {
            options.append(Option(.congestionReportRequest(.receiverWorstPath)))
        }
        if let tuning = configuration.backoffTuning, let backoff {
            // RFC 3208 §15.2.1: the current NAK_BO_IVL, and the session's range, which receivers clamp to.
            options.append(NAKBackoffTuning.option(advertisedNAKBackoff ?? backoff.value))
            options.append(
                NAKBackoffTuning.rangeOption(minimum: tuning.minimum, maximum: max(tuning.minimum, tuning.maximum)))
        }
        if let parity {
            options.append(parity.parameters)
            // §11.4: an SPM whose lead ends a shortened group says so.
            if finActive, !window.isEmpty, let size = encodableSize(of: parity.groups.group(of: lead)),
                size < parity.groups.size
            {
                options.append(Option(.currentGroupSize(UInt32(size))))
            }
        }
        if finActive {
            // RFC 3208 §9.8: OPT_RST replaces OPT_FIN after a reset; its N bit once the window is empty.
            options.append(
                resetCode.map { Option(.reset(ignoresNAKs: finalSPMQueued, errorCode: $0)) } ?? Option(.fin))
        }
        return Packet(
            tsi: configuration.tsi, dataDestinationPort: configuration.dataDestinationPort,
            body: .spm(SPM(sequence: spmSequence, trail: trail, lead: lead, path: configuration.sourceAddress)),
            options: options)
    }

    /// The size of the next metered packet, which decides when the bucket next lets something go, and whether it
    /// is data (which PGMCC also paces).
    private func headOfLine(dataAllowed: Bool) -> (bytes: Int, isData: Bool)? {
        if spmPending { return (wireBytes(makeSPM(), routerAlert: true), false) }
        guard dataAllowed else { return nil }
        for sequence in repairQueue where window.contains(sequence) {
            return (wireBytes(makeRDATA(sequence), routerAlert: true), true)
        }
        if let (_, packet) = preparedParity {
            return (wireBytes(packet, routerAlert: Transmit.needsRouterAlert(packet.body.type)), true)
        }
        if let parity, !parity.isIdle {
            return (configuration.maxTPDU, true)  // not built yet: at most one TPDU
        }
        if let next = pending.first { return (odataWireBytes(next), true) }
        return nil
    }

    /// What ``makeODATA(_:)`` would put on the wire for `next`, without building it (allocating its options):
    /// ``nextDeadline`` asks after every turn.
    private func odataWireBytes(_ next: PendingTPDU) -> Int {
        var options = 0
        if next.fragment != nil { options += 16 }  // OPT_FRAGMENT
        if next.sequence == firstSequence { options += 4 }  // OPT_SYN
        if configuration.joinHistory != nil { options += 8 }  // OPT_JOIN
        options += Self.pgmccDataLength(configuration)
        if options > 0 { options += 4 }  // OPT_LENGTH
        return configuration.transport.wireLength(
            ofPGM: Packet.commonHeaderLength + 8 + options + next.payload.count, routerAlert: false)
    }

    /// A repair: the original payload and options (OPT_FRAGMENT, OPT_SYN, OPT_JOIN), the current trail.
    private func makeRDATA(_ sequence: SequenceNumber) -> Packet {
        let entry = window[sequence]
        var options = entry.options
        if let pgmcc = pgmccData() { options.append(pgmcc) }
        return Packet(
            tsi: configuration.tsi, dataDestinationPort: configuration.dataDestinationPort,
            body: .rdata(DataPacket(sequence: entry.sequence, trail: trail, payload: entry.payload)),
            options: options)
    }

    /// OPT_PGMCC_DATA: the send time and the acker (unspecified while electing), last in the option list.
    private func pgmccData() -> Option? {
        guard let congestion else { return nil }
        return Option(
            .pgmccData(
                timestamp: CongestionControl.timestamp(now),
                acker: congestion.ackerField(family: configuration.sourceAddress)))
    }

    private func makeODATA(_ next: PendingTPDU) -> Packet {
        var options: [Option] = []
        if let fragment = next.fragment { options.append(Option(.fragment(fragment))) }
        // RFC 3208 §9.6: OPT_SYN on the session's first ODATA (and its RDATA, which copies these options).
        if next.sequence == firstSequence { options.append(Option(.syn)) }
        if let join = joinMinimum(lead: next.sequence &- 1) { options.append(Option(.join(minimumSequence: join))) }
        if let pgmcc = pgmccData() { options.append(pgmcc) }
        let trail = window.isEmpty ? next.sequence : self.trail
        return Packet(
            tsi: configuration.tsi, dataDestinationPort: configuration.dataDestinationPort,
            body: .odata(DataPacket(sequence: next.sequence, trail: trail, payload: next.payload)),
            options: options)
    }

    private func wireBytes(_ packet: Packet, routerAlert: Bool) -> Int {
        configuration.transport.wireLength(ofPGM: packet.encodedLength, routerAlert: routerAlert)
    }

    private mutating func account(_ packet: Packet, routerAlert: Bool) {
        statistics.bytesSent += wireBytes(packet, routerAlert: routerAlert)
    }

    private mutating func push(_ event: Event) {
        if events.count >= Self.eventCapacity {
            events.removeFirst()
            statistics.eventsDropped += 1
        }
        events.append(event)
    }
}
