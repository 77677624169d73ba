extension Packet {
    /// Size of the common header (RFC 3208 §8).
    public static let commonHeaderLength = 16

    /// How the decoder treats the checksum field.
    public enum ChecksumPolicy: Sendable {
        /// Reject a wrong checksum, and a missing one (0x0000) on ODATA/RDATA, as a receiver must.
        case verify
        /// Do not look at it (an inspector that reports checksum problems itself, or a fuzzer).
        case ignore
    }

    /// Decodes one datagram's PGM bytes (from the common header to the end of the payload).
    ///
    /// The payload of ODATA/RDATA is a slice of `bytes`: nothing is copied. Options are the only per-packet
    /// allocation, and only when present.
    ///
    /// ```
    ///  0                   1                   2                   3
    ///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |         Source Port           |       Destination Port        |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |      Type     |    Options    |           Checksum            |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                Global Source ID                   ... |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// | ...    Global Source ID       |           TSDU Length         |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// | Type specific data ...
    /// ```
    @inlinable
    public init(decoding bytes: ArraySlice<UInt8>, checksum policy: ChecksumPolicy = .verify)
        throws(PacketDecodingError)
    {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(PacketDecodingError) in try Packet.decodeFields(raw, checksum: policy) }
        }
        let fields = try result.get()
        self = fields.packet(
            payload: fields.payloadRange.map {
                bytes[(bytes.startIndex + $0.lowerBound)..<(bytes.startIndex + $0.upperBound)]
            })
    }

    @inlinable
    public init(decoding bytes: [UInt8], checksum policy: ChecksumPolicy = .verify) throws(PacketDecodingError) {
        try self.init(decoding: bytes[...], checksum: policy)
    }

    /// Everything but the payload bytes, decoded from raw memory.
    @usableFromInline
    struct DecodedFields {
        @usableFromInline var sourcePort: UInt16
        @usableFromInline var destinationPort: UInt16
        @usableFromInline var flags: Flags
        @usableFromInline var gsi: GSI
        @usableFromInline var body: Body
        @usableFromInline var options: [Option]
        @usableFromInline var payloadRange: Range<Int>?

        @inlinable
        func packet(payload: ArraySlice<UInt8>?) -> Packet {
            var body = self.body
            if let payload {
                switch body {
                case .odata(var data):
                    data.payload = payload
                    body = .odata(data)
                case .rdata(var data):
                    data.payload = payload
                    body = .rdata(data)
                case .spm, .poll, .polr, .nak, .nnak, .ncf, .spmr, .ack:
                    break
                }
            }
            return Packet(
                sourcePort: sourcePort, destinationPort: destinationPort, flags: flags, gsi: gsi, body: body,
                options: options)
        }
    }

    @usableFromInline
    static func decodeFields(
        _ raw: UnsafeRawBufferPointer, checksum policy: ChecksumPolicy
    ) throws(PacketDecodingError) -> DecodedFields {
        var reader = ByteReader(raw)
        try reader.require(commonHeaderLength, .commonHeader)
        let sourcePort = try reader.readUInt16(.commonHeader)
        let destinationPort = try reader.readUInt16(.commonHeader)
        let typeByte = try reader.readUInt8(.commonHeader)
        let optionsByte = try reader.readUInt8(.commonHeader)
        let storedChecksum = try reader.readUInt16(.commonHeader)
        let gsiHigh = try reader.readUInt16(.commonHeader)
        let gsiLow = try reader.readUInt32(.commonHeader)
        let tsduLength = Int(try reader.readUInt16(.commonHeader))

        guard typeByte & 0xF0 == 0 else { throw .unsupportedVersion(typeByte: typeByte) }
        guard let type = PacketType(wireValue: typeByte) else { throw .unknownType(typeByte) }
        let carriesData = type == .odata || type == .rdata

        if case .verify = policy {
            if storedChecksum == 0 {
                if carriesData { throw .missingChecksum }
            } else {
                let computed = PGMChecksum.compute(raw)
                guard computed == storedChecksum else { throw .badChecksum(stored: storedChecksum, computed: computed) }
            }
        }

        let body: Body
        switch type {
        case .spm:
            // SPM_SQN | SPM_TRAIL | SPM_LEAD | NLA_AFI | reserved | SPM_PATH (RFC 3208 §8.1)
            try reader.require(16, .typeHeader)
            let sequence = try reader.readSequence(.typeHeader)
            let trail = try reader.readSequence(.typeHeader)
            let lead = try reader.readSequence(.typeHeader)
            body = .spm(SPM(sequence: sequence, trail: trail, lead: lead, path: try reader.readNLA()))
        case .poll:
            // POLL_SQN | POLL_ROUND | POLL_S_TYPE | NLA_AFI | reserved | POLL_PATH | POLL_BO_IVL | POLL_RAND |
            // POLL_MASK (RFC 3208 §14.7.1)
            try reader.require(12, .typeHeader)
            let sequence = try reader.readSequence(.typeHeader)
            let round = try reader.readUInt16(.typeHeader)
            let subtype = try reader.readUInt16(.typeHeader)
            let path = try reader.readNLA()
            try reader.require(12, .typeHeader)
            body = .poll(
                POLL(
                    sequence: sequence, round: round, subtype: subtype, path: path,
                    backoffInterval: try reader.readUInt32(.typeHeader), random: try reader.readUInt32(.typeHeader),
                    mask: try reader.readUInt32(.typeHeader)))
        case .polr:
            // POLR_SQN | POLR_ROUND | reserved (RFC 3208 §14.7.2)
            try reader.require(8, .typeHeader)
            let sequence = try reader.readSequence(.typeHeader)
            let round = try reader.readUInt16(.typeHeader)
            try reader.skip(2, .typeHeader)
            body = .polr(POLR(sequence: sequence, round: round))
        case .odata, .rdata:
            // DATA_SQN | DATA_TRAIL (RFC 3208 §8.2)
            try reader.require(8, .typeHeader)
            let data = DataPacket(
                sequence: try reader.readSequence(.typeHeader), trail: try reader.readSequence(.typeHeader),
                payload: [])
            body = type == .odata ? .odata(data) : .rdata(data)
        case .nak, .nnak, .ncf:
            // NAK_SQN | NLA_AFI | reserved | NAK_SRC | NLA_AFI | reserved | NAK_GRP (RFC 3208 §8.3)
            try reader.require(8, .typeHeader)
            let sequence = try reader.readSequence(.typeHeader)
            let source = try reader.readNLA()
            let group = try reader.readNLA()
            let nak = NAK(sequence: sequence, source: source, group: group)
            body = type == .nak ? .nak(nak) : type == .nnak ? .nnak(nak) : .ncf(nak)
        case .spmr:
            body = .spmr
        case .ack:
            // RX_MAX | bitmap (OpenPGM `struct pgm_ack`)
            try reader.require(8, .typeHeader)
            body = .ack(
                ACK(receivedMaximum: try reader.readSequence(.typeHeader), bitmap: try reader.readUInt32(.typeHeader)))
        }

        var options: [Option] = []
        if optionsByte & Flags.optionsPresentBit != 0 {
            options = try decodeOptions(&reader)
        }

        let available = reader.readableBytes
        let payloadRange: Range<Int>?
        if carriesData {
            guard available == tsduLength else { throw .tsduLengthMismatch(declared: tsduLength, available: available) }
            payloadRange = reader.readerIndex..<reader.endIndex
        } else {
            guard tsduLength == 0 else { throw .unexpectedPayload(length: tsduLength) }
            guard available == 0 else { throw .tsduLengthMismatch(declared: 0, available: available) }
            payloadRange = nil
        }
        return DecodedFields(
            sourcePort: sourcePort, destinationPort: destinationPort, flags: Flags(rawValue: optionsByte),
            gsi: GSI(rawValue: UInt64(gsiHigh) << 32 | UInt64(gsiLow)), body: body, options: options,
            payloadRange: payloadRange)
    }

    /// Walks the option chain: OPT_LENGTH first, then options until one carries the OPT_END bit, which must end
    /// exactly where OPT_LENGTH's total says (RFC 3208 §9.1).
    static func decodeOptions(_ reader: inout ByteReader) throws(PacketDecodingError) -> [Option] {
        let start = reader.readerIndex
        try reader.require(4, .optionHeader)
        let lengthType = try reader.readUInt8(.optionHeader)
        let lengthLength = try reader.readUInt8(.optionHeader)
        guard lengthType == Option.TypeCode.length, lengthLength == 4 else { throw .missingOptionLength }
        let declaredTotal = Int(try reader.readUInt16(.optionHeader))

        var options: [Option] = []
        while true {
            guard reader.readableBytes > 0 else { throw .missingOptionEnd }
            try reader.require(4, .optionHeader)
            let typeByte = try reader.readUInt8(.optionHeader)
            let length = Int(try reader.readUInt8(.optionHeader))
            let byte2 = try reader.readUInt8(.optionHeader)
            let byte3 = try reader.readUInt8(.optionHeader)
            let type = typeByte & 0x7F
            guard length >= 4 else { throw .invalidOptionLength(type: type, length: length) }
            try reader.require(length - 4, .optionBody)
            guard options.count < Option.maximumCount else { throw .tooManyOptions }
            var optionReader = ByteReader(reader.bytes, from: reader.readerIndex, to: reader.readerIndex + length - 4)
            let value = try Option.decodeValue(type: type, byte3: byte3, reader: &optionReader)
            let flags = Option.Flags(byte2: byte2, byte3: byte3 & ~Option.valueBitsMask(forType: type))
            options.append(Option(value, flags: flags))
            reader.readerIndex += length - 4
            if typeByte & Option.TypeCode.endBit != 0 { break }
        }
        let actualTotal = reader.readerIndex - start
        guard actualTotal == declaredTotal else {
            throw .optionTotalMismatch(declared: declaredTotal, actual: actualTotal)
        }
        return options
    }
}

