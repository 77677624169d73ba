import PGMWire

/// pgm-ne's event lines (``ProgramNote``). Interfaces are given by name.
enum ElementNote: Equatable, Sendable, Encodable {
    /// The first line: the group, and the interfaces up- and downstream (with their addresses in `upstream` and
    /// `downstream`, by name alone in the JSON).
    case started(
        group: String,
        port: UInt16,
        upstream: String,
        upstreamName: String,
        downstream: [String],
        downstreamNames: [String],
        transport: String
    )
    case sessionLearned(TSI, upstream: String, neighbor: NLA)
    case upstreamChanged(TSI, upstream: String, neighbor: NLA)
    case sessionExpired(TSI)
    case repairerLearned(TSI, address: NLA, interface: String)
    case repairerDropped(TSI, address: NLA)
    /// Packets claiming session `tsi` from `from`, off its path, were dropped (RFC 3208 §10): `dropped` so far.
    case offPath(TSI, from: NLA, dropped: Int)

    var text: String {
        switch self {
        case .started(let group, let port, let upstream, _, let downstream, _, let transport):
            "\(group):\(port) upstream \(upstream), downstream " + downstream.joined(separator: ", ") + ", \(transport)"
        case .sessionLearned(let tsi, let upstream, let neighbor):
            "session \(tsi) upstream \(neighbor) on \(upstream)"
        case .upstreamChanged(let tsi, let upstream, let neighbor):
            "session \(tsi) moved upstream to \(neighbor) on \(upstream)"
        case .sessionExpired(let tsi):
            "session \(tsi) expired"
        case .repairerLearned(let tsi, let address, let interface):
            "session \(tsi): NAKs now go to the DLR \(address) on \(interface)"
        case .repairerDropped(let tsi, let address):
            "session \(tsi): DLR \(address) dropped, NAKs go upstream"
        case .offPath(let tsi, let address, let dropped):
            "warning: dropped packets for session \(tsi) from \(address), which is not its path (\(dropped) so far)"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: NoteKey.self)
        switch self {
        case .started(let group, _, _, let upstreamName, _, let downstreamNames, _):
            try container.encode("start", forKey: .type)
            try container.encode(group, forKey: .group)
            try container.encode(upstreamName, forKey: .upstream)
            try container.encode(downstreamNames.joined(separator: ","), forKey: .downstream)
        case .sessionLearned(let tsi, let upstream, let neighbor):
            try container.encode("session", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(upstream, forKey: .upstream)
            try container.encodeAsString(neighbor, forKey: .neighbor)
        case .upstreamChanged(let tsi, let upstream, let neighbor):
            try container.encode("upstream_changed", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(upstream, forKey: .upstream)
            try container.encodeAsString(neighbor, forKey: .neighbor)
        case .sessionExpired(let tsi):
            try container.encode("session_expired", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
        case .repairerLearned(let tsi, let address, let interface):
            try container.encode("dlr", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(address, forKey: .address)
            try container.encode(interface, forKey: .interface)
        case .repairerDropped(let tsi, let address):
            try container.encode("dlr_dropped", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(address, forKey: .address)
        case .offPath(let tsi, let address, let dropped):
            try container.encode("off_path", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encodeAsString(address, forKey: .source)
            try container.encodeAsString(dropped, forKey: .dropped)
        }
    }
}
