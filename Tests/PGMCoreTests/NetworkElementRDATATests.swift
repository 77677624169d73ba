import PGMCore
import PGMWire
import Testing

@Suite("Network element: constrained RDATA forwarding (RFC 3208 §7.8)")
struct NetworkElementRDATATests {
    @Test func rdataGoesOnlyToInterfacesThatAskedThenStateIsGone() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[2])
        harness.fromSource(ElementHarness.ncf(50))
        let sent = harness.fromSource(ElementHarness.rdata(50))
        #expect(sent.map(\.interface) == [ElementHarness.downs[0], ElementHarness.downs[2]])
        #expect(
            sent.allSatisfy {
                $0.routerAlert && $0.spoofedSource == ElementHarness.source
                    && $0.destination == .multicast(ElementHarness.group)
            })
        #expect(harness.element.repairStateCount == 0)
        #expect(harness.fromSource(ElementHarness.rdata(50)).isEmpty)
        #expect(harness.element.statistics.rdataWithoutRepairStateDropped == 1)
        #expect(harness.element.statistics.rdataCopiesSent == 2)
    }

    @Test func rdataWithoutStateIsDroppedAndRDATAFromBelowNeverGoesUp() {
        var harness = ElementHarness()
        harness.start()
        #expect(harness.fromSource(ElementHarness.rdata(70)).isEmpty)
        #expect(harness.element.statistics.rdataWithoutRepairStateDropped == 1)
        harness.fromBelow(ElementHarness.nak(71), on: ElementHarness.downs[0])
        let fromBelow = harness.feed(
            ElementHarness.rdata(71), from: ElementHarness.source, to: ElementHarness.group, on: ElementHarness.downs[1]
        )
        #expect(fromBelow.isEmpty)
        #expect(harness.element.statistics.rdataMisroutedDropped == 1)
        // Anticipated state has no interfaces: its RDATA goes nowhere.
        harness.fromSource(ElementHarness.ncf(72))
        #expect(harness.fromSource(ElementHarness.rdata(72)).isEmpty)
        #expect(harness.element.statistics.rdataWithoutRepairStateDropped == 2)
    }
}
