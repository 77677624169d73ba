import Glibc
import Logging
import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// pgm-source's lifecycle in-process, around a real ``Source`` engine and an input held in memory: closing at the
/// end of the input or at a signal, the linger once the queue drained, `.finished`, a full queue, input errors,
/// and the lines it prints.
@Suite struct SourceProgramTests {
    /// APDUs handed over by `read` a few at a time whatever the room (as a file's chunk would be), so that a full
    /// queue refuses some; the refused one stays for the next read, as in ``SourceInput``.
    final class MemoryInput: SourceProgram.Input {
        var apdus: [[UInt8]]
        /// A partial APDU read but not yet handed over, which ``finish(_:)`` sends.
        var partial: [UInt8]
        var perRead: Int
        var readError: (any Error)?
        var reads = 0
        var totalBytes: Int?
        private(set) var bytesAccepted = 0
        private(set) var isFinished = false
        private(set) var abandoned = false

        init(apdus: [[UInt8]], partial: [UInt8] = [], perRead: Int = 1) {
            self.apdus = apdus
            self.partial = partial
            self.perRead = perRead
        }

        var isReadable: Bool { !isFinished }

        func read(room: Int, _ send: (ArraySlice<UInt8>) throws -> Void) throws {
            reads += 1
            if let readError { throw readError }
            for _ in 0..<perRead {
                guard let apdu = apdus.first else { break }
                try send(apdu[...])
                bytesAccepted += apdu.count
                apdus.removeFirst()
            }
            if apdus.isEmpty && partial.isEmpty { isFinished = true }
        }

        func finish(_ send: (ArraySlice<UInt8>) throws -> Void) throws {
            if !partial.isEmpty { try send(partial[...]) }
            bytesAccepted += partial.count
            partial = []
            abandon()
        }

        func abandon() {
            apdus = []
            isFinished = true
            abandoned = true
        }
    }

    static let tsi = TSI(gsi: GSI(rawValue: 0xC612_0001_0001), sourcePort: 4000)

    /// A fast source (nothing waits for the rate limiter) with a queue of `queue` bytes.
    static func engine(queue: Int = 1 << 20) -> Source {
        var configuration = Source.Configuration(
            tsi: tsi,
            dataDestinationPort: 7500,
            group: .ipv4(IPv4Address(239, 192, 0, 1)),
            sourceAddress: .ipv4(IPv4Address(198, 18, 0, 1))
        )
        configuration.rate = 1 << 30
        configuration.burst = 1 << 30
        configuration.maximumQueuedBytes = queue
        configuration.maximumAPDUSize = 1000
        return Source(configuration: configuration, at: .zero)
    }

    static func apdus(_ count: Int, size: Int = 1000) -> [[UInt8]] {
        (0..<count).map { [UInt8](repeating: UInt8(truncatingIfNeeded: $0), count: size) }
    }

    /// Sends everything the engine has queued, as the driver does after every input.
    static func drain(_ engine: inout Source, at now: Instant) {
        while engine.pollTransmit(at: now) != nil {}
    }

    static let t0 = Instant.zero + .seconds(1)

