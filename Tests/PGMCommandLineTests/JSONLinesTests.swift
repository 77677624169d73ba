import Foundation
import Testing

@testable import PGMCommandLine

/// Issue 18, item 6: with `--json` every stderr line is a JSON object with a type and a timestamp, errors and
/// usage errors included, properly escaped.
@Suite struct JSONLinesTests {
    @Test func anErrorLineIsEscapedJSONWithTypeTimestampAndExitCode() throws {
        let line = JSONLines.error(
            program: "pgm-recv", message: "cannot create \"a\\b\"\n: No such file", exitCode: 1, timestamp: 1.5)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "error")
        #expect(object["message"] as? String == "cannot create \"a\\b\"\n: No such file")
        #expect(object["exit_code"] as? Int == 1 && object["timestamp"] as? Double == 1.5)
        let going = JSONLines.error(program: "pgm-dump", message: "x", exitCode: nil, timestamp: 2)
        #expect(!going.contains("exit_code"))
    }

    @Test func theTimestampIsUnixTimeToTheMillisecond() {
        let now = JSONLines.now()
        #expect(abs(now - Date().timeIntervalSince1970) < 5)
        #expect((now * 1000).rounded() == now * 1000)
    }

    /// The programs as processes: failures and usage errors under `--json` are one JSON line each.
    @Test(.timeLimit(.minutes(1))) func failuresAndUsageErrorsAreJSONLines() throws {
        for (arguments, code) in [
            (["pgm-recv", "--json", "--interface", "pgm-none0"], 69),
            (["pgm-source", "--json", "--apdu-size", "2M"], 64),
            (["pgm-source", "--json", "--no-such-option"], 64),
            (["pgm-ne", "--json", "--upstream", "127.0.0.1", "--downstream", "lo"], 64),
        ] {
            let child = try SourceReceiveEndToEndTests.Child(
                [try SourceReceiveEndToEndTests.binary(arguments[0])] + arguments.dropFirst())
            let outcome = child.wait(seconds: 20)
            #expect(outcome.status == Int32(code), "\(arguments): \(outcome.standardError)")
            let lines = outcome.standardError.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(outcome.standardError)")
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["type"] as? String == "error" && object?["exit_code"] as? Int == code)
                #expect(object?["timestamp"] is Double)
            }
        }
    }

    /// A whole transfer on loopback with `--json` and `--log-level debug`: not one line of either program's
    /// stderr is anything but a JSON object with a type and a timestamp.
    @Test(.timeLimit(.minutes(1))) func aTransferUnderJSONPrintsOnlyJSONLines() throws {
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 1_000_000)
        let output = input.appendingPathExtension("out")
        defer { for url in [input, output] { try? FileManager.default.removeItem(at: url) } }
        let port = String(30000 + (Int(getpid()) + 11) % 20000)
        let common = [
            "--interface", "lo", "--multicast-loop", "--group", "239.192.44.3", "--udp-port", port, "--json",
            "--log-level", "debug",
        ]
        let receiver = try SourceReceiveEndToEndTests.Child(
            [try SourceReceiveEndToEndTests.binary("pgm-recv")] + common + ["--output", output.path, "--timeout", "10"])
        receiver.waitForStandardError(containing: "\"start\"")
        let source = try SourceReceiveEndToEndTests.Child(
            [try SourceReceiveEndToEndTests.binary("pgm-source")] + common + ["--linger", "0.5", input.path])
        let sent = source.wait(seconds: 30)
        let received = receiver.wait(seconds: 30)
        #expect(sent.status == 0 && received.status == 0)
        for outcome in [sent, received] {
            let lines = outcome.standardError.split(separator: "\n")
            #expect(lines.count >= 3)
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["type"] is String && object?["timestamp"] is Double, "\(line)")
            }
        }
        #expect(try Data(contentsOf: output) == Data(contentsOf: input))
    }
}
