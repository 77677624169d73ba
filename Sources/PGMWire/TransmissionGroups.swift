/// How a session's sequence numbers split into transmission groups (RFC 3208 Appendix A, §11.2 "Data and parity
/// packet numbering"): with a power-of-two group size k, the high bits are TG_SQN and the low log2(k) bits
/// PKT_SQN. Parity packets reuse the low bits for their index (with OPT_PARITY_GRP beyond k), parity NAKs and
/// NCFs for the count of packets asked for, less one.
public struct TransmissionGroups: Hashable, Sendable {
    /// k: data packets per group (PARITY_PRM_TGS).
    public let size: Int
    private let mask: UInt32

    /// The group sizes this implementation takes: powers of two, 2 ... 128 (the RFC's "handy if k is a power of
    /// 2" is how every stack does it; OpenPGM takes the same range).
    public static let sizes: [Int] = [2, 4, 8, 16, 32, 64, 128]

    /// `nil` unless `size` is one of ``sizes``.
    public init?(size: Int) {
        guard Self.sizes.contains(size) else { return nil }
        self.size = size
        self.mask = UInt32(size - 1)
    }

    /// TG_SQN: the first sequence number of the group `sequence` belongs to.
    public func group(of sequence: SequenceNumber) -> SequenceNumber {
        SequenceNumber(sequence.rawValue & ~mask)
    }

    /// PKT_SQN: the position of `sequence` in its group, 0 ..< k.
    public func position(of sequence: SequenceNumber) -> Int { Int(sequence.rawValue & mask) }

    /// The last sequence number of the group `sequence` belongs to.
    public func last(of sequence: SequenceNumber) -> SequenceNumber { group(of: sequence) &+ mask }

    /// A parity packet's index j (its Reed–Solomon offset is k + j): PKT_SQN plus k times OPT_PARITY_GRP.
    public func parityIndex(sequence: SequenceNumber, parityGroup: UInt32?) -> Int {
        position(of: sequence) + size * Int(min(parityGroup ?? 0, 255))
    }

    /// The sequence number and OPT_PARITY_GRP (RFC 3208 §11.2: only for an index ≥ k) of parity index `index`.
    public func parityNumbering(group: SequenceNumber, index: Int) -> (sequence: SequenceNumber, parityGroup: UInt32?) {
        let quotient = index / size
        return (group &+ UInt32(index % size), quotient > 0 ? UInt32(quotient) : nil)
    }

    /// A parity NAK's or NCF's sequence: TG_SQN | (count − 1), `count` in 1 ... k (§11.3.1, 0-based count).
    public func requestSequence(group: SequenceNumber, count: Int) -> SequenceNumber {
        group &+ UInt32(min(max(count, 1), size) - 1)
    }

    /// The number of parity packets a parity NAK or NCF sequence asks for, 1 ... k.
    public func requestedCount(_ sequence: SequenceNumber) -> Int { position(of: sequence) + 1 }
}

extension Option.Value {
    /// OPT_PARITY_PRM's mode bits as RFC 3208's diagram draws them (§9.6.2 byte 3: P 0x02, O 0x01).
    public static func parityParameters(groupSize: Int, proactive: Bool, onDemand: Bool) -> Option.Value {
        .parityParameters(modeBits: (proactive ? 0x02 : 0) | (onDemand ? 0x01 : 0), groupSize: UInt32(groupSize))
    }
}
