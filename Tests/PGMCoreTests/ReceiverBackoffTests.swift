import PGMCore
import PGMWire
import Testing

func backoffOption(microseconds: UInt32, poll: UInt32 = 0) -> Option {
    Option(.nakBackoffInterval(microseconds: microseconds, pollSequence: SequenceNumber(poll)))
}

func rangeOption(maximum: UInt32, minimum: UInt32) -> Option {
    Option(.nakBackoffRange(maximumMicroseconds: maximum, minimumMicroseconds: minimum))
}

func ncf(_ sequence: UInt32, options: [Option]) -> Packet {
    Packet(
        tsi: tsi,
        dataDestinationPort: 7500,
        flags: .required(by: options),
        body: .ncf(NAK(sequence: SequenceNumber(sequence), source: sourceAddress, group: group)),
        options: options
    )
}

func poll(
    _ sequence: UInt32,
    round: UInt16 = 0,
    subtype: UInt16 = POLL.generalSubtype,
    backoff: UInt32 = 100_000,
    random: UInt32 = 0,
    mask: UInt32 = 0,
    session: TSI = tsi
) -> Packet {
    Packet(
        tsi: session,
        dataDestinationPort: 7500,
        body: .poll(
            POLL(
                sequence: SequenceNumber(sequence),
                round: round,
                subtype: subtype,
                path: pathAddress,
                backoffInterval: backoff,
                random: random,
                mask: mask
            )
        )
    )
}

