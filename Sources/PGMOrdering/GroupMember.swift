/// One member of an ordered group, sans-IO (Docs/ordering.md): frames in (``receive(frame:from:at:)``), frames
/// out (``pollFrame()``), events out (``pollEvent()``), time injected. The driver gives it every other member's
/// APDUs in that member's order (PGM's per-sender FIFO) and tells it, with ``memberLost(_:reason:at:)``, when PGM
/// gave up on a member's session.
///
/// A member hears itself without the network: the frames it queues are applied to its own state at once (its
/// DATA is held and ordered like anyone's, its strategy's controls go back into its strategy, its FLUSH counts
/// as its own report).
public struct GroupMember {
    public struct Configuration: Sendable {
        public var me: MemberID
        public var name: String
        public var mode: OrderingMode
        public var safe = false
        /// `--members N`: the group forms when these many members know each other (Docs/ordering.md#formation).
        public var expectedMembers: Int? = nil
        public var helloInterval = Duration.milliseconds(100)
        /// Without `expectedMembers`: how long the known set must stay the same before the group forms.
        public var formationQuiet = Duration.seconds(1)
        /// ACKs are cumulative and sent at most this often while they change.
        public var ackInterval = Duration.milliseconds(5)
        /// Delivered messages kept for relays at most (Docs/ordering.md#view-changes).
        public var relayLogLimit = 100_000
        public var maximumPayload = 1 << 20

        public init(me: MemberID, name: String, mode: OrderingMode) {
            self.me = me
            self.name = name
            self.mode = mode
        }
    }

    public enum SubmitError: Error, Equatable, Sendable { case finished, excluded, tooLarge(Int) }
    public enum LossReason: Sendable, Equatable { case expired, reset, unrecoverable, closedWithoutDone }

    enum Phase { case forming, member, excluded }

    /// A message held (received or submitted) and not delivered yet.
    struct Held {
        var dependencies: [MemberID: UInt64]
        var payload: [UInt8]
    }

    /// A delivered message kept for relays until every member has it.
    struct LogEntry {
        var id: MessageID
        var global: UInt64
        var dependencies: [MemberID: UInt64]
        var payload: [UInt8]
    }

    /// A view change in progress (Docs/ordering.md#view-changes).
    struct FlushState {
        var view: UInt32
        var removed: Set<MemberID>
        /// The latest FLUSH of each member (mine included).
        var reports: [MemberID: Frame.Flush] = [:]
        /// Relayed entries for this flush: by global sequence (total modes) or by id (fifo, causal).
        var relayedByGlobal: [UInt64: Frame.Relay.Entry] = [:]
        var relayedByID: [MessageID: Frame.Relay.Entry] = [:]
        var relaySent = false
    }

    let configuration: Configuration
    var me: MemberID { configuration.me }
    var mode: OrderingMode { configuration.mode }
    var phase = Phase.forming

    // Formation.
    var heard: [MemberID: Frame.Hello] = [:]
    var incompatibleMembers: Set<MemberID> = []
    var lateSeen: Set<MemberID> = []
    var knownChangedAt: Duration
    var lastHelloKnown: [MemberID] = []
    var nextHelloAt: Duration
    /// Frames of known members that came before I formed (their sender formed first), replayed when I form.
    var early: [(sender: MemberID, frame: Frame)] = []

    // The view.
    var currentView: GroupView?
    var strategy: (any TotalOrderStrategy)?
    var names: [MemberID: String] = [:]
    var receivedThrough: [MemberID: UInt64] = [:]
    var delivered: [MemberID: UInt64] = [:]
    var deliveredCount: UInt64 = 0
    var held: [MessageID: Held] = [:]
    /// Total modes: the strategy's order, not delivered yet.
    var ordered: [(id: MessageID, global: UInt64)] = []
    var orderedHead = 0
    /// Removed members whose messages up to this sequence are still to be delivered (fifo, causal).
    var cuts: [MemberID: UInt64] = [:]
    var acknowledged: [MemberID: [MemberID: UInt64]] = [:]
    var acknowledgedDelivered: [MemberID: UInt64] = [:]
    /// The view each member's latest ACK came from: once every member acknowledged from a view that removed
    /// someone, every member settled that member's messages.
    var acknowledgedView: [MemberID: UInt32] = [:]
    /// The view that removed each removed member.
    var removedAt: [MemberID: UInt32] = [:]
    var doneAt: [MemberID: UInt64] = [:]
    var flush: FlushState?
    /// The removed set of each view number I proposed since my last installed view: a member that installed one
    /// of them names removals relative to it (Docs/ordering.md#view-changes).
    var proposals: [UInt32: Set<MemberID>] = [:]
    /// Frames of a view I have not installed yet.
    var future: [(sender: MemberID, frame: Frame)] = []

