internal import CPGMSystem
internal import Glibc
public import Logging
public import PGMCore
public import PGMWire

/// What the driver's caller wants after a turn.
public enum DriverControl: Sendable {
    case proceed
    case stop
}

/// Counters of what the driver did outside the engine (the engine counts protocol events itself).
public struct DriverStatistics: Hashable, Sendable {
    public var datagramsReceived = 0
    public var bytesReceived = 0
    /// Datagrams `Packet(decoding:)` refused (bad checksum, truncated, unknown type) or with a bad IP header.
    public var undecodable = 0
    /// Datagrams that arrived on another interface than the socket set's (a network element's other sets
    /// see the same group traffic).
    public var otherInterface = 0
    public var datagramsSent = 0
    public var bytesSent = 0
    public var sendFailures = 0
    /// With a key (``Driver/authenticator``): what the tags said, and what the replay guard turned away.
    public var authentication = AuthenticationCounts()
    public init() {}

    /// Received packets by their OPT_AUTH verdict, and transmits signed (Docs/key.md): ``valid`` packets reached
    /// the engine, the others were dropped here.
    public struct AuthenticationCounts: Hashable, Sendable, Encodable {
        /// A valid tag, admitted by the replay guard: what reached the engine.
        public var valid = 0
        /// A tag that is not the key's MAC of the packet: tampered, forged, or another key's.
        public var invalid = 0
        /// No OPT_AUTH at all (an unkeyed host, or one forging packets without the key).
        public var absent = 0
        /// Valid tags on packets the ``ReplayGuard`` turned away: an SPM not newer than one seen, data behind
        /// the session's trail.
        public var replayed = 0
        /// Packets without OPT_AUTH let through because ``Driver/unsignedAccepted`` names their type.
        public var unsigned = 0
        /// Transmits signed; a transmit that could not take OPT_AUTH (it already had 16 options) is not sent
        /// and counts in ``DriverStatistics/sendFailures``.
        public var signed = 0
        public init() {}

        /// Received packets dropped for their tag or as replays.
        public var dropped: Int { invalid + absent + replayed }
    }
}

/// One process's poll(2) loop around one engine (Docs/style.md#concurrency): nothing is shared, so nothing is locked.
///
/// Each turn: read every ready socket in batches (`recvmmsg`) and hand each decoded packet to
/// ``Engine/receive(_:arrival:at:)``; call ``Engine/handleTimeout(at:)`` once its deadline has passed; drain
/// ``Engine/pollTransmit(at:)`` into `sendmmsg` batches; then call ``afterTurn`` (drain events, print
/// statistics, decide to stop); then sleep in `ppoll` until the next deadline, a datagram, input, or a
/// signal. Hooks get the engine `inout` and must not touch ``engine`` through the driver. Other threads reach
/// the engine only through ``makeRemote()``.
public final class Driver<E: Engine> {
    public var engine: E
    public private(set) var statistics = DriverStatistics()
    public let clock: MonotonicClock
    public let sockets: [InterfaceSockets]
    public var logger: Logger

