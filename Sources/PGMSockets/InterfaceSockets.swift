internal import CPGMSystem
internal import Glibc
public import PGMCore
public import PGMWire

/// The sockets of one interface: a host has one set, a network element one per interface, each with its own
/// ``InterfaceID`` so that arrivals and transmits name the interface the engine means.
///
/// UDP encapsulation, and why a NAK cannot land in the wrong process (Docs/openpgm.md#same-host-udp-loses-naks:
/// OpenPGM binds every socket to `0.0.0.0:PORT` with SO_REUSEPORT, so the kernel hashes a receiver's unicast NAK
/// to any of them):
/// - the *group socket* is bound to `GROUP:PORT` (SO_REUSEADDR, so several receivers share it). A socket
///   bound to a multicast address only gets datagrams sent to that address, so it never takes unicast;
/// - the *unicast socket* (sources and network elements, which NAKs and SPMRs are sent to) is bound to
///   `INTERFACE-ADDRESS:PORT` without SO_REUSEADDR or SO_REUSEPORT. The kernel then refuses any other socket
///   that would overlap it (a second source, a wildcard OpenPGM socket) with EADDRINUSE, so a clash is a clear
///   start-up error instead of NAKs silently going astray. The address is the one the engine announces as
///   the SPM path NLA, which receivers send their NAKs to, on the same port as OpenPGM's examples use;
/// - a host that does not listen for unicast (a receiver) sends from a socket bound to an ephemeral port.
///
/// Native PGM uses one raw IP socket (protocol 113, IP_HDRINCL) per interface, bound to the device, for both
/// directions; the driver writes the IPv4 header itself so that it can add Router Alert and honour
/// ``Transmit/spoofedSource``. Every raw socket sees every PGM packet for the host, so several receivers and a
/// source share one host without any port at all.
///
/// IP_PKTINFO tells each arrival's destination (group or our address) and interface; datagrams that arrived
/// on another interface are dropped, which keeps a network element's per-interface sets apart even though
/// their group sockets are bound to the same address.
public final class InterfaceSockets {
    public struct Configuration: Sendable {
        public var id: InterfaceID
        public var interface: NetworkInterface
        public var group: IPv4Address
        public var encapsulation: Encapsulation
        /// IP_MULTICAST_TTL for multicast; a ``Transmit/ttl`` overrides it per packet.
        public var ttl: UInt8
        /// IP_MULTICAST_LOOP: off by default; on when the peers are on this host.
        public var multicastLoop: Bool
        /// Join the group on this interface (receivers, network elements).
        public var joinGroup: Bool
        /// Receive unicast on the interface address (sources and network elements: NAKs, SPMRs).
        public var listenUnicast: Bool
        /// SO_RCVBUFFORCE, or SO_RCVBUF (capped at net.core.rmem_max) without CAP_NET_ADMIN.
        public var receiveBufferSize: Int32
        /// UDP only: send runs of equal datagrams as one GSO message (UDP_SEGMENT) and take coalesced runs
        /// (UDP_GRO), so that the kernel's per-datagram work is done once per run. Receivers on other hosts
        /// still see one datagram per packet; a capture on the sending host (or a veth path) shows runs.
        public var segmentationOffload: Bool
        /// Native only: the packet types this host's engine wants. A raw socket sees every PGM packet on the
        /// host, the sender's own data included; a kernel filter drops the rest before they are read.
        /// Nil takes everything (network elements, DLRs).
        public var nativeTypes: [PacketType]?

        public init(
            id: InterfaceID = .primary, interface: NetworkInterface, group: IPv4Address,
            encapsulation: Encapsulation = .udp(port: Encapsulation.defaultUDPPort), ttl: UInt8 = 16,
            multicastLoop: Bool = false, joinGroup: Bool, listenUnicast: Bool, receiveBufferSize: Int32 = 8 << 20,
            segmentationOffload: Bool = true, nativeTypes: [PacketType]? = nil
        ) {
            self.id = id
            self.interface = interface
            self.group = group
            self.encapsulation = encapsulation
            self.ttl = ttl
            self.multicastLoop = multicastLoop
            self.joinGroup = joinGroup
            self.listenUnicast = listenUnicast
            self.receiveBufferSize = receiveBufferSize
            self.segmentationOffload = segmentationOffload
            self.nativeTypes = nativeTypes
        }
    }

