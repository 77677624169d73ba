import PGMCore
import PGMWire

/// pgm-source's event lines (``ProgramNote``).
enum SourceNote: Equatable, Sendable, Encodable {
    /// The first line: where the session goes and what the window may hold. `interface` is the interface with its
    /// address, for people; `interfaceName` its name alone, for JSON.
    case started(
        tsi: TSI,
        group: String,
        port: UInt16,
        interface: String,
        interfaceName: String,
        transport: String,
        apduSize: Int,
        window: String,
        windowBytes: Int
    )
    /// The worst loss a receiver reported with OPT_CR changed.
    case worstReceiver(address: NLA, lossRate: Double)
    /// PGMCC: no receiver answered the election, so the source runs at `--rate` without congestion control (said
    /// once; a later answer still elects an acker, which the statistics line shows).
    case noAcker
    /// The first SIGINT/SIGTERM (`signal`, by name) cut the transfer short after `bytes` of `total` (when the
    /// size is known): repairs are served for `linger`, then the session is reset (OPT_RST).
    case interrupted(signal: String, bytes: Int, total: Int?, linger: Duration)
    /// A signal while lingering after a complete transfer (OPT_FIN sent): the run stops at once.
    case interruptedLingering(signal: String, bytes: Int)
    /// A second signal: the run stops at once, without serving the rest of the linger.
    case stoppedAtOnce(signal: String)
    /// After the summary of an interrupted run: the session was reset after `bytes` of `total`.
    case reset(signal: String, bytes: Int, total: Int?)

    var text: String {
        switch self {
        case .started(let tsi, let group, let port, let interface, _, let transport, let apduSize, let window, _):
            "TSI \(tsi) to \(group):\(port) on \(interface), \(transport), APDUs up to \(formatGrouped(apduSize)) "
                + "bytes; \(window)"
        case .worstReceiver(let address, let lossRate):
            "worst receiver \(address) reports \(formatDecimal(lossRate * 100, places: 2))% loss"
        case .noAcker:
            "congestion control: no receiver answered as acker; sending at --rate until one does"
        case .interrupted(let signal, let bytes, let total, let linger):
            "interrupted by \(signal) after \(Self.bytes(bytes, of: total)): serving repairs for "
                + "\(formatSeconds(linger)), then resetting the session (OPT_RST); \(signal) again stops at once"
        case .interruptedLingering(let signal, let bytes):
            "interrupted by \(signal) while lingering: all \(formatGrouped(bytes)) bytes were sent and the session "
                + "closed (OPT_FIN); repairs are no longer served"
        case .stoppedAtOnce(let signal):
            "\(signal) again: stopping now; receivers still missing data get no more repairs"
        case .reset(let signal, let bytes, let total):
            "session reset (OPT_RST): interrupted by \(signal) after \(Self.bytes(bytes, of: total))"
        }
    }

    /// `33,554,432 of 100,000,000 bytes (33%)`, or `33,554,432 bytes` when the size is not known.
    static func bytes(_ bytes: Int, of total: Int?) -> String {
        guard let total, total > 0 else { return "\(formatGrouped(bytes)) bytes" }
        let percent = Int((Double(bytes) / Double(total) * 100).rounded(.down))
        return "\(formatGrouped(bytes)) of \(formatGrouped(total)) bytes (\(percent)%)"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: NoteKey.self)
        switch self {
        case .started(let tsi, let group, _, _, let interfaceName, _, let apduSize, _, let windowBytes):
            // "window": the bytes the transmit window may hold (the sentence is the text line's).
            try container.encode("start", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(group, forKey: .group)
            try container.encode(interfaceName, forKey: .interface)
            try container.encode(windowBytes, forKey: .window)
            try container.encode(apduSize, forKey: .apduSize)
        case .worstReceiver(let address, let lossRate):
            try container.encode("worst_receiver", forKey: .type)
            try container.encodeAsString(address, forKey: .address)
            try container.encode(lossRate, forKey: .lossRate)
        case .noAcker:
            try container.encode("no_acker", forKey: .type)
        case .interrupted(let signal, let bytes, let total, let linger):
            try container.encode("interrupted", forKey: .type)
            try container.encode(signal, forKey: .signal)
            try container.encode(bytes, forKey: .bytes)
            try container.encodeIfPresent(total, forKey: .totalBytes)
            try container.encode("reset", forKey: .session)
            try container.encode(linger.secondsValue, forKey: .lingerSeconds)
        case .interruptedLingering(let signal, let bytes):
            try container.encode("interrupted", forKey: .type)
            try container.encode(signal, forKey: .signal)
            try container.encode(bytes, forKey: .bytes)
            try container.encode("closed", forKey: .session)
        case .stoppedAtOnce(let signal):
            try container.encode("stopped", forKey: .type)
            try container.encode(signal, forKey: .signal)
        case .reset(let signal, let bytes, let total):
            try container.encode("reset", forKey: .type)
            try container.encode(signal, forKey: .signal)
            try container.encode(bytes, forKey: .bytes)
            try container.encodeIfPresent(total, forKey: .totalBytes)
        }
    }
}
