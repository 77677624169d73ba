import PGMWire
import Testing

@testable import PGMCore

/// The one timer queue every engine uses: order, lazy invalidation, compaction.
@Suite struct DeadlineQueueTests {
    typealias Queue = DeadlineQueue<SequenceTimerKey>

    static func key(_ raw: UInt32) -> SequenceTimerKey { SequenceTimerKey(SequenceNumber(raw)) }

    static func drain(_ queue: inout Queue, at now: Instant) -> [(UInt32, Int64)] {
        var out: [(UInt32, Int64)] = []
        while let entry = queue.popDue(at: now) {
            out.append((entry.key.sequence.rawValue, entry.deadline.nanoseconds))
        }
        return out
    }

    @Test func dueEntriesComeOutByDeadlineThenKey() {
        var queue = Queue()
        queue.schedule(Self.key(7), at: Instant(nanoseconds: 20))
        queue.schedule(Self.key(UInt32.max), at: Instant(nanoseconds: 10))
        queue.schedule(Self.key(3), at: Instant(nanoseconds: 20))
        queue.schedule(Self.key(0), at: Instant(nanoseconds: 10))
        queue.schedule(Self.key(1), at: Instant(nanoseconds: 30))
        #expect(queue.first?.deadline == Instant(nanoseconds: 10))
        #expect(Self.drain(&queue, at: Instant(nanoseconds: 5)).isEmpty, "nothing due yet")
        // Ties in raw value order, not serial order: 0 before 2³² − 1.
        let due = Self.drain(&queue, at: Instant(nanoseconds: 20))
        #expect(due.map(\.0) == [0, UInt32.max, 3, 7])
        #expect(queue.count == 1 && queue.first?.key == Self.key(1))
    }

    @Test func staleEntriesAreDroppedFromTheFrontOnly() {
        var queue = Queue()
        for raw in UInt32(1)...5 { queue.schedule(Self.key(raw), at: Instant(nanoseconds: Int64(raw))) }
        // 1 and 2 were cancelled, 4 moved: only the front is cleared.
        let live: Set<UInt32> = [3, 5]
        queue.dropStale { live.contains($0.key.sequence.rawValue) }
        #expect(queue.first?.key == Self.key(3))
        #expect(queue.count == 3)
        queue.dropStale { _ in false }
        #expect(queue.isEmpty && queue.first == nil)
    }

    @Test func compactionKeepsLiveEntriesOnceAndOnlyAboveItsLimit() {
        var queue = Queue()
        for raw in UInt32(0)..<10 {
            queue.schedule(Self.key(raw), at: Instant(nanoseconds: 100 - Int64(raw)))
            queue.schedule(Self.key(raw), at: Instant(nanoseconds: 100 - Int64(raw)))  // the same timer twice
        }
        let isLive: (Queue.Entry) -> Bool = { $0.key.sequence.rawValue % 2 == 0 }
        queue.compact(above: 20, keeping: isLive)
        #expect(queue.count == 20, "at the limit: untouched")
        queue.compact(above: 19, keeping: isLive)
        #expect(queue.count == 5)
        #expect(Self.drain(&queue, at: Instant(nanoseconds: 100)).map(\.0) == [8, 6, 4, 2, 0])
    }

    @Test func elementTimersDueTogetherRunInTheOrderTheyWereQueued() {
        var queue = DeadlineQueue<ElementTimer>()
        let tsi = TSI(gsi: GSI(rawValue: 1), sourcePort: 1)
        let deadline = Instant(nanoseconds: 50)
        for (order, raw) in [(1, UInt32(9)), (2, 3), (3, 6)] {
            queue.schedule(ElementTimer(order: UInt64(order), tsi: tsi, sequence: SequenceNumber(raw)), at: deadline)
        }
        var sequences: [UInt32?] = []
        while let entry = queue.popDue(at: deadline) { sequences.append(entry.key.sequence?.rawValue) }
        #expect(sequences == [9, 3, 6])
    }

    /// Random timers started, moved and cancelled, with time moving on and compaction at random: every live timer
    /// runs exactly once, at its latest deadline, no earlier than it was due, in (deadline, key) order; compaction
    /// changes nothing that runs.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomTimersRunOnceInOrderWithOrWithoutCompaction(seed: UInt64) {
        func run(compacting: Bool) -> [(UInt32, Int64)] {
            var random = SplitMix64(seed: seed)
            var queue = Queue()
            var current: [UInt32: Instant] = [:]  // the model: each timer's live deadline
            var now = Instant.zero
            var ran: [(UInt32, Int64)] = []
            for _ in 0..<5_000 {
                let raw = UInt32(random.bounded(64)) &+ UInt32.max &- 31  // across the wrap
                switch random.bounded(10) {
                case 0..<5:  // start or move
                    let deadline = now + .nanoseconds(Int64(random.bounded(1_000)))
                    current[raw] = deadline
                    queue.schedule(SequenceTimerKey(SequenceNumber(raw)), at: deadline)
                case 5:
                    current[raw] = nil
                case 6:
                    if compacting {
                        let model = current
                        queue.compact(above: model.count) { model[$0.key.sequence.rawValue] == $0.deadline }
                    }
                default:
                    now += .nanoseconds(Int64(random.bounded(300)))
                    var previous: (Int64, UInt32)?
                    while let entry = queue.popDue(at: now) {
                        let raw = entry.key.sequence.rawValue
                        guard current[raw] == entry.deadline else { continue }
                        current[raw] = nil
                        #expect(entry.deadline <= now)
                        if let previous {
                            #expect(previous <= (entry.deadline.nanoseconds, raw), "out of order")
                        }
                        previous = (entry.deadline.nanoseconds, raw)
                        ran.append((raw, entry.deadline.nanoseconds))
                    }
                    #expect(current.values.allSatisfy { $0 > now }, "a live timer was left behind")
                }
            }
            return ran
        }
        let plain = run(compacting: false)
        let compacted = run(compacting: true)
        #expect(plain.count > 500)
        #expect(plain.map(\.0) == compacted.map(\.0) && plain.map(\.1) == compacted.map(\.1))
    }
}
