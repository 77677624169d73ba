internal import DequeModule
public import PGMCore
public import PGMOrdering
public import PGMWire

extension MemberID {
    /// A member is its PGM session: the TSI packed as Docs/ordering.md#framing says.
    public init(_ tsi: TSI) { self.init(rawValue: tsi.gsi.rawValue << 16 | UInt64(tsi.sourcePort)) }
}

/// A member of an ordered group on PGM (Docs/ordering.md): ``GroupTransport`` (its own session and everyone
/// else's) and ``GroupMember`` (formation, order, view changes) as one ``Engine``, so that the socket driver and the
/// simulator run the same thing.
///
/// PGM's events become the member's inputs: each APDU of another session is one ordering frame from that
/// member; a session that expires, is reset or loses data for good is a member lost (a view change removes it);
/// OPT_FIN from a member that sent DONE is a clean goodbye. The member's frames go out as APDUs of our session,
/// in order; when the source's queue is full they wait here (``unsentFrames``), in order, and
/// ``acceptsMessages`` turns false so that the application waits too (back-pressure, nothing dropped).
///
/// The end: after `.groupFinished` (every member sent DONE and everything was delivered here) the member stays in
/// the group, able to take part in a view change, until every member acknowledged delivering everything too; then
/// the session closes with OPT_FIN once the last frame left the queue; ``Event/allLeft`` follows when every other member's session has
/// ended too, and until then our source keeps answering NAKs, so that nobody still repairing loses our data.
public struct GroupEngine: Engine {
    public enum Event: Sendable, Equatable {
        case group(GroupEvent)
        /// A member's PGM session ended (OPT_FIN after its DONE).
        case memberClosed(MemberID)
        /// PGM gave up on a member's session (why): the member is being removed (a view change follows).
        case memberLost(MemberID, GroupMember.LossReason)
        /// After `.groupFinished`: every other member's session has ended (or the member was removed).
        case allLeft
    }

    public private(set) var transport: GroupTransport
    public private(set) var member: GroupMember
    public let memberID: MemberID
    /// The instant the member's `Duration` clock counts from.
    public let origin: Instant
    private var unsentFrames: Deque<[UInt8]> = []
    private var events: Deque<Event> = []
    private var lastNow: Instant
    private var doneMembers: Set<MemberID> = []
    private var endedSessions: Set<MemberID> = []
    /// Members whose session closed (OPT_FIN) after their DONE: gone for good, and no loss.
    private var leftMembers: Set<MemberID> = []
    private var allLeftRaised = false
    private var isLeaving = false
    /// ``finish(at:)`` was called.
    public private(set) var isFinishing = false
    /// What PGM said of the last data it gave up on (for the program's message).
    public private(set) var lastUnrecoverable: String?
    public private(set) var statistics = Statistics()

    public struct Statistics: Hashable, Sendable {
        /// Frames the source refused for their size (larger than its largest APDU): a bug if ever non-zero.
        public var framesTooLarge = 0
        /// Times the source's queue was full and frames waited here.
        public var framesDeferred = 0
        /// Frames the member produced after our session closed (acknowledgments at the very end).
        public var framesAfterClose = 0
        /// Members lost by PGM, by reason.
        public var membersExpired = 0
        public var membersReset = 0
        public var membersUnrecoverable = 0
        public var membersClosedWithoutDone = 0
        public init() {}
    }

    /// How many frames may wait for the source's queue before ``acceptsMessages`` says no.
    public static let unsentFrameLimit = 64

    /// - Parameter member: the ordering configuration; its `me` is replaced by the session's TSI.
    public init(transport: GroupTransport, member configuration: GroupMember.Configuration, at now: Instant) {
        var configuration = configuration
        memberID = MemberID(transport.tsi)
        configuration.me = memberID
        // A frame is one APDU: room for the frame's own header and fields besides the payload.
        configuration.maximumPayload = min(
            configuration.maximumPayload, transport.source.configuration.maximumAPDUSize - Self.frameOverhead)
        self.transport = transport
        self.member = GroupMember(configuration: configuration, at: .zero)
        origin = now
        lastNow = now
    }

