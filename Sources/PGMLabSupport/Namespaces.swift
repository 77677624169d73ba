/// Network namespaces, veth pairs, bridges and routes for the lab and for root-only tests.
///
/// The rules every user shares: links carry addresses in 198.18.0.0/15 only (RFC 2544's benchmarking range, so
/// nothing built here can reach or impersonate a real network); namespaces carry names their creator chose
/// (with a per-run prefix), and the code that created one deletes it by that name, also after a failure half-way.
/// Every operation is all or nothing: a namespace or link whose setup fails is deleted before the error is
/// thrown, so the caller only has to delete what an operation returned from successfully. `Tools/netns` is the
/// same for shell and Python callers (Tools/bench, throughput.sh, instructions-per-packet).
public enum Namespaces {
    /// One end of a veth pair.
    public struct LinkEnd: Sendable {
        public enum Attachment: Sendable {
            /// An address with its prefix length, `198.18.1.10/24`.
            case address(String)
            /// A port of this bridge in the same namespace.
            case bridgePort(String)
        }

        public var namespace: String
        public var interface: String
        public var attachment: Attachment

        public init(namespace: String, interface: String, _ attachment: Attachment) {
            self.namespace = namespace
            self.interface = interface
            self.attachment = attachment
        }
    }

    /// An address or prefix outside 198.18.0.0/15, refused before anything is created.
    public struct OutsideLabRange: Error, CustomStringConvertible {
        public var address: String
        public var description: String { "\(address) is not inside 198.18.0.0/15, the only range labs may use" }
    }

    /// Whether `text` (`a.b.c.d` or `a.b.c.d/len`) lies inside 198.18.0.0/15; a prefix must be /15 or longer.
    public static func isLabAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        if parts.count == 2 {
            guard let length = Int(parts[1]), (15...32).contains(length) else { return false }
        }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard octets.count == 4, !octets.contains(nil) else { return false }
        return octets[0] == 198 && (octets[1] == 18 || octets[1] == 19)
    }

    /// Creates namespace `name` with loopback up and reverse-path filtering off (in labs with elements,
    /// multicast arrives on more than one path).
    public static func add(_ name: String) throws {
        try Shell.run(["ip", "netns", "add", name])
        do {
            try Shell.inNamespace(name, ["ip", "link", "set", "dev", "lo", "up"])
            for key in ["net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"] {
                try Shell.inNamespace(name, ["sysctl", "-qw", "\(key)=0"])
            }
        } catch {
            try? delete(name)
            throw error
        }
    }

    /// A bridge in `namespace` with IGMP snooping off, so that it floods every group to every port as a hub
    /// would (the labs' subnets), carrying `address` when given.
    public static func addBridge(_ bridge: String, in namespace: String, address: String? = nil) throws {
        if let address, !isLabAddress(address) { throw OutsideLabRange(address: address) }
        try Shell.inNamespace(
            namespace, ["ip", "link", "add", "name", bridge, "type", "bridge", "mcast_snooping", "0"])
        do {
            if let address { try Shell.inNamespace(namespace, ["ip", "addr", "add", address, "dev", bridge]) }
            try Shell.inNamespace(namespace, ["ip", "link", "set", "dev", bridge, "up"])
        } catch {
            _ = try? Shell.inNamespace(namespace, ["ip", "link", "del", "dev", bridge])
            throw error
        }
    }

    /// A veth pair created straight into both namespaces (so interface names need only be unique there, and
    /// nothing is ever left in the caller's namespace), each end addressed or made a bridge port, and up.
    public static func addLink(_ end: LinkEnd, _ peer: LinkEnd) throws {
        for case .address(let address) in [end.attachment, peer.attachment] where !isLabAddress(address) {
            throw OutsideLabRange(address: address)
        }
        try Shell.run([
            // `name` spelt out: ip reads a bare `a` or `b` as the `address` or `broadcast` keyword.
            "ip", "link", "add", "name", end.interface, "netns", end.namespace, "type", "veth", "peer", "name",
            peer.interface, "netns", peer.namespace,
        ])
        do {
            for side in [end, peer] {
                switch side.attachment {
                case .address(let address):
                    try Shell.inNamespace(side.namespace, ["ip", "addr", "add", address, "dev", side.interface])
                case .bridgePort(let bridge):
                    try Shell.inNamespace(
                        side.namespace, ["ip", "link", "set", "dev", side.interface, "master", bridge])
                }
                try Shell.inNamespace(side.namespace, ["ip", "link", "set", "dev", side.interface, "up"])
            }
        } catch {
            // Deleting one end of a veth pair deletes both.
            _ = try? Shell.inNamespace(end.namespace, ["ip", "link", "del", "dev", end.interface])
            throw error
        }
    }

    /// A unicast route to `prefix` through `gateway`, both inside the lab range.
    public static func addRoute(in namespace: String, to prefix: String, via gateway: String) throws {
        for address in [prefix, gateway] where !isLabAddress(address) { throw OutsideLabRange(address: address) }
        try Shell.inNamespace(namespace, ["ip", "route", "add", prefix, "via", gateway])
    }

    /// Deletes namespace `name`; its links, routes and nftables rules go with it.
    public static func delete(_ name: String) throws {
        try Shell.run(["ip", "netns", "delete", name])
    }
}
