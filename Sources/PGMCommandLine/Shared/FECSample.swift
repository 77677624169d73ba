public import PGMCore

/// FEC's counters on the statistics line and in JSON (`fec` object, RFC 3208 Appendix A), for a source with
/// `--fec-group-size`/`--fec-proactive`/`--fec-on-demand` and a receiver that got parity.
public struct FECSample: Encodable, Equatable, Sendable {
    /// pgm-source: k, the transmission group size, and the groups completed.
    public var groupSize: Int?
    public var groups: Int?
    /// pgm-source: parity sent as ODATA after each group, and as RDATA in answer to parity NAKs.
    public var proactiveSent: Int?
    public var onDemandSent: Int?
    /// Parity NAKs received (pgm-source) or sent (pgm-recv), and the parity packets they asked for.
    public var parityNaks: Int
    public var parityRequested: Int
    /// pgm-recv: parity packets received, data packets decoded from them, groups whose parity failed to decode.
    public var parityReceived: Int?
    public var recovered: Int?
    public var decodingFailures: Int?

    /// pgm-source's, when FEC is on.
    init?(_ engine: Source) {
        guard let parity = engine.configuration.parity else { return nil }
        let statistics = engine.statistics
        groupSize = parity.groupSize
        groups = statistics.groupsCompleted
        proactiveSent = statistics.proactiveParitySent
        onDemandSent = statistics.onDemandParitySent
        parityNaks = statistics.parityNAKsReceived
        parityRequested = statistics.parityPacketsRequested
    }

    /// pgm-recv's, once any parity came or was asked for.
    init?(_ statistics: Receiver.Statistics) {
        guard statistics.parityReceived > 0 || statistics.parityNAKsSent > 0 else { return nil }
        parityNaks = statistics.parityNAKsSent
        parityRequested = statistics.parityPacketsRequested
        parityReceived = statistics.parityReceived
        recovered = statistics.sequencesRecoveredByParity
        decodingFailures = statistics.parityDecodingFailures
    }

    /// `FEC 12`: parity packets sent (source) or data packets decoded from parity (receiver).
    var text: String {
        if let recovered { return "FEC \(formatGrouped(recovered))" }
        return "FEC \(formatGrouped((proactiveSent ?? 0) + (onDemandSent ?? 0)))"
    }
}
