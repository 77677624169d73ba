import PGMWire
import Testing

@Suite("Sequence numbers, checksums, addresses")
struct PrimitiveTests {
    @Test func serialOrderAcrossTheWrap() {
        let last = SequenceNumber(0xFFFF_FFFF)
        let first = SequenceNumber(0)
        #expect(last.precedes(first))
        #expect(!first.precedes(last))
        #expect(last.distance(to: first) == 1)
        #expect(first.distance(to: last) == -1)
        #expect(last &+ 2 == SequenceNumber(1))
        #expect(first &- 1 == last)
        #expect(SequenceNumber.serialMax(last, first) == first)
        #expect(first.precedesOrEquals(first) && !first.precedes(first))
        // Half the space away, the order flips: the relation is not transitive, hence not Comparable.
        let a = SequenceNumber(0)
        let b = SequenceNumber(0x6000_0000)
        let c = SequenceNumber(0xC000_0000)
        #expect(a.precedes(b) && b.precedes(c) && c.precedes(a))
    }

    /// RFC 1071's worked example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
    @Test func checksumOfRFC1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        #expect(bytes.withUnsafeBytes { PGMChecksum.partialSum($0) } == 0xDDF2)
    }

    @Test func checksumMatchesAReferenceSumForEveryLength() {
        var generator = RandomPackets(seed: 99)
        for length in 0..<200 {
            let bytes = generator.bytes(length)
            var reference: UInt32 = 0
            var index = 0
            while index < length {
                let high = UInt32(bytes[index]) << 8
                let low = index + 1 < length ? UInt32(bytes[index + 1]) : 0
                reference += high | low
                index += 2
            }
            while reference > 0xFFFF { reference = (reference & 0xFFFF) + (reference >> 16) }
            #expect(bytes.withUnsafeBytes { PGMChecksum.partialSum($0) } == reference, "length \(length)")
        }
    }

    /// A computed 0x0000 is sent as 0xFFFF (RFC 3208 §8): 0x0000 on the wire means "no checksum".
    @Test func zeroChecksumIsSentAsAllOnes() {
        #expect(PGMChecksum.finish(0xFFFF) == 0xFFFF)
        #expect(PGMChecksum.finish(0x0000) == 0xFFFF)
        #expect(PGMChecksum.finish(0x1234) == ~UInt16(0x1234))
    }

    @Test func addressText() {
        #expect(IPv4Address("198.18.0.1") == IPv4Address(198, 18, 0, 1))
        #expect(IPv4Address("198.18.0") == nil)
        #expect(IPv4Address("198.18.0.256") == nil)
        #expect(IPv4Address(239, 192, 0, 1).isMulticast)
        #expect(IPv6Address("ff02::1")?.description == "ff02::1")
        #expect(IPv6Address("::")?.description == "::")
        #expect(IPv6Address("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPv6Address("::ffff:198.18.0.1") == IPv6Address(high: 0, low: 0xFFFF_C612_0001))
        #expect(IPv6Address("1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPv6Address("1::2::3") == nil)
        #expect(NLA("198.18.0.1")?.addressFamily == .ipv4)
        #expect(GSI(rawValue: 0x2722_469A_2F37).description == "27:22:46:9a:2f:37")
    }

    @Test func tsiTakesThePortByDirection() {
        let tsi = TSI(gsi: GSI(rawValue: 1), sourcePort: 4000)
        let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))
        let source = NLA.ipv4(IPv4Address(198, 18, 0, 1))
        let nak = Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .nak(NAK(sequence: SequenceNumber(1), source: source, group: group)))
        #expect(nak.sourcePort == 7500 && nak.destinationPort == 4000 && nak.tsi == tsi)
        let spm = Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .spm(
                SPM(sequence: SequenceNumber(1), trail: SequenceNumber(0), lead: SequenceNumber(0), path: source)))
        #expect(spm.sourcePort == 4000 && spm.tsi == tsi && spm.dataDestinationPort == 7500)
    }

    /// Both ACK type codes seen in the wild decode; we write OpenPGM's 0x0D.
    @Test func ackTypeCodes() throws {
        let ack = Packet(
            sourcePort: 7500, destinationPort: 4000, gsi: GSI(rawValue: 1),
            body: .ack(ACK(receivedMaximum: SequenceNumber(7), bitmap: 0xFF)))
        var bytes = ack.encoded()
        #expect(bytes[4] == 0x0D)
        bytes[4] = 0x0B
        bytes[6...7] = [0, 0]
        #expect(try Packet(decoding: bytes) == ack)
    }

    /// Decoding shares the datagram's storage: the payload is a slice, not a copy.
    @Test func payloadIsASliceOfTheInput() throws {
        let bytes = MalformedPacketTests.odata()
        let packet = try Packet(decoding: bytes)
        guard case .odata(let data) = packet.body else { Issue.record("not ODATA"); return }
        #expect(data.payload.startIndex == 24 && data.payload.endIndex == bytes.count)
        bytes.withUnsafeBufferPointer { original in
            data.payload.withUnsafeBufferPointer { payload in
                #expect(payload.baseAddress == original.baseAddress! + 24)
            }
        }
    }
}
