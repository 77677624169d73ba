import DequeModule
public import PGMWire

/// A PGM network element (router agent, RFC 3208 §7) for every session that crosses it, sans-IO.
///
/// Usage: after every ``receive(_:arrival:at:)`` or ``handleTimeout(at:)``, drain ``pollTransmit(at:)`` until
/// `nil`, then ``pollEvent()``, then wait until ``nextDeadline``. The element has several interfaces
/// (``Configuration/interfaces``); every ``Transmit`` names the one to send on.
///
/// What it does, per session (TSI):
/// - **SPM** (§7.1): an in-sequence SPM records the upstream interface and SPM_PATH (the upstream neighbour) and
///   is forwarded on every other interface with SPM_PATH rewritten to the element's address there.
/// - **ODATA** is forwarded from the upstream interface to every other one (with a configured upstream, also
///   before the session's first SPM, statelessly). Nothing is ever sent back out of the interface it came in
///   on, and nothing goes upstream but NAKs, NNAKs, SPMRs and POLRs.
/// - **NAK** (§7.2–§7.4), unicast to the element from downstream: an NCF at once, multicast on the NAK's
///   interface; repair state per sequence recording that interface; forwarded upstream (unicast to the
///   neighbour) unless every sequence is eliminated, repeated every NAK_RPT_RTE for up to NAK_RPT_IVL until
///   a matching NCF. NAK lists are forwarded whole when any listed sequence is not under elimination.
/// - **NCF** from upstream confirms (or anticipates, §7.5) and is never forwarded.
/// - **RDATA** (§7.8) goes only to interfaces holding repair state, which it then deletes; without state it is
///   dropped.
/// - **NNAK** (§9.5.3.2) is forwarded without confirmation, retries or interfaces: always when it comes from
///   the DLR, otherwise only for sequences without repair state.
/// - **SPMR** (Appendix C) from downstream is answered with the cached SPM (path rewritten, multicast on the
///   asking interface) when that SPM is fresh — younger than ``Configuration/spmrAnswerMaximumAge`` and no
///   ODATA newer than its lead seen — which shields the source from late joiners behind the element. Else a
///   unicast SPMR to the element is forwarded to the source; a stale-cache multicast copy is dropped, since
///   the requester's own unicast copy already goes to the source.
/// - **POLL** is never forwarded (§14.1). The element answers its parent's general polls as a PGM child
///   (§14.5) and ignores DLR polls (it is not a DLR). It polls its own downstream interfaces for off-tree DLRs
///   (``Configuration/dlrPollInterval``).
/// - **POLR** with OPT_REDIRECT teaches the session's DLR; see DLR redirection below. POLRs are never
///   forwarded.
/// - **OPT_CR** (Appendix B): see ``CongestionAggregate``; forwarded NAKs carry the worst report, and a NAK
///   that elimination would drop still goes when the report moved by more than 5 %.
/// - **NAK_BO_IVL** (Appendix E §15.2.1) is tuned per session and downstream interface from duplicate NAKs and
///   advertised in OPT_NAK_BO_IVL on NCFs and forwarded SPMs (``Configuration/backoffTuning``).
///
/// - **FEC** (Appendix A §11.6): proactive parity (ODATA with OPT_PARITY) is switched like ODATA; parity NAKs,
///   NCFs, NNAKs and on-demand parity RDATA keep repair state per (TSI, TG_SQN) with known packet counts, once
///   the session's SPMs gave k in OPT_PARITY_PRM (see `NetworkElement+Parity.swift`).
///
/// Not implemented: the broken-multicast procedures of §15.3 (DUP_NAK_MAX, unicast NCFs with OPT_NBR_UNREACH;
/// SPMs carrying it are forwarded but advertise no window), general polls to count children (§15.2.3), and NAK
/// shedding (§7.6, a MAY).
///
/// State is bounded: ``Configuration/maximumSessions``, ``Configuration/maximumRepairStatesPerSession``,
/// session expiry, and NAKs for sequences outside the source's advertised window are dropped before they make
/// state (a counter-measure to NAK storms, §7.2). Every packet not forwarded is counted in ``Statistics``.
///
/// Everything the element sends downstream claims the data source's network-layer address
/// (``Transmit/spoofedSource``): RFC 3208 §7.2 requires it for NCFs and §14.4 for POLLs, and a router
/// forwarding SPM, ODATA and RDATA does not change their source (receivers take NAK_SRC from it).
///
/// ## DLR redirection (RFC 3208 §9.5.3, Appendix D)
/// The element learns a DLR for a session from a redirecting POLR: a POLR (POLR_SQN / POLR_ROUND echoing the
/// element's DLR poll, or any values when unsolicited) carrying `OPT_REDIRECT(dlr unicast NLA)` and, if the
/// DLR can repair with parity, OPT_PARITY in the header. It is accepted
/// - on a downstream interface, unicast to the element's address on that interface (an off-tree DLR answering
///   the element's POLL with POLL_S_TYPE = PGM_POLL_DLR, §9.5.2.2), or
/// - on the upstream interface, multicast to the group with the data source's address (an upstream DLR
///   answering the NCF of the element's NAK, §9.5.2.1).
///
/// Later NAKs for the session go unicast to the DLR instead of upstream, except sequences the DLR's own
/// interface asked for or the DLR itself NAKed, which go upstream. From the DLR the element expects, per
/// redirected NAK:
/// 1. an NNAK for each sequence it will repair, unicast to the element (off-tree) — forwarded upstream at once
///    as flow-control feedback to the source;
/// 2. an NCF with the NAK's sequence (and OPT_NAK_LIST), unicast to the element (off-tree) or multicast on the
///    upstream link (upstream DLR) — it confirms the sequence and is never forwarded;
/// 3. RDATA exactly as the source would send it (same TSI, ports, sequence, options), unicast to the element
///    (off-tree) or multicast (upstream DLR) — forwarded, multicast with the source's address and Router Alert,
///    only to the interfaces holding repair state for it.
///
/// A DLR that cannot repair a sequence sends the NCF and then a NAK for it to the element (§9.5.2.2): the
/// element then sends that sequence upstream. A DLR that sends no NCF within NAK_RPT_IVL is dropped for the
/// session (``Event/repairerDropped(_:address:)``) and its pending sequences go upstream.
public struct NetworkElement: Engine {
    public let configuration: Configuration
    /// Counters, with the current worst OPT_CR report of every session.
    public var statistics: Statistics {
        var statistics = counters
        for (tsi, session) in sessions {
            if let report = session.congestion.current { statistics.worstCongestionReports[tsi] = report }
        }
        return statistics
    }

