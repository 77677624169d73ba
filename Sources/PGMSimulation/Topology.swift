import PGMWire

/// A declarative lab: subnets, hosts with interfaces on them, loss per link direction, which program runs where,
/// what is sent, and what must hold at the end. `Topologies/*.yaml` hold them (format in `Topologies/README.md`);
/// the namespace lab (`Tools/lab`) and the simulator both run them.
///
/// Plain `Codable` values with no parser of their own: the lab tool decodes YAML into them.
public struct Topology: Codable, Hashable, Sendable {
    public var name: String
    public var description: String?
    /// The multicast group, in 239.192.0.0/16.
    public var group: String
    /// The PGM data-destination port.
    public var port: UInt16
    /// `udp` or `native`; the lab's `--native` / `--udp` overrides it.
    public var encapsulation: Encapsulation?
    public var subnets: [Subnet]
    public var hosts: [Host]
    public var traffic: Traffic
    public var checks: [Check]
    /// Seconds the whole run may take before it is declared failed.
    public var timeout: Int?

    public enum Encapsulation: String, Codable, Hashable, Sendable {
        case udp
        case native
    }

    /// A LAN segment with an IPv4 prefix in 198.18.0.0/15.
    public struct Subnet: Codable, Hashable, Sendable {
        public var name: String
        /// `198.18.1.0/24` style.
        public var prefix: String
    }

    public struct Host: Codable, Hashable, Sendable {
        public var name: String
        public var interfaces: [Interface]
        public var run: Program
    }

    public struct Interface: Codable, Hashable, Sendable {
        public var subnet: String
        public var address: String
        /// Loss on this host's link, per direction.
        public var loss: DirectionalLoss?
    }

    /// `in`: packets from the subnet to the host; `out`: packets the host sends onto the subnet.
    public struct DirectionalLoss: Codable, Hashable, Sendable {
        public var `in`: Loss?
        public var out: Loss?
    }

    /// Random independent drops at `rate` (0…1), plus optional bursts: every `burstEvery` seconds, everything
    /// is dropped for `burstLength` seconds.
    public struct Loss: Codable, Hashable, Sendable {
        public var rate: Double?
        public var burstEvery: Double?
        public var burstLength: Double?

        enum CodingKeys: String, CodingKey {
            case rate
            case burstEvery = "burst_every"
            case burstLength = "burst_length"
        }
    }

    public struct Program: Codable, Hashable, Sendable {
        public var program: Role
        /// For `pgm-ne`: the subnet of the upstream interface; the others are downstream.
        public var upstream: String?
        /// Extra command-line arguments, appended as given.
        public var args: [String]?
        /// Seconds after the start of the run (receivers started late join mid-stream).
        public var start: Double?
    }

    public enum Role: String, Codable, Hashable, Sendable {
        case source = "pgm-source"
        case receiver = "pgm-recv"
        case networkElement = "pgm-ne"
        case dlr = "pgm-recv-dlr"
        case openPGMSource = "openpgm-source"
        case openPGMReceiver = "openpgm-recv"
    }

    public struct Traffic: Codable, Hashable, Sendable {
        /// Bytes the source sends (random data).
        public var bytes: Int
        /// Rate limit in bits/s, with K/M/G suffixes (`20M`).
        public var rate: String?
    }

    /// What must hold at the end of a run.
    public enum Check: Codable, Hashable, Sendable {
        /// Every receiver's output has the source's sha256.
        case receiversMatchSource
        /// NAKs the source received ≤ NAKs the receivers sent (elimination never multiplies NAKs).
        case sourceNAKsAtMostReceiverNAKs
        /// No RDATA was captured on these subnets (constrained repairs).
        case noRepairsOn([String])
        /// No receiver reported unrecoverable loss.
        case noUnrecoverableLoss
        /// Sequences named by NAKs reaching the source (own sequence plus OPT_NAK_LIST entries) per distinct lost
        /// sequence ≤ the limit: a loss shared by a whole subtree should cost the source about one request.
        case sourceNAKSequencesPerLostAtMost(Double)
        /// RDATA packets the source sent per distinct lost sequence ≤ the limit: about one repair per loss.
        case sourceRDATAPerLostAtMost(Double)
        /// On every subnet with a receiver, p99 of the repair latency (first sign of a loss → first RDATA,
        /// `pgm-dump --stats` `detect_to_rdata`) ≤ the limit in milliseconds.
        case repairLatencyP99AtMostMilliseconds(Double)

