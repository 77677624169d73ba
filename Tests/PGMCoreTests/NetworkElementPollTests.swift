import PGMCore
import PGMWire
import Testing

@Suite("Network element: SPMR and POLL (Appendix C, Appendix D)")
struct NetworkElementPollTests {
    static let spmr = Packet(tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, body: .spmr)

    @Test func spmrIsAnsweredFromAFreshSPMAndOtherwiseLeftToTheSource() {
        var harness = ElementHarness()
        harness.start()
        let down = ElementHarness.downs[1]
        let answer = harness.feed(Self.spmr, from: ElementHarness.host(down, 5), to: ElementHarness.group, on: down)
        #expect(answer.map(\.interface) == [down])
        if case .spm(let spm) = answer.first?.packet.body { #expect(spm.path == ElementHarness.address(down)) }
        // ODATA moved the lead past the cached SPM: a multicast copy is dropped, a unicast SPMR forwarded.
        harness.fromSource(ElementHarness.odata(101))
        #expect(harness.feed(Self.spmr, from: ElementHarness.host(down, 5), to: ElementHarness.group, on: down).isEmpty)
        let forwarded = harness.fromBelow(Self.spmr, on: down)
        #expect(forwarded.map(\.destination) == [.unicast(ElementHarness.source)])
        #expect(forwarded.map(\.interface) == [ElementHarness.up])
        let statistics = harness.element.statistics
        #expect(statistics.spmrsAnswered == 1 && statistics.spmrsDropped == 1 && statistics.spmrsForwarded == 1)
    }

    @Test func generalPollsAreAnsweredUpstreamAndNoPollIsForwarded() {
        var harness = ElementHarness()
        harness.start()
        let parent = NLA.ipv4(IPv4Address(10, 0, 0, 1))
        func poll(_ sequence: UInt32, round: UInt16, subtype: UInt16) -> Packet {
            Packet(
                tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port,
                body: .poll(
                    POLL(
                        sequence: SequenceNumber(sequence), round: round, subtype: subtype, path: parent,
                        backoffInterval: 10_000, random: 0x1234, mask: 0)))
        }
        #expect(harness.fromSource(poll(1, round: 0, subtype: POLL.generalSubtype)).isEmpty)
        let reply = harness.advance(by: .milliseconds(11))
        #expect(reply.count == 1)
        #expect(reply.first?.destination == .unicast(parent))
        #expect(reply.first?.interface == ElementHarness.up)
        #expect(reply.first?.packet.body == .polr(POLR(sequence: SequenceNumber(1), round: 0)))
        #expect(reply.first?.packet.tsi == ElementHarness.tsi)
        // A DLR poll, or a round > 0 without its round 0, gets no answer.
        harness.fromSource(poll(2, round: 0, subtype: POLL.dlrSubtype))
        harness.fromSource(poll(3, round: 1, subtype: POLL.generalSubtype))
        #expect(harness.advance(by: .milliseconds(20)).isEmpty)
        #expect(harness.element.statistics.pollsIgnored == 2)
    }

    @Test func theElementPollsItsDownstreamInterfacesForDLRs() {
        var harness = ElementHarness { $0.dlrPollInterval = .seconds(30) }
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 10))
        let polls = ofType(.poll, harness.advance(by: .milliseconds(1)))
        #expect(polls.map(\.interface) == ElementHarness.downs)
        for transmit in polls {
            guard case .poll(let poll) = transmit.packet.body else { continue }
            #expect(poll.subtype == POLL.dlrSubtype && poll.mask == 0 && poll.round == 0)
            #expect(poll.path == ElementHarness.address(transmit.interface))
            #expect(transmit.routerAlert && transmit.spoofedSource == ElementHarness.source)
        }
        #expect(ofType(.poll, harness.advance(by: .seconds(29))).isEmpty)
        #expect(ofType(.poll, harness.advance(by: .seconds(2))).count == 3)
    }
}
