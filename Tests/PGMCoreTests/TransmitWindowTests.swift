import PGMWire
import Testing

@testable import PGMCore

/// The source's transmit window on its own (RFC 3208 §5.1, Appendix F).
@Suite struct TransmitWindowTests {
    static func ms(_ value: Int64) -> Instant { Instant(nanoseconds: value * 1_000_000) }

    static func window(first: UInt32 = 100, age: Duration = .seconds(1), bytes: Int = 3000) -> TransmitWindow {
        TransmitWindow(before: SequenceNumber(first), maximumAge: age, maximumBytes: bytes)
    }

    @Test func anEmptyWindowHasItsTrailPastItsLead() {
        let window = Self.window()
        #expect(window.lead == SequenceNumber(99) && window.trail == SequenceNumber(100))
        #expect(window.isEmpty && window.expiry == nil && window.bytes == 0)
        #expect(!window.contains(SequenceNumber(99)) && !window.contains(SequenceNumber(100)))
    }

    @Test func theTrailFollowsWhicheverBoundBitesFirst() {
        var window = Self.window()
        for (index, size) in [1000, 1000, 500].enumerated() {
            window.append(
                SequenceNumber(100 + UInt32(index)), payload: ArraySlice(repeating: 7, count: size), options: [],
                sentAt: Self.ms(Int64(index) * 100))
        }
        #expect(window.trail == SequenceNumber(100) && window.lead == SequenceNumber(102) && window.bytes == 2500)
        #expect(window.expiry == Self.ms(1000))
        #expect(window.advance(to: Self.ms(999)) == 0)
        // With data: 1,600 more bytes push the window to 4,100; the two oldest leave.
        window.append(
            SequenceNumber(103), payload: ArraySlice(repeating: 1, count: 1600), options: [], sentAt: Self.ms(999))
        #expect(window.advance(to: Self.ms(999)) == 2)
        #expect(window.trail == SequenceNumber(102) && window.bytes == 2100)
        // With time: 102 was sent at 200 ms.
        #expect(window.advance(to: Self.ms(1200)) == 1)
        #expect(window.trail == SequenceNumber(103) && window.count == 1)
        #expect(window.advance(to: Self.ms(1999)) == 1)
        #expect(window.isEmpty && window.trail == SequenceNumber(104) && window.lead == SequenceNumber(103))
    }

    @Test func entriesAreFoundBySequenceAcrossTheWrapAndKeepTheirRepairBookkeeping() {
        var window = Self.window(first: UInt32.max - 1, bytes: 1 << 20)
        for offset in UInt32(0)..<4 {
            window.append(
                SequenceNumber(UInt32.max - 1) &+ offset, payload: [UInt8(offset)], options: [Option(.syn)],
                sentAt: .zero)
        }
        #expect(window.trail == SequenceNumber(UInt32.max - 1) && window.lead == SequenceNumber(1))
        #expect(window.contains(SequenceNumber(0)) && !window.contains(SequenceNumber(2)))
        #expect(Array(window[SequenceNumber(0)].payload) == [2] && window[SequenceNumber(0)].options == [Option(.syn)])
        let naker = NLA.ipv4(IPv4Address(10, 0, 0, 2))
        window[SequenceNumber(0)].repair.startCycle(at: Self.ms(5), by: naker)
        window[SequenceNumber(0)].repair.queued = true
        #expect(window[SequenceNumber(0)].repair.isPending && window[SequenceNumber(0)].repair.cycleNAKer == naker)
        #expect(!window[SequenceNumber(1)].repair.isPending)
        for _ in 0..<300 { _ = window[SequenceNumber(0)].repair.countNAK() }
        #expect(window[SequenceNumber(0)].repair.cycleNAKs == .max, "saturates")
    }

    /// Random sends of random sizes at random times, and advances: the window always matches a plain model (the
    /// contiguous sequences still within both bounds), however the sequence numbers wrap.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func randomSendsAndAdvancesKeepTheInvariants(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let first = UInt32.max - UInt32(random.bounded(300))
        let age = Duration.milliseconds(Int64(50 + random.bounded(500)))
        let maximumBytes = Int(1000 + random.bounded(20_000))
        var window = TransmitWindow(before: SequenceNumber(first), maximumAge: age, maximumBytes: maximumBytes)
        var model: [(sequence: SequenceNumber, size: Int, sentAt: Instant)] = []
        var next = SequenceNumber(first)
        var now = Instant.zero
        for _ in 0..<3_000 {
            now += .milliseconds(Int64(random.bounded(20)))
            if random.bounded(3) != 0 {
                let size = Int(random.bounded(1500))
                window.append(next, payload: ArraySlice(repeating: 0, count: size), options: [], sentAt: now)
                model.append((next, size, now))
                next = next &+ 1
            } else {
                var expired = 0
                while let oldest = model.first,
                    oldest.sentAt + age <= now || model.reduce(0, { $0 + $1.size }) > maximumBytes
                {
                    model.removeFirst()
                    expired += 1
                }
                #expect(window.advance(to: now) == expired)
                #expect(window.bytes <= maximumBytes)
                #expect(window.expiry.map { $0 > now } ?? true, "nothing older than TXW_SECS")
            }
            #expect(window.lead == next &- 1)
            #expect(window.count == model.count)
            #expect(window.bytes == model.reduce(0) { $0 + $1.size })
            #expect(window.trail == (model.first?.sequence ?? next))
            if let oldest = model.first {
                #expect(Int(window.trail.distance(to: window.lead)) + 1 == model.count, "contiguous")
                #expect(window.expiry == oldest.sentAt + age)
            }
            let probe = SequenceNumber(first &+ UInt32(random.bounded(4000)))
            #expect(window.contains(probe) == model.contains { $0.sequence == probe })
        }
    }
}
