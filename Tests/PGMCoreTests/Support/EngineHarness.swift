import PGMCore
import PGMWire
import Testing

/// Drives any ``Engine`` by hand, as a driver would, so that unit tests read like the protocol: packets and other
/// inputs at injected times, timers run at exactly the deadlines the engine asks for, and after every input its
/// transmits drained and then its events (the order the engine contract asks for).
///
/// Every step returns what the engine sent during it; events collect until ``events()`` reads them; the instants
/// timers ran at collect in ``deadlinesRun``. The engine stays in reach as ``engine``, and its properties directly
/// through dynamic member lookup (`harness.statistics`). Application-side inputs (a source's `send`) are the
/// engine's own: constrained extensions add them without draining, as an application queues data between two
/// turns of its driver.
@dynamicMemberLookup
struct EngineHarness<E: Engine> {
    /// One transmit and the instant it left.
    typealias Sent = (time: Instant, transmit: Transmit)

    var engine: E
    /// The time of the latest input or timer; inputs given no time happen now.
    private(set) var now: Instant
    /// Every deadline ``advance(to:)`` and ``step(notAfter:)`` ran the engine's timers at, oldest first.
    private(set) var deadlinesRun: [Instant] = []
    private var unread: [E.Event] = []

    /// Steps at one instant after which the engine still asks to run at that instant: it would spin a driver.
    static var spinLimit: Int { 10_000 }

    init(_ engine: E, at now: Instant = .zero) {
        self.engine = engine
        self.now = now
    }

    subscript<Value>(dynamicMember keyPath: KeyPath<E, Value>) -> Value { engine[keyPath: keyPath] }

    // MARK: Inputs

    /// Hands the engine a packet at `time` (default: now) and returns what it sent in answer.
    @discardableResult
    mutating func receive(_ packet: Packet, arrival: Arrival, at time: Instant? = nil) -> [Transmit] {
        moveClock(to: time)
        engine.receive(packet, arrival: arrival, at: now)
        return drain()
    }

    /// Hands the engine a packet at `time` (default: now) without draining it: one of a batch of datagrams a driver
    /// reads in one turn before it drains (up to 64 per socket). The next step that drains returns the answers.
    mutating func receiveInBatch(_ packet: Packet, arrival: Arrival, at time: Instant? = nil) {
        moveClock(to: time)
        engine.receive(packet, arrival: arrival, at: now)
    }

    /// Calls the engine's timer once at `time`, due or not (the contract: early or repeated calls do nothing).
    @discardableResult
    mutating func handleTimeout(at time: Instant) -> [Transmit] {
        moveClock(to: time)
        engine.handleTimeout(at: now)
        return drain()
    }

    /// Drains what the engine has to send at `time` (default: now), then its events.
    @discardableResult
    mutating func drain(at time: Instant? = nil) -> [Transmit] {
        moveClock(to: time)
        var sent: [Transmit] = []
        while let transmit = engine.pollTransmit(at: now) { sent.append(transmit) }
        while let event = engine.pollEvent() { unread.append(event) }
        return sent
    }

    /// The events since the last call, oldest first.
    mutating func events() -> [E.Event] {
        defer { unread = [] }
        return unread
    }

    // MARK: Time

    /// Runs the engine's timers at its next deadline if there is one (and it is not after `end`): the clock moves
    /// there (never backwards: a deadline already passed runs now). Returns when it ran and what was sent.
    mutating func step(notAfter end: Instant? = nil) -> (time: Instant, sent: [Transmit])? {
        guard let deadline = engine.nextDeadline, end.map({ deadline <= $0 }) ?? true else { return nil }
        let time = max(now, deadline)
        deadlinesRun.append(time)
        return (time, handleTimeout(at: time))
    }

    /// Runs every deadline up to and including `end`, in order, then moves the clock to `end` with one more
    /// (early) timer call there. Returns everything sent, with when.
    @discardableResult
    mutating func advance(to end: Instant) -> [Sent] {
        var sent: [Sent] = []
        var stepsAtThisInstant = 0
        while let step = step(notAfter: end) {
            sent += step.sent.map { (step.time, $0) }
            // A deadline that does not move past the instant it just ran at would spin a driver forever.
            if let next = engine.nextDeadline, next <= step.time {
                stepsAtThisInstant += 1
                if stepsAtThisInstant >= Self.spinLimit {
                    Issue.record("the engine keeps asking to run at \(step.time)")
                    break
                }
            } else {
                stepsAtThisInstant = 0
            }
        }
        if end >= now { sent += handleTimeout(at: end).map { (end, $0) } }
        return sent
    }

    /// ``advance(to:)`` by a duration, for tests that only look at what was sent.
    @discardableResult
    mutating func advance(by duration: Duration) -> [Transmit] {
        advance(to: now + duration).map(\.transmit)
    }

    private mutating func moveClock(to time: Instant?) {
        guard let time else { return }
        precondition(time >= now, "the harness clock went backwards: \(time) < \(now)")
        now = time
    }
}

// MARK: Reading what was sent

/// The sequences a NAK, NNAK or NCF names, in order: its own and its OPT_NAK_LIST.
func named(_ packet: Packet) -> [UInt32] {
    switch packet.body {
    case .nak(let nak), .nnak(let nak), .ncf(let nak):
        var result = [nak.sequence.rawValue]
        for option in packet.options {
            if case .nakList(let list) = option.value { result += list.map(\.rawValue) }
        }
        return result
    default:
        return []
    }
}

/// The sequences the NAKs among `transmits` name, in the order they went.
func nakSequences(_ transmits: [Transmit]) -> [UInt32] {
    transmits.flatMap { $0.packet.body.type == .nak ? named($0.packet) : [] }
}

func ofType(_ type: PacketType, _ transmits: [Transmit]) -> [Transmit] {
    transmits.filter { $0.packet.body.type == type }
}

extension EngineHarness {
    /// The sequences the NAKs of a timed run name, in the order they went.
    func nakSequences(_ sent: [Sent]) -> [UInt32] { PGMCoreTests.nakSequences(sent.map(\.transmit)) }

    func nakSequences(_ transmits: [Transmit]) -> [UInt32] { PGMCoreTests.nakSequences(transmits) }
}

// MARK: Source

extension EngineHarness where E == Source {
    /// Queues an APDU at `time` (default: now) without a driver turn: several APDUs can queue before the next
    /// ``drain(at:)``, as the application does between two turns.
    mutating func send(_ apdu: [UInt8], at time: Instant? = nil) throws(Source.SendError) {
        moveClock(to: time)
        try engine.send(apdu, at: now)
    }

    /// Closes the session at `time` (default: now), without a driver turn.
    mutating func close(at time: Instant? = nil) {
        moveClock(to: time)
        engine.close(at: now)
    }
}
