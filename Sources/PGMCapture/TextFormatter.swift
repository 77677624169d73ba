import PGMWire

/// tcpdump-like text: one line per packet (UTC time of day, addresses, ports, TSI, type, sequence numbers, TSDU
/// length, options in brief); `verbose` adds indented lines with every header field and every option field;
/// `hex` appends a hex dump of the IP packet (as tcpdump `-x`/`-X`).
public struct TextFormatter: Sendable {
    public enum HexDump: Sendable {
        case none
        case hex
        case hexAndASCII
    }

    public var verbose: Bool
    public var hexDump: HexDump

    public init(verbose: Bool = false, hexDump: HexDump = .none) {
        self.verbose = verbose
        self.hexDump = hexDump
    }

    /// Appends the dissection's lines; `frame` (the captured bytes) is needed only for the hex dump. With `parity`
    /// (the capture's FEC parameters so far), parity packets also show their TG_SQN and parity index or count.
    public func format(
        _ dissection: Dissection, frame: UnsafeRawBufferPointer? = nil, parity: ParityContext? = nil,
        into out: inout OutputBuffer
    ) {
        appendTime(dissection.timestamp, into: &out)
        switch dissection.layers {
        case .pgm(let network, let udp, _):
            appendAddresses(network, udp: udp, into: &out)
            if let pgm = dissection.pgm {
                appendPGM(pgm, network: network, udp: udp, segment: dissection.segment, parity: parity, into: &out)
            }
        case .fragment(let network, let fragment):
            appendAddresses(network, udp: nil, into: &out)
            out.append("fragment id ")
            out.append(decimal: fragment.identification)
            out.append(" offset ")
            out.append(decimal: fragment.offset)
            if fragment.moreFragments { out.append(" more") }
            out.append(" proto ")
            out.append(network.protocolNumber == Decapsulator.pgmProtocol ? "PGM" : "UDP")
            out.append(" (not decoded), length ")
            out.append(decimal: fragment.length)
            out.append(byte: 10)
            if verbose { appendNetworkDetails(network, udp: nil, into: &out) }
        case .malformed(let network, let error):
            if let network, network.ipVersion != 0 {
                appendAddresses(network, udp: nil, into: &out)
            } else {
                out.append(" ")
            }
            out.append("malformed frame: ")
            out.append(error.description)
            out.append(", length ")
            out.append(decimal: dissection.originalLength)
            out.append(byte: 10)
        case .other:
            out.append(" not PGM, length ")
            out.append(decimal: dissection.originalLength)
            out.append(byte: 10)
        }
        if hexDump != .none, let frame {
            let start: Int
            switch dissection.layers {
            case .pgm(let network, _, _), .fragment(let network, _): start = network.ipOffset
            case .malformed(let network, _): start = network?.ipOffset ?? 0
            case .other: start = 0
            }
            appendHexDump(UnsafeRawBufferPointer(rebasing: frame[min(start, frame.count)...]), into: &out)
        }
    }

