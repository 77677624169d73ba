// pgm-wire-bench: decode throughput of the codec (`pgm-wire-bench --help`).
import ArgumentParser
import PGMWire

struct WireBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgm-wire-bench",
        abstract: "Decode and encode throughput of the PGM codec.",
        discussion: """
            Checksum verification plus full decode on the two packets the receive and repair paths see most: a
            1400-byte-payload ODATA and a NAK carrying a 62-entry OPT_NAK_LIST; then the checksum alone and the
            encoder. Prints packets per second and nanoseconds per packet (wall clock).

            Example:
              swift run --package-path Tools -c release pgm-wire-bench 5000000
            """)

    @Argument(help: "Iterations per measurement.")
    var iterations = 2_000_000

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("iterations must be at least 1") }
    }

    func run() throws {
        let gsi = GSI(rawValue: 0x2722_469A_2F37)
        let source = NLA.ipv4(IPv4Address(198, 18, 0, 1))
        let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))

        let odata = Packet(
            sourcePort: 4000, destinationPort: 7500, gsi: gsi,
            body: .odata(
                DataPacket(
                    sequence: SequenceNumber(1000), trail: SequenceNumber(1),
                    payload: (0..<1400).map { UInt8(truncatingIfNeeded: $0 &* 31) }[...]))
        ).encoded()
        let nak = Packet(
            sourcePort: 7500, destinationPort: 4000, flags: .network, gsi: gsi,
            body: .nak(NAK(sequence: SequenceNumber(1000), source: source, group: group)),
            options: [Option(.nakList((1...62).map { SequenceNumber(1000 + UInt32($0)) }))]
        ).encoded()

        print("pgm-wire-bench: \(iterations) iterations each")
        try measure("ODATA 1400 B: verify checksum + decode", bytes: odata) { bytes in
            let packet = try Packet(decoding: bytes)
            return packet.payload.count
        }
        try measure("NAK + 62-entry list: verify checksum + decode", bytes: nak) { bytes in
            let packet = try Packet(decoding: bytes)
            guard case .nakList(let list) = packet.options.first?.value else { return 0 }
            return list.count
        }
        var mutable = odata
        var counter: UInt8 = 0
        measure("ODATA 1400 B: checksum only", bytes: odata) { _ in
            counter &+= 1
            mutable[100] = counter  // defeats hoisting the loop-invariant sum
            return Int(PGMChecksum.compute(mutable))
        }
        measure("ODATA 1400 B: encode", bytes: odata) { _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1500)
            let packet = Packet(
                sourcePort: 4000, destinationPort: 7500, gsi: gsi,
                body: .odata(DataPacket(sequence: SequenceNumber(1), trail: SequenceNumber(0), payload: odata[24...])))
            packet.encode(into: &buffer)
            return buffer.count
        }
    }

    /// Runs `body` `iterations` times and prints packets per second; the checksum of results keeps the optimizer
    /// from dropping the work.
    func measure(_ name: String, bytes: [UInt8], _ body: ([UInt8]) throws -> Int) rethrows {
        var sink = 0
        for _ in 0..<(iterations / 20) { sink &+= try body(bytes) }  // warm-up
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<iterations { sink &+= try body(bytes) }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(iterations) / seconds
        let nanoseconds = seconds * 1e9 / Double(iterations)
        let padded = name + String(repeating: " ", count: max(0, 44 - name.count))
        print("\(padded) \(grouped(Int(rate))) packets/s  \(tenths(nanoseconds)) ns/packet  (\(sink & 1))")
    }

    func tenths(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    func grouped(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }
}

WireBenchmark.main()
