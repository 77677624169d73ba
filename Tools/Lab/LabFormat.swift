import Foundation
import PGMCommandLine
import PGMSimulation
import Yams

/// A topology file as the namespace lab reads it: the ``Topology`` the simulator shares, plus what only the lab
/// realises: rate limits per link direction (a `tc` token bucket, drop-tail) and the congestion checks judged on
/// them. These live here rather than in `PGMSimulation.Topology` because the simulator has no queueing link
/// model to give them a meaning yet; `Tools/lab simulate` says so and judges the rest.
struct LabTopology {
    var topology: Topology
    /// Every rate-limited link direction, in topology order.
    var rateLimits: [RateLimitedLink]
    var congestionChecks: [CongestionCheck]
    /// `segmentation_offload: false`: every host interface segments UDP GSO sends itself (`gso_max_segs 1`), so
    /// the bridge, the captures and the loss rules see each datagram. With GSO (the default, as the programs run
    /// elsewhere) a `loss` rule drops a whole GSO message of up to 16 datagrams at once: 2 % of messages, bursts
    /// rather than 2 % independent loss. The FEC topologies need the independent loss they are about.
    var segmentationOffload = true

    /// One direction of one host interface with a rate limit: `in` is subnet → host (the bridge port towards the
    /// host, so the queue sits where a switch's would), `out` is host → subnet (the host's own interface).
    struct RateLimitedLink: Hashable {
        var host: String
        var subnet: String
        var direction: Direction
        var limit: RateLimit

        enum Direction: String, Hashable { case `in`, out }

        /// `host/subnet in` as summaries print it.
        var label: String { "\(host)/\(subnet) \(direction.rawValue)" }
    }

    /// `{rate: 50M, burst: 64kb, limit: 256kb}`: tc's token bucket filter (`tbf`), a drop-tail queue of `limit`
    /// bytes drained at `rate` with bursts up to `burst` bytes. tbf because this kernel has no netem.
    struct RateLimit: Decodable, Hashable {
        /// Bits per second (K/M/G suffixes, as `--rate`).
        var rate: String
        /// Bytes (suffixes b, k/kb, m/mb: 1024-based, as tc reads them).
        var burst: String
        var limit: String

        var bitsPerSecond: Int? { Rate(argument: rate)?.bitsPerSecond }
        var burstBytes: Int? { Self.bytes(burst) }
        var limitBytes: Int? { Self.bytes(limit) }

        /// `64kb` → 65536. Plain numbers are bytes.
        static func bytes(_ text: String) -> Int? {
            let lowered = text.lowercased()
            let units: [(String, Int)] = [("kb", 1024), ("mb", 1 << 20), ("k", 1024), ("m", 1 << 20), ("b", 1)]
            for (suffix, factor) in units where lowered.hasSuffix(suffix) {
                guard let value = Int(lowered.dropLast(suffix.count)), value >= 0 else { return nil }
                return value.multipliedReportingOverflow(by: factor).overflow ? nil : value * factor
            }
            return Int(lowered).flatMap { $0 >= 0 ? $0 : nil }
        }

        /// The `tc qdisc` arguments after `tbf`, in plain units so nothing depends on tc's suffix rules.
        var tcArguments: [String] {
            ["rate", "\(bitsPerSecond ?? 0)bit", "burst", String(burstBytes ?? 0), "limit", String(limitBytes ?? 0)]
        }
    }

    /// The part of the file only the lab reads: `rate_limit` on interfaces (decoding ignores everything else).
    private struct Overlay: Decodable {
        struct Host: Decodable {
            var name: String
            var interfaces: [Interface]
        }
        struct Interface: Decodable {
            var subnet: String
            var rateLimit: Directional?
            enum CodingKeys: String, CodingKey {
                case subnet
                case rateLimit = "rate_limit"
            }
        }
        struct Directional: Decodable {
            var `in`: RateLimit?
            var out: RateLimit?
        }
        var hosts: [Host]
        var segmentationOffload: Bool?
        enum CodingKeys: String, CodingKey {
            case hosts
            case segmentationOffload = "segmentation_offload"
        }
    }

