/// A member of an ordered group: the member's PGM session (its TSI: the 48-bit GSI and the 16-bit source port,
/// packed as `gsi << 16 | sourcePort`), so that every member names every other the same way without an
/// exchange. Ties in every ordering mode are broken by this value (the smaller wins).
public struct MemberID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: MemberID, rhs: MemberID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `GSI.sourcePort` in hexadecimal, as pgm-dump prints a TSI.
    public var description: String {
        let gsi = rawValue >> 16
        let port = rawValue & 0xFFFF
        let hex = String(gsi, radix: 16)
        return String(repeating: "0", count: max(0, 12 - hex.count)) + hex + "." + String(port)
    }
}

/// A message's identity in the group: its sender and the sender's message number (1, 2, 3, ... per member,
/// never reused). PGM delivers each member's messages in this order (per-sender FIFO).
public struct MessageID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var sender: MemberID
    public var sequence: UInt64

    public init(sender: MemberID, sequence: UInt64) {
        self.sender = sender
        self.sequence = sequence
    }

    public static func < (lhs: MessageID, rhs: MessageID) -> Bool {
        (lhs.sender, lhs.sequence) < (rhs.sender, rhs.sequence)
    }

    public var description: String { "\(sender)#\(sequence)" }
}

/// How a group orders the messages of its members (Docs/ordering.md).
public enum OrderingMode: String, CaseIterable, Sendable {
    /// Per sender, as PGM delivers.
    case fifo
    /// Vector clocks: a message waits until every message its sender had delivered before sending it is delivered.
    case causal
    /// One member (the smallest ``MemberID`` of the view) multicasts the order.
    case totalSequencer = "total-sequencer"
    /// ISIS agreement: every member proposes a priority, the sender multicasts the maximum.
    case totalISIS = "total-isis"
    /// A token rotates among the members; its holder stamps its own messages with the next global sequence.
    case totalToken = "total-token"

    /// Whether every member delivers the same messages in the same order.
    public var isTotal: Bool {
        switch self {
        case .fifo, .causal: false
        case .totalSequencer, .totalISIS, .totalToken: true
        }
    }
}
