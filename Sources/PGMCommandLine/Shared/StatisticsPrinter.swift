import FoundationEssentials
internal import Glibc
public import PGMCore

/// One statistics sample of a program, as printed every `--interval` and at exit: with `--json` one object whose keys
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
    /// Payload rate since the previous sample, in bits per second; in the summary, over the data phase
    /// (``dataSeconds``) when there is one, so that start-up and the linger do not dilute it.
    public var rateBitsPerSecond = 0.0
    /// Payload bytes sent or delivered so far (pgm-ne: forwarded, ODATA and RDATA).
    public var bytes = 0
    /// pgm-source: the input's size when it is known up front (regular files), for the percentage and ETA.
    public var totalBytes: Int?
    /// pgm-source: seconds until the input is sent at the rate so far, while sending.
    public var etaSeconds: Double?
    /// What the program is doing when it is not moving data: `lingering for repairs (3 s)`, `resetting`.
    public var state: String?
    /// APDUs (the application's messages) sent or delivered so far.
    public var messages = 0
    /// Packets received (pgm-recv), sent (pgm-source: ODATA and RDATA) or forwarded (pgm-ne: ODATA and RDATA).
    public var packets = 0
    public var naks = 0
    public var ncfs = 0
    public var repairs = 0
    /// pgm-recv: loss since the start, 0…1: data packets whose ODATA did not arrive (repaired or not) over data
    /// packets expected. pgm-source: repairs per ODATA sent (RDATA ÷ ODATA; a source cannot see loss). pgm-ne: 0.
    public var lossRate = 0.0
    /// pgm-recv: the moving average of the loss (the receive engine's EWMA, what OPT_CR reports to the source).
    public var lossRateAverage: Double?
    public var unrecoverable = 0
    /// pgm-recv: packets of its sessions dropped for coming from an address off the session's path (RFC 3208 §10,
    /// Docs/integrity.md), `off_path_packets` in JSON.
    public var offPathPackets: Int?
    /// pgm-source: the worst receiver loss (0…1) reported with OPT_CR, and who reported it.
    public var worstReceiverLossRate: Double?
    public var worstReceiver: String?
    /// pgm-recv under a PGMCC source: PGMCC ACKs sent, and whether the source's latest data named us its acker.
    public var acksSent: Int?
    public var acker: Bool?
    /// pgm-source under `--congestion-control pgmcc`: window, acker, its loss and RTT.
    public var congestion: CongestionSample?
    /// Seconds of the data phase: pgm-recv from the first delivered byte to the last, pgm-source from the first
    /// byte read to the end of sending (before the linger), so that a rate excludes start-up and the linger.
    public var dataSeconds: Double?
    /// FEC's counters: pgm-source with FEC on, pgm-recv once parity came (``FECSample``).
    public var fec: FECSample?
    /// A network element's own counters (pgm-ne only).
    public var element: ElementCounters?
    /// With `--key`: tags verified, packets dropped for their tag or as replays, transmits signed.
    public var authentication: KeyStatistics?

    public init(role: Role) { self.role = role }
}

/// Prints samples to stderr every `--interval` (none with `--quiet`): redrawn in place with `\r` on a terminal,
/// one line each otherwise, JSON Lines with `--json`; ``finish(at:_:)`` prints the summary.
public final class StatisticsPrinter {
    private let json: Bool
    /// `--quiet`: no periodic lines (events and the summary still print).
    private let quiet: Bool
    private let isTerminal: Bool
    private let interval: Duration
    private var lastPrint: Instant?
    private var lastBytes = 0
    private var drewLine = false
    /// Where the text goes: stderr, or a test's buffer.
    private let write: (String) -> Void
    /// The `timestamp` of JSON lines: Unix time, or a test's fixed value.
    private let wallClock: () -> Double
    /// Adds what the engine's statistics do not hold (the driver's, e.g. ``KeyOptions``) to every sample.
    public var annotate: ((inout StatisticsSample) -> Void)?

    /// As `--json`, `--interval` and `--quiet` say.
    public convenience init(_ options: OutputOptions) {
        self.init(
            json: options.json, interval: .seconds(options.interval), quiet: options.quiet, isTerminal: isatty(2) == 1,
            write: writeError)
    }

    init(
        json: Bool, interval: Duration, quiet: Bool = false, isTerminal: Bool,
        wallClock: @escaping () -> Double = JSONLines.now, write: @escaping (String) -> Void
    ) {
        self.json = json
        self.quiet = quiet
        self.isTerminal = isTerminal
        self.interval = interval
        self.write = write
        self.wallClock = wallClock
    }

    /// Prints `sample()` when the interval has passed since the last line (never with `--quiet`).
    public func tick(at now: Instant, _ sample: () -> StatisticsSample) {
        if quiet { return }
        if let lastPrint, now - lastPrint < interval { return }
        var current = sample()
        let elapsed = lastPrint.map { (now - $0).secondsValue } ?? now.seconds
        current.elapsedSeconds = now.seconds
        current.rateBitsPerSecond = elapsed > 0 ? Double(current.bytes - lastBytes) * 8 / elapsed : 0
        lastPrint = now
        lastBytes = current.bytes
        emit(current, final: false)
    }

