import PGMCore
import PGMWire

/// Which session pgm-recv writes, and what it tells about the others: the first one seen, or the one
/// `--tsi` names. Kept apart from the I/O so that tests can feed it events.
///
/// Other sessions seen meanwhile are candidates: their events are kept (up to ``candidateBufferBytes`` of data
/// in all) so that when the selected session ends, the next one can be written from its start. A session ends
/// in one of three ways: it closes with OPT_FIN, after which pgm-recv stops unless `follow` is set; its source
/// resets it with OPT_RST (RFC 3208 §9.8: an aborted transfer, e.g. pgm-source interrupted); or the receiver
/// engine expires it (silent for `--peer-expiry`: a source killed or restarted without OPT_FIN). The last two
/// cut the session short (``sessionsCutShort``): the oldest candidate is followed if there is one (a restarted
/// source), or with `follow` the next session to appear (as at start-up, only `--timeout` bounds the wait);
/// otherwise pgm-recv stops (``Action/ended``). The output is then the followed sessions' data one after the
/// other; the notes give the output byte at which each starts.
struct ReceiveSession {
    enum Action: Equatable {
        case write(ArraySlice<UInt8>)
        case note(ReceiverNote)
        /// Data of the selected session that cannot be recovered (reported at most once a second: ``LossReport``).
        case lost(LostRange)
        /// The selected session closed (OPT_FIN) and pgm-recv does not follow: stop.
        case closed
        /// The selected session was reset or expired and there is nothing to follow: stop, cut short.
        case ended
    }

    /// Data kept for candidate sessions, in all. Past it the oldest events of the session being added to are
    /// dropped (and counted), so that memory stays bounded however long the selected session lasts.
    static let candidateBufferBytes = 64 << 20

    let wanted: TSI?
    let follow: Bool
    private(set) var selected: TSI?
    private var ignored: Set<TSI> = []
    /// Sessions written and closed while following: their stray events until the engine forgets them are not news.
    private var finished: Set<TSI> = []
    /// Candidates in the order they were discovered, with their events since.
    private var candidates: [Candidate] = []
    private var bufferedBytes = 0
    /// Unrecoverable ranges of the sessions written, in the order they were reported.
    private(set) var lost: [LostRange] = []
    /// Bytes written so far: where the next session's data starts in the output.
    private(set) var bytesWritten = 0
    /// Sessions written that ended without OPT_FIN (reset by their source, or expired).
    private(set) var sessionsCutShort = 0

    init(wanted: TSI?, follow: Bool = false) {
        self.wanted = wanted
        self.follow = follow
    }

    var lostSequences: Int { lost.reduce(0) { $0 + $1.packets } }

    private func eligible(_ tsi: TSI) -> Bool { wanted == nil || wanted == tsi }

    mutating func handle(_ event: Receiver.Event) -> [Action] {
        let tsi = event.tsi
        // Whichever session they concern: packets that claim a session from off its path are worth a warning
        // (the engine sends these at most once a second per session), and so is a path that moved.
        switch event {
        case .offPathPackets(_, let address, let dropped):
            return [.note(.offPath(tsi, from: address, dropped: dropped))]
        case .pathChanged(_, let sender, let path):
            return [.note(.pathChanged(tsi, sender: sender, path: path))]
        default:
            break
        }
        if finished.contains(tsi) {
            switch event {
            case .peerDiscovered:
                finished.remove(tsi)  // the engine forgot it and heard it again: a session like any other
            case .peerExpired:
                finished.remove(tsi)
                return []
            case .joined, .data, .unrecoverable, .sessionClosed, .sessionReset, .offPathPackets, .pathChanged:
                return []
            }
        }
        if selected == nil && eligible(tsi) {
            selected = tsi
            if case .peerDiscovered(_, let source) = event { return [.note(.session(tsi, source: source))] }
        }
        guard tsi == selected else { return handleOther(event) }
        switch event {
        case .peerDiscovered, .offPathPackets, .pathChanged:
            return []
        case .joined(_, let first, let late):
            return [.note(.joined(tsi, firstSequence: first, late: late, outputOffset: bytesWritten))]
        case .data(_, let bytes):
            bytesWritten += bytes.count
            return [.write(bytes)]
        case .unrecoverable(_, let first, let last, let reason):
            let range = LostRange(first: first, last: last, outputOffset: bytesWritten, reason: reason)
            lost.append(range)
            return [.lost(range)]
        case .sessionClosed:
            guard follow else { return [.closed] }
            finished.insert(tsi)
            return [.note(.sessionClosed(tsi, outputOffset: bytesWritten))] + followNext()
        case .sessionReset(_, let errorCode):
            finished.insert(tsi)
            sessionsCutShort += 1
            return [.note(.reset(tsi, errorCode: errorCode, outputOffset: bytesWritten))] + followOrEnd()
        case .peerExpired:
            sessionsCutShort += 1
            return [.note(.expired(tsi, outputOffset: bytesWritten))] + followOrEnd()
        }
    }

