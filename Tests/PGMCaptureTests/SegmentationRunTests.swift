import PGMCapture
import PGMWire
import Testing

/// A GSO run (one UDP datagram holding several ODATA/RDATA packets, as a capture on the sending host or a veth
/// path shows pgm-source's UDP_SEGMENT sends) is dissected packet by packet.
@Suite("GSO runs")
struct SegmentationRunTests {
    static let tsi = TSI(gsi: GSI((1, 2, 3, 4, 5, 6)), sourcePort: 4000)

    static func data(_ sequence: UInt32, size: Int, repair: Bool = false) -> [UInt8] {
        let data = DataPacket(
            sequence: SequenceNumber(sequence), trail: SequenceNumber(1),
            payload: [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: size)[...])
        return Packet(tsi: tsi, dataDestinationPort: 7500, body: repair ? .rdata(data) : .odata(data)).encoded()
    }

    static func frame(_ pgm: [UInt8]) -> [UInt8] {
        IPFrameBuilder.ipv4(
            pgm: pgm, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(239, 192, 0, 1),
            udpPorts: (3056, 3056))
    }

    static func dissect(_ frame: [UInt8]) -> [Dissection] {
        frame.withUnsafeBytes { Dissection.dissect(frame: frame, linkType: .raw).splittingSegmentationRun(frame: $0) }
    }

    @Test func runIsCutIntoItsPackets() throws {
        let run =
            Self.data(10, size: 100) + Self.data(11, size: 100) + Self.data(12, size: 100, repair: true)
            + Self.data(13, size: 40)
        let dissections = Self.dissect(Self.frame(run))
        #expect(dissections.count == 4)
        let sequences = dissections.compactMap { dissection -> UInt32? in
            guard case .odata(let data)? = dissection.pgm?.packet?.body ?? nil else {
                if case .rdata(let data)? = dissection.pgm?.packet?.body { return data.sequence.rawValue }
                return nil
            }
            return data.sequence.rawValue
        }
        #expect(sequences == [10, 11, 12, 13])
        #expect(dissections.map { $0.segment?.index } == [1, 2, 3, 4])
        #expect(dissections.allSatisfy { $0.segment?.count == 4 })
        for dissection in dissections {
            if case .valid = dissection.pgm?.checksum {} else { Issue.record("checksum not valid") }
        }
    }

    @Test func singlePacketAndInconsistentRunsStayWhole() {
        #expect(Self.dissect(Self.frame(Self.data(1, size: 100))).count == 1)
        #expect(Self.dissect(Self.frame(Self.data(1, size: 100))).first?.segment == nil)
        // A longer second packet is not a GSO run (segments are never longer than the first).
        let uneven = Self.data(1, size: 100) + Self.data(2, size: 120)
        let dissections = Self.dissect(Self.frame(uneven))
        #expect(dissections.count == 1)
        #expect(dissections.first?.segment == nil)
    }
}
