public import Logging
package import PGMCore
public import PGMGroupEngine
@_exported public import PGMOrdering
import PGMSockets
import PGMWire

/// A member of an ordered group (Docs/ordering.md): every member sends its messages on its own PGM session and
/// receives every other member's; the group delivers all members' messages in the chosen ``OrderingMode`` (fifo,
/// causal, or one total order at every member), with ``Settings/safe`` delivery when asked.
///
/// Iterate the group for its ``Event``s: it forms (``Event/formed(_:)``) once ``Settings/expectedMembers`` members
/// heard one another, delivers messages (yours too, in their place in the order), reports members removed and
/// ends after ``finish()`` once every member finished and every other member left.
///
/// ```swift
/// let group = try await PGMGroup(options: options, settings: .init(name: "alice", order: .totalSequencer, expectedMembers: 3))
/// try await group.send(Array("hello".utf8))
/// try await group.finish()
/// for try await event in group { if case .message(let message) = event { print(message.senderName, message.payload) } }
/// ```
public final class PGMGroup: AsyncSequence, Sendable {
    public struct Settings: Sendable {
        /// This member's name, carried to every member (shown before its messages by pgm-chat).
        public var name: String
        public var order: OrderingMode
        /// Deliver a message only once every member acknowledged receiving it.
        public var safe: Bool
        /// Wait for this many members (this one included) before the group forms; nil: form when the members
        /// heard have been the same for a second.
        public var expectedMembers: Int?
        /// Silence after which a member is removed (its PGM session expired).
        public var peerExpiry: Duration

        public init(
            name: String, order: OrderingMode = .fifo, safe: Bool = false, expectedMembers: Int? = nil,
            peerExpiry: Duration = .seconds(5)
        ) {
            self.name = name
            self.order = order
            self.safe = safe
            self.expectedMembers = expectedMembers
            self.peerExpiry = peerExpiry
        }
    }

    public enum Event: Sendable, Equatable {
        case formed(GroupView)
        case message(DeliveredMessage)
        case viewChanged(GroupView, removed: [MemberID])
        /// The other members removed this one (they lost contact with it): the sequence ends after it.
        case excluded
        /// Every member finished and everything was delivered; the sequence ends once the others left.
        case finished
    }

    /// This member's ID (its PGM session's TSI).
    public let memberID: MemberID
    /// The largest message ``send(_:)`` takes.
    public let maximumMessageSize: Int
    let runner: EngineRunner<GroupEngine, Event>
    private let queue: MessageQueue

    /// Opens the sockets, starts this member's session and joins the group's.
    /// - Throws: ``PGMError``: invalid options, an unusable interface or port.
    public init(options: PGMOptions, settings: Settings, logger: Logger = Logger(label: "pgm.group")) async throws {
        try options.validate()
        let authenticator = try options.loadAuthenticator()
        let engine: GroupEngine
        let sockets: InterfaceSockets
        let clock = MonotonicClock()
        do {
            (engine, sockets) = try options.makeGroupMember(settings, at: clock.now)
        } catch let error as PGMError {
            throw error
        } catch {
            throw PGMError(opening: error)
        }
        memberID = engine.memberID
        maximumMessageSize = engine.maximumMessageSize
        let queue = MessageQueue()
        self.queue = queue
        do {
            runner = try EngineRunner(
                engine: engine, sockets: [sockets], authenticator: authenticator,
                eventCapacity: options.eventBufferCapacity, logger: logger,
                turn: { engine, now, events in
                    Self.pump(queue, into: &engine, at: now)
                    while events.hasRoom, let event = engine.pollEvent() {
                        switch event {
                        case .group(.formed(let view)): events.emit(.formed(view))
                        case .group(.delivered(let message)): events.emit(.message(message))
                        case .group(.viewChanged(let view, let removed)):
                            events.emit(.viewChanged(view, removed: removed))
                        case .group(.excluded):
                            events.emit(.excluded)
                            return .stop
                        case .group(.groupFinished): events.emit(.finished)
                        case .allLeft: return .stop
                        case .group, .memberClosed, .memberLost: break
                        }
                    }
                    return .proceed(deadline: nil)
                },
                onStop: { _, failure in queue.stopped(failure) })
        } catch {
            throw PGMError(opening: error)
        }
    }

