import Foundation
import Glibc
import Logging
import PGMCore
import PGMWire
import Testing

@testable import PGMSockets

/// Real sockets on the loopback interface only (127.0.0.1, groups in 239.192.0.0/16, `IP_MULTICAST_LOOP` on).
@Suite(.timeLimit(.minutes(1))) struct DriverTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func sockets(
        _ id: Int, port: UInt16, join: Bool, listen: Bool, encapsulation: Encapsulation? = nil, offload: Bool = true
    ) throws -> InterfaceSockets {
        try InterfaceSockets(
            InterfaceSockets.Configuration(
                id: InterfaceID(id), interface: try NetworkInterface.named("lo"), group: Fixtures.group,
                encapsulation: encapsulation ?? .udp(port: port), ttl: 1, multicastLoop: true, joinGroup: join,
                listenUnicast: listen, segmentationOffload: offload))
    }

    /// Runs `driver` until `done` holds or two seconds pass; returns whether `done` held.
    func drive(_ driver: Driver<ScriptedEngine>, until done: @escaping (ScriptedEngine) -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(2)
        var satisfied = false
        driver.maximumSleep = .milliseconds(10)
        driver.afterTurn = { engine, _ in
            satisfied = done(engine)
            return satisfied || ContinuousClock.now > deadline ? .stop : .proceed
        }
        try driver.run()
        return satisfied
    }

    @Test func udpMulticastReachesReceiversAndTheirNAKsReachOnlyTheSource() throws {
        let port = Fixtures.port(1)
        let source = try sockets(0, port: port, join: false, listen: true)
        let receivers = [
            try sockets(1, port: port, join: true, listen: false),
            try sockets(2, port: port, join: true, listen: false),
        ]
        var engine = ScriptedEngine()
        engine.outbox = [
            Transmit(
                packet: Fixtures.odata(1), destination: .multicast(.ipv4(Fixtures.group)), interface: InterfaceID(0))
        ]
        engine.react = { packet, arrival in
            guard case .odata(let data) = packet.body else { return [] }
            return [
                Transmit(
                    packet: Fixtures.nak(data.sequence.rawValue), destination: .unicast(.ipv4(Fixtures.loopback)),
                    interface: arrival.interface)
            ]
        }
        let driver = try Driver(engine: engine, sockets: [source] + receivers, logger: logger)
        #expect(try drive(driver) { $0.received.count >= 4 })

        let data = driver.engine.received.filter { $0.packet.body.type == .odata }
        #expect(Set(data.map(\.arrival.interface)) == [InterfaceID(1), InterfaceID(2)])
        #expect(
            data.allSatisfy {
                $0.arrival.destination == .ipv4(Fixtures.group) && $0.arrival.source == .ipv4(Fixtures.loopback)
            })
        #expect(data.first?.packet == Fixtures.odata(1))
        let naks = driver.engine.received.filter { $0.packet.body.type == .nak }
        #expect(naks.count == 2)
        #expect(
            naks.allSatisfy {
                $0.arrival.interface == InterfaceID(0) && $0.arrival.destination == .ipv4(Fixtures.loopback)
            })
        #expect(driver.statistics.undecodable == 0)
        #expect(driver.statistics.datagramsSent == 3)
    }

    @Test func aSecondUnicastListenerOnTheSamePortIsRefused() throws {
        let port = Fixtures.port(2)
        let first = try sockets(0, port: port, join: false, listen: true)
        let error = #expect(throws: SystemError.self) { try sockets(1, port: port, join: false, listen: true) }
        #expect(error?.errno == EADDRINUSE)
        #expect(error?.isUnavailable == true)
        #expect(first.localPort == port)
        // Receivers do not take the unicast port, so any number of them share the host with the source.
        _ = try (0..<3).map { try sockets(2 + $0, port: port, join: true, listen: false) }
    }

    @Test func batchesKeepOrderAndBadDatagramsAreCounted() throws {
        let port = Fixtures.port(3)
        let source = try sockets(0, port: port, join: false, listen: false)
        let receiver = try sockets(1, port: port, join: true, listen: false)
        var engine = ScriptedEngine()
        engine.outbox = (1...300).map {
            Transmit(
                packet: Fixtures.odata($0, String(repeating: "x", count: 1000)),
                destination: .multicast(.ipv4(Fixtures.group)))
        }
        let driver = try Driver(engine: engine, sockets: [source, receiver], logger: logger)

        // Garbage to the group port, from an ordinary socket.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var loop = Int32(1)
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, socklen_t(4))
        var interface = in_addr(s_addr: Fixtures.loopback.rawValue.bigEndian)
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &interface, socklen_t(4))
        var address = sockaddr_in(Fixtures.group, port: port)
        let garbage: [UInt8] = [1, 2, 3, 4, 5]
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, garbage, garbage.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(sent == 5)

        #expect(try drive(driver) { $0.received.count >= 300 })
        let sequences = driver.engine.received.compactMap { received -> UInt32? in
            if case .odata(let data) = received.packet.body { return data.sequence.rawValue } else { return nil }
        }
        #expect(sequences == Array(1...300))
        #expect(driver.statistics.datagramsSent == 300)
        #expect(driver.statistics.undecodable == 1)
    }

    /// Equal ODATA go out as GSO runs, which a short ODATA or another type ends; a receiver with UDP_GRO gets
    /// runs and cuts them, one without gets datagrams: both see every packet once, in order, byte for byte.
    @Test func segmentationRunsArriveWholeWithAndWithoutCoalescing() throws {
        let port = Fixtures.port(7)
        let source = try sockets(0, port: port, join: false, listen: false)
        let coalescing = try sockets(1, port: port, join: true, listen: false)
        let plain = try sockets(2, port: port, join: true, listen: false, offload: false)
        let group = Destination.multicast(.ipv4(Fixtures.group))
        var packets = (1...100).map { Fixtures.odata($0, String(repeating: "a", count: 1000)) }
        packets.append(Fixtures.odata(101, "short"))
        packets.append(Fixtures.nak(7))  // not data: ends any run
        packets += (102...150).map { Fixtures.odata($0, String(repeating: "b", count: 1000)) }
        var engine = ScriptedEngine()
        engine.outbox = packets.map { Transmit(packet: $0, destination: group) }
        let driver = try Driver(engine: engine, sockets: [source, coalescing, plain], logger: logger)
        #expect(try drive(driver) { $0.received.count >= 2 * packets.count })

        for interface in [InterfaceID(1), InterfaceID(2)] {
            let arrived = driver.engine.received.filter { $0.arrival.interface == interface }.map(\.packet)
            #expect(arrived == packets, "\(interface)")
        }
        #expect(driver.statistics.datagramsSent == packets.count)
        #expect(driver.statistics.undecodable == 0)
    }

    @Test func timersInputAndSignalsReachTheirHooks() throws {
        let receiver = try sockets(0, port: Fixtures.port(4), join: true, listen: false)
        var engine = ScriptedEngine()
        engine.deadline = Instant.zero + .milliseconds(30)
        // Before the driver exists: its clock starts at creation, so the deadline is 30 ms after that.
        let start = ContinuousClock.now
        let driver = try Driver(engine: engine, sockets: [receiver], handleSignals: true, logger: logger)
        var pipeDescriptors: [Int32] = [0, 0]
        #expect(pipe(&pipeDescriptors) == 0)
        defer { close(pipeDescriptors[0]); close(pipeDescriptors[1]) }
        #expect(write(pipeDescriptors[1], "abc", 3) == 3)
        var input: [UInt8] = []
        var signals: [Int32] = []
        driver.inputDescriptor = { _ in input.isEmpty ? pipeDescriptors[0] : nil }
        driver.onInput = { _, _ in
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = read(pipeDescriptors[0], &buffer, 16)
            input += buffer.prefix(max(0, count))
        }
        driver.onSignal = { _, signal, _ in signals.append(signal) }
        var raised = false
        #expect(
            try drive(driver) { engine in
                if !raised {
                    raised = true
                    raise(SIGTERM)
                }
                return engine.timeouts == 1 && !signals.isEmpty && !input.isEmpty
            })
        #expect(ContinuousClock.now - start >= .milliseconds(30))
        #expect(input == Array("abc".utf8))
        #expect(signals == [SIGTERM])
    }

    @Test(.enabled(if: Fixtures.isRoot, "raw IP sockets need CAP_NET_RAW"))
    func nativePGMCarriesRouterAlertTTLAndSpoofedSources() throws {
        let source = try sockets(0, port: 0, join: false, listen: true, encapsulation: .native)
        let receiver = try sockets(1, port: 0, join: true, listen: false, encapsulation: .native)
        let spoofed = IPv4Address(127, 0, 0, 9)
        var engine = ScriptedEngine()
        engine.outbox = [
            Transmit(
                packet: Fixtures.odata(7), destination: .multicast(.ipv4(Fixtures.group)), interface: InterfaceID(0)),
            Transmit(
                packet: Fixtures.ncf(7), destination: .multicast(.ipv4(Fixtures.group)), interface: InterfaceID(0),
                routerAlert: true, spoofedSource: .ipv4(spoofed)),
            Transmit(
                packet: Fixtures.nak(7), destination: .unicast(.ipv4(Fixtures.loopback)), interface: InterfaceID(1)),
        ]
        let driver = try Driver(engine: engine, sockets: [source, receiver], logger: logger)
        // Every raw socket on the host sees every PGM packet; wait for the receiver's copies.
        #expect(
            try drive(driver) { engine in
                let types = Set(
                    engine.received.filter { $0.arrival.interface == InterfaceID(1) }.map(\.packet.body.type))
                return types.isSuperset(of: [.odata, .ncf])
                    && engine.received.contains {
                        $0.packet.body.type == .nak && $0.arrival.interface == InterfaceID(0)
                    }
            })
        let received = driver.engine.received
        let ncf = try #require(received.first { $0.packet.body.type == .ncf })
        #expect(ncf.arrival.source == .ipv4(spoofed))
        #expect(ncf.arrival.destination == .ipv4(Fixtures.group))
        #expect(ncf.packet == Fixtures.ncf(7))
        let nak = try #require(received.first { $0.packet.body.type == .nak })
        #expect(nak.arrival.destination == .ipv4(Fixtures.loopback))
        #expect(received.first { $0.packet.body.type == .odata }?.packet == Fixtures.odata(7))
    }
}

