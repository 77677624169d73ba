import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// Receivers behind a network element that tunes NAK_BO_IVL per interface (RFC 3208 §15.2.1) take the value it
/// advertises on its SPMs and NCFs (§15.2.2).
@Suite struct ReceiverBackoffSimulationTests {
    @Test func receiversUseTheNAKBackoffIntervalTheirElementAdvertises() {
        let seed = Seeds.seed(61)
        var configuration = NetworkElementTreeTests.configuration(seed: seed, fanout: [3], receivers: 4, loss: 0.05)
        configuration.element = { $0.backoffTuning?.initial = .milliseconds(20) }
        let scenario = ElementTreeScenario(configuration)
        NetworkElementTreeTests.check(scenario, seed: seed, eliminationOnly: false)
        let tsi = configuration.source.tsi
        var learned: Set<Duration> = []
        for receiver in scenario.receivers {
            // Every OPT_NAK_BO_IVL on an SPM or NCF on this receiver's subnet.
            let segment = receiver.interfaces[0].segment
            var advertised: Set<Duration> = []
            for record in scenario.network.trace where record.segment == segment && record.receiver == nil {
                guard let packet = record.packet, [.spm, .ncf].contains(packet.body.type) else { continue }
                for option in packet.options {
                    if case .nakBackoffInterval(let microseconds, _) = option.value {
                        advertised.insert(.microseconds(Int64(microseconds)))
                    }
                }
            }
            let current = receiver.engine.nakBackoffInterval(for: tsi)
            #expect(
                current.map(advertised.contains) == true,
                "seed \(seed) \(receiver.name): \(String(describing: current))"
            )
            if let current { learned.insert(current) }
        }
        #expect(!learned.contains(configuration.receiver.nakBackoffInterval), "seed \(seed): \(learned)")
    }
}
