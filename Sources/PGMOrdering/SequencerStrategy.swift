/// `total-sequencer` (Docs/ordering.md#delivery-per-mode): the smallest member of the view orders every message
/// it holds, its own included, and multicasts `ORDER(firstGlobal, count × msgid)`, one batch per poll. Every
/// member, the sequencer too (its own controls come back to it through ``receive(control:from:at:)``), orders
/// messages from those batches only, so there is one path to the order.
///
/// Control encoding: `kind(1) = 1 (ORDER)`, `firstGlobal: varint`, `count: varint`, `count × msgid`. A batch
/// must start where the previous one ended: the sequencer's session is FIFO, so anything else is malformed.
public struct SequencerStrategy: TotalOrderStrategy {
    static let orderKind: UInt8 = 1

    public let me: MemberID
    public let sequencer: MemberID
    public let view: UInt32
    /// The next global sequence the sequencer assigns (at the sequencer only).
    private var nextAssigned: UInt64
    /// The next global sequence expected in an ORDER batch.
    private var nextOrdered: UInt64
    /// Messages the sequencer holds and has not ordered yet, in arrival order.
    private var unordered: [MessageID] = []
    private var ordered: [(id: MessageID, global: UInt64)] = []
    private var orderedHead = 0
    public private(set) var malformedControls = 0

    public init(me: MemberID, members: [MemberID], view: UInt32, nextGlobal: UInt64, at now: Duration) {
        self.me = me
        sequencer = members.min() ?? me
        self.view = view
        nextAssigned = nextGlobal
        nextOrdered = nextGlobal
    }

    public var isSequencer: Bool { me == sequencer }

    public mutating func messageArrived(_ id: MessageID, at now: Duration) {
        if isSequencer { unordered.append(id) }
    }

    public mutating func receive(control: ArraySlice<UInt8>, from sender: MemberID, at now: Duration) {
        guard sender == sequencer else {
            malformedControls += 1
            return
        }
        var reader = ByteReader(control)
        do throws(FrameError) {
            guard try reader.read() == Self.orderKind else { throw .malformed("not ORDER") }
            let first = try reader.readVarint()
            let count = try reader.readCount(minimumItemSize: 9)
            guard first == nextOrdered else { throw .malformed("ORDER from \(first), expected \(nextOrdered)") }
            var batch: [MessageID] = []
            batch.reserveCapacity(count)
            for _ in 0..<count { batch.append(try reader.readMessageID()) }
            guard reader.isAtEnd else { throw .malformed("trailing bytes") }
            for id in batch {
                ordered.append((id, nextOrdered))
                nextOrdered += 1
            }
        } catch {
            malformedControls += 1
        }
    }

    public mutating func advance(to now: Duration) {}

    static let maximumIDsPerControl = 1024

    public mutating func pollControl() -> [UInt8]? {
        guard isSequencer, !unordered.isEmpty else { return nil }
        // At most ``maximumIDsPerControl`` per ORDER (18 bytes each at most), so that a burst never makes a
        // control larger than one APDU of the session; the rest go in the next ones.
        let count = min(unordered.count, Self.maximumIDsPerControl)
        var writer = ByteWriter(capacity: 4 + count * 10)
        writer.write(Self.orderKind)
        writer.writeVarint(nextAssigned)
        writer.writeVarint(UInt64(count))
        for id in unordered.prefix(count) { writer.write(id) }
        nextAssigned += UInt64(count)
        unordered.removeFirst(count)
        return writer.bytes
    }

    public mutating func pollOrdered() -> (id: MessageID, global: UInt64)? {
        guard orderedHead < ordered.count else { return nil }
        defer {
            orderedHead += 1
            if orderedHead == ordered.count {
                ordered.removeAll(keepingCapacity: true)
                orderedHead = 0
            }
        }
        return ordered[orderedHead]
    }

    public var nextDeadline: Duration? { nil }

    public var hasPendingControls: Bool { isSequencer && !unordered.isEmpty }
}
