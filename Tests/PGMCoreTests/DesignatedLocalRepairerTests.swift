import PGMCore
import PGMWire
import Testing

/// The designated local repairer on its own (RFC 3208 §9.5.2.2, Appendix D), driven by hand: its cache, how it
/// makes itself known (redirecting POLRs), what it sends for a NAK, and its deadlines.
@Suite struct DesignatedLocalRepairerTests {
    static let dlrAddress = NLA.ipv4(IPv4Address(10, 0, 0, 77))
    /// The element above the DLR (the SPM path), asking it for repairs.
    static let parent = Arrival(source: pathAddress, destination: dlrAddress)

    static func repairer(cacheBytes: Int = 32 << 20) -> EngineHarness<DesignatedLocalRepairer> {
        var configuration = DesignatedLocalRepairer.Configuration(
            receiver: receiverConfiguration(), address: dlrAddress)
        configuration.cacheBytes = cacheBytes
        return EngineHarness(DesignatedLocalRepairer(configuration: configuration))
    }

    /// A repairer that knows the session (its announcement drained) and holds sequence 1.
    static func knownSession() -> EngineHarness<DesignatedLocalRepairer> {
        var repairer = Self.repairer()
        repairer.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        repairer.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        return repairer
    }

    static func spmNaming(_ path: NLA, sequence: UInt32) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .spm(
                SPM(
                    sequence: SequenceNumber(sequence), trail: SequenceNumber(1), lead: SequenceNumber(0),
                    path: path)))
    }

    // MARK: Making itself known (§9.5.2.2)

    @Test func itAnnouncesItselfToEachNewParentWithARedirectingPOLR() throws {
        var repairer = Self.repairer()
        let first = repairer.receive(Self.spmNaming(pathAddress, sequence: 1), arrival: fromSource, at: at(0))
        #expect(first.count == 1)
        let polr = try #require(first.first)
        #expect(polr.packet.body == .polr(POLR(sequence: SequenceNumber(0), round: 0)))
        #expect(polr.packet.options.map(\.value) == [.redirect(Self.dlrAddress)])
        #expect(polr.packet.flags.contains(.network) && polr.packet.tsi == tsi)
        // Unicast from an off-tree DLR carries no Router Alert.
        #expect(polr.destination == .unicast(pathAddress) && !polr.routerAlert)
        #expect(repairer.receive(Self.spmNaming(pathAddress, sequence: 2), arrival: fromSource, at: at(1)).isEmpty)
        // A new parent hears it again; the DLR never announces itself to itself.
        let other = NLA.ipv4(IPv4Address(10, 0, 0, 8))
        let moved = repairer.receive(Self.spmNaming(other, sequence: 3), arrival: fromSource, at: at(2))
        #expect(moved.map(\.destination) == [.unicast(other)])
        #expect(repairer.receive(Self.spmNaming(Self.dlrAddress, sequence: 4), arrival: fromSource, at: at(3)).isEmpty)
        #expect(repairer.statistics.announcements == 2)
    }

    @Test func itAnswersDLRPollsWithARedirectUnderTheSameRulesAsAnyPoll() {
        var repairer = Self.knownSession()
        let node = repairer.receiver.randomNodeID
        repairer.receive(
            poll(1, subtype: POLL.dlrSubtype, random: ~node, mask: 0xFFFF_FFFF),
            arrival: fromSource,
            at: at(1)
        )
        #expect(ReceiverPollTests.polrs(repairer.advance(to: at(200))).isEmpty, "POLL_MASK excludes this node")
        repairer.receive(poll(2, round: 1, subtype: POLL.dlrSubtype), arrival: fromSource, at: at(200))
        #expect(ReceiverPollTests.polrs(repairer.advance(to: at(400))).isEmpty, "round 0 of 2 not seen")
        repairer.receive(
            poll(3, subtype: POLL.dlrSubtype, random: node, mask: 0xFFFF_FFFF),
            arrival: fromSource,
            at: at(400)
        )
        let replies = ReceiverPollTests.polrs(repairer.advance(to: at(600)))
        #expect(replies.count == 1)
        if let reply = replies.first {
            #expect(reply.polr == POLR(sequence: SequenceNumber(3), round: 0))
            #expect(reply.transmit.destination == .unicast(pathAddress))
            #expect(reply.transmit.packet.options.map(\.value) == [.redirect(Self.dlrAddress)])
            #expect(reply.time <= at(500))
        }
        #expect(repairer.statistics.pollsAnswered == 1)
        // A general poll is answered too, as by any receiver, without OPT_REDIRECT.
        repairer.receive(poll(4), arrival: fromSource, at: at(600))
        let general = ReceiverPollTests.polrs(repairer.advance(to: at(800)))
        #expect(general.count == 1 && general.first?.transmit.packet.options.isEmpty == true)
        #expect(repairer.statistics.pollsAnswered == 1)
        // A DLR poll of a session it does not know, or not from upstream, is not answered.
        let stranger = Arrival(source: NLA.ipv4(IPv4Address(10, 7, 7, 7)), destination: group)
        repairer.receive(poll(5, subtype: POLL.dlrSubtype), arrival: stranger, at: at(800))
        repairer.receive(
            poll(6, subtype: POLL.dlrSubtype, session: TSI(gsi: GSI(rawValue: 5), sourcePort: 1)),
            arrival: fromSource,
            at: at(800)
        )
        #expect(ReceiverPollTests.polrs(repairer.advance(to: at(1000))).isEmpty)
    }

    // MARK: Repairs (§9.5.2.2)

    @Test func itStillRepairsUnicastNAKs() {
        var repairer = Self.knownSession()
        let nak = nakPacket([1])
        let sent = repairer.receive(nak, arrival: Arrival(source: pathAddress, destination: Self.dlrAddress), at: at(1))
        #expect(sent.map(\.packet.body.type) == [.nnak, .ncf, .rdata])
        #expect(repairer.statistics.sequencesRepaired == 1 && repairer.receiver.statistics.naksOverheard == 0)
    }

    @Test func aNAKGetsAnNNAKThenAnNCFThenTheRDATAAsTheSourceSentIt() throws {
        var repairer = Self.repairer()
        repairer.receive(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(0))
        let original = odata(1, trail: 1, [1, 2, 3], options: [Option(.syn)])
        repairer.receive(original, arrival: fromSource, at: at(0))
        repairer.receive(odata(2, trail: 1, [4], repair: true), arrival: fromSource, at: at(0))
        // The session's trail moves on: repairs carry the latest one (RFC 3208 §8.2).
        repairer.receive(spm(2, trail: 2, lead: 2), arrival: fromSource, at: at(1))
        let sent = repairer.receive(nakPacket([2, 1]), arrival: Self.parent, at: at(2))
        #expect(sent.map(\.packet.body.type) == [.nnak, .ncf, .rdata, .rdata])
        #expect(sent.allSatisfy { $0.destination == .unicast(pathAddress) && !$0.routerAlert })
        #expect(sent.map { named($0.packet) }.prefix(2) == [[2, 1], [2, 1]], "an NNAK before the RDATA, an NCF echo")
        let first = try #require(
            sent.first { if case .rdata(let data) = $0.packet.body { data.sequence.rawValue == 1 } else { false } })
        guard case .rdata(let repair) = first.packet.body, case .odata(let sentData) = original.body else {
            Issue.record("not RDATA")
            return
        }
        #expect(Array(repair.payload) == Array(sentData.payload) && repair.trail == SequenceNumber(2))
        #expect(first.packet.options == original.options && first.packet.tsi == original.tsi)
        #expect(first.packet.destinationPort == original.destinationPort)
        #expect(repairer.statistics.naksReceived == 1 && repairer.statistics.sequencesRepaired == 2)
        // The NAK was the repairer's, not something its receiver heard.
        #expect(repairer.receiver.statistics.naksOverheard == 0 && repairer.receiver.statistics.foreignPackets == 0)
    }

    @Test func whatItLacksGoesBackToItsParentAsANAKAfterTheNCF() {
        var repairer = Self.knownSession()
        let mixed = repairer.receive(nakPacket([1, 5, 6]), arrival: Self.parent, at: at(1))
        #expect(mixed.map(\.packet.body.type) == [.nnak, .ncf, .rdata, .nak])
        #expect(mixed.map { named($0.packet) } == [[1], [1, 5, 6], [], [5, 6]])
        if case .nak(let nak) = mixed.last?.packet.body {
            #expect(nak.source == sourceAddress && nak.group == group, "the parent's NAK_SRC and NAK_GRP")
        }
        #expect(mixed.last?.destination == .unicast(pathAddress))
        let none = repairer.receive(nakPacket([7]), arrival: Self.parent, at: at(2))
        #expect(none.map(\.packet.body.type) == [.ncf, .nak])
        #expect(repairer.statistics.sequencesNotCached == 3 && repairer.statistics.sequencesRepaired == 1)
    }

    // MARK: Cache

    @Test func theCacheKeepsTheNewestBytesOfItsOwnPortWithinItsBound() {
        var repairer = Self.repairer(cacheBytes: 10)
        repairer.receive(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(0))
        for sequence in UInt32(1)...3 {
            let data = [UInt8](repeating: UInt8(sequence), count: 4)
            repairer.receive(odata(sequence, trail: 1, data), arrival: fromSource)
        }
        // 12 bytes for a 10-byte cache: the oldest went.
        #expect(repairer.statistics.cachedPackets == 2 && repairer.statistics.cachedBytes == 8)
        #expect(repairer.receive(nakPacket([1]), arrival: Self.parent).map(\.packet.body.type) == [.ncf, .nak])
        #expect(
            repairer.receive(nakPacket([3]), arrival: Self.parent).map(\.packet.body.type) == [.nnak, .ncf, .rdata])
        // Another port, parity, or more than the whole cache: not kept.
        var foreign = odata(4, trail: 1, [4])
        foreign.destinationPort = 9999
        var parity = odata(5, trail: 1, [5])
        parity.flags.insert(.parity)
        repairer.receive(foreign, arrival: fromSource)
        repairer.receive(parity, arrival: fromSource)
        repairer.receive(odata(6, trail: 1, [UInt8](repeating: 6, count: 11)), arrival: fromSource)
        #expect(repairer.statistics.cachedPackets == 2)
        // A NAK of a session it caches nothing for, or of parity, is ignored.
        var otherSession = nakPacket([3])
        otherSession.gsi = GSI(rawValue: 1)
        var parityNAK = nakPacket([3])
        parityNAK.flags.insert(.parity)
        #expect(repairer.receive(otherSession, arrival: Self.parent).isEmpty)
        #expect(repairer.receive(parityNAK, arrival: Self.parent).isEmpty)
        #expect(repairer.statistics.naksIgnored == 2)
    }

    // MARK: Payload ownership

    /// Data the receiver holds behind a gap shares the bytes the cache copied (see ``Engine``): one copy, not two.
    @Test func dataHeldBehindAGapSharesTheCachesCopy() {
        var repairer = Self.repairer()
        repairer.receive(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(0))
        let buffer = [UInt8](repeating: 0, count: 64) + [3, 3, 3]
        let three = Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .odata(DataPacket(sequence: SequenceNumber(3), trail: SequenceNumber(1), payload: buffer[64...])))
        repairer.receive(odata(1, trail: 1, [1]), arrival: fromSource, at: at(1))
        repairer.receive(three, arrival: fromSource, at: at(1))
        let rdata = repairer.receive(nakPacket([3]), arrival: Self.parent, at: at(2)).first {
            $0.packet.body.type == .rdata
        }
        repairer.receive(odata(2, trail: 1, [2]), arrival: fromSource, at: at(3))
        let held = repairer.events().compactMap { event -> ArraySlice<UInt8>? in
            if case .data(_, let bytes) = event, bytes.first == 3 { return bytes }
            return nil
        }.first
        guard case .rdata(let repair)? = rdata?.packet.body, let held else {
            Issue.record("no repair or no delivery of 3")
            return
        }
        #expect(Array(held) == [3, 3, 3] && Array(repair.payload) == [3, 3, 3])
        let shared = held.withUnsafeBufferPointer { delivered in
            repair.payload.withUnsafeBufferPointer { cached in delivered.baseAddress == cached.baseAddress }
        }
        #expect(shared)
    }

    // MARK: Deadlines

    @Test func repliesAreDueAtOnceAndOtherwiseTheReceiversTimersCount() {
        var repairer = Self.repairer()
        #expect(repairer.nextDeadline == nil, "no session, nothing to do")
        // The SPM makes an announcement: it is due now, not at some timer of the receiver's.
        repairer.receiveInBatch(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(5))
        #expect(repairer.nextDeadline == at(5))
        #expect(repairer.drain().map(\.packet.body.type) == [.polr])
        // Drained, the receiver's timers decide: nothing missing, so the session's expiry.
        #expect(repairer.nextDeadline == at(5) + receiverConfiguration().peerExpiry)
        // A gap: its NAK back-off (within NAK_BO_IVL) comes first, and the NAK goes to the parent.
        repairer.receive(odata(1, trail: 1, [1]), arrival: fromSource, at: at(10))
        repairer.receive(odata(3, trail: 1, [3]), arrival: fromSource, at: at(10))
        let backOff = repairer.nextDeadline
        #expect(backOff.map { $0 > at(10) && $0 <= at(60) } == true, "\(String(describing: backOff))")
        let sent = repairer.advance(to: at(60))
        #expect(repairer.nakSequences(sent) == [2])
        #expect(sent.first?.transmit.destination == .unicast(pathAddress))
        // Replies to a NAK are due at once as well.
        repairer.receiveInBatch(nakPacket([1]), arrival: Self.parent, at: at(70))
        #expect(repairer.nextDeadline == at(70))
    }
}
