import ArgumentParser
import Foundation
import PGMCapture
import PGMWire
import Testing

@testable import PGMCommandLine

/// pgm-dump run in-process: output, exit codes, and live capture on loopback.
@Suite("pgm-dump command")
struct DumpCommandTests {
    static let testData: String = {
        var components = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(4)  // <root>/Tests/PGMCommandLineTests/Dump/DumpCommandTests.swift
        return components.joined(separator: "/") + "/../shared/testdata/"
    }()
    static let nativeCapture = testData + "openpgm/openpgm-native-loss10.pcap"

    /// Collects what a run writes.
    final class Collected: @unchecked Sendable {
        // Touched only by the run on the test's own thread; @unchecked because the closures that fill it must be
        // non-isolated.
        var output: [UInt8] = []
        var diagnostics: [String] = []
        var text: String { String(decoding: output, as: UTF8.self) }
    }

    static func run(_ arguments: [String]) throws -> (PGMExitCode, Collected) {
        let command = try DumpCommand.parse(arguments)
        let collected = Collected()
        let runner = DumpRunner(
            command: command,
            flush: { buffer in
                collected.output += buffer.bytes
                buffer.removeAll()
            },
            diagnose: { collected.diagnostics.append($0) }
        )
        return (runner.run(), collected)
    }

    static func temporaryPath(_ name: String) -> String { NSTemporaryDirectory() + "pgm-dump-cli-\(getpid())-\(name)" }

