import Foundation
import PGMCapture
import PGMWire
import Testing

/// tcpdump's saved `-v`/`-vvv` text agrees with our decoding on every field both print. tcpdump prints `[|pgm]`
/// for IPv4 NAKs and NCFs (its group-address bug): those lines are checked only up to the GSI.
@Suite("Captures agree with tcpdump")
struct TcpdumpAgreementTests {
    static let cases: [(capture: String, text: String)] = [
        (TestData.zeroMQNative, "tcpdump/pgm_zmtp1.tcpdump-v.out"),
        (TestData.zeroMQUDP, "tcpdump/epgm_zmtp1.tcpdump-v-T-pgm.out"),
        (TestData.nativeCapture, "openpgm/openpgm-native-loss10.tcpdump-vvv.txt"),
        (TestData.udpCapture, "openpgm/openpgm-udp3055-loss10.tcpdump-vvv-T-pgm.txt"),
    ]

    /// Civil date and time of day (UTC) of a Unix time, as tcpdump `-tttt` prints it (H. Hinnant's algorithm).
    static func utc(_ time: CaptureTimestamp) -> (date: String, time: String) {
        let days = Int(time.seconds / 86_400)
        let secondOfDay = Int(time.seconds % 86_400)
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (
            String(format: "%04d-%02d-%02d", year, month, day),
            String(
                format: "%02d:%02d:%02d.%06d",
                secondOfDay / 3600,
                secondOfDay / 60 % 60,
                secondOfDay % 60,
                Int(time.nanoseconds) / 1000
            )
        )
    }

    @Test("fields agree with tcpdump's text", arguments: cases.map(\.capture))
    func agreesWithTcpdump(capture: String) throws {
        let textPath = TestData.path(Self.cases.first { $0.capture == capture }!.text)
        let text = try String(contentsOfFile: textPath, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let dissections = try TestData.dissections(capture)
        #expect(lines.count == 2 * dissections.count)
        var fullyCompared = 0
        for (index, (_, dissection)) in dissections.enumerated() where 2 * index + 1 < lines.count {
            let context = "\(capture) frame \(dissection.number)"
            let header = lines[2 * index].split(separator: " ").map(String.init)
            let body = lines[2 * index + 1].split(separator: " ").map(String.init)
            guard case .pgm(let network, let udp, _) = dissection.layers, let pgm = dissection.pgm,
                let packet = pgm.packet
            else {
                Issue.record("\(context) did not decode")
                continue
            }
            // Header line: [number] [date] time IP (tos 0x.., ttl N, id N, offset 0, flags [DF], proto .., length N)
            let (date, time) = Self.utc(dissection.timestamp)
            if header.first == String(dissection.number) {
                #expect(header[1] == date && header[2] == time, "\(context)")
            } else {
                #expect(header[0] == time, "\(context)")
            }
            func value(after key: String, in tokens: [String]) -> String? {
                guard let position = tokens.firstIndex(of: key), position + 1 < tokens.count else { return nil }
                return tokens[position + 1].trimmingCharacters(in: CharacterSet(charactersIn: ",):"))
            }
            #expect(value(after: "(tos", in: header) == "0x" + String(network.trafficClass, radix: 16), "\(context)")
            #expect(value(after: "ttl", in: header) == String(network.hopLimit), "\(context)")
            #expect(value(after: "id", in: header) == String(network.identification), "\(context)")
            #expect(header.last == String(network.ipLength) + ")", "\(context)")
            // Body line: addresses, ports, "PGM, length TSDU 0xGSI TYPE fields [PGM length]".
            let pgmIndex = try #require(body.firstIndex(of: "PGM,"), "\(context)")
            if let udp {
                #expect(body[0] == "\(network.source).\(udp.sourcePort)", "\(context)")
                #expect(body[2] == "\(network.destination).\(udp.destinationPort):", "\(context)")
            } else {
                #expect(body[0] == network.source.description, "\(context)")
                #expect(body[2] == "\(network.destination):", "\(context)")
            }
            #expect(
                body[pgmIndex - 3].split(separator: ".").last.map(String.init) == String(packet.sourcePort),
                "\(context)"
            )
            #expect(
                body[pgmIndex - 1] == "\(packet.destinationPort):"
                    || body[pgmIndex - 1].hasSuffix(".\(packet.destinationPort):"),
                "\(context)"
            )
            #expect(body[pgmIndex + 2] == String(packet.payload.count), "\(context)")
            #expect(
                body[pgmIndex + 3] == "0x" + packet.gsi.bytes.map { String(format: "%02x", $0) }.joined(),
                "\(context)"
            )
            if body.last == "[|pgm]" {
                // tcpdump gives up on IPv4 NAK/NCF; nothing more to compare.
                #expect([.nak, .ncf, .nnak].contains(packet.body.type), "\(context)")
                continue
            }
            fullyCompared += 1
            #expect(body[pgmIndex + 4] == packet.body.type.description, "\(context)")
            #expect(body.last == "[\(pgm.length)]", "\(context)")
            let fields = Array(body[(pgmIndex + 5)...])
            switch packet.body {
            case .spm(let spm):
                #expect(value(after: "seq", in: fields) == String(spm.sequence.rawValue), "\(context)")
                #expect(value(after: "trail", in: fields) == String(spm.trail.rawValue), "\(context)")
                #expect(value(after: "lead", in: fields) == String(spm.lead.rawValue), "\(context)")
                #expect(value(after: "nla", in: fields) == spm.path.description, "\(context)")
            case .odata(let data), .rdata(let data):
                #expect(value(after: "seq", in: fields) == String(data.sequence.rawValue), "\(context)")
                #expect(value(after: "trail", in: fields) == String(data.trail.rawValue), "\(context)")
            case .spmr:
                #expect(fields.count == 1, "\(context)")
            case .poll, .polr, .nak, .nnak, .ncf, .ack:
                Issue.record("\(context): tcpdump decoded a \(packet.body.type) fully")
            }
            if let optionsIndex = fields.firstIndex(of: "OPTS") {
                #expect(fields[optionsIndex + 2] == String(packet.optionsLength), "\(context)")
                let optionTokens = Array(fields[(optionsIndex + 3)...])
                for option in packet.options {
                    switch option.value {
                    case .fragment(let fragment):
                        #expect(value(after: "FRAG", in: optionTokens) == "seq", "\(context)")
                        #expect(
                            value(after: "seq", in: optionTokens) == String(fragment.firstSequence.rawValue),
                            "\(context)"
                        )
                        #expect(value(after: "off", in: optionTokens) == String(fragment.offset), "\(context)")
                        #expect(value(after: "len", in: optionTokens) == String(fragment.apduLength), "\(context)")
                    case .fin:
                        #expect(optionTokens.contains("FIN"), "\(context)")
                    default:
                        Issue.record("\(context): unexpected option \(option)")
                    }
                }
            } else {
                #expect(packet.options.isEmpty, "\(context)")
            }
        }
        #expect(fullyCompared > 10)
    }
}
