/// One ordering frame: the payload of one PGM APDU of a member's session (Docs/ordering.md#framing).
///
/// `magic(0xB7) version(1) type(1) view(u32) body`. Decoding never traps and never reserves memory for a count
/// the frame cannot hold (``ByteReader/readCount(minimumItemSize:)``); anything else, including trailing bytes,
/// is a ``FrameError`` and the frame is dropped and counted.
public struct Frame: Equatable, Sendable {
    public static let magic: UInt8 = 0xB7
    public static let version: UInt8 = 1

    /// The sender's current view number (0 before the group formed).
    public var view: UInt32
    public var body: Body

    public init(view: UInt32, body: Body) {
        self.view = view
        self.body = body
    }

    public enum Body: Equatable, Sendable {
        case hello(Hello)
        case data(DataMessage)
        /// A ``TotalOrderStrategy``'s own encoding, opaque here.
        case control([UInt8])
        case ack(Acknowledgement)
        case flush(Flush)
        case relay(Relay)
        /// The member sent its last message (`lastSequence`) and stays until the group ends.
        case done(lastSequence: UInt64)
        /// The member leaves before the group ends: the others remove it with a view change.
        case leave(lastSequence: UInt64)

        var type: UInt8 {
            switch self {
            case .hello: 1
            case .data: 2
            case .control: 3
            case .ack: 4
            case .flush: 5
            case .relay: 6
            case .done: 7
            case .leave: 8
            }
        }
    }

    /// HELLO: who I am and whom I heard, until the group formed (Docs/ordering.md#formation).
    public struct Hello: Equatable, Sendable {
        public var name: String
        public var mode: OrderingMode
        public var safe: Bool
        /// `--members N`, 0 when not given.
        public var expected: UInt64
        /// The members I heard, me included, sorted.
        public var known: [MemberID]

        public init(name: String, mode: OrderingMode, safe: Bool, expected: UInt64, known: [MemberID]) {
            self.name = name
            self.mode = mode
            self.safe = safe
            self.expected = expected
            self.known = known
        }
    }

    /// DATA: one application message. `dependencies` (causal mode only) are the sender's delivered counts per
    /// sender when it sent, non-zero entries only, its own entry `sequence - 1`.
    public struct DataMessage: Equatable, Sendable {
        public var sequence: UInt64
        public var dependencies: [MemberID: UInt64]
        public var payload: [UInt8]

        public init(sequence: UInt64, dependencies: [MemberID: UInt64] = [:], payload: [UInt8]) {
            self.sequence = sequence
            self.dependencies = dependencies
            self.payload = payload
        }
    }

    /// ACK: cumulative, so one per interval covers any number of messages (no implosion).
    public struct Acknowledgement: Equatable, Sendable {
        /// Per sender, the highest sequence held (PGM delivers each sender in order, so this is contiguous).
        public var receivedThrough: [MemberID: UInt64]
        /// How many messages I delivered (in total modes the global sequence I delivered through).
        public var deliveredCount: UInt64

        public init(receivedThrough: [MemberID: UInt64], deliveredCount: UInt64) {
            self.receivedThrough = receivedThrough
            self.deliveredCount = deliveredCount
        }
    }

    /// FLUSH: my proposal for the next view and what I delivered (Docs/ordering.md#view-changes).
    public struct Flush: Equatable, Sendable {
        public var newView: UInt32
        /// Sorted.
        public var removed: [MemberID]
        public var deliveredCount: UInt64
        /// Per sender, how many of its messages I delivered (its highest delivered sequence).
        public var delivered: [MemberID: UInt64]

        public init(newView: UInt32, removed: [MemberID], deliveredCount: UInt64, delivered: [MemberID: UInt64]) {
            self.newView = newView
            self.removed = removed
            self.deliveredCount = deliveredCount
            self.delivered = delivered
        }
    }

    /// RELAY: delivered messages that some survivor lacks, with payloads; a relay may take several frames.
    public struct Relay: Equatable, Sendable {
        public var newView: UInt32
        public var entries: [Entry]

        public init(newView: UInt32, entries: [Entry]) {
            self.newView = newView
            self.entries = entries
        }

        public struct Entry: Equatable, Sendable {
            public var id: MessageID
            /// The global sequence in total modes, 0 in fifo and causal.
            public var global: UInt64
            public var dependencies: [MemberID: UInt64]
            public var payload: [UInt8]

            public init(id: MessageID, global: UInt64, dependencies: [MemberID: UInt64], payload: [UInt8]) {
                self.id = id
                self.global = global
                self.dependencies = dependencies
                self.payload = payload
            }
        }
    }
}

extension OrderingMode {
    /// The HELLO code of the mode (Docs/ordering.md#framing).
    public var code: UInt8 {
        switch self {
        case .fifo: 0
        case .causal: 1
        case .totalSequencer: 2
        case .totalISIS: 3
        case .totalToken: 4
        }
    }

    public init?(code: UInt8) {
        switch code {
        case 0: self = .fifo
        case 1: self = .causal
        case 2: self = .totalSequencer
        case 3: self = .totalISIS
        case 4: self = .totalToken
        default: return nil
        }
    }
}

// MARK: - Encoding

