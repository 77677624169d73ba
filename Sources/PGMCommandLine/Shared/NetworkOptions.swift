public import ArgumentParser
public import Logging
public import PGM
import PGMCore
public import PGMSockets
public import PGMWire

/// Where and how PGM travels; shared by pgm-source, pgm-recv and pgm-ne (Docs/style.md#command-line-programs).
public struct NetworkOptions: ParsableArguments, Sendable {
    public init() {}

    @ArgumentParser.Option(help: ArgumentHelp("Multicast group of the session (IPv4).", valueName: "address"))
    public var group: String = ProgramDefaults.group

    @ArgumentParser.Option(
        help: ArgumentHelp("PGM data port: the session's destination port, as OpenPGM's --port.", valueName: "port"))
    public var port: UInt16 = ProgramDefaults.port

    @ArgumentParser.Option(
        help: ArgumentHelp(
            "Interface to join and send on, by name or IPv4 address (default: the route to the group).",
            valueName: "interface"),
        completion: .interface)
    public var interface: String?

    @ArgumentParser.Option(
        name: .customLong("udp-port"),
        help: ArgumentHelp(
            "UDP port for UDP encapsulation, multicast and unicast alike (OpenPGM's default).", valueName: "port"))
    public var udpPort: UInt16 = ProgramDefaults.udpPort

    @Flag(help: "Native PGM (IP protocol 113 on raw sockets, needs root or CAP_NET_RAW) instead of UDP.")
    public var native = false

    @ArgumentParser.Option(help: ArgumentHelp("Multicast TTL (hop limit).", valueName: "hops"))
    public var ttl: UInt8 = ProgramDefaults.ttl

    @Flag(
        name: .customLong("multicast-loop"),
        help: "Loop multicast back to this host (needed when source and receivers share a host).")
    public var multicastLoop = false

    public mutating func validate() throws {
        guard let address = IPv4Address(group), address.isMulticast else {
            throw ValidationError("--group \(group) is not an IPv4 multicast address (224.0.0.0/4)")
        }
        guard port != 0 else { throw ValidationError("--port must not be 0") }
        guard native || udpPort != 0 else { throw ValidationError("--udp-port must not be 0") }
    }

    public var groupAddress: IPv4Address { IPv4Address(group) ?? IPv4Address(239, 192, 0, 1) }

    public var encapsulation: Encapsulation { native ? .native : .udp(port: udpPort) }

    /// Where the session travels, as the library takes it (``PGMOptions``): the programs and the library open their
    /// sockets and build their engines from the same value.
    public var sessionOptions: PGMOptions {
        var options = PGMOptions(group: groupAddress, port: port)
        options.interface = interface
        options.encapsulation = encapsulation
        options.ttl = ttl
        options.multicastLoop = multicastLoop
        return options
    }

    /// The interface named by --interface, or the one the route to the group leaves by.
    public func resolveInterface() throws(CommandFailure) -> NetworkInterface {
        do {
            return try sessionOptions.resolveInterface()
        } catch let error as NetworkConfigurationError {
            throw CommandFailure(.unavailable, "\(error)")
        } catch let error as SystemError {
            throw CommandFailure(.unavailable, "\(error); name one with --interface")
        } catch {
            throw CommandFailure(.failure, "\(error)")
        }
    }
}

/// `--json`: JSON Lines on stderr for statistics and events (Docs/style.md#command-line-programs).
public struct OutputOptions: ParsableArguments, Sendable {
    public init() {}

    @Flag(
        help: """
            Write every stderr line as JSON (one object per line with "type" and "timestamp", snake_case keys): \
            statistics, events, errors and log messages.
            """)
    public var json = false

    @ArgumentParser.Option(help: ArgumentHelp("Seconds between statistics lines.", valueName: "seconds"))
    public var interval: Double = 1

    @Flag(help: "No periodic statistics lines (events, errors and the summary still print).")
    public var quiet = false

    public mutating func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be in [0.1, 3600]") }
    }
}

/// `--log-level`: swift-log's levels, to stderr.
public struct LoggingOptions: ParsableArguments, Sendable {
    public init() {}

    @ArgumentParser.Option(
        name: .customLong("log-level"),
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical (debug: the NAK and repair decisions once a second).",
            valueName: "level"))
    public var logLevel: Logger.Level = .warning

    /// Bootstraps swift-log once per process, to stderr (Docs/style.md#errors-and-logging), as JSON Lines with
    /// `json`; returns the logger.
    public func makeLogger(label: String, json: Bool = false) -> Logger {
        if json { LoggingBootstrap.json } else { LoggingBootstrap.once }
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

private enum LoggingBootstrap {
    static let once: Void = LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    static let json: Void = LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
}

/// A failure the program reports on stderr and turns into its exit code.
public struct CommandFailure: Error, CustomStringConvertible, Sendable {
    public var exitCode: PGMExitCode
    public var message: String

    public init(_ exitCode: PGMExitCode, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    /// Maps socket and configuration errors to Docs/style.md#exit-codes: 77 for a refused raw socket, 69 for an
    /// unusable interface, group or port, 1 otherwise.
    public init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let system as SystemError where system.isPermissionDenied:
            self.init(.noPermission, "\(system)")
        case let system as SystemError where system.isUnavailable:
            let hint =
                system.isAddressInUse
                ? " (another source on this host holds that address and port: use another --udp-port)" : ""
            self.init(.unavailable, "\(system)\(hint)")
        case let configuration as NetworkConfigurationError:
            self.init(.unavailable, "\(configuration)")
        default:
            self.init(.failure, "\(error)")
        }
    }

    public var description: String { message }
}
