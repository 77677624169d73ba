/// The PGM checksum (RFC 3208 §8 "Checksum"): the 16-bit one's complement of the one's complement sum of the
/// whole PGM packet (header, options and payload; no pseudo-header), with the checksum field taken as zero.
///
/// A computed 0x0000 is sent as 0xFFFF, because 0x0000 on the wire means "no checksum" (allowed on every type
/// except ODATA and RDATA, where it is mandatory).
public enum PGMChecksum {
    /// Byte offset of the checksum field in the common header.
    public static let fieldOffset = 6

    /// The 16-bit one's complement sum of `bytes` (not yet complemented), odd length padded with a zero byte.
    ///
    /// Sums eight bytes at a time in native order: one's complement addition is byte-order independent
    /// (RFC 1071 §2(B)), so the folded result only needs swapping once at the end.
    @inlinable
    public static func partialSum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        // 64 bytes at a time as eight 64-bit words, each added as its two 32-bit halves into 64-bit lanes: no
        // carries to propagate inside the loop (2³² additions before a lane could overflow), and the SIMD2
        // operations are single SSE2 instructions (paddq, pand, psrlq).
        var low0 = SIMD2<UInt64>()
        var high0 = SIMD2<UInt64>()
        var low1 = SIMD2<UInt64>()
        var high1 = SIMD2<UInt64>()
        let mask = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
        var index = 0
        let count = bytes.count
        if let base = bytes.baseAddress {
            let end = count & ~63
            while index < end {
                let a = (base + index).loadUnaligned(as: SIMD2<UInt64>.self)
                let b = (base + (index &+ 16)).loadUnaligned(as: SIMD2<UInt64>.self)
                let c = (base + (index &+ 32)).loadUnaligned(as: SIMD2<UInt64>.self)
                let d = (base + (index &+ 48)).loadUnaligned(as: SIMD2<UInt64>.self)
                low0 &+= (a & mask) &+ (c & mask)
                high0 &+= (a &>> 32) &+ (c &>> 32)
                low1 &+= (b & mask) &+ (d & mask)
                high1 &+= (b &>> 32) &+ (d &>> 32)
                index &+= 64
            }
        }
        let lanes = low0 &+ high0 &+ low1 &+ high1
        // Sums of 32-bit halves: below 2⁴⁸ for any datagram, so plain 64-bit additions lose no carry.
        var sum = lanes[0] &+ lanes[1]
        while index + 8 <= count {
            let a = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            sum &+= (a & 0xFFFF_FFFF) &+ (a >> 32)
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < count {
            // Native-order placement of the remaining bytes, as if loaded from a zero-padded word.
            #if _endian(little)
                tail |= UInt64(bytes[index]) << shift
            #else
                tail |= UInt64(bytes[index]) << (56 - shift)
            #endif
            shift += 8
            index += 1
        }
        sum = addWithCarry(sum, tail)
        // Fold 64 -> 16 bits.
        var folded = (sum & 0xFFFF_FFFF) + (sum >> 32)
        folded = (folded & 0xFFFF) + (folded >> 16)
        folded = (folded & 0xFFFF) + (folded >> 16)
        folded = (folded & 0xFFFF) + (folded >> 16)
        var result = UInt16(truncatingIfNeeded: folded)
        #if _endian(little)
            result = result.byteSwapped
        #endif
        return fold(UInt32(result) + initial)
    }

    /// Folds a 32-bit partial sum to 16 bits with end-around carry.
    @inlinable
    public static func fold(_ sum: UInt32) -> UInt32 {
        var value = sum
        value = (value & 0xFFFF) + (value >> 16)
        value = (value & 0xFFFF) + (value >> 16)
        return value
    }

    /// Combines the partial sum of a block that starts at an odd offset of the packet (RFC 1071 §2(B) swap).
    @inlinable
    public static func shiftedToOddOffset(_ sum: UInt32) -> UInt32 {
        let value = UInt16(truncatingIfNeeded: fold(sum))
        return UInt32(value.byteSwapped)
    }

    /// The value to put in the checksum field, given the partial sum of the packet with the field zeroed.
    @inlinable
    public static func finish(_ sum: UInt32) -> UInt16 {
        let complemented = ~UInt16(truncatingIfNeeded: fold(sum))
        return complemented == 0 ? 0xFFFF : complemented
    }

    /// The checksum a packet should carry: computed over `packet` as if its checksum field were zero.
    public static func compute(_ packet: UnsafeRawBufferPointer) -> UInt16 {
        let stored = storedValue(packet)
        // Subtracting the stored field in one's complement equals summing with the field zeroed.
        let sum = partialSum(packet)
        return finish(fold(sum + UInt32(~stored)))
    }

    /// Sets the checksum of the packet that starts at `start` of `buffer` and runs to its end, whose checksum field
    /// is 0 (``Packet/encode(into:appendingAuthentication:checksum:)`` without its checksum).
    /// Inlined: as a call it cost every encoded packet about 35 instructions (Tools/instructions-per-packet).
    @inline(__always)
    public static func fill(_ buffer: inout [UInt8], packetAt start: Int) {
        let checksum = buffer.withUnsafeBytes { raw in
            finish(partialSum(UnsafeRawBufferPointer(rebasing: raw[start...])))
        }
        buffer.setUInt16(checksum, at: start + fieldOffset)
    }

    public static func compute(_ packet: [UInt8]) -> UInt16 {
        packet.withUnsafeBytes { compute($0) }
    }

    /// True when the stored checksum matches the packet (or is absent, 0x0000, which only data packets forbid).
    public static func isValid(_ packet: UnsafeRawBufferPointer) -> Bool {
        let stored = storedValue(packet)
        return stored == 0 || stored == compute(packet)
    }

    @inlinable
    static func storedValue(_ packet: UnsafeRawBufferPointer) -> UInt16 {
        guard packet.count >= fieldOffset + 2 else { return 0 }
        return UInt16(packet[fieldOffset]) << 8 | UInt16(packet[fieldOffset + 1])
    }

    @inlinable
    static func addWithCarry(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return sum &+ (overflow ? 1 : 0)
    }
}