    /// The most events kept for an application that does not drain them.
    public static let eventCapacity = 1024

    var counters = Statistics()
    var sessions: [TSI: ElementSession] = [:]
    var outbound: Deque<Transmit> = []
    var events: Deque<Event> = []
    /// Every session timer and repair-state timer; a state's live entry is the one its `scheduled` names.
    var timers = DeadlineQueue<ElementTimer>()
    /// Timers queued so far: timers due together run in the order they were queued.
    var timerOrder: UInt64 = 0
    var random: SplitMix64
    /// RAND_NODE_ID (RFC 3208 §14.5), chosen at start.
    let nodeID: UInt32
    var now = Instant.zero
    /// The element's address on each interface, by ``InterfaceID``.
    let addresses: [InterfaceID: NLA]
    /// Locally measured loss per interface on the 0xFFFF scale, for OPT_CR's NE_WL and NE_WP.
    var interfaceLoads: [InterfaceID: UInt16] = [:]

    public init(configuration: Configuration) {
        precondition(!configuration.interfaces.isEmpty, "a network element needs interfaces")
        precondition(
            Set(configuration.interfaces.map(\.id)).count == configuration.interfaces.count, "duplicate interface")
        if let upstream = configuration.upstream {
            precondition(configuration.interfaces.contains { $0.id == upstream }, "upstream is not an interface")
        }
        precondition(configuration.maximumSessions > 0 && configuration.maximumRepairStatesPerSession > 0)
        do { try configuration.validate() } catch { preconditionFailure("\(error)") }
        self.configuration = configuration
        var random = SplitMix64(seed: configuration.seed)
        nodeID = UInt32(truncatingIfNeeded: random.next())
        self.random = random
        addresses = Dictionary(configuration.interfaces.map { ($0.id, $0.address) }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: Inspection

    /// Sessions currently tracked.
    public var sessionCount: Int { sessions.count }
    /// Repair states held over all sessions, selective and parity.
    public var repairStateCount: Int { holdings.repairStates }
    /// RDATA copies kept over all sessions, selective and parity (``Configuration/repairCacheLifetime``).
    public var repairCopyCount: Int { holdings.repairCopies }
    /// What all sessions hold, kept in step by ``withSession(_:_:)`` and by sessions coming and going.
    private var holdings = ElementSession.Holdings()
    /// The upstream interface and neighbour of `tsi`, once an SPM was seen.
    public func upstream(of tsi: TSI) -> (interface: InterfaceID, neighbor: NLA)? {
        sessions[tsi].map { ($0.upstream, $0.neighbor) }
    }
    /// The interfaces holding repair state for `sequence` of `tsi`, in the order they asked.
    public func repairInterfaces(_ tsi: TSI, _ sequence: SequenceNumber) -> [InterfaceID]? {
        sessions[tsi]?.repairs[sequence].map { $0.requesters.map(\.interface) }
    }
    /// The DLR NAKs of `tsi` are redirected to.
    public func repairer(of tsi: TSI) -> NLA? { sessions[tsi]?.repairer?.address }
    /// The OPT_CR report of `tsi` as forwarded NAKs carry it.
    public func congestionReport(of tsi: TSI) -> Option.CongestionReport? { sessions[tsi]?.congestion.current }

    /// A local measurement of the loss on `interface` (the share of packets meant for it that were dropped,
    /// 0xFFFF = 100 %), used for OPT_CR's NE_WL and NE_WP (RFC 3208 Appendix B §12.6.2). A user-space element
    /// cannot see such drops itself; a driver that can, reports them here. Unreported interfaces count as 0.
    public mutating func reportInterfaceLoad(_ load: UInt16, on interface: InterfaceID) {
        interfaceLoads[interface] = load
    }

    public mutating func pollEvent() -> Event? { events.popFirst() }

    // MARK: Engine

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        advanceClock(to: now)
        counters.packetsReceived += 1
        guard addresses[arrival.interface] != nil else {
            counters.foreignPacketsDropped += 1
            return
        }
        switch packet.body {
        case .spm(let spm): receiveSPM(spm, packet: packet, arrival: arrival)
        case .odata(let data): receiveODATA(data, packet: packet, arrival: arrival)
        case .rdata(let data): receiveRDATA(data, packet: packet, arrival: arrival)
        case .nak(let nak): receiveNAK(nak, packet: packet, arrival: arrival)
        case .nnak(let nak): receiveNNAK(nak, packet: packet, arrival: arrival)
        case .ncf(let ncf): receiveNCF(ncf, packet: packet, arrival: arrival)
        case .spmr: receiveSPMR(packet: packet, arrival: arrival)
        case .poll(let poll): receivePOLL(poll, packet: packet, arrival: arrival)
        case .polr: receivePOLR(packet: packet, arrival: arrival)
        case .ack: receiveACK(packet: packet, arrival: arrival)
        }
        compactTimers()
    }

    public mutating func handleTimeout(at now: Instant) {
        advanceClock(to: now)
        // Collect everything due first, so that repeats of one session leave as one NAK list.
        var dueRepairs: [(tsi: TSI, sequences: [SequenceNumber])] = []
        var dueIndex: [TSI: Int] = [:]
        var dueSessions: [TSI] = []
        var dueParity: [(tsi: TSI, group: SequenceNumber)] = []
        while let entry = timers.popDue(at: now) {
            let timer = entry.key
            // In place through the dictionaries: no copy of a session's repair states per timer.
            if let group = timer.sequence, timer.parity {
                guard sessions[timer.tsi]?.parityRepairs[group]?.scheduled == entry.deadline else { continue }
                sessions[timer.tsi]?.parityRepairs[group]?.scheduled = nil
                dueParity.append((timer.tsi, group))
            } else if let sequence = timer.sequence {
                guard sessions[timer.tsi]?.repairs[sequence]?.scheduled == entry.deadline else { continue }
                sessions[timer.tsi]?.repairs[sequence]?.scheduled = nil
                if let index = dueIndex[timer.tsi] {
                    dueRepairs[index].sequences.append(sequence)
                } else {
                    dueIndex[timer.tsi] = dueRepairs.count
                    dueRepairs.append((timer.tsi, [sequence]))
                }
            } else {
                guard sessions[timer.tsi]?.scheduled == entry.deadline else { continue }
                sessions[timer.tsi]?.scheduled = nil
                dueSessions.append(timer.tsi)
            }
        }
        for due in dueRepairs { runRepairTimers(due.tsi, due.sequences) }
        for due in dueParity { runParityTimer(due.tsi, due.group) }
        for tsi in dueSessions { runSessionTimer(tsi) }
        compactTimers()
    }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        advanceClock(to: now)
        return outbound.popFirst()
    }

