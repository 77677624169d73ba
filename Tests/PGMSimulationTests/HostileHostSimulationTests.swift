import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// A third host on the session's segment (RFC 3208 §10, Docs/integrity.md): it learns the session from what it
/// hears and then claims it with 200 well-formed packets, every kind issue 13 names, one every 5 ms.
struct HostileEngine: Engine {
    let startAt: Instant
    /// The address its packets claim: nil sends from its own (a stranger), otherwise it forges this one.
    let forging: NLA?
    var tsi: TSI?
    var port: UInt16 = 0
    var group: NLA?
    var spmSequence: UInt32 = 0
    var lead: UInt32 = 0
    var path: NLA?
    var sent = 0
    var nextAt: Instant
    var outbound: [Transmit] = []
    static let total = 200

    init(startAt: Instant, forging: NLA? = nil) {
        self.startAt = startAt
        self.forging = forging
        nextAt = startAt
    }

    mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        guard arrival.source == SessionScenario.sourceAddress else { return }
        switch packet.body {
        case .spm(let spm):
            spmSequence = spm.sequence.rawValue
            path = spm.path
        case .odata(let data):
            tsi = packet.tsi
            port = packet.dataDestinationPort
            group = arrival.destination
            lead = data.sequence.rawValue
        default:
            break
        }
    }

    var nextDeadline: Instant? {
        guard tsi != nil, path != nil, sent < Self.total else { return nil }
        return nextAt
    }

    mutating func handleTimeout(at now: Instant) {
        guard let tsi, let group, let path, sent < Self.total, now >= nextAt else { return }
        let index = UInt32(sent)
        let me = forging ?? .ipv4(IPv4Address(10, 0, 0, 66))
        func spm(_ sequence: UInt32, _ trail: UInt32, _ lead: UInt32, _ path: NLA, _ options: [Option] = []) -> Packet {
            Packet(
                tsi: tsi, dataDestinationPort: port, flags: .required(by: options),
                body: .spm(
                    SPM(
                        sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), lead: SequenceNumber(lead),
                        path: path)), options: options)
        }
        func data(_ sequence: UInt32, repair: Bool, _ options: [Option] = []) -> Packet {
            let body = DataPacket(
                sequence: SequenceNumber(sequence), trail: SequenceNumber(lead &- 5),
                payload: ArraySlice(repeating: 0xEE, count: 1000))
            return Packet(
                tsi: tsi, dataDestinationPort: port, flags: .required(by: options),
                body: repair ? .rdata(body) : .odata(body), options: options)
        }
        let packet: Packet
        switch sent % 9 {
        case 0: packet = spm(spmSequence &+ 1 &+ index, 0, 0x8000_0000, me)
        case 1: packet = spm(spmSequence, 0, 0x8000_0000, path, [Option(.neighborUnreachable)])
        case 2: packet = spm(spmSequence &+ 100 &+ index, lead &- 10, lead &+ 5_000_000 &+ 1000 &* index, me)
        case 3: packet = spm(spmSequence &+ 200 &+ index, lead &+ 2_000_000, lead &+ 2_000_100, me)
        case 4: packet = data(lead &+ 20 &+ index % 40, repair: false)
        case 5:
            let first = SequenceNumber(lead &+ 20 &+ index % 40)
            packet = data(
                first.rawValue, repair: false,
                [Option(.fragment(.init(firstSequence: first, offset: 0, apduLength: 1 << 20)))])
        case 6: packet = data(lead &+ 3 &+ index % 30, repair: true)
        case 7:
            let list = (2...63).map { SequenceNumber(lead &+ $0) }
            let options = [Option(.nakList(list))]
            packet = Packet(
                tsi: tsi, dataDestinationPort: port, flags: .required(by: options),
                body: .ncf(
                    NAK(sequence: SequenceNumber(lead &+ 1), source: SessionScenario.sourceAddress, group: group)),
                options: options)
        default:
            packet = Packet(
                tsi: tsi, dataDestinationPort: port,
                body: .poll(
                    POLL(
                        sequence: SequenceNumber(1000 &+ index), round: 0, subtype: POLL.generalSubtype, path: me,
                        backoffInterval: 1000, random: 0, mask: 0)))
        }
        outbound.append(Transmit(packet: packet, destination: .multicast(group), spoofedSource: forging))
        sent += 1
        nextAt = now + .milliseconds(5)
    }

    mutating func pollTransmit(at now: Instant) -> Transmit? { outbound.isEmpty ? nil : outbound.removeFirst() }
}

