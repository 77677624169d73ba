public import Foundation

/// Runs the system commands the lab is made of (`ip`, `nft`, `tcpdump`, the programs), each bounded in time.
public enum Shell {
    public struct Failure: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var output: String
        public var description: String { "`\(command.joined(separator: " "))` exited \(status): \(output)" }
    }

    /// Runs a command to completion (at most `timeout` seconds) and returns its standard output.
    @discardableResult
    public static func run(_ arguments: [String], timeout: Double = 30, allowFailure: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var data = Data()
        let handle = output.fileHandleForReading
        // Read while waiting so a chatty command cannot block on a full pipe.
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                throw Failure(command: arguments, status: -1, output: "timed out after \(timeout) s")
            }
            let chunk = handle.availableData
            if chunk.isEmpty { usleep(2000) } else { data.append(chunk) }
        }
        data.append(handle.readDataToEndOfFile())
        let text = String(decoding: data, as: UTF8.self)
        if process.terminationStatus != 0 && !allowFailure {
            throw Failure(
                command: arguments, status: process.terminationStatus,
                output: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }

    /// Runs a command inside a network namespace.
    @discardableResult
    public static func inNamespace(
        _ namespace: String, _ arguments: [String], timeout: Double = 30, allowFailure: Bool = false
    ) throws -> String {
        try run(["ip", "netns", "exec", namespace] + arguments, timeout: timeout, allowFailure: allowFailure)
    }

    /// Starts a long-running process in a namespace with its output going to files; the caller ends it by PID.
    public static func spawn(
        _ namespace: String, _ arguments: [String], stdout: String, stderr: String, stdin: String? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace] + arguments
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        if let stdin { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdin)) }
        try process.run()
        return process
    }
}
