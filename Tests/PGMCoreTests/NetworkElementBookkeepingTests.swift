import PGMWire
import Testing

@testable import PGMCore

/// What the element counts about itself: repair states and kept repairs per session and over all sessions, and its
/// drop counters.
@Suite("Network element: bookkeeping")
struct NetworkElementBookkeepingTests {
    @Test func aRepairTableRefusesNewStateWhenFullButKeepsUpdatingWhatItHolds() {
        var table = RepairTable(capacity: 2)
        table[SequenceNumber(1)] = RepairState(phase: .nullNAK(expires: .zero))
        table[SequenceNumber(2)] = RepairState(phase: .nullNAK(expires: .zero))
        #expect(table.count == 2 && table.isFull)
        table[SequenceNumber(2)]?.avoidsRepairer = true
        #expect(table[SequenceNumber(2)]?.avoidsRepairer == true)
        #expect(table.sequences { $0.avoidsRepairer } == [SequenceNumber(2)])
        let first = table.removeValue(forKey: SequenceNumber(1))
        let second = table.removeValue(forKey: SequenceNumber(1))
        #expect(first != nil && second == nil)
        table[SequenceNumber(2)] = nil
        #expect(table.count == 0 && !table.isFull && table[SequenceNumber(2)] == nil)
    }

    /// Random NAKs, NNAKs, NCFs, RDATA and gaps for three sessions under tight caps, with time moving on: after every
    /// input the element's counts are the sums of its sessions', no session holds more than its cap, and the kept
    /// repairs stay within the element's.
    @Test(arguments: [UInt64(1), 2, 3])
    func theElementsCountsAreAlwaysTheSumsOfItsSessions(seed: UInt64) {
        var harness = ElementHarness {
            $0.maximumRepairStatesPerSession = 16
            $0.maximumRepairCopiesPerSession = 8
            $0.maximumRepairCopies = 12
        }
        let tsis = [
            ElementHarness.tsi, TSI(gsi: GSI(rawValue: 7), sourcePort: 1), TSI(gsi: GSI(rawValue: 8), sourcePort: 2),
        ]
        for tsi in tsis {
            harness.fromSource(
                Packet(
                    tsi: tsi, dataDestinationPort: ElementHarness.port,
                    body: .spm(
                        SPM(
                            sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(200),
                            path: ElementHarness.source))))
        }
        var random = SplitMix64(seed: seed)
        var odataLead: [TSI: UInt32] = [:]
        var copiesKept = 0
        for _ in 0..<4_000 {
            let tsi = tsis[Int(random.bounded(3))]
            let sequence = UInt32(1 + random.bounded(40))
            func packet(_ body: Packet.Body, options: [Option] = []) -> Packet {
                Packet(
                    tsi: tsi, dataDestinationPort: ElementHarness.port, flags: .required(by: options), body: body,
                    options: options)
            }
            let nak = NAK(
                sequence: SequenceNumber(sequence), source: ElementHarness.source, group: ElementHarness.group)
            let list = [Option(.nakList([SequenceNumber(1 + UInt32(random.bounded(40)))]))]
            let down = ElementHarness.downs[Int(random.bounded(3))]
            switch random.bounded(7) {
            case 0, 1: harness.fromBelow(packet(.nak(nak), options: random.bounded(2) == 0 ? list : []), on: down)
            case 2: harness.fromBelow(packet(.nnak(nak)), on: down)
            case 3: harness.fromSource(packet(.ncf(nak), options: list))
            case 4:
                let data = DataPacket(sequence: SequenceNumber(sequence), trail: SequenceNumber(1), payload: [1])
                harness.fromSource(packet(.rdata(data)))
            case 5:
                // ODATA with gaps: losses above the element.
                let next = (odataLead[tsi] ?? 0) + 1 + UInt32(random.bounded(4))
                odataLead[tsi] = next
                harness.fromSource(
                    packet(.odata(DataPacket(sequence: SequenceNumber(next), trail: SequenceNumber(1), payload: [2]))))
            default:
                harness.advance(by: .milliseconds(Int64(random.bounded(50))))
            }
            let sessions = harness.element.sessions.values
            #expect(harness.element.repairStateCount == sessions.reduce(0) { $0 + $1.repairs.count })
            #expect(harness.element.repairCopyCount == sessions.reduce(0) { $0 + $1.repairCopies.count })
            #expect(sessions.allSatisfy { $0.repairs.count <= 16 && $0.repairCopies.count <= 8 })
            #expect(harness.element.repairCopyCount <= 12)
            copiesKept = max(copiesKept, harness.element.repairCopyCount)
        }
        #expect(copiesKept == 12, "the element filled up")
        #expect(harness.element.statistics.repairStatesRejected > 0)
        harness.advance(by: .seconds(200))
        #expect(harness.element.sessionCount == 0 && harness.element.repairStateCount == 0)
        #expect(harness.element.repairCopyCount == 0)
    }

