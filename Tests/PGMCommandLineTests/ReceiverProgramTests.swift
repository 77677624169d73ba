import Glibc
import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// pgm-recv's lifecycle in-process, fed engine events and instants: how each way of ending sets the exit code
/// (OPT_FIN 0, unrecoverable loss 3, OPT_RST or expiry 4, `--timeout` and a failed write 1, SIGINT/SIGTERM 130/143),
/// what keeps it going (`--follow`, an expired session followed by the next), a DLR's linger, and the lines it
/// prints.
@Suite struct ReceiverProgramTests {
    let first = TSI(gsi: GSI(rawValue: 0xC612_0001_0001), sourcePort: 1)
    let second = TSI(gsi: GSI(rawValue: 0xC612_0001_0002), sourcePort: 2)
    let address = NLA.ipv4(IPv4Address(198, 18, 0, 1))
    static let t0 = Instant.zero + .seconds(10)
    /// A receiver's counters before any packet.
    static let idle = Receiver(
        configuration: .init(dataDestinationPort: 7500, group: .ipv4(IPv4Address(239, 192, 0, 1)))
    ).statistics

    func program(
        _ role: ReceiverProgram.Role = .receiver,
        follow: Bool = false,
        timeout: Duration? = nil,
        dlrLinger: Duration = .seconds(5)
    ) -> ReceiverProgram {
        ReceiverProgram(role: role, wanted: nil, follow: follow, timeout: timeout, dlrLinger: dlrLinger, start: Self.t0)
    }

    func writes(_ handled: Handled) -> [ArraySlice<UInt8>] { handled.writes }

    func notes(_ handled: Handled) -> [PrintedNote] { printedNotes(handled.outputs) }

    func notes(_ outputs: [ProgramOutput]) -> [PrintedNote] { printedNotes(outputs) }

