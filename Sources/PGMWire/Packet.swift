/// One PGM packet (RFC 3208 §8): the common header, a type-specific body, options, and for ODATA/RDATA the
/// payload as a slice of the bytes it was decoded from (no copy).
///
/// The checksum, OPT_LENGTH, the OPT_END bit and the options-present flag are not stored: the encoder derives
/// them, so every value of this type encodes to a well-formed packet and `decode(encode(p)) == p`.
public struct Packet: Hashable, Sendable {
    /// Source port of the common header. Downstream packets: the data-source port; upstream: the
    /// data-destination port.
    public var sourcePort: UInt16
    /// Destination port of the common header (the reverse of ``sourcePort``).
    public var destinationPort: UInt16
    /// Header flag bits other than OPT_PRESENT, which the encoder sets from ``options``.
    public var flags: Flags
    public var gsi: GSI
    public var body: Body
    /// Options in wire order, without OPT_LENGTH. At most ``Option/maximumCount``.
    public var options: [Option]

    public init(
        sourcePort: UInt16, destinationPort: UInt16, flags: Flags = [], gsi: GSI, body: Body, options: [Option] = []
    ) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.flags = flags
        self.gsi = gsi
        self.body = body
        self.options = options
    }

    /// Builds a packet of `tsi`'s session, putting the data-source port on the side the type's direction needs.
    public init(tsi: TSI, dataDestinationPort: UInt16, flags: Flags = [], body: Body, options: [Option] = []) {
        if body.type.isUpstream {
            self.init(
                sourcePort: dataDestinationPort, destinationPort: tsi.sourcePort, flags: flags, gsi: tsi.gsi,
                body: body, options: options)
        } else {
            self.init(
                sourcePort: tsi.sourcePort, destinationPort: dataDestinationPort, flags: flags, gsi: tsi.gsi,
                body: body, options: options)
        }
    }

    /// The session this packet belongs to: GSI plus the data-source port, which upstream packets carry as
    /// their destination port (RFC 3208 §8 "Source Port", §8.3).
    public var tsi: TSI {
        TSI(gsi: gsi, sourcePort: body.type.isUpstream ? destinationPort : sourcePort)
    }

    /// The data-destination port (the application's well-known port), whichever direction the packet goes.
    public var dataDestinationPort: UInt16 { body.type.isUpstream ? sourcePort : destinationPort }

    /// Header bits of the options byte (offset 5), as deployed by OpenPGM and decoded by Wireshark.
    ///
    /// RFC 3208 §8 numbers these bits "0 = MSB", which read literally would put OPT_PRESENT at 0x80; every
    /// implementation on the wire uses the values below (Docs/openpgm.md#header-option-bits), and so do we.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue & ~0x01 }

        /// OPT_NETWORK: at least one network-significant option is present.
        public static let network = Flags(rawValue: 0x02)
        /// OPT_VAR_PKTLEN: a parity packet of a transmission group with variable-size packets.
        public static let variableLength = Flags(rawValue: 0x40)
        /// OPT_PARITY: a parity packet (ODATA/RDATA) or a parity NAK/NCF.
        public static let parity = Flags(rawValue: 0x80)

        /// The OPT_PRESENT bit, derived from the option list when encoding.
        public static let optionsPresentBit: UInt8 = 0x01

        /// The flags a packet carrying `options` needs: `.network` if any of them is network-significant.
        public static func required(by options: [Option]) -> Flags {
            options.contains { $0.isNetworkSignificant } ? .network : []
        }
    }

    /// The type-specific part of a packet.
    public enum Body: Hashable, Sendable {
        case spm(SPM)
        case poll(POLL)
        case polr(POLR)
        case odata(DataPacket)
        case rdata(DataPacket)
        case nak(NAK)
        case nnak(NAK)
        case ncf(NAK)
        case spmr
        case ack(ACK)

        public var type: PacketType {
            switch self {
            case .spm: .spm
            case .poll: .poll
            case .polr: .polr
            case .odata: .odata
            case .rdata: .rdata
            case .nak: .nak
            case .nnak: .nnak
            case .ncf: .ncf
            case .spmr: .spmr
            case .ack: .ack
            }
        }
    }
}

