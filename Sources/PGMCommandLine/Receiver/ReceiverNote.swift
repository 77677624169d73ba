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
    /// Data that cannot be recovered, gathered for up to a second (``LossReport``): adjacent ranges merged.
    case unrecoverable([LostRange])
    /// After the summary: all the data missing from the output.
    case unrecoverableTotal(packets: Int, ranges: Int, first: LostRange, last: LostRange)
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
    /// Packets claiming session `tsi` from `from`, an address off its path, were dropped (RFC 3208 §10); `dropped`
    /// for the session so far. At most one a second per session.
    case offPath(TSI, from: NLA, dropped: Int)
    /// The session's SPMs now come from `sender` with path `path` (docs/integrity.md: the path rule).
    case pathChanged(TSI, sender: NLA, path: NLA)
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
        case .unrecoverable(let ranges):
            Self.lossText(ranges)
        case .unrecoverableTotal(let packets, let ranges, let first, let last):
            "in all \(Self.packets(packets)) in \(ranges == 1 ? "1 range are" : "\(formatGrouped(ranges)) ranges are") "
                + "missing from the output"
                + (ranges == 1 ? " (\(first.text))" : " (first \(first.text), last \(last.text))")
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
        case .offPath(let tsi, let address, let dropped):
            "warning: dropped packets for session \(tsi) from \(address), which is not its path (\(dropped) so far)"
        case .pathChanged(let tsi, let sender, let path):
            "session \(tsi) moved to a new path: SPMs from \(sender), NAKs to \(path)"
        case .interrupted(let signal, let offset):
            "interrupted by \(signal) after \(formatGrouped(offset)) bytes of output"
        }
    }

    /// `unrecoverable: 3 packets missing from the output (sequences 10–12 at output byte 4,194,304): the source
    /// moved its window past them`; with several ranges their count and the first and last.
    static func lossText(_ ranges: [LostRange]) -> String {
        guard let first = ranges.first, let last = ranges.last else { return "" }
        let packets = ranges.reduce(0) { $0 + $1.packets }
        var reasons: [String] = []
        for range in ranges where !reasons.contains(range.reason.explanation) {
            reasons.append(range.reason.explanation)
        }
        let place =
            ranges.count == 1
            ? "(\(first.text))" : "in \(formatGrouped(ranges.count)) ranges (first \(first.text), last \(last.text))"
        return
            "unrecoverable: \(Self.packets(packets)) missing from the output \(place): \(reasons.joined(separator: "; "))"
    }

    /// `1 packet`, `1,234 packets`.
    static func packets(_ count: Int) -> String { count == 1 ? "1 packet" : "\(formatGrouped(count)) packets" }

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
            try container.encode(first.rawValue, forKey: .firstSequence)
            try container.encode(late, forKey: .late)
            try container.encode(offset, forKey: .outputOffset)
        case .unrecoverable(let ranges):
            // The first range's fields at the top, as the line always had them; every range in `ranges`.
            try container.encode("unrecoverable", forKey: .type)
            if let first = ranges.first, let last = ranges.last {
                try container.encode(first.first.rawValue, forKey: .first)
                try container.encode(last.last.rawValue, forKey: .last)
                try container.encode(first.reason.word, forKey: .reason)
                try container.encode(first.outputOffset, forKey: .outputOffset)
            }
            try container.encode(ranges.reduce(0) { $0 + $1.packets }, forKey: .packets)
            try container.encode(ranges, forKey: .ranges)
        case .unrecoverableTotal(let packets, let ranges, let first, let last):
            try container.encode("unrecoverable_total", forKey: .type)
            try container.encode(packets, forKey: .packets)
            try container.encode(ranges, forKey: .rangeCount)
            try container.encode(first.first.rawValue, forKey: .first)
            try container.encode(last.last.rawValue, forKey: .last)
        case .sessionClosed(let tsi, let offset):
            try container.encode("session_closed", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(offset, forKey: .outputOffset)
        case .reset(let tsi, let code, let offset):
            try container.encode("reset", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(code, forKey: .errorCode)
            try container.encode(offset, forKey: .outputOffset)
        case .expired(let tsi, let offset):
            try container.encode("expired", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(offset, forKey: .outputOffset)
        case .waiting(let offset):
            try container.encode("waiting", forKey: .type)
            try container.encode(offset, forKey: .outputOffset)
        case .follow(let tsi, let source, let offset, let dropped):
            try container.encode("follow", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(source, forKey: .source)
            try container.encode(offset, forKey: .outputOffset)
            try container.encode(dropped, forKey: .droppedBytes)
        case .outputFailed(let reason):
            // "message" stays "output" (what failed), as it always was; "reason" says why.
            try container.encode("error", forKey: .type)
            try container.encode("output", forKey: .message)
            try container.encode(reason, forKey: .reason)
        case .timeout(let duration):
            try container.encode("timeout", forKey: .type)
            try container.encode(duration.secondsValue, forKey: .seconds)
        case .offPath(let tsi, let address, let dropped):
            try container.encode("off_path", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(address, forKey: .source)
            try container.encode(dropped, forKey: .dropped)
        case .pathChanged(let tsi, let sender, let path):
            try container.encode("path_changed", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(sender, forKey: .source)
            try container.encodeAsString(path, forKey: .path)
        case .interrupted(let signal, let offset):
            try container.encode("interrupted", forKey: .type)
            try container.encode(signal, forKey: .signal)
            try container.encode(offset, forKey: .outputOffset)
        }
    }
}