    // My messages.
    var nextSequence: UInt64 = 1
    var unsent: [(sequence: UInt64, payload: [UInt8])] = []
    var finishing = false
    var doneSent = false
    var leaving = false
    var reportedStable: UInt64 = 0

    // ACKs.
    var ackDirty = false
    /// What I or the others hold or delivered changed: stability and the relay log are looked at again.
    var countsChanged = false
    var lastAckAt: Duration?

    // Relay log.
    var log: [LogEntry] = []
    var logHead = 0

    // Outputs.
    var outbox: [[UInt8]] = []
    var outboxHead = 0
    var events: [GroupEvent] = []
    var eventsHead = 0
    var stats = GroupStatistics()
    var finishedRaised = false

    /// Frames held (early or future) at most; beyond, they are dropped and counted.
    var heldFrameLimit: Int { max(1024, configuration.relayLogLimit) }

    public init(configuration: Configuration, at now: Duration) {
        self.configuration = configuration
        knownChangedAt = now
        nextHelloAt = now
        names[configuration.me] = configuration.name
        service(at: now)
    }

    // MARK: - Public surface

    /// Queues a message (held until the group formed); returns its id.
    public mutating func submit(_ payload: some Collection<UInt8>, at now: Duration) throws(SubmitError)
        -> MessageID
    {
        guard phase != .excluded, !leaving else { throw .excluded }
        guard !finishing else { throw .finished }
        guard payload.count <= configuration.maximumPayload else { throw .tooLarge(payload.count) }
        let sequence = nextSequence
        nextSequence += 1
        unsent.append((sequence, Array(payload)))
        service(at: now)
        return MessageID(sender: me, sequence: sequence)
    }

    /// DONE: no more messages from me; I stay until the group ends (Docs/ordering.md#the-end).
    public mutating func finish(at now: Duration) {
        finishing = true
        service(at: now)
    }

    /// LEAVE: the others remove me with a view change; ``GroupEvent/excluded`` tells me it happened. Before the
    /// group formed there is nobody to tell, so I am out at once.
    public mutating func leave(at now: Duration) {
        guard phase != .excluded, !leaving else { return }
        leaving = true
        finishing = true
        if phase == .forming || currentView?.members == [me] {
            exclude()
            return
        }
        // What waits unsent is dropped: the others remove me at the cut of what I sent.
        queue(.leave(lastSequence: nextSequence - 1 - UInt64(unsent.count)))
        unsent.removeAll()
        service(at: now)
    }

    public mutating func receive(frame bytes: ArraySlice<UInt8>, from sender: MemberID, at now: Duration) {
        stats.framesReceived += 1
        guard sender != me else { return }  // I hear myself without the network
        let frame: Frame
        do { frame = try Frame(decoding: bytes) } catch {
            stats.malformedFrames += 1
            return
        }
        guard phase != .excluded else { return }
        guard !incompatibleMembers.contains(sender) else {
            stats.incompatibleFrames += 1
            return
        }
        if case .hello(let hello) = frame.body {
            handleHello(hello, from: sender, at: now)
        } else if phase == .forming {
            if heard[sender] != nil, early.count < heldFrameLimit {
                stats.heldFrames += 1
                early.append((sender, frame))
            } else if heard[sender] != nil {
                stats.heldFramesDropped += 1
            } else {
                stats.nonMemberFrames += 1
            }
        } else if let view = currentView, view.members.contains(sender),
            !(flush?.removed.contains(sender) ?? false)
        {
            handle(frame, from: sender, at: now)
        } else {
            stats.nonMemberFrames += 1
        }
        service(at: now)
    }

    /// PGM says the member's session is gone or damaged: starts (or joins) a view change removing it.
    public mutating func memberLost(_ member: MemberID, reason: LossReason, at now: Duration) {
        guard member != me else { return }
        switch phase {
        case .excluded:
            return
        case .forming:
            if heard.removeValue(forKey: member) != nil {
                knownChangedAt = now
                early.removeAll { $0.sender == member }
                sendHello(at: now)
            }
        case .member:
            remove([member], at: now)
        }
        service(at: now)
    }

