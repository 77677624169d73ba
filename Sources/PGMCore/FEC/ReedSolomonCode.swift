/// Why a `ReedSolomonCode` call was refused. Every bad argument is one of these, never a trap.
public enum ReedSolomonError: Error, Equatable, Sendable {
    /// `dataCount` outside 1...254, or a number of data sources other than `dataCount`.
    case groupSize(Int)
    /// A parity index outside 0..<maximumParityCount.
    case parityIndex(Int)
    /// Fewer distinct symbols than `dataCount` to recover from.
    case notEnoughSymbols(have: Int, need: Int)
    /// The same RS offset twice among the symbols.
    case duplicateOffset(Int)
    /// An RS offset outside 0..<255.
    case offsetOutOfRange(Int)
    /// A negative length or one over `ReedSolomonCode.maximumLength`, a symbol longer than `length`, an output
    /// shorter than `length`, or a list of outputs or symbols whose count does not match what is asked for (the
    /// associated value is the offending length or count).
    case length(Int)
}

/// The systematic RS(255, k) erasure code PGM's FEC uses (RFC 3208 Appendix A; the generator is OpenPGM's
/// reed_solomon.c, Rizzo's Vandermonde code, so parity bytes interoperate): RS offsets 0..<k are the data
/// symbols themselves, offset k + j is parity index j. Any k distinct symbols of a block recover the rest.
///
/// A value type that is cheap to copy (its tables are arrays); decode coefficient rows are cached per erasure
/// pattern (at most `decodeCacheCapacity` patterns, the oldest replaced first), so `recover` is `mutating`.
public struct ReedSolomonCode: Sendable {
    public static let blockLength = 255
    /// The longest symbol: a PGM packet's data fits in one IP datagram (RFC 3208 §9.1 encodes TSDUs, padded to
    /// the group's longest). The bound keeps a bad length from asking for an impossible allocation.
    public static let maximumLength = 65_535
    /// Erasure patterns whose decode rows are kept.
    static let decodeCacheCapacity = 64

    /// k. The codec accepts 1...254; PGM's 2...128 powers of two are the engines' rule (RFC 3208 §9.1).
    public let dataCount: Int
    public var maximumParityCount: Int { Self.blockLength - dataCount }

    let kernel: any GaloisRegionKernel
    /// Rows k..<255 of the generator matrix, row j at j * dataCount.
    let parityRows: [UInt8]
    var decodeCache: [DecodePattern] = []
    var nextEviction = 0

    struct DecodePattern {
        /// The k offsets recovered from, ascending.
        var basis: [Int]
        /// The data indices recovered, ascending.
        var missing: [Int]
        /// missing.count rows of k coefficients over `basis`.
        var rows: [UInt8]
    }

    public init(dataCount: Int, kernel: any GaloisRegionKernel = SwiftGaloisKernel()) throws(ReedSolomonError) {
        guard (1..<Self.blockLength).contains(dataCount) else { throw .groupSize(dataCount) }
        self.dataCount = dataCount
        self.kernel = kernel
        parityRows = GaloisField.lagrangeRows(
            basis: Array(0..<dataCount), targets: Array(dataCount..<Self.blockLength))
    }

    /// The coefficient row of parity index `index`: parity = Σ_i row[i] · data_i (for tests, the network element
    /// and ISA-L).
    public func parityCoefficients(index: Int) throws(ReedSolomonError) -> [UInt8] {
        guard (0..<maximumParityCount).contains(index) else { throw .parityIndex(index) }
        return Array(parityRows[index * dataCount..<(index + 1) * dataCount])
    }

    /// Parity symbols for `parityIndices` into `outputs` (one each, at least `length` bytes; exactly `length`
    /// bytes are written). `sources` are the k data symbols; shorter ones count as zero-padded up to `length`
    /// (RFC 3208 §9.1: variable-length packets are padded for the encoding).
    public func encode(
        parityIndices: [Int], sources: [UnsafeRawBufferPointer], length: Int,
        outputs: [UnsafeMutableRawBufferPointer]
    ) throws(ReedSolomonError) {
        guard sources.count == dataCount else { throw .groupSize(sources.count) }
        guard (0...Self.maximumLength).contains(length) else { throw .length(length) }
        guard outputs.count == parityIndices.count else { throw .length(outputs.count) }
        for source in sources where source.count > length { throw .length(source.count) }
        for output in outputs where output.count < length { throw .length(output.count) }
        var coefficients: [UInt8] = []
        coefficients.reserveCapacity(parityIndices.count * dataCount)
        for index in parityIndices {
            guard (0..<maximumParityCount).contains(index) else { throw .parityIndex(index) }
            coefficients += parityRows[index * dataCount..<(index + 1) * dataCount]
        }
        guard length > 0, !outputs.isEmpty else { return }
        kernel.multiplyAccumulate(coefficients: coefficients, sources: sources, outputs: outputs, length: length)
    }

    /// One parity symbol of `length` bytes as an array.
    public func parity(index: Int, of sources: [[UInt8]], length: Int) throws(ReedSolomonError) -> [UInt8] {
        guard sources.count == dataCount else { throw .groupSize(sources.count) }
        guard (0...Self.maximumLength).contains(length) else { throw .length(length) }
        var output = [UInt8](repeating: 0, count: length)
        let result: Result<Void, ReedSolomonError> = withBuffers(sources) { buffers in
            output.withUnsafeMutableBytes { bytes in
                Result { () throws(ReedSolomonError) in
                    try encode(parityIndices: [index], sources: buffers, length: length, outputs: [bytes])
                }
            }
        }
        try result.get()
        return output
    }

