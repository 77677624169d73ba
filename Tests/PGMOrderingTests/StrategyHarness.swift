@testable import PGMOrdering

/// The simulator's seeded SplitMix64 (Docs/style.md: test inputs come from a seeded generator).
typealias HarnessRandom = SeededRandom

extension SeededRandom {
    mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        let low = range.lowerBound / .nanoseconds(1)
        let high = range.upperBound / .nanoseconds(1)
        return .nanoseconds(Int64(Double.random(in: low...high, using: &self)))
    }
}

/// One view of `n` members, each running a ``TotalOrderStrategy``, at the level the strategy sees: every member's
/// session is a FIFO channel to every other member with seeded random delays (so frames from different members
/// interleave differently at each), carrying its messages (``TotalOrderStrategy/messageArrived(_:at:)`` at the
/// receiver) and its controls; a member's own messages arrive when submitted and its controls come back to it at
/// once, as ``GroupMember`` does. Optionally follows controls with malformed frames (strict prefixes, which a
/// strategy must refuse, or bytes of no strategy's kind) and with replays of themselves, on the same channel.
struct StrategyHarness<Strategy: TotalOrderStrategy> {
    struct Configuration {
        var members = 3
        var messagesPerMember = 20
        var seed: UInt64 = 1
        var nextGlobal: UInt64 = 1
        /// Each frame's delay on a channel, uniform in this range (a channel stays FIFO).
        var delay: ClosedRange<Duration> = .zero ... .milliseconds(3)
        /// Each channel's fixed part of the delay, drawn once per channel in this range: slow and fast paths make
        /// members lag behind one another (so that priority counters and rounds diverge).
        var channelSkew: ClosedRange<Duration> = .zero ... .zero
        /// Every member submits its messages at uniform random times in `0...submitSpan`.
        var submitSpan: Duration = .milliseconds(50)
        /// For each control a member receives from another: the chance it is followed by a malformed frame, and
        /// by a replay of itself.
        var malformedChance = 0.0
        var replayChance = 0.0
        var timeLimit: Duration = .seconds(60)
        /// When set, a member polls its strategy only at multiples of this (a driver's loop turn handling every
        /// frame that came meanwhile), so that what is pending since the last poll shares a control; when nil,
        /// after every frame.
        var pollInterval: Duration?
        /// Whether a member's controls come back to it (as ``GroupMember`` does); the strategies must not need it.
        var loopback = true
        /// Timers keep running at least until then, even once everything is ordered (to watch an idle token).
        var runAtLeast: Duration = .zero
    }

    struct Outcome {
        var members: [MemberID]
        var messages: [MessageID]
        var nextGlobal: UInt64
        /// Per member, what ``TotalOrderStrategy/pollOrdered()`` returned, in order.
        var ordered: [[Ordered]]
        var strategies: [Strategy]
        /// Every control multicast, in the order sent: when and by which member (index).
        var controls: [(time: Duration, member: Int, bytes: [UInt8])]
        var malformedInjected: [Int]
        var replaysInjected: [Int]
        var finished: Bool
        var end: Duration
        var submittedAt: [MessageID: Duration] = [:]
        /// Per message, when the last member ordered it.
        var orderedEverywhereAt: [MessageID: Duration] = [:]

        /// The `fraction` quantile of the time from submission to ordered at every member.
        func latency(_ fraction: Double) -> Duration {
            let latencies = orderedEverywhereAt.map { $0.value - submittedAt[$0.key, default: .zero] }.sorted()
            guard !latencies.isEmpty else { return .zero }
            return latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]
        }

