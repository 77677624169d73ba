internal import Glibc
import Logging
import PGMCore
import PGMWire

/// pgm-source's lifecycle without sockets, files or a clock, so that tests drive every rule in-process: when to
/// read input, when to close the session (the input ended or failed) or reset it (SIGINT/SIGTERM), when the
/// linger after the close ends, what the engine's events print, and the exit code. ``SourceCommand`` wires it to
/// the driver.
///
/// A run goes through these phases (``Phase``): sending (input read while the engine's queue has room); draining
/// (input done or a first signal: the engine sends what is queued, then OPT_FIN, or OPT_RST after a signal);
/// lingering (the queue drained: NAKs are still answered for ``linger``); after a reset, abandoning (the linger
/// over, the engine stops answering NAKs and its SPMs carry OPT_RST with the N bit for ``finalSPMTime``, so that
/// receivers still waiting learn at once that no repair will come); stopped. The engine's `.finished` (every
/// packet left the window) and a second signal stop at once; a signal while lingering after a complete transfer
/// (OPT_FIN already sent) stops at once too.
///
/// Inputs: ``readInput(_:into:at:)`` when the input is readable, ``signalled(_:_:engine:at:)``, ``handle(_:)`` for
/// each engine event, then ``turnEnded(_:at:)`` once per driver turn.
struct SourceProgram {
    /// What the program reads APDUs from: ``SourceInput`` (files, standard input), or an array in tests.
    protocol Input: AnyObject {
        var isFinished: Bool { get }
        /// A read would return at once (data or end of file).
        var isReadable: Bool { get }
        /// Bytes handed to the engine so far.
        var bytesAccepted: Int { get }
        /// The input's whole size when it is known up front (regular files), for progress and the interruption
        /// message.
        var totalBytes: Int? { get }
        /// Reads once and hands every whole APDU that fits `room` to `send`; what `send` refuses stays for later.
        func read(room: Int, _ send: (ArraySlice<UInt8>) throws -> Void) throws
        /// Hands over what was read (a partial APDU too) and stops reading.
        func finish(_ send: (ArraySlice<UInt8>) throws -> Void) throws
        /// Stops reading: what was not read is not sent.
        func abandon()
    }

    /// Where the run is, for the statistics line.
    enum Phase: Equatable {
        case sending
        /// Closed or reset: what is queued is still going out.
        case draining
        /// Everything was sent; NAKs are answered until `until`.
        case lingering(until: Instant)
        /// After a reset's linger: SPMs with OPT_RST and the N bit until `until`.
        case abandoning(until: Instant)
        case stopped
    }

    /// Reads per driver turn at most, so that input cannot starve NAKs and timers on a fast file.
    static let readsPerTurn = 4
    /// How long SPMs with OPT_RST's N bit go on after a reset's linger: the four 100 ms heartbeats.
    static let finalSPMTime = Duration.milliseconds(300)

    /// How long NAKs are still answered once everything was sent (`--linger`).
    let linger: Duration
    let apduSize: Int
    /// Input is read again once this much of the engine's queue is free: a rate-limited source then reads many
    /// APDUs per system call instead of one each time one has left.
    let readThreshold: Int
    private var signals = 0
    /// The signal that interrupted the run (SIGINT or SIGTERM), if one did.
    private(set) var interruption: Int32?
    /// When the queue had drained after the close: the linger runs from here.
    private(set) var lingerStart: Instant?
    /// When a reset's final SPMs (OPT_RST with N) end the run.
    private(set) var abandonUntil: Instant?
    private(set) var isStopped = false
    /// When the first input was read: the data phase (for the summary's rate) runs from here to the linger.
    private(set) var dataStart: Instant?
    /// The newest worst-receiver report not yet printed, and when one last was: at most one line a second.
    private var pendingWorstReceiver: SourceNote?
    private var lastWorstReceiverNote: Instant?
    static let worstReceiverInterval = Duration.seconds(1)
    /// PGMCC's unanswered election is said once per run.
    private var noAckerSaid = false

    init(linger: Duration, apduSize: Int, maximumQueuedBytes: Int) {
        self.linger = linger
        self.apduSize = apduSize
        readThreshold = max(apduSize, maximumQueuedBytes / 4)
    }

