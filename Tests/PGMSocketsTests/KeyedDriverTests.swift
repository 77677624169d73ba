import Foundation
import Glibc
import Logging
import PGMAuthentication
import PGMCore
import PGMWire
import Synchronization
import Testing

@testable import PGMSockets

/// `--key` in the driver, with real sockets on loopback and the scripted engine (no protocol engine): what is
/// signed on the way out, what is let through on the way in, and what is dropped and counted (Docs/key.md).
@Suite(.timeLimit(.minutes(1))) struct KeyedDriverTests {
    static let key = try! AuthenticationKey(bytes: Array(repeating: 0x11, count: 32))
    static let otherKey = try! AuthenticationKey(bytes: Array(repeating: 0x22, count: 32))
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func sockets(_ id: Int, port: UInt16, join: Bool) throws -> InterfaceSockets {
        try InterfaceSockets(
            InterfaceSockets.Configuration(
                id: InterfaceID(id), interface: try NetworkInterface.named("lo"), group: Fixtures.group,
                encapsulation: .udp(port: port), ttl: 1, multicastLoop: true, joinGroup: join, listenUnicast: false))
    }

    /// Runs `driver` until `done` holds or `limit` passes; returns whether `done` held.
    @discardableResult
    func drive(
        _ driver: Driver<ScriptedEngine>, for limit: Duration = .seconds(2),
        until done: @escaping (ScriptedEngine, DriverStatistics) -> Bool
    ) throws -> Bool {
        let deadline = ContinuousClock.now + limit
        var satisfied = false
        driver.maximumSleep = .milliseconds(10)
        driver.afterTurn = { [unowned driver] engine, _ in
            satisfied = done(engine, driver.statistics)
            return satisfied || ContinuousClock.now > deadline ? .stop : .proceed
        }
        try driver.run()
        return satisfied
    }

    /// Sends `bytes` to the group's port from an ordinary UDP socket: a host without the key, or one replaying.
    func inject(_ bytes: [UInt8], port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var loop = Int32(1)
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, socklen_t(4))
        var interface = in_addr(s_addr: Fixtures.loopback.rawValue.bigEndian)
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &interface, socklen_t(4))
        var address = sockaddr_in(Fixtures.group, port: port)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(sent == bytes.count)
    }

    /// What a keyed sender puts on the wire for `packet`.
    static func signed(_ packet: Packet, key: AuthenticationKey = key) -> [UInt8] {
        let authenticator = HMACAuthenticator(key: key)
        var bytes: [UInt8] = []
        packet.encode(
            into: &bytes, appendingAuthentication: .init(keyID: authenticator.keyID), checksum: false)
        _ = bytes.withUnsafeMutableBytes { authenticator.sign($0) }
        PGMChecksum.fill(&bytes, packetAt: 0)
        return bytes
    }

    static func spm(_ sequence: UInt32, trail: UInt32 = 1, lead: UInt32 = 0) -> Packet {
        Packet(
            tsi: Fixtures.tsi, dataDestinationPort: 7500,
            body: .spm(
                SPM(
                    sequence: .init(sequence), trail: .init(trail), lead: .init(lead),
                    path: .ipv4(Fixtures.loopback))))
    }

    /// The packet as the engine sees it, without the OPT_AUTH the driver added.
    static func unsigned(_ packet: Packet) -> Packet {
        var packet = packet
        packet.options.removeAll { if case .authentication = $0.value { true } else { false } }
        packet.flags = .required(by: packet.options)
        return packet
    }

    /// Keyed on both sides: every packet arrives, in order, byte for byte (GSO runs of equal ODATA included), each
    /// carrying OPT_AUTH with the key's ID; every one was signed and verified.
    @Test func aKeyedTransferArrivesWholeAndEveryPacketIsSignedAndVerified() throws {
        let port = Fixtures.port(11)
        let group = Destination.multicast(.ipv4(Fixtures.group))
        var packets = [Self.spm(1, trail: 1, lead: 0)]
        packets += (1...200).map {
            Fixtures.odata($0, String(repeating: Character(UnicodeScalar(65 + $0 % 26)!), count: 1000))
        }
        packets.append(Fixtures.odata(201, "short"))
        packets.append(Fixtures.nak(7))
        var engine = ScriptedEngine()
        engine.outbox = packets.map { Transmit(packet: $0, destination: group, interface: InterfaceID(0)) }
        let driver = try Driver(
            engine: engine, sockets: [try sockets(0, port: port, join: false), try sockets(1, port: port, join: true)],
            logger: logger)
        driver.authenticator = HMACAuthenticator(key: Self.key)
        #expect(try drive(driver) { engine, _ in engine.received.count >= packets.count })

        let arrived = driver.engine.received.map(\.packet)
        #expect(arrived.map(Self.unsigned) == packets)
        let keyID = HMACAuthenticator(key: Self.key).keyID
        #expect(
            arrived.allSatisfy { packet in
                packet.options.contains {
                    if case .authentication(let a) = $0.value { a.keyID == keyID } else { false }
                }
            })
        #expect(driver.statistics.authentication.signed == packets.count)
        #expect(driver.statistics.authentication.valid == packets.count)
        #expect(driver.statistics.authentication.dropped == 0)
        #expect(driver.statistics.undecodable == 0)
    }

    /// A keyed receiver drops what has no tag, a tag that does not match the bytes, and a replayed SPM; it counts
    /// each, and passes what the keyed sender sends.
    @Test func unkeyedTamperedAndReplayedPacketsAreDroppedAndCounted() throws {
        let port = Fixtures.port(12)
        let receiver = try sockets(1, port: port, join: true)
        let driver = try Driver(engine: ScriptedEngine(), sockets: [receiver], logger: logger)
        driver.authenticator = HMACAuthenticator(key: Self.key)

        inject(Self.signed(Self.spm(5)), port: port)  // admitted
        inject(Fixtures.odata(2, "no tag").encoded(), port: port)  // absent
        var tampered = Self.signed(Fixtures.odata(3, "genuine"))
        tampered[tampered.count - 1] ^= 0x20  // "genuinE", checksum made right again: only the tag can tell
        tampered[6] = 0
        tampered[7] = 0
        PGMChecksum.fill(&tampered, packetAt: 0)
        inject(tampered, port: port)  // invalid
        inject(Self.signed(Self.spm(5)), port: port)  // the same SPM again: replayed
        inject(Self.signed(Self.spm(4)), port: port)  // older: replayed
        inject(Self.signed(Fixtures.odata(4, "genuine")), port: port)  // admitted
        inject(Self.signed(Self.spm(6, trail: 3, lead: 4)), port: port)  // admitted; the trail moves to 3
        inject(Self.signed(Fixtures.odata(2, "old")), port: port)  // behind the trail: replayed
        inject(Self.signed(Fixtures.odata(4, "genuine")), port: port)  // a duplicate within the window: the engine's
        #expect(
            try drive(driver) { _, statistics in
                let counts = statistics.authentication
                return counts.valid + counts.dropped >= 9
            })
        let counts = driver.statistics.authentication
        #expect(counts.valid == 4)
        #expect(counts.absent == 1)
        #expect(counts.invalid == 1)
        #expect(counts.replayed == 3)
        #expect(
            driver.engine.received.map { Self.unsigned($0.packet) } == [
                Self.spm(5), Fixtures.odata(4, "genuine"), Self.spm(6, trail: 3, lead: 4), Fixtures.odata(4, "genuine"),
            ])
    }

    /// Another key: nothing reaches the engine, every packet counts as invalid, and stderr says why once (not per
    /// packet), naming both key IDs.
    @Test func withAnotherKeyNothingIsAcceptedAndTheWarningSaysWhy() throws {
        let port = Fixtures.port(13)
        // The receiving sockets exist before anything is sent, so the datagrams wait in their buffer.
        let receiver = try sockets(1, port: port, join: true)
        var engine = ScriptedEngine()
        engine.outbox = (1...20).map {
            Transmit(
                packet: Fixtures.odata($0), destination: .multicast(.ipv4(Fixtures.group)), interface: InterfaceID(0))
        }
        let sender = try Driver(engine: engine, sockets: [try sockets(0, port: port, join: false)], logger: logger)
        sender.authenticator = HMACAuthenticator(key: Self.otherKey)
        #expect(try drive(sender) { $1.datagramsSent >= 20 })

        let lines = LogLines()
        let capturing = Logger(label: "test", factory: { _ in CapturingLogHandler(lines: lines) })
        let driver = try Driver(engine: ScriptedEngine(), sockets: [receiver], logger: capturing)
        driver.authenticator = HMACAuthenticator(key: Self.key)
        #expect(try drive(driver) { $1.authentication.invalid >= 20 })
        #expect(driver.engine.received.isEmpty)
        #expect(driver.statistics.authentication.valid == 0)
        let warnings = lines.all.filter { $0.contains("--key") }
        #expect(warnings.count == 1, "\(warnings)")
        let ours = Option.Authentication(keyID: HMACAuthenticator(key: Self.key).keyID).keyIDText
        let theirs = Option.Authentication(keyID: HMACAuthenticator(key: Self.otherKey).keyID).keyIDText
        #expect(warnings.first?.contains("another key (key ID \(theirs), ours \(ours);") == true, "\(warnings)")
    }

    /// `--accept-unsigned-naks`: the named types pass without a tag (counted apart); everything else still needs one,
    /// and a NAK with a wrong tag is still dropped.
    @Test func unsignedNAKsPassOnlyWhenAccepted() throws {
        let port = Fixtures.port(15)
        let receiver = try sockets(1, port: port, join: true)
        let driver = try Driver(engine: ScriptedEngine(), sockets: [receiver], logger: logger)
        driver.authenticator = HMACAuthenticator(key: Self.key)
        driver.unsignedAccepted = [.nak, .nnak, .spmr]
        inject(Fixtures.nak(9).encoded(), port: port)
        inject(Fixtures.odata(9).encoded(), port: port)
        inject(Fixtures.ncf(9).encoded(), port: port)
        inject(Self.signed(Fixtures.nak(10), key: Self.otherKey), port: port)
        #expect(
            try drive(driver) { _, statistics in
                let counts = statistics.authentication
                return counts.unsigned + counts.dropped >= 4
            })
        let counts = driver.statistics.authentication
        #expect(counts.unsigned == 1)
        #expect(counts.absent == 2)
        #expect(counts.invalid == 1)
        #expect(driver.engine.received.map(\.packet) == [Fixtures.nak(9)])
    }

    /// Without a key the driver neither signs nor checks: an unkeyed peer's packets pass, and signed ones pass too
    /// (OPT_AUTH is an option like any other to a host without the key).
    @Test func withoutAKeyNothingIsSignedOrChecked() throws {
        let port = Fixtures.port(14)
        let receiver = try sockets(1, port: port, join: true)
        let driver = try Driver(engine: ScriptedEngine(), sockets: [receiver], logger: logger)
        inject(Fixtures.odata(1).encoded(), port: port)
        inject(Self.signed(Fixtures.odata(2)), port: port)
        #expect(try drive(driver) { engine, _ in engine.received.count >= 2 })
        #expect(driver.engine.received.map { Self.unsigned($0.packet) } == [Fixtures.odata(1), Fixtures.odata(2)])
        #expect(driver.statistics.authentication == DriverStatistics.AuthenticationCounts())
    }
}

/// Log lines, collected from the driver's thread.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        if level >= .warning { lines.append("\(message)") }
    }
}
