// pgm-capture-gen: writes a synthetic PGM capture for benchmarks and tests (`pgm-capture-gen --help`).
import ArgumentParser
import Glibc
import PGMCapture
import PGMWire

struct CaptureGenerator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgm-capture-gen",
        abstract: "Write a synthetic PGM capture (Ethernet, native PGM or UDP 3055) for benchmarks and tests.",
        discussion: """
            Traffic of one session, the same bytes for the same arguments: an SPM every 100 packets, ODATA of 200
            bytes (every 50th with OPT_FRAGMENT), 1 % of sequences followed by a NAK (with OPT_NAK_LIST every
            other time), an NCF and an RDATA, and an SPMR now and then. Times advance 10 µs per packet.

            Example:
              pgm-capture-gen /tmp/bench.pcap 1000000      # what Tools/dump-benchmark decodes
            """)

    @Argument(help: "The pcap file to write.")
    var output: String

    @Argument(help: "Packets to write.")
    var packets = 1_000_000

    @Flag(help: "UDP encapsulation on port 3055 instead of native PGM (IP protocol 113).")
    var udp = false

    func validate() throws {
        guard packets > 0 else { throw ValidationError("packets must be at least 1") }
    }

    func run() throws {
        guard let file = fopen(output, "wb") else { throw ValidationError("cannot write \(output)") }
        write(to: file)
        fclose(file)
    }
}

extension CaptureGenerator {
    static let source = IPv4Address(198, 18, 0, 1)
    static let receiver = IPv4Address(198, 18, 0, 2)
    static let group = IPv4Address(239, 192, 0, 1)
    static let tsi = TSI(gsi: GSI((0x27, 0x22, 0x46, 0x9a, 0x2f, 0x37)), sourcePort: 4000)
    static let dataPort: UInt16 = 7500
    static let payload = [UInt8](repeating: 0x61, count: 200)

    /// Ethernet header: multicast MAC for downstream packets, unicast otherwise.
    func ethernet(_ ip: [UInt8], multicast: Bool) -> [UInt8] {
        let destination: [UInt8] = multicast ? [0x01, 0x00, 0x5e, 0x40, 0x00, 0x01] : [0x02, 0, 0, 0, 0, 1]
        return destination + [0x02, 0, 0, 0, 0, 2, 0x08, 0x00] + ip
    }

    func frame(_ packet: Packet, from: IPv4Address, to: IPv4Address) -> [UInt8] {
        let ip = IPFrameBuilder.ipv4(
            pgm: packet.encoded(),
            source: from,
            destination: to,
            udpPorts: udp ? (3055, 3055) : nil
        )
        return ethernet(ip, multicast: to.isMulticast)
    }

    /// Writes `packets` frames to `file`, flushing every 4 MiB.
    func write(to file: UnsafeMutablePointer<FILE>) {
        let (source, receiver, group, tsi, dataPort, payload) = (
            Self.source, Self.receiver, Self.group, Self.tsi, Self.dataPort, Self.payload
        )
        var writer = PcapWriter(linkType: .ethernet)
        var written = 0
        var sequence: UInt32 = 0
        var spmSequence: UInt32 = 0
        var time: Int64 = 1_795_306_946_000_000_000
        var pending: [(Packet, IPv4Address, IPv4Address)] = []

        while written < packets {
            let packet: Packet
            var from = source
            var to = group
            if !pending.isEmpty {
                (packet, from, to) = pending.removeFirst()
            } else if written % 100 == 0 {
                packet = Packet(
                    tsi: tsi,
                    dataDestinationPort: dataPort,
                    body: .spm(
                        SPM(
                            sequence: SequenceNumber(spmSequence),
                            trail: SequenceNumber(0),
                            lead: SequenceNumber(sequence &- 1),
                            path: .ipv4(source)
                        )
                    )
                )
                spmSequence &+= 1
            } else if written % 1000 == 500 {
                packet = Packet(tsi: tsi, dataDestinationPort: dataPort, body: .spmr)
                from = receiver
            } else {
                let options: [PGMWire.Option] =
                    sequence % 50 == 0
                    ? [
                        Option(
                            .fragment(
                                Option.Fragment(firstSequence: SequenceNumber(sequence), offset: 0, apduLength: 200)))
                    ]
                    : []
                packet = Packet(
                    tsi: tsi,
                    dataDestinationPort: dataPort,
                    body: .odata(
                        DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(0), payload: payload[...])
                    ),
                    options: options
                )
                if sequence % 100 == 37 {
                    let lost = SequenceNumber(sequence)
                    let nakOptions: [PGMWire.Option] =
                        sequence % 200 == 37 ? [Option(.nakList([lost &+ 1, lost &+ 2]))] : []
                    let nak = NAK(sequence: lost, source: .ipv4(source), group: .ipv4(group))
                    let flags: Packet.Flags = nakOptions.isEmpty ? [] : .network
                    pending.append(
                        (
                            Packet(
                                tsi: tsi, dataDestinationPort: dataPort, flags: flags, body: .nak(nak),
                                options: nakOptions),
                            receiver, source
                        )
                    )
                    pending.append(
                        (
                            Packet(
                                tsi: tsi, dataDestinationPort: dataPort, flags: flags, body: .ncf(nak),
                                options: nakOptions),
                            source, group
                        )
                    )
                    pending.append(
                        (
                            Packet(
                                tsi: tsi,
                                dataDestinationPort: dataPort,
                                body: .rdata(
                                    DataPacket(sequence: lost, trail: SequenceNumber(0), payload: payload[...]))
                            ), source, group
                        )
                    )
                }
                sequence &+= 1
            }
            writer.append(frame: frame(packet, from: from, to: to), nanoseconds: time)
            time += 10_000
            written += 1
            if writer.bytes.count > 1 << 22 || written == packets {
                // Each PcapWriter starts with the file header; keep only the first one.
                let skip = ftell(file) == 0 ? 0 : 24
                writer.bytes.withUnsafeBytes { bytes in
                    _ = fwrite(bytes.baseAddress! + skip, 1, bytes.count - skip, file)
                }
                writer = PcapWriter(linkType: .ethernet)
            }
        }
    }
}

CaptureGenerator.main()
