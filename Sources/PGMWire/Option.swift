/// One PGM option extension (RFC 3208 §9), without OPT_LENGTH (derived) and the OPT_END bit (derived from
/// position).
///
/// Generic layout of every option but OPT_LENGTH:
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |E| Option Type | Option Length |Reserved |F|OPX|U|Opt. Specific|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Option Value                          ...                     |
/// ```
public struct Option: Hashable, Sendable {
    public var value: Value
    /// Byte 2 and the bits of byte 3 that ``value`` does not own, kept so options re-encode unchanged.
    public var flags: Flags

    public init(_ value: Value, flags: Flags = Flags()) {
        self.value = value
        self.flags = flags
    }

    /// RFC 3208 §9: "a maximum of 16 options" per packet (OpenPGM `PGM_MAX_OPTIONS` agrees).
    public static let maximumCount = 16
    /// The most sequence numbers an OPT_NAK_LIST holds besides the packet's own (RFC 3208 §9.3.1).
    public static let maximumNAKListEntries = 62

    /// Header bits outside the option value: byte 2 (reserved, F, OPX) and byte 3's U bit and any bits of
    /// byte 3 the option type leaves reserved.
    public struct Flags: Hashable, Sendable {
        public var byte2: UInt8
        public var byte3: UInt8

        public init(byte2: UInt8 = 0, byte3: UInt8 = 0) {
            self.byte2 = byte2
            self.byte3 = byte3
        }

        /// OPX (RFC 3208 §9): what a network element does with an option it does not know.
        public var unknownOptionAction: UInt8 { byte2 & 0x03 }
        /// F / OP_ENCODED: the option is an FEC-encoded copy in a parity packet. RFC 3208 puts it at 0x04;
        /// OpenPGM writes 0x08. Either bit reads as set.
        public var isEncoded: Bool { byte2 & 0x0C != 0 }
        /// U / OP_ENCODED_NULL: the encoded option was absent from some packet of the transmission group.
        public var isEncodedNull: Bool { byte3 & 0x80 != 0 }

        public static let opxIgnore: UInt8 = 0x00
        public static let opxInvalidate: UInt8 = 0x01
        public static let opxDiscard: UInt8 = 0x02
    }

    /// Option values by type code (RFC 3208 §9, PGMCC draft for 0x12/0x13).
    public enum Value: Hashable, Sendable {
        /// OPT_FRAGMENT (0x01), 16 bytes: the RFC text says length 12, its diagram and every stack use 16.
        case fragment(Fragment)
        /// OPT_NAK_LIST (0x02): sequence numbers requested in addition to the packet's own, 1 to 62.
        case nakList([SequenceNumber])
        /// OPT_JOIN (0x03): the lowest sequence number a late joiner may request.
        case join(minimumSequence: SequenceNumber)
        /// OPT_NAK_BO_IVL (0x04): NAK back-off interval (µs) and the POLL sequence it derives from (0: now).
        case nakBackoffInterval(microseconds: UInt32, pollSequence: SequenceNumber)
        /// OPT_NAK_BO_RNG (0x05): back-off range in µs, maximum first as in the RFC diagram (tshark labels
        /// the two fields the other way round).
        case nakBackoffRange(maximumMicroseconds: UInt32, minimumMicroseconds: UInt32)
        /// OPT_REDIRECT (0x07): a DLR's unicast address, `AFI | reserved | NLA`: 8 + NLA bytes (the RFC
        /// text's "4 + NLA length" contradicts its own diagram).
        case redirect(NLA)
        /// OPT_PARITY_PRM (0x08): byte 3's P/O bits (RFC: P 0x02 proactive, O 0x01 on-demand; OpenPGM swaps
        /// them) and the transmission group size.
        case parityParameters(modeBits: UInt8, groupSize: UInt32)
        /// OPT_PARITY_GRP (0x09): the parity group number of a parity packet beyond the first k.
        case parityGroup(UInt32)
        /// OPT_CURR_TGSIZE (0x0A): the actual size of a shortened transmission group.
        case currentGroupSize(UInt32)
        /// OPT_NBR_UNREACH (0x0B).
        case neighborUnreachable
        /// OPT_PATH_NLA (0x0C): an NLA without AFI; the option's length says which family (8 or 20 bytes).
        case pathNLA(NLA)
        /// OPT_SYN (0x0D): first data of the session.
        case syn
        /// OPT_FIN (0x0E): the session is closing.
        case fin
        /// OPT_RST (0x0F): byte 3 bit 0x40 (N: the source will ignore NAKs) and a 6-bit error code.
        case reset(ignoresNAKs: Bool, errorCode: UInt8)
        /// OPT_CR (0x10): a congestion report (RFC 3208 Appendix B).
        case congestionReport(CongestionReport)
        /// OPT_CRQST (0x11): which reports the source requests (byte 3: L 0x04, P 0x02, R 0x01).
        case congestionReportRequest(CongestionReport.Kinds)
        /// OPT_PGMCC_DATA (0x12): the ODATA timestamp (ms) and the elected ACKer (unspecified: election).
        case pgmccData(timestamp: UInt32, acker: NLA)
        /// OPT_PGMCC_FEEDBACK (0x13): echoed timestamp, loss rate (0xFFFF = 100 %), the reporting receiver.
        case pgmccFeedback(timestamp: UInt32, lossRate: UInt16, receiver: NLA)
        /// OPT_AUTH (0x40, not in RFC 3208): the keyed MAC `--key` adds (``Authentication``, Docs/key.md). Only a
        /// 24-byte option of that type decodes as this; any other length stays ``unknown(type:body:)``.
        case authentication(Authentication)
        /// Any other type (including OPT_INVALID, 0x7F): its bytes from offset 4, re-emitted unchanged.
        case unknown(type: UInt8, body: [UInt8])
    }

