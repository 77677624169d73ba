public import PGMCore
import PGMSockets

/// The defaults of pgm-source, pgm-recv and pgm-ne, written once: the programs' options take them, and the lab
/// (Tools/Lab) reads them for the OpenPGM peers it runs beside ours and for the simulator's model of our
/// programs (`TopologyScenario.Options`), so that a simulated run configures its engines as the programs would.
///
/// Where they live: the simulator (PGMSimulation) cannot import this module, and this module does not depend on
/// PGMSimulation, so the lowest layer both see is PGMCore. Until PGMCore holds these values (the engines'
/// configurations keep OpenPGM's defaults, which suit a WAN: 2 s NAK intervals, 30 s SPMs), they are here, and
/// the simulator's own defaults are a copy that only its tests use. Values are seconds as `Double` where an
/// option takes seconds, so that `--help` prints them as it always has.
public enum ProgramDefaults {
    // MARK: All programs

    public static let group = "239.192.0.1"
    /// The PGM data-destination port (OpenPGM's `--port`).
    public static let port: UInt16 = 7500
    /// One UDP port for multicast and unicast, as OpenPGM's examples use.
    public static let udpPort: UInt16 = Encapsulation.defaultUDPPort
    public static let ttl: UInt8 = 16

    /// Bytes below PGM on every packet, counted by the rate limiter and against the TPDU size: the IPv4 header
    /// natively, IPv4 and UDP headers encapsulated.
    public static func headerOverhead(native: Bool) -> Int { native ? 20 : Source.Configuration.udpHeaderOverhead }

    /// The IPv4 Router Alert option on SPM, NCF and RDATA: native PGM only (UDP cannot carry it).
    public static func routerAlertOverhead(native: Bool) -> Int { native ? 4 : 0 }

    // MARK: pgm-source

    public static let rate = Rate(bitsPerSecond: 100_000_000)
    public static let maxTPDU = 1500
    /// TXW_SECS.
    public static let transmitWindowSeconds = 4.0
    /// A receiver whose repair was lost asks again after NAK_RDATA_IVL (OpenPGM: 2 s), so a shorter linger leaves
    /// it waiting for a source that is gone.
    public static let lingerSeconds = 5.0
    /// Heartbeat SPMs restart with every data packet (RFC 3208 §5.1.5), so while data flows only ambient SPMs go
    /// out. A receiver that missed the first SPMs (a late joiner, or a loss) cannot NAK until one arrives: OpenPGM
    /// receivers declare everything before it lost. One a second costs 36 bytes.
    public static let ambientSPMIntervalSeconds = 1.0
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
    public static let receiverNAKRepeatIntervalSeconds = 0.25
    public static let receiverNAKRdataIntervalSeconds = 0.25
    /// NAK_BO_IVL: below a network element that confirms at once, a short back-off trades NCF suppression for
    /// speed; the element's NAK elimination then does the suppressing.
    public static let receiverNAKBackoffIntervalSeconds = 0.05
    /// OpenPGM's 300 s. Shorter makes a restarted source's new session followed sooner, but should stay above the
    /// source's ambient SPM interval (30 s for OpenPGM), which is all an idle source sends.
    public static let peerExpirySeconds = 300.0
    public static let dlrCacheBytes = 32 << 20
    /// Receivers below may still be repairing when the session closes; a DLR that left at once would leave their
    /// last NAKs to time out.
    public static let dlrLingerSeconds = 5.0

    // MARK: pgm-ne

    /// NAK_RPT_IVL and NAK_RDATA_IVL of the element's repair state (the engine's defaults).
    public static let elementNAKRepeatIntervalSeconds = 2.0
    public static let elementNAKRdataIntervalSeconds = 2.0
    /// The random wait before the element asks for ODATA it missed itself.
    public static let lossDetectionBackoffSeconds = 0.002
    public static let maximumSessions = 1024
}
