import PGMWire

/// JSON Lines: one object per frame, every field, snake_case keys, the schema in `Docs/pgm-dump-json.md`
/// (keep the two in step: the schema is a promise to scripts). Written by hand: no Foundation in the hot path.
public struct JSONFormatter: Sendable {
    public init() {}

    /// With `parity` (the capture's FEC parameters so far), parity packets get a `parity` object: TG_SQN and parity
    /// index or requested counts.
    public func format(_ dissection: Dissection, parity: ParityContext? = nil, into out: inout OutputBuffer) {
        out.jsonOpen()
        switch dissection.layers {
        case .pgm(_, _, _):
            switch dissection.pgm?.result {
            case .success(let packet)?: out.jsonString("type", packet.body.type.jsonName)
            case .failure?, nil: out.jsonString("type", "malformed")
            }
        case .fragment: out.jsonString("type", "fragment")
        case .malformed: out.jsonString("type", "malformed")
        case .other: out.jsonString("type", "other")
        }
        out.jsonInt("frame", dissection.number)
        out.jsonKey("time")
        out.append(decimal: dissection.timestamp.seconds)
        out.append(byte: UInt8(ascii: "."))
        out.append(decimal: Int(dissection.timestamp.nanoseconds), width: 9)
        out.jsonInt("captured_length", dissection.capturedLength)
        out.jsonInt("original_length", dissection.originalLength)
        if let segment = dissection.segment {
            out.jsonKey("gso_segment")
            out.jsonOpen()
            out.jsonInt("index", segment.index)
            out.jsonInt("count", segment.count)
            out.jsonClose()
        }
        switch dissection.layers {
        case .pgm(let network, let udp, _):
            appendNetwork(network, udp: udp, into: &out)
            if let pgm = dissection.pgm { appendPGM(pgm, parity: parity, into: &out) }
        case .fragment(let network, let fragment):
            appendNetwork(network, udp: nil, into: &out)
            out.jsonKey("fragment")
            out.jsonOpen()
            out.jsonInt("identification", Int(fragment.identification))
            out.jsonInt("offset", fragment.offset)
            out.jsonBool("more_fragments", fragment.moreFragments)
            out.jsonInt("length", fragment.length)
            out.jsonInt("protocol", Int(network.protocolNumber))
            out.jsonClose()
        case .malformed(let network, let error):
            if let network, network.ipVersion != 0 { appendNetwork(network, udp: nil, into: &out) }
            out.jsonString("error", error.description)
        case .other:
            break
        }
        out.jsonClose()
        out.append(byte: 10)
    }

    private func appendNetwork(_ network: NetworkHeader, udp: UDPHeader?, into out: inout OutputBuffer) {
        out.jsonString("link_type", network.linkType.description)
        out.jsonKey("vlan_ids")
        out.append(byte: UInt8(ascii: "["))
        for (index, vlan) in network.vlanIDs.enumerated() {
            if index > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(decimal: vlan)
        }
        out.append(byte: UInt8(ascii: "]"))
        out.jsonKey("ip")
        out.jsonOpen()
        out.jsonInt("version", Int(network.ipVersion))
        out.jsonNLA("source", network.source)
        out.jsonNLA("destination", network.destination)
        out.jsonInt("hop_limit", Int(network.hopLimit))
        out.jsonInt("traffic_class", Int(network.trafficClass))
        out.jsonInt("identification", Int(network.identification))
        out.jsonBool("dont_fragment", network.dontFragment)
        out.jsonBool("router_alert", network.routerAlert)
        out.jsonInt("protocol", Int(network.protocolNumber))
        out.jsonInt("header_length", network.ipHeaderLength)
        out.jsonInt("total_length", network.ipLength)
        out.jsonBool("truncated_by_snapshot", network.truncatedBySnapshot)
        out.jsonClose()
        out.jsonKey("udp")
        if let udp {
            out.jsonOpen()
            out.jsonInt("source_port", Int(udp.sourcePort))
            out.jsonInt("destination_port", Int(udp.destinationPort))
            out.jsonInt("length", udp.length)
            out.jsonBool("heuristic", udp.heuristic)
            out.jsonClose()
        } else {
            out.append("null")
        }
    }

