import Logging

/// What a program asks its command to do with the outside world after an input: print a note, write delivered
/// data, or log. The command executes them in order.
enum ProgramOutput: Equatable, Sendable {
    /// An event line; programs return them as values so that tests compare what would be printed.
    case note(ProgramNote)
    /// pgm-recv's delivered bytes, for the output file or standard output.
    case write(ArraySlice<UInt8>)
    case log(Logger.Level, String)
}

extension StatisticsPrinter {
    /// Prints the notes of `outputs` and logs their messages, in order, handing delivered data to `write` (only
    /// pgm-recv delivers any).
    func perform(_ outputs: [ProgramOutput], logger: Logger, write: (ArraySlice<UInt8>) -> Void = { _ in }) {
        for output in outputs {
            switch output {
            case .note(let note): print(note)
            case .write(let bytes): write(bytes)
            case .log(let level, let message): logger.log(level: level, "\(message)")
            }
        }
    }

}
