extension GroupMember {
    /// HELLO with my name, mode, safe flag, `--members` and the members I heard (Docs/ordering.md#formation).
    mutating func sendHello(at now: Duration) {
        let known = ([me] + heard.keys).sorted()
        let hello = Frame.Hello(
            name: configuration.name, mode: mode, safe: configuration.safe,
            expected: UInt64(configuration.expectedMembers ?? 0), known: known)
        queue(.hello(hello))
        lastHelloKnown = known
        nextHelloAt = now + configuration.helloInterval
    }

    mutating func handleHello(_ hello: Frame.Hello, from sender: MemberID, at now: Duration) {
        guard hello.mode == mode, hello.safe == configuration.safe else {
            if incompatibleMembers.insert(sender).inserted {
                let reason =
                    "mode \(hello.mode.rawValue)\(hello.safe ? " safe" : "") here \(mode.rawValue)"
                    + (configuration.safe ? " safe" : "")
                emit(.incompatible(sender, reason: reason))
                heard.removeValue(forKey: sender)
                early.removeAll { $0.sender == sender }
            }
            stats.incompatibleFrames += 1
            return
        }
        switch phase {
        case .excluded:
            return
        case .member:
            // A member of the view that formed after me still says HELLO; anyone else is late: joining a formed
            // total order needs state transfer, which this version does not do.
            if !(currentView?.members.contains(sender) ?? false), lateSeen.insert(sender).inserted {
                stats.lateMembers += 1
            }
        case .forming:
            let isNew = heard.updateValue(hello, forKey: sender) == nil
            names[sender] = hello.name
            if isNew {
                knownChangedAt = now
                sendHello(at: now)
            }
        }
    }

    /// The group forms when every known member (me included) sent a HELLO listing exactly the known set, and
    /// that set has `expectedMembers` members or, without it, stayed the same for `formationQuiet`.
    mutating func checkFormation(at now: Duration) {
        let known = ([me] + heard.keys).sorted()
        guard lastHelloKnown == known, heard.values.allSatisfy({ $0.known == known }) else { return }
        if let expected = configuration.expectedMembers {
            guard known.count == expected else { return }
        } else {
            guard now >= knownChangedAt + configuration.formationQuiet else { return }
        }
        let view = GroupView(number: 1, members: known, names: names.filter { known.contains($0.key) })
        currentView = view
        phase = .member
        emit(.formed(view))
        for member in known {
            receivedThrough[member] = 0
            delivered[member] = 0
        }
        if mode.isTotal {
            strategy = makeStrategy(mode: mode, me: me, members: known, view: 1, nextGlobal: 1, at: now)
        }
        let waiting = early
        early = []
        for (sender, frame) in waiting { handle(frame, from: sender, at: now) }
    }

    /// A frame of a member of my view.
    mutating func handle(_ frame: Frame, from sender: MemberID, at now: Duration) {
        guard let view = currentView, phase == .member else { return }
        switch frame.body {
        case .hello:
            return
        case .data(let data):
            if frame.view > view.number {
                holdFuture(frame, from: sender)
            } else {
                handleData(data, from: sender, at: now)
            }
        case .control(let control):
            if frame.view > view.number {
                holdFuture(frame, from: sender)
            } else if frame.view == view.number, flush == nil, strategy != nil {
                strategy!.receive(control: control[...], from: sender, at: now)
                drainStrategy(at: now)
            }
        // Controls of an older view, or of this one while it is being flushed, order nothing any more.
        case .ack(let ack):
            var known = acknowledged[sender, default: [:]]
            for (member, count) in ack.receivedThrough where count > known[member, default: 0] {
                known[member] = count
            }
            acknowledged[sender] = known
            acknowledgedDelivered[sender] = max(acknowledgedDelivered[sender, default: 0], ack.deliveredCount)
            acknowledgedView[sender] = max(acknowledgedView[sender, default: 0], frame.view)
            countsChanged = true
        case .flush(let report):
            handleFlush(report, from: sender, senderView: frame.view, at: now)
        case .relay(let relay):
            handleRelay(relay)
        case .done(let last):
            if doneAt.updateValue(last, forKey: sender) == nil { emit(.memberDone(sender)) }
        case .leave:
            remove([sender], at: now)
        }
    }

    mutating func holdFuture(_ frame: Frame, from sender: MemberID) {
        guard future.count < heldFrameLimit else {
            stats.heldFramesDropped += 1
            return
        }
        stats.heldFrames += 1
        future.append((sender, frame))
    }

    /// A DATA frame: held until its mode delivers it. PGM gives each sender's frames in order, so a sequence
    /// that is not the next one is a broken sender (counted, dropped).
    mutating func handleData(_ data: Frame.DataMessage, from sender: MemberID, at now: Duration) {
        let expected = receivedThrough[sender, default: 0] + 1
        guard data.sequence == expected else {
            stats.malformedFrames += 1
            return
        }
        receivedThrough[sender] = data.sequence
        ackDirty = true
        countsChanged = true
        // A relay gave it to me already (its DATA was of a view I had not installed when the relay came).
        guard data.sequence > delivered[sender, default: 0] else { return }
        let id = MessageID(sender: sender, sequence: data.sequence)
        held[id] = Held(dependencies: data.dependencies, payload: data.payload)
        if flush == nil { strategy?.messageArrived(id, at: now) }
    }
}