    /// 0 once the run stops by itself; 128 + the signal (130 SIGINT, 143 SIGTERM) when a signal cut it short
    /// (Docs/style.md#exit-codes). Failures are thrown before the run.
    var exitCode: PGMExitCode { interruption.map(PGMExitCode.init(signal:)) ?? .success }

    /// Where the run is (``Phase``), as of the last ``turnEnded(_:at:)``.
    func phase(_ engine: Source) -> Phase {
        if isStopped { return .stopped }
        if let abandonUntil { return .abandoning(until: abandonUntil) }
        if let lingerStart { return .lingering(until: lingerStart + linger) }
        return engine.isClosing ? .draining : .sending
    }

    /// Whether the driver should watch the input: not once it ended or the session is closing, and not while the
    /// queue has less room than ``readThreshold``.
    func watchesInput(_ input: some Input, engine: Source) -> Bool {
        !input.isFinished && !engine.isClosing && engine.queuedBytesAvailable >= readThreshold
    }

    /// The input is readable: several APDUs per turn while the queue has room and more input is ready, so that
    /// one poll per APDU does not bound the rate. A full queue waits for the next turn the input is watched; the
    /// end of the input closes the session; a read error abandons the input and closes too.
    mutating func readInput(_ input: some Input, into engine: inout Source, at now: Instant) -> [ProgramOutput] {
        if dataStart == nil { dataStart = now }
        do {
            var reads = 0
            repeat {
                try input.read(room: engine.queuedBytesAvailable) { apdu in try engine.send(apdu, at: now) }
                reads += 1
            } while reads < Self.readsPerTurn && !input.isFinished && engine.queuedBytesAvailable >= apduSize
                && input.isReadable
            if input.isFinished { engine.close(at: now) }
            return []
        } catch Source.SendError.queueFull {
            return []
        } catch {
            input.abandon()
            engine.close(at: now)
            return [.log(.error, "input: \(error)")]
        }
    }

    /// SIGINT or SIGTERM. The first stops reading (what was read is still sent) and resets the session: the
    /// linger serves repairs of what was sent, then SPMs carry OPT_RST (RFC 3208 §9.8) with the signal's number as
    /// its error code, so that receivers know the transfer was cut short. While lingering after a complete
    /// transfer (OPT_FIN already sent) it stops at once, as a second signal always does; the engine then stops
    /// answering NAKs, and the SPM that says so leaves in the same driver turn.
    mutating func signalled(
        _ signal: Int32, _ input: some Input, engine: inout Source, at now: Instant
    ) -> [ProgramOutput] {
        signals += 1
        if interruption == nil { interruption = signal }
        let name = Self.signalName(signal)
        guard signals == 1, lingerStart == nil || engine.resetCode != nil else {
            let complete = engine.resetCode == nil && lingerStart != nil
            engine.abandonRepairs(at: now)
            isStopped = true
            let note: SourceNote =
                complete
                ? .interruptedLingering(signal: name, bytes: input.bytesAccepted)
                : .stoppedAtOnce(signal: name)
            return [.note(.source(note))]
        }
        var outputs: [ProgramOutput] = []
        do {
            try input.finish { apdu in try engine.send(apdu, at: now) }
        } catch {
            outputs.append(.log(.warning, "the last \(apduSize) bytes or less were not sent: \(error)"))
            input.abandon()
        }
        engine.reset(at: now, errorCode: UInt8(truncatingIfNeeded: signal))
        outputs.append(
            .note(
                .source(
                    .interrupted(
                        signal: name, bytes: input.bytesAccepted, total: input.totalBytes, linger: linger))))
        return outputs
    }

    /// One engine event: `.finished` stops, a new worst receiver is printed.
    mutating func handle(_ event: Source.Event) -> [ProgramOutput] {
        switch event {
        case .finished:
            isStopped = true
            return []
        case .nakReceived, .nakOutsideWindow, .ackerElected, .ackerLost:
            return []
        case .noAcker:
            guard !noAckerSaid else { return [] }
            noAckerSaid = true
            return [.note(.source(.noAcker))]
        case .worstReceiver(let lossRate, let address):
            pendingWorstReceiver = .worstReceiver(address: address, lossRate: lossRate)
            return []
        }
    }

