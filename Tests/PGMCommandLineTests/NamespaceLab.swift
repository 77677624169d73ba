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
        try Self.run(["ip", "link", "add", a, "netns", sourceNamespace, "type", "veth", "peer", "name", b, "netns", receiverNamespace])
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
            try Self.run(exec + ["add", "rule", "ip", "pgmloss", "in", "ip", "daddr", "239.192.0.0/16", "numgen", "random", "mod", "100", "<", "\(lossPercent)", "drop"])
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
            throw CommandFailed(description: "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return process.terminationStatus
    }

    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
    }
}
