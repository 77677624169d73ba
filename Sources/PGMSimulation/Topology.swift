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
    /// What the source sends; required unless the hosts are `pgm-chat` members (then ``chat`` says what they send).
    public var traffic: Traffic?
    /// For a topology of `pgm-chat` members: what each sends and in which order they deliver.
    public var chat: Chat?
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
        /// A member of an ordered group (Docs/ordering.md): it sends and receives; ``Chat`` gives its input.
        case chat = "pgm-chat"
    }

    /// The `chat:` block of a topology of `pgm-chat` members: every member sends `messages` lines of `size` bytes,
    /// all at once from the start, in the group's `order`. The lab judges the ordering invariants on their logs.
    public struct Chat: Codable, Hashable, Sendable {
        /// Lines each member sends.
        public var messages: Int
        /// Bytes per line, newline excluded (the line names its sender and number, padding fills the rest).
        public var size: Int
        /// `pgm-chat --order`: one of ``Chat/orders``.
        public var order: String
        /// `pgm-chat --safe`.
        public var safe: Bool?
        /// `pgm-chat --members`; the number of `pgm-chat` hosts when absent.
        public var members: Int?
        /// `pgm-chat --rate` (bits/s, K/M/G).
        public var rate: String?
        /// SIGKILL one member mid-run.
        public var kill: Kill?
        /// Seconds between two lines of one member: the lines are fed through a pipe at this pace (starting a
        /// second in, once the group formed), so that each line's latency is its own rather than its wait behind
        /// the others. Absent: every line is on standard input from the start (throughput).
        public var interval: Double?

        public struct Kill: Codable, Hashable, Sendable {
            /// A `pgm-chat` host, or ``Chat/firstInView``: the member a survivor's `formed` event lists first
            /// (the smallest member id: the sequencer of total-sequencer), found at run time.
            public var host: String
            /// Seconds after the members started.
            public var after: Double

            public init(host: String, after: Double) {
                self.host = host
                self.after = after
            }
        }

        /// `pgm-chat --order` values (`PGMOrdering.OrderingMode`, which this layer does not import).
        public static let orders = ["fifo", "causal", "total-sequencer", "total-isis", "total-token"]
        /// The `kill.host` that names the first member of the formed view rather than a host (13 characters: no
        /// host name is that long).
        public static let firstInView = "first-in-view"
        /// "m3 417 " with a five-digit number at most: the line's shortest useful size.
        public static let minimumSize = 16
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
        let members = hosts.filter { $0.run.program == .chat }
        if !members.isEmpty || chat != nil {
            try validateChat(members: members.map(\.name), fail: fail)
            return
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
        guard let traffic else { try fail("traffic: is needed (bytes the source sends)"); return }
        guard traffic.bytes > 0 else { try fail("traffic.bytes must be positive"); return }
    }

    /// A chat topology: `pgm-chat` members (and elements) only, a `chat:` block that makes sense, no source checks.
    private func validateChat(members: [String], fail: (String) throws(ValidationError) -> Void) throws(ValidationError)
    {
        guard let chat else { try fail("pgm-chat hosts need a `chat:` block"); return }
        guard members.count >= 2 else { try fail("a chat needs at least two pgm-chat hosts"); return }
        if let other = hosts.first(where: { $0.run.program != .chat && $0.run.program != .networkElement }) {
            try fail("host \(other.name): a chat topology holds only pgm-chat members and pgm-ne elements")
        }
        guard traffic == nil else { try fail("a chat topology has no traffic: (chat: says what members send)"); return }
        guard checks.isEmpty else {
            try fail("a chat topology's checks are the ordering invariants, judged on every run: use `checks: []`")
            return
        }
        guard Chat.orders.contains(chat.order) else {
            try fail("chat.order \(chat.order): use one of \(Chat.orders.joined(separator: ", "))"); return
        }
        guard (1...1_000_000).contains(chat.messages) else { try fail("chat.messages must be in 1...1000000"); return }
        guard (Chat.minimumSize...60_000).contains(chat.size) else {
            try fail("chat.size must be in \(Chat.minimumSize)...60000 bytes"); return
        }
        if let count = chat.members, !(2...64).contains(count) { try fail("chat.members must be in 2...64") }
        if let interval = chat.interval, !(interval > 0 && interval <= 10) {
            try fail("chat.interval must be seconds in (0, 10]")
        }
        if let kill = chat.kill {
            guard kill.host == Chat.firstInView || members.contains(kill.host) else {
                try fail("chat.kill.host \(kill.host) is not a pgm-chat host (nor \(Chat.firstInView))"); return
            }
            guard members.count >= 3 else {
                try fail("chat.kill needs three members or more (two must survive)"); return
            }
            guard kill.after.isFinite, kill.after >= 0 else { try fail("chat.kill.after must be seconds ≥ 0"); return }
        }
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