@Suite(.timeLimit(.minutes(1))) struct DriverRemoteTests {
    /// The poster is a plain thread, not a task: `driver.run()` blocks the calling thread, and under a loaded
    /// test run a detached task can wait behind it for a free cooperative thread.
    @Test func commandsFromAnotherThreadRunOnTheLoopAndStopIt() throws {
        let port = Fixtures.port(5)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        func sockets(_ id: Int, join: Bool, listen: Bool) throws -> InterfaceSockets {
            try InterfaceSockets(
                InterfaceSockets.Configuration(
                    id: InterfaceID(id), interface: try NetworkInterface.named("lo"), group: Fixtures.group,
                    encapsulation: .udp(port: port), ttl: 1, multicastLoop: true, joinGroup: join, listenUnicast: listen
                ))
        }
        let driver = try Driver(
            engine: ScriptedEngine(),
            sockets: [try sockets(0, join: false, listen: true), try sockets(1, join: true, listen: false)],
            logger: logger)
        let remote = try driver.makeRemote()
        #expect(try driver.makeRemote() === remote)
        let started = ContinuousClock.now
        var turnsAfterDeadline = 0
        driver.maximumSleep = .seconds(1)
        driver.afterTurn = { engine, _ in
            // Only the remote's stop ends this loop; the bound is a safety net that fails the test.
            if ContinuousClock.now - started > .seconds(30) { turnsAfterDeadline += 1 }
            return turnsAfterDeadline > 0 ? .stop : .proceed
        }
        let poster = Thread {
            remote.post { engine, _ in
                engine.outbox.append(
                    Transmit(
                        packet: Fixtures.odata(42), destination: .multicast(.ipv4(Fixtures.group)),
                        interface: InterfaceID(0)))
                engine.react = { packet, _ in
                    guard case .odata = packet.body else { return [] }
                    remote.stop()
                    return []
                }
            }
        }
        poster.start()
        try driver.run()
        #expect(turnsAfterDeadline == 0)
        #expect(driver.engine.received.map(\.packet) == [Fixtures.odata(42)])
    }
}
