import PGMCore
import PGMWire
import Testing

/// PGMCC's source side (``CongestionControl``) driven directly, and through the ``Source`` and ``Receiver``
/// engines.
@Suite struct CongestionControlTests {
    static let first = NLA.ipv4(IPv4Address(10, 0, 0, 101))
    static let second = NLA.ipv4(IPv4Address(10, 0, 0, 102))

    /// Feedback sent at `sentAt` (the echoed timestamp), arriving at `now`.
    static func feedback(
        _ control: inout CongestionControl, from receiver: NLA, loss: Double, sentAt: Instant, now: Instant,
        ack: ACK? = nil
    ) -> CongestionControl.Change? {
        control.handleFeedback(
            timestamp: CongestionControl.timestamp(sentAt), loss: UInt16(loss * 65535), receiver: receiver, ack: ack,
            at: now)
    }

    /// Sends `count` ODATA from `sequence` on, as far as the window lets; returns how many went.
    static func send(_ control: inout CongestionControl, from sequence: inout UInt32, count: Int, at now: Instant)
        -> Int
    {
        var sent = 0
        while sent < count && control.canSend {
            control.sent(odata: SequenceNumber(sequence), at: now)
            sequence += 1
            sent += 1
        }
        return sent
    }

    @Test func firstFeedbackElectsAndAClearlyWorseReceiverTakesOver() {
        var control = CongestionControl(at: .zero)
        #expect(control.phase == .electing && control.acker == nil)
        #expect(
            Self.feedback(&control, from: Self.first, loss: 0.01, sentAt: at(0), now: at(20)) == .elected(Self.first))
        #expect(control.phase == .acked && control.acker?.roundTripTime == .milliseconds(20))
        // Same RTT, 1.5 times the loss: throughput 0.82 of the acker's, within the bias: no switch.
        #expect(Self.feedback(&control, from: Self.second, loss: 0.015, sentAt: at(100), now: at(120)) == nil)
        #expect(control.acker?.address == Self.first)
        // Four times the loss: half the throughput, clearly worse.
        #expect(
            Self.feedback(&control, from: Self.second, loss: 0.04, sentAt: at(200), now: at(220))
                == .elected(Self.second))
        #expect(control.statistics.ackerSwitches == 1 && control.statistics.ackerElections == 2)
        // The first's RTT stays its smallest sample (20 ms): four times the second's loss makes it worse again.
        #expect(
            Self.feedback(&control, from: Self.first, loss: 0.16, sentAt: at(300), now: at(360)) == .elected(Self.first)
        )
        // A longer round trip counts as much as loss: a third receiver at 3 times the RTT, the same loss.
        let third = NLA.ipv4(IPv4Address(10, 0, 0, 103))
        #expect(Self.feedback(&control, from: third, loss: 0.16, sentAt: at(400), now: at(460)) == .elected(third))
    }

    @Test func roundTripIsTheSmallestEchoSoNAKBackOffDoesNotCount() {
        var control = CongestionControl(at: .zero)
        _ = Self.feedback(&control, from: Self.first, loss: 0.01, sentAt: at(0), now: at(10))
        // The second receiver's NAK waited out a long back-off once: its RTT stays its smallest sample.
        _ = Self.feedback(&control, from: Self.second, loss: 0.01, sentAt: at(100), now: at(111))
        #expect(Self.feedback(&control, from: Self.second, loss: 0.01, sentAt: at(200), now: at(290)) == nil)
        #expect(control.acker?.address == Self.first)
    }

    static var reno: CongestionControl.Configuration {
        var configuration = CongestionControl.Configuration()
        configuration.growth = .reno
        return configuration
    }

    @Test func theAckersOwnACKsDoNotMakeEveryOtherReceiverLookWorse() {
        var control = CongestionControl(at: .zero)
        var next: UInt32 = 1
        _ = Self.send(&control, from: &next, count: 4, at: at(0))
        #expect(
            Self.feedback(&control, from: Self.first, loss: 0.01, sentAt: at(0), now: at(10)) == .elected(Self.first))
        // The acker's ACKs come back in 1 ms; NAKs (theirs and everyone's) hold a back-off and measure 10-12 ms.
        for sequence in 1...4 {
            _ = Self.feedback(
                &control, from: Self.first, loss: 0.01, sentAt: at(20), now: at(21),
                ack: ACK(receivedMaximum: SequenceNumber(UInt32(sequence)), bitmap: ~0))
        }
        #expect(control.acker?.roundTripTime == .milliseconds(10))
        // Same loss, a NAK round trip 1.2 times the acker's: within the bias, no switch (against the acker's 1 ms
        // ACK samples it would have looked 12 times worse).
        #expect(Self.feedback(&control, from: Self.second, loss: 0.01, sentAt: at(30), now: at(42)) == nil)
        #expect(control.acker?.address == Self.first && control.statistics.ackerSwitches == 0)
    }

    /// A control whose first receiver answered the election 1 ms after the initial window went, from `first` on.
    static func elected(from first: UInt32) -> (control: CongestionControl, next: UInt32) {
        var control = CongestionControl(at: .zero)
        var next = first
        _ = Self.send(&control, from: &next, count: 4, at: at(0))
        _ = Self.feedback(&control, from: Self.first, loss: 0, sentAt: at(0), now: at(1))
        return (control, next)
    }

    @Test func aSwitchWithTheWindowFullLetsOnePacketNameTheNewAckerAndRunsATimer() {
        var (control, next) = Self.elected(from: 1)
        var acked: UInt32 = 1
        var clock: Int64 = 0
        Self.rounds(&control, 3, rtt: 1, next: &next, acked: &acked, clock: &clock)
        #expect(control.window == 32 && !control.canSend, "window \(control.window)")
        // The second receiver NAKs with 60 % loss and a 100 ms round trip: clearly worse.
        let change = control.handleFeedback(
            timestamp: CongestionControl.timestamp(at(clock - 100)), loss: UInt16(0.6 * 65535),
            receiver: Self.second, ack: nil, naked: [SequenceNumber(acked)], at: at(clock))
        #expect(change == .elected(Self.second) && control.window == 32)
        // Every packet in flight names the old acker: one more may go, naming the new one, and a timer runs.
        #expect(control.canSend && control.nextDeadline != nil)
        #expect(Self.send(&control, from: &next, count: 10, at: at(clock)) == 1 && !control.canSend)
        #expect(control.nextDeadline != nil && control.statistics.probes == 1)
    }

    @Test func slowStartDoublesPerRoundTripThenLossFromTheBitmapHalvesOncePerWindow() {
        var control = CongestionControl(configuration: Self.reno, at: .zero)
        var next: UInt32 = 1000
        #expect(Self.send(&control, from: &next, count: 100, at: at(0)) == 4)  // the initial window, electing
        _ = Self.feedback(&control, from: Self.first, loss: 0, sentAt: at(0), now: at(10))
        #expect(control.window == 4)
        // ACK every packet of four rounds (a steady 10 ms round trip): the window doubles each round.
        var bitmap: UInt32 = 0
        var acked: UInt32 = 1000
        for round in 0..<4 {
            let now = at(Int64(10 * round + 10))
            while acked < next {
                bitmap = bitmap << 1 | 1
                _ = Self.feedback(
                    &control, from: Self.first, loss: 0, sentAt: now - .milliseconds(10), now: now,
                    ack: ACK(receivedMaximum: SequenceNumber(acked), bitmap: bitmap))
                acked += 1
            }
            _ = Self.send(&control, from: &next, count: 1000, at: now)
        }
        #expect(control.window == 64, "window \(control.window)")
        #expect(control.statistics.acksReceived == 60)
        // The next ACKs show sequence 1060 missing: three later ones received → one loss, one halving; a second
        // hole in the same window does not halve again.
        var received = SequenceNumber(1060)
        bitmap = bitmap << 1  // 1060 missing
        for sequence in 1061...1070 {
            if sequence == 1065 { bitmap = bitmap << 1 } else { bitmap = bitmap << 1 | 1 }
            received = SequenceNumber(UInt32(sequence))
            if sequence == 1065 { continue }
            _ = Self.feedback(
                &control, from: Self.first, loss: 0.01, sentAt: at(40), now: at(50),
                ack: ACK(receivedMaximum: received, bitmap: bitmap))
        }
        #expect(control.statistics.lossesDetected == 2)
        #expect(control.statistics.windowReductions == 1)
        // 67 when 1060 was found missing (three more ACKs), halved, then a little congestion-avoidance growth.
        #expect(control.window > 33 && control.window < 34, "window \(control.window)")
    }

    /// Window-limited rounds of `rtt`: every packet in flight is ACKed (none lost), then a full window goes.
    static func rounds(
        _ control: inout CongestionControl, _ count: Int, rtt: Int64, next: inout UInt32, acked: inout UInt32,
        clock: inout Int64
    ) {
        for _ in 0..<count {
            clock += rtt
            while acked < next {
                _ = Self.feedback(
                    &control, from: Self.first, loss: 0, sentAt: at(clock - rtt), now: at(clock),
                    ack: ACK(receivedMaximum: SequenceNumber(acked), bitmap: ~0))
                acked += 1
            }
            _ = Self.send(&control, from: &next, count: 100_000, at: at(clock))
        }
    }

    @Test func cubicCutsTo70PercentThenClimbsBackToTheLastMaximumByKAndProbesBeyond() {
        var (control, next) = Self.elected(from: 1000)
        var acked: UInt32 = 1000
        var clock: Int64 = 0
        // Slow start to 128, at a 100 ms round trip (the cubic region: Reno-friendly growth is slower there).
        Self.rounds(&control, 5, rtt: 100, next: &next, acked: &acked, clock: &clock)
        #expect(control.window == 128, "window \(control.window)")
        // One hole, shown by the next three ACKs: W × 0.7.
        let hole = acked
        for sequence in (hole + 1)...(hole + 3) {
            _ = Self.feedback(
                &control, from: Self.first, loss: 0.01, sentAt: at(clock), now: at(clock + 100),
                ack: ACK(receivedMaximum: SequenceNumber(sequence), bitmap: ~(UInt32(1) << (sequence - hole))))
        }
        #expect(control.statistics.windowReductions == 1)
        #expect(abs(control.window - (128 + 3) * 0.7) < 0.01, "window \(control.window)")
        acked = hole + 4
        clock += 100
        // K = ∛((131 − 91.7) / 0.4) ≈ 4.6 s: back near W_max then, flat around it, and 0.4·5³ = 50 beyond it 5 s
        // later.
        Self.rounds(&control, 23, rtt: 100, next: &next, acked: &acked, clock: &clock)
        let halfway = control.window
        Self.rounds(&control, 23, rtt: 100, next: &next, acked: &acked, clock: &clock)
        #expect(halfway > 110 && halfway < 131, "window \(halfway) 2.3 s after the cut")
        #expect(abs(control.window - 131) < 131 * 0.05, "window \(control.window) at K")
        Self.rounds(&control, 50, rtt: 100, next: &next, acked: &acked, clock: &clock)
        #expect(control.window > 131 + 40 && control.window < 131 + 60, "window \(control.window) 5 s after K")
        #expect(control.statistics.windowReductions == 1)
    }

    @Test func noACKForATimeoutRestartsFromOneAndSilenceElectsTheNextWorst() {
        var control = CongestionControl(at: .zero)
        var next: UInt32 = 1
        _ = Self.feedback(&control, from: Self.first, loss: 0.02, sentAt: at(0), now: at(10))
        _ = Self.feedback(&control, from: Self.second, loss: 0.015, sentAt: at(0), now: at(10))
        #expect(control.acker?.address == Self.first)
        #expect(Self.send(&control, from: &next, count: 100, at: at(20)) == 4)
        #expect(!control.canSend)
        // 10 ms without an ACK (the probe timeout before any RTT sample): one packet beyond the window; and again
        // after 20, 40, 80 and 160 ms, as long as nothing answers.
        var probeTimes: [Instant] = []
        while let probe = control.nextDeadline, probe < at(220), probeTimes.count < 10 {
            #expect(control.handleTimeout(at: probe) == nil)
            #expect(control.canSend && control.window == 4)
            #expect(Self.send(&control, from: &next, count: 100, at: probe) == 1)
            #expect(!control.canSend)
            probeTimes.append(probe)
        }
        #expect(probeTimes == [at(30), at(40), at(60), at(100), at(180)] && control.statistics.probes == 5)
        // 200 ms (the minimum timeout) without an ACK: W = 1, one token.
        let deadline = control.nextDeadline!
        #expect(deadline == at(220))
        #expect(control.handleTimeout(at: deadline) == nil)
        #expect(control.window == 1 && control.canSend && control.statistics.timeouts == 1)
        #expect(Self.send(&control, from: &next, count: 100, at: deadline) == 1)
        // Silent for 500 ms since the first unanswered packet: the acker is replaced by the worst other candidate.
        var change: CongestionControl.Change?
        var now = deadline
        while change == nil, now < at(2000) {
            now = control.nextDeadline!
            change = control.handleTimeout(at: now)
        }
        #expect(change == .elected(Self.second) && now == at(520))
        #expect(control.statistics.ackerTimeouts == 1)
        // The second falls silent too, and nobody else is known: back to electing, then running at the rate.
        _ = Self.send(&control, from: &next, count: 100, at: now)
        change = nil
        while change == nil, now < at(5000) {
            now = control.nextDeadline!
            change = control.handleTimeout(at: now)
        }
        #expect(change == .lost(Self.second) && control.phase == .electing)
        while control.phase == .electing, now < at(10_000) {
            now = control.nextDeadline!
            change = control.handleTimeout(at: now)
        }
        #expect(change == .unanswered && control.phase == .unacked && control.canSend)
        // A late answer still elects.
        #expect(Self.feedback(&control, from: Self.first, loss: 0, sentAt: now, now: now + .milliseconds(5)) != nil)
        #expect(control.phase == .acked)
    }

    @Test func feedbackWithATimestampFromTheFutureIsRejected() {
        var control = CongestionControl(at: .zero)
        #expect(Self.feedback(&control, from: Self.first, loss: 0.5, sentAt: at(100), now: at(50)) == nil)
        #expect(control.statistics.feedbackRejected == 1 && control.acker == nil)
    }

    // MARK: Through the engines

    static func pgmccSource() -> EngineHarness<Source> {
        var configuration = sourceConfiguration()
        configuration.congestionControl = CongestionControl.Configuration()
        configuration.rate = 100_000_000
        return EngineHarness(Source(configuration: configuration, at: .zero))
    }

    static func pgmccData(_ transmit: Transmit) -> (timestamp: UInt32, acker: NLA)? {
        for option in transmit.packet.options {
            if case .pgmccData(let timestamp, let acker) = option.value { return (timestamp, acker) }
        }
        return nil
    }

    @Test func sourceClocksODATAByTheAckersACKsAndRDATACarriesTheOptionToo() throws {
        var source = Self.pgmccSource()
        for index in 0..<10 { try source.send([UInt8(index)], at: .zero) }
        var out = source.drain(at: .zero)
        let odata = ofType(.odata, out)
        #expect(odata.count == 4, "the initial window while electing")
        #expect(odata.allSatisfy { Self.pgmccData($0)?.acker == .unspecifiedIPv4 })
        func ack(_ sequence: UInt32, bitmap: UInt32, stamp: UInt32) -> Packet {
            Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .ack(ACK(receivedMaximum: SequenceNumber(sequence), bitmap: bitmap)),
                options: [Option(.pgmccFeedback(timestamp: stamp, lossRate: 0, receiver: receiverAddress))])
        }
        // An ACK answering the election: elected, and a fresh initial window goes.
        out = source.receive(
            ack(100, bitmap: 1, stamp: Self.pgmccData(odata[0])!.timestamp), arrival: fromReceiver, at: at(5))
        #expect(source.events().contains(.ackerElected(receiverAddress)))
        let more = ofType(.odata, out)
        #expect(more.count == 4 && more.allSatisfy { Self.pgmccData($0)?.acker == receiverAddress })
        #expect(source.engine.congestion?.acker?.roundTripTime == .milliseconds(5))
        #expect(source.engine.congestion?.canSend == false)
        // The window is closed: the remaining two APDUs wait.
        #expect(ofType(.odata, source.drain(at: at(6))).isEmpty)
        // The acker's ACK gives back a token and one of slow start: both remaining ODATA go.
        out = source.receive(
            ack(104, bitmap: 1, stamp: Self.pgmccData(more[0])!.timestamp), arrival: fromReceiver, at: at(10))
        #expect(ofType(.odata, out).count == 2)
        #expect(source.engine.congestion?.statistics.acksReceived == 1)
        out = source.receive(
            ack(105, bitmap: 0b1111, stamp: Self.pgmccData(more[1])!.timestamp), arrival: fromReceiver, at: at(11))
        // A NAK's repair carries a fresh OPT_PGMCC_DATA besides the ODATA's own options, and takes a token.
        out = source.receive(nakPacket([101]), arrival: fromReceiver, at: at(12))
        let rdata = ofType(.rdata, out)
        #expect(rdata.count == 1)
        #expect(rdata.first.flatMap { Self.pgmccData($0) }?.timestamp == CongestionControl.timestamp(at(12)))
    }

    @Test func withoutCongestionControlNoPacketCarriesAPGMCCOption() throws {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        for index in 0..<20 { try source.send([UInt8(index)], at: .zero) }
        let out = source.drain(at: .zero)
        #expect(ofType(.odata, out).count == 20)
        #expect(out.allSatisfy { Self.pgmccData($0) == nil })
        #expect(source.engine.congestion == nil)
    }

    static func pgmccReceiver() -> EngineHarness<Receiver> {
        var configuration = Receiver.Configuration(dataDestinationPort: 7500, group: group)
        configuration.address = receiverAddress
        return EngineHarness(Receiver(configuration: configuration))
    }

    static func data(_ sequence: UInt32, acker: NLA, stamp: UInt32 = 77) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .odata(
                DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(1), payload: [1, 2][...])),
            options: [Option(.pgmccData(timestamp: stamp, acker: acker))])
    }

    static let fromSource = Arrival(source: sourceAddress, destination: group)

    @Test func theAckerACKsEveryPacketWithRXMAXAndTheBitmap() {
        var receiver = Self.pgmccReceiver()
        var acks: [(ACK, [Option])] = []
        for sequence: UInt32 in [1, 2, 4, 5] {
            for transmit in receiver.receive(
                Self.data(sequence, acker: receiverAddress, stamp: sequence), arrival: Self.fromSource)
            where transmit.packet.body.type == .ack {
                if case .ack(let ack) = transmit.packet.body { acks.append((ack, transmit.packet.options)) }
                #expect(transmit.destination == .unicast(sourceAddress))
            }
        }
        #expect(acks.count == 4)
        #expect(acks.last?.0 == ACK(receivedMaximum: SequenceNumber(5), bitmap: 0b11011))
        guard case .pgmccFeedback(let stamp, let loss, let who)? = acks.last?.1.first?.value else {
            Issue.record("no feedback on the ACK")
            return
        }
        #expect(stamp == 5 && who == receiverAddress)
        #expect(loss > 0, "one of five sequences missed")
        #expect(receiver.engine.statistics.acksSent == 4 && receiver.engine.statistics.isAcker)
    }

    @Test func aReceiverAnswersAnElectionOncePerSecondAndOthersAckersDataGetsNoACK() {
        var receiver = Self.pgmccReceiver()
        var answers = 0
        for (index, sequence) in (UInt32(1)...UInt32(30)).enumerated() {
            let out = receiver.receive(
                Self.data(sequence, acker: .unspecifiedIPv4), arrival: Self.fromSource, at: at(Int64(index) * 100))
            answers += ofType(.ack, out).count
        }
        #expect(answers == 3, "at 0, 1 and 2 s")
        let out = receiver.receive(
            Self.data(31, acker: NLA.ipv4(IPv4Address(10, 9, 9, 9))), arrival: Self.fromSource, at: at(3000))
        #expect(ofType(.ack, out).isEmpty)
    }
}
