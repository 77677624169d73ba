internal import ArgumentParser
internal import Foundation
internal import Glibc

/// What `--version` prints on all four programs: one version for the package, since they ship together.
public enum ProgramVersion {
    public static let current = "1.0.0"
}

extension CompletionKind {
    /// Interface names as the kernel lists them (the programs run on Linux only); addresses are accepted too, but
    /// nobody wants them offered.
    static var interface: CompletionKind { .shellCommand("ls /sys/class/net 2>/dev/null") }
}

/// The one way the four executables start: ``ParsableCommand/mainWithJSONErrors()``, except for `--generate-completion-script`
/// and `--experimental-dump-help` (what the `generate-manual` plugin reads to write the man pages), whose output
/// we correct first: ArgumentParser 1.8 describes every command as if it had a `help` subcommand, which none of
/// ours has (`pgm-source help` sends a file named `help`).
enum ProgramEntry {
    static func main<Command: ParsableCommand>(_ command: Command.Type) -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let shell = requestedShell(arguments) {
            print(LeafCompletionScript.correcting(Command.completionScript(for: shell), shell: shell), terminator: "")
            exit(0)
        }
        if arguments == ["--experimental-dump-help"] {
            print(helpDescriptionWithoutSubcommands(Command._dumpHelp()))
            exit(0)
        }
        Command.mainWithJSONErrors()
        exit(0)
    }

    /// ArgumentParser's JSON description of a command (the `ToolInfoV0` schema) without its `subcommands`.
    static func helpDescriptionWithoutSubcommands(_ json: String) -> String {
        guard var tool = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
            var command = tool["command"] as? [String: Any]
        else { return json }
        command["subcommands"] = nil
        tool["command"] = command
        guard let data = try? JSONSerialization.data(withJSONObject: tool, options: [.prettyPrinted, .sortedKeys])
        else { return json }
        return String(decoding: data, as: UTF8.self)
    }

    /// The shell of `--generate-completion-script SHELL` (or `=SHELL`) when it is the only argument; nil
    /// otherwise, leaving ArgumentParser to handle (and report) anything else.
    static func requestedShell(_ arguments: [String]) -> CompletionShell? {
        let option = "--generate-completion-script"
        switch arguments.count {
        case 1 where arguments[0].hasPrefix(option + "="):
            return CompletionShell(rawValue: String(arguments[0].dropFirst(option.count + 1)))
        case 2 where arguments[0] == option:
            return CompletionShell(rawValue: arguments[1])
        default:
            return nil
        }
    }
}
