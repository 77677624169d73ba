import PGMWire

/// What leaves a peer's window becomes statistics, loss-rate samples (the peer's and the receiver's, for OPT_CR)
/// and events; a session ends once delivery has passed the sequence that carried OPT_FIN (or OPT_RST's lead).
struct DeliverySink {
    let tsi: TSI
    let finLead: SequenceNumber?
    /// Set when ``finLead`` came with OPT_RST: the end is a reset.
    let resetCode: UInt8?
    var closedReported: Bool
    var loss: LossRateEstimator

    mutating func take(_ output: ReceiveWindow<Repair>.Output, context: inout ReceiverContext) {
        switch output {
        case .released(let missed, let discarded):
            record(missed: missed, count: 1, context: &context)
            if discarded { context.statistics.fragmentsDiscarded += 1 }
        case .unrecoverable(let first, let last, let reason):
            let count = Int(first.distance(to: last)) + 1
            context.statistics.sequencesLost += count
            context.statistics.lossEvents += 1
            record(missed: true, count: count, context: &context)
            context.events.append(.unrecoverable(tsi, first: first, last: last, reason: reason))
        case .apdu(let bytes):
            context.statistics.apdusDelivered += 1
            context.statistics.bytesDelivered += bytes.count
            context.events.append(.data(tsi, bytes: bytes))
        case .caughtUp(let next):
            if let finLead, !closedReported, finLead.precedes(next) {
                closedReported = true
                context.events.append(resetCode.map { .sessionReset(tsi, errorCode: $0) } ?? .sessionClosed(tsi))
            }
        }
    }

    private mutating func record(missed: Bool, count: Int, context: inout ReceiverContext) {
        // After a few thousand equal samples the average has converged; skip the rest of a huge range.
        for _ in 0..<min(count, 4096) {
            loss.record(missed: missed)
            context.loss.record(missed: missed)
        }
    }
}
