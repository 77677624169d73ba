import PGMCapture
import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// The one evaluator of a topology's checks (``Topology/Check/evaluate(on:)``), fed hand-made facts as the lab
/// and the simulator gather them: the lines the summaries print and the failures, word for word.
@Suite struct TopologyChecksTests {
    /// RepairCheckTests' topology (source on core, element, receivers ra on a and rb on b), with a wire on which
    /// ODATA 1 and 2 crossed every subnet, b lost 2, and one RDATA repaired it on b 5 ms after its NAK.
    static func figures(rdataOnA: Bool = false) throws -> RepairFigures {
        var measurement = RepairMeasurement(topology: try RepairCheckTests.topology(checks: "[]"))
        let element = NLA.ipv4(IPv4Address(198, 18, 62, 1))
        let receiver = NLA.ipv4(IPv4Address(198, 18, 62, 10))
        var trace: [(Int64, String, NLA, NLA, Packet)] = [
            (0, "core", RepairCheckTests.source, RepairCheckTests.group, RepairCheckTests.data(1)),
            (0, "core", RepairCheckTests.source, RepairCheckTests.group, RepairCheckTests.data(2)),
            (1, "a", element, RepairCheckTests.group, RepairCheckTests.data(1)),
            (1, "a", element, RepairCheckTests.group, RepairCheckTests.data(2)),
            (1, "b", element, RepairCheckTests.group, RepairCheckTests.data(1)),
            (2, "b", receiver, element, RepairCheckTests.nak(2)),
            (7, "b", element, RepairCheckTests.group, RepairCheckTests.data(2, repair: true)),
        ]
        if rdataOnA { trace.append((7, "a", element, RepairCheckTests.group, RepairCheckTests.data(2, repair: true))) }
        for (milliseconds, subnet, from, to, packet) in trace {
            measurement.record(
                packet,
                length: packet.encodedLength,
                on: subnet,
                from: from,
                to: to,
                at: CaptureTimestamp(totalNanoseconds: milliseconds * 1_000_000)
            )
        }
        return measurement.figures()
    }

    static func hosts(sourceNAKs: Int = 1, mismatch: String? = nil, unrecoverable: Int = 0) -> [RunFacts.Host] {
        [
            RunFacts.Host(name: "src", role: .source, naks: sourceNAKs, unrecoverable: 0),
            RunFacts.Host(name: "ne", role: .networkElement, naks: 0, unrecoverable: 0),
            RunFacts.Host(name: "ra", role: .receiver, naks: 0, unrecoverable: 0),
            RunFacts.Host(name: "rb", role: .dlr, naks: 1, unrecoverable: unrecoverable, outputMismatch: mismatch),
        ]
    }

    static let checks: [Topology.Check] = [
        .receiversMatchSource, .sourceNAKsAtMostReceiverNAKs, .noRepairsOn(["a"]), .noUnrecoverableLoss,
        .sourceNAKSequencesPerLostAtMost(1.2), .sourceRDATAPerLostAtMost(1.2), .repairLatencyP99AtMostMilliseconds(100),
    ]

