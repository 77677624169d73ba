import PGMOrdering
import Testing

/// A few members joined by instant FIFO channels, driven by hand: for the cases the simulator sweeps do not pin
/// down one by one (formation, refusals, counters, the relay log's bounds, leaving).
struct Bench {
    var members: [GroupMember] = []
    var events: [[GroupEvent]] = []
    var sent: [[Frame]] = []
    var dead: Set<Int> = []
    /// Members whose incoming frames wait (PGM is reliable: they arrive once the member is heard again).
    var mute: Set<Int> = []
    var waiting: [Int: [(from: Int, bytes: [UInt8])]] = [:]
    var now = Duration.zero

    static func id(_ index: Int) -> MemberID { MemberID(rawValue: UInt64(index + 1) << 16 | 7000) }

    init(_ count: Int, mode: OrderingMode, configure: (inout GroupMember.Configuration) -> Void = { _ in }) {
        for index in 0..<count {
            var configuration = GroupMember.Configuration(me: Self.id(index), name: "m\(index)", mode: mode)
            configuration.expectedMembers = count
            configure(&configuration)
            members.append(GroupMember(configuration: configuration, at: now))
            events.append([])
            sent.append([])
        }
    }

    mutating func add(mode: OrderingMode, safe: Bool = false) -> Int {
        let index = members.count
        var configuration = GroupMember.Configuration(me: Self.id(index), name: "m\(index)", mode: mode)
        configuration.safe = safe
        members.append(GroupMember(configuration: configuration, at: now))
        events.append([])
        sent.append([])
        return index
    }

    /// Moves frames and events until nothing moves, advancing time by `step` while timers are due within `for`.
    mutating func run(for span: Duration = .milliseconds(50), step: Duration = .milliseconds(1)) {
        let end = now + span
        while true {
            var moved = true
            while moved {
                moved = false
                for index in members.indices where !dead.contains(index) && !mute.contains(index) {
                    for (from, bytes) in waiting.removeValue(forKey: index) ?? [] {
                        members[index].receive(frame: bytes[...], from: Self.id(from), at: now)
                    }
                }
                for index in members.indices where !dead.contains(index) {
                    while let bytes = members[index].pollFrame() {
                        moved = true
                        if let frame = try? Frame(decoding: bytes[...]) { sent[index].append(frame) }
                        for other in members.indices where other != index && !dead.contains(other) {
                            if mute.contains(other) {
                                waiting[other, default: []].append((index, bytes))
                                continue
                            }
                            members[other].receive(frame: bytes[...], from: Self.id(index), at: now)
                        }
                    }
                    while let event = members[index].pollEvent() { events[index].append(event) }
                }
            }
            guard now < end else { return }
            now += step
            for index in members.indices where !dead.contains(index) { members[index].advance(to: now) }
        }
    }

    func delivered(_ index: Int) -> [DeliveredMessage] {
        events[index].compactMap { if case .delivered(let message) = $0 { message } else { nil } }
    }
}

@Suite struct GroupMemberTests {
    @Test func formsWithExpectedMembers() throws {
        var bench = Bench(3, mode: .causal)
        bench.run(for: .milliseconds(5))
        for index in 0..<3 {
            let view = try #require(bench.members[index].view)
            #expect(view.number == 1)
            #expect(view.members == [Bench.id(0), Bench.id(1), Bench.id(2)])
            #expect(view.names[Bench.id(2)] == "m2")
            #expect(bench.events[index].first == .formed(view))
        }
    }

    /// Without `--members`, the group forms once the known set stayed the same for `formationQuiet`.
    @Test func formsAfterQuietPeriod() {
        var bench = Bench(2, mode: .fifo) {
            $0.expectedMembers = nil
            $0.formationQuiet = .milliseconds(300)
        }
        bench.run(for: .milliseconds(290))
        #expect(bench.members[0].view == nil)
        bench.run(for: .milliseconds(20))
        #expect(bench.members[0].view?.members == [Bench.id(0), Bench.id(1)])
        #expect(bench.members[1].view?.members == [Bench.id(0), Bench.id(1)])
    }

    /// Messages submitted before the group formed wait, then go out in order.
    @Test func messagesWaitForFormation() throws {
        var bench = Bench(2, mode: .fifo)
        let first = try bench.members[0].submit([1], at: .zero)
        let second = try bench.members[0].submit([2], at: .zero)
        #expect(first.sequence == 1 && second.sequence == 2)
        #expect(bench.sent[0].allSatisfy { if case .hello = $0.body { true } else { false } })
        bench.run(for: .milliseconds(5))
        #expect(bench.delivered(1).map(\.payload) == [[1], [2]])
        #expect(bench.delivered(0).map(\.payload) == [[1], [2]])
    }

