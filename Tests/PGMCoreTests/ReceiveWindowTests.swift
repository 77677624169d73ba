import PGMWire
import Testing

@testable import PGMCore

/// A receiver's window on its own (RFC 3208 §6.1): holding, giving up, in-order delivery and reassembly.
@Suite struct ReceiveWindowTests {
    typealias Window = ReceiveWindow<Int>

    /// What left a window, in order, in words a test can compare.
    enum Left: Equatable {
        case released(UInt32, missed: Bool, discarded: Bool)
        case unrecoverable(UInt32, UInt32, Receiver.LossReason)
        case apdu([UInt8])
        case caughtUp(UInt32)
    }

    /// Runs `change` on `window`, naming each released sequence by the window's front as it leaves.
    static func run(_ window: inout Window, _ change: (inout Window, (Window.Output) -> Void) -> Void) -> [Left] {
        var left: [Left] = []
        var cursor = window.next
        change(&window) { output in
            switch output {
            case .released(let missed, let discarded):
                left.append(.released(cursor.rawValue, missed: missed, discarded: discarded))
                cursor = cursor &+ 1
            case .unrecoverable(let first, let last, let reason):
                left.append(.unrecoverable(first.rawValue, last.rawValue, reason))
                cursor = last &+ 1
            case .apdu(let bytes):
                left.append(.apdu(Array(bytes)))
            case .caughtUp(let next):
                left.append(.caughtUp(next.rawValue))
            }
        }
        return left
    }

    static func window(from first: UInt32, gaps: Int) -> Window {
        var window = Window()
        window.start(at: SequenceNumber(first))
        for tag in 0..<gaps { window.appendGap(tag) }
        return window
    }

    static func tpdu(_ bytes: [UInt8], repaired: Bool = false, fragment: Option.Fragment? = nil) -> ReceivedTPDU {
        ReceivedTPDU(payload: bytes[...], fragment: fragment, repaired: repaired)
    }

    /// The receiver's fast path: an unfragmented TPDU for the front of an empty window leaves with exactly the
    /// outputs holding and delivering it would give; anything else is refused untouched.
    @Test func passThroughGivesWhatHoldAndDeliverGive() {
        for repaired in [false, true] {
            var fast = Self.window(from: 40, gaps: 0)
            var slow = Self.window(from: 40, gaps: 0)
            var passed = false
            let viaFastPath = Self.run(&fast) { window, output in
                passed = window.passThrough(Self.tpdu([1, 2, 3], repaired: repaired), output)
            }
            slow.appendGap(0)
            _ = slow.hold(Self.tpdu([1, 2, 3], repaired: repaired), at: 0)
            let viaWindow = Self.run(&slow) { $0.deliver($1) }
            #expect(passed)
            #expect(viaFastPath == viaWindow)
            #expect(fast.next == slow.next && fast.count == 0 && fast.heldBytes == 0)
        }
        var held = Self.window(from: 40, gaps: 2)
        let fragment = Option.Fragment(firstSequence: SequenceNumber(40), offset: 0, apduLength: 6)
        var refused: [Bool] = []
        let heldOutputs = Self.run(&held) { window, output in
            refused.append(!window.passThrough(Self.tpdu([1]), output))
        }
        var empty = Self.window(from: 40, gaps: 0)
        let fragmentOutputs = Self.run(&empty) { window, output in
            refused.append(!window.passThrough(Self.tpdu([1, 2, 3], fragment: fragment), output))
        }
        #expect(refused == [true, true] && heldOutputs.isEmpty && fragmentOutputs.isEmpty)
        #expect(held.count == 2 && empty.next == SequenceNumber(40))
    }

