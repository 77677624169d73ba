public import PGMWire

/// What a keyed driver lets through after a valid tag (Docs/key.md#replay): a tag proves who made a packet, not
/// when, so a copy of a genuine packet verifies as well as the original. Per session (TSI) the guard keeps the
/// newest SPM_SQN and the furthest trailing edge seen in verified packets, and turns away
/// - an SPM whose SPM_SQN is not newer than the newest seen (RFC 3208 §6.2: the engines ignore such an SPM too,
///   but only while they hold the session; here the SPM never reaches the engine, so it cannot refresh a
///   session's liveness or bring back one that expired), and
/// - ODATA or RDATA behind the furthest trail (the source no longer holds such a sequence, so it cannot have sent
///   it since; a receiver whose session expired would otherwise take a replay of it as new data).
///
/// Everything else passes: NAKs, NCFs, SPMRs, POLLs and POLRs carry no sequence a replay could be told by (what a
/// replay of each can do is in Docs/key.md), and data within the window is a duplicate the engines drop.
///
/// State is bounded: at most ``capacity`` sessions, the least recently used forgotten first. Sessions are not
/// forgotten with time: a session replayed long after it ended is still turned away while it is remembered.
public struct ReplayGuard: Sendable {
    public enum Verdict: Hashable, Sendable {
        case admitted
        /// An SPM with an SPM_SQN not newer than one seen before.
        case staleSPM
        /// ODATA or RDATA behind the session's trailing edge.
        case behindTrail
    }

    public static let defaultCapacity = 4096
    public let capacity: Int

    fileprivate struct Session {
        var spmSequence: SequenceNumber?
        var trail: SequenceNumber?
        var lastUse: UInt64
    }

    private var sessions: [TSI: Session] = [:]
    private var uses: UInt64 = 0

    public init(capacity: Int = defaultCapacity) {
        precondition(capacity > 0, "a replay guard needs room for a session")
        self.capacity = capacity
    }

    /// Sessions remembered.
    public var count: Int { sessions.count }

    /// Judges a packet whose tag was valid, and remembers what it tells about its session.
    public mutating func admit(_ packet: Packet) -> Verdict {
        switch packet.body {
        case .spm(let spm):
            var session = take(packet.tsi)
            defer { put(packet.tsi, session) }
            if let last = session.spmSequence, !last.precedes(spm.sequence) { return .staleSPM }
            session.spmSequence = spm.sequence
            // Trail 0 with lead 0x80000000 says "no window information" (RFC 3208 §8.1).
            if !(spm.trail.rawValue == 0 && spm.lead.rawValue == 0x8000_0000) {
                session.advance(trail: spm.trail, lead: spm.lead)
            }
            return .admitted
        case .odata(let data), .rdata(let data):
            var session = take(packet.tsi)
            defer { put(packet.tsi, session) }
            if let trail = session.trail, data.sequence.precedes(trail) { return .behindTrail }
            session.advance(trail: data.trail, lead: data.sequence)
            return .admitted
        case .poll, .polr, .nak, .nnak, .ncf, .spmr, .ack:
            return .admitted
        }
    }

    private mutating func take(_ tsi: TSI) -> Session {
        uses &+= 1
        if let session = sessions.removeValue(forKey: tsi) { return session }
        if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            sessions[oldest] = nil
        }
        return Session(lastUse: uses)
    }

    private mutating func put(_ tsi: TSI, _ session: Session) {
        var session = session
        session.lastUse = uses
        sessions[tsi] = session
    }
}

extension ReplayGuard.Session {
    /// A trail the packet's own lead vouches for (trail ≤ lead), kept when it is further than the one known.
    fileprivate mutating func advance(trail candidate: SequenceNumber, lead: SequenceNumber) {
        guard candidate.precedesOrEquals(lead) else { return }
        if let trail, !trail.precedes(candidate) { return }
        trail = candidate
    }
}
