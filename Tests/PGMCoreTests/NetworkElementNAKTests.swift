import PGMCore
import PGMWire
import Testing

@Suite("Network element: NAK confirmation, forwarding and elimination (RFC 3208 §7.2–§7.5)")
struct NetworkElementNAKTests {
    @Test func nakIsConfirmedOnItsInterfaceAndForwardedUpstreamOnce() {
        var harness = ElementHarness()
        harness.start()
        let first = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let ncfs = ofType(.ncf, first)
        #expect(ncfs.count == 1)
        #expect(ncfs.first?.interface == ElementHarness.downs[0])
        #expect(ncfs.first?.destination == .multicast(ElementHarness.group))
        #expect(ncfs.first?.spoofedSource == ElementHarness.source)
        #expect(ncfs.first?.routerAlert == true)
        #expect(ncfs.first.map { named($0.packet) } == [50])
        // The NCF leaves before the NAK goes up.
        #expect(first.map(\.packet.body.type) == [.ncf, .nak])
        let naks = ofType(.nak, first)
        #expect(naks.first?.destination == .unicast(ElementHarness.source))
        #expect(naks.first?.interface == ElementHarness.up)
        #expect(naks.first?.spoofedSource == nil)
        if case .nak(let nak) = naks.first?.packet.body {
            #expect(nak.source == ElementHarness.source && nak.group == ElementHarness.group)
        }
        // A duplicate from another interface: confirmed there, eliminated upstream.
        let second = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[1])
        #expect(second.map(\.packet.body.type) == [.ncf])
        #expect(second.first?.interface == ElementHarness.downs[1])
        #expect(harness.element.statistics.naksEliminated == 1)
        #expect(
            harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(50)) == [
                ElementHarness.downs[0], ElementHarness.downs[1],
            ])
    }

    @Test func identicalNCFsAreRateLimitedPerInterface() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 100)
        let again = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 101)
        #expect(again.isEmpty)
        #expect(harness.element.statistics.ncfsRateLimited == 1)
        harness.advance(by: .milliseconds(20))
        let later = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 102)
        #expect(ofType(.ncf, later).count == 1)
    }

    @Test func aNAKListIsForwardedWholeWhenAnySequenceIsNew() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let sent = harness.fromBelow(ElementHarness.nak(50, 51), on: ElementHarness.downs[1])
        #expect(ofType(.ncf, sent).map { named($0.packet) } == [[50, 51]])
        #expect(ofType(.nak, sent).map { named($0.packet) } == [[50, 51]])
        let eliminated = harness.fromBelow(ElementHarness.nak(51, 50), on: ElementHarness.downs[2])
        #expect(ofType(.nak, eliminated).isEmpty)
    }

    @Test func nakIsRepeatedAtNAKRPTRTEUntilAnNCFFromUpstream() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let repeats = harness.advance(by: .milliseconds(600))
        #expect(ofType(.nak, repeats).count == 2)  // at 250 ms and 500 ms
        #expect(
            repeats.allSatisfy {
                $0.destination == .unicast(ElementHarness.source) && $0.interface == ElementHarness.up
            })
        #expect(harness.fromSource(ElementHarness.ncf(50)).isEmpty)  // NCFs are never forwarded
        #expect(harness.element.statistics.nakRepeats == 2)
        // The source sends RDATA right behind its NCF: when none comes within the repair retry timeout (here
        // NAK_RPT_RTE's period, no round trip measured yet), it was lost above the element, which asks again
        // (beyond RFC 3208 §7.3) ...
        let retried = harness.advance(by: .milliseconds(260))
        #expect(ofType(.nak, retried).map { named($0.packet) } == [[50]])
        #expect(harness.element.statistics.repairRetries == 1)
        harness.fromSource(ElementHarness.ncf(50))
        // ... and gives up NAK_RDATA_IVL after the first NCF.
        #expect(harness.element.repairStateCount == 1)
        harness.advance(by: .seconds(2))
        #expect(harness.element.repairStateCount == 0)
    }

    @Test func forwardingIsCancelledAfterNAKRPTIVLWithoutNCF() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let repeats = harness.advance(by: .seconds(3))
        #expect(ofType(.nak, repeats).count == 7)  // 250 ms ... 1750 ms; the 2 s mark ends it
        #expect(harness.element.statistics.nakForwardingTimeouts == 1)
        #expect(harness.element.repairStateCount == 0)
    }

    @Test func duplicatesAreEliminatedForNAKELIMIVLThenOneGoesThrough() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        harness.advance(by: .milliseconds(5))
        harness.fromSource(ElementHarness.ncf(50))
        harness.advance(by: .milliseconds(100))
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[1])).isEmpty)
        harness.advance(by: .milliseconds(110))  // past NAK_ELIM_IVL (200 ms), before the element's own retry
        let through = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[2])
        #expect(ofType(.nak, through).count == 1)
        // ... and once outstanding again, the next duplicate is eliminated.
        harness.fromSource(ElementHarness.ncf(50))
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 7)).isEmpty)
        #expect(harness.element.statistics.naksEliminated == 2)
    }

    @Test func anUnsolicitedNCFFromUpstreamAnticipatesButOneFromBelowDoesNot() {
        var harness = ElementHarness()
        harness.start()
        harness.fromSource(ElementHarness.ncf(60))
        #expect(harness.element.statistics.ncfsAnticipated == 1)
        let nak = harness.fromBelow(ElementHarness.nak(60), on: ElementHarness.downs[0])
        #expect(nak.map(\.packet.body.type) == [.ncf])
        // From a host below, not the session's path: a stranger's NCF (RFC 3208 §10), dropped before §7.5 applies.
        harness.fromBelow(ElementHarness.ncf(61), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.offPathDropped == 1)
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(61), on: ElementHarness.downs[0])).count == 1)
    }

    @Test func misroutedAndMisaddressedNAKsAreDroppedAndCounted() {
        var harness = ElementHarness()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.naksWithoutSessionDropped == 1)
        harness.start()
        #expect(
            harness.feed(
                ElementHarness.nak(50), from: ElementHarness.source, to: ElementHarness.address(ElementHarness.up),
                on: ElementHarness.up
            ).isEmpty)
        #expect(
            harness.feed(
                ElementHarness.nak(50), from: ElementHarness.host(ElementHarness.downs[0], 9), to: ElementHarness.group,
                on: ElementHarness.downs[0]
            ).isEmpty)
        #expect(harness.element.statistics.naksMisroutedDropped == 2)
        #expect(
            harness.fromBelow(
                ElementHarness.nak(50, source: .ipv4(IPv4Address(10, 0, 0, 2))), on: ElementHarness.downs[0]
            ).isEmpty)
        #expect(harness.element.statistics.naksMisaddressedDropped == 1)
        #expect(harness.fromBelow(ElementHarness.nak(500), on: ElementHarness.downs[0]).isEmpty)
        #expect(harness.element.statistics.naksOutsideWindowDropped == 1)
        #expect(harness.element.repairStateCount == 0)
    }
}
