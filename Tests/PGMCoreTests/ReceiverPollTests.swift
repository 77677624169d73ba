import PGMCore
import PGMWire
import Testing

/// POLL answering by receivers (RFC 3208 §14.5); a DLR's answers are in DesignatedLocalRepairerTests.
@Suite struct ReceiverPollTests {
    static func knownSession(seed: UInt64 = 42) -> EngineHarness<Receiver> {
        var configuration = receiverConfiguration()
        configuration.seed = seed
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        return receiver
    }

    static func polrs(
        _ sent: [(time: Instant, transmit: Transmit)]
    ) -> [(time: Instant, polr: POLR, transmit: Transmit)] {
        sent.compactMap { time, transmit in
            if case .polr(let polr) = transmit.packet.body { return (time, polr, transmit) }
            return nil
        }
    }

    @Test func aGeneralPollIsAnsweredOnceWithinPOLLBOIVLToPOLLPATH() {
        var replyTimes: Set<Instant> = []
        for seed in UInt64(1)...8 {
            var receiver = Self.knownSession(seed: seed)
            let answer = receiver.receive(poll(3, round: 0, backoff: 100_000), arrival: fromSource, at: at(10))
            #expect(answer.isEmpty, "the reply waits a random time")
            let replies = Self.polrs(receiver.advance(to: at(500)))
            #expect(replies.count == 1)
            guard let reply = replies.first else { continue }
            #expect(reply.polr == POLR(sequence: SequenceNumber(3), round: 0))
            #expect(reply.transmit.destination == .unicast(pathAddress) && !reply.transmit.routerAlert)
            #expect(reply.transmit.packet.tsi == tsi && reply.transmit.packet.options.isEmpty)
            #expect(reply.time >= at(10) && reply.time <= at(110))
            replyTimes.insert(reply.time)
            #expect(receiver.statistics.pollsReceived == 1 && receiver.statistics.polrsSent == 1)
        }
        #expect(replyTimes.count == 8, "uniform on [0, POLL_BO_IVL], not all at once")
    }

    @Test func pollMaskAndRandomSelectTheRepliers() {
        var receiver = Self.knownSession()
        let node = receiver.randomNodeID
        func answered(_ packet: Packet, at time: Int64) -> Bool {
            receiver.receive(packet, arrival: fromSource, at: at(time))
            return !Self.polrs(receiver.advance(to: at(time + 101))).isEmpty
        }
        #expect(answered(poll(1, random: node, mask: 0xFFFF_FFFF), at: 0))
        #expect(!answered(poll(2, random: node ^ 0x100, mask: 0xFFFF_FFFF), at: 200))
        #expect(answered(poll(3, random: node ^ 0x1, mask: 0x100), at: 400), "only masked bits must match")
        #expect(answered(poll(4, random: ~node, mask: 0), at: 600), "mask 0: everyone answers")
    }

    @Test func laterRoundsNeedRoundZeroOfTheSameSequence() {
        var receiver = Self.knownSession()
        let node = receiver.randomNodeID
        receiver.receive(poll(4, round: 1), arrival: fromSource, at: at(0))
        #expect(Self.polrs(receiver.advance(to: at(200))).isEmpty, "round 0 of 4 was never seen")
        // Round 0 of 5 is received but not answered (its mask excludes us); round 1, wider, is answered.
        receiver.receive(poll(5, round: 0, random: ~node, mask: 0xFFFF_FFFF), arrival: fromSource, at: at(300))
        #expect(Self.polrs(receiver.advance(to: at(500))).isEmpty)
        receiver.receive(poll(5, round: 1), arrival: fromSource, at: at(500))
        let replies = Self.polrs(receiver.advance(to: at(700)))
        #expect(replies.map(\.polr) == [POLR(sequence: SequenceNumber(5), round: 1)])
    }

    @Test func aNewPollSequenceCancelsThePendingReplyAndOneReplyIsPendingPerSession() {
        var receiver = Self.knownSession()
        let node = receiver.randomNodeID
        receiver.receive(poll(6, backoff: 1_000_000), arrival: fromSource, at: at(0))
        // A new POLL_SQN (which we do not match) aborts poll 6 (§14.3.1).
        receiver.receive(poll(7, random: ~node, mask: 0xFFFF_FFFF), arrival: fromSource, at: at(1))
        #expect(Self.polrs(receiver.advance(to: at(2000))).isEmpty)
        // Rounds 0 and 1 of the same poll: only the latest round's reply goes.
        receiver.receive(poll(8, round: 0, backoff: 1_000_000), arrival: fromSource, at: at(2000))
        receiver.receive(poll(8, round: 1, backoff: 1_000_000), arrival: fromSource, at: at(2001))
        let replies = Self.polrs(receiver.advance(to: at(4000)))
        #expect(replies.map(\.polr) == [POLR(sequence: SequenceNumber(8), round: 1)])
    }

    @Test func pollsNotFromTheSessionsUpstreamOrOfUnknownKindAreIgnored() {
        var receiver = Self.knownSession()
        let stranger = Arrival(source: NLA.ipv4(IPv4Address(10, 7, 7, 7)), destination: group)
        receiver.receive(poll(1), arrival: stranger, at: at(0))
        receiver.receive(poll(2, session: TSI(gsi: GSI(rawValue: 5), sourcePort: 1)), arrival: fromSource, at: at(0))
        #expect(receiver.statistics.pollsIgnored == 2 && receiver.sessions == [tsi])
        receiver.receive(poll(3, subtype: 9), arrival: fromSource, at: at(0))
        receiver.receive(poll(4, subtype: POLL.dlrSubtype), arrival: fromSource, at: at(0))
        #expect(Self.polrs(receiver.advance(to: at(500))).isEmpty, "unknown subtype; DLR polls are for DLRs")
        #expect(receiver.statistics.pollsReceived == 4 && receiver.statistics.polrsSent == 0)
        // Through a network element that cannot claim the source's address (UDP), the POLL comes from the
        // SPM_PATH: still our upstream.
        receiver.receive(poll(5), arrival: Arrival(source: pathAddress, destination: group), at: at(500))
        #expect(Self.polrs(receiver.advance(to: at(700))).count == 1)
    }
}
