public import PGMWire

/// Per-session statistics of a trace: traffic by type, ODATA gaps, NAK/NCF/RDATA per lost sequence, repair
/// latencies and congestion reports (Docs/pgm-dump.md#--stats).
///
/// Pure: feed it decoded packets with their capture times in capture order, then read ``report()``. It never
/// looks at a clock, so the same capture always gives the same report.
public struct TraceAnalyzer: Sendable {
    /// A gap larger than this is counted but its sequences are not tracked one by one (a source restart or a
    /// capture that joins late must not allocate billions of entries).
    public static let maximumTrackedGap: UInt32 = 65_536
    /// Transmission groups per session whose parity packets or OPT_CURR_TGSIZE are remembered, at most.
    public static let maximumTrackedGroups = 65_536

    public private(set) var capture = CaptureCounters()
    private var sessions: [TSI: SessionState] = [:]
    private var order: [TSI] = []

    public init() {}

    /// Frames by what they held, for the capture as a whole.
    public struct CaptureCounters: Hashable, Sendable {
        public var frames = 0
        public var pgmPackets = 0
        public var malformed = 0
        public var fragments = 0
        public var other = 0
        public var badChecksums = 0
        public var missingChecksums = 0
        /// Packets by their OPT_AUTH verdict under `pgm-dump --key`; nil without a key.
        public var authentication: AuthenticationCounts?
    }

    /// Packets by OPT_AUTH verdict (``AuthenticationVerdict``).
    public struct AuthenticationCounts: Hashable, Sendable {
        public var valid = 0
        public var invalid = 0
        public var absent = 0
    }

    /// Records one dissected frame (the usual entry point from the capture loop).
    public mutating func record(_ dissection: Dissection) {
        // The packets of a GSO run come from one frame.
        if (dissection.segment?.index ?? 1) == 1 { capture.frames += 1 }
        switch dissection.layers {
        case .pgm:
            guard let pgm = dissection.pgm else { return }
            switch pgm.checksum {
            case .invalid: capture.badChecksums += 1
            case .absent: capture.missingChecksums += 1
            case .valid: break
            }
            if let verdict = pgm.authentication {
                var counts = capture.authentication ?? AuthenticationCounts()
                switch verdict {
                case .valid: counts.valid += 1
                case .invalid: counts.invalid += 1
                case .absent: counts.absent += 1
                }
                capture.authentication = counts
            }
            switch pgm.result {
            case .success(let packet):
                capture.pgmPackets += 1
                record(packet, length: pgm.length, at: dissection.timestamp)
            case .failure:
                capture.malformed += 1
            }
        case .fragment: capture.fragments += 1
        case .malformed: capture.malformed += 1
        case .other: capture.other += 1
        }
    }

    /// Records one decoded packet of `length` PGM bytes seen at `time`.
    public mutating func record(_ packet: Packet, length: Int, at time: CaptureTimestamp) {
        let tsi = packet.tsi
        let now = time.totalNanoseconds
        // Mutate in place through the index: `sessions[tsi] == nil` or `sessions[tsi]!` would copy the state
        // (and retain its arrays) on every packet.
        if let index = sessions.index(forKey: tsi) {
            sessions.values[index].record(packet, length: length, at: now)
        } else {
            var state = SessionState(firstTime: now)
            state.record(packet, length: length, at: now)
            sessions[tsi] = state
            order.append(tsi)
        }
    }

    /// The report, sessions in order of first appearance.
    public func report() -> Report {
        Report(capture: capture, sessions: order.map { sessions[$0]!.report(tsi: $0) })
    }

    public struct Report: Sendable {
        public var capture: CaptureCounters
        public var sessions: [SessionReport]
    }