    /// OPT_FRAGMENT's fields (RFC 3208 §9.2.4).
    public struct Fragment: Hashable, Sendable {
        /// OPT_SQN: the sequence number of the APDU's first fragment.
        public var firstSequence: SequenceNumber
        /// OPT_FRAG_OFF: this fragment's byte offset in the APDU.
        public var offset: UInt32
        /// OPT_FRAG_LEN: the APDU's total length.
        public var apduLength: UInt32

        public init(firstSequence: SequenceNumber, offset: UInt32, apduLength: UInt32) {
            self.firstSequence = firstSequence
            self.offset = offset
            self.apduLength = apduLength
        }
    }

    /// OPT_CR's fields (RFC 3208 §9.6.1, Appendix B). Loss values are linear, 0xFFFF = 100 %.
    public struct CongestionReport: Hashable, Sendable {
        /// Byte 3 of OPT_CR / OPT_CRQST: which reports are present or requested.
        public struct Kinds: OptionSet, Hashable, Sendable {
            public var rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue & 0x07 }
            /// L: the worst link loss seen by network elements (NE_WL).
            public static let networkElementWorstLink = Kinds(rawValue: 0x04)
            /// P: the worst path loss seen by network elements (NE_WP).
            public static let networkElementWorstPath = Kinds(rawValue: 0x02)
            /// R: the worst receiver's path loss (RX_WP).
            public static let receiverWorstPath = Kinds(rawValue: 0x01)
        }

        public var kinds: Kinds
        /// CR_LEAD: the leading edge the report refers to.
        public var lead: SequenceNumber
        public var networkElementWorstLink: UInt16
        public var networkElementWorstPath: UInt16
        public var receiverWorstPath: UInt16
        /// The worst receiver's NLA.
        public var worstReceiver: NLA

