import DequeModule
public import Logging
import PGMCore
import PGMSockets
public import PGMWire
import Synchronization

/// A PGM source: the messages you ``send(_:)`` reach every receiver of the group reliably and in order, until you
/// ``finish()`` (OPT_FIN, RFC 3208 §9.7).
///
/// The engine runs on a thread of its own. ``send(_:)`` suspends while the engine's queue of unsent data is full,
/// so a producer faster than ``PGMOptions/rateBitsPerSecond`` (or than PGMCC's window) waits instead of growing
/// memory; it resumes as packets leave under the rate. Messages keep the order of the `send` calls that were not
/// cancelled. ``finish()`` closes the session once everything sent has left and answers NAKs for
/// ``PGMOptions/linger``; releasing a source without it stops at once, and receivers then see the session expire.
///
/// ```swift
/// let source = try await PGMSource(options: options)
/// try await source.send(Array("hello".utf8))
/// try await source.finish()
/// ```
public final class PGMSource: Sendable {
    /// The session: this host's GSI and the data-source port.
    public let tsi: TSI
    /// The largest message ``send(_:)`` takes.
    public let maximumMessageSize: Int
    let runner: EngineRunner<Source, Never>
    private let queue: MessageQueue

    /// Opens the sockets and starts the session (its first SPMs leave at once).
    /// - Throws: ``PGMError``: invalid options, an unusable interface or port, a key file that cannot be read.
    public init(options: PGMOptions, logger: Logger = Logger(label: "pgm.source")) async throws {
        try options.validate()
        let authenticator = try options.loadAuthenticator()
        let interface: NetworkInterface
        let sockets: InterfaceSockets
        do {
            interface = try options.resolveInterface()
            sockets = try options.openSourceSockets(on: interface)
        } catch {
            throw PGMError(opening: error)
        }
        let (tsi, seed) = options.makeSession(address: interface.address)
        var configuration = options.sourceConfiguration(tsi: tsi, sourceAddress: interface.address)
        configuration.seed = seed
        try options.validateSource(configuration)
        self.tsi = tsi
        maximumMessageSize = configuration.maximumAPDUSize
        let queue = MessageQueue()
        self.queue = queue
        let linger = options.linger
        let clock = MonotonicClock()
        var lingerStart: Instant?
        var windowEmptied = false
        do {
            runner = try EngineRunner(
                engine: Source(configuration: configuration, at: clock.now), sockets: [sockets],
                authenticator: authenticator, eventCapacity: 1, logger: logger,
                turn: { engine, now, _ in
                    Self.pump(queue, into: &engine, at: now)
                    while let event = engine.pollEvent() {
                        if case .finished = event { windowEmptied = true }
                    }
                    if queue.isAbandoned { return .stop }
                    // The linger runs from when everything queued has left (pgm-source's rule).
                    if engine.isClosing && lingerStart == nil
                        && engine.queuedBytesAvailable == engine.configuration.maximumQueuedBytes
                    {
                        lingerStart = now
                    }
                    guard let lingerStart else { return .proceed(deadline: nil) }
                    if windowEmptied || now - lingerStart >= linger { return .stop }
                    return .proceed(deadline: lingerStart + linger)
                },
                onStop: { _, failure in queue.stopped(failure) })
        } catch {
            throw PGMError(opening: error)
        }
    }

    /// Queues one message (an APDU: it reaches receivers whole, cut into fragments when it does not fit a packet).
    /// Suspends while the engine's queue is full. Cancelling a send that is still waiting throws
    /// `CancellationError` and sends nothing of it; one that has returned is sent.
    /// - Throws: ``PGMError/messageTooLarge(size:maximum:)``, ``PGMError/finished`` after ``finish()``,
    ///   ``PGMError/stopped(_:)`` once the engine has stopped; `CancellationError`.
    public func send(_ bytes: some Collection<UInt8>) async throws {
        let (queue, runner) = (self.queue, self.runner)
        try await queue.send(bytes, maximum: maximumMessageSize) {
            runner.post { engine, now in Self.pump(queue, into: &engine, at: now) }
        }
    }

    /// Closes the session: once every message sent before has left, SPMs carry OPT_FIN (RFC 3208 §9.7), and NAKs
    /// are answered for ``PGMOptions/linger`` (less when the transmit window empties sooner). Returns when the
    /// engine has stopped and the sockets are closed. Cancelling the waiting task stops the source at once: the
    /// engine stops answering NAKs and tells receivers so with its last SPM.
    public func finish() async throws {
        let (queue, runner) = (self.queue, self.runner)
        queue.requestFinish()
        runner.post { engine, now in Self.pump(queue, into: &engine, at: now) }
        let failure = await withTaskCancellationHandler {
            await runner.waitUntilStopped()
        } onCancel: {
            queue.abandon()
            runner.post { engine, now in
                engine.close(at: now)
                engine.abandonRepairs(at: now)
            }
        }
        try Task.checkCancellation()
        if let failure { throw PGMError.stopped("\(failure)") }
    }
}

extension PGMSource {
    /// On the engine thread: waiting messages go to the engine while its queue has room; the session closes once a
    /// finish was asked for and nothing waits.
    fileprivate static func pump(_ queue: MessageQueue, into engine: inout Source, at now: Instant) {
        queue.pump(fits: { $0 <= engine.queuedBytesAvailable }) { message throws(PGMError) in
            do {
                try engine.send(message, at: now)
            } catch let error as Source.SendError {
                throw error == .closed ? PGMError.finished : PGMError.stopped("\(error)")
            } catch {
                throw PGMError.stopped("\(error)")
            }
        }
        if queue.isFinishRequestedAndDrained && !engine.isClosing { engine.close(at: now) }
    }
}