        /// The YAML name of each check that takes a value (`- name: value`).
        enum Key: String, CodingKey, CaseIterable {
            case noRepairsOn = "no_rdata_on"
            case sourceNAKSequencesPerLostAtMost = "source_nak_sequences_per_lost_at_most"
            case sourceRDATAPerLostAtMost = "source_rdata_per_lost_at_most"
            case repairLatencyP99AtMostMilliseconds = "repair_latency_p99_at_most_ms"
        }

        /// The name the check has in a topology file.
        public var name: String {
            switch self {
            case .receiversMatchSource: "receivers_match_source"
            case .sourceNAKsAtMostReceiverNAKs: "source_naks_at_most_receiver_naks"
            case .noUnrecoverableLoss: "no_unrecoverable_loss"
            case .noRepairsOn: Key.noRepairsOn.rawValue
            case .sourceNAKSequencesPerLostAtMost: Key.sourceNAKSequencesPerLostAtMost.rawValue
            case .sourceRDATAPerLostAtMost: Key.sourceRDATAPerLostAtMost.rawValue
            case .repairLatencyP99AtMostMilliseconds: Key.repairLatencyP99AtMostMilliseconds.rawValue
            }
        }

        public init(from decoder: any Decoder) throws {
            if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
                switch name {
                case "receivers_match_source": self = .receiversMatchSource
                case "source_naks_at_most_receiver_naks": self = .sourceNAKsAtMostReceiverNAKs
                case "no_unrecoverable_loss": self = .noUnrecoverableLoss
                default:
                    throw DecodingError.dataCorruptedError(
                        in: single, debugDescription: "unknown check '\(name)'")
                }
                return
            }
            let container = try decoder.container(keyedBy: Key.self)
            guard container.allKeys.count == 1, let key = container.allKeys.first else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: decoder.codingPath,
                        debugDescription: "a check is one of: \(Key.allCases.map(\.rawValue).joined(separator: ", ")), "
                            + "or a plain name; one per list item"))
            }
            switch key {
            case .noRepairsOn: self = .noRepairsOn(try container.decode([String].self, forKey: key))
            case .sourceNAKSequencesPerLostAtMost:
                self = .sourceNAKSequencesPerLostAtMost(try container.decode(Double.self, forKey: key))
            case .sourceRDATAPerLostAtMost:
                self = .sourceRDATAPerLostAtMost(try container.decode(Double.self, forKey: key))
            case .repairLatencyP99AtMostMilliseconds:
                self = .repairLatencyP99AtMostMilliseconds(try container.decode(Double.self, forKey: key))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .receiversMatchSource, .sourceNAKsAtMostReceiverNAKs, .noUnrecoverableLoss:
                var single = encoder.singleValueContainer()
                try single.encode(name)
            case .noRepairsOn(let subnets):
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(subnets, forKey: .noRepairsOn)
            case .sourceNAKSequencesPerLostAtMost(let limit):
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(limit, forKey: .sourceNAKSequencesPerLostAtMost)
            case .sourceRDATAPerLostAtMost(let limit):
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(limit, forKey: .sourceRDATAPerLostAtMost)
            case .repairLatencyP99AtMostMilliseconds(let limit):
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(limit, forKey: .repairLatencyP99AtMostMilliseconds)
            }
        }
    }
}

