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
        #expect(harness.events() == [.sessionLearned(ElementHarness.tsi, upstream: ElementHarness.up, neighbor: ElementHarness.source)])
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
        let up = harness.feed(ElementHarness.odata(102), from: ElementHarness.source, to: ElementHarness.group, on: ElementHarness.downs[1])
        #expect(up.isEmpty)
        #expect(harness.element.statistics.odataDropped == 1)
        #expect(harness.element.statistics.odataForwarded == 1)
    }

    @Test func odataBeforeAnySPMIsForwardedOnlyFromAConfiguredUpstream() {
        var fixed = ElementHarness()
        let sent = fixed.fromSource(ElementHarness.odata(5))
        #expect(sent.map(\.interface) == ElementHarness.downs)
        #expect(sent.allSatisfy { $0.spoofedSource == ElementHarness.source && $0.destination == .multicast(ElementHarness.group) })
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
        let data = harness.feed(ElementHarness.odata(6), from: ElementHarness.source, to: ElementHarness.group, on: InterfaceID(2))
        #expect(data.map(\.interface) == [InterfaceID(0), InterfaceID(1), InterfaceID(3)])
        // A newer SPM elsewhere is a route change.
        harness.feed(
            ElementHarness.spm(sequence: 2, trail: 1, lead: 6), from: ElementHarness.source, to: ElementHarness.group,
            on: InterfaceID(0))
        #expect(harness.element.upstream(of: ElementHarness.tsi)?.interface == InterfaceID(0))
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
            Packet(tsi: other, dataDestinationPort: ElementHarness.port,
                   body: .spm(SPM(sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(1), path: ElementHarness.source)),
                   options: [discard]))
        #expect(harness.element.statistics.packetsDiscardedByOption == 2)
        #expect(harness.element.upstream(of: other) != nil)
        harness.advance(by: .seconds(181))
        #expect(harness.element.upstream(of: other) == nil)
        let invalidate = Option(.unknown(type: 0x22, body: [1, 2, 3, 4]), flags: .init(byte2: Option.Flags.opxInvalidate))
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
        #expect(harness.element.repairInterfaces(ElementHarness.tsi, SequenceNumber(50)) == [ElementHarness.downs[0], ElementHarness.downs[1]])
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
        #expect(repeats.allSatisfy { $0.destination == .unicast(ElementHarness.source) && $0.interface == ElementHarness.up })
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
        harness.fromBelow(ElementHarness.ncf(61), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.ncfsFromDownstreamDropped == 1)
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(61), on: ElementHarness.downs[0])).count == 1)
    }

    @Test func misroutedAndMisaddressedNAKsAreDroppedAndCounted() {
        var harness = ElementHarness()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        #expect(harness.element.statistics.naksWithoutSessionDropped == 1)
        harness.start()
        #expect(harness.feed(ElementHarness.nak(50), from: ElementHarness.source, to: ElementHarness.address(ElementHarness.up), on: ElementHarness.up).isEmpty)
        #expect(harness.feed(ElementHarness.nak(50), from: ElementHarness.host(ElementHarness.downs[0], 9), to: ElementHarness.group, on: ElementHarness.downs[0]).isEmpty)
        #expect(harness.element.statistics.naksMisroutedDropped == 2)
        #expect(harness.fromBelow(ElementHarness.nak(50, source: .ipv4(IPv4Address(10, 0, 0, 2))), on: ElementHarness.downs[0]).isEmpty)
        #expect(harness.element.statistics.naksMisaddressedDropped == 1)
        #expect(harness.fromBelow(ElementHarness.nak(500), on: ElementHarness.downs[0]).isEmpty)
        #expect(harness.element.statistics.naksOutsideWindowDropped == 1)
        #expect(harness.element.repairStateCount == 0)
    }
}