    /// Recovers the missing data symbols from any k distinct symbols of the block. `symbols` maps RS offset
    /// (0..<k data, k + j parity index j) to bytes, shorter ones zero-padded to `length`. Returns, for every
    /// data index in 0..<k absent from `symbols`, its `length` bytes. Beyond k symbols, data symbols are used
    /// first, then parity in ascending offset; the rest are ignored.
    public mutating func recover(symbols: [Int: [UInt8]], length: Int) throws(ReedSolomonError) -> [Int: [UInt8]] {
        let offsets = symbols.keys.sorted()
        let values = offsets.map { symbols[$0]! }
        let missingCount = try validate(offsets: offsets, lengths: values.map(\.count), length: length)
        var flat = [UInt8](repeating: 0, count: missingCount * length)
        let result: Result<[Int], ReedSolomonError> = withBuffers(values) { buffers in
            flat.withUnsafeMutableBytes { bytes in
                let outputs = (0..<missingCount).map {
                    UnsafeMutableRawBufferPointer(rebasing: bytes[$0 * length..<($0 + 1) * length])
                }
                return Result { () throws(ReedSolomonError) in
                    try recover(offsets: offsets, symbols: buffers, length: length, outputs: outputs)
                }
            }
        }
        let missing = try result.get()
        var recovered: [Int: [UInt8]] = [:]
        for (index, dataIndex) in missing.enumerated() {
            recovered[dataIndex] = Array(flat[index * length..<(index + 1) * length])
        }
        return recovered
    }

    /// `recover(symbols:length:)` on borrowed buffers: `offsets[i]` is the RS offset of `symbols[i]`; `outputs`
    /// receive the missing data symbols in ascending data index (there must be at least as many outputs as
    /// missing symbols, each at least `length` bytes; extra outputs are left alone). Returns the missing data
    /// indices in that order.
    public mutating func recover(
        offsets: [Int], symbols: [UnsafeRawBufferPointer], length: Int, outputs: [UnsafeMutableRawBufferPointer]
    ) throws(ReedSolomonError) -> [Int] {
        guard offsets.count == symbols.count else { throw .length(symbols.count) }
        let missingCount = try validate(offsets: offsets, lengths: symbols.map(\.count), length: length)
        guard missingCount > 0 else { return [] }
        guard outputs.count >= missingCount else { throw .length(outputs.count) }
        for output in outputs.prefix(missingCount) where output.count < length { throw .length(output.count) }
        // The basis: every data symbol present, then parity in ascending offset, k in all.
        let order = offsets.indices.sorted { offsets[$0] < offsets[$1] }
        let basisOrder = Array(order.prefix(dataCount))
        let pattern = decodePattern(basis: basisOrder.map { offsets[$0] })
        guard length > 0 else { return pattern.missing }
        kernel.multiplyAccumulate(
            coefficients: pattern.rows, sources: basisOrder.map { symbols[$0] },
            outputs: Array(outputs.prefix(missingCount)), length: length)
        return pattern.missing
    }

    /// Checks offsets and lengths; returns how many data symbols are missing.
    private func validate(offsets: [Int], lengths: [Int], length: Int) throws(ReedSolomonError) -> Int {
        guard (0...Self.maximumLength).contains(length) else { throw .length(length) }
        var seen = [Bool](repeating: false, count: Self.blockLength)
        var dataPresent = 0
        for (offset, count) in zip(offsets, lengths) {
            guard (0..<Self.blockLength).contains(offset) else { throw .offsetOutOfRange(offset) }
            guard !seen[offset] else { throw .duplicateOffset(offset) }
            seen[offset] = true
            guard count <= length else { throw .length(count) }
            if offset < dataCount { dataPresent += 1 }
        }
        guard offsets.count >= dataCount else { throw .notEnoughSymbols(have: offsets.count, need: dataCount) }
        return dataCount - dataPresent
    }

    /// The decode rows for recovering from `basis` (k ascending offsets), from the cache or computed (O(k²)).
    private mutating func decodePattern(basis: [Int]) -> DecodePattern {
        if let cached = decodeCache.first(where: { $0.basis == basis }) { return cached }
        var present = [Bool](repeating: false, count: dataCount)
        for offset in basis where offset < dataCount { present[offset] = true }
        let missing = (0..<dataCount).filter { !present[$0] }
        let pattern = DecodePattern(
            basis: basis, missing: missing, rows: GaloisField.lagrangeRows(basis: basis, targets: missing))
        if decodeCache.count < Self.decodeCacheCapacity {
            decodeCache.append(pattern)
        } else {
            decodeCache[nextEviction] = pattern
            nextEviction = (nextEviction + 1) % Self.decodeCacheCapacity
        }
        return pattern
    }
}

/// Borrows every array's bytes at once (nested closures, one level per array).
private func withBuffers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    func borrow(_ index: Int, _ buffers: inout [UnsafeRawBufferPointer]) -> R {
        if index == arrays.count { return body(buffers) }
        return arrays[index].withUnsafeBytes { bytes in
            buffers.append(bytes)
            return borrow(index + 1, &buffers)
        }
    }
    var buffers: [UnsafeRawBufferPointer] = []
    buffers.reserveCapacity(arrays.count)
    return borrow(0, &buffers)
}
