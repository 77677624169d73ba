extension Option {
    /// OPT_AUTH's fields (Docs/key.md): a truncated HMAC-SHA-256 over the packet's covered bytes
    /// (``PacketAuthentication``), and which key made it.
    ///
    /// ```
    ///  0                   1                   2                   3
    ///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |E| Type 0x40   | Length 24     |0 0 0 0 0|F|OPX|U|  reserved   |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                            Key ID                             |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                 Tag: HMAC-SHA-256, first 16 bytes             |
    /// |                              ...                              |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// ```
    /// OPX is 00 and F is 0 ("ignore", RFC 3208 §9): an element that does not know the option forwards it
    /// unchanged, and OpenPGM skips it. Bytes 2 and 3 stay in ``Option/flags`` like any option's.
    public struct Authentication: Hashable, Sendable {
        /// Bytes the option occupies, header included.
        public static let length = 24
        /// Bytes of the tag: half of HMAC-SHA-256's 32, the truncation RFC 4868 uses for IPsec (RFC 2104 §5 asks
        /// for at least half the hash and 80 bits).
        public static let tagLength = 16
        /// Offset of the tag in the option.
        public static let tagOffset = 8

        /// The first four bytes of the key's identifier (HMAC-SHA-256 of a fixed label under the key, so it tells
        /// keys apart without saying anything about them): a peer with another key fails at once, and pgm-dump
        /// can say so.
        public var keyID: UInt32
        public var tag: Tag

        public init(keyID: UInt32, tag: Tag = Tag()) {
            self.keyID = keyID
            self.tag = tag
        }

        /// The key ID as 8 hex digits, as pgm-dump and the programs print it.
        public var keyIDText: String {
            let digits = String(keyID, radix: 16)
            return String(repeating: "0", count: 8 - digits.count) + digits
        }

        /// 128 bits, big-endian halves as on the wire.
        public struct Tag: Hashable, Sendable, CustomStringConvertible {
            public var high: UInt64
            public var low: UInt64

            public init(high: UInt64 = 0, low: UInt64 = 0) {
                self.high = high
                self.low = low
            }

            /// The first 16 of `bytes` (a MAC), big-endian.
            public init(prefixOf bytes: UnsafeRawBufferPointer) {
                precondition(bytes.count >= Authentication.tagLength, "a tag needs 16 bytes")
                var high: UInt64 = 0
                var low: UInt64 = 0
                for index in 0..<8 {
                    high = high << 8 | UInt64(bytes[index])
                    low = low << 8 | UInt64(bytes[index + 8])
                }
                self.init(high: high, low: low)
            }

            /// Compares in constant time (no early exit on the first differing byte).
            public func matches(_ other: Tag) -> Bool {
                (high ^ other.high) | (low ^ other.low) == 0
            }

            /// 32 hex digits.
            public var description: String { hex(high) + hex(low) }

            private func hex(_ value: UInt64) -> String {
                let digits = String(value, radix: 16)
                return String(repeating: "0", count: 16 - digits.count) + digits
            }
        }
    }
}

/// Whether a packet carries a valid OPT_AUTH for a key.
public enum AuthenticationVerdict: String, Hashable, Sendable, Codable {
    /// The tag is the key's MAC over the covered bytes.
    case valid
    /// There is a tag, but not this key's MAC of these bytes: tampered, forged, or made with another key.
    case invalid
    /// No OPT_AUTH (or one of another length, which is not ours).
    case absent
}

/// What OPT_AUTH covers (Docs/key.md#covered-bytes), so that every implementation computes its MAC over the same
/// bytes: the PGM packet from its common header to the end of its payload, in wire order, except what elements
/// rewrite on the way and what the option cannot cover itself.
///
/// Left out:
/// - the checksum (bytes 6–7), which covers the tag and is computed after it;
/// - the OPT_NETWORK bit (0x02) of the options byte, OPT_LENGTH, and every option's OPT_END bit: derived from the
///   options, and changed by an element that adds or removes one;
/// - OPT_AUTH's tag (its key ID is covered);
/// - SPM: SPM_PATH (NLA_AFI, reserved, address), rewritten by every element (RFC 3208 §7.1), and
///   OPT_NAK_BO_IVL, replaced per interface by elements (§15.2.1);
/// - NAK: NAK_SRC (NLA_AFI, reserved, address), which an element forwarding it in UDP encapsulation sets to the
///   source as it knows it, and OPT_CR, replaced by the element's worst report (Appendix B).
///
/// Everything else is covered, so a host without the key can change nothing else without the tag failing. The
/// left-out fields keep their meaning only on the strength of the covered ones: an SPM with a forged path still
/// needs a covered SPM_SQN newer than any the receiver has seen.
public enum PacketAuthentication {
    /// The most bytes signing adds to a packet: OPT_LENGTH (when it had no options) and OPT_AUTH.
    public static let maximumOverhead = 4 + Option.Authentication.length