/// Packet type codes (RFC 3208 §8, low nibble of the type byte), plus the PGMCC ACK.
public enum PacketType: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case spm = 0x00
    case poll = 0x01
    case polr = 0x02
    case odata = 0x04
    case rdata = 0x05
    case nak = 0x08
    case nnak = 0x09
    case ncf = 0x0A
    case spmr = 0x0C
    /// PGMCC ACK. Not in RFC 3208: OpenPGM uses 0x0D and we write that; Rizzo's PGMCC code and tcpdump use
    /// 0x0B, which ``init(wireValue:)`` also accepts.
    case ack = 0x0D

    /// The type code Rizzo's PGMCC code and tcpdump use for ACK.
    public static let legacyACKCode: UInt8 = 0x0B

    /// Maps a wire type nibble, accepting both ACK codes seen in the wild.
    public init?(wireValue: UInt8) {
        if wireValue == Self.legacyACKCode {
            self = .ack
        } else {
            self.init(rawValue: wireValue)
        }
    }

    /// Upstream packets (receiver towards source) carry the data-source port as their destination port.
    public var isUpstream: Bool {
        switch self {
        case .nak, .nnak, .spmr, .polr, .ack: true
        case .spm, .poll, .odata, .rdata, .ncf: false
        }
    }

    /// The RFC's name, as tshark and tcpdump print it.
    public var description: String {
        switch self {
        case .spm: "SPM"
        case .poll: "POLL"
        case .polr: "POLR"
        case .odata: "ODATA"
        case .rdata: "RDATA"
        case .nak: "NAK"
        case .nnak: "NNAK"
        case .ncf: "NCF"
        case .spmr: "SPMR"
        case .ack: "ACK"
        }
    }
}

/// Source Path Message (RFC 3208 §8.1).
public struct SPM: Hashable, Sendable {
    /// SPM_SQN: its own counter, +1 per SPM.
    public var sequence: SequenceNumber
    /// SPM_TRAIL: the transmit window's trailing edge.
    public var trail: SequenceNumber
    /// SPM_LEAD: the transmit window's leading edge (the last ODATA sent).
    public var lead: SequenceNumber
    /// SPM_PATH: the NLA of the interface that last sent this SPM (the source, or the last network element).
    public var path: NLA

    public init(sequence: SequenceNumber, trail: SequenceNumber, lead: SequenceNumber, path: NLA) {
        self.sequence = sequence
        self.trail = trail
        self.lead = lead
        self.path = path
    }
}

/// ODATA or RDATA (RFC 3208 §8.2).
public struct DataPacket: Hashable, Sendable {
    /// The data sequence number (RDATA carries the original ODATA's).
    public var sequence: SequenceNumber
    /// The transmit window's trailing edge when this packet was sent.
    public var trail: SequenceNumber
    /// The TSDU, a slice of the decoded datagram (shares its storage).
    public var payload: ArraySlice<UInt8>

    public init(sequence: SequenceNumber, trail: SequenceNumber, payload: ArraySlice<UInt8>) {
        self.sequence = sequence
        self.trail = trail
        self.payload = payload
    }
}

/// NAK, NNAK and NCF share one layout (RFC 3208 §8.3).
public struct NAK: Hashable, Sendable {
    /// The requested sequence number (a parity NAK: TG_SQN | (count − 1)).
    public var sequence: SequenceNumber
    /// NAK_SRC: the unicast NLA of the original ODATA source (never a network element's).
    public var source: NLA
    /// NAK_GRP: the multicast group.
    public var group: NLA

    public init(sequence: SequenceNumber, source: NLA, group: NLA) {
        self.sequence = sequence
        self.source = source
        self.group = group
    }
}

/// POLL (RFC 3208 §14.7.1).
public struct POLL: Hashable, Sendable {
    public var sequence: SequenceNumber
    /// POLL_ROUND: rounds of one poll share a sequence number, round 0 first.
    public var round: UInt16
    /// POLL_S_TYPE: 0 general, 1 DLR.
    public var subtype: UInt16
    /// POLL_PATH: the interface the poll was sent on.
    public var path: NLA
    /// POLL_BO_IVL in microseconds.
    public var backoffInterval: UInt32
    /// POLL_RAND.
    public var random: UInt32
    /// POLL_MASK: a child replies when `(nodeID ^ random) & mask == 0`.
    public var mask: UInt32

    public static let generalSubtype: UInt16 = 0
    public static let dlrSubtype: UInt16 = 1

    public init(
        sequence: SequenceNumber, round: UInt16, subtype: UInt16, path: NLA, backoffInterval: UInt32,
        random: UInt32, mask: UInt32
    ) {
        self.sequence = sequence
        self.round = round
        self.subtype = subtype
        self.path = path
        self.backoffInterval = backoffInterval
        self.random = random
        self.mask = mask
    }
}

/// POLR, the reply to a POLL (RFC 3208 §14.7.2).
public struct POLR: Hashable, Sendable {
    public var sequence: SequenceNumber
    public var round: UInt16

    public init(sequence: SequenceNumber, round: UInt16) {
        self.sequence = sequence
        self.round = round
    }
}

/// PGMCC ACK as OpenPGM sends it (not in RFC 3208; draft-ietf-rmt-bb-pgmcc-03 gives only its content).
public struct ACK: Hashable, Sendable {
    /// RX_MAX: the highest sequence number received.
    public var receivedMaximum: SequenceNumber
    /// Bit 0 (LSB) stands for RX_MAX, bit i for RX_MAX − i; set when received.
    public var bitmap: UInt32

    public init(receivedMaximum: SequenceNumber, bitmap: UInt32) {
        self.receivedMaximum = receivedMaximum
        self.bitmap = bitmap
    }
}