    /// Parses a topology file: the congestion checks are taken out of `checks` (the shared decoder knows only
    /// its own), the rest decodes as ``Topology``, and the rate limits come from the same document.
    static func parse(_ text: String) throws -> LabTopology {
        guard var node = try Yams.compose(yaml: text), case .mapping(var mapping) = node else {
            throw LabFormatError(description: "a topology is a YAML mapping")
        }
        var congestionChecks: [CongestionCheck] = []
        if let checks = mapping["checks"], case .sequence(var sequence) = checks {
            var kept: [Node] = []
            for item in sequence {
                if case .mapping(let entry) = item, entry.count == 1, let key = entry.keys.first?.string,
                    CongestionCheck.Key(rawValue: key) != nil
                {
                    congestionChecks.append(try YAMLDecoder().decode(CongestionCheck.self, from: item))
                } else {
                    kept.append(item)
                }
            }
            sequence.replaceSubrange(sequence.startIndex..<sequence.endIndex, with: kept)
            mapping["checks"] = .sequence(sequence)
            node = .mapping(mapping)
        }
        let topology = try YAMLDecoder().decode(Topology.self, from: node)
        let overlay = try YAMLDecoder().decode(Overlay.self, from: node)
        var rateLimits: [RateLimitedLink] = []
        for host in overlay.hosts {
            for interface in host.interfaces {
                if let limit = interface.rateLimit?.in {
                    rateLimits.append(.init(host: host.name, subnet: interface.subnet, direction: .in, limit: limit))
                }
                if let limit = interface.rateLimit?.out {
                    rateLimits.append(.init(host: host.name, subnet: interface.subnet, direction: .out, limit: limit))
                }
            }
        }
        return LabTopology(
            topology: topology, rateLimits: rateLimits, congestionChecks: congestionChecks,
            segmentationOffload: overlay.segmentationOffload ?? true)
    }

    /// ``Topology/validate()`` plus the lab's own parts: rates and sizes that parse and make sense for tbf.
    func validate() throws(LabFormatError) {
        do {
            try topology.validate()
        } catch {
            throw LabFormatError(description: error.description)
        }
        func fail(_ text: String) throws(LabFormatError) {
            throw LabFormatError(description: "\(topology.name): \(text)")
        }
        for link in rateLimits {
            guard let rate = link.limit.bitsPerSecond, rate > 0 else {
                try fail("\(link.label): rate_limit rate '\(link.limit.rate)' is not a rate > 0 (e.g. 50M)")
                return
            }
            // tbf drops every packet larger than its burst: one full Ethernet frame at least.
            guard let burst = link.limit.burstBytes, burst >= Self.minimumBurst else {
                try fail(
                    "\(link.label): rate_limit burst '\(link.limit.burst)' must be at least \(Self.minimumBurst) bytes (one frame)"
                )
                return
            }
            guard let limit = link.limit.limitBytes, limit >= burst else {
                try fail("\(link.label): rate_limit limit '\(link.limit.limit)' must be bytes ≥ the burst (\(burst))")
                return
            }
        }
        let links = rateLimits.map { "\($0.host)/\($0.subnet)/\($0.direction.rawValue)" }
        if Set(links).count != links.count { try fail("a link direction has two rate limits") }
        for check in congestionChecks {
            switch check {
            case .goodputAtLeastPercentOfBottleneck(let percent):
                guard percent.isFinite, percent > 0, percent <= 100 else {
                    try fail("check \(check.name): \(percent) is not a percentage in (0, 100]")
                    return
                }
                guard !rateLimits.isEmpty else {
                    try fail("check \(check.name): the topology has no rate_limit"); return
                }
            case .repairsPerODATAAtMost(let limit):
                guard limit.isFinite, limit >= 0 else {
                    try fail("check \(check.name): \(limit) is not a ratio ≥ 0"); return
                }
            case .queueDropsAtMost(let limit):
                guard limit >= 0 else { try fail("check \(check.name): \(limit) is not a count ≥ 0"); return }
                guard !rateLimits.isEmpty else {
                    try fail("check \(check.name): the topology has no rate_limit"); return
                }
            }
        }
    }

    static let minimumBurst = 1600

    /// The narrowest rate limit of the topology: what a single-rate multicast session can deliver at most to
    /// everyone, so what the goodput check is measured against.
    var bottleneckBitsPerSecond: Int? { rateLimits.compactMap(\.limit.bitsPerSecond).min() }
}

