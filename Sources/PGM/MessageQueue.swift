import DequeModule
import PGMCore
import PGMSockets
import Synchronization

/// Messages waiting for room in an engine's queue, in order, and the finish request: shared by the callers'
/// tasks and the engine thread under one lock (``PGMSource`` and ``PGMGroup`` alike). Only the engine thread takes messages out (``pump(_:at:)``), so
/// they reach the engine in the order they were queued.
final class MessageQueue: Sendable {
    private struct Pending {
        var id: Int
        var message: [UInt8]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State: ~Copyable {
        var waiting: Deque<Pending> = []
        var nextID = 0
        /// Sends cancelled before they were queued.
        var cancelled: Set<Int> = []
        var finishRequested = false
        var abandoned = false
        var stopReason: String?
    }

    private let state = Mutex(State())

    /// Queues `bytes` and returns once the engine took them (``pump(fits:send:)``, on the engine thread, which
    /// `wake` asks for), or throws what taking them threw; more than `maximum` bytes are refused at once.
    /// Cancelling a send still waiting throws `CancellationError`, and nothing of it is sent.
    func send(_ bytes: some Collection<UInt8>, maximum: Int, wake: @escaping @Sendable () -> Void) async throws {
        guard bytes.count <= maximum else { throw PGMError.messageTooLarge(size: bytes.count, maximum: maximum) }
        let message = Array(bytes)
        let id = newID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if enqueue(id: id, message, continuation) { wake() }
            }
        } onCancel: {
            cancel(id: id)
        }
    }

    func newID() -> Int {
        state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
    }

    /// Queues a message; false when it was answered at once (cancelled, finished or stopped).
    func enqueue(id: Int, _ message: [UInt8], _ continuation: CheckedContinuation<Void, any Error>) -> Bool {
        let refusal = state.withLock { state -> (any Error)? in
            if state.cancelled.remove(id) != nil { return CancellationError() }
            if let reason = state.stopReason { return PGMError.stopped(reason) }
            if state.finishRequested { return PGMError.finished }
            state.waiting.append(Pending(id: id, message: message, continuation: continuation))
            return nil
        }
        if let refusal {
            continuation.resume(throwing: refusal)
            return false
        }
        return true
    }

    /// A send's task was cancelled: its message leaves the queue unless the engine already took it.
    func cancel(id: Int) {
        let pending = state.withLock { state -> Pending? in
            guard let index = state.waiting.firstIndex(where: { $0.id == id }) else {
                state.cancelled.insert(id)  // not queued yet (or already sent, and then never looked up again)
                return nil
            }
            return state.waiting.remove(at: index)
        }
        pending?.continuation.resume(throwing: CancellationError())
    }

    func requestFinish() { state.withLock { $0.finishRequested = true } }

    func abandon() { state.withLock { $0.abandoned = true } }

    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// On the engine thread: hands waiting messages to `send` while `fits` says the first one fits; each caller
    /// resumes once its message was taken (or with the error `send` threw).
    func pump(fits: (Int) -> Bool, send: ([UInt8]) throws(PGMError) -> Void) {
        while true {
            let next = state.withLock { state -> Pending? in
                guard let first = state.waiting.first, fits(first.message.count) else { return nil }
                return state.waiting.removeFirst()
            }
            guard let next else { break }
            do {
                try send(next.message)
                next.continuation.resume()
            } catch {
                next.continuation.resume(throwing: error)
            }
        }
    }

    /// A finish was asked for and every message before it was handed over.
    var isFinishRequestedAndDrained: Bool { state.withLock { $0.finishRequested && $0.waiting.isEmpty } }

    /// On the engine thread once the loop has ended: whatever still waits fails, and so does every later send.
    func stopped(_ failure: SystemError?) {
        let waiting = state.withLock { state in
            state.stopReason = failure.map { "\($0)" } ?? "the source was stopped"
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for pending in waiting {
            pending.continuation.resume(throwing: PGMError.stopped(failure.map { "\($0)" } ?? "the source was stopped"))
        }
    }
}
