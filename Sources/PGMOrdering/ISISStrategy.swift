/// `total-isis` (Docs/ordering.md#delivery-per-mode): agreed priorities, after Birman and Joseph's ABCAST.
///
/// On every message a member proposes `(counter + 1, me)`, where `counter` is the largest priority counter it
/// proposed or saw agreed; the message's sender, once every member of the view (itself included) proposed,
/// multicasts the maximum proposal as the message's FINAL priority. Priorities compare as (counter, proposer):
/// a member never proposes the same counter twice, so every final priority is unique. Each member keeps a queue
/// of the messages it holds keyed by the largest priority it knows for each (a final one, or the largest proposal
/// seen, which the final can only equal or exceed) and delivers the head once it is final: a message still without
/// a final will get one at least as large as its key, and a message not here yet will get one above every priority
/// this member proposed or saw agreed, so nothing can come before the head later.
///
/// Per-sender order holds without extra rules: PGM gives every member a sender's messages in order, so each
/// member's proposal for a later message is above its proposal for an earlier one, and so is the maximum.
///
/// Controls: `kind(1)` then `proposals: count × (msgid, counter: varint)` and
/// `finals: count × (msgid, counter: varint, proposer: member)`. Proposals and finals pending since the last poll
/// travel together in one control, so that a member never sends two frames where one does. A member does not
/// multicast its proposals for its own messages: only the sender collects proposals. Its own proposals and finals
/// take effect when made; the copies ``GroupMember`` hands back are only checked.
public struct ISISStrategy: TotalOrderStrategy {
    /// The control's first byte: a frame of another strategy (or random bytes) is refused, not misread.
    static let kind: UInt8 = 0x49
    /// Priority counters above this are refused, so that `counter + 1` can never overflow whatever a peer sends.
    static let maximumCounter: UInt64 = 1 << 62
    /// Proposals and finals per control; the rest go in the next one (a frame stays well under 64 KiB).
    static let maximumItemsPerControl = 1024
    /// Messages named by proposals or finals but not here yet (a member may be far behind the others); items
    /// beyond are dropped and counted in ``refusedItems``.
    static let maximumUnarrived = 65536