    public let configuration: Configuration
    /// The interface's MTU (1500 when it cannot be read): native sends leave Router Alert off a packet it
    /// would push past it, such as a full-size RDATA from a source that sends without the option (OpenPGM).
    let mtu: Int
    /// Descriptors to poll for arrivals.
    let receiveDescriptors: [Int32]
    /// The descriptor every transmit leaves through.
    let sendDescriptor: Int32
    /// GSO is in use for sends (UDP with ``Configuration/segmentationOffload``, until the kernel refuses it).
    var segmentsUDP: Bool
    private var owned: [Int32]

    /// The port unicast datagrams are sent from, and received on when listening (UDP only).
    public var localPort: UInt16? {
        guard case .udp = configuration.encapsulation else { return nil }
        return boundPort(sendDescriptor)
    }

    public init(_ configuration: Configuration) throws {
        guard configuration.group.isMulticast else {
            throw NetworkConfigurationError.notMulticast(configuration.group.description)
        }
        self.configuration = configuration
        mtu = Self.readMTU(configuration.interface.name) ?? 1500
        var owned: [Int32] = []
        do {
            switch configuration.encapsulation {
            case .udp(let port):
                var receive: [Int32] = []
                if configuration.joinGroup {
                    let fd = try Self.udpSocket(&owned)
                    try setOption(fd, socketLevel, SO_REUSEADDR, Int32(1), "SO_REUSEADDR")
                    try Self.configureReceive(fd, configuration)
                    try bindSocket(fd, sockaddr_in(configuration.group, port: port), "\(configuration.group):\(port)")
                    try Self.join(fd, configuration)
                    receive.append(fd)
                }
                let unicast = try Self.udpSocket(&owned)
                try Self.configureSend(unicast, configuration)
                if configuration.listenUnicast {
                    try Self.configureReceive(unicast, configuration)
                    try bindSocket(
                        unicast, sockaddr_in(configuration.interface.address, port: port),
                        "\(configuration.interface.address):\(port) for unicast NAKs")
                    receive.append(unicast)
                } else {
                    try bindSocket(
                        unicast, sockaddr_in(configuration.interface.address, port: 0),
                        "\(configuration.interface.address):0")
                }
                if configuration.segmentationOffload {
                    // Kernels before 5.0 do not know UDP_GRO; they deliver datagram by datagram.
                    for fd in receive { try? setOption(fd, udpLevel, udpGRO, Int32(1), "UDP_GRO") }
                }
                self.receiveDescriptors = receive
                self.sendDescriptor = unicast
                self.segmentsUDP = configuration.segmentationOffload
            case .native:
                let fd = socket(
                    AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Encapsulation.ipProtocol)
                guard fd >= 0 else { throw SystemError.last("socket(AF_INET, SOCK_RAW, 113)") }
                owned.append(fd)
                try setOption(fd, ipLevel, IP_HDRINCL, Int32(1), "IP_HDRINCL")
                let name = Array(configuration.interface.name.utf8CString)
                let bound = name.withUnsafeBufferPointer {
                    setsockopt(fd, socketLevel, SO_BINDTODEVICE, $0.baseAddress, socklen_t($0.count))
                }
                if bound != 0 { throw SystemError.last("setsockopt(SO_BINDTODEVICE \(configuration.interface.name))") }
                try Self.configureReceive(fd, configuration)
                try Self.configureSend(fd, configuration)
                if let types = configuration.nativeTypes {
                    var codes = types.map(\.rawValue)
                    // ACK is also read as 0x0B (PGMWire's PacketType); let both through when ACK is wanted.
                    if types.contains(.ack) { codes.append(PacketType.legacyACKCode) }
                    if pgm_attach_type_filter(fd, codes, UInt32(codes.count)) != 0 {
                        throw SystemError.last("setsockopt(SO_ATTACH_FILTER)")
                    }
                }
                if configuration.joinGroup { try Self.join(fd, configuration) }
                self.receiveDescriptors = [fd]
                self.sendDescriptor = fd
                self.segmentsUDP = false
            }
        } catch {
            for fd in owned { close(fd) }
            throw error
        }
        self.owned = owned
    }

