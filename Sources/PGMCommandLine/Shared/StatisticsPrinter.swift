import FoundationEssentials
internal import Glibc
public import PGMCore

/// One statistics sample of a program, as printed once a second and at exit: with `--json` one object whose keys
/// are these properties' names in snake_case (optional ones only when set).
public struct StatisticsSample: Encodable, Sendable {
    /// The JSON `type`: `statistics` for the periodic line, `summary` for the last one.
    public enum Kind: String, Encodable, Sendable {
        case statistics
        case summary
    }

    /// Which program, and as what, printed the line.
    public enum Role: String, Encodable, Sendable {
        case source
        case receiver
        /// pgm-recv --dlr.
        case dlr
        case networkElement = "network_element"
    }

    public var type = Kind.statistics
    public var role: Role
    public var elapsedSeconds = 0.0
    /// Payload rate since the previous sample, in bits per second.
    public var rateBitsPerSecond = 0.0
    /// Payload bytes sent or delivered so far.
    public var bytes = 0
    /// APDUs (the application's messages) sent or delivered so far.
    public var messages = 0
    public var packets = 0
    public var naks = 0
    public var ncfs = 0
    public var repairs = 0
    /// The receiver's loss-rate estimate (0...1); the source's: repairs per data packet.
    public var lossRate = 0.0
    public var unrecoverable = 0
    /// pgm-source: the worst receiver loss (0…1) reported with OPT_CR, and who reported it.
    public var worstReceiverLossRate: Double?
    public var worstReceiver: String?
    /// pgm-recv: seconds from the first delivered byte to the last, so that a rate excludes start-up and the wait
    /// for the session's end.
    public var dataSeconds: Double?
    /// A network element's own counters (pgm-ne only).
    public var element: ElementCounters?
    /// With `--key`: tags verified, packets dropped for their tag or as replays, transmits signed.
    public var authentication: KeyStatistics?

    public init(role: Role) { self.role = role }
}

/// Prints samples to stderr once a second: redrawn in place with `\r` on a terminal, one line each otherwise,
/// JSON Lines with `--json`; ``finish(_:)`` prints the summary.
public final class StatisticsPrinter {
    private let json: Bool
    private let isTerminal: Bool
    private let interval: Duration
    private var lastPrint: Instant?
    private var lastBytes = 0
    private var drewLine = false
    private let encoder: JSONEncoder
    /// Where the text goes: stderr, or a test's buffer.
    private let write: (String) -> Void
    /// Adds what the engine's statistics do not hold (the driver's, e.g. ``KeyOptions``) to every sample.
    public var annotate: ((inout StatisticsSample) -> Void)?

    public convenience init(json: Bool, interval: Duration = .seconds(1)) {
        self.init(json: json, interval: interval, isTerminal: isatty(2) == 1, write: writeError)
    }

    init(json: Bool, interval: Duration, isTerminal: Bool, write: @escaping (String) -> Void) {
        self.json = json
        self.isTerminal = isTerminal
        self.interval = interval
        self.write = write
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
    }

    /// Prints `sample()` when a second has passed since the last line.
    public func tick(at now: Instant, _ sample: () -> StatisticsSample) {
        if let lastPrint, now - lastPrint < interval { return }
        var current = sample()
        let elapsed = lastPrint.map { (now - $0).secondsValue } ?? now.seconds
        current.elapsedSeconds = now.seconds
        current.rateBitsPerSecond = elapsed > 0 ? Double(current.bytes - lastBytes) * 8 / elapsed : 0
        lastPrint = now
        lastBytes = current.bytes
        emit(current, final: false)
    }

    /// Prints the summary, with the average rate over the whole run.
    public func finish(at now: Instant, _ sample: StatisticsSample) {
        var summary = sample
        summary.type = .summary
        summary.elapsedSeconds = now.seconds
        summary.rateBitsPerSecond = now.seconds > 0 ? Double(sample.bytes) * 8 / now.seconds : 0
        emit(summary, final: true)
    }

    /// An event line (unrecoverable loss, a new session) that must not be overdrawn by the next sample.
    func print(_ note: ProgramNote) {
        if json {
            write(jsonLine(note))
        } else {
            write((drewLine && isTerminal ? "\r\u{1B}[K" : "") + note.text + "\n")
            drewLine = false
        }
    }

    private func emit(_ sample: StatisticsSample, final: Bool) {
        var sample = sample
        annotate?(&sample)
        if json {
            write(jsonLine(sample))
            return
        }
        let line = Self.text(sample)
        if isTerminal {
            write("\r\u{1B}[K" + line + (final ? "\n" : ""))
            drewLine = !final
        } else {
            write(line + "\n")
        }
    }

    /// `2.0 s  95.3 Mbit/s  12,345,678 B  8,901 pkts  NAK 3  NCF 3  RDATA 3  loss 0.03%  unrecoverable 0`
    static func text(_ sample: StatisticsSample) -> String {
        let rate = Rate(bitsPerSecond: max(1, Int(sample.rateBitsPerSecond))).description
        let prefix = sample.type == .summary ? "total " : ""
        return
            "\(prefix)\(formatDecimal(sample.elapsedSeconds, places: 1)) s  \(sample.rateBitsPerSecond < 1 ? "0 bit/s" : rate)  "
            + "\(formatGrouped(sample.bytes)) B  \(formatGrouped(sample.packets)) pkts  NAK \(sample.naks)  "
            + "NCF \(sample.ncfs)  RDATA \(sample.repairs)  loss \(formatDecimal(sample.lossRate * 100, places: 2))%  "
            + "unrecoverable \(sample.unrecoverable)"
            + (sample.worstReceiverLossRate.map {
                "  worst receiver \(formatDecimal($0 * 100, places: 2))% \(sample.worstReceiver ?? "")"
            } ?? "") + (sample.authentication?.text ?? "")
    }

    /// One JSON Lines object: snake_case keys in sorted order.
    private func jsonLine(_ value: some Encodable) -> String {
        guard let data = try? encoder.encode(value) else { return "" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Writes all of `text` to stderr.
func writeError(_ text: String) {
    writeAll(2, Array(text.utf8)[...])
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; false when the descriptor refuses.
@discardableResult
func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}
