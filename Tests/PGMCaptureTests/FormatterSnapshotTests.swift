import PGMCapture
import PGMWire
import Testing

/// Pins the text and JSON formats: scripts and people read them, so a change must be deliberate (and the JSON
/// schema document updated with it).
@Suite("Formatter snapshots")
struct FormatterSnapshotTests {
    static func text(_ dissection: Dissection, verbose: Bool = false) -> String {
        var out = OutputBuffer()
        TextFormatter(verbose: verbose).format(dissection, into: &out)
        return out.string
    }

    static func json(_ dissection: Dissection) -> String {
        var out = OutputBuffer()
        JSONFormatter().format(dissection, into: &out)
        return out.string
    }

    static func capture(_ frames: [Int]) throws -> [Dissection] {
        let all = try TestData.dissections(TestData.nativeCapture)
        return frames.map { all[$0 - 1].1 }
    }

    /// A packet with the options tshark and tcpdump get wrong or skip, carried natively with Router Alert.
    static let synthetic: Dissection = {
        let tsi = TSI(gsi: GSI((0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff)), sourcePort: 1234)
        let spm = Packet(
            tsi: tsi,
            dataDestinationPort: 7500,
            flags: .network,
            body: .spm(
                SPM(
                    sequence: SequenceNumber(9),
                    trail: SequenceNumber(1),
                    lead: SequenceNumber(5),
                    path: .ipv4(IPv4Address(10, 0, 0, 1))
                )
            ),
            options: [
                Option(.nakBackoffRange(maximumMicroseconds: 2_000_000, minimumMicroseconds: 10_000)),
                Option(.parityParameters(modeBits: 0x01, groupSize: 8)),
                Option(.congestionReportRequest([.receiverWorstPath])),
            ]
        )
        let frame = IPFrameBuilder.ipv4(
            pgm: spm.encoded(),
            source: IPv4Address(10, 0, 0, 1),
            destination: IPv4Address(239, 1, 2, 3),
            routerAlert: true
        )
        return Dissection.dissect(
            frame: frame,
            linkType: .raw,
            number: 7,
            timestamp: CaptureTimestamp(seconds: 86_399, nanoseconds: 999_999_999)
        )
    }()

    static let congestionReportNAK: Dissection = {
        let tsi = TSI(gsi: GSI((1, 2, 3, 4, 5, 6)), sourcePort: 1000)
        let nak = Packet(
            tsi: tsi,
            dataDestinationPort: 7500,
            flags: .network,
            body: .nak(
                NAK(
                    sequence: SequenceNumber(77),
                    source: .ipv4(IPv4Address(10, 0, 0, 1)),
                    group: .ipv4(IPv4Address(239, 1, 2, 3))
                )
            ),
            options: [
                Option(
                    .congestionReport(
                        Option.CongestionReport(
                            kinds: [.receiverWorstPath],
                            lead: SequenceNumber(80),
                            receiverWorstPath: 0x8000,
                            worstReceiver: .ipv4(IPv4Address(10, 0, 0, 9))
                        )
                    )
                )
            ]
        )
        let frame = IPFrameBuilder.ipv4(
            pgm: nak.encoded(),
            source: IPv4Address(10, 0, 0, 9),
            destination: IPv4Address(10, 0, 0, 1),
            udpPorts: (3055, 3055)
        )
        return Dissection.dissect(
            frame: frame,
            linkType: .raw,
            number: 1,
            timestamp: CaptureTimestamp(seconds: 3600, nanoseconds: 5000)
        )
    }()