        public init(
            kinds: Kinds, lead: SequenceNumber, networkElementWorstLink: UInt16 = 0,
            networkElementWorstPath: UInt16 = 0, receiverWorstPath: UInt16, worstReceiver: NLA
        ) {
            self.kinds = kinds
            self.lead = lead
            self.networkElementWorstLink = networkElementWorstLink
            self.networkElementWorstPath = networkElementWorstPath
            self.receiverWorstPath = receiverWorstPath
            self.worstReceiver = worstReceiver
        }
    }

    /// Option type codes.
    public enum TypeCode {
        public static let length: UInt8 = 0x00
        public static let fragment: UInt8 = 0x01
        public static let nakList: UInt8 = 0x02
        public static let join: UInt8 = 0x03
        public static let nakBackoffInterval: UInt8 = 0x04
        public static let nakBackoffRange: UInt8 = 0x05
        public static let redirect: UInt8 = 0x07
        public static let parityParameters: UInt8 = 0x08
        public static let parityGroup: UInt8 = 0x09
        public static let currentGroupSize: UInt8 = 0x0A
        public static let neighborUnreachable: UInt8 = 0x0B
        public static let pathNLA: UInt8 = 0x0C
        public static let syn: UInt8 = 0x0D
        public static let fin: UInt8 = 0x0E
        public static let reset: UInt8 = 0x0F
        public static let congestionReport: UInt8 = 0x10
        public static let congestionReportRequest: UInt8 = 0x11
        public static let pgmccData: UInt8 = 0x12
        public static let pgmccFeedback: UInt8 = 0x13
        /// OPT_AUTH: ours (Docs/key.md), outside the codes RFC 3208 and the PGMCC draft use; sent with OPX 00
        /// ("ignore"), so that elements forward it and OpenPGM, which skips option types it does not know, ignores it.
        public static let authentication: UInt8 = 0x40
        /// OPT_INVALID: what a network element turns an unknown option with OPX = 01 into.
        public static let invalid: UInt8 = 0x7F
        /// OPT_END: the bit in the type byte that marks the last option.
        public static let endBit: UInt8 = 0x80
    }

    /// The 7-bit type code.
    public var typeCode: UInt8 {
        switch value {
        case .fragment: TypeCode.fragment
        case .nakList: TypeCode.nakList
        case .join: TypeCode.join
        case .nakBackoffInterval: TypeCode.nakBackoffInterval
        case .nakBackoffRange: TypeCode.nakBackoffRange
        case .redirect: TypeCode.redirect
        case .parityParameters: TypeCode.parityParameters
        case .parityGroup: TypeCode.parityGroup
        case .currentGroupSize: TypeCode.currentGroupSize
        case .neighborUnreachable: TypeCode.neighborUnreachable
        case .pathNLA: TypeCode.pathNLA
        case .syn: TypeCode.syn
        case .fin: TypeCode.fin
        case .reset: TypeCode.reset
        case .congestionReport: TypeCode.congestionReport
        case .congestionReportRequest: TypeCode.congestionReportRequest
        case .pgmccData: TypeCode.pgmccData
        case .pgmccFeedback: TypeCode.pgmccFeedback
        case .authentication: TypeCode.authentication
        case .unknown(let type, _): type & 0x7F
        }
    }

    /// Network-significant options must be examined by network elements (RFC 3208 §9, per-option "network
    /// significant" notes); the header's OPT_NETWORK flag says one is present.
    public var isNetworkSignificant: Bool {
        switch value {
        case .nakList, .nakBackoffInterval, .nakBackoffRange, .redirect, .parityParameters, .currentGroupSize,
            .neighborUnreachable, .pathNLA, .congestionReport, .congestionReportRequest:
            true
        case .fragment, .join, .parityGroup, .syn, .fin, .reset, .pgmccData, .pgmccFeedback, .authentication, .unknown:
            false
        }
    }

    /// Bytes this option occupies on the wire, header included.
    public var encodedLength: Int {
        switch value {
        case .fragment: 16
        case .nakList(let list): 4 + 4 * list.count
        case .join, .parityParameters, .parityGroup, .currentGroupSize: 8
        case .nakBackoffInterval, .nakBackoffRange: 12
        case .redirect(let nla): 8 + nla.addressFamily.addressLength
        case .neighborUnreachable, .syn, .fin, .reset, .congestionReportRequest: 4
        case .pathNLA(let nla): 4 + nla.addressFamily.addressLength
        case .congestionReport(let report): 20 + report.worstReceiver.addressFamily.addressLength
        case .pgmccData(_, let nla), .pgmccFeedback(_, _, let nla): 12 + nla.addressFamily.addressLength
        case .authentication: Authentication.length
        case .unknown(_, let body): 4 + body.count
        }
    }
}

extension Option {
    /// The bits of byte 3 that belong to the value rather than to ``Flags``.
    static func valueBitsMask(forType type: UInt8) -> UInt8 {
        switch type {
        case TypeCode.parityParameters: 0x03
        case TypeCode.reset: 0x7F
        case TypeCode.congestionReport, TypeCode.congestionReportRequest: 0x07
        default: 0x00
        }
    }

