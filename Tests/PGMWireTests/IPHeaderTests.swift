import PGMWire
import Testing

@Suite("IPv4 and IPv6 headers")
struct IPHeaderTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws -> IPv4Header {
        try bytes.withUnsafeBytes { try IPv4Header(decoding: $0) }
    }

    static func decodeError(_ bytes: [UInt8]) -> IPHeaderError? {
        do {
            _ = try decode(bytes)
            return nil
        } catch {
            return error as? IPHeaderError
        }
    }

    static func checksumHolds(_ header: [UInt8]) -> Bool {
        header.withUnsafeBytes { PGMChecksum.fold(PGMChecksum.partialSum($0)) == 0xFFFF }
    }

    /// Headers as the kernel wrote them on the wire (checksums its own): an OpenPGM SPM from the capture in
    /// shared/testdata (no options, don't fragment), an SPM of pgm-source with Router Alert from a native lab
    /// capture, and an IGMP report with Router Alert, TOS 0xc0 and TTL 1 from the same capture.
    @Test(arguments: [
        ("450000386f7340001071450dc6120001efc00001", false, 0x6F73 as UInt16, true, 16 as UInt8, 113 as UInt8),
        ("4600005c3b510000107122fec612010aefc0000194040000", true, 0x3B51, false, 16, 113),
        ("46c000280000400001023ce6c6120101e000001694040000", true, 0, true, 1, 2),
    ])
    func capturedHeadersDecodeAndEncodeByteForByte(
        hex: String, routerAlert: Bool, identification: UInt16, dontFragment: Bool, ttl: UInt8, protocolNumber: UInt8
    ) throws {
        let wire = Self.bytes(hex)
        let header = try Self.decode(wire)
        #expect(header.headerLength == wire.count)
        #expect(header.totalLength == Int(wire[2]) << 8 | Int(wire[3]))
        #expect(header.typeOfService == wire[1])
        #expect(header.identification == identification)
        #expect(header.dontFragment == dontFragment && !header.moreFragments && header.fragmentOffset == 0)
        #expect(header.timeToLive == ttl)
        #expect(header.protocolNumber == protocolNumber)
        #expect(header.routerAlert == routerAlert)
        #expect(header.source.rawValue >> 16 == 0xC612)  // 198.18.x.x
        #expect(header.checksum == UInt16(wire[10]) << 8 | UInt16(wire[11]))
        #expect(wire.withUnsafeBytes { IPv4Header.checksum(of: $0) } == header.checksum)
        var encoded: [UInt8] = []
        header.encode(into: &encoded)
        #expect(encoded == wire)
    }

    @Test func theDriversHeaderLeavesTheChecksumToTheKernel() {
        var buffer: [UInt8] = [0xEE]
        IPv4Header(
            source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(239, 192, 0, 1), protocolNumber: 113,
            timeToLive: 16, payloadLength: 100, routerAlert: true
        ).encode(into: &buffer, computingChecksum: false)
        #expect(buffer == [0xEE] + Self.bytes("4600007c0000000010710000c6120001efc0000194040000"))
    }

    @Test func randomHeadersRoundTripWithAValidChecksum() throws {
        var random = RandomPackets(seed: 3208)
        for _ in 0..<2000 {
            var header = IPv4Header(
                source: IPv4Address(rawValue: random.u32()), destination: IPv4Address(rawValue: random.u32()),
                protocolNumber: random.u8(), timeToLive: random.u8(), payloadLength: random.int(65_000),
                routerAlert: random.bool())
            header.typeOfService = random.u8()
            header.identification = random.u16()
            header.dontFragment = random.bool()
            header.moreFragments = random.bool()
            header.fragmentOffset = random.int(8192) * 8
            var encoded: [UInt8] = []
            header.encode(into: &encoded)
            #expect(Self.checksumHolds(encoded))
            var decoded = try Self.decode(encoded)
            header.checksum = decoded.checksum
            #expect(decoded == header)
            decoded.checksum = 0x1234  // re-encoding computes it again
            var again: [UInt8] = []
            decoded.encode(into: &again)
            #expect(again == encoded)
        }
    }

    /// One minimal bad header per error. `base` is a valid 20-byte header (total length 20).
    @Test func everyMalformedFormHasItsError() {
        let base = Self.bytes("45000014000040001071" + "0000" + "c6120001efc00001")
        #expect(Self.decodeError(base) == nil)
        #expect(Self.decodeError(Array(base[..<19])) == .truncated(needed: 20, available: 19))
        #expect(Self.decodeError([0x65] + base.dropFirst()) == .unsupportedVersion(6))
        #expect(Self.decodeError([0x44] + base.dropFirst()) == .headerLengthTooShort(16))
        #expect(Self.decodeError([0x46] + base.dropFirst()) == .truncated(needed: 24, available: 20))
        var shortTotal = base
        shortTotal[3] = 19
        #expect(Self.decodeError(shortTotal) == .totalLengthBelowHeader(total: 19, header: 20))

        func withOptions(_ options: [UInt8]) -> [UInt8] {
            var header = base
            header[0] = 0x40 | UInt8(5 + options.count / 4)
            header[3] = UInt8(20 + options.count)
            return header + options
        }
        #expect(Self.decodeError(withOptions([1, 1, 1, 0x07])) == .optionWithoutLength(type: 0x07))
        #expect(Self.decodeError(withOptions([0x44, 1, 0, 0])) == .optionLength(type: 0x44, length: 1))
        #expect(Self.decodeError(withOptions([0x82, 9, 0, 0, 0, 0, 0, 0])) == .optionLength(type: 0x82, length: 9))
        // End-of-list stops the walk: what follows it is padding, not options.
        #expect(Self.decodeError(withOptions([0, 0x44, 1, 0])) == nil)
        // Router Alert met before a malformed option stays noted (a capture reports both).
        var header = withOptions([0x94, 4, 0, 0, 0x07, 1, 0, 0])
        #expect(Self.decodeError(header) == .optionLength(type: 0x07, length: 1))
        header.withUnsafeBytes { raw in
            guard var fixed = try? IPv4Header(decodingFixedPart: raw) else {
                Issue.record("fixed part did not decode")
                return
            }
            #expect(!fixed.routerAlert)
            #expect(throws: IPHeaderError.self) { try fixed.decodeOptions(raw) }
            #expect(fixed.routerAlert)
        }
        header[3] = 0  // the fixed part does not check the total length; init(decoding:) does
        #expect(header.withUnsafeBytes { (try? IPv4Header(decodingFixedPart: $0)) != nil })
        #expect(Self.decodeError(header) == .totalLengthBelowHeader(total: 0, header: 28))
    }

    static let linkLocal = IPv6Address(high: 0xFE80_0000_0000_0000, low: 1)
    static let group = IPv6Address(high: 0xFF0E_0000_0000_0000, low: 0x42)

    static func walk(_ packet: [UInt8]) throws -> (IPv6Header, IPv6ExtensionHeaders) {
        try packet.withUnsafeBytes { raw in
            let header = try IPv6Header(decoding: raw)
            var chain = IPv6ExtensionHeaders()
            try chain.decode(raw, nextHeader: header.nextHeader)
            return (header, chain)
        }
    }

    /// The fixed header of RFC 8200 §3 written out by hand, with a hop-by-hop Router Alert (RFC 2711 §2.1).
    @Test func ipv6KnownAnswer() throws {
        var header = IPv6Header(
            source: Self.linkLocal, destination: Self.group, nextHeader: 113, hopLimit: 64, payloadLength: 3)
        header.trafficClass = 0xB8
        header.flowLabel = 0x12345
        var encoded: [UInt8] = []
        header.encode(into: &encoded, routerAlert: true)
        let expected =
            [0x6B, 0x81, 0x23, 0x45, 0, 11, 0, 64] + [0xFE, 0x80] + [UInt8](repeating: 0, count: 13) + [1]
            + [0xFF, 0x0E] + [UInt8](repeating: 0, count: 13) + [0x42] + [113, 0, 5, 2, 0, 0, 1, 0]
        #expect(encoded == expected)
        let (decoded, chain) = try Self.walk(encoded + [1, 2, 3])
        header.payloadLength = 11
        header.nextHeader = 0
        #expect(decoded == header)
        #expect(chain.protocolNumber == 113 && chain.headerLength == 48 && chain.routerAlert && chain.fragment == nil)

        var plain: [UInt8] = []
        IPv6Header(source: Self.linkLocal, destination: Self.group, nextHeader: 17, hopLimit: 1, payloadLength: 0)
            .encode(into: &plain)
        let (_, direct) = try Self.walk(plain)
        #expect(direct.protocolNumber == 17 && direct.headerLength == 40 && !direct.routerAlert)
    }

    static func packet(_ first: UInt8, _ extensions: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        IPv6Header(
            source: linkLocal, destination: group, nextHeader: first, hopLimit: 1, payloadLength: extensions.count
        ).encode(into: &bytes)
        return bytes + extensions
    }

    @Test func ipv6ExtensionChains() throws {
        // Destination options (8 bytes), then authentication (length 1: (1 + 2) × 4 = 12 bytes), then PGM.
        let chained = try Self.walk(
            Self.packet(60, [51, 0, 1, 4, 0, 0, 0, 0] + [113, 1, 0, 0] + [UInt8](repeating: 0, count: 8)))
        #expect(chained.1.protocolNumber == 113 && chained.1.headerLength == 60 && !chained.1.routerAlert)
        // A fragment header with offset 16 and more fragments: the packet is a fragment of UDP.
        let fragment = try Self.walk(Self.packet(44, [17, 0, 0x00, 0x11, 0xDE, 0xAD, 0xBE, 0xEF]))
        #expect(fragment.1.fragment == .init(identification: 0xDEAD_BEEF, offset: 16, moreFragments: true))
        #expect(fragment.1.protocolNumber == 17 && fragment.1.headerLength == 48)
        // An atomic fragment (offset 0, no more) is walked over like any extension header.
        let atomic = try Self.walk(Self.packet(44, [113, 0, 0, 0, 1, 2, 3, 4]))
        #expect(atomic.1.fragment == nil && atomic.1.protocolNumber == 113 && atomic.1.headerLength == 48)
    }

    @Test func ipv6MalformedForms() {
        func error(_ packet: [UInt8]) -> IPHeaderError? {
            do {
                _ = try Self.walk(packet)
                return nil
            } catch {
                return error as? IPHeaderError
            }
        }
        let valid = Self.packet(113, [])
        #expect(error(Array(valid[..<39])) == .truncated(needed: 40, available: 39))
        #expect(error([0x45] + valid.dropFirst()) == .unsupportedVersion(4))
        #expect(error(Self.packet(0, [113, 0, 5, 2])) == .truncated(needed: 48, available: 44))
        #expect(error(Self.packet(60, [113, 1, 0, 0, 0, 0, 0, 0])) == .truncated(needed: 56, available: 48))
        let seventeen = (0..<17).flatMap { _ in [60 as UInt8, 0, 1, 4, 0, 0, 0, 0] }
        #expect(error(Self.packet(60, seventeen)) == .tooManyExtensionHeaders(limit: 16))
        // A Router Alert met before the chain breaks off stays noted.
        var chain = IPv6ExtensionHeaders()
        Self.packet(0, [60, 0, 5, 2, 0, 0, 1, 0, 113, 3]).withUnsafeBytes { raw in
            #expect(throws: IPHeaderError.truncated(needed: 56, available: 50)) {
                try chain.decode(raw, nextHeader: 0)
            }
        }
        #expect(chain.routerAlert)
    }
}
