import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// Every line the three programs print on stderr, for fixed samples and events, byte for byte: with `--json`
/// (keys, value types, key order, escaping) and without (the text people read). What scripts and the lab parse
/// must not change by accident.
@Suite struct OutputLinePinTests {
    /// What a printer wrote, line by line.
    final class Transcript {
        var text = ""
        var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }

    static func printer(json: Bool, terminal: Bool = false) -> (StatisticsPrinter, Transcript) {
        let transcript = Transcript()
        let printer = StatisticsPrinter(
            json: json, interval: .seconds(1), isTerminal: terminal, wallClock: { 1_796_400_000.125 }
        ) { transcript.text += $0 }
        return (printer, transcript)
    }

    static let tsi = TSI(gsi: GSI(rawValue: 0xC612_0001_ABCD), sourcePort: 4000)
    static let other = TSI(gsi: GSI(rawValue: 0xC612_0002_0001), sourcePort: 4001)
    static let address = NLA.ipv4(IPv4Address(198, 18, 1, 10))

    static func sourceSample() -> StatisticsSample {
        var sample = StatisticsSample(role: .source)
        sample.bytes = 12_345_678
        sample.messages = 543
        sample.packets = 8901
        sample.naks = 3
        sample.ncfs = 3
        sample.repairs = 2
        sample.lossRate = 2.0 / 8899
        sample.worstReceiverLossRate = 0.0123
        sample.worstReceiver = "198.18.2.10"
        return sample
    }

    static func receiverSample(role: StatisticsSample.Role) -> StatisticsSample {
        var sample = StatisticsSample(role: role)
        sample.bytes = 20_000_000
        sample.messages = 878
        sample.packets = 14_045
        sample.naks = 12
        sample.ncfs = 11
        sample.repairs = 12
        sample.lossRate = 0.000_853
        sample.unrecoverable = 0
        sample.dataSeconds = 2.25
        return sample
    }

    static func elementSample() -> StatisticsSample {
        var sample = StatisticsSample(role: .networkElement)
        sample.packets = 30_120
        sample.naks = 40
        sample.ncfs = 40
        sample.repairs = 31
        var counters = ElementCounters(
            NetworkElement(
                configuration: NetworkElement.Configuration(
                    interfaces: [
                        NetworkElement.Interface(id: InterfaceID(0), address: .ipv4(IPv4Address(198, 18, 1, 1))),
                        NetworkElement.Interface(id: InterfaceID(1), address: .ipv4(IPv4Address(198, 18, 2, 1))),
                    ],
                    upstream: InterfaceID(0)
                )
            ).statistics,
            sessions: 1
        )
        counters.spmsForwarded = 5
        counters.odataForwarded = 14_000
        counters.rdataForwarded = 31
        counters.rdataCopiesSent = 33
        counters.naksReceived = 40
        counters.naksEliminated = 9
        counters.naksForwarded = 31
        counters.nakSequencesForwarded = 31
        counters.ncfsSent = 40
        counters.lossesDetected = 2
        counters.dropped = 7
        counters.worstLossRate = 0.5
        counters.worstReceiver = "198.18.2.10"
        sample.element = counters
        return sample
    }

    /// A statistics line after two seconds, then the summary after three.
    static func samples(_ sample: StatisticsSample, json: Bool, terminal: Bool = false) -> [String] {
        let (printer, transcript) = printer(json: json, terminal: terminal)
        printer.tick(at: .zero + .seconds(2)) { sample }
        printer.tick(at: .zero + .milliseconds(2500)) { sample }  // within the interval: nothing
        printer.finish(at: .zero + .seconds(3), sample)
        return transcript.lines
    }

    static func notes(_ notes: [ProgramNote], json: Bool) -> [String] {
        let (printer, transcript) = printer(json: json)
        for note in notes { printer.print(note) }
        return transcript.lines
    }

