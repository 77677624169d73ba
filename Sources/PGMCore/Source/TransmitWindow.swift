import DequeModule
import PGMWire

/// A source's transmit window (RFC 3208 §5.1, Appendix F): every ODATA sent and still repairable, oldest first,
/// from TXW_TRAIL to TXW_LEAD, with each sequence's repair bookkeeping. The trail advances with time (TXW_SECS) and
/// with data (a byte bound), whichever bites first; the source decides what a NAK does with what is here.
///
/// Invariants: the entries are the contiguous sequences trail ... lead; ``bytes`` is the sum of their payloads;
/// after ``advance(to:)`` none is older than ``maximumAge`` and ``bytes`` is within ``maximumBytes``. Empty, the
/// trail is `lead + 1`.
struct TransmitWindow {
    struct Entry {
        let sequence: SequenceNumber
        /// The APDU's bytes for this TPDU, as the application handed them in.
        let payload: ArraySlice<UInt8>
        /// The ODATA's options (OPT_FRAGMENT, OPT_SYN, OPT_JOIN), which its RDATA repeats.
        let options: [Option]
        let sentAt: Instant
        var repair = RepairBookkeeping()
    }

    /// Where one sequence's repairs stand (RFC 3208 §5.3) and who asked in the current repair cycle (§15.2.1).
    struct RepairBookkeeping {
        /// RDATA waits in the source's repair queue.
        var queued = false
        /// A NAK came within the repair hold-off or delay: RDATA is due when it ends.
        var deferred = false
        var lastRepairAt: Instant?
        /// NAKs for this sequence since its current repair cycle began, saturating.
        var cycleNAKs: UInt8 = 0
        /// When the current repair cycle's first NAK came, and from whom: the same NAKer asking again is a retry
        /// (its repair was lost), not another member of the loss neighbourhood.
        var cycleStart: Instant?
        var cycleNAKer: NLA?

        /// RDATA is queued or deferred: a NAK now rides on it.
        var isPending: Bool { queued || deferred }

        /// The first NAK of a repair cycle.
        mutating func startCycle(at now: Instant, by naker: NLA) {
            cycleNAKs = 1
            cycleStart = now
            cycleNAKer = naker
        }

        /// Another NAK in the current cycle; returns how many there have been.
        mutating func countNAK() -> UInt8 {
            cycleNAKs = cycleNAKs == .max ? .max : cycleNAKs + 1
            return cycleNAKs
        }
    }

    /// TXW_SECS: data older than this leaves the window.
    let maximumAge: Duration
    /// TXW_BYTES: while the payloads exceed this, the oldest data leaves the window.
    let maximumBytes: Int
    /// TXW_LEAD: the last ODATA sent.
    private(set) var lead: SequenceNumber
    /// Payload bytes held.
    private(set) var bytes = 0
    private var entries: Deque<Entry> = []

    /// An empty window before `first`, the first sequence the source will send.
    init(before first: SequenceNumber, maximumAge: Duration, maximumBytes: Int) {
        self.lead = first &- 1
        self.maximumAge = maximumAge
        self.maximumBytes = maximumBytes
    }

    /// TXW_TRAIL: the oldest sequence still repairable; `lead + 1` when the window is empty.
    var trail: SequenceNumber { entries.first?.sequence ?? (lead &+ 1) }
    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    /// When the oldest data ages out of the window.
    var expiry: Instant? { entries.first.map { $0.sentAt + maximumAge } }

    /// Whether `sequence` lies between the trail and the lead, i.e. can be repaired.
    func contains(_ sequence: SequenceNumber) -> Bool {
        trail.precedesOrEquals(sequence) && sequence.precedesOrEquals(lead)
    }

    /// The entry of a sequence the window ``contains(_:)``.
    subscript(sequence: SequenceNumber) -> Entry {
        get { entries[offset(of: sequence)] }
        set { entries[offset(of: sequence)] = newValue }
    }

    /// Records the ODATA just sent, which becomes the lead.
    mutating func append(_ sequence: SequenceNumber, payload: ArraySlice<UInt8>, options: [Option], sentAt: Instant) {
        precondition(sequence == lead &+ 1, "ODATA \(sequence) does not follow the lead \(lead)")
        entries.append(Entry(sequence: sequence, payload: payload, options: options, sentAt: sentAt))
        bytes += payload.count
        lead = sequence
    }

    /// Moves the trail past data older than ``maximumAge`` at `now` and past the oldest data while the window
    /// holds more than ``maximumBytes`` ("advance with time" and "advance with data", RFC 3208 Appendix F).
    /// Returns how many sequences left.
    mutating func advance(to now: Instant) -> Int {
        var left = 0
        // The oldest entry's time is read in place: copying the entry (its payload and options) on every call
        // cost the source more than the check itself.
        while !entries.isEmpty, entries[entries.startIndex].sentAt + maximumAge <= now || bytes > maximumBytes {
            bytes -= entries.removeFirst().payload.count
            left += 1
        }
        return left
    }

    /// Empties the window (the trail passes the lead); returns how many sequences left.
    mutating func removeAll() -> Int {
        let left = entries.count
        entries.removeAll()
        bytes = 0
        return left
    }

    private func offset(of sequence: SequenceNumber) -> Int {
        precondition(contains(sequence), "\(sequence) is outside the window \(trail) ... \(lead)")
        return Int(trail.distance(to: sequence))
    }
}
