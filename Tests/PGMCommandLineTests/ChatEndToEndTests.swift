import Foundation
import Testing

/// pgm-chat as users run it (root only): three members in their own namespaces on one bridge, 5 % of the multicast
/// into one of them dropped, every member sending at once. Each order's promise holds in what the members print,
/// and a member killed mid-run (the sequencer itself) leaves the survivors with identical logs.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatEndToEndTests {
    typealias Child = SourceReceiveEndToEndTests.Child

    struct Member {
        var name: String
        var child: Child
        var output: URL
        var input: URL
    }

    static func start(
        _ network: NamespaceNetwork, order: String, safe: Bool = false, messages: Int, port: Int,
        extra: [String] = []
    ) throws -> [Member] {
        try (1...3).map { index in
            let name = "m\(index)"
            let input = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-chat-\(UUID().uuidString)")
            try (1...messages).map { "\(name) line \($0)\n" }.joined().write(
                to: input, atomically: true, encoding: .utf8)
            let output = input.appendingPathExtension("out")
            var arguments = [
                "/usr/sbin/ip", "netns", "exec", network.namespace(name),
                try SourceReceiveEndToEndTests.binary("pgm-chat"),
                "--name", name, "--interface", "198.19.106.1\(index)", "--group", "239.192.106.1",
                "--udp-port", String(port), "--order", order, "--members", "3", "--json", "--timeout", "30",
                "--peer-expiry", "2", "--linger", "10",
            ]
            if safe { arguments.append("--safe") }
            arguments += extra
            return Member(
                name: name, child: try Child(arguments, input: input, output: output), output: output, input: input)
        }
    }

    static func messages(_ url: URL) -> [[String: Any]] {
        ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["type"] as? String == "message"
            else { return nil }
            return object
        }
    }

    static func makeNetwork() throws -> NamespaceNetwork {
        let network = NamespaceNetwork(roles: ["hub", "m1", "m2", "m3"])
        try network.setUp()
        try network.addBridge(in: "hub", address: nil)
        for index in 1...3 {
            try network.addLink(
                "m\(index)", "e0", address: "198.19.106.1\(index)/24", to: "hub", "p\(index)", peerAddress: nil)
        }
        try network.dropMulticast(in: "m3", percent: 5)
        return network
    }

    @Test(
        .enabled(if: NamespaceLab.available, "needs root, ip and nft"),
        arguments: ["fifo", "causal", "total-sequencer", "total-isis", "total-token"])
    func everyOrderHoldsAcrossThreeHostsWithLoss(order: String) throws {
        let network = try Self.makeNetwork()
        defer { network.tearDown() }
        let members = try Self.start(network, order: order, safe: order == "total-isis", messages: 200, port: 3061)
        defer {
            for member in members {
                try? FileManager.default.removeItem(at: member.input);
                try? FileManager.default.removeItem(at: member.output)
            }
        }
        let outcomes = members.map { $0.child.wait(seconds: 90) }
        for (member, outcome) in zip(members, outcomes) {
            #expect(outcome.status == 0, "\(order) \(member.name): \(outcome.standardError.suffix(600))")
        }
        let logs = members.map { Self.messages($0.output).map { "\($0["from"]!)/\($0["sequence"]!)" } }
        for (member, log) in zip(members, logs) {
            #expect(log.count == 600, "\(order) \(member.name) delivered \(log.count)")
            #expect(Set(log).count == log.count, "\(order) \(member.name): duplicates")
            for sender in 1...3 {
                let sequences = log.filter { $0.hasPrefix("m\(sender)/") }.map { Int($0.split(separator: "/")[1])! }
                #expect(sequences == Array(1...200), "\(order) \(member.name): m\(sender)'s messages out of order")
            }
        }
        if order.hasPrefix("total") {
            #expect(logs[0] == logs[1] && logs[1] == logs[2], "\(order): logs differ")
        }
    }

    /// total-sequencer: the member listed first in the formed view (the smallest member ID) orders everything;
    /// it is killed mid-run. The survivors remove it, agree on what of it to deliver, and go on to the end with
    /// identical logs holding all of each other's messages.
    @Test(.enabled(if: NamespaceLab.available, "needs root, ip and nft"))
    func survivorsOfAKilledSequencerKeepIdenticalLogs() throws {
        let network = try Self.makeNetwork()
        defer { network.tearDown() }
        let members = try Self.start(
            network, order: "total-sequencer", messages: 3000, port: 3062, extra: ["--rate", "1M"])
        defer {
            for member in members {
                try? FileManager.default.removeItem(at: member.input);
                try? FileManager.default.removeItem(at: member.output)
            }
        }
        var sequencer: Member?
        let deadline = Date().addingTimeInterval(30)
        while sequencer == nil, Date() < deadline {
            usleep(50_000)
            let text = (try? String(contentsOf: members[0].output, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.contains("\"formed\"") }),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let first = (object["members"] as? [String])?.first
            else { continue }
            sequencer = members.first { $0.name == first }
        }
        let killed = try #require(sequencer)
        usleep(300_000)
        kill(killed.child.process.processIdentifier, SIGKILL)
        let survivors = members.filter { $0.name != killed.name }
        let outcomes = survivors.map { $0.child.wait(seconds: 120) }
        _ = killed.child.wait(seconds: 1)
        for (member, outcome) in zip(survivors, outcomes) where outcomes.contains(where: { $0.status != 0 }) {
            print("pgm-chat \(member.name) stderr:\n\(outcome.standardError)")
        }
        for (member, outcome) in zip(survivors, outcomes) {
            #expect(outcome.status == 0, "\(member.name): \(outcome.standardError.suffix(3000))")
        }
        for member in survivors {
            let text = (try? String(contentsOf: member.output, encoding: .utf8)) ?? ""
            #expect(
                text.contains("\"removed\":[\"\(killed.name)\"]"), "\(member.name) never removed \(killed.name)")
        }
        let killedLog = Self.messages(killed.output).count
        #expect(killedLog < 9000, "the sequencer was killed after the end (it delivered \(killedLog))")
        let logs = survivors.map { Self.messages($0.output).map { "\($0["from"]!)/\($0["sequence"]!)" } }
        #expect(logs[0] == logs[1], "survivors' logs differ (\(logs[0].count) and \(logs[1].count) messages)")
        for (member, log) in zip(survivors, logs) {
            for other in survivors {
                #expect(
                    log.filter { $0.hasPrefix("\(other.name)/") }.count == 3000, "\(member.name) lacks \(other.name)'s")
            }
        }
    }
}
