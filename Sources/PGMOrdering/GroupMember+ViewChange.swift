extension GroupMember {
    /// Starts a view change removing `members`, or widens the one in progress (Docs/ordering.md#view-changes).
    mutating func remove(_ members: Set<MemberID>, at now: Duration) {
        guard phase == .member, let view = currentView else { return }
        let targets = members.intersection(view.members).subtracting([me])
        guard !targets.isEmpty else { return }
        if let current = flush {
            guard !targets.isSubset(of: current.removed) else { return }
            adopt(view: current.view + 1, removed: current.removed.union(targets))
        } else {
            adopt(view: view.number + 1, removed: targets)
        }
    }

    /// Makes (view, removed) my proposal: multicasts FLUSH with what I delivered, which is also my own report.
    /// Relays received for an earlier proposal are forgotten: the new flush asks again.
    mutating func adopt(view number: UInt32, removed: Set<MemberID>) {
        var reports = flush?.reports ?? [:]
        let report = Frame.Flush(
            newView: number, removed: removed.sorted(), deliveredCount: deliveredCount, delivered: delivered)
        reports[me] = report
        proposals[number] = removed
        flush = FlushState(view: number, removed: removed, reports: reports)
        queue(.flush(report))
    }

    /// Another member's FLUSH. Proposals converge: removed sets only grow and, when two differ, both sides move
    /// to the union with the larger view number plus one, so every survivor ends on the same (view, removed).
    ///
    /// `removed` is relative to the sender's view (`senderView`). A sender behind me names members I removed
    /// already (dropped by the intersection with my view). A sender ahead installed a view I proposed but did
    /// not see complete (the FLUSH of a member that crashed reached it and not me): its view is mine minus what
    /// I proposed for that number, so its removed set, for me, adds that.
    mutating func handleFlush(
        _ report: Frame.Flush, from sender: MemberID, senderView: UInt32, at now: Duration
    ) {
        guard let view = currentView else { return }
        if report.removed.contains(me) {
            exclude()
            return
        }
        guard report.newView > view.number else { return }  // a flush I completed already
        var theirs = Set(report.removed)
        if senderView > view.number {
            guard let base = proposals[senderView] else {
                stats.malformedFrames += 1  // it cannot have installed a view I never proposed
                return
            }
            theirs.formUnion(base)
        }
        theirs.formIntersection(view.members)
        guard !theirs.isEmpty else {
            stats.malformedFrames += 1
            return
        }
        var translated = report
        translated.removed = theirs.sorted()
        guard let current = flush else {
            adopt(view: report.newView, removed: theirs)
            flush!.reports[sender] = translated
            return
        }
        flush!.reports[sender] = translated
        let mine = current.removed
        if theirs.isSubset(of: mine), report.newView <= current.view {
            return  // they come to mine
        } else if theirs == mine {
            adopt(view: report.newView, removed: mine)
        } else if mine.isSubset(of: theirs), report.newView > current.view {
            adopt(view: report.newView, removed: theirs)
        } else {
            adopt(view: max(current.view, report.newView) + 1, removed: mine.union(theirs))
        }
    }

    mutating func handleRelay(_ relay: Frame.Relay) {
        guard flush?.view == relay.newView else { return }  // a relay for a proposal I left behind
        for entry in relay.entries {
            if mode.isTotal {
                if entry.global > 0 { flush!.relayedByGlobal[entry.global] = entry }
            } else {
                flush!.relayedByID[entry.id] = entry
            }
        }
    }

    /// Once every survivor's FLUSH agrees with mine: relays what others lack (if I am the chosen relayer), waits
    /// for what I lack, then installs the new view.
    mutating func completeFlushIfReady(at now: Duration) {
        guard phase == .member, let current = flush, let view = currentView else { return }
        let survivors = view.members.filter { !current.removed.contains($0) }
        var reports: [MemberID: Frame.Flush] = [:]
        for member in survivors {
            guard let report = current.reports[member], report.newView == current.view,
                Set(report.removed) == current.removed
            else { return }
            reports[member] = report
        }
        if mode.isTotal {
            // The survivor that delivered most (the smallest of those) relays the order after the least.
            let most = reports.values.map(\.deliveredCount).max() ?? 0
            let least = reports.values.map(\.deliveredCount).min() ?? 0
            let relayer = survivors.first { reports[$0]!.deliveredCount == most }
            if relayer == me, most > least, !current.relaySent {
                sendRelay(log[logHead...].filter { $0.global > least && $0.global <= most })
            }
            guard
                deliveredCount >= most || (deliveredCount + 1...most).allSatisfy({ current.relayedByGlobal[$0] != nil })
            else { return }
            if deliveredCount < most {
                for global in deliveredCount + 1...most {
                    let entry = current.relayedByGlobal[global]!
                    stats.relayDelivered += 1
                    deliver(entry.id, Held(dependencies: entry.dependencies, payload: entry.payload), global: global)
                }
            }
            dropHeld(of: current.removed, beyond: 0)
            install(current, survivors: survivors, cuts: [:], at: now)
            return
        }
        // fifo and causal: per removed member, the largest count a survivor delivered is its cut. Members removed
        // in a view some survivor did not install (it missed that flush's end) are settled again with them.
        var settling = current.removed
        for report in reports.values { settling.formUnion(report.delivered.keys) }
        settling.subtract(survivors)
        var newCuts: [MemberID: UInt64] = [:]
        var relay: [LogEntry] = []
        for removed in settling.sorted() {
            let counts = survivors.map { reports[$0]!.delivered[removed, default: 0] }
            let cut = counts.max() ?? 0
            let least = counts.min() ?? 0
            let relayer = survivors.first { reports[$0]!.delivered[removed, default: 0] == cut }
            if relayer == me, cut > least {
                relay += log[logHead...].filter {
                    $0.id.sender == removed && $0.id.sequence > least && $0.id.sequence <= cut
                }
            }
            newCuts[removed] = cut
        }
        if !relay.isEmpty, !current.relaySent { sendRelay(relay) }
        for (removed, cut) in newCuts {
            let mine = delivered[removed, default: 0]
            guard cut > mine else { continue }
            for sequence in mine + 1...cut {
                let id = MessageID(sender: removed, sequence: sequence)
                guard held[id] != nil || current.relayedByID[id] != nil else { return }
            }
        }
        for (id, entry) in current.relayedByID where held[id] == nil && id.sequence > delivered[id.sender, default: 0] {
            stats.relayDelivered += 1
            held[id] = Held(dependencies: entry.dependencies, payload: entry.payload)
        }
        for removed in settling { dropHeld(of: [removed], beyond: newCuts[removed] ?? 0) }
        install(
            current, survivors: survivors, cuts: newCuts.filter { $0.value > delivered[$0.key, default: 0] }, at: now)
    }

    /// RELAY frames of at most about `maximumPayload` payload bytes each.
    mutating func sendRelay(_ entries: [LogEntry]) {
        guard let target = flush?.view else { return }
        flush!.relaySent = true
        var batch: [Frame.Relay.Entry] = []
        var size = 0
        for entry in entries {
            // The entry's own fields count too (ID, global, length, dependencies): thousands of short messages
            // would otherwise make one frame larger than an APDU.
            let cost = entry.payload.count + 40 + 18 * entry.dependencies.count
            if !batch.isEmpty, size + cost > configuration.maximumPayload {
                queue(.relay(Frame.Relay(newView: target, entries: batch)))
                batch = []
                size = 0
            }
            batch.append(
                Frame.Relay.Entry(
                    id: entry.id, global: entry.global, dependencies: entry.dependencies, payload: entry.payload))
            size += cost
        }
        if !batch.isEmpty { queue(.relay(Frame.Relay(newView: target, entries: batch))) }
        stats.relayed += entries.count
    }

    /// The new view: removed members' messages beyond their cut are gone, survivors' undelivered messages go to
    /// a fresh strategy, and frames that waited for this view are handled.
    mutating func install(
        _ change: FlushState, survivors: [MemberID], cuts newCuts: [MemberID: UInt64], at now: Duration
    ) {
        let newView = GroupView(
            number: change.view, members: survivors, names: names.filter { survivors.contains($0.key) })
        currentView = newView
        flush = nil
        proposals = [:]
        cuts.merge(newCuts) { max($0, $1) }
        for member in change.removed {
            acknowledged.removeValue(forKey: member)
            acknowledgedDelivered.removeValue(forKey: member)
            acknowledgedView.removeValue(forKey: member)
            removedAt[member] = change.view
        }
        stats.viewChanges += 1
        emit(.viewChanged(newView, removed: change.removed.sorted()))
        ordered.removeAll()
        orderedHead = 0
        if mode.isTotal {
            strategy = makeStrategy(
                mode: mode, me: me, members: survivors, view: change.view, nextGlobal: deliveredCount + 1, at: now)
            for sender in survivors {
                var sequence = delivered[sender, default: 0] + 1
                while sequence <= receivedThrough[sender, default: 0] {
                    let id = MessageID(sender: sender, sequence: sequence)
                    if held[id] != nil { strategy!.messageArrived(id, at: now) }
                    sequence += 1
                }
            }
        }
        ackDirty = true
        countsChanged = true
        let waiting = future.filter { $0.frame.view <= change.view }
        future.removeAll { $0.frame.view <= change.view }
        for (sender, frame) in waiting where survivors.contains(sender) { handle(frame, from: sender, at: now) }
    }
}