    @Test func aPassingRunPrintsOneLinePerCheck() throws {
        let facts = RunFacts(
            hosts: Self.hosts(),
            expectedOutput: "sha256 = 0123456789abcdef…",
            repair: try Self.figures(),
            origin: .lab(unreadableCaptures: [])
        )
        let verdicts = Self.checks.map { $0.evaluate(on: facts) }
        #expect(verdicts.allSatisfy { $0.passed })
        #expect(
            verdicts.map(\.line) == [
                "check receivers_match_source: every receiver's sha256 = 0123456789abcdef…",
                "check source_naks_at_most_receiver_naks: source 1 ≤ receivers 1",
                "check no_rdata_on a: a=0",
                "check no_unrecoverable_loss",
                "check source_nak_sequences_per_lost_at_most 1.20: 0 NAKed sequences reaching the source / 1 lost "
                    + "= 0.00",
                "check source_rdata_per_lost_at_most 1.20: 0 RDATA sent by the source / 1 lost = 0.00",
                "check repair_latency_p99_at_most_ms 100.0: p99 ms a no loss, b 5.0",
            ]
        )
        #expect(verdicts.map(\.check) == Self.checks)
        #expect(verdicts.map(\.check.isRepairCheck) == [false, false, false, false, true, true, true])
    }

    /// The same failures from the lab's facts and the simulator's; where the two summaries always worded them
    /// differently, each keeps its words.
    @Test func failuresReadAsEachSummaryHasThem() throws {
        let repair = try Self.figures(rdataOnA: true)
        let lab = RunFacts(
            hosts: Self.hosts(
                sourceNAKs: 2,
                mismatch: "sha256 fedcba9876543210… ≠ source 0123456789abcdef…",
                unrecoverable: 3
            ),
            expectedOutput: "sha256 = 0123456789abcdef…",
            repair: repair,
            origin: .lab(unreadableCaptures: [])
        )
        let simulated = RunFacts(
            hosts: Self.hosts(
                sourceNAKs: 2,
                mismatch: "delivered 7 bytes that differ from the source's 8",
                unrecoverable: 3
            ),
            expectedOutput: "bytes = the source's 8",
            repair: repair,
            origin: .simulator(traced: true)
        )
        let checks: [Topology.Check] = [
            .receiversMatchSource, .sourceNAKsAtMostReceiverNAKs, .noRepairsOn(["a"]), .noUnrecoverableLoss,
        ]
        #expect(
            checks.map { $0.evaluate(on: lab).failures } == [
                ["rb: sha256 fedcba9876543210… ≠ source 0123456789abcdef…"],
                ["source received 2 NAKs > 1 sent by receivers"],
                ["1 RDATA captured on a, which lost nothing"],
                ["rb reported unrecoverable loss"],
            ]
        )
        #expect(
            checks.map { $0.evaluate(on: simulated).failures } == [
                ["rb: delivered 7 bytes that differ from the source's 8"],
                ["source received 2 NAKs > 1 sent by receivers"],
                ["1 RDATA on a, which lost nothing"],
                ["rb reported 3 unrecoverable sequences"],
            ]
        )
        #expect(checks[2].evaluate(on: lab).line == "check no_rdata_on a: a=1")
    }

    /// Only receiving hosts' outputs and NAKs count: a mismatch reported for the source is not a receiver's.
    @Test func onlyReceiversOutputsAndNAKsCount() throws {
        var hosts = Self.hosts()
        hosts[0].outputMismatch = "not a receiver"
        hosts[1].naks = 100
        let facts = RunFacts(
            hosts: hosts,
            expectedOutput: "x",
            repair: try Self.figures(),
            origin: .simulator(traced: true)
        )
        #expect(Topology.Check.receiversMatchSource.evaluate(on: facts).passed)
        let naks = Topology.Check.sourceNAKsAtMostReceiverNAKs.evaluate(on: facts)
        #expect(naks.line.hasSuffix("source 1 ≤ receivers 1"))
    }

    /// Repair checks never pass on what was not measured: unreadable captures in the lab, no trace in the
    /// simulator. The line still says what the figures show.
    @Test func unmeasuredRepairChecksFail() throws {
        let repair = try Self.figures()
        let check = Topology.Check.repairLatencyP99AtMostMilliseconds(100)
        let lab = RunFacts(
            hosts: Self.hosts(),
            expectedOutput: "",
            repair: repair,
            origin: .lab(unreadableCaptures: ["a: truncated", "b: missing"])
        )
        let verdict = check.evaluate(on: lab)
        #expect(verdict.line == "check repair_latency_p99_at_most_ms 100.0: p99 ms a no loss, b 5.0")
        #expect(
            verdict.failures == ["check repair_latency_p99_at_most_ms: unreadable captures (a: truncated; b: missing)"]
        )
        let untraced = RunFacts(
            hosts: Self.hosts(),
            expectedOutput: "",
            repair: repair,
            origin: .simulator(traced: false)
        )
        #expect(
            check.evaluate(on: untraced).failures == [
                "check repair_latency_p99_at_most_ms not evaluated: the simulator's trace was off"
            ]
        )
        #expect(!Topology.Check.noUnrecoverableLoss.evaluate(on: lab).failures.contains { $0.contains("unreadable") })
    }
}