    /// Appends this option; `isLast` sets the OPT_END bit.
    func encode(into buffer: inout [UInt8], isLast: Bool) {
        let type = typeCode
        buffer.append(type | (isLast ? TypeCode.endBit : 0))
        // Option lengths are at most 4 + 4·62 (NAK list) or unknown bodies bounded by OPT_LENGTH's u16.
        buffer.append(UInt8(truncatingIfNeeded: encodedLength))
        buffer.append(flags.byte2)
        let ownBits = flags.byte3 & ~Option.valueBitsMask(forType: type)
        switch value {
        case .fragment(let fragment):
            buffer.append(ownBits)
            buffer.appendUInt32(fragment.firstSequence.rawValue)
            buffer.appendUInt32(fragment.offset)
            buffer.appendUInt32(fragment.apduLength)
        case .nakList(let list):
            buffer.append(ownBits)
            for sequence in list { buffer.appendUInt32(sequence.rawValue) }
        case .join(let minimum):
            buffer.append(ownBits)
            buffer.appendUInt32(minimum.rawValue)
        case .nakBackoffInterval(let microseconds, let pollSequence):
            buffer.append(ownBits)
            buffer.appendUInt32(microseconds)
            buffer.appendUInt32(pollSequence.rawValue)
        case .nakBackoffRange(let maximum, let minimum):
            buffer.append(ownBits)
            buffer.appendUInt32(maximum)
            buffer.appendUInt32(minimum)
        case .redirect(let nla):
            buffer.append(ownBits)
            buffer.appendNLA(nla)
        case .parityParameters(let modeBits, let groupSize):
            buffer.append(ownBits | (modeBits & 0x03))
            buffer.appendUInt32(groupSize)
        case .parityGroup(let value), .currentGroupSize(let value):
            buffer.append(ownBits)
            buffer.appendUInt32(value)
        case .neighborUnreachable, .syn, .fin:
            buffer.append(ownBits)
        case .pathNLA(let nla):
            buffer.append(ownBits)
            buffer.appendAddress(nla)
        case .reset(let ignoresNAKs, let errorCode):
            buffer.append(ownBits | (ignoresNAKs ? 0x40 : 0) | (errorCode & 0x3F))
        case .congestionReport(let report):
            buffer.append(ownBits | report.kinds.rawValue)
            buffer.appendUInt32(report.lead.rawValue)
            buffer.appendUInt16(report.networkElementWorstLink)
            buffer.appendUInt16(report.networkElementWorstPath)
            buffer.appendUInt16(report.receiverWorstPath)
            buffer.appendUInt16(0)
            buffer.appendNLA(report.worstReceiver)
        case .congestionReportRequest(let kinds):
            buffer.append(ownBits | kinds.rawValue)
        case .pgmccData(let timestamp, let acker):
            buffer.append(ownBits)
            buffer.appendUInt32(timestamp)
            buffer.appendNLA(acker)
        case .pgmccFeedback(let timestamp, let lossRate, let receiver):
            buffer.append(ownBits)
            buffer.appendUInt32(timestamp)
            buffer.appendUInt16(receiver.addressFamily.rawValue)
            buffer.appendUInt16(lossRate)
            buffer.appendAddress(receiver)
        case .authentication(let authentication):
            buffer.append(ownBits)
            buffer.appendUInt32(authentication.keyID)
            buffer.appendUInt64(authentication.tag.high)
            buffer.appendUInt64(authentication.tag.low)
        case .unknown(_, let body):
            buffer.append(ownBits)
            buffer.append(contentsOf: body)
        }
    }

