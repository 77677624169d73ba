import Foundation
import Testing

/// pgm-source and pgm-recv against OpenPGM (Debian libpgm) across two namespaces with 5 % drop, both ways and
/// both encapsulations, and from a pgm-source with `--key`: OpenPGM skips OPT_AUTH (Docs/key.md) on every packet
/// type it takes, repairs included. The peer (Tools/openpgm-peer/peer.c) is compiled by the test.
@Suite(.serialized, .timeLimit(.minutes(3))) struct OpenPGMInteropTests {
    typealias Child = SourceReceiveEndToEndTests.Child

    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var available: Bool {
        NamespaceLab.available && FileManager.default.isExecutableFile(atPath: "/usr/bin/cc")
            && FileManager.default.fileExists(atPath: "/usr/include/pgm-5.3/pgm/pgm.h")
    }

    /// Compiles the peer once per test into a temporary directory.
    static func buildPeer() throws -> URL {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("openpgm-peer-\(UUID().uuidString)")
        // The one build of the peer (its flags live there), as the lab and Tools/bench use it.
        try NamespaceLab.run([projectRoot.appendingPathComponent("Tools/openpgm-peer/build").path, output.path])
        return output
    }

    @Test(
        .enabled(if: available, "needs root, ip, nft, cc and libpgm-dev"),
        arguments: [
            ("pgm-source", "udp"), ("pgm-source", "native"), ("openpgm", "udp"), ("openpgm", "native"),
            ("pgm-source --key", "udp"),
        ])
    func aFileCrossesALossyLinkBetweenImplementations(sender: String, encapsulation: String) throws {
        let peer = try Self.buildPeer()
        defer { try? FileManager.default.removeItem(at: peer) }
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 5)
        let size = 1_500_000
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: size)
        let output = input.appendingPathExtension("out")
        let key = input.appendingPathExtension("key")
        defer { for url in [input, output, key] { try? FileManager.default.removeItem(at: url) } }
        try Data((0..<32).map { UInt8($0 * 5 + 1) }).write(to: key)
        // OpenPGM cannot sign its NAKs: without --accept-unsigned-naks a keyed source drops them, and the peer
        // stalls at the first loss.
        let keyed = sender == "pgm-source --key" ? ["--key", key.path, "--accept-unsigned-naks"] : []
        let ours = encapsulation == "udp" ? ["--udp-port", "3056"] : ["--native"]
        let theirs = encapsulation == "udp" ? ["--udp", "3056"] : []
        let inSource = ["/usr/sbin/ip", "netns", "exec", lab.sourceNamespace]
        let inReceiver = ["/usr/sbin/ip", "netns", "exec", lab.receiverNamespace]

        let receiver: Child
        if sender == "openpgm" {
            receiver = try Child(
                inReceiver + [
                    try SourceReceiveEndToEndTests.binary("pgm-recv"), "--interface", lab.receiverAddress,
                    "--output", output.path, "--timeout", "20",
                ] + ours)
        } else {
            receiver = try Child(
                inReceiver + [
                    peer.path, "recv", "--network", "\(lab.receiverAddress);239.192.0.1", "--timeout", "20",
                    "--bytes", "\(size)",
                ] + theirs,
                output: output)
        }
        receiver.waitForStandardError(containing: "joined")
        let source: Child
        if sender == "openpgm" {
            source = try Child(
                inSource + [
                    peer.path, "send", "--network", "\(lab.sourceAddress);239.192.0.1", "--rate", "12500000",
                    "--linger", "3",
                ] + theirs,
                input: input)
        } else {
            source = try Child(
                inSource + [
                    try SourceReceiveEndToEndTests.binary("pgm-source"), "--interface", lab.sourceAddress,
                    "--rate", "100M", "--linger", "3", input.path,
                ] + ours + keyed)
        }
        let sent = source.wait(seconds: 60)
        let received = receiver.wait(seconds: 60)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 0, "\(received.standardError)")
        #expect(try Data(contentsOf: output) == Data(contentsOf: input))
    }
}
