import Crypto
import FoundationEssentials
public import PGMWire

/// OPT_AUTH's MAC (Docs/key.md): HMAC-SHA-256 over the covered bytes (``PacketAuthentication``), the first 16
/// bytes of it as the tag.
///
/// HMAC is built here from swift-crypto's SHA-256 as RFC 2104 §2 defines it, H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)),
/// with both keyed pads hashed once at set-up, rather than with swift-crypto's `HMAC`: its `update(data:)` is
/// generic over `DataProtocol` and, unspecialized across the module boundary, cost about as much per packet as the
/// hashing itself (Tools/bench, 64 B messages). `knownAnswers` and `matchesSwiftCryptoHMAC` in
/// HMACAuthenticatorTests check it against RFC 4231 and swift-crypto's `HMAC<SHA256>`.
public struct HMACAuthenticator: PacketAuthenticator {
    public let keyID: UInt32
    /// SHA-256 after (K ⊕ ipad) and after (K ⊕ opad). Only ever copied, never changed in place: a copy takes its own
    /// context before its first update (copy on write), so sharing these between threads is safe.
    private let pads: Pads

    public init(key: AuthenticationKey) {
        pads = Pads(key: key.bytes)
        let label = Array("swift-pgm OPT_AUTH key ID".utf8)
        let identifier = Self.code(key: key.bytes, message: label)
        keyID =
            UInt32(identifier[0]) << 24 | UInt32(identifier[1]) << 16 | UInt32(identifier[2]) << 8
            | UInt32(identifier[3])
    }

    public func tag(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Option.Authentication.Tag {
        var inner = pads.inner
        inner.update(bufferPointer: header)
        if !payload.isEmpty { inner.update(bufferPointer: payload) }
        var outer = pads.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes { Option.Authentication.Tag(prefixOf: $0) }
    }

    /// The whole HMAC-SHA-256 of `message` under `key` (any length), as swift-crypto computes it: the key ID, and
    /// known-answer tests.
    public static func code(key: [UInt8], message: [UInt8]) -> [UInt8] {
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)).withUnsafeBytes { Array($0) }
    }

    private struct Pads: @unchecked Sendable {
        let inner: SHA256
        let outer: SHA256

        init(key: [UInt8]) {
            // RFC 2104 §2: a key longer than the block is hashed first; then zero-padded to the block.
            var block = key.count > SHA256.blockByteCount ? Array(SHA256.hash(data: key)) : key
            block += Array(repeating: 0, count: SHA256.blockByteCount - block.count)
            var inner = SHA256()
            inner.update(data: block.map { $0 ^ 0x36 })
            var outer = SHA256()
            outer.update(data: block.map { $0 ^ 0x5C })
            self.inner = inner
            self.outer = outer
        }
    }
}
