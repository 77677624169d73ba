import Foundation

@testable import PGMCommandLine

/// A note as the printer writes it: its text line, and its JSON line read back as strings (a value of another
/// type fails the test), so that tests state both as people and scripts see them.
struct PrintedNote: Equatable, CustomStringConvertible {
    var text: String
    var json: [String: String]

    init(_ text: String, json: [String: String]) {
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
        let object = (try? JSONDecoder().decode([String: String].self, from: Data(lines[1].utf8))) ?? [:]
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
