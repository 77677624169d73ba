extension GroupMember {
    /// Delivers what the mode allows now (Docs/ordering.md#delivery-per-mode). Nothing is delivered during a
    /// flush: the survivors must agree on what each delivered.
    mutating func deliverReady() {
        guard phase == .member, flush == nil, let view = currentView else { return }
        if mode.isTotal {
            while orderedHead < ordered.count {
                let next = ordered[orderedHead]
                if next.global <= deliveredCount {  // a strategy repeating itself: already delivered
                    orderedHead += 1
                    continue
                }
                guard next.global == deliveredCount + 1, let message = held[next.id], isSafe(next.id, in: view)
                else { break }
                deliver(next.id, message, global: next.global)
                orderedHead += 1
            }
            if orderedHead == ordered.count {
                ordered.removeAll(keepingCapacity: true)
                orderedHead = 0
            }
            return
        }
        let senders = view.members + cuts.keys.sorted()
        var progress = true
        while progress {
            progress = false
            for sender in senders {
                while true {
                    let id = MessageID(sender: sender, sequence: delivered[sender, default: 0] + 1)
                    let cut = cuts[sender]
                    if let cut, id.sequence > cut { break }
                    // A removed member's message within its cut was delivered by a survivor: it is safe already.
                    guard let message = held[id], cut != nil || isSafe(id, in: view) else { break }
                    if mode == .causal {
                        let ready = message.dependencies.allSatisfy { member, count in
                            member == sender || delivered[member, default: 0] >= count
                        }
                        guard ready else { break }
                    }
                    deliver(id, message, global: nil)
                    progress = true
                }
                if let cut = cuts[sender], delivered[sender, default: 0] >= cut {
                    cuts.removeValue(forKey: sender)
                    dropHeld(of: [sender], beyond: cut)
                }
            }
        }
    }

    /// Safe delivery: every member of the view acknowledged receiving the message.
    func isSafe(_ id: MessageID, in view: GroupView) -> Bool {
        guard configuration.safe else { return true }
        return view.members.allSatisfy { acknowledged(by: $0, of: id.sender) >= id.sequence }
    }

    mutating func deliver(_ id: MessageID, _ message: Held, global: UInt64?) {
        held.removeValue(forKey: id)
        delivered[id.sender] = id.sequence
        deliveredCount = global ?? deliveredCount + 1
        appendLog(LogEntry(id: id, global: global ?? 0, dependencies: message.dependencies, payload: message.payload))
        stats.delivered += 1
        ackDirty = true
        countsChanged = true
        emit(
            .delivered(
                DeliveredMessage(
                    id: id, senderName: names[id.sender] ?? "", payload: message.payload, global: global,
                    dependencies: mode == .causal ? message.dependencies : [:], view: currentView?.number ?? 0)))
    }

    mutating func dropHeld(of senders: Set<MemberID>, beyond sequence: UInt64) {
        for id in held.keys where senders.contains(id.sender) && id.sequence > sequence {
            held.removeValue(forKey: id)
        }
    }
}
