/// A message-level simulation of a group (Docs/ordering.md), pure and seeded, for the tests, the lab tools and
/// the PGM-level simulation's checks: N members, each pair joined by a reliable per-sender FIFO channel with
/// random delays (so frames of different senders interleave differently at each member), submissions at random
/// times, and optional crashes. A crashed member's frames still in flight reach each receiver up to a random
/// point (its own cut per receiver), and after `expiry` every survivor gets ``GroupMember/memberLost(_:reason:at:)``,
/// as PGM would report an expired session. What PGM does below (loss, repair) is out of scope here: the channels
/// are what PGM gives the ordering layer.
public struct OrderingSimulation {
    public enum CrashTarget: Sendable, Equatable {
        /// The smallest member still running (the sequencer, the token's creator).
        case smallest
        /// The member at this index in MemberID order.
        case member(Int)
        /// A member drawn from the seed.
        case random
    }

    public struct Crash: Sendable, Equatable {
        public var target: CrashTarget
        /// When; `nil`: drawn from the seed within the submission window, after the group formed (a crash
        /// before formation leaves a group that waits for `--members N` forever, as it should).
        public var at: Duration?

        public init(target: CrashTarget, at: Duration? = nil) {
            self.target = target
            self.at = at
        }
    }

    public struct Configuration: Sendable {
        public var seed: UInt64
        public var members: Int
        public var mode: OrderingMode
        public var safe = false
        public var messagesPerMember = 20
        /// Form with `--members N` (true) or by the quiet period.
        public var expectMembers = true
        public var crashes: [Crash] = []
        /// Submissions fall at random times in [0, submitWindow].
        public var submitWindow = Duration.milliseconds(200)
        /// One-way delay of a frame, drawn per frame (channels stay FIFO).
        public var minimumDelay = Duration.microseconds(50)
        public var maximumDelay = Duration.milliseconds(5)
        /// From a crash to `memberLost` at the survivors (PGM's peer expiry).
        public var expiry = Duration.milliseconds(300)
        /// Virtual time at which a run that has not finished is cut (a liveness failure).
        public var timeLimit = Duration.seconds(30)
        /// Bounds the work of a run that goes wrong.
        public var eventLimit = 2_000_000

        public init(seed: UInt64, members: Int, mode: OrderingMode) {
            self.seed = seed
            self.members = members
            self.mode = mode
        }
    }

    public struct Outcome: Sendable {
        public var members: [MemberID]
        public var logs: [MemberOrderingLog]
        public var crashed: [MemberID]
        public var violations: [OrderingViolation]
        /// Uniform delivery at crashed members: measured, not promised.
        public var uniformViolations: [OrderingViolation]
        public var statistics: [MemberID: GroupStatistics]
        public var events: [MemberID: [GroupEvent]]
        /// Virtual time when every survivor finished (or the run was cut).
        public var endTime: Duration
        public var processedEvents: Int
    }

    enum Action {
        case arrive(from: Int, to: Int, frame: [UInt8])
        case submit(Int)
        case finish(Int)
        case timer(Int)
        case crash(Int)
        case lost(Int, crashed: Int)
    }

    public static func run(_ configuration: Configuration) -> Outcome {
        var simulation = OrderingSimulation(configuration)
        return simulation.run()
    }

    let configuration: Configuration
    var random: SeededRandom
    var ids: [MemberID]
    var members: [GroupMember]
    var queue = EventQueue<Action>()
    var channelClear: [[Duration]]
    var crashedAt: [Duration?]
    /// For a crashed sender: per receiver, the time after which its frames are lost.
    var cutAt: [[Duration]]
    var timerAt: [Duration?]
    var sent: [UInt64]
    var logs: [[OrderingLogEntry]]
    var events: [[GroupEvent]]
    var now = Duration.zero

    init(_ configuration: Configuration) {
        self.configuration = configuration
        random = SeededRandom(seed: configuration.seed)
        let count = max(1, configuration.members)
        var chosen: Set<UInt64> = []
        while chosen.count < count { chosen.insert(random.next() | 1) }
        ids = chosen.sorted().map { MemberID(rawValue: $0) }
        members = []
        channelClear = Array(repeating: Array(repeating: .zero, count: count), count: count)
        cutAt = channelClear
        crashedAt = Array(repeating: nil, count: count)
        timerAt = Array(repeating: nil, count: count)
        sent = Array(repeating: 0, count: count)
        logs = Array(repeating: [], count: count)
        events = Array(repeating: [], count: count)
        for index in 0..<count {
            var member = GroupMember.Configuration(me: ids[index], name: "m\(index)", mode: configuration.mode)
            member.safe = configuration.safe
            member.expectedMembers = configuration.expectMembers ? count : nil
            members.append(GroupMember(configuration: member, at: .zero))
        }
    }

    mutating func run() -> Outcome {
        let count = members.count
        let window = max(1, configuration.submitWindow.nanoseconds)
        for index in 0..<count {
            var times = (0..<configuration.messagesPerMember).map { _ in random.below(window) }
            times.sort()
            for time in times { queue.push(.nanoseconds(time), .submit(index)) }
            queue.push(configuration.submitWindow + .milliseconds(1), .finish(index))
        }
        var alive = Set(0..<count)
        for crash in configuration.crashes {
            let victim: Int
            switch crash.target {
            case .smallest: victim = alive.min() ?? 0
            case .member(let index): victim = min(max(0, index), count - 1)
            case .random: victim = alive.sorted()[Int(random.below(Int64(max(1, alive.count))))]
            }
            alive.remove(victim)
            let formed = Duration.milliseconds(30).nanoseconds
            queue.push(crash.at ?? .nanoseconds(formed + random.below(max(1, window - formed))), .crash(victim))
        }
        for index in 0..<count { afterInput(index) }
        var processed = 0
        while let (time, action) = queue.pop() {
            if time > configuration.timeLimit || processed >= configuration.eventLimit { break }
            now = time
            processed += 1
            handle(action)
            if isOver { break }
        }
        return outcome(processed: processed)
    }

