import PGMWire

/// When a session's path may move (RFC 3208 §10: "damping of jitter in the value of either the network-header
/// source address of SPMs or the path NLA in SPMs"), shared by receivers and network elements.
///
/// A session belongs to the path its SPMs come by: the network-layer address they come from and their SPM_PATH (an
/// element adds the interface). SPMs from any other path are candidates, and the session moves to one (routing
/// moved, an element restarted elsewhere, a source restarted with the same TSI on another host) only when both
/// hold, beyond the RFC, which leaves the rule open:
/// 1. the candidate sent ``Rule/spms`` SPMs in a row, each with a newer SPM_SQN than its previous one, and no SPM
///    came by the current path meanwhile (one resets the count: the current path is alive);
/// 2. the current path has been silent for ``Rule/silence``, or twice the longest gap seen between its SPMs if that
///    is longer (a source with a 30 s ambient SPM interval waits a minute): silent means no SPM by it when the
///    candidate only changes SPM_PATH (native PGM keeps the source's address across elements, so data cannot tell
///    the paths apart), and no packet at all from it when the candidate comes from another address (in UDP
///    encapsulation an element forwards with its own address, so a live path keeps sending data).
///
/// A host that merely claims the session (a burst of SPMs, however consistent) cannot take it while its real path
/// keeps talking: during a transfer that is every data packet, at rest every ambient SPM. What it can still do is
/// take a session whose path really went silent; only authentication stops that.
struct PathDamping<Path: Equatable> {
    struct Rule: Hashable, Sendable {
        /// SPMs a candidate path must send in a row.
        var spms: Int
        /// The least silence of the current path before a candidate may replace it.
        var silence: Duration
    }

    /// The path that sent the latest candidate SPM, the SPM_SQN it carried and how many it sent in a row.
    private(set) var candidate: (path: Path, sequence: SequenceNumber, count: Int)?
    /// When the current path last sent an SPM that was accepted.
    private(set) var lastSPM: Instant?
    /// The longest time between two accepted SPMs of the current path.
    private(set) var longestGap = Duration.zero

    /// An SPM of the current path was accepted at `now`: it is alive, so any candidate starts over.
    mutating func heardSPM(at now: Instant) {
        if let lastSPM { longestGap = max(longestGap, now - lastSPM) }
        lastSPM = now
        candidate = nil
    }

    /// How long the current path must have been silent before a candidate replaces it.
    func threshold(_ rule: Rule) -> Duration { max(rule.silence, longestGap * 2) }

    /// An SPM by another path at `now`, with `sequence`. `lastHeard` is when the current path last sent anything
    /// that was accepted; `sameAddress` says whether the candidate comes from the current path's address (only
    /// SPM_PATH or the interface differ). Returns whether the session moves to `path` now; it then starts with
    /// no history (``heardSPM(at:)`` follows when the caller accepts this SPM).
    mutating func offer(
        _ path: Path, sequence: SequenceNumber, sameAddress: Bool, lastHeard: Instant, at now: Instant, rule: Rule
    ) -> Bool {
        if let current = candidate, current.path == path, current.sequence.precedes(sequence) {
            candidate = (path, sequence, current.count + 1)
        } else if candidate?.path != path {
            candidate = (path, sequence, 1)
        } else {
            return false  // the same candidate repeating or going back: no progress
        }
        let quietSince = sameAddress ? (lastSPM ?? lastHeard) : max(lastSPM ?? lastHeard, lastHeard)
        guard let current = candidate, current.count >= rule.spms, now - quietSince >= threshold(rule) else {
            return false
        }
        self = PathDamping()
        return true
    }
}

extension SPM {
    /// RFC 3208 §8.1: TRAIL 0 with LEAD 0x80000000 means the SPM carries no window information, and so does any
    /// SPM with OPT_NBR_UNREACH (§15.3.2, "invalidates the windowing information"). Neither moves a window.
    func carriesWindow(_ options: [Option]) -> Bool {
        if trail.rawValue == 0 && lead.rawValue == 0x8000_0000 { return false }
        return !options.contains { $0.value == .neighborUnreachable }
    }
}
