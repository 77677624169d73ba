import Foundation
import Testing

/// The README's example is Examples/Hello/main.swift, word for word, and it runs: a receiver and a source on
/// loopback, three messages, exit 0 (bounded: the example gives up after 5 s, the test after 30).
@Suite(.timeLimit(.minutes(1))) struct ExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The fenced Swift block under "## Using the library" in README.md.
    static func readmeExample() throws -> String {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = readme.range(of: "## Using the library"),
            let open = readme.range(of: "```swift\n", range: section.upperBound..<readme.endIndex),
            let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex)
        else { throw CocoaError(.fileReadCorruptFile) }
        return String(readme[open.upperBound..<close.lowerBound]) + "\n"
    }

    @Test func readmeHoldsTheExampleProgram() throws {
        let program = try String(
            contentsOf: Self.root.appendingPathComponent("Examples/Hello/main.swift"), encoding: .utf8)
        #expect(try Self.readmeExample() == program)
        #expect(program.split(separator: "\n", omittingEmptySubsequences: false).count <= 31)
    }

    @Test func theExampleRunsOnLoopback() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("pgm-example")
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path), "build the products first: \(binary.path)")
        let process = Process()
        process.executableURL = binary
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        let lines = text.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(lines == ["hello", "from", "PGM"], "\(text)")
    }
}
