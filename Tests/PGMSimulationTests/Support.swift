import Foundation
import PGMCore
import PGMSimulation
import PGMWire

/// Seeds for scenarios: the fixed default, or `PGM_SEED` from the environment to replay a failure.
enum Seeds {
    static func seed(_ fixed: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["PGM_SEED"].flatMap { UInt64($0) } ?? fixed
    }

    static func integer(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }
}

/// APDUs of pseudo-random sizes in `sizes`, each self-identifying (see ``SessionScenario/apdu(index:size:)``).
func makeAPDUs(count: Int, sizes: ClosedRange<Int>, seed: UInt64) -> [[UInt8]] {
    var random = SplitMix64(seed: seed ^ 0xA5A5)
    return (0..<count).map { index in
        let span = UInt64(sizes.upperBound - sizes.lowerBound + 1)
        return SessionScenario.apdu(index: index, size: sizes.lowerBound + Int(random.bounded(span)))
    }
}

/// A failure message that carries the seed, so `PGM_SEED=<seed>` replays it.
func describe(_ failures: [String], seed: UInt64, limit: Int = 5) -> String {
    "seed \(seed) (replay with PGM_SEED=\(seed)): " + failures.prefix(limit).joined(separator: "; ")
}