@Suite struct HostileHostSimulationTests {
    static func scenario(seed: UInt64, forging: NLA? = nil) -> (SessionScenario, Host<HostileEngine>) {
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: 5, apdus: makeAPDUs(count: 1500, sizes: 500...1400, seed: seed))
        configuration.receiverDownlink = LinkProfile(delay: .microseconds(200), loss: .bernoulli(0.01))
        let scenario = SessionScenario(configuration)
        let hostile = scenario.network.addHost(
            "hostile", engine: HostileEngine(startAt: .zero + .milliseconds(50), forging: forging),
            interfaces: [InterfaceConfiguration(segment: scenario.segment, address: .ipv4(IPv4Address(10, 0, 0, 66)))])
        return (scenario, hostile)
    }

    /// From its own address: every receiver gets the whole stream, reports nothing lost, and counts the packets.
    @Test(arguments: [UInt64(1), 2, 3])
    func aStrangerOnTheSegmentChangesNothing(seed: UInt64) {
        let (scenario, hostile) = Self.scenario(seed: seed)
        #expect(scenario.run(), "seed \(seed)")
        #expect(hostile.engine.sent == HostileEngine.total, "the hostile host heard the session and attacked")
        let failures = scenario.verify()
        #expect(failures.isEmpty, Comment(rawValue: describe(failures, seed: seed)))
        for (index, receiver) in scenario.receivers.enumerated() {
            let statistics = receiver.engine.statistics
            #expect(scenario.logs[index].unrecoverable.isEmpty, "seed \(seed): receiver\(index)")
            #expect(
                statistics.offPathPackets >= 185 && statistics.offPathPackets <= HostileEngine.total,
                "seed \(seed): receiver\(index) counted \(statistics.offPathPackets)")
            #expect(statistics.leadJumpsDistrusted == 0 && statistics.windowlessSPMs == 0)
        }
    }

    /// Forging the source's own address, nothing but a key tells it apart, and what it claims often enough is
    /// taken: three SPMs with the trail 2,000,000 ahead make that much unrecoverable (Docs/integrity.md). What stays
    /// bounded: the lead jumps of single packets are distrusted, no receiver tracks more than its window or NAKs
    /// faster than the rate limit, and nothing beyond what the forger claimed is declared lost.
    @Test func aForgerOfTheSourcesAddressDoesBoundedDamage() {
        let (scenario, hostile) = Self.scenario(seed: 4, forging: SessionScenario.sourceAddress)
        _ = scenario.run(limit: .seconds(120))
        #expect(hostile.engine.sent == HostileEngine.total)
        let limit = Receiver.NAKRateLimit.standard
        for (index, receiver) in scenario.receivers.enumerated() {
            let statistics = receiver.engine.statistics
            #expect(statistics.leadJumpsDistrusted > 0, "receiver\(index)")
            #expect(statistics.windowlessSPMs > 0, "receiver\(index)")
            #expect((receiver.engine.state(of: scenario.configuration.source.tsi)?.windowSequences ?? 0) <= 1 << 16)
            let lost = scenario.logs[index].unrecoverable.reduce(0) { $0 + Int($1.first.distance(to: $1.last)) + 1 }
            #expect(lost <= 2_000_100 + 1500, "receiver\(index) declared \(lost) unrecoverable")
            #expect(statistics.naksSent <= limit.burst + limit.packetsPerSecond * 120)
        }
    }
}
