import Foundation
import PGMCapture
import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// The repair checks of topology files (`source_nak_sequences_per_lost_at_most`, `source_rdata_per_lost_at_most`,
/// `repair_latency_p99_at_most_ms`): how they decode and validate, what ``RepairMeasurement`` counts, and that a
/// simulated run is judged by them.
@Suite struct RepairCheckTests {
    /// source | element | subnets a and b, one receiver each; loss above the element and into each receiver.
    static func topology(checks: String) throws -> Topology {
        func interface(_ subnet: String, _ address: String, loss: Double? = nil) -> String {
            let lossy = loss.map { #", "loss": {"in": {"rate": \#($0)}}"# } ?? ""
            return #"{"subnet": "\#(subnet)", "address": "198.18.\#(address)"\#(lossy)}"#
        }
        func host(_ name: String, _ program: String, _ interfaces: [String], upstream: String = "") -> String {
            let element = upstream.isEmpty ? "" : #", "upstream": "\#(upstream)""#
            return #"{"name": "\#(name)", "interfaces": [\#(interfaces.joined(separator: ", "))], "#
                + #""run": {"program": "\#(program)"\#(element)}}"#
        }
        let hosts = [
            host("src", "pgm-source", [interface("core", "60.10")]),
            host(
                "ne", "pgm-ne",
                [interface("core", "60.1", loss: 0.05), interface("a", "61.1"), interface("b", "62.1")],
                upstream: "core"),
            host("ra", "pgm-recv", [interface("a", "61.10", loss: 0.01)]),
            host("rb", "pgm-recv", [interface("b", "62.10", loss: 0.01)]),
        ]
        let json = """
            {"name": "repair", "group": "239.192.6.1", "port": 7500, "timeout": 60,
             "subnets": [{"name": "core", "prefix": "198.18.60.0/24"}, {"name": "a", "prefix": "198.18.61.0/24"},
                         {"name": "b", "prefix": "198.18.62.0/24"}],
             "hosts": [\(hosts.joined(separator: ", "))],
             "traffic": {"bytes": 1000000, "rate": "40M"},
             "checks": \(checks)}
            """
        return try JSONDecoder().decode(Topology.self, from: Data(json.utf8))
    }

    @Test func checksDecodeEncodeAndValidate() throws {
        let topology = try Self.topology(
            checks: #"""
                ["receivers_match_source", {"no_rdata_on": ["a"]}, {"source_nak_sequences_per_lost_at_most": 1.2},
                 {"source_rdata_per_lost_at_most": 1.5}, {"repair_latency_p99_at_most_ms": 100}]
                """#)
        #expect(
            topology.checks == [
                .receiversMatchSource, .noRepairsOn(["a"]), .sourceNAKSequencesPerLostAtMost(1.2),
                .sourceRDATAPerLostAtMost(1.5), .repairLatencyP99AtMostMilliseconds(100),
            ])
        try topology.validate()
        let again = try JSONDecoder().decode(Topology.self, from: JSONEncoder().encode(topology))
        #expect(again.checks == topology.checks)

        #expect(throws: DecodingError.self) { try Self.topology(checks: #"[{"repair_latency_p99_ms": 100}]"#) }
        #expect(throws: DecodingError.self) {
            try Self.topology(checks: #"[{"source_rdata_per_lost_at_most": 1, "no_rdata_on": ["a"]}]"#)
        }
        for bad in [#"{"source_rdata_per_lost_at_most": -1}"#, #"{"repair_latency_p99_at_most_ms": 0}"#] {
            #expect(throws: Topology.ValidationError.self) { try Self.topology(checks: "[\(bad)]").validate() }
        }
    }

    static let source = NLA.ipv4(IPv4Address(198, 18, 60, 10))
    static let element = NLA.ipv4(IPv4Address(198, 18, 60, 1))
    static let group = NLA.ipv4(IPv4Address(239, 192, 6, 1))
    static let tsi = TSI(gsi: GSI((1, 2, 3, 4, 5, 6)), sourcePort: 4000)

    static func data(_ sequence: UInt32, repair: Bool = false) -> Packet {
        let body = DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(0), payload: [0][...])
        return Packet(tsi: tsi, dataDestinationPort: 7500, body: repair ? .rdata(body) : .odata(body))
    }

    static func nak(_ sequence: UInt32, list: [UInt32] = [], confirm: Bool = false) -> Packet {
        let body = NAK(sequence: SequenceNumber(sequence), source: source, group: group)
        let options = list.isEmpty ? [] : [Option(.nakList(list.map(SequenceNumber.init)))]
        return Packet(tsi: tsi, dataDestinationPort: 7500, body: confirm ? .ncf(body) : .nak(body), options: options)
    }

    /// A hand-made run whose figures are worked out below: the element lost ODATA 3 and 4 above itself, receiver
    /// rb lost 6 on its own link.
    @Test func measurementCountsTheSourcesShareOfDistinctLosses() throws {
        var measurement = RepairMeasurement(topology: try Self.topology(checks: "[]"))
        let receiverB = NLA.ipv4(IPv4Address(198, 18, 62, 10))
        let elementB = NLA.ipv4(IPv4Address(198, 18, 62, 1))
        let trace: [(Int64, String, NLA, NLA, Packet)] = [
            (0, "core", Self.source, Self.group, Self.data(1)), (0, "core", Self.source, Self.group, Self.data(2)),
            (1, "core", Self.source, Self.group, Self.data(3)), (1, "core", Self.source, Self.group, Self.data(4)),
            (1, "a", Self.element, Self.group, Self.data(1)), (1, "b", Self.element, Self.group, Self.data(1)),
            (2, "a", Self.element, Self.group, Self.data(2)), (2, "b", Self.element, Self.group, Self.data(2)),
            (3, "core", Self.source, Self.group, Self.data(5)), (3, "core", Self.source, Self.group, Self.data(6)),
            // The element detects 3 and 4 itself: NCFs below it, one NAK (with a list) to the source.
            (4, "a", Self.element, Self.group, Self.data(5)), (4, "b", Self.element, Self.group, Self.data(5)),
            (4, "a", Self.source, Self.group, Self.nak(3, list: [4], confirm: true)),
            (4, "b", Self.source, Self.group, Self.nak(3, list: [4], confirm: true)),
            (5, "core", Self.element, Self.source, Self.nak(3, list: [4])),
            (5, "core", Self.element, Self.source, Self.nak(3)),  // a duplicate the element let through
            (6, "core", Self.source, Self.group, Self.nak(3, list: [4], confirm: true)),
            (6, "a", Self.element, Self.group, Self.data(6)), (6, "b", Self.element, Self.group, Self.data(6)),
            (10, "core", Self.source, Self.group, Self.data(3, repair: true)),
            (10, "core", Self.source, Self.group, Self.data(4, repair: true)),
            (11, "a", Self.element, Self.group, Self.data(3, repair: true)),
            (11, "b", Self.element, Self.group, Self.data(3, repair: true)),
            (12, "a", Self.element, Self.group, Self.data(4, repair: true)),
            (12, "b", Self.element, Self.group, Self.data(4, repair: true)),
            // rb lost 6 on its own link: its NAK goes to the element, which repairs from upstream.
            (13, "b", receiverB, elementB, Self.nak(6)),
            (13, "b", Self.source, Self.group, Self.nak(6, confirm: true)),
            (14, "core", Self.element, Self.source, Self.nak(6)),
            (15, "core", Self.source, Self.group, Self.data(6, repair: true)),
            (15, "core", Self.element, Self.group, Self.data(6, repair: true)),  // not the source's repair
            (16, "b", Self.element, Self.group, Self.data(6, repair: true)),
        ]
        for (milliseconds, subnet, from, to, packet) in trace {
            measurement.record(
                packet, length: packet.encodedLength, on: subnet, from: from, to: to,
                at: CaptureTimestamp(totalNanoseconds: milliseconds * 1_000_000))
        }
        let figures = measurement.figures()
        #expect(figures.distinctLostSequences == 3)  // 3, 4 (shared by a and b) and 6 (b only)
        #expect(figures.sourceSubnet == "core")
        #expect(figures.sourceNAKPackets == 3 && figures.sourceNAKSequences == 4)
        #expect(figures.sourceRDATAPackets == 3)
        let subnets = Dictionary(uniqueKeysWithValues: figures.subnets.map { ($0.name, $0) })
        #expect(subnets["core"]?.hasReceiver == false && subnets["a"]?.hasReceiver == true)
        #expect(subnets["a"]?.lostSequences == 2 && subnets["b"]?.lostSequences == 3)
        #expect(subnets["b"]?.rdata == 3 && subnets["b"]?.rdataPerLost == 1)
        // a: 3 and 4 from the NCF at 4 ms to RDATA at 11 and 12 ms; b also 6, from its NAK at 13 to 16 ms.
        #expect(subnets["a"]?.repairLatency == TraceAnalyzer.LatencySummary([7_000_000, 8_000_000]))
        #expect(subnets["b"]?.repairLatency == TraceAnalyzer.LatencySummary([7_000_000, 8_000_000, 3_000_000]))

        // 4 NAKed sequences / 3 lost = 1.33; 3 RDATA / 3 lost = 1; p99 8 ms on both receiver subnets.
        #expect(figures.evaluate(.sourceNAKSequencesPerLostAtMost(1.4))?.failures.isEmpty == true)
        #expect(figures.evaluate(.sourceNAKSequencesPerLostAtMost(1.3))?.failures.count == 1)
        #expect(figures.evaluate(.sourceRDATAPerLostAtMost(1))?.failures.isEmpty == true)
        #expect(figures.evaluate(.sourceRDATAPerLostAtMost(0.9))?.failures.count == 1)
        #expect(figures.evaluate(.repairLatencyP99AtMostMilliseconds(8))?.failures.isEmpty == true)
        #expect(figures.evaluate(.repairLatencyP99AtMostMilliseconds(7.9))?.failures.count == 2)
        #expect(figures.evaluate(.noUnrecoverableLoss) == nil)
    }

    /// The simulator measures its trace like the lab its captures: the source's share agrees with the source
    /// engine's own counters, and the checks decide the outcome.
    @Test(arguments: [UInt64(1), 2])
    func simulatedRunIsJudgedByTheRepairChecks(seed: UInt64) throws {
        let generous = try Self.topology(
            checks: #"""
                [{"source_nak_sequences_per_lost_at_most": 100}, {"source_rdata_per_lost_at_most": 100},
                 {"repair_latency_p99_at_most_ms": 60000}]
                """#)
        let options = TopologyScenario.Options(seed: seed, rateBitsPerSecond: 40_000_000, native: false)
        let scenario = try TopologyScenario(generous, options: options)
        let outcome = scenario.run()
        #expect(outcome.failures.isEmpty, "seed \(seed): \(outcome.failures)")
        let repair = outcome.repair
        let statistics = scenario.sourceEngine.statistics
        #expect(repair.distinctLostSequences > 0, "seed \(seed): nothing lost")
        #expect(repair.sourceNAKPackets == statistics.naksReceived, "seed \(seed)")
        #expect(repair.sourceRDATAPackets == statistics.rdataSent, "seed \(seed)")
        let receiving = repair.subnets.filter(\.hasReceiver)
        #expect(receiving.map(\.name) == ["a", "b"])
        for subnet in receiving {
            #expect(subnet.lostSequences > 0 && subnet.repairLatency.count > 0, "seed \(seed): \(subnet.name)")
        }

        // Same run, limits below what it measured: each check fails on its own.
        let strict = try Self.topology(
            checks: #"""
                [{"source_nak_sequences_per_lost_at_most": 0}, {"source_rdata_per_lost_at_most": 0},
                 {"repair_latency_p99_at_most_ms": 0.000001}]
                """#)
        let judged = try TopologyScenario(strict, options: options).run()
        #expect(judged.failures.count == 4, "seed \(seed): \(judged.failures)")  // NAKs, RDATA, a, b
        #expect(judged.failures.contains { $0.contains("NAKed sequences reaching the source") })
        #expect(judged.failures.contains { $0.contains("RDATA sent by the source") })
    }
}
