import PGMCore
import PGMWire

extension FuzzHarness {
    /// SessionFuzz: one session (one TSI) as a real source sends it, lossy, interleaved with well-formed hostile
    /// packets claiming the same TSI (RFC 3208 §10, Docs/integrity.md), fed to a receiver on the source's link and to
    /// a network element whose downstream copies feed a second receiver. The input is a script: each byte an
    /// operation, some followed by argument bytes.
    ///
    /// Invariants checked after every operation (a broken one is returned as a description):
    /// - no trap (the engines' preconditions included);
    /// - state bounded: each receiver's window within its sequence limit, its held bytes within its byte limit plus
    ///   one APDU; the element's repair states within its per-session cap and never more than one session;
    /// - no receiver declares more than its window unrecoverable on one packet, nor sends NAKs faster than its rate
    ///   limit allows (burst plus rate × elapsed time);
    /// - what a receiver delivers is the real source's: every APDU is one the source sent, in the order it sent
    ///   them (a subsequence of its stream; a prefix while nothing was reported unrecoverable).
    ///
    /// The first byte's low bit lets hostile packets also come from the source's own address (a forger no key
    /// stops): the delivery invariant is then not checked, the bounds are.
    public struct Session {
        static let tsi = TSI(gsi: GSI(rawValue: 0x0102_0304_0506), sourcePort: 4000)
        static let port: UInt16 = 7500
        static let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))
        static let source = NLA.ipv4(IPv4Address(198, 18, 0, 1))
        static let stranger = NLA.ipv4(IPv4Address(198, 18, 0, 66))
        static let elementUp = NLA.ipv4(IPv4Address(198, 18, 0, 254))
        static let elementDown = NLA.ipv4(IPv4Address(198, 18, 1, 1))
        static let belowReceiver = NLA.ipv4(IPv4Address(198, 18, 1, 10))
        static let windowSequences = 4096
        static let windowBytes = 1 << 20
        static let rateLimit = Receiver.NAKRateLimit(packetsPerSecond: 200, burst: 20)
        static let repairStates = 512

        /// A receiver under test, and what it delivered and declared so far.
        struct Observed {
            var engine: Receiver
            var name: String
            /// The next delivered APDU must be at or after this real sequence's.
            var nextExpected: UInt32
            var lost = false
            var delivered = false
            var naks = 0
        }

        var now = Instant.zero
        var receivers: [Observed]
        var element: NetworkElement
        let forgedSource: Bool
        /// The second bit of the first byte: the source offers FEC (OPT_PARITY_PRM, groups of ``groupSize``), sends
        /// real parity repairs, and hostile packets include parity packets, NCFs and NAKs.
        let parity: Bool
        static let groupSize = 4
        static let parityCode = try! ReedSolomonCode(dataCount: groupSize)
        /// The real source: first sequence, next to send, SPM_SQN, sequences it skipped sending to both (lost).
        let first: UInt32
        var next: UInt32
        var spmSequence: UInt32 = 1
        var missing: [UInt32] = []

        init(firstByte: UInt8, start: UInt32) {
            forgedSource = firstByte & 1 == 1
            parity = firstByte & 2 == 2
            first = start
            next = start
            var configuration = Receiver.Configuration(dataDestinationPort: Self.port, group: Self.group)
            configuration.maximumWindowSequences = Self.windowSequences
            configuration.maximumWindowBytes = Self.windowBytes
            configuration.maximumAPDUSize = 64 << 10
            configuration.nakRateLimit = Self.rateLimit
            configuration.seed = UInt64(firstByte)
            receivers = [
                Observed(engine: Receiver(configuration: configuration), name: "receiver", nextExpected: start),
                Observed(engine: Receiver(configuration: configuration), name: "receiver below", nextExpected: start),
            ]
            var elementConfiguration = NetworkElement.Configuration(
                interfaces: [
                    NetworkElement.Interface(id: InterfaceID(0), address: Self.elementUp),
                    NetworkElement.Interface(id: InterfaceID(1), address: Self.elementDown),
                ], upstream: InterfaceID(0))
            elementConfiguration.maximumRepairStatesPerSession = Self.repairStates
            elementConfiguration.seed = UInt64(firstByte)
            element = NetworkElement(configuration: elementConfiguration)
        }

        /// Runs a whole script; nil when every invariant held.
        public static func run(_ bytes: [UInt8]) -> String? {
            guard bytes.count >= 5 else { return nil }
            let start = UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4])
            var session = Session(firstByte: bytes[0], start: start)
            var reader = Reader(bytes: bytes[5...])
            // The real source speaks first: before any SPM, a session belongs to whoever sent its first data
            // (Docs/integrity.md), which a stranger who is first could be.
            if let failure = session.perform(5, &reader) { return "first SPM: \(failure)" }
            var operations = 0
            while let operation = reader.byte(), operations < 2048 {
                operations += 1
                if let failure = session.perform(operation, &reader) { return "operation \(operations): \(failure)" }
            }
            return nil
        }

        /// The bytes after the header, read as arguments run out gracefully (zeros).
        struct Reader {
            var bytes: ArraySlice<UInt8>
            mutating func byte() -> UInt8? { bytes.popFirst() }
            mutating func argument() -> UInt8 { bytes.popFirst() ?? 0 }
            mutating func word() -> UInt32 {
                (0..<4).reduce(UInt32(0)) { value, _ in value << 8 | UInt32(argument()) }
            }
        }

        /// The real APDU of `sequence`: its number, then a marker, so any delivered byte string names its origin.
        static func payload(_ sequence: UInt32) -> [UInt8] {
            withUnsafeBytes(of: sequence.bigEndian, Array.init) + [0x50, 0x47, 0x4D, 0x21]
        }

        var lead: UInt32 { next &- 1 }
        var trail: UInt32 { next &- first > 1000 ? next &- 1000 : first }

        mutating func perform(_ operation: UInt8, _ reader: inout Reader) -> String? {
            switch operation % 16 {
            case 0, 1, 2, 3:  // the next real ODATA, to everyone
                let packet = data(next, trail: trail, Self.payload(next), repair: false)
                next &+= 1
                return fromSource(packet)
            case 4:  // the next real ODATA, lost on the way
                missing.append(next)
                if missing.count > 256 { missing.removeFirst() }
                next &+= 1
                return nil
            case 5:  // a real SPM
                spmSequence &+= 1
                return fromSource(spm(spmSequence, trail: trail, lead: lead, path: Self.source))
            case 6:  // a real repair of the oldest missing sequence: selective, or parity of its group
                guard !missing.isEmpty else { return nil }
                if parity, reader.argument() & 1 == 1, let packet = realParity(for: missing[0], &reader) {
                    return fromSource(packet)
                }
                let sequence = missing.removeFirst()
                return fromSource(data(sequence, trail: trail, Self.payload(sequence), repair: true))
            case 7:  // time passes
                return advance(by: .milliseconds(Int64(reader.argument()) * 20))
            default:
                let packet = hostile(operation % 16, &reader)
                let sender = forgedSource && reader.argument() & 1 == 1 ? Self.source : Self.stranger
                let below = reader.argument() & 1 == 1
                return deliverHostile(packet, from: sender, below: below)
            }
        }

        /// A well-formed packet for the session, of the kind `kind` (8...15) picks, near the real stream.
        func hostile(_ kind: UInt8, _ reader: inout Reader) -> Packet {
            let offset = reader.word()
            let small = UInt32(reader.argument())
            switch kind {
            case 8:  // no window (§8.1)
                return spm(spmSequence &+ small, trail: 0, lead: 0x8000_0000, path: Self.stranger)
            case 9:  // OPT_NBR_UNREACH claiming the real parent (§15.3.2)
                var packet = spm(spmSequence &+ small % 2, trail: 0, lead: 0x8000_0000, path: Self.source)
                packet.options = [Option(.neighborUnreachable)]
                packet.flags = .required(by: packet.options)
                return packet
            case 10:  // lead and trail anywhere
                return spm(
                    spmSequence &+ small, trail: lead &+ offset, lead: lead &+ offset &+ small, path: Self.stranger)
            case 11:  // garbage ODATA ahead, maybe claiming a large APDU
                let sequence = lead &+ 1 &+ offset % 4096
                var options: [Option] = []
                if small & 1 == 1 {
                    options = [
                        Option(.fragment(.init(firstSequence: SequenceNumber(sequence), offset: 0, apduLength: 60_000)))
                    ]
                }
                return data(sequence, trail: trail, [UInt8](repeating: 0xEE, count: 100), repair: false, options)
            case 12:  // garbage RDATA for a missing sequence or ahead; with FEC, garbage parity too
                let sequence = missing.first.map { small & 1 == 0 ? $0 : lead &+ offset % 64 } ?? lead &+ 1
                guard parity, small & 2 == 2 else { return data(sequence, trail: trail, [0xEE, 0xEE], repair: true) }
                var options: [Option] = []
                if small & 4 == 4 { options.append(Option(.parityGroup(UInt32(reader.argument())))) }
                if small & 8 == 8 { options.append(Option(.currentGroupSize(UInt32(reader.argument() % 8)))) }
                if small & 16 == 16 {
                    options.append(
                        Option(
                            .fragment(.init(firstSequence: SequenceNumber(offset), offset: offset, apduLength: offset)),
                            flags: Option.Flags(byte2: 0x04, byte3: reader.argument())))
                }
                var packet = data(
                    sequence, trail: trail, [UInt8](repeating: reader.argument(), count: Int(reader.argument() % 12)),
                    repair: small & 32 == 0, options)
                packet.flags.insert(.parity)
                if small & 64 == 64 { packet.flags.insert(.variableLength) }
                return packet
            case 13:  // NCFs for what is about to come (with FEC, parity NCFs of any count)
                let list = (1...62).map { SequenceNumber(lead &+ offset % 8192 &+ $0) }
                let body = NAK(sequence: SequenceNumber(lead &+ offset % 8192), source: Self.source, group: Self.group)
                let options = [Option(.nakList(list))]
                var flags = Packet.Flags.required(by: options)
                if parity && small & 1 == 1 { flags.insert(.parity) }
                return Packet(
                    tsi: Self.tsi, dataDestinationPort: Self.port, flags: flags, body: .ncf(body), options: options)
            case 14:  // a general POLL
                let poll = POLL(
                    sequence: SequenceNumber(offset), round: 0, subtype: POLL.generalSubtype, path: Self.stranger,
                    backoffInterval: 1000, random: 0, mask: 0)
                return Packet(tsi: Self.tsi, dataDestinationPort: Self.port, body: .poll(poll))
            default:  // an SPM that looks like the source's
                return spm(spmSequence &+ 1 &+ small, trail: trail, lead: lead &+ small, path: Self.source)
            }
        }

        func spm(_ sequence: UInt32, trail: UInt32, lead: UInt32, path: NLA) -> Packet {
            let options = parity ? [Option(.parityParameters(modeBits: 0x03, groupSize: UInt32(Self.groupSize)))] : []
            return Packet(
                tsi: Self.tsi, dataDestinationPort: Self.port, flags: .required(by: options),
                body: .spm(
                    SPM(
                        sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), lead: SequenceNumber(lead),
                        path: path)),
                options: options)
        }

        /// A real on-demand parity packet of the group holding `sequence`, once the whole group was sent.
        func realParity(for sequence: UInt32, _ reader: inout Reader) -> Packet? {
            let groups = TransmissionGroups(size: Self.groupSize)!
            let group = groups.group(of: SequenceNumber(sequence)).rawValue
            guard group &+ UInt32(Self.groupSize) &- first <= next &- first, group &- first < next &- first else {
                return nil
            }
            let index = Int(reader.argument() % 16)
            let payloads = (0..<UInt32(Self.groupSize)).map { Self.payload(group &+ $0) }
            guard let bytes = try? Self.parityCode.parity(index: index, of: payloads, length: 8) else { return nil }
            let numbering = groups.parityNumbering(group: SequenceNumber(group), index: index)
            let options = numbering.parityGroup.map { [Option(.parityGroup($0))] } ?? []
            var packet = data(numbering.sequence.rawValue, trail: trail, bytes, repair: true, options)
            packet.flags.insert(.parity)
            return packet
        }

        func data(
            _ sequence: UInt32, trail: UInt32, _ payload: [UInt8], repair: Bool, _ options: [Option] = []
        ) -> Packet {
            let body = DataPacket(
                sequence: SequenceNumber(sequence), trail: SequenceNumber(trail), payload: payload[...])
            return Packet(
                tsi: Self.tsi, dataDestinationPort: Self.port, flags: .required(by: options),
                body: repair ? .rdata(body) : .odata(body), options: options)
        }

        // MARK: Delivery and checks

        /// The source's packet on its link: to the first receiver and to the element's upstream interface.
        mutating func fromSource(_ packet: Packet) -> String? {
            if let failure = toReceiver(0, packet, from: Self.source) { return failure }
            return toElement(packet, Arrival(source: Self.source, destination: Self.group, interface: InterfaceID(0)))
        }

        /// A hostile packet on the source's link, or below the element (where the second receiver hears it too).
        mutating func deliverHostile(_ packet: Packet, from sender: NLA, below: Bool) -> String? {
            if below {
                if let failure = toReceiver(1, packet, from: sender) { return failure }
                return toElement(packet, Arrival(source: sender, destination: Self.group, interface: InterfaceID(1)))
            }
            if let failure = toReceiver(0, packet, from: sender) { return failure }
            return toElement(packet, Arrival(source: sender, destination: Self.group, interface: InterfaceID(0)))
        }

        mutating func toReceiver(_ index: Int, _ packet: Packet, from sender: NLA) -> String? {
            receivers[index].engine.receive(packet, arrival: Arrival(source: sender, destination: Self.group), at: now)
            return drainReceiver(index)
        }

        mutating func toElement(_ packet: Packet, _ arrival: Arrival) -> String? {
            element.receive(packet, arrival: arrival, at: now)
            return drainElement()
        }

        /// The element's downstream copies go to the second receiver (UDP encapsulation: from the element's address).
        mutating func drainElement() -> String? {
            var downstream: [Packet] = []
            while let transmit = element.pollTransmit(at: now) {
                if transmit.interface == InterfaceID(1) { downstream.append(transmit.packet) }
            }
            while element.pollEvent() != nil {}
            if element.sessionCount > 1 { return "the element holds \(element.sessionCount) sessions for one TSI" }
            if element.repairStateCount > Self.repairStates {
                return "the element holds \(element.repairStateCount) repair states"
            }
            for packet in downstream {
                if let failure = toReceiver(1, packet, from: Self.elementDown) { return failure }
            }
            return nil
        }

        /// Reads a receiver's output and checks it; its NAKs to the element's address go to the element.
        mutating func drainReceiver(_ index: Int) -> String? {
            var toElement: [Packet] = []
            while let transmit = receivers[index].engine.pollTransmit(at: now) {
                guard transmit.packet.body.type == .nak else { continue }
                receivers[index].naks += 1
                if index == 1, transmit.destination == .unicast(Self.elementDown) { toElement.append(transmit.packet) }
            }
            var declared = 0
            while let event = receivers[index].engine.pollEvent() {
                switch event {
                case .data(_, let bytes):
                    if let failure = checkDelivery(index, Array(bytes)) { return failure }
                case .unrecoverable(_, let first, let last, _):
                    receivers[index].lost = true
                    declared += Int(first.distance(to: last)) + 1
                default:
                    break
                }
            }
            let name = receivers[index].name
            if declared > Self.windowSequences { return "\(name) declared \(declared) unrecoverable at once" }
            let allowed = Self.rateLimit.burst + Int(now.seconds * Double(Self.rateLimit.packetsPerSecond)) + 1
            if receivers[index].naks > allowed { return "\(name) sent \(receivers[index].naks) NAKs by \(now)" }
            if let state = receivers[index].engine.state(of: Self.tsi) {
                if state.windowSequences > Self.windowSequences {
                    return "\(name) tracks \(state.windowSequences) sequences"
                }
                if state.heldBytes > Self.windowBytes + (64 << 10) { return "\(name) holds \(state.heldBytes) bytes" }
            }
            for packet in toElement {
                if let failure = self.toElement(
                    packet,
                    Arrival(source: Self.belowReceiver, destination: Self.elementDown, interface: InterfaceID(1)))
                {
                    return failure
                }
            }
            return nil
        }

        /// A delivered APDU must be a real one, after the last one delivered (a prefix of the stream from where the
        /// receiver joined while nothing was reported lost).
        mutating func checkDelivery(_ index: Int, _ bytes: [UInt8]) -> String? {
            guard !forgedSource else { return nil }
            let name = receivers[index].name
            guard bytes.count == 8, Array(bytes[4...]) == [0x50, 0x47, 0x4D, 0x21] else {
                return "\(name) delivered \(bytes.count) bytes the source never sent: \(bytes.prefix(16))"
            }
            let sequence = bytes[..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let expected = receivers[index].nextExpected
            let distance = Int32(bitPattern: sequence &- expected)
            guard distance >= 0, sequence &- first < next &- first else {
                return "\(name) delivered APDU \(sequence), expected \(expected) or later"
            }
            if distance > 0 && !receivers[index].lost && receivers[index].delivered {
                return "\(name) skipped from \(expected) to \(sequence) without reporting a loss"
            }
            receivers[index].nextExpected = sequence &+ 1
            receivers[index].delivered = true
            return nil
        }

        /// Runs every engine's timers up to `duration` from now, in deadline order.
        mutating func advance(by duration: Duration) -> String? {
            let end = now + duration
            var steps = 0
            while steps < 10_000 {
                steps += 1
                let deadlines = receivers.compactMap(\.engine.nextDeadline) + [element.nextDeadline].compactMap { $0 }
                guard let deadline = deadlines.min(), deadline <= end else { break }
                now = max(now, deadline)
                for index in receivers.indices where receivers[index].engine.nextDeadline.map({ $0 <= now }) ?? false {
                    receivers[index].engine.handleTimeout(at: now)
                    if let failure = drainReceiver(index) { return failure }
                }
                if element.nextDeadline.map({ $0 <= now }) ?? false {
                    element.handleTimeout(at: now)
                    if let failure = drainElement() { return failure }
                }
            }
            now = max(now, end)
            return nil
        }
    }
}
