/// A small, fast, seedable generator (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// 2014). Engines take one in their configuration so that every run with the same seed is identical.
///
/// Use ``bounded(_:)`` rather than `Int.random(in:using:)`, whose algorithm the standard library may change.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value uniform in `0..<bound` (Lemire's multiply-shift; the bias is below 2⁻³² for bounds under 2³²).
    public mutating func bounded(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        return next().multipliedFullWidth(by: bound).high
    }

    /// A uniform value in `0.0..<1.0`.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A child generator with its own stream, for one component of a larger seeded system.
    public mutating func split() -> SplitMix64 { SplitMix64(seed: next()) }
}
