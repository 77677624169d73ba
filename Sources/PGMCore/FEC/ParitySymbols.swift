public import PGMWire

/// How a transmission group's data packets become Reed–Solomon symbols and parity packets, and back (RFC 3208
/// Appendix A, §11.2 "Variable TSDU length" and "Payload-specific options"). Shared by the source, which encodes,
/// and the receiver, which decodes, so both sides pad, append lengths and encode OPT_FRAGMENT identically.
///
/// - Payloads of different lengths are padded with zeros to the longest and, only then, get their 2-byte TSDU
///   length appended; the parity packets carry OPT_VAR_PKTLEN. The RFC leaves that length's byte order open;
///   OpenPGM writes it in host order, little-endian on every machine it runs on, and so do we, so that its
///   receivers decode our parity and we decode theirs.
/// - OPT_FRAGMENT, when any packet of the group has one, is encoded from the option's byte 3 on (13 bytes: the U /
///   OP_ENCODED_NULL byte and the three fields) into every parity packet, with F / OP_ENCODED set; a packet
///   without one contributes zeros with U set, and a recovered option with U set is dropped.
public struct ParityMember: Hashable, Sendable {
    public var payload: ArraySlice<UInt8>
    public var fragment: Option.Fragment?

    public init(payload: ArraySlice<UInt8>, fragment: Option.Fragment?) {
        self.payload = payload
        self.fragment = fragment
    }
}

/// One parity packet's contents: what goes after the data header, and the options and header flags it needs.
public struct ParityPayload: Hashable, Sendable {
    public var payload: [UInt8]
    /// The FEC-encoded OPT_FRAGMENT, when the group has fragments.
    public var encodedFragment: Option?
    public var variableLength: Bool
}

/// Why a group's parity could not be used; the receiver counts these and keeps waiting for repairs.
public enum ParityDecodingError: Error, Equatable, Sendable {
    /// Parity packets of one group disagree on their length, OPT_VAR_PKTLEN or encoded options.
    case inconsistentParity
    /// Fixed-size parity, but a data packet of the group has another length.
    case lengthMismatch
    /// A recovered TSDU length larger than the parity allows: corrupt parity.
    case badRecoveredLength
    case codec(ReedSolomonError)
}

public enum ParitySymbols {
    /// Bytes of an encoded OPT_FRAGMENT: the option from its byte 3 on.
    static let fragmentSymbolLength = 13
    /// OPT_FRAGMENT's F / OP_ENCODED bit as RFC 3208 §9 places it (byte 2, 0x04); OpenPGM writes 0x08 and
    /// ``Option/Flags/isEncoded`` reads either.
    static let encodedBit: UInt8 = 0x04
    static let encodedNullBit: UInt8 = 0x80

    /// The parity packet `index` of a group. `members` holds k entries: `nil` for positions past a shortened
    /// group's end (zeros to the code, RFC 3208 §11.4). The payloads go to the code in place (shorter ones count
    /// as zero-padded): with variable lengths only the appended 2-byte lengths are encoded apart, since the code
    /// works byte position by byte position.
    public static func encode(
        _ members: [ParityMember?], index: Int, code: ReedSolomonCode
    ) throws(ReedSolomonError) -> ParityPayload {
        var longest = 0
        var shortest = Int.max
        var withFragments = false
        for case let member? in members {
            longest = max(longest, member.payload.count)
            shortest = min(shortest, member.payload.count)
            if member.fragment != nil { withFragments = true }
        }
        let variable = shortest < longest
        var payload = [UInt8](repeating: 0, count: longest + (variable ? 2 : 0))
        if longest > 0 {
            let result: Result<Void, ReedSolomonError> = withPayloads(members) { sources in
                payload.withUnsafeMutableBytes { output in
                    Result { () throws(ReedSolomonError) in
                        try code.encode(
                            parityIndices: [index], sources: sources, length: longest, outputs: [output])
                    }
                }
            }
            try result.get()
        }
        if variable {
            let lengths = members.map { member in
                member.map {
                    [UInt8(truncatingIfNeeded: $0.payload.count), UInt8(truncatingIfNeeded: $0.payload.count >> 8)]
                }
                    ?? []
            }
            let encoded = try code.parity(index: index, of: lengths, length: 2)
            payload[longest] = encoded[0]
            payload[longest + 1] = encoded[1]
        }
        var encodedFragment: Option?
        if withFragments {
            let fragments = members.map { fragmentSymbol($0?.fragment) }
            let bytes = try code.parity(index: index, of: fragments, length: fragmentSymbolLength)
            encodedFragment = option(fromEncoded: bytes)
        }
        return ParityPayload(payload: payload, encodedFragment: encodedFragment, variableLength: variable)
    }

    /// Runs `body` with the members' payloads borrowed in place (an empty buffer for `nil`).
    private static func withPayloads<R>(_ members: [ParityMember?], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        func borrow(_ index: Int, _ buffers: inout [UnsafeRawBufferPointer]) -> R {
            if index == members.count { return body(buffers) }
            guard let member = members[index] else {
                buffers.append(UnsafeRawBufferPointer(start: nil, count: 0))
                return borrow(index + 1, &buffers)
            }
            return member.payload.withUnsafeBytes { bytes in
                buffers.append(bytes)
                return borrow(index + 1, &buffers)
            }
        }
        var buffers: [UnsafeRawBufferPointer] = []
        buffers.reserveCapacity(members.count)
        return borrow(0, &buffers)
    }