    private func appendPGM(_ pgm: Dissection.PGMLayer, parity: ParityContext?, into out: inout OutputBuffer) {
        out.jsonKey("pgm")
        out.jsonOpen()
        out.jsonInt("length", pgm.length)
        out.jsonKey("checksum")
        switch pgm.checksum {
        case .valid(let value):
            out.append(literal: "{\"status\":\"valid\",\"stored\":")
            out.append(decimal: value)
            out.append("}")
        case .invalid(let stored, let computed):
            out.append("{\"status\":\"invalid\",\"stored\":")
            out.append(decimal: stored)
            out.append(",\"computed\":")
            out.append(decimal: computed)
            out.append("}")
        case .absent:
            out.append("{\"status\":\"absent\",\"stored\":0}")
        }
        if let verdict = pgm.authentication { out.jsonString("authentication", verdict.rawValue) }
        switch pgm.result {
        case .failure(let error):
            out.jsonString("error", error.description)
            if let typeByte = pgm.typeByte { out.jsonInt("type_code", Int(typeByte)) }
        case .success(let packet):
            out.jsonInt("type_code", Int(pgm.typeByte ?? packet.body.type.rawValue))
            out.jsonInt("source_port", Int(packet.sourcePort))
            out.jsonInt("destination_port", Int(packet.destinationPort))
            out.jsonKey("gsi")
            out.append(byte: UInt8(ascii: "\""))
            out.append(gsi: packet.gsi)
            out.append(byte: UInt8(ascii: "\""))
            out.jsonKey("tsi")
            out.append(byte: UInt8(ascii: "\""))
            out.append(tsi: packet.tsi)
            out.append(byte: UInt8(ascii: "\""))
            let flags = pgm.optionsByte ?? 0
            out.jsonKey("flags")
            out.jsonOpen()
            out.jsonInt("raw", Int(flags))
            out.jsonBool("options_present", flags & 0x01 != 0)
            out.jsonBool("network_significant", flags & 0x02 != 0)
            out.jsonBool("variable_length", flags & 0x40 != 0)
            out.jsonBool("parity", flags & 0x80 != 0)
            out.jsonClose()
            out.jsonInt("tsdu_length", packet.payload.count)
            appendBody(packet, into: &out)
            if let description = parity?.describe(packet) { appendParity(description, into: &out) }
            out.jsonKey("options")
            out.append(byte: UInt8(ascii: "["))
            for (index, option) in packet.options.enumerated() {
                if index > 0 { out.append(byte: UInt8(ascii: ",")) }
                appendOption(option, isEnd: index == packet.options.count - 1, into: &out)
            }
            out.append(byte: UInt8(ascii: "]"))
        }
        out.jsonClose()
    }

    private func appendBody(_ packet: Packet, into out: inout OutputBuffer) {
        switch packet.body {
        case .spm(let spm):
            out.jsonInt("sequence", Int(spm.sequence.rawValue))
            out.jsonInt("trail", Int(spm.trail.rawValue))
            out.jsonInt("lead", Int(spm.lead.rawValue))
            out.jsonNLA("path", spm.path)
        case .poll(let poll):
            out.jsonInt("sequence", Int(poll.sequence.rawValue))
            out.jsonInt("round", Int(poll.round))
            out.jsonInt("subtype", Int(poll.subtype))
            out.jsonNLA("path", poll.path)
            out.jsonInt("backoff_interval_us", Int(poll.backoffInterval))
            out.jsonInt("random", Int(poll.random))
            out.jsonInt("mask", Int(poll.mask))
        case .polr(let polr):
            out.jsonInt("sequence", Int(polr.sequence.rawValue))
            out.jsonInt("round", Int(polr.round))
        case .odata(let data), .rdata(let data):
            out.jsonInt("sequence", Int(data.sequence.rawValue))
            out.jsonInt("trail", Int(data.trail.rawValue))
        case .nak(let nak), .nnak(let nak), .ncf(let nak):
            out.jsonInt("sequence", Int(nak.sequence.rawValue))
            out.jsonNLA("source", nak.source)
            out.jsonNLA("group", nak.group)
        case .spmr:
            break
        case .ack(let ack):
            out.jsonInt("received_maximum", Int(ack.receivedMaximum.rawValue))
            out.jsonInt("bitmap", Int(ack.bitmap))
        }
    }

    /// `"parity":{"group_size":k,"tg_sequence":T,"index":I}` for parity data, `{"group_size":k,"tg_sequence":T,
    /// "count":C,"list":[{"tg_sequence":T,"count":C},...]}` for a parity NAK, NCF or NNAK.
    private func appendParity(_ description: ParityDescription, into out: inout OutputBuffer) {
        out.jsonKey("parity")
        out.jsonOpen()
        switch description {
        case .data(let k, let group, let index):
            out.jsonInt("group_size", Int(k))
            out.jsonInt("tg_sequence", Int(group.rawValue))
            out.jsonInt("index", Int(index))
        case .request(let k, let entries):
            out.jsonInt("group_size", Int(k))
            out.jsonInt("tg_sequence", Int(entries[0].group.rawValue))
            out.jsonInt("count", Int(entries[0].count))
            out.jsonKey("list")
            out.append(byte: UInt8(ascii: "["))
            for (position, entry) in entries.dropFirst().enumerated() {
                if position > 0 { out.append(byte: UInt8(ascii: ",")) }
                out.jsonOpen()
                out.jsonInt("tg_sequence", Int(entry.group.rawValue))
                out.jsonInt("count", Int(entry.count))
                out.jsonClose()
            }
            out.append(byte: UInt8(ascii: "]"))
        }
        out.jsonClose()
    }

