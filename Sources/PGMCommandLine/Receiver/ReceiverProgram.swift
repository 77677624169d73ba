import PGMCore
import PGMWire

/// pgm-recv's lifecycle without sockets, files or a clock, so that tests drive every rule in-process. It owns
/// the ``ReceiveSession`` (which session is written, followed, ignored) and decides when the run ends and how:
/// - the selected session closes (OPT_FIN) and `--follow` is off: exit 0, or 3 when something was unrecoverable;
///   a DLR first lingers `--dlr-linger` to keep repairing for the receivers below it;
/// - `--timeout` passes without data (not while a DLR lingers): exit 1, with a note saying so;
/// - the selected session is reset by its source (OPT_RST) or expires, with nothing to follow: exit 4 (3 when
///   something was also unrecoverable), after a DLR's linger;
/// - SIGINT/SIGTERM: exit 130/143, whatever arrived before;
/// - the output cannot be written: exit 1.
///
/// Inputs: ``handle(_:at:write:)`` for each engine event, ``outputFailed(_:)`` when a write failed, ``signalled()``,
/// then ``turnEnded(at:)`` once per driver turn. ``isStopped`` says when the driver should stop.
struct ReceiverProgram {
    /// A plain receiver, or a designated local repairer around one (which lingers after the close).
    enum Role: Sendable {
        case receiver
        case dlr

        /// The `role` of the statistics lines.
        var statistics: StatisticsSample.Role {
            switch self {
            case .receiver: .receiver
            case .dlr: .dlr
            }
        }
    }

    let role: Role
    /// `--timeout`: the most time without delivered data.
    let timeout: Duration?
    /// `--dlr-linger`: how long a DLR keeps repairing after its session closed.
    let dlrLinger: Duration
    private(set) var session: ReceiveSession
    /// When data was last delivered (the start, before any): `--timeout` counts from here.
    private var lastData: Instant
    /// The first and the last delivery, for the statistics' `data_seconds`.
    private(set) var dataSpan: (first: Instant, last: Instant)?
    private var lingerUntil: Instant?
    /// How the run ends; nil while it goes on.
    private(set) var outcome: PGMExitCode?
    /// Unrecoverable ranges not yet reported (one loss line a second at most).
    private(set) var losses = LossReport()

    init(role: Role, wanted: TSI?, follow: Bool, timeout: Duration?, dlrLinger: Duration, start: Instant) {
        self.role = role
        self.timeout = timeout
        self.dlrLinger = dlrLinger
        session = ReceiveSession(wanted: wanted, follow: follow)
        lastData = start
    }

    var isStopped: Bool { outcome != nil }
    var exitCode: PGMExitCode { outcome ?? .success }

    /// Success; unrecoverable loss when any range of the written sessions was lost (holes in the output come
    /// first); a session cut short when one of them was reset or expired (the output ends early).
    private var finalOutcome: PGMExitCode {
        if !session.lost.isEmpty { return .unrecoverableLoss }
        return session.sessionsCutShort > 0 ? .sessionCutShort : .success
    }

    /// One engine event: the selected session's data goes to `write` at once, and what to tell about sessions
    /// is returned. This runs once per delivered APDU, so data takes no detour through an array.
    /// - Parameter write: writes delivered bytes; returns why it failed (the system's words), nil when it did not.
    mutating func handle(
        _ event: Receiver.Event,
        at now: Instant,
        write: (ArraySlice<UInt8>) -> String?
    ) -> [ProgramOutput] {
        var outputs: [ProgramOutput] = []
        for action in session.handle(event) {
            switch action {
            case .write(let bytes):
                lastData = now
                dataSpan = (dataSpan?.first ?? now, now)
                if let reason = write(bytes) { outputs += outputFailed(reason) }
            case .note(let note):
                outputs.append(.note(.receiver(note)))
            case .lost(let range):
                if let note = losses.add(range, at: now) { outputs.append(.note(.receiver(note))) }
            case .closed where role == .dlr, .ended where role == .dlr:
                if lingerUntil == nil { lingerUntil = now + dlrLinger }
            case .closed, .ended:
                outcome = finalOutcome
            }
        }
        return outputs
    }

