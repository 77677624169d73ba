public import Logging
import PGMCore
import PGMSockets
public import PGMWire

/// One message as its source sent it (an APDU), delivered whole and in order.
///
/// It carries no sequence number: the receive engine delivers reassembled APDUs without the sequence of their
/// first packet, and an application has no use for it beyond what ``PGMReceiver/Event/unrecoverable(_:first:last:)``
/// reports.
public struct PGMMessage: Hashable, Sendable {
    /// The session it belongs to: its source's GSI and data-source port.
    public var tsi: TSI
    public var bytes: [UInt8]

    public init(tsi: TSI, bytes: [UInt8]) {
        self.tsi = tsi
        self.bytes = bytes
    }
}

/// A PGM receiver: joins the group and delivers every session's messages, in order per session, with what
/// happens to the sessions, as an `AsyncSequence` of ``Event``.
///
/// Lost packets are NAKed and repaired by the source (or parity) without the application seeing it, except as
/// ``Event/recovered(_:)``; what cannot be repaired is reported as ``Event/unrecoverable(_:first:last:)`` and
/// delivery goes on after it. Events wait in a buffer of ``PGMOptions/eventBufferCapacity``; while it is full the
/// receiver stops reading its sockets, so a slow application makes the engine's input wait in the kernel instead
/// of memory growing; what the kernel then drops is NAKed like any loss. One task iterates at a time.
///
/// The sequence ends when ``close()`` is called, when the iterating task is cancelled, or when the receiver is
/// released; then the sockets are closed. Sessions ending (``Event/ended(_:)``) do not end it: a group may have
/// several sources, one after another.
///
/// ```swift
/// let receiver = try await PGMReceiver(options: options)
/// for try await event in receiver {
///     if case .message(let message) = event { print(message.bytes.count) }
/// }
/// ```
public final class PGMReceiver: AsyncSequence, Sendable {
    public typealias Element = Event

    /// What a receiver tells its application, in the order it happened.
    public enum Event: Hashable, Sendable {
        /// One whole message of a session.
        case message(PGMMessage)
        /// A session was seen and its delivery anchored (RFC 3208 §6.1): a late joiner starts with the first whole
        /// message at or after its first sequence.
        case joined(TSI)
        /// The source closed the session (OPT_FIN) and everything before was delivered or reported lost.
        case ended(TSI)
        /// The source reset the session (OPT_RST, RFC 3208 §9.8): it was cut short.
        case reset(TSI)
        /// Nothing heard from the session for ``PGMOptions/peerExpiry``: it is gone without OPT_FIN.
        case expired(TSI)
        /// Sequences `first...last` of the session will never arrive (their source's window moved past them, or
        /// NAKs ran out); messages that covered them are not delivered.
        case unrecoverable(TSI, first: SequenceNumber, last: SequenceNumber)
        /// Packets repaired (by RDATA or parity) since the last such event.
        case recovered(Int)
    }

    let runner: EngineRunner<Receiver, Event>

    /// Opens the sockets and joins the group.
    /// - Throws: ``PGMError``: invalid options, an unusable interface or group, a key file that cannot be read.
    public init(options: PGMOptions, logger: Logger = Logger(label: "pgm.receiver")) async throws {
        try options.validate()
        let authenticator = try options.loadAuthenticator()
        let interface: NetworkInterface
        let sockets: InterfaceSockets
        do {
            interface = try options.resolveInterface()
            sockets = try options.openReceiverSockets(on: interface)
        } catch {
            throw PGMError(opening: error)
        }
        var generator = SystemRandomNumberGenerator()
        let configuration = options.receiverConfiguration(address: interface.address, seed: generator.next())
        var repaired = 0
        do {
            runner = try EngineRunner(
                engine: Receiver(configuration: configuration), sockets: [sockets], authenticator: authenticator,
                eventCapacity: options.eventBufferCapacity, logger: logger,
                turn: { engine, _, events in
                    while events.hasRoom, let event = engine.pollEvent() {
                        if let output = Event(event) { events.emit(output) }
                    }
                    let total = engine.statistics.sequencesRepaired
                    if total > repaired {
                        events.emit(.recovered(total - repaired))
                        repaired = total
                    }
                    return .proceed(deadline: nil)
                })
        } catch {
            throw PGMError(opening: error)
        }
    }

    /// Ends the sequence (after the events already buffered) and closes the sockets; returns at once.
    public func close() {
        runner.stop()
    }

    public func makeAsyncIterator() -> Iterator { Iterator(runner: runner) }

    public struct Iterator: AsyncIteratorProtocol {
        let runner: EngineRunner<Receiver, Event>

        /// The next event; nil once the receiver was closed or the task cancelled.
        /// - Throws: ``PGMError/stopped(_:)`` when the socket loop failed.
        public mutating func next() async throws -> Event? {
            do {
                return try await runner.events.next()
            } catch {
                throw PGMError.stopped("\(error)")
            }
        }
    }
}

extension PGMReceiver.Event {
    /// The application's view of a receive engine's event; nil for what only the programs report (path changes,
    /// off-path drops, discovery before the window is anchored).
    init?(_ event: Receiver.Event) {
        switch event {
        case .joined(let tsi, _, _): self = .joined(tsi)
        case .data(let tsi, let bytes): self = .message(PGMMessage(tsi: tsi, bytes: Array(bytes)))
        case .unrecoverable(let tsi, let first, let last, _): self = .unrecoverable(tsi, first: first, last: last)
        case .sessionClosed(let tsi): self = .ended(tsi)
        case .sessionReset(let tsi, _): self = .reset(tsi)
        case .peerExpired(let tsi): self = .expired(tsi)
        case .peerDiscovered, .offPathPackets, .pathChanged: return nil
        }
    }
}
