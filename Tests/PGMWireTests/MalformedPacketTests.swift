import PGMWire
import Testing

/// One minimal bad input per way a packet can be malformed, each expecting its typed error.
@Suite("Malformed packets")
struct MalformedPacketTests {
    static let gsi = GSI(rawValue: 0x2722_469A_2F37)
    static let source = NLA.ipv4(IPv4Address(198, 18, 0, 1))
    static let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))

    static func spm(options: [Option] = []) -> [UInt8] {
        Packet(
            sourcePort: 4000, destinationPort: 7500, gsi: gsi,
            body: .spm(
                SPM(sequence: SequenceNumber(1), trail: SequenceNumber(0), lead: SequenceNumber(9), path: source)),
            options: options
        ).encoded()
    }

    static func odata(payload: [UInt8] = Array(repeating: 0xAB, count: 50), options: [Option] = []) -> [UInt8] {
        Packet(
            sourcePort: 4000, destinationPort: 7500, gsi: gsi,
            body: .odata(DataPacket(sequence: SequenceNumber(5), trail: SequenceNumber(0), payload: payload[...])),
            options: options
        ).encoded()
    }

    /// Decodes without checksum verification, so structural errors surface on their own.
    func structuralError(_ bytes: [UInt8]) -> PacketDecodingError? {
        do {
            _ = try Packet(decoding: bytes, checksum: .ignore)
            return nil
        } catch {
            return error
        }
    }

    func error(_ bytes: [UInt8]) -> PacketDecodingError? {
        do {
            _ = try Packet(decoding: bytes)
            return nil
        } catch {
            return error
        }
    }

    /// Rewrites the checksum after a mutation, so only the intended defect remains.
    func fixingChecksum(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        bytes[6] = 0
        bytes[7] = 0
        let checksum = PGMChecksum.compute(bytes)
        bytes[6] = UInt8(checksum >> 8)
        bytes[7] = UInt8(checksum & 0xFF)
        return bytes
    }

    @Test func truncatedCommonHeader() {
        #expect(error(Array(Self.spm()[..<15])) == .truncated(field: .commonHeader, needed: 16, available: 15))
    }

    @Test func truncatedTypeHeader() {
        #expect(
            structuralError(Array(Self.spm()[..<20])) == .truncated(field: .typeHeader, needed: 16, available: 4))
    }

    @Test func truncatedNLA() {
        var bytes = Self.spm()
        bytes[28...29] = [0, 2]  // claims IPv6: 16 address bytes, only 4 present
        #expect(structuralError(bytes) == .truncated(field: .networkAddress, needed: 16, available: 4))
    }

    @Test func unknownAddressFamily() {
        var bytes = Self.spm()
        bytes[28...29] = [0, 3]
        #expect(structuralError(bytes) == .unsupportedAddressFamily(3))
    }

    @Test func truncatedOptionHeader() {
        let bytes = Self.spm(options: [Option(.fin)])
        // 36 bytes of SPM, then OPT_LENGTH cut after two bytes.
        #expect(structuralError(Array(bytes[..<38])) == .truncated(field: .optionHeader, needed: 4, available: 2))
        // OPT_LENGTH complete, the first option's header cut.
        #expect(structuralError(Array(bytes[..<42])) == .truncated(field: .optionHeader, needed: 4, available: 2))
    }

    @Test func truncatedOptionBody() {
        let fragment = Option(.fragment(.init(firstSequence: SequenceNumber(1), offset: 0, apduLength: 3000)))
        var bytes = Self.odata(payload: [], options: [fragment])
        bytes.removeLast(8)  // the fragment option claims 16 bytes; 8 are left
        #expect(structuralError(bytes) == .truncated(field: .optionBody, needed: 12, available: 4))
    }

    @Test func optionLengthMissing() {
        var bytes = Self.spm(options: [Option(.fin)])
        bytes[36] = 0x0E  // the first option is not OPT_LENGTH
        #expect(structuralError(bytes) == .missingOptionLength)
        var wrongLength = Self.spm(options: [Option(.fin)])
        wrongLength[37] = 8  // OPT_LENGTH's own length must be 4
        #expect(structuralError(wrongLength) == .missingOptionLength)
    }

    @Test func optionTotalDisagreesWithChain() {
        var bytes = Self.spm(options: [Option(.fin)])
        bytes[39] = 12  // the chain holds 8 bytes
        #expect(structuralError(bytes) == .optionTotalMismatch(declared: 12, actual: 8))
    }

    @Test func optionLengthZero() {
        var bytes = Self.spm(options: [Option(.fin)])
        bytes[41] = 0
        #expect(structuralError(bytes) == .invalidOptionLength(type: 0x0E, length: 0))
    }

    @Test func optionLengthBelowMinimum() {
        let fragment = Option(.fragment(.init(firstSequence: SequenceNumber(1), offset: 0, apduLength: 3000)))
        var bytes = Self.odata(payload: [], options: [fragment])
        bytes[29] = 8  // OPT_FRAGMENT is 16 bytes
        #expect(structuralError(bytes) == .invalidOptionLength(type: 0x01, length: 8))
        var list = Self.spm(options: [Option(.fin)])
        list[40] = 0x82  // OPT_NAK_LIST with no entry
        #expect(structuralError(list) == .invalidOptionLength(type: 0x02, length: 4))
    }

    @Test func optionRunsPastTheEnd() {
        var bytes = Self.spm(options: [Option(.fin)])
        bytes[41] = 40
        #expect(structuralError(bytes) == .truncated(field: .optionBody, needed: 36, available: 0))
    }

    @Test func moreThanSixteenOptions() {
        // 17 OPT_SYN, the last with OPT_END: 4 + 17·4 bytes of options.
        var bytes = Array(Self.spm()[..<36])
        bytes[5] |= 0x01
        bytes += [0x00, 0x04, 0x00, UInt8(4 + 17 * 4)]
        for index in 0..<17 { bytes += [index == 16 ? 0x8D : 0x0D, 0x04, 0x00, 0x00] }
        #expect(structuralError(bytes) == .tooManyOptions)
        // Sixteen are fine.
        var sixteen = Array(Self.spm()[..<36])
        sixteen[5] |= 0x01
        sixteen += [0x00, 0x04, 0x00, UInt8(4 + 16 * 4)]
        for index in 0..<16 { sixteen += [index == 15 ? 0x8D : 0x0D, 0x04, 0x00, 0x00] }
        #expect(structuralError(sixteen) == nil)
    }

    @Test func noOptionEnd() {
        var bytes = Self.spm(options: [Option(.fin)])
        bytes[40] &= 0x7F  // clear OPT_END on the only option
        #expect(structuralError(bytes) == .missingOptionEnd)
    }

    @Test func tsduLengthLargerThanPayload() {
        var bytes = Self.odata()
        bytes[14...15] = [0, 100]
        #expect(structuralError(bytes) == .tsduLengthMismatch(declared: 100, available: 50))
    }

    @Test func tsduLengthSmallerThanPayload() {
        var bytes = Self.odata()
        bytes[14...15] = [0, 10]
        #expect(structuralError(bytes) == .tsduLengthMismatch(declared: 10, available: 50))
    }

    @Test func payloadOnAPacketTypeWithout() {
        var bytes = Self.spm()
        bytes[14...15] = [0, 4]
        bytes += [1, 2, 3, 4]
        #expect(structuralError(bytes) == .unexpectedPayload(length: 4))
        var trailing = Self.spm()
        trailing += [1, 2]
        #expect(structuralError(trailing) == .tsduLengthMismatch(declared: 0, available: 2))
    }

    @Test func badChecksum() {
        var bytes = Self.odata()
        let stored = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        bytes[30] ^= 0xFF
        let expected = PGMChecksum.compute(bytes)
        #expect(error(bytes) == .badChecksum(stored: stored, computed: expected))
    }

    @Test(arguments: [PacketType.odata, .rdata])
    func zeroChecksumOnData(_ type: PacketType) {
        var bytes = Self.odata()
        bytes[4] = type.rawValue
        bytes[6...7] = [0, 0]
        #expect(error(bytes) == .missingChecksum)
    }

    @Test func zeroChecksumAllowedOutsideData() throws {
        var bytes = Self.spm()
        bytes[6...7] = [0, 0]
        #expect(error(bytes) == nil)
    }

    @Test(arguments: [UInt8(0x40), 0x80, 0x10, 0x20])
    func versionOrReservedBitsSet(_ bit: UInt8) {
        var bytes = Self.spm()
        bytes[4] |= bit
        #expect(error(fixingChecksum(bytes)) == .unsupportedVersion(typeByte: bit))
    }

    @Test(arguments: [UInt8(0x03), 0x06, 0x07, 0x0E, 0x0F])
    func unknownPacketType(_ type: UInt8) {
        var bytes = Self.spm()
        bytes[4] = type
        #expect(error(fixingChecksum(bytes)) == .unknownType(type))
    }

    @Test func malformedOptionAddress() {
        // OPT_REDIRECT of IPv4 length (12) claiming an IPv6 address.
        var bytes = Self.spm(options: [Option(.redirect(Self.source))])
        bytes[44...45] = [0, 2]
        #expect(
            structuralError(bytes) == .malformedOption(type: 0x07, reason: "length 12 does not fit address family 2"))
    }

    /// The length byte caps an OPT_NAK_LIST at 62 entries (4 + 4·62 = 252); the next lengths that fit in a byte
    /// are not a whole number of entries.
    @Test func nakListLengthNotWholeEntries() {
        var bytes = Array(Self.spm()[..<36])
        bytes[5] |= 0x03
        let length = 254
        bytes += [0x00, 0x04, 0x01, 0x02]  // OPT_LENGTH total 258
        bytes += [0x82, UInt8(length), 0x00, 0x00] + Array(repeating: 0, count: length - 4)
        #expect(structuralError(bytes) == .invalidOptionLength(type: 0x02, length: length))
    }
}
