import PGMWire

/// A receiver's half of PGMCC (Rizzo, SIGCOMM 2000; draft-ietf-rmt-bb-pgmcc-03) for one session, made when the
/// source's data carries OPT_PGMCC_DATA: the loss rate (an EWMA over ODATA sequences, as the paper's receivers
/// measure it, at arrival rather than at delivery so a repair's delay does not hide it), the latest timestamp
/// to echo in OPT_PGMCC_FEEDBACK, and RX_MAX with the 32-bit bitmap an acker's ACKs carry.
struct CongestionFeedback {
    var loss: LossRateEstimator
    /// The highest ODATA sequence seen: the next ODATA beyond it tells how many were missed.
    var lead: SequenceNumber?
    /// OPT_PGMCC_DATA's timestamp of the latest data packet, echoed in feedback.
    var timestamp: UInt32 = 0
    /// RX_MAX: the highest sequence received (ODATA or RDATA); `bitmap` bit i stands for RX_MAX − i.
    var receivedMaximum: SequenceNumber?
    var bitmap: UInt32 = 0
    /// When this receiver last answered an election (an unspecified acker).
    var lastElectionAnswer: Instant?

    /// Gaps longer than this count as this many losses: the estimate is near 1 well before.
    static let longestCountedGap: UInt32 = 4096
    /// Receivers answer an election at most this often, so that a source without an acker hears each of
    /// them once a second, not once per packet.
    static let electionAnswerInterval = Duration.seconds(1)

    init(weight: Double) { loss = LossRateEstimator(weight: weight) }

    /// One data packet of the session arrived.
    mutating func record(_ sequence: SequenceNumber, repair: Bool, timestamp: UInt32) {
        self.timestamp = timestamp
        if !repair {
            if let lead {
                if lead.precedes(sequence) {
                    let missed = min(UInt32(lead.distance(to: sequence)) - 1, Self.longestCountedGap)
                    for _ in 0..<missed { loss.record(missed: true) }
                    loss.record(missed: false)
                    self.lead = sequence
                }
            } else {
                loss.record(missed: false)
                lead = sequence
            }
        }
        guard let maximum = receivedMaximum else {
            receivedMaximum = sequence
            bitmap = 1
            return
        }
        if maximum.precedes(sequence) {
            let shift = UInt32(maximum.distance(to: sequence))
            bitmap = shift >= 32 ? 1 : (bitmap << shift) | 1
            receivedMaximum = sequence
        } else {
            let back = UInt32(sequence.distance(to: maximum))
            if back < 32 { bitmap |= 1 << back }
        }
    }

    /// OPT_PGMCC_FEEDBACK naming `address`.
    func option(from address: NLA) -> Option {
        Option(.pgmccFeedback(timestamp: timestamp, lossRate: loss.scaled, receiver: address))
    }
}

extension Peer {
    /// Data of this session, after ``handleData``: under PGMCC, measure, and ACK when we are the acker or the
    /// source asks for an election (draft-ietf-rmt-bb-pgmcc-03 §4; answering elections is ours, see
    /// ``CongestionControl``). ACKs go where NAKs go (the path), or to the source before any SPM.
    mutating func noteCongestion(
        _ data: DataPacket, options: [Option], repair: Bool, from sender: NLA, context: inout ReceiverContext
    ) {
        guard admits(sender) else { return }
        var found: (timestamp: UInt32, acker: NLA)?
        for option in options {
            if case .pgmccData(let timestamp, let acker) = option.value { found = (timestamp, acker) }
        }
        guard let (timestamp, acker) = found, let address = context.configuration.address else { return }
        var feedback = congestion ?? CongestionFeedback(weight: context.configuration.congestionLossWeight)
        feedback.record(data.sequence, repair: repair, timestamp: timestamp)
        context.statistics.congestionLossRate = feedback.loss.scaled
        var answer = acker == address
        context.statistics.isAcker = answer
        if !answer && (acker == .unspecifiedIPv4 || acker == .ipv6(IPv6Address(high: 0, low: 0))) {
            if feedback.lastElectionAnswer.map({ context.now - $0 >= CongestionFeedback.electionAnswerInterval })
                ?? true
            {
                feedback.lastElectionAnswer = context.now
                context.statistics.electionAnswers += 1
                answer = true
            }
        }
        congestion = feedback
        guard answer, let maximum = feedback.receivedMaximum else { return }
        let configuration = context.configuration
        let packet = Packet(
            tsi: tsi, dataDestinationPort: configuration.dataDestinationPort,
            body: .ack(ACK(receivedMaximum: maximum, bitmap: feedback.bitmap)),
            options: [feedback.option(from: address)])
        context.outbound.append(Transmit(packet: packet, destination: .unicast(path ?? source)))
        context.statistics.acksSent += 1
    }
}
