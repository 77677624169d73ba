import ArgumentParser

/// ArgumentParser (1.8) writes every completion script as if the command had a `help` subcommand, which none of
/// ours has: `pgm-source help` would send a file named `help`. This removes those parts, by the shape each shell's
/// generator gives them; a test checks that the result has none left and that bash still parses it.
enum LeafCompletionScript {
    static func correcting(_ script: String, shell: CompletionShell) -> String {
        var lines = script.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        switch shell {
        case .bash:
            removeBlock(
                &lines, from: { $0 == "    # Offer subcommand / subcommand argument completions" },
                through: { $0 == "    esac" })
            removeBlock(&lines, from: { $0.hasPrefix("_") && $0.hasSuffix("_help() {") }, through: { $0 == "}" })
        case .zsh:
            lines.removeAll { $0 == "        '(-): :->command'" || $0 == "        '(-)*:: :->arg'" }
            removeBlock(&lines, from: { $0 == "    case \"${state}\" in" }, through: { $0 == "    esac" })
            removeBlock(&lines, from: { $0.hasPrefix("_") && $0.hasSuffix("_help() {") }, through: { $0 == "}" })
        case .fish:
            if let start = lines.indices.dropLast().first(where: {
                lines[$0] == "        switch $unparsed_tokens[1]" && lines[$0 + 1] == "        case 'help'"
            }) {
                removeBlock(&lines, from: { _ in true }, through: { $0 == "        end" }, startingAt: start)
            }
            lines.removeAll { $0.hasPrefix("complete ") && ($0.contains(" help\" ") || $0.contains("-fa 'help'")) }
        default:
            break
        }
        return lines.joined(separator: "\n")
    }

    /// Removes the first run of lines (at or after `startingAt`) that begins with a line matching `from` and ends
    /// with the next matching `through`, and one empty line after it.
    private static func removeBlock(
        _ lines: inout [String], from: (String) -> Bool, through: (String) -> Bool, startingAt: Int = 0
    ) {
        guard let start = lines[startingAt...].firstIndex(where: from),
            let end = lines[start...].firstIndex(where: through)
        else { return }
        let last = end + 1 < lines.count && lines[end + 1].isEmpty ? end + 1 : end
        lines.removeSubrange(start...last)
    }
}
