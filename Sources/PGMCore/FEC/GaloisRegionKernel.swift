/// The one hot loop of the erasure code: `outputs[r] = Σ_i coefficients[r * sources.count + i] · sources[i]` over
/// `length` bytes, products and sums in `GaloisField` (GF(2^8), 0x11d). Behind a protocol so that the programs can
/// inject a native implementation (ISA-L, `PGMISAL`) while `PGMCore` stays pure Swift (Docs/architecture.md).
///
/// Contract, so that no argument can crash an implementation: each output is overwritten (not accumulated into)
/// with min(`length`, shortest output) bytes; a source shorter than that counts as zero-padded; a coefficient
/// missing from a short `coefficients` array counts as zero. Outputs must not overlap the sources or each other.
/// `ReedSolomonCode` validates everything before it calls a kernel, so these rules only matter to other callers.
public protocol GaloisRegionKernel: Sendable {
    func multiplyAccumulate(
        coefficients: [UInt8], sources: [UnsafeRawBufferPointer], outputs: [UnsafeMutableRawBufferPointer],
        length: Int)
}

/// The portable kernel: SSE2-width `SIMD16<UInt8>` only, because the package builds for baseline x86-64 (no
/// byte shuffle, so no split-nibble tables). Multiplication by a constant c is linear over GF(2), so
/// c · x = Σ_b c_b · (α^b · x); by Horner over the bits, one output is
/// `y = (((S_7)·α ⊕ S_6)·α ⊕ …)·α ⊕ S_0` where S_b is the XOR of the sources whose coefficient has bit b set.
/// Per 128-byte column and output that is one vector load and XOR per set coefficient bit plus at most seven
/// multiplications by α (`double`: add, compare, and, xor), with no per-byte table look-ups and no masks. The
/// lists of sources per (output, bit) are built once per call; the loops' trip counts follow them, so coefficients
/// that change on every call (decoding ever different erasure patterns) cost branch mispredictions: k = 64, h = 4
/// decode 5.4 GB/s with one pattern, 3.8 GB/s with a new one each call (Tools/fec-benchmark, "varying").
public struct SwiftGaloisKernel: GaloisRegionKernel {
    public init() {}

    /// Bytes per column (eight SSE registers per output).
    static let width = 128

