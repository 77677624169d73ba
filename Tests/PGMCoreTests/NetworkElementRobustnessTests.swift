import PGMCore
import PGMWire
import Testing

@Suite("Network element: arbitrary input")
struct NetworkElementRobustnessTests {
    /// Random packets of every type, from random hosts on random interfaces (some the element does not have),
    /// with time moving on: nothing traps, state stays within its caps, nothing goes back up the link it came
    /// down, and once the sources fall silent every piece of state and every timer is gone.
    @Test(arguments: [UInt64(1), 2, 3])
    func randomTrafficNeverTrapsAndStaysBounded(seed: UInt64) {
        var harness = ElementHarness {
            $0.maximumSessions = 4
            $0.maximumRepairStatesPerSession = 32
            $0.dlrPollInterval = .seconds(1)
        }
        var random = SplitMix64(seed: seed)
        func pick<T>(_ values: [T]) -> T { values[Int(random.bounded(UInt64(values.count)))] }
        let tsis = [
            ElementHarness.tsi, TSI(gsi: GSI(rawValue: 7), sourcePort: 1), TSI(gsi: GSI(rawValue: 8), sourcePort: 2),
        ]
        let addresses = [
            ElementHarness.source, ElementHarness.group, ElementHarness.host(InterfaceID(1), 9),
            ElementHarness.address(InterfaceID(2)), NLA.ipv6(IPv6Address(high: 0xFE80 << 48, low: 1)),
        ]
        let interfaces = [InterfaceID(0), InterfaceID(1), InterfaceID(2), InterfaceID(3), InterfaceID(9)]
        for _ in 0..<20_000 {
            let sequence = SequenceNumber(UInt32(random.bounded(64)))
            // Mostly well-addressed, so that the deeper paths run too.
            let nak = NAK(
                sequence: sequence, source: random.bounded(5) == 0 ? pick(addresses) : ElementHarness.source,
                group: random.bounded(5) == 0 ? pick(addresses) : ElementHarness.group)
            var options: [Option] = []
            if random.bounded(3) == 0 {
                options.append(
                    Option(
                        .nakList((0..<Int(random.bounded(5))).map { _ in SequenceNumber(UInt32(random.bounded(64))) })))
            }
            if random.bounded(4) == 0 {
                options.append(
                    Option(
                        .congestionReport(
                            ElementHarness.report(
                                UInt16(truncatingIfNeeded: random.next()), receiver: 1, lead: UInt32(random.bounded(64))
                            ))))
            }
            if random.bounded(6) == 0 { options.append(Option(.redirect(pick(addresses)))) }
            let body: Packet.Body = pick([
                .spm(
                    SPM(
                        sequence: SequenceNumber(UInt32(random.bounded(8))), trail: sequence,
                        lead: sequence &+ UInt32(random.bounded(40)), path: pick(addresses))),
                .odata(DataPacket(sequence: sequence, trail: SequenceNumber(UInt32(random.bounded(64))), payload: [1])),
                .rdata(DataPacket(sequence: sequence, trail: SequenceNumber(0), payload: [2])),
                .nak(nak), .nnak(nak), .ncf(nak), .spmr,
                .poll(
                    POLL(
                        sequence: sequence, round: UInt16(random.bounded(3)), subtype: UInt16(random.bounded(3)),
                        path: pick(addresses),
                        backoffInterval: UInt32(random.bounded(100_000)),
                        random: UInt32(truncatingIfNeeded: random.next()), mask: UInt32(random.bounded(4)))),
                .polr(POLR(sequence: sequence, round: 0)), .ack(ACK(receivedMaximum: sequence, bitmap: 1)),
            ])
            var packet = Packet(
                tsi: random.bounded(4) == 0 ? pick(tsis) : ElementHarness.tsi,
                dataDestinationPort: random.bounded(10) == 0 ? 1 : ElementHarness.port, body: body, options: options)
            if random.bounded(20) == 0 { packet.flags.insert(.parity) }
            // Mostly where each type belongs: downstream types from the source on the upstream link, upstream
            // types unicast to the element from below.
            let plausible = random.bounded(5) != 0
            let downstream = !packet.body.type.isUpstream
            let interface = plausible ? (downstream ? ElementHarness.up : pick(ElementHarness.downs)) : pick(interfaces)
            let source = plausible && downstream ? ElementHarness.source : pick(addresses)
            let destination =
                plausible
                ? (downstream ? ElementHarness.group : ElementHarness.address(interface)) : pick(addresses)
            let sent = harness.feed(packet, from: source, to: destination, on: interface)
            for transmit in sent {
                #expect(transmit.interface.rawValue <= 3)
                // Upstream types leave by unicast only; nothing from the upstream link goes back up it unless it
                // is an upstream type (a POLR answering the parent's POLL).
                if transmit.packet.body.type.isUpstream {
                    #expect(transmit.destination != .multicast(ElementHarness.group))
                } else if interface == ElementHarness.up {
                    #expect(transmit.interface != ElementHarness.up)
                }
            }
            if random.bounded(50) == 0 { harness.advance(by: .milliseconds(Int64(random.bounded(3000)))) }
            #expect(harness.element.sessionCount <= 4)
            #expect(harness.element.repairStateCount <= 4 * 32)
        }
        let statistics = harness.element.statistics
        #expect(statistics.naksForwarded > 0 && statistics.ncfsSent > 0 && statistics.rdataForwarded > 0)
        #expect(statistics.naksEliminated > 0 && statistics.spmsForwarded > 0 && statistics.repairersLearned > 0)
        harness.advance(by: .seconds(400))
        #expect(harness.element.sessionCount == 0)
        #expect(harness.element.repairStateCount == 0)
        #expect(harness.element.nextDeadline == nil)
    }
}
