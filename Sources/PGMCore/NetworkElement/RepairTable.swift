import PGMWire

/// The repair states of one session by sequence number (RFC 3208 §7.2 to §7.8), at most ``capacity`` of them: a
/// flood of NAKs makes no more state than that (the counter-measure of §7.2), and the element is told how many a
/// session holds by its ``count`` when the session goes back (see `NetworkElement.withSession`).
struct RepairTable {
    /// ``NetworkElement/Configuration/maximumRepairStatesPerSession``.
    let capacity: Int
    private var states: [SequenceNumber: RepairState] = [:]

    init(capacity: Int) {
        precondition(capacity > 0, "a repair table needs room")
        self.capacity = capacity
    }

    var count: Int { states.count }
    /// No room for the state of another sequence: new NAKs for it are refused.
    var isFull: Bool { states.count >= capacity }

    /// A sequence's state; setting `nil` discards it. New state needs room (check ``isFull`` first).
    subscript(sequence: SequenceNumber) -> RepairState? {
        get { states[sequence] }
        set {
            precondition(newValue == nil || states[sequence] != nil || !isFull, "repair table over capacity")
            states[sequence] = newValue
        }
    }

    /// Discards a sequence's state and returns it.
    mutating func removeValue(forKey sequence: SequenceNumber) -> RepairState? {
        states.removeValue(forKey: sequence)
    }

    /// The sequences whose state satisfies `predicate`, in no particular order.
    func sequences(where predicate: (RepairState) -> Bool) -> [SequenceNumber] {
        states.compactMap { predicate($0.value) ? $0.key : nil }
    }
}
