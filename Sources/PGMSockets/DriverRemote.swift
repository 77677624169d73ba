internal import CPGMSystem
internal import Glibc
public import PGMCore
import Synchronization

/// Hands work to a running ``Driver`` from other threads (the async add-on, Docs/style.md#concurrency): commands
/// wait in a `Mutex`-guarded list and an eventfd wakes the loop, which runs them between two turns on its own
/// thread. The engine itself never leaves that thread; only the `Sendable` closures cross.
///
/// ```swift
/// let remote = try driver.makeRemote()
/// Thread { remote.post { engine, now in try? engine.send(bytes, at: now) } }
/// remote.stop()
/// ```
public final class DriverRemote<E>: Sendable {
    public typealias Command = @Sendable (inout E, Instant) -> Void

    private let state = Mutex<State>(State())
    let descriptor: Int32

    private struct State: ~Copyable {
        var commands: [Command] = []
        var stopRequested = false
    }

    init() throws(SystemError) {
        let fd = pgm_eventfd()
        guard fd >= 0 else { throw SystemError.last("eventfd") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Runs `command` on the driver's thread before its next turn.
    public func post(_ command: @escaping Command) {
        state.withLock { $0.commands.append(command) }
        wake()
    }

    /// Makes ``Driver/run()`` return after the turn in progress.
    public func stop() {
        state.withLock { $0.stopRequested = true }
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Clears the wake-up and takes what was posted; called on the driver's thread.
    func drain() -> (commands: [Command], stop: Bool) {
        var counter: UInt64 = 0
        _ = read(descriptor, &counter, MemoryLayout<UInt64>.size)
        return state.withLock { state in
            let taken = state.commands
            state.commands.removeAll()
            return (taken, state.stopRequested)
        }
    }
}