    static func sourceNotes() -> [ProgramNote] {
        var program = SourceProgram(linger: .seconds(5), apduSize: 22_784, maximumQueuedBytes: 1 << 20)
        var notes: [ProgramNote] = [
            .source(
                .started(
                    tsi: tsi,
                    group: "239.192.0.1",
                    port: 7500,
                    interface: "eth0 (198.18.1.10)",
                    interfaceName: "eth0",
                    transport: "UDP port 3056",
                    apduSize: 22_784,
                    window: "window 4 s at 100 Mbit/s = 50 MB",
                    windowBytes: 50_000_000
                )
            )
        ]
        for case .note(let note) in program.handle(.worstReceiver(lossRate: 0.0123, address: address)) {
            notes.append(note)
        }
        return notes
    }

    static func receiverNotes() -> [ProgramNote] {
        var program = ReceiverProgram(
            role: .receiver,
            wanted: nil,
            follow: false,
            timeout: .seconds(20),
            dlrLinger: .seconds(5),
            start: .zero
        )
        var outputs: [ProgramOutput] = [
            .note(
                .receiver(
                    .started(
                        group: "239.192.0.1",
                        port: 7500,
                        interface: "eth0 (198.18.1.10)",
                        interfaceName: "eth0",
                        transport: "native"
                    )
                )
            )
        ]
        let events: [Receiver.Event] = [
            .peerDiscovered(tsi, source: address),
            .joined(tsi, firstSequence: SequenceNumber(4711), lateJoin: true),
            .peerDiscovered(other, source: .ipv4(IPv4Address(198, 18, 1, 11))),
            .data(tsi, bytes: [1, 2, 3]),
            .unrecoverable(tsi, first: SequenceNumber(10), last: SequenceNumber(12), reason: .retriesExhausted),
            .unrecoverable(tsi, first: SequenceNumber(20), last: SequenceNumber(20), reason: .windowAdvanced),
            .joined(other, firstSequence: SequenceNumber(1), lateJoin: false),
            .peerExpired(tsi),
        ]
        for event in events { outputs += program.handle(event, at: .zero + .seconds(1)) { _ in nil } }
        outputs += program.outputFailed("Broken pipe")
        var timingOut = ReceiverProgram(
            role: .receiver,
            wanted: nil,
            follow: false,
            timeout: .seconds(20),
            dlrLinger: .seconds(5),
            start: .zero
        )
        outputs += timingOut.turnEnded(at: .zero + .seconds(20))
        var following = ReceiveSession(wanted: nil, follow: true)
        var pinned = ReceiveSession(wanted: other)
        let actions =
            following.handle(.peerDiscovered(tsi, source: address)) + following.handle(.sessionClosed(tsi))
            + pinned.handle(.peerDiscovered(tsi, source: address))
        for case .note(let note) in actions { outputs.append(.note(.receiver(note))) }
        return outputs.compactMap { if case .note(let note) = $0 { note } else { nil } }
    }

    static func elementNotes() -> [ProgramNote] {
        let program = ElementProgram(interfaceNames: ["core", "a"])
        var notes: [ProgramNote] = [
            .element(
                .started(
                    group: "239.192.0.1",
                    port: 7500,
                    upstream: "core (198.18.1.1)",
                    upstreamName: "core",
                    downstream: ["a (198.18.2.1)"],
                    downstreamNames: ["a"],
                    transport: "UDP port 3056"
                )
            )
        ]
        let events: [NetworkElement.Event] = [
            .sessionLearned(tsi, upstream: InterfaceID(0), neighbor: address),
            .upstreamChanged(tsi, upstream: InterfaceID(1), neighbor: address),
            .repairerLearned(tsi, address: .ipv4(IPv4Address(198, 18, 2, 20)), interface: InterfaceID(1)),
            .repairerDropped(tsi, address: .ipv4(IPv4Address(198, 18, 2, 20))),
            .sessionExpired(tsi),
        ]
        for event in events {
            for case .note(let note) in program.handle(event) { notes.append(note) }
        }
        return notes
    }

