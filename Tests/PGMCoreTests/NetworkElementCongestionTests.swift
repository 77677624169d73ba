import PGMCore
import PGMWire
import Testing

@Suite("Network element: OPT_CR aggregation (RFC 3208 Appendix B)")
struct NetworkElementCongestionTests {
    @Test func theWorstReportIsCarriedUpstreamAndAMoveOverFivePercentBeatsElimination() {
        var harness = ElementHarness()
        harness.start()
        let first = harness.fromBelow(
            ElementHarness.nak(50, report: ElementHarness.report(1000, receiver: 1)), on: ElementHarness.downs[0])
        #expect(ofType(.nak, first).first.flatMap { carriedReport($0.packet) }?.receiverWorstPath == 1000)
        let second = harness.fromBelow(
            ElementHarness.nak(51, report: ElementHarness.report(5000, receiver: 2)), on: ElementHarness.downs[1])
        let carried = ofType(.nak, second).first.flatMap { carriedReport($0.packet) }
        #expect(carried?.receiverWorstPath == 5000)
        #expect(carried?.worstReceiver == .ipv4(IPv4Address(10, 9, 9, 2)))
        // A better receiver does not replace the worst one.
        let third = harness.fromBelow(
            ElementHarness.nak(52, report: ElementHarness.report(100, receiver: 3)), on: ElementHarness.downs[2])
        #expect(
            ofType(.nak, third).first.flatMap { carriedReport($0.packet) }?.worstReceiver
                == .ipv4(IPv4Address(10, 9, 9, 2)))
        // A duplicate whose report moved less than 5 % is eliminated ...
        let small = harness.fromBelow(
            ElementHarness.nak(50, report: ElementHarness.report(6000, receiver: 4)), on: ElementHarness.downs[2])
        #expect(ofType(.nak, small).isEmpty)
        // ... one that moved more goes up anyway, carrying the new worst report.
        let large = harness.fromBelow(
            ElementHarness.nak(50, report: ElementHarness.report(20_000, receiver: 5)), on: ElementHarness.downs[2])
        let moved = ofType(.nak, large)
        #expect(moved.count == 1)
        #expect(moved.first.flatMap { carriedReport($0.packet) }?.receiverWorstPath == 20_000)
        #expect(harness.element.statistics.naksForwardedForCongestionReport == 1)
        let worst = harness.element.statistics.worstCongestionReports[ElementHarness.tsi]
        #expect(worst?.receiverWorstPath == 20_000)
        #expect(worst?.worstReceiver == .ipv4(IPv4Address(10, 9, 9, 5)))
    }

    @Test func storedReportsAgeBySequenceDistance() {
        // RFC 3208 §12.6: a value is scaled by exp(−1/2) per expected inter-NAK gap (1 / loss).
        #expect(CongestionAggregate.aged(32768, by: 0) == 32768)
        let aged = CongestionAggregate.aged(32768, by: 4)  // v = 0.5: gap 2, two gaps: exp(−1)
        #expect(abs(Int(aged) - 12055) <= 1)
        var aggregate = CongestionAggregate()
        _ = aggregate.merge(ElementHarness.report(32768, receiver: 1, lead: 100), reference: nil)
        aggregate.markSent()
        _ = aggregate.merge(ElementHarness.report(1000, receiver: 2, lead: 140), reference: nil)
        // 40 sequences later the old 50 % report has faded below the new 1.5 %: the new receiver is worst.
        #expect(aggregate.current?.worstReceiver == .ipv4(IPv4Address(10, 9, 9, 2)))
        #expect(aggregate.current?.lead == SequenceNumber(140))
    }

    @Test func localInterfaceLoadFeedsNEWorstPath() {
        var harness = ElementHarness()
        harness.start()
        harness.element.reportInterfaceLoad(6554, on: ElementHarness.downs[0])  // 10 %
        var report = ElementHarness.report(0, receiver: 1)
        report.kinds = [.networkElementWorstPath, .networkElementWorstLink]
        report.networkElementWorstPath = 32768
        let sent = harness.fromBelow(ElementHarness.nak(50, report: report), on: ElementHarness.downs[0])
        let carried = ofType(.nak, sent).first.flatMap { carriedReport($0.packet) }
        // 0.1 + 0.5 · 0.9 = 0.55
        #expect(carried.map { abs(Int($0.networkElementWorstPath) - 36045) <= 2 } == true)
        #expect(carried?.networkElementWorstLink == 6554)
    }
}