    /// Where a packet's covered bytes are, as ``cover(_:into:)`` found them.
    public struct Coverage: Hashable, Sendable {
        /// Bytes written to the output: the covered header, common header to the end of the options.
        public var headerLength: Int
        /// The payload (ODATA/RDATA: the TSDU; empty for other types), covered as it is.
        public var payload: Range<Int>
        /// Offset of the first OPT_AUTH (24 bytes) in the packet, when there is one.
        public var optionOffset: Int?
        /// Offset of that OPT_AUTH in the covered header.
        public var coveredOptionOffset: Int?
    }

    /// Writes the covered bytes of `packet` before its payload into `output` (at least `packet.count` bytes), and
    /// says where the payload and OPT_AUTH are. Returns nil when `packet` is not a well-formed PGM packet (the
    /// decoder rejects it too).
    public static func cover(_ packet: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        -> Coverage?
    {
        let count = packet.count
        guard count >= Packet.commonHeaderLength, output.count >= count,
            let type = PacketType(wireValue: packet[4])
        else { return nil }
        var written = 0
        func copy(_ range: Range<Int>) {
            for index in range {
                output[written] = packet[index]
                written += 1
            }
        }
        func put(_ byte: UInt8) {
            output[written] = byte
            written += 1
        }
        func u16(_ offset: Int) -> Int { Int(packet[offset]) << 8 | Int(packet[offset + 1]) }
        /// The length of an NLA field (AFI, reserved, address) at `offset`.
        func nlaLength(at offset: Int) -> Int? {
            guard offset + 4 <= count else { return nil }
            switch u16(offset) {
            case Int(NLA.AddressFamily.ipv4.rawValue): return 8
            case Int(NLA.AddressFamily.ipv6.rawValue): return 20
            default: return nil
            }
        }
        copy(0..<5)
        put(packet[5] & ~Packet.Flags.network.rawValue)
        put(0)
        put(0)
        copy(8..<16)

        var offset = 16
        /// Covers (or with `skip`, passes over) `length` bytes of the type header.
        func field(_ length: Int?, skip: Bool = false) -> Bool {
            guard let length, offset + length <= count else { return false }
            if !skip { copy(offset..<(offset + length)) }
            offset += length
            return true
        }
        let typeHeader: Bool
        switch type {
        case .spm:
            typeHeader = field(12) && field(nlaLength(at: offset), skip: true)
        case .poll:
            typeHeader = field(8) && field(nlaLength(at: offset)) && field(12)
        case .polr, .odata, .rdata, .ack:
            typeHeader = field(8)
        case .nak:
            typeHeader = field(4) && field(nlaLength(at: offset), skip: true) && field(nlaLength(at: offset))
        case .nnak, .ncf:
            typeHeader = field(4) && field(nlaLength(at: offset)) && field(nlaLength(at: offset))
        case .spmr:
            typeHeader = true
        }
        guard typeHeader else { return nil }

        var optionOffset: Int?
        var coveredOptionOffset: Int?
        if packet[5] & Packet.Flags.optionsPresentBit != 0 {
            guard offset + 4 <= count, packet[offset] == Option.TypeCode.length, packet[offset + 1] == 4 else {
                return nil
            }
            let end = offset + u16(offset + 2)
            guard end <= count else { return nil }
            offset += 4
            while true {
                guard offset + 4 <= end else { return nil }
                let typeByte = packet[offset]
                let length = Int(packet[offset + 1])
                guard length >= 4, offset + length <= end else { return nil }
                let code = typeByte & 0x7F
                if isRewritten(code, in: type) {
                    // Not covered.
                } else if code == Option.TypeCode.authentication && length == Option.Authentication.length
                    && optionOffset == nil
                {
                    optionOffset = offset
                    coveredOptionOffset = written
                    put(code)
                    copy((offset + 1)..<(offset + Option.Authentication.tagOffset))
                    for _ in 0..<Option.Authentication.tagLength { put(0) }
                } else {
                    put(code)
                    copy((offset + 1)..<(offset + length))
                }
                offset += length
                if typeByte & Option.TypeCode.endBit != 0 { break }
            }
            guard offset == end else { return nil }
        }
        return Coverage(
            headerLength: written, payload: offset..<count, optionOffset: optionOffset,
            coveredOptionOffset: coveredOptionOffset)
    }

    /// Options that elements rewrite on packets of `type`, which the MAC therefore leaves out.
    public static func isRewritten(_ optionType: UInt8, in type: PacketType) -> Bool {
        switch type {
        case .spm: optionType == Option.TypeCode.nakBackoffInterval
        case .nak: optionType == Option.TypeCode.congestionReport
        case .poll, .polr, .odata, .rdata, .nnak, .ncf, .spmr, .ack: false
        }
    }
}

/// The keyed MAC behind OPT_AUTH, as the socket driver and pgm-dump use it; implemented with HMAC-SHA-256 in
/// `PGMAuthentication`, so that neither PGMWire nor PGMCore imports a cryptography library. PGMWire decides which
/// bytes are covered (``PacketAuthentication``); an implementation only computes tags.
public protocol PacketAuthenticator: Sendable {
    /// The key's identifier, as OPT_AUTH carries it.
    var keyID: UInt32 { get }