    @Test func lateMemberIsCountedNotAdmitted() throws {
        var bench = Bench(2, mode: .totalSequencer)
        bench.run(for: .milliseconds(5))
        let late = bench.add(mode: .totalSequencer)
        _ = try bench.members[late].submit([9], at: bench.now)
        bench.run(for: .milliseconds(300))
        #expect(bench.members[0].statistics.lateMembers == 1)
        #expect(bench.members[0].view?.members == [Bench.id(0), Bench.id(1)])
        #expect(bench.members[late].view == nil)
        #expect(bench.delivered(0).isEmpty)
    }

    @Test func incompatibleModeIsRefused() throws {
        var bench = Bench(2, mode: .fifo)
        let other = bench.add(mode: .fifo, safe: true)
        bench.run(for: .milliseconds(5))
        #expect(bench.members[0].view?.members == [Bench.id(0), Bench.id(1)])
        let refusal = bench.events[0].first { if case .incompatible = $0 { true } else { false } }
        #expect(refusal == .incompatible(Bench.id(other), reason: "mode fifo safe here fifo"))
        #expect(bench.members[0].statistics.incompatibleFrames > 0)
    }

    /// Garbage and frames from strangers are counted and change nothing.
    @Test func garbageAndStrangersAreCounted() throws {
        var bench = Bench(2, mode: .causal)
        bench.run(for: .milliseconds(5))
        let before = bench.members[0].view
        bench.members[0].receive(frame: [0xB7, 1, 2, 0][...], from: Bench.id(1), at: bench.now)
        bench.members[0].receive(frame: [1, 2, 3][...], from: Bench.id(1), at: bench.now)
        let data = Frame(view: 1, body: .data(.init(sequence: 1, payload: [7]))).encoded()
        bench.members[0].receive(frame: data[...], from: Bench.id(9), at: bench.now)
        // A sequence that skips ahead breaks the sender's own order: dropped and counted.
        let gap = Frame(view: 1, body: .data(.init(sequence: 5, payload: [7]))).encoded()
        bench.members[0].receive(frame: gap[...], from: Bench.id(1), at: bench.now)
        bench.run(for: .milliseconds(5))
        let statistics = bench.members[0].statistics
        #expect(statistics.malformedFrames == 3)
        #expect(statistics.nonMemberFrames == 1)
        #expect(bench.delivered(0).isEmpty)
        #expect(bench.members[0].view == before)
    }

