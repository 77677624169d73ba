import Foundation
import Testing

/// pgm-source → pgm-recv as real processes: on loopback (multicast loop on), and, as root, across two network
/// namespaces joined by a veth pair with random drop, so that NAKs and repairs must do their work.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SourceReceiveEndToEndTests {
    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let isRoot = getuid() == 0

    struct Outcome {
        var status: Int32
        var standardError: String
    }

    /// Starts `arguments[0]` with the rest, stderr to a file; ended by PID if still running at the deadline.
    final class Child {
        let process = Process()
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pgm-e2e-\(UUID().uuidString).err")

        init(_ arguments: [String], input: URL? = nil, output: URL? = nil, inputPipe: Pipe? = nil) throws {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errorFile)
            if let output {
                _ = FileManager.default.createFile(atPath: output.path, contents: nil)
                process.standardOutput = try FileHandle(forWritingTo: output)
            } else {
                process.standardOutput = FileHandle.nullDevice
            }
            if let input { process.standardInput = try FileHandle(forReadingFrom: input) }
            if let inputPipe { process.standardInput = inputPipe }
            try process.run()
        }

        /// Waits (bounded) until the child's stderr holds `marker`, e.g. pgm-recv's "joined" line, so that a
        /// source started next cannot outrun a receiver still starting on a loaded machine.
        func waitForStandardError(containing marker: String, seconds: Double = 15) {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline, process.isRunning {
                if let text = try? String(contentsOf: errorFile, encoding: .utf8), text.contains(marker) { return }
                usleep(20_000)
            }
        }

        func wait(seconds: Double) -> Outcome {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let text = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: errorFile)
            return Outcome(status: process.terminationStatus, standardError: text)
        }
    }

    /// Random bytes from /dev/urandom: a byte-at-a-time generator takes seconds per 100 MB in a debug build.
    static func randomFile(bytes: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-e2e-\(UUID().uuidString)")
        let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? random.close() }
        var data = Data(capacity: bytes)
        while data.count < bytes, let chunk = try random.read(upToCount: min(1 << 20, bytes - data.count)),
            !chunk.isEmpty
        {
            data.append(chunk)
        }
        try data.write(to: url)
        return url
    }

    static func binary(_ name: String) throws -> String {
        let path = binaries.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path + " (build the products first)"])
        }
        return path
    }

    /// Two receivers on the source's host: both get the whole file, and their NAKs could only have reached the
    /// source (receivers never bind the unicast port).
    @Test func aFileCrossesLoopbackIntactToTwoReceivers() throws {
        let input = try Self.randomFile(bytes: 3_000_000)
        let outputs = [input.appendingPathExtension("out1"), input.appendingPathExtension("out2")]
        defer { for url in [input] + outputs { try? FileManager.default.removeItem(at: url) } }
        let port = String(30000 + Int(getpid()) % 20000)
        let common = ["--interface", "lo", "--multicast-loop", "--group", "239.192.44.1", "--udp-port", port]
        let receivers = try outputs.map {
            try Child([try Self.binary("pgm-recv")] + common + ["--output", $0.path, "--timeout", "10"])
        }
        for receiver in receivers { receiver.waitForStandardError(containing: "joined") }
        let source = try Child(
            [try Self.binary("pgm-source")] + common + ["--rate", "400M", "--linger", "0.5", input.path])
        let sent = source.wait(seconds: 30)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(sent.standardError.contains("window 4 s at 400 Mbit/s = 200 MB"))
        for (receiver, output) in zip(receivers, outputs) {
            let received = receiver.wait(seconds: 30)
            #expect(received.status == 0, "\(received.standardError)")
            #expect(try Data(contentsOf: output) == Data(contentsOf: input))
        }
    }

    /// SIGINT stops a source reading an endless pipe: what it read is still sent, the session is reset with
    /// OPT_RST after the linger, the source exits 130, and the receiver exits 4 (cut short) with exactly those
    /// bytes.
    @Test func sigintResetsTheSessionAfterWhatWasRead() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-e2e-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let port = String(30000 + (Int(getpid()) + 7) % 20000)
        let common = ["--interface", "lo", "--multicast-loop", "--group", "239.192.44.2", "--udp-port", port]
        let receiver = try Child([try Self.binary("pgm-recv")] + common + ["--output", output.path, "--timeout", "10"])
        receiver.waitForStandardError(containing: "joined")
        let pipe = Pipe()
        let source = try Child([try Self.binary("pgm-source")] + common + ["--linger", "1"], inputPipe: pipe)
        let written = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        pipe.fileHandleForWriting.write(written)
        // The full APDUs reach the receiver as soon as they are read; the signal must come after that (and after
        // start-up, when the source blocks SIGINT for its signalfd), so that only the partial APDU waits for it.
        // 22,528: 16 TPDUs' payload once OPT_PGMCC_DATA (PGMCC, the default) takes its 16 bytes in each.
        let fullAPDUs = 100_000 / 22_528 * 22_528
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline,
            (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int) ?? 0 < fullAPDUs
        {
            usleep(20_000)
        }
        usleep(200_000)
        kill(source.process.processIdentifier, SIGINT)
        let sent = source.wait(seconds: 10)
        try? pipe.fileHandleForWriting.close()
        let received = receiver.wait(seconds: 10)
        #expect(sent.status == 130, "\(sent.standardError)")
        #expect(sent.standardError.contains("interrupted by SIGINT after 100,000 bytes"), "\(sent.standardError)")
        #expect(received.status == 4, "\(received.standardError)")
        #expect(received.standardError.contains("was reset by its source (OPT_RST, code 2: SIGINT)"))
        #expect(try Data(contentsOf: output) == written)
    }

    @Test func usageInterfaceAndInputErrorsHaveTheirExitCodes() throws {
        let badGroup = try Child([try Self.binary("pgm-recv"), "--group", "10.0.0.1"])
        #expect(badGroup.wait(seconds: 10).status == 64)
        let noInterface = try Child([try Self.binary("pgm-recv"), "--interface", "pgm-none0"])
        let outcome = noInterface.wait(seconds: 10)
        #expect(outcome.status == 69)
        #expect(outcome.standardError.contains("no interface named or addressed pgm-none0"))
        let noFile = try Child([try Self.binary("pgm-source"), "--interface", "lo", "/nonexistent/pgm-input"])
        #expect(noFile.wait(seconds: 10).status == 66)
    }

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func nativeWithoutCapNetRawExitsWith77() throws {
        let child = try Child([
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", try Self.binary("pgm-recv"), "--native", "--interface", "lo",
        ])
        let outcome = child.wait(seconds: 10)
        #expect(outcome.status == 77)
        #expect(outcome.standardError.contains("CAP_NET_RAW"))
    }

    /// 5 % of the multicast into the receiver's namespace is dropped; the file must still arrive whole, with
    /// NAKs sent and repairs received.
    @Test(
        .enabled(if: NamespaceLab.available, "needs root, ip and nft"),
        arguments: [["--udp-port", "3056"], ["--native"]])
    func aFileCrossesALossyLinkBetweenNamespaces(encapsulation: [String]) throws {
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 5)
        let input = try Self.randomFile(bytes: 3_000_000)
        let output = input.appendingPathExtension("out")
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        let receiver = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", lab.receiverNamespace, try Self.binary("pgm-recv"), "--interface",
                lab.receiverAddress,
                "--output", output.path, "--timeout", "15", "--json",
            ] + encapsulation)
        receiver.waitForStandardError(containing: "\"type\":\"start\"")
        let source = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", lab.sourceNamespace, try Self.binary("pgm-source"), "--interface",
                lab.sourceAddress,
                "--rate", "100M", input.path,
            ] + encapsulation)
        let sent = source.wait(seconds: 40)
        let received = receiver.wait(seconds: 40)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 0, "\(received.standardError)")
        #expect(try Data(contentsOf: output) == Data(contentsOf: input))
        let summary = try #require(
            received.standardError.split(separator: "\n").last { $0.contains("\"type\":\"summary\"") })
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any])
        #expect((fields["naks"] as? Int ?? 0) > 0)
        #expect((fields["repairs"] as? Int ?? 0) > 0)
        #expect(fields["unrecoverable"] as? Int == 0)
        #expect(fields["bytes"] as? Int == 3_000_000)
    }

    /// A 50 ms transmit window under 30 % drop: the source's trail passes sequences before their repairs
    /// arrive, so pgm-recv writes what it could, names the lost sequence numbers and exits 3.
    @Test(.enabled(if: NamespaceLab.available, "needs root, ip and nft"))
    func unrecoverableLossExitsWith3AndNamesTheSequences() throws {
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 30)
        let input = try Self.randomFile(bytes: 300_000)
        let output = input.appendingPathExtension("out")
        defer { try? FileManager.default.removeItem(at: input); try? FileManager.default.removeItem(at: output) }
        let receiver = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", lab.receiverNamespace, try Self.binary("pgm-recv"), "--interface",
                lab.receiverAddress,
                "--output", output.path, "--timeout", "15",
            ])
        receiver.waitForStandardError(containing: "joined")
        let source = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", lab.sourceNamespace, try Self.binary("pgm-source"), "--interface",
                lab.sourceAddress,
                // --rate alone: under PGMCC 30 % loss keeps the window at a packet or two, so the 50 ms window can
                // pass before the first APDU is whole and nothing at all is written, which is not what this tests.
                "--rate", "20M", "--txw-secs", "0.05", "--linger", "2", "--congestion-control", "none", input.path,
            ])
        let sent = source.wait(seconds: 30)
        let received = receiver.wait(seconds: 30)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 3, "\(received.standardError)")
        // In words, at most one line a second however many ranges (a run of a few seconds), and a total.
        let lossLines = received.standardError.split(separator: "\n").filter {
            $0.hasPrefix("pgm-recv: unrecoverable: ")
        }
        #expect(!lossLines.isEmpty && lossLines.count <= 8, "\(received.standardError)")
        #expect(lossLines.allSatisfy { $0.contains("missing from the output") && $0.contains("at output byte") })
        #expect(received.standardError.contains("the source moved its window past them"))
        #expect(received.standardError.contains("pgm-recv: in all "))
        let delivered = try Data(contentsOf: output)
        #expect(delivered.count < 300_000)
    }
}
