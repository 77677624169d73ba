internal import CPGMSystem
internal import Glibc

/// SIGINT and SIGTERM as a readable descriptor (signalfd), so the poll loop sees a stop request between two
/// turns instead of in an async handler. The signals are blocked for the calling thread and its future
/// children; the process must call this before it starts other threads.
final class SignalDescriptor {
    let fd: Int32
    private var previous = sigset_t()

    init(signals: [Int32] = [SIGINT, SIGTERM]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        guard pthread_sigmask(SIG_BLOCK, &set, &previous) == 0 else {
            throw SystemError("pthread_sigmask(SIG_BLOCK)", errno: errno)
        }
        let fd = pgm_signalfd(&set)
        guard fd >= 0 else { throw SystemError.last("signalfd(SIGINT, SIGTERM)") }
        self.fd = fd
    }

    /// The signals that arrived since the last call.
    func drain() -> [Int32] {
        var result: [Int32] = []
        for _ in 0..<64 {
            let signal = pgm_signalfd_read(fd)
            guard signal > 0 else { break }
            result.append(signal)
        }
        return result
    }

    deinit {
        close(fd)
        _ = pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}
