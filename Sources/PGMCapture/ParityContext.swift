public import PGMWire

/// What pgm-dump knows of each session's FEC (RFC 3208 Appendix A) from the capture so far: the transmission group
/// size k from the last OPT_PARITY_PRM of the session's SPMs. With it, a parity packet's sequence number splits into
/// TG_SQN and the parity index (data) or the requested count (NAK, NCF, NNAK). Without it the formatters print the
/// raw sequence number and "parity": a guess at k could print plausible nonsense.
///
/// The capture loop records every dissection before formatting it (``record(_:)-swift.method``), so a packet is
/// read with what the capture showed before it.
public struct ParityContext: Sendable {
    /// Sessions remembered at most; later ones print raw (a capture of a TSI flood must not grow without bound).
    public static let maximumSessions = 65_536

    private var groupSizes: [TSI: UInt32] = [:]

    public init() {}

    /// Learns k from an SPM's OPT_PARITY_PRM.
    public mutating func record(_ dissection: Dissection) {
        if let packet = dissection.pgm?.packet { record(packet) }
    }

    public mutating func record(_ packet: Packet) {
        guard let k = Self.groupSize(advertisedBy: packet) else { return }
        if groupSizes[packet.tsi] == nil && groupSizes.count >= Self.maximumSessions { return }
        groupSizes[packet.tsi] = k
    }

    /// k of `tsi`, once an SPM advertised it.
    public func groupSize(of tsi: TSI) -> UInt32? { groupSizes[tsi] }

    /// How a parity packet reads under its session's k; `nil` for a packet without OPT_PARITY or with k unknown.
    public func describe(_ packet: Packet) -> ParityDescription? {
        guard packet.flags.contains(.parity), let k = groupSizes[packet.tsi] else { return nil }
        return ParityDescription(packet, groupSize: k)
    }

    /// PARITY_PRM_TGS of an SPM's OPT_PARITY_PRM when it is usable: a power of two of at least 2 (RFC 3208 §11.4;
    /// anything else cannot split a sequence number; like our engines, 2 ... 128).
    static func groupSize(advertisedBy packet: Packet) -> UInt32? {
        guard case .spm = packet.body else { return nil }
        for option in packet.options {
            if case .parityParameters(_, let k) = option.value, TransmissionGroups(size: Int(min(k, 256))) != nil {
                return k
            }
        }
        return nil
    }
}

/// A parity packet's sequence number read under k (RFC 3208 §11.2, §11.3).
public enum ParityDescription: Hashable, Sendable {
    /// Proactive (ODATA) or on-demand (RDATA) parity: its TG_SQN and parity index, (SQN mod k) + k·PARITY_GRP.
    case data(groupSize: UInt32, group: SequenceNumber, index: UInt64)
    /// A parity NAK, NCF or NNAK: TG_SQN and the count of packets asked for, (SQN mod k) + 1, for the packet's
    /// sequence and then each OPT_NAK_LIST entry.
    case request(groupSize: UInt32, entries: [Entry])

    public struct Entry: Hashable, Sendable {
        public var group: SequenceNumber
        public var count: UInt32
    }

    init?(_ packet: Packet, groupSize k: UInt32) {
        switch packet.body {
        case .odata(let data), .rdata(let data):
            var parityGroup: UInt32 = 0
            for option in packet.options {
                if case .parityGroup(let m) = option.value { parityGroup = m }
            }
            let (group, low) = Self.split(data.sequence, k)
            self = .data(groupSize: k, group: group, index: UInt64(low) + UInt64(k) * UInt64(parityGroup))
        case .nak(let nak), .ncf(let nak), .nnak(let nak):
            var sequences = [nak.sequence]
            for option in packet.options {
                if case .nakList(let list) = option.value { sequences += list }
            }
            self = .request(
                groupSize: k,
                entries: sequences.map {
                    let (group, low) = Self.split($0, k)
                    return Entry(group: group, count: low + 1)
                })
        default:
            return nil
        }
    }

    /// TG_SQN (the low log2(k) bits cleared) and those low bits; `k` a power of two.
    static func split(_ sequence: SequenceNumber, _ k: UInt32) -> (group: SequenceNumber, low: UInt32) {
        guard let groups = TransmissionGroups(size: Int(k)) else { return (sequence, 0) }
        return (groups.group(of: sequence), UInt32(groups.position(of: sequence)))
    }
}