    /// `HH:MM:SS.ffffff` in UTC (no time zone lookups: the same capture prints the same everywhere).
    func appendTime(_ time: CaptureTimestamp, into out: inout OutputBuffer) {
        var secondOfDay = time.seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400 }
        out.append(decimal: Int(secondOfDay / 3600), width: 2)
        out.append(byte: UInt8(ascii: ":"))
        out.append(decimal: Int(secondOfDay / 60 % 60), width: 2)
        out.append(byte: UInt8(ascii: ":"))
        out.append(decimal: Int(secondOfDay % 60), width: 2)
        out.append(byte: UInt8(ascii: "."))
        out.append(decimal: Int(time.nanoseconds / 1000), width: 6)
    }

    func appendAddresses(_ network: NetworkHeader, udp: UDPHeader?, into out: inout OutputBuffer) {
        for vlan in network.vlanIDs {
            out.append(" vlan ")
            out.append(decimal: vlan)
        }
        out.append(network.ipVersion == 6 ? " IP6 " : " IP ")
        if network.routerAlert { out.append("[RA] ") }
        out.append(nla: network.source)
        if let udp {
            out.append(byte: UInt8(ascii: "."))
            out.append(decimal: udp.sourcePort)
        }
        out.append(" > ")
        out.append(nla: network.destination)
        if let udp {
            out.append(byte: UInt8(ascii: "."))
            out.append(decimal: udp.destinationPort)
        }
        out.append(": ")
    }

    func appendPGM(
        _ pgm: Dissection.PGMLayer, network: NetworkHeader, udp: UDPHeader?, segment: Dissection.Segment?,
        parity: ParityContext? = nil, into out: inout OutputBuffer
    ) {
        out.append(udp == nil ? "PGM " : "UDP PGM ")
        switch pgm.result {
        case .success(let packet):
            out.append(decimal: packet.sourcePort)
            out.append(" > ")
            out.append(decimal: packet.destinationPort)
            out.append(" tsi ")
            out.append(tsi: packet.tsi)
            out.append(byte: UInt8(ascii: " "))
            appendBody(packet, into: &out)
            if let segment {
                out.append(" (GSO segment ")
                out.append(decimal: segment.index)
                out.append(byte: UInt8(ascii: "/"))
                out.append(decimal: segment.count)
                out.append(byte: UInt8(ascii: ")"))
            }
            if packet.flags.contains(.parity) {
                out.append(" parity")
                if let description = parity?.describe(packet) { appendParity(description, into: &out) }
            }
            if packet.flags.contains(.variableLength) { out.append(" var_pktlen") }
            if !packet.options.isEmpty {
                out.append(" opts [")
                for (index, option) in packet.options.enumerated() {
                    if index > 0 { out.append(", ") }
                    appendBrief(option, into: &out)
                }
                out.append("]")
            }
            appendChecksum(
                pgm.checksum,
                requiresChecksum: packet.body.type == .odata || packet.body.type == .rdata,
                into: &out
            )
            if let verdict = pgm.authentication {
                out.append(" [auth ")
                out.append(verdict.rawValue)
                out.append("]")
            }
            if network.truncatedBySnapshot { out.append(" [snapshot truncated]") }
            out.append(", length ")
            out.append(decimal: pgm.length)
            out.append(byte: 10)
            if verbose {
                appendNetworkDetails(network, udp: udp, into: &out)
                appendPGMDetails(packet, pgm: pgm, into: &out)
            }
        case .failure(let error):
            out.append("malformed: ")
            out.append(error.description)
            appendChecksum(pgm.checksum, requiresChecksum: false, into: &out)
            if network.truncatedBySnapshot { out.append(" [snapshot truncated]") }
            out.append(", length ")
            out.append(decimal: pgm.length)
            out.append(byte: 10)
            if verbose { appendNetworkDetails(network, udp: udp, into: &out) }
        }
    }

    func appendChecksum(_ checksum: ChecksumStatus, requiresChecksum: Bool, into out: inout OutputBuffer) {
        switch checksum {
        case .valid: break
        case .invalid(let stored, let computed):
            out.append(" [bad cksum ")
            out.append(hex: stored)
            out.append(" computed ")
            out.append(hex: computed)
            out.append("]")
        case .absent:
            if requiresChecksum { out.append(" [no cksum]") }
        }
    }

    func appendBody(_ packet: Packet, into out: inout OutputBuffer) {
        switch packet.body {
        case .spm(let spm):
            out.append("SPM sqn ")
            out.append(decimal: spm.sequence.rawValue)
            out.append(" trail ")
            out.append(decimal: spm.trail.rawValue)
            out.append(" lead ")
            out.append(decimal: spm.lead.rawValue)
            out.append(" path ")
            out.append(nla: spm.path)
        case .poll(let poll):
            out.append("POLL sqn ")
            out.append(decimal: poll.sequence.rawValue)
            out.append(" round ")
            out.append(decimal: poll.round)
            out.append(
                poll.subtype == POLL.dlrSubtype
                    ? " dlr" : poll.subtype == POLL.generalSubtype ? " general" : " subtype "
            )
            if poll.subtype > POLL.dlrSubtype { out.append(decimal: poll.subtype) }
            out.append(" path ")
            out.append(nla: poll.path)
            out.append(" bo_ivl ")
            out.append(decimal: poll.backoffInterval)
            out.append("us rand ")
            out.append(hex: poll.random)
            out.append(" mask ")
            out.append(hex: poll.mask)
        case .polr(let polr):
            out.append("POLR sqn ")
            out.append(decimal: polr.sequence.rawValue)
            out.append(" round ")
            out.append(decimal: polr.round)
        case .odata(let data), .rdata(let data):
            out.append(packet.body.type == .odata ? "ODATA sqn " : "RDATA sqn ")
            out.append(decimal: data.sequence.rawValue)
            out.append(" trail ")
            out.append(decimal: data.trail.rawValue)
            out.append(" tsdu ")
            out.append(decimal: data.payload.count)
        case .nak(let nak), .nnak(let nak), .ncf(let nak):
            out.append(packet.body.type.description)
            out.append(" sqn ")
            out.append(decimal: nak.sequence.rawValue)
            out.append(" src ")
            out.append(nla: nak.source)
            out.append(" grp ")
            out.append(nla: nak.group)
        case .spmr:
            out.append("SPMR")
        case .ack(let ack):
            out.append("ACK rx_max ")
            out.append(decimal: ack.receivedMaximum.rawValue)
            out.append(" bitmap ")
            out.append(hex: ack.bitmap)
        }
    }

    /// ` tg T index I` for parity data, ` tg T count C` for a parity NAK, NCF or NNAK, then ` (+ tg T count C, ...)`
    /// for its OPT_NAK_LIST.
    func appendParity(_ description: ParityDescription, into out: inout OutputBuffer) {
        switch description {
        case .data(_, let group, let index):
            out.append(" tg ")
            out.append(decimal: group.rawValue)
            out.append(" index ")
            out.append(decimal: index)
        case .request(_, let entries):
            for (position, entry) in entries.enumerated() {
                out.append(position == 0 ? " tg " : position == 1 ? " (+ tg " : ", tg ")
                out.append(decimal: entry.group.rawValue)
                out.append(" count ")
                out.append(decimal: entry.count)
            }
            if entries.count > 1 { out.append(")") }
        }
    }

    /// The short form of an option for the one-line output.
    func appendBrief(_ option: Option, into out: inout OutputBuffer) {
        switch option.value {
        case .fragment where option.flags.isEncoded:
            // FEC-encoded (RFC 3208 §11.2 "Payload-specific options"): parity bytes, not fields.
            out.append("FRAGMENT encoded")
        case .fragment(let fragment):
            out.append("FRAGMENT first ")
            out.append(decimal: fragment.firstSequence.rawValue)
            out.append(" off ")
            out.append(decimal: fragment.offset)
            out.append(" len ")
            out.append(decimal: fragment.apduLength)
        case .nakList(let list):
            out.append("NAK_LIST")
            for sequence in list {
                out.append(byte: UInt8(ascii: " "))
                out.append(decimal: sequence.rawValue)
            }
        case .join(let minimum):
            out.append("JOIN min ")
            out.append(decimal: minimum.rawValue)
        case .nakBackoffInterval(let microseconds, let pollSequence):
            out.append("NAK_BO_IVL ")
            out.append(decimal: microseconds)
            out.append("us poll_sqn ")
            out.append(decimal: pollSequence.rawValue)
        case .nakBackoffRange(let maximum, let minimum):
            out.append("NAK_BO_RNG max ")
            out.append(decimal: maximum)
            out.append("us min ")
            out.append(decimal: minimum)
            out.append("us")
        case .redirect(let nla):
            out.append("REDIRECT ")
            out.append(nla: nla)
        case .parityParameters(let bits, let groupSize):
            out.append("PARITY_PRM tgs ")
            out.append(decimal: groupSize)
            out.append(" bits ")
            out.append(hex: bits)
            out.append(" (RFC ")
            appendParityModes(proactive: bits & 0x02 != 0, onDemand: bits & 0x01 != 0, into: &out)
            out.append("; OpenPGM ")
            appendParityModes(proactive: bits & 0x01 != 0, onDemand: bits & 0x02 != 0, into: &out)
            out.append(")")
        case .parityGroup(let group):
            out.append("PARITY_GRP ")
            out.append(decimal: group)
        case .currentGroupSize(let size):
            out.append("CURR_TGSIZE ")
            out.append(decimal: size)
        case .neighborUnreachable: out.append("NBR_UNREACH")
        case .pathNLA(let nla):
            out.append("PATH_NLA ")
            out.append(nla: nla)
        case .syn: out.append("SYN")
        case .fin: out.append("FIN")
        case .reset(let ignoresNAKs, let errorCode):
            out.append("RST")
            if ignoresNAKs { out.append(" N") }
            out.append(" code ")
            out.append(decimal: errorCode)
        case .congestionReport(let report):
            out.append("CR ")
            appendKinds(report.kinds, into: &out)
            out.append(" lead ")
            out.append(decimal: report.lead.rawValue)
            out.append(" ne_wl ")
            out.append(decimal: report.networkElementWorstLink)
            out.append(" ne_wp ")
            out.append(decimal: report.networkElementWorstPath)
            out.append(" rx_wp ")
            out.append(decimal: report.receiverWorstPath)
            out.append(" worst ")
            out.append(nla: report.worstReceiver)
        case .congestionReportRequest(let kinds):
            out.append("CRQST ")
            appendKinds(kinds, into: &out)
        case .pgmccData(let timestamp, let acker):
            out.append("PGMCC_DATA tstamp ")
            out.append(decimal: timestamp)
            out.append(" acker ")
            out.append(nla: acker)
        case .pgmccFeedback(let timestamp, let lossRate, let receiver):
            out.append("PGMCC_FEEDBACK tstamp ")
            out.append(decimal: timestamp)
            out.append(" loss ")
            out.append(decimal: lossRate)
            out.append(" rx ")
            out.append(nla: receiver)
        case .authentication(let authentication):
            out.append("AUTH key ")
            out.append(authentication.keyIDText)
        case .unknown(let type, let body):
            out.append(type == Option.TypeCode.invalid ? "INVALID" : "OPT_")
            if type != Option.TypeCode.invalid { out.append(hexByte: type) }
            out.append(" len ")
            out.append(decimal: body.count + 4)
        }
    }

    private func appendParityModes(proactive: Bool, onDemand: Bool, into out: inout OutputBuffer) {
        switch (proactive, onDemand) {
        case (true, true): out.append("proactive+on-demand")
        case (true, false): out.append("proactive")
        case (false, true): out.append("on-demand")
        case (false, false): out.append("none")
        }
    }

    /// L/P/R letters of OPT_CR/OPT_CRQST byte 3 (RFC values: L 0x04, P 0x02, R 0x01).
    private func appendKinds(_ kinds: Option.CongestionReport.Kinds, into out: inout OutputBuffer) {
        if kinds.isEmpty { out.append("-") }
        if kinds.contains(.networkElementWorstLink) { out.append("L") }
        if kinds.contains(.networkElementWorstPath) { out.append("P") }
        if kinds.contains(.receiverWorstPath) { out.append("R") }
    }

    func appendNetworkDetails(_ network: NetworkHeader, udp: UDPHeader?, into out: inout OutputBuffer) {
        out.append("    link ")
        out.append(network.linkType.description)
        out.append(network.ipVersion == 6 ? " ip6 hlim " : " ip ttl ")
        out.append(decimal: network.hopLimit)
        out.append(network.ipVersion == 6 ? " class " : " tos ")
        out.append(hex: network.trafficClass)
        out.append(network.ipVersion == 6 ? " flow " : " id ")
        out.append(decimal: network.identification)
        if network.dontFragment { out.append(" DF") }
        out.append(" header ")
        out.append(decimal: network.ipHeaderLength)
        out.append(" length ")
        out.append(decimal: network.ipLength)
        out.append(" router_alert ")
        out.append(network.routerAlert ? "yes" : "no")
        if let udp {
            out.append(" udp ")
            out.append(decimal: udp.sourcePort)
            out.append(" > ")
            out.append(decimal: udp.destinationPort)
            out.append(" length ")
            out.append(decimal: udp.length)
            if udp.heuristic { out.append(" (port recognized by checksum heuristic)") }
        }
        out.append(byte: 10)
    }

    func appendPGMDetails(_ packet: Packet, pgm: Dissection.PGMLayer, into out: inout OutputBuffer) {
        out.append("    pgm type ")
        out.append(hex: pgm.typeByte ?? 0)
        out.append(" options ")
        out.append(hex: pgm.optionsByte ?? 0)
        out.append(" (")
        let flags = pgm.optionsByte ?? 0
        var separator = false
        for (bit, name): (UInt8, StaticString) in [
            (0x01, "present"), (0x02, "network"), (0x40, "var_pktlen"), (0x80, "parity"),
        ]
        where flags & bit != 0 {
            if separator { out.append(byte: UInt8(ascii: ",")) }
            out.append(literal: name)
            separator = true
        }
        if !separator { out.append(literal: "none") }
        out.append(") checksum ")
        switch pgm.checksum {
        case .valid(let value):
            out.append(hex: value)
            out.append(" valid")
        case .invalid(let stored, let computed):
            out.append(hex: stored)
            out.append(" BAD, computed ")
            out.append(hex: computed)
        case .absent: out.append("none")
        }
        out.append(" gsi ")
        out.append(gsi: packet.gsi)
        out.append(" tsdu ")
        out.append(decimal: packet.payload.count)
        out.append(" data_dport ")
        out.append(decimal: packet.dataDestinationPort)
        out.append(byte: 10)
        for (index, option) in packet.options.enumerated() {
            let fields = OptionFields(option, isEnd: index == packet.options.count - 1)
            out.append("    option ")
            out.append(fields.name)
            out.append(" (")
            out.append(hex: fields.code)
            out.append(") length ")
            out.append(decimal: fields.length)
            if fields.isEnd { out.append(" end") }
            out.append(" opx ")
            out.append(decimal: option.flags.unknownOptionAction)
            if option.flags.isEncoded { out.append(" F") }
            if option.flags.isEncodedNull { out.append(" U") }
            for field in fields.fields {
                out.append(byte: UInt8(ascii: " "))
                out.append(field.key)
                out.append(byte: UInt8(ascii: "="))
                switch field.value {
                case .unsigned(let value): out.append(decimal: value)
                case .bool(let value): out.append(value ? "true" : "false")
                case .text(let value): out.append(value)
                case .nla(let nla): out.append(nla: nla)
                case .sequences(let list):
                    for (position, sequence) in list.enumerated() {
                        if position > 0 { out.append(byte: UInt8(ascii: ",")) }
                        out.append(decimal: sequence.rawValue)
                    }
                }
            }
            out.append(byte: 10)
        }
    }

    /// tcpdump's `-x` layout: offset, then 16 bytes in groups of two; `-X` adds the printable ASCII.
    func appendHexDump(_ bytes: UnsafeRawBufferPointer, into out: inout OutputBuffer) {
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 16, bytes.count)
            out.append("\t0x")
            out.append(hexByte: UInt8(truncatingIfNeeded: offset >> 8))
            out.append(hexByte: UInt8(truncatingIfNeeded: offset))
            out.append(":  ")
            for index in offset..<(offset + 16) {
                if index < end {
                    out.append(hexByte: bytes[index])
                } else if hexDump == .hexAndASCII {
                    out.append("  ")
                }
                if index % 2 == 1 && (index < end - 1 || hexDump == .hexAndASCII && index < offset + 15) {
                    out.append(byte: UInt8(ascii: " "))
                }
            }
            if hexDump == .hexAndASCII {
                out.append("  ")
                for index in offset..<end {
                    let byte = bytes[index]
                    out.append(byte: (0x20..<0x7F).contains(byte) ? byte : UInt8(ascii: "."))
                }
            }
            out.append(byte: 10)
            offset = end
        }
    }
}
