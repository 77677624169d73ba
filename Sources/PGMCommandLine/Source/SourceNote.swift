import PGMWire

/// pgm-source's event lines (``ProgramNote``).
enum SourceNote: Equatable, Sendable, Encodable {
    /// The first line: where the session goes and what the window may hold. `interface` is the interface with its
    /// address, for people; `interfaceName` its name alone, for JSON.
    case started(
        tsi: TSI,
        group: String,
        port: UInt16,
        interface: String,
        interfaceName: String,
        transport: String,
        apduSize: Int,
        window: String
    )
    /// The worst loss a receiver reported with OPT_CR changed.
    case worstReceiver(address: NLA, lossRate: Double)

    var text: String {
        switch self {
        case .started(let tsi, let group, let port, let interface, _, let transport, let apduSize, let window):
            "TSI \(tsi) to \(group):\(port) on \(interface), \(transport), APDUs up to \(formatGrouped(apduSize)) "
                + "bytes; \(window)"
        case .worstReceiver(let address, let lossRate):
            "worst receiver \(address) reports \(formatDecimal(lossRate * 100, places: 2))% loss"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: NoteKey.self)
        switch self {
        case .started(let tsi, let group, _, _, let interfaceName, _, _, let window):
            try container.encode("start", forKey: .type)
            try container.encodeAsString(tsi, forKey: .tsi)
            try container.encode(group, forKey: .group)
            try container.encode(interfaceName, forKey: .interface)
            try container.encode(window, forKey: .window)
        case .worstReceiver(let address, let lossRate):
            try container.encode("worst_receiver", forKey: .type)
            try container.encodeAsString(address, forKey: .address)
            try container.encodeAsString(lossRate, forKey: .lossRate)
        }
    }
}
