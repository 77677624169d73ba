internal import Glibc
import PGMAuthentication
import PGMWire
import Testing

/// The MAC behind `--key` and its key files.
@Suite struct HMACAuthenticatorTests {
    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)!
        }
    }

    /// RFC 4231 §4.2 and §4.3 (test cases 1 and 2): swift-crypto's HMAC-SHA-256 is the standard one.
    @Test func knownAnswers() {
        #expect(
            HMACAuthenticator.code(key: Array(repeating: 0x0B, count: 20), message: Array("Hi There".utf8))
                == Self.hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
        #expect(
            HMACAuthenticator.code(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
                == Self.hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    }

    /// The tag is the first 16 bytes of HMAC-SHA-256 over the covered header followed by the payload.
    @Test func theTagIsTheTruncatedHMACOfHeaderThenPayload() throws {
        let keyBytes = Array(0..<32).map(UInt8.init)
        let authenticator = HMACAuthenticator(key: try AuthenticationKey(bytes: keyBytes))
        let header = Array("header bytes".utf8)
        let payload = Array("payload bytes".utf8)
        let tag = header.withUnsafeBytes { h in
            payload.withUnsafeBytes { p in authenticator.tag(header: h, payload: p) }
        }
        let full = HMACAuthenticator.code(key: keyBytes, message: header + payload)
        #expect(tag == full.withUnsafeBytes { Option.Authentication.Tag(prefixOf: $0) })
        // The key ID is the HMAC of a fixed label: the same for the same key, different for another.
        let label = HMACAuthenticator.code(key: keyBytes, message: Array("swift-pgm OPT_AUTH key ID".utf8))
        #expect(
            authenticator.keyID == UInt32(label[0]) << 24 | UInt32(label[1]) << 16 | UInt32(label[2]) << 8
                | UInt32(label[3]))
        let other = HMACAuthenticator(key: try AuthenticationKey(bytes: Array(repeating: 7, count: 32)))
        #expect(other.keyID != authenticator.keyID)
    }

    /// One authenticator signs, an authenticator made from the same key file verifies, another key does not.
    @Test func signAndVerifyWithKeys() throws {
        let tsi = TSI(gsi: GSI(rawValue: 0x0A0B_0C0D_0E0F), sourcePort: 5000)
        let packet = Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .odata(
                DataPacket(sequence: .init(9), trail: .init(1), payload: Array(repeating: 0x5A, count: 1400)[...])))
        let key = try AuthenticationKey(bytes: Array(repeating: 0x42, count: 32))
        let signer = HMACAuthenticator(key: key)
        var bytes: [UInt8] = []
        packet.encode(into: &bytes, appendingAuthentication: .init(keyID: 0), checksum: false)
        #expect(bytes.withUnsafeMutableBytes { signer.sign($0) })
        PGMChecksum.fill(&bytes, packetAt: 0)
        #expect(try Packet(decoding: bytes).payload == packet.payload)
        #expect(bytes.withUnsafeBytes { HMACAuthenticator(key: key).verify($0) } == .valid)
        let stranger = HMACAuthenticator(key: try AuthenticationKey(bytes: Array(repeating: 0x43, count: 32)))
        #expect(bytes.withUnsafeBytes { stranger.verify($0) } == .invalid)
        bytes[bytes.count - 1] ^= 1
        #expect(bytes.withUnsafeBytes { signer.verify($0) } == .invalid)
    }

    @Test func keyFiles() throws {
        let hexText = "000102030405060708090a0b0c0d0e0f\n101112131415161718191A1B1C1D1E1F\n"
        #expect(try AuthenticationKey(contents: Array(hexText.utf8)).bytes == Array(0..<32).map(UInt8.init))
        // Not all hex: the bytes as they are.
        let raw: [UInt8] = Array(0..<40).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        #expect(try AuthenticationKey(contents: raw).bytes == raw)
        // An odd number of hex digits is not hex: 33 bytes of text, kept raw.
        let odd = Array("0123456789abcdef0123456789abcdef0".utf8)
        #expect(try AuthenticationKey(contents: odd).bytes == odd)
        #expect(throws: KeyFileError.tooShort(path: nil, bytes: 8)) {
            try AuthenticationKey(contents: Array("0011223344556677".utf8))
        }
        #expect(throws: KeyFileError.tooLong(path: nil)) {
            try AuthenticationKey(bytes: Array(repeating: 1, count: AuthenticationKey.maximumLength + 1))
        }

        let path = "/tmp/pgm-key-test-\(getpid()).key"
        defer { unlink(path) }
        let file = fopen(path, "w")
        try #require(file != nil)
        fputs("  " + hexText, file)
        fclose(file)
        #expect(try AuthenticationKey(file: path).bytes == Array(0..<32).map(UInt8.init))
        let missing = "/tmp/pgm-key-test-\(getpid()).missing"
        #expect {
            try AuthenticationKey(file: missing)
        } throws: { error in
            guard case .unreadable(let named, _) = error as? KeyFileError else { return false }
            return named == missing && "\(error)".contains("cannot read the key file")
        }
        // /dev/zero never ends: refused after a bounded read, not read forever.
        #expect(throws: KeyFileError.tooLong(path: "/dev/zero")) { try AuthenticationKey(file: "/dev/zero") }
    }
}

extension HMACAuthenticatorTests {
    /// The tag is swift-crypto's HMAC-SHA-256, truncated, for keys shorter and longer than SHA-256's 64-byte block
    /// (a long key is hashed first, RFC 2104 §2) and messages of every length around the block boundaries.
    @Test(arguments: [16, 32, 63, 64, 65, 131])
    func matchesSwiftCryptoHMAC(keyLength: Int) throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(keyLength)
        func byte() -> UInt8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let key = (0..<keyLength).map { _ in byte() }
        let authenticator = HMACAuthenticator(key: try AuthenticationKey(bytes: key))
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1500] {
            let message = (0..<length).map { _ in byte() }
            let split = length / 3
            let header = Array(message[..<split])
            let payload = Array(message[split...])
            let tag = header.withUnsafeBytes { h in
                payload.withUnsafeBytes { p in authenticator.tag(header: h, payload: p) }
            }
            let expected = HMACAuthenticator.code(key: key, message: message)
            #expect(tag == expected.withUnsafeBytes { Option.Authentication.Tag(prefixOf: $0) }, "\(length)")
        }
    }
}
