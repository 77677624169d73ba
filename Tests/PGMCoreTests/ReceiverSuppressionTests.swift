import PGMCore
import PGMWire
import Testing

/// Another receiver's NAK multicast to the group, as the receiving driver sees it.
let overheard = Arrival(source: receiverAddress, destination: group)

/// Overheard multicast NAKs (RFC 3208 §6.3), SPMR retries (§13.5), late repairs of sequences marked lost.
@Suite struct ReceiverSuppressionTests {
    /// SPM, then 1 and `last`: the sequences between are missing, backing off. NAKs one at a time.
    static func gapped(
        through last: UInt32, configure: (inout Receiver.Configuration) -> Void = { _ in }
    ) -> EngineHarness<Receiver> {
        var configuration = receiverConfiguration()
        configuration.nakCoalescingWindow = .zero
        configure(&configuration)
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(last, trail: 0, [UInt8(last)]), arrival: fromSource, at: at(0))
        return receiver
    }

    @Test func anOverheardMulticastNAKSuppressesBackOffLikeAnNCF() {
        var receiver = Self.gapped(through: 5) { $0.nakRdataInterval = .milliseconds(300) }
        // Another receiver's multicast NAK for 2 and 3 (a NAK list) during back-off: wait NAK_RDATA_IVL instead.
        receiver.receive(nakPacket([2, 3]), arrival: overheard, at: at(0))
        #expect(receiver.statistics.naksOverheard == 1 && receiver.statistics.naksSuppressed == 2)
        #expect(receiver.statistics.foreignPackets == 0)
        let first = receiver.advance(to: at(299))
        #expect(receiver.nakSequences(first) == [4])
        // No RDATA came within NAK_RDATA_IVL: 2 and 3 back off and are NAKed.
        let later = receiver.advance(to: at(351))
        #expect(receiver.nakSequences(later).sorted() == [2, 3])
    }

    @Test func aUnicastNAKIsNotSuppression() {
        var receiver = Self.gapped(through: 3)
        receiver.receive(nakPacket([2]), arrival: fromReceiver, at: at(0))
        #expect(receiver.statistics.naksOverheard == 0 && receiver.statistics.naksSuppressed == 0)
        #expect(receiver.statistics.foreignPackets == 1)
        #expect(receiver.nakSequences(receiver.advance(to: at(50))) == [2])
    }

    @Test func anOverheardNAKRestartsWaitNCFAndWaitData() {
        var receiver = Self.gapped(through: 4) {
            $0.nakRepeatInterval = .milliseconds(200)
            $0.nakRdataInterval = .milliseconds(300)
        }
        let naks = receiver.advance(to: at(50))
        #expect(receiver.nakSequences(naks).sorted() == [2, 3])
        // 2 waits for its NCF, 3 for its RDATA.
        receiver.receive(ncf([3]), arrival: fromSource, at: at(60))
        // At 150 a NAK for both is overheard: NAK_RPT_IVL restarts for 2, NAK_RDATA_IVL for 3.
        receiver.receive(nakPacket([2, 3]), arrival: overheard, at: at(150))
        #expect(receiver.statistics.naksSuppressed == 0, "neither was backing off")
        #expect(receiver.nakSequences(receiver.advance(to: at(349))).isEmpty, "2 would have been NAKed again by 250")
        let repeated = receiver.advance(to: at(400))
        #expect(receiver.nakSequences(repeated) == [2], "NAK_RPT_IVL from 150")
        #expect(repeated.allSatisfy { $0.0 > at(350) })
        #expect(receiver.nakSequences(receiver.advance(to: at(449))).isEmpty, "3 would have been NAKed again by 410")
        #expect(receiver.nakSequences(receiver.advance(to: at(501))) == [3], "NAK_RDATA_IVL from 150")
    }

    @Test func overheardNAKsForReceivedOrOutOfWindowSequencesAreIgnored() {
        var receiver = Self.gapped(through: 4)
        receiver.receive(odata(3, trail: 0, [3]), arrival: fromSource, at: at(0))
        // 1 was delivered, 3 is held, 9 and 100000 are beyond the window: nothing changes for 2.
        receiver.receive(nakPacket([1, 3, 9, 100_000]), arrival: overheard, at: at(0))
        #expect(receiver.statistics.naksOverheard == 1 && receiver.statistics.naksSuppressed == 0)
        #expect(receiver.nakSequences(receiver.advance(to: at(50))) == [2])
        // A NAK of another session or port changes nothing either.
        var foreign = nakPacket([2])
        foreign.destinationPort = 9999
        receiver.receive(foreign, arrival: overheard, at: at(60))
        #expect(receiver.statistics.naksOverheard == 1)
    }

    // MARK: SPMR (RFC 3208 §13.5, Appendix C)

    @Test func spmrRetriesWaitSPMRSPMIVLThenARandomBackOff() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(odata(10, trail: 10, [1]), arrival: fromSource, at: at(0))
        let times = receiver.advance(to: at(8000)).filter { $0.1.packet.body.type == .spmr && $0.1.ttl == 1 }.map(\.0)
        #expect(times.count >= 6)
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 >= .seconds(1) && $0 <= .milliseconds(1250) }, "\(gaps)")
        #expect(Set(gaps).count == gaps.count, "a fresh random delay each time: \(gaps)")
    }

    /// Five receivers on one LAN (1 ms apart) with data and no SPM: each overheard multicast SPMR suppresses
    /// the others, and the retries after SPMR_SPM_IVL are spread by SPMR_BO_IVL rather than all due together.
    @Test func spmrRetriesOfSeveralReceiversAreSpread() {
        var receivers = (0..<5).map { index in
            var configuration = receiverConfiguration()
            configuration.seed = 1000 + UInt64(index)
            return EngineHarness(Receiver(configuration: configuration))
        }
        for index in receivers.indices {
            receivers[index].receive(odata(10, trail: 10, [1]), arrival: fromSource, at: at(0))
        }
        var inFlight: [(time: Instant, to: Int, packet: Packet)] = []
        var sent: [(time: Instant, by: Int)] = []
        let end = at(6000)
        while true {
            let timer = receivers.indices.compactMap { index in receivers[index].nextDeadline.map { ($0, index) } }
                .min { $0.0 < $1.0 }
            let delivery = inFlight.indices.min { inFlight[$0].time < inFlight[$1].time }
            let now: Instant
            let actor: Int
            let transmits: [Transmit]
            if let timer, timer.0 <= end, delivery.map({ timer.0 <= inFlight[$0].time }) ?? true {
                (now, actor) = timer
                transmits = receivers[actor].handleTimeout(at: now)
            } else if let delivery, inFlight[delivery].time <= end {
                let packet = inFlight.remove(at: delivery)
                (now, actor) = (packet.time, packet.to)
                transmits = receivers[actor].receive(packet.packet, arrival: overheard, at: now)
            } else {
                break
            }
            for transmit in transmits where transmit.destination == .multicast(group) {
                sent.append((now, actor))
                for other in receivers.indices where other != actor {
                    inFlight.append((now + .milliseconds(1), other, transmit.packet))
                }
            }
        }
        let retries = sent.filter { $0.time > at(1000) }
        #expect(!retries.isEmpty)
        // Without spreading, all the receivers that overheard the same SPMR ask again at the same instant.
        #expect(Set(sent.map(\.time)).count == sent.count, "\(sent)")
        #expect(retries.count <= 6, "\(retries.count) retries in 5 s: the first one should suppress the others")
        #expect(Set(sent.map(\.by)).count > 1, "no receiver is always first")
    }

    // MARK: Late repair of sequences marked lost

    @Test func rdataForALostSlotStillInTheWindowIsDelivered() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(6, trail: 0, [6]), arrival: fromSource, at: at(0))
        _ = receiver.events()
        // The trail passes 2...4; 5 is still missing and blocks the report. RDATA for 3, sent before the trail
        // moved, arrives.
        receiver.receive(spm(2, trail: 5, lead: 6), arrival: fromSource, at: at(1))
        receiver.receive(odata(3, trail: 1, [3], repair: true), arrival: fromSource, at: at(2))
        #expect(receiver.statistics.duplicates == 0 && receiver.statistics.sequencesRepaired == 1)
        #expect(
            receiver.events() == [
                .unrecoverable(tsi, first: SequenceNumber(2), last: SequenceNumber(2), reason: .windowAdvanced),
                .data(tsi, bytes: [3]),
            ]
        )
        receiver.receive(odata(5, trail: 5, [5], repair: true), arrival: fromSource, at: at(3))
        #expect(
            receiver.events() == [
                .unrecoverable(tsi, first: SequenceNumber(4), last: SequenceNumber(4), reason: .windowAdvanced),
                .data(tsi, bytes: [5]), .data(tsi, bytes: [6]),
            ]
        )
        #expect(receiver.statistics.sequencesLost == 2 && receiver.statistics.lossEvents == 2)
        // Once reported, late copies are duplicates.
        receiver.receive(odata(4, trail: 1, [4], repair: true), arrival: fromSource, at: at(4))
        #expect(receiver.events().isEmpty && receiver.statistics.duplicates == 1)
    }

    @Test func lateODATAForASlotWhoseRetriesRanOutIsDelivered() {
        var configuration = receiverConfiguration()
        configuration.nakNCFRetries = 0
        configuration.nakRepeatInterval = .milliseconds(100)
        configuration.nakRdataInterval = .seconds(10)
        var receiver = EngineHarness(Receiver(configuration: configuration))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(4, trail: 0, [4]), arrival: fromSource, at: at(0))
        _ = receiver.events()
        // 2 is confirmed and waits for RDATA; 3's NAK is never confirmed and it is given up.
        receiver.receive(ncf([2]), arrival: fromSource, at: at(0))
        _ = receiver.advance(to: at(500))
        #expect(receiver.events().isEmpty, "3 is lost but 2 blocks the report")
        receiver.receive(odata(3, trail: 0, [3]), arrival: fromSource, at: at(501))
        receiver.receive(odata(2, trail: 0, [2], repair: true), arrival: fromSource, at: at(502))
        #expect(receiver.events() == [.data(tsi, bytes: [2]), .data(tsi, bytes: [3]), .data(tsi, bytes: [4])])
        #expect(receiver.statistics.sequencesLost == 0 && receiver.statistics.duplicates == 0)
        #expect(receiver.statistics.sequencesRepaired == 1, "3 came as ODATA")
    }
}