    deinit {
        for fd in owned { close(fd) }
    }

    private static func udpSocket(_ owned: inout [Int32]) throws(SystemError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_UDP))
        guard fd >= 0 else { throw SystemError.last("socket(AF_INET, SOCK_DGRAM)") }
        owned.append(fd)
        return fd
    }

    private static func configureReceive(_ fd: Int32, _ configuration: Configuration) throws(SystemError) {
        try setOption(fd, ipLevel, IP_PKTINFO, Int32(1), "IP_PKTINFO")
        // Only the groups this socket joined, not every group any socket on the host joined.
        try setOption(fd, ipLevel, IP_MULTICAST_ALL, Int32(0), "IP_MULTICAST_ALL")
        // SO_RCVBUF is capped by net.core.rmem_max (208 KiB by default, a few milliseconds at 1 Gbit/s); with
        // CAP_NET_ADMIN, SO_RCVBUFFORCE is not.
        do {
            try setOption(fd, socketLevel, SO_RCVBUFFORCE, configuration.receiveBufferSize, "SO_RCVBUFFORCE")
        } catch {
            try setOption(fd, socketLevel, SO_RCVBUF, configuration.receiveBufferSize, "SO_RCVBUF")
        }
    }

    private static func configureSend(_ fd: Int32, _ configuration: Configuration) throws(SystemError) {
        var request = ip_mreqn()
        request.imr_ifindex = configuration.interface.index
        try setOption(fd, ipLevel, IP_MULTICAST_IF, request, "IP_MULTICAST_IF \(configuration.interface.name)")
        try setOption(fd, ipLevel, IP_MULTICAST_TTL, Int32(configuration.ttl), "IP_MULTICAST_TTL")
        try setOption(fd, ipLevel, IP_MULTICAST_LOOP, Int32(configuration.multicastLoop ? 1 : 0), "IP_MULTICAST_LOOP")
        do {
            try setOption(fd, socketLevel, SO_SNDBUFFORCE, Int32(4 << 20), "SO_SNDBUFFORCE")
        } catch {
            try setOption(fd, socketLevel, SO_SNDBUF, Int32(4 << 20), "SO_SNDBUF")
        }
    }

    private static func join(_ fd: Int32, _ configuration: Configuration) throws(SystemError) {
        var request = ip_mreqn()
        request.imr_multiaddr = in_addr(s_addr: configuration.group.rawValue.bigEndian)
        request.imr_ifindex = configuration.interface.index
        try setOption(
            fd, ipLevel, IP_ADD_MEMBERSHIP, request,
            "IP_ADD_MEMBERSHIP \(configuration.group) on \(configuration.interface.name)")
    }

    /// The port in the UDP destination for a transmit: the configured one, for multicast and unicast alike.
    /// `/sys/class/net/NAME/mtu` (of this network namespace: `ip netns exec` mounts its own sysfs).
    static func readMTU(_ name: String) -> Int? {
        guard !name.contains("/") else { return nil }
        let fd = open("/sys/class/net/\(name)/mtu", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[..<count], as: UTF8.self).filter(\.isNumber)
        return Int(text).flatMap { $0 >= 68 ? $0 : nil }
    }

    var udpPort: UInt16? {
        if case .udp(let port) = configuration.encapsulation { return port }
        return nil
    }
}
