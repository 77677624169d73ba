import PGMCore
import PGMGroupEngine
import PGMOrdering

/// pgm-chat's lifecycle without sockets or a clock, so that tests drive it in-process: standard input cut into
/// lines (each line one message), lines waiting while the group forms or the session's queue is full, what each
/// group event prints, and when the run ends (``ChatCommand`` wires it to the driver).
///
/// Phases: forming (lines are read and wait; at most ``maximumWaitingLines``, then input is not read until they
/// go), chatting, finished (the input ended: DONE sent; the member still orders, acknowledges and delivers until
/// every member is done), closing (`.groupFinished`: our session closes with OPT_FIN; we wait up to `linger` for
/// every other member's session to end, answering their NAKs meanwhile), stopped.
struct ChatProgram {
    enum Ending: Equatable {
        /// Input ended and every other member left (or `linger` ran out after everything was delivered).
        case completed(stragglers: Int)
        /// A view change removed this member (the others declared it lost).
        case excluded
        /// The group did not form within the timeout.
        case notFormed
        /// SIGINT or SIGTERM: LEAVE sent.
        case interrupted(Int32)
    }

    /// Lines read but not yet submitted: the bound on what pgm-chat holds for a slow or unformed group.
    static let maximumWaitingLines = 4096

    let json: Bool
    let maximumMessage: Int
    let linger: Duration
    let formationTimeout: Duration?
    private(set) var waitingLines = LineQueue()
    private var partialLine: [UInt8] = []
    private(set) var inputEnded = false
    private var doneSent = false
    private(set) var ending: Ending?
    private var finishedAt: Instant?
    private var closedAt: Instant?
    private var leftAt: Instant?
    private var startedAt: Instant?
    /// Wall-clock send times of our own messages (by sequence), for `sent_at` in JSON; removed once delivered.
    private var sentAt: [UInt64: Double] = [:]
    private(set) var sent = 0
    private(set) var delivered = 0
    private(set) var views: [GroupView] = []
    private(set) var removed: [String] = []

    init(json: Bool, maximumMessage: Int, linger: Duration, formationTimeout: Duration?) {
        self.json = json
        self.maximumMessage = maximumMessage
        self.linger = linger
        self.formationTimeout = formationTimeout
    }

    /// Whether to read standard input now.
    var watchesInput: Bool { !inputEnded && ending == nil && waitingLines.count < Self.maximumWaitingLines }

