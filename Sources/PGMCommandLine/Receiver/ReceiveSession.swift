import PGMCore
import PGMWire

/// Which session pgm-recv writes, and what it tells about the others: the first one seen, or the one
/// `--tsi` names. Kept apart from the I/O so that tests can feed it events.
struct ReceiveSession {
    enum Action: Equatable {
        case write([UInt8])
        case note(String, [String: String])
        case closed
        case expired
        case none
    }

    let wanted: TSI?
    private(set) var selected: TSI?
    private var ignored: Set<TSI> = []
    /// Unrecoverable ranges of the selected session, in the order they were reported.
    private(set) var lost: [(first: SequenceNumber, last: SequenceNumber)] = []

    init(wanted: TSI?) { self.wanted = wanted }

    var lostSequences: Int { lost.reduce(0) { $0 + Int($1.first.distance(to: $1.last)) + 1 } }

    mutating func handle(_ event: Receiver.Event) -> Action {
        switch event {
        case .peerDiscovered(let tsi, let source):
            if selected == nil && (wanted == nil || wanted == tsi) {
                selected = tsi
                return .note("session \(tsi) from \(source)", ["type": "session", "tsi": "\(tsi)", "source": "\(source)"])
            }
            if tsi != selected && ignored.insert(tsi).inserted {
                return .note("ignoring session \(tsi) from \(source)", ["type": "ignored_session", "tsi": "\(tsi)", "source": "\(source)"])
            }
            return .none
        case .data(let tsi, let bytes):
            if selected == nil && (wanted == nil || wanted == tsi) { selected = tsi }
            return tsi == selected ? .write(bytes) : .none
        case .unrecoverable(let tsi, let first, let last, let reason):
            guard tsi == selected else { return .none }
            lost.append((first, last))
            return .note(
                first == last
                    ? "unrecoverable: sequence number \(first) (\(reason))"
                    : "unrecoverable: sequence numbers \(first)-\(last) (\(reason))",
                ["type": "unrecoverable", "first": "\(first)", "last": "\(last)", "reason": "\(reason)"])
        case .sessionClosed(let tsi):
            return tsi == selected ? .closed : .none
        case .peerExpired(let tsi):
            return tsi == selected ? .expired : .none
        }
    }
}
