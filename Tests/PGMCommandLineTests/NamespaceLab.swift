import Foundation

/// Two network namespaces joined by a veth pair, addressed in 198.18.0.0/15, for tests that run as root.
/// Names carry a per-run prefix; ``tearDown()`` deletes both namespaces by name (and with them the veth pair).
struct NamespaceLab {
    let prefix: String
    let subnet: Int
    var sourceNamespace: String { "\(prefix)s" }
    var receiverNamespace: String { "\(prefix)r" }
    var sourceAddress: String { "198.18.\(subnet).1" }
    var receiverAddress: String { "198.18.\(subnet).2" }

    init() {
        let tag = String(UInt32.random(in: 0...0xFFFFFF), radix: 36)
        prefix = "pgm\(getpid() % 10000)\(tag)"
        subnet = Int.random(in: 1...250)
    }

    /// Creates the namespaces and the link; drops `lossPercent` of the multicast arriving at the receiver
    /// (nftables, random), so that repairs are needed.
    func setUp(lossPercent: Int) throws {
        let a = "\(prefix)a"
        let b = "\(prefix)b"
        try Self.run(["ip", "netns", "add", sourceNamespace])
        try Self.run(["ip", "netns", "add", receiverNamespace])
        try Self.run([
            "ip", "link", "add", a, "netns", sourceNamespace, "type", "veth", "peer", "name", b, "netns",
            receiverNamespace,
        ])
        try Self.run(["ip", "-n", sourceNamespace, "addr", "add", "\(sourceAddress)/24", "dev", a])
        try Self.run(["ip", "-n", receiverNamespace, "addr", "add", "\(receiverAddress)/24", "dev", b])
        for (namespace, link) in [(sourceNamespace, a), (receiverNamespace, b)] {
            try Self.run(["ip", "-n", namespace, "link", "set", link, "up"])
            try Self.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        }
        if lossPercent > 0 {
            let exec = ["ip", "netns", "exec", receiverNamespace, "nft"]
            try Self.run(exec + ["add", "table", "ip", "pgmloss"])
            try Self.run(exec + ["add chain ip pgmloss in { type filter hook prerouting priority 0 ; }"])
            try Self.run(
                exec + [
                    "add", "rule", "ip", "pgmloss", "in", "ip", "daddr", "239.192.0.0/16", "numgen", "random", "mod",
                    "100", "<", "\(lossPercent)", "drop",
                ])
        }
    }

    func tearDown() {
        _ = try? Self.run(["ip", "netns", "del", sourceNamespace])
        _ = try? Self.run(["ip", "netns", "del", receiverNamespace])
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var description: String
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(
                description: "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return process.terminationStatus
    }

    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
    }
}

/// More than two namespaces, for tests with several receivers or a network element: host namespaces joined by
/// veth pairs, point to point or into a bridge (`br0`, IGMP snooping off) inside one of them. Every namespace
/// name is fixed at `init`, so ``tearDown()`` deletes all of them by name whatever failed half-way.
struct NamespaceNetwork {
    let prefix: String
    let roles: [String]

    init(roles: [String]) {
        let tag = String(UInt32.random(in: 0...0xFFFFFF), radix: 36)
        prefix = "pgm\(getpid() % 10000)\(tag)"
        self.roles = roles
    }

    func namespace(_ role: String) -> String {
        precondition(roles.contains(role), "\(role) is not a role of this network")
        return prefix + role
    }

    private func exec(_ role: String, _ arguments: [String]) throws {
        try NamespaceLab.run(["ip", "netns", "exec", namespace(role)] + arguments)
    }

    /// Creates every namespace, loopback up, reverse-path filtering off (multicast arrives on several paths).
    func setUp() throws {
        for role in roles {
            try NamespaceLab.run(["ip", "netns", "add", namespace(role)])
            try exec(role, ["ip", "link", "set", "lo", "up"])
            for key in ["net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"] {
                try exec(role, ["sysctl", "-qw", "\(key)=0"])
            }
        }
    }

    /// A bridge `br0` in `role`, carrying `address` (CIDR) when given.
    func addBridge(in role: String, address: String?) throws {
        try exec(role, ["ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"])
        if let address { try exec(role, ["ip", "addr", "add", address, "dev", "br0"]) }
        try exec(role, ["ip", "link", "set", "br0", "up"])
    }

    /// A veth pair: `name` in `role` with `address` (CIDR), its peer `peerName` in `peer`, with `peerAddress`
    /// or, when `nil`, made a port of the peer's `br0`. Names are per namespace, so they need not be unique.
    func addLink(
        _ role: String, _ name: String, address: String, to peer: String, _ peerName: String, peerAddress: String?
    ) throws {
        try NamespaceLab.run([
            "ip", "link", "add", name, "netns", namespace(role), "type", "veth", "peer", "name", peerName, "netns",
            namespace(peer),
        ])
        try exec(role, ["ip", "addr", "add", address, "dev", name])
        try exec(role, ["ip", "link", "set", name, "up"])
        if let peerAddress {
            try exec(peer, ["ip", "addr", "add", peerAddress, "dev", peerName])
        } else {
            try exec(peer, ["ip", "link", "set", peerName, "master", "br0"])
        }
        try exec(peer, ["ip", "link", "set", peerName, "up"])
    }

    func addRoute(in role: String, to prefix: String, via gateway: String) throws {
        try exec(role, ["ip", "route", "add", prefix, "via", gateway])
    }

    func enableForwarding(in role: String) throws {
        try exec(role, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    }

    /// Drops `percent` of the group traffic (239.192.0.0/16) at random: arriving in `role` (`prerouting`) or
    /// leaving it through `interface` (`output`).
    func dropMulticast(in role: String, percent: Int, leavingThrough interface: String? = nil) throws {
        try drop(
            in: role, percent: percent, hook: interface == nil ? "prerouting" : "output",
            match: (interface.map { ["oifname", $0] } ?? []) + ["ip", "daddr", "239.192.0.0/16"])
    }

    private func drop(in role: String, percent: Int, hook: String, match: [String]) throws {
        try exec(role, ["nft", "add", "table", "ip", "pgmloss"])
        try exec(role, ["nft", "add chain ip pgmloss \(hook) { type filter hook \(hook) priority 0 ; }"])
        try exec(
            role,
            ["nft", "add", "rule", "ip", "pgmloss", hook] + match + [
                "numgen", "random", "mod", "100", "<", "\(percent)", "drop",
            ])
    }

    func tearDown() {
        for role in roles { _ = try? NamespaceLab.run(["ip", "netns", "del", namespace(role)]) }
    }
}
