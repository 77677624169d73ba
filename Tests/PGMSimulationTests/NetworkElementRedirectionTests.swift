import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// An off-tree DLR reduced to the packets a network element expects from one (see ``NetworkElement``, "DLR
/// redirection"): it caches ODATA, answers a DLR POLL with a unicast redirecting POLR, and answers each NAK
/// from its parent with an NNAK, an NCF and RDATA, all unicast to the parent — or, for sequences it lacks,
/// with the NCF and a NAK back to the parent (RFC 3208 §9.5.2.2).
struct ScriptedRepairer: Engine {
    typealias Event = Never
    let address: NLA
    var cache: [SequenceNumber: Packet] = [:]
    var outbound: [Transmit] = []
    var repaired = 0
    var refused = 0
    var polled = 0

    init(address: NLA) { self.address = address }

    mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        switch packet.body {
        case .odata(let data):
            cache[data.sequence] = packet
        case .poll(let poll) where poll.subtype == POLL.dlrSubtype:
            polled += 1
            let polr = Packet(
                tsi: packet.tsi, dataDestinationPort: packet.dataDestinationPort, flags: .network,
                body: .polr(POLR(sequence: poll.sequence, round: poll.round)), options: [Option(.redirect(address))])
            outbound.append(Transmit(packet: polr, destination: .unicast(poll.path)))
        case .nak(let nak) where arrival.destination == address:
            var sequences = [nak.sequence]
            for option in packet.options {
                if case .nakList(let list) = option.value { sequences += list }
            }
            let parent = arrival.source
            func send(_ body: Packet.Body, _ sequences: [SequenceNumber]) {
                let options = sequences.count > 1 ? [Option(.nakList(Array(sequences.dropFirst())))] : []
                var reply = Packet(
                    tsi: packet.tsi, dataDestinationPort: packet.dataDestinationPort, body: body, options: options)
                reply.flags = .required(by: options)
                outbound.append(Transmit(packet: reply, destination: .unicast(parent)))
            }
            let held = sequences.filter { cache[$0] != nil }
            let missing = sequences.filter { cache[$0] == nil }
            if let first = held.first {
                send(.nnak(NAK(sequence: first, source: nak.source, group: nak.group)), held)
            }
            send(.ncf(nak), sequences)
            for sequence in held {
                guard let original = cache[sequence], case .odata(let data) = original.body else { continue }
                var rdata = original
                rdata.body = .rdata(data)
                outbound.append(Transmit(packet: rdata, destination: .unicast(parent)))
                repaired += 1
            }
            if let first = missing.first {
                refused += missing.count
                send(.nak(NAK(sequence: first, source: nak.source, group: nak.group)), missing)
            }
        default:
            break
        }
    }

    mutating func handleTimeout(at now: Instant) {}
    mutating func pollTransmit(at now: Instant) -> Transmit? { outbound.isEmpty ? nil : outbound.removeFirst() }
    var nextDeadline: Instant? { nil }
}

@Suite("Network element DLR redirection in a tree")
struct NetworkElementRedirectionTests {
    @Test func anOffTreeDLRRepairsTheOtherSubnetsWithoutTheSource() throws {
        let seed = Seeds.seed(41)
        let configuration = NetworkElementTreeTests.configuration(seed: seed, fanout: [3], receivers: 5, loss: 0.04)
        let scenario = ElementTreeScenario(configuration)
        let leaf = scenario.leafSegments[0]
        let address = NLA.ipv4(IPv4Address(10, 0, UInt8(leaf.rawValue + 1), 250))
        let repairer = scenario.network.addHost(
            "dlr", engine: ScriptedRepairer(address: address),
            interfaces: [InterfaceConfiguration(segment: leaf, address: address)])
        let baseline = ElementTreeScenario(configuration)
        NetworkElementTreeTests.check(scenario, seed: seed)
        #expect(baseline.run())

        let element = scenario.elementHosts[0].engine
        #expect(repairer.engine.polled == 1)
        #expect(element.repairer(of: configuration.source.tsi) == address)
        #expect(element.statistics.naksRedirected > 0)
        #expect(repairer.engine.repaired > 0)
        // The DLR's repairs spare the source: it sees NNAKs instead of NAKs and sends fewer repairs.
        let source = scenario.source.engine.statistics
        #expect(source.nnaksReceived > 0)
        #expect(source.rdataSent < baseline.source.engine.statistics.rdataSent)
        #expect(element.statistics.repairerFallbacks == 0)
    }

    /// The same with the receiver-side ``DesignatedLocalRepairer``, which announces itself to the element
    /// unasked when it sees the element's SPM, and answers its DLR poll too.
    @Test func theReceiverSideDLRRepairsTheOtherSubnets() {
        let seed = Seeds.seed(43)
        let configuration = NetworkElementTreeTests.configuration(seed: seed, fanout: [3], receivers: 5, loss: 0.04)
        let scenario = ElementTreeScenario(configuration)
        let leaf = scenario.leafSegments[1]
        let address = NLA.ipv4(IPv4Address(10, 0, UInt8(leaf.rawValue + 1), 250))
        let repairer = scenario.network.addHost(
            "dlr",
            engine: DesignatedLocalRepairer(configuration: .init(receiver: configuration.receiver, address: address)),
            interfaces: [InterfaceConfiguration(segment: leaf, address: address)])
        let baseline = ElementTreeScenario(configuration)
        NetworkElementTreeTests.check(scenario, seed: seed)
        #expect(baseline.run())
        let element = scenario.elementHosts[0].engine
        #expect(element.repairer(of: configuration.source.tsi) == address)
        #expect(element.statistics.naksRedirected > 0)
        #expect(element.statistics.repairerFallbacks == 0)
        #expect(repairer.engine.statistics.sequencesRepaired > 0)
        #expect(scenario.source.engine.statistics.nnaksReceived > 0)
        #expect(scenario.source.engine.statistics.rdataSent < baseline.source.engine.statistics.rdataSent)
    }
}