    private func appendOption(_ option: Option, isEnd: Bool, into out: inout OutputBuffer) {
        let fields = OptionFields(option, isEnd: isEnd)
        out.jsonOpen()
        out.jsonKey("type")
        out.append(jsonString: fields.jsonName)
        out.jsonInt("code", Int(fields.code))
        out.jsonInt("length", fields.length)
        out.jsonBool("end", fields.isEnd)
        out.jsonInt("opx", Int(option.flags.unknownOptionAction))
        out.jsonBool("encoded", option.flags.isEncoded)
        out.jsonBool("encoded_null", option.flags.isEncodedNull)
        for field in fields.fields {
            switch field.value {
            case .unsigned(let value):
                out.jsonKey(dynamic: field.key)
                out.append(decimal: value)
            case .bool(let value):
                out.jsonKey(dynamic: field.key)
                out.append(bool: value)
            case .text(let value):
                out.jsonKey(dynamic: field.key)
                out.append(jsonString: value)
            case .nla(let nla):
                out.jsonKey(dynamic: field.key)
                out.append(quotedNLA: nla)
            case .sequences(let list):
                out.jsonKey(dynamic: field.key)
                out.append(byte: UInt8(ascii: "["))
                for (index, sequence) in list.enumerated() {
                    if index > 0 { out.append(byte: UInt8(ascii: ",")) }
                    out.append(decimal: sequence.rawValue)
                }
                out.append(byte: UInt8(ascii: "]"))
            }
        }
        out.jsonClose()
    }
}

extension OutputBuffer {
    /// JSON member helpers. A comma goes before a key unless the key opens its object, which is known from the
    /// last byte written, so no writer state is needed. Keys are literals (`StaticString`): no `String` per key.
    mutating func jsonOpen() { append(byte: UInt8(ascii: "{")) }
    mutating func jsonClose() { append(byte: UInt8(ascii: "}")) }

    @inline(__always)
    private mutating func jsonComma() {
        if let last, last != UInt8(ascii: "{") { append(byte: UInt8(ascii: ",")) }
    }

    /// One reservation and direct stores: this runs about fifty times per packet.
    mutating func jsonKey(_ name: StaticString) {
        let length = name.utf8CodeUnitCount
        reserve(length + 4)
        var index = count
        if index > 0 && storage[index - 1] != UInt8(ascii: "{") {
            storage[index] = UInt8(ascii: ",")
            index += 1
        }
        storage[index] = UInt8(ascii: "\"")
        UnsafeMutableRawPointer(storage + index + 1).copyMemory(from: name.utf8Start, byteCount: length)
        index += length + 1
        storage[index] = UInt8(ascii: "\"")
        storage[index + 1] = UInt8(ascii: ":")
        count = index + 2
    }

    /// A key computed at run time (option field names, packet type names).
    mutating func jsonKey(dynamic name: String) {
        jsonComma()
        append(byte: UInt8(ascii: "\""))
        append(name)
        append(literal: "\":")
    }

    mutating func jsonInt<T: BinaryInteger>(_ name: StaticString, _ value: T) {
        jsonKey(name)
        append(decimal: value)
    }

    mutating func jsonBool(_ name: StaticString, _ value: Bool) {
        jsonKey(name)
        append(bool: value)
    }

    mutating func jsonString(_ name: StaticString, _ value: String) {
        jsonKey(name)
        append(jsonString: value)
    }

    mutating func jsonNLA(_ name: StaticString, _ value: NLA) {
        jsonKey(name)
        append(quotedNLA: value)
    }

    /// A finite double as JSON, `null` otherwise (JSON has no NaN or infinity).
    mutating func jsonDouble(_ name: StaticString, _ value: Double) {
        jsonKey(name)
        append(value.isFinite ? "\(value)" : "null")
    }

    mutating func append(bool value: Bool) {
        if value { append(literal: "true") } else { append(literal: "false") }
    }

    mutating func append(quotedNLA value: NLA) {
        append(byte: UInt8(ascii: "\""))
        append(nla: value)
        append(byte: UInt8(ascii: "\""))
    }
}

extension PacketType {
    /// The lowercase name used as the JSON `type`.
    var jsonName: String {
        switch self {
        case .spm: "spm"
        case .poll: "poll"
        case .polr: "polr"
        case .odata: "odata"
        case .rdata: "rdata"
        case .nak: "nak"
        case .nnak: "nnak"
        case .ncf: "ncf"
        case .spmr: "spmr"
        case .ack: "ack"
        }
    }
}
