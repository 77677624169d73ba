import Testing

@testable import PGMCommandLine
@testable import PGMCore

/// `--log-level debug`'s once-a-second line: increases only, nothing for a quiet second, never more often than
/// the period.
@Suite struct DecisionLogTests {
    let start = Instant.zero

    func counts(naks: Int, repaired: Int) -> [DecisionLog.Count] {
        var statistics = Receiver.Statistics()
        statistics.naksSent = naks
        statistics.sequencesRepaired = repaired
        return statistics.decisions
    }

    @Test func reportsWhatMovedOncePerPeriod() {
        var log = DecisionLog(period: .seconds(1))
        #expect(log.line("repairs", counts(naks: 5, repaired: 0), at: start) == nil)  // the baseline
        #expect(log.line("repairs", counts(naks: 9, repaired: 2), at: start + .milliseconds(500)) == nil)
        #expect(
            log.line("repairs", counts(naks: 12, repaired: 4), at: start + .seconds(1))
                == "repairs: 7 NAKs sent, 4 sequences repaired")
        #expect(log.line("repairs", counts(naks: 13, repaired: 4), at: start + .milliseconds(1_500)) == nil)
        #expect(
            log.line("repairs", counts(naks: 13, repaired: 4), at: start + .seconds(2))
                == "repairs: 1 NAKs sent")
    }

    @Test func aQuietPeriodSaysNothing() {
        var log = DecisionLog(period: .seconds(1))
        _ = log.line("repairs", counts(naks: 3, repaired: 3), at: start)
        #expect(log.line("repairs", counts(naks: 3, repaired: 3), at: start + .seconds(1)) == nil)
        #expect(log.line("repairs", counts(naks: 3, repaired: 3), at: start + .seconds(5)) == nil)
    }

    @Test func everyEngineNamesEachCounterOnce() {
        for names in [
            Receiver.Statistics().decisions.map(\.name), Source.Statistics().decisions.map(\.name),
            NetworkElement.Statistics().decisions.map(\.name),
        ] {
            #expect(Set(names).count == names.count)
        }
    }
}