    @Test func theEndOfTheInputClosesAndTheLingerRunsFromTheDrainedQueue() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(3), perRead: 3)
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        #expect(program.watchesInput(input, engine: engine))
        let outputs = program.readInput(input, into: &engine, at: Self.t0)
        #expect(outputs == [])
        #expect(engine.isClosing)
        #expect(!program.watchesInput(input, engine: engine))
        let queued = program.turnEnded(&engine, at: Self.t0)
        #expect(!queued, "data still queued: no linger yet")
        #expect(program.lingerStart == nil)

        let drained = Self.t0 + .milliseconds(10)
        Self.drain(&engine, at: drained)
        let justDrained = program.turnEnded(&engine, at: drained)
        #expect(!justDrained)
        #expect(program.lingerStart == drained)
        let lingering = program.turnEnded(&engine, at: drained + .seconds(5) - .nanoseconds(1))
        #expect(!lingering)
        let lingered = program.turnEnded(&engine, at: drained + .seconds(5))
        #expect(lingered)
        #expect(program.isStopped && program.exitCode == .success)
    }

    @Test func aZeroLingerStopsAsSoonAsTheQueueDrained() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(1))
        var program = SourceProgram(linger: .zero, apduSize: 1000, maximumQueuedBytes: 1 << 20)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        Self.drain(&engine, at: Self.t0)
        let stopped = program.turnEnded(&engine, at: Self.t0)
        #expect(stopped)
    }

    /// SIGINT/SIGTERM: what was read is sent (the partial APDU too), the session is reset rather than closed and
    /// lingers as after the end of the input; then SPMs with OPT_RST's N bit go for ``SourceProgram/finalSPMTime``,
    /// and the run ends with 130 or 143. It says so, with the share of the input that was sent.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func aSignalSendsWhatWasReadResetsLingersAndExits128PlusTheSignal(signal: Int32, code: Int32) {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(10), partial: [1, 2, 3])
        input.totalBytes = 20_000
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        let queuedBefore = engine.statistics.apdusQueued
        let outputs = program.signalled(signal, input, engine: &engine, at: Self.t0)
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        #expect(
            printedNotes(outputs) == [
                PrintedNote(
                    "pgm-source: interrupted by \(name) after 4,003 of 20,000 bytes (20%): serving repairs for 5 s, "
                        + "then resetting the session (OPT_RST); \(name) again stops at once",
                    json: [
                        "type": "interrupted", "signal": .string(name), "bytes": 4003, "total_bytes": 20_000,
                        "session": "reset", "linger_seconds": 5,
                    ]
                )
            ])
        #expect(engine.statistics.apdusQueued == queuedBefore + 1, "the partial APDU is sent")
        #expect(engine.isClosing && engine.resetCode == UInt8(signal) && input.abandoned && input.apdus.isEmpty)
        #expect(!program.isStopped)
        Self.drain(&engine, at: Self.t0)
        let drained = program.turnEnded(&engine, at: Self.t0)
        #expect(!drained)
        #expect(program.phase(engine) == .lingering(until: Self.t0 + .seconds(5)))

        let lingered = program.turnEnded(&engine, at: Self.t0 + .seconds(5))
        #expect(!lingered, "the final SPMs with OPT_RST's N bit are still to go")
        #expect(engine.ignoresNAKs)
        #expect(program.phase(engine) == .abandoning(until: Self.t0 + .seconds(5) + SourceProgram.finalSPMTime))
        let over = program.turnEnded(&engine, at: Self.t0 + .seconds(5) + SourceProgram.finalSPMTime)
        #expect(over && program.exitCode.rawValue == code)
        #expect(
            printedNotes(program.closingNotes(input, engine: engine)).map(\.text) == [
                "pgm-source: session reset (OPT_RST): interrupted by \(name) after 4,003 of 20,000 bytes (20%)"
            ])
    }

    /// A second signal stops at once: the engine stops answering NAKs (the SPM saying so leaves in the same turn).
    @Test func aSecondSignalStopsAtOnce() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(10))
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        _ = program.signalled(SIGINT, input, engine: &engine, at: Self.t0)
        Self.drain(&engine, at: Self.t0)
        _ = program.turnEnded(&engine, at: Self.t0)
        let second = program.signalled(SIGINT, input, engine: &engine, at: Self.t0 + .seconds(1))
        #expect(printedNotes(second).map(\.json["type"]) == ["stopped"])
        #expect(program.isStopped && program.exitCode == .interrupted && engine.ignoresNAKs)
        let secondTurn = program.turnEnded(&engine, at: Self.t0 + .seconds(1))
        #expect(secondTurn)
    }

    /// A signal while lingering after a complete transfer (OPT_FIN sent) stops at once, keeps OPT_FIN (no reset)
    /// and still exits 130: the linger was cut short.
    @Test func aSignalWhileLingeringAfterOptFINStopsAtOnce() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(3), perRead: 3)
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        Self.drain(&engine, at: Self.t0)
        _ = program.turnEnded(&engine, at: Self.t0)
        let outputs = program.signalled(SIGINT, input, engine: &engine, at: Self.t0 + .seconds(1))
        #expect(
            printedNotes(outputs).map(\.text) == [
                "pgm-source: interrupted by SIGINT while lingering: all 3,000 bytes were sent and the session closed "
                    + "(OPT_FIN); repairs are no longer served"
            ])
        #expect(engine.resetCode == nil && program.isStopped && program.exitCode == .interrupted)
        #expect(program.closingNotes(input, engine: engine) == [])
    }

    /// A partial APDU the closed or full queue refuses at the signal is named in a warning and not sent.
    @Test func aSignalThatCannotSendThePartialAPDUWarns() {
        var engine = Self.engine(queue: 2000)
        let input = MemoryInput(apdus: Self.apdus(2), partial: [1, 2, 3], perRead: 2)
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 2000)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        let outputs = program.signalled(SIGINT, input, engine: &engine, at: Self.t0)
        #expect(
            outputs.first == .log(.warning, "the last 1000 bytes or less were not sent: queueFull(available: 0)"))
        #expect(printedNotes(outputs).map(\.json["type"]) == ["interrupted"])
        #expect(input.abandoned && engine.isClosing)
    }

    /// `.finished` (the window emptied after the close) ends the run before the linger does.
    @Test func finishedStopsBeforeTheLingerEnds() {
        var engine = Self.engine()
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        let nak = program.handle(.nakReceived(sequences: [SequenceNumber(1)], from: .ipv4(IPv4Address(1, 2, 3, 4))))
        #expect(nak == [])
        #expect(!program.isStopped)
        let finished = program.handle(.finished)
        #expect(finished == [])
        #expect(program.isStopped)
        engine.close(at: Self.t0)
        let finishedTurn = program.turnEnded(&engine, at: Self.t0)
        #expect(finishedTurn)
    }

    /// A full queue is back-pressure, not an error: nothing closes, the refused APDU stays in the input, the
    /// input is not watched until a quarter of the queue is free, and the next read goes on where it stopped.
    @Test func aFullQueueWaitsUntilAQuarterOfItIsFree() {
        var engine = Self.engine(queue: 8000)
        let input = MemoryInput(apdus: Self.apdus(12), perRead: 12)
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 8000)
        #expect(program.readThreshold == 2000)
        let outputs = program.readInput(input, into: &engine, at: Self.t0)
        #expect(outputs == [])
        #expect(!engine.isClosing && !input.isFinished)
        #expect(input.apdus.count == 4)
        #expect(engine.queuedBytesAvailable == 0)
        #expect(!program.watchesInput(input, engine: engine))
        // One TPDU leaves: 1000 bytes free, still under the threshold.
        while engine.queuedBytesAvailable == 0, engine.pollTransmit(at: Self.t0) != nil {}
        #expect(engine.queuedBytesAvailable == 1000)
        #expect(!program.watchesInput(input, engine: engine))
        Self.drain(&engine, at: Self.t0)
        #expect(program.watchesInput(input, engine: engine))
        _ = program.readInput(input, into: &engine, at: Self.t0)
        #expect(input.isFinished && engine.isClosing)
        #expect(engine.statistics.apdusQueued == 12)
    }

    /// Several reads per turn while there is room and input, but no more than ``SourceProgram/readsPerTurn``.
    @Test func readsPerTurnAreBounded() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(10), perRead: 1)
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        #expect(input.reads == SourceProgram.readsPerTurn)
        #expect(engine.statistics.apdusQueued == SourceProgram.readsPerTurn)
    }

    /// An input that fails is abandoned and the session closed (what was sent lingers as usual), with the error
    /// logged.
    @Test func aReadErrorAbandonsTheInputAndCloses() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(3))
        input.readError = CommandFailure(.failure, "read: Input/output error")
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        let outputs = program.readInput(input, into: &engine, at: Self.t0)
        #expect(outputs == [.log(.error, "input: read: Input/output error")])
        #expect(input.abandoned && engine.isClosing && !program.isStopped)
    }

    /// OPT_CR reports change with every NAK: the newest is printed, once a second at most (the issue saw 25
    /// lines in 3 s).
    @Test func worstReceiverChangesArePrintedOnceASecondAtMost() {
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        var lines: [ProgramOutput] = []
        for tenth in 0..<30 {
            let rate = Double(tenth) / 100
            _ = program.handle(.worstReceiver(lossRate: rate, address: .ipv4(IPv4Address(198, 18, 2, 7))))
            lines += program.pendingNotes(at: .zero + .milliseconds(100 * tenth))
        }
        #expect(lines.count == 3)
        #expect(printedNotes(lines).map { $0.json["loss_rate"] } == [0, 0.1, 0.2])
        #expect(program.pendingNotes(at: .zero + .seconds(3)).count == 1)
        #expect(program.pendingNotes(at: .zero + .seconds(5)) == [])
    }

    /// Pins the worst-receiver line, text and JSON.
    @Test func theWorstReceiverIsPrinted() {
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        #expect(program.handle(.worstReceiver(lossRate: 0.125, address: .ipv4(IPv4Address(198, 18, 2, 7)))) == [])
        let outputs = program.pendingNotes(at: Self.t0)
        #expect(
            printedNotes(outputs) == [
                PrintedNote(
                    "pgm-source: worst receiver 198.18.2.7 reports 12.50% loss",
                    json: ["type": "worst_receiver", "address": "198.18.2.7", "loss_rate": 0.125]
                )
            ]
        )
    }

    /// Pins the first line, text and JSON.
    @Test func theStartLineNamesTheSessionAndTheWindow() {
        let note = ProgramNote.source(
            .started(
                tsi: Self.tsi,
                group: "239.192.0.1",
                port: 7500,
                interface: "lo (127.0.0.1)",
                interfaceName: "lo",
                transport: "UDP port 3056",
                apduSize: 22_784,
                window: "window 4 s at 100 Mbit/s = 50 MB",
                windowBytes: 50_000_000
            )
        ).printed
        #expect(
            note.text
                == "pgm-source: TSI c6:12:00:01:00:01.4000 to 239.192.0.1:7500 on lo (127.0.0.1), UDP port 3056, "
                + "APDUs up to 22,784 bytes; window 4 s at 100 Mbit/s = 50 MB"
        )
        #expect(
            note.json == [
                "type": "start", "tsi": "c6:12:00:01:00:01.4000", "group": "239.192.0.1", "interface": "lo",
                "window": 50_000_000, "apdu_size": 22_784,
            ]
        )
    }

    /// The bytes of a sample are those that left the queue, not those read.
    @Test func theSampleCountsSentBytesOnly() {
        var engine = Self.engine()
        let input = MemoryInput(apdus: Self.apdus(3), perRead: 3)
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        _ = program.readInput(input, into: &engine, at: Self.t0)
        #expect(SourceProgram.sample(engine, accepted: 3000).bytes == 0)
        #expect(SourceProgram.sample(engine, accepted: 3000).messages == 3)
        Self.drain(&engine, at: Self.t0)
        let sample = SourceProgram.sample(engine, accepted: 3000)
        #expect(sample.bytes == 3000 && sample.packets == 3 && sample.role == .source)
    }
}
