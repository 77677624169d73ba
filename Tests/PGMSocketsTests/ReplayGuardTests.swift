import PGMWire
import Testing

@testable import PGMSockets

/// The replay window of a keyed driver (Docs/key.md#replay): SPM_SQN for SPMs, the trail for data.
@Suite struct ReplayGuardTests {
    static func tsi(_ port: UInt16) -> TSI { TSI(gsi: GSI(rawValue: 0x0A0B_0C0D_0E0F), sourcePort: port) }

    static func spm(_ sequence: UInt32, trail: UInt32, lead: UInt32, port: UInt16 = 1) -> Packet {
        Packet(
            tsi: tsi(port), dataDestinationPort: 7500,
            body: .spm(
                SPM(
                    sequence: .init(sequence), trail: .init(trail), lead: .init(lead),
                    path: .ipv4(IPv4Address(198, 18, 0, 1)))))
    }

    static func odata(_ sequence: UInt32, trail: UInt32, port: UInt16 = 1) -> Packet {
        Packet(
            tsi: tsi(port), dataDestinationPort: 7500,
            body: .odata(DataPacket(sequence: .init(sequence), trail: .init(trail), payload: [1, 2, 3][...])))
    }

    @Test func anSPMMustBeNewerThanEverySPMSeen() {
        var guardian = ReplayGuard()
        #expect(guardian.admit(Self.spm(10, trail: 1, lead: 5)) == .admitted)
        #expect(guardian.admit(Self.spm(10, trail: 1, lead: 5)) == .staleSPM)
        #expect(guardian.admit(Self.spm(9, trail: 1, lead: 5)) == .staleSPM)
        #expect(guardian.admit(Self.spm(11, trail: 1, lead: 5)) == .admitted)
        // Serial arithmetic (RFC 3208 §3): across the wrap, newer is newer.
        var wrapping = ReplayGuard()
        #expect(wrapping.admit(Self.spm(0xFFFF_FFFF, trail: 1, lead: 5)) == .admitted)
        #expect(wrapping.admit(Self.spm(0, trail: 1, lead: 5)) == .admitted)
        #expect(wrapping.admit(Self.spm(0xFFFF_FFFE, trail: 1, lead: 5)) == .staleSPM)
        // Another session has its own sequence.
        #expect(guardian.admit(Self.spm(1, trail: 1, lead: 5, port: 2)) == .admitted)
    }

    @Test func dataBehindTheTrailIsAReplay() {
        var guardian = ReplayGuard()
        #expect(guardian.admit(Self.odata(100, trail: 90)) == .admitted)
        #expect(guardian.admit(Self.odata(95, trail: 90)) == .admitted, "within the window: the engine's duplicate")
        #expect(guardian.admit(Self.odata(89, trail: 80)) == .behindTrail)
        #expect(guardian.admit(Self.spm(1, trail: 98, lead: 100)) == .admitted)
        #expect(guardian.admit(Self.odata(97, trail: 90)) == .behindTrail)
        #expect(
            guardian.admit(
                Packet(
                    tsi: Self.tsi(1), dataDestinationPort: 7500,
                    body: .rdata(DataPacket(sequence: .init(97), trail: .init(90), payload: [][...])))) == .behindTrail)
        // A trail its own lead does not vouch for (trail after lead) moves nothing.
        #expect(guardian.admit(Self.spm(2, trail: 5000, lead: 100)) == .admitted)
        #expect(guardian.admit(Self.odata(99, trail: 98)) == .admitted)
    }

    /// TRAIL 0 with LEAD 0x80000000 is "no window" (RFC 3208 §8.1): its SPM_SQN counts, its trail does not.
    @Test func anSPMWithoutAWindowMovesNoTrail() {
        var guardian = ReplayGuard()
        #expect(guardian.admit(Self.odata(100, trail: 90)) == .admitted)
        #expect(guardian.admit(Self.spm(3, trail: 0, lead: 0x8000_0000)) == .admitted)
        #expect(guardian.admit(Self.spm(3, trail: 0, lead: 0x8000_0000)) == .staleSPM)
        #expect(guardian.admit(Self.odata(91, trail: 90)) == .admitted)
    }

    @Test func otherTypesPass() {
        var guardian = ReplayGuard()
        let nak = Packet(
            tsi: Self.tsi(1), dataDestinationPort: 7500,
            body: .nak(
                NAK(
                    sequence: .init(1), source: .ipv4(IPv4Address(198, 18, 0, 1)),
                    group: .ipv4(IPv4Address(239, 192, 0, 1)))))
        #expect(guardian.admit(nak) == .admitted)
        #expect(guardian.admit(nak) == .admitted)
        #expect(guardian.count == 0, "no state for packets without a sequence to check")
    }

    /// At most `capacity` sessions, the least recently used forgotten first.
    @Test func stateIsBounded() {
        var guardian = ReplayGuard(capacity: 4)
        for port in UInt16(1)...10 { #expect(guardian.admit(Self.spm(5, trail: 1, lead: 2, port: port)) == .admitted) }
        #expect(guardian.count == 4)
        // 10 was used last: remembered. 1 was forgotten: its old SPM passes again.
        #expect(guardian.admit(Self.spm(5, trail: 1, lead: 2, port: 10)) == .staleSPM)
        #expect(guardian.admit(Self.spm(5, trail: 1, lead: 2, port: 1)) == .admitted)
        #expect(guardian.count == 4)
    }
}