    @Test func oneLinePerPacketFromTheOpenPGMCapture() throws {
        let lines = try Self.capture([1, 81, 113, 115, 174, 340]).map { Self.text($0) }.joined()
        #expect(
            lines == """
                00:22:26.931291 IP 198.18.0.1 > 239.192.0.1: PGM 4000 > 7500 tsi 27:22:46:9a:2f:37.4000 SPM sqn 0 trail 0 lead 4294967295 path 198.18.0.1, length 36
                00:22:27.685800 IP 198.18.0.2 > 239.192.0.1: PGM 7500 > 4000 tsi 27:22:46:9a:2f:37.4000 SPMR, length 16
                00:22:27.941288 IP 198.18.0.2 > 198.18.0.1: PGM 7500 > 4000 tsi 27:22:46:9a:2f:37.4000 NAK sqn 102 src 198.18.0.1 grp 239.192.0.1, length 36
                00:22:27.941319 IP 198.18.0.1 > 239.192.0.1: PGM 4000 > 7500 tsi 27:22:46:9a:2f:37.4000 RDATA sqn 102 trail 0 tsdu 1436 opts [FRAGMENT first 101 off 1436 len 4000], length 1480
                00:22:28.381673 IP 198.18.0.2 > 198.18.0.1: PGM 7500 > 4000 tsi 27:22:46:9a:2f:37.4000 NAK sqn 141 src 198.18.0.1 grp 239.192.0.1 opts [NAK_LIST 142 144], length 52
                00:22:31.454296 IP 198.18.0.1 > 239.192.0.1: PGM 4000 > 7500 tsi 27:22:46:9a:2f:37.4000 SPM sqn 16 trail 0 lead 259 path 198.18.0.1 opts [FIN], length 44

                """
        )
    }

    @Test func syntheticOptionsBriefAndVerbose() {
        #expect(
            Self.text(Self.synthetic) == """
                23:59:59.999999 IP [RA] 10.0.0.1 > 239.1.2.3: PGM 1234 > 7500 tsi aa:bb:cc:dd:ee:ff.1234 SPM sqn 9 trail 1 lead 5 path 10.0.0.1 opts [NAK_BO_RNG max 2000000us min 10000us, PARITY_PRM tgs 8 bits 0x1 (RFC on-demand; OpenPGM proactive), CRQST R], length 64

                """
        )
        #expect(
            Self.text(Self.synthetic, verbose: true) == """
                23:59:59.999999 IP [RA] 10.0.0.1 > 239.1.2.3: PGM 1234 > 7500 tsi aa:bb:cc:dd:ee:ff.1234 SPM sqn 9 trail 1 lead 5 path 10.0.0.1 opts [NAK_BO_RNG max 2000000us min 10000us, PARITY_PRM tgs 8 bits 0x1 (RFC on-demand; OpenPGM proactive), CRQST R], length 64
                    link raw ip ttl 16 tos 0x0 id 0 DF header 24 length 88 router_alert yes
                    pgm type 0x0 options 0x3 (present,network) checksum 0x2343 valid gsi aa:bb:cc:dd:ee:ff tsdu 0 data_dport 7500
                    option NAK_BO_RNG (0x5) length 12 opx 0 maximum_backoff_us=2000000 minimum_backoff_us=10000
                    option PARITY_PRM (0x8) length 8 opx 0 mode_bits=1 rfc_proactive=false rfc_on_demand=true openpgm_proactive=true openpgm_on_demand=false group_size=8
                    option CRQST (0x11) length 4 end opx 0 kinds=1

                """
        )
        #expect(
            Self.text(Self.congestionReportNAK) == """
                01:00:00.000005 IP 10.0.0.9.3055 > 10.0.0.1.3055: UDP PGM 7500 > 1000 tsi 01:02:03:04:05:06.1000 NAK sqn 77 src 10.0.0.1 grp 239.1.2.3 opts [CR R lead 80 ne_wl 0 ne_wp 0 rx_wp 32768 worst 10.0.0.9], length 64

                """
        )
    }

    @Test func jsonObjects() throws {
        let nakList = try Self.capture([174])[0]
        #expect(
            Self.json(nakList) == """
                {"type":"nak","frame":174,"time":1795306948.381673000,"captured_length":86,"original_length":86,"link_type":"ethernet","vlan_ids":[],"ip":{"version":4,"source":"198.18.0.2","destination":"198.18.0.1","hop_limit":64,"traffic_class":0,"identification":64366,"dont_fragment":true,"router_alert":false,"protocol":113,"header_length":20,"total_length":72,"truncated_by_snapshot":false},"udp":null,"pgm":{"length":52,"checksum":{"status":"valid","stored":62585},"type_code":8,"source_port":7500,"destination_port":4000,"gsi":"27:22:46:9a:2f:37","tsi":"27:22:46:9a:2f:37.4000","flags":{"raw":3,"options_present":true,"network_significant":true,"variable_length":false,"parity":false},"tsdu_length":0,"sequence":141,"source":"198.18.0.1","group":"239.192.0.1","options":[{"type":"nak_list","code":2,"length":12,"end":true,"opx":0,"encoded":false,"encoded_null":false,"sequences":[142,144]}]}}

                """
        )
        #expect(
            Self.json(Self.synthetic) == """
                {"type":"spm","frame":7,"time":86399.999999999,"captured_length":88,"original_length":88,"link_type":"raw","vlan_ids":[],"ip":{"version":4,"source":"10.0.0.1","destination":"239.1.2.3","hop_limit":16,"traffic_class":0,"identification":0,"dont_fragment":true,"router_alert":true,"protocol":113,"header_length":24,"total_length":88,"truncated_by_snapshot":false},"udp":null,"pgm":{"length":64,"checksum":{"status":"valid","stored":9027},"type_code":0,"source_port":1234,"destination_port":7500,"gsi":"aa:bb:cc:dd:ee:ff","tsi":"aa:bb:cc:dd:ee:ff.1234","flags":{"raw":3,"options_present":true,"network_significant":true,"variable_length":false,"parity":false},"tsdu_length":0,"sequence":9,"trail":1,"lead":5,"path":"10.0.0.1","options":[{"type":"nak_bo_rng","code":5,"length":12,"end":false,"opx":0,"encoded":false,"encoded_null":false,"maximum_backoff_us":2000000,"minimum_backoff_us":10000},{"type":"parity_prm","code":8,"length":8,"end":false,"opx":0,"encoded":false,"encoded_null":false,"mode_bits":1,"rfc_proactive":false,"rfc_on_demand":true,"openpgm_proactive":true,"openpgm_on_demand":false,"group_size":8},{"type":"crqst","code":17,"length":4,"end":true,"opx":0,"encoded":false,"encoded_null":false,"kinds":1}]}}

                """
        )
        #expect(
            Self.json(Self.congestionReportNAK) == """
                {"type":"nak","frame":1,"time":3600.000005000,"captured_length":92,"original_length":92,"link_type":"raw","vlan_ids":[],"ip":{"version":4,"source":"10.0.0.9","destination":"10.0.0.1","hop_limit":16,"traffic_class":0,"identification":0,"dont_fragment":true,"router_alert":false,"protocol":17,"header_length":20,"total_length":92,"truncated_by_snapshot":false},"udp":{"source_port":3055,"destination_port":3055,"length":72,"heuristic":false},"pgm":{"length":64,"checksum":{"status":"valid","stored":47059},"type_code":8,"source_port":7500,"destination_port":1000,"gsi":"01:02:03:04:05:06","tsi":"01:02:03:04:05:06.1000","flags":{"raw":3,"options_present":true,"network_significant":true,"variable_length":false,"parity":false},"tsdu_length":0,"sequence":77,"source":"10.0.0.1","group":"239.1.2.3","options":[{"type":"cr","code":16,"length":24,"end":true,"opx":0,"encoded":false,"encoded_null":false,"kinds":1,"lead":80,"ne_worst_link":0,"ne_worst_path":0,"rx_worst_path":32768,"worst_receiver":"10.0.0.9"}]}}

                """
        )
    }

    @Test func ipv6VLANAndFragmentLines() {
        let ipv6 = DecapsulatorTests.ipv6(hopByHopRouterAlert: true)
        let vlan = DecapsulatorTests.ethernet(DecapsulatorTests.ipv4(udp: (40000, 3056)), vlans: [42])
        var fragment = DecapsulatorTests.ipv4()
        fragment[6] = 0x20
        let lines = [(ipv6, LinkType.ipv6), (vlan, .ethernet), (fragment, .raw)].map { frame, linkType in
            Self.text(Dissection.dissect(frame: frame, linkType: linkType))
        }
        #expect(
            lines.joined() == """
                00:00:00.000000 IP6 [RA] fe80::1 > ff0e::42: PGM 4000 > 7500 tsi 01:02:03:04:05:06.4000 ODATA sqn 42 trail 7 tsdu 3, length 27
                00:00:00.000000 vlan 42 IP 198.18.0.1.40000 > 239.192.0.1.3056: UDP PGM 4000 > 7500 tsi 01:02:03:04:05:06.4000 ODATA sqn 42 trail 7 tsdu 3, length 27
                00:00:00.000000 IP 198.18.0.1 > 239.192.0.1: fragment id 0 offset 0 more proto PGM (not decoded), length 27

                """
        )
    }

    @Test func malformedAndBadChecksumAreShownNotFatal() throws {
        var bytes = try TestData.frames(TestData.nativeCapture).1[0].bytes
        bytes[14 + 20 + 7] ^= 0x01  // checksum low byte
        let badChecksum = Dissection.dissect(frame: bytes, linkType: .ethernet)
        #expect(
            Self.text(badChecksum) == """
                00:00:00.000000 IP 198.18.0.1 > 239.192.0.1: PGM 4000 > 7500 tsi 27:22:46:9a:2f:37.4000 SPM sqn 0 trail 0 lead 4294967295 path 198.18.0.1 [bad cksum 0x700a computed 0x700b], length 36

                """
        )
        var truncated = try TestData.frames(TestData.nativeCapture).1[3].bytes
        truncated[14 + 20 + 15] = 0xFF  // TSDU length low byte: more than the packet holds
        let malformed = Dissection.dissect(frame: truncated, linkType: .ethernet)
        #expect(
            Self.text(malformed) == """
                00:00:00.000000 IP 198.18.0.1 > 239.192.0.1: PGM malformed: TSDU length 255 but 200 bytes follow [bad cksum 0x6a31 computed 0x69fa], length 224

                """
        )
        #expect(
            Self.json(malformed) == """
                {"type":"malformed","frame":1,"time":0.000000000,"captured_length":258,"original_length":258,"link_type":"ethernet","vlan_ids":[],"ip":{"version":4,"source":"198.18.0.1","destination":"239.192.0.1","hop_limit":16,"traffic_class":0,"identification":28534,"dont_fragment":true,"router_alert":false,"protocol":113,"header_length":20,"total_length":244,"truncated_by_snapshot":false},"udp":null,"pgm":{"length":224,"checksum":{"status":"invalid","stored":27185,"computed":27130},"error":"TSDU length 255 but 200 bytes follow","type_code":4}}

                """
        )
    }
}
