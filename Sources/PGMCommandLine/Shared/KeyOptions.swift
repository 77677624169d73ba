public import ArgumentParser
public import PGMAuthentication
public import PGMCore
public import PGMSockets
import PGMWire

/// `--key FILE`, shared by pgm-source, pgm-recv and pgm-ne (Docs/key.md): every packet the program sends carries
/// OPT_AUTH, a truncated HMAC-SHA-256 under the key, and every packet it receives without a valid one is dropped
/// and counted before the engine sees it.
public struct KeyOptions: ParsableArguments, Sendable {
    public init() {}

    @ArgumentParser.Option(
        name: .customLong("key"),
        help: ArgumentHelp(
            """
            Sign every packet sent and drop every packet received without a valid tag, with the key in this file \
            (at least 16 bytes, raw or as hex; Docs/key.md).
            """,
            valueName: "file"),
        completion: .file())
    public var keyFile: String?

    @ArgumentParser.Flag(
        name: .customLong("accept-unsigned-naks"),
        help: ArgumentHelp(
            """
            With --key, still take NAKs and SPMRs that carry no tag, so that receivers without the key (OpenPGM) \
            get repairs; they can only ask for what the session sends anyway (Docs/key.md).
            """))
    public var acceptUnsignedNAKs = false

    public mutating func validate() throws {
        if acceptUnsignedNAKs && keyFile == nil {
            throw ValidationError("--accept-unsigned-naks needs --key")
        }
    }

    /// The bytes signing may add to a packet, which a source leaves room for in each TPDU and its rate counts: none
    /// without a key.
    public var signingOverhead: Int { keyFile == nil ? 0 : PacketAuthentication.maximumOverhead }

    /// The authenticator for the key file, or nil without --key. A missing or unreadable file is exit 66, a key
    /// too short or too long exit 64.
    public func loadAuthenticator() throws(CommandFailure) -> HMACAuthenticator? {
        try Self.authenticator(file: keyFile)
    }

    /// The authenticator for a key file (nil for none), failing as ``loadAuthenticator()`` says.
    static func authenticator(file keyFile: String?) throws(CommandFailure) -> HMACAuthenticator? {
        guard let keyFile else { return nil }
        do {
            return HMACAuthenticator(key: try AuthenticationKey(file: keyFile))
        } catch {
            switch error {
            case .unreadable: throw CommandFailure(.noInput, "--key: \(error)")
            case .tooShort, .tooLong: throw CommandFailure(.usage, "--key: \(error)")
            }
        }
    }

    /// Gives `driver` the key (it verifies what arrives and signs what leaves) and has `printer` add the
    /// ``KeyStatistics`` to every statistics line. Does nothing without a key.
    public func install<E: Engine>(
        _ authenticator: HMACAuthenticator?, on driver: Driver<E>, printer: StatisticsPrinter
    ) {
        guard let authenticator else { return }
        driver.authenticator = authenticator
        if acceptUnsignedNAKs { driver.unsignedAccepted = [.nak, .nnak, .spmr] }
        let keyID = Option.Authentication(keyID: authenticator.keyID).keyIDText
        printer.annotate = { [unowned driver] sample in
            sample.authentication = KeyStatistics(keyID: keyID, driver.statistics.authentication)
        }
    }
}

/// What `--key` did, in the programs' statistics lines (`"authentication": {...}` with `--json`): received packets
/// by their tag, those the replay guard turned away, and transmits signed.
public struct KeyStatistics: Encodable, Sendable, Equatable {
    /// The key's identifier as OPT_AUTH carries it (8 hex digits), so that peers' keys can be compared.
    public var keyID: String
    public var valid: Int
    public var invalid: Int
    public var absent: Int
    public var replayed: Int
    /// Unsigned NAKs and SPMRs taken with `--accept-unsigned-naks`.
    public var unsigned: Int
    /// Received packets dropped: invalid, absent or replayed.
    public var dropped: Int
    public var signed: Int

    public init(keyID: String, _ counts: DriverStatistics.AuthenticationCounts) {
        self.keyID = keyID
        valid = counts.valid
        invalid = counts.invalid
        absent = counts.absent
        replayed = counts.replayed
        unsigned = counts.unsigned
        dropped = counts.dropped
        signed = counts.signed
    }

    /// `  key 1a2b3c4d: 1,234 valid, 3 dropped (invalid 0, absent 3, replayed 0), 1,250 signed`
    var text: String {
        "  key \(keyID): \(formatGrouped(valid)) valid, \(formatGrouped(dropped)) dropped (invalid "
            + "\(formatGrouped(invalid)), absent \(formatGrouped(absent)), replayed \(formatGrouped(replayed))), "
            + "\(formatGrouped(signed)) signed"
            + (unsigned > 0 ? ", \(formatGrouped(unsigned)) unsigned NAKs taken" : "")
    }
}
