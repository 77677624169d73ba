import PGMCapture
import PGMWire
import Testing

/// FEC in pgm-dump (RFC 3208 Appendix A): parity packets read under the k an earlier SPM advertised, and the
/// `--stats` parity section, on synthetic packets.
@Suite("Parity in pgm-dump")
struct ParityTests {
    static let tsi = TSI(gsi: GSI((1, 2, 3, 4, 5, 6)), sourcePort: 4000)
    static let source = IPv4Address(10, 0, 0, 1)
    static let group = IPv4Address(239, 192, 0, 1)

    static func spm(groupSize: UInt32, options: [Option] = [], lead: UInt32 = 0) -> Packet {
        Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: .network,
            body: .spm(
                SPM(
                    sequence: SequenceNumber(1), trail: SequenceNumber(0), lead: SequenceNumber(lead),
                    path: .ipv4(source))),
            options: [Option(.parityParameters(modeBits: 0x03, groupSize: groupSize))] + options)
    }

    static func data(
        _ sequence: UInt32, repair: Bool = false, parity: Bool = false, flags: Packet.Flags = [],
        options: [Option] = []
    ) -> Packet {
        let body = DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(0), payload: [1, 2][...])
        return Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: flags.union(parity ? .parity : []),
            body: repair ? .rdata(body) : .odata(body), options: options)
    }

    static func request(_ sequences: [UInt32], parity: Bool = true, confirm: Bool = false) -> Packet {
        let nak = NAK(sequence: SequenceNumber(sequences[0]), source: .ipv4(source), group: .ipv4(group))
        let options = sequences.count > 1 ? [Option(.nakList(sequences.dropFirst().map(SequenceNumber.init)))] : []
        return Packet(
            tsi: tsi, dataDestinationPort: 7500, flags: parity ? .parity : [],
            body: confirm ? .ncf(nak) : .nak(nak), options: options)
    }

    static func dissection(_ packet: Packet) -> Dissection {
        let frame = IPFrameBuilder.ipv4(pgm: packet.encoded(), source: source, destination: group)
        return Dissection.dissect(
            frame: frame, linkType: .raw, timestamp: CaptureTimestamp(seconds: 60, nanoseconds: 0))
    }

    static func text(_ packet: Packet, _ parity: ParityContext?) -> String {
        var out = OutputBuffer()
        TextFormatter().format(dissection(packet), parity: parity, into: &out)
        return out.string
    }

    static func json(_ packet: Packet, _ parity: ParityContext?) -> String {
        var out = OutputBuffer()
        JSONFormatter().format(dissection(packet), parity: parity, into: &out)
        return out.string
    }

    static var learned: ParityContext {
        var context = ParityContext()
        context.record(dissection(spm(groupSize: 8)))
        return context
    }

    // MARK: Per packet

    @Test func parityPacketsShowTheirGroupAndIndexOrCountOnceKIsKnown() {
        let context = Self.learned
        #expect(context.groupSize(of: Self.tsi) == 8)
        let proactive = Self.text(Self.data(19, parity: true, flags: .variableLength), context)
        #expect(proactive.contains("ODATA sqn 19 trail 0 tsdu 2 parity tg 16 index 3 var_pktlen, length"))
        let extra = Self.text(Self.data(17, repair: true, parity: true, options: [Option(.parityGroup(1))]), context)
        #expect(extra.contains("RDATA sqn 17 trail 0 tsdu 2 parity tg 16 index 9 opts [PARITY_GRP 1]"))
        let nak = Self.text(Self.request([18, 28, 32]), context)
        #expect(
            nak.contains(
                "NAK sqn 18 src 10.0.0.1 grp 239.192.0.1 parity tg 16 count 3 (+ tg 24 count 5, tg 32 count 1)"))
        let ncf = Self.text(Self.request([23], confirm: true), context)
        #expect(ncf.contains("NCF sqn 23 src 10.0.0.1 grp 239.192.0.1 parity tg 16 count 8, length"))
    }

    @Test func withoutKAParityPacketShowsItsRawSequenceAndNoGuess() {
        var context = ParityContext()
        context.record(Self.dissection(Self.spm(groupSize: 6)))  // not a power of two: unusable
        #expect(context.groupSize(of: Self.tsi) == nil)
        for parity in [nil, context] {
            let line = Self.text(Self.data(19, parity: true), parity)
            #expect(line.contains("ODATA sqn 19 trail 0 tsdu 2 parity, length"))
            #expect(!Self.json(Self.request([18]), parity).contains("\"parity\":{"))
        }
    }

    @Test func nonParityPacketsPrintTheSameWithOrWithoutTheContext() {
        for packet in [Self.data(19), Self.data(19, repair: true), Self.request([18, 28], parity: false)] {
            #expect(Self.text(packet, Self.learned) == Self.text(packet, nil))
            #expect(Self.json(packet, Self.learned) == Self.json(packet, nil))
        }
    }

    @Test func jsonCarriesAParityObject() {
        let data = Self.json(
            Self.data(17, repair: true, parity: true, options: [Option(.parityGroup(2))]), Self.learned)
        #expect(data.contains(#""parity":{"group_size":8,"tg_sequence":16,"index":17}"#))
        let nak = Self.json(Self.request([18, 28]), Self.learned)
        #expect(
            nak.contains(
                #""parity":{"group_size":8,"tg_sequence":16,"count":3,"list":[{"tg_sequence":24,"count":5}]}"#))
        let single = Self.json(Self.request([16], confirm: true), Self.learned)
        #expect(single.contains(#""parity":{"group_size":8,"tg_sequence":16,"count":1,"list":[]}"#))
    }

    /// Any k a power of two, any PARITY_GRP, CURR_TGSIZE and sequence (near the wrap too): the formatters write
    /// well-formed lines and the analyzer reports, nothing traps.
    @Test(arguments: [UInt64(1), 2])
    func randomParityPacketsNeverTrap(seed: UInt64) throws {
        var random = RandomFrameTests.SplitMix64(state: seed)
        var context = ParityContext()
        var analyzer = TraceAnalyzer()
        for round in 0..<2_000 {
            let k = UInt32(1) << UInt32(random.below(32))
            let sequence = UInt32(truncatingIfNeeded: random.next())
            let options: [Option] = [
                Option(.parityGroup(UInt32(truncatingIfNeeded: random.next()))),
                Option(.currentGroupSize(UInt32(truncatingIfNeeded: random.next()))),
            ]
            let packet: Packet
            switch random.below(5) {
            case 0: packet = Self.spm(groupSize: k, options: options.suffix(1), lead: sequence)
            case 1: packet = Self.data(sequence, parity: true, options: options)
            case 2: packet = Self.data(sequence, repair: true, parity: random.below(2) == 0, options: options)
            case 3: packet = Self.data(sequence, options: options.suffix(1))
            default: packet = Self.request([sequence, sequence &+ 1, ~sequence], confirm: random.below(2) == 0)
            }
            let dissection = Self.dissection(packet)
            context.record(dissection)
            var json = OutputBuffer()
            JSONFormatter().format(dissection, parity: context, into: &json)
            #expect((try? TolerantJSON.parse(Array(json.bytes.dropLast()))) != nil, "\(json.string)")
            var text = OutputBuffer()
            TextFormatter().format(dissection, parity: context, into: &text)
            #expect(text.string.hasSuffix("\n"))
            analyzer.record(
                packet, length: packet.encodedLength, at: CaptureTimestamp(totalNanoseconds: Int64(round)))
        }
        var out = OutputBuffer()
        StatisticsFormatter.text(analyzer.report(), into: &out)
        StatisticsFormatter.json(analyzer.report(), into: &out)
        #expect(analyzer.report().sessions.first?.parity != nil)
    }

    // MARK: --stats

    /// k = 4. TG 4 loses 5 and has one proactive parity; TG 8 loses 9 (repaired by selective RDATA) and 10 (one
    /// on-demand parity); TG 12 loses 13 and 14 with one parity only (its SQN 13 is not ODATA 13); TG 16 is
    /// shortened to 2 packets, so 18 and 19 were never sent.
    static let trace: [Packet] = [
        spm(groupSize: 4),
        data(0), data(1), data(2), data(3),
        data(4), data(6), data(7), data(4, parity: true),
        data(8), data(11), request([9], parity: false), data(9, repair: true),
        request([8]), request([8], confirm: true), data(9, repair: true, parity: true),
        data(12), data(15), data(13, parity: true),
        data(16), data(17, options: [Option(.currentGroupSize(2))]), data(20),
    ]

    static func report(_ trace: [Packet]) -> TraceAnalyzer.Report {
        var analyzer = TraceAnalyzer()
        for (index, packet) in trace.enumerated() {
            analyzer.record(
                packet, length: packet.encodedLength, at: CaptureTimestamp(totalNanoseconds: Int64(index) * 1000))
        }
        return analyzer.report()
    }

    @Test func statsSeparateParityFromDataAndTellRepairsApart() throws {
        let session = try #require(Self.report(Self.trace).sessions.first)
        let parity = try #require(session.parity)
        #expect(parity.groupSize == 4 && parity.groups == 6)
        #expect(parity.proactive == 2 && parity.onDemand == 1)
        #expect(parity.naks == 1 && parity.requestedPackets == 1 && parity.selectiveRDATA == 1)
        #expect(parity.repairedSelectively == 1 && parity.repairedByParity == 2)
        #expect(session.lost.map(\.rawValue) == [5, 9, 10, 13, 14])
        #expect(session.neverRepaired.map(\.rawValue) == [13, 14])
        #expect(session.naks == 2 && session.ncfs == 1 && session.rdata == 2)
    }

    @Test func statsPrintTheParitySectionOnlyForSessionsThatUsedParity() {
        var text = OutputBuffer()
        StatisticsFormatter.text(Self.report(Self.trace), into: &text)
        #expect(
            text.string.contains(
                """
                  parity: transmission group size 4, groups 6, proactive 2, on-demand 1
                  parity NAKs 1 (1 packets requested), selective RDATA 1
                  losses repaired by parity 2, selectively 1 (as seen at this capture point)

                """))
        var json = OutputBuffer()
        StatisticsFormatter.json(Self.report(Self.trace), into: &json)
        #expect(
            json.string.contains(
                #""parity":{"group_size":4,"groups":6,"proactive_parity":2,"on_demand_parity":1,"parity_naks":1,"#
                    + #""parity_requested_packets":1,"selective_rdata":1,"repaired_by_parity":2,"#
                    + #""repaired_selectively":1}}"#))
        // Parity packets before any OPT_PARITY_PRM: counted, k unknown, no repairs by parity claimed.
        let unknown = Self.report([Self.data(0), Self.data(2), Self.data(1, parity: true)])
        #expect(unknown.sessions.first?.parity?.groupSize == nil)
        #expect(unknown.sessions.first?.parity?.repairedByParity == 0)
        #expect(unknown.sessions.first?.neverRepaired.map(\.rawValue) == [1])
        var unknownText = OutputBuffer()
        StatisticsFormatter.text(unknown, into: &unknownText)
        #expect(unknownText.string.contains("parity: transmission group size unknown, groups 0, proactive 1"))
        // No parity at all: no parity section.
        var plain = OutputBuffer()
        let plainReport = Self.report([Self.data(0), Self.data(2), Self.data(1, repair: true)])
        StatisticsFormatter.text(plainReport, into: &plain)
        StatisticsFormatter.json(plainReport, into: &plain)
        #expect(!plain.string.contains("parity"))
    }
}
