import PGMCore

/// How PGM bytes travel between hosts.
public enum Encapsulation: Hashable, Sendable, CustomStringConvertible {
    /// The unchanged PGM packet as the UDP payload, as OpenPGM sends it (Docs/openpgm.md#udp-encapsulation). One
    /// port serves multicast and unicast, like OpenPGM's examples; runs without privileges.
    case udp(port: UInt16)
    /// IP protocol 113 on a raw socket (root or CAP_NET_RAW), with Router Alert where the engine asks.
    case native

    /// OpenPGM's default multicast encapsulation port (Docs/openpgm.md#udp-encapsulation).
    public static let defaultUDPPort: UInt16 = ProgramDefaults.udpPort
    /// IANA's protocol number for PGM (RFC 3208 §8).
    public static let ipProtocol: Int32 = 113

    public var description: String {
        switch self {
        case .udp(let port): "UDP port \(port)"
        case .native: "native IP protocol 113"
        }
    }
}
