internal import CISAL
public import PGMCore

/// `GaloisRegionKernel` on ISA-L's `ec_encode_data`, which picks SSE, AVX2, AVX-512 or GFNI code at run time.
/// ISA-L computes in the same field as `PGMCore` (GF(2^8), 0x11d), so a coefficient row gives the same bytes as
/// `SwiftGaloisKernel`; the programs inject this kernel into `ReedSolomonCode` where the portable one is too slow.
/// ISA-L reads `length` bytes from every source, so a shorter source is copied into zero-padded scratch first.
public struct ISALGaloisKernel: GaloisRegionKernel {
    /// Which of ISA-L's implementations runs.
    public enum Implementation: Sendable {
        /// `ec_encode_data`: the best the CPU has (AVX-512 with GFNI, AVX-512, AVX2, AVX, SSE), chosen at run time.
        case dispatched
        /// `ec_encode_data_sse`: the 128-bit byte-shuffle (SSSE3 `pshufb`) code, for measurements beside the
        /// portable Swift kernel, which is 128-bit too but without a byte shuffle. Needs an SSSE3 CPU.
        case sse
    }

    public let implementation: Implementation

    /// Whether VZEROUPPER may run (CPUID: AVX with the OS saving its state).
    static let hasAVX = swift_pgm_cpu_has_avx() != 0

    public init(implementation: Implementation = .dispatched) { self.implementation = implementation }

    public func multiplyAccumulate(
        coefficients: [UInt8], sources: [UnsafeRawBufferPointer], outputs: [UnsafeMutableRawBufferPointer],
        length: Int
    ) {
        let rowCount = outputs.count
        let sourceCount = sources.count
        var length = max(0, min(length, Int(Int32.max)))
        for output in outputs { length = min(length, output.count) }
        guard length > 0, rowCount > 0, sourceCount > 0 else {
            // No sources: every output is the empty sum.
            for output in outputs where length > 0 {
                output.prefix(length).initializeMemory(as: UInt8.self, repeating: 0)
            }
            return
        }
        var matrix = [UInt8](repeating: 0, count: rowCount * sourceCount)
        for index in 0..<min(matrix.count, coefficients.count) { matrix[index] = coefficients[index] }
        var tables = [UInt8](repeating: 0, count: 32 * rowCount * sourceCount)
        ec_init_tables(Int32(sourceCount), Int32(rowCount), &matrix, &tables)
        let shortSources = sources.indices.filter { sources[$0].count < length }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, shortSources.count * length)) { scratch in
            var dataPointers = sources.map {
                UnsafeMutablePointer(mutating: $0.baseAddress?.assumingMemoryBound(to: UInt8.self))
            }
            for (slot, source) in shortSources.enumerated() {
                let padded = UnsafeMutableRawBufferPointer(
                    rebasing: UnsafeMutableRawBufferPointer(scratch)[slot * length..<(slot + 1) * length])
                let count = sources[source].count
                if count > 0 { padded.baseAddress!.copyMemory(from: sources[source].baseAddress!, byteCount: count) }
                (padded.baseAddress! + count).initializeMemory(as: UInt8.self, repeating: 0, count: length - count)
                dataPointers[source] = padded.baseAddress!.assumingMemoryBound(to: UInt8.self)
            }
            var codingPointers = outputs.map { $0.baseAddress?.assumingMemoryBound(to: UInt8.self) }
            switch implementation {
            case .dispatched:
                ec_encode_data(
                    Int32(length), Int32(sourceCount), Int32(rowCount), &tables, &dataPointers, &codingPointers)
                // Leave no dirty upper vector state behind for the SSE code that runs next (CISAL/shim.h).
                if Self.hasAVX { swift_pgm_zero_upper() }
            case .sse:
                ec_encode_data_sse(
                    Int32(length), Int32(sourceCount), Int32(rowCount), &tables, &dataPointers, &codingPointers)
            }
        }
    }
}
