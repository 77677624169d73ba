import PGMCore
import PGMWire
import Testing

@Suite("Network element: NNAK and bounded state")
struct NetworkElementStateTests {
    @Test func nnakIsForwardedOnlyWithoutStateAndItsStateEliminatesNoRealNAK() {
        var harness = ElementHarness()
        harness.start()
        let first = harness.fromBelow(ElementHarness.nnak(40), on: ElementHarness.downs[0])
        #expect(first.map(\.packet.body.type) == [.nnak])  // never confirmed
        #expect(first.first?.destination == .unicast(ElementHarness.source))
        #expect(harness.fromBelow(ElementHarness.nnak(40), on: ElementHarness.downs[1]).isEmpty)
        #expect(harness.element.statistics.nnaksEliminated == 1)
        let real = harness.fromBelow(ElementHarness.nak(40), on: ElementHarness.downs[1])
        #expect(real.map(\.packet.body.type) == [.ncf, .nak])
        // NNAK state lives NAK_ELIM_IVL.
        harness.fromBelow(ElementHarness.nnak(41), on: ElementHarness.downs[0])
        harness.advance(by: .milliseconds(250))
        #expect(harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(41)) == nil)
    }

    @Test func aFloodOfSpoofedNAKsStaysWithinCapsAndARealNAKStillGoesThrough() {
        var harness = ElementHarness {
            $0.maximumSessions = 8
            $0.maximumRepairStatesPerSession = 64
        }
        harness.start(lead: 10_000)
        var random = SplitMix64(seed: 42)
        var forwarded = 0
        for index in 0..<100_000 {
            let tsi =
                index % 2 == 0
                ? TSI(gsi: GSI(rawValue: random.next()), sourcePort: UInt16(truncatingIfNeeded: random.next()))
                : ElementHarness.tsi
            let sequence = UInt32(truncatingIfNeeded: random.next())
            let interface = ElementHarness.downs[index % 3]
            let sent = harness.feed(
                ElementHarness.nak(sequence, tsi: tsi),
                from: .ipv4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next()))),
                to: ElementHarness.address(interface), on: interface)
            forwarded += ofType(.nak, sent).count
            #expect(harness.element.repairStateCount <= 64)
        }
        #expect(harness.element.sessionCount == 1)
        let statistics = harness.element.statistics
        #expect(statistics.naksWithoutSessionDropped == 50_000)
        #expect(statistics.naksOutsideWindowDropped + forwarded == 50_000)
        let real = harness.fromBelow(ElementHarness.nak(9_999), on: ElementHarness.downs[0])
        #expect(ofType(.nak, real).count == 1)
        #expect(ofType(.ncf, real).count == 1)
    }

    @Test func aFloodInsideTheWindowIsCappedAndDrainsWithinNAKRPTIVL() {
        var harness = ElementHarness { $0.maximumRepairStatesPerSession = 64 }
        harness.start(lead: 100_000)
        for sequence in UInt32(1)...5_000 {
            harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[Int(sequence) % 3])
        }
        #expect(harness.element.repairStateCount == 64)
        #expect(harness.element.statistics.repairStatesRejected == 5_000 - 64)
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(90_000), on: ElementHarness.downs[0])).isEmpty)
        harness.advance(by: .seconds(2))
        #expect(harness.element.repairStateCount == 0)
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(90_000), on: ElementHarness.downs[0])).count == 1)
    }

    @Test func sessionsAreCapped() {
        var harness = ElementHarness { $0.maximumSessions = 2 }
        for port in UInt16(1)...5 {
            let tsi = TSI(gsi: GSI(rawValue: 1), sourcePort: port)
            harness.fromSource(
                Packet(
                    tsi: tsi, dataDestinationPort: ElementHarness.port,
                    body: .spm(
                        SPM(
                            sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(1),
                            path: ElementHarness.source))))
        }
        #expect(harness.element.sessionCount == 2)
        #expect(harness.element.statistics.sessionsRejected == 3)
    }
}
