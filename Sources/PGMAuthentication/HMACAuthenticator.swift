import Crypto
import FoundationEssentials
public import PGMWire

/// OPT_AUTH's MAC (Docs/key.md): HMAC-SHA-256 over the covered bytes (``PacketAuthentication``), the first 16
/// bytes of it as the tag.
public struct HMACAuthenticator: PacketAuthenticator {
    public let keyID: UInt32
    /// HMAC set up with the key once (its inner and outer pads hashed); each tag starts from a copy.
    private let keyed: Keyed

    public init(key: AuthenticationKey) {
        let symmetric = SymmetricKey(data: key.bytes)
        keyed = Keyed(mac: HMAC<SHA256>(key: symmetric))
        let label = Array("swift-pgm OPT_AUTH key ID".utf8)
        let identifier = HMAC<SHA256>.authenticationCode(for: label, using: symmetric)
        keyID = identifier.withUnsafeBytes { UInt32(bigEndianBytes: $0, at: 0) }
    }

    public func tag(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Option.Authentication.Tag {
        var mac = keyed.mac
        mac.update(data: header)
        if !payload.isEmpty { mac.update(data: payload) }
        return mac.finalize().withUnsafeBytes { Option.Authentication.Tag(prefixOf: $0) }
    }

    /// The whole HMAC-SHA-256 of `message` under `key`, for known-answer tests (RFC 4231).
    public static func code(key: [UInt8], message: [UInt8]) -> [UInt8] {
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)).withUnsafeBytes { Array($0) }
    }

    /// The keyed HMAC state. Only ever copied, never changed in place: a copy takes its own hash context before its
    /// first update (copy on write), so sharing the original between threads is safe.
    private struct Keyed: @unchecked Sendable {
        let mac: HMAC<SHA256>
    }
}

extension UInt32 {
    fileprivate init(bigEndianBytes bytes: UnsafeRawBufferPointer, at offset: Int) {
        self =
            UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}