    public var nextDeadline: Instant? {
        if !outbound.isEmpty { return now }
        return timers.first?.deadline
    }

    // MARK: Sessions and SPMs (§7.1)

    private mutating func receiveSPM(_ spm: SPM, packet: Packet, arrival: Arrival) {
        let tsi = packet.tsi
        if let accepted = withSession(tsi, { $0.receiveSPM(spm, packet: packet, arrival: arrival, in: &$1) }) {
            guard accepted else { return }
        } else {
            if let upstream = configuration.upstream, arrival.interface != upstream {
                counters.spmsFromDownstreamDropped += 1
                return
            }
            guard sessions.count < configuration.maximumSessions else {
                counters.sessionsRejected += 1
                return
            }
            var session = ElementSession(
                tsi: tsi, dataDestinationPort: packet.dataDestinationPort, source: arrival.source,
                group: arrival.destination, upstream: arrival.interface, neighbor: spm.path,
                spmSequence: spm.sequence, cachedSPM: packet, cachedSPMAt: now, lastHeard: now,
                repairCapacity: configuration.maximumRepairStatesPerSession)
            if Self.carriesWindow(spm, options: packet.options) { session.advertise(trail: spm.trail, lead: spm.lead) }
            if configuration.dlrPollInterval != nil && configuration.interfaces.count > 1 { session.nextDLRPoll = now }
            addSession(session)
            counters.sessionsLearned += 1
            push(.sessionLearned(tsi, upstream: arrival.interface, neighbor: spm.path))
        }
        for option in packet.options {
            if case .nakBackoffRange(let maximum, let minimum) = option.value, minimum <= maximum, maximum > 0 {
                sessions[tsi]?.backoffRange = (.microseconds(Int64(minimum)), .microseconds(Int64(maximum)))
            }
        }
        withSession(tsi) { $0.learnParity(spm, options: packet.options, in: &$1) }
        armSession(tsi)
        guard let options = forwardableOptions(packet.options), let session = sessions[tsi] else { return }
        for interface in configuration.interfaces where interface.id != arrival.interface {
            sendDownstream(
                spmCopy(packet, spm, options: options, for: interface, session: session), on: interface.id,
                session: session)
            counters.spmsForwarded += 1
        }
    }

