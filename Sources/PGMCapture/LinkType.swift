/// A capture's link-layer header type: libpcap's DLT value (what `pcap_datalink` returns), which for most
/// types equals the LINKTYPE number stored in the file (tcpdump.org "link-layer header types").
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// DLT_NULL: BSD loopback, a 4-byte address family in the capturing host's byte order.
    public static let null = LinkType(rawValue: 0)
    public static let ethernet = LinkType(rawValue: 1)
    /// DLT_RAW as libpcap reports it on Linux and most systems (LINKTYPE_RAW 101 in files).
    public static let rawDLT = LinkType(rawValue: 12)
    /// DLT_RAW on OpenBSD.
    public static let rawOpenBSD = LinkType(rawValue: 14)
    /// LINKTYPE_RAW, as stored in files.
    public static let raw = LinkType(rawValue: 101)
    /// DLT_LOOP: OpenBSD loopback, the address family in network byte order.
    public static let loop = LinkType(rawValue: 108)
    public static let linuxCooked = LinkType(rawValue: 113)
    public static let ipv4 = LinkType(rawValue: 228)
    public static let ipv6 = LinkType(rawValue: 229)
    public static let linuxCookedV2 = LinkType(rawValue: 276)

    /// Link types the decapsulator understands.
    public static let supported: [LinkType] = [
        .null, .ethernet, .rawDLT, .rawOpenBSD, .raw, .loop, .linuxCooked, .ipv4, .ipv6, .linuxCookedV2,
    ]

    /// A short name, used in text and JSON output.
    public var description: String {
        switch self {
        case .null: "null"
        case .ethernet: "ethernet"
        case .rawDLT, .rawOpenBSD, .raw: "raw"
        case .loop: "loop"
        case .linuxCooked: "linux_sll"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .linuxCookedV2: "linux_sll2"
        default: "dlt_\(rawValue)"
        }
    }
}
