import PGMCore
import PGMWire

/// What the scenarios judge receivers against: the APDUs the source was given, the sequence numbers each one
/// occupies, and how a receiver's events map onto them. Shared so that every scenario reads deliveries and
/// loss reports the same way.
struct APDULedger {
    let apdus: [[UInt8]]
    /// The first data sequence number of the session.
    let initialSequence: SequenceNumber
    /// Offsets (from ``initialSequence``) each APDU occupies, by the source's split rule.
    let sequences: [Range<UInt32>]

    init(apdus: [[UInt8]], source configuration: Source.Configuration, initialSequence: SequenceNumber) {
        self.apdus = apdus
        self.initialSequence = initialSequence
        let single = Source.maximumPayload(configuration, fragmented: false)
        let fragment = Source.maximumPayload(configuration, fragmented: true)
        var ranges: [Range<UInt32>] = []
        var offset: UInt32 = 0
        for apdu in apdus {
            let count = apdu.count <= single ? 1 : (apdu.count + fragment - 1) / fragment
            ranges.append(offset..<(offset + UInt32(count)))
            offset += UInt32(count)
        }
        sequences = ranges
    }

    /// Sequence numbers the source uses for all APDUs.
    var totalSequences: UInt32 { sequences.last?.upperBound ?? 0 }

    /// Applies one receiver event to its log; returns true when it closed the session for the first time.
    func record(_ event: Receiver.Event, in log: inout SessionScenario.ReceiverLog) -> Bool {
        switch event {
        case .data(_, let bytes):
            let previous = log.delivered.last { $0 != nil } ?? nil
            let delivered = index(of: bytes, after: previous)
            log.delivered.append(delivered)
            // Delivered, so held: data decoded from FEC parity never crossed the network as its own packet.
            if let delivered, delivered < sequences.count {
                for offset in sequences[delivered] { log.received.insert(offset) }
            }
        case .unrecoverable(_, let first, let last, let reason):
            log.unrecoverable.append((first, last, reason))
            let low = initialSequence.distance(to: first)
            let high = initialSequence.distance(to: last)
            if low < 0 || high < low || UInt32(high) >= totalSequences {
                log.strayReports += 1
            } else {
                for offset in UInt32(low)...UInt32(high) { log.lost.insert(offset) }
            }
        case .sessionClosed:
            defer { log.closed = true }
            return !log.closed
        case .peerDiscovered:
            log.discovered += 1
        case .joined, .peerExpired, .offPathPackets, .pathChanged, .sessionReset:
            break
        }
        return false
    }

    /// The sent APDU equal to `bytes` (see ``SessionScenario/apdu(index:size:)``): APDUs of four bytes or more
    /// name their index; shorter ones carry its low bytes, so they are searched for at that stride after the last
    /// one delivered.
    func index(of slice: ArraySlice<UInt8>, after previous: Int?) -> Int? {
        let bytes = Array(slice)
        if bytes.count >= 4 {
            let index = Int(UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3]))
            return index < apdus.count && apdus[index] == bytes ? index : nil
        }
        var low = 0
        for (position, byte) in bytes.enumerated() { low |= Int(byte) << (8 * position) }
        let stride = 1 << (8 * bytes.count)
        var candidate = bytes.isEmpty ? (previous ?? -1) + 1 : low
        while candidate < apdus.count {
            if candidate > (previous ?? -1) && apdus[candidate] == bytes { return candidate }
            candidate += bytes.isEmpty ? 1 : stride
        }
        return nil
    }
}