    /// An SPM of a known session by its path (RFC 3208 §7.1, §10): in sequence, it records the source's window and
    /// the SPM SPMRs are answered with. One by another path (interface, network-layer source or SPM_PATH) is a
    /// candidate that replaces the path only by `PathDamping`'s rule; until then it is dropped and counted. With
    /// OPT_NBR_UNREACH it is forwarded (its SPM_SQN may repeat the last one) when SPM_PATH is the current parent,
    /// and NAKs then wait for a regular SPM; otherwise it is ignored (§15.3.2). Returns whether it is forwarded.
    private mutating func receiveSPM(
        _ spm: SPM, packet: Packet, arrival: Arrival, in session: inout ElementSession
    ) -> Bool {
        guard packet.dataDestinationPort == session.dataDestinationPort else {
            counters.foreignPacketsDropped += 1
            return false
        }
        if let upstream = configuration.upstream, arrival.interface != upstream {
            // Never a path: a stranger's claim when from an address off the session's path.
            if !offPath(&session, arrival) { counters.spmsFromDownstreamDropped += 1 }
            return false
        }
        let path = ElementPath(sender: arrival.source, interface: arrival.interface, path: spm.path)
        let onPath = path == ElementPath(sender: session.source, interface: session.upstream, path: session.neighbor)
        if packet.options.contains(where: { $0.value == .neighborUnreachable }) {
            guard onPath else {
                if offPath(&session, arrival) { return false }
                counters.neighborUnreachableIgnored += 1
                return false
            }
            guard !spm.sequence.precedes(session.spmSequence) else {
                counters.spmsStaleDropped += 1
                return false
            }
            session.neighborUnreachable = true
            session.lastHeard = now
            return true
        }
        if onPath {
            guard session.spmSequence.precedes(spm.sequence) else {
                counters.spmsStaleDropped += 1
                return false
            }
        } else {
            let rule = PathDamping<ElementPath>.Rule(
                spms: configuration.pathChangeSPMs, silence: configuration.pathChangeSilence)
            guard
                session.damping.offer(
                    path, sequence: spm.sequence, sameAddress: arrival.source == session.source,
                    lastHeard: session.lastHeard, at: now, rule: rule)
            else {
                dropOffPath(&session, from: arrival.source)
                return false
            }
            session.upstream = arrival.interface
            session.neighbor = spm.path
            session.source = arrival.source
            session.leadClaim = nil
            counters.upstreamChanges += 1
            push(.upstreamChanged(session.tsi, upstream: arrival.interface, neighbor: spm.path))
        }
        session.damping.heardSPM(at: now)
        session.neighborUnreachable = false
        session.spmSequence = spm.sequence
        session.group = arrival.destination
        session.lastHeard = now
        // §8.1: an SPM without a window is forwarded but teaches no window, nor answers SPMRs.
        if Self.carriesWindow(spm, options: packet.options) {
            session.cachedSPM = packet
            session.cachedSPMAt = now
            session.advertise(trail: spm.trail, lead: spm.lead)
        }
        return true
    }

