import PGMCore
import PGMWire

/// The element's counters in its statistics lines (`"element": {...}` with `--json`): what the lab and an
/// operator read to see NAK elimination and constrained repairs at work.
public struct ElementCounters: Encodable, Sendable {
    public var sessions: Int
    public var spmsForwarded: Int
    public var odataForwarded: Int
    public var rdataForwarded: Int
    public var rdataCopiesSent: Int
    public var rdataWithoutRepairStateDropped: Int
    public var naksReceived: Int
    public var naksEliminated: Int
    public var naksForwarded: Int
    public var nakSequencesForwarded: Int
    public var naksRedirected: Int
    public var ncfsSent: Int
    public var ncfsReceived: Int
    public var spmrsReceived: Int
    public var repairersLearned: Int
    /// PGMCC ACKs sent on upstream towards the source.
    public var acksForwarded: Int
    /// Sequences missing from the ODATA the element forwarded (loss above it), which it asked for itself.
    public var lossesDetected: Int
    /// Those asked for again because the repair did not arrive within a repair round trip.
    public var repairRetries: Int
    /// Forwarded NAK sequences repeated at NAK_RPT_RTE for want of an NCF.
    public var nakRepeats: Int
    /// NAKed sequences answered from a kept copy of a repair that had already passed, and the copies sent.
    public var nakSequencesAnsweredFromCopies: Int
    public var repairsResentFromCopies: Int
    /// Data, SPMs, NCFs and POLLs of known sessions from addresses off their path (RFC 3208 §10).
    public var offPathDropped: Int
    /// Everything the element's rules dropped (``NetworkElement/Statistics/packetsDropped``).
    public var dropped: Int
    /// FEC (RFC 3208 §11.6), only once a session used parity (JSON `fec`): proactive parity switched, parity NCFs
    /// sent, parity NAKs forwarded and eliminated, parity RDATA forwarded and discarded (no state for its group),
    /// parity NAKs dropped (no OPT_PARITY_PRM seen yet), parity NAKs answered from kept parity RDATA and the copies
    /// resent.
    public var fec: ParityCounters?

    public struct ParityCounters: Encodable, Equatable, Sendable {
        public var odataForwarded: Int
        public var ncfsSent: Int
        public var naksForwarded: Int
        public var naksEliminated: Int
        public var rdataForwarded: Int
        public var rdataDiscarded: Int
        public var naksDropped: Int
        public var naksAnsweredFromCopies: Int
        public var rdataResentFromCopies: Int
    }
    /// The worst receiver loss reported with OPT_CR over all sessions (0…1), and who reported it.
    public var worstLossRate: Double
    public var worstReceiver: String?

    init(_ statistics: NetworkElement.Statistics, sessions: Int) {
        self.sessions = sessions
        spmsForwarded = statistics.spmsForwarded
        odataForwarded = statistics.odataForwarded
        rdataForwarded = statistics.rdataForwarded
        rdataCopiesSent = statistics.rdataCopiesSent
        rdataWithoutRepairStateDropped = statistics.rdataWithoutRepairStateDropped
        naksReceived = statistics.naksReceived
        naksEliminated = statistics.naksEliminated
        naksForwarded = statistics.naksForwarded
        nakSequencesForwarded = statistics.nakSequencesForwarded
        naksRedirected = statistics.naksRedirected
        ncfsSent = statistics.ncfsSent
        ncfsReceived = statistics.ncfsReceived
        spmrsReceived = statistics.spmrsReceived
        repairersLearned = statistics.repairersLearned
        acksForwarded = statistics.acksForwarded
        lossesDetected = statistics.lossesDetected
        repairRetries = statistics.repairRetries
        nakRepeats = statistics.nakRepeats
        nakSequencesAnsweredFromCopies = statistics.nakSequencesAnsweredFromCopies
        repairsResentFromCopies = statistics.repairsResentFromCopies
        offPathDropped = statistics.offPathDropped
        dropped = statistics.packetsDropped
        let parity = ParityCounters(
            odataForwarded: statistics.parityODATAForwarded, ncfsSent: statistics.parityNCFsSent,
            naksForwarded: statistics.parityNAKsForwarded, naksEliminated: statistics.parityNAKsEliminated,
            rdataForwarded: statistics.parityRDATAForwarded, rdataDiscarded: statistics.parityRDATADiscarded,
            naksDropped: statistics.parityNAKsDropped,
            naksAnsweredFromCopies: statistics.parityNAKsAnsweredFromCopies,
            rdataResentFromCopies: statistics.parityRDATAResentFromCopies)
        fec =
            parity
                == ParityCounters(
                    odataForwarded: 0, ncfsSent: 0, naksForwarded: 0, naksEliminated: 0, rdataForwarded: 0,
                    rdataDiscarded: 0, naksDropped: 0, naksAnsweredFromCopies: 0, rdataResentFromCopies: 0)
            ? nil : parity
        let worst = statistics.worstCongestionReports.values.max { $0.receiverWorstPath < $1.receiverWorstPath }
        worstLossRate = Double(worst?.receiverWorstPath ?? 0) / Double(UInt16.max)
        worstReceiver = worst.map { "\($0.worstReceiver)" }
    }
}
