import PGMCore
import PGMWire
import Testing

@Suite("Network element: edge cases")
struct NetworkElementEdgeTests {
    @Test func repeatsOfManySequencesAreBatchedIntoNAKListsOfAtMost63() {
        var harness = ElementHarness()
        harness.start(lead: 1000)
        for sequence in UInt32(1)...100 { harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[0]) }
        let repeats = ofType(.nak, harness.advance(by: .milliseconds(260)))
        #expect(repeats.map { named($0.packet).count } == [63, 37])
        #expect(repeats.flatMap { named($0.packet) } == Array(UInt32(1)...100))
        #expect(repeats.allSatisfy { (try? Packet(decoding: $0.packet.encoded())) == $0.packet })
    }

    @Test func parityNAKsAreDroppedWithoutState() {
        var harness = ElementHarness()
        harness.start()
        var parity = ElementHarness.nak(48)
        parity.flags.insert(.parity)
        #expect(harness.fromBelow(parity, on: ElementHarness.downs[0]).isEmpty)
        #expect(harness.element.statistics.parityNAKsDropped == 1)
        #expect(harness.element.repairStateCount == 0)
    }

    @Test func anUpstreamDLRIsLearnedFromItsMulticastPOLRAndGetsNAKsOnTheUpstreamLink() {
        var harness = ElementHarness()
        harness.start()
        let dlr = NLA.ipv4(IPv4Address(10, 0, 0, 77))
        let polr = Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
            body: .polr(POLR(sequence: SequenceNumber(0), round: 0)), options: [Option(.redirect(dlr))])
        // §9.5.2.1: multicast to the group with the data source's address, on the upstream link.
        harness.fromSource(polr)
        let sent = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let naks = ofType(.nak, sent)
        #expect(naks.map(\.destination) == [.unicast(dlr)])
        #expect(naks.map(\.interface) == [ElementHarness.up])
        // Its NCF and RDATA come down the upstream link like the source's.
        harness.fromSource(ElementHarness.ncf(50))
        #expect(harness.fromSource(ElementHarness.rdata(50)).map(\.interface) == [ElementHarness.downs[0]])
    }

    @Test func aPOLRNamingTheElementItselfIsIgnored() {
        var harness = ElementHarness()
        harness.start()
        let polr = Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
            body: .polr(POLR(sequence: SequenceNumber(0), round: 0)),
            options: [Option(.redirect(ElementHarness.address(ElementHarness.downs[0])))])
        harness.fromBelow(polr, on: ElementHarness.downs[0])
        #expect(harness.element.repairer(of: ElementHarness.tsi) == nil)
        #expect(harness.element.statistics.polrsDropped == 1)
    }

    @Test func spmsWithoutWindowInformationDoNotNarrowTheWindow() {
        var harness = ElementHarness()
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 0, lead: 0x8000_0000))
        // No window known yet: any sequence may be asked for.
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(123_456), on: ElementHarness.downs[0])).count == 1)
    }
}
