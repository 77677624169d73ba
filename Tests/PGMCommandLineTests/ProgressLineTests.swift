import ArgumentParser
import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// Issue 18, item 3: the statistics line in human units that fits 80 columns, with a percentage and ETA when
/// the size is known, a word for lingering, the summary's rate over the data phase, one definition of loss,
/// `--interval` and `--quiet`.
@Suite struct ProgressLineTests {
    static func transcript(quiet: Bool = false, interval: Duration = .seconds(1)) -> (
        StatisticsPrinter, OutputLinePinTests.Transcript
    ) {
        let transcript = OutputLinePinTests.Transcript()
        let printer = StatisticsPrinter(
            json: false, interval: interval, quiet: quiet, isTerminal: false, wallClock: { 0 }
        ) { transcript.text += $0 }
        return (printer, transcript)
    }

    /// Worst cases: every counter huge, every optional field set, for every role: never wider than 80.
    @Test func everyLineFitsEightyColumns() {
        for role in [StatisticsSample.Role.source, .receiver, .dlr, .networkElement] {
            for big in [0, 999, 123_456_789, Int(Int32.max), 9_876_543_210_123] {
                for kind in [StatisticsSample.Kind.statistics, .summary] {
                    var sample = StatisticsSample(role: role)
                    sample.type = kind
                    sample.elapsedSeconds = Double(big) / 1000
                    sample.rateBitsPerSecond = Double(big) * 8
                    sample.bytes = big
                    sample.totalBytes = big * 2 + 1
                    sample.etaSeconds = Double(big)
                    sample.packets = big
                    sample.naks = big
                    sample.repairs = big
                    sample.unrecoverable = big
                    sample.lossRate = 0.999
                    sample.lossRateAverage = 0.5
                    sample.worstReceiverLossRate = 1
                    sample.dataSeconds = Double(big) / 2000
                    sample.state = big == 0 ? nil : "lingering for repairs (5 s)"
                    let line = StatisticsPrinter.text(sample)
                    #expect(line.count <= 80, "\(line.count): \(line)")
                    #expect(line.hasPrefix(kind == .summary ? "total " : ""))
                }
            }
        }
    }

    /// A 100 MB file at 40 % after 4 s: the percentage, both sizes in one unit, and the ETA at the rate so far.
    @Test func aKnownSizeGivesThePercentageAndETA() {
        var sample = StatisticsSample(role: .source)
        sample.elapsedSeconds = 4
        sample.rateBitsPerSecond = 80e6
        sample.bytes = 40_000_000
        sample.totalBytes = 100_000_000
        sample.etaSeconds = 6
        sample.naks = 3
        sample.repairs = 2
        #expect(StatisticsPrinter.text(sample) == "4.0 s  40% 40.0 of 100 MB  80 Mbit/s  ETA 6 s  NAK 3  RDATA 2")
        sample.etaSeconds = 200
        #expect(StatisticsPrinter.text(sample).contains("ETA 3 min 20 s"))
    }

    /// The source through a run: ETA while sending, then `lingering for repairs (N s)` instead of `0 bit/s`,
    /// and the summary's rate over the data phase (read to drained), not the linger.
    @Test func theSourceSaysItLingersAndRatesTheDataPhaseOnly() {
        var engine = SourceProgramTests.engine()
        // Three APDUs read, the rest of a 6,000-byte input still to come (the partial keeps it open).
        let input = SourceProgramTests.MemoryInput(apdus: SourceProgramTests.apdus(3), partial: [1, 2, 3])
        input.totalBytes = 6000
        var program = SourceProgram(linger: .seconds(5), apduSize: 1000, maximumQueuedBytes: 1 << 20)
        let t0 = SourceProgramTests.t0
        _ = program.readInput(input, into: &engine, at: t0)
        SourceProgramTests.drain(&engine, at: t0)
        let sending = program.sample(engine, input: input, at: t0 + .seconds(1))
        #expect(sending.totalBytes == 6000 && sending.bytes == 3000)
        #expect(sending.etaSeconds == 1 && sending.state == nil)
        try? input.finish { apdu in try engine.send(apdu, at: t0 + .seconds(2)) }
        engine.close(at: t0 + .seconds(2))
        SourceProgramTests.drain(&engine, at: t0 + .seconds(2))
        _ = program.turnEnded(&engine, at: t0 + .seconds(2))
        let lingering = program.sample(engine, input: input, at: t0 + .seconds(3))
        #expect(lingering.state == "lingering for repairs (4 s)")
        #expect(lingering.etaSeconds == nil && lingering.dataSeconds == 2)
        #expect(StatisticsPrinter.text(lingering).contains("lingering for repairs (4 s)"))
        let (printer, transcript) = Self.transcript()
        printer.finish(at: t0 + .seconds(7), lingering)
        // 3,003 bytes in the 2 s of data, not the 8 s of the run.
        #expect(transcript.lines[0] == "total 8.0 s  50% 3.00 of 6.00 kB in 2.0 s at 12.0 kbit/s  NAK 0  RDATA 0")
    }

    /// Loss is lost ÷ expected since the start (ODATA that did not arrive, repaired or not); the moving average
    /// is labelled as such.
    @Test func lossIsMissedOverExpectedAndTheAverageIsLabelled() {
        #expect(ReceiverProgram.lossRate(odataReceived: 990, repaired: 8, lost: 2) == 0.01)
        #expect(ReceiverProgram.lossRate(odataReceived: 0, repaired: 0, lost: 0) == 0)
        var sample = StatisticsSample(role: .receiver)
        sample.lossRate = 0.01
        sample.lossRateAverage = 0.5
        #expect(StatisticsPrinter.text(sample).contains("loss 1.00% (avg 50.00%)"))
    }

    @Test func quietPrintsNoPeriodicLinesAndIntervalSetsThePeriod() throws {
        let (quiet, quietText) = Self.transcript(quiet: true)
        for second in 0..<5 { quiet.tick(at: .zero + .seconds(second)) { StatisticsSample(role: .receiver) } }
        quiet.finish(at: .zero + .seconds(5), StatisticsSample(role: .receiver))
        #expect(quietText.lines.count == 2 && quietText.lines[0].hasPrefix("total "))
        let (slow, slowText) = Self.transcript(interval: .seconds(2))
        for second in 0..<5 { slow.tick(at: .zero + .seconds(second)) { StatisticsSample(role: .receiver) } }
        #expect(slowText.lines.count == 4)  // at 0, 2 and 4 s, and the empty rest
        let options = try SourceCommand.parse(["--interval", "0.5", "--quiet"]).output
        #expect(options.interval == 0.5 && options.quiet)
        #expect(throws: (any Error).self) { try ReceiveCommand.parse(["--interval", "0"]) }
    }

    @Test func humanUnits() {
        #expect(formatBytes(999) == "999 B")
        #expect(formatBytes(12_345) == "12.3 kB")
        #expect(formatBytes(45_000_000) == "45.0 MB")
        #expect(formatBytes(1_234_567_890) == "1.23 GB")
        #expect(formatBytes(45_000_000, unitOf: 100_000_000) == "45.0")
        #expect(formatDuration(59.2) == "60 s" || formatDuration(59.2) == "1 min 0 s")
        #expect(formatDuration(7260) == "2 h 01 min")
    }
}