    /// One parity packet as a receiver holds it.
    public struct Received: Hashable, Sendable {
        public var payload: ArraySlice<UInt8>
        public var encodedFragment: Option.Fragment?
        /// Byte 3 of the encoded OPT_FRAGMENT (its U bit is parity data too).
        public var encodedFragmentByte3: UInt8
        public var variableLength: Bool

        public init(payload: ArraySlice<UInt8>, options: [Option], variableLength: Bool) {
            self.payload = payload
            self.variableLength = variableLength
            self.encodedFragment = nil
            self.encodedFragmentByte3 = 0
            for option in options {
                if case .fragment(let fragment) = option.value, option.flags.isEncoded {
                    encodedFragment = fragment
                    encodedFragmentByte3 = option.flags.byte3
                }
            }
        }
    }

    /// Recovers a group's missing data packets from any k of its symbols. `members` holds k entries: the data
    /// packets held (`.some`), `nil` for those missing; `beyondEnd` marks positions past a shortened group's end,
    /// known to be zeros. `parity` maps parity index to packet. Returns position → recovered packet.
    public static func decode(
        members: [ParityMember?], beyondEnd: Int, parity: [Int: Received], code: inout ReedSolomonCode
    ) throws(ParityDecodingError) -> [Int: ParityMember] {
        guard let first = parity.values.first else { return [:] }
        let length = first.payload.count
        let variable = first.variableLength
        let withFragments = first.encodedFragment != nil
        for other in parity.values
        where other.payload.count != length || other.variableLength != variable
            || (other.encodedFragment != nil) != withFragments
        {
            throw .inconsistentParity
        }
        let k = members.count
        let end = k - beyondEnd
        var symbols: [Int: [UInt8]] = [:]
        var fragmentSymbols: [Int: [UInt8]] = [:]
        for position in 0..<k {
            guard position < end else {
                symbols[position] = []
                fragmentSymbols[position] = fragmentSymbol(nil)
                continue
            }
            guard let member = members[position] else { continue }
            if !variable && member.payload.count != length { throw .lengthMismatch }
            if variable && member.payload.count + 2 > length { throw .lengthMismatch }
            symbols[position] = symbol(member, length: length, variable: variable)
            fragmentSymbols[position] = fragmentSymbol(member.fragment)
        }
        for (index, packet) in parity {
            symbols[k + index] = Array(packet.payload)
            if let fragment = packet.encodedFragment {
                fragmentSymbols[k + index] = encodedBytes(fragment, byte3: packet.encodedFragmentByte3)
            }
        }
        let recovered: [Int: [UInt8]]
        var recoveredFragments: [Int: [UInt8]] = [:]
        do {
            recovered = try code.recover(symbols: symbols, length: max(length, 1))
            if withFragments {
                recoveredFragments = try code.recover(symbols: fragmentSymbols, length: fragmentSymbolLength)
            }
        } catch {
            throw .codec(error)
        }
        var result: [Int: ParityMember] = [:]
        for (position, bytes) in recovered where position < end {
            var payloadLength = length == 0 ? 0 : bytes.count
            if variable {
                payloadLength = Int(bytes[length - 2]) | Int(bytes[length - 1]) << 8
                guard payloadLength <= length - 2 else { throw .badRecoveredLength }
            }
            var fragment: Option.Fragment?
            if let encoded = recoveredFragments[position], encoded[0] & encodedNullBit == 0 {
                fragment = Option.Fragment(
                    firstSequence: SequenceNumber(uint32(encoded, 1)), offset: uint32(encoded, 5),
                    apduLength: uint32(encoded, 9))
            }
            result[position] = ParityMember(payload: bytes[0..<payloadLength], fragment: fragment)
        }
        return result
    }

    // MARK: Symbols

    private static func symbol(_ member: ParityMember, length: Int, variable: Bool) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        bytes.withUnsafeMutableBytes { buffer in
            member.payload.withUnsafeBytes { source in
                if let base = source.baseAddress, source.count > 0 {
                    buffer.baseAddress!.copyMemory(from: base, byteCount: min(source.count, length))
                }
            }
        }
        if variable {
            bytes[length - 2] = UInt8(truncatingIfNeeded: member.payload.count)
            bytes[length - 1] = UInt8(truncatingIfNeeded: member.payload.count >> 8)
        }
        return bytes
    }

    /// A member's OPT_FRAGMENT from byte 3 on; zeros with U set for a member without one (§11.2).
    private static func fragmentSymbol(_ fragment: Option.Fragment?) -> [UInt8] {
        guard let fragment else { return [encodedNullBit] + [UInt8](repeating: 0, count: 12) }
        return encodedBytes(fragment, byte3: 0)
    }

    private static func encodedBytes(_ fragment: Option.Fragment, byte3: UInt8) -> [UInt8] {
        var bytes = [byte3]
        for value in [fragment.firstSequence.rawValue, fragment.offset, fragment.apduLength] {
            bytes += [
                UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
                UInt8(truncatingIfNeeded: value),
            ]
        }
        return bytes
    }

    private static func option(fromEncoded bytes: [UInt8]) -> Option {
        Option(
            .fragment(
                Option.Fragment(
                    firstSequence: SequenceNumber(uint32(bytes, 1)), offset: uint32(bytes, 5),
                    apduLength: uint32(bytes, 9))),
            flags: Option.Flags(byte2: encodedBit, byte3: bytes[0]))
    }

    private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
}
