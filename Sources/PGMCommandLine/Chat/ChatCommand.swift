public import ArgumentParser
internal import Glibc
import Logging
import PGM
import PGMCore
import PGMGroupEngine
import PGMOrdering
import PGMSockets
import PGMWire

/// `pgm-chat`: a member of an ordered group (Docs/ordering.md): lines from standard input go to every member,
/// and every member's lines come out in the chosen order.
public struct ChatCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pgm-chat",
        abstract: "Chat in an ordered group over PGM (RFC 3208): every member sends and receives.",
        discussion: """
            Every member runs its own PGM session on --group and receives everyone else's; PGM repairs what is \
            lost, and the ordering layer (Docs/ordering.md) orders the members' messages. Each line of standard \
            input is one message; each delivered message is printed on standard output as "NAME: text" (--json: \
            one object per message with "from", "text", "member", "sequence", "global" (total orders), "deps" \
            (causal), "view", "delivered_at" and, on our own messages, "sent_at"; group changes as objects with \
            "type" "formed" or "view").

            Orders (--order): fifo (per sender, as PGM delivers); causal (vector clocks: a message waits for \
            every message its sender had delivered before sending it); total-sequencer (the member with the \
            smallest TSI orders everything); total-isis (every member proposes a priority, the sender picks the \
            largest); total-token (a token rotates; its holder stamps its messages). In the total orders every \
            member delivers the same messages in the same order. --safe delivers a message only once every \
            member acknowledged receiving it, so a delivered message is at every member (or the member that \
            lacks it has been removed).

            The group forms when --members N members have heard one another (without --members, when the \
            members heard have been the same for a second); lines typed before wait. A member that vanishes \
            (its session silent for --peer-expiry seconds, reset, or data it sent lost for good) is removed: \
            the others agree on what of it to deliver before going on ("view N: NAME removed"). Members that \
            start after the group formed are not admitted. pgm-chat exits 0 when its input ended, every \
            member's messages were delivered and every other member left (or --linger seconds after that, \
            naming how many had not); 1 when the others removed it; 69 when the group did not form within \
            --timeout seconds; 130/143 after SIGINT/SIGTERM (it leaves the group first). Every member must use \
            the same --order and --safe: members that differ are ignored, with a warning.

            Examples:
              pgm-chat --name alice --interface eth0 --order total-sequencer --members 3
              seq 1000 | pgm-chat --name m1 --interface lo --multicast-loop --native --json --order causal
            """)

    public init() {}

    @ArgumentParser.Option(help: "This member's name, shown before its lines.")
    var name: String

    @ArgumentParser.Option(
        help: ArgumentHelp(
            "fifo, causal, total-sequencer, total-isis or total-token.", valueName: "order"))
    var order: String = OrderingMode.fifo.rawValue

    @Flag(help: "Deliver a message only once every member acknowledged receiving it.")
    var safe = false

    @ArgumentParser.Option(
        help: ArgumentHelp("Wait until this many members (this one included) formed the group.", valueName: "N"))
    var members: Int?

    @ArgumentParser.Option(
        name: .customLong("peer-expiry"),
        help: ArgumentHelp("Seconds of silence after which a member is removed.", valueName: "seconds"))
    var peerExpiry: Double = 5

    @ArgumentParser.Option(
        help: ArgumentHelp("Seconds the group may take to form (0: wait for ever).", valueName: "seconds"))
    var timeout: Double = 60

    @ArgumentParser.Option(
        help: ArgumentHelp(
            "Seconds to wait, once every member delivered everything and our session closed, for the others to leave.",
            valueName: "seconds"))
    var linger: Double = 30

    @ArgumentParser.Option(help: ArgumentHelp("Send rate, bits/s (K, M, G suffixes).", valueName: "rate"))
    var rate: Rate = ProgramDefaults.rate

    @Flag(help: "JSON objects on standard output instead of text.")
    var json = false

    @OptionGroup var network: NetworkOptions
    @OptionGroup var logging: LoggingOptions

    var mode: OrderingMode { OrderingMode(rawValue: order) ?? .fifo }

    public mutating func validate() throws {
        guard OrderingMode(rawValue: order) != nil else {
            throw ValidationError(
                "--order must be one of \(OrderingMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !name.isEmpty, name.utf8.count <= 64 else { throw ValidationError("--name must be 1-64 bytes") }
        if let members, !(1...64).contains(members) { throw ValidationError("--members must be in 1...64") }
        guard peerExpiry >= 0.5, peerExpiry <= 3600 else {
            throw ValidationError("--peer-expiry must be in [0.5, 3600]")
        }
        guard timeout >= 0, timeout <= 86_400 else { throw ValidationError("--timeout must be in [0, 86400]") }
        guard linger >= 0, linger <= 3600 else { throw ValidationError("--linger must be in [0, 3600]") }
    }

    public func run() throws {
        try runReportingFailure("pgm-chat", json: json) { try execute() }
    }

    /// SPMs every half second, so that a member is not taken for gone while it has nothing to say.
    static let heartbeat = Duration.milliseconds(500)

    func execute() throws -> PGMExitCode {
        let standard = StandardDescriptors.guardClosed()
        let logger = logging.makeLogger(label: "pgm-chat", json: json)
        var options = network.sessionOptions
        options.rateBitsPerSecond = rate.bitsPerSecond
        options.congestionControl = .none
        let settings = PGMGroup.Settings(
            name: name, order: mode, safe: safe, expectedMembers: members, peerExpiry: .seconds(peerExpiry))
        let clock = MonotonicClock()
        let engine: GroupEngine
        let sockets: InterfaceSockets
        do {
            (engine, sockets) = try options.makeGroupMember(settings, at: clock.now)
        } catch let error as NetworkConfigurationError {
            throw CommandFailure(.unavailable, "\(error)")
        } catch let error as SystemError {
            throw CommandFailure(error)
        }
        let interface = sockets.configuration.interface
        let driver = try Driver(engine: engine, sockets: [sockets], clock: clock, handleSignals: true, logger: logger)
        if !json {
            writeError(
                "pgm-chat: \(name) (\(engine.memberID)) on \(network.groupAddress):\(network.port) via \(interface), "
                    + "\(mode.rawValue)\(safe ? ", safe" : "")"
                    + (members.map { ", waiting for \($0) members" } ?? "") + "\n")
        }
        var program = ChatProgram(
            json: json, maximumMessage: engine.maximumMessageSize, linger: .seconds(linger),
            formationTimeout: timeout > 0 ? .seconds(timeout) : nil)
        if standard.inputClosed { program.take([]) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        driver.inputDescriptor = { _ in program.watchesInput ? 0 : nil }
        driver.onInput = { engine, now in
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { return }
                logger.error("standard input: \(String(cString: strerror(errno)))")
                program.take([])
            } else {
                program.take(buffer[0..<count])
            }
            emit(program.submit(into: &engine, at: now, wallClock: wallClock()).map(ChatProgram.Output.stderr))
        }
        driver.onSignal = { engine, signal, now in program.interrupted(signal, engine: &engine, at: now) }
        driver.afterTurn = { engine, now in
            while let event = engine.pollEvent() {
                emit(program.handle(event, engine: engine, at: now, wallClock: wallClock()))
            }
            emit(program.submit(into: &engine, at: now, wallClock: wallClock()).map(ChatProgram.Output.stderr))
            return program.turnEnded(engine, at: now) ? .stop : .proceed
        }
        try driver.run()
        summarize(program, driver.engine)
        return program.exitCode
    }

    private func summarize(_ program: ChatProgram, _ engine: GroupEngine) {
        let viewCount = engine.member.view?.number ?? 0
        var text: String
        switch program.ending {
        case .completed(let stragglers):
            text = "sent \(program.sent), delivered \(program.delivered) in view \(viewCount)"
            if !program.removed.isEmpty { text += "; removed: \(program.removed.joined(separator: ", "))" }
            if stragglers > 0 { text += "; \(stragglers) member(s) had not left after --linger" }
        case .excluded:
            text =
                "removed from the group by the other members (they lost contact with this one); "
                + "sent \(program.sent), delivered \(program.delivered)"
        case .notFormed:
            text =
                "the group did not form within --timeout \(formatSeconds(.seconds(timeout)))"
                + (members.map { " (--members \($0))" } ?? "") + "; is every member on the same --group and --port?"
        case .interrupted:
            text = "left the group; sent \(program.sent), delivered \(program.delivered)"
        case nil:
            text = "stopped"
        }
        if json {
            writeError(
                JSONLines.line(
                    ChatSummary(
                        message: text, sent: program.sent, delivered: program.delivered,
                        membersLost: .init(engine.statistics), framesDeferred: engine.statistics.framesDeferred),
                    timestamp: JSONLines.now()))
        } else {
            writeError("pgm-chat: \(text)\n")
        }
    }
}

private struct ChatSummary: Encodable {
    var type = "summary"
    var message: String
    var sent: Int
    var delivered: Int
    /// Why PGM declared members lost (GroupEngine's counters): what a view change that removed one came from.
    var membersLost: MembersLost
    var framesDeferred: Int

    struct MembersLost: Encodable {
        var expired: Int
        var reset: Int
        var unrecoverable: Int
        var closedWithoutDone: Int

        init(_ statistics: GroupEngine.Statistics) {
            expired = statistics.membersExpired
            reset = statistics.membersReset
            unrecoverable = statistics.membersUnrecoverable
            closedWithoutDone = statistics.membersClosedWithoutDone
        }

        enum CodingKeys: String, CodingKey {
            case expired, reset, unrecoverable
            case closedWithoutDone = "closed_without_done"
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, message, sent, delivered
        case membersLost = "members_lost"
        case framesDeferred = "frames_deferred"
    }
}

/// Unix time in seconds, to the microsecond (latencies across hosts of one machine's namespaces).
func wallClock() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec / 1000) / 1e6
}

private func emit(_ outputs: [ChatProgram.Output]) {
    for output in outputs {
        switch output {
        case .stdout(let text): writeAll(1, Array(text.utf8)[...])
        case .stderr(let text): writeError(text)
        }
    }
}

/// Entry point for the `pgm-chat` executable.
public enum PGMChat {
    public static func main() -> Never { ProgramEntry.main(ChatCommand.self) }
}
