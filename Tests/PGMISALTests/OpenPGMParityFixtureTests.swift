import FoundationEssentials
import PGMCore
import PGMISAL
import PGMWire
import Testing

/// Parity packets an OpenPGM 5.3 source put on the wire (Tests/Fixtures/openpgm-fec, Docs/openpgm.md "FEC"),
/// rebuilt byte for byte by our encoder (``ParitySymbols``: zero padding, the appended little-endian TSDU length)
/// with both region kernels: the interop that matters, since OpenPGM's codec is not exported by libpgm.
@Suite struct OpenPGMParityFixtureTests {
    struct Fixture: Decodable {
        struct Data: Decodable {
            var sqn: UInt32
            var tsdu: String
        }
        struct Parity: Decodable {
            var sqn: UInt32
            var tsdu: String
            var rs_offsets_reproducing_tsdu: [Int]
        }
        var k: Int
        var variable_length: Bool
        var data: [Data]
        var parity: [Parity]
    }

    static func load(_ name: String) throws -> Fixture {
        let directory = String(#filePath).split(separator: "/").dropLast(2).joined(separator: "/")
        let path = "/" + directory + "/Fixtures/openpgm-fec/" + name
        guard let bytes = FileManager.default.contents(atPath: path) else { throw FixtureMissing(path: path) }
        return try JSONDecoder().decode(Fixture.self, from: bytes)
    }

    struct FixtureMissing: Error { var path: String }

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
            bytes.append(nibble(high) << 4 | nibble(low))
        }
        return bytes
    }

    static let kernels: [any GaloisRegionKernel] = [SwiftGaloisKernel(), ISALGaloisKernel()]

    @Test(arguments: ["k8-proactive-ondemand.json", "k16-proactive-ondemand.json", "k8-var-pktlen.json"])
    func ourParityEqualsOpenPGMs(file: String) throws {
        let fixture = try Self.load(file)
        let members = fixture.data.map { ParityMember(payload: Self.hex($0.tsdu)[...], fragment: nil) }
        #expect(members.count == fixture.k)
        var checked = 0
        for kernel in Self.kernels {
            let code = try ReedSolomonCode(dataCount: fixture.k, kernel: kernel)
            for parity in fixture.parity {
                for offset in parity.rs_offsets_reproducing_tsdu {
                    let encoded = try ParitySymbols.encode(members, index: offset - fixture.k, code: code)
                    #expect(encoded.payload == Self.hex(parity.tsdu), "\(file) offset \(offset)")
                    #expect(encoded.variableLength == fixture.variable_length)
                    checked += 1
                }
            }
        }
        #expect(checked >= 2)
    }

    /// Every parity packet OpenPGM sent decodes its group's data: erase as many data packets as there are parity
    /// packets and recover them from OpenPGM's parity.
    @Test(arguments: ["k8-proactive-ondemand.json", "k16-proactive-ondemand.json", "k8-var-pktlen.json"])
    func openPGMParityDecodes(file: String) throws {
        let fixture = try Self.load(file)
        let payloads = fixture.data.map { Self.hex($0.tsdu) }
        var parity: [Int: ParitySymbols.Received] = [:]
        for packet in fixture.parity {
            guard let offset = packet.rs_offsets_reproducing_tsdu.first else { continue }
            parity[offset - fixture.k] = ParitySymbols.Received(
                payload: Self.hex(packet.tsdu)[...], options: [], variableLength: fixture.variable_length)
        }
        var members: [ParityMember?] = payloads.map { ParityMember(payload: $0[...], fragment: nil) }
        for position in 0..<parity.count { members[position * 2 % fixture.k] = nil }
        var code = try ReedSolomonCode(dataCount: fixture.k, kernel: ISALGaloisKernel())
        let recovered = try ParitySymbols.decode(members: members, beyondEnd: 0, parity: parity, code: &code)
        #expect(recovered.count == members.filter { $0 == nil }.count)
        for (position, member) in recovered { #expect(Array(member.payload) == payloads[position]) }
    }
}