    /// What one TSI did during the capture. Times are nanoseconds since the Unix epoch (or the capture's origin).
    public struct SessionReport: Sendable {
        public var tsi: TSI
        public var firstTime: Int64
        public var lastTime: Int64
        /// Packets and PGM bytes per type, in ``PacketType/allCases`` order (types never seen are left out).
        public var traffic: [(type: PacketType, packets: Int, bytes: Int)]
        /// The first and highest ODATA sequence numbers seen (serial order).
        public var odataRange: (first: SequenceNumber, last: SequenceNumber)?
        /// SPM_LEAD of the last SPM.
        public var lastSPMLead: SequenceNumber?
        /// Jumps in ODATA sequence numbers, and how many sequences they skipped.
        public var gaps: Int
        public var gapSequences: Int
        public var naks: Int
        /// Sequence numbers requested: one per NAK plus its OPT_NAK_LIST entries.
        public var nakEntries: Int
        public var ncfs: Int
        public var ncfEntries: Int
        public var rdata: Int
        /// Sequences this capture's subnet lost: seen missing from ODATA, or named in a NAK or an NCF. An NCF
        /// without a NAK here is an element below a lossy link confirming a loss it detected itself: the subnet
        /// lost the sequence, though nobody on it had to ask.
        public var lostSequences: Int
        /// The lost sequences themselves, in serial order from the first ODATA (for unions across captures).
        public var lost: [SequenceNumber]
        public var naksPerLostSequence: Distribution
        public var rdataPerLostSequence: Distribution
        /// Gap first seen (the ODATA after it) → first NAK for the sequence.
        public var gapToNAK: LatencySummary
        /// First NAK → first NCF for the sequence.
        public var nakToNCF: LatencySummary
        /// First NAK → first RDATA for the sequence.
        public var nakToRDATA: LatencySummary
        /// Repair latency as this subnet saw it: the first sign of the loss (the ODATA after the gap, or the first
        /// NAK or NCF naming the sequence, whichever came first) → the first RDATA after it. Unlike
        /// ``nakToRDATA`` it also covers losses nobody here NAKed (an element repaired them unasked).
        public var detectToRDATA: LatencySummary
        /// Lost sequences that got neither RDATA nor a late ODATA, in serial order.
        public var neverRepaired: [SequenceNumber]
        public var congestionReports: Int
        /// The OPT_CR with the highest RX_WP (receiver worst path loss, 0xFFFF = 100 %).
        public var worstReceiver: (receiver: NLA, loss: UInt16)?
        /// FEC (RFC 3208 Appendix A), when the session advertised OPT_PARITY_PRM or sent a parity packet. Parity
        /// packets never count as data: their sequence numbers are TG_SQN | index or count, so they make no gaps,
        /// losses or repairs above.
        public var parity: ParityReport?
    }

    /// A session's FEC as this capture point saw it.
    public struct ParityReport: Hashable, Sendable {
        /// k from the last OPT_PARITY_PRM; `nil` when no SPM advertised one (nothing below needing it is counted).
        public var groupSize: UInt32?
        /// Transmission groups the data ODATA reached (from the first one seen after k was known).
        public var groups: Int
        /// Proactive parity (ODATA with OPT_PARITY) and on-demand parity (RDATA with OPT_PARITY) packets.
        public var proactive: Int
        public var onDemand: Int
        /// Parity NAK packets, and the parity packets they asked for (each entry's count, summed).
        public var naks: Int
        public var requestedPackets: Int
        /// RDATA without OPT_PARITY.
        public var selectiveRDATA: Int
        /// The capture point's view of how its losses were repaired: a sequence missing from ODATA here that a
        /// selective RDATA later carried is repaired selectively; the remaining missing sequences of a transmission
        /// group are repaired by parity when at least as many parity packets (proactive or on-demand) of that
        /// group were captured. A receiver behind this point may have done otherwise (it can also use parity
        /// lost here, or miss packets seen here); sequences of a group OPT_CURR_TGSIZE shortened that were never
        /// sent are no losses.
        public var repairedSelectively: Int
        public var repairedByParity: Int
    }

    /// Mean and maximum of a per-sequence count.
    public struct Distribution: Hashable, Sendable {
        public var count: Int
        public var total: Int
        public var maximum: Int
        public var mean: Double { count == 0 ? 0 : Double(total) / Double(count) }
    }

    /// Nearest-rank percentiles (ISO/NIST "nearest rank": the smallest value with at least p % at or below it).
    public struct LatencySummary: Hashable, Sendable {
        public var count: Int
        public var p50: Int64
        public var p90: Int64
        public var p99: Int64
        public var maximum: Int64

        public init(_ samples: [Int64]) {
            let sorted = samples.sorted()
            count = sorted.count
            func rank(_ percent: Int) -> Int64 {
                guard !sorted.isEmpty else { return 0 }
                let index = (percent * sorted.count + 99) / 100 - 1
                return sorted[max(0, min(sorted.count - 1, index))]
            }
            p50 = rank(50)
            p90 = rank(90)
            p99 = rank(99)
            maximum = sorted.last ?? 0
        }
    }
}

