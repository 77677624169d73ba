/// Process exit codes shared by the four programs (Docs/style.md#exit-codes; from BSD sysexits.h where one fits).
///
/// Each program's `--help` lists the ones it uses; tests assert them.
public enum PGMExitCode: Int32, Sendable, CaseIterable {
    /// Success; for pgm-ne and pgm-dump also a stop on SIGINT/SIGTERM, which is how they normally end.
    case success = 0
    /// A runtime failure not covered below.
    case failure = 1
    /// pgm-recv: some data could not be recovered (what could be was written; the ranges are on stderr).
    case unrecoverableLoss = 3
    /// pgm-recv: the session was reset by its source (OPT_RST) or abandoned (silent for `--peer-expiry` without
    /// OPT_FIN): what arrived was written, but the transfer was cut short.
    case sessionCutShort = 4
    /// EX_USAGE: bad command line.
    case usage = 64
    /// EX_DATAERR: an input file is corrupt or truncated (pgm-dump: a capture file libpcap cannot read to the end).
    case dataError = 65
    /// EX_NOINPUT: an input file does not exist or cannot be opened.
    case noInput = 66
    /// EX_UNAVAILABLE: the interface or group is unavailable.
    case unavailable = 69
    /// EX_NOPERM: no permission (raw sockets, live capture without CAP_NET_RAW).
    case noPermission = 77
    /// pgm-source, pgm-recv: SIGINT cut the transfer short (128 + 2, as a shell reports a process it interrupted).
    case interrupted = 130
    /// pgm-source, pgm-recv: SIGTERM cut the transfer short (128 + 15).
    case terminated = 143

    /// The code of a run a signal cut short: 130 for SIGINT, 143 for SIGTERM (the only signals the programs
    /// catch).
    init(signal: Int32) {
        self = signal == 15 ? .terminated : .interrupted
    }
}
