import Foundation
import PGMCore
import PGMSockets
import PGMWire
import Testing

@testable import PGM

/// `PGMSource` and `PGMReceiver` on loopback: UDP encapsulation, multicast looped back, a group and a UDP port of
/// their own per test (239.192.77.0/24, ports 3160-3179) so that tests running at once never share a session.
@Suite(.timeLimit(.minutes(1))) struct LoopbackTests {
    static func options(group last: UInt8, udpPort: UInt16) -> PGMOptions {
        var options = PGMOptions(group: IPv4Address(239, 192, 77, last))
        options.interface = "127.0.0.1"
        options.multicastLoop = true
        options.encapsulation = .udp(port: udpPort)
        options.linger = .milliseconds(300)
        return options
    }

    /// Messages of 1 byte to several packets each, from a source that produces far faster than its rate: every
    /// message arrives whole, in order, byte for byte, and `send` had to wait for the rate (the engine's queue
    /// holds 1 MiB, the messages 3 MB).
    @Test func deliversEveryMessageInOrderUnderBackPressure() async throws {
        var options = Self.options(group: 1, udpPort: 3160)
        options.rateBitsPerSecond = 40_000_000
        var generator = SplitMix64(seed: 17)
        let messages = (0..<1_500).map { index -> [UInt8] in
            let size = index % 10 == 0 ? 1 : Int(generator.next() % 4_000) + 1
            return (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        }
        let total = messages.reduce(0) { $0 + $1.count }
        let receiver = try await PGMReceiver(options: options)
        let source = try await PGMSource(options: options)
        let sending = Task {
            let start = ContinuousClock.now
            for message in messages { try await source.send(message) }
            let elapsed = ContinuousClock.now - start
            try await source.finish()
            return elapsed
        }
        var received: [[UInt8]] = []
        var ended = false
        for try await event in receiver {
            switch event {
            case .message(let message):
                #expect(message.tsi == source.tsi)
                received.append(message.bytes)
            case .ended(let tsi):
                #expect(tsi == source.tsi)
                ended = true
            case .unrecoverable, .reset, .expired:
                Issue.record("unexpected \(event)")
            case .joined, .recovered:
                break
            }
            if ended { break }
        }
        let sendTime = try await sending.value
        #expect(received.count == messages.count)
        #expect(received == messages)
        // What did not fit the engine's 1 MiB queue left at 5 MB/s at most: the sends cannot have returned sooner.
        let floor = Double(total - (1 << 20)) / Double(options.rateBitsPerSecond / 8)
        #expect(sendTime >= .seconds(floor * 0.9), "sent \(total) bytes in \(sendTime), floor \(floor) s")
    }

    /// An application slower than the session: the receiver's buffer of 8 events fills, it stops reading its
    /// sockets until the application catches up (what the kernel drops meanwhile is NAKed and repaired), and every
    /// message still arrives, in order.
    @Test func aSlowApplicationPausesTheReceiverWithoutLosingMessages() async throws {
        var options = Self.options(group: 6, udpPort: 3165)
        options.eventBufferCapacity = 8
        options.rateBitsPerSecond = 20_000_000
        options.linger = .seconds(3)  // repairs for what the kernel dropped while the receiver was paused
        let messages = (0..<400).map { index in [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 1_000) }
        let receiver = try await PGMReceiver(options: options)
        let source = try await PGMSource(options: options)
        let sending = Task {
            for message in messages { try await source.send(message) }
            try await source.finish()
        }
        var received: [[UInt8]] = []
        for try await event in receiver {
            if case .message(let message) = event {
                received.append(message.bytes)
                try await Task.sleep(for: .milliseconds(1))
            }
            if case .unrecoverable = event { Issue.record("unexpected \(event)") }
            if case .ended = event { break }
        }
        try await sending.value
        #expect(received == messages)
        #expect(receiver.runner.events.pauses > 0)
    }

    /// Cancelling the task that iterates a receiver ends its sequence (nil, no error) and stops its engine.
    @Test func cancellingTheIterationEndsTheSequence() async throws {
        let receiver = try await PGMReceiver(options: Self.options(group: 2, udpPort: 3161))
        let iteration = Task {
            var count = 0
            for try await _ in receiver { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(100))
        iteration.cancel()
        let count = try await iteration.value
        #expect(count == 0)
        // The loop ended and released its sockets.
        await receiver.runner.waitUntilStopped()
        #expect(receiver.runner.isStopped)
        var iterator = receiver.makeAsyncIterator()
        #expect(try await iterator.next() == nil)
    }

    /// `finish` sends OPT_FIN after the data, lingers, and returns with the sockets closed: the receiver sees the
    /// session end, a send after it is refused, and a new source can bind the same unicast port at once.
    @Test func finishEndsTheSessionAndReleasesTheSockets() async throws {
        let options = Self.options(group: 3, udpPort: 3162)
        let receiver = try await PGMReceiver(options: options)
        let source = try await PGMSource(options: options)
        try await source.send(Array("last words".utf8))
        let start = ContinuousClock.now
        try await source.finish()
        let lingered = ContinuousClock.now - start
        #expect(lingered >= .milliseconds(250) && lingered < .seconds(5), "finish took \(lingered)")
        await #expect(throws: PGMError.self) { try await source.send([1]) }

        var events: [PGMReceiver.Event] = []
        for try await event in receiver {
            if case .recovered = event { continue }
            events.append(event)
            if case .ended = event { break }
        }
        #expect(
            events == [
                .joined(source.tsi), .message(PGMMessage(tsi: source.tsi, bytes: Array("last words".utf8))),
                .ended(source.tsi),
            ])
        // The unicast socket (127.0.0.1:3162, exclusive) was closed: another source takes it.
        let next = try await PGMSource(options: options)
        try await next.finish()
    }

    /// Releasing a source without `finish` stops its thread and closes its sockets at once: its exclusive unicast
    /// port is free for the next source straight away.
    @Test func releasingASourceClosesItsSockets() async throws {
        let options = Self.options(group: 7, udpPort: 3166)
        var source: PGMSource? = try await PGMSource(options: options)
        try await source?.send([1, 2, 3])
        // While it lives, the port is taken.
        await #expect(throws: PGMError.self) { _ = try await PGMSource(options: options) }
        source = nil
        let next = try await PGMSource(options: options)
        try await next.finish()
    }

    /// A send that waits for room in the full queue and is cancelled throws `CancellationError`, and the source
    /// goes on.
    @Test func cancellingAWaitingSendThrows() async throws {
        var options = Self.options(group: 4, udpPort: 3163)
        options.rateBitsPerSecond = 8_000
        options.congestionControl = .none
        options.maximumMessageSize = 200_000
        let source = try await PGMSource(options: options)
        let message = [UInt8](repeating: 7, count: 200_000)
        // 1 MiB of queue: 5 messages fit; at 1 kB/s only the first burst (24 kB) leaves meanwhile.
        for _ in 0..<5 { try await source.send(message) }
        let waiting = Task { try await source.send(message) }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        let finishing = Task { try await source.finish() }
        try await Task.sleep(for: .milliseconds(100))
        finishing.cancel()  // a finish that would take minutes at this rate, stopped at once
        await #expect(throws: CancellationError.self) { try await finishing.value }
        #expect(source.runner.isStopped)
    }

    /// With the same key file on both sides (OPT_AUTH, Docs/key.md) the messages arrive; a receiver with another key
    /// drops them all.
    @Test func aKeyedSessionDeliversOnlyToTheKey() async throws {
        let directory = FileManager.default.temporaryDirectory
        let keyFile = directory.appendingPathComponent("pgm-lib-key-\(UUID().uuidString)")
        let otherKeyFile = directory.appendingPathComponent("pgm-lib-key-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: keyFile)
            try? FileManager.default.removeItem(at: otherKeyFile)
        }
        try Data((0..<32).map { UInt8($0) }).write(to: keyFile)
        try Data((0..<32).map { UInt8(255 - $0) }).write(to: otherKeyFile)
        var options = Self.options(group: 8, udpPort: 3167)
        options.keyFile = keyFile.path
        var stranger = options
        stranger.keyFile = otherKeyFile.path
        let receiver = try await PGMReceiver(options: options)
        let outsider = try await PGMReceiver(options: stranger)
        let source = try await PGMSource(options: options)
        for text in ["one", "two", "three"] { try await source.send(Array(text.utf8)) }
        try await source.finish()
        var received: [String] = []
        for try await event in receiver {
            if case .message(let message) = event { received.append(String(decoding: message.bytes, as: UTF8.self)) }
            if case .ended = event { break }
        }
        #expect(received == ["one", "two", "three"])
        outsider.close()
        var heard = 0
        for try await _ in outsider { heard += 1 }
        #expect(heard == 0)
    }

    /// A group member's sockets (source and receiver in one engine) listen for unicast on the UDP port, which only
    /// one host per address may hold; a receiver's share the group's.
    @Test func memberSocketsHoldTheUnicastPort() throws {
        let options = Self.options(group: 9, udpPort: 3168)
        let interface = try options.resolveInterface()
        let member = try options.openMemberSockets(on: interface)
        #expect(member.localPort == 3168)
        #expect(throws: (any Error).self) { _ = try options.openMemberSockets(on: interface) }
        let receivers = try (0..<2).map { _ in try options.openReceiverSockets(on: interface) }
        #expect(receivers.allSatisfy { $0.localPort != 3168 })
    }

    /// Bad options are typed errors before any socket is opened.
    @Test func refusesBadOptions() async {
        var options = Self.options(group: 5, udpPort: 3164)
        options.group = IPv4Address(198, 18, 0, 1)
        await #expect(throws: PGMError.self) { _ = try await PGMReceiver(options: options) }
        options = Self.options(group: 5, udpPort: 3164)
        options.maxTPDU = 100
        await #expect(throws: PGMError.self) { _ = try await PGMSource(options: options) }
        options = Self.options(group: 5, udpPort: 3164)
        options.keyFile = "/nonexistent/pgm-key"
        do {
            _ = try await PGMSource(options: options)
            Issue.record("a missing key file was taken")
        } catch let error as PGMError {
            guard case .key = error else { return #expect(Bool(false), "\(error)") }
        } catch {
            Issue.record("\(error)")
        }
    }
}
