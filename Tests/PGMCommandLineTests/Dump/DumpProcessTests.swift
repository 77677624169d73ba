import Foundation
import PGMWire
import Testing

/// The built `pgm-dump` executable as a process: exit codes as the shell sees them, and SIGINT ending a live
/// capture with its statistics flushed.
@Suite("pgm-dump process")
struct DumpProcessTests {
    /// `pgm-dump` sits beside the test bundle in the build's bin directory.
    static let executable: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("pgm-dump")

    static func start(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, output, errors)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: executable.path)))
    func exitCodesAsTheShellSeesThem() throws {
        for (arguments, code): ([String], Int32) in [
            (["--help"], 0), ([], 64), (["-r", "/nonexistent.pcap"], 66), (["-i", "pgm-no-such-if0"], 69),
        ] {
            let (process, output, _) = try Self.start(arguments)
            _ = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == code, "\(arguments)")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: executable.path)))
    func readsACaptureFromStandardInput() throws {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["-r", "-", "-c", "2", "--json"]
        let capture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../../shared/testdata/tcpdump/epgm_zmtp1.pcap"
        ).standardized
        process.standardInput = try FileHandle(forReadingFrom: capture)
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasPrefix(#"{"type":"spm","frame":"#) && $0.contains(#""heuristic":true"#) })
    }

    /// Loopback only: sends UDP-encapsulated SPMs to 127.0.0.1, then SIGINT; the statistics must come out.
    @Test(
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: executable.path)),
        .timeLimit(.minutes(1))
    )
    func sigintEndsALiveCaptureWithStatistics() throws {
        let port = 38_000 + UInt16(getpid() % 1000)
        let (process, output, errors) = try Self.start(["-i", "lo", "--stats", "--json", "--udp-port", String(port)])
        let spm = Packet(
            tsi: TSI(gsi: GSI((2, 3, 5, 7, 11, 13)), sourcePort: 999),
            dataDestinationPort: 7500,
            body: .spm(
                SPM(
                    sequence: SequenceNumber(5),
                    trail: SequenceNumber(0),
                    lead: SequenceNumber(0),
                    path: .ipv4(IPv4Address(127, 0, 0, 1))
                )
            )
        ).encoded()
        // Send for up to 5 s until the capture has certainly started, then interrupt it.
        sendToLoopback(spm, port: port, count: 50, interval: 100_000)
        process.interrupt()
        // The pipe is small; read while waiting, and never wait forever on a capture that ignores SIGINT.
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            Issue.record("pgm-dump ignored SIGINT")
            kill(process.processIdentifier, SIGKILL)
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let diagnostics = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(diagnostics)")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let objects = try lines.map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let session = try #require(objects.first { $0["type"] as? String == "session_stats" })
        #expect(session["tsi"] as? String == "02:03:05:07:0b:0d.999")
        let spmCount = ((session["traffic"] as? [String: Any])?["spm"] as? [String: Any])?["packets"] as? Int
        #expect((spmCount ?? 0) > 0)
        #expect(objects.last?["type"] as? String == "capture_stats")
    }
}