    /// The largest message ``submit(_:at:)`` takes: one APDU of the session, less the frame's fields.
    public var maximumMessageSize: Int { transport.source.configuration.maximumAPDUSize - Self.frameOverhead }

    /// Bytes of a DATA frame besides its payload, at most (header, sequence, causal dependencies of 8 members).
    public static let frameOverhead = 256

    /// Whether a new message can be submitted now without growing the frames waiting for the source's queue.
    public var acceptsMessages: Bool {
        unsentFrames.count < Self.unsentFrameLimit && !transport.source.isClosing
    }

    public mutating func submit(_ payload: some Collection<UInt8>, at now: Instant) throws(GroupMember.SubmitError)
        -> MessageID
    {
        let id = try member.submit(payload, at: offset(now))
        pump(at: now)
        return id
    }

    /// No more messages from this member (DONE); it stays in the group until `.groupFinished`.
    public mutating func finish(at now: Instant) {
        isFinishing = true
        member.finish(at: offset(now))
        pump(at: now)
    }

    /// Leaves the group before it ends (LEAVE, Docs/ordering.md#view-changes): the others remove this member
    /// once they delivered its messages; the session closes with OPT_FIN once the last frame is queued.
    public mutating func leave(at now: Instant) {
        member.leave(at: offset(now))
        isLeaving = true
        pump(at: now)
    }

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        transport.receive(packet, arrival: arrival, at: now)
        pump(at: now)
    }

    public mutating func handleTimeout(at now: Instant) {
        transport.handleTimeout(at: now)
        pump(at: now)
    }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        if now > lastNow { lastNow = now }
        let transmit = transport.pollTransmit(at: now)
        // The source's queue may have room again: frames waiting here go first.
        if !unsentFrames.isEmpty { flushFrames(at: now) }
        return transmit
    }

    /// Pumps at the latest instant any input carried (the source must never see time go back).
    public mutating func pollEvent() -> Event? {
        if events.isEmpty { pump(at: lastNow) }
        return events.popFirst()
    }

    public var nextDeadline: Instant? {
        let memberDeadline = member.nextDeadline.map { origin + $0 }
        switch (transport.nextDeadline, memberDeadline) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b): return b
        }
    }

    /// The member's clock: time since ``origin``, never behind what it was last told.
    private func offset(_ now: Instant) -> Duration { max(.zero, max(now, lastNow) - origin) }

    /// Moves PGM's events into the member and the member's frames into PGM until neither has more (bounded:
    /// each round consumes what the last produced, and a round without anything new ends it).
    private mutating func pump(at instant: Instant) {
        if instant > lastNow { lastNow = instant }
        let now = lastNow
        for _ in 0..<64 {
            var progressed = false
            while let event = transport.pollEvent() {
                progressed = true
                handle(event, at: now)
                // The member's answer to each PGM event before the next: a DONE delivered just before its
                // session's OPT_FIN must be known when the close is handled.
                drainMemberEvents(at: now)
            }
            // Every input of the member already ran its work; only its timers (HELLO, ACK, the strategy's) need
            // a call of their own, when due: not a second pass per packet.
            if let deadline = member.nextDeadline, deadline <= offset(now) { member.advance(to: offset(now)) }
            progressed = flushFrames(at: now) || progressed
            progressed = drainMemberEvents(at: now) || progressed
            if !progressed { break }
        }
        checkAllLeft()
    }

    @discardableResult
    private mutating func drainMemberEvents(at now: Instant) -> Bool {
        var drained = false
        while let event = member.pollEvent() {
            drained = true
            handle(event, at: now)
        }
        return drained
    }

    /// Hands waiting frames, then the member's new ones, to the source, in order; stops at the first the queue
    /// refuses. True when any frame moved.
    @discardableResult
    private mutating func flushFrames(at now: Instant) -> Bool {
        var moved = false
        while let frame = unsentFrames.first {
            guard send(frame, at: now) else { return moved }
            unsentFrames.removeFirst()
            moved = true
        }
        while let frame = member.pollFrame() {
            moved = true
            if !unsentFrames.isEmpty || !send(frame, at: now) {
                unsentFrames.append(frame)
                statistics.framesDeferred += 1
            }
        }
        if (member.everyoneFinished || isLeaving) && unsentFrames.isEmpty && !transport.source.isClosing {
            transport.source.close(at: now)
        }
        return moved
    }

    /// False when the queue is full (retry later); a frame refused for another reason is counted and dropped.
    private mutating func send(_ frame: [UInt8], at now: Instant) -> Bool {
        do {
            try transport.source.send(frame, at: now)
            return true
        } catch .queueFull {
            return false
        } catch .closed {
            // After our OPT_FIN (the group finished or we left): what the member still says has no one to hear it.
            statistics.framesAfterClose += 1
            return true
        } catch {
            statistics.framesTooLarge += 1
            return true
        }
    }

    private mutating func handle(_ event: GroupTransport.Event, at now: Instant) {
        let time = offset(now)
        switch event {
        case .receiver(.data(let tsi, let bytes)):
            member.receive(frame: bytes, from: MemberID(tsi), at: time)
        case .receiver(.sessionClosed(let tsi)):
            let id = MemberID(tsi)
            endedSessions.insert(id)
            if doneMembers.contains(id) {
                leftMembers.insert(id)
                events.append(.memberClosed(id))
            } else {
                statistics.membersClosedWithoutDone += 1
                lose(id, .closedWithoutDone, at: time)
            }
        case .receiver(.sessionReset(let tsi, _)):
            let id = MemberID(tsi)
            endedSessions.insert(id)
            guard !leftMembers.contains(id) else { return }
            statistics.membersReset += 1
            lose(id, .reset, at: time)
        case .receiver(.peerExpired(let tsi)):
            let id = MemberID(tsi)
            endedSessions.insert(id)
            // A member that said DONE and closed its session with OPT_FIN has left, not vanished: it delivered
            // every member's messages (it finished), so the order needs nothing more of it, and removing it would
            // let the others order again what it already delivered.
            guard !leftMembers.contains(id) else { return }
            // The same once we finished, for a member that said DONE (its OPT_FIN may have been lost): a view
            // change now would only remove members that are leaving anyway.
            guard !(member.isFinished && doneMembers.contains(id)) else { return }
            statistics.membersExpired += 1
            lose(id, .expired, at: time)
        case .receiver(.unrecoverable(let tsi, let first, let last, let reason)):
            statistics.membersUnrecoverable += 1
            lastUnrecoverable = "sequences \(first)-\(last): \(reason)"
            lose(MemberID(tsi), .unrecoverable, at: time)
        case .receiver, .source:
            break
        }
    }

    /// A member PGM gave up on. Members that already left cleanly go in the same view change: they cannot take
    /// part in its flush (it would wait for them for ever), and everything they sent was delivered here before
    /// their OPT_FIN.
    private mutating func lose(_ id: MemberID, _ reason: GroupMember.LossReason, at time: Duration) {
        let inView = member.view?.members.contains(id) ?? false
        if inView { events.append(.memberLost(id, reason)) }
        member.memberLost(id, reason: reason, at: time)
        // Only when this loss starts a view change (a member removed already, or never admitted, starts none).
        guard inView else { return }
        for gone in leftMembers.sorted() where gone != id && member.view?.members.contains(gone) ?? false {
            member.memberLost(gone, reason: .closedWithoutDone, at: time)
        }
    }

    private mutating func handle(_ event: GroupEvent, at now: Instant) {
        if case .memberDone(let id) = event { doneMembers.insert(id) }
        events.append(.group(event))
    }

    private mutating func checkAllLeft() {
        guard !allLeftRaised, member.isFinished, let view = member.view else { return }
        let others = view.members.filter { $0 != memberID }
        guard others.allSatisfy({ endedSessions.contains($0) }) else { return }
        allLeftRaised = true
        events.append(.allLeft)
    }
}
