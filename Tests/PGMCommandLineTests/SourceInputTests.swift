import Foundation
import Glibc
import Testing

@testable import PGMCommandLine

/// pgm-source's input: APDUs cut the same way whatever the reads return, never more than the queue can take,
/// the remainder at the end.
@Suite struct SourceInputTests {
    /// Drains `input` with at most `room` bytes per read, as the driver would; returns the APDUs.
    func drain(_ input: SourceInput, room: Int, reads: Int = 10_000) throws -> [[UInt8]] {
        var apdus: [[UInt8]] = []
        for _ in 0..<reads where !input.isFinished {
            var taken = 0
            try input.read(room: room) { apdu in
                taken += apdu.count
                apdus.append(Array(apdu))
            }
            #expect(taken <= room, "a read handed over more than the queue had room for")
        }
        return apdus
    }

    @Test func fileIsCutIntoWholeAPDUsWithinTheRoom() throws {
        let bytes = (0..<1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("source-input-\(getpid())").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let input = try SourceInput(paths: [path], apduSize: 1400)
        let apdus = try drain(input, room: 300_000)
        #expect(input.isFinished)
        #expect(apdus.dropLast().allSatisfy { $0.count == 1400 })
        #expect(apdus.last?.count == 1_000_003 % 1400)
        #expect(apdus.flatMap { $0 } == bytes)
        #expect(input.bytesAccepted == bytes.count)
    }

    @Test func pipeTricklesAreGatheredIntoAPDUs() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        defer { close(readEnd) }
        let bytes = (0..<1_050).map { UInt8(truncatingIfNeeded: $0) }
        let input = SourceInput(descriptor: readEnd, apduSize: 100)
        var apdus: [[UInt8]] = []
        var written = 0
        for size in [7, 93, 1, 250, 49, 300, 350] {  // 1,050 bytes in uneven writes, a read after each
            _ = bytes[written..<(written + size)].withUnsafeBytes { write(writeEnd, $0.baseAddress, size) }
            written += size
            try input.read(room: 10_000) { apdus.append(Array($0)) }
        }
        close(writeEnd)
        apdus += try drain(input, room: 10_000, reads: 10)
        #expect(input.isFinished)
        #expect(apdus.map(\.count) == Array(repeating: 100, count: 10) + [50])
        #expect(apdus.flatMap { $0 } == bytes)
    }
}
