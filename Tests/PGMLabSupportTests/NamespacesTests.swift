import Foundation
import PGMLabSupport
import Testing

@Suite struct NamespacesTests {
    @Test func labAddressesAreInsideTheBenchmarkingRange() {
        for inside in ["198.18.0.1", "198.19.255.254", "198.18.1.10/24", "198.18.0.0/15", "198.19.3.0/32"] {
            #expect(Namespaces.isLabAddress(inside), "\(inside)")
        }
        for outside in [
            "198.17.0.1", "198.20.0.1", "10.0.0.1/24", "192.168.1.1", "198.18.0.0/14", "198.18.1.1/33", "198.18.1",
            "198.18.1.1.1", "198.18.1.256", "198.18.1.1/", "", "lo",
        ] {
            #expect(!Namespaces.isLabAddress(outside), "\(outside)")
        }
    }

    /// The range is checked before any command runs: these namespaces do not exist, so a check made after
    /// `ip link add` would fail with a command error instead (and without root every command fails).
    @Test func addressesOutsideTheRangeAreRefusedBeforeAnythingIsCreated() {
        let missing = "pgm-no-such-namespace"
        #expect(throws: Namespaces.OutsideLabRange.self) {
            try Namespaces.addLink(
                .init(namespace: missing, interface: "a", .address("10.0.0.1/24")),
                .init(namespace: missing, interface: "b", .bridgePort("br0")))
        }
        #expect(throws: Namespaces.OutsideLabRange.self) {
            try Namespaces.addBridge("br0", in: missing, address: "192.168.0.1/24")
        }
        #expect(throws: Namespaces.OutsideLabRange.self) {
            try Namespaces.addRoute(in: missing, to: "198.18.2.0/24", via: "172.16.0.1")
        }
    }

    static var canCreateNamespaces: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    static func namespaceExists(_ name: String) throws -> Bool {
        try Shell.run(["ip", "netns", "list"]).split(separator: "\n").contains {
            $0.split(separator: " ").first == Substring(name)
        }
    }

    /// A subnet as the lab builds it (a bridge namespace and a host on it, a route through the host), then
    /// taken down: afterwards neither namespace exists. A link to a missing bridge fails whole: its veth is gone.
    /// The host's interface is called `a`, as in the lab's topologies, which ip would read as a keyword.
    @Test(.enabled(if: canCreateNamespaces, "needs root and ip"))
    func aSubnetIsBuiltAndRemovedByName() throws {
        let prefix = "pgmlst\(getpid() % 10000)-"
        let host = prefix + "h"
        let subnet = prefix + "n"
        var created: [String] = []
        defer { for name in created.reversed() { try? Namespaces.delete(name) } }
        try Namespaces.add(subnet)
        created.append(subnet)
        try Namespaces.add(host)
        created.append(host)
        try Namespaces.addBridge("br0", in: subnet, address: "198.18.250.254/24")
        try Namespaces.addLink(
            .init(namespace: host, interface: "a", .address("198.18.250.1/24")),
            .init(namespace: subnet, interface: "pls1", .bridgePort("br0")))
        try Namespaces.addRoute(in: host, to: "198.18.251.0/24", via: "198.18.250.254")
        #expect(try Shell.inNamespace(host, ["ip", "-4", "addr", "show", "dev", "a"]).contains("198.18.250.1/24"))
        #expect(try Shell.inNamespace(subnet, ["ip", "link", "show", "dev", "pls1"]).contains("master br0"))
        #expect(try Shell.inNamespace(host, ["ip", "route"]).contains("198.18.251.0/24 via 198.18.250.254"))

        #expect(throws: Shell.Failure.self) {
            try Namespaces.addLink(
                .init(namespace: host, interface: "dangling", .address("198.18.252.1/24")),
                .init(namespace: subnet, interface: "pls2", .bridgePort("missing0")))
        }
        #expect(
            try Shell.inNamespace(host, ["ip", "link", "show", "dev", "dangling"], allowFailure: true)
                .contains("does not exist"))

        for name in created.reversed() { try Namespaces.delete(name) }
        created.removeAll()
        #expect(try !Self.namespaceExists(host))
        #expect(try !Self.namespaceExists(subnet))
    }
}
