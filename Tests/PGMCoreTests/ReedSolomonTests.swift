import Testing

@testable import PGMCore

/// The RS(255, k) erasure code of RFC 3208 Appendix A (``ReedSolomonCode``) and its portable region kernel.
@Suite struct ReedSolomonTests {
    // MARK: - Known answers from OpenPGM

    /// Parity coefficient rows as OpenPGM 5.3.128 computes them: a one-off C program linked against Debian's
    /// libpgm.a called `pgm_rs_create(&rs, 255, k)` and `pgm_rs_encode(&rs, units, k + j, out, 1)` with unit
    /// data vectors (column i = the parity of data symbol i = 1, the others 0).
    static let openPGMRows: [(k: Int, j: Int, row: [UInt8])] = [
        (2, 0, [3, 2]), (2, 1, [5, 4]), (2, 2, [9, 8]), (2, 252, [70, 71]),
        (4, 0, [119, 64, 56, 14]), (4, 1, [199, 167, 13, 108]), (4, 2, [83, 2, 111, 63]),
        (4, 3, [241, 123, 131, 8]), (4, 250, [189, 176, 91, 87]),
        (16, 0, [197, 59, 31, 45, 79, 170, 131, 194, 97, 105, 119, 166, 226, 95, 55, 58]),
        (16, 1, [125, 23, 215, 19, 96, 169, 168, 157, 205, 163, 125, 180, 171, 40, 109, 26]),
        (16, 2, [64, 36, 60, 18, 75, 98, 6, 211, 46, 174, 241, 199, 168, 78, 180, 83]),
        (16, 3, [201, 188, 123, 46, 109, 15, 101, 43, 75, 20, 152, 70, 88, 142, 1, 91]),
        (16, 238, [208, 202, 214, 250, 67, 75, 92, 43, 197, 204, 9, 7, 60, 193, 55, 133]),
    ]

    @Test func parityRowsEqualOpenPGMs() throws {
        for (k, j, row) in Self.openPGMRows {
            #expect(try ReedSolomonCode(dataCount: k).parityCoefficients(index: j) == row, "k \(k) j \(j)")
        }
    }

    /// Data byte b of symbol i is i·31 + b·7 + 1 (mod 256).
    static func openPGMData(k: Int, length: Int) -> [[UInt8]] {
        (0..<k).map { i in (0..<length).map { UInt8(truncatingIfNeeded: i * 31 + $0 * 7 + 1) } }
    }

    /// Parity bytes from OpenPGM's `pgm_rs_encode` (the same one-off program) on `openPGMData`, 12 bytes.
    /// Parity captured from a running OpenPGM sender belongs here too.
    static let openPGMParity: [(k: Int, j: Int, bytes: [UInt8])] = [
        (4, 0, [13, 208, 25, 164, 211, 82, 4, 41, 99, 56, 83, 254]),
        (4, 1, [6, 246, 59, 4, 176, 16, 171, 93, 15, 196, 185, 150]),
        (4, 2, [72, 90, 216, 71, 151, 209, 241, 92, 4, 253, 255, 112]),
        (4, 3, [87, 25, 204, 19, 200, 3, 13, 18, 37, 178, 126, 177]),
        (16, 0, [114, 135, 98, 238, 124, 210, 130, 13, 123, 203, 85, 77]),
        (16, 3, [14, 173, 107, 141, 86, 48, 251, 234, 87, 220, 84, 209]),
        (16, 238, [54, 23, 1, 141, 33, 11, 123, 143, 83, 7, 87, 128]),
    ]

    @Test func parityBytesEqualOpenPGMs() throws {
        for (k, j, bytes) in Self.openPGMParity {
            let code = try ReedSolomonCode(dataCount: k)
            #expect(try code.parity(index: j, of: Self.openPGMData(k: k, length: 12), length: 12) == bytes)
        }
    }

    // MARK: - The generator matrix from its definition

