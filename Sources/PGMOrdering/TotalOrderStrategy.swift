/// One view's agreement on a total order, apart from membership, framing, safe delivery and view changes, which
/// ``GroupMember`` does for every mode (Docs/ordering.md#total-order-strategies).
///
/// A strategy lives for one view: ``GroupMember`` makes a fresh one when a view is installed, after the flush
/// has left every survivor with the same delivered prefix (`nextGlobal` messages), and hands it the messages it
/// holds that are not delivered yet. From then on the strategy sees every message of the view once, in each
/// sender's order, and its own control frames and those of the view's members (frames of other views never reach
/// it). It says which message comes next with ``pollOrdered()``; ``GroupMember`` delivers that message once it
/// holds its payload (and, with safe delivery, once every member acknowledged it).
///
/// Controls are opaque bytes to ``GroupMember``, which frames them with the view; each strategy encodes and
/// decodes its own with ``ByteWriter``/``ByteReader`` and drops (and counts) what it cannot read.
public protocol TotalOrderStrategy {
    /// - Parameters:
    ///   - me: this member.
    ///   - members: the view's members, sorted, `me` among them.
    ///   - view: the view's number (grows by one or more at each view change).
    ///   - nextGlobal: the global sequence of the view's first ordered message (what was delivered before the
    ///     view, plus one).
    ///   - now: time since the group's origin (an injected clock).
    init(me: MemberID, members: [MemberID], view: UInt32, nextGlobal: UInt64, at now: Duration)

    /// A message of the view that ``GroupMember`` holds: mine once submitted (its data frame already queued),
    /// others' once their data frame arrived. Called once per message, in each sender's order.
    mutating func messageArrived(_ id: MessageID, at now: Duration)

    /// A control frame of this strategy from a member of the view (possibly me, when I multicast it).
    mutating func receive(control: ArraySlice<UInt8>, from sender: MemberID, at now: Duration)

    /// Runs the timers due at or before `now`.
    mutating func advance(to now: Duration)

    /// The next control frame body to multicast in my session.
    mutating func pollControl() -> [UInt8]?

    /// The next message in the view's total order, with its global sequence (consecutive from `nextGlobal`).
    mutating func pollOrdered() -> (id: MessageID, global: UInt64)?

    /// Controls that other members still need are waiting (e.g. held back by spacing): a member does not finish,
    /// and so does not close its session, before they went out.
    var hasPendingControls: Bool { get }

    /// When ``advance(to:)`` next has work.
    var nextDeadline: Duration? { get }

    /// Control frames that could not be decoded (dropped).
    var malformedControls: Int { get }
}
