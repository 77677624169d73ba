import DequeModule
import PGMWire

/// A receiver's FEC state for one session (RFC 3208 §11.5): what its OPT_PARITY_PRM offers, and for every
/// transmission group from the one being delivered to the newest, the data packets seen (delivered ones too:
/// decoding needs any k of the group's packets) and the parity packets held, until the group is whole.
///
/// Bounded: groups are kept from the group of the window's next sequence to the group of its lead, which the
/// receive window's own limits bound; a whole group keeps nothing.
struct ParityReceiver {
    let groups: TransmissionGroups
    var proactive: Bool
    var onDemand: Bool
    /// On-demand parity was asked for and never came: NAKs by sequence for the rest of the session.
    var onDemandRefused = false
    /// Some parity packet of the session was usable (held for decoding): the source does deliver parity.
    private(set) var parityEverHeard = false
    /// Groups whose parity NAKs went unanswered while no parity had ever come.
    private(set) var unansweredGroups = 0
    /// The first sequence whose data this state has seen from the start: groups before it (data delivered before
    /// OPT_PARITY_PRM was learned, or before a late join) cannot be counted, and are NAKed by sequence. `nil`
    /// until the receive window starts.
    var trackedFrom: SequenceNumber?
    var code: ReedSolomonCode

    struct Group {
        /// Data packets seen, by position; parity packets by index.
        var members: [ParityMember?]
        var held = 0
        var parity: [Int: ParitySymbols.Received] = [:]
        /// OPT_CURR_TGSIZE: the group ends early, after this many packets.
        var size: Int?
        /// All data is here (received or recovered): nothing more to keep.
        var whole = false
        /// Decoding failed (inconsistent or corrupt parity): no further attempt.
        var failed = false
        /// Parity NAKs sent for this group, and whether any parity packet came for it since the first.
        var parityNAKs = 0
        var parityHeard = false
        /// Its parity NAKs went unanswered: NAKed by sequence from then on.
        var gaveUp = false
        /// Its members hold bytes of their own rather than slices of the driver's receive buffers.
        var ownsPayloads = false

        init(size: Int) { members = Array(repeating: nil, count: size) }
    }

    /// The group starting at ``base`` is `states[0]`, the next one `states[1]`, ...
    private(set) var base: SequenceNumber?
    private var states: Deque<Group> = []

    init(groups: TransmissionGroups, proactive: Bool, onDemand: Bool, kernel: any GaloisRegionKernel) {
        self.groups = groups
        self.proactive = proactive
        self.onDemand = onDemand
        self.code = try! ReedSolomonCode(dataCount: groups.size, kernel: kernel)
    }

    /// The most groups kept: a window of `sequences` spans at most this many.
    static func capacity(forWindowOf sequences: Int, groupSize: Int) -> Int { sequences / groupSize + 2 }

    private func slot(of group: SequenceNumber) -> Int? {
        guard let base else { return nil }
        let distance = base.distance(to: group)
        guard distance >= 0 else { return nil }
        let slot = Int(distance) / groups.size
        return slot < states.count ? slot : nil
    }

    func group(_ group: SequenceNumber) -> Group? { slot(of: group).map { states[$0] } }

    /// The state of `group`, made (with the groups between) if new; `nil` for a group already forgotten or
    /// further ahead than `capacity` groups.
    private mutating func makeSlot(for group: SequenceNumber, capacity: Int) -> Int? {
        if base == nil { base = group }
        guard var base else { return nil }
        // An earlier group than any kept (repairs of what came before the first packet seen): kept too.
        while base.distance(to: group) < 0 && states.count < capacity {
            states.prepend(Group(size: groups.size))
            base = base &- UInt32(groups.size)
            self.base = base
        }
        let distance = base.distance(to: group)
        guard distance >= 0 else { return nil }
        let slot = Int(distance) / groups.size
        guard slot < capacity else { return nil }
        while states.count <= slot { states.append(Group(size: groups.size)) }
        return slot
    }

    /// A data packet of the session (ODATA, selective RDATA, or recovered). Returns its group when that group
    /// now holds enough to decode.
    mutating func noteData(
        _ sequence: SequenceNumber, payload: ArraySlice<UInt8>, fragment: Option.Fragment?, capacity: Int
    ) -> SequenceNumber? {
        let group = groups.group(of: sequence)
        guard let slot = makeSlot(for: group, capacity: capacity), !states[slot].whole else { return nil }
        let position = groups.position(of: sequence)
        guard states[slot].members[position] == nil else { return nil }
        // A group arriving in order completes within k packets and keeps slices of the driver's receive buffers
        // until then, copying nothing (nearly every group). One with a gap may wait a round trip or more for
        // repairs: its packets get bytes of their own, so they no longer keep the driver's buffers alive.
        if !states[slot].ownsPayloads && position != states[slot].held { own(slot) }
        let bytes = states[slot].ownsPayloads ? ArraySlice(Array(payload)) : payload
        states[slot].members[position] = ParityMember(payload: bytes, fragment: fragment)
        states[slot].held += 1
        return settle(slot, group)
    }