extension Topology {
    /// A problem that makes a topology unusable, found before anything is created.
    public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Checks names, references and addresses: every interface on a declared subnet with an address inside its
    /// prefix, subnets inside 198.18.0.0/15, the group inside 239.192.0.0/16, exactly one source, names short
    /// enough for interface names.
    public func validate() throws(ValidationError) {
        func fail(_ text: String) throws(ValidationError) { throw ValidationError(description: "\(name): \(text)") }
        guard let group = IPv4Prefix.parseAddress(group), group >> 16 == 0xEFC0 else {
            try fail("group \(self.group) is not in 239.192.0.0/16")
            return
        }
        var prefixes: [String: IPv4Prefix] = [:]
        for subnet in subnets {
            guard let prefix = IPv4Prefix(subnet.prefix) else {
                try fail("subnet \(subnet.name): bad prefix \(subnet.prefix)"); return
            }
            guard prefix.length >= 15, prefix.network >> 17 == 0xC612 >> 1 else {
                try fail("subnet \(subnet.name): \(subnet.prefix) is not inside 198.18.0.0/15")
                return
            }
            guard Self.isShortName(subnet.name) else {
                try fail("subnet name '\(subnet.name)': use 1-12 of [a-z0-9-]"); return
            }
            guard prefixes.updateValue(prefix, forKey: subnet.name) == nil else {
                try fail("subnet \(subnet.name) declared twice"); return
            }
        }
        var hostNames: Set<String> = []
        var addresses: Set<String> = []
        for host in hosts {
            guard Self.isShortName(host.name) else {
                try fail("host name '\(host.name)': use 1-12 of [a-z0-9-]"); return
            }
            guard hostNames.insert(host.name).inserted else { try fail("host \(host.name) declared twice"); return }
            guard !host.interfaces.isEmpty else { try fail("host \(host.name) has no interface"); return }
            for interface in host.interfaces {
                guard let prefix = prefixes[interface.subnet] else {
                    try fail("host \(host.name): unknown subnet \(interface.subnet)")
                    return
                }
                guard let address = IPv4Prefix.parseAddress(interface.address), prefix.contains(address) else {
                    try fail("host \(host.name): \(interface.address) is not in \(interface.subnet) (\(prefix))")
                    return
                }
                guard addresses.insert(interface.address).inserted else {
                    try fail("address \(interface.address) used twice"); return
                }
                for loss in [interface.loss?.in, interface.loss?.out].compactMap({ $0 }) {
                    if let rate = loss.rate, !(0...1).contains(rate) {
                        try fail("host \(host.name): loss rate \(rate) outside 0…1")
                    }
                    if (loss.burstEvery == nil) != (loss.burstLength == nil) {
                        try fail("host \(host.name): burst_every and burst_length go together")
                    }
                }
            }
            if host.run.program == .networkElement {
                guard let upstream = host.run.upstream, host.interfaces.contains(where: { $0.subnet == upstream })
                else {
                    try fail("network element \(host.name) needs `upstream:` naming one of its subnets")
                    return
                }
                guard host.interfaces.count >= 2 else {
                    try fail("network element \(host.name) needs two interfaces"); return
                }
            } else if host.interfaces.count != 1 {
                try fail("host \(host.name): only network elements have several interfaces")
            }
        }
        let sources = hosts.filter { $0.run.program.sends }
        guard sources.count == 1 else { try fail("exactly one source host is needed, found \(sources.count)"); return }
        for check in checks {
            switch check {
            case .noRepairsOn(let names):
                for subnet in names where prefixes[subnet] == nil {
                    try fail("check no_rdata_on: unknown subnet \(subnet)")
                }
            case .sourceNAKSequencesPerLostAtMost(let limit), .sourceRDATAPerLostAtMost(let limit):
                guard limit.isFinite, limit >= 0 else {
                    try fail("check \(check.name): \(limit) is not a ratio ≥ 0")
                    return
                }
            case .repairLatencyP99AtMostMilliseconds(let limit):
                guard limit.isFinite, limit > 0 else {
                    try fail("check \(check.name): \(limit) is not a time > 0 ms")
                    return
                }
                guard hosts.contains(where: { $0.run.program.receives }) else {
                    try fail("check \(check.name): no subnet has a receiver")
                    return
                }
            case .receiversMatchSource, .sourceNAKsAtMostReceiverNAKs, .noUnrecoverableLoss:
                break
            }
        }
        guard traffic.bytes > 0 else { try fail("traffic.bytes must be positive"); return }
    }

    static func isShortName(_ name: String) -> Bool {
        (1...12).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}

/// An IPv4 prefix such as `198.18.1.0/24`.
public struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    public var network: UInt32
    public var length: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = Self.parseAddress(String(parts[0])), let length = Int(parts[1]),
            (0...32).contains(length)
        else { return nil }
        let mask: UInt32 = length == 0 ? 0 : ~0 << (32 - UInt32(length))
        guard address & ~mask == 0 else { return nil }
        self.network = address
        self.length = length
    }

    public func contains(_ address: UInt32) -> Bool {
        let mask: UInt32 = length == 0 ? 0 : ~0 << (32 - UInt32(length))
        return address & mask == network
    }

    static func parseAddress(_ text: String) -> UInt32? { IPv4Address(text)?.rawValue }

    public var description: String {
        "\(network >> 24).\(network >> 16 & 0xFF).\(network >> 8 & 0xFF).\(network & 0xFF)/\(length)"
    }
}
