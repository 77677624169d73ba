import PGMCore
import PGMWire
import Testing

/// A session with on-demand parity, k = 8: transmission group 16 holds sequences 16...23; a parity NAK for `count`
/// packets of it names 16 | (count − 1).
@Suite("Network element: FEC, on-demand parity (RFC 3208 Appendix A §11.6)")
struct NetworkElementParityTests {
    static let k: UInt32 = 8
    static let tg: UInt32 = 16
    static let a = ElementHarness.downs[0]
    static let b = ElementHarness.downs[1]
    static let c = ElementHarness.downs[2]

    static func parityPRM(_ groupSize: UInt32 = k) -> Option {
        Option(.parityParameters(modeBits: 0x01, groupSize: groupSize))
    }

    /// The harness with an SPM advertising [1, `lead`] and k (plus `options`).
    static func started(lead: UInt32 = 100, options: [Option] = [parityPRM()]) -> ElementHarness {
        var harness = ElementHarness()
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: lead, options: options))
        return harness
    }

    static func entry(_ group: UInt32, _ count: UInt32) -> UInt32 { group | (count - 1) }

    static func parity(_ packet: Packet) -> Packet {
        var packet = packet
        packet.flags.insert(.parity)
        return packet
    }

    /// A parity NAK for `count` packets of `group` (and more groups with their counts in OPT_NAK_LIST).
    static func nak(_ group: UInt32 = tg, count: UInt32, more: [(UInt32, UInt32)] = []) -> Packet {
        let sequences = [entry(group, count)] + more.map { entry($0.0, $0.1) }
        let (nak, options) = ElementHarness.nakBody(sequences)
        return parity(
            Packet(
                tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .required(by: options),
                body: .nak(nak), options: options))
    }

    static func ncf(_ group: UInt32 = tg, count: UInt32) -> Packet {
        parity(ElementHarness.ncf(entry(group, count)))
    }

    static func nnak(_ group: UInt32 = tg, count: UInt32) -> Packet {
        parity(ElementHarness.nnak(entry(group, count)))
    }

    /// On-demand parity packet `index` of `group`.
    static func rdata(_ group: UInt32 = tg, index: UInt32, options: [Option] = []) -> Packet {
        parity(
            Packet(
                tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .required(by: options),
                body: .rdata(
                    DataPacket(sequence: SequenceNumber(group | index), trail: SequenceNumber(1), payload: [7])),
                options: options))
    }

    static func upstreamNAKs(_ sent: [Transmit]) -> [UInt32] {
        ofType(.nak, sent).filter { $0.destination == .unicast(ElementHarness.source) }.flatMap { named($0.packet) }
    }

    static func ncfs(_ sent: [Transmit], on interface: InterfaceID) -> [UInt32] {
        ofType(.ncf, sent).filter { $0.interface == interface }.flatMap { named($0.packet) }
    }

    static func state(_ harness: ElementHarness) -> (largest: UInt32, interfaces: [InterfaceID], counts: [UInt32])? {
        harness.element.parityRepair(ElementHarness.tsi, group: SequenceNumber(tg))
    }

    // MARK: NAKs and NCFs

    @Test func theParityNCFCarriesTheLargerOfTheNAKsAndTheInterfacesCount() {
        var harness = Self.started()
        #expect(harness.element.parityGroupSize(of: ElementHarness.tsi) == 8)
        let first = harness.fromBelow(Self.nak(count: 3), on: Self.a)
        #expect(Self.ncfs(first, on: Self.a) == [Self.entry(16, 3)])
        #expect(ofType(.ncf, first).allSatisfy { $0.packet.flags.contains(.parity) })
        #expect(Self.upstreamNAKs(first) == [Self.entry(16, 3)])
        #expect(ofType(.nak, first).allSatisfy { $0.packet.flags.contains(.parity) })
        harness.advance(by: .milliseconds(20))  // past the NCF hold-off
        let smaller = harness.fromBelow(Self.nak(count: 2), on: Self.a)
        #expect(Self.ncfs(smaller, on: Self.a) == [Self.entry(16, 3)], "the interface's known count, 3")
        #expect(Self.upstreamNAKs(smaller).isEmpty, "pending, and 2 ≤ the largest known count")
        let statistics = harness.element.statistics
        #expect(statistics.parityNCFsSent == 2 && statistics.parityNAKsForwarded == 1)
        #expect(statistics.parityNAKsEliminated == 1 && statistics.naksEliminated == 1)
        #expect(Self.state(harness)?.counts == [3])
    }

    @Test func aLargerCountIsForwardedWithTheLargestKnownCountAndSmallerOnesEliminated() {
        var harness = Self.started()
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 2), on: Self.a)) == [Self.entry(16, 2)])
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 4), on: Self.b)) == [Self.entry(16, 4)])
        let third = harness.fromBelow(Self.nak(count: 3), on: Self.c)
        #expect(Self.upstreamNAKs(third).isEmpty)
        #expect(Self.ncfs(third, on: Self.c) == [Self.entry(16, 3)])
        #expect(Self.state(harness)?.largest == 4)
        #expect(Self.state(harness)?.counts == [2, 4, 3])
        // Confirmed, then past NAK_ELIM_IVL (200 ms): even a smaller NAK goes up again, with the largest count.
        harness.fromSource(Self.ncf(count: 4))
        harness.advance(by: .milliseconds(210))
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 1), on: Self.a)) == [Self.entry(16, 4)])
    }

    @Test func aNAKListIsAnsweredPerGroup() {
        var harness = Self.started()
        let sent = harness.fromBelow(Self.nak(count: 2, more: [(24, 5), (32, 1)]), on: Self.a)
        #expect(Self.ncfs(sent, on: Self.a) == [Self.entry(16, 2), Self.entry(24, 5), Self.entry(32, 1)])
        #expect(Self.upstreamNAKs(sent) == [Self.entry(16, 2), Self.entry(24, 5), Self.entry(32, 1)])
        #expect(harness.element.repairStateCount == 3)
    }

    // MARK: Parity RDATA

    @Test func parityRDATAGoesToEveryInterfaceInTheStateDecrementingEachCount() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 1), on: Self.a)
        harness.fromBelow(Self.nak(count: 3), on: Self.b)
        harness.fromSource(Self.ncf(count: 3))
        let first = harness.fromSource(Self.rdata(index: 0))
        #expect(first.map(\.interface) == [Self.a, Self.b])
        #expect(first.allSatisfy { $0.packet.flags.contains(.parity) && $0.spoofedSource == ElementHarness.source })
        #expect(Self.state(harness)?.interfaces == [Self.b], "a's one packet has passed")
        #expect(Self.state(harness)?.counts == [2] && Self.state(harness)?.largest == 2)
        #expect(harness.fromSource(Self.rdata(index: 1)).map(\.interface) == [Self.b])
        #expect(harness.fromSource(Self.rdata(index: 2)).map(\.interface) == [Self.b])
        #expect(Self.state(harness) == nil && harness.element.repairStateCount == 0)
        #expect(harness.fromSource(Self.rdata(index: 3)).isEmpty)
        let statistics = harness.element.statistics
        #expect(statistics.parityRDATAForwarded == 3 && statistics.rdataForwarded == 3)
        #expect(statistics.rdataCopiesSent == 4)
        #expect(statistics.parityRDATADiscarded == 1 && statistics.rdataWithoutRepairStateDropped == 0)
    }

    @Test func parityRDATAWithoutParityStateIsDiscardedEvenWhenItsSequenceHasSelectiveState() {
        var harness = Self.started()
        #expect(harness.fromSource(Self.rdata(index: 0)).isEmpty)
        #expect(harness.element.statistics.parityRDATADiscarded == 1)
        // Selective state for sequence 16 is another thing than parity state for TG 16.
        harness.fromBelow(ElementHarness.nak(16), on: Self.a)
        #expect(harness.fromSource(Self.rdata(index: 0)).isEmpty)
        #expect(harness.element.statistics.parityRDATADiscarded == 2)
        #expect(harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(16)) == [Self.a])
        #expect(harness.fromSource(ElementHarness.rdata(16)).map(\.interface) == [Self.a])
    }

    // MARK: Late parity NAKs answered from copies (beyond RFC 3208)

    /// The harness (configured by `configure`) after a's NAK for 2 packets of TG 16 and the source's parity 0 and
    /// 1, which went to a only; the group's state went with them.
    static func repairedOnA(
        _ configure: (inout NetworkElement.Configuration) -> Void = { _ in }
    ) -> ElementHarness {
        var harness = ElementHarness(configure: configure)
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 100, options: [parityPRM()]))
        #expect(upstreamNAKs(harness.fromBelow(nak(count: 2), on: a)) == [entry(16, 2)])
        harness.fromSource(ncf(count: 2))
        #expect(harness.fromSource(rdata(index: 0)).map(\.interface) == [a])
        #expect(harness.fromSource(rdata(index: 1)).map(\.interface) == [a])
        #expect(state(harness) == nil && harness.element.repairCopyCount == 2)
        return harness
    }

    static func parityRDATA(_ sent: [Transmit], on interface: InterfaceID) -> [UInt32] {
        ofType(.rdata, sent).filter { $0.interface == interface && $0.packet.flags.contains(.parity) }.compactMap {
            if case .rdata(let data) = $0.packet.body { data.sequence.rawValue } else { nil }
        }
    }

    @Test func aLateParityNAKFromAnotherInterfaceIsAnsweredFromCopiesNotForwarded() {
        var harness = Self.repairedOnA()
        harness.advance(by: .milliseconds(5))
        let late = harness.fromBelow(Self.nak(count: 1), on: Self.b)
        #expect(Self.parityRDATA(late, on: Self.b) == [16], "parity 0, as it went to a")
        #expect(ofType(.rdata, late).count == 1)
        #expect(ofType(.rdata, late).allSatisfy { $0.spoofedSource == ElementHarness.source })
        #expect(Self.ncfs(late, on: Self.b) == [Self.entry(16, 1)])
        #expect(Self.upstreamNAKs(late).isEmpty && ofType(.nak, late).isEmpty)
        #expect(Self.state(harness) == nil, "no state: nothing is pending")
        // A burst from b within the NCF hold-off costs no second resend, and goes nowhere.
        let burst = harness.fromBelow(Self.nak(count: 1), on: Self.b)
        #expect(ofType(.rdata, burst).isEmpty && ofType(.nak, burst).isEmpty)
        // Past the hold-off, b asking again (its copy lost) gets the copy it has not had; then none is left.
        harness.advance(by: .milliseconds(20))
        #expect(Self.parityRDATA(harness.fromBelow(Self.nak(count: 1), on: Self.b), on: Self.b) == [17])
        harness.advance(by: .milliseconds(20))
        let exhausted = harness.fromBelow(Self.nak(count: 1), on: Self.b)
        #expect(ofType(.rdata, exhausted).isEmpty)
        #expect(Self.upstreamNAKs(exhausted) == [Self.entry(16, 1)])
        let statistics = harness.element.statistics
        #expect(statistics.parityNAKsAnsweredFromCopies == 3 && statistics.parityRDATAResentFromCopies == 2)
        #expect(statistics.parityNAKsForwarded == 2 && statistics.rdataCopiesSent == 4)
    }

    @Test func aLateNAKForMoreThanTheCopiesGoesUpstreamWithItsWholeCount() {
        var harness = Self.repairedOnA()
        harness.advance(by: .milliseconds(5))
        let more = harness.fromBelow(Self.nak(count: 3), on: Self.b)
        #expect(ofType(.rdata, more).isEmpty, "2 copies cannot repair 3 losses; the source's parity will")
        #expect(Self.upstreamNAKs(more) == [Self.entry(16, 3)])
        #expect(Self.ncfs(more, on: Self.b) == [Self.entry(16, 3)])
        #expect(Self.state(harness)?.interfaces == [Self.b] && Self.state(harness)?.counts == [3])
        #expect(harness.element.statistics.parityNAKsAnsweredFromCopies == 0)
        // A group in the same NAK list that the copies can answer is answered; only the other goes up.
        var other = Self.repairedOnA()
        other.advance(by: .milliseconds(5))
        let list = other.fromBelow(Self.nak(count: 2, more: [(24, 1)]), on: Self.b)
        #expect(Self.parityRDATA(list, on: Self.b) == [16, 17])
        #expect(Self.upstreamNAKs(list) == [Self.entry(24, 1)])
        #expect(Self.ncfs(list, on: Self.b) == [Self.entry(16, 2), Self.entry(24, 1)])
    }

    @Test func theInterfaceTheParityWentToIsForwardedAsBefore() {
        var harness = Self.repairedOnA()
        harness.advance(by: .milliseconds(50))
        let again = harness.fromBelow(Self.nak(count: 1), on: Self.a)
        #expect(ofType(.rdata, again).isEmpty)
        #expect(Self.upstreamNAKs(again) == [Self.entry(16, 1)])
        #expect(harness.element.statistics.parityNAKsAnsweredFromCopies == 0)
    }

    @Test func aLateNAKWhileTheGroupIsPendingJoinsItsState() {
        var harness = Self.repairedOnA()
        harness.advance(by: .milliseconds(50))
        harness.fromBelow(Self.nak(count: 1), on: Self.a)  // pending upstream again
        let joined = harness.fromBelow(Self.nak(count: 1), on: Self.b)
        #expect(ofType(.rdata, joined).isEmpty && Self.upstreamNAKs(joined).isEmpty)
        #expect(Self.state(harness)?.interfaces == [Self.a, Self.b])
    }

    @Test func parityCopiesExpire() {
        var harness = Self.repairedOnA { $0.repairCacheLifetime = .milliseconds(100) }
        harness.advance(by: .milliseconds(101))
        let late = harness.fromBelow(Self.nak(count: 1), on: Self.b)
        #expect(ofType(.rdata, late).isEmpty)
        #expect(Self.upstreamNAKs(late) == [Self.entry(16, 1)])
        // Expired copies are swept when the next one is kept.
        harness.fromSource(Self.ncf(count: 1))
        #expect(harness.fromSource(Self.rdata(index: 2)).map(\.interface) == [Self.b])
        #expect(harness.element.repairCopyCount == 1)
    }

    @Test func parityCopiesAreBoundedPerGroupAndPerSession() {
        // At most k = 8 per group: a asks for one more packet at a time and gets parity 2...7, then parity 8
        // (index 0 with OPT_PARITY_GRP 1), which is forwarded but not kept.
        var harness = Self.repairedOnA { $0.maximumRepairCopiesPerSession = 10 }
        for index in UInt32(2)..<8 {
            harness.fromBelow(Self.nak(count: 1), on: Self.a)
            harness.fromSource(Self.rdata(index: index))
            harness.advance(by: .milliseconds(20))
        }
        #expect(harness.element.repairCopyCount == 8)
        harness.fromBelow(Self.nak(count: 1), on: Self.a)
        #expect(
            harness.fromSource(Self.rdata(index: 0, options: [Option(.parityGroup(1))])).map(\.interface) == [Self.a])
        #expect(harness.element.repairCopyCount == 8)
        // Other groups: the session keeps 10 copies, the oldest going first.
        for group in stride(from: UInt32(24), through: 96, by: 8) {
            harness.fromBelow(Self.nak(group, count: 1), on: Self.a)
            harness.fromSource(Self.rdata(group, index: 0))
            #expect(harness.element.repairCopyCount <= 10)
        }
        #expect(harness.element.repairCopyCount == 10)
        let newest = harness.fromBelow(Self.nak(96, count: 1), on: Self.b)
        #expect(Self.parityRDATA(newest, on: Self.b) == [96])
        let oldest = harness.fromBelow(Self.nak(count: 1), on: Self.b)
        #expect(ofType(.rdata, oldest).isEmpty && Self.upstreamNAKs(oldest) == [Self.entry(16, 1)])
        // Selective copies have their own 10.
        harness.fromBelow(ElementHarness.nak(50), on: Self.a)
        harness.fromSource(ElementHarness.rdata(50))
        #expect(harness.element.repairCopyCount == 11)
    }

    @Test func aShortGroupsLateNAKNeedsCopiesOnlyBeyondItsOffset() {
        // TG 16 holds 5 packets: receivers NAK 1 loss as count 4 (offset 3), the source sends one parity packet.
        let short = [Option(.currentGroupSize(5))]
        var harness = Self.started(lead: 20, options: [Self.parityPRM()] + short)
        harness.fromBelow(Self.nak(count: 4), on: Self.a)
        harness.fromSource(Self.ncf(count: 4))
        #expect(harness.fromSource(Self.rdata(index: 0, options: short)).map(\.interface) == [Self.a])
        harness.advance(by: .milliseconds(5))
        let late = harness.fromBelow(Self.nak(count: 4), on: Self.b)
        #expect(Self.parityRDATA(late, on: Self.b) == [16] && Self.upstreamNAKs(late).isEmpty)
        #expect(Self.ncfs(late, on: Self.b) == [Self.entry(16, 4)])
        harness.advance(by: .milliseconds(20))
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 5), on: Self.c)) == [Self.entry(16, 5)])
    }

    @Test func aNewGroupSizeDropsTheParityCopies() {
        var harness = Self.repairedOnA()
        harness.fromSource(ElementHarness.spm(sequence: 2, trail: 1, lead: 100, options: [Self.parityPRM(16)]))
        #expect(harness.element.repairCopyCount == 0)
        #expect(ofType(.rdata, harness.fromBelow(Self.nak(count: 1), on: Self.b)).isEmpty)
    }

    // MARK: Anticipation

    @Test func anUnsolicitedParityNCFAnticipatesNAKsUpToItsCount() {
        var harness = Self.started()
        #expect(harness.fromSource(Self.ncf(count: 4)).isEmpty)
        #expect(harness.element.statistics.ncfsAnticipated == 1)
        #expect(Self.state(harness)?.largest == 4 && Self.state(harness)?.interfaces == [])
        let covered = harness.fromBelow(Self.nak(count: 3), on: Self.a)
        #expect(Self.ncfs(covered, on: Self.a) == [Self.entry(16, 3)])
        #expect(Self.upstreamNAKs(covered).isEmpty)
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 5), on: Self.b)) == [Self.entry(16, 5)])
    }

    @Test func aParityNCFWithALargerCountRaisesTheLargestKnownCount() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 2), on: Self.a)
        harness.fromSource(Self.ncf(count: 5))  // partial anticipation
        #expect(Self.state(harness)?.largest == 5)
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 4), on: Self.b)).isEmpty)
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(count: 6), on: Self.c)) == [Self.entry(16, 6)])
    }

    @Test func aParityNCFBelowTheLargestKnownCountDoesNotStopRepeats() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 4), on: Self.a)
        harness.fromSource(Self.ncf(count: 2))
        #expect(Self.upstreamNAKs(harness.advance(by: .milliseconds(260))) == [Self.entry(16, 4)])
        harness.fromSource(Self.ncf(count: 4))
        #expect(Self.upstreamNAKs(harness.advance(by: .milliseconds(600))).isEmpty)
        #expect(harness.element.statistics.nakRepeats == 1)
    }

    @Test func anUnconfirmedParityNAKIsRepeatedThenGivenUp() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 2), on: Self.a)
        let repeats = Self.upstreamNAKs(harness.advance(by: .milliseconds(2100)))
        #expect(repeats.count == 7 && repeats.allSatisfy { $0 == Self.entry(16, 2) })
        #expect(harness.element.statistics.nakForwardingTimeouts == 1)
        #expect(Self.state(harness) == nil)
    }

    // MARK: Variable transmission-group size

    @Test func anSPMsCurrentTGSizeMakesInterfacesLeaveAtTheOffset() {
        // TG 16 holds 5 packets (16...20): receivers still NAK as if it held 8, the source sends 3 fewer.
        var harness = Self.started(
            lead: 20, options: [Self.parityPRM(), Option(.currentGroupSize(5))])
        harness.fromBelow(Self.nak(count: 4), on: Self.a)  // 1 lost + offset 3
        harness.fromSource(Self.ncf(count: 4))
        #expect(
            harness.fromSource(Self.rdata(index: 0, options: [Option(.currentGroupSize(5))])).map(\.interface) == [
                Self.a
            ])
        #expect(Self.state(harness) == nil, "a's count fell to the offset, 3")
    }

    @Test func aParityRDATAsCurrentTGSizeSetsTheOffsetOfItsGroup() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 4), on: Self.a)
        harness.fromBelow(Self.nak(count: 5), on: Self.b)
        harness.fromSource(Self.ncf(count: 5))
        let short = [Option(.currentGroupSize(6))]  // offset 2
        #expect(harness.fromSource(Self.rdata(index: 0, options: short)).map(\.interface) == [Self.a, Self.b])
        #expect(Self.state(harness)?.counts == [3, 4])
        #expect(harness.fromSource(Self.rdata(index: 1, options: short)).map(\.interface) == [Self.a, Self.b])
        #expect(Self.state(harness)?.interfaces == [Self.b])
        #expect(harness.fromSource(Self.rdata(index: 2, options: short)).map(\.interface) == [Self.b])
        #expect(Self.state(harness) == nil)
    }

    // MARK: DLR redirection (§11.7)

    static func learnDLR(_ harness: inout ElementHarness, parity: Bool) -> NLA {
        let interface = Self.c
        let dlr = ElementHarness.host(interface, 50)
        var polr = Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
            body: .polr(POLR(sequence: SequenceNumber(1), round: 0)), options: [Option(.redirect(dlr))])
        if parity { polr.flags.insert(.parity) }
        harness.feed(polr, from: dlr, to: ElementHarness.address(interface), on: interface)
        return dlr
    }

    @Test func parityNAKsGoToADLROnlyWhenItsPOLRCarriedOPTParity() {
        var plain = Self.started()
        _ = Self.learnDLR(&plain, parity: false)
        #expect(Self.upstreamNAKs(plain.fromBelow(Self.nak(count: 2), on: Self.a)) == [Self.entry(16, 2)])
        // Selective NAKs still go to that DLR.
        let selective = plain.fromBelow(ElementHarness.nak(50), on: Self.a)
        #expect(ofType(.nak, selective).map(\.destination) == [.unicast(ElementHarness.host(Self.c, 50))])

        var capable = Self.started()
        let dlr = Self.learnDLR(&capable, parity: true)
        let sent = ofType(.nak, capable.fromBelow(Self.nak(count: 2), on: Self.a))
        #expect(sent.map(\.destination) == [.unicast(dlr)] && sent.map(\.interface) == [Self.c])
        #expect(sent.allSatisfy { $0.packet.flags.contains(.parity) } && sent.flatMap { named($0.packet) } == [17])
        #expect(capable.element.statistics.naksRedirected == 1)
        // The DLR's parity RDATA reaches the asking interface.
        let repair = capable.feed(Self.rdata(index: 0), from: dlr, to: ElementHarness.address(Self.c), on: Self.c)
        #expect(repair.map(\.interface) == [Self.a])
    }

    @Test func aSilentParityDLRIsDroppedAndItsGroupGoesUpstream() {
        var harness = Self.started()
        let dlr = Self.learnDLR(&harness, parity: true)
        // The DLR's own interface asking: that group never goes to the DLR (§9.5.3.2).
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(24, count: 1), on: Self.c)) == [Self.entry(24, 1)])
        harness.fromSource(Self.ncf(24, count: 1))
        let sent = ofType(.nak, harness.fromBelow(Self.nak(count: 3), on: Self.a))
        #expect(sent.map(\.destination) == [.unicast(dlr)])
        let later = harness.advance(by: .milliseconds(2100))
        #expect(ofType(.nak, later).filter { $0.destination == .unicast(dlr) }.count == 7, "repeats to the DLR")
        #expect(harness.element.repairer(of: ElementHarness.tsi) == nil)
        #expect(harness.element.statistics.repairerFallbacks == 1)
        #expect(Self.upstreamNAKs(later) == [Self.entry(16, 3)])
    }

    // MARK: NNAKs and proactive parity

    @Test func aParityNNAKIsEliminatedOnlyByALargerCount() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 4), on: Self.a)
        #expect(ofType(.nnak, harness.fromBelow(Self.nnak(count: 3), on: Self.b)).isEmpty)
        #expect(harness.element.statistics.nnaksEliminated == 1)
        let equal = ofType(.nnak, harness.fromBelow(Self.nnak(count: 4), on: Self.b))
        #expect(equal.flatMap { named($0.packet) } == [Self.entry(16, 4)])
        #expect(equal.allSatisfy { $0.packet.flags.contains(.parity) })
        // No state: forwarded, and its state does not eliminate a real parity NAK, nor lend it its count.
        #expect(ofType(.nnak, harness.fromBelow(Self.nnak(24, count: 6), on: Self.b)).count == 1)
        #expect(Self.upstreamNAKs(harness.fromBelow(Self.nak(24, count: 2), on: Self.a)) == [Self.entry(24, 2)])
    }

    @Test func proactiveParityIsSwitchedLikeODATAWithoutLossDetection() {
        // k not known yet (no OPT_PARITY_PRM): the element detects losses in the data, never in parity.
        var harness = Self.started(options: [])
        for sequence in UInt32(16)...18 { harness.fromSource(ElementHarness.odata(sequence)) }
        harness.fromSource(ElementHarness.odata(20))  // 19 missing: detected
        #expect(harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(19)) != nil)
        // Parity index 3 of TG 16 has SQN 19 and index 7 SQN 23: neither fills 19 nor skips 21...22.
        for index in [UInt32(3), 7] {
            var parity = Self.parity(ElementHarness.odata(16 | index))
            parity.flags.insert(.variableLength)
            let sent = harness.fromSource(parity)
            #expect(sent.map(\.interface) == ElementHarness.downs)
            #expect(sent.allSatisfy { $0.packet.flags.isSuperset(of: [.parity, .variableLength]) })
        }
        #expect(harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(19)) != nil)
        #expect(harness.element.statistics.detectedLossesFilledLate == 0)
        #expect(harness.element.statistics.lossesDetected == 1)
        #expect(harness.element.statistics.parityODATAForwarded == 2)
        #expect(harness.element.statistics.odataForwarded == 6)
    }

    @Test func aSessionWithFECLeavesLossDetectionToItsReceivers() {
        var harness = Self.started()
        harness.fromSource(ElementHarness.odata(16))
        harness.fromSource(ElementHarness.odata(20))
        #expect(harness.element.statistics.lossesDetected == 0)
        #expect(harness.element.repairStateCount == 0)
        #expect(ofType(.nak, harness.advance(by: .milliseconds(50))).isEmpty)
        // Without OPT_PARITY_PRM the same gap is the element's to ask for.
        var plain = Self.started(options: [])
        plain.fromSource(ElementHarness.odata(16))
        plain.fromSource(ElementHarness.odata(20))
        #expect(plain.element.statistics.lossesDetected == 3)
        #expect(nakSequences(plain.advance(by: .milliseconds(50))) == [17, 18, 19])
    }

    // MARK: Bad input

    @Test func parityPacketsBeforeOPTParityPRMAreCountedNotUnderstood() {
        var harness = Self.started(options: [])
        #expect(harness.fromBelow(Self.nak(count: 2), on: Self.a).isEmpty)
        #expect(harness.fromSource(Self.ncf(count: 2)).isEmpty)
        #expect(harness.fromBelow(Self.nnak(count: 2), on: Self.a).isEmpty)
        #expect(harness.fromSource(Self.rdata(index: 0)).isEmpty)
        let statistics = harness.element.statistics
        #expect(statistics.parityNAKsDropped == 3 && statistics.parityRDATADiscarded == 1)
        #expect(harness.element.repairStateCount == 0)
        // A group size that is no power of two in 2...128 teaches nothing.
        for (sequence, size) in [(UInt32(2), UInt32(6)), (3, 256), (4, 1), (5, 0)] {
            harness.fromSource(
                ElementHarness.spm(sequence: sequence, trail: 1, lead: 100, options: [Self.parityPRM(size)]))
        }
        #expect(harness.element.parityGroupSize(of: ElementHarness.tsi) == nil)
        #expect(harness.element.statistics.parityOptionsIgnored == 4)
        #expect(harness.fromBelow(Self.nak(count: 2), on: Self.a).isEmpty)
        #expect(harness.element.statistics.parityNAKsDropped == 4)
    }

    @Test func badTGSizesAndGroupsOutsideTheWindowAreCounted() {
        var harness = Self.started()
        harness.fromBelow(Self.nak(count: 2), on: Self.a)
        for size in [UInt32(0), 9] {
            harness.fromSource(Self.rdata(index: 0, options: [Option(.currentGroupSize(size))]))
        }
        #expect(harness.element.statistics.parityOptionsIgnored == 2)
        #expect(harness.element.statistics.parityRDATAForwarded == 2, "forwarded, the option ignored")
        #expect(harness.fromBelow(Self.nak(200, count: 3), on: Self.a).isEmpty)
        #expect(harness.element.statistics.naksOutsideWindowDropped == 1)
    }

    @Test func randomParityTrafficNeverCrashesAndStaysWithinTheCap() {
        var harness = ElementHarness { $0.maximumRepairStatesPerSession = 16 }
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 1000, options: [Self.parityPRM()]))
        var random = SplitMix64(seed: 0xFEC)
        for round in 0..<2000 {
            let group = UInt32(random.bounded(140)) * 8
            let count = UInt32(random.bounded(8)) + 1
            let interface = ElementHarness.downs[Int(random.bounded(3))]
            switch random.bounded(5) {
            case 0: harness.fromBelow(Self.nak(group, count: count, more: [(group + 8, 8)]), on: interface)
            case 1: harness.fromSource(Self.ncf(group, count: count))
            case 2: harness.fromBelow(Self.nnak(group, count: count), on: interface)
            case 3: harness.fromSource(Self.rdata(group, index: count - 1, options: [Option(.currentGroupSize(count))]))
            default: harness.advance(by: .milliseconds(Int64(random.bounded(300))))
            }
            #expect(harness.element.repairStateCount <= 16, "round \(round)")
        }
        #expect(harness.element.statistics.repairStatesRejected > 0)
        harness.advance(by: .seconds(10))
        #expect(harness.element.repairStateCount == 0)
    }
}
