public import PGMCore
public import PGMGroupEngine
public import PGMOrdering
public import PGMWire

/// An ordered group on PGM in virtual time (Docs/ordering.md): every member a ``GroupEngine`` (its own source and
/// a receiver of every other session) on one LAN segment, each member's downlink with its own seeded loss and
/// jitter (so that members lose different packets and repairs arrive in different orders), messages submitted at
/// random times by every member at once, and optionally a member that crashes mid-run: from then on nothing it
/// sends reaches anyone and nothing reaches it, so its last frames are at some members and not at others.
///
/// ``run()`` records what each member delivered; ``logs`` feed ``OrderingInvariants``.
public final class GroupScenario {
    public struct Configuration {
        public var seed: UInt64
        public var members: Int
        public var messagesPerMember: Int
        public var payloadSize = 64
        public var mode: OrderingMode
        public var safe = false
        /// Segment to each member (independent per member).
        public var downlink = LinkProfile()
        /// Member to segment (a loss here is shared by every other member).
        public var uplink = LinkProfile()
        /// Messages are submitted at uniformly random times in this span after the group formed.
        public var sendingTime: Duration = .seconds(2)
        /// The member (index) that crashes, and when (after the group formed).
        public var crash: (member: Int, after: Duration)?
        /// Virtual time the run may take at most.
        public var timeLimit: Duration = .seconds(120)
        public var peerExpiry: Duration = .seconds(3)

        public init(seed: UInt64, members: Int, messagesPerMember: Int, mode: OrderingMode) {
            self.seed = seed
            self.members = members
            self.messagesPerMember = messagesPerMember
            self.mode = mode
        }
    }

    /// What one member delivered and saw.
    public struct MemberLog {
        public var id: MemberID
        public var delivered: [DeliveredMessage] = []
        public var views: [GroupView] = []
        public var finished = false
        public var allLeft = false
        public var excluded = false
        public var crashed = false
    }

    public let configuration: Configuration
    public let network: Network
    public private(set) var logs: [MemberLog] = []
    public private(set) var hosts: [Host<GroupEngine>] = []
    private var random: SplitMix64
    private var crashedHost: Int?

    public static let group = NLA.ipv4(IPv4Address(239, 192, 7, 1))

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        network = Network(seed: configuration.seed)
        network.tracing = false
        random = SplitMix64(seed: configuration.seed ^ 0x6F72_6465_72)
        let segment = network.addSegment("group")
        for index in 0..<configuration.members {
            let address = NLA.ipv4(IPv4Address(10, 0, 0, UInt8(index + 1)))
            let tsi = TSI(gsi: GSI(rawValue: 0x0A00_0000_0000 | UInt64(index + 1) << 16 | 0x77), sourcePort: 4000)
            var source = Source.Configuration(
                tsi: tsi, dataDestinationPort: 7500, group: Self.group, sourceAddress: address)
            source.seed = configuration.seed &+ UInt64(index)
            source.rate = 4_000_000
            source.ambientSPMInterval = .milliseconds(500)
            source.joinHistory = UInt32.max
            var receiver = Receiver.Configuration(dataDestinationPort: 7500, group: Self.group)
            receiver.peerExpiry = configuration.peerExpiry
            receiver.seed = configuration.seed &+ 1000 &+ UInt64(index)
            var member = GroupMember.Configuration(
                me: MemberID(tsi), name: "m\(index + 1)", mode: configuration.mode)
            member.safe = configuration.safe
            member.expectedMembers = configuration.members
            let engine = GroupEngine(
                transport: GroupTransport(
                    source: Source(configuration: source, at: .zero), receiver: Receiver(configuration: receiver)),
                member: member, at: .zero)
            let host = network.addHost(
                "m\(index + 1)", engine: engine,
                interfaces: [
                    InterfaceConfiguration(
                        segment: segment, address: address, uplink: configuration.uplink,
                        downlink: configuration.downlink)
                ])
            hosts.append(host)
            logs.append(MemberLog(id: MemberID(tsi)))
        }
    }

    /// Runs until every member that did not crash saw every other member leave, or the time limit.
    public func run() {
        for (index, host) in hosts.enumerated() {
            host.onActivity = { [unowned self] host, now in self.drain(index, host, at: now) }
            network.wake(host)
        }
        let end = Instant.zero + configuration.timeLimit
        _ = network.run(until: end) { [unowned self] in
            !logs.enumerated().allSatisfy { index, log in index == crashedHost || log.allLeft || log.excluded }
        }
    }

    private var formed: Set<Int> = []
    private var scheduled: [Int: [Instant]] = [:]
    private var submitted: [Int: Int] = [:]

    private func drain(_ index: Int, _ host: Host<GroupEngine>, at now: Instant) {
        guard index != crashedHost else { return }
        while let event = host.engine.pollEvent() {
            switch event {
            case .group(.formed(let view)):
                logs[index].views.append(view)
                if formed.insert(index).inserted { scheduleMessages(index, from: now) }
                if index == 0, let crash = configuration.crash {
                    network.schedule(at: now + crash.after) { [unowned self] _ in self.crashMember(crash.member) }
                }
            case .group(.viewChanged(let view, _)):
                logs[index].views.append(view)
            case .group(.delivered(let message)):
                logs[index].delivered.append(message)
            case .group(.excluded):
                logs[index].excluded = true
            case .group(.groupFinished):
                logs[index].finished = true
            case .allLeft:
                logs[index].allLeft = true
            case .group, .memberClosed, .memberLost:
                break
            }
        }
        submitDue(index, host, at: now)
    }

    private func scheduleMessages(_ index: Int, from start: Instant) {
        let span = max(1, configuration.sendingTime.totalNanoseconds)
        var times: [Instant] = []
        for _ in 0..<configuration.messagesPerMember {
            times.append(start + Duration(nanoseconds: Int64(random.next() % UInt64(span))))
        }
        times.sort()
        scheduled[index] = times
        for time in Set(times) {
            network.schedule(at: time) { [unowned self] network in network.wake(self.hosts[index]) }
        }
    }

    /// Submits every message whose time has come while the engine accepts; the last one is followed by DONE.
    private func submitDue(_ index: Int, _ host: Host<GroupEngine>, at now: Instant) {
        guard var times = scheduled[index] else { return }
        var count = submitted[index, default: 0]
        while let first = times.first, first <= now, host.engine.acceptsMessages {
            times.removeFirst()
            count += 1
            var payload = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: configuration.payloadSize)
            withUnsafeBytes(of: UInt32(count).bigEndian) {
                payload.replaceSubrange(0..<min(4, payload.count), with: $0.prefix(payload.count))
            }
            _ = try? host.engine.submit(payload, at: now)
        }
        submitted[index] = count
        scheduled[index] = times
        if times.isEmpty {
            scheduled[index] = nil
            host.engine.finish(at: now)
        } else if let first = times.first, first <= now {
            // Back-pressure: try again a little later.
            network.schedule(at: now + .milliseconds(1)) { [unowned self] network in network.wake(self.hosts[index]) }
        }
    }

    private func crashMember(_ index: Int) {
        guard crashedHost == nil, index < hosts.count else { return }
        crashedHost = index
        logs[index].crashed = true
        let hostIndex = index
        let previous = network.dropRule
        network.dropRule = { query in
            query.sender == hostIndex || query.receiver == hostIndex || (previous?(query) ?? false)
        }
    }
}