/// OPT_NAK_BO_IVL and OPT_NAK_BO_RNG (RFC 3208 §6.3, §15.2.2), and NAK coalescing.
@Suite struct ReceiverBackoffTests {
    @Test func learnsNAKBackoffFromSPMsAndNCFsAndUsesItForNewGaps() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == nil, "no session yet")
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(50), "the configured default")
        receiver.receive(
            spm(2, trail: 0, lead: 0, options: [backoffOption(microseconds: 10_000)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(10))
        // Every new gap backs off within the learned 10 ms, not the configured 50 ms.
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(40, trail: 0, [40]), arrival: fromSource, at: at(0))
        let sent = receiver.advance(to: at(10))
        #expect(receiver.nakSequences(sent).sorted() == Array(2...39))
        // An NCF's OPT_NAK_BO_IVL counts too.
        receiver.receive(ncf(2, options: [backoffOption(microseconds: 30_000)]), arrival: fromSource, at: at(11))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(30))
    }

    @Test func retriesBackOffWithTheLearnedInterval() {
        var configuration = receiverConfiguration()
        configuration.nakRepeatInterval = .milliseconds(200)
        configuration.nakCoalescingWindow = .zero
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(
            spm(1, trail: 0, lead: 0, options: [backoffOption(microseconds: 5_000)]),
            arrival: fromSource,
            at: at(0)
        )
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(32, trail: 0, [32]), arrival: fromSource, at: at(0))
        var first: [UInt32: Instant] = [:]
        var second: [UInt32: Instant] = [:]
        for (time, transmit) in receiver.advance(to: at(500)) {
            for sequence in receiver.nakSequences([(time, transmit)]) {
                if first[sequence] == nil {
                    first[sequence] = time
                } else if second[sequence] == nil {
                    second[sequence] = time
                }
            }
        }
        #expect(first.count == 30 && second.count == 30)
        for (sequence, time) in first {
            #expect(time <= at(5))
            if let again = second[sequence] {
                // NAK_RPT_IVL, then a fresh back-off on the learned 5 ms (the default would allow 50 ms).
                #expect(again - time > .milliseconds(200) && again - time <= .milliseconds(205), "\(sequence)")
            }
        }
    }

    @Test func aPolledValueWaitsForItsRoundZeroPoll() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(
            spm(1, trail: 0, lead: 0, options: [backoffOption(microseconds: 20_000, poll: 7)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(50), "no POLL seen: MUST NOT be used")
        receiver.receive(poll(5, round: 1), arrival: fromSource, at: at(1))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(50), "round 1 is not round 0")
        let elsewhere = Arrival(source: NLA.ipv4(IPv4Address(10, 9, 9, 9)), destination: group)
        receiver.receive(poll(6), arrival: elsewhere, at: at(2))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(50), "not from the session's upstream")
        #expect(receiver.statistics.pollsIgnored == 1)
        receiver.receive(poll(6), arrival: fromSource, at: at(3))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(20), "POLL_SQN 6 =< NAK_BO_IVL_SQN 7")
        // Once a round-0 POLL at or before it was seen, later values apply at once.
        receiver.receive(
            spm(2, trail: 0, lead: 0, options: [backoffOption(microseconds: 30_000, poll: 9)]),
            arrival: fromSource,
            at: at(4)
        )
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(30))

        // A receiver that joined after the poll the value came from keeps its default.
        var late = EngineHarness(Receiver(configuration: receiverConfiguration()))
        late.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        late.receive(poll(8), arrival: fromSource, at: at(1))
        late.receive(
            spm(2, trail: 0, lead: 0, options: [backoffOption(microseconds: 20_000, poll: 7)]),
            arrival: fromSource,
            at: at(2)
        )
        #expect(late.engine.nakBackoffInterval(for: tsi) == .milliseconds(50))
        // Serially: a POLL_SQN just before the wrap precedes a NAK_BO_IVL_SQN just after it.
        var wrapped = EngineHarness(Receiver(configuration: receiverConfiguration()))
        wrapped.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        wrapped.receive(poll(0xFFFF_FFFE), arrival: fromSource, at: at(1))
        wrapped.receive(
            spm(2, trail: 0, lead: 0, options: [backoffOption(microseconds: 20_000, poll: 3)]),
            arrival: fromSource,
            at: at(2)
        )
        #expect(wrapped.engine.nakBackoffInterval(for: tsi) == .milliseconds(20))
    }

    @Test func rangeAndSanityClampTheLearnedValue() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(
            spm(
                1,
                trail: 0,
                lead: 0,
                options: [rangeOption(maximum: 100_000, minimum: 20_000), backoffOption(microseconds: 500_000)]
            ),
            arrival: fromSource,
            at: at(0)
        )
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(100), "NAK_BO_IVL_MAX")
        receiver.receive(ncf(5, options: [backoffOption(microseconds: 5_000)]), arrival: fromSource, at: at(1))
        #expect(receiver.engine.nakBackoffInterval(for: tsi) == .milliseconds(20), "NAK_BO_IVL_MIN")
        // Absurd values without a range: 0 becomes 1 ms, 71 minutes becomes NAK_RPT_IVL.
        var other = EngineHarness(Receiver(configuration: receiverConfiguration()))
        other.receive(
            spm(1, trail: 0, lead: 0, options: [backoffOption(microseconds: 0)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(other.engine.nakBackoffInterval(for: tsi) == .milliseconds(1))
        other.receive(
            spm(2, trail: 0, lead: 0, options: [backoffOption(microseconds: .max)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(other.engine.nakBackoffInterval(for: tsi) == .seconds(2))
        // A range of zeros, or upside down, cannot take the value outside the same bounds.
        other.receive(
            spm(3, trail: 0, lead: 0, options: [rangeOption(maximum: 0, minimum: 0)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(other.engine.nakBackoffInterval(for: tsi) == .milliseconds(1))
        other.receive(
            spm(4, trail: 0, lead: 0, options: [rangeOption(maximum: 10_000, minimum: 40_000)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(other.engine.nakBackoffInterval(for: tsi) == .milliseconds(40))
        // A stale SPM teaches nothing.
        other.receive(
            spm(4, trail: 0, lead: 0, options: [backoffOption(microseconds: 25_000)]),
            arrival: fromSource,
            at: at(0)
        )
        #expect(other.engine.nakBackoffInterval(for: tsi) == .milliseconds(40))
    }

    @Test func coalescingSendsOneNAKForBackOffsDueSoon() {
        // 38 missing sequences, back-offs spread over 50 ms.
        func run(window: Duration?) -> (packets: Int, sequences: [UInt32]) {
            var configuration = receiverConfiguration()
            configuration.nakCoalescingWindow = window
            var receiver = EngineHarness(Receiver(configuration: configuration))
            receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
            receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
            receiver.receive(odata(40, trail: 0, [40]), arrival: fromSource, at: at(0))
            let sent = receiver.advance(to: at(60))
            return (receiver.statistics.naksSent, receiver.nakSequences(sent).sorted())
        }
        let separate = run(window: .zero)
        #expect(separate.packets == 38 && separate.sequences == Array(2...39), "one NAK per back-off")
        // Each NAK takes every back-off ending within 25 ms.
        let coalesced = run(window: .milliseconds(25))
        #expect(coalesced.sequences == Array(2...39), "each sequence NAKed exactly once")
        #expect(coalesced.packets <= 3, "\(coalesced.packets) NAK packets")
    }

    /// The default window grows as back-offs end unsuppressed (no other receiver shares our losses), stays
    /// shut while NCFs suppress them, and behind a network element (RFC 3208 §9.3.3) is always shut.
    @Test(arguments: [
        ("alone", true, false, true), ("suppressed", true, true, false), ("element", false, false, false),
    ])
    func theDefaultWindowLearnsWhetherOthersShareOurLosses(
        label: String,
        direct: Bool,
        suppressed: Bool,
        coalesces: Bool
    ) {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        let first = direct ? directSPM(1, trail: 0, lead: 0) : spm(1, trail: 0, lead: 0)
        receiver.receive(first, arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        // 60 single losses, one every 100 ms, each NAKed alone or suppressed by an NCF, then repaired.
        for round in UInt32(0)..<60 {
            let time = Int64(round) * 100
            let missing = 2 * round + 2
            receiver.receive(odata(missing + 1, trail: 0, [1]), arrival: fromSource, at: at(time))
            if suppressed { receiver.receive(ncf([missing]), arrival: fromSource, at: at(time)) }
            _ = receiver.advance(to: at(time + 60))
            receiver.receive(odata(missing, trail: 0, [1], repair: true), arrival: fromSource, at: at(time + 60))
        }
        #expect(receiver.statistics.naksSent == (suppressed ? 0 : 60), "\(label)")
        // Then 38 losses at once: the first NAK takes along what is due within the window.
        receiver.receive(odata(160, trail: 0, [1]), arrival: fromSource, at: at(6000))
        let sent = receiver.advance(to: at(6060))
        #expect(receiver.nakSequences(sent).sorted() == Array(122...159), "\(label)")
        let firstNAK = receiver.nakSequences(Array(sent.prefix(1)))
        #expect(coalesces ? firstNAK.count >= 10 : firstNAK.count == 1, "\(label): \(firstNAK.count) in the first NAK")
    }

    @Test func coalescingFillsOnlyTheNAKsRoom() {
        var configuration = receiverConfiguration()
        configuration.nakCoalescingWindow = .seconds(1)
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(202, trail: 0, [202]), arrival: fromSource, at: at(0))
        let first = receiver.nextDeadline!
        let naks = receiver.handleTimeout(at: first)
        #expect(naks.count == 1, "one packet: the due sequence and 62 listed")
        let listed = receiver.nakSequences(naks)
        #expect(listed.count == 63 && listed == listed.sorted(), "oldest first (RFC 3208 §6.3)")
        let rest = receiver.advance(to: at(60))
        #expect(Set(listed + receiver.nakSequences(rest)) == Set(2...201))
        #expect(receiver.statistics.naksSent == 4 && receiver.statistics.nakSequencesSent == 200)
    }
}