    public mutating func advance(to now: Duration) { service(at: now) }

    /// The next APDU to send in my PGM session.
    public mutating func pollFrame() -> [UInt8]? {
        guard outboxHead < outbox.count else { return nil }
        defer {
            outboxHead += 1
            if outboxHead == outbox.count {
                outbox.removeAll(keepingCapacity: true)
                outboxHead = 0
            }
        }
        return outbox[outboxHead]
    }

    public mutating func pollEvent() -> GroupEvent? {
        guard eventsHead < events.count else { return nil }
        defer {
            eventsHead += 1
            if eventsHead == events.count {
                events.removeAll(keepingCapacity: true)
                eventsHead = 0
            }
        }
        return events[eventsHead]
    }

    public var nextDeadline: Duration? {
        switch phase {
        case .excluded:
            return nil
        case .forming:
            let quiet = configuration.expectedMembers == nil ? knownChangedAt + configuration.formationQuiet : nil
            return [nextHelloAt, quiet].compactMap { $0 }.min()
        case .member:
            let ack = ackDirty ? (lastAckAt.map { $0 + configuration.ackInterval }) : nil
            let strategyDeadline = flush == nil ? strategy?.nextDeadline : nil
            return [ack, strategyDeadline].compactMap { $0 }.min()
        }
    }

    /// `nil` until the group formed.
    public var view: GroupView? { currentView }

    public var statistics: GroupStatistics {
        var result = stats
        result.malformedControls = stats.malformedControls + (strategy?.malformedControls ?? 0)
        result.relayLogEntries = log.count - logHead
        return result
    }

    /// ``GroupEvent/groupFinished`` was raised.
    public var isFinished: Bool { finishedRaised }

    /// Finished, and every member of the view acknowledged delivering as much as this one (ACK deliveredCount):
    /// nobody can need anything more of this member (no flush could ask it for a relay), so it may close its
    /// session. Closing at `.groupFinished` instead left a member that lagged behind without anyone to relay
    /// what a dead sequencer's lost ORDERs had said (Docs/ordering.md#the-end).
    public var everyoneFinished: Bool {
        guard finishedRaised, flush == nil, let view = currentView else { return false }
        // From the view installed here: a member still in a flush (its ACKs from an older view) may need a relay.
        return view.members.allSatisfy {
            $0 == me
                || (acknowledgedDelivered[$0, default: 0] >= deliveredCount
                    && acknowledgedView[$0, default: 0] >= view.number)
        }
    }

    /// A FLUSH removed me, or I left.
    public var isExcluded: Bool { phase == .excluded }

    // MARK: - Running

    /// Everything that may follow an input: timers, formation, sending what waits, ordering, delivery, ACKs,
    /// the end. One place, so that every entry point leaves the same consistent state.
    mutating func service(at now: Duration) {
        switch phase {
        case .excluded:
            return
        case .forming:
            if now >= nextHelloAt { sendHello(at: now) }
            checkFormation(at: now)
            if phase == .forming { return }
        case .member:
            break
        }
        if flush != nil { completeFlushIfReady(at: now) }
        guard phase == .member else { return }
        if flush == nil {
            sendUnsent(at: now)
            if strategy != nil {
                strategy!.advance(to: now)
                drainStrategy(at: now)
            }
            deliverReady()
        }
        if countsChanged {
            countsChanged = false
            reportStability()
            trimLog()
        }
        checkFinished(at: now)
        if ackDirty, lastAckAt.map({ now >= $0 + configuration.ackInterval }) ?? true { sendAck(at: now) }
    }

    mutating func queue(_ body: Frame.Body) {
        stats.framesSent += 1
        outbox.append(Frame(view: currentView?.number ?? 0, body: body).encoded())
    }

    mutating func emit(_ event: GroupEvent) { events.append(event) }

    mutating func exclude() {
        phase = .excluded
        emit(.excluded)
    }

    mutating func sendAck(at now: Duration) {
        guard let view = currentView else { return }
        var received: [MemberID: UInt64] = [:]
        for member in view.members { received[member] = receivedThrough[member, default: 0] }
        queue(.ack(Frame.Acknowledgement(receivedThrough: received, deliveredCount: deliveredCount)))
        ackDirty = false
        lastAckAt = now
    }

