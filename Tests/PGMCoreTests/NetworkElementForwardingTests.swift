import PGMCore
import PGMWire
import Testing

@Suite("Network element: source path state and forwarding (RFC 3208 §7.1)")
struct NetworkElementForwardingTests {
    @Test func spmGoesToEveryOtherInterfaceWithItsPathRewrittenAndAValidChecksum() throws {
        var harness = ElementHarness()
        let sent = harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 10))
        #expect(sent.map(\.interface) == ElementHarness.downs)
        for transmit in sent {
            guard case .spm(let spm) = transmit.packet.body else {
                Issue.record("not an SPM")
                continue
            }
            #expect(spm.path == ElementHarness.address(transmit.interface))
            #expect(spm.sequence == SequenceNumber(1) && spm.lead == SequenceNumber(10))
            #expect(transmit.destination == .multicast(ElementHarness.group))
            #expect(transmit.spoofedSource == ElementHarness.source)
            #expect(transmit.routerAlert)
            let bytes = transmit.packet.encoded()
            #expect(bytes.withUnsafeBytes { PGMChecksum.isValid($0) })
            let decoded = try Packet(decoding: bytes, checksum: .verify)
            #expect(decoded == transmit.packet)
        }
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.neighbor == ElementHarness.source)
        #expect(
            harness.events() == [
                .sessionLearned(ElementHarness.tsi, upstream: ElementHarness.up, neighbor: ElementHarness.source)
            ])
    }

    @Test func staleSPMsAndSPMsFromBelowAreDropped() {
        var harness = ElementHarness()
        harness.start()
        #expect(harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 100)).isEmpty)
        #expect(harness.element.statistics.spmsStaleDropped == 1)
        let fromBelow = harness.feed(
            ElementHarness.spm(sequence: 2, trail: 1, lead: 100), from: ElementHarness.source, to: ElementHarness.group,
            on: ElementHarness.downs[0])
        #expect(fromBelow.isEmpty)
        #expect(harness.element.statistics.spmsFromDownstreamDropped == 1)
    }

    @Test func odataGoesDownstreamAndNeverBackOrUp() {
        var harness = ElementHarness()
        harness.start()
        let sent = harness.fromSource(ElementHarness.odata(101))
        #expect(sent.map(\.interface) == ElementHarness.downs)
        #expect(sent.allSatisfy { !$0.routerAlert && $0.spoofedSource == ElementHarness.source })
        let up = harness.feed(
            ElementHarness.odata(102), from: ElementHarness.source, to: ElementHarness.group,
            on: ElementHarness.downs[1])
        #expect(up.isEmpty)
        #expect(harness.element.statistics.odataDropped == 1)
        #expect(harness.element.statistics.odataForwarded == 1)
    }

    @Test func odataBeforeAnySPMIsForwardedOnlyFromAConfiguredUpstream() {
        var fixed = ElementHarness()
        let sent = fixed.fromSource(ElementHarness.odata(5))
        #expect(sent.map(\.interface) == ElementHarness.downs)
        #expect(
            sent.allSatisfy {
                $0.spoofedSource == ElementHarness.source && $0.destination == .multicast(ElementHarness.group)
            })
        #expect(fixed.element.sessionCount == 0)
        var learning = ElementHarness { $0.upstream = nil }
        #expect(learning.fromSource(ElementHarness.odata(5)).isEmpty)
        #expect(learning.element.statistics.odataDropped == 1)
    }

    @Test func learnedUpstreamFollowsTheSPMsInterface() {
        var harness = ElementHarness { $0.upstream = nil }
        let sent = harness.feed(
            ElementHarness.spm(sequence: 1, trail: 1, lead: 5), from: ElementHarness.source, to: ElementHarness.group,
            on: InterfaceID(2))
        #expect(sent.map(\.interface) == [InterfaceID(0), InterfaceID(1), InterfaceID(3)])
        let data = harness.feed(
            ElementHarness.odata(6), from: ElementHarness.source, to: ElementHarness.group, on: InterfaceID(2))
        #expect(data.map(\.interface) == [InterfaceID(0), InterfaceID(1), InterfaceID(3)])
        // A newer SPM elsewhere is a route change, taken by the path rule (Docs/integrity.md): three SPMs in a
        // row on the new interface once the old one has been silent for three seconds. One alone, or while the
        // old interface still talks, changes nothing.
        let moved = InterfaceID(0)
        harness.feed(
            ElementHarness.spm(sequence: 2, trail: 1, lead: 6), from: ElementHarness.source, to: ElementHarness.group,
            on: moved)
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.interface == InterfaceID(2))
        harness.advance(by: .seconds(3))
        for sequence: UInt32 in 3...4 {
            harness.feed(
                ElementHarness.spm(sequence: sequence, trail: 1, lead: 6), from: ElementHarness.source,
                to: ElementHarness.group, on: moved)
        }
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.interface == moved)
        #expect(harness.element.statistics.upstreamChanges == 1)
    }

    @Test func unknownOptionsFollowTheirOPXBits() {
        var harness = ElementHarness()
        harness.start()
        let discard = Option(.unknown(type: 0x21, body: [0, 0, 0, 0]), flags: .init(byte2: Option.Flags.opxDiscard))
        #expect(harness.fromSource(ElementHarness.odata(101, options: [discard])).isEmpty)
        #expect(harness.element.statistics.packetsDiscardedByOption == 1)
        // A new session's SPM dropped for its options still makes state, which still expires.
        let other = TSI(gsi: GSI(rawValue: 99), sourcePort: 1)
        harness.fromSource(
            Packet(
                tsi: other, dataDestinationPort: ElementHarness.port,
                body: .spm(
                    SPM(
                        sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(1),
                        path: ElementHarness.source)),
                options: [discard]))
        #expect(harness.element.statistics.packetsDiscardedByOption == 2)
        #expect(harness.element.upstream(of: other) != nil)
        harness.advance(by: .seconds(181))
        #expect(harness.element.upstream(of: other) == nil)
        let invalidate = Option(
            .unknown(type: 0x22, body: [1, 2, 3, 4]), flags: .init(byte2: Option.Flags.opxInvalidate))
        let sent = harness.fromSource(ElementHarness.odata(102, options: [invalidate]))
        #expect(sent.count == 3)
        #expect(sent.first?.packet.options.first?.value == .unknown(type: Option.TypeCode.invalid, body: [1, 2, 3, 4]))
    }

    @Test func idleSessionsExpire() {
        var harness = ElementHarness { $0.sessionExpiry = .seconds(10) }
        harness.start()
        _ = harness.events()
        harness.advance(by: .seconds(9))
        #expect(harness.element.sessionCount == 1)
        harness.fromSource(ElementHarness.odata(101))
        harness.advance(by: .seconds(9))
        #expect(harness.element.sessionCount == 1)
        harness.advance(by: .seconds(2))
        #expect(harness.element.sessionCount == 0)
        #expect(harness.events() == [.sessionExpired(ElementHarness.tsi)])
    }
}