    /// Sends one message to the group. Suspends while the session's queue is full (back-pressure). Messages
    /// submitted before the group formed wait for it.
    /// - Throws: ``PGMError/messageTooLarge(size:maximum:)``, ``PGMError/finished`` after ``finish()``,
    ///   ``PGMError/stopped(_:)`` once the member stopped; `CancellationError`.
    public func send(_ bytes: some Collection<UInt8>) async throws {
        let (queue, runner) = (self.queue, self.runner)
        try await queue.send(bytes, maximum: maximumMessageSize) {
            runner.post { engine, now in Self.pump(queue, into: &engine, at: now) }
        }
    }

    /// No more messages from this member (DONE). The member goes on ordering and delivering until every member
    /// finished; then ``Event/finished``, and the sequence ends once every other member left.
    public func finish() {
        let (queue, runner) = (self.queue, self.runner)
        queue.requestFinish()
        runner.post { engine, now in Self.pump(queue, into: &engine, at: now) }
    }

    /// Leaves the group now (LEAVE): the others deliver what they have of this member and go on without it.
    public func leave() {
        queue.requestFinish()
        runner.post { engine, now in engine.leave(at: now) }
    }

    public func makeAsyncIterator() -> Iterator { Iterator(events: runner.events) }

    public struct Iterator: AsyncIteratorProtocol {
        let events: EventBuffer<Event>

        public mutating func next() async throws -> Event? { try await events.next() }
    }

    /// On the engine thread: waiting messages go to the member while it accepts them; DONE once a finish was asked
    /// for and nothing waits.
    private static func pump(_ queue: MessageQueue, into engine: inout GroupEngine, at now: Instant) {
        queue.pump(fits: { _ in engine.acceptsMessages }) { message throws(PGMError) in
            do {
                _ = try engine.submit(message, at: now)
            } catch let error as GroupMember.SubmitError {
                if case .tooLarge = error {
                    throw PGMError.messageTooLarge(size: message.count, maximum: engine.maximumMessageSize)
                }
                throw PGMError.finished
            } catch {
                throw PGMError.stopped("\(error)")
            }
        }
        if queue.isFinishRequestedAndDrained && !engine.isFinishing { engine.finish(at: now) }
    }
}

extension PGMOptions {
    /// A group member's engine and sockets (``PGMGroup`` and pgm-chat): its session announces itself every half
    /// second (so a quiet member is not taken for gone), keeps its data 30 s for repairs, and removes a member
    /// silent for `peerExpiry`.
    package func makeGroupMember(_ settings: PGMGroup.Settings, at now: Instant) throws
        -> (GroupEngine, InterfaceSockets)
    {
        let interface = try resolveInterface()
        let sockets = try openMemberSockets(on: interface)
        var options = self
        options.ambientSPMInterval = min(ambientSPMInterval, .milliseconds(500))
        // Every message matters to the order, and a lost one costs a member its place in the group: keep data
        // repairable for 30 s at least (the programs' 4 s let two repairs at 5 % loss outlive the window in the
        // chat lab, found by Tools/chat-lab).
        options.transmitWindow = max(transmitWindow, .seconds(30))
        options.peerExpiry = settings.peerExpiry
        let (tsi, seed) = options.makeSession(address: interface.address)
        var source = options.sourceConfiguration(tsi: tsi, sourceAddress: interface.address)
        source.seed = seed
        try options.validateSource(source)
        let receiver = options.receiverConfiguration(address: interface.address, seed: seed &+ 1)
        var member = GroupMember.Configuration(me: MemberID(tsi), name: settings.name, mode: settings.order)
        member.safe = settings.safe
        member.expectedMembers = settings.expectedMembers
        let engine = GroupEngine(
            transport: GroupTransport(
                source: Source(configuration: source, at: now), receiver: Receiver(configuration: receiver)),
            member: member, at: now)
        return (engine, sockets)
    }
}
