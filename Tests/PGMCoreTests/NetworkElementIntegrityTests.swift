import PGMCore
import PGMWire
import Testing

/// Session integrity at a network element (RFC 3208 §10, §15.3.2, Docs/integrity.md): hostile packets on the
/// upstream link from another address, the RFC's windowless SPMs, lead jumps, and repair state bounded by the
/// source's window.
@Suite("Network element: session integrity (RFC 3208 §10)") struct NetworkElementIntegrityTests {
    /// A host on the upstream link that is not the source.
    static let stranger = NLA.ipv4(IPv4Address(10, 0, 0, 66))

    static func spm(
        _ sequence: UInt32, trail: UInt32, lead: UInt32, path: NLA = ElementHarness.source, options: [Option] = []
    ) -> Packet {
        Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .required(by: options),
            body: .spm(
                SPM(
                    sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), lead: SequenceNumber(lead),
                    path: path)), options: options)
    }

    static func poll() -> Packet {
        Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port,
            body: .poll(
                POLL(
                    sequence: SequenceNumber(3), round: 0, subtype: POLL.generalSubtype, path: stranger,
                    backoffInterval: 1000, random: 0, mask: 0)))
    }

    @discardableResult
    static func fromStranger(_ harness: inout ElementHarness, _ packet: Packet) -> [Transmit] {
        harness.feed(packet, from: stranger, to: ElementHarness.group, on: ElementHarness.up)
    }

    @Test func packetsOfTheSessionFromAnotherAddressAreDroppedAndCounted() {
        var harness = ElementHarness()
        harness.start()
        var sent: [Transmit] = []
        sent += Self.fromStranger(&harness, Self.spm(2, trail: 1, lead: 5_000_000, path: Self.stranger))
        sent += Self.fromStranger(&harness, Self.spm(3, trail: 0, lead: 0x8000_0000, path: Self.stranger))
        sent += Self.fromStranger(&harness, ElementHarness.odata(101))
        sent += Self.fromStranger(&harness, ElementHarness.rdata(50))
        sent += Self.fromStranger(&harness, ElementHarness.ncf(60))
        sent += Self.fromStranger(&harness, Self.poll())
        sent += harness.advance(by: .seconds(1))
        #expect(sent.isEmpty, "nothing forwarded or answered: \(sent)")
        let statistics = harness.element.statistics
        #expect(statistics.offPathDropped == 6)
        #expect(statistics.ncfsAnticipated == 0 && statistics.polrsSent == 0)
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.neighbor == ElementHarness.source)
        #expect(harness.events().contains(.offPathPackets(ElementHarness.tsi, from: Self.stranger, dropped: 1)))
        // The window is still the source's: a NAK for the stranger's lead is outside it.
        harness.fromBelow(ElementHarness.nak(4_000_000), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.naksOutsideWindowDropped == 1)
        // The source's own packets still go through.
        #expect(harness.fromSource(ElementHarness.odata(101)).count == ElementHarness.downs.count)
        #expect(harness.fromSource(Self.spm(2, trail: 1, lead: 101)).count == ElementHarness.downs.count)
    }

    /// §8.1: forwarded, but teaches no window.
    @Test func anSPMWithoutAWindowIsForwardedAndMovesNoWindow() {
        var harness = ElementHarness()
        harness.start()
        let sent = harness.fromSource(Self.spm(2, trail: 0, lead: 0x8000_0000))
        #expect(ofType(.spm, sent).count == ElementHarness.downs.count)
        harness.fromBelow(ElementHarness.nak(200), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.naksOutsideWindowDropped == 1)
        let inside = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        #expect(ofType(.ncf, inside).count == 1)
    }

    /// §15.3.2: an OPT_NBR_UNREACH SPM from the current parent is forwarded (its SPM_SQN repeating the last one)
    /// and NAKs stay below until a regular SPM; one naming another parent is ignored.
    @Test func neighborUnreachableFromTheParentIsForwardedAndHoldsNAKs() {
        var harness = ElementHarness()
        harness.start()
        let unreachable = [Option(.neighborUnreachable)]
        #expect(
            harness.fromSource(Self.spm(1, trail: 0, lead: 0x8000_0000, path: Self.stranger, options: unreachable))
                .isEmpty)
        #expect(harness.element.statistics.neighborUnreachableIgnored == 1)
        let forwarded = harness.fromSource(Self.spm(1, trail: 0, lead: 0x8000_0000, options: unreachable))
        #expect(ofType(.spm, forwarded).count == ElementHarness.downs.count)
        #expect(forwarded.allSatisfy { $0.packet.options.contains { $0.value == .neighborUnreachable } })
        let held = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        #expect(ofType(.ncf, held).count == 1)
        #expect(ofType(.nak, held + harness.advance(by: .milliseconds(500))).isEmpty)
        harness.fromSource(Self.spm(2, trail: 1, lead: 100))
        let later = harness.fromBelow(ElementHarness.nak(51), on: ElementHarness.downs[0])
        #expect(nakSequences(ofType(.nak, later)).contains(51))
    }

    @Test func aLeadJumpIsTakenOnlyWhenThreePacketsClaimIt() {
        var harness = ElementHarness()
        harness.start()
        harness.fromSource(Self.spm(2, trail: 1, lead: 5_000_000))
        harness.fromBelow(ElementHarness.nak(4_999_000), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.naksOutsideWindowDropped == 1)
        harness.fromSource(ElementHarness.odata(5_000_001))
        harness.fromSource(Self.spm(3, trail: 1, lead: 5_000_002))
        let taken = harness.fromBelow(ElementHarness.nak(4_999_000), on: ElementHarness.downs[0])
        #expect(ofType(.ncf, taken).count == 1)
    }

    /// Repair state never outgrows the source's advertised window, whatever the configured cap (§10).
    @Test func repairStateIsBoundedByTheSourcesWindow() {
        var harness = ElementHarness()
        harness.start(lead: 100)
        for start in stride(from: UInt32(1), through: 100, by: 10) {
            harness.fromBelow(ElementHarness.nak(start, start + 1, start + 2, start + 3), on: ElementHarness.downs[0])
        }
        #expect(harness.element.repairStateCount == 40)
        // The window moves on to [61, 160]: at most 100 states, the 40 old ones included.
        harness.fromSource(Self.spm(2, trail: 61, lead: 160))
        for sequence in UInt32(61)...160 {
            harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[1])
        }
        #expect(harness.element.repairStateCount <= 100)
        #expect(harness.element.statistics.repairStatesRejected > 0)
    }

    /// An element restarted elsewhere, or a route that moved: the new path's SPMs take over once the old one fell
    /// silent (the DLR exception is covered by the redirection tests, which run unchanged).
    @Test func anotherUpstreamIsTakenAfterTheOldOneFellSilent() {
        var harness = ElementHarness()
        harness.start()
        let other = NLA.ipv4(IPv4Address(10, 0, 0, 77))
        for index: UInt32 in 0..<3 {
            harness.feed(
                Self.spm(2 + index, trail: 1, lead: 100, path: other), from: other, to: ElementHarness.group,
                on: ElementHarness.up)
        }
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.neighbor == ElementHarness.source)
        harness.advance(by: .seconds(4))
        for index: UInt32 in 0..<3 {
            harness.feed(
                Self.spm(10 + index, trail: 1, lead: 100, path: other), from: other, to: ElementHarness.group,
                on: ElementHarness.up)
        }
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.neighbor == other)
        #expect(harness.element.statistics.upstreamChanges == 1)
        let data = harness.feed(ElementHarness.odata(101), from: other, to: ElementHarness.group, on: ElementHarness.up)
        #expect(data.count == ElementHarness.downs.count)
        #expect(harness.fromSource(ElementHarness.odata(102)).isEmpty, "the old path is off the path now")
    }
}