    /// Sends my messages that waited for the group (or for a view change) to end, then DONE once they are out.
    mutating func sendUnsent(at now: Duration) {
        guard phase == .member, flush == nil else { return }
        for (sequence, payload) in unsent {
            var dependencies: [MemberID: UInt64] = [:]
            if mode == .causal {
                for (member, count) in delivered where count > 0 && member != me { dependencies[member] = count }
                if sequence > 1 { dependencies[me] = sequence - 1 }
            }
            queue(.data(Frame.DataMessage(sequence: sequence, dependencies: dependencies, payload: payload)))
            let id = MessageID(sender: me, sequence: sequence)
            held[id] = Held(dependencies: dependencies, payload: payload)
            receivedThrough[me] = sequence
            ackDirty = true
            countsChanged = true
            strategy?.messageArrived(id, at: now)
        }
        unsent.removeAll()
        if finishing, !doneSent, !leaving {
            doneSent = true
            let last = nextSequence - 1
            queue(.done(lastSequence: last))
            doneAt[me] = last
            emit(.memberDone(me))
        }
    }

    /// Multicasts the strategy's controls (and applies them to my own strategy) and takes its order.
    mutating func drainStrategy(at now: Duration) {
        guard strategy != nil else { return }
        while let control = strategy!.pollControl() {
            queue(.control(control))
            strategy!.receive(control: control[...], from: me, at: now)
        }
        while let next = strategy!.pollOrdered() { ordered.append(next) }
    }

    /// My messages every member acknowledged receiving: what my PGM window may let go of.
    mutating func reportStability() {
        guard let view = currentView else { return }
        var through = UInt64.max
        for member in view.members { through = min(through, acknowledged(by: member, of: me)) }
        if through > reportedStable {
            reportedStable = through
            emit(.stable(through: through))
        }
    }

    /// What `member` said it received of `sender`'s messages (for me: what I hold).
    func acknowledged(by member: MemberID, of sender: MemberID) -> UInt64 {
        member == me ? receivedThrough[sender, default: 0] : acknowledged[member]?[sender] ?? 0
    }

    /// The end (Docs/ordering.md#the-end): every member sent DONE and I delivered everything it sent.
    mutating func checkFinished(at now: Duration) {
        guard !finishedRaised, flush == nil, cuts.isEmpty, unsent.isEmpty, doneSent, let view = currentView,
            !(strategy?.hasPendingControls ?? false)
        else {
            return
        }
        for member in view.members {
            guard let last = doneAt[member], delivered[member, default: 0] >= last else { return }
        }
        finishedRaised = true
        emit(.groupFinished)
        // The others may still need my last acknowledgements (safe delivery, stability): send them now.
        if ackDirty { sendAck(at: now) }
    }

    // MARK: - Relay log

    mutating func appendLog(_ entry: LogEntry) {
        log.append(entry)
        while log.count - logHead > configuration.relayLogLimit {
            logHead += 1
            stats.relayLogEvicted += 1
        }
        compactLog()
    }

    /// Drops the delivered messages that no survivor could lack any more: in total modes those every member
    /// acknowledged delivering (ACK deliveredCount); in fifo and causal those every member acknowledged
    /// receiving (they hold it, so a flush never needs to relay it). Docs/ordering.md#view-changes.
    mutating func trimLog() {
        guard let view = currentView, logHead < log.count else { return }
        if mode.isTotal {
            var through = deliveredCount
            for member in view.members where member != me {
                through = min(through, acknowledgedDelivered[member] ?? 0)
            }
            while logHead < log.count, log[logHead].global <= through { logHead += 1 }
        } else {
            while logHead < log.count {
                let id = log[logHead].id
                if let removal = removedAt[id.sender] {
                    // A removed member's messages: settled once every member installed the view without it (a
                    // member still flushing may need them relayed).
                    guard view.members.allSatisfy({ $0 == me || acknowledgedView[$0, default: 0] >= removal })
                    else { break }
                } else {
                    guard view.members.allSatisfy({ acknowledged(by: $0, of: id.sender) >= id.sequence }) else { break }
                }
                logHead += 1
            }
        }
        compactLog()
    }

    mutating func compactLog() {
        if logHead > 1024, logHead * 2 > log.count {
            log.removeFirst(logHead)
            logHead = 0
        }
    }
}
