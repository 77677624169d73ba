// pgm-fec-bench: encode and decode throughput of the FEC erasure code, portable kernel beside ISA-L.
import ArgumentParser
import Foundation
import PGMCore
import PGMISAL

struct FECBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgm-fec-bench",
        abstract: "Reed–Solomon FEC throughput per core: SwiftGaloisKernel beside ISALGaloisKernel.",
        discussion: """
            For each group size k (default 16 and 64), h = 4 parity and 1,400-byte symbols, one thread: encode
            (4 parity symbols from k data symbols) and decode (4 erased data symbols recovered from k − 4 data and 4
            parity, with the cached decode rows), for each kernel in the same run, in GB/s of data in (k × 1400
            bytes per operation, 1 GB = 10^9 bytes); decode again with a different (cached) erasure pattern on
            every call ("varying": what branch prediction makes of changing coefficient rows); and the first,
            uncached decode of an erasure pattern (its rows computed, then the same region work) in microseconds.
            Each cell runs for about --seconds.

            Example:
              Tools/fec-benchmark --json-out fec.json
            """)

    @Option(help: "Seconds per measurement.")
    var seconds = 1.0

    @Option(parsing: .upToNextOption, help: "Group sizes (data symbols per transmission group).")
    var groupSizes = [16, 64]

    @Option(help: "Parity symbols per group.")
    var parity = 4

    @Option(help: "Bytes per symbol.")
    var length = 1400

    @Option(help: "Also write the figures as JSON to this file.")
    var jsonOut: String?

    func validate() throws {
        guard seconds > 0, seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60]") }
        guard length > 0, length <= 65_535 else { throw ValidationError("--length must be in 1...65535") }
        for k in groupSizes where k < 1 || k + parity > 255 || parity < 1 || parity > k {
            throw ValidationError("need 1 <= parity <= k and k + parity <= 255 (k \(k), parity \(parity))")
        }
    }

    struct Row: Codable {
        var k: Int
        var h: Int
        var length: Int
        var kernel: String
        var encodeGBps: Double
        var decodeGBps: Double
        var varyingDecodeGBps: Double
        var uncachedDecodeMicroseconds: Double
    }

    func run() throws {
        let kernels: [(String, any GaloisRegionKernel)] = [
            ("swift", SwiftGaloisKernel()), ("isa-l", ISALGaloisKernel()),
            ("isa-l-sse", ISALGaloisKernel(implementation: .sse)),
        ]
        var rows: [Row] = []
        print("pgm-fec-bench: h = \(parity), \(length)-byte symbols, one thread, ~\(seconds) s per cell")
        print("k    kernel     encode GB/s  decode GB/s  varying GB/s  first decode µs")
        for k in groupSizes {
            for (name, kernel) in kernels {
                let row = try measure(k: k, name: name, kernel: kernel)
                rows.append(row)
                print(
                    pad(String(k), 5) + pad(name, 11) + pad(format(row.encodeGBps), 13)
                        + pad(format(row.decodeGBps), 13) + pad(format(row.varyingDecodeGBps), 14)
                        + format(row.uncachedDecodeMicroseconds, digits: 1))
            }
            let swift = rows.first { $0.k == k && $0.kernel == "swift" }!
            for other in rows where other.k == k && other.kernel != "swift" {
                let encode = format(other.encodeGBps / swift.encodeGBps, digits: 2)
                let decode = format(other.decodeGBps / swift.decodeGBps, digits: 2)
                print(pad(String(k), 5) + "\(other.kernel) / swift: encode \(encode)×, decode \(decode)×")
            }
        }
        if let jsonOut {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(rows).write(to: URL(fileURLWithPath: jsonOut))
        }
    }

    func measure(k: Int, name: String, kernel: any GaloisRegionKernel) throws -> Row {
        var generator = SplitMix64(seed: UInt64(k))
        let stride = (length + 63) / 64 * 64
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: (k + 2 * parity) * stride, alignment: 64)
        defer { data.deallocate() }
        for index in data.indices { data[index] = UInt8(truncatingIfNeeded: generator.next()) }
        func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(rebasing: data[index * stride..<index * stride + length])
        }
        var code = try ReedSolomonCode(dataCount: k, kernel: kernel)
        let sources = (0..<k).map { UnsafeRawBufferPointer(slot($0)) }
        let parityOutputs = (0..<parity).map { slot(k + $0) }
        let parityIndices = Array(0..<parity)
        let bytesPerOperation = Double(k * length)

        let encodeRate = try rate(bytesPerOperation) {
            try code.encode(parityIndices: parityIndices, sources: sources, length: length, outputs: parityOutputs)
        }
        // Erase data symbols spread over the group; recover from the rest plus every parity.
        let erased = (0..<parity).map { $0 * (k - 1) / max(1, parity - 1) }
        let present = (0..<k).filter { !erased.contains($0) }
        let offsets = present + (0..<parity).map { k + $0 }
        let symbols = present.map { sources[$0] } + parityOutputs.map { UnsafeRawBufferPointer($0) }
        let recovered = (0..<parity).map { slot(k + parity + $0) }
        let missing = try code.recover(offsets: offsets, symbols: symbols, length: length, outputs: recovered)
        for (output, index) in zip(recovered, missing) where !output.elementsEqual(sources[index]) {
            throw ValidationError("\(name) k \(k): recovered data symbol \(index) differs")
        }
        let decodeRate = try rate(bytesPerOperation) {
            _ = try code.recover(offsets: offsets, symbols: symbols, length: length, outputs: recovered)
        }
        // Uncached: cycle through more distinct patterns than the cache holds, so every decode computes its rows.
        var patterns: [[Int]] = []
        var seen = Set<[Int]>()
        while patterns.count < 3 * 64 {
            var pattern = Set<Int>()
            while pattern.count < parity { pattern.insert(Int(generator.bounded(UInt64(k)))) }
            let sorted = pattern.sorted()
            if seen.insert(sorted).inserted { patterns.append(sorted) }
            if seen.count == binomial(k, parity) { break }
        }
        let inputs = patterns.map { pattern in
            let present = (0..<k).filter { !pattern.contains($0) }
            return (
                present + (0..<parity).map { k + $0 },
                present.map { sources[$0] } + parityOutputs.map { UnsafeRawBufferPointer($0) }
            )
        }
        // Varying: a different pattern on every call, all of them cached (fewer than the cache holds), as a
        // receiver sees when losses differ from group to group.
        let cachedCount = min(inputs.count, 48)
        var next = 0
        let varyingRate = try rate(bytesPerOperation) {
            let (offsets, symbols) = inputs[next % cachedCount]
            next += 1
            _ = try code.recover(offsets: offsets, symbols: symbols, length: length, outputs: recovered)
        }
        next = 0
        let uncachedRate = try rate(1) {
            let (offsets, symbols) = inputs[next % inputs.count]
            next += 1
            _ = try code.recover(offsets: offsets, symbols: symbols, length: length, outputs: recovered)
        }
        return Row(
            k: k, h: parity, length: length, kernel: name, encodeGBps: encodeRate / 1e9, decodeGBps: decodeRate / 1e9,
            varyingDecodeGBps: varyingRate / 1e9,
            uncachedDecodeMicroseconds: inputs.count > 64 ? 1e6 / uncachedRate : .nan)
    }

    /// Operations per second times `bytes`, over about `seconds` (after a warm-up tenth).
    func rate(_ bytes: Double, _ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        var batch = 1
        let warmUp = clock.now + .seconds(seconds / 10)
        while clock.now < warmUp { try body() }
        // Batches sized to ~10 ms, so that reading the clock costs nothing.
        while true {
            let start = clock.now
            for _ in 0..<batch { try body() }
            if clock.now - start > .milliseconds(10) { break }
            batch *= 2
        }
        let start = clock.now
        var operations = 0
        while clock.now - start < .seconds(seconds) {
            for _ in 0..<batch { try body() }
            operations += batch
        }
        let elapsed = clock.now - start
        let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Double(operations) * bytes / secondsElapsed
    }

    func binomial(_ n: Int, _ r: Int) -> Int {
        var result = 1
        for i in 0..<r { result = result * (n - i) / (i + 1) }
        return result
    }

    func format(_ value: Double, digits: Int = 2) -> String {
        guard value.isFinite else { return "-" }
        return String(format: "%.\(digits)f", value)
    }

    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

FECBenchmark.main()
