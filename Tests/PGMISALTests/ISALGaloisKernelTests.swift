import PGMCore
import PGMISAL
import Testing

/// ISA-L's kernel gives the portable kernel's bytes, so the programs can inject either.
@Suite struct ISALGaloisKernelTests {
    /// Random coefficients and lengths 1...2000 (odd ones, short sources, unaligned pointers).
    @Test func isalEqualsSwiftKernel() {
        var generator = SplitMix64(seed: 0x15A1)
        for round in 0..<80 {
            let rows = 1 + Int(generator.bounded(8))
            let count = 1 + Int(generator.bounded(70))
            let length = round < 6 ? [1, 15, 16, 31, 64, 1400][round] : 1 + Int(generator.bounded(2000))
            let coefficients = (0..<rows * count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let sources = (0..<count).map { _ in
                let size = generator.bounded(4) == 0 ? Int(generator.bounded(UInt64(length + 1))) : length
                return (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
            let skew = Int(generator.bounded(16))
            let swift = run(SwiftGaloisKernel(), coefficients, sources, rows, length, skew)
            let isal = run(ISALGaloisKernel(), coefficients, sources, rows, length, skew)
            #expect(isal == swift, "round \(round) rows \(rows) sources \(count) length \(length)")
            let sse = run(ISALGaloisKernel(implementation: .sse), coefficients, sources, rows, length, skew)
            #expect(sse == swift, "SSE: round \(round) rows \(rows) sources \(count) length \(length)")
        }
    }

    /// The code on ISA-L recovers what the code on the Swift kernel encoded.
    @Test func codeOnISALRoundTrips() throws {
        var generator = SplitMix64(seed: 64)
        let portable = try ReedSolomonCode(dataCount: 64)
        var native = try ReedSolomonCode(dataCount: 64, kernel: ISALGaloisKernel())
        let data = (0..<64).map { _ in (0..<1400).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
        var symbols: [Int: [UInt8]] = [:]
        for index in 4..<64 { symbols[index] = data[index] }
        for j in 0..<4 {
            let parity = try portable.parity(index: j, of: data, length: 1400)
            #expect(try native.parity(index: j, of: data, length: 1400) == parity)
            symbols[64 + j] = parity
        }
        let recovered = try native.recover(symbols: symbols, length: 1400)
        for index in 0..<4 { #expect(recovered[index] == data[index]) }
    }

    func run(
        _ kernel: any GaloisRegionKernel, _ coefficients: [UInt8], _ sources: [[UInt8]], _ rows: Int, _ length: Int,
        _ skew: Int
    ) -> [[UInt8]] {
        let storage = sources.map { [UInt8](repeating: 0, count: skew) + $0 }
        var outputs = [[UInt8]](repeating: [UInt8](repeating: 0x5a, count: length + skew), count: rows)
        func borrow(_ index: Int, _ buffers: [UnsafeRawBufferPointer]) {
            if index == storage.count {
                var flat = outputs.flatMap { $0 }
                flat.withUnsafeMutableBytes { bytes in
                    let outs = (0..<rows).map {
                        UnsafeMutableRawBufferPointer(
                            rebasing: bytes[($0 * (length + skew) + skew)..<(($0 + 1) * (length + skew))])
                    }
                    kernel.multiplyAccumulate(
                        coefficients: coefficients, sources: buffers, outputs: outs, length: length)
                }
                outputs = (0..<rows).map { Array(flat[($0 * (length + skew) + skew)..<(($0 + 1) * (length + skew))]) }
                return
            }
            storage[index].withUnsafeBytes {
                borrow(index + 1, buffers + [UnsafeRawBufferPointer(rebasing: $0[skew...])])
            }
        }
        borrow(0, [])
        return outputs
    }
}
