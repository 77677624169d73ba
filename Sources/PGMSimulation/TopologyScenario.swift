import PGMCapture
public import PGMCore
import PGMWire

/// Runs a ``Topology`` (the same file the namespace lab brings up) in the simulator: every subnet a segment,
/// every host its engine (source, receiver, DLR, network element), loss per link direction as the file says,
/// the same checks at the end. OpenPGM hosts cannot be simulated and make the topology unsupported.
public final class TopologyScenario {
    /// How the simulated hosts configure their engines: by default as pgm-source and pgm-recv configure theirs
    /// (``ProgramDefaults``), so that `Tools/lab simulate` and the namespace lab run the same programs.
    public struct Options: Sendable {
        public var seed: UInt64
        /// The source's rate in bits per second (the lab passes `traffic.rate` through `pgm-source --rate`).
        public var rateBitsPerSecond: Int
        /// What lies below PGM: IP (and UDP) header bytes, Router Alert.
        public var transport: TransportProfile
        /// The largest APDU cut from the data, as pgm-source's default `--apdu-size`.
        public var apduSize: Int
        /// pgm-source's `--txw-secs`, `--spm-interval` and opening SPMs.
        public var transmitWindow = ProgramDefaults.transmitWindow
        public var ambientSPMInterval = ProgramDefaults.ambientSPMInterval
        public var openingSPMs = ProgramDefaults.openingSPMs
        /// pgm-recv's `--nak-rpt-ivl`, `--nak-rdata-ivl` and `--nak-bo-ivl`: its LAN timers.
        public var receiverNAKRepeatInterval = ProgramDefaults.receiverNAKRepeatInterval
        public var receiverNAKRdataInterval = ProgramDefaults.receiverNAKRdataInterval
        public var receiverNAKBackoffInterval = ProgramDefaults.receiverNAKBackoffInterval
        /// Adjusts every receiver's configuration (DLRs' too) after the defaults above are set.
        public var receiver: @Sendable (inout Receiver.Configuration) -> Void = { _ in }

        public var headerOverhead: Int { transport.headerOverhead }
        public var routerAlertOverhead: Int { transport.routerAlertOverhead }

        public init(seed: UInt64, rateBitsPerSecond: Int, native: Bool) {
            self.seed = seed
            self.rateBitsPerSecond = rateBitsPerSecond
            transport = ProgramDefaults.transport(native: native)
            // pgm-source's APDU size depends only on the TPDU size and the transport: the identity is a placeholder.
            var source = Source.Configuration(
                tsi: TSI(gsi: GSI(rawValue: 0), sourcePort: 1), dataDestinationPort: 7500,
                group: .ipv4(IPv4Address(239, 192, 0, 1)), sourceAddress: .ipv4(IPv4Address(198, 18, 0, 1)))
            source.maxTPDU = ProgramDefaults.maxTPDU
            source.transport = transport
            apduSize = ProgramDefaults.apduSize(source)
        }
    }

    public struct Unsupported: Error, CustomStringConvertible {
        public var description: String
    }

    /// What one host did, in the lab summary's terms.
    /// The source engine, for assertions on its statistics after ``run()``.
    public var sourceEngine: Source { source.engine }

    public struct HostResult: Sendable {
        public var name: String
        public var role: Topology.Role
        public var bytes = 0
        public var matchesSource = false
        public var closed = false
        public var naks = 0
        public var repairs = 0
        public var unrecoverable = 0
        public var lossRate = 0.0
        public var finishedAt: Instant?
    }

    public struct Outcome: Sendable {
        public var hosts: [HostResult]
        public var elements: [(name: String, statistics: NetworkElement.Statistics)]
        /// Repair figures of every segment's wire (packets per type too), as the lab measures its captures.
        public var repair: RepairFigures
        /// The topology's checks, in its order.
        public var checks: [CheckVerdict]
        /// Receivers that did not see the session close in time, then every check's failures.
        public var failures: [String]
        public var virtualTime: Duration
        public var passed: Bool { failures.isEmpty }
    }

    public let topology: Topology
    public let network: Network
    private let data: [UInt8]
    private var apdus: [[UInt8]]
    private var sent = 0
    private var source: Host<Source>!
    private var receivers: [(index: Int, host: Host<Receiver>)] = []
    private var repairers: [(index: Int, host: Host<DesignatedLocalRepairer>)] = []
    private var elements: [(name: String, host: Host<NetworkElement>)] = []
    private var delivered: [[UInt8]]
    private var results: [HostResult]
    private var segments: [String: SegmentID] = [:]

