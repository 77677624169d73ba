import HeapModule
import PGMWire

/// The deadlines of many timers in one min-heap, so that an engine keeps no timer object per sequence number or
/// session: the earliest deadline is at hand for `nextDeadline`, and due timers come out in order.
///
/// Invalidation is lazy. Moving or cancelling a timer leaves its old entry queued; the owner, which knows every
/// timer's current deadline, says which entries still count. ``dropStale(keeping:)`` clears dead entries off the
/// front (so that `nextDeadline` is no spurious wake-up), and ``compact(above:keeping:)`` rebuilds the queue from
/// the live entries once dead ones pile up (a timer restarted by each of a flood of NAKs). Equal deadlines come out
/// in `Key` order, so that runs with the same inputs are identical.
struct DeadlineQueue<Key: Comparable> {
    struct Entry: Comparable {
        var deadline: Instant
        var key: Key

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            lhs.deadline != rhs.deadline ? lhs.deadline < rhs.deadline : lhs.key < rhs.key
        }
    }

    private var heap = Heap<Entry>()

    init() {}

    /// Entries queued, live or not.
    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    /// The earliest entry, live or not.
    var first: Entry? { heap.min }

    /// Queues `key` to run at `deadline`; an earlier entry of the same timer stays until it runs or is dropped.
    mutating func schedule(_ key: Key, at deadline: Instant) {
        heap.insert(Entry(deadline: deadline, key: key))
    }

    /// Removes and returns the earliest entry if it is due at `now`, live or not: the owner skips stale ones.
    mutating func popDue(at now: Instant) -> Entry? {
        guard let first = heap.min, first.deadline <= now else { return nil }
        return heap.removeMin()
    }

    /// Removes stale entries from the front, so that ``first`` is live or the queue empty.
    mutating func dropStale(keeping isLive: (Entry) -> Bool) {
        while let first = heap.min, !isLive(first) { heap.removeMin() }
    }

    /// When more than `limit` entries are queued, keeps only the live ones, once each (a timer queued twice for
    /// the same deadline would otherwise run twice). The order they come out in is unchanged.
    mutating func compact(above limit: Int, keeping isLive: (Entry) -> Bool) {
        guard heap.count > limit else { return }
        var live = heap.unordered.filter(isLive)
        live.sort()
        var unique: [Entry] = []
        unique.reserveCapacity(live.count)
        for entry in live where unique.last != entry { unique.append(entry) }
        heap = Heap(unique)
    }
}

/// A sequence number as a ``DeadlineQueue`` key. Serial order (RFC 1982) is no total order, so timers due at the
/// same instant run in raw value order: arbitrary across the wrap, but the same on every run.
struct SequenceTimerKey: Comparable {
    var sequence: SequenceNumber

    init(_ sequence: SequenceNumber) { self.sequence = sequence }

    static func < (lhs: SequenceTimerKey, rhs: SequenceTimerKey) -> Bool {
        lhs.sequence.rawValue < rhs.sequence.rawValue
    }
}