@Suite("Network element: constrained RDATA forwarding (RFC 3208 §7.8)")
struct NetworkElementRDATATests {
    @Test func rdataGoesOnlyToInterfacesThatAskedThenStateIsGone() {
        var harness = ElementHarness()
        harness.start()
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[2])
        harness.fromSource(ElementHarness.ncf(50))
        let sent = harness.fromSource(ElementHarness.rdata(50))
        #expect(sent.map(\.interface) == [ElementHarness.downs[0], ElementHarness.downs[2]])
        #expect(sent.allSatisfy { $0.routerAlert && $0.spoofedSource == ElementHarness.source && $0.destination == .multicast(ElementHarness.group) })
        #expect(harness.element.repairStateCount == 0)
        #expect(harness.fromSource(ElementHarness.rdata(50)).isEmpty)
        #expect(harness.element.statistics.rdataWithoutRepairStateDropped == 1)
        #expect(harness.element.statistics.rdataCopiesSent == 2)
    }

    @Test func rdataWithoutStateIsDroppedAndRDATAFromBelowNeverGoesUp() {
        var harness = ElementHarness()
        harness.start()
        #expect(harness.fromSource(ElementHarness.rdata(70)).isEmpty)
        #expect(harness.element.statistics.rdataWithoutRepairStateDropped == 1)
        harness.fromBelow(ElementHarness.nak(71), on: ElementHarness.downs[0])
        let fromBelow = harness.feed(ElementHarness.rdata(71), from: ElementHarness.source, to: ElementHarness.group, on: ElementHarness.downs[1])
        #expect(fromBelow.isEmpty)
        #expect(harness.element.statistics.rdataMisroutedDropped == 1)
        // Anticipated state has no interfaces: its RDATA goes nowhere.
        harness.fromSource(ElementHarness.ncf(72))
        #expect(harness.fromSource(ElementHarness.rdata(72)).isEmpty)
        #expect(harness.element.statistics.rdataWithoutRepairStateDropped == 2)
    }
}

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
            let tsi = index % 2 == 0
                ? TSI(gsi: GSI(rawValue: random.next()), sourcePort: UInt16(truncatingIfNeeded: random.next()))
                : ElementHarness.tsi
            let sequence = UInt32(truncatingIfNeeded: random.next())
            let interface = ElementHarness.downs[index % 3]
            let sent = harness.feed(
                ElementHarness.nak(sequence, tsi: tsi), from: .ipv4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next()))),
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
                Packet(tsi: tsi, dataDestinationPort: ElementHarness.port,
                       body: .spm(SPM(sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(1), path: ElementHarness.source))))
        }
        #expect(harness.element.sessionCount == 2)
        #expect(harness.element.statistics.sessionsRejected == 3)
    }
}

@Suite("Network element: SPMR and POLL (Appendix C, Appendix D)")
struct NetworkElementPollTests {
    static let spmr = Packet(tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, body: .spmr)

    @Test func spmrIsAnsweredFromAFreshSPMAndOtherwiseLeftToTheSource() {
        var harness = ElementHarness()
        harness.start()
        let down = ElementHarness.downs[1]
        let answer = harness.feed(Self.spmr, from: ElementHarness.host(down, 5), to: ElementHarness.group, on: down)
        #expect(answer.map(\.interface) == [down])
        if case .spm(let spm) = answer.first?.packet.body { #expect(spm.path == ElementHarness.address(down)) }
        // ODATA moved the lead past the cached SPM: a multicast copy is dropped, a unicast SPMR forwarded.
        harness.fromSource(ElementHarness.odata(101))
        #expect(harness.feed(Self.spmr, from: ElementHarness.host(down, 5), to: ElementHarness.group, on: down).isEmpty)
        let forwarded = harness.fromBelow(Self.spmr, on: down)
        #expect(forwarded.map(\.destination) == [.unicast(ElementHarness.source)])
        #expect(forwarded.map(\.interface) == [ElementHarness.up])
        let statistics = harness.element.statistics
        #expect(statistics.spmrsAnswered == 1 && statistics.spmrsDropped == 1 && statistics.spmrsForwarded == 1)
    }

    @Test func generalPollsAreAnsweredUpstreamAndNoPollIsForwarded() {
        var harness = ElementHarness()
        harness.start()
        let parent = NLA.ipv4(IPv4Address(10, 0, 0, 1))
        func poll(_ sequence: UInt32, round: UInt16, subtype: UInt16) -> Packet {
            Packet(tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port,
                   body: .poll(POLL(sequence: SequenceNumber(sequence), round: round, subtype: subtype, path: parent,
                                    backoffInterval: 10_000, random: 0x1234, mask: 0)))
        }
        #expect(harness.fromSource(poll(1, round: 0, subtype: POLL.generalSubtype)).isEmpty)
        let reply = harness.advance(by: .milliseconds(11))
        #expect(reply.count == 1)
        #expect(reply.first?.destination == .unicast(parent))
        #expect(reply.first?.interface == ElementHarness.up)
        #expect(reply.first?.packet.body == .polr(POLR(sequence: SequenceNumber(1), round: 0)))
        #expect(reply.first?.packet.tsi == ElementHarness.tsi)
        // A DLR poll, or a round > 0 without its round 0, gets no answer.
        harness.fromSource(poll(2, round: 0, subtype: POLL.dlrSubtype))
        harness.fromSource(poll(3, round: 1, subtype: POLL.generalSubtype))
        #expect(harness.advance(by: .milliseconds(20)).isEmpty)
        #expect(harness.element.statistics.pollsIgnored == 2)
    }

    @Test func theElementPollsItsDownstreamInterfacesForDLRs() {
        var harness = ElementHarness { $0.dlrPollInterval = .seconds(30) }
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 10))
        let polls = ofType(.poll, harness.advance(by: .milliseconds(1)))
        #expect(polls.map(\.interface) == ElementHarness.downs)
        for transmit in polls {
            guard case .poll(let poll) = transmit.packet.body else { continue }
            #expect(poll.subtype == POLL.dlrSubtype && poll.mask == 0 && poll.round == 0)
            #expect(poll.path == ElementHarness.address(transmit.interface))
            #expect(transmit.routerAlert && transmit.spoofedSource == ElementHarness.source)
        }
        #expect(ofType(.poll, harness.advance(by: .seconds(29))).isEmpty)
        #expect(ofType(.poll, harness.advance(by: .seconds(2))).count == 3)
    }
}

