import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// RFC 3208 §7 in a simulated tree: constrained NAK forwarding, elimination and constrained RDATA forwarding,
/// checked end to end against receivers that must deliver everything or report exactly what they lost.
@Suite("Network element trees")
struct NetworkElementTreeTests {
    static func configuration(seed: UInt64, fanout: [Int], receivers: Int, loss: Double, elements: Bool = true)
        -> ElementTreeScenario.Configuration
    {
        var configuration = ElementTreeScenario.Configuration(
            seed: seed, apdus: makeAPDUs(count: 40, sizes: 1...3000, seed: seed), fanout: fanout,
            receiversPerLeaf: receivers)
        configuration.elements = elements
        // OPT_CR lets a NAK past elimination when the worst report moves by more than 5 % (RFC 3208 Appendix B
        // §12.6.1), by design; the NAK counts below are about elimination alone, OPT_CR has its own test.
        configuration.source.requestCongestionReports = false
        configuration.leafRouterUplink.loss = .bernoulli(loss)
        configuration.receiverDownlink.loss = .bernoulli(loss)
        configuration.receiverUplink.loss = .bernoulli(loss / 2)
        return configuration
    }

    /// The checks every tree run must pass.
    static func check(_ scenario: ElementTreeScenario, seed: UInt64, eliminationOnly: Bool = true) {
        let finished = scenario.run()
        #expect(finished, "seed \(seed): not every receiver saw the session close")
        let failures = scenario.verify()
        #expect(failures.isEmpty, Comment(rawValue: describe(failures, seed: seed)))
        // §7.3/§7.4: one NAK per lost sequence per repair cycle from the element below the source.
        if eliminationOnly { #expect(scenario.maximumNAKsPerCycle <= 1, "seed \(seed)") }
        // §7.8: RDATA only onto segments that asked for that sequence.
        for (segment, repairs) in scenario.repairsBySegment() where segment != scenario.sourceSegment {
            let unasked = repairs.rdata.keys.filter { !repairs.naked.contains($0) }
            #expect(
                unasked.isEmpty,
                "seed \(seed): RDATA for \(unasked.sorted()) on \(scenario.network.name(of: segment)), which never asked"
            )
        }
        for host in scenario.elementHosts { #expect(host.decodeFailures == 0) }
    }

    @Test(arguments: [0.02, 0.05])
    func oneElementThreeSubnetsOfTenReceivers(loss: Double) {
        let seed = Seeds.seed(11)
        let scenario = ElementTreeScenario(Self.configuration(seed: seed, fanout: [3], receivers: 10, loss: loss))
        Self.check(scenario, seed: seed)
        #expect(!scenario.lostSomewhere.isEmpty, "seed \(seed): the run must exercise repairs")
        let element = scenario.elementHosts[0].engine.statistics
        #expect(element.rdataForwarded > 0)
        #expect(element.repairStatesRejected == 0 && element.sessionsRejected == 0)
        #expect(scenario.elementHosts[0].engine.repairStateCount == 0, "repair state outlived the session")
    }

    /// Loss above the element on a LAN of 50 µs links, where a repair passes the element long before other
    /// receivers' back-off ends: the element asks once for what it missed, its NCFs keep receivers below from
    /// asking too, and its RDATA reaches every subnet. The same run without the element's loss detection is the
    /// comparison.
    @Test(arguments: [UInt64(1), 2, 3])
    func lossAboveAnElementAtLANTimingCostsTheSourceAboutOneNAKPerLoss(run: UInt64) {
        let seed = Seeds.seed(40 + run)
        func scenario(detecting: Bool) -> ElementTreeScenario {
            var configuration = ElementTreeScenario.Configuration(
                seed: seed, apdus: makeAPDUs(count: 300, sizes: 500...1400, seed: seed), fanout: [3],
                receiversPerLeaf: 10)
            configuration.source.requestCongestionReports = false
            configuration.source.rate = 2_000_000
            let lan = LinkProfile(delay: .microseconds(50))
            configuration.link = lan
            configuration.receiverUplink = lan
            configuration.leafRouterUplink = lan
            configuration.receiverDownlink = LinkProfile(delay: .microseconds(50), loss: .bernoulli(0.01))
            configuration.routerUpstreamDownlink = LinkProfile(delay: .microseconds(50), loss: .bernoulli(0.08))
            if !detecting { configuration.element = { $0.lossDetectionBackoff = nil } }
            let scenario = ElementTreeScenario(configuration)
            #expect(scenario.run(), "seed \(seed)")
            let failures = scenario.verify()
            #expect(failures.isEmpty, Comment(rawValue: describe(failures, seed: seed)))
            return scenario
        }
        let detecting = scenario(detecting: true)
        let lost = detecting.lostSomewhere.union(detecting.logs.reduce(into: Set<UInt32>()) { $0.formUnion($1.lost) })
        #expect(
            detecting.elementHosts[0].engine.statistics.lossesDetected > 10, "seed \(seed): no loss above the element")
        let nakSequences = Double(detecting.sourceNAKSequences) / Double(max(1, lost.count))
        let rdata = Double(detecting.sourceRDATA) / Double(max(1, lost.count))
        #expect(
            nakSequences <= 1.2, "seed \(seed): \(detecting.sourceNAKSequences) NAKed sequences, \(lost.count) lost")
        #expect(rdata <= 1.2, "seed \(seed): \(detecting.sourceRDATA) RDATA, \(lost.count) lost")
        let p99 = detecting.latencyPercentile(0.99) ?? .zero
        #expect(p99 < .milliseconds(100), "seed \(seed): p99 repair latency \(p99)")
        let plain = scenario(detecting: false)
        func receiverNAKs(_ scenario: ElementTreeScenario) -> Int {
            scenario.receivers.reduce(0) { $0 + $1.engine.statistics.naksSent }
        }
        #expect(receiverNAKs(detecting) < receiverNAKs(plain), "seed \(seed): the element's NCFs suppress receivers")
    }

    @Test func threeLevelTreeOfFourLeafSubnets() {
        let seed = Seeds.seed(23)
        let scenario = ElementTreeScenario(Self.configuration(seed: seed, fanout: [2, 2], receivers: 5, loss: 0.03))
        Self.check(scenario, seed: seed)
        #expect(scenario.elementHosts.count == 3)
        #expect(scenario.leafSegments.count == 4)
        #expect(scenario.elementHosts.allSatisfy { $0.engine.statistics.spmsForwarded > 0 })
        #expect(!scenario.lostSomewhere.isEmpty, "seed \(seed): the run must exercise repairs")
    }

    @Test func elementsKeepRDATAOffQuietSubnets() {
        let seed = Seeds.seed(31)
        let with = ElementTreeScenario(Self.configuration(seed: seed, fanout: [3], receivers: 10, loss: 0.03))
        Self.check(with, seed: seed)
        let without = ElementTreeScenario(
            Self.configuration(seed: seed, fanout: [3], receivers: 10, loss: 0.03, elements: false))
        #expect(without.run())
        #expect(without.verify().isEmpty, Comment(rawValue: describe(without.verify(), seed: seed)))
        // Without elements every NAK goes to the source; with them, each lost sequence reaches it at most once
        // per repair cycle per element (checked above), and every RDATA copy on a leaf was asked for there.
        #expect(with.sourceRDATA > 0 && without.sourceRDATA > 0)
        func rdataOnLeaves(_ scenario: ElementTreeScenario) -> Int {
            let bySegment = scenario.repairsBySegment()
            return scenario.leafSegments.reduce(0) { $0 + (bySegment[$1]?.rdata.values.reduce(0, +) ?? 0) }
        }
        #expect(rdataOnLeaves(with) < rdataOnLeaves(without))
    }

    @Test func sameSeedSameRun() {
        let seed = Seeds.seed(5)
        let first = ElementTreeScenario(Self.configuration(seed: seed, fanout: [2], receivers: 3, loss: 0.05))
        let second = ElementTreeScenario(Self.configuration(seed: seed, fanout: [2], receivers: 3, loss: 0.05))
        first.run()
        second.run()
        #expect(first.network.trace.map(\.bytes) == second.network.trace.map(\.bytes))
        #expect(first.elementHosts[0].engine.statistics == second.elementHosts[0].engine.statistics)
    }
}

