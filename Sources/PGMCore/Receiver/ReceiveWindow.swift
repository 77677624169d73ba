import DequeModule
import PGMWire

/// A receiver's window of one session (RFC 3208 §6.1): the sequence numbers from the first not yet delivered or
/// reported (``next``) to the highest known to exist (``lead``), each missing, held or lost, and the in-order
/// delivery of whole APDUs from its front, reassembled from OPT_FRAGMENT TPDUs.
///
/// Plain data: what a gap carries (`Gap`, the receiver's NAK state) is its owner's, and so are the decisions of
/// when a gap is given up. What leaves the front is handed to an output handler in the order it happens: loss-rate
/// samples, unrecoverable ranges, APDUs, and the end of each delivery pass.
///
/// Invariants: ``heldBytes`` is the sum of the held payloads; ``next`` only moves forward; a lost run is reported
/// once, when it reaches the front and no gap right behind it still blocks delivery, so that a trail creeping
/// forward one sequence at a time yields one report per range.
struct ReceiveWindow<Gap> {
    /// One sequence number's place in the window (RFC 3208 §6.1, §6.3).
    enum Slot {
        /// Not held; the owner's state for it (a NAK state machine) runs.
        case missing(Gap)
        /// Held, waiting for in-order delivery.
        case received(ReceivedTPDU)
        /// Unrecoverable; reported when delivery reaches it.
        case lost(Receiver.LossReason)
    }

    /// What leaves the window, in order.
    enum Output {
        /// A held or missing sequence left the front: one loss-rate sample, `missed` when its ODATA never came
        /// (repaired, or never held). `discarded`: a held fragment of an APDU that cannot be completed.
        case released(missed: Bool, discarded: Bool)
        /// `first ... last` will never be delivered (sampled as missed, once each).
        case unrecoverable(first: SequenceNumber, last: SequenceNumber, reason: Receiver.LossReason)
        /// One whole APDU, in order.
        case apdu(ArraySlice<UInt8>)
        /// A delivery pass ended: everything before `next` was delivered or reported.
        case caughtUp(next: SequenceNumber)
    }

    /// The first sequence number not yet delivered or reported; `slots[i]` is `next + i`.
    private(set) var next: SequenceNumber
    private(set) var slots: Deque<Slot> = []
    /// Payload bytes held.
    private(set) var heldBytes = 0

    init(next: SequenceNumber = SequenceNumber(0)) { self.next = next }

    /// The highest sequence number known to exist (RXW_LEAD); `next - 1` when nothing is pending.
    var lead: SequenceNumber { next &+ UInt32(slots.count) &- 1 }
    var count: Int { slots.count }

    func index(of sequence: SequenceNumber) -> Int? {
        let offset = next.distance(to: sequence)
        return offset >= 0 && Int(offset) < slots.count ? Int(offset) : nil
    }

    /// The owner's state of a missing sequence.
    func gap(at index: Int) -> Gap? {
        if case .missing(let gap) = slots[index] { gap } else { nil }
    }

    // MARK: Changes

    /// Starts an empty window at `first` (the receiver's join point).
    mutating func start(at first: SequenceNumber) {
        precondition(slots.isEmpty, "the window is already in use")
        next = first
    }

    /// Adds the sequence after the lead as missing, with the owner's state for it.
    mutating func appendGap(_ gap: Gap) {
        slots.append(.missing(gap))
    }

    /// Replaces the owner's state of a sequence that is still missing.
    mutating func updateGap(at index: Int, _ gap: Gap) {
        guard case .missing = slots[index] else { preconditionFailure("slot \(index) is not missing") }
        slots[index] = .missing(gap)
    }

    /// Holds a TPDU for `index`, missing or given up (a sequence given up but not yet reported, because a gap
    /// before it holds delivery back, is still delivered when its data comes after all). Returns `false` for a
    /// duplicate.
    mutating func hold(_ tpdu: ReceivedTPDU, at index: Int) -> Bool {
        switch slots[index] {
        case .missing, .lost:
            slots[index] = .received(tpdu)
            heldBytes += tpdu.payload.count
            return true
        case .received:
            return false
        }
    }

    /// The common case without holding anything: an unfragmented TPDU for ``next`` when nothing is held leaves at
    /// once, with the outputs ``hold(_:at:)`` and ``deliver(_:)`` would give. Returns false, changing nothing, in
    /// every other case.
    mutating func passThrough(_ tpdu: ReceivedTPDU, _ output: (Output) -> Void) -> Bool {
        guard slots.isEmpty, tpdu.fragment == nil else { return false }
        next = next &+ 1
        output(.released(missed: tpdu.repaired, discarded: false))
        output(.apdu(tpdu.payload))
        output(.caughtUp(next: next))
        return true
    }

    /// Gives a held payload its own bytes, so that it no longer keeps the driver's whole receive buffer alive.
    mutating func ownPayload(at index: Int) {
        guard case .received(var tpdu) = slots[index] else { return }
        tpdu.payload = ArraySlice(Array(tpdu.payload))
        slots[index] = .received(tpdu)
    }