@Suite("Network element: DLR redirection (RFC 3208 §9.5.3)")
struct NetworkElementRedirectionTests {
    static let dlrInterface = ElementHarness.downs[2]
    static let dlr = ElementHarness.host(dlrInterface, 50)

    static func redirectingPOLR() -> Packet {
        Packet(tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
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
        #expect(harness.events().last == .repairerLearned(ElementHarness.tsi, address: Self.dlr, interface: Self.dlrInterface))
        let sent = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let naks = ofType(.nak, sent)
        #expect(naks.map(\.destination) == [.unicast(Self.dlr)])
        #expect(naks.map(\.interface) == [Self.dlrInterface])
        #expect(harness.element.statistics.naksRedirected == 1)
        // NNAK first (forwarded upstream), then a unicast NCF, then unicast RDATA.
        let nnak = harness.feed(ElementHarness.nnak(50), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface)
        #expect(nnak.map(\.destination) == [.unicast(ElementHarness.source)])
        harness.feed(ElementHarness.ncf(50), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface)
        #expect(ofType(.nak, harness.advance(by: .seconds(1))).isEmpty)
        let repair = harness.feed(ElementHarness.rdata(50), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface)
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
        harness.feed(ElementHarness.ncf(52), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface)
        let sent = harness.feed(ElementHarness.nak(52), from: Self.dlr, to: ElementHarness.address(Self.dlrInterface), on: Self.dlrInterface)
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

@Suite("Network element: OPT_CR aggregation (RFC 3208 Appendix B)")
struct NetworkElementCongestionTests {
    @Test func theWorstReportIsCarriedUpstreamAndAMoveOverFivePercentBeatsElimination() {
        var harness = ElementHarness()
        harness.start()
        let first = harness.fromBelow(ElementHarness.nak(50, report: ElementHarness.report(1000, receiver: 1)), on: ElementHarness.downs[0])
        #expect(ofType(.nak, first).first.flatMap { carriedReport($0.packet) }?.receiverWorstPath == 1000)
        let second = harness.fromBelow(ElementHarness.nak(51, report: ElementHarness.report(5000, receiver: 2)), on: ElementHarness.downs[1])
        let carried = ofType(.nak, second).first.flatMap { carriedReport($0.packet) }
        #expect(carried?.receiverWorstPath == 5000)
        #expect(carried?.worstReceiver == .ipv4(IPv4Address(10, 9, 9, 2)))
        // A better receiver does not replace the worst one.
        let third = harness.fromBelow(ElementHarness.nak(52, report: ElementHarness.report(100, receiver: 3)), on: ElementHarness.downs[2])
        #expect(ofType(.nak, third).first.flatMap { carriedReport($0.packet) }?.worstReceiver == .ipv4(IPv4Address(10, 9, 9, 2)))
        // A duplicate whose report moved less than 5 % is eliminated ...
        let small = harness.fromBelow(ElementHarness.nak(50, report: ElementHarness.report(6000, receiver: 4)), on: ElementHarness.downs[2])
        #expect(ofType(.nak, small).isEmpty)
        // ... one that moved more goes up anyway, carrying the new worst report.
        let large = harness.fromBelow(ElementHarness.nak(50, report: ElementHarness.report(20_000, receiver: 5)), on: ElementHarness.downs[2])
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

@Suite("Network element: edge cases")
struct NetworkElementEdgeTests {
    @Test func repeatsOfManySequencesAreBatchedIntoNAKListsOfAtMost63() {
        var harness = ElementHarness()
        harness.start(lead: 1000)
        for sequence in UInt32(1)...100 { harness.fromBelow(ElementHarness.nak(sequence), on: ElementHarness.downs[0]) }
        let repeats = ofType(.nak, harness.advance(by: .milliseconds(260)))
        #expect(repeats.map { named($0.packet).count } == [63, 37])
        #expect(repeats.flatMap { named($0.packet) } == Array(UInt32(1)...100))
        #expect(repeats.allSatisfy { (try? Packet(decoding: $0.packet.encoded())) == $0.packet })
    }

    @Test func parityNAKsAreDroppedWithoutState() {
        var harness = ElementHarness()
        harness.start()
        var parity = ElementHarness.nak(48)
        parity.flags.insert(.parity)
        #expect(harness.fromBelow(parity, on: ElementHarness.downs[0]).isEmpty)
        #expect(harness.element.statistics.parityNAKsDropped == 1)
        #expect(harness.element.repairStateCount == 0)
    }

    @Test func anUpstreamDLRIsLearnedFromItsMulticastPOLRAndGetsNAKsOnTheUpstreamLink() {
        var harness = ElementHarness()
        harness.start()
        let dlr = NLA.ipv4(IPv4Address(10, 0, 0, 77))
        let polr = Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
            body: .polr(POLR(sequence: SequenceNumber(0), round: 0)), options: [Option(.redirect(dlr))])
        // §9.5.2.1: multicast to the group with the data source's address, on the upstream link.
        harness.fromSource(polr)
        let sent = harness.fromBelow(ElementHarness.nak(50), on: ElementHarness.downs[0])
        let naks = ofType(.nak, sent)
        #expect(naks.map(\.destination) == [.unicast(dlr)])
        #expect(naks.map(\.interface) == [ElementHarness.up])
        // Its NCF and RDATA come down the upstream link like the source's.
        harness.fromSource(ElementHarness.ncf(50))
        #expect(harness.fromSource(ElementHarness.rdata(50)).map(\.interface) == [ElementHarness.downs[0]])
    }

    @Test func aPOLRNamingTheElementItselfIsIgnored() {
        var harness = ElementHarness()
        harness.start()
        let polr = Packet(
            tsi: ElementHarness.tsi, dataDestinationPort: ElementHarness.port, flags: .network,
            body: .polr(POLR(sequence: SequenceNumber(0), round: 0)),
            options: [Option(.redirect(ElementHarness.address(ElementHarness.downs[0])))])
        harness.fromBelow(polr, on: ElementHarness.downs[0])
        #expect(harness.element.repairer(of: ElementHarness.tsi) == nil)
        #expect(harness.element.statistics.polrsDropped == 1)
    }

    @Test func spmsWithoutWindowInformationDoNotNarrowTheWindow() {
        var harness = ElementHarness()
        harness.fromSource(ElementHarness.spm(sequence: 1, trail: 0, lead: 0x8000_0000))
        // No window known yet: any sequence may be asked for.
        #expect(ofType(.nak, harness.fromBelow(ElementHarness.nak(123_456), on: ElementHarness.downs[0])).count == 1)
    }
}

@Suite("Network element: arbitrary input")
struct NetworkElementRobustnessTests {
    /// Random packets of every type, from random hosts on random interfaces (some the element does not have),
    /// with time moving on: nothing traps, state stays within its caps, nothing goes back up the link it came
    /// down, and once the sources fall silent every piece of state and every timer is gone.
    @Test(arguments: [UInt64(1), 2, 3])
    func randomTrafficNeverTrapsAndStaysBounded(seed: UInt64) {
        var harness = ElementHarness {
            $0.maximumSessions = 4
            $0.maximumRepairStatesPerSession = 32
            $0.dlrPollInterval = .seconds(1)
        }
        var random = SplitMix64(seed: seed)
        func pick<T>(_ values: [T]) -> T { values[Int(random.bounded(UInt64(values.count)))] }
        let tsis = [ElementHarness.tsi, TSI(gsi: GSI(rawValue: 7), sourcePort: 1), TSI(gsi: GSI(rawValue: 8), sourcePort: 2)]
        let addresses = [ElementHarness.source, ElementHarness.group, ElementHarness.host(InterfaceID(1), 9),
                         ElementHarness.address(InterfaceID(2)), NLA.ipv6(IPv6Address(high: 0xFE80 << 48, low: 1))]
        let interfaces = [InterfaceID(0), InterfaceID(1), InterfaceID(2), InterfaceID(3), InterfaceID(9)]
        for _ in 0..<20_000 {
            let sequence = SequenceNumber(UInt32(random.bounded(64)))
            // Mostly well-addressed, so that the deeper paths run too.
            let nak = NAK(
                sequence: sequence, source: random.bounded(5) == 0 ? pick(addresses) : ElementHarness.source,
                group: random.bounded(5) == 0 ? pick(addresses) : ElementHarness.group)
            var options: [Option] = []
            if random.bounded(3) == 0 { options.append(Option(.nakList((0..<Int(random.bounded(5))).map { _ in SequenceNumber(UInt32(random.bounded(64))) }))) }
            if random.bounded(4) == 0 { options.append(Option(.congestionReport(ElementHarness.report(UInt16(truncatingIfNeeded: random.next()), receiver: 1, lead: UInt32(random.bounded(64)))))) }
            if random.bounded(6) == 0 { options.append(Option(.redirect(pick(addresses)))) }
            let body: Packet.Body = pick([
                .spm(SPM(sequence: SequenceNumber(UInt32(random.bounded(8))), trail: sequence, lead: sequence &+ UInt32(random.bounded(40)), path: pick(addresses))),
                .odata(DataPacket(sequence: sequence, trail: SequenceNumber(UInt32(random.bounded(64))), payload: [1])),
                .rdata(DataPacket(sequence: sequence, trail: SequenceNumber(0), payload: [2])),
                .nak(nak), .nnak(nak), .ncf(nak), .spmr,
                .poll(POLL(sequence: sequence, round: UInt16(random.bounded(3)), subtype: UInt16(random.bounded(3)), path: pick(addresses),
                           backoffInterval: UInt32(random.bounded(100_000)), random: UInt32(truncatingIfNeeded: random.next()), mask: UInt32(random.bounded(4)))),
                .polr(POLR(sequence: sequence, round: 0)), .ack(ACK(receivedMaximum: sequence, bitmap: 1)),
            ])
            var packet = Packet(
                tsi: random.bounded(4) == 0 ? pick(tsis) : ElementHarness.tsi,
                dataDestinationPort: random.bounded(10) == 0 ? 1 : ElementHarness.port, body: body, options: options)
            if random.bounded(20) == 0 { packet.flags.insert(.parity) }
            // Mostly where each type belongs: downstream types from the source on the upstream link, upstream
            // types unicast to the element from below.
            let plausible = random.bounded(5) != 0
            let downstream = !packet.body.type.isUpstream
            let interface = plausible ? (downstream ? ElementHarness.up : pick(ElementHarness.downs)) : pick(interfaces)
            let source = plausible && downstream ? ElementHarness.source : pick(addresses)
            let destination = plausible
                ? (downstream ? ElementHarness.group : ElementHarness.address(interface)) : pick(addresses)
            let sent = harness.feed(packet, from: source, to: destination, on: interface)
            for transmit in sent {
                #expect(transmit.interface.rawValue <= 3)
                // Upstream types leave by unicast only; nothing from the upstream link goes back up it unless it
                // is an upstream type (a POLR answering the parent's POLL).
                if transmit.packet.body.type.isUpstream {
                    #expect(transmit.destination != .multicast(ElementHarness.group))
                } else if interface == ElementHarness.up {
                    #expect(transmit.interface != ElementHarness.up)
                }
            }
            if random.bounded(50) == 0 { harness.advance(by: .milliseconds(Int64(random.bounded(3000)))) }
            #expect(harness.element.sessionCount <= 4)
            #expect(harness.element.repairStateCount <= 4 * 32)
        }
        let statistics = harness.element.statistics
        #expect(statistics.naksForwarded > 0 && statistics.ncfsSent > 0 && statistics.rdataForwarded > 0)
        #expect(statistics.naksEliminated > 0 && statistics.spmsForwarded > 0 && statistics.repairersLearned > 0)
        harness.advance(by: .seconds(400))
        #expect(harness.element.sessionCount == 0)
        #expect(harness.element.repairStateCount == 0)
        #expect(harness.element.nextDeadline == nil)
    }
}

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
        #expect(sent.allSatisfy { $0.packet.options.filter { if case .nakBackoffInterval = $0.value { true } else { false } }.count == 1 })

        var untuned = ElementHarness { $0.backoffTuning = nil }
        let stripped = untuned.fromSource(ElementHarness.spm(sequence: 1, trail: 1, lead: 10, options: [parents]))
        #expect(stripped.allSatisfy { Self.advertised($0.packet) == nil })
        #expect(stripped.allSatisfy { !$0.packet.flags.contains(.network) })
    }
}
