import PGMCore
import PGMWire

/// A network element with one upstream and three downstream interfaces, fed packets by hand.
typealias ElementHarness = EngineHarness<NetworkElement>

extension EngineHarness where E == NetworkElement {
    static var source: NLA { .ipv4(IPv4Address(10, 0, 0, 1)) }
    static var group: NLA { .ipv4(IPv4Address(239, 192, 0, 1)) }
    static var tsi: TSI { TSI(gsi: GSI(rawValue: 0x0A0B_0C0D_0E0F), sourcePort: 4000) }
    static var port: UInt16 { 7500 }
    static var up: InterfaceID { InterfaceID(0) }
    static var downs: [InterfaceID] { [InterfaceID(1), InterfaceID(2), InterfaceID(3)] }
    static func address(_ interface: InterfaceID) -> NLA {
        interface == up ? .ipv4(IPv4Address(10, 0, 0, 254)) : .ipv4(IPv4Address(10, UInt8(interface.rawValue), 0, 1))
    }
    static func host(_ interface: InterfaceID, _ index: UInt8) -> NLA {
        .ipv4(IPv4Address(10, UInt8(interface.rawValue), 0, index))
    }

    /// No DLR polls unless a test asks for them: they would add POLLs to what every test sees.
    init(configure: (inout NetworkElement.Configuration) -> Void = { _ in }) {
        let interfaces = ([Self.up] + Self.downs).map { NetworkElement.Interface(id: $0, address: Self.address($0)) }
        var configuration = NetworkElement.Configuration(interfaces: interfaces, upstream: Self.up)
        configuration.dlrPollInterval = nil
        configure(&configuration)
        self.init(NetworkElement(configuration: configuration))
    }

    var element: NetworkElement {
        get { engine }
        set { engine = newValue }
    }

    // MARK: Driving

    @discardableResult
    mutating func feed(
        _ packet: Packet, from source: NLA, to destination: NLA, on interface: InterfaceID
    ) -> [Transmit] {
        receive(packet, arrival: Arrival(source: source, destination: destination, interface: interface))
    }

    /// A downstream host's unicast packet to the element.
    @discardableResult
    mutating func fromBelow(_ packet: Packet, on interface: InterfaceID, host: UInt8 = 100) -> [Transmit] {
        feed(packet, from: Self.host(interface, host), to: Self.address(interface), on: interface)
    }

    /// The source's multicast on the upstream link.
    @discardableResult
    mutating func fromSource(_ packet: Packet) -> [Transmit] {
        feed(packet, from: Self.source, to: Self.group, on: Self.up)
    }

    /// An SPM advertising the window [1, lead].
    mutating func start(lead: UInt32 = 100) {
        fromSource(Self.spm(sequence: 1, trail: 1, lead: lead))
    }

    // MARK: Packets

    static func spm(sequence: UInt32, trail: UInt32, lead: UInt32, options: [Option] = []) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: port,
            body: .spm(
                SPM(
                    sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), lead: SequenceNumber(lead),
                    path: source)), options: options)
    }

    static func odata(_ sequence: UInt32, trail: UInt32 = 1, options: [Option] = []) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: port,
            body: .odata(
                DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), payload: [1, 2, 3])),
            options: options)
    }

    static func rdata(_ sequence: UInt32, trail: UInt32 = 1) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: port,
            body: .rdata(DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), payload: [9])))
    }

    static func nakBody(_ sequences: [UInt32], source: NLA = source) -> (NAK, [Option]) {
        let nak = NAK(sequence: SequenceNumber(sequences[0]), source: source, group: group)
        let list = sequences.dropFirst().map(SequenceNumber.init)
        return (nak, list.isEmpty ? [] : [Option(.nakList(Array(list)))])
    }

    static func nak(
        _ sequences: UInt32..., report: Option.CongestionReport? = nil, source: NLA = source, tsi: TSI = tsi
    ) -> Packet {
        var (nak, options) = nakBody(sequences, source: source)
        if let report { options.append(Option(.congestionReport(report))) }
        return Packet(
            tsi: tsi, dataDestinationPort: port, flags: .required(by: options), body: .nak(nak), options: options)
    }

    static func nnak(_ sequences: UInt32...) -> Packet {
        let (nak, options) = nakBody(sequences)
        return Packet(
            tsi: tsi, dataDestinationPort: port, flags: .required(by: options), body: .nnak(nak), options: options)
    }

    static func ncf(_ sequences: UInt32...) -> Packet {
        let (nak, options) = nakBody(sequences)
        return Packet(
            tsi: tsi, dataDestinationPort: port, flags: .required(by: options), body: .ncf(nak), options: options)
    }

    static func report(_ loss: UInt16, receiver: UInt8, lead: UInt32 = 100) -> Option.CongestionReport {
        Option.CongestionReport(
            kinds: .receiverWorstPath, lead: SequenceNumber(lead), receiverWorstPath: loss,
            worstReceiver: .ipv4(IPv4Address(10, 9, 9, receiver)))
    }
}

func carriedReport(_ packet: Packet) -> Option.CongestionReport? {
    for option in packet.options {
        if case .congestionReport(let report) = option.value { return report }
    }
    return nil
}
