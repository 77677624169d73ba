public import PGMWire

/// PGMCC at the source (Rizzo, "pgmcc: a TCP-friendly single-rate multicast congestion control scheme", SIGCOMM
/// 2000; draft-ietf-rmt-bb-pgmcc-03): one receiver, the acker, ACKs every data packet, and a TCP-like window
/// clocked by those ACKs decides when ODATA and RDATA may leave (the token bucket's `--rate` stays the ceiling).
/// The acker is the receiver with the worst throughput by the TCP equation, `T ∝ 1 / (RTT · √p)`, from the loss
/// rate and echoed timestamp every receiver puts in OPT_PGMCC_FEEDBACK.
///
/// Window: W grows by 1 per ACK in slow start and, in congestion avoidance, as CUBIC (RFC 9438; the paper's
/// Reno growth, 1/W per ACK, with ``Configuration/growth``); a sequence the ACK bitmap shows missing with
/// ``Configuration/duplicateThreshold`` later ones received (or that the acker NAKs) is lost, and once per window
/// of data (sequences sent before the last reduction do not reduce again) W is cut (×0.7 CUBIC, ×0.5 Reno). No
/// ACK for a timeout: W = 1 and slow start, as TCP. Where we differ from the paper's token counting: what is in flight is
/// counted as RFC 6675's "pipe", the ODATA sent beyond the acker's RX_MAX plus the RDATA not yet ACKed or passed,
/// so that lost packets and lost ACKs cannot leak window, and a new acker (which sees the same multicast) takes
/// the count over as it is. Also ours: the unspecified acker in OPT_PGMCC_DATA asks receivers to answer with an
/// ACK ("election"), so a session starts in slow start under an acker instead of flooding until the first loss;
/// CUBIC rather than the paper's Reno, because the paper's aim is a
/// fair share beside TCP, and TCP today is CUBIC (the default of Linux, Windows and macOS, RFC 9438): beside one
/// CUBIC flow through a drop-tail switch, Reno growth measured 0.4-0.5× CUBIC's goodput; receivers' RTTs are
/// compared as their smallest samples, because a NAK's echo also holds its random back-off
/// and an ACK's does not; slow start ends on a rising RTT (``leaveSlowStartOnDelay``); and with nobody answering
/// at all the source runs at its rate, as without congestion control.
public struct CongestionControl: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// A receiver replaces the acker when its throughput by the TCP equation is below this share of the
        /// acker's (the paper's bias: switching only to a clearly worse receiver keeps the acker from flapping
        /// between receivers behind the same bottleneck).
        public var switchBias = 0.75
        /// W when an acker is first elected, in packets.
        public var initialWindow = 4.0
        /// The largest W, in packets (the rate limits far earlier on most paths).
        public var maximumWindow = 8192.0
        /// How W grows in congestion avoidance and shrinks on a loss.
        public var growth = WindowGrowth.cubic
        /// Later sequences received before a missing one counts as lost (TCP's three duplicate ACKs).
        public var duplicateThreshold: UInt32 = 3
        /// The shortest retransmission-style timeout; otherwise three smoothed RTTs.
        public var minimumTimeout: Duration = .milliseconds(200)
        /// An acker silent this long while data was sent (at least four smoothed RTTs) is replaced.
        public var ackerSilence: Duration = .milliseconds(500)
        /// How long without any answer to the election before the source runs at its rate without an acker.
        public var electionWait: Duration = .seconds(1)
        /// How long a receiver's report stays a candidate for a new election.
        public var candidateLifetime: Duration = .seconds(5)
        /// Receivers remembered as candidates (the worst are kept).
        public var maximumCandidates = 64

        public init() {}
    }

    public enum WindowGrowth: Hashable, Sendable {
        /// RFC 9438: W follows `C·(t − K)³ + W_max` from the last reduction (C = 0.4, β = 0.7), never slower than
        /// Reno with the same β would grow (its "Reno-friendly region").
        case cubic
        /// Rizzo's pgmcc: 1/W per ACK, halving on loss (TCP Reno, RFC 5681).
        case reno
    }

    /// What the source knows of one receiver from its feedback.
    public struct ReceiverReport: Hashable, Sendable {
        public var address: NLA
        /// Loss rate as the receiver reported it, 0xFFFF = 100 %.
        public var loss: UInt16
        /// The smallest round-trip time measured from its echoed timestamps.
        public var roundTripTime: Duration
        public var lastHeard: Instant

        /// `RTT · √p`, the inverse of the TCP throughput: larger is worse. A loss of 0 counts as the field's
        /// resolution, so that receivers without loss still compare by round-trip time. A round trip under 10 ms
        /// counts as 10 ms: most samples come from NAKs, which hold a random back-off of at least that much, so
        /// smaller differences are noise (three receivers sharing one lossy link swapped the acker 21 times in
        /// 10 s on sub-millisecond differences); on such paths loss decides.
        var badness: Double {
            let loss = max(Double(self.loss), 1) / 65535
            return max(roundTripTime.secondsValue, 0.01) * loss.squareRoot()
        }
    }

    public enum Phase: Hashable, Sendable {
        /// Waiting for any receiver to answer the election; the initial window may go.
        case electing
        /// An acker clocks the window.
        case acked
        /// Nobody answered within ``Configuration/electionWait``: the rate alone limits.
        case unacked
    }

    public struct Statistics: Hashable, Sendable {
        /// ACKs from the acker that clocked the window, and ACKs from other receivers (feedback only).
        public var acksReceived = 0
        public var acksFromOthers = 0
        /// ACKs of the acker before a switch, until the new acker's first, that drained the pipe.
        public var acksFromPreviousAcker = 0
        /// OPT_PGMCC_FEEDBACK options taken (on NAKs and ACKs), and those dropped (timestamp from the future).
        public var feedbackReceived = 0
        public var feedbackRejected = 0
        public var ackerElections = 0
        /// Elections of a worse receiver while an acker was in place.
        public var ackerSwitches = 0
        /// Ackers replaced for silence.
        public var ackerTimeouts = 0
        /// Sequences the ACK bitmap showed lost, and the window halvings they caused.
        public var lossesDetected = 0
        public var windowReductions = 0
        public var timeouts = 0
        /// Polls that found the next data packet held back by the window (one packet may count several times).
        public var windowLimited = 0
        /// Slow starts ended by a rising RTT rather than by loss.
        public var slowStartExits = 0
        /// Times the election went unanswered and the source ran at its rate.
        public var unansweredElections = 0
        /// Data packets sent beyond the window as probes (a silent stretch, an acker switch).
        public var probes = 0
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()
    public private(set) var phase: Phase = .electing
    public private(set) var acker: ReceiverReport?
    /// W, in packets.
    public private(set) var window: Double
    /// The acker's highest RX_MAX (or, before its first ACK, the last sequence sent before it was elected).
    public private(set) var acknowledged: SequenceNumber?
    /// For each RDATA in flight, the highest ODATA sent before it: once the acker has received three ODATA
    /// beyond, the RDATA has arrived or is lost (one path, in order).
    private var repairsInFlight: [SequenceNumber] = []
    public private(set) var slowStartThreshold: Double
    public private(set) var smoothedRTT: Duration?

    private var candidates: [ReceiverReport] = []
    /// The acker before the last switch.
    private var previousAcker: NLA?
    /// Sequences beyond ``judged`` already counted lost from the acker's NAKs, so its bitmaps do not count them
    /// again.
    private var nakedLosses: Set<SequenceNumber> = []
    /// The highest sequence judged received or lost from the acker's bitmaps.
    private var judged: SequenceNumber?
    /// Losses of sequences up to this one belong to the last reduction.
    private var recoveryPoint: SequenceNumber?
    private var highestSent: SequenceNumber?
    /// Since when data went out with no ACK from the acker (`nil`: nothing unanswered).
    private var silentSince: Instant?
    /// When the retransmission-style timeout was last restarted, and its back-off.
    private var timerStart: Instant?
    private var timeoutBackoff = 1
    private var electionStart: Instant
    /// The window before the first timeout of the acker's current silence: if the silence turns out to be the
    /// acker's end rather than congestion, its successor starts from there (the timeouts are undone, as RFC 5682's
    /// F-RTO undoes a spurious one), so the rate recovers within a round trip of the election instead of climbing
    /// again from 1 packet with a threshold the timeouts drove down to 2.
    private var beforeSilence: (window: Double, slowStartThreshold: Double, cubic: Cubic)?

    public init(configuration: Configuration = Configuration(), at now: Instant) {
        self.configuration = configuration
        window = configuration.initialWindow
        slowStartThreshold = configuration.maximumWindow
        electionStart = now
    }

    /// Changes the engine reports as events.
    public enum Change: Hashable, Sendable {
        case elected(NLA)
        case lost(NLA)
        case unanswered
    }

    /// OPT_PGMCC_DATA's timestamp: microseconds (beyond the draft's milliseconds: LAN round trips are shorter
    /// than one), modulo 2³²; only the source reads it, receivers echo it.
    public static func timestamp(_ now: Instant) -> UInt32 { UInt32(truncatingIfNeeded: now.nanoseconds / 1000) }

    /// The acker field of OPT_PGMCC_DATA: the acker, or the unspecified address (an election).
    public func ackerField(family: NLA) -> NLA {
        if let acker { return acker.address }
        if case .ipv6 = family { return NLA.ipv6(IPv6Address(high: 0, low: 0)) }
        return NLA.unspecifiedIPv4
    }

    /// Packets in flight: ODATA beyond the acker's RX_MAX and RDATA not yet ACKed.
    public var pipe: Int {
        guard let highestSent, let acknowledged else { return repairsInFlight.count }
        return max(0, Int(acknowledged.distance(to: highestSent))) + repairsInFlight.count
    }

    /// Whether the window lets a data packet leave (pacing and the rate limiter decide separately).
    public var canSend: Bool { phase == .unacked || windowHasRoom || probesAllowed > 0 }

    private var windowHasRoom: Bool { Double(pipe + 1) <= max(window, 1) }

    // MARK: Probes

    /// Packets allowed beyond the window: a tail-loss probe (RFC 8985 §7, beyond the paper) when the acker has
    /// said nothing for ``probeTimeout`` with the window full, and one at an acker switch with the window full.
    /// Without them a full window of lost packets (W is 1 after a timeout) waited for the 200 ms timeout, and the
    /// timeouts' back-off compounded: under 9 % random loss, 44 timeouts stalled a 16 s transfer for ~10 s and
    /// made the silent acker look gone. A new acker learns it is the acker from the next data packet, which a
    /// full window would otherwise hold back until the timeout.
    private var probesAllowed = 0
    /// Probes granted in the current ACK-less stretch (since ``timerStart``): the next is due at
    /// ``probeTimeout`` · 2^probesThisStretch after its start, until the timeout (a probe can be lost too: under 9 %
    /// loss a single one left 13-37 timeouts per 20 MB).
    private var probesThisStretch = 0

    private func nextProbe(after start: Instant) -> Instant { start + probeTimeout * (1 << min(probesThisStretch, 16)) }

    private var probeTimeout: Duration { max((smoothedRTT ?? .zero) * 2, .milliseconds(10)) }

    // MARK: Pacing

    /// Pacing, beyond the paper (as Linux TCP paces: 2·W/sRTT in slow start, 1.2·W/sRTT after): what a burst of
    /// ACKs opens leaves spread over the round trip, in bursts of at most 1 ms of that rate (and 2 packets), like
    /// Linux's TSO autosizing. Without it a batch of ACKs released a window's worth back to back, which the
    /// drivers send as one GSO message: a drop-tail queue that takes or drops a GSO message whole (tc's tbf does,
    /// up to its burst) dropped 17 % of PGMCC's packets beside a CUBIC flow that lost 1 %.
    public var pacingRate: Double? {
        guard phase == .acked, let smoothedRTT, smoothedRTT > .zero else { return nil }
        return (window < slowStartThreshold ? 2 : 1.2) * window / smoothedRTT.secondsValue
    }

    private var pacingCredit = 0.0
    private var pacingUpdated: Instant?

    private mutating func refillPacing(rate: Double, at now: Instant) {
        let elapsed = pacingUpdated.map { max((now - $0).secondsValue, 0) } ?? 1
        pacingCredit = min(max(2, rate / 1000), pacingCredit + rate * elapsed)
        pacingUpdated = now
    }

    /// Whether pacing lets a data packet leave at `now`.
    public mutating func pacingAllows(at now: Instant) -> Bool {
        guard let rate = pacingRate else { return true }
        refillPacing(rate: rate, at: now)
        return pacingCredit >= 1 - 1e-9
    }

    /// When pacing next lets a data packet leave, if not now.
    public var pacingAvailability: Instant? {
        guard let rate = pacingRate, let updated = pacingUpdated, pacingCredit < 1 - 1e-9 else { return nil }
        return updated + Duration(nanoseconds: Int64(((1 - pacingCredit) / rate * 1e9).rounded(.up)) + 1)
    }

    /// Counts one data packet sent (ODATA with its sequence, RDATA with `nil`).
    public mutating func sent(odata sequence: SequenceNumber?, at now: Instant) {
        if probesAllowed > 0, phase == .acked, !windowHasRoom {
            probesAllowed -= 1
            statistics.probes += 1
        }
        if let sequence {
            if acknowledged == nil { acknowledged = sequence &- 1 }
            highestSent = highestSent.map { SequenceNumber.serialMax($0, sequence) } ?? sequence
        }
        guard phase != .unacked else { return }
        if let rate = pacingRate {
            refillPacing(rate: rate, at: now)
            pacingCredit -= 1
        }
        if sequence == nil, repairsInFlight.count < Self.maximumRepairsInFlight {
            repairsInFlight.append(highestSent ?? SequenceNumber(0))
        }
        if silentSince == nil { silentSince = now }
        if timerStart == nil { timerStart = now }
    }

    static let maximumRepairsInFlight = 65536

    /// A data packet that waited for the window.
    public mutating func noteWindowLimited() { statistics.windowLimited += 1 }

    private var timeout: Duration {
        let base = smoothedRTT.map { max(configuration.minimumTimeout, $0 * 3) } ?? configuration.minimumTimeout
        return base * timeoutBackoff
    }

    private var silenceLimit: Duration {
        max(configuration.ackerSilence, (smoothedRTT ?? .zero) * 4)
    }

    /// When ``handleTimeout(at:)`` next has work.
    public var nextDeadline: Instant? {
        switch phase {
        case .electing:
            let wait = electionStart + configuration.electionWait
            return timerStart.map { min($0 + timeout, wait) } ?? wait
        case .unacked: return nil
        case .acked:
            var deadline: Instant?
            if let start = timerStart { deadline = min(nextProbe(after: start), start + timeout) }
            if let since = silentSince {
                let silence = since + silenceLimit
                deadline = deadline.map { min($0, silence) } ?? silence
            }
            return deadline
        }
    }

    public mutating func handleTimeout(at now: Instant) -> Change? {
        switch phase {
        case .unacked:
            return nil
        case .electing:
            guard now >= electionStart + configuration.electionWait else {
                // The initial window went unanswered (lost in a queue that was full before the session began, or
                // nobody is there yet): another goes after the timeout, so a receiver behind a congested queue is
                // asked again before the source gives up and runs at its rate.
                if let start = timerStart, now >= start + timeout {
                    forgetInFlight()
                    timerStart = nil
                    timeoutBackoff = min(timeoutBackoff * 2, 64)
                }
                return nil
            }
            phase = .unacked
            statistics.unansweredElections += 1
            return .unanswered
        case .acked:
            if let since = silentSince, now >= since + silenceLimit, let old = acker {
                statistics.ackerTimeouts += 1
                candidates.removeAll { $0.address == old.address }
                acker = nil
                silentSince = nil
                timerStart = nil
                if let saved = beforeSilence {
                    (window, slowStartThreshold, cubic) = saved
                    beforeSilence = nil
                }
                if let next = worstCandidate(at: now) {
                    elect(next, at: now)
                    return .elected(next.address)
                }
                phase = .electing
                electionStart = now
                window = max(window, configuration.initialWindow)
                forgetInFlight()
                return .lost(old.address)
            }
            if let start = timerStart, now >= nextProbe(after: start), now < start + timeout {
                probesThisStretch += 1
                if !windowHasRoom { probesAllowed = 1 }
                return nil
            }
            if let start = timerStart, now >= start + timeout {
                probesThisStretch = 0
                statistics.timeouts += 1
                if beforeSilence == nil { beforeSilence = (window, slowStartThreshold, cubic) }
                slowStartThreshold = max(window * (configuration.growth == .cubic ? Cubic.beta : 0.5), 2)
                cubic.maximum = window
                cubic.epochStart = nil
                window = 1
                forgetInFlight()
                // The timer runs again with the next packet sent (TCP runs it only while data is outstanding);
                // the acker's silence keeps counting from the first unanswered packet.
                timerStart = nil
                timeoutBackoff = min(timeoutBackoff * 2, 64)
                recoveryPoint = highestSent
            }
            return nil
        }
    }

    /// OPT_PGMCC_FEEDBACK from a NAK (with the sequences it asks for), or with `ack` from an ACK. Returns a
    /// change of acker.
    public mutating func handleFeedback(
        timestamp: UInt32, loss: UInt16, receiver: NLA, ack: ACK?, naked: [SequenceNumber] = [], at now: Instant
    ) -> Change? {
        let elapsed = Self.timestamp(now) &- timestamp
        guard elapsed < 60_000_000 else {
            statistics.feedbackRejected += 1
            return nil
        }
        statistics.feedbackReceived += 1
        let sample = Duration.microseconds(Int64(elapsed))
        let report = remember(
            receiver, loss: loss, rtt: sample, comparable: ack == nil || acker?.address != receiver, at: now)
        if var current = acker, current.address == receiver {
            current.loss = loss
            current.roundTripTime = report.roundTripTime
            current.lastHeard = now
            acker = current
            if let ack {
                statistics.acksReceived += 1
                smoothedRTT = smoothedRTT.map { ($0 * 7 + sample) / 8 } ?? sample
                clock(ack, at: now)
                leaveSlowStartOnDelay(sample, ack: ack)
            }
            for sequence in naked { noteAckerNAK(sequence) }
            return nil
        }
        if let ack, previousAcker == receiver, judged == nil {
            // The old acker still ACKs what was sent before the switch (those packets name it), until the new
            // one's first ACK: what they cover leaves the pipe, so a switch with the window full does not wait for
            // the timeout. No growth, no losses judged from them.
            statistics.acksFromPreviousAcker += 1
            if let acknowledged, let highestSent, acknowledged.precedes(ack.receivedMaximum),
                ack.receivedMaximum.precedesOrEquals(highestSent)
            {
                self.acknowledged = ack.receivedMaximum
            }
            return nil
        }
        if ack != nil { statistics.acksFromOthers += 1 }
        guard let current = acker else {
            elect(report, at: now)
            return .elected(receiver)
        }
        guard current.badness < configuration.switchBias * report.badness else { return nil }
        statistics.ackerSwitches += 1
        // The window stays as it is: cutting it here as a loss event (the NAK that makes its sender the acker
        // reports losses on the path the window now follows) was tried and made things worse in the 10/50/100
        // Mbit/s lab: after such a cut a middle receiver's burst loss could win the acker back, and the slow
        // queue overflowed twice (1,800 drops instead of 600 in 3 of 6 runs).
        elect(report, at: now)
        return .elected(receiver)
    }

    private mutating func elect(_ report: ReceiverReport, at now: Instant) {
        let isSwitch = phase == .acked
        previousAcker = acker?.address
        // A first acker starts a fresh window: what went out while electing gets no ACKs (receivers answer an
        // election once). A new acker takes over the window and what is in flight as they are.
        if phase != .acked {
            window = configuration.initialWindow
            slowStartThreshold = configuration.maximumWindow
            cubic = Cubic()
            forgetInFlight()
        }
        phase = .acked
        acker = report
        statistics.ackerElections += 1
        judged = nil
        nakedLosses = []
        round = Round()
        recoveryPoint = highestSent
        timeoutBackoff = 1
        // With the window full, only the new acker's ACKs (or the timeout) open it: start waiting for them, and
        // let one packet go that names the new acker (a first acker is named by everything sent from now on).
        silentSince = windowHasRoom ? nil : now
        timerStart = silentSince
        probesThisStretch = 0
        probesAllowed = isSwitch && !windowHasRoom ? 1 : 0
    }

    /// Counts everything sent so far as gone (a timeout, a fresh start).
    private mutating func forgetInFlight() {
        if let highestSent { acknowledged = highestSent }
        repairsInFlight.removeAll()
    }

    /// One ACK of the acker: the window grows, what it covers leaves the pipe, its bitmap shows losses (draft
    /// §3.3).
    private mutating func clock(_ ack: ACK, at now: Instant) {
        beforeSilence = nil
        probesAllowed = 0
        probesThisStretch = 0
        silentSince = nil
        timerStart = nil
        timeoutBackoff = 1
        if window < slowStartThreshold { window += 1 } else { growInCongestionAvoidance(at: now) }
        window = min(window, configuration.maximumWindow)
        let received = ack.receivedMaximum
        let threshold = configuration.duplicateThreshold
        // RX_MAX beyond anything sent is a foreign or corrupt ACK: it tells nothing more.
        guard let highestSent, received.precedesOrEquals(highestSent) else { return }
        if let acknowledged, acknowledged.precedes(received) {
            self.acknowledged = received
        } else if !repairsInFlight.isEmpty {
            repairsInFlight.removeFirst()  // an older sequence: a repair (or a late packet) arrived
        }
        if let acknowledged {
            // Repairs sent before the acker's last three ODATA have arrived (and were ACKed) or are lost.
            let passed = repairsInFlight.prefix { !acknowledged.precedes($0 &+ threshold) }.count
            repairsInFlight.removeFirst(passed)
        }
        // Still something in flight: its ACK is due from now on (TCP restarts its timer on every ACK). Without
        // this, a repair lost at the tail, which no later ODATA passes, would hold the window shut for good.
        if pipe > 0 { timerStart = now }
        let newlyJudged = received &- threshold
        // An acker's first ACK starts the judging: what it missed before (or before it joined) is no loss of ours.
        guard let previous = judged else {
            judged = received
            return
        }
        guard previous.precedes(newlyJudged) else { return }
        var sequence = previous &+ 1
        if sequence.precedes(received &- 31) { sequence = received &- 31 }
        while sequence.precedesOrEquals(newlyJudged) {
            let bit = UInt32(bitPattern: sequence.distance(to: received))
            if ack.bitmap & (1 << bit) == 0 && nakedLosses.remove(sequence) == nil { noteLoss(sequence) }
            sequence = sequence &+ 1
        }
        judged = newlyJudged
        nakedLosses = nakedLosses.filter { newlyJudged.precedes($0) }
    }

    /// HyStart++'s delay increase (RFC 9406 §4.2), beyond Rizzo's pgmcc: slow start ends once a round's
    /// smallest RTT (after 8 samples) exceeds the previous round's by an eighth (4 ... 16 ms), i.e. when a queue
    /// builds, instead of when the doubling window has overflowed it, which drop-tail answers with a burst of
    /// losses, each a repair.
    private mutating func leaveSlowStartOnDelay(_ sample: Duration, ack: ACK) {
        guard window < slowStartThreshold else { return }
        round.minimum = min(round.minimum ?? sample, sample)
        round.samples += 1
        if let last = round.lastMinimum, round.samples >= 8, let minimum = round.minimum {
            let eta = min(max(last / 8, .milliseconds(4)), .milliseconds(16))
            if minimum >= last + eta {
                slowStartThreshold = window
                statistics.slowStartExits += 1
                return
            }
        }
        if let end = round.end, end.precedes(ack.receivedMaximum) || round.end == nil {
            round.lastMinimum = round.minimum
            round.minimum = nil
            round.samples = 0
            round.end = highestSent
        } else if round.end == nil {
            round.end = highestSent
        }
    }

    private struct Round {
        /// The round ends when an ACK covers this sequence (the highest sent when it began).
        var end: SequenceNumber?
        var minimum: Duration?
        var samples = 0
        var lastMinimum: Duration?
    }

    private var round = Round()

    /// RFC 9438 §4's state: the window before the last reduction, the epoch (the congestion avoidance stage since
    /// then; `nil` until its first ACK), K, and the Reno-friendly estimate.
    private struct Cubic {
        static let c = 0.4
        static let beta = 0.7
        /// α_cubic (RFC 9438 §4.3): a Reno with β = 0.7 as fair as one with β = 0.5.
        static let alpha = 3 * (1 - beta) / (1 + beta)
        var maximum = 0.0
        var epochStart: Instant?
        var k = 0.0
        var renoEstimate = 0.0

        /// Newton's method (PGMCore stays free of libm): ≥ 0 in, converges within a few steps for windows in
        /// packets.
        static func cubeRoot(_ x: Double) -> Double {
            guard x > 0 else { return 0 }
            var y = max(x / 3, 1)
            for _ in 0..<64 {
                let next = (2 * y + x / (y * y)) / 3
                if abs(next - y) <= 1e-9 * y { return next }
                y = next
            }
            return y
        }
    }

    private var cubic = Cubic()

    /// One ACK's growth in congestion avoidance.
    private mutating func growInCongestionAvoidance(at now: Instant) {
        guard configuration.growth == .cubic else {
            window += 1 / window
            return
        }
        guard let epochStart = cubic.epochStart else {
            // A new epoch: from the window a reduction left (K to climb back to W_max), or from where slow start
            // ended (K = 0).
            cubic.epochStart = now
            cubic.maximum = max(cubic.maximum, window)
            cubic.k = Cubic.cubeRoot((cubic.maximum - window) / Cubic.c)
            cubic.renoEstimate = window
            return
        }
        let elapsed = (now - epochStart).secondsValue
        let (k, maximum) = (cubic.k, cubic.maximum)
        func cubicWindow(_ t: Double) -> Double { Cubic.c * (t - k) * (t - k) * (t - k) + maximum }
        cubic.renoEstimate += (cubic.renoEstimate >= cubic.maximum ? 1 : Cubic.alpha) / window
        if cubicWindow(elapsed) < cubic.renoEstimate {
            window = max(window, cubic.renoEstimate)
        } else {
            let target = min(max(cubicWindow(elapsed + (smoothedRTT ?? .zero).secondsValue), window), window * 1.5)
            window += (target - window) / window
        }
    }

    /// The acker NAKed a sequence its bitmaps have not judged yet: a loss now (a lost tail has no later packets
    /// to show it in a bitmap, which would leave the reduction to the timeout).
    private mutating func noteAckerNAK(_ sequence: SequenceNumber) {
        guard let judged, judged.precedes(sequence), let highestSent, sequence.precedesOrEquals(highestSent),
            nakedLosses.count < Self.maximumNAKedLosses, nakedLosses.insert(sequence).inserted
        else { return }
        noteLoss(sequence)
    }

    static let maximumNAKedLosses = 4096

    private mutating func noteLoss(_ sequence: SequenceNumber) {
        statistics.lossesDetected += 1
        if let recoveryPoint, sequence.precedesOrEquals(recoveryPoint) { return }
        reduceWindow()
    }

    /// One congestion event: W × β (CUBIC 0.7, Reno 0.5), never under 2; losses of what was sent until now belong
    /// to it.
    private mutating func reduceWindow() {
        statistics.windowReductions += 1
        let beta = configuration.growth == .cubic ? Cubic.beta : 0.5
        // Fast convergence (RFC 9438 §4.7): a window cut before it got back to the last W_max leaves room.
        cubic.maximum = window < cubic.maximum ? window * (1 + beta) / 2 : window
        cubic.epochStart = nil
        // Never under two packets after a loss (RFC 5681 §3.1's 2·SMSS floor): with one packet in flight, its loss
        // leaves no later packet to show it, and only the timeout would open the window again.
        window = max(window * beta, 2)
        slowStartThreshold = window
        recoveryPoint = highestSent
    }

    @discardableResult
    /// `comparable`: whether `rtt` may lower the receiver's round trip. The acker's own ACKs may not: every other
    /// receiver's samples come from NAKs and election answers only, and the acker's hundreds of ACK samples a
    /// second would otherwise make its minimum the smallest of all and every other receiver look worse than it
    /// by RTT alone (26 switches between equal receivers in 16 s under 9 % loss).
    private mutating func remember(
        _ address: NLA, loss: UInt16, rtt: Duration, comparable: Bool = true, at now: Instant
    ) -> ReceiverReport {
        if let index = candidates.firstIndex(where: { $0.address == address }) {
            var entry = candidates[index]
            // The smallest sample stands for the candidate's lifetime, then starts over.
            let fresh = now - entry.lastHeard <= configuration.candidateLifetime
            if !fresh {
                entry.roundTripTime = rtt
            } else if comparable {
                entry.roundTripTime = min(entry.roundTripTime, rtt)
            }
            entry.loss = loss
            entry.lastHeard = now
            candidates[index] = entry
            return entry
        }
        let entry = ReceiverReport(address: address, loss: loss, roundTripTime: rtt, lastHeard: now)
        candidates.append(entry)
        if candidates.count > configuration.maximumCandidates {
            // Forget the best (or, among equals, the oldest): the worst are the ones a new election needs.
            if let best = candidates.indices.min(by: { candidates[$0].badness < candidates[$1].badness }) {
                candidates.remove(at: best)
            }
        }
        return entry
    }

    private func worstCandidate(at now: Instant) -> ReceiverReport? {
        candidates.filter { now - $0.lastHeard <= configuration.candidateLifetime }
            .max { $0.badness < $1.badness }
    }
}