        /// What breaks the total order's invariants (nothing when the run is good).
        func violations() -> [String] {
            var found: [String] = []
            if !finished { found.append("not every member ordered every message by \(end)") }
            let expected = Set(messages)
            for (member, sequence) in ordered.enumerated() {
                if sequence != ordered[0] { found.append("member \(member) ordered differently from member 0") }
                let ids = sequence.map(\.id)
                if Set(ids).count != ids.count { found.append("member \(member) ordered a message twice") }
                if Set(ids) != expected { found.append("member \(member) ordered \(ids.count) of \(expected.count)") }
                for (offset, entry) in sequence.enumerated() where entry.global != nextGlobal + UInt64(offset) {
                    found.append("member \(member): global \(entry.global) at \(offset) (from \(nextGlobal))")
                    break
                }
                var last: [MemberID: UInt64] = [:]
                for entry in sequence {
                    if entry.id.sequence != last[entry.id.sender, default: 0] + 1 {
                        found.append("member \(member): \(entry.id) after #\(last[entry.id.sender, default: 0])")
                    }
                    last[entry.id.sender] = entry.id.sequence
                }
            }
            return found
        }
    }

    struct Ordered: Equatable {
        var id: MessageID
        var global: UInt64
    }

    enum Item {
        case data(MessageID)
        case control([UInt8])
        case malformed([UInt8])
        case replay([UInt8])
    }

    enum Action {
        case poll(member: Int)
        case submit(member: Int)
        case deliver(from: Int, to: Int, Item)
    }

    struct Event: Comparable {
        var time: Duration
        var order: Int
        var action: Action

        static func == (lhs: Self, rhs: Self) -> Bool { (lhs.time, lhs.order) == (rhs.time, rhs.order) }
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.time, lhs.order) < (rhs.time, rhs.order) }
    }

    let configuration: Configuration
    var random: HarnessRandom
    var members: [MemberID]
    var strategies: [Strategy]
    var events: [Event] = []
    var eventOrder = 0
    /// Per channel (from, to): the time its last frame arrives (FIFO).
    var channelTail: [[Duration]]
    var channelBase: [[Duration]] = []
    var submitted: [UInt64]
    /// Members with a poll scheduled (with ``Configuration/pollInterval``).
    var pollScheduled: [Bool]
    var orderedCount: [MessageID: Int] = [:]
    var outcome: Outcome

    static func run(_ configuration: Configuration) -> Outcome {
        var harness = Self(configuration)
        harness.simulate()
        return harness.outcome
    }

    init(_ configuration: Configuration) {
        self.configuration = configuration
        random = HarnessRandom(seed: configuration.seed)
        let n = configuration.members
        // Random TSI-like identities, sorted as a view's members are.
        var identities = Set<UInt64>()
        while identities.count < n { identities.insert(random.next() >> 1) }
        let members = identities.sorted().map(MemberID.init(rawValue:))
        self.members = members
        strategies = members.map {
            Strategy(me: $0, members: members, view: 1, nextGlobal: configuration.nextGlobal, at: .zero)
        }
        channelTail = Array(repeating: Array(repeating: .zero, count: n), count: n)
        for _ in 0..<n {
            var bases: [Duration] = []
            for _ in 0..<n {
                // A quarter of the channels are four times as slow: paths around a congested link.
                let slow = Int.random(in: 0..<4, using: &random) == 0 ? 4 : 1
                bases.append(random.duration(in: configuration.channelSkew) * slow)
            }
            channelBase.append(bases)
        }
        submitted = Array(repeating: 0, count: n)
        pollScheduled = Array(repeating: false, count: n)
        outcome = Outcome(
            members: members,
            messages: members.flatMap { member in
                (0..<UInt64(configuration.messagesPerMember)).map { MessageID(sender: member, sequence: $0 + 1) }
            },
            nextGlobal: configuration.nextGlobal, ordered: Array(repeating: [], count: n), strategies: [],
            controls: [], malformedInjected: Array(repeating: 0, count: n),
            replaysInjected: Array(repeating: 0, count: n), finished: false, end: .zero)
        for member in 0..<n {
            for _ in 0..<configuration.messagesPerMember {
                schedule(.submit(member: member), at: random.duration(in: .zero...configuration.submitSpan))
            }
        }
    }

    mutating func schedule(_ action: Action, at time: Duration) {
        events.append(Event(time: time, order: eventOrder, action: action))
        eventOrder += 1
        var child = events.count - 1
        while child > 0, events[child] < events[(child - 1) / 2] {
            events.swapAt(child, (child - 1) / 2)
            child = (child - 1) / 2
        }
    }

    mutating func popEvent() -> Event {
        events.swapAt(0, events.count - 1)
        let first = events.removeLast()
        var parent = 0
        while true {
            var smallest = parent
            for child in [2 * parent + 1, 2 * parent + 2] where child < events.count && events[child] < events[smallest]
            {
                smallest = child
            }
            if smallest == parent { return first }
            events.swapAt(parent, smallest)
            parent = smallest
        }
    }

    /// Sends `item` from `from` to every other member, each copy after its channel's previous frame.
    mutating func multicast(_ item: Item, from: Int, at now: Duration) {
        for to in strategies.indices where to != from {
            send(item, from: from, to: to, at: now)
        }
    }

    mutating func send(_ item: Item, from: Int, to: Int, at now: Duration) {
        let time = max(
            channelTail[from][to], now + channelBase[from][to] + random.duration(in: configuration.delay))
        channelTail[from][to] = time
        schedule(.deliver(from: from, to: to, item), at: time)
    }

    var allOrdered: Bool { outcome.ordered.allSatisfy { $0.count >= outcome.messages.count } }

    mutating func simulate() {
        var now = Duration.zero
        while now <= configuration.timeLimit {
            // Once everything is ordered, timers stop (an idle token would rotate forever) and what is in flight
            // is delivered, so that every injected frame reaches its member.
            let timer =
                allOrdered && now >= configuration.runAtLeast ? nil : strategies.compactMap(\.nextDeadline).min()
            guard let next = [events.first?.time, timer].compactMap({ $0 }).min() else { break }
            now = max(now, next)
            if let timer, timer <= now {
                for member in strategies.indices {
                    if let deadline = strategies[member].nextDeadline, deadline <= now {
                        strategies[member].advance(to: now)
                        poll(member, at: now)
                    }
                }
                continue
            }
            let event = popEvent()
            switch event.action {
            case .poll(let member):
                pollScheduled[member] = false
                drain(member, at: now)
            case .submit(let member):
                submitted[member] += 1
                let id = MessageID(sender: members[member], sequence: submitted[member])
                outcome.submittedAt[id] = now
                strategies[member].messageArrived(id, at: now)
                multicast(.data(id), from: member, at: now)
                poll(member, at: now)
            case .deliver(let from, let to, let item):
                deliver(item, from: from, to: to, at: now)
                poll(to, at: now)
            }
        }
        outcome.finished = allOrdered
        outcome.end = now
        outcome.strategies = strategies
    }

    mutating func deliver(_ item: Item, from: Int, to: Int, at now: Duration) {
        switch item {
        case .data(let id):
            strategies[to].messageArrived(id, at: now)
        case .malformed(let bytes), .replay(let bytes):
            strategies[to].receive(control: bytes[...], from: members[from], at: now)
        case .control(let bytes):
            strategies[to].receive(control: bytes[...], from: members[from], at: now)
            if Double.random(in: 0..<1, using: &random) < configuration.malformedChance {
                outcome.malformedInjected[to] += 1
                send(.malformed(malformed(from: bytes)), from: from, to: to, at: now)
            }
            if Double.random(in: 0..<1, using: &random) < configuration.replayChance {
                outcome.replaysInjected[to] += 1
                send(.replay(bytes), from: from, to: to, at: now)
            }
        }
    }

    /// A strict prefix of a control (some field is cut short), or random bytes led by a kind no strategy uses.
    mutating func malformed(from control: [UInt8]) -> [UInt8] {
        if Bool.random(using: &random) {
            return Array(control.prefix(Int.random(in: 0..<control.count, using: &random)))
        }
        return [0] + (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Drains `member` now, or at its next loop turn.
    mutating func poll(_ member: Int, at now: Duration) {
        guard let interval = configuration.pollInterval else { return drain(member, at: now) }
        guard !pollScheduled[member] else { return }
        pollScheduled[member] = true
        let turns = (now / interval).rounded(.up)
        schedule(.poll(member: member), at: max(now, interval * turns))
    }

    /// Multicasts `member`'s controls (looping each back to it at once) and records what it ordered.
    mutating func drain(_ member: Int, at now: Duration) {
        while let control = strategies[member].pollControl() {
            outcome.controls.append((now, member, control))
            if configuration.loopback {
                strategies[member].receive(control: control[...], from: members[member], at: now)
            }
            multicast(.control(control), from: member, at: now)
        }
        while let (id, global) = strategies[member].pollOrdered() {
            outcome.ordered[member].append(Ordered(id: id, global: global))
            orderedCount[id, default: 0] += 1
            if orderedCount[id] == members.count { outcome.orderedEverywhereAt[id] = now }
        }
    }
}