    @Test func helpIsPinned() {
        #expect(
            DumpCommand.helpMessage(columns: 100) == """
                OVERVIEW: Print PGM (RFC 3208) packets from a capture file or an interface, or per-session
                statistics.

                Reads pcap and pcapng files (-r FILE, or -r - for standard input) or captures live (-i IF). Finds
                PGM natively (IP protocol 113) and in UDP on the --udp-port ports (default 3055, 3056 and 7500);
                UDP on other ports is shown when its payload is PGM with a valid checksum. Link types: Ethernet
                (VLAN tags included), Linux cooked v1/v2, raw IP, IPv4, IPv6, BSD loopback. IP fragments are
                reported, never decoded. A bad checksum is flagged; a malformed packet is printed with the reason.

                Without a filter expression a live capture uses: native PGM, UDP on the configured ports, and IP
                fragments (also inside a VLAN tag). Files are read without a filter unless one is given.

                Examples:
                  pgm-dump -r session.pcap -v
                  pgm-dump -i lo -c 100 --json --udp-port 7500 > packets.jsonl
                  pgm-dump -r session.pcap --stats
                  pgm-dump -i lo -w - | tcpdump -r -     (the text goes to standard error)

                --json writes one JSON object per line; the schema (every field, the "type" values, and the
                statistics objects) is documented in Docs/pgm-dump-json.md.

                With --key FILE, each packet's OPT_AUTH tag is checked with that key (the programs' --key) and
                shown as [auth valid], [auth invalid] or [auth absent] ("authentication" in JSON); --stats counts
                them.

                Exit codes:
                  0   success (also when a live capture is stopped with SIGINT or SIGTERM)
                  1   runtime failure (capture error, -w file not writable, unknown link type)
                  64  usage error (bad option or filter expression, or a --key shorter than 16 bytes)
                  65  the capture file is truncated or corrupt (earlier frames are printed)
                  66  the capture file or the --key file does not exist or cannot be read
                  69  the interface does not exist or is down
                  77  no permission to capture (needs root or CAP_NET_RAW)

                USAGE: pgm-dump [<options>] [<expression> ...]

                ARGUMENTS:
                  <expression>            A BPF filter expression (pcap-filter(7)).

                OPTIONS:
                  -r, --read <file>       Read packets from a capture file ('-' for standard input).
                  -i, --interface <interface>
                                          Capture live on an interface.
                  -p, --no-promiscuous-mode
                                          Do not put the interface into promiscuous mode.
                  -s, --snapshot-length <bytes>
                                          Bytes to capture per packet (live; K, M, Ki, Mi suffixes). (default:
                                          262144)
                  -B, --buffer-size <KiB> Kernel capture buffer size in KiB (live).
                  -w, --write <file>      Also save the captured frames to a pcap file ('-' for standard output:
                                          the text then goes to standard error).
                  -c, --count <count>     Stop after this many PGM packets (fragments and malformed packets count).
                  --udp-port <port>       UDP port carrying PGM (repeatable; replaces the defaults 3055, 3056,
                                          7500).
                  --no-udp-heuristic      Do not look for PGM on UDP ports other than --udp-port.
                  -v, --verbose           Print every header field and every field of every option.
                  -x                      Print each packet in hex, from the IP header on.
                  -X                      Print each packet in hex and ASCII, from the IP header on.
                  -n                      Do not resolve addresses (accepted for tcpdump habits; pgm-dump never
                                          resolves names).
                  --json                  Write JSON Lines instead of text (schema: Docs/pgm-dump-json.md).
                  --stats                 Print per-session statistics at the end (or on SIGINT) instead of packets.
                  --key <file>            Check every packet's OPT_AUTH tag with the key in this file (as
                                          pgm-source --key; Docs/key.md).
                  --version               Show the version.
                  -h, --help              Show help information.

                """
        )
    }

    @Test func usageErrorsExit64() {
        for arguments in [
            [], ["-r", "a.pcap", "-i", "lo"], ["-r", "a.pcap", "-c", "0"], ["--bogus"], ["-r", "x", "--udp-port", "0"],
        ] {
            #expect(
                DumpCommand.exitCode(for: ParseErrorHelper.error(arguments)).rawValue == PGMExitCode.usage.rawValue,
                "\(arguments)"
            )
        }
    }

    @Test func textOutputOfACapture() throws {
        let (code, collected) = try Self.run(["-r", Self.nativeCapture, "-c", "3"])
        #expect(code == .success)
        #expect(collected.text.split(separator: "\n").count == 3)
        #expect(
            collected.text.hasPrefix(
                "00:22:26.931291 IP 198.18.0.1 > 239.192.0.1: PGM 4000 > 7500 tsi 27:22:46:9a:2f:37.4000 SPM sqn 0"
            )
        )
    }

    @Test func jsonLinesParseAndCountEveryFrame() throws {
        let (code, collected) = try Self.run(["-r", Self.nativeCapture, "--json"])
        #expect(code == .success)
        let lines = collected.text.split(separator: "\n")
        #expect(lines.count == 340)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["type"] is String)
            #expect((object?["pgm"] as? [String: Any])?["checksum"] != nil)
        }
    }

    @Test func statsAsTextAndJSON() throws {
        let (code, text) = try Self.run(["-r", Self.nativeCapture, "--stats"])
        #expect(code == .success)
        #expect(text.text.contains("session 27:22:46:9a:2f:37.4000"))
        #expect(text.text.contains("NAK -> RDATA"))
        let (jsonCode, json) = try Self.run(["-r", Self.nativeCapture, "--stats", "--json"])
        #expect(jsonCode == .success)
        let objects = try json.text.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["type"] as? String } == ["session_stats", "capture_stats"])
        try #require(objects.count == 2)
        #expect(objects[1]["frames"] as? Int == 340)
        #expect((objects[0]["traffic"] as? [String: Any])?["spmr"] != nil)
    }

    @Test func filterExpressionApplies() throws {
        let (code, collected) = try Self.run(["-r", Self.nativeCapture, "dst", "host", "198.18.0.1"])
        #expect(code == .success)
        let lines = collected.text.split(separator: "\n")
        #expect(lines.count == 21)
        #expect(lines.allSatisfy { $0.contains("> 198.18.0.1:") })
    }

    @Test func fileErrorsHaveDocumentedCodes() throws {
        let (missing, missingOutput) = try Self.run(["-r", "/nonexistent/capture.pcap"])
        #expect(missing == .noInput)
        #expect(missingOutput.diagnostics.first?.contains("/nonexistent/capture.pcap") == true)

        let garbage = Self.temporaryPath("garbage.pcap")
        defer { unlink(garbage) }
        _ = FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 0x42, count: 100))
        #expect(try Self.run(["-r", garbage]).0 == .dataError)

        // Truncated in the middle of a record: the frames before it are printed, then exit 65.
        let original = try #require(FileManager.default.contents(atPath: Self.nativeCapture))
        let truncated = Self.temporaryPath("truncated.pcap")
        defer { unlink(truncated) }
        _ = FileManager.default.createFile(atPath: truncated, contents: original.prefix(original.count - 10))
        let (code, collected) = try Self.run(["-r", truncated])
        #expect(code == .dataError)
        #expect(collected.text.split(separator: "\n").count == 339)
        #expect(collected.diagnostics.contains { $0.contains("truncated") })

        #expect(try Self.run(["-r", Self.nativeCapture, "ip", "and", "and"]).0 == .usage)
        #expect(try Self.run(["-i", "pgm-no-such-if0"]).0 == .unavailable)
        #expect(DumpRunner.exitCode(for: .permissionDenied(interface: "eth0", reason: "")) == .noPermission)
    }

    @Test func writeFileSavesFrames() throws {
        let saved = Self.temporaryPath("saved.pcap")
        defer { unlink(saved) }
        let (code, _) = try Self.run(["-r", Self.nativeCapture, "-w", saved, "-c", "5"])
        #expect(code == .success)
        let (again, collected) = try Self.run(["-r", saved])
        #expect(again == .success)
        #expect(collected.text.split(separator: "\n").count == 5)
    }

    /// Live capture on loopback only: UDP-encapsulated PGM sent to 127.0.0.1 is captured and decoded.
    @Test(.enabled(if: getuid() == 0, "live capture needs root or CAP_NET_RAW"), .timeLimit(.minutes(1)))
    func liveCaptureOnLoopback() throws {
        let port: UInt16 = 37_000 + UInt16(getpid() % 1000)
        let spm = Packet(
            tsi: TSI(gsi: GSI((1, 1, 2, 3, 5, 8)), sourcePort: 4242),
            dataDestinationPort: 7500,
            body: .spm(
                SPM(
                    sequence: SequenceNumber(1),
                    trail: SequenceNumber(0),
                    lead: SequenceNumber(0),
                    path: .ipv4(IPv4Address(127, 0, 0, 1))
                )
            )
        ).encoded()
        // A thread of its own (not a task): the capture below blocks the test's thread until packets arrive.
        // It sends for at most 10 s, to loopback only.
        Thread.detachNewThread { sendToLoopback(spm, port: port, count: 200, interval: 50_000) }
        let (code, collected) = try Self.run([
            "-i", "lo", "-c", "2", "--udp-port", String(port), "udp", "port", String(port),
        ])
        #expect(code == .success, "\(collected.diagnostics)")
        let lines = collected.text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(
            lines.allSatisfy {
                $0.contains("127.0.0.1.") && $0.contains("UDP PGM 4242 > 7500 tsi 01:01:02:03:05:08.4242 SPM sqn 1")
            }
        )
    }
}

/// Parses arguments expecting failure, to check the exit code ArgumentParser maps it to.
enum ParseErrorHelper {
    static func error(_ arguments: [String]) -> Error {
        do {
            _ = try DumpCommand.parseAsRoot(arguments)
            return CancellationError()
        } catch {
            return error
        }
    }
}
