public import PGMCore
import PGMISAL
import PGMSockets

/// The programs' defaults (PGMCore's ``ProgramDefaults``) as their options take them: seconds as `Double`, so
/// that `--help` prints them as it always has, the rate as a ``Rate``, and what only the programs have (group,
/// ports, TTL).
extension ProgramDefaults {
    public static let group = "239.192.0.1"
    /// The PGM data-destination port (OpenPGM's `--port`).
    public static let port: UInt16 = 7500
    /// One UDP port for multicast and unicast, as OpenPGM's examples use.
    public static let udpPort: UInt16 = Encapsulation.defaultUDPPort
    public static let ttl: UInt8 = 16
    /// The Reed–Solomon region multiply the programs give their engines' FEC: ISA-L's, 3.2-3.5 times the portable
    /// Swift kernel's speed on this machine's AVX-512 (`Tools/fec-benchmark`; the Swift kernel stays the engines'
    /// default, and the simulator's).
    public static var galoisKernel: any GaloisRegionKernel { ISALGaloisKernel() }

    /// Bytes below PGM on every packet, counted by the rate limiter and against the TPDU size.
    public static func headerOverhead(native: Bool) -> Int { transport(native: native).headerOverhead }
    /// The IPv4 Router Alert option on SPM, NCF and RDATA: native PGM only (UDP cannot carry it).
    public static func routerAlertOverhead(native: Bool) -> Int { transport(native: native).routerAlertOverhead }

    public static var rate: Rate { Rate(bitsPerSecond: rateBitsPerSecond) }
    public static var transmitWindowSeconds: Double { transmitWindow.secondsValue }
    public static var lingerSeconds: Double { linger.secondsValue }
    public static var ambientSPMIntervalSeconds: Double { ambientSPMInterval.secondsValue }
    public static var receiverNAKRepeatIntervalSeconds: Double { receiverNAKRepeatInterval.secondsValue }
    public static var receiverNAKRdataIntervalSeconds: Double { receiverNAKRdataInterval.secondsValue }
    public static var receiverNAKBackoffIntervalSeconds: Double { receiverNAKBackoffInterval.secondsValue }
    public static var peerExpirySeconds: Double { peerExpiry.secondsValue }
    public static var dlrLingerSeconds: Double { dlrLinger.secondsValue }
    public static var elementNAKRepeatIntervalSeconds: Double { elementNAKRepeatInterval.secondsValue }
    public static var elementNAKRdataIntervalSeconds: Double { elementNAKRdataInterval.secondsValue }
    public static var lossDetectionBackoffSeconds: Double { lossDetectionBackoff.secondsValue }
}