    /// Drains the engine's events and says whether to go on. Called after every turn.
    public var afterTurn: (inout E, Instant) -> DriverControl = { _, _ in .proceed }
    /// SIGINT or SIGTERM arrived (only with `handleSignals`). A source closes its session here and lingers.
    public var onSignal: ((inout E, Int32, Instant) -> Void)?
    /// The descriptor to watch for input (a source's stdin or file) while the engine wants more, else nil.
    public var inputDescriptor: ((inout E) -> Int32?)?
    /// The input descriptor is readable (or at end of file): read it and hand the data to the engine.
    public var onInput: ((inout E, Instant) -> Void)?
    /// Wake-up interval when nothing else is due, so ``afterTurn`` can print statistics and check timeouts.
    public var maximumSleep: Duration = .milliseconds(200)
    /// When ``afterTurn`` wants the next turn at the latest, besides the engine's own deadline (a linger's end, a
    /// layer above the engine with timers of its own); set it from ``afterTurn``, nil for none.
    public var callerDeadline: Instant?
    /// Leave the sockets unread while true (set from ``afterTurn``): an application that cannot keep up stops
    /// the engine's input, so arrivals wait in the kernel's buffer and, when that overflows, are lost as on the
    /// network, for NAKs to repair or the engine to report unrecoverable. Timers, transmits and commands go on.
    public var isReceivePaused = false
    /// The session key (`--key`, Docs/key.md): when set, every received packet must carry a valid OPT_AUTH and pass
    /// ``replayGuard`` before the engine sees it, and every transmit is signed after it is encoded (OPT_AUTH added
    /// when the engine's packet has none, e.g. everything but what an element forwards), before its checksum.
    public var authenticator: (any PacketAuthenticator)? {
        didSet { isKeyed = authenticator != nil }
    }
    /// Whether there is an ``authenticator``, read on every packet instead of binding the optional existential, which
    /// copies it (about 100 instructions per packet without a key, measured with Tools/instructions-per-packet).
    private var isKeyed = false
    /// Used with ``authenticator`` only.
    public var replayGuard = ReplayGuard()
    /// With ``authenticator``: packet types let through without OPT_AUTH (`--accept-unsigned-naks`: NAK, NNAK and
    /// SPMR, which OpenPGM receivers cannot sign). Such a packet can only ask for what the session already sends.
    public var unsignedAccepted: Set<PacketType> = []
    private var dropWarnings = AuthenticationWarnings()

    private let receiveBatch = ReceiveBatch()
    private let sendBatch = SendBatch()
    /// Descriptors whose last arrivals came as coalesced runs (UDP_GRO): read with ``ReceiveBatch/receiveOwned(from:)``.
    private var coalescing: Set<Int32> = []
    /// ppoll's descriptors, rebuilt in place every turn.
    private var pollDescriptors: [pollfd] = []
    private let signals: SignalDescriptor?
    private var remote: DriverRemote<E>?
    private var lastNow = Instant.zero

    /// Bounds on the work of one turn, so that a flood on one side cannot starve the other.
    private static var maximumReceiveBatchesPerSocket: Int { 8 }
    private static var maximumTransmitsPerTurn: Int { 1024 }

    /// - Parameters:
    ///   - sockets: one set per interface; a transmit goes to the set whose ``InterfaceSockets/Configuration/id``
    ///     it names.
    ///   - handleSignals: route SIGINT/SIGTERM to ``onSignal`` through a signalfd (blocks them for this thread).
    public init(
        engine: E, sockets: [InterfaceSockets], clock: MonotonicClock = MonotonicClock(), handleSignals: Bool = false,
        logger: Logger
    ) throws(SystemError) {
        precondition(!sockets.isEmpty, "a driver needs at least one socket set")
        self.engine = engine
        self.sockets = sockets
        self.clock = clock
        self.logger = logger
        self.signals = handleSignals ? try SignalDescriptor() : nil
    }

    /// A handle other threads use to post commands to the engine and to stop the loop. One per driver.
    public func makeRemote() throws(SystemError) -> DriverRemote<E> {
        if let remote { return remote }
        let created = try DriverRemote<E>()
        remote = created
        return created
    }

    /// The current instant, never earlier than the last one handed to the engine.
    public var now: Instant {
        let now = clock.now
        if now > lastNow { lastNow = now }
        return lastNow
    }

    /// Runs turns until ``afterTurn`` returns `.stop`. Throws only when a socket fails in a way that is not
    /// about one datagram (the descriptor is gone, memory is exhausted).
    public func run() throws(SystemError) {
        var readable: [Int32] = []
        var inputReady = false
        var signalled: [Int32] = []
        var woken = false
        while true {
            // 1. Arrivals, then the input, signals and commands from other threads.
            for fd in readable { try receiveAll(from: fd) }
            if inputReady, let onInput { onInput(&engine, now) }
            if let onSignal { for signal in signalled { onSignal(&engine, signal, now) } }
            if woken, let remote {
                let (commands, stop) = remote.drain()
                for command in commands { command(&engine, now) }
                if stop { return }
            }
            // 2. Timers.
            let current = now
            if let deadline = engineDeadline(), deadline <= current { engine.handleTimeout(at: current) }
            // 3. Transmits.
            flushTransmits(at: current)
            // 4. Events, and the caller's decision.
            if afterTurn(&engine, now) == .stop { return }
            // 5. Sleep.
            (readable, inputReady, signalled, woken) = try wait()
        }
    }

