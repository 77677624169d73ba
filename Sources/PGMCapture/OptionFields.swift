public import PGMWire

/// Every field of one option as named values, shared by the verbose text and the JSON formatter so that both
/// show the same fields under the same (snake_case) names.
public struct OptionFields: Sendable {
    public enum Value: Sendable, Equatable {
        case unsigned(UInt64)
        case bool(Bool)
        case text(String)
        case nla(NLA)
        case sequences([SequenceNumber])
    }

    /// The RFC name without the `OPT_` prefix, e.g. `NAK_BO_RNG`.
    public var name: String
    /// snake_case name for JSON, e.g. `nak_bo_rng`.
    public var jsonName: String
    public var code: UInt8
    public var length: Int
    public var isEnd: Bool
    public var fields: [(key: String, value: Value)]

    public init(_ option: Option, isEnd: Bool) {
        code = option.typeCode
        length = option.encodedLength
        self.isEnd = isEnd
        var fields: [(key: String, value: Value)] = []
        switch option.value {
        case .fragment(let fragment):
            name = "FRAGMENT"
            fields = [
                ("first_sequence", .unsigned(UInt64(fragment.firstSequence.rawValue))),
                ("offset", .unsigned(UInt64(fragment.offset))),
                ("apdu_length", .unsigned(UInt64(fragment.apduLength))),
            ]
        case .nakList(let list):
            name = "NAK_LIST"
            fields = [("sequences", .sequences(list))]
        case .join(let minimum):
            name = "JOIN"
            fields = [("minimum_sequence", .unsigned(UInt64(minimum.rawValue)))]
        case .nakBackoffInterval(let microseconds, let pollSequence):
            name = "NAK_BO_IVL"
            fields = [
                ("backoff_interval_us", .unsigned(UInt64(microseconds))),
                ("poll_sequence", .unsigned(UInt64(pollSequence.rawValue))),
            ]
        case .nakBackoffRange(let maximum, let minimum):
            // RFC 3208 §9.5.3 diagram: maximum first (tshark labels these the other way round).
            name = "NAK_BO_RNG"
            fields = [
                ("maximum_backoff_us", .unsigned(UInt64(maximum))),
                ("minimum_backoff_us", .unsigned(UInt64(minimum))),
            ]
        case .redirect(let nla):
            name = "REDIRECT"
            fields = [("dlr", .nla(nla))]
        case .parityParameters(let bits, let groupSize):
            // RFC 3208 §9.8.1: P (proactive) 0x02, O (on-demand) 0x01; OpenPGM swaps the two bits. The packet
            // cannot say which encoding its sender used, so both readings are shown.
            name = "PARITY_PRM"
            fields = [
                ("mode_bits", .unsigned(UInt64(bits))),
                ("rfc_proactive", .bool(bits & 0x02 != 0)), ("rfc_on_demand", .bool(bits & 0x01 != 0)),
                ("openpgm_proactive", .bool(bits & 0x01 != 0)), ("openpgm_on_demand", .bool(bits & 0x02 != 0)),
                ("group_size", .unsigned(UInt64(groupSize))),
            ]
        case .parityGroup(let group):
            name = "PARITY_GRP"
            fields = [("group", .unsigned(UInt64(group)))]
        case .currentGroupSize(let size):
            name = "CURR_TGSIZE"
            fields = [("group_size", .unsigned(UInt64(size)))]
        case .neighborUnreachable:
            name = "NBR_UNREACH"
        case .pathNLA(let nla):
            name = "PATH_NLA"
            fields = [("path", .nla(nla))]
        case .syn:
            name = "SYN"
        case .fin:
            name = "FIN"
        case .reset(let ignoresNAKs, let errorCode):
            name = "RST"
            fields = [("ignores_naks", .bool(ignoresNAKs)), ("error_code", .unsigned(UInt64(errorCode)))]
        case .congestionReport(let report):
            name = "CR"
            fields = [
                ("kinds", .unsigned(UInt64(report.kinds.rawValue))),
                ("lead", .unsigned(UInt64(report.lead.rawValue))),
                ("ne_worst_link", .unsigned(UInt64(report.networkElementWorstLink))),
                ("ne_worst_path", .unsigned(UInt64(report.networkElementWorstPath))),
                ("rx_worst_path", .unsigned(UInt64(report.receiverWorstPath))),
                ("worst_receiver", .nla(report.worstReceiver)),
            ]
        case .congestionReportRequest(let kinds):
            name = "CRQST"
            fields = [("kinds", .unsigned(UInt64(kinds.rawValue)))]
        case .pgmccData(let timestamp, let acker):
            name = "PGMCC_DATA"
            fields = [("timestamp", .unsigned(UInt64(timestamp))), ("acker", .nla(acker))]
        case .pgmccFeedback(let timestamp, let lossRate, let receiver):
            name = "PGMCC_FEEDBACK"
            fields = [
                ("timestamp", .unsigned(UInt64(timestamp))), ("loss_rate", .unsigned(UInt64(lossRate))),
                ("receiver", .nla(receiver)),
            ]
        case .authentication(let authentication):
            name = "AUTH"
            fields = [("key_id", .text(authentication.keyIDText)), ("tag", .text(authentication.tag.description))]
        case .unknown(let type, let body):
            name = type == Option.TypeCode.invalid ? "INVALID" : "UNKNOWN"
            fields = [("body", .text(body.map(hex).joined()))]
        }
        jsonName = name.lowercased()
        self.fields = fields
    }
}
