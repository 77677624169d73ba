import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// pgm-ne's lifecycle in-process: it runs until a signal and exits 0; pins the lines its events print.
@Suite struct ElementProgramTests {
    let tsi = TSI(gsi: GSI(rawValue: 0xC612_0001_0001), sourcePort: 4000)
    let neighbor = NLA.ipv4(IPv4Address(198, 18, 1, 10))
    let program = ElementProgram(interfaceNames: ["core", "a", "b"])

    func note(_ event: NetworkElement.Event) -> PrintedNote? {
        printedNotes(program.handle(event)).first
    }

    @Test(arguments: ["SIGINT", "SIGTERM"])
    func itStopsOnASignalWithExitZero(signal: String) {
        var program = program
        #expect(!program.isStopped)
        program.signalled()
        #expect(program.isStopped && program.exitCode == .success, "\(signal)")
    }

    @Test func sessionsArePrinted() {
        #expect(
            note(.sessionLearned(tsi, upstream: InterfaceID(0), neighbor: neighbor))
                == PrintedNote(
                    "pgm-ne: session c6:12:00:01:00:01.4000 upstream 198.18.1.10 on core",
                    json: [
                        "type": "session", "tsi": "c6:12:00:01:00:01.4000", "upstream": "core",
                        "neighbor": "198.18.1.10",
                    ]
                )
        )
        #expect(
            note(.upstreamChanged(tsi, upstream: InterfaceID(2), neighbor: neighbor))
                == PrintedNote(
                    "pgm-ne: session c6:12:00:01:00:01.4000 moved upstream to 198.18.1.10 on b",
                    json: [
                        "type": "upstream_changed", "tsi": "c6:12:00:01:00:01.4000", "upstream": "b",
                        "neighbor": "198.18.1.10",
                    ]
                )
        )
        #expect(
            note(.sessionExpired(tsi))
                == PrintedNote(
                    "pgm-ne: session c6:12:00:01:00:01.4000 expired",
                    json: ["type": "session_expired", "tsi": "c6:12:00:01:00:01.4000"]
                )
        )
    }

    /// An interface the names do not cover is printed by its id.
    @Test func repairersArePrinted() {
        #expect(
            note(.repairerLearned(tsi, address: neighbor, interface: InterfaceID(7)))
                == PrintedNote(
                    "pgm-ne: session c6:12:00:01:00:01.4000: NAKs now go to the DLR 198.18.1.10 on if7",
                    json: [
                        "type": "dlr", "tsi": "c6:12:00:01:00:01.4000", "address": "198.18.1.10", "interface": "if7",
                    ]
                )
        )
        #expect(
            note(.repairerDropped(tsi, address: neighbor))
                == PrintedNote(
                    "pgm-ne: session c6:12:00:01:00:01.4000: DLR 198.18.1.10 dropped, NAKs go upstream",
                    json: ["type": "dlr_dropped", "tsi": "c6:12:00:01:00:01.4000", "address": "198.18.1.10"]
                )
        )
    }

    /// `dropped` counts what any of the element's rules dropped: here a NAK for a session it never learned.
    /// pgm-ne's statistics count what it forwards: payload bytes and data packets (the issue saw `0 B`).
    @Test func forwardedBytesAndPacketsAreCounted() {
        var engine = NetworkElement(
            configuration: NetworkElement.Configuration(
                interfaces: [
                    NetworkElement.Interface(id: InterfaceID(0), address: .ipv4(IPv4Address(198, 18, 1, 1))),
                    NetworkElement.Interface(id: InterfaceID(1), address: .ipv4(IPv4Address(198, 18, 2, 1))),
                ],
                upstream: InterfaceID(0)
            )
        )
        for sequence: UInt32 in 1...3 {
            let data = DataPacket(
                sequence: SequenceNumber(sequence), trail: SequenceNumber(1),
                payload: [UInt8](repeating: 7, count: 1000)[...])
            engine.receive(
                Packet(tsi: tsi, dataDestinationPort: 7500, body: .odata(data)),
                arrival: Arrival(
                    source: .ipv4(IPv4Address(198, 18, 1, 10)),
                    destination: .ipv4(IPv4Address(239, 192, 0, 1)),
                    interface: InterfaceID(0)
                ),
                at: .zero
            )
        }
        let sample = ElementProgram.sample(engine)
        #expect(sample.bytes == 3000 && sample.packets == 3)
        #expect(StatisticsPrinter.text(sample).hasPrefix("0.0 s  3.00 kB fwd  0 bit/s  3 pkts"))
    }

    @Test func droppedCountsEveryDrop() {
        var engine = NetworkElement(
            configuration: NetworkElement.Configuration(
                interfaces: [
                    NetworkElement.Interface(id: InterfaceID(0), address: .ipv4(IPv4Address(198, 18, 1, 1))),
                    NetworkElement.Interface(id: InterfaceID(1), address: .ipv4(IPv4Address(198, 18, 2, 1))),
                ],
                upstream: InterfaceID(0)
            )
        )
        #expect(ElementProgram.sample(engine).element?.dropped == 0)
        let nak = NAK(
            sequence: SequenceNumber(7),
            source: .ipv4(IPv4Address(198, 18, 1, 10)),
            group: .ipv4(IPv4Address(239, 192, 0, 1))
        )
        engine.receive(
            Packet(tsi: tsi, dataDestinationPort: 7500, body: .nak(nak)),
            arrival: Arrival(
                source: .ipv4(IPv4Address(198, 18, 2, 10)),
                destination: .ipv4(IPv4Address(198, 18, 2, 1)),
                interface: InterfaceID(1)
            ),
            at: .zero
        )
        #expect(engine.statistics.naksWithoutSessionDropped == 1)
        #expect(engine.statistics.packetsDropped == 1)
        #expect(ElementProgram.sample(engine).element?.dropped == 1)
    }

    @Test func theStartLineNamesTheInterfaces() {
        let note = ProgramNote.element(
            .started(
                group: "239.192.0.1",
                port: 7500,
                upstream: "core (198.18.1.1)",
                upstreamName: "core",
                downstream: ["a (198.18.2.1)", "b (198.18.3.1)"],
                downstreamNames: ["a", "b"],
                transport: "native"
            )
        ).printed
        #expect(
            note.text
                == "pgm-ne: 239.192.0.1:7500 upstream core (198.18.1.1), downstream a (198.18.2.1), "
                + "b (198.18.3.1), native"
        )
        #expect(note.json == ["type": "start", "group": "239.192.0.1", "upstream": "core", "downstream": "a,b"])
    }
}
