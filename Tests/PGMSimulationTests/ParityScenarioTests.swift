import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// FEC end to end in the simulator (RFC 3208 Appendix A): sources with proactive and on-demand parity, many
/// receivers with independent loss, every receiver byte-exact.
@Suite struct ParityScenarioTests {
    struct Outcome {
        var failures: [String]
        var source: Source.Statistics
        var receivers: [Receiver.Statistics]
        /// ODATA sequences that some receiver missed.
        var lostAnywhere: Int
    }

    static func run(
        seed: UInt64, receivers: Int, loss: Double, parity: Source.Parity?, apdus: [[UInt8]],
        useParity: Bool = true
    ) -> Outcome {
        var configuration = SessionScenario.Configuration(seed: seed, receivers: receivers, apdus: apdus)
        configuration.source.parity = parity
        configuration.source.rate = 4_000_000
        configuration.receiverDownlink = LinkProfile(loss: .bernoulli(loss))
        configuration.receiver.useParity = useParity
        let scenario = SessionScenario(configuration)
        let finished = scenario.run(limit: .seconds(600))
        var failures = scenario.verify()
        if !finished { failures.append("did not finish") }
        let total = UInt32(scenario.apduSequences.last?.upperBound ?? 0)
        let lostAnywhere = (0..<total).filter { offset in
            scenario.logs.contains { !$0.odataReceived.contains(offset) }
        }.count
        return Outcome(
            failures: failures, source: scenario.source.engine.statistics,
            receivers: scenario.receivers.map { $0.engine.statistics }, lostAnywhere: lostAnywhere)
    }

    static func apdus(count: Int, size: Int) -> [[UInt8]] {
        (0..<count).map { SessionScenario.apdu(index: $0, size: size) }
    }

    /// Repair packets the source sent (selective RDATA and parity RDATA) per ODATA some receiver missed.
    static func repairsPerLost(_ outcome: Outcome) -> Double {
        Double(outcome.source.rdataSent + outcome.source.onDemandParitySent) / Double(max(1, outcome.lostAnywhere))
    }

    /// 20 receivers at 2 % independent loss: every receiver byte-exact, and on-demand parity costs the source well
    /// under half the repairs selective repair does (measured in the same test, same seed).
    @Test(arguments: [1, 2, 3] as [UInt64])
    func onDemandParityBeatsSelectiveRepair(seed: UInt64) {
        let apdus = Self.apdus(count: 2000, size: 1000)
        let parity = Self.run(
            seed: seed, receivers: 20, loss: 0.02, parity: Source.Parity(groupSize: 16), apdus: apdus)
        let selective = Self.run(seed: seed, receivers: 20, loss: 0.02, parity: nil, apdus: apdus)
        #expect(parity.failures.isEmpty, "\(parity.failures.prefix(5))")
        #expect(selective.failures.isEmpty, "\(selective.failures.prefix(5))")
        let withParity = Self.repairsPerLost(parity)
        let withoutParity = Self.repairsPerLost(selective)
        print(
            "20 receivers 2 % seed \(seed): parity \(withParity) repairs per lost-anywhere (\(parity.source.onDemandParitySent) parity, \(parity.source.rdataSent) selective), selective \(withoutParity)"
        )
        #expect(withParity < 0.5 * withoutParity)
        #expect(parity.source.rdataSent == 0)  // every receiver asked by count
    }

    /// The figure: 1,000 receivers at 1 % independent loss, on-demand parity with k = 16: at most 0.2
    /// repair packets per packet lost anywhere (selective repair needs about one), everyone byte-exact.
    @Test func thousandReceivers() {
        let outcome = Self.run(
            seed: 11, receivers: 1000, loss: 0.01, parity: Source.Parity(groupSize: 16),
            apdus: Self.apdus(count: 800, size: 1000))
        #expect(outcome.failures.isEmpty, "\(outcome.failures.prefix(5))")
        let ratio = Self.repairsPerLost(outcome)
        print(
            "1000 receivers 1 %: \(ratio) repairs per lost-anywhere (\(outcome.source.onDemandParitySent) parity, \(outcome.source.rdataSent) selective, \(outcome.lostAnywhere) lost anywhere, parity NAKs at the source \(outcome.source.parityNAKsReceived))"
        )
        #expect(ratio <= 0.2)
    }

