public import PGMCore
public import PGMWire

/// One source, a tree of routers, and receivers on the leaf subnets: the shape RFC 3208 §7 network elements are
/// measured in.
///
/// The source's segment holds the root router's upstream interface. Level `i` of ``Configuration/fanout``
/// gives every router of that level `fanout[i]` downstream segments; below the last level each segment is a
/// leaf with ``Configuration/receiversPerLeaf`` receivers, otherwise it holds one router of the next level. The
/// routers are ``NetworkElement``s, or with ``Configuration/elements`` off, ``PlainMulticastRouter``s that
/// forward every downstream packet everywhere, as a multicast router without PGM does.
///
/// Every receiver must deliver the sent APDUs in order or report exactly what it lost (``verify()``); the
/// scenario also counts NAKs per lost sequence and sender at the source, RDATA per segment, and repair latency.
public final class ElementTreeScenario {
    public struct Configuration {
        public var seed: UInt64
        public var apdus: [[UInt8]]
        /// Downstream segments per router, level by level from the root.
        public var fanout: [Int]
        public var receiversPerLeaf: Int
        /// Run ``NetworkElement``s (true) or ``PlainMulticastRouter``s (false).
        public var elements = true
        /// Every link not given a profile below: the source's and each router's upstream attachment both ways,
        /// routers' non-leaf downstream attachments, and the segment-to-router direction of leaf attachments.
        public var link = LinkProfile()
        /// Each router's upstream segment to the router: loss here is loss above it, shared by its whole subtree.
        public var routerUpstreamDownlink: LinkProfile?
        /// A router's attachment to each of its leaf segments, router to segment (a loss hits the whole subnet).
        public var leafRouterUplink = LinkProfile()
        /// A leaf segment to each receiver (independent per receiver).
        public var receiverDownlink = LinkProfile()
        /// Each receiver to its segment (its NAKs).
        public var receiverUplink = LinkProfile()
        /// ``receiverDownlink`` for the receivers of particular leaves, by leaf index.
        public var receiverDownlinkByLeaf: [Int: LinkProfile] = [:]
        public var source: Source.Configuration
        public var receiver: Receiver.Configuration
        public var element: (inout NetworkElement.Configuration) -> Void = { _ in }
        /// Record every packet (per-segment counts need it; large benchmarks turn it off).
        public var tracing = true