/// Mutable per-TSI state behind ``TraceAnalyzer``. Time differences use wrapping arithmetic: a crafted pcapng can
/// carry timestamps whose nanosecond totals wrap, and a report must never trap on them.
private struct SessionState: Sendable {
    struct Loss: Sendable {
        var gapSeen: Int64?
        var firstNAK: Int64?
        /// The first NCF after a NAK seen here (a step of this subnet's NAK/NCF exchange).
        var firstNCF: Int64?
        /// The first NCF naming the sequence, with or without a NAK before it.
        var firstNCFSeen: Int64?
        var firstRDATA: Int64?
        /// The first RDATA after the loss showed (``detected``); an earlier one answered another subnet.
        var firstRDATAAfterDetection: Int64?
        var naks = 0
        var rdata = 0
        var repairedByODATA = false

        /// When the capture first showed the loss: gap, NAK or NCF, whichever came first.
        var detected: Int64? { Self.earlier(gapSeen, Self.earlier(firstNAK, firstNCFSeen)) }

        private static func earlier(_ first: Int64?, _ second: Int64?) -> Int64? {
            guard let first else { return second }
            guard let second else { return first }
            return min(first, second)
        }
    }

    var firstTime: Int64
    var lastTime: Int64
    var packets = [Int](repeating: 0, count: 16)
    var bytes = [Int](repeating: 0, count: 16)
    var firstODATA: SequenceNumber?
    var highestODATA: SequenceNumber?
    var lastSPMLead: SequenceNumber?
    var gaps = 0
    var gapSequences = 0
    var naks = 0
    var nakEntries = 0
    var ncfs = 0
    var ncfEntries = 0
    var rdata = 0
    var losses: [SequenceNumber: Loss] = [:]
    var congestionReports = 0
    var worstReceiver: (receiver: NLA, loss: UInt16)?
    // FEC (RFC 3208 Appendix A)
    var paritySeen = false
    var groupSize: UInt32?
    var highestGroup: SequenceNumber?
    var groups = 0
    var proactiveParity = 0
    var onDemandParity = 0
    var parityNAKs = 0
    var parityRequested = 0
    var selectiveRDATA = 0
    /// Parity packets captured per TG_SQN, and the size OPT_CURR_TGSIZE gave shortened groups.
    var parityPerGroup: [SequenceNumber: Int] = [:]
    var truncatedGroups: [SequenceNumber: UInt32] = [:]

    init(firstTime: Int64) {
        self.firstTime = firstTime
        self.lastTime = firstTime
    }

    mutating func record(_ packet: Packet, length: Int, at now: Int64) {
        lastTime = max(lastTime, now)
        let type = packet.body.type
        packets[Int(type.rawValue & 0x0F)] += 1
        bytes[Int(type.rawValue & 0x0F)] += length
        if packet.flags.contains(.parity) {
            recordParity(packet)
            return
        }
        switch packet.body {
        case .odata(let data):
            recordODATA(data.sequence, at: now)
            if let k = groupSize {
                let group = ParityDescription.split(data.sequence, k).group
                if highestGroup.map({ $0.precedes(group) }) ?? true {
                    highestGroup = group
                    groups += 1
                }
                noteTruncation(group, packet.options)
            }
        case .rdata(let data):
            rdata += 1
            selectiveRDATA += 1
            var loss = losses[data.sequence] ?? Loss()
            loss.rdata += 1
            if loss.firstRDATA == nil { loss.firstRDATA = now }
            if loss.firstRDATAAfterDetection == nil && loss.detected != nil { loss.firstRDATAAfterDetection = now }
            losses[data.sequence] = loss
        case .nak(let nak):
            naks += 1
            forEachRequested(nak.sequence, packet.options) { sequence in
                nakEntries += 1
                var loss = losses[sequence] ?? Loss()
                loss.naks += 1
                if loss.firstNAK == nil { loss.firstNAK = now }
                losses[sequence] = loss
            }
            for option in packet.options {
                if case .congestionReport(let report) = option.value {
                    congestionReports += 1
                    if worstReceiver == nil || report.receiverWorstPath > worstReceiver!.loss {
                        worstReceiver = (report.worstReceiver, report.receiverWorstPath)
                    }
                }
            }
        case .ncf(let ncf):
            ncfs += 1
            forEachRequested(ncf.sequence, packet.options) { sequence in
                ncfEntries += 1
                var loss = losses[sequence] ?? Loss()
                if loss.firstNCFSeen == nil { loss.firstNCFSeen = now }
                // NAK → NCF times only an NCF answering a NAK seen here.
                if loss.firstNAK != nil && loss.firstNCF == nil { loss.firstNCF = now }
                losses[sequence] = loss
            }
        case .spm(let spm):
            lastSPMLead = spm.lead
            if let k = ParityContext.groupSize(advertisedBy: packet) {
                paritySeen = true
                if groupSize != k {
                    // k is constant for a session (§11.2): a new one starts the group bookkeeping afresh.
                    groupSize = k
                    highestGroup = nil
                    parityPerGroup = [:]
                    truncatedGroups = [:]
                }
            }
            if let k = groupSize { noteTruncation(ParityDescription.split(spm.lead, k).group, packet.options) }
        case .poll, .polr, .nnak, .spmr, .ack:
            break
        }
    }

