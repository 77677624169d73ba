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
}
