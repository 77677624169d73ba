import Logging
import PGMCore
import PGMWire

/// pgm-source's lifecycle without sockets, files or a clock, so that tests drive every rule in-process: when to
/// read input, when to close the session (the input ended or failed, SIGINT/SIGTERM), when the linger after the
/// close ends, what the engine's events print, and the exit code. ``SourceCommand`` wires it to the driver.
///
/// A run goes through these phases: sending (input read while the engine's queue has room); closing (input done
/// or a first signal: the engine sends what is queued, then OPT_FIN); lingering (the queue drained: NAKs are
/// still answered for ``linger``); stopped. The engine's `.finished` (every packet left the window) and a second
/// signal stop at once. Inputs: ``readInput(_:into:at:)`` when the input is readable, ``signalled(_:engine:at:)``,
/// ``handle(_:)`` for each engine event, then ``turnEnded(_:at:)`` once per driver turn.
struct SourceProgram {
    /// What the program reads APDUs from: ``SourceInput`` (files, standard input), or an array in tests.
    protocol Input: AnyObject {
        var isFinished: Bool { get }
        /// A read would return at once (data or end of file).
        var isReadable: Bool { get }
        /// Reads once and hands every whole APDU that fits `room` to `send`; what `send` refuses stays for later.
        func read(room: Int, _ send: (ArraySlice<UInt8>) throws -> Void) throws
        /// Hands over what was read (a partial APDU too) and stops reading.
        func finish(_ send: (ArraySlice<UInt8>) throws -> Void) throws
        /// Stops reading: what was not read is not sent.
        func abandon()
    }

    /// Reads per driver turn at most, so that input cannot starve NAKs and timers on a fast file.
    static let readsPerTurn = 4

    /// How long NAKs are still answered once everything was sent (`--linger`).
    let linger: Duration
    let apduSize: Int
    /// Input is read again once this much of the engine's queue is free: a rate-limited source then reads many
    /// APDUs per system call instead of one each time one has left.
    let readThreshold: Int
    private var signals = 0
    /// When the queue had drained after the close: the linger runs from here.
    private(set) var lingerStart: Instant?
    private(set) var isStopped = false

    init(linger: Duration, apduSize: Int, maximumQueuedBytes: Int) {
        self.linger = linger
        self.apduSize = apduSize
        readThreshold = max(apduSize, maximumQueuedBytes / 4)
    }

    /// pgm-source always exits 0 once it stops by itself or by signal; failures are thrown before the run.
    var exitCode: PGMExitCode { .success }

    /// Whether the driver should watch the input: not once it ended or the session is closing, and not while the
    /// queue has less room than ``readThreshold``.
    func watchesInput(_ input: some Input, engine: Source) -> Bool {
        !input.isFinished && !engine.isClosing && engine.queuedBytesAvailable >= readThreshold
    }

    /// The input is readable: several APDUs per turn while the queue has room and more input is ready, so that
    /// one poll per APDU does not bound the rate. A full queue waits for the next turn the input is watched; the
    /// end of the input closes the session; a read error abandons the input and closes too.
    mutating func readInput(_ input: some Input, into engine: inout Source, at now: Instant) -> [ProgramOutput] {
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

    /// SIGINT or SIGTERM: the first stops reading (what was read is still sent) and closes, so the linger
    /// follows; the second stops at once.
    mutating func signalled(_ input: some Input, engine: inout Source, at now: Instant) -> [ProgramOutput] {
        signals += 1
        guard signals == 1 else {
            isStopped = true
            return []
        }
        var outputs: [ProgramOutput] = []
        do {
            try input.finish { apdu in try engine.send(apdu, at: now) }
        } catch {
            outputs.append(.log(.warning, "the last \(apduSize) bytes or less were not sent: \(error)"))
            input.abandon()
        }
        if !engine.isClosing { engine.close(at: now) }
        return outputs
    }

    /// One engine event: `.finished` stops, a new worst receiver is printed.
    mutating func handle(_ event: Source.Event) -> [ProgramOutput] {
        switch event {
        case .finished:
            isStopped = true
            return []
        case .nakReceived, .nakOutsideWindow:
            return []
        case .worstReceiver(let lossRate, let address):
            return [.note(.source(.worstReceiver(address: address, lossRate: lossRate)))]
        }
    }

    /// After the turn's events: the linger starts once the session is closing and the queue has drained, and ends
    /// the run when it has lasted ``linger``. True when the run is over.
    mutating func turnEnded(_ engine: Source, at now: Instant) -> Bool {
        if engine.isClosing && lingerStart == nil
            && engine.queuedBytesAvailable == engine.configuration.maximumQueuedBytes
        {
            lingerStart = now
        }
        if let lingerStart, now - lingerStart >= linger { isStopped = true }
        return isStopped
    }

    /// The statistics line. `accepted`: input bytes handed to the engine; those still queued have not been sent.
    static func sample(_ engine: Source, accepted: Int) -> StatisticsSample {
        let statistics = engine.statistics
        var sample = StatisticsSample(role: .source)
        sample.bytes = accepted - (engine.configuration.maximumQueuedBytes - engine.queuedBytesAvailable)
        sample.messages = statistics.apdusQueued
        sample.packets = statistics.odataSent + statistics.rdataSent
        sample.naks = statistics.naksReceived
        sample.ncfs = statistics.ncfSent
        sample.repairs = statistics.rdataSent
        sample.lossRate = statistics.odataSent > 0 ? Double(statistics.rdataSent) / Double(statistics.odataSent) : 0
        sample.worstReceiverLossRate = statistics.worstReceiverLoss.map { Double($0) / Double(UInt16.max) }
        sample.worstReceiver = statistics.worstReceiver.map { "\($0)" }
        return sample
    }

}
