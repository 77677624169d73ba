/// A byte count as the programs' byte options take it: a whole number, or a number with a unit suffix, K, M or
/// G for powers of 1000 and Ki, Mi or Gi for powers of 1024, either optionally followed by B (`10M`, `1.5MB`,
/// `64Ki`, `256MiB`, `1500`). Lower-case k, m and g mean the same.
public enum ByteCount {
    /// The parsed count; nil for anything else (a negative or fractional byte count, an unknown unit, more than
    /// `Int.max / 2`).
    public static func parse(_ argument: String) -> Int? {
        var text = Substring(argument.trimmingPrefixAndSuffixSpaces)
        if text.hasSuffix("bytes") { text = text.dropLast(5) }
        if text.last == "B" || text.last == "b" { text = text.dropLast() }
        guard let (bytes, scaled) = scaledValue(text), bytes <= Double(Int.max / 2),
            scaled || bytes == bytes.rounded(.down)
        else { return nil }
        return Int(bytes.rounded())
    }

    /// `text` (digits and a point) times its unit suffix: K, M, G (powers of 1000) or Ki, Mi, Gi (of 1024); nil
    /// for anything else. `scaled` says whether there was a suffix. Shared with ``Rate``.
    static func scaledValue(_ text: Substring) -> (value: Double, scaled: Bool)? {
        var text = text
        var multiplier = 1.0
        let binary = text.last == "i"
        if binary { text = text.dropLast() }
        switch text.last {
        case "k", "K": multiplier = binary ? 1024 : 1e3
        case "m", "M": multiplier = binary ? 1024 * 1024 : 1e6
        case "g", "G": multiplier = binary ? 1024 * 1024 * 1024 : 1e9
        default: if binary { return nil }
        }
        if multiplier != 1 { text = text.dropLast() }
        let digits = String(text).trimmingPrefixAndSuffixSpaces
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(digits), value.isFinite
        else { return nil }
        return (value * multiplier, multiplier != 1)
    }

    /// For `@Option(transform:)`: the count, or a usage error that says what is accepted.
    static func argument(_ text: String) throws -> Int {
        guard let value = parse(text) else { throw ByteCountError(text: text) }
        return value
    }

    /// `22,784 bytes`, `50 MB`, `256 MiB`: a size for people, exact when it is a whole number of the unit.
    static func describe(_ bytes: Int) -> String {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20)] where bytes >= size && bytes % size == 0 {
            return "\(formatGrouped(bytes / size)) \(unit)"
        }
        for (unit, size) in [("GB", 1_000_000_000), ("MB", 1_000_000)] where bytes >= size && bytes % size == 0 {
            return "\(formatGrouped(bytes / size)) \(unit)"
        }
        return bytes == 1 ? "1 byte" : "\(formatGrouped(bytes)) bytes"
    }
}

/// A byte option's value that ``ByteCount`` cannot read.
struct ByteCountError: Error, CustomStringConvertible {
    var text: String
    var description: String {
        "'\(text)' is not a byte count (a whole number, or with K, M, G (×1000) or Ki, Mi, Gi (×1024), e.g. 10M, 64Ki)"
    }
}