    /// Bytes read from standard input: whole lines wait to be sent (a line longer than the largest message goes
    /// as several messages, nothing is dropped). `bytes` empty: the input ended; a last line without a newline
    /// is sent too.
    mutating func take(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else {
            if !partialLine.isEmpty { waitingLines.append(partialLine) }
            partialLine = []
            inputEnded = true
            return
        }
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            partialLine.append(contentsOf: bytes[start..<newline])
            waitingLines.append(partialLine)
            partialLine = []
            start = newline + 1
        }
        partialLine.append(contentsOf: bytes[start...])
        while partialLine.count >= maximumMessage {
            waitingLines.append(Array(partialLine.prefix(maximumMessage)))
            partialLine.removeFirst(maximumMessage)
        }
    }

    /// Submits waiting lines while the group has formed and the session takes them; DONE after the last one.
    mutating func submit(into engine: inout GroupEngine, at now: Instant, wallClock: Double) -> [String] {
        guard ending == nil, engine.member.view != nil else { return [] }
        var outputs: [String] = []
        while engine.acceptsMessages, let line = waitingLines.popFirst() {
            for start in stride(from: 0, to: max(1, line.count), by: maximumMessage) {
                let piece = line.isEmpty ? [] : Array(line[start..<min(line.count, start + maximumMessage)])
                do {
                    let id = try engine.submit(piece, at: now)
                    sent += 1
                    if json { sentAt[id.sequence] = wallClock }
                } catch {
                    outputs.append(notice("message not sent: \(error)"))
                }
            }
        }
        if inputEnded && waitingLines.isEmpty && !doneSent {
            doneSent = true
            engine.finish(at: now)
        }
        return outputs
    }

    /// What an event prints: messages on standard output (`.stdout`), notices on standard error.
    enum Output: Equatable {
        case stdout(String)
        case stderr(String)
    }

    mutating func handle(_ event: GroupEngine.Event, engine: GroupEngine, at now: Instant, wallClock: Double)
        -> [Output]
    {
        let me = engine.memberID
        switch event {
        case .group(.delivered(let message)):
            delivered += 1
            var sentTime: Double?
            if message.id.sender == me { sentTime = sentAt.removeValue(forKey: message.id.sequence) }
            return [.stdout(format(message, deliveredAt: wallClock, sentAt: sentTime))]
        case .group(.formed(let view)):
            views.append(view)
            return [
                viewLine(ChatEvent(type: "formed", view: view), view: view, text: "group formed: \(describe(view))")
            ]
        case .group(.viewChanged(let view, let gone)):
            let names = gone.map(name(of:))
            views.append(view)
            removed += names
            return [
                viewLine(
                    ChatEvent(type: "view", view: view, removed: names), view: view,
                    text: "view \(view.number): \(names.joined(separator: ", ")) removed; \(describe(view))")
            ]
        case .group(.memberDone(let id)):
            return json ? [] : [.stderr(notice("\(name(of: id)) finished sending"))]
        case .group(.incompatible(let id, let reason)):
            return [.stderr(notice("ignoring \(id): \(reason)"))]
        case .group(.excluded):
            ending = .excluded
            return []
        case .group(.groupFinished):
            finishedAt = now
            return []
        case .memberLost(let id, let reason):
            var text = "lost \(name(of: id)) (\(describe(reason))"
            if reason == .unrecoverable, let detail = engine.lastUnrecoverable { text += ", \(detail)" }
            return [.stderr(notice(text + "): removing it from the group"))]
        case .group(.stable), .memberClosed:
            return []
        case .allLeft:
            leftAt = now
            return []
        }
    }

    /// How long a finished member waits at most for the others to finish too (they need it while a view change
    /// may still come), beyond `linger`.
    static let finishedBound = Duration.seconds(60)

    /// After each driver turn: whether the run is over. `linger` counts from our OPT_FIN (every member finished);
    /// before that, a member lagging behind may still need us.
    mutating func turnEnded(_ engine: GroupEngine, at now: Instant) -> Bool {
        if startedAt == nil { startedAt = now }
        if closedAt == nil, engine.transport.source.isClosing { closedAt = now }
        if ending != nil { return true }
        if leftAt != nil {
            ending = .completed(stragglers: 0)
        } else if let closedAt, now - closedAt >= linger {
            let others = (engine.member.view?.members.count ?? 1) - 1
            ending = .completed(stragglers: max(0, others))
        } else if let finishedAt, now - finishedAt >= linger + Self.finishedBound {
            let others = (engine.member.view?.members.count ?? 1) - 1
            ending = .completed(stragglers: max(0, others))
        } else if engine.member.view == nil, let formationTimeout, let startedAt, now - startedAt >= formationTimeout {
            ending = .notFormed
        }
        return ending != nil
    }

    mutating func interrupted(_ signal: Int32, engine: inout GroupEngine, at now: Instant) {
        guard ending == nil else { return }
        engine.leave(at: now)
        ending = .interrupted(signal)
    }

    var exitCode: PGMExitCode {
        switch ending {
        case .completed, nil: .success
        case .excluded: .failure
        case .notFormed: .unavailable
        case .interrupted(let signal): PGMExitCode(signal: signal)
        }
    }

    // MARK: - Formatting

    private func name(of id: MemberID) -> String {
        views.last?.names[id] ?? "\(id)"
    }

    private func describe(_ reason: GroupMember.LossReason) -> String {
        switch reason {
        case .expired: "its session went silent"
        case .reset: "its session was reset"
        case .unrecoverable: "data it sent cannot be recovered"
        case .closedWithoutDone: "its session closed before it said it was done"
        }
    }

    private func describe(_ view: GroupView) -> String {
        "\(view.members.count) members (\(view.members.map { view.names[$0] ?? "\($0)" }.joined(separator: ", ")))"
    }

    private func notice(_ text: String) -> String {
        json ? JSONLines.line(ChatNotice(message: text), timestamp: JSONLines.now()) : "pgm-chat: \(text)\n"
    }

    private func viewLine(_ line: ChatEvent, view: GroupView, text: String) -> Output {
        json ? .stdout(JSONLines.line(line, timestamp: JSONLines.now())) : .stderr("pgm-chat: \(text)\n")
    }

    private func format(_ message: DeliveredMessage, deliveredAt: Double, sentAt: Double?) -> String {
        let text = String(decoding: message.payload, as: UTF8.self)
        guard json else { return "\(message.senderName): \(text)\n" }
        let line = ChatMessage(
            from: message.senderName, text: text, member: "\(message.id.sender)", sequence: message.id.sequence,
            global: message.global,
            deps: message.dependencies.isEmpty
                ? nil : Dictionary(uniqueKeysWithValues: message.dependencies.map { ("\($0.key)", $0.value) }),
            view: message.view, deliveredAt: deliveredAt, sentAt: sentAt)
        return JSONLines.line(line, timestamp: deliveredAt)
    }
}

/// `--json` on standard output: one object per delivered message (Docs/ordering.md#pgm-chat).
struct ChatMessage: Encodable {
    var type = "message"
    var from: String
    var text: String
    /// The sender's member ID (its TSI) and its message number.
    var member: String
    var sequence: UInt64
    /// Total modes: the message's place in the group's order.
    var global: UInt64?
    /// Causal: the sender's delivered counts per member when it sent.
    var deps: [String: UInt64]?
    var view: UInt32
    /// Unix time in seconds (microseconds) when this member delivered it; `sent_at` on our own messages.
    var deliveredAt: Double
    var sentAt: Double?
}

/// `--json`: the group formed, or a view change removed members.
struct ChatEvent: Encodable {
    var type: String
    var view: UInt32
    var members: [String]
    var removed: [String]?

    init(type: String, view: GroupView, removed: [String]? = nil) {
        self.type = type
        self.view = view.number
        members = view.members.map { view.names[$0] ?? "\($0)" }
        self.removed = removed
    }
}

private struct ChatNotice: Encodable {
    var type = "notice"
    var message: String
}

/// Lines waiting to be sent, oldest first: an array read from a moving head (compacted now and then), so that
/// taking the first line does not shift the rest.
struct LineQueue {
    private var lines: [[UInt8]] = []
    private var head = 0

    var count: Int { lines.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ line: [UInt8]) { lines.append(line) }

    mutating func popFirst() -> [UInt8]? {
        guard head < lines.count else { return nil }
        defer {
            head += 1
            if head >= 1024 && head * 2 >= lines.count {
                lines.removeFirst(head)
                head = 0
            }
        }
        return lines[head]
    }
}
