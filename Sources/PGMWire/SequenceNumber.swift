/// A PGM sequence number: 32 bits, compared with serial-number arithmetic (RFC 3208 §3.2, RFC 1982).
///
/// Deliberately not `Comparable`: serial order modulo 2³² is not a strict weak ordering
/// (`a.precedes(b)`, `b.precedes(c)` and `c.precedes(a)` can all hold), so sorting or `min()` on raw
/// sequence numbers would be wrong near the wrap. Compare with ``precedes(_:)`` and ``distance(to:)``.
public struct SequenceNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// `self` comes strictly before `other` in serial order: `Int32(bitPattern: self &- other) < 0`
    /// (OpenPGM `pgm_uint32_lt`).
    @inlinable
    public func precedes(_ other: SequenceNumber) -> Bool {
        Int32(bitPattern: rawValue &- other.rawValue) < 0
    }

    /// `self` comes before or equals `other` in serial order.
    @inlinable
    public func precedesOrEquals(_ other: SequenceNumber) -> Bool {
        Int32(bitPattern: rawValue &- other.rawValue) <= 0
    }

    /// How far `other` lies ahead of `self` (negative when it lies behind), in the half-space ±2³¹.
    @inlinable
    public func distance(to other: SequenceNumber) -> Int32 {
        Int32(bitPattern: other.rawValue &- rawValue)
    }

    /// Serial addition: wraps at 2³² as the RFC's window arithmetic requires.
    @inlinable
    public static func &+ (lhs: SequenceNumber, rhs: UInt32) -> SequenceNumber {
        SequenceNumber(lhs.rawValue &+ rhs)
    }

    @inlinable
    public static func &- (lhs: SequenceNumber, rhs: UInt32) -> SequenceNumber {
        SequenceNumber(lhs.rawValue &- rhs)
    }

    /// The later of two sequence numbers in serial order.
    @inlinable
    public static func serialMax(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber {
        a.precedes(b) ? b : a
    }

    public var description: String { String(rawValue) }
}
