import PGMCapture
import PGMWire
import Testing

/// The statistics behind `--stats`, on a hand-made trace whose answers are worked out below.
@Suite("Trace analyzer")
struct TraceAnalyzerTests {
    static let tsi = TSI(gsi: GSI((9, 8, 7, 6, 5, 4)), sourcePort: 2000)
    static let source = NLA.ipv4(IPv4Address(10, 0, 0, 1))
    static let group = NLA.ipv4(IPv4Address(239, 0, 0, 1))

    static func odata(_ sequence: UInt32) -> Packet {
        Packet(
            tsi: tsi,
            dataDestinationPort: 7500,
            body: .odata(DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(0), payload: [0][...]))
        )
    }
    static func rdata(_ sequence: UInt32) -> Packet {
        Packet(
            tsi: tsi,
            dataDestinationPort: 7500,
            body: .rdata(DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(0), payload: [0][...]))
        )
    }
    static func nak(_ sequence: UInt32, list: [UInt32] = [], report: (UInt16, UInt8)? = nil, confirm: Bool = false)
        -> Packet
    {
        var options: [Option] = []
        if !list.isEmpty { options.append(Option(.nakList(list.map(SequenceNumber.init)))) }
        if let (loss, host) = report {
            options.append(
                Option(
                    .congestionReport(
                        Option.CongestionReport(
                            kinds: [.receiverWorstPath],
                            lead: SequenceNumber(sequence),
                            receiverWorstPath: loss,
                            worstReceiver: .ipv4(IPv4Address(10, 0, 0, host))
                        )
                    )
                )
            )
        }
        let body = NAK(sequence: SequenceNumber(sequence), source: source, group: group)
        return Packet(tsi: tsi, dataDestinationPort: 7500, body: confirm ? .ncf(body) : .nak(body), options: options)
    }

    static func analyzer(_ trace: [(Int64, Packet)]) -> TraceAnalyzer {
        var analyzer = TraceAnalyzer()
        for (microseconds, packet) in trace {
            analyzer.record(
                packet,
                length: packet.encodedLength,
                at: CaptureTimestamp(totalNanoseconds: microseconds * 1000)
            )
        }
        return analyzer
    }

    static func analyze(_ trace: [(Int64, Packet)]) -> TraceAnalyzer.SessionReport? {
        analyzer(trace).report().sessions.first
    }

    @Test func gapsNAKsRepairsAndLatencies() throws {
        let trace: [(Int64, Packet)] = [
            (0, Self.odata(0)), (10, Self.odata(1)), (20, Self.odata(2)),
            (30, Self.odata(5)),  // gap 3, 4 seen at 30
            (40, Self.nak(3, list: [4], report: (0x1000, 7))),
            (41, Self.nak(3, list: [4], confirm: true)),
            (50, Self.rdata(3)),
            (60, Self.rdata(4)),
            (70, Self.odata(6)),
            (80, Self.odata(9)),  // gap 7, 8 seen at 80
            (100, Self.nak(7, report: (0x4000, 8))),
            (101, Self.nak(7, confirm: true)),
            (130, Self.nak(7, report: (0x2000, 9))),  // a second NAK for 7, never answered with RDATA
        ]
        let report = try #require(Self.analyze(trace))
        #expect(report.tsi == Self.tsi)
        #expect(report.gaps == 2 && report.gapSequences == 4)
        #expect(report.naks == 3 && report.nakEntries == 4)
        #expect(report.ncfs == 2 && report.ncfEntries == 3)
        #expect(report.rdata == 2)
        #expect(report.lostSequences == 4)  // 3, 4, 7, 8
        #expect(report.neverRepaired == [SequenceNumber(7), SequenceNumber(8)])
        // NAKs per lost sequence: 3→1, 4→1, 7→2, 8→0.
        #expect(report.naksPerLostSequence.total == 4 && report.naksPerLostSequence.maximum == 2)
        #expect(report.rdataPerLostSequence.total == 2 && report.rdataPerLostSequence.maximum == 1)
        // gap→NAK: 3 and 4 at 40-30, 7 at 100-80 (µs).
        #expect(report.gapToNAK == TraceAnalyzer.LatencySummary([10_000, 10_000, 20_000]))
        #expect(report.gapToNAK.p50 == 10_000 && report.gapToNAK.maximum == 20_000)
        #expect(report.nakToNCF.count == 3 && report.nakToNCF.maximum == 1_000)
        #expect(report.nakToRDATA.count == 2 && report.nakToRDATA.p50 == 10_000 && report.nakToRDATA.maximum == 20_000)
        #expect(report.congestionReports == 3)
        #expect(report.worstReceiver?.receiver == .ipv4(IPv4Address(10, 0, 0, 8)))
        #expect(report.worstReceiver?.loss == 0x4000)
        #expect(report.odataRange?.first == SequenceNumber(0) && report.odataRange?.last == SequenceNumber(9))
        let counts = Dictionary(uniqueKeysWithValues: report.traffic.map { ($0.type, $0.packets) })
        #expect(counts == [.odata: 6, .rdata: 2, .nak: 3, .ncf: 2])
    }

    /// Repair latency runs from the first sign of a loss (gap, NAK or NCF) to the first RDATA after it, and an NCF
    /// with no NAK here (an element below a lossy link confirming what it detected itself) makes a loss too.
    @Test func repairLatencyFromTheFirstSignAndLossesNamedOnlyByNCFs() throws {
        let trace: [(Int64, Packet)] = [
            (0, Self.odata(0)), (10, Self.odata(1)),
            (15, Self.nak(2, confirm: true)),  // the element's NCF for 2, before the ODATA after the gap
            (20, Self.odata(3)),  // gap 2 seen at 20: the NCF at 15 was first
            (40, Self.rdata(2)),  // 2: 25 µs
            (50, Self.odata(4)), (52, Self.odata(5)),
            (55, Self.nak(5)),  // a receiver's own loss: on the wire, NAKed
            (56, Self.nak(5, confirm: true)),
            (70, Self.rdata(5)),  // 5: 15 µs from the NAK
            (80, Self.nak(9, list: [10], confirm: true)),  // tail losses only an NCF names
            (95, Self.rdata(9)),  // 9: 15 µs; 10 never repaired
            (100, Self.rdata(1)),  // received here: another subnet's repair
            (105, Self.rdata(11)),  // before anything here said 11 was lost
            (110, Self.nak(11)),
            (120, Self.rdata(11)),  // 11: 10 µs, from the NAK to the RDATA after it
        ]
        let report = try #require(Self.analyze(trace))
        #expect(report.lost == [2, 5, 9, 10, 11].map(SequenceNumber.init))
        #expect(report.lostSequences == 5)
        #expect(report.neverRepaired == [SequenceNumber(10)])
        #expect(report.detectToRDATA == TraceAnalyzer.LatencySummary([25_000, 15_000, 15_000, 10_000]))
        #expect(report.detectToRDATA.p50 == 15_000 && report.detectToRDATA.maximum == 25_000)
        // The NAK-based latencies keep their meaning: only sequences NAKed here, NCFs and RDATA after the NAK.
        #expect(report.nakToNCF == TraceAnalyzer.LatencySummary([1_000]))
        #expect(report.nakToRDATA == TraceAnalyzer.LatencySummary([15_000]))
        #expect(report.gapToNAK.count == 0)
        #expect(report.ncfs == 3 && report.ncfEntries == 4)
        #expect(report.naksPerLostSequence.total == 2 && report.naksPerLostSequence.count == 5)
        #expect(report.rdataPerLostSequence.total == 5 && report.rdataPerLostSequence.maximum == 2)

        let whole = Self.analyzer(trace).report()
        var json = OutputBuffer()
        StatisticsFormatter.json(whole, into: &json)
        #expect(json.string.contains(#""detect_to_rdata":{"count":4,"p50":15000,"p90":25000,"p99":25000,"max":25000}"#))
        var text = OutputBuffer()
        StatisticsFormatter.text(whole, into: &text)
        #expect(text.string.contains("  loss -> RDATA         4      0.015      0.025      0.025      0.025\n"))
    }

    @Test func lateODATAFillsAGapAndWrapsAround() throws {
        let trace: [(Int64, Packet)] = [
            (0, Self.odata(UInt32.max - 1)), (1, Self.odata(1)),  // gap max, 0 across the wrap
            (2, Self.odata(UInt32.max)),  // late: fills one
        ]
        let report = try #require(Self.analyze(trace))
        #expect(report.gaps == 1 && report.gapSequences == 2)
        #expect(report.neverRepaired == [SequenceNumber(0)])
        #expect(report.odataRange?.first == SequenceNumber(UInt32.max - 1))
    }

    @Test func percentilesAreNearestRank() {
        let summary = TraceAnalyzer.LatencySummary((1...100).map(Int64.init).reversed())
        #expect(summary.p50 == 50 && summary.p90 == 90 && summary.p99 == 99 && summary.maximum == 100)
        #expect(TraceAnalyzer.LatencySummary([]).count == 0)
        #expect(TraceAnalyzer.LatencySummary([7]).p99 == 7)
    }

    /// On the OpenPGM capture, the counts agree with a direct count over the decoded packets.
    @Test func countsAgreeWithTheCapture() throws {
        var analyzer = TraceAnalyzer()
        var nakEntries = 0
        var rdata = 0
        var nakked = Set<UInt32>()
        for (_, dissection) in try TestData.dissections(TestData.nativeCapture) {
            analyzer.record(dissection)
            guard let packet = dissection.pgm?.packet else { continue }
            if case .nak(let nak) = packet.body {
                var sequences = [nak.sequence.rawValue]
                for case .nakList(let list) in packet.options.map(\.value) { sequences += list.map(\.rawValue) }
                nakEntries += sequences.count
                nakked.formUnion(sequences)
            }
            if case .rdata = packet.body { rdata += 1 }
        }
        let report = analyzer.report()
        #expect(report.capture.frames == 340 && report.capture.pgmPackets == 340 && report.capture.badChecksums == 0)
        let session = try #require(report.sessions.first)
        #expect(report.sessions.count == 1)
        #expect(session.nakEntries == nakEntries && session.rdata == rdata)
        // The capture was taken before the receiver's 10 % drop: no ODATA gaps, every loss is NAKed.
        #expect(session.gaps == 0 && session.lostSequences == nakked.count)
        #expect(session.nakToRDATA.count + session.neverRepaired.count == nakked.count)
    }
}