    public func multiplyAccumulate(
        coefficients: [UInt8], sources: [UnsafeRawBufferPointer], outputs: [UnsafeMutableRawBufferPointer],
        length: Int
    ) {
        let rowCount = outputs.count
        let sourceCount = sources.count
        var length = max(0, length)
        for output in outputs { length = min(length, output.count) }
        guard length > 0, rowCount > 0 else { return }
        func coefficient(_ row: Int, _ source: Int) -> UInt8 {
            let index = row * sourceCount + source
            return index < coefficients.count ? coefficients[index] : 0
        }
        // Bytes every source that some row uses has: those columns read the sources in place.
        var used = [Bool](repeating: false, count: sourceCount)
        var direct = length
        for source in 0..<sourceCount {
            for row in 0..<rowCount where coefficient(row, source) != 0 { used[source] = true }
            if used[source] { direct = min(direct, sources[source].count) }
        }
        // Columns at 0, width, …, and a last one ending at `direct` (overlapping its predecessor: the bytes it
        // recomputes come out the same), so only bytes past a short source or a length under one column need the
        // padded scratch below.
        if direct < Self.width { direct = 0 }
        // Per row: the level count, eight count slots, and each source at most once per bit.
        let capacity = rowCount * (9 + 8 * sourceCount)
        withUnsafeTemporaryAllocation(of: UInt.self, capacity: capacity) { program in
            withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: rowCount) { targets in
                let program = program.baseAddress!
                let targets = targets.baseAddress!
                if direct > 0 {
                    Self.build(program, rowCount: rowCount, sourceCount: sourceCount, coefficient: coefficient) {
                        UInt(bitPattern: sources[$0].baseAddress!)
                    }
                    for row in 0..<rowCount { targets[row] = outputs[row].baseAddress! }
                    var offset = 0
                    while offset + Self.width <= direct {
                        Self.column(program, rowCount: rowCount, offset: offset, targets: targets)
                        offset += Self.width
                    }
                    if offset < direct {
                        Self.column(program, rowCount: rowCount, offset: direct - Self.width, targets: targets)
                    }
                }
                guard direct < length else { return }
                // The rest (bytes past the end of a short source, or under one column in all): copy each used
                // source's column into zero-padded scratch, compute there, copy the result out.
                let width = Self.width
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: (sourceCount + rowCount) * width) {
                    scratch in
                    let scratch = UnsafeMutableRawPointer(scratch.baseAddress!)
                    Self.build(program, rowCount: rowCount, sourceCount: sourceCount, coefficient: coefficient) {
                        UInt(bitPattern: scratch + $0 * width)
                    }
                    for row in 0..<rowCount { targets[row] = scratch + (sourceCount + row) * width }
                    var offset = direct
                    while offset < length {
                        for source in 0..<sourceCount where used[source] {
                            let slot = scratch + source * width
                            let available = max(0, min(width, sources[source].count - offset))
                            if available > 0 {
                                slot.copyMemory(from: sources[source].baseAddress! + offset, byteCount: available)
                            }
                            (slot + available).initializeMemory(as: UInt8.self, repeating: 0, count: width - available)
                        }
                        Self.column(program, rowCount: rowCount, offset: 0, targets: targets)
                        let count = min(width, length - offset)
                        for row in 0..<rowCount {
                            (outputs[row].baseAddress! + offset).copyMemory(from: targets[row], byteCount: count)
                        }
                        offset += width
                    }
                }
            }
        }
    }

    /// Writes, per row: the number of bit levels L (highest set coefficient bit + 1), then for each level from
    /// the highest down: the number of sources with that bit set, then their addresses.
    @inline(__always)
    static func build(
        _ program: UnsafeMutablePointer<UInt>, rowCount: Int, sourceCount: Int,
        coefficient: (Int, Int) -> UInt8, address: (Int) -> UInt
    ) {
        var cursor = 0
        for row in 0..<rowCount {
            var bits: UInt8 = 0
            for source in 0..<sourceCount { bits |= coefficient(row, source) }
            let levels = bits == 0 ? 0 : 8 - bits.leadingZeroBitCount
            program[cursor] = UInt(levels)
            cursor += 1
            for bit in stride(from: levels - 1, through: 0, by: -1) {
                let countSlot = cursor
                cursor += 1
                for source in 0..<sourceCount where (coefficient(row, source) >> bit) & 1 != 0 {
                    program[cursor] = address(source)
                    cursor += 1
                }
                program[countSlot] = UInt(cursor - countSlot - 1)
            }
        }
    }

    /// One column of `width` bytes at `offset` for every row: eight SSE registers of accumulator (128-byte
    /// columns measured 8–10 % faster than 64-byte ones: fewer address loads and loop steps per byte).
    @inline(__always)
    static func column(
        _ program: UnsafePointer<UInt>, rowCount: Int, offset: Int, targets: UnsafePointer<UnsafeMutableRawPointer>
    ) {
        var cursor = program
        for row in 0..<rowCount {
            let levels = Int(cursor.pointee)
            cursor += 1
            var v0 = SIMD16<UInt8>()
            var v1 = SIMD16<UInt8>()
            var v2 = SIMD16<UInt8>()
            var v3 = SIMD16<UInt8>()
            var v4 = SIMD16<UInt8>()
            var v5 = SIMD16<UInt8>()
            var v6 = SIMD16<UInt8>()
            var v7 = SIMD16<UInt8>()
            for level in 0..<levels {
                if level > 0 {
                    v0 = double(v0)
                    v1 = double(v1)
                    v2 = double(v2)
                    v3 = double(v3)
                    v4 = double(v4)
                    v5 = double(v5)
                    v6 = double(v6)
                    v7 = double(v7)
                }
                let count = Int(cursor.pointee)
                cursor += 1
                for index in 0..<count {
                    let source = UnsafeRawPointer(bitPattern: cursor[index]).unsafelyUnwrapped + offset
                    v0 ^= source.loadUnaligned(fromByteOffset: 0, as: SIMD16<UInt8>.self)
                    v1 ^= source.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self)
                    v2 ^= source.loadUnaligned(fromByteOffset: 32, as: SIMD16<UInt8>.self)
                    v3 ^= source.loadUnaligned(fromByteOffset: 48, as: SIMD16<UInt8>.self)
                    v4 ^= source.loadUnaligned(fromByteOffset: 64, as: SIMD16<UInt8>.self)
                    v5 ^= source.loadUnaligned(fromByteOffset: 80, as: SIMD16<UInt8>.self)
                    v6 ^= source.loadUnaligned(fromByteOffset: 96, as: SIMD16<UInt8>.self)
                    v7 ^= source.loadUnaligned(fromByteOffset: 112, as: SIMD16<UInt8>.self)
                }
                cursor += count
            }
            let target = targets[row] + offset
            target.storeBytes(of: v0, toByteOffset: 0, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v1, toByteOffset: 16, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v2, toByteOffset: 32, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v3, toByteOffset: 48, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v4, toByteOffset: 64, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v5, toByteOffset: 80, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v6, toByteOffset: 96, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v7, toByteOffset: 112, as: SIMD16<UInt8>.self)
        }
    }

    /// x · α: shift left, and reduce by 0x11d where the top bit fell off (the compare makes 0xff there).
    @inline(__always)
    static func double(_ x: SIMD16<UInt8>) -> SIMD16<UInt8> {
        let carry = SIMD16<UInt8>(truncatingIfNeeded: SIMD16<Int8>(truncatingIfNeeded: x) &>> 7)
        return (x &+ x) ^ (carry & 0x1d)
    }
}