extension Frame {
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Frame.magic)
        writer.write(Frame.version)
        writer.write(body.type)
        writer.write(view)
        switch body {
        case .hello(let hello):
            writer.writeBytes(Array(hello.name.utf8))
            writer.write(hello.mode.code)
            writer.write(UInt8(hello.safe ? 1 : 0))
            writer.writeVarint(hello.expected)
            writer.writeVarint(UInt64(hello.known.count))
            for member in hello.known { writer.write(member) }
        case .data(let data):
            writer.writeVarint(data.sequence)
            writer.writeCounts(data.dependencies)
            writer.writeBytes(data.payload)
        case .control(let bytes):
            writer.writeBytes(bytes)
        case .ack(let ack):
            writer.writeCounts(ack.receivedThrough)
            writer.writeVarint(ack.deliveredCount)
        case .flush(let flush):
            writer.write(flush.newView)
            writer.writeVarint(UInt64(flush.removed.count))
            for member in flush.removed { writer.write(member) }
            writer.writeVarint(flush.deliveredCount)
            writer.writeCounts(flush.delivered)
        case .relay(let relay):
            writer.write(relay.newView)
            writer.writeVarint(UInt64(relay.entries.count))
            for entry in relay.entries {
                writer.write(entry.id)
                writer.writeVarint(entry.global)
                writer.writeCounts(entry.dependencies)
                writer.writeBytes(entry.payload)
            }
        case .done(let last), .leave(let last):
            writer.writeVarint(last)
        }
        return writer.bytes
    }
}

extension ByteWriter {
    /// `varint count × (member, varint)`, sorted by member so that equal maps encode to equal bytes.
    mutating func writeCounts(_ counts: [MemberID: UInt64]) {
        writeVarint(UInt64(counts.count))
        for (member, count) in counts.sorted(by: { $0.key < $1.key }) {
            write(member)
            writeVarint(count)
        }
    }
}

// MARK: - Decoding

extension Frame {
    /// Reads one frame; every short, unknown or inconsistent field is a ``FrameError``.
    public init(decoding bytes: ArraySlice<UInt8>) throws(FrameError) {
        var reader = ByteReader(bytes)
        guard try reader.read() == Frame.magic, try reader.read() == Frame.version else { throw .unknownFormat }
        let type = try reader.read()
        view = try reader.read(UInt32.self)
        switch type {
        case 1:
            guard let name = String(validating: try reader.readBytes(), as: UTF8.self) else {
                throw .malformed("name is not UTF-8")
            }
            let code = try reader.read()
            guard let mode = OrderingMode(code: code) else { throw .malformed("unknown mode \(code)") }
            let safe = try reader.read()
            guard safe <= 1 else { throw .malformed("safe flag \(safe)") }
            let expected = try reader.readVarint()
            body = .hello(
                Hello(name: name, mode: mode, safe: safe == 1, expected: expected, known: try reader.readMembers()))
        case 2:
            let sequence = try reader.readVarint()
            guard sequence > 0 else { throw .malformed("sequence 0") }
            let dependencies = try reader.readCounts()
            body = .data(
                DataMessage(sequence: sequence, dependencies: dependencies, payload: Array(try reader.readBytes())))
        case 3:
            body = .control(Array(try reader.readBytes()))
        case 4:
            let received = try reader.readCounts()
            body = .ack(Acknowledgement(receivedThrough: received, deliveredCount: try reader.readVarint()))
        case 5:
            let newView = try reader.read(UInt32.self)
            let removed = try reader.readMembers()
            let count = try reader.readVarint()
            body = .flush(
                Flush(newView: newView, removed: removed, deliveredCount: count, delivered: try reader.readCounts()))
        case 6:
            let newView = try reader.read(UInt32.self)
            // An entry takes at least 12 bytes: member (8), sequence, global, dependency count, payload length.
            let count = try reader.readCount(minimumItemSize: 12)
            var entries: [Relay.Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let id = try reader.readMessageID()
                guard id.sequence > 0 else { throw .malformed("sequence 0") }
                let global = try reader.readVarint()
                let dependencies = try reader.readCounts()
                entries.append(
                    Relay.Entry(
                        id: id, global: global, dependencies: dependencies, payload: Array(try reader.readBytes())))
            }
            body = .relay(Relay(newView: newView, entries: entries))
        case 7:
            body = .done(lastSequence: try reader.readVarint())
        case 8:
            body = .leave(lastSequence: try reader.readVarint())
        default:
            throw .unknownType(type)
        }
        guard reader.isAtEnd else { throw .malformed("\(reader.remaining) bytes after the frame") }
    }
}

extension ByteReader {
    /// `varint count × member`, sorted and without repeats (a set, written in one canonical way).
    mutating func readMembers() throws(FrameError) -> [MemberID] {
        let count = try readCount(minimumItemSize: 8)
        var members: [MemberID] = []
        members.reserveCapacity(count)
        for _ in 0..<count {
            let member = try readMember()
            guard members.last.map({ $0 < member }) ?? true else { throw .malformed("members not sorted") }
            members.append(member)
        }
        return members
    }

    /// `varint count × (member, varint)`, sorted by member without repeats (as ``ByteWriter`` writes it).
    mutating func readCounts() throws(FrameError) -> [MemberID: UInt64] {
        let count = try readCount(minimumItemSize: 9)
        var counts: [MemberID: UInt64] = [:]
        counts.reserveCapacity(count)
        var previous: MemberID?
        for _ in 0..<count {
            let member = try readMember()
            guard previous.map({ $0 < member }) ?? true else { throw .malformed("members not sorted") }
            previous = member
            counts[member] = try readVarint()
        }
        return counts
    }
}
