import Foundation
import Testing

/// Processes that come and go mid-session, across two namespaces (root only): a receiver started late, a
/// receiver killed and restarted, a source killed and replaced by a new one (new TSI).
@Suite(.serialized, .timeLimit(.minutes(2))) struct SessionLifecycleEndToEndTests {
    typealias Child = SourceReceiveEndToEndTests.Child

    /// 10,000-byte APDUs at 16 Mbit/s: a 6 MB file takes about three seconds, time enough to join or kill
    /// something half-way.
    static let apduSize = 10_000
    static let sourceArguments = ["--rate", "16M", "--apdu-size", "10000", "--udp-port", "3056"]

    static func receive(_ lab: NamespaceLab, output: URL, _ extra: [String] = []) throws -> Child {
        try Child(
            [
                "/usr/sbin/ip", "netns", "exec", lab.receiverNamespace,
                try SourceReceiveEndToEndTests.binary("pgm-recv"),
                "--interface", lab.receiverAddress, "--udp-port", "3056", "--output", output.path, "--timeout", "20",
            ] + extra
        )
    }

    static func send(_ lab: NamespaceLab, _ input: URL, _ extra: [String] = []) throws -> Child {
        try Child(
            [
                "/usr/sbin/ip", "netns", "exec", lab.sourceNamespace,
                try SourceReceiveEndToEndTests.binary("pgm-source"),
                "--interface", lab.sourceAddress, "--json",
            ] + sourceArguments + extra + [input.path]
        )
    }

    static func size(_ url: URL) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    }

    /// Waits (bounded) until `url` holds at least `bytes`.
    static func waitForSize(_ url: URL, atLeast bytes: Int, seconds: Double = 20) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, size(url) < bytes { usleep(20_000) }
    }

    /// `output` is a proper suffix of `input` made of whole APDUs (the input is a multiple of ``apduSize``).
    static func expectWholeAPDUSuffix(_ output: Data, of input: Data, _ comment: Comment) {
        #expect(output.count > 0 && output.count < input.count, comment)
        #expect(output.count % apduSize == 0, comment)
        #expect(input.suffix(output.count) == output, comment)
    }

    /// The source has sent about a third of the file (its first statistics line, after one second) when the
    /// receiver starts: it delivers from its join point on, whole APDUs only, and says it joined mid-stream.
    @Test(.enabled(if: NamespaceLab.available, "needs root, ip and nft"))
    func aLateReceiverDeliversFromItsJoinPointAndSaysSo() throws {
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 2)
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 600 * Self.apduSize)
        let output = input.appendingPathExtension("out")
        defer { for url in [input, output] { try? FileManager.default.removeItem(at: url) } }
        let source = try Self.send(lab, input)
        source.waitForStandardError(containing: "\"type\":\"statistics\"")
        let receiver = try Self.receive(lab, output: output, ["--json"])
        let sent = source.wait(seconds: 30)
        let received = receiver.wait(seconds: 30)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 0, "\(received.standardError)")
        Self.expectWholeAPDUSuffix(try Data(contentsOf: output), of: try Data(contentsOf: input), "late joiner")
        let joined = try #require(MultiReceiverEndToEndTests.jsonLines(received.standardError, type: "joined").first)
        #expect(joined["late"] as? Bool == true)
        #expect(joined["output_offset"] as? Int == 0)
        #expect(joined["first_sequence"] as? UInt32 != nil)
        #expect(joined["tsi"] as? String != nil)
    }

    /// The first receiver is killed (SIGKILL, by PID) half-way; a new one in its place joins again, mid-stream,
    /// and delivers from there.
    @Test(.enabled(if: NamespaceLab.available, "needs root, ip and nft"))
    func aKilledReceiverRestartedJoinsAgainFromItsNewJoinPoint() throws {
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 0)
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 600 * Self.apduSize)
        let outputs = [input.appendingPathExtension("out1"), input.appendingPathExtension("out2")]
        defer { for url in [input] + outputs { try? FileManager.default.removeItem(at: url) } }
        let first = try Self.receive(lab, output: outputs[0])
        first.waitForStandardError(containing: "joined")
        let source = try Self.send(lab, input)
        Self.waitForSize(outputs[0], atLeast: 150 * Self.apduSize)
        kill(first.process.processIdentifier, SIGKILL)
        let killed = first.wait(seconds: 10)
        let restarted = try Self.receive(lab, output: outputs[1])
        let sent = source.wait(seconds: 30)
        let received = restarted.wait(seconds: 30)
        #expect(killed.status == SIGKILL)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 0, "\(received.standardError)")
        let data = try Data(contentsOf: input)
        let before = try Data(contentsOf: outputs[0])
        #expect(
            before.count >= 150 * Self.apduSize && data.prefix(before.count) == before,
            "the killed receiver's output"
        )
        Self.expectWholeAPDUSuffix(try Data(contentsOf: outputs[1]), of: data, "restarted receiver")
        #expect(received.standardError.contains("mid-stream: delivering from sequence "), "\(received.standardError)")
    }

    /// The source is killed (SIGKILL) half-way and a new one (new TSI) sends another file. Its receivers see
    /// the old session expire (--peer-expiry 3) and follow the new one from its start: the output is the old
    /// session's whole APDUs, then the new file. Without --follow pgm-recv exits 4 when the new session closes
    /// (the old one was cut short); with it, it goes on until SIGTERM (exit 143). With `--key` everywhere the same
    /// holds: the new session's SPM_SQN starts over under a new TSI, which the replay check
    /// (Docs/key.md#replay) keeps apart from the old one.
    @Test(.enabled(if: NamespaceLab.available, "needs root, ip and nft"), arguments: [false, true])
    func receiversFollowARestartedSource(keyed: Bool) throws {
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 2)
        let oldInput = try SourceReceiveEndToEndTests.randomFile(bytes: 600 * Self.apduSize)
        let newInput = try SourceReceiveEndToEndTests.randomFile(bytes: 200 * Self.apduSize)
        let outputs = [oldInput.appendingPathExtension("out1"), oldInput.appendingPathExtension("out2")]
        let keyFile = oldInput.appendingPathExtension("key")
        defer { for url in [oldInput, newInput, keyFile] + outputs { try? FileManager.default.removeItem(at: url) } }
        try Data((0..<32).map { UInt8($0 * 3 + 11) }).write(to: keyFile)
        let key = keyed ? ["--key", keyFile.path] : []
        let plain = try Self.receive(lab, output: outputs[0], ["--peer-expiry", "3"] + key)
        let following = try Self.receive(lab, output: outputs[1], ["--peer-expiry", "3", "--follow", "--json"] + key)
        plain.waitForStandardError(containing: "joined")
        following.waitForStandardError(containing: "\"type\":\"start\"")
        let oldSource = try Self.send(lab, oldInput, key)
        Self.waitForSize(outputs[0], atLeast: 150 * Self.apduSize)
        kill(oldSource.process.processIdentifier, SIGKILL)
        let killed = oldSource.wait(seconds: 10)
        let newSource = try Self.send(lab, newInput, key)
        let sent = newSource.wait(seconds: 30)
        let received = plain.wait(seconds: 30)
        following.waitForStandardError(containing: "\"type\":\"session_closed\"", seconds: 30)
        kill(following.process.processIdentifier, SIGTERM)
        let followed = following.wait(seconds: 10)
        #expect(killed.status == SIGKILL)
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 4, "\(received.standardError)")
        #expect(followed.status == 143, "\(followed.standardError)")

        let old = try Data(contentsOf: oldInput)
        let new = try Data(contentsOf: newInput)
        for (index, output) in outputs.enumerated() {
            let data = try Data(contentsOf: output)
            let oldPart = data.count - new.count
            #expect(
                oldPart >= 150 * Self.apduSize && oldPart < old.count && oldPart % Self.apduSize == 0,
                "receiver \(index + 1)"
            )
            #expect(
                data.prefix(max(0, oldPart)) == old.prefix(max(0, oldPart)),
                "receiver \(index + 1): the old session's part"
            )
            #expect(data.suffix(new.count) == new, "receiver \(index + 1): the new session, whole")
        }
        #expect(received.standardError.contains("went silent and expired without closing"), "\(received.standardError)")
        #expect(received.standardError.contains("following session "), "\(received.standardError)")
        let expired = try #require(MultiReceiverEndToEndTests.jsonLines(followed.standardError, type: "expired").first)
        let follow = try #require(MultiReceiverEndToEndTests.jsonLines(followed.standardError, type: "follow").first)
        #expect(Set(follow.keys) == ["type", "tsi", "source", "output_offset", "dropped_bytes", "timestamp"])
        #expect(follow["output_offset"] as? Int == expired["output_offset"] as? Int)
        #expect(follow["dropped_bytes"] as? Int == 0)
        #expect(follow["tsi"] as? String != expired["tsi"] as? String)
        #expect(follow["output_offset"] as? Int == Self.size(outputs[1]) - new.count)
        if keyed {
            let summary = try MultiReceiverEndToEndTests.summary(followed.standardError)
            let counts = try #require(summary["authentication"] as? [String: Any])
            #expect(counts["dropped"] as? Int == 0, "\(counts)")
            #expect((counts["valid"] as? Int ?? 0) > 0, "\(counts)")
        }
    }
}
