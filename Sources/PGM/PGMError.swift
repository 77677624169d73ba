internal import PGMAuthentication
import PGMCore
import PGMSockets
import PGMWire

/// Why a ``PGMSource`` or a ``PGMReceiver`` could not start, or a ``PGMSource/send(_:)`` failed.
public enum PGMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An option the engine cannot take (the reason names it).
    case invalidOptions(String)
    /// The interface, group or port cannot be used: down, without multicast, or the port is held by another source.
    case unavailable(String)
    /// Native PGM needs root or CAP_NET_RAW.
    case permissionDenied(String)
    /// The key file cannot be read, or holds a key too short or too long (Docs/key.md).
    case key(String)
    /// A message larger than ``PGMOptions/maximumMessageSize`` (or what the default allows).
    case messageTooLarge(size: Int, maximum: Int)
    /// ``PGMSource/send(_:)`` after ``PGMSource/finish()``.
    case finished
    /// The session's engine has stopped: finished, cancelled, or its socket loop failed (the reason says).
    case stopped(String)

    public var description: String {
        switch self {
        case .invalidOptions(let reason): "invalid options: \(reason)"
        case .unavailable(let reason): "unavailable: \(reason)"
        case .permissionDenied(let reason): "permission denied: \(reason)"
        case .key(let reason): "key: \(reason)"
        case .messageTooLarge(let size, let maximum): "a message of \(size) bytes is larger than \(maximum)"
        case .finished: "the source has finished"
        case .stopped(let reason): "the session has stopped: \(reason)"
        }
    }

    /// A socket or interface failure, in the categories the programs' exit codes use (Docs/style.md#exit-codes).
    init(opening error: any Error) {
        switch error {
        case let failure as PGMError:
            self = failure
        case let system as SystemError where system.isPermissionDenied:
            self = .permissionDenied("\(system)")
        case let system as SystemError where system.isUnavailable:
            self = .unavailable("\(system)")
        case let configuration as NetworkConfigurationError:
            self = .unavailable("\(configuration)")
        default:
            self = .stopped("\(error)")
        }
    }
}

extension PGMOptions {
    /// `--rate`: 8 kbit/s up to 1 Tbit/s, far above any host's send rate and low enough that the window's byte count
    /// cannot overflow.
    package static let rateRange = 8_000...1_000_000_000_000
    /// `--max-tpdu`: the IPv4 minimum reassembly size up to the largest datagram.
    package static let maxTPDURange = 576...65_535
    /// The longest window, linger or SPM interval the programs take (an hour).
    package static let longestTime = Duration.seconds(3600)

    /// The checks the programs make before they start (their `validate()`), for a library caller.
    func validate() throws(PGMError) {
        guard group.isMulticast else { throw .invalidOptions("the group \(group) is not an IPv4 multicast address") }
        guard port != 0 else { throw .invalidOptions("the port must not be 0") }
        if case .udp(let udpPort) = encapsulation, udpPort == 0 {
            throw .invalidOptions("the UDP port must not be 0")
        }
        guard eventBufferCapacity >= 1 else { throw .invalidOptions("eventBufferCapacity must be at least 1") }
    }

    /// What a source's options may be: the programs' ranges (pgm-source's `validate()` checks the same ones under
    /// the options' names), then whatever the engine would trap on, in its words.
    func validateSource(_ configuration: Source.Configuration) throws(PGMError) {
        guard Self.rateRange.contains(rateBitsPerSecond) else {
            throw .invalidOptions("the rate must be 8 kbit/s to 1 Tbit/s, not \(rateBitsPerSecond) bit/s")
        }
        guard Self.maxTPDURange.contains(maxTPDU) else {
            throw .invalidOptions("maxTPDU must be \(Self.maxTPDURange), not \(maxTPDU)")
        }
        guard transmitWindow > .zero, transmitWindow <= Self.longestTime else {
            throw .invalidOptions("the transmit window must be in (0, 3600] seconds")
        }
        if let transmitWindowBytes, transmitWindowBytes < maxTPDU {
            throw .invalidOptions("transmitWindowBytes must hold at least one TPDU")
        }
        guard linger >= .zero, linger <= Self.longestTime else {
            throw .invalidOptions("the linger must be in [0, 3600] seconds")
        }
        guard ambientSPMInterval >= .milliseconds(10), ambientSPMInterval <= Self.longestTime else {
            throw .invalidOptions("the ambient SPM interval must be in [0.01, 3600] seconds")
        }
        if sourcePort == 0 { throw .invalidOptions("the source port must not be 0") }
        do {
            try configuration.validate()
        } catch {
            throw .invalidOptions("\(error)")
        }
    }

    /// The authenticator for ``keyFile``, nil without one.
    func loadAuthenticator() throws(PGMError) -> HMACAuthenticator? {
        guard let keyFile else { return nil }
        do {
            return HMACAuthenticator(key: try AuthenticationKey(file: keyFile))
        } catch {
            throw .key("\(error)")
        }
    }
}
