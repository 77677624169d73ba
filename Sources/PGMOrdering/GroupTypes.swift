/// The members of the group as one view number names them (Docs/ordering.md#view-changes).
public struct GroupView: Sendable, Equatable {
    public var number: UInt32
    /// Sorted.
    public var members: [MemberID]
    public var names: [MemberID: String]

    public init(number: UInt32, members: [MemberID], names: [MemberID: String]) {
        self.number = number
        self.members = members
        self.names = names
    }
}

/// A message as the application gets it, with the ordering data the invariants are checked on.
public struct DeliveredMessage: Sendable, Equatable {
    public var id: MessageID
    public var senderName: String
    public var payload: [UInt8]
    /// Total modes: the message's position in the group's order (1, 2, ...).
    public var global: UInt64?
    /// Causal: the sender's delivered counts when it sent (empty otherwise).
    public var dependencies: [MemberID: UInt64]
    /// The view the message was delivered in.
    public var view: UInt32

    public init(
        id: MessageID, senderName: String, payload: [UInt8], global: UInt64?, dependencies: [MemberID: UInt64],
        view: UInt32
    ) {
        self.id = id
        self.senderName = senderName
        self.payload = payload
        self.global = global
        self.dependencies = dependencies
        self.view = view
    }
}

public enum GroupEvent: Sendable, Equatable {
    case formed(GroupView)
    case delivered(DeliveredMessage)
    case viewChanged(GroupView, removed: [MemberID])
    case memberDone(MemberID)
    case incompatible(MemberID, reason: String)
    /// My messages up to this sequence are acknowledged by every member (safe or not): what PGM may let go of.
    case stable(through: UInt64)
    /// A FLUSH removed me.
    case excluded
    case groupFinished
}

/// Counters of one member: what it sent, received, refused and delivered.
public struct GroupStatistics: Sendable, Equatable {
    public var framesSent = 0
    public var framesReceived = 0
    /// Frames that did not decode (``FrameError``), or broke the sender's own order (a gap in its sequences).
    public var malformedFrames = 0
    /// Strategy controls that did not decode or came from a member that may not send them.
    public var malformedControls = 0
    /// Frames from senders that are not (or no longer) members of the view, or came before their HELLO.
    public var nonMemberFrames = 0
    /// Frames from members refused for their mode or safe flag.
    public var incompatibleFrames = 0
    /// Members first heard after the group formed (each counted once); they are not admitted.
    public var lateMembers = 0
    public var delivered = 0
    /// Messages I sent in RELAY frames.
    public var relayed = 0
    /// Messages I delivered because a RELAY gave me the message or its place in the order.
    public var relayDelivered = 0
    public var viewChanges = 0
    /// Frames of a later view (or, before formation, of the group) held until I get there.
    public var heldFrames = 0
    /// Held frames dropped because too many waited.
    public var heldFramesDropped = 0
    /// Delivered messages kept for relays now.
    public var relayLogEntries = 0
    /// Relay log entries dropped at `relayLogLimit` before every member acknowledged them.
    public var relayLogEvicted = 0

    public init() {}
}