    /// Decodes one option's value from its bytes (`bytes` spans exactly the option, header included).
    static func decodeValue(
        type: UInt8, byte3: UInt8, reader: inout ByteReader
    ) throws(PacketDecodingError) -> Value {
        let length = reader.readableBytes + 4
        func requireLength(_ allowed: Int) throws(PacketDecodingError) {
            guard length == allowed else { throw .invalidOptionLength(type: type, length: length) }
        }
        func readFamily(_ afi: UInt16, addressBytes: Int) throws(PacketDecodingError) -> NLA.AddressFamily {
            guard let family = NLA.AddressFamily(rawValue: afi) else { throw .unsupportedAddressFamily(afi) }
            guard family.addressLength == addressBytes else {
                throw .malformedOption(type: type, reason: "length \(length) does not fit address family \(afi)")
            }
            return family
        }
        switch type {
        case TypeCode.fragment:
            try requireLength(16)
            return .fragment(
                Fragment(
                    firstSequence: try reader.readSequence(.optionBody), offset: try reader.readUInt32(.optionBody),
                    apduLength: try reader.readUInt32(.optionBody)))
        case TypeCode.nakList:
            guard length >= 8, length % 4 == 0, length <= 4 + 4 * maximumNAKListEntries else {
                throw .invalidOptionLength(type: type, length: length)
            }
            var list: [SequenceNumber] = []
            list.reserveCapacity((length - 4) / 4)
            while reader.readableBytes > 0 { list.append(try reader.readSequence(.optionBody)) }
            return .nakList(list)
        case TypeCode.join:
            try requireLength(8)
            return .join(minimumSequence: try reader.readSequence(.optionBody))
        case TypeCode.nakBackoffInterval:
            try requireLength(12)
            return .nakBackoffInterval(
                microseconds: try reader.readUInt32(.optionBody), pollSequence: try reader.readSequence(.optionBody))
        case TypeCode.nakBackoffRange:
            try requireLength(12)
            return .nakBackoffRange(
                maximumMicroseconds: try reader.readUInt32(.optionBody),
                minimumMicroseconds: try reader.readUInt32(.optionBody))
        case TypeCode.redirect:
            guard length == 12 || length == 24 else { throw .invalidOptionLength(type: type, length: length) }
            let family = try readFamily(try reader.readUInt16(.optionBody), addressBytes: length - 8)
            try reader.skip(2, .optionBody)
            return .redirect(try reader.readAddress(family))
        case TypeCode.parityParameters:
            try requireLength(8)
            return .parityParameters(modeBits: byte3 & 0x03, groupSize: try reader.readUInt32(.optionBody))
        case TypeCode.parityGroup:
            try requireLength(8)
            return .parityGroup(try reader.readUInt32(.optionBody))
        case TypeCode.currentGroupSize:
            try requireLength(8)
            return .currentGroupSize(try reader.readUInt32(.optionBody))
        case TypeCode.neighborUnreachable:
            try requireLength(4)
            return .neighborUnreachable
        case TypeCode.pathNLA:
            guard length == 8 || length == 20 else { throw .invalidOptionLength(type: type, length: length) }
            return .pathNLA(try reader.readAddress(length == 8 ? .ipv4 : .ipv6))
        case TypeCode.syn:
            try requireLength(4)
            return .syn
        case TypeCode.fin:
            try requireLength(4)
            return .fin
        case TypeCode.reset:
            try requireLength(4)
            return .reset(ignoresNAKs: byte3 & 0x40 != 0, errorCode: byte3 & 0x3F)
        case TypeCode.congestionReport:
            guard length == 24 || length == 36 else { throw .invalidOptionLength(type: type, length: length) }
            let lead = try reader.readSequence(.optionBody)
            let worstLink = try reader.readUInt16(.optionBody)
            let worstPath = try reader.readUInt16(.optionBody)
            let receiverPath = try reader.readUInt16(.optionBody)
            try reader.skip(2, .optionBody)
            let family = try readFamily(try reader.readUInt16(.optionBody), addressBytes: length - 20)
            try reader.skip(2, .optionBody)
            return .congestionReport(
                CongestionReport(
                    kinds: CongestionReport.Kinds(rawValue: byte3), lead: lead, networkElementWorstLink: worstLink,
                    networkElementWorstPath: worstPath, receiverWorstPath: receiverPath,
                    worstReceiver: try reader.readAddress(family)))
        case TypeCode.congestionReportRequest:
            try requireLength(4)
            return .congestionReportRequest(CongestionReport.Kinds(rawValue: byte3))
        case TypeCode.pgmccData:
            guard length == 16 || length == 28 else { throw .invalidOptionLength(type: type, length: length) }
            let timestamp = try reader.readUInt32(.optionBody)
            let family = try readFamily(try reader.readUInt16(.optionBody), addressBytes: length - 12)
            try reader.skip(2, .optionBody)
            return .pgmccData(timestamp: timestamp, acker: try reader.readAddress(family))
        case TypeCode.pgmccFeedback:
            guard length == 16 || length == 28 else { throw .invalidOptionLength(type: type, length: length) }
            let timestamp = try reader.readUInt32(.optionBody)
            let family = try readFamily(try reader.readUInt16(.optionBody), addressBytes: length - 12)
            let lossRate = try reader.readUInt16(.optionBody)
            return .pgmccFeedback(timestamp: timestamp, lossRate: lossRate, receiver: try reader.readAddress(family))
        case TypeCode.authentication where length == Authentication.length:
            return .authentication(
                Authentication(
                    keyID: try reader.readUInt32(.optionBody),
                    tag: Authentication.Tag(
                        high: try reader.readUInt64(.optionBody), low: try reader.readUInt64(.optionBody))))
        default:
            var body: [UInt8] = []
            body.reserveCapacity(reader.readableBytes)
            while reader.readableBytes > 0 { body.append(try reader.readUInt8(.optionBody)) }
            return .unknown(type: type, body: body)
        }
    }
}
