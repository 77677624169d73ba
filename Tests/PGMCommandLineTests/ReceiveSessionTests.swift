import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// pgm-recv's choice of session, fed engine events in-process: late-join notices, following a new session when
/// the selected one expires (a restarted source) or, with `--follow`, closes; and the JSON keys of those notes.
@Suite struct ReceiveSessionTests {
    let first = TSI(gsi: GSI(rawValue: 1), sourcePort: 1)
    let second = TSI(gsi: GSI(rawValue: 2), sourcePort: 2)
    let third = TSI(gsi: GSI(rawValue: 3), sourcePort: 3)
    let address = NLA.ipv4(IPv4Address(198, 18, 0, 1))

    func notes(_ actions: [ReceiveSession.Action]) -> [[String: JSONValue]] {
        actions.compactMap { if case .note(let note) = $0 { note.printed.json } else { nil } }
    }

    func texts(_ actions: [ReceiveSession.Action]) -> [String] {
        actions.compactMap { if case .note(let note) = $0 { note.printed.text } else { nil } }
    }

    /// Pins the keys of the `joined` JSON line, and says in words where a late joiner starts.
    @Test func aLateJoinIsAnnouncedWithItsSequenceAndOutputOffset() {
        var session = ReceiveSession(wanted: nil)
        _ = session.handle(.peerDiscovered(first, source: address))
        let actions = session.handle(.joined(first, firstSequence: SequenceNumber(4711), lateJoin: true))
        #expect(
            notes(actions) == [
                [
                    "type": "joined", "tsi": "\(first)", "first_sequence": 4711, "late": true, "output_offset": 0,
                ]
            ]
        )
        #expect(texts(actions).first?.contains("mid-stream: delivering from sequence 4711") == true)
        let start = session.handle(.joined(first, firstSequence: SequenceNumber(1), lateJoin: false))
        #expect(notes(start).first?["late"] == false)
        #expect(texts(start).first?.contains("at its start") == true)
    }

    /// A source killed and restarted: its session expires, and the new one, seen meanwhile, is written from its
    /// start after what the old one delivered, then ends pgm-recv when it closes.
    @Test func anExpiredSessionIsFollowedByTheNextOneFromItsStart() {
        var session = ReceiveSession(wanted: nil)
        _ = session.handle(.peerDiscovered(first, source: address))
        #expect(session.handle(.data(first, bytes: [1, 2, 3])) == [.write([1, 2, 3])])
        #expect(
            texts(session.handle(.peerDiscovered(second, source: address))).first?.hasPrefix("ignoring session") == true
        )
        #expect(session.handle(.joined(second, firstSequence: SequenceNumber(9), lateJoin: false)) == [])
        #expect(session.handle(.data(second, bytes: [7])) == [])
        #expect(session.handle(.data(second, bytes: [8, 9])) == [])
        let actions = session.handle(.peerExpired(first))
        #expect(notes(actions).map { $0["type"] } == ["expired", "follow", "joined"])
        #expect(notes(actions)[0] == ["type": "expired", "tsi": "\(first)", "output_offset": 3])
        #expect(
            notes(actions)[1] == [
                "type": "follow", "tsi": "\(second)", "source": "\(address)", "output_offset": 3,
                "dropped_bytes": 0,
            ]
        )
        #expect(notes(actions)[2]["output_offset"] == 3)
        #expect(actions.filter { if case .write = $0 { true } else { false } } == [.write([7]), .write([8, 9])])
        #expect(session.selected == second)
        #expect(session.handle(.data(first, bytes: [0])) == [], "the expired session's TSI is not news")
        #expect(session.handle(.sessionClosed(second)) == [.closed])
    }

    /// With nothing else on the group an expired session ends pgm-recv (the source is gone: the transfer was cut
    /// short); with --follow it waits, as at start-up, and the next session to appear is taken.
    @Test func withNoOtherSessionAnExpiryEndsTheRunOrWithFollowWaits() {
        var plain = ReceiveSession(wanted: nil)
        _ = plain.handle(.peerDiscovered(first, source: address))
        let ended = plain.handle(.peerExpired(first))
        #expect(notes(ended).map { $0["type"] } == ["expired"])
        #expect(ended.last == .ended && plain.sessionsCutShort == 1)

        var session = ReceiveSession(wanted: nil, follow: true)
        _ = session.handle(.peerDiscovered(first, source: address))
        let actions = session.handle(.peerExpired(first))
        #expect(notes(actions).map { $0["type"] } == ["expired", "waiting"])
        #expect(!actions.contains(.closed) && !actions.contains(.ended))
        #expect(notes(session.handle(.peerDiscovered(third, source: address))).first?["type"] == "session")
        #expect(session.handle(.data(third, bytes: [5])) == [.write([5])])
        #expect(session.sessionsCutShort == 1)
    }

    /// OPT_RST ends the session as an expiry does: the note names the reset and the output byte it stopped at,
    /// a candidate is followed, and without one the run ends; the reset session's stragglers are ignored.
    @Test func aResetEndsTheSessionLikeAnExpiry() {
        var plain = ReceiveSession(wanted: nil)
        _ = plain.handle(.peerDiscovered(first, source: address))
        _ = plain.handle(.data(first, bytes: [1, 2]))
        let ended = plain.handle(.sessionReset(first, errorCode: 2))
        #expect(
            texts(ended) == [
                "session \(first) was reset by its source (OPT_RST, code 2: SIGINT) after 2 bytes of output: the "
                    + "transfer was cut short"
            ])
        #expect(ended.last == .ended && plain.sessionsCutShort == 1)
        #expect(plain.handle(.peerExpired(first)) == [], "the reset session's expiry later is not news")

        var restarted = ReceiveSession(wanted: nil)
        _ = restarted.handle(.peerDiscovered(first, source: address))
        _ = restarted.handle(.peerDiscovered(second, source: address))
        _ = restarted.handle(.data(second, bytes: [7]))
        let followed = restarted.handle(.sessionReset(first, errorCode: 0))
        #expect(notes(followed).map { $0["type"] } == ["reset", "follow"])
        #expect(followed.contains(.write([7])) && !followed.contains(.ended))
        #expect(restarted.handle(.sessionClosed(second)) == [.closed])
        #expect(restarted.sessionsCutShort == 1)
    }

    /// OPT_FIN ends pgm-recv unless --follow; with it, the next session follows and the closed one's stragglers
    /// are ignored.
    @Test func followGoesOnAfterAClose() {
        var plain = ReceiveSession(wanted: nil)
        _ = plain.handle(.peerDiscovered(first, source: address))
        _ = plain.handle(.peerDiscovered(second, source: address))
        #expect(plain.handle(.sessionClosed(first)) == [.closed])

        var following = ReceiveSession(wanted: nil, follow: true)
        _ = following.handle(.peerDiscovered(first, source: address))
        _ = following.handle(.data(first, bytes: [1]))
        let closed = following.handle(.sessionClosed(first))
        #expect(
            notes(closed) == [
                ["type": "session_closed", "tsi": "\(first)", "output_offset": 1],
                ["type": "waiting", "output_offset": 1],
            ]
        )
        #expect(
            following.handle(
                .unrecoverable(first, first: SequenceNumber(1), last: SequenceNumber(1), reason: .windowAdvanced)
            ) == []
        )
        _ = following.handle(.peerDiscovered(second, source: address))
        #expect(following.handle(.data(second, bytes: [2])) == [.write([2])])
        #expect(following.handle(.sessionClosed(second)).contains(.closed) == false)
        #expect(following.lostSequences == 0)
    }

    /// --tsi pins one session: others are never followed, even when it expires (the run ends; with --follow the
    /// same session is waited for).
    @Test func tsiPinsOneSessionAcrossExpiry() {
        var plain = ReceiveSession(wanted: first)
        _ = plain.handle(.peerDiscovered(first, source: address))
        _ = plain.handle(.peerDiscovered(second, source: address))
        #expect(plain.handle(.peerExpired(first)).last == .ended)

        var session = ReceiveSession(wanted: first, follow: true)
        _ = session.handle(.peerDiscovered(first, source: address))
        _ = session.handle(.peerDiscovered(second, source: address))
        _ = session.handle(.data(second, bytes: [2]))
        let actions = session.handle(.peerExpired(first))
        #expect(notes(actions).map { $0["type"] } == ["expired", "waiting"])
        #expect(session.handle(.data(second, bytes: [3])) == [])
        _ = session.handle(.peerDiscovered(first, source: address))
        #expect(session.handle(.data(first, bytes: [4])) == [.write([4])])
    }

    /// A candidate that delivers more than the buffer holds loses its oldest data, and the follow note says how
    /// much.
    @Test func candidateDataIsBounded() {
        var session = ReceiveSession(wanted: nil)
        _ = session.handle(.peerDiscovered(first, source: address))
        _ = session.handle(.peerDiscovered(second, source: address))
        let apdu = [UInt8](repeating: 1, count: 1 << 20)
        let count = ReceiveSession.candidateBufferBytes / apdu.count + 3
        for _ in 0..<count { _ = session.handle(.data(second, bytes: apdu[...])) }
        let actions = session.handle(.peerExpired(first))
        let written = actions.reduce(0) { if case .write(let bytes) = $1 { $0 + bytes.count } else { $0 } }
        #expect(written == ReceiveSession.candidateBufferBytes)
        #expect(notes(actions)[1]["dropped_bytes"] == .number(Double(3 << 20)))
    }
}