/// A problem in the lab's part of a topology file (or the shared part, passed on), found before anything is made.
struct LabFormatError: Error, CustomStringConvertible {
    var description: String
}

/// Checks that only the namespace lab judges, on a run's ``CongestionFacts``: how close the receivers came to
/// the bottleneck, what share of the source's packets were repairs, what the bottleneck queues dropped.
enum CongestionCheck: Decodable, Hashable {
    /// Every receiver's goodput (bytes delivered × 8 / its data phase) ≥ this share of the narrowest rate limit.
    case goodputAtLeastPercentOfBottleneck(Double)
    /// RDATA / ODATA the source sent (its subnet's capture) ≤ the limit: a congested path should settle to its
    /// capacity with few repairs instead of flooding (issue 14: at most 0.1).
    case repairsPerODATAAtMost(Double)
    /// Packets dropped by all rate-limited queues together (`tc -s qdisc`) ≤ the limit.
    case queueDropsAtMost(Int)

    enum Key: String, CodingKey, CaseIterable {
        case goodputAtLeastPercentOfBottleneck = "goodput_at_least_percent_of_bottleneck"
        case repairsPerODATAAtMost = "repairs_per_odata_at_most"
        case queueDropsAtMost = "queue_drops_at_most"
    }

    var name: String {
        switch self {
        case .goodputAtLeastPercentOfBottleneck: Key.goodputAtLeastPercentOfBottleneck.rawValue
        case .repairsPerODATAAtMost: Key.repairsPerODATAAtMost.rawValue
        case .queueDropsAtMost: Key.queueDropsAtMost.rawValue
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "one congestion check per list item"))
        }
        switch key {
        case .goodputAtLeastPercentOfBottleneck:
            self = .goodputAtLeastPercentOfBottleneck(try container.decode(Double.self, forKey: key))
        case .repairsPerODATAAtMost: self = .repairsPerODATAAtMost(try container.decode(Double.self, forKey: key))
        case .queueDropsAtMost: self = .queueDropsAtMost(try container.decode(Int.self, forKey: key))
        }
    }

    /// Judges the check on a run's facts; a figure that could not be measured fails, never passes by default.
    func evaluate(on facts: CongestionFacts) -> Verdict {
        var failures: [String] = []
        let line: String
        switch self {
        case .goodputAtLeastPercentOfBottleneck(let percent):
            let bottleneck = Double(facts.bottleneckBitsPerSecond ?? 0)
            let floor = bottleneck * percent / 100
            var shown: [String] = []
            for receiver in facts.receivers {
                guard let goodput = receiver.goodputBitsPerSecond else {
                    failures.append("\(receiver.host): no goodput (no data phase in its summary)")
                    shown.append("\(receiver.host)=-")
                    continue
                }
                shown.append("\(receiver.host)=\(CongestionFacts.mbit(goodput))")
                if goodput < floor {
                    failures.append(
                        "\(receiver.host): goodput \(CongestionFacts.mbit(goodput)) Mbit/s < \(CongestionFacts.mbit(floor)) (\(RepairFigures.fixed(percent, 0)) % of \(CongestionFacts.mbit(bottleneck)))"
                    )
                }
            }
            if facts.receivers.isEmpty { failures.append("no receiver to measure") }
            line =
                "check \(name) \(RepairFigures.fixed(percent, 0)): floor \(CongestionFacts.mbit(floor)) Mbit/s, "
                + shown.joined(separator: " ")
        case .repairsPerODATAAtMost(let limit):
            if let ratio = facts.repairsPerODATA {
                if ratio > limit {
                    failures.append(
                        "source sent \(facts.sourceRDATA) RDATA for \(facts.sourceODATA) ODATA (\(RepairFigures.fixed(ratio, 3))) > \(limit)"
                    )
                }
                line =
                    "check \(name) \(limit): RDATA \(facts.sourceRDATA) / ODATA \(facts.sourceODATA) = \(RepairFigures.fixed(ratio, 3))"
            } else {
                failures.append("no ODATA captured from the source")
                line = "check \(name) \(limit): no ODATA"
            }
            if let unreadable = facts.unreadableSourceCapture {
                failures.append("check \(name): unreadable capture (\(unreadable))")
            }
        case .queueDropsAtMost(let limit):
            let drops = facts.queues.reduce(0) { $0 + ($1.dropped ?? 0) }
            for queue in facts.queues where queue.dropped == nil {
                failures.append("\(queue.link): no tc statistics")
            }
            if drops > limit { failures.append("the rate-limited queues dropped \(drops) packets > \(limit)") }
            line = "check \(name) \(limit): dropped \(drops)"
        }
        return Verdict(check: self, line: line, failures: failures)
    }

    /// One check's verdict, as ``CheckVerdict`` is for the shared checks.
    struct Verdict {
        var check: CongestionCheck
        var line: String
        var failures: [String]

        var passed: Bool { failures.isEmpty }
    }
}