    /// A write of the output failed (`reason`: the system's words): the run ends with exit 1.
    mutating func outputFailed(_ reason: String) -> [ProgramOutput] {
        outcome = .failure
        return [.note(.receiver(.outputFailed(reason: reason)))]
    }

    /// SIGINT or SIGTERM: the run stops with 130 or 143 (what arrived was written), and says so.
    mutating func signalled(_ signal: Int32) -> [ProgramOutput] {
        guard outcome == nil else { return [] }
        outcome = PGMExitCode(signal: signal)
        let name = SourceProgram.signalName(signal)
        return [.note(.receiver(.interrupted(signal: name, outputOffset: session.bytesWritten)))]
    }

    /// After the turn's events and writes: unrecoverable ranges gathered for a second are reported, a DLR's
    /// linger ends, or `--timeout` passes without data. Once the run is over, what is still gathered is reported.
    mutating func turnEnded(at now: Instant) -> [ProgramOutput] {
        var outputs: [ProgramOutput] = []
        if let lingerUntil, outcome == nil, now >= lingerUntil {
            outcome = finalOutcome
        }
        if let timeout, outcome == nil, lingerUntil == nil, now - lastData >= timeout {
            outcome = .failure
            outputs.append(.note(.receiver(.timeout(timeout))))
        }
        let loss = outcome == nil ? losses.due(at: now) : losses.flush(at: now)
        if let loss { outputs.insert(.note(.receiver(loss)), at: 0) }
        return outputs
    }

    /// Printed after the summary: how much data is missing from the output in all, if any.
    var closingNotes: [ProgramOutput] {
        guard !session.lost.isEmpty else { return [] }
        return [
            .note(
                .receiver(
                    .unrecoverableTotal(
                        packets: session.lostSequences, ranges: losses.totalRanges, first: session.lost[0],
                        last: session.lost[session.lost.count - 1])))
        ]
    }

    /// Loss as the programs define it: data packets whose ODATA did not arrive (repaired since, or lost) over
    /// the data packets expected, since the start.
    static func lossRate(odataReceived: Int, repaired: Int, lost: Int) -> Double {
        let expected = odataReceived + repaired + lost
        return expected > 0 ? Double(repaired + lost) / Double(expected) : 0
    }

    /// The statistics line from the receiver's counters (a DLR's wrapped receiver's); at `now`, a DLR that lingers
    /// after its session ended says so instead of a rate, as pgm-source does.
    func sample(_ statistics: Receiver.Statistics, at now: Instant? = nil) -> StatisticsSample {
        var sample = StatisticsSample(role: role.statistics)
        if let now, let lingerUntil, outcome == nil {
            sample.state = "lingering for repairs (\(formatDuration(max(0, (lingerUntil - now).secondsValue))))"
        }
        sample.bytes = statistics.bytesDelivered
        sample.messages = statistics.apdusDelivered
        sample.dataSeconds = dataSpan.map { ($0.last - $0.first).secondsValue }
        sample.packets = statistics.odataReceived + statistics.rdataReceived
        sample.naks = statistics.naksSent
        sample.ncfs = statistics.ncfReceived
        sample.repairs = statistics.rdataReceived
        sample.lossRate = Self.lossRate(
            odataReceived: statistics.odataReceived, repaired: statistics.sequencesRepaired,
            lost: statistics.sequencesLost)
        sample.lossRateAverage = statistics.lossRate
        sample.unrecoverable = session.lostSequences
        sample.offPathPackets = statistics.offPathPackets
        sample.fec = FECSample(statistics)
        // PGMCC (the source's --congestion-control pgmcc): ACKs sent as acker, and the loss rate we report.
        if statistics.acksSent > 0 || statistics.congestionLossRate != nil {
            sample.acksSent = statistics.acksSent
            sample.acker = statistics.isAcker
        }
        return sample
    }
}
