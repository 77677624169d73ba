internal import Glibc

/// pgm-recv's output: the APDUs delivered during one driver turn, written together with `writev` straight
/// from the packets' buffers. One `write` per APDU would cost a system call per 64-byte message, and gathering
/// them into one buffer a copy per message.
///
/// A file (`--output`) is created, or truncated, only when the first data is written, or at the end of a
/// successful run that delivered nothing (an empty transfer), so that a run that gets nothing leaves an existing
/// file as it was; ``checkWritable(_:)`` finds what would stop that before the run starts.
final class OutputWriter {
    /// Where the data goes: standard output (`-` or no `--output`), or a file created on the first data.
    enum Destination: Equatable {
        case standardOutput
        case file(String)

        /// `--output PATH`; `-` and none mean standard output.
        init(_ path: String?) {
            self = path.map { $0 == "-" ? .standardOutput : .file($0) } ?? .standardOutput
        }
    }

    let destination: Destination
    /// Open once the first data came (at once for standard output).
    private var descriptor: Int32?
    /// Why the last write failed, in the system's words (with the file's name when it could not be created).
    private(set) var failure = ""
    private var pending: [ArraySlice<UInt8>] = []
    private var pendingBytes = 0
    private let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: OutputWriter.maximumVectors)
    /// Slices per `writev`: below IOV_MAX (1024), and the depth of the nested `withUnsafeBytes` calls that keep
    /// every slice's pointer valid during the call.
    static let maximumVectors = 256
    /// Buffered bytes that trigger a write before the turn ends.
    static let flushBytes = 1 << 20

    init(_ destination: Destination) {
        self.destination = destination
        if destination == .standardOutput { descriptor = 1 }
    }

    deinit {
        vectors.deallocate()
        if case .file = destination, let descriptor { close(descriptor) }
    }

    /// Whether the run may write `path` later: an existing file must be writable and not a directory, a new one
    /// needs a writable directory. Nil when it may; otherwise the reason.
    static func checkWritable(_ path: String) -> String? {
        var status = stat()
        if stat(path, &status) == 0 {
            if status.st_mode & S_IFMT == S_IFDIR { return "\(path) is a directory" }
            return access(path, W_OK) == 0 ? nil : "cannot write \(path): \(String(cString: strerror(errno)))"
        }
        guard errno == ENOENT else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let checked = directory.isEmpty ? "/" : directory
        return access(checked, W_OK | X_OK) == 0
            ? nil : "cannot create \(path): \(String(cString: strerror(errno)))"
    }

    /// Creates the file if it was not yet (an empty transfer that ended well). False when that failed.
    func createIfNeeded() -> Bool { openIfNeeded() }

    private func openIfNeeded() -> Bool {
        guard descriptor == nil, case .file(let path) = destination else { return true }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            failure = "cannot create \(path): \(String(cString: strerror(errno)))"
            return false
        }
        descriptor = fd
        return true
    }

    /// Queues `bytes`; writes when enough has gathered. False when a write failed (``failure`` says why).
    func append(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return true }
        pending.append(bytes)
        pendingBytes += bytes.count
        return pending.count == Self.maximumVectors || pendingBytes >= Self.flushBytes ? flush() : true
    }

    /// Writes everything queued, creating the file first if needed. False when that failed (``failure`` says why);
    /// what was queued is dropped.
    func flush() -> Bool {
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        guard !pending.isEmpty else { return true }
        guard openIfNeeded(), let descriptor else { return false }
        let written = gather(0, descriptor, into: UnsafeMutableBufferPointer(rebasing: vectors[0..<pending.count]))
        if written == pendingBytes { return true }
        if written < 0 && errno != EINTR { return failed() }
        // A short write (a signal, a full pipe in non-blocking mode): the rest slice by slice.
        var skip = max(0, written)
        for slice in pending {
            if skip >= slice.count {
                skip -= slice.count
                continue
            }
            guard writeAll(descriptor, slice.dropFirst(skip)) else { return failed() }
            skip = 0
        }
        return true
    }

    /// Records `errno` as the failure; false.
    private func failed() -> Bool {
        failure = String(cString: strerror(errno))
        return false
    }

    /// Fills `vectors[index...]` with the slices' addresses, each valid inside its own `withUnsafeBytes`, and
    /// calls `writev` at the innermost level.
    private func gather(_ index: Int, _ descriptor: Int32, into vectors: UnsafeMutableBufferPointer<iovec>) -> Int {
        guard index < pending.count else { return writev(descriptor, vectors.baseAddress, Int32(vectors.count)) }
        return pending[index].withUnsafeBytes { bytes in
            vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            return gather(index + 1, descriptor, into: vectors)
        }
    }
}
