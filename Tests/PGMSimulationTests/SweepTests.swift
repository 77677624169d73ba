import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// The invariant sweep: seeds × loss models × receiver counts × window sizes. Every receiver must deliver
/// exactly the sent APDUs in order, except those it reported lost, and its loss reports must be exactly the
/// sequences it never received, each made only after the source's trail had passed it. With up to 5 %
/// independent loss and the default 30 s window nothing may be lost at all; with 20 % or bursty loss, or a
/// 150 ms window, losses are allowed, but only with exact reports. (Under bursty loss a receiver may lose
/// every packet naming the session's end; it is then excused from reporting that tail, see
/// `SessionScenario.silentTails`.)
///
/// `PGM_SWEEP_SEEDS` sets the number of seeds per combination (default ``defaultSeeds``, which keeps the
/// whole suite within about three minutes on two cores in a debug build; the full run is 200).
/// `PGM_SEED` runs one given seed instead.
@Suite struct SweepTests {
    static let defaultSeeds = 8

    enum Loss: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case none, onePercent, fivePercent, twentyPercent, bursty

        var model: LossModel {
            switch self {
            case .none: .none
            case .onePercent: .bernoulli(0.01)
            case .fivePercent: .bernoulli(0.05)
            case .twentyPercent: .bernoulli(0.2)
            // Gilbert-Elliott: 5 % long-run loss in bursts of 4 packets on average.
            case .bursty: .bursts(rate: 0.05, burstLength: 4)
            }
        }

        var testDescription: String { rawValue }
    }

    static var seeds: [UInt64] {
        let count = Seeds.integer("PGM_SWEEP_SEEDS", default: defaultSeeds)
        let first = Seeds.seed(1000)
        return Seeds.integer("PGM_SEED", default: -1) >= 0 ? [first] : (0..<UInt64(count)).map { first + $0 }
    }

    @Test(arguments: Loss.allCases, [1, 10, 100])
    func sweep(loss: Loss, receivers: Int) {
        for seed in Self.seeds {
            for tight in [false, true] {
                run(seed: seed, loss: loss, receivers: receivers, tightWindow: tight)
            }
        }
    }

    private func run(seed: UInt64, loss: Loss, receivers: Int, tightWindow: Bool) {
        let label = "seed \(seed) loss \(loss.rawValue) receivers \(receivers) tight \(tightWindow)"
        var configuration = SessionScenario.Configuration(
            seed: seed, receivers: receivers, apdus: makeAPDUs(count: 30, sizes: 1...3000, seed: seed))
        configuration.receiverDownlink = LinkProfile(delay: .microseconds(300), loss: loss.model)
        configuration.receiverUplink = LinkProfile(delay: .microseconds(300), loss: loss.model)
        if tightWindow {
            configuration.source.txwSeconds = .milliseconds(150)
            configuration.source.rate = 100_000
            configuration.source.burst = 3000
        }
        let scenario = SessionScenario(configuration)
        let finished = scenario.run(limit: .seconds(1200))
        #expect(finished, "\(label): not every receiver saw the close (replay with PGM_SEED=\(seed))")
        let failures = scenario.verify()
        #expect(failures.isEmpty, Comment(rawValue: "\(label): " + describe(failures, seed: seed)))
        let strict = loss == .none || loss == .onePercent || loss == .fivePercent
        if strict {
            // Independent loss up to 5 %: 50 NAK retries within a 30 s window always succeed, and some of the
            // nine FIN SPMs always gets through.
            #expect(scenario.silentTails == 0, "\(label): \(scenario.silentTails) receivers never heard the end")
        }
        if strict && !tightWindow {
            let reports = scenario.logs.enumerated().flatMap { index, log in
                log.unrecoverable.map { "receiver\(index): \($0)" }
            }
            #expect(
                reports.isEmpty,
                "\(label): loss reported although the window outlasts every repair: \(reports.prefix(5))")
        }
        // Up to 5 % independent loss, whatever is lost is lost because the source's window moved on (checked
        // against the source's trail at the moment of each report, in `verify()`), never because a receiver
        // gave up retrying. Heavier loss may also exhaust retries once every SPM showing the trail was lost.
        if strict {
            for log in scenario.logs {
                #expect(log.unrecoverable.allSatisfy { $0.reason == .windowAdvanced }, "\(label)")
            }
        }
        if loss == .none {
            #expect(scenario.source.engine.statistics.rdataSent == 0, "\(label)")
        }
    }
}
