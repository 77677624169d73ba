public import ArgumentParser
import PGMCore

/// A data rate in bits per second, written with an optional K, M or G suffix (powers of 1000, as link speeds
/// are; Ki, Mi, Gi for powers of 1024, as for byte options): `100M`, `2.5G`, `800k`. OpenPGM's TXW_MAX_RTE is bytes per second (Docs/openpgm.md#rates); ours is bits, like
/// every link, and ``bytesPerSecond`` converts.
public struct Rate: Hashable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    public var bitsPerSecond: Int

    public init(bitsPerSecond: Int) { self.bitsPerSecond = bitsPerSecond }

    public init?(argument: String) {
        var text = argument.trimmingPrefixAndSuffixSpaces
        for unit in ["bit/s", "bps", "b/s"] where text.lowercased().hasSuffix(unit) {
            text = String(text.dropLast(unit.count))
        }
        guard let (value, _) = ByteCount.scaledValue(Substring(text)), value > 0 else { return nil }
        let bits = value.rounded()
        guard bits >= 1, bits <= Double(Int.max / 2) else { return nil }
        bitsPerSecond = Int(bits)
    }

    public var bytesPerSecond: Int { max(1, bitsPerSecond / 8) }

    /// `100 Mbit/s`, `2.5 Gbit/s`, `800 kbit/s`, `300 bit/s`.
    public var description: String {
        let (value, unit): (Double, String) =
            switch bitsPerSecond {
            case 1_000_000_000...: (Double(bitsPerSecond) / 1e9, "Gbit/s")
            case 1_000_000...: (Double(bitsPerSecond) / 1e6, "Mbit/s")
            case 1000...: (Double(bitsPerSecond) / 1e3, "kbit/s")
            default: (Double(bitsPerSecond), "bit/s")
            }
        return "\(formatDecimal(value, places: value.rounded() == value ? 0 : 1)) \(unit)"
    }

    public static var defaultCompletionKind: CompletionKind { .default }
}

extension String {
    var trimmingPrefixAndSuffixSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// A decimal with a fixed number of places, without Foundation's locale-dependent formatters.
func formatDecimal(_ value: Double, places: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = Int((abs(value) * scale).rounded())
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard places > 0 else { return sign + String(scaled) }
    let whole = scaled / Int(scale)
    var fraction = String(scaled % Int(scale))
    while fraction.count < places { fraction = "0" + fraction }
    return "\(sign)\(whole).\(fraction)"
}

/// `5 s`, `0.5 s`, `1.25 s`: a duration in seconds with the places it needs (up to 3).
func formatSeconds(_ duration: Duration) -> String {
    let seconds = duration.secondsValue
    for places in 0...2 {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        if ((seconds * scale).rounded() - seconds * scale).magnitude < 1e-9 {
            return formatDecimal(seconds, places: places) + " s"
        }
    }
    return formatDecimal(seconds, places: 3) + " s"
}

/// `125,000,000`: byte counts people read.
func formatGrouped(_ value: Int) -> String {
    let digits = Array(String(value.magnitude))
    var result = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(digit)
    }
    return (value < 0 ? "-" : "") + result
}

/// `999 B`, `12.3 kB`, `45.0 MB`, `1.23 GB`: three significant digits in powers of 1000 (as rates are). With
/// `unitOf`, in the unit that number would take, so that `45.0 of 100 MB` shares one unit.
func formatBytes(_ bytes: Int, unitOf reference: Int? = nil) -> String {
    let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
    let scale = Double(reference ?? bytes)
    for (size, unit) in units where scale >= size {
        let value = Double(bytes) / size
        let places = value >= 100 ? 0 : value >= 10 ? 1 : 2
        return reference == nil
            ? "\(formatDecimal(value, places: places)) \(unit)" : formatDecimal(value, places: places)
    }
    return reference == nil ? "\(bytes) B" : "\(bytes)"
}

/// `0.09%`, `12.50%`.
func formatPercent(_ fraction: Double) -> String { formatDecimal(fraction * 100, places: 2) + "%" }

/// `45 s`, `3 min 20 s`, `2 h 05 min`: a wait for people.
func formatDuration(_ seconds: Double) -> String {
    let whole = Int(seconds.rounded(.up))
    if whole < 60 { return "\(whole) s" }
    if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
    let minutes = (whole % 3600) / 60
    return "\(whole / 3600) h \(minutes < 10 ? "0" : "")\(minutes) min"
}