    public init(_ topology: Topology, options: Options) throws(Unsupported) {
        self.topology = topology
        // The ordering layer is simulated message by message elsewhere (PGMOrdering's tests); this scenario runs
        // one source's session.
        if let member = topology.hosts.first(where: { $0.run.program == .chat }) {
            throw Unsupported(
                description: "\(member.name): pgm-chat members run only in the namespace lab (Tools/lab run)")
        }
        guard let traffic = topology.traffic else { throw Unsupported(description: "no traffic: to send") }
        var seeds = SplitMix64(seed: options.seed)
        network = Network(seed: seeds.next())
        var dataGenerator = seeds.split()
        let bytes = (0..<traffic.bytes).map { _ in UInt8(truncatingIfNeeded: dataGenerator.next()) }
        data = bytes
        apdus = stride(from: 0, to: bytes.count, by: options.apduSize).map {
            Array(bytes[$0..<min($0 + options.apduSize, bytes.count)])
        }
        delivered = Array(repeating: [], count: topology.hosts.count)
        results = topology.hosts.map { HostResult(name: $0.name, role: $0.run.program) }
        for subnet in topology.subnets { segments[subnet.name] = network.addSegment(subnet.name) }
        guard let group = IPv4Address(topology.group) else {
            throw Unsupported(description: "bad group \(topology.group)")
        }

        for (index, host) in topology.hosts.enumerated() {
            let interfaces = host.interfaces.map { interface in
                InterfaceConfiguration(
                    segment: segments[interface.subnet]!, address: .ipv4(IPv4Address(interface.address)!),
                    uplink: Self.profile(interface.loss?.out, options: options),
                    downlink: Self.profile(interface.loss?.in, options: options))
            }
            var receiverConfiguration = Receiver.Configuration(dataDestinationPort: topology.port, group: .ipv4(group))
            receiverConfiguration.nakRepeatInterval = options.receiverNAKRepeatInterval
            receiverConfiguration.nakRdataInterval = options.receiverNAKRdataInterval
            receiverConfiguration.nakBackoffInterval = options.receiverNAKBackoffInterval
            receiverConfiguration.seed = seeds.next()
            receiverConfiguration.address = interfaces[0].address
            options.receiver(&receiverConfiguration)
            let arguments = host.run.args ?? []
            if arguments.contains("--no-fec") { receiverConfiguration.useParity = false }
            switch host.run.program {
            case .source:
                let sourcePort = UInt16(truncatingIfNeeded: seeds.next() % 50_000 + 1024)
                var configuration = Source.Configuration(
                    tsi: TSI(gsi: GSI(rawValue: seeds.next()), sourcePort: sourcePort),
                    dataDestinationPort: topology.port,
                    group: .ipv4(group), sourceAddress: interfaces[0].address)
                configuration.rate = options.rateBitsPerSecond / 8
                configuration.transport = options.transport
                configuration.txwSeconds = options.transmitWindow
                configuration.ambientSPMInterval = options.ambientSPMInterval
                configuration.openingSPMs = options.openingSPMs
                configuration.parity = Self.parity(arguments)
                configuration.seed = seeds.next()
                let sourceHost = network.addHost(
                    host.name, engine: Source(configuration: configuration, at: .zero), interfaces: interfaces)
                sourceHost.onActivity = { [unowned self] host, now in self.feed(host, now: now) }
                source = sourceHost
            case .receiver:
                let receiverHost = network.addHost(
                    host.name, engine: Receiver(configuration: receiverConfiguration), interfaces: interfaces)
                receiverHost.onActivity = { [unowned self] host, now in
                    while let event = host.engine.pollEvent() { self.record(event, host: index, now: now) }
                    self.results[index].naks = host.engine.statistics.naksSent
                    self.results[index].repairs = host.engine.statistics.rdataReceived
                    self.results[index].lossRate = host.engine.statistics.lossRate
                }
                receivers.append((index, receiverHost))
            case .dlr:
                let configuration = DesignatedLocalRepairer.Configuration(
                    receiver: receiverConfiguration, address: interfaces[0].address)
                let repairerHost = network.addHost(
                    host.name, engine: DesignatedLocalRepairer(configuration: configuration), interfaces: interfaces)
                repairerHost.onActivity = { [unowned self] host, now in
                    while let event = host.engine.pollEvent() { self.record(event, host: index, now: now) }
                    self.results[index].repairs = host.engine.statistics.sequencesRepaired
                }
                repairers.append((index, repairerHost))
            case .networkElement:
                let upstream = host.interfaces.firstIndex { $0.subnet == host.run.upstream }!
                var configuration = NetworkElement.Configuration(
                    interfaces: interfaces.enumerated().map {
                        NetworkElement.Interface(id: InterfaceID($0.offset), address: $0.element.address)
                    },
                    upstream: InterfaceID(upstream))
                configuration.seed = seeds.next()
                // An interface id is its position: the simulator sends `Transmit.interface` on that interface.
                elements.append(
                    (
                        host.name,
                        network.addHost(
                            host.name, engine: NetworkElement(configuration: configuration), interfaces: interfaces)
                    ))
            case .openPGMSource, .openPGMReceiver:
                throw Unsupported(description: "\(host.name): OpenPGM hosts run only in the namespace lab")
            case .chat:
                throw Unsupported(description: "\(host.name): pgm-chat members run only in the namespace lab")
            }
        }
        guard source != nil else { throw Unsupported(description: "no pgm-source host") }
    }

