internal import ArgumentParser
import FoundationEssentials
internal import Glibc
import Logging

/// `--json`: every line the programs write on stderr is one JSON object, with a `type`, real numbers and booleans,
/// and a `timestamp` (Unix time in seconds, to the millisecond): statistics, events, errors (usage errors too)
/// and log messages alike, so that a script reading stderr never meets a line it cannot parse.
enum JSONLines {
    /// Now, as Unix time in seconds with millisecond precision.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(Int(time.tv_sec) * 1000 + Int(time.tv_nsec) / 1_000_000) / 1000
    }

    /// One line: `value`'s keys with `timestamp` added, sorted, escaped by JSONEncoder.
    static func line(_ value: some Encodable, timestamp: Double) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(Stamped(value: value, timestamp: timestamp)) else { return "" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// An error: `{"type":"error","program":…,"message":…,"exit_code":…}` (no `exit_code` when the program
    /// goes on).
    static func error(program: String, message: String, exitCode: Int32?, timestamp: Double = now()) -> String {
        line(Failure(program: program, message: message, exitCode: exitCode.map(Int.init)), timestamp: timestamp)
    }

    private struct Failure: Encodable {
        var type = "error"
        var program: String
        var message: String
        var exitCode: Int?
    }
}

/// A value's object with a `timestamp` key added to it.
struct Stamped<Value: Encodable>: Encodable {
    var value: Value
    var timestamp: Double

    private enum Keys: String, CodingKey { case timestamp }

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(timestamp, forKey: .timestamp)
    }
}

/// swift-log's messages as JSON Lines on stderr under `--json`: `type` is `error` (error, critical), `warning`,
/// or `log` (the rest), with the level, the label and the message.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private struct Entry: Encodable {
        var type: String
        var level: String
        var label: String
        var message: String
    }

    func log(event: LogEvent) {
        let type =
            switch event.level {
            case .error, .critical: "error"
            case .warning: "warning"
            default: "log"
            }
        let entry = Entry(type: type, level: event.level.rawValue, label: label, message: "\(event.message)")
        writeError(JSONLines.line(entry, timestamp: JSONLines.now()))
    }
}

extension ParsableCommand {
    /// `main()`, except that with `--json` among the arguments a usage error or a failure is printed as a JSON
    /// line (``JSONLines/error(program:message:exitCode:)``) instead of ArgumentParser's text. `--help` and
    /// `--version` print as always.
    static func mainWithJSONErrors() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.contains("--json") else { return main() }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = message(for: error)
            if code == .success || message.isEmpty { exit(withError: error) }
            writeError(
                JSONLines.error(
                    program: configuration.commandName ?? "", message: message, exitCode: code.rawValue))
            Glibc.exit(code.rawValue)
        }
    }
}