    /// ``Engine/nextDeadline``, read in place: a plain read of a property of the struct this class holds copies
    /// the whole engine first (retaining everything in it), twice per turn.
    private func engineDeadline() -> Instant? {
        func read(_ engine: inout E) -> Instant? { engine.nextDeadline }
        return read(&engine)
    }

    private func receiveAll(from fd: Int32) throws(SystemError) {
        guard let sockets = sockets.first(where: { $0.receiveDescriptors.contains(fd) }) else { return }
        let isNative = sockets.udpPort == nil
        for _ in 0..<Self.maximumReceiveBatchesPerSocket {
            if coalescing.contains(fd) {
                // Runs of datagrams (UDP_GRO), one system call each, read into arrays the packets then slice:
                // no copy. A datagram that came alone sends the socket back to recvmmsg batches.
                for _ in 0..<receiveBatch.capacity {
                    guard let datagram = try receiveBatch.receiveOwned(from: fd) else { return }
                    if (datagram.ancillary.segmentSize ?? .max) >= datagram.bytes.count { coalescing.remove(fd) }
                    deliver(
                        datagram.bytes[...], from: datagram.source, ancillary: datagram.ancillary,
                        isTruncated: datagram.isTruncated, via: sockets, native: isNative, at: now)
                }
                continue
            }
            let count = try receiveBatch.receive(from: fd)
            if count == 0 { return }
            let current = now
            for index in 0..<count {
                let ancillary = receiveBatch.ancillary(index)
                let bytes = receiveBatch.bytes(index)
                if let size = ancillary.segmentSize, size < bytes.count { coalescing.insert(fd) }
                // One copy per datagram (or run): the decoded packets are slices of it and outlive the batch.
                deliver(
                    [UInt8](bytes)[...], from: receiveBatch.source(index), ancillary: ancillary,
                    isTruncated: receiveBatch.isTruncated(index), via: sockets, native: isNative, at: current)
            }
            if count < receiveBatch.capacity { return }
        }
    }