    /// A packet of `session` from `address`, off its path (RFC 3208 §10): counted for the session and the
    /// element, and reported at most once per ``Configuration/offPathReportInterval``.
    mutating func dropOffPath(_ session: inout ElementSession, from address: NLA) {
        counters.offPathDropped += 1
        session.offPathDropped += 1
        if let reported = session.offPathReportedAt, now - reported < configuration.offPathReportInterval { return }
        session.offPathReportedAt = now
        push(.offPathPackets(session.tsi, from: address, dropped: session.offPathDropped))
    }

    /// Whether a packet of `session` from `arrival` comes off its path: not from its SPMs' source or SPM_PATH (nor
    /// `also`, the DLR where it may send), and not the element's own. Counts it when it does.
    mutating func offPath(_ session: inout ElementSession, _ arrival: Arrival, also: NLA? = nil) -> Bool {
        let address = arrival.source
        if session.admits(address) || address == also || addresses.values.contains(address) { return false }
        dropOffPath(&session, from: address)
        return true
    }

    /// An SPM as the element sends it on `interface` (§7.1): SPM_PATH rewritten to its address there, and the
    /// parent's OPT_NAK_BO_IVL replaced by this interface's NAK_BO_IVL, or removed when tuning is off (§15.2.1).
    func spmCopy(
        _ packet: Packet, _ spm: SPM, options: [Option], for interface: Interface, session: ElementSession
    ) -> Packet {
        var copy = packet
        copy.body = .spm(SPM(sequence: spm.sequence, trail: spm.trail, lead: spm.lead, path: interface.address))
        copy.options = options.filter {
            if case .nakBackoffInterval = $0.value { false } else { true }
        }
        if let tuning = configuration.backoffTuning, copy.options.count < Option.maximumCount {
            let interval = session.backoff(on: interface.id, tuning: tuning, floor: backoffFloor)
            copy.options.append(NAKBackoffTuning.option(interval))
        }
        copy.flags = copy.flags.subtracting(.network).union(.required(by: copy.options))
        return copy
    }

    /// RFC 3208 §8.1: trail 0 with lead 0x80000000 means "no window information" (also OPT_NBR_UNREACH SPMs,
    /// §15.3).
    static func carriesWindow(_ spm: SPM, options: [Option]) -> Bool {
        if spm.trail.rawValue == 0 && spm.lead.rawValue == 0x8000_0000 { return false }
        return !options.contains { $0.value == .neighborUnreachable }
    }

    private mutating func receiveODATA(_ data: DataPacket, packet: Packet, arrival: Arrival) {
        let tsi = packet.tsi
        if sessions[tsi] == nil, let upstream = configuration.upstream, arrival.interface == upstream {
            // A fixed upstream needs no state to forward data: after a restart, or before a session's first SPM,
            // receivers keep getting data (and ask the source for an SPM, RFC 3208 Appendix C).
            guard let options = forwardableOptions(packet.options) else { return }
            var copy = packet
            copy.options = options
            for interface in configuration.interfaces where interface.id != arrival.interface {
                outbound.append(
                    Transmit(
                        packet: copy, destination: .multicast(arrival.destination), interface: interface.id,
                        spoofedSource: arrival.source))
            }
            counters.odataForwarded += 1
            counters.dataBytesForwarded += data.payload.count
            if packet.flags.contains(.parity) { counters.parityODATAForwarded += 1 }
            return
        }
        var offPath = false
        let fromUpstream = withSession(tsi) { element, session in
            offPath = element.offPath(&session, arrival)
            return arrival.interface == session.upstream && packet.dataDestinationPort == session.dataDestinationPort
        }
        guard !offPath else { return }
        guard fromUpstream == true else {
            counters.odataDropped += 1
            return
        }
        guard let options = forwardableOptions(packet.options) else { return }
        // Proactive parity is switched like data (RFC 3208 §11.6), but its SQN is TG_SQN | parity index, not a data
        // sequence: it neither advertises the window nor takes part in loss detection.
        let parity = packet.flags.contains(.parity)
        withSession(tsi) { element, session in
            session.lastHeard = element.now
            if !parity && data.trail.precedesOrEquals(data.sequence) {
                session.advertise(trail: data.trail, lead: data.sequence)
            }
        }
        var copy = packet
        copy.options = options
        for interface in configuration.interfaces where interface.id != arrival.interface {
            sendDownstream(copy, on: interface.id, of: tsi)
        }
        counters.odataForwarded += 1
        counters.dataBytesForwarded += data.payload.count
        if parity {
            counters.parityODATAForwarded += 1
        } else {
            detectLoss(tsi, before: data.sequence)
        }
    }

