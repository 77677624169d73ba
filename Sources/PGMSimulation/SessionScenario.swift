public import PGMCore
public import PGMWire

/// One source and many receivers on one LAN segment, the shape most RFC 3208 behaviours are tested in.
///
/// The source is fed a list of APDUs as fast as its queue takes them and closes after the last one; every
/// receiver's events are collected. ``verify()`` checks the central invariant: each receiver delivered
/// exactly the sent APDUs in order, except APDUs it reported lost, and its reported ranges are exactly the
/// sequence numbers it never received.
public final class SessionScenario {
    public struct Configuration {
        public var seed: UInt64
        public var receivers: Int
        /// The APDUs the source sends, in order.
        public var apdus: [[UInt8]]
        /// Source to segment (a loss here hits every receiver at once).
        public var sourceUplink = LinkProfile()
        /// Segment to source (NAKs, SPMRs).
        public var sourceDownlink = LinkProfile()
        /// Segment to each receiver (independent per receiver).
        public var receiverDownlink = LinkProfile()
        /// Per receiver, a downlink other than ``receiverDownlink`` (e.g. each behind its own bottleneck).
        public var receiverDownlinks: [Int: LinkProfile] = [:]
        /// Each receiver to the segment (its NAKs and SPMRs).
        public var receiverUplink = LinkProfile()
        public var source: Source.Configuration
        public var receiver: Receiver.Configuration
        /// Receivers configured otherwise than ``receiver``, by index (their seeds are still drawn per receiver).
        public var receiverConfigurations: [Int: Receiver.Configuration] = [:]
        /// Close the source after the last APDU (OPT_FIN), and run until every receiver saw the close.
        public var closeWhenDone = true
        /// Keep a ``Network/trace`` of every packet (costly with many receivers).
        public var tracing = false