    /// Hands one datagram, or each datagram of a coalesced run, to the engine.
    private func deliver(
        _ bytes: ArraySlice<UInt8>, from sender: IPv4Address, ancillary: ReceiveBatch.Ancillary, isTruncated: Bool,
        via sockets: InterfaceSockets, native: Bool, at now: Instant
    ) {
        let segmentSize = ancillary.segmentSize.map { max(1, $0) } ?? max(1, bytes.count)
        let segments = max(1, (bytes.count + segmentSize - 1) / segmentSize)
        statistics.datagramsReceived += segments
        statistics.bytesReceived += bytes.count
        if let info = ancillary.packetInfo, info.interfaceIndex != sockets.configuration.interface.index {
            statistics.otherInterface += segments
            return
        }
        guard !isTruncated, !bytes.isEmpty else {
            statistics.undecodable += segments
            return
        }
        if native {
            guard let header = bytes.withUnsafeBytes({ IPv4Header.parse($0) }) else {
                statistics.undecodable += 1
                return
            }
            let payload = bytes[
                (bytes.startIndex + header.payload.lowerBound)..<(bytes.startIndex + header.payload.upperBound)]
            receive(payload, from: header.source, to: header.destination, via: sockets, at: now)
            return
        }
        let destination = ancillary.packetInfo?.destination ?? sockets.configuration.interface.address
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = min(start + segmentSize, bytes.endIndex)
            receive(bytes[start..<end], from: sender, to: destination, via: sockets, at: now)
            start = end
        }
    }

    private func receive(
        _ datagram: ArraySlice<UInt8>, from source: IPv4Address, to destination: IPv4Address,
        via sockets: InterfaceSockets, at now: Instant
    ) {
        let packet: Packet
        do {
            packet = try Packet(decoding: datagram)
        } catch {
            statistics.undecodable += 1
            logger.trace("undecodable datagram", metadata: ["pgm.source": "\(source)", "pgm.error": "\(error)"])
            return
        }
        if isKeyed, let authenticator, !authenticate(packet, datagram, with: authenticator, from: source) { return }
        engine.receive(
            packet,
            arrival: Arrival(
                source: .ipv4(source), destination: .ipv4(destination), interface: sockets.configuration.id),
            at: now)
    }

    /// The tag and the replay guard's word on a received packet; false when it is dropped (and counted).
    private func authenticate(
        _ packet: Packet, _ datagram: ArraySlice<UInt8>, with authenticator: any PacketAuthenticator,
        from source: IPv4Address
    ) -> Bool {
        let verdict: AuthenticationVerdict
        if packet.options.isEmpty {
            verdict = .absent
        } else {
            verdict = datagram.withUnsafeBytes { authenticator.verify($0) }
        }
        switch verdict {
        case .valid:
            break
        case .invalid:
            statistics.authentication.invalid += 1
            let carried = packet.options.lazy.compactMap { option -> UInt32? in
                if case .authentication(let authentication) = option.value { authentication.keyID } else { nil }
            }.first
            if let carried, carried != authenticator.keyID {
                dropWarnings.note(
                    .otherKey, from: source, at: lastNow, logger: logger,
                    "signed with another key (key ID \(Option.Authentication(keyID: carried).keyIDText), ours "
                        + "\(Option.Authentication(keyID: authenticator.keyID).keyIDText); is --key the same file on "
                        + "every host?)")
            } else {
                dropWarnings.note(
                    .invalidTag, from: source, at: lastNow, logger: logger,
                    "with an invalid tag (forged or changed on the way)")
            }
            return false
        case .absent:
            if unsignedAccepted.contains(packet.body.type) {
                statistics.authentication.unsigned += 1
                return true
            }
            statistics.authentication.absent += 1
            dropWarnings.note(
                .absent, from: source, at: lastNow, logger: logger, "without OPT_AUTH (a host without --key?)")
            return false
        }
        guard replayGuard.admit(packet) == .admitted else {
            statistics.authentication.replayed += 1
            dropWarnings.note(
                .replayed, from: source, at: lastNow, logger: logger, "replayed (an old SPM or data behind the trail)")
            return false
        }
        statistics.authentication.valid += 1
        return true
    }

    private func flushTransmits(at now: Instant) {
        var pending: InterfaceSockets?
        for _ in 0..<Self.maximumTransmitsPerTurn {
            guard let transmit = engine.pollTransmit(at: now) else { break }
            guard let target = sockets.first(where: { $0.configuration.id == transmit.interface }) else {
                statistics.sendFailures += 1
                logger.debug(
                    "transmit for an interface without sockets", metadata: ["pgm.interface": "\(transmit.interface)"])
                continue
            }
            if let current = pending, current !== target || sendBatch.isFull { flush(current) }
            if let ttl = transmit.ttl, target.udpPort != nil, ttl != target.configuration.ttl {
                // UDP cannot carry a per-datagram TTL in a batch: send this one alone with the socket's TTL
                // changed around it.
                if let current = pending, !sendBatch.isEmpty { flush(current) }
                setTTL(target, ttl)
                append(transmit, for: target)
                flush(target)
                setTTL(target, target.configuration.ttl)
                pending = nil
                continue
            }
            append(transmit, for: target)
            pending = target
        }
        if let current = pending, !sendBatch.isEmpty { flush(current) }
    }

    /// Adds a transmit to the batch, signed with the key when there is one.
    private func append(_ transmit: Transmit, for target: InterfaceSockets) {
        guard isKeyed, let authenticator else {
            sendBatch.append(transmit, for: target)
            return
        }
        if let packet = sendBatch.append(
            transmit, for: target, authentication: Option.Authentication(keyID: authenticator.keyID))
        {
            sendBatch.sign(packet, with: authenticator)
            statistics.authentication.signed += 1
        } else {
            statistics.sendFailures += 1
            logger.debug(
                "a transmit with 16 options cannot take OPT_AUTH",
                metadata: ["pgm.type": "\(transmit.packet.body.type)"])
        }
    }

    private func setTTL(_ sockets: InterfaceSockets, _ ttl: UInt8) {
        do {
            try setOption(sockets.sendDescriptor, ipLevel, IP_MULTICAST_TTL, Int32(ttl), "IP_MULTICAST_TTL")
            try setOption(sockets.sendDescriptor, ipLevel, IP_TTL, Int32(ttl == 0 ? 64 : ttl), "IP_TTL")
        } catch {
            logger.debug("cannot set TTL", metadata: ["pgm.error": "\(error)"])
        }
    }

    private func flush(_ sockets: InterfaceSockets) {
        let result = sendBatch.flush(to: sockets)
        statistics.datagramsSent += result.sent
        statistics.bytesSent += result.bytes
        statistics.sendFailures += result.failed
        if let error = result.lastError {
            logger.debug("send failed", metadata: ["pgm.error": "\(error)"])
        }
    }

    private func wait() throws(SystemError) -> (readable: [Int32], input: Bool, signals: [Int32], woken: Bool) {
        var descriptors: [pollfd] = []
        swap(&descriptors, &pollDescriptors)  // unique, so emptying it keeps its storage
        descriptors.removeAll(keepingCapacity: true)
        defer { pollDescriptors = descriptors }
        for set in sockets where !isReceivePaused {
            for fd in set.receiveDescriptors { descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        }
        let socketCount = descriptors.count
        var inputIndex: Int?
        if let inputDescriptor, let fd = inputDescriptor(&engine) {
            inputIndex = descriptors.count
            descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        }
        var signalIndex: Int?
        if let signals {
            signalIndex = descriptors.count
            descriptors.append(pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0))
        }
        var remoteIndex: Int?
        if let remote {
            remoteIndex = descriptors.count
            descriptors.append(pollfd(fd: remote.descriptor, events: Int16(POLLIN), revents: 0))
        }
        let current = now
        var sleep = maximumSleep
        if let deadline = engineDeadline() { sleep = min(sleep, max(.zero, deadline - current)) }
        if let callerDeadline { sleep = min(sleep, max(.zero, callerDeadline - current)) }
        let nanoseconds = max(0, sleep.totalNanoseconds)
        var timeout = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        let result = pgm_ppoll(&descriptors, UInt(descriptors.count), &timeout)
        if result < 0 {
            if errno == EINTR { return ([], false, [], false) }
            throw SystemError.last("ppoll")
        }
        var readable: [Int32] = []
        for index in 0..<socketCount where descriptors[index].revents != 0 { readable.append(descriptors[index].fd) }
        let input = inputIndex.map { descriptors[$0].revents != 0 } ?? false
        let caught = signalIndex.flatMap { descriptors[$0].revents != 0 ? signals?.drain() : nil } ?? []
        let woken = remoteIndex.map { descriptors[$0].revents != 0 } ?? false
        return (readable, input, caught, woken)
    }
}

/// Warnings on stderr for packets a key dropped: at most one per kind every ``interval``, with the count since the
/// last one, so that a flood of forged packets costs a line every few seconds, not one per packet.
struct AuthenticationWarnings {
    enum Kind: Int, CaseIterable {
        case absent, invalidTag, otherKey, replayed
    }

    static let interval = Duration.seconds(10)
    private var lastWarning: [Instant?] = Array(repeating: nil, count: Kind.allCases.count)
    private var unreported = Array(repeating: 0, count: Kind.allCases.count)

    mutating func note(
        _ kind: Kind, from source: IPv4Address, at now: Instant, logger: Logger, _ reason: @autoclosure () -> String
    ) {
        unreported[kind.rawValue] += 1
        if let last = lastWarning[kind.rawValue], now - last < Self.interval { return }
        let count = unreported[kind.rawValue]
        logger.warning(
            "--key: dropped \(count) packet\(count == 1 ? "" : "s") \(reason()); the last from \(source)")
        lastWarning[kind.rawValue] = now
        unreported[kind.rawValue] = 0
    }
}
