import PGMCore
import PGMWire
import Testing

@Suite("Network element: NAK_BO_IVL tuning (RFC 3208 Appendix E §15.2.1)")
struct NetworkElementBackoffTests {
    static func advertised(_ packet: Packet) -> UInt32? {
        for option in packet.options {
            if case .nakBackoffInterval(let microseconds, let poll) = option.value, poll == SequenceNumber(0) {
                return microseconds
            }
        }
        return nil
    }

    @Test func aDuplicateNAKFromAnInterfaceDoublesItsNAKBOIVLOnTheNextNCF() {
        var harness = ElementHarness()
        harness.start()
        let first = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 1)
        #expect(ofType(.ncf, first).first.flatMap { Self.advertised($0.packet) } == 50_000)
        harness.advance(by: .milliseconds(20))
        let duplicate = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 2)
        #expect(ofType(.ncf, duplicate).first.flatMap { Self.advertised($0.packet) } == 100_000)
        #expect(harness.element.statistics.nakBackoffIncreases == 1)
        // Only the first duplicate counts; other interfaces keep theirs.
        harness.advance(by: .milliseconds(20))
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0], host: 3)
        #expect(harness.element.statistics.nakBackoffIncreases == 1)
        let other = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[1])
        #expect(ofType(.ncf, other).first.flatMap { Self.advertised($0.packet) } == 50_000)
    }

    @Test func nakProbeNumCleanRepairStatesHalveIt() {
        var harness = ElementHarness()
        harness.start()
        for sequence in UInt32(1)...8 {
            harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[0])
            harness.fromSource(ElementHarness.ncf(sequence))
            harness.fromSource(ElementHarness.rdata(sequence))
        }
        #expect(harness.element.statistics.nakBackoffDecreases == 1)
        let next = harness.fromBelow(ElementHarness.nak(9), on: ElementHarness.downs[0])
        #expect(ofType(.ncf, next).first.flatMap { Self.advertised($0.packet) } == 25_000)
    }

    @Test func forwardedSPMsCarryEachInterfacesValueNotTheParents() {
        var harness = ElementHarness()
        let parents = Option(.nakBackoffInterval(microseconds: 777, pollSequence: SequenceNumber(0)))
        let range = Option(.nakBackoffRange(maximumMicroseconds: 80_000, minimumMicroseconds: 60_000))
        let sent = harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 10, options: [parents, range]))
        #expect(sent.count == 3)
        // OPT_NAK_BO_RNG from the source clamps the 50 ms default up to its 60 ms minimum.
        #expect(sent.allSatisfy { Self.advertised($0.packet) == 60_000 })
        #expect(
            sent.allSatisfy {
                $0.packet.options.filter { if case .nakBackoffInterval = $0.value { true } else { false } }.count == 1
            })

        var untuned = ElementHarness { $0.backoffTuning = nil }
        let stripped = untuned.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 10, options: [parents]))
        #expect(stripped.allSatisfy { Self.advertised($0.packet) == nil })
        #expect(stripped.allSatisfy { !$0.packet.flags.contains(.network) })
    }
}