/// What the congestion checks are judged on: receivers' goodput, the source's packets on its wire, and every
/// rate-limited queue's `tc -s qdisc` counters, read before the namespaces go.
struct CongestionFacts {
    struct Receiver {
        var host: String
        var bytes: Int
        /// Bytes × 8 / the receiver's data phase (`data_seconds`: first to last delivery), nil without one.
        var goodputBitsPerSecond: Double?
    }

    struct Queue {
        var link: String
        var bitsPerSecond: Int
        /// From `tc -s -j qdisc show`; nil when it could not be read.
        var sentPackets: Int?
        var sentBytes: Int?
        var dropped: Int?
        var overlimits: Int?
    }

    var receivers: [Receiver]
    var bottleneckBitsPerSecond: Int?
    /// ODATA and RDATA whose IP source is the source host, on the source's subnet (its capture).
    var sourceODATA: Int
    var sourceRDATA: Int
    var unreadableSourceCapture: String?
    var queues: [Queue]

    var repairsPerODATA: Double? { sourceODATA > 0 ? Double(sourceRDATA) / Double(sourceODATA) : nil }

    static func mbit(_ bitsPerSecond: Double) -> String { RepairFigures.fixed(bitsPerSecond / 1e6, 1) }
}

/// The congestion part of a lab summary (only for topologies with a rate limit) and of `report.json`.
enum CongestionSummary {
    static func lines(_ facts: CongestionFacts) -> [String] {
        var lines: [String] = []
        for queue in facts.queues {
            let counters =
                queue.dropped.map { dropped in
                    "sent \(queue.sentPackets ?? 0) packets (\(queue.sentBytes ?? 0) bytes), dropped \(dropped), "
                        + "overlimits \(queue.overlimits ?? 0)"
                } ?? "no tc statistics"
            lines.append(
                "queue \(queue.link) at \(CongestionFacts.mbit(Double(queue.bitsPerSecond))) Mbit/s: \(counters)")
        }
        for receiver in facts.receivers {
            let goodput = receiver.goodputBitsPerSecond.map { CongestionFacts.mbit($0) + " Mbit/s" } ?? "-"
            lines.append("goodput \(receiver.host): \(goodput) (\(receiver.bytes) bytes)")
        }
        let ratio = facts.repairsPerODATA.map { RepairFigures.fixed($0, 3) } ?? "-"
        lines.append("source: ODATA \(facts.sourceODATA), RDATA \(facts.sourceRDATA), RDATA per ODATA \(ratio)")
        return lines
    }

    static func json(_ facts: CongestionFacts) -> [String: Any] {
        [
            "bottleneck_bits_per_second": facts.bottleneckBitsPerSecond ?? NSNull(),
            "source_odata": facts.sourceODATA, "source_rdata": facts.sourceRDATA,
            "rdata_per_odata": facts.repairsPerODATA ?? NSNull(),
            "receivers": facts.receivers.map { receiver -> [String: Any] in
                [
                    "host": receiver.host, "bytes": receiver.bytes,
                    "goodput_bits_per_second": receiver.goodputBitsPerSecond ?? NSNull(),
                ]
            },
            "queues": facts.queues.map { queue -> [String: Any] in
                [
                    "link": queue.link, "bits_per_second": queue.bitsPerSecond,
                    "sent_packets": queue.sentPackets ?? NSNull(),
                    "sent_bytes": queue.sentBytes ?? NSNull(), "dropped": queue.dropped ?? NSNull(),
                    "overlimits": queue.overlimits ?? NSNull(),
                ]
            },
        ]
    }
}