    /// GM = V · V[0..<k]⁻¹ by Gauss–Jordan elimination straight from the definition (V's row 0 is [1, 0, …],
    /// row r ≥ 1 is α^((r−1)·c)), with its own shift-and-add field multiply: independent of the codec's
    /// tables and Lagrange formula.
    static func referenceParityRows(k: Int) -> [[UInt8]] {
        func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
            var a = UInt16(a)
            var b = b
            var product: UInt16 = 0
            while b != 0 {
                if b & 1 != 0 { product ^= a }
                a <<= 1
                if a & 0x100 != 0 { a ^= 0x11d }
                b >>= 1
            }
            return UInt8(product)
        }
        func power(_ exponent: Int) -> UInt8 {
            var value: UInt8 = 1
            for _ in 0..<(exponent % 255) { value = mul(value, 2) }
            return value
        }
        func row(_ r: Int) -> [UInt8] {
            r == 0 ? (0..<k).map { $0 == 0 ? 1 : 0 } : (0..<k).map { power((r - 1) * $0) }
        }
        // [top | I] → [I | top⁻¹]
        var left = (0..<k).map(row)
        var inverse = (0..<k).map { r in (0..<k).map { $0 == r ? UInt8(1) : 0 } }
        for column in 0..<k {
            let pivot = (column..<k).first { left[$0][column] != 0 }!
            left.swapAt(column, pivot)
            inverse.swapAt(column, pivot)
            let scale = (1...255).map(UInt8.init).first { mul($0, left[column][column]) == 1 }!
            left[column] = left[column].map { mul($0, scale) }
            inverse[column] = inverse[column].map { mul($0, scale) }
            for other in 0..<k where other != column && left[other][column] != 0 {
                let factor = left[other][column]
                for c in 0..<k {
                    left[other][c] ^= mul(factor, left[column][c])
                    inverse[other][c] ^= mul(factor, inverse[column][c])
                }
            }
        }
        return (k..<255).map { r in
            let v = row(r)
            return (0..<k).map { c in (0..<k).reduce(UInt8(0)) { $0 ^ mul(v[$1], inverse[$1][c]) } }
        }
    }

    @Test(arguments: [1, 2, 3, 4, 8, 16, 32])
    func parityRowsEqualTheDefinition(k: Int) throws {
        let code = try ReedSolomonCode(dataCount: k)
        for (j, row) in Self.referenceParityRows(k: k).enumerated() {
            #expect(try code.parityCoefficients(index: j) == row, "k \(k) j \(j)")
        }
    }

    /// Interpolating k equal values gives the constant polynomial, so every parity of equal data symbols is that
    /// symbol; and an MDS code's parity part has no zero entry (every 1×1 minor is nonsingular).
    @Test(arguments: [1, 2, 5, 16, 64, 128, 200, 254])
    func generatorStructure(k: Int) throws {
        let code = try ReedSolomonCode(dataCount: k)
        let symbol: [UInt8] = [0, 1, 2, 0x80, 0xff, 0x1d, 77]
        for j in 0..<code.maximumParityCount {
            let row = try code.parityCoefficients(index: j)
            #expect(row.count == k)
            #expect(!row.contains(0))
            #expect(row.reduce(0, ^) == 1)
        }
        for j in [0, code.maximumParityCount / 2, code.maximumParityCount - 1] {
            #expect(try code.parity(index: j, of: Array(repeating: symbol, count: k), length: symbol.count) == symbol)
        }
    }

    // MARK: - Round trips

    static func randomData(k: Int, length: Int, variable: Bool, using generator: inout SplitMix64) -> [[UInt8]] {
        (0..<k).map { _ in
            let count = variable ? Int(generator.bounded(UInt64(length + 1))) : length
            return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        }
    }

    static func padded(_ symbol: [UInt8], to length: Int) -> [UInt8] {
        symbol + [UInt8](repeating: 0, count: length - symbol.count)
    }

    /// Erases `erased` data symbols, recovers from the others plus the given parities, and checks the bytes.
    static func checkRecovery(
        _ code: inout ReedSolomonCode, data: [[UInt8]], parity: [Int: [UInt8]], erased: [Int], length: Int
    ) throws {
        var symbols: [Int: [UInt8]] = [:]
        for (index, symbol) in data.enumerated() where !erased.contains(index) { symbols[index] = symbol }
        for (index, bytes) in parity { symbols[code.dataCount + index] = bytes }
        let recovered = try code.recover(symbols: symbols, length: length)
        #expect(recovered.keys.sorted() == erased.sorted())
        for index in erased { #expect(recovered[index] == padded(data[index], to: length), "index \(index)") }
    }

    static func subsets(of count: Int, size: Int) -> [[Int]] {
        guard size > 0 else { return [[]] }
        guard count >= size else { return [] }
        return subsets(of: count - 1, size: size - 1).map { $0 + [count - 1] } + subsets(of: count - 1, size: size)
    }

    @Test(arguments: [2, 4, 8, 16, 32, 64, 128])
    func erasuresRecover(k: Int) throws {
        var generator = SplitMix64(seed: UInt64(k) * 7919)
        var code = try ReedSolomonCode(dataCount: k)
        for h in [1, 2, 4, min(8, 255 - k)] {
            for (length, variable) in [(1, false), (63, true), (64, false), (200, true)] {
                let data = Self.randomData(k: k, length: length, variable: variable, using: &generator)
                var parity: [Int: [UInt8]] = [:]
                for j in 0..<h { parity[j] = try code.parity(index: j, of: data, length: length) }
                var patterns: [[Int]] = []
                if k <= 8 {
                    for size in 1...min(h, k) { patterns += Self.subsets(of: k, size: size) }
                } else {
                    for _ in 0..<12 {
                        var pattern = Set<Int>()
                        let size = 1 + Int(generator.bounded(UInt64(h)))
                        while pattern.count < size { pattern.insert(Int(generator.bounded(UInt64(k)))) }
                        patterns.append(pattern.sorted())
                    }
                }
                for erased in patterns {
                    // Exactly k symbols: the remaining data plus the first `erased.count` parities given ...
                    let some = parity.filter { $0.key < erased.count }
                    try Self.checkRecovery(&code, data: data, parity: some, erased: erased, length: length)
                    // ... and with every parity (extra symbols are ignored).
                    try Self.checkRecovery(&code, data: data, parity: parity, erased: erased, length: length)
                }
            }
        }
    }

    /// MDS: any k of the 255 symbols of a block give back the data.
    @Test(arguments: [3, 4, 16, 40])
    func anyKSymbolsRecover(k: Int) throws {
        var generator = SplitMix64(seed: UInt64(k) &* 104_729)
        var code = try ReedSolomonCode(dataCount: k)
        let length = 33
        let data = Self.randomData(k: k, length: length, variable: true, using: &generator)
        var block = data.map { Self.padded($0, to: length) }
        for j in 0..<code.maximumParityCount { block.append(try code.parity(index: j, of: data, length: length)) }
        for _ in 0..<40 {
            var chosen = Set<Int>()
            while chosen.count < k { chosen.insert(Int(generator.bounded(255))) }
            var symbols: [Int: [UInt8]] = [:]
            for offset in chosen { symbols[offset] = block[offset] }
            let recovered = try code.recover(symbols: symbols, length: length)
            for index in 0..<k where !chosen.contains(index) { #expect(recovered[index] == block[index]) }
            #expect(recovered.count == k - chosen.filter { $0 < k }.count)
        }
    }

    /// Every k the codec accepts, with parity indices up to 255 − k, on a few lengths.
    @Test func everyGroupSize() throws {
        var generator = SplitMix64(seed: 254)
        for k in 1...254 {
            var code = try ReedSolomonCode(dataCount: k)
            #expect(code.maximumParityCount == 255 - k)
            for length in [0, 1, 65] {
                let data = Self.randomData(k: k, length: length, variable: k % 2 == 0, using: &generator)
                let indices = Array(Set([0, code.maximumParityCount / 3, code.maximumParityCount - 1])).sorted()
                var parity: [Int: [UInt8]] = [:]
                for j in indices { parity[j] = try code.parity(index: j, of: data, length: length) }
                let erased = Array(Set((0..<indices.count).map { _ in Int(generator.bounded(UInt64(k))) })).sorted()
                let ordered = parity.sorted { $0.key < $1.key }
                let some = Dictionary(uniqueKeysWithValues: ordered.prefix(erased.count).map { ($0.key, $0.value) })
                try Self.checkRecovery(&code, data: data, parity: some, erased: erased, length: length)
            }
        }
    }

    /// More erasure patterns than the cache holds: evicted and re-computed rows still decode.
    @Test func decodeCacheEvicts() throws {
        var generator = SplitMix64(seed: 64)
        let k = 16
        var code = try ReedSolomonCode(dataCount: k)
        let data = Self.randomData(k: k, length: 50, variable: false, using: &generator)
        let parity = [
            0: try code.parity(index: 0, of: data, length: 50), 1: try code.parity(index: 1, of: data, length: 50),
        ]
        for round in 0..<2 {
            for first in 0..<k {
                for second in (first + 1)..<k {
                    try Self.checkRecovery(&code, data: data, parity: parity, erased: [first, second], length: 50)
                }
            }
            #expect(code.decodeCache.count == ReedSolomonCode.decodeCacheCapacity, "round \(round)")
        }
    }

    // MARK: - Bad input

    @Test func badInputIsATypedError() throws {
        #expect(throws: ReedSolomonError.groupSize(0)) { try ReedSolomonCode(dataCount: 0) }
        #expect(throws: ReedSolomonError.groupSize(255)) { try ReedSolomonCode(dataCount: 255) }
        #expect(throws: ReedSolomonError.groupSize(-3)) { try ReedSolomonCode(dataCount: -3) }
        var code = try ReedSolomonCode(dataCount: 4)
        let data: [[UInt8]] = [[1, 2], [3], [], [4, 5]]
        #expect(throws: ReedSolomonError.parityIndex(251)) { try code.parityCoefficients(index: 251) }
        #expect(throws: ReedSolomonError.parityIndex(-1)) { try code.parity(index: -1, of: data, length: 2) }
        #expect(throws: ReedSolomonError.groupSize(3)) {
            try code.parity(index: 0, of: Array(data.prefix(3)), length: 2)
        }
        #expect(throws: ReedSolomonError.length(2)) { try code.parity(index: 0, of: data, length: 1) }
        #expect(throws: ReedSolomonError.length(-1)) { try code.parity(index: 0, of: data, length: -1) }
        #expect(throws: ReedSolomonError.length(Int.max)) { try code.parity(index: 0, of: data, length: Int.max) }
        #expect(throws: ReedSolomonError.length(65_536)) {
            try code.recover(symbols: [0: data[0], 1: data[1], 4: [1], 5: [2]], length: 65_536)
        }
        let parity = try code.parity(index: 0, of: data, length: 2)
        #expect(throws: ReedSolomonError.notEnoughSymbols(have: 3, need: 4)) {
            try code.recover(symbols: [0: data[0], 1: data[1], 4: parity], length: 2)
        }
        #expect(throws: ReedSolomonError.offsetOutOfRange(255)) {
            try code.recover(symbols: [0: data[0], 1: data[1], 2: data[2], 255: parity], length: 2)
        }
        #expect(throws: ReedSolomonError.offsetOutOfRange(-1)) {
            try code.recover(symbols: [0: data[0], 1: data[1], 2: data[2], -1: parity], length: 2)
        }
        #expect(throws: ReedSolomonError.length(2)) {
            try code.recover(symbols: [0: data[0], 1: data[1], 2: data[2], 4: parity], length: 1)
        }
        #expect(throws: ReedSolomonError.length(-2)) {
            try code.recover(symbols: [0: data[0], 1: data[1], 2: data[2], 4: parity], length: -2)
        }
        // Pointer variants: counts that disagree, a duplicate offset, short outputs.
        let bytes: [UInt8] = [9, 9]
        try bytes.withUnsafeBytes { source in
            var output = [UInt8](repeating: 0, count: 2)
            try output.withUnsafeMutableBytes { out in
                #expect(throws: ReedSolomonError.duplicateOffset(1)) {
                    try code.recover(
                        offsets: [0, 1, 1, 4], symbols: [source, source, source, source], length: 2, outputs: [out])
                }
                #expect(throws: ReedSolomonError.length(3)) {
                    try code.recover(
                        offsets: [0, 1, 2, 4], symbols: [source, source, source], length: 2, outputs: [out])
                }
                #expect(throws: ReedSolomonError.length(0)) {
                    try code.recover(
                        offsets: [0, 1, 2, 4], symbols: [source, source, source, source], length: 2, outputs: [])
                }
                #expect(throws: ReedSolomonError.length(2)) {
                    try code.recover(
                        offsets: [0, 1, 2, 4], symbols: [source, source, source, source], length: 3, outputs: [out])
                }
                // Two outputs for one parity index.
                #expect(throws: ReedSolomonError.length(2)) {
                    try code.encode(
                        parityIndices: [0], sources: [source, source, source, source], length: 2, outputs: [out, out])
                }
                #expect(throws: ReedSolomonError.length(2)) {
                    try code.encode(
                        parityIndices: [0], sources: [source, source, source, source], length: 4, outputs: [out])
                }
                #expect(throws: ReedSolomonError.parityIndex(300)) {
                    try code.encode(
                        parityIndices: [300], sources: [source, source, source, source], length: 2, outputs: [out])
                }
                // Nothing missing: nothing to write, whatever the outputs.
                let none = try code.recover(
                    offsets: [3, 2, 1, 0], symbols: [source, source, source, source], length: 2, outputs: [])
                #expect(none == [])
            }
        }
    }

    // MARK: - The kernel

    /// Scalar reference for the region kernel: the field's shift-and-add multiply, byte by byte.
    static func referenceRegion(coefficients: [UInt8], sources: [[UInt8]], rows: Int, length: Int) -> [[UInt8]] {
        (0..<rows).map { r in
            (0..<length).map { b in
                sources.indices.reduce(UInt8(0)) { sum, i in
                    let byte = b < sources[i].count ? sources[i][b] : 0
                    return sum ^ GaloisField.multiply(coefficients[r * sources.count + i], byte)
                }
            }
        }
    }

    /// Random coefficients, lengths 1...2000 (odd ones included), short sources and unaligned pointers.
    @Test func swiftKernelEqualsScalarReference() {
        var generator = SplitMix64(seed: 2026)
        for round in 0..<60 {
            let rows = 1 + Int(generator.bounded(6))
            let count = 1 + Int(generator.bounded(20))
            let length = round < 5 ? [1, 15, 63, 64, 65][round] : 1 + Int(generator.bounded(2000))
            let coefficients = (0..<rows * count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let sources = (0..<count).map { _ in
                let short = generator.bounded(4) == 0
                let size = short ? Int(generator.bounded(UInt64(length + 1))) : length
                return (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
            let expected = Self.referenceRegion(
                coefficients: coefficients, sources: sources, rows: rows, length: length)
            let skew = 1 + Int(generator.bounded(15))
            let actual = KernelHarness.run(
                SwiftGaloisKernel(), coefficients: coefficients, sources: sources, rows: rows, length: length,
                skew: skew)
            #expect(actual == expected, "round \(round) rows \(rows) sources \(count) length \(length)")
        }
    }

    /// The kernel's no-crash contract: outputs shorter than `length`, missing coefficients, no sources.
    @Test func swiftKernelDegenerateArguments() {
        let kernel = SwiftGaloisKernel()
        var out = [UInt8](repeating: 0xaa, count: 10)
        let source: [UInt8] = Array(1...100)
        source.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                kernel.multiplyAccumulate(coefficients: [1], sources: [s], outputs: [o], length: 100)
            }
        }
        #expect(out == Array(1...10))
        out.withUnsafeMutableBytes { o in
            kernel.multiplyAccumulate(coefficients: [], sources: [], outputs: [o], length: 10)
        }
        #expect(out == [UInt8](repeating: 0, count: 10))
        source.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                kernel.multiplyAccumulate(coefficients: [2], sources: [s, s], outputs: [o], length: -5)
                kernel.multiplyAccumulate(coefficients: [2], sources: [s, s], outputs: [o], length: 10)
            }
        }
        #expect(out == (1...10).map { GaloisField.multiply(2, $0) })
    }
}

