public import PGMCore

/// The programs' defaults (PGMCore's ``ProgramDefaults``) as their options take them: seconds as `Double`, so
/// that `--help` prints them as it always has, the rate as a ``Rate``, the group as text.
extension ProgramDefaults {
    public static var group: String { "\(groupAddress)" }

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
