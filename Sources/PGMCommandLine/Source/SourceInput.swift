internal import Glibc

/// The source's input: the files in order, or standard input, cut into APDUs of at most `apduSize` bytes.
/// Reads never block for long: the driver only calls ``read(_:)`` when poll says the descriptor is readable.
final class SourceInput {
    private var descriptors: [Int32]
    private let ownsDescriptors: Bool
    private let apduSize: Int
    private var buffer: [UInt8] = []
    private(set) var isFinished = false
    private(set) var bytesAccepted = 0

    /// Opens every file up front, so a missing one fails before anything is sent (exit code 66).
    init(paths: [String], apduSize: Int) throws(CommandFailure) {
        self.apduSize = apduSize
        if paths.isEmpty {
            descriptors = [0]
            ownsDescriptors = false
        } else {
            var opened: [Int32] = []
            for path in paths {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                if fd < 0 {
                    let reason = String(cString: strerror(errno))
                    for fd in opened { close(fd) }
                    throw CommandFailure(.noInput, "cannot open \(path): \(reason)")
                }
                opened.append(fd)
            }
            descriptors = opened
            ownsDescriptors = true
        }
        buffer.reserveCapacity(apduSize)
    }

    deinit {
        if ownsDescriptors { for fd in descriptors { close(fd) } }
    }

    /// Whether a read would return at once (data or end of file), checked with a zero-timeout poll.
    var isReadable: Bool {
        guard let fd = descriptors.first else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// The descriptor being read, or nil once everything was read.
    var descriptor: Int32? { descriptors.first }

    /// Reads once from the current descriptor and hands every full APDU to `send`; at the end of the last
    /// file, the remainder. A pipe's short reads are gathered until an APDU is full, so APDU boundaries do not
    /// depend on how the writer chunked its output.
    func read(_ send: ([UInt8]) throws -> Void) throws {
        guard let fd = descriptors.first else { return }
        if buffer.count == apduSize {  // the engine refused it last time (queue full): offer it again
            try emit(send)
            return
        }
        let room = apduSize - buffer.count
        var chunk = [UInt8](repeating: 0, count: room)
        let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, room) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return }
            throw CommandFailure(.failure, "read: \(String(cString: strerror(errno)))")
        }
        if count == 0 {
            if ownsDescriptors { close(fd) }
            descriptors.removeFirst()
            if descriptors.isEmpty {
                if !buffer.isEmpty { try emit(send) }
                isFinished = true
            }
            return
        }
        buffer.append(contentsOf: chunk[0..<count])
        if buffer.count == apduSize { try emit(send) }
    }

    private func emit(_ send: ([UInt8]) throws -> Void) throws {
        try send(buffer)
        bytesAccepted += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Stops reading at SIGINT: what was read is still sent (the partial APDU too), what was not is not.
    func finish(_ send: ([UInt8]) throws -> Void) throws {
        if !buffer.isEmpty { try emit(send) }
        abandon()
    }

    /// Stops reading (or an input error): what was not read is not sent.
    func abandon() {
        if ownsDescriptors { for fd in descriptors { close(fd) } }
        descriptors.removeAll()
        buffer.removeAll()
        isFinished = true
    }
}
