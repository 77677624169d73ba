/// GF(2^8) as OpenPGM's reed_solomon.c and galois_tables.c define it (RFC 3208 Appendix A leaves the code to the
/// implementation; OpenPGM's is Rizzo's): primitive polynomial x^8+x^4+x^3+x^2+1 (0x11d), generator α = 2. ISA-L
/// uses the same field, so a coefficient row means the same bytes to both.
enum GaloisField {
    /// α^i for i in 0..<510: twice the period, so a product of two logarithms needs no modulo.
    static let exponentials: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var value = 1
        for index in 0..<255 {
            table[index] = UInt8(value)
            table[index + 255] = UInt8(value)
            value <<= 1
            if value & 0x100 != 0 { value ^= 0x11d }
        }
        return table
    }()

    /// log_α(x) for x in 1...255; entry 0 is unused (zero has no logarithm).
    static let logarithms: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for index in 0..<255 { table[Int(exponentials[index])] = index }
        return table
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return exponentials[logarithms[Int(a)] + logarithms[Int(b)]]
    }

    /// The multiplicative inverse of a nonzero element.
    static func inverse(_ a: UInt8) -> UInt8 {
        exponentials[255 - logarithms[Int(a)]]
    }

    /// The evaluation point of RS offset `offset` (0..<255): row `offset` of OpenPGM's Vandermonde matrix V is
    /// (x^0, x^1, …, x^(k-1)) at x = 0 for offset 0 (the row [1, 0, …, 0]) and x = α^(offset-1) otherwise.
    static func point(offset: Int) -> UInt8 {
        offset == 0 ? 0 : exponentials[offset - 1]
    }

    /// Coefficient rows that evaluate, at each target offset, the polynomial of degree < basis.count through the
    /// symbols at the basis offsets: `rows[t * basis.count + s]` = L_s(x_t), the Lagrange basis polynomial of basis
    /// point s at target point x_t. With the data offsets 0..<k as the basis these are the rows k..<255 of
    /// GM = V · V[0..<k]⁻¹ (the systematic generator matrix OpenPGM builds by inverting V's top k rows); with any
    /// k received offsets they are the rows of the inverse OpenPGM's decoder computes. The inverse of a
    /// nonsingular matrix is unique, so the bytes are OpenPGM's; this way costs O(k²) instead of a Gauss–Jordan
    /// elimination's O(k³). Every target must differ from every basis offset, and basis offsets are distinct.
    static func lagrangeRows(basis: [Int], targets: [Int]) -> [UInt8] {
        let count = basis.count
        let points = basis.map { point(offset: $0) }
        var rows = [UInt8](repeating: 0, count: targets.count * count)
        // Sums of at most 255 logarithms of at most 254 stay far below Int.max; one modulo per sum.
        logarithms.withUnsafeBufferPointer { log in
            exponentials.withUnsafeBufferPointer { exp in
                points.withUnsafeBufferPointer { points in
                    // log of the weight 1 / Π_{m≠s} (x_s − x_m); subtraction is XOR in GF(2^8).
                    var weightLogarithms = [Int](repeating: 0, count: count)
                    for s in 0..<count {
                        let x = points[s]
                        var sum = 0
                        for m in 0..<count where m != s { sum &+= log[Int(x ^ points[m])] }
                        weightLogarithms[s] = 255 - sum % 255
                    }
                    for (t, target) in targets.enumerated() {
                        let x = point(offset: target)
                        // log Π_m (x − x_m), then divide out the s-th factor for each s.
                        var product = 0
                        for m in 0..<count { product &+= log[Int(x ^ points[m])] }
                        product %= 255
                        for s in 0..<count {
                            let exponent = product + 255 - log[Int(x ^ points[s])] + weightLogarithms[s]
                            rows[t * count + s] = exp[exponent % 255]
                        }
                    }
                }
            }
        }
        return rows
    }
}
