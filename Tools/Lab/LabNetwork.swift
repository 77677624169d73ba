import Foundation
import PGMLabSupport
import PGMSimulation

/// The namespaces, links, addresses, routes and loss rules that realise a ``Topology`` on this kernel.
///
/// Every name carries the run's prefix (`pgmlab-<id>-`), so two labs never collide, and what was created is
/// recorded in a state file as it is created, so `down` (or a failed `up`) removes exactly that, by name.
struct LabNetwork: Codable {
    var id: String
    var topology: String
    /// Host name → namespace.
    var hostNamespaces: [String: String]
    /// Subnet name → the namespace holding its bridge.
    var subnetNamespaces: [String: String]
    /// Everything created, in creation order (namespaces only: deleting one deletes its links).
    var created: [String] = []

    static let namePrefix = "pgmlab-"
    static let stateDirectory = "/run/pgm-lab"

    init(id: String, topology: Topology) {
        self.id = id
        self.topology = topology.name
        hostNamespaces = Dictionary(
            uniqueKeysWithValues: topology.hosts.map { ($0.name, "\(Self.namePrefix)\(id)-\($0.name)") })
        subnetNamespaces = Dictionary(
            uniqueKeysWithValues: topology.subnets.map { ($0.name, "\(Self.namePrefix)\(id)-net-\($0.name)") })
    }

    static func newID() -> String {
        String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }

    var statePath: String { "\(Self.stateDirectory)/\(id).json" }

    func saveState() throws {
        try FileManager.default.createDirectory(atPath: Self.stateDirectory, withIntermediateDirectories: true)
        let data = try JSONEncoder().encode(self)
        try data.write(to: URL(fileURLWithPath: statePath))
    }

