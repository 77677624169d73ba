import PGMCore
import PGMWire
import Testing

/// What the element does with what it knows beyond RFC 3208's router agent: losses above it (ODATA it never
/// saw), RDATA kept for late NAKs, and the timers that follow its configured intervals.
@Suite("Network element: loss above the element, kept repairs, timers")
struct NetworkElementLossDetectionTests {
    /// SPM with window [1, 100], ODATA 1 and then `next`: the sequences between are lost above the element.
    static func gap(_ harness: inout ElementHarness, lastSeen: UInt32 = 10, next: UInt32 = 13) {
        harness.start()
        harness.fromSource(ElementHarness.odata(lastSeen))
        harness.fromSource(ElementHarness.odata(next))
    }

    @Test func aGapInTheODATAIsAskedForOnceAndConfirmedOnEveryDownstreamInterface() {
        var harness = ElementHarness()
        Self.gap(&harness)
        #expect(harness.element.statistics.lossesDetected == 2)
        #expect(harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(11)) == ElementHarness.downs)
        // Within the detection back-off (2 ms) nothing goes; then one NAK list upstream and an NCF listing both
        // sequences on each downstream interface, so that receivers there stop backing off.
        let sent = harness.advance(by: .milliseconds(3))
        let naks = ofType(.nak, sent)
        #expect(naks.count == 1)
        #expect(naks.first.map { named($0.packet) } == [11, 12])
        #expect(
            naks.first?.destination == .unicast(ElementHarness.source) && naks.first?.interface == ElementHarness.up)
        let ncfs = ofType(.ncf, sent)
        #expect(ncfs.map(\.interface) == ElementHarness.downs)
        #expect(ncfs.allSatisfy { named($0.packet) == [11, 12] && $0.spoofedSource == ElementHarness.source })
        // NAKs from below are now eliminated, and the RDATA goes to every downstream interface.
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(11), on: ElementHarness.downs[1])).isEmpty)
        harness.fromSource(ElementHarness.ncf(11, 12))
        let repaired = harness.fromSource(ElementHarness.rdata(11))
        #expect(ofType(.rdata, repaired).map(\.interface) == ElementHarness.downs)
        #expect(harness.element.statistics.nakSequencesForwarded == 2)
    }

    @Test func aNAKFromBelowDuringTheDetectionBackOffGoesUpAtOnceAndTheOtherInterfacesAreConfirmed() {
        var harness = ElementHarness()
        Self.gap(&harness, next: 12)
        let sent = harness.fromBelow(ElementHarness.nak(11), on: ElementHarness.downs[0])
        #expect(sent.map(\.packet.body.type) == [.ncf, .nak, .ncf, .ncf])
        #expect(ofType(.ncf, sent).map(\.interface) == ElementHarness.downs)
        // The back-off's end sends nothing more.
        #expect(ofType(.nak, harness.advance(by: .milliseconds(5))).isEmpty)
    }

    @Test func aLateODATAFillsADetectedGapBeforeTheElementAsks() {
        var harness = ElementHarness()
        Self.gap(&harness, next: 12)
        harness.fromSource(ElementHarness.odata(11))
        #expect(harness.element.statistics.detectedLossesFilledLate == 1)
        #expect(harness.element.repairStateCount == 0)
        #expect(harness.advance(by: .milliseconds(5)).isEmpty)
    }

    @Test func anNCFFromUpstreamForADetectedLossConfirmsItBelowWithoutANAK() {
        var harness = ElementHarness()
        Self.gap(&harness, next: 12)
        let confirmed = harness.fromSource(ElementHarness.ncf(11))
        #expect(ofType(.ncf, confirmed).map(\.interface) == ElementHarness.downs)
        #expect(ofType(.nak, harness.advance(by: .milliseconds(3))).isEmpty)
    }

    @Test func aRepairLostAboveTheElementIsAskedForAgainWithinARoundTrip() {
        var harness = ElementHarness()
        Self.gap(&harness, next: 12)
        harness.advance(by: .milliseconds(3))
        harness.fromSource(ElementHarness.ncf(11))
        // The RDATA never arrives. Before any round trip was measured the element waits NAK_RPT_RTE (250 ms),
        // not NAK_RDATA_IVL (2 s), then asks again.
        let retried = harness.advance(by: .milliseconds(260))
        #expect(ofType(.nak, retried).map { named($0.packet) } == [[11]])
        #expect(harness.element.statistics.repairRetries == 1)
        harness.fromSource(ElementHarness.rdata(11))
        #expect(harness.element.repairStateCount == 0)
    }

    /// Ten repairs that took 1 ms each from the element's NAK to the RDATA: a short measured round trip, so the
    /// retry timeout is the 5 ms minimum.
    static func teachOneMillisecondRepairs(_ harness: inout ElementHarness) {
        for sequence in UInt32(20)..<30 {
            harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[0])
            harness.advance(by: .milliseconds(1))
            harness.fromSource(ElementHarness.rdata(sequence))
        }
    }

    @Test func measuredRoundTripsShortenTheRetryDownToTheMinimum() {
        var harness = ElementHarness()
        harness.start()
        Self.teachOneMillisecondRepairs(&harness)
        harness.fromSource(ElementHarness.odata(40))
        harness.fromSource(ElementHarness.odata(42))
        harness.advance(by: .milliseconds(3))
        harness.fromSource(ElementHarness.ncf(41))
        // SRTT + 4 RTTVAR is about 1 ms here; the wait is the 5 ms minimum.
        #expect(ofType(.nak, harness.advance(by: .milliseconds(4))).isEmpty)
        #expect(ofType(.nak, harness.advance(by: .milliseconds(2))).map { named($0.packet) } == [[41]])
    }

    @Test func repairsQueuedAtTheSourceAreNotAskedForAgainWhileOthersKeepComing() {
        var harness = ElementHarness()
        harness.start()
        Self.teachOneMillisecondRepairs(&harness)
        harness.fromBelow(ElementHarness.nak(40, 41, 42, 43), on: ElementHarness.downs[0])
        harness.fromSource(ElementHarness.ncf(40, 41, 42, 43))
        // The source sends the four repairs 4 ms apart (its rate); 43's is lost.
        var retried: [[UInt32]] = []
        for sequence in UInt32(40)..<43 {
            retried += ofType(.nak, harness.advance(by: .milliseconds(4))).map { named($0.packet) }
            harness.fromSource(ElementHarness.rdata(sequence))
        }
        #expect(retried.isEmpty, "asked again while repairs were still coming: \(retried)")
        // 43 is asked for a retry timeout after the last repair came (at least the 5 ms minimum; the queued
        // repairs' longer round trips raised the estimate).
        #expect(ofType(.nak, harness.advance(by: .milliseconds(4))).isEmpty)
        #expect(ofType(.nak, harness.advance(by: .milliseconds(40))).map { named($0.packet) } == [[43]])
    }

    @Test func detectedLossesAreAskedForUntilNAKRDATAIVLAfterDetectionWithGrowingWaits() {
        var harness = ElementHarness()
        Self.gap(&harness, next: 12)
        var requests: [Int64] = []
        for _ in 0..<45 {
            // The source confirms every request, but its RDATA never reaches the element.
            for nak in ofType(.nak, harness.advance(by: .milliseconds(100))) {
                requests.append(harness.now.nanoseconds / 1_000_000)
                harness.fromSource(ElementHarness.ncf(named(nak.packet)[0]))
            }
        }
        // Waits double (250, 500, 1000 ms before any round trip was measured); nothing is asked 2 s after the
        // detection, and the state is gone NAK_RDATA_IVL after the last NCF.
        #expect(requests.count >= 3 && requests.count <= 5, "\(requests)")
        #expect(requests.allSatisfy { $0 <= 2000 }, "\(requests)")
        let waits = zip(requests.dropFirst(), requests).map { $0 - $1 }
        #expect(waits == waits.sorted(), "\(waits)")
        #expect(harness.element.repairStateCount == 0)
    }

    @Test func hugeJumpsAreLeftToReceivers() {
        var harness = ElementHarness()
        harness.start(lead: 100_000)
        harness.fromSource(ElementHarness.odata(10))
        harness.fromSource(ElementHarness.odata(50_000))
        #expect(harness.element.statistics.odataGapsNotTracked == 1)
        #expect(harness.element.repairStateCount == 0)
    }

    @Test func detectionCanBeTurnedOff() {
        var harness = ElementHarness { $0.lossDetectionBackoff = nil }
        Self.gap(&harness)
        #expect(harness.element.repairStateCount == 0)
        #expect(harness.advance(by: .milliseconds(10)).isEmpty)
    }

    // MARK: Repairs kept for late NAKs

    @Test func aNAKAfterTheRepairPassedIsAnsweredHereNotSentUpstream() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        harness.fromSource(ElementHarness.ncf(50))
        harness.fromSource(ElementHarness.rdata(50))
        #expect(harness.element.repairStateCount == 0)
        // Another subnet's receiver, whose back-off outlasted the repair.
        harness.advance(by: .milliseconds(30))
        let late = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[1])
        #expect(late.map(\.packet.body.type) == [.ncf, .rdata])
        #expect(late.allSatisfy { $0.interface == ElementHarness.downs[1] })
        if case .rdata(let data)? = late.last?.packet.body { #expect(Array(data.payload) == [9]) }
        // A second NAK right behind it crossed the copy: confirmed, not repaired again.
        let crossing = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[1], host: 7)
        #expect(crossing.map(\.packet.body.type) == [.ncf])
        // A receiver on the first interface that lost its copy gets it again.
        harness.advance(by: .milliseconds(20))
        #expect(
            harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0]).map(\.packet.body.type) == [
                .ncf, .rdata,
            ])
        #expect(harness.element.statistics.naksForwarded == 1)
        #expect(harness.element.statistics.nakSequencesAnsweredFromCopies == 3)
        #expect(harness.element.statistics.repairsResentFromCopies == 2)
        // Once the copy has expired (half of NAK_RDATA_IVL here, the largest of the three bounds), a NAK is new.
        harness.advance(by: .milliseconds(1000))
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[2])).count == 1)
    }

    @Test func aNAKAnsweredFromAKeptRepairStaysHereEvenWhenItsReportMoved() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(
            ElementHarness.nak(50, report: ElementHarness.report(100, receiver: 1)), on: ElementHarness.downs[0])
        harness.fromSource(ElementHarness.rdata(50))
        // A much worse report (RFC 3208 Appendix B.6.1 would let it through elimination) on a NAK the kept copy
        // answers: forwarding it would only draw the repair from the source again.
        let late = harness.fromBelow(
            ElementHarness.nak(50, report: ElementHarness.report(30_000, receiver: 2)), on: ElementHarness.downs[1])
        #expect(late.map(\.packet.body.type) == [.ncf, .rdata])
        #expect(harness.element.statistics.naksForwarded == 1)
        // The report goes up with the next NAK that does.
        let next = harness.fromBelow(ElementHarness.nak(60), on: ElementHarness.downs[2])
        #expect(ofType(.nak, next).compactMap { carriedReport($0.packet)?.receiverWorstPath } == [30_000])
    }

    @Test func keptCopiesAreBoundedPerSession() {
        var harness = ElementHarness { $0.maximumRepairCopiesPerSession = 4 }
        harness.start()
        for sequence in UInt32(20)..<30 {
            harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[0])
            harness.fromSource(ElementHarness.rdata(sequence))
        }
        // The four newest are kept; an older one is forwarded as new.
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(29), on: ElementHarness.downs[1])).isEmpty)
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(21), on: ElementHarness.downs[1])).count == 1)
    }

    // MARK: NCFs and forwarding as the RFC words them

    @Test func theNCFEchoesTheWholeNAKListEvenEntriesOutsideTheWindow() {
        var harness = ElementHarness()
        harness.start()
        let sent = harness.fromBelow(ElementHarness.nak(50, 500, 51), on: ElementHarness.downs[0])
        #expect(ofType(.ncf, sent).map { named($0.packet) } == [[50, 500, 51]])
        #expect(harness.element.repairStateCount == 2)
    }

    @Test func aForwardedNAKKeepsItsOptionsButOPTCRIsTheSessions() throws {
        var harness = ElementHarness()
        harness.start()
        let unknown = Option(.unknown(type: 0x2A, body: [1, 2, 3, 4]))
        let report = ElementHarness.report(0x1000, receiver: 7)
        var nak = ElementHarness.nak(50, 51, report: report)
        nak.options.insert(unknown, at: 1)
        let sent = harness.fromBelow(nak, on: ElementHarness.downs[0])
        let forwarded = try #require(ofType(.nak, sent).first)
        #expect(named(forwarded.packet) == [50, 51])
        #expect(forwarded.packet.options.contains(unknown))
        let carried = try #require(carriedReport(forwarded.packet))
        #expect(carried.worstReceiver == report.worstReceiver)
        #expect(forwarded.packet.options.count == nak.options.count)
    }

    // MARK: Timers follow the configured intervals

    @Test func eliminationAndRepeatIntervalsFollowTheConfiguredOnes() throws {
        var configuration = NetworkElement.Configuration(
            interfaces: [
                NetworkElement.Interface(id: ElementHarness.up, address: ElementHarness.address(ElementHarness.up))
            ])
        configuration.nakRdataInterval = .seconds(5)
        configuration.nakRepeatInterval = .seconds(4)
        #expect(configuration.nakEliminationInterval == .milliseconds(500))
        #expect(configuration.nakRepeatPeriod == .milliseconds(500))
        try configuration.validate()
        configuration.nakEliminationInterval = .seconds(3)
        #expect(throws: NetworkElement.ConfigurationError.self) { try configuration.validate() }
        configuration.nakEliminationInterval = .milliseconds(100)
        configuration.nakRepeatPeriod = .seconds(5)
        #expect(throws: NetworkElement.ConfigurationError.self) { try configuration.validate() }
    }

    @Test func aShorterRepeatIntervalRepeatsFaster() {
        var harness = ElementHarness { $0.nakRepeatInterval = .milliseconds(800) }
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        // NAK_RPT_RTE is an eighth of NAK_RPT_IVL: 100 ms, so 7 repeats before forwarding is cancelled.
        #expect(ofType(.nak, harness.advance(by: .seconds(1))).count == 7)
    }
}