    private mutating func runSessionTimer(_ tsi: TSI) {
        guard let lastHeard = sessions[tsi]?.lastHeard else { return }
        if lastHeard + configuration.sessionExpiry <= now {
            removeSession(tsi)
            counters.sessionsExpired += 1
            push(.sessionExpired(tsi))
            return
        }
        withSession(tsi) { element, session in
            if let reply = session.pendingPOLR, reply.due <= element.now {
                session.pendingPOLR = nil
                element.outbound.append(reply.transmit)
                element.counters.polrsSent += 1
            }
            if let due = session.nextDLRPoll, due <= element.now, let interval = element.configuration.dlrPollInterval {
                session.nextDLRPoll = element.now + interval
                element.sendDLRPolls(&session)
            }
        }
        armSession(tsi)
    }

    // MARK: Loss above the element

    /// NAK_BO_IVL is never advertised below this: twice the element's own loss-detection back-off, so that its
    /// NCF for a loss it detected reaches receivers below before they NAK.
    var backoffFloor: Duration { (configuration.lossDetectionBackoff ?? .zero) * 2 }

    /// Interfaces ODATA of `session` goes to.
    func downstreamInterfaces(of session: ElementSession) -> [InterfaceID] {
        configuration.interfaces.map(\.id).filter { $0 != session.upstream }
    }

    /// Notes ODATA `sequence` of `tsi` (already forwarded): sequences it skips past the highest one forwarded are
    /// missing here, hence on every downstream interface. Each gets repair state listing all of them and a short
    /// random back-off before the element asks upstream (``Configuration/lossDetectionBackoff``); a late ODATA
    /// filling a gap not yet asked for cancels that state (reordering).
    ///
    /// Not in a session whose SPMs advertised OPT_PARITY_PRM: its receivers recover with parity (proactive, or
    /// asked for with parity NAKs), and a source answers a selective NAK for a full transmission group with
    /// on-demand parity (RFC 3208 §11.1), which the element must then discard for want of parity state (§11.6).
    private mutating func detectLoss(_ tsi: TSI, before sequence: SequenceNumber) {
        guard let backoff = configuration.lossDetectionBackoff else { return }
        withSession(tsi) { element, session in
            guard session.parityGroupSize == nil else { return }
            element.detectLoss(before: sequence, backoff: backoff, in: &session)
        }
    }

    private mutating func detectLoss(
        before sequence: SequenceNumber, backoff: Duration, in session: inout ElementSession
    ) {
        guard let highest = session.odataLead else {
            session.odataLead = sequence
            return
        }
        let distance = highest.distance(to: sequence)
        if distance <= 0 {
            if let repair = session.repairs[sequence], repair.detectedAt != nil, case .detected = repair.phase {
                session.repairs[sequence] = nil
                counters.detectedLossesFilledLate += 1
            }
            return
        }
        session.odataLead = sequence
        guard distance > 1 else { return }
        guard Int(distance) - 1 <= configuration.maximumDetectedGap else {
            counters.odataGapsNotTracked += 1
            return
        }
        let downstream = downstreamInterfaces(of: session)
        // One back-off for the whole gap: its sequences leave in one NAK list.
        let due = now + randomDelay(backoff)
        var confirmed: [SequenceNumber] = []
        var missing = highest &+ 1
        while missing != sequence {
            defer { missing = missing &+ 1 }
            guard session.inWindow(missing) else { continue }
            var repair: RepairState
            if let existing = session.repairs[missing] {
                repair = existing
                if case .nullNAK = repair.phase { repair.phase = .detected(due: due) }
            } else {
                guard !session.repairsFull else {
                    counters.repairStatesRejected += 1
                    continue
                }
                repair = RepairState(phase: .detected(due: due))
            }
            for interface in downstream { repair.addDetected(interface) }
            repair.detectedAt = now
            repair.retryAnchor = repair.retryAnchor ?? now
            repair.confirmsDownstream = true
            counters.lossesDetected += 1
            switch repair.phase {
            case .detected, .nullNAK: break
            case .pending, .outstanding: confirmed.append(missing)  // asked for already: confirm below at once
            }
            session.repairs[missing] = repair
            armRepair(&session, missing)
        }
        confirmDownstream(&session, confirmed)
    }