/// Runs a kernel on copies of `sources` placed `skew` bytes into their buffers, so that loads are unaligned.
enum KernelHarness {
    static func run(
        _ kernel: any GaloisRegionKernel, coefficients: [UInt8], sources: [[UInt8]], rows: Int, length: Int, skew: Int
    ) -> [[UInt8]] {
        let sourceStorage = sources.map {
            UnsafeMutableRawBufferPointer.allocate(byteCount: $0.count + skew, alignment: 64)
        }
        let outputStorage = (0..<rows).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: length + skew, alignment: 64)
        }
        defer {
            sourceStorage.forEach { $0.deallocate() }
            outputStorage.forEach { $0.deallocate() }
        }
        let sourceBuffers = zip(sourceStorage, sources).map { storage, bytes in
            let buffer = UnsafeMutableRawBufferPointer(rebasing: storage[skew...])
            buffer.copyBytes(from: bytes)
            return UnsafeRawBufferPointer(buffer)
        }
        let outputBuffers = outputStorage.map { UnsafeMutableRawBufferPointer(rebasing: $0[skew...]) }
        kernel.multiplyAccumulate(
            coefficients: coefficients, sources: sourceBuffers, outputs: outputBuffers, length: length)
        return outputBuffers.map { Array($0) }
    }
}
