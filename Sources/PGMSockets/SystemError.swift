internal import Glibc

/// A failed system call: the errno and the exact call, e.g. `setsockopt(IP_ADD_MEMBERSHIP)`, so a message can
/// say what was refused and a program can map it to an exit code (Docs/style.md#errors-and-logging).
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call as written in the source, with the option or the address it was given.
    public var call: String
    public var errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The raw socket or a privileged option was refused: the process lacks CAP_NET_RAW (exit code 77).
    public var isPermissionDenied: Bool { errno == EPERM || errno == EACCES }

    /// The interface, address, group or port cannot be used here (exit code 69).
    public var isUnavailable: Bool {
        [ENODEV, EADDRNOTAVAIL, EADDRINUSE, ENETUNREACH, ENETDOWN, EHOSTUNREACH, ENXIO].contains(errno)
    }

    /// Another socket holds the address and port (a second source on this host).
    public var isAddressInUse: Bool { errno == EADDRINUSE }

    public var description: String {
        let reason = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        if isPermissionDenied && call.contains("SOCK_RAW") {
            return "\(call): \(reason) (native PGM needs root or CAP_NET_RAW; UDP encapsulation does not)"
        }
        return "\(call): \(reason)"
    }

    /// Builds the error from the calling thread's `errno`.
    static func last(_ call: String) -> SystemError { SystemError(call, errno: Glibc.errno) }
}

/// A network setting that names something this host does not have. Programs report it with exit code 69.
public enum NetworkConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No interface has this name or IPv4 address.
    case interfaceNotFound(String)
    /// The interface exists but has no IPv4 address to put in SPM path NLAs and NAK source fields.
    case noIPv4Address(interface: String)
    /// The group is not an IPv4 multicast address.
    case notMulticast(String)
    /// The interface is administratively down.
    case interfaceDown(String)
    /// The interface does not do multicast (no IFF_MULTICAST, and not the loopback interface).
    case noMulticast(String)
    /// The same interface named twice (by name or address) where different ones are needed.
    case duplicateInterface(String, as: String)

    public var description: String {
        switch self {
        case .interfaceNotFound(let name): "no interface named or addressed \(name)"
        case .noIPv4Address(let name): "interface \(name) has no IPv4 address"
        case .notMulticast(let group): "\(group) is not an IPv4 multicast group (224.0.0.0/4)"
        case .interfaceDown(let name):
            "interface \(name) is down: nothing sent on it would arrive (bring it up with 'ip link set \(name) up')"
        case .noMulticast(let name): "interface \(name) does not support multicast (its IFF_MULTICAST flag is off)"
        case .duplicateInterface(let first, let second):
            "\(second) is the same interface as \(first): name each interface once"
        }
    }
}
