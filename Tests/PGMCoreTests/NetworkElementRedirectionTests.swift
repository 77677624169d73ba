import PGMCore
import PGMWire
import Testing

@Suite("Network element: DLR redirection (RFC 3208 §9.5.3)")
struct NetworkElementRedirectionTests {
    static let dlrInterface = ElementHarness.downs[2]
    static let dlr = ElementHarness.host(dlrInterface, 50)

    static func redirectingPOLR() -> Packet {
        Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
            body: .polr(POLR(sequence: SequenceNumber(1), round: 0)), options: [Option(.redirect(dlr))])
    }

    static func learned() -> ElementHarness {
        var harness = ElementHarness()
        harness.start()
        harness.feed(redirectingPOLR(), from: dlr, to: ElementHarness.address(dlrInterface), on: dlrInterface)
        return harness
    }

    @Test func naksGoToTheDLRWhichConfirmsAndRepairsOnlyTheAskingInterface() {
        var harness = Self.learned()
        #expect(
            harness.events().last
                == .repairerLearned(ElementHarness.tsi, address: Self.dlr, interface: Self.dlrInterface))
        let sent = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let naks = ofType(.nak, sent)
        #expect(naks.map(\.destination) == [.unicast(Self.dlr)])
        #expect(naks.map(\.interface) == [Self.dlrInterface])
        #expect(harness.element.statistics.naksRedirected == 1)
        // NNAK first (forwarded upstream), then a unicast NCF, then unicast RDATA.
        let nnak = harness.feed(
            ElementHarness.nnak(50), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface),
            on: Self.dlrInterface)
        #expect(nnak.map(\.destination) == [.unicast(ElementHarness.source)])
        harness.feed(
            ElementHarness.ncf(50), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface
        )
        #expect(ofType(.nak, harness.advance(by: .seconds(1))).isEmpty)
        let repair = harness.feed(
            ElementHarness.rdata(50), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface),
            on: Self.dlrInterface)
        #expect(repair.map(\.interface) == [ElementHarness.downs[0]])
        #expect(repair.first?.destination == .multicast(ElementHarness.group))
        #expect(repair.first?.spoofedSource == ElementHarness.source)
        #expect(repair.first?.routerAlert == true)
    }

    @Test func aSequenceTheDLRsInterfaceAskedForGoesUpstream() {
        var harness = Self.learned()
        let sent = harness.fromBelow(ElementHarness.nak(51), on: Self.dlrInterface)
        #expect(ofType(.nak, sent).map(\.destination) == [.unicast(ElementHarness.source)])
        // Another interface asking later does not send it to the DLR either.
        harness.advance(by: .milliseconds(300))
        harness.fromSource(ElementHarness.ncf(51))
        harness.advance(by: .milliseconds(210))  // past NAK_ELIM_IVL, before the element asks again itself
        let later = harness.fromBelow(ElementHarness.nak(51), on: ElementHarness.downs[0])
        #expect(ofType(.nak, later).map(\.destination) == [.unicast(ElementHarness.source)])
        #expect(harness.element.statistics.naksRedirected == 0)
    }

    @Test func aNAKFromTheDLRSendsThatSequenceUpstreamAtOnce() {
        var harness = Self.learned()
        harness.fromBelow(ElementHarness.nak(52), on: ElementHarness.downs[0])
        harness.feed(
            ElementHarness.ncf(52), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface
        )
        let sent = harness.feed(
            ElementHarness.nak(52), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface
        )
        #expect(ofType(.nak, sent).map(\.destination) == [.unicast(ElementHarness.source)])
        // The DLR is kept for other sequences.
        #expect(harness.element.repairer(of: ElementHarness.tsi) == Self.dlr)
    }

    @Test func aSilentDLRIsDroppedAfterNAKRPTIVLAndNAKsGoUpstream() {
        var harness = Self.learned()
        harness.fromBelow(ElementHarness.nak(53), on: ElementHarness.downs[0])
        harness.advance(by: .milliseconds(100))
        harness.fromBelow(ElementHarness.nak(54), on: ElementHarness.downs[1])
        _ = harness.events()
        let sent = harness.advance(by: .milliseconds(1950))
        let upstream = ofType(.nak, sent).filter { $0.destination == .unicast(ElementHarness.source) }
        #expect(upstream.map { named($0.packet) } == [[53, 54]])
        #expect(harness.events() == [.repairerDropped(ElementHarness.tsi, address: Self.dlr)])
        #expect(harness.element.repairer(of: ElementHarness.tsi) == nil)
        let next = harness.fromBelow(ElementHarness.nak(55), on: ElementHarness.downs[0])
        #expect(ofType(.nak, next).map(\.destination) == [.unicast(ElementHarness.source)])
    }

    @Test func multicastPOLRsOnADownstreamLinkTeachNothing() {
        var harness = ElementHarness()
        harness.start()
        harness.feed(Self.redirectingPOLR(), from: Self.dlr, to: ElementHarness.group, on: Self.dlrInterface)
        #expect(harness.element.repairer(of: ElementHarness.tsi) == nil)
        #expect(harness.element.statistics.polrsDropped == 1)
    }
}
