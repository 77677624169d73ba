import PGMCore
import PGMWire

/// Generates arbitrary well-formed packets, with random option sets, from a seed.
struct RandomPackets {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func int(_ bound: Int) -> Int { Int(random.bounded(UInt64(bound))) }
    mutating func u8() -> UInt8 { UInt8(truncatingIfNeeded: random.next()) }
    mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: random.next()) }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: random.next()) }
    mutating func sequence() -> SequenceNumber { SequenceNumber(u32()) }
    mutating func bool() -> Bool { random.next() & 1 == 1 }

    mutating func nla() -> NLA {
        bool()
            ? .ipv4(IPv4Address(rawValue: u32()))
            : .ipv6(IPv6Address(high: random.next(), low: random.next()))
    }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in u8() } }

    /// Option types this codec knows; `unknown` must avoid them or they would decode as the known type.
    static let knownOptionTypes: Set<UInt8> = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x09, 0x0A, 0x0B,
        0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, Option.TypeCode.authentication,
    ]

    mutating func optionValue() -> Option.Value {
        switch int(21) {
        case 0: return .fragment(.init(firstSequence: sequence(), offset: u32(), apduLength: u32()))
        case 1: return .nakList((0..<(1 + int(Option.maximumNAKListEntries))).map { _ in sequence() })
        case 2: return .join(minimumSequence: sequence())
        case 3: return .nakBackoffInterval(microseconds: u32(), pollSequence: sequence())
        case 4: return .nakBackoffRange(maximumMicroseconds: u32(), minimumMicroseconds: u32())
        case 5: return .redirect(nla())
        case 6: return .parityParameters(modeBits: u8() & 0x03, groupSize: u32())
        case 7: return .parityGroup(u32())
        case 8: return .currentGroupSize(u32())
        case 9: return .neighborUnreachable
        case 10: return .pathNLA(nla())
        case 11: return .syn
        case 12: return .fin
        case 13: return .reset(ignoresNAKs: bool(), errorCode: u8() & 0x3F)
        case 14:
            return .congestionReport(
                .init(
                    kinds: .init(rawValue: u8()), lead: sequence(), networkElementWorstLink: u16(),
                    networkElementWorstPath: u16(), receiverWorstPath: u16(), worstReceiver: nla()))
        case 15: return .congestionReportRequest(.init(rawValue: u8()))
        case 16: return .pgmccData(timestamp: u32(), acker: nla())
        case 17: return .pgmccFeedback(timestamp: u32(), lossRate: u16(), receiver: nla())
        case 18:
            return .authentication(
                .init(keyID: u32(), tag: .init(high: random.next(), low: random.next())))
        default:
            var type = u8() & 0x7F
            while Self.knownOptionTypes.contains(type) { type = u8() & 0x7F }
            return .unknown(type: type, body: bytes(int(40)))
        }
    }

    mutating func option() -> Option {
        let value = optionValue()
        let type = Option(value).typeCode
        // Random header bits, except the byte-3 bits that belong to the value.
        let byte3Free: UInt8
        switch type {
        case 0x08: byte3Free = ~0x03
        case 0x0F: byte3Free = 0x80
        case 0x10, 0x11: byte3Free = ~0x07
        default: byte3Free = 0xFF
        }
        return Option(value, flags: .init(byte2: bool() ? u8() : 0, byte3: bool() ? u8() & byte3Free : 0))
    }

    mutating func body() -> Packet.Body {
        switch int(10) {
        case 0: return .spm(SPM(sequence: sequence(), trail: sequence(), lead: sequence(), path: nla()))
        case 1:
            return .poll(
                POLL(
                    sequence: sequence(), round: u16(), subtype: u16(), path: nla(), backoffInterval: u32(),
                    random: u32(), mask: u32()))
        case 2: return .polr(POLR(sequence: sequence(), round: u16()))
        case 3: return .odata(DataPacket(sequence: sequence(), trail: sequence(), payload: bytes(int(1500))[...]))
        case 4: return .rdata(DataPacket(sequence: sequence(), trail: sequence(), payload: bytes(int(1500))[...]))
        case 5: return .nak(NAK(sequence: sequence(), source: nla(), group: nla()))
        case 6: return .nnak(NAK(sequence: sequence(), source: nla(), group: nla()))
        case 7: return .ncf(NAK(sequence: sequence(), source: nla(), group: nla()))
        case 8: return .spmr
        default: return .ack(ACK(receivedMaximum: sequence(), bitmap: u32()))
        }
    }

    mutating func packet() -> Packet {
        let options = (0..<(bool() ? 0 : 1 + int(Option.maximumCount))).map { _ in option() }
        return Packet(
            sourcePort: u16(), destinationPort: u16(), flags: Packet.Flags(rawValue: u8()),
            gsi: GSI(rawValue: random.next()), body: body(), options: options)
    }
}
