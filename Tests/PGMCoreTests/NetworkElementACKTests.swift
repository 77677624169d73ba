import PGMCore
import PGMWire
import Testing

/// PGMCC through a network element: ACKs go upstream as they came, with their feedback; NAKs keep theirs.
@Suite("Network element: PGMCC ACKs and feedback")
struct NetworkElementACKTests {
    static let receiver = ElementHarness.host(ElementHarness.downs[0], 30)

    static func ack() -> Packet {
        Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port,
            body: .ack(ACK(receivedMaximum: SequenceNumber(40), bitmap: 0xFFFF_FFF7)),
            options: [Option(.pgmccFeedback(timestamp: 1234, lossRate: 99, receiver: receiver))])
    }

    @Test func anACKFromBelowGoesUpstreamIntact() {
        var harness = ElementHarness()
        harness.start()
        let sent = harness.fromBelow(Self.ack(), on: ElementHarness.downs[0])
        let acks = ofType(.ack, sent)
        #expect(acks.count == 1)
        #expect(acks.first?.destination == .unicast(ElementHarness.source))
        #expect(acks.first?.packet == Self.ack())
        #expect(harness.element.statistics.acksForwarded == 1)
    }

    @Test func anACKOfAnUnknownSessionOrFromUpstreamIsDropped() {
        var harness = ElementHarness()
        #expect(ofType(.ack, harness.fromBelow(Self.ack(), on: ElementHarness.downs[0])).isEmpty)
        harness.start()
        #expect(harness.element.statistics.acksForwarded == 0)
        let dropped = harness.element.statistics.foreignPacketsDropped
        harness.feed(
            Self.ack(), from: ElementHarness.source, to: ElementHarness.address(ElementHarness.up),
            on: ElementHarness.up)
        #expect(harness.element.statistics.acksForwarded == 0)
        #expect(harness.element.statistics.foreignPacketsDropped == dropped + 1)
    }

    @Test func aNAKsFeedbackIsForwardedWithIt() {
        var harness = ElementHarness()
        harness.start()
        var nak = ElementHarness.nak(50)
        let feedback = Option(.pgmccFeedback(timestamp: 77, lossRate: 500, receiver: Self.receiver))
        nak.options.append(feedback)
        let naks = ofType(.nak, harness.fromBelow(nak, on: ElementHarness.downs[0]))
        #expect(naks.count == 1)
        #expect(naks.first?.packet.options.contains(feedback) == true)
    }
}