    /// Proactive parity (h = 2 per k = 16) at 2 % loss: NAKs fall by at least 90 % against the same run without
    /// FEC.
    @Test(arguments: [1, 2] as [UInt64])
    func proactiveParityRemovesNAKs(seed: UInt64) {
        let apdus = Self.apdus(count: 2000, size: 1000)
        let proactive = Self.run(
            seed: seed, receivers: 8, loss: 0.02, parity: Source.Parity(groupSize: 16, proactive: 2), apdus: apdus)
        let plain = Self.run(seed: seed, receivers: 8, loss: 0.02, parity: nil, apdus: apdus)
        #expect(proactive.failures.isEmpty, "\(proactive.failures.prefix(5))")
        let naks = proactive.receivers.map(\.naksSent).reduce(0, +)
        let baseline = plain.receivers.map(\.naksSent).reduce(0, +)
        print("proactive h=2 seed \(seed): NAKs \(naks) vs \(baseline) without FEC")
        #expect(Double(naks) <= 0.1 * Double(baseline))
    }

    /// Fragmented APDUs of random sizes (OPT_FRAGMENT encoded into parity, OPT_VAR_PKTLEN, the shortened last
    /// group), with proactive and on-demand parity, under independent and burst loss.
    @Test(arguments: [
        LossModel.bernoulli(0.03), .gilbertElliott(goodToBad: 0.01, badToGood: 0.3, lossInGood: 0.005, lossInBad: 0.5),
    ])
    func fragmentsVariableSizesAndBursts(loss: LossModel) {
        var random = SplitMix64(seed: 9)
        let apdus = (0..<600).map { SessionScenario.apdu(index: $0, size: 1 + Int(random.next() % 4000)) }
        var configuration = SessionScenario.Configuration(seed: 4, receivers: 8, apdus: apdus)
        configuration.source.parity = Source.Parity(groupSize: 8, proactive: 1)
        configuration.source.rate = 4_000_000
        configuration.receiverDownlink = LinkProfile(loss: loss)
        let scenario = SessionScenario(configuration)
        let finished = scenario.run(limit: .seconds(600))
        #expect(finished)
        #expect(scenario.verify().isEmpty, "\(scenario.verify().prefix(5))")
        let statistics = scenario.receivers.map { $0.engine.statistics }
        #expect(statistics.map(\.sequencesRecoveredByParity).reduce(0, +) > 0)
        #expect(statistics.map(\.parityDecodingFailures).reduce(0, +) == 0)
    }

    /// FEC under PGMCC (pgm-source's default): parity goes under the window like RDATA, parity NAKs carry the
    /// receivers' feedback, and every receiver ends byte-exact.
    @Test func parityUnderCongestionControl() {
        var configuration = SessionScenario.Configuration(
            seed: 8, receivers: 10, apdus: Self.apdus(count: 1500, size: 1200))
        configuration.source.parity = Source.Parity(groupSize: 16, proactive: 1)
        configuration.source.congestionControl = CongestionControl.Configuration()
        configuration.source.rate = 4_000_000
        configuration.receiverDownlink = LinkProfile(loss: .bernoulli(0.02))
        let scenario = SessionScenario(configuration)
        #expect(scenario.run(limit: .seconds(600)))
        #expect(scenario.verify().isEmpty, "\(scenario.verify().prefix(5))")
        let source = scenario.source.engine.statistics
        #expect(source.proactiveParitySent > 0 && source.onDemandParitySent > 0)
        #expect(scenario.source.engine.congestion?.acker != nil)
    }

    /// Receivers without FEC (`useParity` off, as OpenPGM's) beside receivers with it: both repaired, the former
    /// selectively.
    @Test func receiversWithAndWithoutFEC() {
        var configuration = SessionScenario.Configuration(
            seed: 5, receivers: 6, apdus: Self.apdus(count: 1500, size: 900))
        configuration.source.parity = Source.Parity(groupSize: 16, proactive: 1)
        configuration.source.rate = 4_000_000
        configuration.receiverDownlink = LinkProfile(loss: .bernoulli(0.03))
        var withoutFEC = configuration.receiver
        withoutFEC.useParity = false
        for index in 0..<3 { configuration.receiverConfigurations[index] = withoutFEC }
        let scenario = SessionScenario(configuration)
        #expect(scenario.run(limit: .seconds(600)))
        #expect(scenario.verify().isEmpty, "\(scenario.verify().prefix(5))")
        let statistics = scenario.receivers.map { $0.engine.statistics }
        #expect(statistics[0..<3].allSatisfy { $0.sequencesRecoveredByParity == 0 && $0.parityNAKsSent == 0 })
        #expect(statistics[3...].allSatisfy { $0.sequencesRecoveredByParity > 0 })
        #expect(scenario.source.engine.statistics.rdataSent > 0)
    }
}