    /// Members that crashed, finished or were excluded.
    var done: Set<Int> = []

    var isOver: Bool { done.count == members.count }

    mutating func handle(_ action: Action) {
        switch action {
        case .arrive(let from, let to, let frame):
            guard crashedAt[to] == nil else { return }
            if crashedAt[from] != nil, now > cutAt[from][to] { return }
            members[to].receive(frame: frame[...], from: ids[from], at: now)
            afterInput(to)
        case .submit(let index):
            guard crashedAt[index] == nil else { return }
            var payload = ByteWriter()
            payload.write(UInt32(index))
            payload.write(UInt32(truncatingIfNeeded: sent[index] + 1))
            for _ in 0..<random.below(24) { payload.write(UInt8(truncatingIfNeeded: random.next())) }
            if (try? members[index].submit(payload.bytes, at: now)) != nil { sent[index] += 1 }
            afterInput(index)
        case .finish(let index):
            guard crashedAt[index] == nil else { return }
            members[index].finish(at: now)
            afterInput(index)
        case .timer(let index):
            guard crashedAt[index] == nil, timerAt[index] == now else { return }
            timerAt[index] = nil
            members[index].advance(to: now)
            afterInput(index)
        case .crash(let index):
            guard crashedAt[index] == nil else { return }
            crashedAt[index] = now
            done.insert(index)
            let span = max(1, configuration.maximumDelay.nanoseconds + 1)
            for receiver in members.indices where receiver != index {
                cutAt[index][receiver] = now + .nanoseconds(random.below(span))
                queue.push(now + configuration.expiry, .lost(receiver, crashed: index))
            }
        case .lost(let survivor, let crashed):
            guard crashedAt[survivor] == nil else { return }
            members[survivor].memberLost(ids[crashed], reason: .expired, at: now)
            afterInput(survivor)
        }
    }

    /// Sends what the member queued, records its events and arms its timer.
    mutating func afterInput(_ index: Int) {
        let low = configuration.minimumDelay.nanoseconds
        let span = max(1, configuration.maximumDelay.nanoseconds - low + 1)
        while let frame = members[index].pollFrame() {
            for receiver in members.indices where receiver != index {
                let arrival = max(channelClear[index][receiver], now + .nanoseconds(low + random.below(span)))
                channelClear[index][receiver] = arrival
                queue.push(arrival, .arrive(from: index, to: receiver, frame: frame))
            }
        }
        while let event = members[index].pollEvent() {
            if case .delivered(let message) = event {
                logs[index].append(
                    OrderingLogEntry(id: message.id, global: message.global, dependencies: message.dependencies))
            }
            events[index].append(event)
        }
        if members[index].isFinished || members[index].isExcluded { done.insert(index) }
        if let deadline = members[index].nextDeadline {
            let at = max(deadline, now)
            if timerAt[index].map({ at < $0 || $0 < now }) ?? true {
                timerAt[index] = at
                queue.push(at, .timer(index))
            }
        }
    }

    func outcome(processed: Int) -> Outcome {
        let memberLogs = members.indices.map { index in
            MemberOrderingLog(
                member: ids[index], entries: logs[index],
                crashed: crashedAt[index] != nil || members[index].isExcluded,
                finished: members[index].isFinished, sent: sent[index])
        }
        return Outcome(
            members: ids, logs: memberLogs, crashed: members.indices.filter { crashedAt[$0] != nil }.map { ids[$0] },
            violations: OrderingInvariants.check(mode: configuration.mode, logs: memberLogs),
            uniformViolations: OrderingInvariants.uniformViolations(mode: configuration.mode, logs: memberLogs),
            statistics: Dictionary(uniqueKeysWithValues: members.indices.map { (ids[$0], members[$0].statistics) }),
            events: Dictionary(uniqueKeysWithValues: members.indices.map { (ids[$0], events[$0]) }), endTime: now,
            processedEvents: processed)
    }
}

extension Duration {
    /// Whole nanoseconds (the simulation's clock resolution).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// SplitMix64: the same generator as PGMCore's, repeated here because PGMOrdering depends on nothing (the same
/// seed gives the same run on every platform and Swift version, which `Int.random` does not promise). The
/// ordering tests draw from it too.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0), by rejection so that no value is favoured.
    mutating func below(_ bound: Int64) -> Int64 {
        let limit = UInt64(max(1, bound))
        let threshold = (0 &- limit) % limit
        while true {
            let value = next()
            if value >= threshold { return Int64(value % limit) }
        }
    }
}

/// A binary min-heap of timed actions; equal times leave in the order they were pushed (channels stay FIFO).
struct EventQueue<Action> {
    private var heap: [(time: Duration, order: UInt64, action: Action)] = []
    private var pushed: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ time: Duration, _ action: Action) {
        pushed += 1
        heap.append((time, pushed, action))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard earlier(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Duration, Action)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, earlier(left, smallest) { smallest = left }
            if right < heap.count, earlier(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.action)
    }

    private func earlier(_ a: Int, _ b: Int) -> Bool {
        heap[a].time < heap[b].time || (heap[a].time == heap[b].time && heap[a].order < heap[b].order)
    }
}