    /// Multicasts an NCF for each sequence on the downstream interfaces its own loss detection added (once per
    /// state), listing the sequences per interface: receivers there back off no further (RFC 3208 §6.3). Called
    /// once the element has asked upstream, or an NCF from upstream announced the repair.
    mutating func confirmDownstream(
        _ session: inout ElementSession, _ sequences: [SequenceNumber], except: InterfaceID? = nil
    ) {
        var byInterface: [(interface: InterfaceID, sequences: [SequenceNumber])] = []
        for sequence in sequences {
            guard var repair = session.repairs[sequence], repair.confirmsDownstream else { continue }
            repair.confirmsDownstream = false
            session.repairs[sequence] = repair
            for interface in repair.detectionInterfaces where interface != except {
                if let index = byInterface.firstIndex(where: { $0.interface == interface }) {
                    byInterface[index].sequences.append(sequence)
                } else {
                    byInterface.append((interface, [sequence]))
                }
            }
        }
        for (interface, sequences) in byInterface {
            sendNCFs(session, session.ordered(sequences), on: interface)
            counters.detectedLossesConfirmedDownstream += sequences.count
        }
    }

    /// Uniform in (0, `interval`].
    mutating func randomDelay(_ interval: Duration) -> Duration {
        let span = UInt64(max(1, interval.totalNanoseconds))
        return Duration(nanoseconds: Int64(random.bounded(span)) + 1)
    }

    // MARK: Output helpers

    /// A packet of `tsi` going down `interface`: multicast to the group, claiming the source's address, with
    /// Router Alert where RFC 3208 §4 asks for it.
    mutating func sendDownstream(_ packet: Packet, on interface: InterfaceID, of tsi: TSI) {
        guard let session = sessions[tsi] else { return }
        sendDownstream(packet, on: interface, session: session)
    }

    mutating func sendDownstream(_ packet: Packet, on interface: InterfaceID, session: ElementSession) {
        outbound.append(
            Transmit(
                packet: packet, destination: .multicast(session.group), interface: interface,
                routerAlert: Transmit.needsRouterAlert(packet.body.type), spoofedSource: session.source))
    }

    /// RFC 3208 §9, OPX of options the element does not know: keep (00), turn into OPT_INVALID (01), or drop
    /// the packet (10, `nil`). Options the codec decodes are known.
    /// A PGMCC ACK from below goes on upstream as it came, like a NAK would (draft-ietf-rmt-bb-pgmcc-03 §6:
    /// elements forward ACKs towards the source), with its feedback intact.
    private mutating func receiveACK(packet: Packet, arrival: Arrival) {
        guard let session = sessions[packet.tsi], arrival.interface != session.upstream,
            !session.neighborUnreachable
        else {
            counters.foreignPacketsDropped += 1
            return
        }
        guard let options = forwardableOptions(packet.options) else { return }
        var copy = packet
        copy.options = options
        outbound.append(Transmit(packet: copy, destination: .unicast(session.neighbor), interface: session.upstream))
        counters.acksForwarded += 1
    }

    mutating func forwardableOptions(_ options: [Option]) -> [Option]? {
        var result = options
        for index in result.indices {
            guard case .unknown(let type, let body) = result[index].value, type != Option.TypeCode.invalid else {
                continue
            }
            switch result[index].flags.unknownOptionAction {
            case Option.Flags.opxDiscard:
                counters.packetsDiscardedByOption += 1
                return nil
            case Option.Flags.opxInvalidate:
                result[index].value = .unknown(type: Option.TypeCode.invalid, body: body)
                counters.optionsInvalidated += 1
            default:
                continue
            }
        }
        return result
    }

    mutating func push(_ event: Event) {
        if events.count >= Self.eventCapacity { events.removeFirst() }
        events.append(event)
    }

    // MARK: Timers

    private mutating func advanceClock(to now: Instant) {
        precondition(now >= self.now, "time went backwards: \(now) < \(self.now)")
        self.now = now
    }

    // MARK: Sessions