    /// Prints the summary, with the average rate over the data phase (``StatisticsSample/dataSeconds``), or the
    /// whole run when there is none.
    public func finish(at now: Instant, _ sample: StatisticsSample) {
        var summary = sample
        summary.type = .summary
        summary.elapsedSeconds = now.seconds
        summary.etaSeconds = nil
        summary.state = nil
        let seconds = sample.dataSeconds ?? now.seconds
        summary.rateBitsPerSecond = seconds > 0 ? Double(sample.bytes) * 8 / seconds : 0
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
        if final, let authentication = sample.authentication {
            write(authentication.text.trimmingPrefixAndSuffixSpaces + "\n")
        }
    }

    /// The widest line: an 80-column terminal must not wrap it.
    static let columns = 80

    /// `12.0 s  45% 45.0 of 100 MB  95.3 Mbit/s  ETA 6 s  NAK 3  RDATA 3`, or for a receiver
    /// `12.0 s  45.0 MB  95.3 Mbit/s  NAK 12  RDATA 12  loss 0.09% (avg 0.05%)`: human units, and the least
    /// important fields left out rather than a line longer than ``columns``. The summary gives the data phase's
    /// length and rate: `total 17.2 s  100 MB in 10.5 s at 76.2 Mbit/s  NAK 3  RDATA 3`.
    static func text(_ sample: StatisticsSample) -> String {
        let summary = sample.type == .summary
        let rate =
            sample.rateBitsPerSecond < 1 ? "0 bit/s" : Rate(bitsPerSecond: Int(sample.rateBitsPerSecond)).description
        // (priority, text) in display order; the lowest priorities go first when the line is too long.
        var fields: [(Int, String)] = [
            (9, (summary ? "total " : "") + formatDecimal(sample.elapsedSeconds, places: 1) + " s")
        ]
        var amount = formatBytes(sample.bytes)
        if let total = sample.totalBytes, total > 0, !(summary && sample.bytes == total) {
            let percent = min(100, Int((Double(sample.bytes) / Double(total) * 100).rounded(.down)))
            amount = "\(percent)% \(formatBytes(sample.bytes, unitOf: total)) of \(formatBytes(total))"
        }
        if sample.role == .networkElement { amount += " fwd" }
        if summary, let seconds = sample.dataSeconds {
            // Data that came in one go has no rate worth printing.
            let at = sample.rateBitsPerSecond < 1 || seconds < 0.001 ? "" : " at \(rate)"
            fields.append((8, "\(amount) in \(formatDecimal(seconds, places: 1)) s\(at)"))
        } else {
            fields.append((8, amount))
            fields.append((7, sample.state ?? rate))
        }
        if let eta = sample.etaSeconds { fields.append((6, "ETA \(formatDuration(eta))")) }
        if sample.role == .networkElement { fields.append((2, "\(formatGrouped(sample.packets)) pkts")) }
        fields.append((4, "NAK \(formatGrouped(sample.naks))"))
        fields.append((3, "RDATA \(formatGrouped(sample.repairs))"))
        if let fec = sample.fec { fields.append((3, fec.text)) }
        switch sample.role {
        case .receiver, .dlr:
            let average = sample.lossRateAverage.map { " (avg \(formatPercent($0)))" } ?? ""
            fields.append((5, "loss \(formatPercent(sample.lossRate))"))
            if !average.isEmpty { fields.append((1, average.trimmingPrefixAndSuffixSpaces)) }
            if sample.unrecoverable > 0 { fields.append((6, "lost \(formatGrouped(sample.unrecoverable))")) }
            if sample.acker == true, !summary { fields.append((1, "acker")) }
            if let offPath = sample.offPathPackets, offPath > 0 {
                fields.append((5, "off-path \(formatGrouped(offPath))"))
            }
        case .source:
            // Under PGMCC the acker's loss says what OPT_CR's worst receiver would (JSON keeps both).
            if let congestion = sample.congestion, !summary {
                for field in congestion.fields { fields.append((field.priority, field.text)) }
            } else if let worst = sample.worstReceiverLossRate {
                fields.append((2, "worst rx \(formatPercent(worst))"))
            }
        case .networkElement:
            break
        }
        // With --key: what the key turned away, when it turned anything away (the whole count is on the line
        // after the summary).
        if let dropped = sample.authentication?.dropped, dropped > 0 {
            fields.append((5, "key dropped \(formatGrouped(dropped))"))
        }
        func joined() -> String {
            var line = ""
            for (_, text) in fields {
                // The moving average sits right after the loss it qualifies.
                line += line.isEmpty ? text : text.hasPrefix("(avg") ? " " + text : "  " + text
            }
            return line
        }
        var line = joined()
        while line.count > columns, let lowest = fields.indices.min(by: { fields[$0].0 < fields[$1].0 }) {
            fields.remove(at: lowest)
            line = joined()
        }
        return line
    }

    /// One JSON Lines object: snake_case keys in sorted order, with a `timestamp`.
    private func jsonLine(_ value: some Encodable) -> String {
        JSONLines.line(value, timestamp: wallClock())
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
