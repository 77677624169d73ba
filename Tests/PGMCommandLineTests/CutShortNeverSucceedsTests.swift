import Glibc
import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// Issue 18, item 8: a transfer cut short can never end with exit 0 at the receiver. Thousands of random runs
/// of ``ReceiverProgram`` (plain and DLR, with and without `--follow` and `--timeout`): whatever the order of
/// data, loss, OPT_RST, expiry, signals, silence and failed writes, exit 0 only ever follows OPT_FIN of a session
/// that was never cut short, lost nothing, and was written whole.
@Suite struct CutShortNeverSucceedsTests {
    enum Step: CaseIterable {
        case data, loss, reset, expiry, signal, silence, writeFailure, finish, otherSession
    }

    /// A small deterministic generator (the runs must be the same on every machine).
    struct LCG {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    @Test func noCutShortRunExitsZero() {
        let tsi = TSI(gsi: GSI(rawValue: 0xC612_0001_0001), sourcePort: 1)
        let other = TSI(gsi: GSI(rawValue: 0xC612_0001_0002), sourcePort: 2)
        let address = NLA.ipv4(IPv4Address(198, 18, 0, 1))
        var random = LCG(state: 18)
        var exits: [PGMExitCode: Int] = [:]
        for _ in 0..<5000 {
            let role: ReceiverProgram.Role = random.next(4) == 0 ? .dlr : .receiver
            let timeout: Duration? = random.next(2) == 0 ? .seconds(2) : nil
            var program = ReceiverProgram(
                role: role, wanted: nil, follow: random.next(3) == 0, timeout: timeout, dlrLinger: .seconds(1),
                start: .zero)
            var now = Instant.zero
            var sequence: UInt32 = 1
            var cutShort = false
            var sawFIN = false
            var steps: [Step] = []
            _ = program.handle(.peerDiscovered(tsi, source: address), at: now)
            for _ in 0..<(1 + random.next(12)) where !program.isStopped {
                now = now + .milliseconds(100 * (1 + random.next(15)))
                let step = Step.allCases[random.next(Step.allCases.count)]
                steps.append(step)
                var failure: String?
                let event: Receiver.Event?
                switch step {
                case .data:
                    event = .data(tsi, bytes: [1, 2, 3])
                case .loss:
                    event = .unrecoverable(
                        tsi, first: SequenceNumber(sequence), last: SequenceNumber(sequence), reason: .windowAdvanced)
                    cutShort = true
                case .reset:
                    event = .sessionReset(tsi, errorCode: 2)
                    cutShort = true
                case .expiry:
                    event = .peerExpired(tsi)
                    cutShort = true
                case .signal:
                    _ = program.signalled(SIGINT)
                    cutShort = true
                    event = nil
                case .silence:
                    event = nil
                    now = now + .seconds(3)
                    // Silence after OPT_FIN is a DLR's linger, not a transfer cut short.
                    if timeout != nil && !sawFIN { cutShort = true }
                case .writeFailure:
                    event = .data(tsi, bytes: [9])
                    failure = "No space left on device"
                    cutShort = true
                case .finish:
                    event = .sessionClosed(tsi)
                    sawFIN = true
                case .otherSession:
                    event = .peerDiscovered(other, source: address)
                }
                sequence += 1
                if let event { _ = program.handle(event, at: now) { _ in failure } }
                _ = program.turnEnded(at: now)
            }
            // A DLR's linger, or the rest of a timeout, runs out.
            if !program.isStopped { _ = program.turnEnded(at: now + .seconds(10)) }
            guard program.isStopped else { continue }
            exits[program.exitCode, default: 0] += 1
            if program.exitCode == .success {
                #expect(
                    !cutShort && sawFIN,
                    "a cut-short run exited 0: \(role) \(program.session.follow) \(timeout.map { "\($0)" } ?? "") \(steps)"
                )
            }
            if cutShort { #expect(program.exitCode != .success) }
        }
        // The runs reached every ending, so the property was tested on each.
        #expect(
            Set(exits.keys).isSuperset(of: [.success, .failure, .unrecoverableLoss, .sessionCutShort, .interrupted]))
    }
}
