import DequeModule
import Synchronization

/// Outputs of an engine thread on their way to one async consumer, bounded without losing any.
///
/// The engine thread ``emit(_:)``s while ``hasRoom``; once the buffer is full it stops taking the engine's events
/// and stops reading the sockets (``EngineRunner``), so that a slow consumer slows the engine's input instead of
/// the buffer growing or dropping. The consumer that takes the buffer down to half wakes the engine thread again.
/// What the kernel then drops is lost as on the network: repaired by NAKs while the source still has it,
/// otherwise reported as unrecoverable. The capacity is soft: one turn may emit a few outputs past it.
package final class EventBuffer<Output: Sendable>: Sendable {
    package let capacity: Int
    private let state = Mutex(State())
    /// Wakes the engine thread after the consumer made room (posts an empty command).
    private let wake: @Sendable () -> Void
    /// The consumer's task was cancelled: the runner stops.
    private let cancel: @Sendable () -> Void

    private struct State: ~Copyable {
        var items: Deque<Output> = []
        var waiter: CheckedContinuation<Output?, any Error>?
        var finished = false
        var failure: (any Error)?
        /// The engine thread saw the buffer full and paused its input: wake it once there is room again.
        var producerPaused = false
        var pauses = 0
    }

    private enum Next {
        case item(Output, wake: Bool)
        case end((any Error)?)
        case wait
    }

    package init(
        capacity: Int, wake: @escaping @Sendable () -> Void, cancel: @escaping @Sendable () -> Void
    ) {
        self.capacity = Swift.max(1, capacity)
        self.wake = wake
        self.cancel = cancel
    }

    // MARK: Engine thread

    /// Whether the consumer has room for more (the engine thread stops draining the engine's events when not).
    package var hasRoom: Bool { state.withLock { $0.items.count < capacity } }

    /// Hands `output` to the waiting consumer, or keeps it.
    package func emit(_ output: Output) {
        let waiter = state.withLock { state -> CheckedContinuation<Output?, any Error>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.items.append(output)
            return nil
        }
        waiter?.resume(returning: output)
    }

    /// After a turn: true when the buffer is full, in which case the consumer wakes the thread once it has taken
    /// half of it.
    package func pauseIfFull() -> Bool {
        state.withLock { state in
            let full = state.items.count >= capacity
            if full && !state.producerPaused { state.pauses += 1 }
            state.producerPaused = full
            return full
        }
    }

    /// How many times the engine thread paused its input for the consumer (for tests and diagnostics).
    package var pauses: Int { state.withLock { $0.pauses } }

    /// No more outputs: the consumer gets what is buffered, then the end (or `failure`).
    package func finish(throwing failure: (any Error)? = nil) {
        let waiter = state.withLock { state -> CheckedContinuation<Output?, any Error>? in
            guard !state.finished else { return nil }
            state.finished = true
            state.failure = failure
            defer { state.waiter = nil }
            return state.items.isEmpty ? state.waiter : nil
        }
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
    }

    // MARK: Consumer

    /// The next output, nil at the end. One consumer at a time. Cancelling the waiting task ends the sequence
    /// and stops the engine.
    package func next() async throws -> Output? {
        switch take(nil) {
        case .item(let output, let wake):
            if wake { self.wake() }
            return output
        case .end(let failure?):
            throw failure
        case .end(nil):
            return nil
        case .wait:
            break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output?, any Error>) in
                switch take(continuation) {
                case .item(let output, let wake):
                    if wake { self.wake() }
                    continuation.resume(returning: output)
                case .end(let failure?):
                    continuation.resume(throwing: failure)
                case .end(nil):
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Output?, any Error>? in
                state.finished = true
                state.items.removeAll()
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
            cancel()
        }
    }

    /// The next buffered output, the end, or (with a continuation) a wait registered under the lock.
    private func take(_ continuation: CheckedContinuation<Output?, any Error>?) -> Next {
        state.withLock { state in
            if let output = state.items.popFirst() {
                let wake = state.producerPaused && state.items.count <= capacity / 2
                if wake { state.producerPaused = false }
                return .item(output, wake: wake)
            }
            if state.finished {
                let failure = state.failure
                state.failure = nil
                return .end(failure)
            }
            if let continuation { state.waiter = continuation }
            return .wait
        }
    }
}

extension EventBuffer: AsyncSequence {
    package typealias Element = Output

    package struct Iterator: AsyncIteratorProtocol {
        let buffer: EventBuffer<Output>
        package mutating func next() async throws -> Output? { try await buffer.next() }
    }

    /// The outputs as an `AsyncSequence` (one consumer at a time).
    package func makeAsyncIterator() -> Iterator { Iterator(buffer: self) }
}