    @Test func optFINClosesWithExitZero() {
        var program = program()
        #expect(
            notes(program.handle(.peerDiscovered(first, source: address), at: Self.t0)) == [
                PrintedNote(
                    "pgm-recv: session c6:12:00:01:00:01.1 from 198.18.0.1",
                    json: ["type": "session", "tsi": "c6:12:00:01:00:01.1", "source": "198.18.0.1"]
                )
            ]
        )
        let data = program.handle(.data(first, bytes: [1, 2, 3]), at: Self.t0)
        #expect(writes(data) == [[1, 2, 3]])
        #expect(!program.isStopped)
        let closed = program.handle(.sessionClosed(first), at: Self.t0)
        #expect(closed == Handled())
        #expect(program.isStopped && program.exitCode == .success)
        #expect(program.closingNotes == [])
    }

    /// Unrecoverable ranges are named in words with their place in the output, at most one line a second (a burst
    /// is one line with its count, first and last range; adjacent ranges merge), and in all after the summary;
    /// the exit code is 3.
    @Test func unrecoverableLossExitsThree() {
        var program = program()
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = program.handle(.data(first, bytes: [1, 2, 3]), at: Self.t0)
        let lost = program.handle(
            .unrecoverable(first, first: SequenceNumber(10), last: SequenceNumber(12), reason: .retriesExhausted),
            at: Self.t0
        )
        #expect(
            notes(lost) == [
                PrintedNote(
                    "pgm-recv: unrecoverable: 3 packets missing from the output (sequences 10–12 at output byte 3): "
                        + "no repair came after repeated NAKs",
                    json: [
                        "type": "unrecoverable", "first": 10, "last": 12, "reason": "retriesExhausted",
                        "output_offset": 3, "packets": 3, "ranges": .other,
                    ]
                )
            ]
        )
        // Within the second: gathered, not printed; 16 follows 15 and merges with it.
        var quiet: [ProgramOutput] = []
        for sequence: UInt32 in [15, 16, 20] {
            quiet +=
                program.handle(
                    .unrecoverable(
                        first, first: SequenceNumber(sequence), last: SequenceNumber(sequence), reason: .windowAdvanced),
                    at: Self.t0 + .milliseconds(500)
                ).outputs
        }
        _ = program.handle(.data(first, bytes: [4]), at: Self.t0 + .milliseconds(600))
        _ = program.handle(
            .unrecoverable(first, first: SequenceNumber(30), last: SequenceNumber(30), reason: .windowAdvanced),
            at: Self.t0 + .milliseconds(700)
        )
        #expect(quiet == [])
        #expect(program.turnEnded(at: Self.t0 + .milliseconds(900)) == [])
        let second = program.turnEnded(at: Self.t0 + .seconds(1))
        #expect(
            notes(second) == [
                PrintedNote(
                    "pgm-recv: unrecoverable: 4 packets missing from the output in 3 ranges (first sequences 15–16 at "
                        + "output byte 3, last sequence 30 at output byte 4): the source moved its window past them",
                    json: [
                        "type": "unrecoverable", "first": 15, "last": 30, "reason": "windowAdvanced",
                        "output_offset": 3, "packets": 4, "ranges": .other,
                    ]
                )
            ]
        )
        _ = program.handle(.sessionClosed(first), at: Self.t0 + .seconds(1))
        #expect(program.isStopped && program.exitCode == .unrecoverableLoss)
        #expect(
            notes(program.closingNotes) == [
                PrintedNote(
                    "pgm-recv: in all 7 packets in 4 ranges are missing from the output (first sequences 10–12 at "
                        + "output byte 3, last sequence 30 at output byte 4)",
                    json: ["type": "unrecoverable_total", "packets": 7, "range_count": 4, "first": 10, "last": 30]
                )
            ]
        )
        #expect(program.sample(Self.idle).unrecoverable == 7)
    }

    /// `--timeout` counts from the start and from the last delivered data; it ends the run with exit 1 and says
    /// so.
    @Test func timeoutWithoutDataExitsOne() {
        var program = program(timeout: .seconds(2))
        let early = program.turnEnded(at: Self.t0 + .milliseconds(1999))
        #expect(early == [])
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0 + .seconds(1))
        _ = program.handle(.data(first, bytes: [1]), at: Self.t0 + .seconds(1))
        let sinceData = program.turnEnded(at: Self.t0 + .seconds(2))
        #expect(sinceData == [], "data came a second ago")
        let outputs = program.turnEnded(at: Self.t0 + .seconds(3))
        #expect(
            notes(outputs) == [
                PrintedNote("pgm-recv: no data for 2.0 s (--timeout)", json: ["type": "timeout", "seconds": 2])
            ])
        #expect(program.isStopped && program.exitCode == .failure)
        let again = program.turnEnded(at: Self.t0 + .seconds(4))
        #expect(again == [], "said once")
    }

    @Test func noTimeoutWithoutTheOption() {
        var program = program()
        let aDayLater = program.turnEnded(at: Self.t0 + .seconds(86_400))
        #expect(aDayLater == [])
        #expect(!program.isStopped)
    }

    /// With `--follow` a closed session does not end the run: the next one is written after it, and only
    /// `--timeout` or a signal end it.
    @Test func followGoesOnAfterOptFIN() {
        var program = program(follow: true, timeout: .seconds(30))
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = program.handle(.data(first, bytes: [1]), at: Self.t0)
        let closed = program.handle(.sessionClosed(first), at: Self.t0)
        #expect(notes(closed).map { $0.json["type"] } == ["session_closed", "waiting"])
        #expect(
            notes(closed).first?.text
                == "pgm-recv: session c6:12:00:01:00:01.1 closed after 1 bytes of output; following the next session "
                + "(--follow)"
        )
        #expect(!program.isStopped)
        _ = program.handle(.peerDiscovered(second, source: address), at: Self.t0 + .seconds(1))
        let data = program.handle(.data(second, bytes: [2]), at: Self.t0 + .seconds(1))
        #expect(writes(data) == [[2]])
        _ = program.handle(.sessionClosed(second), at: Self.t0 + .seconds(2))
        #expect(!program.isStopped)
        let timedOut = program.turnEnded(at: Self.t0 + .seconds(32))
        #expect(!notes(timedOut).isEmpty)
        #expect(program.exitCode == .failure)
    }

    /// A session silent for `--peer-expiry` ends without OPT_FIN: the next session, seen meanwhile, is written
    /// from its start and its close ends the run, with exit 4 (the first session was cut short).
    @Test func anExpiredSessionIsFollowedByTheNext() {
        var program = program()
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = program.handle(.data(first, bytes: [1, 2]), at: Self.t0)
        _ = program.handle(.peerDiscovered(second, source: address), at: Self.t0)
        let candidate = program.handle(.data(second, bytes: [3]), at: Self.t0)
        #expect(candidate == Handled())
        let expired = program.handle(.peerExpired(first), at: Self.t0 + .seconds(300))
        #expect(
            notes(expired).map(\.text) == [
                "pgm-recv: session c6:12:00:01:00:01.1 went silent and expired without closing",
                "pgm-recv: following session c6:12:00:01:00:02.2 from 198.18.0.1 at output byte 2",
            ]
        )
        #expect(writes(expired) == [[3]])
        #expect(!program.isStopped)
        _ = program.handle(.sessionClosed(second), at: Self.t0 + .seconds(301))
        #expect(program.isStopped && program.exitCode == .sessionCutShort && program.exitCode.rawValue == 4)
    }

    /// OPT_RST (a source interrupted mid-transfer) ends the run with exit 4, keeping what arrived; 3 wins when the
    /// output also has holes; an expiry with nothing to follow ends it the same way.
    @Test func aResetOrAnExpiryWithNothingToFollowExitsFour() {
        var reset = program()
        _ = reset.handle(.peerDiscovered(first, source: address), at: Self.t0)
        #expect(writes(reset.handle(.data(first, bytes: [1, 2]), at: Self.t0)) == [[1, 2]])
        let outputs = reset.handle(.sessionReset(first, errorCode: 2), at: Self.t0)
        #expect(notes(outputs).map { $0.json["type"] } == ["reset"])
        #expect(reset.isStopped && reset.exitCode == .sessionCutShort)

        var lossy = program()
        _ = lossy.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = lossy.handle(
            .unrecoverable(first, first: SequenceNumber(3), last: SequenceNumber(3), reason: .windowAdvanced),
            at: Self.t0)
        _ = lossy.handle(.sessionReset(first, errorCode: 2), at: Self.t0)
        #expect(lossy.isStopped && lossy.exitCode == .unrecoverableLoss)

        var expired = program()
        _ = expired.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = expired.handle(.peerExpired(first), at: Self.t0)
        #expect(expired.isStopped && expired.exitCode == .sessionCutShort)

        var dlr = program(.dlr, dlrLinger: .seconds(5))
        _ = dlr.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = dlr.handle(.sessionReset(first, errorCode: 0), at: Self.t0)
        #expect(!dlr.isStopped, "a DLR lingers after a reset as after a close")
        _ = dlr.turnEnded(at: Self.t0 + .seconds(5))
        #expect(dlr.isStopped && dlr.exitCode == .sessionCutShort)
    }

    /// A DLR keeps repairing for `--dlr-linger` after its session closed; `--timeout` does not cut the linger.
    @Test func aDLRLingersAfterTheClose() {
        var program = program(.dlr, timeout: .seconds(1), dlrLinger: .seconds(5))
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = program.handle(.sessionClosed(first), at: Self.t0)
        #expect(!program.isStopped)
        #expect(program.sample(Self.idle, at: Self.t0 + .seconds(2)).state == "lingering for repairs (3 s)")
        let lingering = program.turnEnded(at: Self.t0 + .seconds(5) - .nanoseconds(1))
        #expect(lingering == [])
        #expect(!program.isStopped)
        let lingered = program.turnEnded(at: Self.t0 + .seconds(5))
        #expect(lingered == [])
        #expect(program.isStopped && program.exitCode == .success)
        #expect(program.sample(Self.idle).role == .dlr)
        #expect(program.sample(Self.idle, at: Self.t0 + .seconds(6)).state == nil, "no longer once stopped")
    }

    /// A second close of the session (a straggler) does not move the end of the linger.
    @Test func theLingerStartsAtTheFirstClose() {
        var program = program(.dlr, dlrLinger: .seconds(5))
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = program.handle(.sessionClosed(first), at: Self.t0)
        _ = program.handle(.sessionClosed(first), at: Self.t0 + .seconds(3))
        _ = program.turnEnded(at: Self.t0 + .seconds(5))
        #expect(program.isStopped)
    }

    /// SIGINT/SIGTERM stop the run with 130/143 whatever came before (loss too), and say so.
    @Test func aSignalStopsWith130Or143() {
        var clean = program()
        _ = clean.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = clean.handle(.data(first, bytes: [1, 2, 3]), at: Self.t0)
        #expect(
            notes(clean.signalled(SIGINT)) == [
                PrintedNote(
                    "pgm-recv: interrupted by SIGINT after 3 bytes of output",
                    json: ["type": "interrupted", "signal": "SIGINT", "output_offset": 3]
                )
            ])
        #expect(clean.isStopped && clean.exitCode == .interrupted && clean.exitCode.rawValue == 130)

        var lossy = program()
        _ = lossy.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = lossy.handle(
            .unrecoverable(first, first: SequenceNumber(7), last: SequenceNumber(7), reason: .windowAdvanced),
            at: Self.t0
        )
        _ = lossy.signalled(SIGTERM)
        #expect(lossy.isStopped && lossy.exitCode.rawValue == 143)
        #expect(lossy.signalled(SIGINT) == [], "said once")
    }

    /// Data the writer cannot take ends the run with exit 1 and says why.
    @Test func aFailedWriteOfDeliveredDataExitsOne() {
        var program = program()
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        let data = program.handle(.data(first, bytes: [1]), at: Self.t0, writeFailure: "No space left on device")
        #expect(writes(data) == [[1]])
        #expect(
            notes(data) == [
                PrintedNote(
                    "pgm-recv: cannot write the output: No space left on device",
                    json: ["type": "error", "message": "output", "reason": "No space left on device"]
                )
            ]
        )
        #expect(program.isStopped && program.exitCode == .failure)
    }

    @Test func aFailedWriteExitsOne() {
        var program = program()
        #expect(
            notes(program.outputFailed("Broken pipe")) == [
                PrintedNote(
                    "pgm-recv: cannot write the output: Broken pipe",
                    json: ["type": "error", "message": "output", "reason": "Broken pipe"]
                )
            ]
        )
        #expect(program.isStopped && program.exitCode == .failure)
    }

    /// `data_seconds` spans the first to the last delivery; the counters are the receiver's.
    @Test func theSampleSpansTheDeliveries() {
        var program = program()
        #expect(program.sample(Self.idle).dataSeconds == nil)
        _ = program.handle(.peerDiscovered(first, source: address), at: Self.t0)
        _ = program.handle(.data(first, bytes: [1]), at: Self.t0 + .milliseconds(500))
        _ = program.handle(.data(first, bytes: [2]), at: Self.t0 + .milliseconds(2000))
        let sample = program.sample(Self.idle)
        #expect(sample.role == .receiver && sample.dataSeconds == 1.5)
        #expect(sample.bytes == 0 && sample.packets == 0 && sample.unrecoverable == 0)
    }

    @Test func theStartLineNamesTheGroup() {
        let note = ProgramNote.receiver(
            .started(
                group: "239.192.0.1",
                port: 7500,
                interface: "lo (127.0.0.1)",
                interfaceName: "lo",
                transport: "UDP port 3056"
            )
        ).printed
        #expect(note.text == "pgm-recv: joined 239.192.0.1:7500 on lo (127.0.0.1), UDP port 3056")
        #expect(note.json == ["type": "start", "group": "239.192.0.1", "interface": "lo"])
    }
}

/// What one event did: the bytes handed to the writer, and what the program returned.
struct Handled: Equatable {
    var writes: [ArraySlice<UInt8>] = []
    var outputs: [ProgramOutput] = []
}

extension ReceiverProgram {
    /// One event, with a writer that keeps what it is given and fails with `writeFailure` when that is set.
    mutating func handle(_ event: Receiver.Event, at now: Instant, writeFailure: String? = nil) -> Handled {
        var handled = Handled()
        handled.outputs = handle(event, at: now) { bytes in
            handled.writes.append(bytes)
            return writeFailure
        }
        return handled
    }
}