    @Test func heldTPDUsAreDeliveredInOrderBehindTheFirstGap() {
        var window = Self.window(from: 10, gaps: 3)
        #expect(window.lead == SequenceNumber(12) && window.gap(at: 1) == 1)
        let held = [window.hold(Self.tpdu([11]), at: 1), window.hold(Self.tpdu([12, 12], repaired: true), at: 2)]
        let duplicate = window.hold(Self.tpdu([12, 12]), at: 2)
        #expect(held == [true, true] && !duplicate)
        #expect(window.heldBytes == 3)
        let waiting = Self.run(&window) { $0.deliver($1) }
        #expect(waiting == [.caughtUp(10)])
        _ = window.hold(Self.tpdu([10]), at: 0)
        let delivered = Self.run(&window) { $0.deliver($1) }
        #expect(
            delivered == [
                .released(10, missed: false, discarded: false), .apdu([10]),
                .released(11, missed: false, discarded: false), .apdu([11]),
                .released(12, missed: true, discarded: false), .apdu([12, 12]), .caughtUp(13),
            ])
        #expect(window.count == 0 && window.heldBytes == 0 && window.lead == SequenceNumber(12))
    }

    @Test func aLostRunIsReportedOnceWhenNoGapRightBehindItBlocksDelivery() {
        var window = Self.window(from: UInt32.max, gaps: 4)  // 2³² − 1, 0, 1, 2
        window.markLost(at: 0, reason: .retriesExhausted)
        window.markLost(at: 1, reason: .retriesExhausted)
        let blocked = Self.run(&window) { $0.deliver($1) }
        #expect(blocked == [.caughtUp(UInt32.max)], "2 is still missing behind them")
        _ = window.hold(Self.tpdu([1]), at: 2)
        _ = window.hold(Self.tpdu([2]), at: 3)
        let reported = Self.run(&window) { $0.deliver($1) }
        #expect(
            reported == [
                .unrecoverable(UInt32.max, 0, .retriesExhausted),
                .released(1, missed: false, discarded: false), .apdu([1]),
                .released(2, missed: false, discarded: false), .apdu([2]), .caughtUp(3),
            ])
    }

    @Test func dataForAGivenUpSequenceStillComesThroughUntilItIsReported() {
        var window = Self.window(from: 1, gaps: 3)
        window.markLost(at: 1, reason: .windowAdvanced)
        let held = [window.hold(Self.tpdu([2], repaired: true), at: 1), window.hold(Self.tpdu([1]), at: 0)]
        #expect(held == [true, true], "a given-up sequence takes its data")
        let left = Self.run(&window) { $0.deliver($1) }
        #expect(left.filter { if case .apdu = $0 { true } else { false } } == [.apdu([1]), .apdu([2])])
    }

    @Test func theTrailTakesHeldGapsUnseenSequencesAndHugeRangesEachItsWay() {
        var window = Self.window(from: 1, gaps: 3)
        _ = window.hold(Self.tpdu([2]), at: 1)
        // Trail 6: 1 and 3 are lost, 4 and 5 were never seen; 2 is still delivered between them.
        let passed = Self.run(&window) {
            $0.declareLost(before: SequenceNumber(6), reason: .windowAdvanced, maximumSequences: 64, $1)
        }
        #expect(
            passed == [
                .unrecoverable(1, 1, .windowAdvanced), .released(2, missed: false, discarded: false), .apdu([2]),
                .unrecoverable(3, 5, .windowAdvanced), .caughtUp(6), .caughtUp(6),
            ])
        // Far beyond the sequence limit: a window's worth is materialised (64 here), the rest reported as one range.
        let huge = Self.run(&window) {
            $0.declareLost(before: SequenceNumber(1_000_006), reason: .windowAdvanced, maximumSequences: 64, $1)
        }
        #expect(
            huge == [
                .unrecoverable(6, 69, .windowAdvanced), .caughtUp(70), .unrecoverable(70, 1_000_005, .windowAdvanced),
                .caughtUp(1_000_006),
            ])
        #expect(window.next == SequenceNumber(1_000_006) && window.count == 0)
        let behind = Self.run(&window) {
            $0.declareLost(before: SequenceNumber(5), reason: .windowAdvanced, maximumSequences: 64, $1)
        }
        #expect(behind.isEmpty, "a trail behind the window changes nothing")
    }

    @Test func fragmentsReassembleAndAPDUsWithALostPartAreDiscarded() {
        func fragment(_ first: UInt32, _ offset: UInt32, _ length: UInt32) -> Option.Fragment {
            Option.Fragment(firstSequence: SequenceNumber(first), offset: offset, apduLength: length)
        }
        var window = Self.window(from: 1, gaps: 6)
        _ = window.hold(Self.tpdu([3, 4], fragment: fragment(1, 2, 5)), at: 1)
        _ = window.hold(Self.tpdu([5], fragment: fragment(1, 4, 5)), at: 2)
        let incomplete = Self.run(&window) { $0.deliver($1) }
        #expect(incomplete == [.caughtUp(1)])
        _ = window.hold(Self.tpdu([1, 2], fragment: fragment(1, 0, 5)), at: 0)
        // 4 ... 6 loses 5: 4 is discarded once the loss reaches it.
        _ = window.hold(Self.tpdu([7], fragment: fragment(4, 0, 3)), at: 3)
        window.markLost(at: 4, reason: .retriesExhausted)
        _ = window.hold(Self.tpdu([9], fragment: fragment(4, 2, 3)), at: 5)
        let reassembled = Self.run(&window) { $0.deliver($1) }
        #expect(
            reassembled == [
                .released(1, missed: false, discarded: false), .released(2, missed: false, discarded: false),
                .released(3, missed: false, discarded: false), .apdu([1, 2, 3, 4, 5]),
                .released(4, missed: false, discarded: true), .unrecoverable(5, 5, .retriesExhausted),
                .released(6, missed: false, discarded: true), .caughtUp(7),
            ])
        #expect(window.heldBytes == 0)
    }

    @Test func limitsGiveUpTheOldestGapsThenAnAPDUThatCannotFinish() {
        var window = Self.window(from: 1, gaps: 4)
        _ = window.hold(Self.tpdu([UInt8](repeating: 2, count: 600)), at: 1)
        _ = window.hold(Self.tpdu([UInt8](repeating: 4, count: 600)), at: 3)
        let left = Self.run(&window) { $0.enforceLimits(maximumBytes: 1000, maximumSequences: 64, $1) }
        #expect(left.first == .unrecoverable(1, 1, .receiveWindowOverflow))
        #expect(window.heldBytes <= 1000 && window.next == SequenceNumber(3))
        // Nothing missing left: the incomplete APDU at the front goes.
        var fragmented = Self.window(from: 1, gaps: 2)
        let part = Option.Fragment(firstSequence: SequenceNumber(1), offset: 0, apduLength: 3000)
        _ = fragmented.hold(Self.tpdu([UInt8](repeating: 1, count: 1400), fragment: part), at: 0)
        let next = Option.Fragment(firstSequence: SequenceNumber(1), offset: 1400, apduLength: 3000)
        _ = fragmented.hold(Self.tpdu([UInt8](repeating: 1, count: 1400), fragment: next), at: 1)
        let dropped = Self.run(&fragmented) { $0.enforceLimits(maximumBytes: 2000, maximumSequences: 64, $1) }
        #expect(dropped == [.released(1, missed: false, discarded: true)])
    }

    @Test func aHeldPayloadCanOwnItsBytes() {
        let buffer: [UInt8] = Array(0..<100)
        var window = Self.window(from: 1, gaps: 1)
        _ = window.hold(ReceivedTPDU(payload: buffer[40..<43], fragment: nil, repaired: false), at: 0)
        window.ownPayload(at: 0)
        guard case .received(let tpdu)? = window.slots.first else {
            Issue.record("not held")
            return
        }
        #expect(Array(tpdu.payload) == [40, 41, 42] && tpdu.payload.startIndex == 0)
    }

    // MARK: Properties

    /// A stream of APDUs of one to four TPDUs over consecutive sequence numbers, each TPDU's bytes naming its
    /// APDU and offset, so that any delivered APDU can be checked whole.
    struct Stream {
        struct TPDU {
            var apdu: Int
            var first: SequenceNumber
            var offset: Int
            var length: Int
            var bytes: [UInt8]
            var fragmented: Bool
        }

        var tpdus: [SequenceNumber: TPDU] = [:]
        var apduSequences: [Int: [SequenceNumber]] = [:]
        var contents: [Int: [UInt8]] = [:]

        init(from base: SequenceNumber, count: Int, random: inout SplitMix64) {
            var sequence = base
            var apdu = 0
            var made = 0
            while made < count {
                let parts = Int(1 + random.bounded(4))
                let sizes = (0..<parts).map { _ in Int(1 + random.bounded(3)) }
                let length = sizes.reduce(0, +)
                let content = (0..<length).map { UInt8(truncatingIfNeeded: apdu &* 7 &+ $0) }
                let first = sequence
                var offset = 0
                for size in sizes {
                    tpdus[sequence] = TPDU(
                        apdu: apdu, first: first, offset: offset, length: length,
                        bytes: Array(content[offset..<(offset + size)]), fragmented: parts > 1)
                    apduSequences[apdu, default: []].append(sequence)
                    offset += size
                    sequence = sequence &+ 1
                    made += 1
                }
                contents[apdu] = content
                apdu += 1
            }
        }

        func tpdu(_ sequence: SequenceNumber, repaired: Bool) -> ReceivedTPDU {
            let part = tpdus[sequence]!
            let fragment =
                part.fragmented
                ? Option.Fragment(
                    firstSequence: part.first, offset: UInt32(part.offset), apduLength: UInt32(part.length))
                : nil
            return ReceivedTPDU(payload: part.bytes[...], fragment: fragment, repaired: repaired)
        }
    }

    /// Random gaps, data, give-ups, trails, limits and deliveries over a stream of fragmented APDUs, across the
    /// sequence wrap: every sequence leaves the window exactly once and in order, the held bytes are always the
    /// sum of what is held, every delivered APDU is whole and correct, and in the end every APDU is either
    /// delivered or touched by a loss or a discarded fragment, never both.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func randomOperationsKeepTheInvariants(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let base = SequenceNumber(UInt32.max - UInt32(random.bounded(500)))
        let stream = Stream(from: base, count: 6_000, random: &random)
        var window = Window()
        let start = base &+ UInt32(random.bounded(4))  // possibly inside an APDU: its first parts were never held
        window.start(at: start)
        var cursor = start
        var pending: [SequenceNumber] = []
        var delivered: [Int] = []
        var touched: Set<Int> = []
        var unrecoverable = 0

        func handle(_ output: Window.Output) {
            switch output {
            case .released(_, let discarded):
                if discarded {
                    touched.insert(stream.tpdus[cursor]!.apdu)
                    #expect(pending.isEmpty, "a discard in the middle of an APDU being delivered")
                } else {
                    pending.append(cursor)
                }
                cursor = cursor &+ 1
            case .unrecoverable(let first, let last, _):
                #expect(first == cursor && pending.isEmpty)
                var sequence = first
                while true {
                    if let part = stream.tpdus[sequence] { touched.insert(part.apdu) }
                    unrecoverable += 1
                    if sequence == last { break }
                    sequence = sequence &+ 1
                }
                cursor = last &+ 1
            case .apdu(let bytes):
                guard let first = pending.first, let apdu = stream.tpdus[first]?.apdu else {
                    Issue.record("an APDU from no released sequence")
                    return
                }
                #expect(pending == stream.apduSequences[apdu], "an APDU delivered from other sequences")
                #expect(Array(bytes) == stream.contents[apdu])
                delivered.append(apdu)
                pending = []
            case .caughtUp(let next):
                #expect(next == cursor && pending.isEmpty)
            }
        }

        let end = base &+ 5_900
        while window.lead.precedes(end) {
            switch random.bounded(12) {
            case 0..<3:
                for _ in 0..<(1 + random.bounded(6)) { window.appendGap(0) }
            case 3..<7:
                guard window.count > 0 else { continue }
                let index = Int(random.bounded(UInt64(window.count)))
                let sequence = window.next &+ UInt32(index)
                _ = window.hold(stream.tpdu(sequence, repaired: random.bounded(2) == 0), at: index)
            case 7:
                guard window.count > 0 else { continue }
                window.markLost(at: Int(random.bounded(UInt64(window.count))), reason: .retriesExhausted)
            case 8:
                let trail = window.next &+ UInt32(random.bounded(UInt64(window.count + 3)))
                window.declareLost(before: trail, reason: .windowAdvanced, maximumSequences: 48, handle)
            case 9:
                window.enforceLimits(maximumBytes: Int(20 + random.bounded(200)), maximumSequences: 48, handle)
            default:
                window.deliver(handle)
            }
            #expect(cursor == window.next, "a sequence left unaccounted for")
            let held = window.slots.reduce(0) { sum, slot in
                if case .received(let tpdu) = slot { sum + tpdu.payload.count } else { sum }
            }
            #expect(window.heldBytes == held)
        }
        // Everything still in the window arrives, up to the end of the APDU at the lead.
        while stream.tpdus[window.lead &+ 1].map({ $0.offset > 0 }) ?? false { window.appendGap(0) }
        for index in 0..<window.count {
            _ = window.hold(stream.tpdu(window.next &+ UInt32(index), repaired: false), at: index)
        }
        window.deliver(handle)
        #expect(window.count == 0 && window.heldBytes == 0 && cursor == window.next)
        #expect(Set(delivered).count == delivered.count && delivered == delivered.sorted())
        #expect(touched.isDisjoint(with: delivered))
        let covered = stream.apduSequences.filter { _, sequences in
            sequences.allSatisfy { start.precedesOrEquals($0) && $0.precedes(window.next) }
        }
        #expect(Set(covered.keys).isSubset(of: touched.union(delivered)))
        #expect(delivered.count > 100 && unrecoverable > 0)
    }
}