@Suite("Network element OPT_CR in a tree")
struct NetworkElementCongestionTreeTests {
    /// Receivers add OPT_CR to their NAKs when the source's SPMs request it (OPT_CRQST); the element keeps the
    /// worst report and carries it on every NAK it forwards, so the source learns the worst receiver, which
    /// sits on the lossiest subnet.
    @Test func theSourceLearnsTheWorstReceiverThroughTheElement() throws {
        let seed = Seeds.seed(53)
        var configuration = NetworkElementTreeTests.configuration(seed: seed, fanout: [3], receivers: 4, loss: 0.01)
        configuration.source.requestCongestionReports = true
        configuration.receiverDownlinkByLeaf[2] = LinkProfile(loss: .bernoulli(0.12))
        let scenario = ElementTreeScenario(configuration)
        NetworkElementTreeTests.check(scenario, seed: seed, eliminationOnly: false)
        let lossy = scenario.leafSegments[2]
        let lossyReceivers = Set(
            scenario.receivers.indices.filter { scenario.receiverSegments[$0] == lossy }.map {
                scenario.receivers[$0].address
            })
        let element = scenario.elementHosts[0].engine
        let report = try #require(element.statistics.worstCongestionReports[configuration.source.tsi])
        #expect(report.kinds.contains(.receiverWorstPath))
        let source = scenario.source.engine.statistics
        #expect(source.congestionReports > 0)
        #expect(source.congestionReports <= element.statistics.naksForwarded)
        let worst = try #require(source.worstReceiver)
        #expect(lossyReceivers.contains(worst), "seed \(seed): worst receiver \(worst) is not on the lossy subnet")
        #expect((source.worstReceiverLoss ?? 0) > UInt16.max / 25, "seed \(seed): the lossy subnet loses 12 %")
    }
}
