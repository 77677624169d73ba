import DequeModule
import PGMWire

/// What a source owes in parity (RFC 3208 §11.4): the proactive parity of each group just completed, and the
/// on-demand parity receivers asked for, consolidated per group. It decides which parity packet goes next and
/// with which index; ``Source`` builds it from its transmit window and sends it under its rate and window.
///
/// Indexes: proactive parity takes 0 ..< h of every group; on-demand parity of a group continues from h with
/// fresh indexes ("previously transmitted pro-active parity packets cannot be reused"), and after the code's last
/// index (255 − k) starts again at h: a receiver that lost those too can still use them.
struct ParitySender {
    struct Job: Hashable {
        var group: SequenceNumber
        var index: Int
        var proactive: Bool
    }

    /// On-demand parity still owed to one group.
    private struct Request {
        var pending: Int
        var nextIndex: Int
    }

    /// Parity of a group sent lately: packets still on their way to receivers whose NAKs crossed them.
    private struct Recent {
        var count: Int
        var lastAt: Instant
    }

    /// Who asked last for each group's parity: the same NAKer asking again is not a NAK that crossed the parity.
    private var lastNAKers: [SequenceNumber: NLA] = [:]

    let groups: TransmissionGroups
    let proactive: Int
    let onDemand: Bool
    let code: ReedSolomonCode
    private var proactiveJobs: Deque<Job> = []
    private var requests: [SequenceNumber: Request] = [:]
    /// Groups with on-demand parity pending, in the order asked.
    private var requestOrder: Deque<SequenceNumber> = []
    /// The next index each group's on-demand parity takes, kept after its requests are served so that a later
    /// request gets fresh indexes too; pruned with the window.
    private var nextIndexes: [SequenceNumber: Int] = [:]
    private var recent: [SequenceNumber: Recent] = [:]
    /// How long parity sent counts against new requests (the source's repair hold-off).
    let holdOff: Duration

    init(_ configuration: Source.Parity, holdOff: Duration) {
        self.holdOff = holdOff
        groups = configuration.groups!
        proactive = configuration.proactive
        onDemand = configuration.onDemand
        code = try! ReedSolomonCode(dataCount: configuration.groupSize, kernel: configuration.kernel)
    }

    var isIdle: Bool { proactiveJobs.isEmpty && requestOrder.isEmpty }

    /// OPT_PARITY_PRM for the SPMs (§11.4: TGSIZE and which parity the source provides).
    var parameters: Option {
        Option(.parityParameters(groupSize: groups.size, proactive: proactive > 0, onDemand: onDemand))
    }

    /// The group ending at the ODATA just sent is complete: its proactive parity follows (§11.4: only after all k).
    mutating func groupCompleted(_ group: SequenceNumber) {
        for index in 0..<proactive { proactiveJobs.append(Job(group: group, index: index, proactive: true)) }
    }

    /// A parity NAK (or NAK list entry) asking for `count` packets of `group`, whose actual size is `size`
    /// (k unless shortened): §11.4 asks the source to subtract the shortfall, and to raise the group's pending
    /// count to what is asked, never to add. Beyond the RFC, parity of the group sent within the hold-off counts
    /// as pending too: a NAK arriving right behind it was sent before it arrived (the hold-off selective repairs
    /// have, ``Source/Configuration/repairHoldOff``), and with many receivers each crossing would otherwise cost
    /// its whole count again. Not so for the NAKer the parity answered: a network element forwards one NAK per
    /// need (a new interface, a larger count) and sends parity only where it was asked for, so its second NAK for
    /// a group is another subnet's, which the parity on its way does not reach. Returns how many packets the
    /// request added.
    mutating func request(
        _ group: SequenceNumber, count: Int, size: Int, from naker: NLA, at now: Instant
    ) -> Int {
        var inFlight = 0
        if let sent = recent[group] {
            if now - sent.lastAt >= holdOff {
                recent[group] = nil
            } else if lastNAKers[group] != naker {
                inFlight = sent.count
            }
        }
        let wanted = min(max(count - (groups.size - size) - inFlight, 0), code.maximumParityCount)
        var request = requests[group] ?? Request(pending: 0, nextIndex: nextIndexes[group] ?? proactive)
        guard wanted > request.pending else { return 0 }
        lastNAKers[group] = naker
        let added = wanted - request.pending
        if request.pending == 0 { requestOrder.append(group) }
        request.pending = wanted
        requests[group] = request
        return added
    }

    /// The parity packet due next: proactive parity first, so a group's proactive parity always precedes its
    /// on-demand parity (§11.4), then on-demand parity in the order asked.
    var next: Job? {
        if let job = proactiveJobs.first { return job }
        guard let group = requestOrder.first, let request = requests[group] else { return nil }
        return Job(group: group, index: request.nextIndex, proactive: false)
    }

    /// `job` (``next``) went out at `now`, or cannot be built (`now` nil): the group's data has left the window.
    mutating func finish(_ job: Job, sentAt now: Instant?) {
        if let now {
            var sent =
                recent[job.group].flatMap { now - $0.lastAt < holdOff ? $0 : nil } ?? Recent(count: 0, lastAt: now)
            sent.count += 1
            sent.lastAt = now
            recent[job.group] = sent
        }
        if job.proactive {
            proactiveJobs.removeFirst()
            return
        }
        guard var request = requests[job.group] else { return }
        request.pending -= 1
        request.nextIndex += 1
        if request.nextIndex >= code.maximumParityCount {
            request.nextIndex = proactive < code.maximumParityCount ? proactive : 0
        }
        nextIndexes[job.group] = request.nextIndex
        if request.pending > 0 {
            requests[job.group] = request
        } else {
            requests[job.group] = nil
            requestOrder.removeFirst()
        }
    }

    /// Drops what is owed to groups whose first sequence has left the window: they can no longer be encoded.
    /// The bookkeeping of groups that left is swept when this many groups have passed since the last sweep, so
    /// that the per-group tables stay bounded without a sweep per packet.
    private static let sweepEvery = 64
    private var sweptAt: SequenceNumber?

    mutating func forget(before trail: SequenceNumber) {
        while let job = proactiveJobs.first, job.group.precedes(trail) { proactiveJobs.removeFirst() }
        while let group = requestOrder.first, group.precedes(trail) {
            requestOrder.removeFirst()
            requests[group] = nil
        }
        let swept = sweptAt ?? trail
        guard swept.distance(to: trail) >= Int64(Self.sweepEvery * groups.size) || sweptAt == nil else { return }
        sweptAt = trail
        for group in nextIndexes.keys where group.precedes(trail) { nextIndexes[group] = nil }
        for group in recent.keys where group.precedes(trail) { recent[group] = nil }
        for group in lastNAKers.keys where group.precedes(trail) { lastNAKers[group] = nil }
    }
}
