/// Why a datagram is not a well-formed PGM packet. Every rejection of untrusted bytes is one of these.
public enum PacketDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The part of a packet that ran out of bytes.
    public enum Field: String, Hashable, Sendable {
        case commonHeader = "common header"
        case typeHeader = "type header"
        case optionHeader = "option header"
        case optionBody = "option body"
        case networkAddress = "NLA"
        case payload = "payload"
    }

    /// A datagram is complete: fewer bytes than a field needs means the packet is malformed.
    case truncated(field: Field, needed: Int, available: Int)
    /// Version bits (7-6 of the type byte) or reserved bits (5-4) are not zero.
    case unsupportedVersion(typeByte: UInt8)
    case unknownType(UInt8)
    /// The stored checksum disagrees with the packet's bytes.
    case badChecksum(stored: UInt16, computed: UInt16)
    /// ODATA and RDATA must carry a checksum (RFC 3208 §8); 0x0000 means none.
    case missingChecksum
    /// An NLA_AFI other than 1 (IPv4) or 2 (IPv6).
    case unsupportedAddressFamily(UInt16)
    /// The options-present flag is set but the chain does not start with a 4-byte OPT_LENGTH.
    case missingOptionLength
    /// OPT_LENGTH's total disagrees with where the chain's OPT_END option actually ends.
    case optionTotalMismatch(declared: Int, actual: Int)
    /// An option whose length is 0, below or above what its type allows, or runs past the option area.
    case invalidOptionLength(type: UInt8, length: Int)
    /// More than ``Option/maximumCount`` options.
    case tooManyOptions
    /// The option area ends without an option carrying the OPT_END bit.
    case missingOptionEnd
    /// The TSDU length field disagrees with the bytes after the header and options.
    case tsduLengthMismatch(declared: Int, available: Int)
    /// A packet type that carries no payload declares one (TSDU length not 0).
    case unexpectedPayload(length: Int)
    /// An option whose fields are inconsistent (for example an NLA that does not fit its length).
    case malformedOption(type: UInt8, reason: String)

    public var description: String {
        switch self {
        case .truncated(let field, let needed, let available):
            "truncated \(field.rawValue): needs \(needed) bytes, \(available) left"
        case .unsupportedVersion(let byte): "version or reserved bits set in type byte 0x\(hexByte(byte))"
        case .unknownType(let type): "unknown packet type 0x\(hexByte(type))"
        case .badChecksum(let stored, let computed):
            "bad checksum 0x\(String(stored, radix: 16)) (computed 0x\(String(computed, radix: 16)))"
        case .missingChecksum: "data packet without checksum"
        case .unsupportedAddressFamily(let afi): "unsupported address family \(afi)"
        case .missingOptionLength: "options flag set but no OPT_LENGTH"
        case .optionTotalMismatch(let declared, let actual):
            "OPT_LENGTH says \(declared) bytes of options, chain holds \(actual)"
        case .invalidOptionLength(let type, let length): "option 0x\(hexByte(type)) has invalid length \(length)"
        case .tooManyOptions: "more than \(Option.maximumCount) options"
        case .missingOptionEnd: "option chain without OPT_END"
        case .tsduLengthMismatch(let declared, let available):
            "TSDU length \(declared) but \(available) bytes follow"
        case .unexpectedPayload(let length): "TSDU length \(length) on a packet type without payload"
        case .malformedOption(let type, let reason): "malformed option 0x\(hexByte(type)): \(reason)"
        }
    }
}