    /// A priority: the counter, ties broken by the proposer (the larger wins, like any larger value).
    struct Priority: Comparable, Hashable {
        var counter: UInt64
        var proposer: MemberID

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.counter, lhs.proposer) < (rhs.counter, rhs.proposer) }
    }

    /// A queue position: the priority known for the message, then its identity (Docs/ordering.md).
    struct Key: Comparable {
        var priority: Priority
        var id: MessageID

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.priority, lhs.id) < (rhs.priority, rhs.id) }
    }

    /// What this member knows of a message of the view that is not ordered yet.
    struct Entry {
        var arrived = false
        /// The largest proposal seen (mine included), or the final priority once `isFinal`.
        var best: Priority?
        var isFinal = false
        /// In the queue: arrived (so proposed) or final.
        var queued = false
        /// My own messages only: the members whose proposals I have.
        var proposers: Set<MemberID> = []
    }

    let me: MemberID
    let members: [MemberID]
    let memberSet: Set<MemberID>
    /// The largest priority counter proposed or seen agreed.
    private(set) var counter: UInt64 = 0
    private var entries: [MessageID: Entry] = [:]
    private var unarrivedCount = 0
    /// Per sender, the largest sequence ordered: anything at or below it is stale (ordering keeps sender order).
    private var orderedThrough: [MemberID: UInt64] = [:]
    /// The queue; a key whose priority is no longer its entry's best is stale and skipped (keys only grow).
    private var queue = MinimumHeap<Key>()
    private var pendingProposals: [(id: MessageID, counter: UInt64)] = []
    private var pendingFinals: [(id: MessageID, priority: Priority)] = []
    private var nextGlobal: UInt64

    /// The least time between two of my controls: what becomes pending meanwhile waits and shares the next one.
    /// An idle member sends at once; a busy one sends a control per spacing instead of one per message (each
    /// member proposes for every message, so that is n controls per message without it). Zero: one per poll.
    public var controlSpacing: Duration = Self.defaultControlSpacing
    public static let defaultControlSpacing: Duration = .microseconds(100)
    /// The latest time an input brought (``pollControl()`` has none of its own).
    private var now: Duration
    private var lastControlAt: Duration?

    public private(set) var malformedControls = 0
    /// Proposals and finals for messages already ordered, or repeated: ignored.
    public private(set) var staleItems = 0
    /// Items dropped because ``maximumUnarrived`` messages not here yet were already named.
    public private(set) var refusedItems = 0
    /// Proposals and finals for messages not here yet (from members that got them first), kept.
    public private(set) var earlyItems = 0
    /// Proposals and finals this member multicast (for the frames-per-message figures).
    public private(set) var sentItems = 0

    public init(me: MemberID, members: [MemberID], view: UInt32, nextGlobal: UInt64, at now: Duration) {
        self.me = me
        self.members = members
        memberSet = Set(members)
        self.nextGlobal = nextGlobal
        self.now = now
    }

    /// When the next control may go, if one waits for the spacing.
    public var nextDeadline: Duration? {
        guard !pendingProposals.isEmpty || !pendingFinals.isEmpty, let allowed = controlAllowedAt, allowed > now
        else { return nil }
        return allowed
    }

    private var controlAllowedAt: Duration? { lastControlAt.map { $0 + controlSpacing } }

    public mutating func advance(to now: Duration) { self.now = max(self.now, now) }

    /// The messages held and not ordered yet (those in the queue).
    public var pendingCount: Int { entries.count - unarrivedCount }

    /// Everything kept per message (entries, queue keys, stale ones included): none once all is ordered.
    var retainedCount: Int { entries.count + queue.count + pendingProposals.count + pendingFinals.count }

    public mutating func messageArrived(_ id: MessageID, at now: Duration) {
        self.now = max(self.now, now)
        guard memberSet.contains(id.sender), id.sequence > orderedThrough[id.sender, default: 0] else { return }
        var entry = entries[id] ?? Entry()
        guard !entry.arrived else { return }
        if entries[id] != nil { unarrivedCount -= 1 }
        entry.arrived = true
        if entry.isFinal {
            // The final came first (its sender had every proposal without mine: only across a forged or
            // repeated frame); nothing to propose.
            entries[id] = entry
            return
        }
        counter += 1
        let proposal = Priority(counter: counter, proposer: me)
        if entry.best.map({ $0 < proposal }) ?? true { entry.best = proposal }
        entry.queued = true
        queue.insert(Key(priority: entry.best!, id: id))
        if id.sender == me {
            entry.proposers.insert(me)
            entries[id] = entry
            finishIfComplete(id)
        } else {
            entries[id] = entry
            pendingProposals.append((id, counter))
        }
    }

    public mutating func receive(control: ArraySlice<UInt8>, from sender: MemberID, at now: Duration) {
        self.now = max(self.now, now)
        guard memberSet.contains(sender), let (proposals, finals) = decode(control, from: sender) else {
            malformedControls += 1
            return
        }
        // My own proposals and finals took effect when I made them.
        guard sender != me else { return }
        for (id, proposalCounter) in proposals {
            propose(Priority(counter: proposalCounter, proposer: sender), for: id)
        }
        for (id, priority) in finals {
            finish(id, at: priority)
        }
    }

    public var hasPendingControls: Bool { !pendingProposals.isEmpty || !pendingFinals.isEmpty }

    public mutating func pollControl() -> [UInt8]? {
        guard !pendingProposals.isEmpty || !pendingFinals.isEmpty else { return nil }
        if let allowed = controlAllowedAt, allowed > now { return nil }
        lastControlAt = now
        let proposalCount = min(pendingProposals.count, Self.maximumItemsPerControl)
        let finalCount = min(pendingFinals.count, Self.maximumItemsPerControl - proposalCount)
        var writer = ByteWriter(capacity: 2 + proposalCount * 12 + finalCount * 20)
        writer.write(Self.kind)
        writer.writeVarint(UInt64(proposalCount))
        for (id, proposalCounter) in pendingProposals.prefix(proposalCount) {
            writer.write(id)
            writer.writeVarint(proposalCounter)
        }
        writer.writeVarint(UInt64(finalCount))
        for (id, priority) in pendingFinals.prefix(finalCount) {
            writer.write(id)
            writer.writeVarint(priority.counter)
            writer.write(priority.proposer)
        }
        pendingProposals.removeFirst(proposalCount)
        pendingFinals.removeFirst(finalCount)
        sentItems += proposalCount + finalCount
        return writer.bytes
    }

    public mutating func pollOrdered() -> (id: MessageID, global: UInt64)? {
        while let head = queue.minimum {
            guard let entry = entries[head.id], entry.queued, entry.best == head.priority else {
                queue.removeMinimum()
                continue
            }
            guard entry.isFinal else { return nil }
            queue.removeMinimum()
            entries[head.id] = nil
            if !entry.arrived { unarrivedCount -= 1 }
            orderedThrough[head.id.sender] = max(orderedThrough[head.id.sender, default: 0], head.id.sequence)
            defer { nextGlobal += 1 }
            return (head.id, nextGlobal)
        }
        return nil
    }

    /// A proposal from `priority.proposer`: the sender counts it; anyone holding the message raises its key.
    private mutating func propose(_ priority: Priority, for id: MessageID) {
        guard id.sequence > orderedThrough[id.sender, default: 0] else {
            staleItems += 1
            return
        }
        guard var entry = entries[id] ?? newUnarrivedEntry() else { return }
        // A new entry is neither final nor proposed for, so nothing is lost by returning without storing it.
        if entry.isFinal || (id.sender == me && !entry.proposers.insert(priority.proposer).inserted) {
            staleItems += 1
            return
        }
        if entry.best.map({ $0 < priority }) ?? true {
            entry.best = priority
            if entry.queued { queue.insert(Key(priority: priority, id: id)) }
        }
        entries[id] = entry
        if id.sender == me { finishIfComplete(id) }
    }

    /// My message `id` has every member's proposal: its final priority is the largest.
    private mutating func finishIfComplete(_ id: MessageID) {
        guard let entry = entries[id], entry.arrived, !entry.isFinal, entry.proposers.count == members.count,
            let best = entry.best
        else { return }
        if members.count > 1 { pendingFinals.append((id, best)) }
        finish(id, at: best)
    }

    private mutating func finish(_ id: MessageID, at priority: Priority) {
        guard id.sequence > orderedThrough[id.sender, default: 0] else {
            staleItems += 1
            return
        }
        guard var entry = entries[id] ?? newUnarrivedEntry() else { return }
        guard !entry.isFinal else {
            staleItems += 1
            return
        }
        // A final below a proposal already seen cannot come from an honest sender (it takes the maximum); the
        // decoder refused it, so here the final is the message's key from now on.
        entry.isFinal = true
        entry.best = priority
        entry.queued = true
        entries[id] = entry
        queue.insert(Key(priority: priority, id: id))
        counter = max(counter, priority.counter)
    }

    private mutating func newUnarrivedEntry() -> Entry? {
        guard unarrivedCount < Self.maximumUnarrived else {
            refusedItems += 1
            return nil
        }
        unarrivedCount += 1
        earlyItems += 1
        return Entry()
    }

    /// The control's items, or nil when any field is short, out of range, or not what `sender` may send (a
    /// proposer proposes for others' messages, a sender finalizes its own, with a member's proposal no lower
    /// than a proposal seen for it).
    private func decode(_ control: ArraySlice<UInt8>, from sender: MemberID) -> (
        proposals: [(MessageID, UInt64)], finals: [(MessageID, Priority)]
    )? {
        var reader = ByteReader(control)
        do {
            guard try reader.read() == Self.kind else { return nil }
            // A msgid takes at least 9 bytes, a counter 1.
            let proposalCount = try reader.readCount(minimumItemSize: 10)
            var proposals: [(MessageID, UInt64)] = []
            proposals.reserveCapacity(proposalCount)
            for _ in 0..<proposalCount {
                let id = try reader.readMessageID()
                let proposalCounter = try reader.readVarint()
                guard id.sender != sender, memberSet.contains(id.sender), id.sequence > 0,
                    (1...Self.maximumCounter).contains(proposalCounter)
                else { return nil }
                proposals.append((id, proposalCounter))
            }
            let finalCount = try reader.readCount(minimumItemSize: 18)
            var finals: [(MessageID, Priority)] = []
            finals.reserveCapacity(finalCount)
            for _ in 0..<finalCount {
                let id = try reader.readMessageID()
                let finalCounter = try reader.readVarint()
                let proposer = try reader.readMember()
                guard id.sender == sender, id.sequence > 0, (1...Self.maximumCounter).contains(finalCounter),
                    memberSet.contains(proposer)
                else { return nil }
                let priority = Priority(counter: finalCounter, proposer: proposer)
                if let entry = entries[id], !entry.isFinal, let best = entry.best, priority < best { return nil }
                finals.append((id, priority))
            }
            guard reader.isAtEnd else { return nil }
            return (proposals, finals)
        } catch {
            return nil
        }
    }
}

/// A binary min-heap (PGMOrdering uses the standard library only).
struct MinimumHeap<Element: Comparable> {
    private var storage: [Element] = []

    var count: Int { storage.count }
    var minimum: Element? { storage.first }

    mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func removeMinimum() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let minimum = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < storage.count, storage[left] < storage[smallest] { smallest = left }
            if right < storage.count, storage[right] < storage[smallest] { smallest = right }
            guard smallest != parent else { return minimum }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
