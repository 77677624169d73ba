/// `total-token` (Docs/ordering.md#delivery-per-mode): a token rotates along the view's members in ``MemberID``
/// order (after the largest comes the smallest), Totem-style; only its holder orders messages.
///
/// The holder stamps its own waiting messages (those that arrived here with `sender == me`, in their order) with
/// the next global sequences and passes the token, all in one control `TOKEN`. Every member, the holder included,
/// orders by the stamps. Round `r` is passed by `members[(r - 1) % n]` to `members[r % n]`: the smallest member
/// creates the token (round 0) when the view is installed and passes round 1. So every member can tell who may
/// send which round, and a token from anyone else is refused.
///
/// Tokens come from different members' sessions, so a member may get round `r + 1` before round `r`: it buffers
/// rounds and orders round `r + 1`'s messages only once every round before it (every earlier global sequence) is
/// known. A holder acts on the token as soon as it gets it, whatever it still lacks: the token carries the next
/// global sequence.
///
/// An idle holder (nothing to stamp) keeps the token at most ``tokenHold`` before passing it, so that an idle group
/// costs one control per hold rather than a flood; the hold doubles after each rotation in which nobody stamped
/// anything (from ``minimumHold`` up to ``maximumHold``) and is back to ``minimumHold`` as soon as anything is
/// stamped anywhere in the ring. A holder with waiting messages passes at once.
///
/// Token loss within a view can only be the death of the holder or of the next holder (PGM is reliable), which
/// ``GroupMember`` handles with a view change and a fresh strategy. Repeated, old, or far-ahead tokens are ignored
/// and counted (``ignoredTokens``).
///
/// Control: `kind(1) round: varint, firstGlobal: varint, count × msgid, next holder: member, idle: varint`.
/// `idle` counts the consecutive passes without a stamp, this one included, so that every holder computes the same
/// back-off from the token alone, whatever rounds it has not received yet. A member's own passes take effect when
/// made; the copies ``GroupMember`` hands back are only checked.
public struct TokenStrategy: TotalOrderStrategy {
    static let kind: UInt8 = 0x54
    /// The hold of an idle holder after a stamp anywhere in the ring.
    public static let minimumHold: Duration = .milliseconds(1)
    /// The longest hold: an idle group sends one token per 20 ms; a message waits at most a rotation of these.
    public static let maximumHold: Duration = .milliseconds(20)
    /// Messages stamped per token; a holder with more stamps the rest next time round.
    static let maximumStampsPerToken = 1024
    /// Rounds buffered ahead of the first missing one; a token further ahead is ignored (and counted).
    static let maximumBufferedRounds: UInt64 = 1 << 16
    /// Global sequences and rounds above this are refused, so that no sum overflows whatever a peer sends.
    static let maximumValue: UInt64 = 1 << 62

    struct Token: Equatable {
        var round: UInt64
        var firstGlobal: UInt64
        var stamped: [MessageID]
        var next: MemberID
        var idle: UInt64

        func encoded() -> [UInt8] {
            var writer = ByteWriter(capacity: 24 + stamped.count * 10)
            writer.write(TokenStrategy.kind)
            writer.writeVarint(round)
            writer.writeVarint(firstGlobal)
            writer.writeVarint(UInt64(stamped.count))
            for id in stamped { writer.write(id) }
            writer.write(next)
            writer.writeVarint(idle)
            return writer.bytes
        }

        static func decode(_ bytes: ArraySlice<UInt8>) throws(FrameError) -> Token {
            var reader = ByteReader(bytes)
            guard try reader.read() == TokenStrategy.kind else { throw .unknownFormat }
            let round = try reader.readVarint()
            let firstGlobal = try reader.readVarint()
            // A msgid takes at least 9 bytes.
            let count = try reader.readCount(minimumItemSize: 9)
            var stamped: [MessageID] = []
            stamped.reserveCapacity(count)
            for _ in 0..<count { stamped.append(try reader.readMessageID()) }
            let next = try reader.readMember()
            let idle = try reader.readVarint()
            guard reader.isAtEnd else { throw .malformed("bytes after the token") }
            return Token(round: round, firstGlobal: firstGlobal, stamped: stamped, next: next, idle: idle)
        }
    }

    let me: MemberID
    let members: [MemberID]
    let index: Int

    /// Who holds the token as far as this member knows: the next holder named by the latest round it got (the
    /// smallest member before any).
    public private(set) var holder: MemberID?
    /// Whether this member holds the token now.
    public private(set) var isHolding = false
    /// How long this member, holding the token with nothing to stamp, keeps it.
    public private(set) var tokenHold: Duration = minimumHold

    /// The latest round received or passed.
    private var latestRound: UInt64 = 0
    /// The round this member last passed (0: none yet).
    private var lastPassedRound: UInt64 = 0
    /// While holding: the round received (0 for the creator), the next global to stamp, the idle count so far.
    private var heldRound: UInt64 = 0
    private var nextStamp: UInt64
    private var heldIdle: UInt64 = 0
    private var holdDeadline: Duration?
    private var passDue = false

    /// My messages that arrived and wait for the token.
    private var waiting: [MessageID] = []
    private var waitingHead = 0
    /// Rounds after `appliedRound` received out of order.
    private var buffered: [UInt64: Token] = [:]
    private var appliedRound: UInt64 = 0
    /// The first global sequence of round `appliedRound + 1`.
    private var expectedGlobal: UInt64
    /// Stamped messages in global order, not polled yet.
    private var ordered: [MessageID] = []
    private var orderedHead = 0
    private var nextGlobal: UInt64

