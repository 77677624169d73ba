public import PGMWire

/// The defaults of the shipped programs (pgm-source, pgm-recv, pgm-ne), written once. The programs' options
/// take them, and the simulator's model of the programs (`TopologyScenario`) and the lab read them too, so a
/// simulated run configures its engines as the programs would.
///
/// They live beside the engines because that is the lowest layer the programs (PGMCommandLine) and the
/// simulator (PGMSimulation) both see. They differ from the engines' own configuration defaults, which follow
/// OpenPGM's bundled examples and suit a WAN (2 s NAK intervals, 30 s ambient SPMs): the programs are tuned for
/// the networks they are run on (Docs/timers.md).
public enum ProgramDefaults {
    // MARK: All programs

    /// What lies below PGM on each packet (header bytes, Router Alert), natively or in UDP.
    public static func transport(native: Bool) -> TransportProfile { native ? .nativeIPv4 : .udpIPv4 }

    /// The session's multicast group (`--group`), in the organization-local scope 239.192.0.0/14 (RFC 2365).
    public static let groupAddress = IPv4Address(239, 192, 0, 1)
    /// The PGM data-destination port (OpenPGM's `--port`).
    public static let port: UInt16 = 7500
    /// OpenPGM's default UDP encapsulation port, one for multicast and unicast as OpenPGM's examples use
    /// (Docs/openpgm.md#udp-encapsulation).
    public static let udpPort: UInt16 = 3056
    /// IP_MULTICAST_TTL.
    public static let ttl: UInt8 = 16

    // MARK: pgm-source

    public static let rateBitsPerSecond = 100_000_000
    public static let maxTPDU = 1500
    /// TXW_SECS.
    public static let transmitWindow: Duration = .seconds(4)
    /// A receiver whose repair was lost asks again after its NAK_RDATA_IVL (OpenPGM: 2 s), so a shorter linger
    /// leaves it waiting for a source that is gone.
    public static let linger: Duration = .seconds(5)
    /// Heartbeat SPMs restart with every data packet (RFC 3208 §5.1.5), so while data flows only ambient SPMs go
    /// out. A receiver that missed the first SPMs (a late joiner, or a loss) cannot NAK until one arrives: OpenPGM
    /// receivers declare everything before it lost. One a second costs 36 bytes.
    public static let ambientSPMInterval: Duration = .seconds(1)
    /// SPMs back to back when the session opens: one lost SPM must not cost an OpenPGM receiver the session.
    public static let openingSPMs = 3

    /// OpenPGM reassembles at most 16 fragments and its examples stop at about 22.8 KB
    /// (Docs/openpgm.md#largest-apdu): 22,800 bytes or 16 of our fragments, whichever is less (22,784 with UDP
    /// encapsulation, whose header takes 8 bytes).
    public static func apduSize(_ configuration: Source.Configuration) -> Int {
        min(22_800, 16 * Source.maximumPayload(configuration, fragmented: true))
    }

    // MARK: pgm-recv

    /// NAK_RPT_IVL and NAK_RDATA_IVL: a LAN answers a NAK within milliseconds; OpenPGM's examples wait 2 s (the
    /// engine's default), which lets a repair lost twice outlive a source's few seconds of window and linger.
    public static let receiverNAKRepeatInterval: Duration = .milliseconds(250)
    public static let receiverNAKRdataInterval: Duration = .milliseconds(250)
    /// NAK_BO_IVL until the source or an element advertises one (RFC 3208 §15.2.2).
    public static let receiverNAKBackoffInterval: Duration = .milliseconds(50)
    /// OpenPGM's 300 s. Shorter makes a restarted source's new session followed sooner, but should stay above the
    /// source's ambient SPM interval (30 s for OpenPGM), which is all an idle source sends.
    public static let peerExpiry: Duration = .seconds(300)
    public static let dlrCacheBytes = 32 << 20
    /// Receivers below may still be repairing when the session closes; a DLR that left at once would leave their
    /// last NAKs to time out.
    public static let dlrLinger: Duration = .seconds(5)

    // MARK: pgm-ne

    /// NAK_RPT_IVL and NAK_RDATA_IVL of the element's repair state (the engine's defaults).
    public static let elementNAKRepeatInterval: Duration = .seconds(2)
    public static let elementNAKRdataInterval: Duration = .seconds(2)
    /// The random wait before the element asks for ODATA it missed itself
    /// (``NetworkElement/Configuration/lossDetectionBackoff``).
    public static let lossDetectionBackoff: Duration = .milliseconds(2)
    public static let maximumSessions = 1024
}
