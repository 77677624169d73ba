import Foundation
import PGMCapture
import PGMWire
import Testing

/// Every shared capture decodes, and agrees with tshark's saved JSON wherever tshark decodes a field correctly
/// (Docs/pgm-dump.md lists what it gets wrong: SPMR as data, NAK lists as raw text, NAK_BO_RNG labels, OPT_CR).
@Suite("Captures agree with tshark")
struct TsharkAgreementTests {
    static func tshark(_ capture: String) throws -> [TolerantJSON] {
        let jsonPath = TestData.path(capture.replacingOccurrences(of: ".pcap", with: ".tshark.json"))
        let data = try #require(FileManager.default.contents(atPath: jsonPath), "missing \(jsonPath)")
        return try TolerantJSON.parse([UInt8](data)).elements
    }

    static func hex8(_ value: UInt8) -> String { "0x" + String(format: "%02x", value) }
    static func hex32(_ value: UInt32) -> String { "0x" + String(format: "%08x", value) }

    static func tsharkLabel(_ option: Option) -> String {
        let name =
            switch option.value {
            case .fragment: "Fragment"
            case .fin: "Fin"
            case .nakList: "NakList"
            default: "code \(option.typeCode)"
            }
        return "Option: \(name), Length: \(option.encodedLength)"
    }

    @Test("every frame of every capture decodes as PGM with a valid checksum", arguments: TestData.allCaptures)
    func everyFrameDecodes(capture: String) throws {
        let dissections = try TestData.dissections(capture)
        #expect(!dissections.isEmpty)
        for (_, dissection) in dissections {
            guard case .pgm = dissection.layers else {
                Issue.record("frame \(dissection.number) of \(capture) not found as PGM: \(dissection.layers)")
                continue
            }
            let pgm = try #require(dissection.pgm)
            #expect(pgm.packet != nil, "frame \(dissection.number): \(String(describing: pgm.result))")
            guard case .valid = pgm.checksum else {
                Issue.record("frame \(dissection.number) checksum \(pgm.checksum)")
                continue
            }
        }
    }

