import Foundation
import PGMCapture
import Testing

/// Every input kept in Tools/Fuzz/Corpus, the seeds and each crash Tools/fuzz found (it writes them there as
/// `crash-…`), replayed through the fuzz targets' own code (FuzzHarness): the decoder's round trip for
/// `wire/`, pgm-dump's packet path for `capture/`, a session under attack for `session/`. A crash fails the run; a broken contract fails its test.
@Suite struct FuzzRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Corpus")

    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let directory = corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { name in
            (name, [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test func wireInputsKeepTheDecodersContract() throws {
        let inputs = try Self.inputs("wire")
        #expect(!inputs.isEmpty)
        for input in inputs {
            let failure = FuzzHarness.wire(input.bytes)
            #expect(failure == nil, "Corpus/wire/\(input.name): \(failure ?? "")")
        }
    }

    /// Each script of a session under attack keeps the receivers' and the element's invariants (Docs/integrity.md).
    @Test func sessionInputsKeepTheIntegrityInvariants() throws {
        let inputs = try Self.inputs("session")
        #expect(!inputs.isEmpty)
        for input in inputs {
            let failure = FuzzHarness.Session.run(input.bytes)
            #expect(failure == nil, "Corpus/session/\(input.name): \(failure ?? "")")
        }
    }

    /// One harness for all inputs in order, as in a fuzzing run, and the report at the end, as pgm-dump --stats.
    @Test func captureInputsPassThroughPgmDumpsPath() throws {
        let inputs = try Self.inputs("capture")
        #expect(!inputs.isEmpty)
        var harness = FuzzHarness.Capture()
        for input in inputs where !input.bytes.isEmpty {
            let written = input.bytes.withUnsafeBytes { harness.run($0) }
            #expect(written > 0, "Corpus/capture/\(input.name) printed nothing")
        }
        var out = OutputBuffer()
        harness.finish(into: &out)
        #expect(out.count > 0)
    }
}
