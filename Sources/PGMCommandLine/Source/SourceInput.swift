internal import Glibc

/// The source's input: the files in order (`-` for standard input), or standard input, cut into APDUs of at
/// most `apduSize` bytes.
/// Reads never block for long: the driver only calls ``read(_:)`` when poll says the descriptor is readable.
final class SourceInput: SourceProgram.Input {
    private var descriptors: [Int32]
    private let apduSize: Int
    /// Bytes read but not yet sent: the start of an APDU, carried into the next chunk.
    private var leftover: [UInt8] = []
    private(set) var isFinished = false
    private(set) var bytesAccepted = 0

    /// The size of every input when all are regular files (or standard input redirected from one).
    let totalBytes: Int?
    /// Descriptors this input closes when done: the files it opened, not standard input.
    private var owned: Set<Int32>

    private init(descriptors: [Int32], owned: Set<Int32>, apduSize: Int, totalBytes: Int?) {
        self.descriptors = descriptors
        self.owned = owned
        self.apduSize = apduSize
        self.totalBytes = totalBytes
    }

    /// Reads `descriptor` (standard input, or a pipe in tests), which stays open.
    convenience init(descriptor: Int32, apduSize: Int) {
        self.init(
            descriptors: [descriptor], owned: [], apduSize: apduSize, totalBytes: Self.regularFileSize(descriptor))
    }

    /// Opens every file up front, so that a missing, unreadable or not regular one (a directory) fails before
    /// anything is sent (exit code 66); `-` is standard input, and no files at all is standard input too.
    convenience init(paths: [String], apduSize: Int) throws(CommandFailure) {
        guard !paths.isEmpty else {
            self.init(descriptor: 0, apduSize: apduSize)
            return
        }
        var opened: [Int32] = []
        var owned: Set<Int32> = []
        var total: Int? = 0
        func fail(_ message: String) -> CommandFailure {
            for fd in owned { close(fd) }
            return CommandFailure(.noInput, message)
        }
        for path in paths {
            if path == "-" {
                guard !opened.contains(0) else { throw fail("standard input (-) is named more than once") }
                opened.append(0)
                total = total.flatMap { sum in Self.regularFileSize(0).map { sum + $0 } }
                continue
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw fail("cannot open \(path): \(String(cString: strerror(errno)))") }
            owned.insert(fd)
            opened.append(fd)
            var status = stat()
            guard fstat(fd, &status) == 0 else {
                throw fail("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            switch status.st_mode & S_IFMT {
            case S_IFDIR: throw fail("\(path) is a directory")
            case S_IFREG: total = total.map { $0 + Int(status.st_size) }
            default: total = nil  // a FIFO or a device: read as it comes, size unknown
            }
        }
        self.init(descriptors: opened, owned: owned, apduSize: apduSize, totalBytes: total)
    }

    /// The size of a regular file open on `descriptor`; nil for pipes, terminals and devices.
    static func regularFileSize(_ descriptor: Int32) -> Int? {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        // Standard input redirected from a file may not start at its beginning.
        let position = lseek(descriptor, 0, SEEK_CUR)
        return max(0, Int(status.st_size) - max(0, Int(position)))
    }

    deinit {
        for fd in descriptors where owned.contains(fd) { close(fd) }
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
            if owned.contains(fd) { close(fd) }
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
        for fd in descriptors where owned.contains(fd) { close(fd) }
        descriptors.removeAll()
        leftover.removeAll()
        isFinished = true
    }
}