extension Packet {
    /// Bytes of the type-specific fixed header.
    public var typeHeaderLength: Int {
        switch body {
        case .spm(let spm): 16 + spm.path.addressFamily.addressLength
        case .poll(let poll): 24 + poll.path.addressFamily.addressLength
        case .polr, .odata, .rdata, .ack: 8
        case .nak(let nak), .nnak(let nak), .ncf(let nak):
            12 + nak.source.addressFamily.addressLength + nak.group.addressFamily.addressLength
        case .spmr: 0
        }
    }

    /// Bytes of the option area, OPT_LENGTH included; 0 without options.
    public var optionsLength: Int {
        options.isEmpty ? 0 : options.reduce(4) { $0 + $1.encodedLength }
    }

    /// The payload of ODATA/RDATA; empty for other types.
    public var payload: ArraySlice<UInt8> {
        switch body {
        case .odata(let data), .rdata(let data): data.payload
        case .spm, .poll, .polr, .nak, .nnak, .ncf, .spmr, .ack: []
        }
    }

    /// Total bytes on the wire (the TPDU, without IP or UDP headers).
    public var encodedLength: Int {
        Self.commonHeaderLength + typeHeaderLength + optionsLength + payload.count
    }

    /// Appends the packet's bytes to `buffer`, with OPT_LENGTH, the OPT_END bit, the options-present flag and
    /// the checksum filled in. Encoding cannot fail; a packet that breaks a wire limit (more than 16 options,
    /// a NAK list over 62 entries, a payload over 65,535 bytes) is a programming error.
    public func encode(into buffer: inout [UInt8]) {
        encode(into: &buffer, appendingAuthentication: nil, checksum: true)
    }