    /// pgm-source: statistics and summary, with the worst receiver.
    @Test func sourceStatisticsJSONLines() {
        #expect(
            Self.samples(Self.sourceSample(), json: true) == [
                #"{"bytes":12345678,"elapsed_seconds":2,"loss_rate":0.0002247443532981234,"messages":543,"naks":3,"#
                    + #""ncfs":3,"packets":8901,"rate_bits_per_second":49382712,"repairs":2,"role":"source","#
                    + #""timestamp":1796400000.125,"type":"statistics","unrecoverable":0,"worst_receiver":"198.18.2.10","#
                    + #""worst_receiver_loss_rate":0.0123}"#,
                #"{"bytes":12345678,"elapsed_seconds":3,"loss_rate":0.0002247443532981234,"messages":543,"naks":3,"#
                    + #""ncfs":3,"packets":8901,"rate_bits_per_second":32921808,"repairs":2,"role":"source","#
                    + #""timestamp":1796400000.125,"type":"summary","unrecoverable":0,"worst_receiver":"198.18.2.10","#
                    + #""worst_receiver_loss_rate":0.0123}"#,
                "",
            ]
        )
    }

    @Test func sourceStatisticsTextLines() {
        #expect(
            Self.samples(Self.sourceSample(), json: false) == [
                #"2.0 s  12.3 MB  49.4 Mbit/s  NAK 3  RDATA 2  worst rx 1.23%"#,
                #"total 3.0 s  12.3 MB  32.9 Mbit/s  NAK 3  RDATA 2  worst rx 1.23%"#,
                "",
            ]
        )
    }

    /// pgm-recv: statistics and summary, with data_seconds.
    @Test func receiverStatisticsJSONLines() {
        #expect(
            Self.samples(Self.receiverSample(role: .receiver), json: true) == [
                #"{"bytes":20000000,"data_seconds":2.25,"elapsed_seconds":2,"loss_rate":0.000853,"messages":878,"#
                    + #""naks":12,"ncfs":11,"packets":14045,"rate_bits_per_second":80000000,"repairs":12,"#
                    + #""role":"receiver","timestamp":1796400000.125,"type":"statistics","unrecoverable":0}"#,
                #"{"bytes":20000000,"data_seconds":2.25,"elapsed_seconds":3,"loss_rate":0.000853,"messages":878,"#
                    + #""naks":12,"ncfs":11,"packets":14045,"rate_bits_per_second":71111111.1111111,"repairs":12,"#
                    + #""role":"receiver","timestamp":1796400000.125,"type":"summary","unrecoverable":0}"#,
                "",
            ]
        )
    }

    @Test func receiverStatisticsTextLines() {
        #expect(
            Self.samples(Self.receiverSample(role: .receiver), json: false) == [
                #"2.0 s  20.0 MB  80 Mbit/s  NAK 12  RDATA 12  loss 0.09%"#,
                #"total 3.0 s  20.0 MB in 2.3 s at 71.1 Mbit/s  NAK 12  RDATA 12  loss 0.09%"#,
                "",
            ]
        )
    }

    /// pgm-recv --dlr: the same keys, role dlr.
    @Test func dlrStatisticsJSONLines() {
        #expect(
            Self.samples(Self.receiverSample(role: .dlr), json: true) == [
                #"{"bytes":20000000,"data_seconds":2.25,"elapsed_seconds":2,"loss_rate":0.000853,"messages":878,"#
                    + #""naks":12,"ncfs":11,"packets":14045,"rate_bits_per_second":80000000,"repairs":12,"role":"dlr","#
                    + #""timestamp":1796400000.125,"type":"statistics","unrecoverable":0}"#,
                #"{"bytes":20000000,"data_seconds":2.25,"elapsed_seconds":3,"loss_rate":0.000853,"messages":878,"#
                    + #""naks":12,"ncfs":11,"packets":14045,"rate_bits_per_second":71111111.1111111,"repairs":12,"#
                    + #""role":"dlr","timestamp":1796400000.125,"type":"summary","unrecoverable":0}"#,
                "",
            ]
        )
    }

    @Test func dlrStatisticsTextLines() {
        #expect(
            Self.samples(Self.receiverSample(role: .dlr), json: false) == [
                #"2.0 s  20.0 MB  80 Mbit/s  NAK 12  RDATA 12  loss 0.09%"#,
                #"total 3.0 s  20.0 MB in 2.3 s at 71.1 Mbit/s  NAK 12  RDATA 12  loss 0.09%"#,
                "",
            ]
        )
    }

    /// pgm-ne: the common keys and its element counters.
    @Test func elementStatisticsJSONLines() {
        #expect(
            Self.samples(Self.elementSample(), json: true) == [
                #"{"bytes":0,"elapsed_seconds":2,"element":{"acks_forwarded":0,"dropped":7,"losses_detected":2,"nak_repeats":0,"#
                    + #""nak_sequences_answered_from_copies":0,"nak_sequences_forwarded":31,"naks_eliminated":9,"#
                    + #""naks_forwarded":31,"naks_received":40,"naks_redirected":0,"ncfs_received":0,"ncfs_sent":40,"#
                    + #""odata_forwarded":14000,"off_path_dropped":0,"rdata_copies_sent":33,"rdata_forwarded":31,"#
                    + #""rdata_without_repair_state_dropped":0,"repair_retries":0,"repairers_learned":0,"#
                    + #""repairs_resent_from_copies":0,"sessions":1,"spmrs_received":0,"spms_forwarded":5,"#
                    + #""worst_loss_rate":0.5,"worst_receiver":"198.18.2.10"},"loss_rate":0,"messages":0,"naks":40,"#
                    + #""ncfs":40,"packets":30120,"rate_bits_per_second":0,"repairs":31,"role":"network_element","#
                    + #""timestamp":1796400000.125,"type":"statistics","unrecoverable":0}"#,
                #"{"bytes":0,"elapsed_seconds":3,"element":{"acks_forwarded":0,"dropped":7,"losses_detected":2,"nak_repeats":0,"#
                    + #""nak_sequences_answered_from_copies":0,"nak_sequences_forwarded":31,"naks_eliminated":9,"#
                    + #""naks_forwarded":31,"naks_received":40,"naks_redirected":0,"ncfs_received":0,"ncfs_sent":40,"#
                    + #""odata_forwarded":14000,"off_path_dropped":0,"rdata_copies_sent":33,"rdata_forwarded":31,"#
                    + #""rdata_without_repair_state_dropped":0,"repair_retries":0,"repairers_learned":0,"#
                    + #""repairs_resent_from_copies":0,"sessions":1,"spmrs_received":0,"spms_forwarded":5,"#
                    + #""worst_loss_rate":0.5,"worst_receiver":"198.18.2.10"},"loss_rate":0,"messages":0,"naks":40,"#
                    + #""ncfs":40,"packets":30120,"rate_bits_per_second":0,"repairs":31,"role":"network_element","#
                    + #""timestamp":1796400000.125,"type":"summary","unrecoverable":0}"#,
                "",
            ]
        )
    }

    @Test func elementStatisticsTextLines() {
        #expect(
            Self.samples(Self.elementSample(), json: false) == [
                #"2.0 s  0 B fwd  0 bit/s  30,120 pkts  NAK 40  RDATA 31"#,
                #"total 3.0 s  0 B fwd  0 bit/s  30,120 pkts  NAK 40  RDATA 31"#,
                "",
            ]
        )
    }

    /// pgm-source: the start line and a worst receiver.
    @Test func sourceEventsJSONLines() {
        #expect(
            Self.notes(Self.sourceNotes(), json: true) == [
                #"{"apdu_size":22784,"group":"239.192.0.1","interface":"eth0","timestamp":1796400000.125,"#
                    + #""tsi":"c6:12:00:01:ab:cd.4000","type":"start","window":50000000}"#,
                "",
            ]
        )
    }

    @Test func sourceEventsTextLines() {
        #expect(
            Self.notes(Self.sourceNotes(), json: false) == [
                #"pgm-source: TSI c6:12:00:01:ab:cd.4000 to 239.192.0.1:7500 on eth0 (198.18.1.10), UDP port 3056,"#
                    + #" APDUs up to 22,784 bytes; window 4 s at 100 Mbit/s = 50 MB"#,
                "",
            ]
        )
    }

    /// pgm-recv: start, sessions, joins, losses, expiry, follow, errors, timeout, --follow, --tsi.
    @Test func receiverEventsJSONLines() {
        #expect(
            Self.notes(Self.receiverNotes(), json: true) == [
                #"{"group":"239.192.0.1","interface":"eth0","timestamp":1796400000.125,"type":"start"}"#,
                #"{"source":"198.18.1.10","timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"session"}"#,
                #"{"first_sequence":4711,"late":true,"output_offset":0,"timestamp":1796400000.125,"#
                    + #""tsi":"c6:12:00:01:ab:cd.4000","type":"joined"}"#,
                #"{"source":"198.18.1.11","timestamp":1796400000.125,"tsi":"c6:12:00:02:00:01.4001","#
                    + #""type":"ignored_session"}"#,
                #"{"first":10,"last":12,"output_offset":3,"packets":3,"ranges":[{"first":10,"last":12,"#
                    + #""output_offset":3,"packets":3,"reason":"retriesExhausted"}],"reason":"retriesExhausted","#
                    + #""timestamp":1796400000.125,"type":"unrecoverable"}"#,
                #"{"output_offset":3,"timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","type":"expired"}"#,
                #"{"dropped_bytes":0,"output_offset":3,"source":"198.18.1.11","timestamp":1796400000.125,"#
                    + #""tsi":"c6:12:00:02:00:01.4001","type":"follow"}"#,
                #"{"first_sequence":1,"late":false,"output_offset":3,"timestamp":1796400000.125,"#
                    + #""tsi":"c6:12:00:02:00:01.4001","type":"joined"}"#,
                #"{"message":"output","reason":"Broken pipe","timestamp":1796400000.125,"type":"error"}"#,
                #"{"seconds":20,"timestamp":1796400000.125,"type":"timeout"}"#,
                #"{"source":"198.18.1.10","timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"session"}"#,
                #"{"output_offset":0,"timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"session_closed"}"#,
                #"{"output_offset":0,"timestamp":1796400000.125,"type":"waiting"}"#,
                #"{"source":"198.18.1.10","timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"ignored_session"}"#,
                "",
            ]
        )
    }

    @Test func receiverEventsTextLines() {
        #expect(
            Self.notes(Self.receiverNotes(), json: false) == [
                #"pgm-recv: joined 239.192.0.1:7500 on eth0 (198.18.1.10), native"#,
                #"pgm-recv: session c6:12:00:01:ab:cd.4000 from 198.18.1.10"#,
                #"pgm-recv: joined session c6:12:00:01:ab:cd.4000 mid-stream: delivering from sequence 4711 (the "#
                    + #"first whole APDU at or after it) at output byte 0; earlier data of this session is not delivered"#,
                #"pgm-recv: ignoring session c6:12:00:02:00:01.4001 from 198.18.1.11 while c6:12:00:01:ab:cd.4000 "#
                    + #"lasts (kept to follow if it ends)"#,
                #"pgm-recv: unrecoverable: 3 packets missing from the output (sequences 10–12 at output byte 3): "#
                    + #"no repair came after repeated NAKs"#,
                #"pgm-recv: session c6:12:00:01:ab:cd.4000 went silent and expired without closing"#,
                #"pgm-recv: following session c6:12:00:02:00:01.4001 from 198.18.1.11 at output byte 3"#,
                #"pgm-recv: joined session c6:12:00:02:00:01.4001 at its start, sequence 1, at output byte 3"#,
                #"pgm-recv: cannot write the output: Broken pipe"#,
                #"pgm-recv: no data for 20.0 s (--timeout)"#,
                #"pgm-recv: session c6:12:00:01:ab:cd.4000 from 198.18.1.10"#,
                #"pgm-recv: session c6:12:00:01:ab:cd.4000 closed after 0 bytes of output; following the next "#
                    + #"session (--follow)"#,
                #"pgm-recv: waiting for a new session"#,
                #"pgm-recv: ignoring session c6:12:00:01:ab:cd.4000 from 198.18.1.10 (not --tsi)"#,
                "",
            ]
        )
    }

    /// pgm-ne: start, sessions, upstream changes, DLRs.
    @Test func elementEventsJSONLines() {
        #expect(
            Self.notes(Self.elementNotes(), json: true) == [
                #"{"downstream":"a","group":"239.192.0.1","timestamp":1796400000.125,"type":"start","#
                    + #""upstream":"core"}"#,
                #"{"neighbor":"198.18.1.10","timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"session","upstream":"core"}"#,
                #"{"neighbor":"198.18.1.10","timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"upstream_changed","upstream":"a"}"#,
                #"{"address":"198.18.2.20","interface":"a","timestamp":1796400000.125,"#
                    + #""tsi":"c6:12:00:01:ab:cd.4000","type":"dlr"}"#,
                #"{"address":"198.18.2.20","timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","#
                    + #""type":"dlr_dropped"}"#,
                #"{"timestamp":1796400000.125,"tsi":"c6:12:00:01:ab:cd.4000","type":"session_expired"}"#,
                "",
            ]
        )
    }

    @Test func elementEventsTextLines() {
        #expect(
            Self.notes(Self.elementNotes(), json: false) == [
                #"pgm-ne: 239.192.0.1:7500 upstream core (198.18.1.1), downstream a (198.18.2.1), UDP port 3056"#,
                #"pgm-ne: session c6:12:00:01:ab:cd.4000 upstream 198.18.1.10 on core"#,
                #"pgm-ne: session c6:12:00:01:ab:cd.4000 moved upstream to 198.18.1.10 on a"#,
                #"pgm-ne: session c6:12:00:01:ab:cd.4000: NAKs now go to the DLR 198.18.2.20 on a"#,
                #"pgm-ne: session c6:12:00:01:ab:cd.4000: DLR 198.18.2.20 dropped, NAKs go upstream"#,
                #"pgm-ne: session c6:12:00:01:ab:cd.4000 expired"#,
                "",
            ]
        )
    }

    /// pgm-recv's rarer lines: following a session whose start did not fit the buffer, a candidate before any
    /// session was selected.
    @Test func receiverRareLines() {
        let notes: [ProgramNote] = [
            .receiver(.follow(Self.other, source: Self.address, outputOffset: 1000, droppedBytes: 3 << 20)),
            .receiver(.candidateSession(Self.other, source: Self.address, selected: nil)),
        ]
        #expect(
            Self.notes(notes, json: false) == [
                #"pgm-recv: following session c6:12:00:02:00:01.4001 from 198.18.1.10 at output byte 1000; its "#
                    + #"first 3145728 bytes were not kept (more than 67108864 bytes waited)"#,
                #"pgm-recv: ignoring session c6:12:00:02:00:01.4001 from 198.18.1.10 while another lasts (kept to "#
                    + #"follow if it ends)"#,
                "",
            ]
        )
        #expect(
            Self.notes(notes, json: true) == [
                #"{"dropped_bytes":3145728,"output_offset":1000,"source":"198.18.1.10","timestamp":1796400000.125,"#
                    + #""tsi":"c6:12:00:02:00:01.4001","type":"follow"}"#,
                #"{"source":"198.18.1.10","timestamp":1796400000.125,"tsi":"c6:12:00:02:00:01.4001","#
                    + #""type":"ignored_session"}"#,
                "",
            ]
        )
    }

    /// On a terminal the statistics line is redrawn in place and the summary ends it.
    @Test func aTerminalRedrawsTheLine() {
        #expect(
            Self.samples(Self.sourceSample(), json: false, terminal: true) == [
                "\r\u{1B}[K2.0 s  12.3 MB  49.4 Mbit/s  NAK 3  RDATA 2  worst rx 1.23%\r\u{1B}[Ktotal 3.0 s  12.3 MB  32.9 Mbit/s  NAK 3  RDATA 2  worst rx 1.23%",
                "",
            ]
        )
    }
}
