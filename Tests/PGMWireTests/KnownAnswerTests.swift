import PGMWire
import Testing

/// Real packets from OpenPGM and ZeroMQ decode, re-encode byte for byte, and agree with tshark's decoding.
@Suite("Known answers from real captures")
struct KnownAnswerTests {
    struct Capture: CustomTestStringConvertible, Sendable {
        var pcap: String
        var tshark: String
        var udpPorts: Set<UInt16>
        var testDescription: String { pcap }
    }

    static let captures = [
        Capture(
            pcap: "openpgm/openpgm-native-loss10.pcap", tshark: "openpgm/openpgm-native-loss10.tshark.json",
            udpPorts: []),
        Capture(
            pcap: "openpgm/openpgm-udp3055-loss10.pcap", tshark: "openpgm/openpgm-udp3055-loss10.tshark.json",
            udpPorts: [3055]),
        Capture(pcap: "tcpdump/pgm_zmtp1.pcap", tshark: "tcpdump/pgm_zmtp1.tshark.json", udpPorts: []),
        Capture(pcap: "tcpdump/epgm_zmtp1.pcap", tshark: "tcpdump/epgm_zmtp1.tshark.json", udpPorts: [5563]),
    ]

    @Test(arguments: captures)
    func decodesReencodesAndMatchesTshark(_ capture: Capture) throws {
        let frames = try CaptureFixture.frames(capture.pcap, udpPorts: capture.udpPorts)
        let tshark = try TsharkDecoding(path: CaptureFixture.path(capture.tshark))
        #expect(frames.count > 10)
        var comparedFields = 0
        for frame in frames {
            let packet = try Packet(decoding: frame.pgm)
            #expect(packet.encoded() == frame.pgm, "frame \(frame.number) re-encodes differently")
            let leaves = try #require(tshark.frames[frame.number], "tshark has no frame \(frame.number)")
            comparedFields += try compare(packet, bytes: frame.pgm, with: leaves, frame: frame.number)
        }
        // Every packet contributes at least its common header fields.
        #expect(comparedFields >= frames.count * 6)
    }

    /// Compares every tshark field this codec has an equivalent for; returns how many were compared.
    func compare(
        _ packet: Packet, bytes: [UInt8], with leaves: [(key: String, value: String)], frame: Int
    ) throws -> Int {
        let pgmLeaves = leaves.filter { $0.key.hasPrefix("pgm.") }
        if pgmLeaves.isEmpty {
            // tshark shows SPMR as plain data: check the bytes it printed and that we know the type.
            // (The ZeroMQ exports filtered the data layer's fields out.)
            if let data = leaves.first(where: { $0.key == "data.data" }) {
                #expect(data.value == bytes.map(hex2).joined(separator: ":"))
            } else {
                #expect(leaves.contains { $0.key == "filtered" && $0.value == "data" }, "frame \(frame)")
            }
            #expect(packet.body == .spmr, "frame \(frame): tshark shows data, we expect SPMR")
            return 1
        }
        var expected: [String: [String]] = [:]
        func put(_ key: String, _ value: String) { expected[key, default: []].append(value) }
        put("pgm.hdr.sport", String(packet.sourcePort))
        put("pgm.hdr.dport", String(packet.destinationPort))
        put("pgm.hdr.type", "0x" + hex2(packet.body.type.rawValue))
        put("pgm.hdr.opts", "0x" + hex2(bytes[5]))
        put("pgm.hdr.gsi", packet.gsi.description)
        put("pgm.hdr.tsdulen", String(packet.payload.count))
        switch packet.body {
        case .spm(let spm):
            put("pgm.spm.sqn", hex8(spm.sequence.rawValue))
            put("pgm.spm.trail", hex8(spm.trail.rawValue))
            put("pgm.spm.lead", hex8(spm.lead.rawValue))
            put("pgm.spm.pathafi", String(spm.path.addressFamily.rawValue))
            put("pgm.spm.path.ipv4", spm.path.description)
        case .odata(let data), .rdata(let data):
            // tshark files data sequence numbers under the SPM field names.
            put("pgm.spm.sqn", hex8(data.sequence.rawValue))
            put("pgm.spm.trail", hex8(data.trail.rawValue))
        case .nak(let nak), .ncf(let nak), .nnak(let nak):
            put("pgm.nak.sqn", hex8(nak.sequence.rawValue))
            put("pgm.nak.srcafi", String(nak.source.addressFamily.rawValue))
            put("pgm.nak.src.ipv4", nak.source.description)
            put("pgm.nak.grpafi", String(nak.group.addressFamily.rawValue))
            put("pgm.nak.grp.ipv4", nak.group.description)
        case .poll, .polr, .spmr, .ack:
            Issue.record("frame \(frame): no such packet expected in these captures")
        }
        if !packet.options.isEmpty {
            put("pgm.opts.tlen", String(packet.optionsLength))
            for (index, option) in packet.options.enumerated() {
                if option.value == .fin {
                    // tshark 4.0 shows OPT_FIN as a bare label without the generic option fields.
                    #expect(leaves.contains { $0.key == "Option: Fin, Length: 4" }, "frame \(frame): OPT_FIN")
                    continue
                }
                put("pgm.genopts.type", "0x" + hex2(option.typeCode))
                put("pgm.genopts.len", String(option.encodedLength))
                put("pgm.genopts.end", index == packet.options.count - 1 ? "1" : "0")
                put("pgm.genopts.opx", "0x" + hex2(option.flags.unknownOptionAction))
                switch option.value {
                case .fragment(let fragment):
                    put("pgm.opts.fragment.first_sqn", hex8(fragment.firstSequence.rawValue))
                    put("pgm.opts.fragment.fragment_offset", String(fragment.offset))
                    put("pgm.opts.fragment.total_length", String(fragment.apduLength))
                case .nakList(let list):
                    // tshark 4.0 prints the list as text ("0x8e 0x8f") and then shows that text's first
                    // 4·n bytes as hex.
                    let text = list.map { "0x" + String($0.rawValue, radix: 16) }.joined(separator: " ")
                    put("pgm.opts.nak.list", Array(text.utf8.prefix(4 * list.count)).map(hex2).joined(separator: ":"))
                default:
                    Issue.record("frame \(frame): unexpected option \(option)")
                }
            }
        }
        var compared = 0
        for (key, values) in expected {
            let theirs = pgmLeaves.filter { $0.key == key }.map(\.value)
            #expect(theirs == values, "frame \(frame) field \(key)")
            compared += values.count
        }
        return compared
    }
}

func hex2(_ byte: UInt8) -> String { byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }

func hex8(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