    /// `packetsDropped` sums every drop counter, whatever its section, and nothing else: a counter added later and
    /// named like one is in the sum or this fails.
    @Test func packetsDroppedSumsEveryDropCounterAndNothingElse() {
        let counters = Self.counters
        let inStatistics = Mirror(reflecting: NetworkElement.Statistics()).children.compactMap {
            $0.value is Int ? $0.label : nil
        }
        #expect(Set(inStatistics) == Set(counters.keys), "a counter missing here")
        func isDrop(_ name: String) -> Bool {
            name.hasSuffix("Dropped") || name.contains("Discarded") || name.hasSuffix("Rejected")
        }
        for (name, keyPath) in counters {
            var statistics = NetworkElement.Statistics()
            statistics[keyPath: keyPath] = 1
            #expect(statistics.packetsDropped == (isDrop(name) ? 1 : 0), "\(name)")
        }
        #expect(counters.keys.filter(isDrop).count == 21)
    }

    /// Every `Int` counter of the statistics by name.
    static var counters: [String: WritableKeyPath<NetworkElement.Statistics, Int>] {
        [
            "packetsReceived": \.packetsReceived, "foreignPacketsDropped": \.foreignPacketsDropped,
            "packetsDiscardedByOption": \.packetsDiscardedByOption, "optionsInvalidated": \.optionsInvalidated,
            "sessionsLearned": \.sessionsLearned, "acksForwarded": \.acksForwarded,
            "sessionsExpired": \.sessionsExpired,
            "sessionsRejected": \.sessionsRejected, "spmsForwarded": \.spmsForwarded,
            "spmsStaleDropped": \.spmsStaleDropped, "spmsFromDownstreamDropped": \.spmsFromDownstreamDropped,
            "upstreamChanges": \.upstreamChanges, "offPathDropped": \.offPathDropped,
            "neighborUnreachableIgnored": \.neighborUnreachableIgnored, "odataForwarded": \.odataForwarded,
            "odataDropped": \.odataDropped, "dataBytesForwarded": \.dataBytesForwarded,
            "rdataForwarded": \.rdataForwarded, "rdataCopiesSent": \.rdataCopiesSent,
            "rdataWithoutRepairStateDropped": \.rdataWithoutRepairStateDropped,
            "rdataMisroutedDropped": \.rdataMisroutedDropped, "naksReceived": \.naksReceived,
            "naksWithoutSessionDropped": \.naksWithoutSessionDropped, "naksMisroutedDropped": \.naksMisroutedDropped,
            "naksMisaddressedDropped": \.naksMisaddressedDropped,
            "naksOutsideWindowDropped": \.naksOutsideWindowDropped,
            "parityNAKsDropped": \.parityNAKsDropped, "repairStatesRejected": \.repairStatesRejected,
            "naksEliminated": \.naksEliminated, "naksForwarded": \.naksForwarded,
            "nakSequencesForwarded": \.nakSequencesForwarded, "nakRepeats": \.nakRepeats,
            "naksForwardedForCongestionReport": \.naksForwardedForCongestionReport,
            "nakForwardingTimeouts": \.nakForwardingTimeouts, "repairStatesExpired": \.repairStatesExpired,
            "ncfsSent": \.ncfsSent, "nakBackoffIncreases": \.nakBackoffIncreases,
            "nakBackoffDecreases": \.nakBackoffDecreases, "ncfsRateLimited": \.ncfsRateLimited,
            "lossesDetected": \.lossesDetected, "detectedLossesFilledLate": \.detectedLossesFilledLate,
            "odataGapsNotTracked": \.odataGapsNotTracked,
            "detectedLossesConfirmedDownstream": \.detectedLossesConfirmedDownstream, "repairRetries": \.repairRetries,
            "nakSequencesAnsweredFromCopies": \.nakSequencesAnsweredFromCopies,
            "repairsResentFromCopies": \.repairsResentFromCopies, "repairCopiesRefused": \.repairCopiesRefused,
            "ncfsReceived": \.ncfsReceived, "ncfsAnticipated": \.ncfsAnticipated,
            "ncfsFromDownstreamDropped": \.ncfsFromDownstreamDropped,
            "ncfsMisaddressedDropped": \.ncfsMisaddressedDropped,
            "nnaksReceived": \.nnaksReceived, "nnaksForwarded": \.nnaksForwarded, "nnaksEliminated": \.nnaksEliminated,
            "nnaksDropped": \.nnaksDropped, "spmrsReceived": \.spmrsReceived, "spmrsAnswered": \.spmrsAnswered,
            "spmrsForwarded": \.spmrsForwarded, "spmrsDropped": \.spmrsDropped, "pollsReceived": \.pollsReceived,
            "polrsSent": \.polrsSent, "pollsIgnored": \.pollsIgnored, "dlrPollsSent": \.dlrPollsSent,
            "polrsReceived": \.polrsReceived, "polrsDropped": \.polrsDropped, "repairersLearned": \.repairersLearned,
            "repairerFallbacks": \.repairerFallbacks, "naksRedirected": \.naksRedirected,
            "redirectionsAvoided": \.redirectionsAvoided, "parityODATAForwarded": \.parityODATAForwarded,
            "parityNCFsSent": \.parityNCFsSent, "parityNAKsForwarded": \.parityNAKsForwarded,
            "parityNAKsEliminated": \.parityNAKsEliminated, "parityRDATAForwarded": \.parityRDATAForwarded,
            "parityRDATADiscarded": \.parityRDATADiscarded, "parityOptionsIgnored": \.parityOptionsIgnored,
            "parityNAKsAnsweredFromCopies": \.parityNAKsAnsweredFromCopies,
            "parityRDATAResentFromCopies": \.parityRDATAResentFromCopies,
        ]
    }
}