    @Test("fields agree with tshark -T json", arguments: TestData.allCaptures)
    func agreesWithTshark(capture: String) throws {
        let dissections = try TestData.dissections(capture)
        let reference = try Self.tshark(capture)
        #expect(reference.count == dissections.count)
        var compared = (pgm: 0, spmr: 0, options: 0)
        for ((frame, dissection), packetJSON) in zip(dissections, reference) {
            let layers = try #require(packetJSON["_source"]?["layers"])
            let context = "\(capture) frame \(dissection.number)"
            // The ZeroMQ captures' JSON has the frame and IP layers filtered out; the OpenPGM ones have them.
            let unfiltered = layers.first("frame.number") != nil
            #expect(unfiltered || capture.hasPrefix("tcpdump/"), "\(context): frame layer missing")
            guard case .pgm(let network, let udp, _) = dissection.layers, let packet = dissection.pgm?.packet else {
                Issue.record("\(context) did not decode")
                continue
            }
            if unfiltered {
                #expect(layers.first("frame.number") == String(dissection.number), "\(context)")
                #expect(
                    layers.first("frame.time_epoch")
                        == "\(dissection.timestamp.seconds).\(String(format: "%09d", dissection.timestamp.nanoseconds))",
                    "\(context)"
                )
                #expect(layers.first("frame.len") == String(frame.originalLength), "\(context)")
                #expect(layers.first("ip.src") == network.source.description, "\(context)")
                #expect(layers.first("ip.dst") == network.destination.description, "\(context)")
                #expect(layers.first("ip.ttl") == String(network.hopLimit), "\(context)")
                if let udp {
                    #expect(layers.first("udp.srcport") == String(udp.sourcePort), "\(context)")
                    #expect(layers.first("udp.dstport") == String(udp.destinationPort), "\(context)")
                }
            }
            guard let pgm = layers["pgm"] else {
                // tshark shows SPMR as plain data: compare the raw bytes instead.
                #expect(packet.body == .spmr, "\(context)")
                if unfiltered {
                    let data = try #require(layers.first("data.data"), "\(context)")
                    #expect(
                        data == packet.encoded().map { String(format: "%02x", $0) }.joined(separator: ":"),
                        "\(context)"
                    )
                }
                compared.spmr += 1
                continue
            }
            compared.pgm += 1
            #expect(pgm.first("pgm.hdr.sport") == String(packet.sourcePort), "\(context)")
            #expect(pgm.first("pgm.hdr.dport") == String(packet.destinationPort), "\(context)")
            #expect(pgm.first("pgm.hdr.type") == Self.hex8(dissection.pgm!.typeByte!), "\(context)")
            #expect(pgm.first("pgm.hdr.opts") == Self.hex8(dissection.pgm!.optionsByte!), "\(context)")
            #expect(pgm.first("pgm.hdr.gsi") == packet.gsi.description, "\(context)")
            #expect(pgm.first("pgm.hdr.tsdulen") == String(packet.payload.count), "\(context)")
            // tshark writes the key twice, the checksum's first byte and then the status (1 = good).
            #expect(pgm.all("pgm.hdr.cksum.status").last?.text == "1", "\(context): tshark says the checksum is good")
            switch packet.body {
            case .spm(let spm):
                #expect(pgm.first("pgm.spm.sqn") == Self.hex32(spm.sequence.rawValue), "\(context)")
                #expect(pgm.first("pgm.spm.trail") == Self.hex32(spm.trail.rawValue), "\(context)")
                #expect(pgm.first("pgm.spm.lead") == Self.hex32(spm.lead.rawValue), "\(context)")
                #expect(pgm.first("pgm.spm.path.ipv4") == spm.path.description, "\(context)")
            case .odata(let data), .rdata(let data):
                // tshark files data sequence numbers under the SPM field names.
                #expect(pgm.first("pgm.spm.sqn") == Self.hex32(data.sequence.rawValue), "\(context)")
                #expect(pgm.first("pgm.spm.trail") == Self.hex32(data.trail.rawValue), "\(context)")
                if unfiltered { #expect(layers.first("data.len").map { Int($0) } == data.payload.count, "\(context)") }
            case .nak(let nak), .ncf(let nak), .nnak(let nak):
                #expect(pgm.first("pgm.nak.sqn") == Self.hex32(nak.sequence.rawValue), "\(context)")
                #expect(pgm.first("pgm.nak.src.ipv4") == nak.source.description, "\(context)")
                #expect(pgm.first("pgm.nak.grp.ipv4") == nak.group.description, "\(context)")
            case .poll, .polr, .spmr, .ack:
                Issue.record("\(context): no such packet expected in the shared captures")
            }
            // Options: tshark labels each one "Option: Name, Length: N" (it gives no type/length fields for FIN).
            let labels = pgm.memberKeys.filter { $0.hasPrefix("Option: ") }
            #expect(labels == packet.options.map { Self.tsharkLabel($0) }, "\(context)")
            if !packet.options.isEmpty {
                compared.options += 1
                #expect(pgm.first("pgm.opts.tlen") == String(packet.optionsLength), "\(context)")
                let ends = pgm.all("pgm.genopts.end").compactMap(\.text)
                if !ends.isEmpty { #expect(ends.last == "1", "\(context)") }
            }
            for option in packet.options {
                if case .fragment(let fragment) = option.value {
                    #expect(
                        pgm.first("pgm.opts.fragment.first_sqn") == Self.hex32(fragment.firstSequence.rawValue),
                        "\(context)"
                    )
                    #expect(pgm.first("pgm.opts.fragment.fragment_offset") == String(fragment.offset), "\(context)")
                    #expect(pgm.first("pgm.opts.fragment.total_length") == String(fragment.apduLength), "\(context)")
                }
            }
        }
        #expect(compared.pgm > 0)
        if capture.hasPrefix("openpgm") {
            // The OpenPGM captures hold SPMRs (late join) and OPT_FRAGMENT / OPT_NAK_LIST packets.
            #expect(compared.spmr > 0)
            #expect(compared.options > 0)
        }
    }
}