    /// A parity packet. Returns its group when that group now holds enough to decode; `nil` for a duplicate, a
    /// group already whole or forgotten.
    mutating func noteParity(
        group: SequenceNumber, index: Int, packet: ParitySymbols.Received, size: Int?, capacity: Int
    ) -> SequenceNumber? {
        guard let slot = makeSlot(for: group, capacity: capacity), !states[slot].whole,
            states[slot].parity[index] == nil
        else { return nil }
        if !states[slot].ownsPayloads { own(slot) }
        states[slot].parity[index] = packet
        states[slot].parityHeard = true
        parityEverHeard = true
        if let size { states[slot].size = size }
        return settle(slot, group)
    }

    /// Notes OPT_CURR_TGSIZE from an SPM or the last ODATA of a shortened group.
    mutating func noteSize(_ size: Int, of group: SequenceNumber, capacity: Int) {
        guard let slot = makeSlot(for: group, capacity: capacity) else { return }
        states[slot].size = size
    }

    /// Whether the group is whole, or decodable now.
    private mutating func settle(_ slot: Int, _ group: SequenceNumber) -> SequenceNumber? {
        let size = states[slot].size ?? groups.size
        if states[slot].held >= size {
            release(slot)
            return nil
        }
        let have = states[slot].held + states[slot].parity.count + (groups.size - size)
        return have >= groups.size && !states[slot].parity.isEmpty && !states[slot].failed ? group : nil
    }

    /// Gives the group's members bytes of their own (see ``noteData``).
    private mutating func own(_ slot: Int) {
        states[slot].ownsPayloads = true
        for position in states[slot].members.indices {
            guard let member = states[slot].members[position] else { continue }
            states[slot].members[position]?.payload = ArraySlice(Array(member.payload))
        }
    }

    private mutating func release(_ slot: Int) {
        states[slot].whole = true
        states[slot].members = []
        states[slot].parity = [:]
    }

    /// Decodes `group`'s missing data packets (call when ``noteData`` or ``noteParity`` named it).
    mutating func recover(_ group: SequenceNumber) -> Result<[(SequenceNumber, ParityMember)], ParityDecodingError> {
        guard let slot = slot(of: group) else { return .success([]) }
        let state = states[slot]
        let size = state.size ?? groups.size
        do {
            let recovered = try ParitySymbols.decode(
                members: state.members, beyondEnd: groups.size - size, parity: state.parity, code: &code)
            release(slot)
            return .success(recovered.sorted { $0.key < $1.key }.map { (group &+ UInt32($0.key), $0.value) })
        } catch {
            states[slot].failed = true
            states[slot].parity = [:]
            return .failure(error)
        }
    }

    /// How many parity packets a parity NAK for `group` asks for (RFC 3208 §11.5: counted against the full group
    /// size even when it is known to be shorter): the packets neither received nor made up by parity held.
    func missingCount(of group: SequenceNumber) -> Int {
        guard let state = self.group(group), !state.whole else { return groups.size }
        return max(1, groups.size - state.held - state.parity.count)
    }

    /// Whether every data packet of `group` that reached us was recorded, so that its missing count is right.
    func tracksWhole(_ group: SequenceNumber) -> Bool {
        guard let from = trackedFrom else { return false }
        let first = groups.group(of: from)
        return group == first ? groups.position(of: from) == 0 : first.precedes(group)
    }

    /// Whether `group` is known to be complete on the source's side, so that a parity NAK may ask for it (§11.5:
    /// loss detection at group boundaries): its last packet, a later packet or any of its parity came, or it was
    /// shortened.
    func isClosed(_ group: SequenceNumber, lead: SequenceNumber) -> Bool {
        if !lead.precedes(groups.last(of: group)) { return true }
        guard let state = self.group(group) else { return false }
        return state.size != nil || !state.parity.isEmpty || state.failed
    }

    /// Whether a parity NAK for `group` may go: not when two went already and no parity came for the group since
    /// (the parity was lost on the way, or the source advertises on-demand parity it does not deliver, or delivers
    /// unusable: OpenPGM's parity RDATA fails its checksum, Docs/openpgm.md); the group is then NAKed by sequence.
    /// Beyond RFC 3208, which assumes the source keeps its word.
    func parityAnswered(_ group: SequenceNumber) -> Bool {
        guard let state = self.group(group) else { return true }
        return state.parityNAKs < 2 || state.parityHeard
    }

    /// Notes a group given up to selective NAKs. Returns whether the session should stop asking for parity: a
    /// second such group while no parity packet ever came (a source that never delivers); a session that did
    /// deliver parity keeps asking for it, group by group.
    mutating func noteUnanswered(_ group: SequenceNumber) -> Bool {
        guard let slot = slot(of: group), !states[slot].gaveUp else { return false }
        states[slot].gaveUp = true
        guard !parityEverHeard else { return false }
        unansweredGroups += 1
        return unansweredGroups >= 2
    }

    /// Counts a parity NAK for `group`.
    mutating func noteParityNAK(_ group: SequenceNumber, capacity: Int) {
        guard let slot = makeSlot(for: group, capacity: capacity) else { return }
        states[slot].parityNAKs += 1
    }

    /// Forgets groups wholly before `next`: delivered or given up.
    mutating func forget(before next: SequenceNumber) {
        while let base, groups.last(of: base).precedes(next) {
            if !states.isEmpty { states.removeFirst() }
            self.base = states.isEmpty ? nil : base &+ UInt32(groups.size)
        }
    }
}
