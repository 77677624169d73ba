import Foundation
import PGMAuthentication
import PGMCapture
import PGMWire
import Testing

@testable import PGMCommandLine

/// `pgm-dump --key`: each packet's OPT_AUTH verdict in text, JSON and --stats (Docs/key.md).
@Suite struct DumpKeyTests {
    static let keyText = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"

    /// A capture of three native packets: signed with the key, unsigned, and signed then changed on the way.
    static func capture() throws -> (capture: String, key: String, otherKey: String) {
        let key = try AuthenticationKey(contents: Array(keyText.utf8))
        let authenticator = HMACAuthenticator(key: key)
        let tsi = TSI(gsi: GSI(rawValue: 0x0102_0304_0506), sourcePort: 4000)
        func odata(_ sequence: UInt32) -> Packet {
            Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .odata(DataPacket(sequence: .init(sequence), trail: .init(1), payload: Array("data".utf8)[...])))
        }
        func signed(_ packet: Packet) -> [UInt8] {
            var bytes: [UInt8] = []
            packet.encode(
                into: &bytes, appendingAuthentication: .init(keyID: authenticator.keyID), checksum: false)
            _ = bytes.withUnsafeMutableBytes { authenticator.sign($0) }
            PGMChecksum.fill(&bytes, packetAt: 0)
            return bytes
        }
        var changed = signed(odata(3))
        changed[changed.count - 1] ^= 1
        changed[6] = 0
        changed[7] = 0
        PGMChecksum.fill(&changed, packetAt: 0)
        var writer = PcapWriter()
        for (index, pgm) in [signed(odata(1)), odata(2).encoded(), changed].enumerated() {
            writer.append(
                frame: IPFrameBuilder.ipv4(
                    pgm: pgm, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(239, 192, 0, 1)),
                nanoseconds: Int64(index) * 1_000_000)
        }
        let base = DumpCommandTests.temporaryPath("key")
        _ = FileManager.default.createFile(atPath: base + ".pcap", contents: Data(writer.bytes))
        _ = FileManager.default.createFile(atPath: base + ".key", contents: Data(keyText.utf8))
        _ = FileManager.default.createFile(atPath: base + ".other", contents: Data(repeating: 7, count: 32))
        return (base + ".pcap", base + ".key", base + ".other")
    }

    @Test func verdictsInTextJSONAndStats() throws {
        let files = try Self.capture()
        defer { for path in [files.capture, files.key, files.otherKey] { unlink(path) } }

        let (code, text) = try DumpCommandTests.run(["-r", files.capture, "--key", files.key])
        #expect(code == .success)
        let lines = text.text.split(separator: "\n")
        try #require(lines.count == 3)
        #expect(lines[0].contains("[auth valid]") && lines[0].contains("AUTH key "))
        #expect(lines[1].contains("[auth absent]"))
        #expect(lines[2].contains("[auth invalid]"))

        let (_, json) = try DumpCommandTests.run(["-r", files.capture, "--key", files.otherKey, "--json"])
        let verdicts = try json.text.split(separator: "\n").map { line -> String? in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (object?["pgm"] as? [String: Any])?["authentication"] as? String
        }
        #expect(verdicts == ["invalid", "absent", "invalid"], "another key")

        let (_, stats) = try DumpCommandTests.run(["-r", files.capture, "--key", files.key, "--stats"])
        #expect(stats.text.contains("authentication: 1 valid, 1 invalid, 1 absent"))

        // Without --key nothing is judged, and OPT_AUTH is still shown as an option.
        let (_, plain) = try DumpCommandTests.run(["-r", files.capture])
        #expect(!plain.text.contains("[auth"))
        #expect(plain.text.split(separator: "\n").first?.contains("AUTH key ") == true)
    }

    @Test func keyFileErrors() throws {
        let (missing, output) = try DumpCommandTests.run(["-r", "/dev/null", "--key", "/nonexistent/key"])
        #expect(missing == .noInput)
        #expect(output.diagnostics.first?.contains("cannot read the key file /nonexistent/key") == true)
        let short = DumpCommandTests.temporaryPath("short.key")
        defer { unlink(short) }
        _ = FileManager.default.createFile(atPath: short, contents: Data("abcd\n".utf8))
        #expect(try DumpCommandTests.run(["-r", "/dev/null", "--key", short]).0 == .usage)
    }
}