    public private(set) var malformedControls = 0
    /// Tokens repeated, older than what this member already has, or too far ahead: ignored.
    public private(set) var ignoredTokens = 0
    /// Tokens that came before a round they follow (from a faster session), buffered until the gap filled.
    public private(set) var tokensAhead = 0
    /// Tokens this member passed, and how many of them stamped nothing (for the frames-per-message figures).
    public private(set) var passedTokens = 0
    public private(set) var idlePasses = 0

    public init(me: MemberID, members: [MemberID], view: UInt32, nextGlobal: UInt64, at now: Duration) {
        self.me = me
        self.members = members
        index = members.firstIndex(of: me) ?? 0
        self.nextGlobal = nextGlobal
        expectedGlobal = nextGlobal
        nextStamp = nextGlobal
        holder = members.first
        if members.first == me {
            isHolding = true
            holdDeadline = now + tokenHold
        }
    }

    /// Everything kept per message or round: none once all is ordered and polled.
    var retainedCount: Int { buffered.count + waiting.count + ordered.count }

    public var nextDeadline: Duration? { isHolding && !passDue && members.count > 1 ? holdDeadline : nil }

    public mutating func advance(to now: Duration) {
        guard isHolding, let deadline = holdDeadline, deadline <= now, members.count > 1 else { return }
        passDue = true
    }

    public mutating func messageArrived(_ id: MessageID, at now: Duration) {
        guard id.sender == me else { return }
        waiting.append(id)
    }

    public mutating func receive(control: ArraySlice<UInt8>, from sender: MemberID, at now: Duration) {
        guard let token = try? Token.decode(control), isValid(token, from: sender) else {
            malformedControls += 1
            return
        }
        if sender == me && token.round <= lastPassedRound { return }  // my own pass, applied when made
        guard token.round > appliedRound, buffered[token.round] == nil else {
            ignoredTokens += 1
            return
        }
        guard token.round - appliedRound <= Self.maximumBufferedRounds else {
            ignoredTokens += 1
            return
        }
        accept(token, at: now)
    }

    /// Once every member's messages were delivered nobody needs the token any more: nothing pending.
    public var hasPendingControls: Bool { false }

    public mutating func pollControl() -> [UInt8]? {
        guard isHolding, passDue || waitingHead < waiting.count else { return nil }
        let count = min(waiting.count - waitingHead, Self.maximumStampsPerToken)
        let stamped = Array(waiting[waitingHead..<(waitingHead + count)])
        waitingHead += count
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        } else if waitingHead > 1024 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        let token = Token(
            round: heldRound + 1, firstGlobal: nextStamp, stamped: stamped, next: members[(index + 1) % members.count],
            idle: stamped.isEmpty ? heldIdle + 1 : 0)
        passedTokens += 1
        if stamped.isEmpty { idlePasses += 1 }
        isHolding = false
        passDue = false
        holdDeadline = nil
        // The time only matters when the token comes straight back (a view of one), which passes at once.
        accept(token, at: .zero)
        lastPassedRound = token.round
        return token.encoded()
    }

    public mutating func pollOrdered() -> (id: MessageID, global: UInt64)? {
        guard orderedHead < ordered.count else { return nil }
        let id = ordered[orderedHead]
        orderedHead += 1
        if orderedHead == ordered.count {
            ordered.removeAll(keepingCapacity: true)
            orderedHead = 0
        } else if orderedHead > 1024 && orderedHead * 2 > ordered.count {
            ordered.removeFirst(orderedHead)
            orderedHead = 0
        }
        defer { nextGlobal += 1 }
        return (id, nextGlobal)
    }

    /// The hold after `idle` consecutive passes without a stamp: doubled per idle rotation, at most the maximum.
    static func hold(afterIdlePasses idle: UInt64, members: Int) -> Duration {
        let rotations = idle / UInt64(max(1, members))
        guard rotations < 5 else { return maximumHold }
        return min(maximumHold, minimumHold * (1 << Int(rotations)))
    }

    /// Round `r` comes from `members[(r - 1) % n]`, names `members[r % n]`, and stamps its sender's messages only.
    private func isValid(_ token: Token, from sender: MemberID) -> Bool {
        let n = UInt64(members.count)
        guard n > 0, token.round >= 1, token.round <= Self.maximumValue, token.firstGlobal <= Self.maximumValue,
            members[Int((token.round - 1) % n)] == sender, members[Int(token.round % n)] == token.next,
            token.idle <= Self.maximumValue
        else { return false }
        var previous: UInt64 = 0
        for id in token.stamped {
            guard id.sender == sender, id.sequence > previous else { return false }
            previous = id.sequence
        }
        return true
    }

    private mutating func accept(_ token: Token, at now: Duration) {
        buffered[token.round] = token
        if token.round > appliedRound + 1 { tokensAhead += 1 }
        if token.round > latestRound {
            latestRound = token.round
            holder = token.next
        }
        if token.next == me, token.round > lastPassedRound, !isHolding {
            isHolding = true
            heldRound = token.round
            nextStamp = token.firstGlobal + UInt64(token.stamped.count)
            heldIdle = token.idle
            tokenHold = Self.hold(afterIdlePasses: token.idle, members: members.count)
            holdDeadline = now + tokenHold
            passDue = false
        }
        applyBuffered()
    }

    /// Moves the rounds that follow the applied ones without a gap to the ordered messages.
    private mutating func applyBuffered() {
        while let token = buffered.removeValue(forKey: appliedRound + 1) {
            guard token.firstGlobal == expectedGlobal else {
                // Only a member that broke the rotation sends this; the view stalls until it is removed.
                malformedControls += 1
                return
            }
            ordered.append(contentsOf: token.stamped)
            expectedGlobal += UInt64(token.stamped.count)
            appliedRound += 1
        }
    }
}