    static func loadAll() -> [LabNetwork] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            guard let data = FileManager.default.contents(atPath: "\(stateDirectory)/\(file)") else { return nil }
            return try? JSONDecoder().decode(LabNetwork.self, from: data)
        }
    }

    // MARK: Bringing it up

    /// Creates everything; on any failure removes what it had created and rethrows.
    mutating func up(_ lab: LabTopology, encapsulation: Topology.Encapsulation, log: (String) -> Void) throws {
        let topology = lab.topology
        do {
            try createNamespaces(topology)
            try createLinks(topology)
            if !lab.segmentationOffload { try segmentBeforeTheWire(topology) }
            try addRoutes(topology)
            try installLoss(topology, encapsulation: encapsulation)
            try installRateLimits(lab)
        } catch {
            log("lab \(id): setup failed, removing what was created: \(error)")
            down(log: log)
            throw error
        }
    }

    private mutating func createNamespace(_ name: String) throws {
        try Namespaces.add(name)
        created.append(name)
        try saveState()
    }

    private mutating func createNamespaces(_ topology: Topology) throws {
        for subnet in topology.subnets {
            let namespace = subnetNamespaces[subnet.name]!
            try createNamespace(namespace)
            try Namespaces.addBridge("br0", in: namespace)
        }
        for host in topology.hosts {
            let namespace = hostNamespaces[host.name]!
            try createNamespace(namespace)
            if host.run.program == .networkElement {
                // Unicast (NAKs, SPMRs) is routed by the kernel; multicast is forwarded by pgm-ne itself.
                try Shell.inNamespace(namespace, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            }
        }
    }

    /// One veth pair per host interface: the host end named after the subnet inside the host namespace, the
    /// other end a port of the subnet's bridge.
    private func createLinks(_ topology: Topology) throws {
        for host in topology.hosts {
            let namespace = hostNamespaces[host.name]!
            for interface in host.interfaces {
                let switchEnd = Self.switchPort(id: id, topology: topology, host: host.name, subnet: interface.subnet)!
                let subnetNamespace = subnetNamespaces[interface.subnet]!
                let prefixLength = topology.subnets.first { $0.name == interface.subnet }!.prefix.split(separator: "/")[
                    1]
                try Namespaces.addLink(
                    .init(
                        namespace: namespace, interface: interface.subnet,
                        .address("\(interface.address)/\(prefixLength)")),
                    .init(namespace: subnetNamespace, interface: switchEnd, .bridgePort("br0")))
            }
        }
    }

    /// `segmentation_offload: false` (``LabTopology/segmentationOffload``): a GSO message larger than one segment
    /// is cut into datagrams when it leaves the host (the kernel segments in software above `gso_max_segs`).
    private func segmentBeforeTheWire(_ topology: Topology) throws {
        for host in topology.hosts {
            for interface in host.interfaces {
                try Shell.inNamespace(
                    hostNamespaces[host.name]!, ["ip", "link", "set", "dev", interface.subnet, "gso_max_segs", "1"])
            }
        }
    }

    /// The bridge-port end of a host interface's veth: `pl<id>s<n>`, n counting interfaces in topology order.
    static func switchPort(id: String, topology: Topology, host: String, subnet: String) -> String? {
        var index = 0
        for candidate in topology.hosts {
            for interface in candidate.interfaces {
                index += 1
                if candidate.name == host && interface.subnet == subnet { return "pl\(id)s\(index)" }
            }
        }
        return nil
    }

    /// Where a rate-limited link direction's queue is: `in` on the bridge port towards the host (in the subnet's
    /// namespace, as a switch's output queue), `out` on the host's own interface.
    func queueDevice(_ link: LabTopology.RateLimitedLink, topology: Topology) -> (namespace: String, device: String) {
        switch link.direction {
        case .in:
            (
                subnetNamespaces[link.subnet]!,
                Self.switchPort(id: id, topology: topology, host: link.host, subnet: link.subnet)!
            )
        case .out: (hostNamespaces[link.host]!, link.subnet)
        }
    }

    /// A token bucket (`tc qdisc … tbf`, drop-tail) as the root qdisc of each rate-limited link direction. It sits
    /// below netfilter: `out` loss (nftables `output`/`forward`) drops before the queue, so lost packets take no
    /// bottleneck capacity; `in` loss (`input`) drops after it, as loss beyond a congested switch would. Both
    /// apply to PGM only, while the queue holds everything the link carries (TCP beside PGM shares it).
    private func installRateLimits(_ lab: LabTopology) throws {
        for link in lab.rateLimits {
            let (namespace, device) = queueDevice(link, topology: lab.topology)
            try Shell.inNamespace(
                namespace, ["tc", "qdisc", "replace", "dev", device, "root", "tbf"] + link.limit.tcArguments)
        }
    }

    /// `tc -s -j qdisc show` of one rate-limited link direction's device: its root tbf's counters.
    func queueStatistics(_ link: LabTopology.RateLimitedLink, topology: Topology) -> (
        packets: Int, bytes: Int, dropped: Int, overlimits: Int
    )? {
        let (namespace, device) = queueDevice(link, topology: topology)
        guard let text = try? Shell.inNamespace(namespace, ["tc", "-s", "-j", "qdisc", "show", "dev", device]),
            let data = text.data(using: .utf8),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
            let tbf = list.first(where: { $0["kind"] as? String == "tbf" })
        else { return nil }
        func int(_ key: String) -> Int { (tbf[key] as? NSNumber)?.intValue ?? 0 }
        return (int("packets"), int("bytes"), int("drops"), int("overlimits"))
    }

    /// Unicast routes to every subnet a host is not on, through the network elements on the shortest path, so
    /// NAKs and SPMRs reach their next PGM hop.
    private func addRoutes(_ topology: Topology) throws {
        let elements = topology.hosts.filter { $0.run.program == .networkElement }
        for host in topology.hosts {
            // Breadth-first over subnets; each newly reached subnet remembers the first hop's address.
            var firstHop: [String: String?] = [:]
            var frontier: [String] = []
            for interface in host.interfaces {
                firstHop[interface.subnet] = .some(nil)
                frontier.append(interface.subnet)
            }
            while !frontier.isEmpty {
                var next: [String] = []
                for subnet in frontier {
                    for element in elements where element.name != host.name {
                        guard let entry = element.interfaces.first(where: { $0.subnet == subnet }) else { continue }
                        let hop = firstHop[subnet]! ?? entry.address
                        for other in element.interfaces where firstHop[other.subnet] == nil {
                            firstHop[other.subnet] = .some(hop)
                            next.append(other.subnet)
                        }
                    }
                }
                frontier = next
            }
            let namespace = hostNamespaces[host.name]!
            for subnet in topology.subnets {
                guard let hop = firstHop[subnet.name], let address = hop else { continue }
                try Namespaces.addRoute(in: namespace, to: subnet.prefix, via: address)
            }
        }
    }

    /// Random drop with nftables (`numgen random`): the kernel here has no netem. Only PGM is dropped (IP
    /// protocol 113 and UDP), never ARP or IGMP, so joins and neighbour discovery are not the thing tested.
    private func installLoss(_ topology: Topology, encapsulation: Topology.Encapsulation) throws {
        for host in topology.hosts {
            var rules: [String] = []
            for interface in host.interfaces {
                if let rate = interface.loss?.in?.rate, rate > 0 {
                    rules.append(
                        "add rule inet pgmlab input iifname \"\(interface.subnet)\" \(Self.pgmMatch) numgen random mod 10000 < \(Int((rate * 10000).rounded())) counter drop"
                    )
                    rules.append(
                        "add rule inet pgmlab forward iifname \"\(interface.subnet)\" \(Self.pgmMatch) numgen random mod 10000 < \(Int((rate * 10000).rounded())) counter drop"
                    )
                }
                if let rate = interface.loss?.out?.rate, rate > 0 {
                    rules.append(
                        "add rule inet pgmlab output oifname \"\(interface.subnet)\" \(Self.pgmMatch) numgen random mod 10000 < \(Int((rate * 10000).rounded())) counter drop"
                    )
                    rules.append(
                        "add rule inet pgmlab forward oifname \"\(interface.subnet)\" \(Self.pgmMatch) numgen random mod 10000 < \(Int((rate * 10000).rounded())) counter drop"
                    )
                }
            }
            let hasBursts = host.interfaces.contains {
                $0.loss?.in?.burstEvery != nil || $0.loss?.out?.burstEvery != nil
            }
            guard !rules.isEmpty || hasBursts else { continue }
            let script = """
                add table inet pgmlab
                add chain inet pgmlab input { type filter hook input priority 0; }
                add chain inet pgmlab output { type filter hook output priority 0; }
                add chain inet pgmlab forward { type filter hook forward priority 0; }
                \(rules.joined(separator: "\n"))

                """
            let path = NSTemporaryDirectory() + "pgmlab-\(id)-\(host.name).nft"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Shell.inNamespace(hostNamespaces[host.name]!, ["nft", "-f", path])
        }
    }

    static let pgmMatch = "meta l4proto { 113, 17 }"

    /// Turns a burst on or off: everything PGM on the link is dropped while it is on.
    func setBurst(host: String, interface: String, direction: String, on: Bool) throws {
        let namespace = hostNamespaces[host]!
        let chain = direction == "in" ? "input" : "output"
        let field = direction == "in" ? "iifname" : "oifname"
        let comment = "burst-\(interface)-\(direction)"
        if on {
            try Shell.inNamespace(
                namespace,
                [
                    "nft", "insert", "rule", "inet", "pgmlab", chain, field, "\"\(interface)\"", "meta", "l4proto", "{",
                    "113,", "17", "}", "counter", "drop", "comment", "\"\(comment)\"",
                ])
        } else {
            let listing = try Shell.inNamespace(namespace, ["nft", "-a", "list", "chain", "inet", "pgmlab", chain])
            for line in listing.split(separator: "\n") where line.contains(comment) {
                if let handle = line.split(separator: " ").last {
                    try Shell.inNamespace(
                        namespace, ["nft", "delete", "rule", "inet", "pgmlab", chain, "handle", String(handle)],
                        allowFailure: true)
                }
            }
        }
    }

    // MARK: Taking it down

    /// Deletes every namespace this lab created, by name (their veths and rules go with them), and the state file.
    mutating func down(log: (String) -> Void) {
        for namespace in created.reversed() {
            do {
                try Namespaces.delete(namespace)
            } catch {
                log("lab \(id): could not delete namespace \(namespace): \(error)")
            }
        }
        created.removeAll()
        try? FileManager.default.removeItem(atPath: statePath)
    }
}