    @Test func submitErrors() throws {
        var bench = Bench(2, mode: .fifo) { $0.maximumPayload = 4 }
        #expect(throws: GroupMember.SubmitError.tooLarge(5)) {
            try bench.members[0].submit([1, 2, 3, 4, 5], at: .zero)
        }
        bench.run(for: .milliseconds(5))
        bench.members[0].finish(at: bench.now)
        #expect(throws: GroupMember.SubmitError.finished) { try bench.members[0].submit([1], at: bench.now) }
        bench.members[1].leave(at: bench.now)
        bench.run(for: .milliseconds(5))
        #expect(throws: GroupMember.SubmitError.excluded) { try bench.members[1].submit([1], at: bench.now) }
    }

    /// LEAVE: the others install a view without the member, which learns it was removed.
    @Test func leaveRemovesTheMember() throws {
        var bench = Bench(3, mode: .totalSequencer)
        bench.run(for: .milliseconds(5))
        _ = try bench.members[2].submit([1], at: bench.now)
        bench.run(for: .milliseconds(5))
        bench.members[2].leave(at: bench.now)
        bench.run(for: .milliseconds(20))
        #expect(bench.events[2].last == .excluded)
        #expect(bench.members[0].view?.members == [Bench.id(0), Bench.id(1)])
        #expect(bench.members[0].view?.number == 2)
        #expect(bench.events[1].contains(.viewChanged(bench.members[1].view!, removed: [Bench.id(2)])))
        #expect(bench.delivered(0).map(\.payload) == [[1]])
        // The group ends with the two that stayed.
        for index in 0..<2 { bench.members[index].finish(at: bench.now) }
        bench.run(for: .milliseconds(20))
        #expect(bench.members[0].isFinished && bench.members[1].isFinished)
    }

    /// The relay log keeps what some member may lack: without ACKs it is capped at `relayLogLimit` (and counts
    /// what it dropped); with ACKs it empties as every member acknowledges.
    @Test(arguments: [OrderingMode.fifo, .totalSequencer])
    func relayLogIsBounded(mode: OrderingMode) throws {
        var bench = Bench(2, mode: mode) { $0.relayLogLimit = 10 }
        bench.run(for: .milliseconds(5))
        for value in 0..<40 { _ = try bench.members[0].submit([UInt8(value)], at: bench.now) }
        // Member 0 delivers its own messages; member 1 hears them but its ACKs do not reach member 0.
        bench.mute = [0]
        bench.run(for: .milliseconds(20))
        if mode.isTotal {
            #expect(bench.delivered(1).count == 40)
        }
        #expect(bench.members[0].statistics.relayLogEntries == 10)
        #expect(bench.members[0].statistics.relayLogEvicted == 30)
        bench.mute = []
        bench.run(for: .milliseconds(20))
        #expect(bench.members[0].statistics.relayLogEntries == 0)
        #expect(bench.members[1].statistics.relayLogEntries == 0)
    }

    /// Stability: my messages every member acknowledged receiving, what PGM may let go of.
    @Test func stabilityFollowsAcknowledgements() throws {
        var bench = Bench(3, mode: .fifo)
        bench.run(for: .milliseconds(5))
        for value in 0..<3 { _ = try bench.members[1].submit([UInt8(value)], at: bench.now) }
        bench.run(for: .milliseconds(20))
        #expect(bench.events[1].last { if case .stable = $0 { true } else { false } } == .stable(through: 3))
    }

    /// After the sequencer vanishes, the next smallest member orders.
    @Test func nextSmallestBecomesSequencer() throws {
        var bench = Bench(3, mode: .totalSequencer)
        bench.run(for: .milliseconds(5))
        _ = try bench.members[2].submit([1], at: bench.now)
        bench.run(for: .milliseconds(5))
        #expect(bench.sent[0].contains { if case .control = $0.body { true } else { false } })
        bench.dead = [0]
        for index in 1..<3 { bench.members[index].memberLost(Bench.id(0), reason: .expired, at: bench.now) }
        bench.run(for: .milliseconds(5))
        #expect(bench.members[1].view?.members == [Bench.id(1), Bench.id(2)])
        let controlsBefore = bench.sent[1].filter { if case .control = $0.body { true } else { false } }.count
        #expect(controlsBefore == 0)
        _ = try bench.members[2].submit([2], at: bench.now)
        bench.run(for: .milliseconds(5))
        let controls = bench.sent[1].filter { if case .control = $0.body { true } else { false } }
        #expect(controls.count == 1 && controls.first?.view == 2)
        #expect(bench.delivered(2).map(\.payload) == [[1], [2]])
        #expect(bench.delivered(2).map(\.global) == [1, 2])
        #expect(bench.sent[2].allSatisfy { if case .control = $0.body { false } else { true } })
    }

    /// A removed member's frames that arrive after the view change are not trusted: its messages beyond the cut
    /// are delivered nowhere.
    @Test func removedMemberBeyondCutIsIgnored() throws {
        var bench = Bench(3, mode: .fifo)
        bench.run(for: .milliseconds(5))
        _ = try bench.members[2].submit([1], at: bench.now)
        bench.run(for: .milliseconds(5))
        // Member 2's second message reaches nobody before it is removed.
        bench.mute = [0, 1]
        _ = try bench.members[2].submit([2], at: bench.now)
        bench.run(for: .milliseconds(1))
        bench.dead = [2]
        bench.waiting = [:]
        for index in 0..<2 { bench.members[index].memberLost(Bench.id(2), reason: .expired, at: bench.now) }
        bench.mute = []
        bench.run(for: .milliseconds(5))
        #expect(bench.members[0].view?.members == [Bench.id(0), Bench.id(1)])
        let late = Frame(view: 1, body: .data(.init(sequence: 2, payload: [2]))).encoded()
        for index in 0..<2 { bench.members[index].receive(frame: late[...], from: Bench.id(2), at: bench.now) }
        bench.run(for: .milliseconds(5))
        for index in 0..<2 {
            #expect(bench.delivered(index).map(\.payload) == [[1]])
            #expect(bench.members[index].statistics.nonMemberFrames == 1)
        }
    }
}
