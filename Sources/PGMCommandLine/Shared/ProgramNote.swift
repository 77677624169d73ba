/// An event line a program prints on stderr: ``text`` for people, and with `--json` the same as one JSON object
/// whose keys are ``NoteKey``s and whose `type` names the event. Each program's events are an enum of typed
/// values (``SourceNote``, ``ReceiverNote``, ``ElementNote``); how those values are written is decided in their
/// `encode(to:)` alone: numbers and booleans as JSON numbers and booleans, TSIs and addresses as strings.
enum ProgramNote: Equatable, Sendable, Encodable {
    case source(SourceNote)
    case receiver(ReceiverNote)
    case element(ElementNote)

    /// The line without `--json`, after the program's name.
    var text: String {
        switch self {
        case .source(let note): "pgm-source: " + note.text
        case .receiver(let note): "pgm-recv: " + note.text
        case .element(let note): "pgm-ne: " + note.text
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .source(let note): try note.encode(to: encoder)
        case .receiver(let note): try note.encode(to: encoder)
        case .element(let note): try note.encode(to: encoder)
        }
    }
}

/// Every key of the programs' event lines, written as they appear (snake_case).
enum NoteKey: String, CodingKey {
    case type
    case address
    case apduSize = "apdu_size"
    case bytes
    case downstream
    case dropped
    case droppedBytes = "dropped_bytes"
    case errorCode = "error_code"
    case first
    case firstSequence = "first_sequence"
    case group
    case interface
    case last
    case late
    case lingerSeconds = "linger_seconds"
    case lossRate = "loss_rate"
    case message
    case neighbor
    case outputOffset = "output_offset"
    case packets
    case path
    case rangeCount = "range_count"
    case ranges
    case seconds
    case windowBytes = "window_bytes"
    case reason
    case session
    case signal
    case source
    case totalBytes = "total_bytes"
    case tsi
    case upstream
    case window
}

extension KeyedEncodingContainer<NoteKey> {
    /// Writes `value` as string interpolation shows it: for TSIs and addresses, which JSON has no type for.
    mutating func encodeAsString<Value>(_ value: Value, forKey key: NoteKey) throws {
        try encode(String(describing: value), forKey: key)
    }
}
