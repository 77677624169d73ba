import ArgumentParser
import Foundation
import Testing

@testable import PGMCommandLine

/// The conventions the four programs share at their entry: one `--version`, completion scripts and the help
/// description (what `Tools/install` makes the man pages from) without ArgumentParser's phantom `help`
/// subcommand, and completions for files and interfaces where they are wanted.
@Suite struct ProgramEntryTests {
    static let commands: [(name: String, type: any ParsableCommand.Type)] = [
        ("pgm-source", SourceCommand.self), ("pgm-recv", ReceiveCommand.self),
        ("pgm-ne", NetworkElementCommand.self), ("pgm-dump", DumpCommand.self),
    ]

    @Test func everyProgramHasTheSameVersion() {
        for (name, type) in Self.commands {
            #expect(type.configuration.version == ProgramVersion.current, "\(name)")
            #expect(type.configuration.commandName == name)
        }
    }

    /// What each shell's script has for the phantom subcommand, as ArgumentParser 1.8 writes it.
    static func phantomHelpMarkers(_ shell: CompletionShell) -> [String] {
        switch shell {
        case .bash: ["compgen -W 'help'", "_help() {"]
        case .zsh: ["'help:Show subcommand help information.'", "_help() {"]
        default: ["-fa 'help'", "case 'help'", "help\" version"]
        }
    }

    @Test(arguments: [CompletionShell.bash, .zsh, .fish])
    func completionScriptsOfferNoHelpSubcommand(_ shell: CompletionShell) {
        for (name, type) in Self.commands {
            let raw = type.completionScript(for: shell)
            let script = LeafCompletionScript.correcting(raw, shell: shell)
            for marker in Self.phantomHelpMarkers(shell) {
                // The uncorrected script has it: if ArgumentParser stops writing it, this test says so.
                #expect(raw.contains(marker), "\(name) \(shell): \(marker)")
                #expect(!script.contains(marker), "\(name) \(shell): \(marker)")
            }
            for flag in shell == .fish ? ["-l 'version'", "-l 'help'"] : ["--version", "--help"] {
                #expect(script.contains(flag), "\(name) \(shell): \(flag) stays")
            }
        }
    }

    @Test func correctedBashScriptsStillParse() throws {
        for (name, type) in Self.commands {
            let script = LeafCompletionScript.correcting(type.completionScript(for: .bash), shell: .bash)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-completion-\(name).bash")
            try script.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let bash = Process()
            bash.executableURL = URL(fileURLWithPath: "/bin/bash")
            bash.arguments = ["-n", file.path]
            try bash.run()
            bash.waitUntilExit()
            #expect(bash.terminationStatus == 0, "\(name)")
        }
    }

    @Test func interfacesAndFilesAreCompleted() {
        let bash = { (type: any ParsableCommand.Type) in
            LeafCompletionScript.correcting(type.completionScript(for: .bash), shell: .bash)
        }
        #expect(bash(NetworkElementCommand.self).components(separatedBy: "ls /sys/class/net").count == 4)
        // --interface, --upstream, --downstream
        #expect(bash(ReceiveCommand.self).contains("ls /sys/class/net"))
        #expect(bash(DumpCommand.self).contains("ls /sys/class/net"))
        #expect(bash(SourceCommand.self).contains("add_completions -f"))  // the files to send
        #expect(bash(ReceiveCommand.self).contains("add_completions -f"))  // --output
    }

    @Test func helpDescriptionHasNoSubcommands() throws {
        for (name, type) in Self.commands {
            let corrected = ProgramEntry.helpDescriptionWithoutSubcommands(type._dumpHelp())
            let tool = try #require(
                try JSONSerialization.jsonObject(with: Data(corrected.utf8)) as? [String: Any], "\(name)")
            let command = try #require(tool["command"] as? [String: Any])
            #expect(command["subcommands"] == nil, "\(name)")
            #expect(command["commandName"] as? String == name)
            #expect((command["arguments"] as? [Any])?.isEmpty == false)
        }
    }

    @Test func completionRequestIsRecognisedOnlyAlone() {
        #expect(ProgramEntry.requestedShell(["--generate-completion-script", "zsh"]) == .zsh)
        #expect(ProgramEntry.requestedShell(["--generate-completion-script=fish"]) == .fish)
        #expect(ProgramEntry.requestedShell(["--generate-completion-script", "tcsh"]) == nil)
        #expect(ProgramEntry.requestedShell(["file", "--generate-completion-script", "bash"]) == nil)
        #expect(ProgramEntry.requestedShell([]) == nil)
    }
}
