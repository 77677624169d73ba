import Foundation
import Testing

/// pgm-source under PGMCC (its default) with pgm-recv as real processes on loopback.
@Suite(.serialized, .timeLimit(.minutes(2))) struct CongestionControlEndToEndTests {
    typealias Child = SourceReceiveEndToEndTests.Child

    /// pgm-recv answers the election and ACKs as acker without options; the file arrives whole, and the source's
    /// JSON statistics show the acker (the receiver's address) and the window.
    @Test func aFileCrossesLoopbackUnderPGMCCWithTheReceiverAsAcker() throws {
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 3_000_000)
        let output = input.appendingPathExtension("out")
        defer { for url in [input, output] { try? FileManager.default.removeItem(at: url) } }
        let port = String(30000 + (Int(getpid()) + 11) % 20000)
        let common = ["--interface", "lo", "--multicast-loop", "--group", "239.192.44.14", "--udp-port", port]
        let receiver = try Child(
            [try SourceReceiveEndToEndTests.binary("pgm-recv")] + common + [
                "--output", output.path, "--timeout", "10", "--json",
            ])
        receiver.waitForStandardError(containing: "\"type\":\"start\"")
        let source = try Child(
            [try SourceReceiveEndToEndTests.binary("pgm-source")] + common + [
                "--rate", "200M", "--linger", "0.5", "--json", "--interval", "0.2", input.path,
            ])
        let sent = source.wait(seconds: 30)
        let received = receiver.wait(seconds: 30)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 0, "\(received.standardError)")
        #expect(try Data(contentsOf: output) == Data(contentsOf: input))
        #expect(sent.standardError.contains("\"acker\":\"127.0.0.1\""), "\(sent.standardError)")
        #expect(sent.standardError.contains("\"phase\":\"acked\""))
        #expect(!sent.standardError.contains("no_acker"))
        #expect(received.standardError.contains("\"acks_sent\":"), "\(received.standardError)")
    }

    /// Nobody listening: the election goes unanswered, the source says so once (JSON note `no_acker`), runs at
    /// --rate and finishes as without congestion control.
    @Test func withoutReceiversTheSourceSaysSoOnceAndRunsAtItsRate() throws {
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 2_000_000)
        defer { try? FileManager.default.removeItem(at: input) }
        let port = String(30000 + (Int(getpid()) + 13) % 20000)
        let source = try Child([
            try SourceReceiveEndToEndTests.binary("pgm-source"), "--interface", "lo", "--group", "239.192.44.15",
            "--udp-port", port, "--rate", "100M", "--linger", "0", "--json", input.path,
        ])
        let sent = source.wait(seconds: 30)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(sent.standardError.components(separatedBy: "\"no_acker\"").count == 2, "\(sent.standardError)")
        #expect(sent.standardError.contains("\"phase\":\"unacked\""))
    }

    /// `--congestion-control none` puts no PGMCC state in the statistics.
    @Test func noneLeavesTheRateAlone() throws {
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 200_000)
        defer { try? FileManager.default.removeItem(at: input) }
        let port = String(30000 + (Int(getpid()) + 17) % 20000)
        let source = try Child([
            try SourceReceiveEndToEndTests.binary("pgm-source"), "--interface", "lo", "--group", "239.192.44.16",
            "--udp-port", port, "--congestion-control", "none", "--linger", "0", "--json", input.path,
        ])
        let sent = source.wait(seconds: 30)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(!sent.standardError.contains("\"congestion\""))
        let bad = try Child([try SourceReceiveEndToEndTests.binary("pgm-source"), "--congestion-control", "reno"])
        #expect(bad.wait(seconds: 10).status == 64)
    }
}
