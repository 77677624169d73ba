import PGMCore
import PGMWire

/// A minimal engine for socket tests: sends what it is told, records what arrives, and reacts to arrivals
/// through a closure. The real engines are tested in simulation; this one only checks the plumbing.
struct ScriptedEngine: Engine {
    typealias Event = Never
    struct Received: Equatable {
        var packet: Packet
        var arrival: Arrival
    }

    var outbox: [Transmit] = []
    var received: [Received] = []
    var timeouts = 0
    var deadline: Instant?
    var react: @Sendable (Packet, Arrival) -> [Transmit] = { _, _ in [] }

    mutating func receive(_ packet: Packet, arrival: Arrival, at now: Instant) {
        received.append(Received(packet: packet, arrival: arrival))
        outbox.append(contentsOf: react(packet, arrival))
    }

    mutating func handleTimeout(at now: Instant) {
        if let deadline, deadline <= now {
            timeouts += 1
            self.deadline = nil
        }
    }

    mutating func pollTransmit(at now: Instant) -> Transmit? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }

    var nextDeadline: Instant? { deadline }
}

enum Fixtures {
    static let tsi = TSI(gsi: GSI(rawValue: 0x0102_0304_0506), sourcePort: 4000)
    static let group = IPv4Address(239, 192, 77, 1)
    static let loopback = IPv4Address(127, 0, 0, 1)

    static func odata(_ sequence: UInt32, _ text: String = "hello") -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .odata(
                DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(0), payload: Array(text.utf8)[...])
            ))
    }

    static func nak(_ sequence: UInt32, source: IPv4Address = loopback) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .nak(NAK(sequence: SequenceNumber(sequence), source: .ipv4(source), group: .ipv4(group))))
    }

    static func ncf(_ sequence: UInt32) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .ncf(NAK(sequence: SequenceNumber(sequence), source: .ipv4(loopback), group: .ipv4(group))))
    }

    /// A UDP port unlikely to clash with another test or process: tests run in parallel.
    static func port(_ offset: UInt16) -> UInt16 {
        UInt16(20000 + (UInt32(getProcessID()) % 400) * 100) + offset
    }

    static let isRoot = getUserID() == 0
}
