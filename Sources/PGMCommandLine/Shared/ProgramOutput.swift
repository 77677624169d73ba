import Logging

/// What a program asks its command to tell the outside world after an input: a line to print, or a message to
/// log. (pgm-recv's data goes straight to its writer: see ``ReceiverProgram/handle(_:at:write:)``.)
enum ProgramOutput: Equatable, Sendable {
    /// An event line; programs return them as values so that tests compare what would be printed.
    case note(ProgramNote)
    case log(Logger.Level, String)
}

extension StatisticsPrinter {
    /// Prints the notes of `outputs` and logs their messages, in order.
    func perform(_ outputs: [ProgramOutput], logger: Logger) {
        for output in outputs {
            switch output {
            case .note(let note): print(note)
            case .log(let level, let message): logger.log(level: level, "\(message)")
            }
        }
    }
}