    /// ``encodedLength`` with OPT_AUTH appended to the options.
    public func encodedLength(appendingAuthentication authentication: Option.Authentication?) -> Int {
        guard authentication != nil else { return encodedLength }
        return encodedLength + Option.Authentication.length + (options.isEmpty ? 4 : 0)
    }

    /// Appends the packet's bytes with OPT_AUTH after its options (as if it were the last of ``options``), for a
    /// driver that signs what an engine built without copying its option list. Without `checksum` the field stays
    /// 0 for the caller to fill once it has written the tag (``PacketAuthenticator/sign(_:)``), with
    /// ``PGMChecksum/fill(_:packetAt:)``. The extra option is a plain struct, not an ``Option``: without one, this
    /// costs what ``encode(into:)`` always did (an optional `Option` took value-witness calls on every packet).
    public func encode(
        into buffer: inout [UInt8], appendingAuthentication authentication: Option.Authentication?, checksum: Bool
    ) {
        let payload = self.payload
        let optionCount = options.count + (authentication == nil ? 0 : 1)
        precondition(payload.count <= Int(UInt16.max), "TSDU larger than 65,535 bytes")
        precondition(optionCount <= Option.maximumCount, "more than \(Option.maximumCount) options")
        let start = buffer.count
        buffer.reserveCapacity(start + encodedLength(appendingAuthentication: authentication))
        buffer.appendUInt16(sourcePort)
        buffer.appendUInt16(destinationPort)
        buffer.append(body.type.rawValue)
        buffer.append(flags.rawValue | (optionCount == 0 ? 0 : Flags.optionsPresentBit))
        buffer.appendUInt16(0)  // checksum, filled in below
        buffer.appendUInt16(UInt16(truncatingIfNeeded: gsi.rawValue >> 32))
        buffer.appendUInt32(UInt32(truncatingIfNeeded: gsi.rawValue))
        buffer.appendUInt16(UInt16(payload.count))

        switch body {
        case .spm(let spm):
            buffer.appendUInt32(spm.sequence.rawValue)
            buffer.appendUInt32(spm.trail.rawValue)
            buffer.appendUInt32(spm.lead.rawValue)
            buffer.appendNLA(spm.path)
        case .poll(let poll):
            buffer.appendUInt32(poll.sequence.rawValue)
            buffer.appendUInt16(poll.round)
            buffer.appendUInt16(poll.subtype)
            buffer.appendNLA(poll.path)
            buffer.appendUInt32(poll.backoffInterval)
            buffer.appendUInt32(poll.random)
            buffer.appendUInt32(poll.mask)
        case .polr(let polr):
            buffer.appendUInt32(polr.sequence.rawValue)
            buffer.appendUInt16(polr.round)
            buffer.appendUInt16(0)
        case .odata(let data), .rdata(let data):
            buffer.appendUInt32(data.sequence.rawValue)
            buffer.appendUInt32(data.trail.rawValue)
        case .nak(let nak), .nnak(let nak), .ncf(let nak):
            buffer.appendUInt32(nak.sequence.rawValue)
            buffer.appendNLA(nak.source)
            buffer.appendNLA(nak.group)
        case .spmr:
            break
        case .ack(let ack):
            buffer.appendUInt32(ack.receivedMaximum.rawValue)
            buffer.appendUInt32(ack.bitmap)
        }

        if optionCount > 0 {
            let total =
                optionsLength + (authentication == nil ? 0 : Option.Authentication.length + (options.isEmpty ? 4 : 0))
            precondition(total <= Int(UInt16.max), "option area larger than 65,535 bytes")
            buffer.append(Option.TypeCode.length)
            buffer.append(4)
            buffer.appendUInt16(UInt16(total))
            for (index, option) in options.enumerated() {
                option.encode(into: &buffer, isLast: index == optionCount - 1)
            }
            if let authentication { Option(.authentication(authentication)).encode(into: &buffer, isLast: true) }
        }
        buffer.append(contentsOf: payload)
        if checksum { PGMChecksum.fill(&buffer, packetAt: start) }
    }

    /// The packet's bytes in a new array.
    public func encoded() -> [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }
}