    /// After a session was cut short: a restarted source's session already seen is followed, and with `follow`
    /// the next to appear is waited for; otherwise the run ends.
    private mutating func followOrEnd() -> [Action] {
        guard follow || !candidates.isEmpty else {
            selected = nil
            return [.ended]
        }
        return followNext()
    }

    /// An event of a session not selected: kept if it is a candidate, reported once if not.
    private mutating func handleOther(_ event: Receiver.Event) -> [Action] {
        let tsi = event.tsi
        if let index = candidates.firstIndex(where: { $0.tsi == tsi }) {
            if case .peerExpired = event {
                bufferedBytes -= candidates[index].bytes
                candidates.remove(at: index)
                return []
            }
            candidates[index].append(event)
            bufferedBytes += event.dataCount
            while bufferedBytes > Self.candidateBufferBytes, let dropped = candidates[index].dropOldest() {
                bufferedBytes -= dropped
            }
            return []
        }
        guard case .peerDiscovered(_, let source) = event, ignored.insert(tsi).inserted else { return [] }
        guard eligible(tsi) else { return [.note(.ignoredSession(tsi, source: source))] }
        ignored.remove(tsi)
        candidates.append(Candidate(tsi: tsi, source: source))
        return [.note(.candidateSession(tsi, source: source, selected: selected))]
    }

    /// Selects the oldest candidate and replays what it delivered meanwhile; with none, waits for the next
    /// session to appear.
    private mutating func followNext() -> [Action] {
        selected = nil
        guard !candidates.isEmpty else { return [.note(.waiting(outputOffset: bytesWritten))] }
        let next = candidates.removeFirst()
        bufferedBytes -= next.bytes
        selected = next.tsi
        var actions: [Action] = [
            .note(.follow(next.tsi, source: next.source, outputOffset: bytesWritten, droppedBytes: next.droppedBytes))
        ]
        for event in next.events[next.start...] { actions += handle(event) }
        return actions
    }
}

/// A session not selected, and what it delivered meanwhile (`events[start...]`; dropping the oldest moves
/// `start` rather than shifting the array).
private struct Candidate {
    let tsi: TSI
    let source: NLA
    var events: [Receiver.Event] = []
    var start = 0
    var bytes = 0
    /// Data bytes dropped from the front for the buffer limit.
    var droppedBytes = 0

    mutating func append(_ event: Receiver.Event) {
        // Kept for a while: its own bytes only, not the receive buffer its slice belongs to.
        if case .data(let tsi, let data) = event {
            events.append(.data(tsi, bytes: ArraySlice(Array(data))))
        } else {
            events.append(event)
        }
        bytes += event.dataCount
    }

    /// Drops the oldest event; returns its data bytes, or nil when nothing is left.
    mutating func dropOldest() -> Int? {
        guard start < events.count else { return nil }
        let count = events[start].dataCount
        start += 1
        bytes -= count
        droppedBytes += count
        if start > 1024 && start * 2 > events.count {
            events.removeFirst(start)
            start = 0
        }
        return count
    }
}

extension Receiver.Event {
    var tsi: TSI {
        switch self {
        case .peerDiscovered(let tsi, _), .joined(let tsi, _, _), .data(let tsi, _), .unrecoverable(let tsi, _, _, _),
            .sessionClosed(let tsi), .sessionReset(let tsi, _), .peerExpired(let tsi), .offPathPackets(let tsi, _, _),
            .pathChanged(let tsi, _, _):
            tsi
        }
    }

    /// Payload bytes, for bounding what is kept of candidate sessions.
    var dataCount: Int {
        if case .data(_, let bytes) = self { bytes.count } else { 0 }
    }
}
