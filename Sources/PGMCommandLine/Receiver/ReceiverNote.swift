internal import Glibc
import PGMCore
import PGMWire

/// pgm-recv's event lines (``ProgramNote``). `outputOffset` is the output byte at which the session's data starts
/// or stopped.
enum ReceiverNote: Equatable, Sendable, Encodable {
    /// The first line: the group joined, where (`interface` with its address, `interfaceName` alone for JSON)
    /// and how.
    case started(group: String, port: UInt16, interface: String, interfaceName: String, transport: String)
    /// The session written from now on was seen first.
    case session(TSI, source: NLA)
    /// Another session, not the one `--tsi` names.
    case ignoredSession(TSI, source: NLA)
    /// Another session while `selected` (nil: none yet) lasts, kept to follow when it ends.
    case candidateSession(TSI, source: NLA, selected: TSI?)
    case joined(TSI, firstSequence: SequenceNumber, late: Bool, outputOffset: Int)
    case unrecoverable(first: SequenceNumber, last: SequenceNumber, reason: Receiver.LossReason)
    /// Closed with OPT_FIN under `--follow`.
    case sessionClosed(TSI, outputOffset: Int)
    /// Reset by its source (OPT_RST): the transfer was aborted; everything up to its last data was delivered or
    /// reported lost.
    case reset(TSI, errorCode: UInt8, outputOffset: Int)
    /// Silent for `--peer-expiry`: ended without OPT_FIN.
    case expired(TSI, outputOffset: Int)
    /// No other session to follow: the next to appear is taken.
    case waiting(outputOffset: Int)
    /// The next session is followed from its start, less `droppedBytes` that did not fit the candidate buffer.
    case follow(TSI, source: NLA, outputOffset: Int, droppedBytes: Int)
    /// The output cannot be written (`reason`: the system's words).
    case outputFailed(reason: String)
    /// `--timeout` passed without data.
    case timeout(Duration)
    /// SIGINT/SIGTERM (`signal`, by name) stopped the run after `outputOffset` bytes of output.
    case interrupted(signal: String, outputOffset: Int)

    var text: String {
        switch self {
        case .started(let group, let port, let interface, _, let transport):
            "joined \(group):\(port) on \(interface), \(transport)"
        case .session(let tsi, let source):
            "session \(tsi) from \(source)"
        case .ignoredSession(let tsi, let source):
            "ignoring session \(tsi) from \(source) (not --tsi)"
        case .candidateSession(let tsi, let source, let selected):
            "ignoring session \(tsi) from \(source) while \(selected.map { "\($0)" } ?? "another") lasts (kept to "
                + "follow if it ends)"
        case .joined(let tsi, let first, let late, let offset):
            late
                ? "joined session \(tsi) mid-stream: delivering from sequence \(first) (the first whole APDU at or "
                    + "after it) at output byte \(offset); earlier data of this session is not delivered"
                : "joined session \(tsi) at its start, sequence \(first), at output byte \(offset)"
        case .unrecoverable(let first, let last, let reason):
            first == last
                ? "unrecoverable: sequence number \(first) (\(reason))"
                : "unrecoverable: sequence numbers \(first)-\(last) (\(reason))"
        case .sessionClosed(let tsi, let offset):
            "session \(tsi) closed after \(offset) bytes of output; following the next session (--follow)"
        case .reset(let tsi, let code, let offset):
            "session \(tsi) was reset by its source (OPT_RST\(Self.resetReason(code))) after \(formatGrouped(offset)) "
                + "bytes of output: the transfer was cut short"
        case .expired(let tsi, _):
            "session \(tsi) went silent and expired without closing"
        case .waiting:
            "waiting for a new session"
        case .follow(let tsi, let source, let offset, let dropped):
            "following session \(tsi) from \(source) at output byte \(offset)"
                + (dropped > 0
                    ? "; its first \(dropped) bytes were not kept (more than \(ReceiveSession.candidateBufferBytes) "
                        + "bytes waited)"
                    : "")
        case .outputFailed(let reason):
            "cannot write the output: \(reason)"
        case .timeout(let duration):
            "no data for \(formatDecimal(duration.secondsValue, places: 1)) s (--timeout)"
        case .interrupted(let signal, let offset):
            "interrupted by \(signal) after \(formatGrouped(offset)) bytes of output"
        }
    }

    /// OPT_RST's error code in words: pgm-source sends the number of the signal that interrupted it.
    static func resetReason(_ code: UInt8) -> String {
        switch code {
        case 0: ""
        case UInt8(SIGINT): ", code 2: SIGINT"
        case UInt8(SIGTERM): ", code 15: SIGTERM"
        default: ", code \(code)"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: NoteKey.self)
        switch self {
        case .started(let group, _, _, let interfaceName, _):
            try container.encode("start", forKey: .type)
            try container.encode(group, forKey: .group)
            try container.encode(interfaceName, forKey: .interface)
        case .session(let tsi, let source):
            try container.encode("session", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(source, forKey: .source)
        case .ignoredSession(let tsi, let source), .candidateSession(let tsi, let source, _):
            try container.encode("ignored_session", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(source, forKey: .source)
        case .joined(let tsi, let first, let late, let offset):
            try container.encode("joined", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(first, forKey: .firstSequence)
            try container.encodeAsString(late, forKey: .late)
            try container.encodeAsString(offset, forKey: .outputOffset)
        case .unrecoverable(let first, let last, let reason):
            try container.encode("unrecoverable", forKey: .type)
            try container.encodeAsString(first, forKey: .first)
            try container.encodeAsString(last, forKey: .last)
            try container.encodeAsString(reason, forKey: .reason)
        case .sessionClosed(let tsi, let offset):
            try container.encode("session_closed", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(offset, forKey: .outputOffset)
        case .reset(let tsi, let code, let offset):
            try container.encode("reset", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(code, forKey: .errorCode)
            try container.encodeAsString(offset, forKey: .outputOffset)
        case .expired(let tsi, let offset):
            try container.encode("expired", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(offset, forKey: .outputOffset)
        case .waiting(let offset):
            try container.encode("waiting", forKey: .type)
            try container.encodeAsString(offset, forKey: .outputOffset)
        case .follow(let tsi, let source, let offset, let dropped):
            try container.encode("follow", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(source, forKey: .source)
            try container.encodeAsString(offset, forKey: .outputOffset)
            try container.encodeAsString(dropped, forKey: .droppedBytes)
        case .outputFailed:
            try container.encode("error", forKey: .type)
            try container.encode("output", forKey: .message)
        case .timeout:
            try container.encode("timeout", forKey: .type)
        case .interrupted(let signal, let offset):
            try container.encode("interrupted", forKey: .type)
            try container.encode(signal, forKey: .signal)
            try container.encode(offset, forKey: .outputOffset)
        }
    }
}
