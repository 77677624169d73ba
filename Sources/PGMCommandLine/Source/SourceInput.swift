internal import Glibc

/// The source's input: the files in order, or standard input, cut into APDUs of at most `apduSize` bytes.
/// Reads never block for long: the driver only calls ``read(_:)`` when poll says the descriptor is readable.
final class SourceInput: SourceProgram.Input {
    private var descriptors: [Int32]
    private let ownsDescriptors: Bool
    private let apduSize: Int
    /// Bytes read but not yet sent: the start of an APDU, carried into the next chunk.
    private var leftover: [UInt8] = []
    private(set) var isFinished = false
    private(set) var bytesAccepted = 0

    private init(descriptors: [Int32], ownsDescriptors: Bool, apduSize: Int) {
        self.descriptors = descriptors
        self.ownsDescriptors = ownsDescriptors
        self.apduSize = apduSize
    }

    /// Reads `descriptor` (standard input, or a pipe in tests), which stays open.
    convenience init(descriptor: Int32, apduSize: Int) {
        self.init(descriptors: [descriptor], ownsDescriptors: false, apduSize: apduSize)
    }

    /// Opens every file up front, so a missing one fails before anything is sent (exit code 66); no files:
    /// standard input.
    convenience init(paths: [String], apduSize: Int) throws(CommandFailure) {
        guard !paths.isEmpty else {
            self.init(descriptor: 0, apduSize: apduSize)
            return
        }
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
        self.init(descriptors: opened, ownsDescriptors: true, apduSize: apduSize)
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

    /// Bytes one read asks for at most: thousands of small APDUs, so that reading costs one system call per
    /// chunk rather than per APDU.
    static let chunkSize = 256 << 10

    /// Reads once from the current descriptor, at most what `room` bytes of the engine's queue can take, and
    /// hands every full APDU to `send` as a slice of the chunk read (the transmit window keeps the slices: no
    /// copy per APDU); at the end of the last file, the remainder. A pipe's short reads are gathered until an
    /// APDU is full, so APDU boundaries do not depend on how the writer chunked its output.
    func read(room: Int, _ send: (ArraySlice<UInt8>) throws -> Void) throws {
        guard let fd = descriptors.first else { return }
        let carried = leftover.count
        // Whole APDUs that fit `room`, so none is ever read and then refused, and no partial one is left to
        // carry into the next chunk (only a pipe's short read leaves one).
        let limit = min(Self.chunkSize, max(apduSize - carried, (room / apduSize) * apduSize - carried))
        var count = 0
        var chunk = [UInt8](unsafeUninitializedCapacity: carried + limit) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            leftover.withUnsafeBufferPointer {
                if let old = $0.baseAddress { base.initialize(from: old, count: carried) }
            }
            count = Glibc.read(fd, base + carried, limit)
            initialized = carried + max(0, count)
        }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return }
            throw CommandFailure(.failure, "read: \(String(cString: strerror(errno)))")
        }
        if count == 0 {
            if ownsDescriptors { close(fd) }
            descriptors.removeFirst()
            if descriptors.isEmpty {
                if !leftover.isEmpty { try finishLeftover(send) }
                isFinished = true
            }
            return
        }
        if chunk.count < (carried + limit) / 4 {
            // A short read (a pipe trickling small messages) would pin a chunk-sized allocation for every message
            // the transmit window keeps: its bytes move to an array of their own size.
            let short = chunk
            chunk = [UInt8](unsafeUninitializedCapacity: short.count) { buffer, initialized in
                short.withUnsafeBufferPointer { buffer.baseAddress!.initialize(from: $0.baseAddress!, count: $0.count) }
                initialized = short.count
            }
        }
        var offset = 0
        // What was not handed over stays for the next call, also when `send` throws.
        defer { leftover = Array(chunk[offset...]) }
        while chunk.count - offset >= apduSize {
            try send(chunk[offset..<(offset + apduSize)])
            bytesAccepted += apduSize
            offset += apduSize
        }
    }

    private func finishLeftover(_ send: (ArraySlice<UInt8>) throws -> Void) throws {
        try send(leftover[...])
        bytesAccepted += leftover.count
        leftover.removeAll()
    }

    /// Stops reading at SIGINT: what was read is still sent (the partial APDU too), what was not is not.
    func finish(_ send: (ArraySlice<UInt8>) throws -> Void) throws {
        if !leftover.isEmpty { try finishLeftover(send) }
        abandon()
    }

    /// Stops reading (or an input error): what was not read is not sent.
    func abandon() {
        if ownsDescriptors { for fd in descriptors { close(fd) } }
        descriptors.removeAll()
        leftover.removeAll()
        isFinished = true
    }
}