    /// A parity packet: counted by kind and, with k known, per transmission group; never a data sequence.
    private mutating func recordParity(_ packet: Packet) {
        paritySeen = true
        let description = groupSize.flatMap { ParityDescription(packet, groupSize: $0) }
        switch packet.body {
        case .odata, .rdata:
            if case .odata = packet.body { proactiveParity += 1 } else { onDemandParity += 1 }
            if case .rdata = packet.body { rdata += 1 }
            guard case .data(_, let group, _)? = description else { return }
            if parityPerGroup[group] != nil || parityPerGroup.count < TraceAnalyzer.maximumTrackedGroups {
                parityPerGroup[group, default: 0] += 1
            }
            noteTruncation(group, packet.options)
        case .nak(let nak), .ncf(let nak):
            let isNAK = packet.body.type == .nak
            if isNAK {
                naks += 1
                parityNAKs += 1
            } else {
                ncfs += 1
            }
            forEachRequested(nak.sequence, packet.options) { _ in
                if isNAK { nakEntries += 1 } else { ncfEntries += 1 }
            }
            if isNAK, case .request(_, let entries)? = description {
                parityRequested += entries.reduce(0) { $0 + Int($1.count) }
            }
        default:
            break
        }
    }

    /// OPT_CURR_TGSIZE: `group` holds only that many data packets (RFC 3208 §11.4).
    private mutating func noteTruncation(_ group: SequenceNumber, _ options: [Option]) {
        for option in options {
            guard case .currentGroupSize(let size) = option.value, let k = groupSize, size < k else { continue }
            if truncatedGroups[group] != nil || truncatedGroups.count < TraceAnalyzer.maximumTrackedGroups {
                truncatedGroups[group] = size
            }
        }
    }

    /// A sequence OPT_CURR_TGSIZE said its group never used, and nobody asked for: no loss.
    private func neverSent(_ sequence: SequenceNumber, _ loss: Loss) -> Bool {
        guard let k = groupSize, loss.firstNAK == nil, loss.firstNCFSeen == nil else { return false }
        let (group, low) = ParityDescription.split(sequence, k)
        guard let size = truncatedGroups[group] else { return false }
        return low >= size
    }

    /// ``TraceAnalyzer/ParityReport``, and the sequences it counts as repaired by parity.
    private func parityReport() -> (TraceAnalyzer.ParityReport, Set<SequenceNumber>)? {
        guard paritySeen else { return nil }
        var selectively = 0
        var unrepaired: [SequenceNumber: [SequenceNumber]] = [:]
        for (sequence, loss) in losses where loss.gapSeen != nil && !neverSent(sequence, loss) {
            if loss.firstRDATAAfterDetection != nil {
                selectively += 1
            } else if !loss.repairedByODATA, let k = groupSize {
                unrepaired[ParityDescription.split(sequence, k).group, default: []].append(sequence)
            }
        }
        var byParity = Set<SequenceNumber>()
        for (group, sequences) in unrepaired where parityPerGroup[group, default: 0] >= sequences.count {
            byParity.formUnion(sequences)
        }
        let report = TraceAnalyzer.ParityReport(
            groupSize: groupSize, groups: groups, proactive: proactiveParity, onDemand: onDemandParity,
            naks: parityNAKs, requestedPackets: parityRequested, selectiveRDATA: selectiveRDATA,
            repairedSelectively: selectively, repairedByParity: byParity.count)
        return (report, byParity)
    }

