import PGMWire
import Testing

/// OPT_AUTH as a codec value, and the covered bytes (`PacketAuthentication`), with a stand-in MAC: every byte it
/// is given changes its tag, which is all these tests need (the real HMAC has its own tests in
/// PGMAuthenticationTests).
@Suite struct AuthenticationCodingTests {
    /// Two FNV-1a hashes of the covered bytes, seeded with the key.
    struct StandInAuthenticator: PacketAuthenticator {
        var keyID: UInt32 = 0x1A2B_3C4D
        var key: UInt64 = 0x5EC2_E700_0000_0001

        func tag(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Option.Authentication.Tag {
            var high: UInt64 = 0xCBF2_9CE4_8422_2325 ^ key
            var low: UInt64 = 0x8422_2325_CBF2_9CE4 &+ key
            for byte in header + [0xFF] + payload {
                high = (high ^ UInt64(byte)) &* 0x100_0000_01B3
                low = (low ^ UInt64(byte)) &* 0x100_0000_01B3 &+ 1
            }
            return Option.Authentication.Tag(high: high, low: low)
        }
    }

    static let tsi = TSI(gsi: GSI(rawValue: 0x0102_0304_0506), sourcePort: 4000)
    static let source = NLA.ipv4(IPv4Address(198, 18, 0, 1))
    static let element = NLA.ipv4(IPv4Address(198, 18, 1, 1))
    static let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))

    static func spm(options: [Option] = [Option(.nakBackoffInterval(microseconds: 50_000, pollSequence: .init(0)))])
        -> Packet
    {
        Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: .required(by: options),
            body: .spm(SPM(sequence: .init(7), trail: .init(100), lead: .init(120), path: source)), options: options)
    }

    static func odata(_ text: String = "covered payload") -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .odata(DataPacket(sequence: .init(121), trail: .init(100), payload: Array(text.utf8)[...])),
            options: [Option(.fragment(.init(firstSequence: .init(121), offset: 0, apduLength: 15)))])
    }

    static func nak() -> Packet {
        let report = Option.CongestionReport(
            kinds: .receiverWorstPath, lead: .init(120), receiverWorstPath: 300, worstReceiver: element)
        return Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: .network,
            body: .nak(NAK(sequence: .init(110), source: source, group: group)),
            options: [Option(.nakList([.init(111), .init(113)])), Option(.congestionReport(report))])
    }

    static func ncf() -> Packet {
        let options = [Option(.nakBackoffInterval(microseconds: 20_000, pollSequence: .init(0)))]
        return Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: .required(by: options),
            body: .ncf(NAK(sequence: .init(110), source: source, group: group)), options: options)
    }

    /// Encodes and signs as the driver does: OPT_AUTH appended, tag, then checksum.
    static func signed(_ packet: Packet, with authenticator: some PacketAuthenticator = StandInAuthenticator())
        -> [UInt8]
    {
        var bytes: [UInt8] = []
        packet.encode(
            into: &bytes, appendingAuthentication: .init(keyID: authenticator.keyID), checksum: false)
        #expect(bytes.withUnsafeMutableBytes { authenticator.sign($0) })
        PGMChecksum.fill(&bytes, packetAt: 0)
        return bytes
    }

    static func verdict(_ bytes: [UInt8], _ authenticator: some PacketAuthenticator = StandInAuthenticator())
        -> AuthenticationVerdict
    {
        bytes.withUnsafeBytes { authenticator.verify($0) }
    }

    @Test func theOptionHasItsLayoutAndRoundTrips() throws {
        let option = Option(
            .authentication(
                .init(keyID: 0xDEAD_BEEF, tag: .init(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)))
        )
        let packet = Packet(tsi: Self.tsi, dataDestinationPort: 7500, body: .spmr, options: [option])
        let bytes = packet.encoded()
        // OPT_LENGTH, then OPT_AUTH with the END bit, OPX 00 (ignore), F 0, U 0.
        #expect(Array(bytes[16..<20]) == [0x00, 4, 0, 28])
        #expect(
            Array(bytes[20...])
                == [0xC0, 24, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF] + Array(1...16))
        #expect(bytes[5] & 0x02 == 0, "not network-significant")
        #expect(option.flags.unknownOptionAction == Option.Flags.opxIgnore)
        let decoded = try Packet(decoding: bytes)
        #expect(decoded == packet)
        #expect(option.encodedLength == Option.Authentication.length)
        #expect(Option.Authentication(keyID: 0xAB).keyIDText == "000000ab")
        #expect(
            Option.Authentication.Tag(high: 1, low: 0xFF).description == "0000000000000001" + "00000000000000ff")
    }

    /// Type 0x40 with another length is someone else's option: kept byte for byte as unknown.
    @Test func anotherLengthOfTheTypeStaysUnknown() throws {
        let option = Option(
            .unknown(type: Option.TypeCode.authentication, body: [1, 2, 3, 4]), flags: .init(byte3: 0x7F))
        let packet = Packet(tsi: Self.tsi, dataDestinationPort: 7500, body: .spmr, options: [option])
        let decoded = try Packet(decoding: packet.encoded())
        #expect(decoded == packet)
        #expect(Self.verdict(packet.encoded()) == .absent)
    }

    @Test func appendingAnOptionEncodesAsIfItWereTheLast() throws {
        let extra = Option.Authentication(keyID: 9, tag: .init(high: 3, low: 4))
        for packet in [Self.spm(), Self.spm(options: []), Self.odata(), Self.nak(), Self.ncf()] {
            var appended: [UInt8] = [0xAA]
            packet.encode(into: &appended, appendingAuthentication: extra, checksum: true)
            var listed = packet
            listed.options.append(Option(.authentication(extra)))
            #expect(Array(appended.dropFirst()) == listed.encoded())
            #expect(packet.encodedLength(appendingAuthentication: extra) == listed.encodedLength)
            #expect(packet.encodedLength(appendingAuthentication: nil) == packet.encodedLength)
            var unchecked: [UInt8] = []
            packet.encode(into: &unchecked, appendingAuthentication: extra, checksum: false)
            #expect(unchecked[6] == 0 && unchecked[7] == 0)
            PGMChecksum.fill(&unchecked, packetAt: 0)
            #expect(unchecked == listed.encoded())
        }
    }

    @Test func signedPacketsVerifyAndUnsignedOnesAreAbsent() throws {
        for packet in [Self.spm(), Self.spm(options: []), Self.odata(), Self.nak(), Self.ncf()] {
            let bytes = Self.signed(packet)
            #expect(try Packet(decoding: bytes).options.last?.typeCode == Option.TypeCode.authentication)
            #expect(Self.verdict(bytes) == .valid, "\(packet.body.type)")
            #expect(Self.verdict(packet.encoded()) == .absent)
            #expect(Self.verdict(bytes, StandInAuthenticator(keyID: 0x1A2B_3C4D, key: 2)) == .invalid, "another key")
            #expect(Self.verdict(bytes, StandInAuthenticator(keyID: 0x1A2B_3C4E)) == .invalid, "another key ID")
        }
    }

    /// Every single-bit change that still decodes fails (the tag's own bits too), except in the fields left out of
    /// the MAC: the checksum, the OPT_NETWORK and END bits, the SPM's path and OPT_NAK_BO_IVL, the NAK's NAK_SRC
    /// and OPT_CR (all but their type bytes, which make them other options).
    @Test(arguments: ["spm", "odata", "nak", "ncf"])
    func everyCoveredBitMatters(kind: String) throws {
        let packet: Packet
        var excluded: Set<Int> = [6, 7]
        switch kind {
        case "spm":
            packet = Self.spm()
            excluded.formUnion(28..<36)  // SPM_PATH NLA
            excluded.formUnion(41..<52)  // OPT_NAK_BO_IVL after its type byte (OPT_LENGTH at 36)
        case "odata":
            packet = Self.odata()
        case "nak":
            packet = Self.nak()
            excluded.formUnion(20..<28)  // NAK_SRC NLA
            excluded.formUnion(53..<76)  // OPT_CR after its type byte (OPT_LENGTH at 36, NAK_LIST 40..<52)
        default:
            packet = Self.ncf()
        }
        let bytes = Self.signed(packet)
        let tag = try #require(
            bytes.withUnsafeBytes { raw in
                withUnsafeTemporaryAllocation(byteCount: raw.count, alignment: 8) {
                    PacketAuthentication.cover(raw, into: $0)?.optionOffset
                }
            })
        var checked = 0
        for index in bytes.indices {
            for bit in 0..<8 {
                var changed = bytes
                changed[index] ^= 1 << bit
                // The OPT_NETWORK bit is derived, so not covered.
                let isNetworkBit = index == 5 && bit == 1
                guard (try? Packet(decoding: changed, checksum: .ignore)) != nil else { continue }
                checked += 1
                // The END bit of the last option is derived, so not covered either.
                let isEndBit = index == tag && bit == 7
                let valid = Self.verdict(changed) == .valid
                // A changed type byte makes another option: an excluded one's is covered, and OPT_AUTH's leaves the
                // packet without a tag (absent), which is rejected like an invalid one.
                #expect(
                    valid == (excluded.contains(index) || isNetworkBit || isEndBit),
                    "\(kind) byte \(index) bit \(bit)")
            }
        }
        #expect(checked > 8 * 40)
    }

    /// What an element does to an SPM (RFC 3208 §7.1, §15.2.1) and to a NAK it forwards (§9.3.3, Appendix B) keeps
    /// the source's or receiver's tag valid, without the element's key.
    @Test func whatElementsRewriteKeepsTagsValid() throws {
        var spm = try Packet(decoding: Self.signed(Self.spm()))
        guard case .spm(var body) = spm.body else { throw Failure() }
        body.path = Self.element
        spm.body = .spm(body)
        spm.options.removeAll { if case .nakBackoffInterval = $0.value { true } else { false } }
        #expect(Self.verdict(spm.encoded()) == .valid, "tuning off: OPT_NAK_BO_IVL removed, OPT_NETWORK cleared")
        spm.options.append(Option(.nakBackoffInterval(microseconds: 12_345, pollSequence: .init(0))))
        spm.flags = .required(by: spm.options)
        #expect(Self.verdict(spm.encoded()) == .valid, "another OPT_NAK_BO_IVL appended after OPT_AUTH")

        var nak = try Packet(decoding: Self.signed(Self.nak()))
        guard case .nak(var nakBody) = nak.body else { throw Failure() }
        nakBody.source = Self.element
        nak.body = .nak(nakBody)
        nak.options.removeAll { if case .congestionReport = $0.value { true } else { false } }
        #expect(Self.verdict(nak.encoded()) == .valid)
        let report = Option.CongestionReport(
            kinds: .receiverWorstPath, lead: .init(121), receiverWorstPath: 9_000, worstReceiver: Self.source)
        nak.options.append(Option(.congestionReport(report)))
        #expect(Self.verdict(nak.encoded()) == .valid)

        // The same rewrites of an NCF (never forwarded) or of covered fields fail.
        var ncf = try Packet(decoding: Self.signed(Self.ncf()))
        ncf.options.removeAll { if case .nakBackoffInterval = $0.value { true } else { false } }
        #expect(Self.verdict(ncf.encoded()) == .invalid)
        nak.options.removeAll { if case .nakList = $0.value { true } else { false } }
        #expect(Self.verdict(nak.encoded()) == .invalid)
        var odata = try Packet(decoding: Self.signed(Self.odata()))
        odata.body = Self.odata("covered pAyload").body
        #expect(Self.verdict(odata.encoded()) == .invalid)
    }

    @Test func malformedBytesCoverNothing() {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { scratch in
            let short: [UInt8] = Array(repeating: 0, count: 10)
            #expect(short.withUnsafeBytes { PacketAuthentication.cover($0, into: scratch) } == nil)
            var truncated = Self.spm().encoded()
            truncated.removeLast(6)
            #expect(truncated.withUnsafeBytes { PacketAuthentication.cover($0, into: scratch) } == nil)
        }
    }

    struct Failure: Error {}
}

extension AuthenticationCodingTests {
    /// `verify` reads bytes no decoder has checked (pgm-dump, and anyone calling it directly): truncations and
    /// random changes of signed packets, and random bytes, give a verdict and never trap; only the untouched packet
    /// is valid.
    @Test(arguments: [1, 2, 3])
    func arbitraryBytesNeverTrap(seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        let signed = [Self.spm(), Self.odata(), Self.nak(), Self.ncf()].map { Self.signed($0) }
        for original in signed {
            #expect(Self.verdict(original) == .valid)
            for length in 0..<original.count {
                #expect(Self.verdict(Array(original.prefix(length))) != .valid, "\(length) bytes")
            }
            for _ in 0..<500 {
                var changed = original
                for _ in 0..<(1 + Int(next() % 4)) {
                    changed[Int(next() % UInt64(changed.count))] = UInt8(truncatingIfNeeded: next())
                }
                _ = Self.verdict(changed)
            }
        }
        for _ in 0..<500 {
            let bytes = (0..<Int(next() % 200)).map { _ in UInt8(truncatingIfNeeded: next()) }
            #expect(Self.verdict(bytes) != .valid)
        }
    }
}
