internal import Glibc
package import Logging
package import PGMCore
package import PGMSockets
package import PGMWire
import Synchronization

/// Runs one ``Engine`` on its sockets in a ``Driver`` loop on a thread of its own, for async callers: the one
/// way this package puts an engine on sockets for a library user (``PGMSource``, ``PGMReceiver``, the group engine).
///
/// The engine never leaves its thread (Docs/style.md#concurrency). Callers reach it with ``post(_:)``, whose
/// commands run between two turns; after every turn the runner calls the `turn` closure on that thread with the
/// engine and the ``EventBuffer``: it drains the engine's events into the buffer (while it has room), does any
/// per-turn work of the layer above, and says whether to go on and when it wants the next turn at the latest. While
/// the buffer is full the sockets are not read (``Driver/isReceivePaused``): back-pressure, not loss.
///
/// The loop ends when `turn` says ``Decision/stop``, on ``stop()``, when the consumer's task is cancelled, or when
/// the runner is released; then the thread releases the driver (closing the sockets), finishes the event buffer
/// and calls `onStop`. ``stop()`` returns at once; ``waitUntilStopped()`` and `deinit` wait for the thread.
package final class EngineRunner<E: Engine & SendableMetatype, Output: Sendable>: Sendable {
    /// What the per-turn closure tells the runner.
    package enum Decision {
        /// Go on; run the next turn by `deadline` at the latest (besides the engine's own deadline).
        case proceed(deadline: Instant?)
        case stop
    }

    package typealias Turn = (inout E, Instant, EventBuffer<Output>) -> Decision

    /// The engine's outputs, for one async consumer.
    package let events: EventBuffer<Output>
    private let remote: DriverRemote<E>
    private let thread = Mutex<pthread_t?>(nil)
    private let termination = Mutex(Termination())

    private struct Termination: ~Copyable {
        var stopped = false
        var failure: SystemError?
        var waiters: [CheckedContinuation<SystemError?, Never>] = []
    }

    /// Starts the loop on a new thread.
    /// - Parameters:
    ///   - engine: built by the caller; from here on it lives on the runner's thread.
    ///   - sockets: handed over with the engine; closed when the loop ends.
    ///   - authenticator: the session key (Docs/key.md), or nil.
    ///   - eventCapacity: outputs buffered for the consumer before the sockets are left unread.
    ///   - turn: runs on the runner's thread after every turn (see the type's comment).
    ///   - onStop: runs on the runner's thread once the loop has ended, with the engine as it was left.
    package init(
        engine: E, sockets: [InterfaceSockets], authenticator: (any PacketAuthenticator)? = nil, eventCapacity: Int,
        logger: Logger, turn: @escaping Turn, onStop: @escaping (inout E, SystemError?) -> Void = { _, _ in }
    ) throws(SystemError) {
        let driver = try Driver(engine: engine, sockets: sockets, logger: logger)
        driver.authenticator = authenticator
        let remote = try driver.makeRemote()
        self.remote = remote
        let events = EventBuffer<Output>(
            capacity: eventCapacity, wake: { remote.post { _, _ in } }, cancel: { remote.stop() })
        self.events = events
        driver.afterTurn = { [unowned driver] engine, now in
            let decision = turn(&engine, now, events)
            driver.isReceivePaused = events.pauseIfFull()
            switch decision {
            case .proceed(let deadline):
                driver.callerDeadline = deadline
                return .proceed
            case .stop:
                return .stop
            }
        }
        // The driver (with the engine, the sockets and `turn`) moves to the new thread; nothing here touches it again.
        let handOver = HandOver(driver: driver, onStop: onStop)
        let termination = UncheckedTermination(runner: self)
        let started = startThread {
            var failure: SystemError?
            do {
                guard let driver = handOver.take() else { return }
                do throws(SystemError) {
                    try driver.run()
                } catch {
                    failure = error
                    driver.logger.error("the PGM engine's loop failed: \(error)")
                }
                handOver.onStop(&driver.engine, failure)
            }  // the driver goes here, and the sockets with it, before anyone hears the loop ended
            events.finish(throwing: failure)
            termination.finish(failure)
        }
        guard let started else {
            throw SystemError("pthread_create", errno: errno)
        }
        thread.withLock { $0 = started }
    }

    deinit {
        remote.stop()
        join()
    }

    /// Runs `command` on the engine's thread before its next turn (dropped once the loop has ended).
    package func post(_ command: @escaping DriverRemote<E>.Command) {
        remote.post(command)
    }

    /// Ends the loop after the turn in progress; returns at once.
    package func stop() {
        remote.stop()
    }

    /// Whether the loop has ended.
    package var isStopped: Bool { termination.withLock { $0.stopped } }

    /// Waits until the loop has ended and the sockets are closed; the error that ended it, if one did.
    @discardableResult
    package func waitUntilStopped() async -> SystemError? {
        await withCheckedContinuation { continuation in
            let done = termination.withLock { state -> SystemError?? in
                if state.stopped { return .some(state.failure) }
                state.waiters.append(continuation)
                return .none
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Called on the engine thread when the loop has ended and the driver is released.
    fileprivate func terminated(_ failure: SystemError?) {
        let waiters = termination.withLock { state in
            state.stopped = true
            state.failure = failure
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: failure) }
    }

    /// Waits for the thread (not from the thread itself: a runner released by its own loop detaches it).
    private func join() {
        guard
            let handle = thread.withLock({ handle -> pthread_t? in
                defer { handle = nil }
                return handle
            })
        else { return }
        if pthread_equal(handle, pthread_self()) != 0 {
            pthread_detach(handle)
        } else {
            pthread_join(handle, nil)
        }
    }
}

/// The driver and the stop hook on their way to the runner's thread. Safe to send: the creating thread gives
/// them up before the new thread starts, and ``take()`` hands them to that thread once.
private final class HandOver<E: Engine>: @unchecked Sendable {
    private var driver: Driver<E>?
    let onStop: (inout E, SystemError?) -> Void

    init(driver: Driver<E>, onStop: @escaping (inout E, SystemError?) -> Void) {
        self.driver = driver
        self.onStop = onStop
    }

    func take() -> Driver<E>? {
        defer { driver = nil }
        return driver
    }
}

/// Tells the runner its loop ended without keeping it alive: the thread must not hold the last reference, or the
/// runner's `deinit` would run on the thread it joins.
private final class UncheckedTermination<E: Engine & SendableMetatype, Output: Sendable>: Sendable {
    private weak let runner: EngineRunner<E, Output>?

    init(runner: EngineRunner<E, Output>) { self.runner = runner }

    func finish(_ failure: SystemError?) {
        runner?.terminated(failure)
    }
}

/// A thread's work, passed through `pthread_create`'s one pointer.
private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Starts a joinable POSIX thread running `body`; nil when the system refuses.
private func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    let argument = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var handle = pthread_t()
    let result = pthread_create(
        &handle, nil,
        { argument in
            guard let argument else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue().run()
            return nil
        }, argument)
    guard result == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(argument).release()
        return nil
    }
    return handle
}