    private mutating func recordODATA(_ sequence: SequenceNumber, at now: Int64) {
        guard let highest = highestODATA else {
            firstODATA = sequence
            highestODATA = sequence
            return
        }
        let distance = highest.distance(to: sequence)
        if distance > 1 {
            gaps += 1
            gapSequences += Int(distance) - 1
            if UInt32(distance - 1) <= TraceAnalyzer.maximumTrackedGap {
                var missing = highest &+ 1
                while missing != sequence {
                    var loss = losses[missing] ?? Loss()
                    if loss.gapSeen == nil { loss.gapSeen = now }
                    losses[missing] = loss
                    missing = missing &+ 1
                }
            }
            highestODATA = sequence
        } else if distance == 1 {
            highestODATA = sequence
        } else if distance < 0, var loss = losses[sequence] {
            // A late (reordered) ODATA fills the gap without a repair.
            loss.repairedByODATA = true
            losses[sequence] = loss
        }
        if let first = firstODATA, sequence.precedes(first) { firstODATA = sequence }
    }

    private func forEachRequested(
        _ sequence: SequenceNumber,
        _ options: [Option],
        _ body: (SequenceNumber) -> Void
    ) {
        body(sequence)
        for option in options {
            if case .nakList(let list) = option.value { list.forEach(body) }
        }
    }

    func report(tsi: TSI) -> TraceAnalyzer.SessionReport {
        var traffic: [(type: PacketType, packets: Int, bytes: Int)] = []
        for type in PacketType.allCases where packets[Int(type.rawValue & 0x0F)] > 0 {
            traffic.append((type, packets[Int(type.rawValue & 0x0F)], bytes[Int(type.rawValue & 0x0F)]))
        }
        var gapToNAK: [Int64] = []
        var nakToNCF: [Int64] = []
        var nakToRDATA: [Int64] = []
        var detectToRDATA: [Int64] = []
        var naksPer = TraceAnalyzer.Distribution(count: 0, total: 0, maximum: 0)
        var rdataPer = TraceAnalyzer.Distribution(count: 0, total: 0, maximum: 0)
        var neverRepaired: [SequenceNumber] = []
        var lost: [SequenceNumber] = []
        let parity = parityReport()
        for (sequence, loss) in losses {
            // A sequence only ever seen in RDATA (another receiver's loss) is not one of ours.
            guard let detected = loss.detected, !neverSent(sequence, loss) else { continue }
            lost.append(sequence)
            naksPer.count += 1
            naksPer.total += loss.naks
            naksPer.maximum = max(naksPer.maximum, loss.naks)
            rdataPer.count += 1
            rdataPer.total += loss.rdata
            rdataPer.maximum = max(rdataPer.maximum, loss.rdata)
            if let gap = loss.gapSeen, let nak = loss.firstNAK, nak >= gap { gapToNAK.append(nak &- gap) }
            if let nak = loss.firstNAK {
                if let ncf = loss.firstNCF, ncf >= nak { nakToNCF.append(ncf &- nak) }
                if let repair = loss.firstRDATA, repair >= nak { nakToRDATA.append(repair &- nak) }
            }
            if let repair = loss.firstRDATAAfterDetection, repair >= detected {
                detectToRDATA.append(repair &- detected)
            }
            if loss.rdata == 0 && !loss.repairedByODATA && parity?.1.contains(sequence) != true {
                neverRepaired.append(sequence)
            }
        }
        let origin = firstODATA ?? SequenceNumber(0)
        neverRepaired.sort { origin.distance(to: $0) < origin.distance(to: $1) }
        lost.sort { origin.distance(to: $0) < origin.distance(to: $1) }
        return TraceAnalyzer.SessionReport(
            tsi: tsi,
            firstTime: firstTime,
            lastTime: lastTime,
            traffic: traffic,
            odataRange: firstODATA.flatMap { first in highestODATA.map { (first, $0) } },
            lastSPMLead: lastSPMLead,
            gaps: gaps,
            gapSequences: gapSequences,
            naks: naks,
            nakEntries: nakEntries,
            ncfs: ncfs,
            ncfEntries: ncfEntries,
            rdata: rdata,
            lostSequences: lost.count,
            lost: lost,
            naksPerLostSequence: naksPer,
            rdataPerLostSequence: rdataPer,
            gapToNAK: TraceAnalyzer.LatencySummary(gapToNAK),
            nakToNCF: TraceAnalyzer.LatencySummary(nakToNCF),
            nakToRDATA: TraceAnalyzer.LatencySummary(nakToRDATA),
            detectToRDATA: TraceAnalyzer.LatencySummary(detectToRDATA),
            neverRepaired: neverRepaired,
            congestionReports: congestionReports,
            worstReceiver: worstReceiver,
            parity: parity?.0
        )
    }
}
