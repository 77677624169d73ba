import PGMCore

/// `--log-level debug`: once a second, what the engine decided since the last line, in words, such as
/// "repairs: 12 NAKs sent for 40 sequences, 3 suppressed by NCFs, 38 sequences repaired". Session-level decisions
/// (joined, moved, expired, reset) are event lines already; this adds the NAK and repair traffic behind the
/// statistics, without a line per packet. Counters that did not move are left out, and so is a quiet second.
struct DecisionLog {
    /// One counter: the words before and after its increase ("12 NAKs sent" is `("", "NAKs sent")`).
    struct Count {
        var name: String
        var value: Int
    }

    let period: Duration
    private var previous: [String: Int] = [:]
    private var due: Instant?

    init(period: Duration = .seconds(1)) { self.period = period }

    /// The line for `counts` when a period has passed since the last one and something moved; nil otherwise.
    /// `topic` starts the line ("repairs", "sessions").
    mutating func line(_ topic: String, _ counts: [Count], at now: Instant) -> String? {
        guard let due else {
            self.due = now + period
            remember(counts)
            return nil
        }
        guard now >= due else { return nil }
        self.due = now + period
        let moved = counts.compactMap { count -> String? in
            let increase = count.value - (previous[count.name] ?? 0)
            return increase > 0 ? "\(increase) \(count.name)" : nil
        }
        remember(counts)
        return moved.isEmpty ? nil : "\(topic): " + moved.joined(separator: ", ")
    }

    private mutating func remember(_ counts: [Count]) {
        for count in counts { previous[count.name] = count.value }
    }
}

extension Receiver.Statistics {
    /// What pgm-recv's debug line reports.
    var decisions: [DecisionLog.Count] {
        [
            .init(name: "NAKs sent", value: naksSent),
            .init(name: "sequences NAKed", value: nakSequencesSent),
            .init(name: "NAKs suppressed by NCFs or others' NAKs", value: naksSuppressed),
            .init(name: "NCFs received", value: ncfReceived),
            .init(name: "sequences repaired", value: sequencesRepaired),
            .init(name: "sequences lost", value: sequencesLost),
            .init(name: "SPMRs sent", value: spmrSent),
            .init(name: "POLRs sent", value: polrsSent),
            .init(name: "duplicates", value: duplicates),
            .init(name: "stale SPMs dropped", value: staleSPMs),
            .init(name: "malformed packets dropped", value: malformedPackets),
            .init(name: "sessions refused", value: peersRejected),
        ]
    }
}

extension Source.Statistics {
    /// What pgm-source's debug line reports.
    var decisions: [DecisionLog.Count] {
        [
            .init(name: "NAKs received", value: naksReceived),
            .init(name: "sequences NAKed", value: nakSequencesReceived),
            .init(name: "already queued", value: nakSequencesIgnored),
            .init(name: "deferred by the repair hold-off", value: nakSequencesDeferred),
            .init(name: "NCFs sent", value: ncfSent),
            .init(name: "RDATA sent", value: rdataSent),
            .init(name: "repairs delayed for more NAKs", value: repairsDelayed),
            .init(name: "NAK_BO_IVL doublings", value: nakBackoffIncreases),
            .init(name: "NAK_BO_IVL halvings", value: nakBackoffDecreases),
            .init(name: "NAKs outside the window", value: naksOutsideWindow),
            .init(name: "sequences left the window", value: sequencesExpired),
            .init(name: "SPMRs answered", value: spmrReceived - spmrRateLimited),
        ]
    }
}

extension NetworkElement.Statistics {
    /// What pgm-ne's debug line reports.
    var decisions: [DecisionLog.Count] {
        [
            .init(name: "NAKs received", value: naksReceived),
            .init(name: "NAKs forwarded", value: naksForwarded),
            .init(name: "NAKs eliminated", value: naksEliminated),
            .init(name: "NCFs sent", value: ncfsSent),
            .init(name: "losses seen above", value: lossesDetected),
            .init(name: "repair retries", value: repairRetries),
            .init(name: "RDATA forwarded", value: rdataForwarded),
            .init(name: "RDATA copies sent", value: rdataCopiesSent),
            .init(name: "NAKs answered from kept copies", value: nakSequencesAnsweredFromCopies),
            .init(name: "RDATA without repair state dropped", value: rdataWithoutRepairStateDropped),
            .init(name: "NAKs outside the window dropped", value: naksOutsideWindowDropped),
            .init(name: "upstream changes", value: upstreamChanges),
        ]
    }
}