    /// The tag of the covered bytes: `header` (as ``PacketAuthentication/cover(_:into:)`` wrote it) followed by
    /// `payload`.
    func tag(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Option.Authentication.Tag
}

extension PacketAuthenticator {
    /// Checks the OPT_AUTH of `packet` (a whole PGM packet, as decoded).
    public func verify(_ packet: UnsafeRawBufferPointer) -> AuthenticationVerdict {
        withUnsafeTemporaryAllocation(byteCount: max(1, packet.count), alignment: 8) { scratch in
            guard let coverage = PacketAuthentication.cover(packet, into: scratch) else { return .invalid }
            guard let option = coverage.optionOffset else { return .absent }
            let carried = Option.Authentication.Tag(
                prefixOf: UnsafeRawBufferPointer(rebasing: packet[(option + Option.Authentication.tagOffset)...]))
            guard UInt32(bigEndianBytes: packet, at: option + 4) == keyID else { return .invalid }
            let computed = tag(
                header: UnsafeRawBufferPointer(rebasing: scratch[0..<coverage.headerLength]),
                payload: UnsafeRawBufferPointer(rebasing: packet[coverage.payload]))
            return computed.matches(carried) ? .valid : .invalid
        }
    }

    /// Fills the OPT_AUTH of `packet` (an encoded PGM packet that carries one) with this key's ID and tag. The
    /// checksum is not touched: compute it afterwards. Returns false when there is no OPT_AUTH to fill.
    @discardableResult
    public func sign(_ packet: UnsafeMutableRawBufferPointer) -> Bool {
        let bytes = UnsafeRawBufferPointer(packet)
        return withUnsafeTemporaryAllocation(byteCount: max(1, packet.count), alignment: 8) { scratch in
            guard let coverage = PacketAuthentication.cover(bytes, into: scratch),
                let option = coverage.optionOffset, let covered = coverage.coveredOptionOffset
            else { return false }
            // The key ID is covered: write it (in the packet and in its covered copy) before computing the tag.
            let id = keyID
            for index in 0..<4 {
                let byte = UInt8(truncatingIfNeeded: id >> (24 - 8 * index))
                packet[option + 4 + index] = byte
                scratch[covered + 4 + index] = byte
            }
            let computed = tag(
                header: UnsafeRawBufferPointer(rebasing: scratch[0..<coverage.headerLength]),
                payload: UnsafeRawBufferPointer(rebasing: bytes[coverage.payload]))
            let tagStart = option + Option.Authentication.tagOffset
            for index in 0..<8 {
                packet[tagStart + index] = UInt8(truncatingIfNeeded: computed.high >> (56 - 8 * index))
                packet[tagStart + 8 + index] = UInt8(truncatingIfNeeded: computed.low >> (56 - 8 * index))
            }
            return true
        }
    }
}

extension UInt32 {
    init(bigEndianBytes bytes: UnsafeRawBufferPointer, at offset: Int) {
        self =
            UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}
