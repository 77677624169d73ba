internal import Glibc

/// pgm-recv's output: the APDUs delivered during one driver turn, written together with `writev` straight
/// from the packets' buffers. One `write` per APDU would cost a system call per 64-byte message, and gathering
/// them into one buffer a copy per message.
final class OutputWriter {
    private let descriptor: Int32
    private var pending: [ArraySlice<UInt8>] = []
    private var pendingBytes = 0
    private let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: OutputWriter.maximumVectors)
    /// Slices per `writev`: below IOV_MAX (1024), and the depth of the nested `withUnsafeBytes` calls that keep
    /// every slice's pointer valid during the call.
    static let maximumVectors = 256
    /// Buffered bytes that trigger a write before the turn ends.
    static let flushBytes = 1 << 20

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { vectors.deallocate() }

    /// Queues `bytes`; writes when enough has gathered. False when a write failed (errno says why).
    func append(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return true }
        pending.append(bytes)
        pendingBytes += bytes.count
        return pending.count == Self.maximumVectors || pendingBytes >= Self.flushBytes ? flush() : true
    }

    /// Writes everything queued. False when a write failed (errno says why); what was queued is dropped.
    func flush() -> Bool {
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        guard !pending.isEmpty else { return true }
        let written = gather(0, into: UnsafeMutableBufferPointer(rebasing: vectors[0..<pending.count]))
        if written == pendingBytes { return true }
        if written < 0 && errno != EINTR { return false }
        // A short write (a signal, a full pipe in non-blocking mode): the rest slice by slice.
        var skip = max(0, written)
        for slice in pending {
            if skip >= slice.count {
                skip -= slice.count
                continue
            }
            guard writeAll(descriptor, slice.dropFirst(skip)) else { return false }
            skip = 0
        }
        return true
    }

    /// Fills `vectors[index...]` with the slices' addresses, each valid inside its own `withUnsafeBytes`, and
    /// calls `writev` at the innermost level.
    private func gather(_ index: Int, into vectors: UnsafeMutableBufferPointer<iovec>) -> Int {
        guard index < pending.count else { return writev(descriptor, vectors.baseAddress, Int32(vectors.count)) }
        return pending[index].withUnsafeBytes { bytes in
            vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            return gather(index + 1, into: vectors)
        }
    }
}