    /// Gives up a missing sequence; it is reported when delivery reaches it, unless its data comes first.
    mutating func markLost(at index: Int, reason: Receiver.LossReason) {
        guard case .missing = slots[index] else { return }
        slots[index] = .lost(reason)
    }

    /// Everything before `trail` that is not held is unrecoverable, sequences never seen (past the lead) too: the
    /// source will no longer repair them. Small unseen ranges become lost slots, so that partial APDUs break
    /// exactly where the loss is; beyond `maximumSequences` the rest is reported as one range.
    mutating func declareLost(
        before trail: SequenceNumber, reason: Receiver.LossReason, maximumSequences: Int, _ output: (Output) -> Void
    ) {
        guard next.precedes(trail) else { return }
        let span = Int(next.distance(to: trail))
        for index in 0..<min(span, slots.count) { markLost(at: index, reason: reason) }
        if span > slots.count {
            let unseen = span - slots.count
            let materialised = min(unseen, max(1, maximumSequences - slots.count))
            for _ in 0..<materialised { slots.append(.lost(reason)) }
            deliver(output)
            if slots.isEmpty && next.precedes(trail) {
                output(.unrecoverable(first: next, last: trail &- 1, reason: reason))
                next = trail
            }
        }
        deliver(output)
    }

    /// Keeps the window within its byte and sequence limits by giving up the oldest gaps, or, with none left,
    /// the incomplete APDU at the front (it cannot finish in the space left).
    mutating func enforceLimits(maximumBytes: Int, maximumSequences: Int, _ output: (Output) -> Void) {
        while heldBytes > maximumBytes || slots.count > maximumSequences {
            if let index = slots.firstIndex(where: { if case .missing = $0 { true } else { false } }) {
                markLost(at: index, reason: .receiveWindowOverflow)
                deliver(output)
            } else {
                popFront(discarding: true, output)
            }
        }
    }

    // MARK: Delivery

    /// Delivers whole APDUs in order and reports lost runs as they reach the front (RFC 3208 §6.1: in order,
    /// contiguous only). Fragments of APDUs with a lost part, or begun before the window started, are discarded.
    mutating func deliver(_ output: (Output) -> Void) {
        outer: while let front = slots.first {
            switch front {
            case .missing:
                break outer
            case .lost(let reason):
                var count = 1
                while count < slots.count, case .lost(let other) = slots[count], other == reason { count += 1 }
                // A gap right behind the run blocks delivery anyway; wait for it, so that a trail moving one
                // sequence at a time yields one report for the whole range rather than one per step.
                if count < slots.count, case .missing = slots[count] { break outer }
                let first = next
                for _ in 0..<count { popFront(discarding: false, output) }
                output(.unrecoverable(first: first, last: first &+ UInt32(count - 1), reason: reason))
            case .received(let tpdu):
                guard let fragment = tpdu.fragment else {
                    let payload = tpdu.payload
                    popFront(discarding: false, output)
                    output(.apdu(payload))
                    continue
                }
                guard fragment.firstSequence == next, fragment.offset == 0 else {
                    popFront(discarding: true, output)
                    continue
                }
                // Walk the fragments of this APDU: all present and contiguous in offset, or wait / discard.
                var offset = 0
                var index = 0
                let length = Int(fragment.apduLength)
                while true {
                    guard index < slots.count else { break outer }
                    switch slots[index] {
                    case .missing:
                        break outer
                    case .lost:
                        for _ in 0..<index { popFront(discarding: true, output) }
                        continue outer
                    case .received(let part):
                        guard let partFragment = part.fragment, partFragment.firstSequence == fragment.firstSequence,
                            Int(partFragment.offset) == offset, Int(partFragment.apduLength) == length
                        else {
                            for _ in 0..<max(index, 1) { popFront(discarding: true, output) }
                            continue outer
                        }
                        offset += part.payload.count
                    }
                    if offset >= length { break }
                    index += 1
                }
                var apdu: [UInt8] = []
                apdu.reserveCapacity(length)
                for slot in slots.prefix(index + 1) {
                    if case .received(let part) = slot { apdu.append(contentsOf: part.payload) }
                }
                for _ in 0...index { popFront(discarding: false, output) }
                output(.apdu(apdu[...]))
            }
        }
        output(.caughtUp(next: next))
    }

    private mutating func popFront(discarding: Bool, _ output: (Output) -> Void) {
        guard let slot = slots.popFirst() else { return }
        next = next &+ 1
        switch slot {
        case .received(let tpdu):
            heldBytes -= tpdu.payload.count
            output(.released(missed: tpdu.repaired, discarded: discarding))
        case .lost:
            break  // sampled with its unrecoverable range
        case .missing:
            output(.released(missed: true, discarded: false))
        }
    }
}

/// A TPDU held in a receive window.
struct ReceivedTPDU {
    var payload: ArraySlice<UInt8>
    var fragment: Option.Fragment?
    /// Arrived as RDATA, i.e. the ODATA was missed: a loss-rate sample.
    var repaired: Bool
}