    /// The latest worst-receiver change, once a second at most: OPT_CR reports change with every NAK, and a
    /// line for each is noise (the statistics line shows the current value).
    mutating func pendingNotes(at now: Instant) -> [ProgramOutput] {
        guard let note = pendingWorstReceiver,
            lastWorstReceiverNote.map({ now - $0 >= Self.worstReceiverInterval }) ?? true
        else { return [] }
        pendingWorstReceiver = nil
        lastWorstReceiverNote = now
        return [.note(.source(note))]
    }

    /// After the turn's events: the linger starts once the session is closing and the queue has drained, and ends
    /// the run when it has lasted ``linger`` (after a reset: once the final SPMs with OPT_RST's N bit have gone,
    /// or as soon as the window emptied by itself). True when the run is over.
    mutating func turnEnded(_ engine: inout Source, at now: Instant) -> Bool {
        if engine.isClosing && lingerStart == nil
            && engine.queuedBytesAvailable == engine.configuration.maximumQueuedBytes
        {
            lingerStart = now
        }
        if let abandonUntil {
            if now >= abandonUntil { isStopped = true }
        } else if let lingerStart, now - lingerStart >= linger || engine.ignoresNAKs {
            if engine.resetCode != nil {
                engine.abandonRepairs(at: now)
                abandonUntil = now + Self.finalSPMTime
            } else {
                isStopped = true
            }
        }
        return isStopped
    }

    /// Printed after the summary: how an interrupted transfer ended (nothing when it ended by itself, or when the
    /// signal came after OPT_FIN).
    func closingNotes(_ input: some Input, engine: Source) -> [ProgramOutput] {
        guard let interruption, engine.resetCode != nil else { return [] }
        let note = SourceNote.reset(
            signal: Self.signalName(interruption), bytes: input.bytesAccepted, total: input.totalBytes)
        return [.note(.source(note))]
    }

    /// `SIGINT`, `SIGTERM`, or `signal N`.
    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }

    /// The statistics line with where the run is: the input's size, the ETA while sending (at the rate of the
    /// data phase so far), the linger's remaining seconds, and the data phase's length for the summary's rate.
    func sample(_ engine: Source, input: some Input, at now: Instant) -> StatisticsSample {
        var sample = Self.sample(engine, accepted: input.bytesAccepted)
        sample.totalBytes = input.totalBytes
        if let dataStart {
            let seconds = ((lingerStart ?? now) - dataStart).secondsValue
            sample.dataSeconds = seconds
            if case .sending = phase(engine), let total = input.totalBytes, sample.bytes > 0, seconds > 0.5 {
                sample.etaSeconds = Double(max(0, total - sample.bytes)) / (Double(sample.bytes) / seconds)
            }
        }
        switch phase(engine) {
        case .sending: break
        case .draining: sample.state = engine.resetCode == nil ? nil : "sending what was read"
        case .lingering(let until):
            sample.state = "lingering for repairs (\(formatDuration(max(0, (until - now).secondsValue))))"
        case .abandoning: sample.state = "resetting the session"
        case .stopped: sample.state = "stopped"
        }
        return sample
    }

    /// The statistics line's counters. `accepted`: input bytes handed to the engine; those still queued have not
    /// been sent.
    static func sample(_ engine: Source, accepted: Int) -> StatisticsSample {
        let statistics = engine.statistics
        var sample = StatisticsSample(role: .source)
        sample.bytes = accepted - (engine.configuration.maximumQueuedBytes - engine.queuedBytesAvailable)
        sample.messages = statistics.apdusQueued
        sample.packets =
            statistics.odataSent + statistics.rdataSent + statistics.proactiveParitySent
            + statistics.onDemandParitySent
        sample.naks = statistics.naksReceived
        sample.ncfs = statistics.ncfSent
        sample.repairs = statistics.rdataSent + statistics.onDemandParitySent
        sample.fec = FECSample(engine)
        let repairs = statistics.rdataSent + statistics.onDemandParitySent
        sample.lossRate = statistics.odataSent > 0 ? Double(repairs) / Double(statistics.odataSent) : 0
        sample.worstReceiverLossRate = statistics.worstReceiverLoss.map { Double($0) / Double(UInt16.max) }
        sample.worstReceiver = statistics.worstReceiver.map { "\($0)" }
        sample.congestion = engine.congestion.map {
            CongestionSample($0, packetBytes: engine.configuration.maxTPDU)
        }
        return sample
    }
}
