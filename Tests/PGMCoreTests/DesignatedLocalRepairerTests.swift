import PGMCore
import PGMWire
import Testing

/// The designated local repairer on its own (RFC 3208 §9.5.2.2, Appendix D), driven by hand.
@Suite struct DesignatedLocalRepairerTests {
    static let dlrAddress = NLA.ipv4(IPv4Address(10, 0, 0, 77))
    /// The element above the DLR: the SPM path, which asks the DLR for repairs.
    static let parent = Arrival(source: pathAddress, destination: dlrAddress)

    static func repairer(cacheBytes: Int = 32 << 20) -> EngineHarness<DesignatedLocalRepairer> {
        var configuration = DesignatedLocalRepairer.Configuration(receiver: receiverConfiguration(), address: dlrAddress)
        configuration.cacheBytes = cacheBytes
        return EngineHarness(DesignatedLocalRepairer(configuration: configuration))
    }

    // MARK: Deadlines

    @Test func repliesAreDueAtOnceAndOtherwiseTheReceiversTimersCount() {
        var repairer = Self.repairer()
        #expect(repairer.nextDeadline == nil, "no session, nothing to do")
        // The SPM makes an announcement: it is due now, not at some timer of the receiver's.
        repairer.receiveInBatch(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(5))
        #expect(repairer.nextDeadline == at(5))
        #expect(repairer.drain().map(\.packet.body.type) == [.polr])
        // Drained, the receiver's timers decide: nothing missing, so the session's expiry.
        #expect(repairer.nextDeadline == at(5) + receiverConfiguration().peerExpiry)
        // A gap: its NAK back-off (within NAK_BO_IVL) comes first, and the NAK goes to the parent.
        repairer.receive(odata(1, trail: 1, [1]), arrival: fromSource, at: at(10))
        repairer.receive(odata(3, trail: 1, [3]), arrival: fromSource, at: at(10))
        let backOff = repairer.nextDeadline
        #expect(backOff.map { $0 > at(10) && $0 <= at(60) } == true, "\(String(describing: backOff))")
        let sent = repairer.advance(to: at(60))
        #expect(repairer.nakSequences(sent) == [2])
        #expect(sent.first?.transmit.destination == .unicast(pathAddress))
    }

    // MARK: Payload ownership

    /// Data the receiver holds behind a gap shares the bytes the cache copied (see ``Engine``): one copy, not two.
    @Test func dataHeldBehindAGapSharesTheCachesCopy() {
        var repairer = Self.repairer()
        repairer.receive(spm(1, trail: 1, lead: 0), arrival: fromSource, at: at(0))
        let buffer = [UInt8](repeating: 0, count: 64) + [3, 3, 3]
        let three = Packet(
            tsi: tsi, dataDestinationPort: 7500,
            body: .odata(DataPacket(sequence: SequenceNumber(3), trail: SequenceNumber(1), payload: buffer[64...])))
        repairer.receive(odata(1, trail: 1, [1]), arrival: fromSource, at: at(1))
        repairer.receive(three, arrival: fromSource, at: at(1))
        let rdata = repairer.receive(nakPacket([3]), arrival: Self.parent, at: at(2)).first {
            $0.packet.body.type == .rdata
        }
        repairer.receive(odata(2, trail: 1, [2]), arrival: fromSource, at: at(3))
        let held = repairer.events().compactMap { event -> ArraySlice<UInt8>? in
            if case .data(_, let bytes) = event, bytes.first == 3 { return bytes }
            return nil
        }.first
        guard case .rdata(let repair)? = rdata?.packet.body, let held else {
            Issue.record("no repair or no delivery of 3")
            return
        }
        #expect(Array(held) == [3, 3, 3] && Array(repair.payload) == [3, 3, 3])
        let shared = held.withUnsafeBufferPointer { delivered in
            repair.payload.withUnsafeBufferPointer { cached in delivered.baseAddress == cached.baseAddress }
        }
        #expect(shared)
    }
}
