import PGMCore
import PGMWire

/// Data pgm-recv could not recover, in the output's terms: which sequence numbers, at which output byte (the
/// output has no holes, so the missing data lies between byte `outputOffset - 1` and `outputOffset`), and why.
struct LostRange: Equatable, Sendable, Encodable {
    var first: SequenceNumber
    var last: SequenceNumber
    /// The output byte the next delivered data starts at: where the missing data would have been.
    var outputOffset: Int
    var reason: Receiver.LossReason

    var packets: Int { Int(first.distance(to: last)) + 1 }

    /// Extends this range by `next` when it follows on at once (same output byte, next sequence, same reason),
    /// as a burst of loss reported sequence by sequence does.
    mutating func absorb(_ next: LostRange) -> Bool {
        guard next.outputOffset == outputOffset, next.first == last &+ 1, next.reason == reason else { return false }
        last = next.last
        return true
    }

    /// `sequences 10–12 at output byte 4,194,304`.
    var text: String {
        let sequences = first == last ? "sequence \(first)" : "sequences \(first)–\(last)"
        return "\(sequences) at output byte \(formatGrouped(outputOffset))"
    }

    private enum Keys: String, CodingKey {
        case first, last, packets, reason
        case outputOffset = "output_offset"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(first.rawValue, forKey: .first)
        try container.encode(last.rawValue, forKey: .last)
        try container.encode(packets, forKey: .packets)
        try container.encode(outputOffset, forKey: .outputOffset)
        try container.encode(reason.word, forKey: .reason)
    }
}

extension Receiver.LossReason {
    /// The JSON value: the case's name, as the lines always had it.
    var word: String {
        switch self {
        case .windowAdvanced: "windowAdvanced"
        case .retriesExhausted: "retriesExhausted"
        case .receiveWindowOverflow: "receiveWindowOverflow"
        }
    }

    /// Why the data is gone, for people.
    var explanation: String {
        switch self {
        case .windowAdvanced: "the source moved its window past them"
        case .retriesExhausted: "no repair came after repeated NAKs"
        case .receiveWindowOverflow: "the receive window was full"
        }
    }
}

/// Unrecoverable ranges gathered between two reports: pgm-recv prints at most one loss line a second, so a
/// burst of hundreds of ranges is one line (count, first and last range) rather than hundreds; with `--json`
/// that line carries every range.
struct LossReport: Equatable, Sendable {
    /// Adjacent ranges already merged.
    private(set) var ranges: [LostRange] = []
    /// When the last report was printed.
    private var lastReport: Instant?
    /// Every range and packet since the start, for the closing line.
    private(set) var totalRanges = 0
    private(set) var totalPackets = 0

    static let interval = Duration.seconds(1)

    var isEmpty: Bool { ranges.isEmpty }

    /// Adds a range; returns the note to print now when no report went out in the last second.
    mutating func add(_ range: LostRange, at now: Instant) -> ReceiverNote? {
        totalPackets += range.packets
        let merged = ranges.indices.last.map { ranges[$0].absorb(range) } ?? false
        if !merged {
            ranges.append(range)
            totalRanges += 1
        }
        return due(at: now)
    }

    /// The pending ranges as a note when a second has passed since the last report (or there was none).
    mutating func due(at now: Instant) -> ReceiverNote? {
        guard !ranges.isEmpty, lastReport.map({ now - $0 >= Self.interval }) ?? true else { return nil }
        return flush(at: now)
    }

    /// The pending ranges as a note, whatever the time (at the end of the run).
    mutating func flush(at now: Instant) -> ReceiverNote? {
        guard !ranges.isEmpty else { return nil }
        defer { ranges.removeAll() }
        lastReport = now
        return .unrecoverable(ranges)
    }
}
