import Foundation

@testable import PGMCommandLine

/// One value of a JSON line, typed as the line has it, so that a number written as a string (or the other way
/// round) fails the comparison. Literals make the expected objects read as JSON does.
enum JSONValue: Equatable, Decodable, CustomStringConvertible, ExpressibleByStringInterpolation,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case other

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }
    init(floatLiteral value: Double) { self = .number(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            self = .other
        }
    }

    var description: String {
        switch self {
        case .string(let value): "\"\(value)\""
        case .number(let value): "\(value)"
        case .bool(let value): "\(value)"
        case .null: "null"
        case .other: "{…}"
        }
    }

    /// The string, when this is one.
    var string: String? { if case .string(let value) = self { value } else { nil } }
    /// The number, when this is one.
    var number: Double? { if case .number(let value) = self { value } else { nil } }
}

/// A note as the printer writes it: its text line, and its JSON line read back with each value's type (the
/// `timestamp` every line carries is left out), so that tests state both as people and scripts see them.
struct PrintedNote: Equatable, CustomStringConvertible {
    var text: String
    var json: [String: JSONValue]

    init(_ text: String, json: [String: JSONValue]) {
        self.text = text
        self.json = json
    }

    var description: String { "\(text) \(json)" }
}

extension ProgramNote {
    var printed: PrintedNote {
        var lines: [String] = []
        for json in [false, true] {
            var line = ""
            let printer = StatisticsPrinter(json: json, interval: .seconds(1), isTerminal: false) { line += $0 }
            printer.print(self)
            lines.append(String(line.dropLast()))
        }
        var object = (try? JSONDecoder().decode([String: JSONValue].self, from: Data(lines[1].utf8))) ?? [:]
        object["timestamp"] = nil
        return PrintedNote(lines[0], json: object)
    }
}

extension ReceiverNote {
    /// As pgm-recv prints it, without its name.
    var printed: PrintedNote {
        let note = ProgramNote.receiver(self).printed
        return PrintedNote(String(note.text.dropFirst("pgm-recv: ".count)), json: note.json)
    }
}

/// The notes among `outputs`, as printed.
func printedNotes(_ outputs: [ProgramOutput]) -> [PrintedNote] {
    outputs.compactMap { if case .note(let note) = $0 { note.printed } else { nil } }
}
