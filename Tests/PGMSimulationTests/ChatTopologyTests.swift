import Foundation
import PGMSimulation
import Testing

/// Topologies of `pgm-chat` members (Topologies/chat.yaml): what validation accepts and refuses, and that the
/// simulator refuses them with a sentence rather than running a session without a source.
@Suite struct ChatTopologyTests {
    static func topology(chat: String, extra: String = "", members: Int = 3) throws -> Topology {
        let hosts = (1...members).map { index in
            #"{"name": "m\#(index)", "interfaces": [{"subnet": "lan", "address": "198.18.112.\#(20 + index)"}], "#
                + #""run": {"program": "pgm-chat"}}"#
        }
        let json = """
            {"name": "chat", "group": "239.192.0.14", "port": 7500,
             "subnets": [{"name": "lan", "prefix": "198.18.112.0/24"}],
             "hosts": [\(hosts.joined(separator: ", "))], "chat": \(chat), "checks": []\(extra)}
            """
        return try JSONDecoder().decode(Topology.self, from: Data(json.utf8))
    }

    static let plain = #"{"messages": 100, "size": 64, "order": "total-isis"}"#

    @Test func aChatTopologyValidates() throws {
        let topology = try Self.topology(chat: Self.plain)
        try topology.validate()
        #expect(topology.chat?.order == "total-isis")
        #expect(topology.traffic == nil)
        try Self.topology(chat: #"{"messages": 10, "size": 16, "order": "fifo", "kill": {"host": "m2", "after": 1}}"#)
            .validate()
        try Self.topology(
            chat:
                #"{"messages": 10, "size": 16, "order": "total-sequencer", "kill": {"host": "first-in-view", "after": 1}}"#
        )
        .validate()
    }

    @Test(arguments: [
        (#"{"messages": 10, "size": 64, "order": "total"}"#, "chat.order"),
        (#"{"messages": 0, "size": 64, "order": "fifo"}"#, "chat.messages"),
        (#"{"messages": 10, "size": 8, "order": "fifo"}"#, "chat.size"),
        (#"{"messages": 10, "size": 64, "order": "fifo", "kill": {"host": "m9", "after": 1}}"#, "chat.kill.host"),
        (#"{"messages": 10, "size": 64, "order": "fifo", "kill": {"host": "m1", "after": -1}}"#, "chat.kill.after"),
        (#"{"messages": 10, "size": 64, "order": "fifo", "interval": 0}"#, "chat.interval"),
    ])
    func badChatBlocksAreRefused(chat: String, naming: String) throws {
        let topology = try Self.topology(chat: chat)
        #expect {
            try topology.validate()
        } throws: { error in
            (error as? Topology.ValidationError)?.description.contains(naming) == true
        }
    }

    @Test func aChatTopologyHasNoTrafficNorSourceChecksAndTwoSurvivorsAfterAKill() throws {
        let withTraffic = try Self.topology(chat: Self.plain, extra: #", "traffic": {"bytes": 10}"#)
        #expect(throws: Topology.ValidationError.self) { try withTraffic.validate() }
        let twoWithKill = try Self.topology(
            chat: #"{"messages": 10, "size": 64, "order": "fifo", "kill": {"host": "m1", "after": 1}}"#, members: 2)
        #expect(throws: Topology.ValidationError.self) { try twoWithKill.validate() }
        let one = try Self.topology(chat: Self.plain, members: 1)
        #expect(throws: Topology.ValidationError.self) { try one.validate() }
    }

    @Test func theSimulatorRefusesChatMembers() throws {
        let topology = try Self.topology(chat: Self.plain)
        #expect {
            _ = try TopologyScenario(topology, options: .init(seed: 1, rateBitsPerSecond: 10_000_000, native: false))
        } throws: { error in
            (error as? TopologyScenario.Unsupported)?.description.contains("namespace lab") == true
        }
    }

    @Test func aSourceTopologyStillNeedsTraffic() throws {
        let json = """
            {"name": "t", "group": "239.192.0.14", "port": 7500,
             "subnets": [{"name": "lan", "prefix": "198.18.112.0/24"}],
             "hosts": [{"name": "src", "interfaces": [{"subnet": "lan", "address": "198.18.112.10"}],
                        "run": {"program": "pgm-source"}}],
             "checks": []}
            """
        let topology = try JSONDecoder().decode(Topology.self, from: Data(json.utf8))
        #expect(throws: Topology.ValidationError.self) { try topology.validate() }
    }
}