    /// Runs `body` on the session of `tsi`, taken out of ``sessions`` meanwhile: changing a copy the dictionary
    /// still shares would copy every repair state and kept repair of the session (copy on write), once per packet.
    /// The element-wide counts follow the session's when it goes back. Returns `nil` when there is no such session.
    /// `body` gets the element too, to send and count; it must not look the session up in ``sessions``.
    @discardableResult
    mutating func withSession<Result>(
        _ tsi: TSI, _ body: (inout NetworkElement, inout ElementSession) -> Result
    ) -> Result? {
        guard var session = sessions.removeValue(forKey: tsi) else { return nil }
        let before = session.holdings
        defer {
            recount(from: before, to: session.holdings)
            sessions[tsi] = session
        }
        return body(&self, &session)
    }

    private mutating func addSession(_ session: ElementSession) {
        precondition(sessions[session.tsi] == nil, "session \(session.tsi) is known already")
        sessions[session.tsi] = session
        recount(from: ElementSession.Holdings(), to: session.holdings)
    }

    /// Forgets a session and everything it held.
    private mutating func removeSession(_ tsi: TSI) {
        guard let session = sessions.removeValue(forKey: tsi) else { return }
        recount(from: session.holdings, to: ElementSession.Holdings())
    }

    /// The one place the element-wide counts change: a session's holdings went from `old` to `new`.
    private mutating func recount(from old: ElementSession.Holdings, to new: ElementSession.Holdings) {
        holdings.repairStates += new.repairStates - old.repairStates
        holdings.repairCopies += new.repairCopies - old.repairCopies
    }

    /// Queues a timer for the repair state of `sequence` unless one at or before its deadline is queued.
    /// Timers whose deadline no longer matches the state's `scheduled` are skipped when they fire, so
    /// postponing a deadline costs nothing and the heap holds at most one live entry per state.
    mutating func armRepair(_ session: inout ElementSession, _ sequence: SequenceNumber) {
        guard let deadline = session.repairs[sequence]?.deadline else { return }
        if let scheduled = session.repairs[sequence]?.scheduled, scheduled <= deadline { return }
        session.repairs[sequence]?.scheduled = deadline
        enqueue(session.tsi, sequence, at: deadline)
    }

    mutating func armSession(_ tsi: TSI) {
        guard let session = sessions[tsi] else { return }
        let deadline = session.deadline(expiry: configuration.sessionExpiry)
        if let scheduled = session.scheduled, scheduled <= deadline { return }
        sessions[tsi]?.scheduled = deadline
        enqueue(tsi, nil, at: deadline)
    }

    /// ``armRepair(_:_:)`` for the parity state of transmission group `group`.
    mutating func armParityRepair(_ session: inout ElementSession, _ group: SequenceNumber) {
        guard let deadline = session.parityRepairs[group]?.deadline else { return }
        if let scheduled = session.parityRepairs[group]?.scheduled, scheduled <= deadline { return }
        session.parityRepairs[group]?.scheduled = deadline
        enqueue(session.tsi, group, at: deadline, parity: true)
    }

    private mutating func enqueue(_ tsi: TSI, _ sequence: SequenceNumber?, at deadline: Instant, parity: Bool = false) {
        timerOrder &+= 1
        timers.schedule(
            ElementTimer(order: timerOrder, tsi: tsi, sequence: sequence, parity: parity), at: deadline)
    }

    /// Entries of deleted or rescheduled state are skipped lazily; when they pile up (a flood of short-lived
    /// state), drop them, keeping the survivors' order so runs stay deterministic. Runs at the end of each
    /// input, when no session is checked out.
    private mutating func compactTimers() {
        let sessions = self.sessions
        timers.compact(above: 4 * (sessions.count + repairStateCount) + 1024) { entry in
            guard let session = sessions[entry.key.tsi] else { return false }
            guard let sequence = entry.key.sequence else { return session.scheduled == entry.deadline }
            if entry.key.parity { return session.parityRepairs[sequence]?.scheduled == entry.deadline }
            return session.repairs[sequence]?.scheduled == entry.deadline
        }
    }
}

/// A timer of a session (`sequence == nil`) or of one repair state, numbered in the order it was queued: timers
/// due at the same instant run in that order. `parity`: `sequence` is the TG_SQN of a parity repair state.
struct ElementTimer: Comparable {
    var order: UInt64
    var tsi: TSI
    var sequence: SequenceNumber?
    var parity = false

    static func < (lhs: ElementTimer, rhs: ElementTimer) -> Bool { lhs.order < rhs.order }
}