    /// Loss as the lab's nftables rules apply it: random at `rate`, plus total loss for `burst_length` out of
    /// every `burst_every` seconds, modelled as Gilbert-Elliott bursts of the same mean length and share of time
    /// (at the source's packet rate).
    /// FEC from a source host's arguments, as pgm-source reads them (``Source/Parity/init(groupSize:proactive:onDemand:kernel:)``);
    /// the other pgm-source options are not modelled here.
    static func parity(_ arguments: [String]) -> Source.Parity? {
        func value(_ name: String) -> Int? {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
            return Int(arguments[index + 1])
        }
        let parity = Source.Parity(
            groupSize: value("--fec-group-size"), proactive: value("--fec-proactive"),
            onDemand: arguments.contains("--fec-on-demand"))
        // Values pgm-source would refuse (a usage error there) leave FEC off rather than trap the engine.
        return parity.flatMap {
            $0.groups != nil && (0...(ReedSolomonCode.blockLength - $0.groupSize)).contains($0.proactive) ? $0 : nil
        }
    }

    static func profile(_ loss: Topology.Loss?, options: Options) -> LinkProfile {
        guard let loss else { return LinkProfile() }
        let rate = loss.rate ?? 0
        if let every = loss.burstEvery, let length = loss.burstLength, every > 0, length > 0 {
            let packetsPerSecond = max(1, Double(options.rateBitsPerSecond) / 8 / 1500)
            let badToGood = 1 / max(1, length * packetsPerSecond)
            let share = min(0.99, length / every)
            let goodToBad = share * badToGood / (1 - share)
            return LinkProfile(
                loss: .gilbertElliott(goodToBad: goodToBad, badToGood: badToGood, lossInGood: rate, lossInBad: 1))
        }
        return LinkProfile(loss: rate > 0 ? .bernoulli(rate) : .none)
    }

    private func feed(_ host: Host<Source>, now: Instant) {
        while sent < apdus.count {
            do {
                try host.engine.send(apdus[sent], at: now)
                sent += 1
            } catch {
                break
            }
        }
        if sent == apdus.count && !host.engine.isClosing { host.engine.close(at: now) }
        while host.engine.pollEvent() != nil {}
    }

    private func record(_ event: Receiver.Event, host index: Int, now: Instant) {
        switch event {
        case .data(_, let bytes):
            delivered[index] += bytes
        case .unrecoverable(_, let first, let last, _):
            results[index].unrecoverable += Int(first.distance(to: last)) + 1
        case .sessionClosed:
            if !results[index].closed { results[index].finishedAt = now }
            results[index].closed = true
        case .peerDiscovered, .joined, .peerExpired, .offPathPackets, .pathChanged, .sessionReset:
            break
        }
    }

    /// Runs until every receiver saw the session close, or the topology's timeout in virtual time.
    public func run() -> Outcome {
        network.wake(source)
        let limit = Instant.zero + .seconds(topology.timeout ?? 120)
        let endHosts = receivers.map(\.index) + repairers.map(\.index)
        network.run(until: limit) { !endHosts.allSatisfy { results[$0].closed } }
        return evaluate()
    }

    private func evaluate() -> Outcome {
        for index in results.indices where [.receiver, .dlr].contains(results[index].role) {
            results[index].bytes = delivered[index].count
            results[index].matchesSource = delivered[index] == data
        }
        let sourceIndex = topology.hosts.firstIndex { $0.run.program == .source }!
        results[sourceIndex].bytes = data.count
        results[sourceIndex].naks = source.engine.statistics.naksReceived
        results[sourceIndex].repairs = source.engine.statistics.rdataSent

        var measurement = RepairMeasurement(topology: topology)
        for record in network.trace where record.receiver == nil && !record.dropped {
            guard let packet = record.packet else { continue }
            measurement.record(
                packet, length: record.bytes.count, on: network.name(of: record.segment), from: record.source,
                to: record.destination, at: CaptureTimestamp(totalNanoseconds: record.time.nanoseconds))
        }
        let repair = measurement.figures()
        var failures: [String] = []
        let endRoles: [Topology.Role] = [.receiver, .dlr]
        for result in results where endRoles.contains(result.role) && !result.closed {
            failures.append("\(result.name) did not see the session close within \(topology.timeout ?? 120) s")
        }
        let facts = RunFacts(
            hosts: results.map { result in
                RunFacts.Host(
                    name: result.name, role: result.role, naks: result.naks, unrecoverable: result.unrecoverable,
                    outputMismatch: endRoles.contains(result.role) && !result.matchesSource
                        ? "delivered \(result.bytes) bytes that differ from the source's \(data.count)" : nil)
            },
            expectedOutput: "bytes = the source's \(data.count)", repair: repair,
            origin: .simulator(traced: network.tracing))
        let checks = topology.checks.map { $0.evaluate(on: facts) }
        return Outcome(
            hosts: results, elements: elements.map { ($0.name, $0.host.engine.statistics) }, repair: repair,
            checks: checks, failures: failures + checks.flatMap(\.failures),
            virtualTime: network.now - .zero)
    }
}