        public init(seed: UInt64, apdus: [[UInt8]], fanout: [Int], receiversPerLeaf: Int) {
            precondition(!fanout.isEmpty && fanout.allSatisfy { $0 > 0 }, "a tree needs at least one router level")
            self.seed = seed
            self.apdus = apdus
            self.fanout = fanout
            self.receiversPerLeaf = receiversPerLeaf
            let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))
            let tsi = TSI(gsi: GSI(rawValue: 0x0102_0304_0506 ^ (seed & 0xFFFF)), sourcePort: 4000)
            source = Source.Configuration(
                tsi: tsi, dataDestinationPort: 7500, group: group, sourceAddress: ElementTreeScenario.sourceAddress)
            source.rate = 1_000_000
            source.joinHistory = UInt32.max
            receiver = Receiver.Configuration(dataDestinationPort: 7500, group: group)
        }
    }

    public static let sourceAddress = NLA.ipv4(IPv4Address(10, 0, 0, 1))

    public let configuration: Configuration
    public let network: Network
    public let source: Host<Source>
    public private(set) var elementHosts: [Host<NetworkElement>] = []
    public private(set) var plainRouters: [Host<PlainMulticastRouter>] = []
    public private(set) var receivers: [Host<Receiver>] = []
    /// Segment of each receiver, by receiver index.
    public private(set) var receiverSegments: [SegmentID] = []
    public private(set) var leafSegments: [SegmentID] = []
    public let sourceSegment: SegmentID
    public private(set) var logs: [SessionScenario.ReceiverLog]
    /// Sequence offsets (from ``initialSequence``) each APDU occupies.
    public var apduSequences: [Range<UInt32>] { ledger.sequences }
    private let ledger: APDULedger
    public let initialSequence: SequenceNumber
    public private(set) var sentCount = 0
    public private(set) var closedReceivers = 0

    /// NAKs the source got, per sequence offset, per sender, in the current repair cycle: from the first NAK
    /// until the source's RDATA for it, or until ``repairCycle`` passed.
    private var cycleNAKs: [UInt32: (start: Instant, counts: [NLA: Int])] = [:]
    /// The longest repair cycle: NAK_ELIM_IVL of the elements, the period RFC 3208 §7.4 lets one duplicate
    /// through per ("at most one NAK per NAK_ELIM_IVL"), e.g. a receiver asking again after its NAK_RDATA_IVL
    /// when the source ignored the element's NAK because it had just repaired another subnet.
    public var repairCycle: Duration {
        elementHosts.first?.engine.configuration.nakEliminationInterval ?? configuration.receiver.nakRdataInterval
    }
    /// The most NAKs for one sequence from one sender within one repair cycle.
    public private(set) var maximumNAKsPerCycle = 0
    /// Sequence offsets the source was asked to repair, and how many NAK sequences and RDATA it handled.
    public private(set) var sourceNAKSequences = 0
    public private(set) var sourceRDATA = 0
    /// Offsets of sequences some receiver missed as ODATA.
    public private(set) var lostSomewhere: Set<UInt32> = []
    /// Repair latencies (ODATA sent at the source to RDATA delivered at a receiver that missed it).
    public private(set) var repairLatencies: [Duration] = []
    private var odataSentAt: [UInt32: Instant] = [:]
    private var receiverIndexByHost: [Int: Int] = [:]

    public init(_ configuration: Configuration) {
        var configuration = configuration
        var seeds = SplitMix64(seed: configuration.seed)
        configuration.source.seed = seeds.next()
        self.configuration = configuration
        network = Network(seed: seeds.next())
        network.tracing = configuration.tracing
        sourceSegment = network.addSegment("source")
        let sourceEngine = Source(configuration: configuration.source, at: .zero)
        initialSequence = sourceEngine.lead &+ 1
        source = network.addHost(
            "source", engine: sourceEngine,
            interfaces: [
                InterfaceConfiguration(
                    segment: sourceSegment, address: Self.sourceAddress, uplink: configuration.link,
                    downlink: configuration.link)
            ])
        logs = []
        ledger = APDULedger(apdus: configuration.apdus, source: configuration.source, initialSequence: initialSequence)
        // Hosts are numbered in creation order: the source is 0.
        var hostCount = 1
        var segmentCount = 1
        func address(segment: Int, host: Int) -> NLA {
            .ipv4(IPv4Address(rawValue: IPv4Address(10, 0, 0, 0).rawValue | UInt32(segment) << 8 | UInt32(host)))
        }
        var parents: [(segment: SegmentID, upstreamAddress: NLA)] = [(sourceSegment, Self.sourceAddress)]
        for (level, fanout) in configuration.fanout.enumerated() {
            let leaves = level == configuration.fanout.count - 1
            var next: [(segment: SegmentID, upstreamAddress: NLA)] = []
            for (routerIndex, parent) in parents.enumerated() {
                let upstreamAddress = address(segment: Int(parent.segment.rawValue) + 1, host: 200 + routerIndex % 50)
                var interfaces = [
                    InterfaceConfiguration(
                        segment: parent.segment, address: upstreamAddress, uplink: configuration.link,
                        downlink: configuration.routerUpstreamDownlink ?? configuration.link)
                ]
                for _ in 0..<fanout {
                    let segment = network.addSegment("L\(level + 1)-\(segmentCount)")
                    segmentCount += 1
                    let routerAddress = address(segment: segment.rawValue + 1, host: 1)
                    interfaces.append(
                        InterfaceConfiguration(
                            segment: segment, address: routerAddress,
                            uplink: leaves ? configuration.leafRouterUplink : configuration.link,
                            downlink: configuration.link))
                    next.append((segment, routerAddress))
                }
                let name = "router\(level + 1).\(routerIndex)"
                if configuration.elements {
                    var elementConfiguration = NetworkElement.Configuration(
                        interfaces: interfaces.enumerated().map {
                            NetworkElement.Interface(id: InterfaceID($0), address: $1.address)
                        },
                        upstream: InterfaceID(0))
                    elementConfiguration.seed = seeds.next()
                    configuration.element(&elementConfiguration)
                    elementHosts.append(
                        network.addHost(
                            name, engine: NetworkElement(configuration: elementConfiguration), interfaces: interfaces))
                } else {
                    plainRouters.append(
                        network.addHost(
                            name, engine: PlainMulticastRouter(interfaces: interfaces.count), interfaces: interfaces))
                }
                hostCount += 1
            }
            parents = next
        }
        leafSegments = parents.map(\.segment)
        for (leafIndex, leaf) in leafSegments.enumerated() {
            for position in 0..<configuration.receiversPerLeaf {
                var receiverConfiguration = configuration.receiver
                receiverConfiguration.seed = seeds.next()
                let receiverAddress = address(segment: leaf.rawValue + 1, host: 100 + position)
                // OPT_CR names the reporting receiver (RFC 3208 Appendix B).
                receiverConfiguration.address = receiverAddress
                let index = receivers.count
                let host = network.addHost(
                    "receiver\(index)", engine: Receiver(configuration: receiverConfiguration),
                    interfaces: [
                        InterfaceConfiguration(
                            segment: leaf, address: receiverAddress, uplink: configuration.receiverUplink,
                            downlink: configuration.receiverDownlinkByLeaf[leafIndex] ?? configuration.receiverDownlink)
                    ])
                receiverIndexByHost[hostCount] = index
                hostCount += 1
                host.onActivity = { [unowned self] host, _ in self.drain(host, index: index) }
                receivers.append(host)
                receiverSegments.append(leaf)
                logs.append(SessionScenario.ReceiverLog())
            }
        }
        source.onActivity = { [unowned self] host, now in self.feed(host, now: now) }
        network.observer = { [unowned self] observation in self.observe(observation) }
        network.wake(source)
    }

    /// Runs until every receiver reported the session closed, or `limit` of virtual time.
    @discardableResult
    public func run(limit: Duration = .seconds(600)) -> Bool {
        network.run(until: .zero + limit) { closedReceivers < receivers.count }
        return closedReceivers == receivers.count
    }

    // MARK: Measurements

    /// Per segment: sequence offsets of RDATA put on its wire, and of NAKs sent from it.
    public func repairsBySegment() -> [SegmentID: (rdata: [UInt32: Int], naked: Set<UInt32>)] {
        var result: [SegmentID: (rdata: [UInt32: Int], naked: Set<UInt32>)] = [:]
        for record in network.trace where record.receiver == nil {
            guard let packet = record.packet else { continue }
            switch packet.body {
            case .rdata(let data):
                result[record.segment, default: ([:], [])].rdata[offset(data.sequence), default: 0] += 1
            case .nak(let nak):
                var sequences = [nak.sequence]
                for option in packet.options {
                    if case .nakList(let list) = option.value { sequences += list }
                }
                for sequence in sequences { result[record.segment, default: ([:], [])].naked.insert(offset(sequence)) }
            default:
                break
            }
        }
        return result
    }

    /// Repair latency percentiles (0...1) over every repaired sequence at every receiver.
    public func latencyPercentile(_ fraction: Double) -> Duration? {
        guard !repairLatencies.isEmpty else { return nil }
        let sorted = repairLatencies.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }

    private func offset(_ sequence: SequenceNumber) -> UInt32 {
        UInt32(bitPattern: initialSequence.distance(to: sequence))
    }

    /// Every broken invariant, one line each: each receiver delivered exactly the sent APDUs in order except those
    /// it reported lost, and its reports name exactly the sequences it never received.
    public func verify() -> [String] {
        var failures: [String] = []
        let total = apduSequences.last?.upperBound ?? 0
        for (index, log) in logs.enumerated() {
            let name = "receiver\(index)"
            if log.strayReports > 0 { failures.append("\(name): \(log.strayReports) loss reports outside the session") }
            for offset in 0..<total where log.lost.contains(offset) == log.received.contains(offset) {
                failures.append(
                    log.lost.contains(offset)
                        ? "\(name): sequence +\(offset) reported lost but was received"
                        : "\(name): sequence +\(offset) never received and never reported lost")
                break
            }
            let delivered = log.delivered.compactMap { $0 }
            if delivered.count != log.delivered.count { failures.append("\(name): delivered corrupted bytes") }
            if delivered != delivered.sorted() || Set(delivered).count != delivered.count {
                failures.append("\(name): delivery out of order or duplicated")
            }
            let deliveredSet = Set(delivered)
            for (apdu, range) in apduSequences.enumerated() {
                let hit = range.contains { log.lost.contains($0) }
                if deliveredSet.contains(apdu) == hit {
                    failures.append(
                        hit
                            ? "\(name): APDU \(apdu) delivered although reported lost"
                            : "\(name): APDU \(apdu) neither delivered nor reported lost")
                    break
                }
            }
            if !log.closed { failures.append("\(name): session close not reported") }
        }
        return failures
    }

    // MARK: Hooks

    private func feed(_ host: Host<Source>, now: Instant) {
        while sentCount < configuration.apdus.count {
            do {
                try host.engine.send(configuration.apdus[sentCount], at: now)
                sentCount += 1
            } catch {
                break
            }
        }
        if sentCount == configuration.apdus.count && !host.engine.isClosing { host.engine.close(at: now) }
        collectSourceEvents(now: now)
    }

    /// Counts the NAKs the source reported. Also run before each RDATA leaves, so the NAKs that caused it fall
    /// in the cycle it ends.
    private func collectSourceEvents(now: Instant) {
        while let event = source.engine.pollEvent() {
            guard case .nakReceived(let sequences, let sender) = event else { continue }
            sourceNAKSequences += sequences.count
            for sequence in sequences {
                var cycle = cycleNAKs[offset(sequence)] ?? (now, [:])
                if now - cycle.start >= repairCycle { cycle = (now, [:]) }
                let count = (cycle.counts[sender] ?? 0) + 1
                cycle.counts[sender] = count
                cycleNAKs[offset(sequence)] = cycle
                maximumNAKsPerCycle = max(maximumNAKsPerCycle, count)
            }
        }
    }

    private func drain(_ host: Host<Receiver>, index: Int) {
        while let event = host.engine.pollEvent() {
            if ledger.record(event, in: &logs[index]) { closedReceivers += 1 }
        }
    }

    private func observe(_ observation: Network.Observation) {
        switch (observation.kind, observation.packet.body) {
        case (.sent, .odata(let data)) where observation.host == 0:
            odataSentAt[offset(data.sequence)] = observation.time
        case (.sent, .rdata(let data)) where observation.host == 0:
            collectSourceEvents(now: observation.time)
            sourceRDATA += 1
            cycleNAKs[offset(data.sequence)] = nil
        case (.delivered, .odata(let data)), (.delivered, .rdata(let data)):
            guard let index = receiverIndexByHost[observation.host] else { return }
            let offset = offset(data.sequence)
            guard !logs[index].lost.contains(offset), !logs[index].received.contains(offset) else { return }
            logs[index].received.insert(offset)
            if observation.packet.body.type == .rdata {
                lostSomewhere.insert(offset)
                if let sent = odataSentAt[offset] { repairLatencies.append(observation.time - sent) }
            }
        default:
            break
        }
    }
}

/// A multicast router without PGM: every packet from its first (upstream) interface goes out of all the
/// others with its source address kept; nothing goes upstream (unicast NAKs reach the source directly in the
/// simulator). The baseline ``ElementTreeScenario`` compares network elements against.
public struct PlainMulticastRouter: Engine {
    public typealias Event = Never
    public let interfaces: Int
    public private(set) var forwarded = 0
    private var outbound: [Transmit] = []
    private var now = Instant.zero

    public init(interfaces: Int) { self.interfaces = interfaces }

    public mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        self.now = now
        guard arrival.interface == .primary, !packet.body.type.isUpstream else { return }
        for interface in 1..<interfaces {
            outbound.append(
                Transmit(
                    packet: packet, destination: .multicast(arrival.destination), interface: InterfaceID(interface),
                    routerAlert: Transmit.needsRouterAlert(packet.body.type), spoofedSource: arrival.source))
            forwarded += 1
        }
    }

    public mutating func handleTimeout(at now: Instant) { self.now = now }

    public mutating func pollTransmit(at now: Instant) -> Transmit? {
        self.now = now
        return outbound.isEmpty ? nil : outbound.removeFirst()
    }

    public var nextDeadline: Instant? { outbound.isEmpty ? nil : now }
}
