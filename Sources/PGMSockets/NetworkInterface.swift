internal import CPGMSystem
internal import Glibc
public import PGMWire

/// One IPv4 interface of this host: what a socket set needs to join a group on it, send through it, and put
/// in the NLAs an engine announces (SPM path, NAK source).
public struct NetworkInterface: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// The kernel's interface index (`if_nametoindex`), used for `ip_mreqn` and to tell arrivals apart.
    public var index: Int32
    public var address: IPv4Address
    /// The kernel's `IFF_*` flags when the interface was listed (0 for one made by hand).
    public var flags: UInt32

    public init(name: String, index: Int32, address: IPv4Address, flags: UInt32 = 0) {
        self.name = name
        self.index = index
        self.address = address
        self.flags = flags
    }

    public var isUp: Bool { flags & UInt32(IFF_UP) != 0 }
    public var isLoopback: Bool { flags & UInt32(IFF_LOOPBACK) != 0 }
    public var supportsMulticast: Bool { flags & UInt32(IFF_MULTICAST) != 0 }

    /// Refuses an interface PGM cannot use: one that is down, or that does not do multicast (the loopback
    /// interface, which Linux lists without IFF_MULTICAST, loops multicast back all the same). Sending on either
    /// succeeds and reaches nobody, and joining on either never receives.
    public func checkUsable() throws(NetworkConfigurationError) {
        if !isUp { throw .interfaceDown(name) }
        if !supportsMulticast && !isLoopback { throw .noMulticast(name) }
    }

    public var description: String { "\(name) (\(address))" }

    /// Finds an interface by name (`eth0`) or by one of its IPv4 addresses (`198.18.0.1`). Numeric strings
    /// are never looked up as host names (OpenPGM's DNS lookup for "lo", Docs/openpgm.md, is what we avoid).
    public static func named(_ nameOrAddress: String) throws(NetworkConfigurationError) -> NetworkInterface {
        let all = list()
        if let address = IPv4Address(nameOrAddress) {
            if let found = all.first(where: { $0.address == address }) { return found }
            throw .interfaceNotFound(nameOrAddress)
        }
        if let found = all.first(where: { $0.name == nameOrAddress }) { return found }
        if if_nametoindex(nameOrAddress) != 0 { throw .noIPv4Address(interface: nameOrAddress) }
        throw .interfaceNotFound(nameOrAddress)
    }

    /// Every interface with an IPv4 address, the first address of each, in the kernel's order.
    public static func list() -> [NetworkInterface] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [NetworkInterface] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let socketAddress = entry.pointee.ifa_addr, socketAddress.pointee.sa_family == sa_family_t(AF_INET)
            else { continue }
            let name = String(cString: entry.pointee.ifa_name)
            guard !result.contains(where: { $0.name == name }) else { continue }
            let address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                IPv4Address(rawValue: UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
            }
            result.append(
                NetworkInterface(
                    name: name, index: Int32(if_nametoindex(name)), address: address, flags: entry.pointee.ifa_flags))
        }
        return result
    }

    /// The interface the routing table uses for `group`: a UDP socket is connected to it (nothing is sent)
    /// and its local address names the interface. Fails with ENETUNREACH when there is no multicast route.
    public static func route(to group: IPv4Address) throws -> NetworkInterface {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.last("socket(AF_INET, SOCK_DGRAM)") }
        defer { close(fd) }
        var remote = sockaddr_in(group, port: 9)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw SystemError.last("connect(\(group)) for the route to the group") }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let address = IPv4Address(rawValue: UInt32(bigEndian: local.sin_addr.s_addr))
        if let found = list().first(where: { $0.address == address }) { return found }
        throw NetworkConfigurationError.interfaceNotFound(address.description)
    }
}

extension sockaddr_in {
    init(_ address: IPv4Address, port: UInt16) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = port.bigEndian
        sin_addr = in_addr(s_addr: address.rawValue.bigEndian)
    }

    var ipv4Address: IPv4Address { IPv4Address(rawValue: UInt32(bigEndian: sin_addr.s_addr)) }
    var portNumber: UInt16 { UInt16(bigEndian: sin_port) }
}