        public init(seed: UInt64, receivers: Int, apdus: [[UInt8]]) {
            self.seed = seed
            self.receivers = receivers
            self.apdus = apdus
            let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))
            let tsi = TSI(gsi: GSI(rawValue: 0x0102_0304_0506 ^ (seed & 0xFFFF)), sourcePort: 4000)
            source = Source.Configuration(
                tsi: tsi, dataDestinationPort: 7500, group: group, sourceAddress: SessionScenario.sourceAddress)
            source.seed = seed
            source.rate = 1_000_000
            source.joinHistory = UInt32.max
            receiver = Receiver.Configuration(dataDestinationPort: 7500, group: group)
        }
    }

    /// What one receiver did.
    public struct ReceiverLog {
        /// Indices into the sent APDUs, in delivery order; `nil` for bytes that match no sent APDU.
        public var delivered: [Int?] = []
        public var unrecoverable: [(first: SequenceNumber, last: SequenceNumber, reason: Receiver.LossReason)] = []
        public var closed = false
        public var discovered = 0
        /// Sequence offsets (from the first ODATA) the receiver got as ODATA or RDATA before it reported
        /// them lost (later copies are late duplicates).
        public var received: Set<UInt32> = []
        /// Sequence offsets reported lost.
        public var lost: Set<UInt32> = []
        /// Sequence offsets whose ODATA (the first transmission, not a repair or parity) reached the receiver.
        public var odataReceived: Set<UInt32> = []
        /// Offsets outside the session named by loss reports.
        public var strayReports = 0
        /// `.windowAdvanced` reports for sequences the source's trail had not yet passed.
        public var prematureReports = 0
        /// The highest sequence offset any packet that reached this receiver named (data, SPM lead, NCF):
        /// beyond it the receiver cannot know what it missed.
        public var knownLead: Int = -1
        /// An SPM with OPT_FIN reached this receiver.
        public var heardFIN = false

    }

    public static let sourceAddress = NLA.ipv4(IPv4Address(10, 0, 0, 1))

    public let configuration: Configuration
    public let network: Network
    public let segment: SegmentID
    public let source: Host<Source>
    public private(set) var receivers: [Host<Receiver>] = []
    public private(set) var logs: [ReceiverLog]
    /// Sequence offsets (from ``initialSequence``) each APDU occupies.
    public var apduSequences: [Range<UInt32>] { ledger.sequences }
    private let ledger: APDULedger
    public private(set) var sentCount = 0
    public private(set) var closedReceivers = 0
    /// The first data sequence number.
    public let initialSequence: SequenceNumber

    public init(_ configuration: Configuration) {
        var configuration = configuration
        var seeds = SplitMix64(seed: configuration.seed)
        configuration.source.seed = seeds.next()
        self.configuration = configuration
        network = Network(seed: seeds.next())
        network.tracing = configuration.tracing
        segment = network.addSegment("lan")
        let sourceEngine = Source(configuration: configuration.source, at: .zero)
        initialSequence = sourceEngine.lead &+ 1
        source = network.addHost(
            "source", engine: sourceEngine,
            interfaces: [
                InterfaceConfiguration(
                    segment: segment, address: Self.sourceAddress, uplink: configuration.sourceUplink,
                    downlink: configuration.sourceDownlink)
            ])
        logs = Array(repeating: ReceiverLog(), count: configuration.receivers)
        ledger = APDULedger(apdus: configuration.apdus, source: configuration.source, initialSequence: initialSequence)
        for index in 0..<configuration.receivers {
            var receiverConfiguration = configuration.receiverConfigurations[index] ?? configuration.receiver
            receiverConfiguration.seed = seeds.next()
            let address = NLA.ipv4(IPv4Address(rawValue: IPv4Address(10, 0, 0, 0).rawValue + 100 + UInt32(index)))
            // PGMCC feedback names the receiver: under congestion control each one knows its address (without, the
            // NAKs stay as they were, so that seeded runs do not change).
            if configuration.source.congestionControl != nil && receiverConfiguration.address == nil {
                receiverConfiguration.address = address
            }
            let host = network.addHost(
                "receiver\(index)", engine: Receiver(configuration: receiverConfiguration),
                interfaces: [
                    InterfaceConfiguration(
                        segment: segment, address: address, uplink: configuration.receiverUplink,
                        downlink: configuration.receiverDownlinks[index] ?? configuration.receiverDownlink)
                ])
            host.onActivity = { [unowned self] host, _ in self.drain(host, index: index) }
            receivers.append(host)
        }
        source.onActivity = { [unowned self] host, now in self.feed(host, now: now) }
        network.observer = { [unowned self] observation in self.observe(observation) }
    }

    private var started = false

    /// Lets the source start sending (at the current time); ``run(limit:)`` does it on first use, so rules
    /// such as ``Network/dropRule`` can be set up first.
    public func start() {
        guard !started else { return }
        started = true
        network.wake(source)
    }

    /// Runs until every receiver reported the session closed, except receivers that never heard the session's
    /// end once the source has finished (nothing more will reach them), or until `limit` of virtual time.
    /// Returns whether every receiver either saw the close or has a silent tail (see ``silentTails``).
    @discardableResult
    public func run(limit: Duration = .seconds(900)) -> Bool {
        start()
        var finishedAt: Instant?
        network.run(until: .zero + limit) {
            if closedReceivers == receivers.count { return false }
            guard source.engine.isFinished else { return true }
            let finished = finishedAt ?? network.now
            finishedAt = finished
            // Let the last FIN SPMs arrive; then only receivers that heard a FIN still have something coming
            // (their remaining NAK retries end in a report and the close).
            if network.now < finished + .seconds(1) { return true }
            return logs.contains { !$0.closed && $0.heardFIN }
        }
        return closedReceivers + silentTails == receivers.count
    }

    private func feed(_ host: Host<Source>, now: Instant) {
        while sentCount < configuration.apdus.count {
            do {
                try host.engine.send(configuration.apdus[sentCount], at: now)
                sentCount += 1
            } catch {
                return
            }
        }
        if configuration.closeWhenDone && !host.engine.isClosing { host.engine.close(at: now) }
        while host.engine.pollEvent() != nil {}
    }

    private func drain(_ host: Host<Receiver>, index: Int) {
        while let event = host.engine.pollEvent() {
            if case .unrecoverable(_, _, let last, let reason) = event, reason == .windowAdvanced,
                !last.precedes(source.engine.trail)
            {
                logs[index].prematureReports += 1
            }
            if ledger.record(event, in: &logs[index]) { closedReceivers += 1 }
        }
    }

    private func observe(_ observation: Network.Observation) {
        // What receivers heard from the source: another host on the segment (a test's hostile one) tells the
        // ledger nothing about the session.
        guard observation.kind == .delivered, observation.host > 0, observation.host <= receivers.count,
            observation.source == Self.sourceAddress
        else { return }
        let index = observation.host - 1
        func learn(_ sequence: SequenceNumber) {
            logs[index].knownLead = max(logs[index].knownLead, Int(initialSequence.distance(to: sequence)))
        }
        switch observation.packet.body {
        case .odata(let data),
            .rdata(let data) where !observation.packet.flags.contains(.parity):
            let offset = initialSequence.distance(to: data.sequence).magnitude
            if !logs[index].lost.contains(offset) { logs[index].received.insert(offset) }
            if observation.packet.body.type == .odata { logs[index].odataReceived.insert(offset) }
            learn(data.sequence)
        case .spm(let spm):
            learn(spm.lead)
            if observation.packet.options.contains(where: { $0.value == .fin }) { logs[index].heardFIN = true }
        case .ncf(let ncf):
            learn(ncf.sequence)
        default:
            break
        }
    }

    /// Receivers that never heard a FIN SPM because every one of them was lost on the way (possible under
    /// bursty loss, where a burst spans the sparse SPMs after the data): they cannot see the close, and
    /// cannot report a tail no packet told them about, so ``verify()`` excuses both.
    public var silentTails: Int { logs.filter { !$0.heardFIN }.count }

    /// APDU `index` of `size` bytes: its index in the first four bytes (big-endian), then a pattern, so a
    /// delivered APDU identifies itself and any corruption shows. APDUs under four bytes carry the index's
    /// low bytes (little-endian), so they are unique among 256 (1 byte), 65,536 (2) or 2²⁴ (3) neighbours.
    public static func apdu(index: Int, size: Int) -> [UInt8] {
        if size < 4 { return (0..<size).map { UInt8(truncatingIfNeeded: index >> (8 * $0)) } }
        return (0..<size).map { position in
            position < 4
                ? UInt8(truncatingIfNeeded: UInt32(truncatingIfNeeded: index) >> (24 - 8 * UInt32(position)))
                : UInt8(truncatingIfNeeded: index &* 31 &+ position &* 7)
        }
    }

    /// Every broken invariant, one line each; empty when all receivers behaved.
    public func verify() -> [String] {
        var failures: [String] = []
        let total = apduSequences.last?.upperBound ?? 0
        for (index, log) in logs.enumerated() {
            let name = "receiver\(index)"
            let lost = log.lost
            if log.strayReports > 0 { failures.append("\(name): \(log.strayReports) loss reports outside the session") }
            if log.prematureReports > 0 {
                failures.append(
                    "\(name): \(log.prematureReports) window-advanced reports before the source's trail moved")
            }
            // A receiver can only account for sequences some packet told it about; when every FIN SPM was lost
            // to it, the close is excused, and so is any tail beyond what it heard of.
            let silent = !log.heardFIN
            let known = silent ? UInt32(max(0, min(Int(total), log.knownLead + 1))) : total
            if silent && lost.contains(where: { $0 >= known }) {
                failures.append("\(name): reported sequences no packet told it about")
            }
            // Exactness: reported lost == never received, over every sequence the source sent.
            for offset in 0..<known where lost.contains(offset) == log.received.contains(offset) {
                failures.append(
                    lost.contains(offset)
                        ? "\(name): sequence +\(offset) reported lost but was received"
                        : "\(name): sequence +\(offset) never received and never reported lost")
                break
            }
            // Delivery: in order, byte-exact, and every APDU either delivered or covered by a loss report.
            let delivered = log.delivered.compactMap { $0 }
            if delivered.count != log.delivered.count { failures.append("\(name): delivered corrupted bytes") }
            if delivered != delivered.sorted() || Set(delivered).count != delivered.count {
                failures.append("\(name): delivery out of order or duplicated")
            }
            let deliveredSet = Set(delivered)
            for (apdu, range) in apduSequences.enumerated() where range.upperBound <= known {
                let hit = range.contains { lost.contains($0) }
                if deliveredSet.contains(apdu) == hit {
                    failures.append(
                        hit
                            ? "\(name): APDU \(apdu) delivered although reported lost"
                            : "\(name): APDU \(apdu) neither delivered nor reported lost")
                    break
                }
            }
            if configuration.closeWhenDone && !log.closed && !silent {
                failures.append("\(name): session close not reported")
            }
        }
        return failures
    }
}
