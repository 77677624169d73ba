import Foundation
import PGMCore
import PGMWire
import Testing

@testable import PGM

/// `PGMGroup` as an application uses it: three members in one process, native PGM on loopback (members sharing a
/// host cannot share a UDP port for unicast NAKs, `PGMOptions.openMemberSockets`), every member sending at once.
/// Raw sockets need root.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GroupTests {
    static var isRoot: Bool { getuid() == 0 }

    static func options(group last: UInt8) -> PGMOptions {
        var options = PGMOptions(group: IPv4Address(239, 192, 78, last))
        options.interface = "127.0.0.1"
        options.multicastLoop = true
        options.encapsulation = .native
        return options
    }

    /// What one member delivered, in order, until its sequence ended.
    static func run(_ group: PGMGroup, name: String, messages: Int) async throws -> [MessageID] {
        let sender = Task {
            for index in 1...messages { try await group.send(Array("\(name) \(index)".utf8)) }
            group.finish()
        }
        var delivered: [MessageID] = []
        for try await event in group {
            if case .message(let message) = event {
                #expect(
                    String(decoding: message.payload, as: UTF8.self) == "\(message.senderName) \(message.id.sequence)")
                delivered.append(message.id)
            }
        }
        try await sender.value
        return delivered
    }

    @Test(.enabled(if: isRoot, "raw sockets need root"), arguments: [OrderingMode.totalSequencer, .totalISIS, .causal])
    func threeMembersDeliverEveryMessageInTheirOrder(order: OrderingMode) async throws {
        let options = Self.options(group: order == .totalSequencer ? 1 : order == .totalISIS ? 2 : 3)
        let names = ["a", "b", "c"]
        var groups: [PGMGroup] = []
        for name in names {
            groups.append(
                try await PGMGroup(
                    options: options, settings: .init(name: name, order: order, expectedMembers: 3)))
        }
        let logs = try await withThrowingTaskGroup(of: (Int, [MessageID]).self) { tasks in
            for (index, group) in groups.enumerated() {
                tasks.addTask { (index, try await Self.run(group, name: names[index], messages: 200)) }
            }
            var logs = Array(repeating: [MessageID](), count: 3)
            for try await (index, log) in tasks { logs[index] = log }
            return logs
        }
        for log in logs {
            #expect(log.count == 600)
            for member in groups.map(\.memberID) {
                #expect(log.filter { $0.sender == member }.map(\.sequence) == Array(1...200))
            }
        }
        if order.isTotal { #expect(logs[0] == logs[1] && logs[1] == logs[2]) }
    }
}
