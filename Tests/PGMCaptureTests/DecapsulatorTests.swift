import PGMCapture
import PGMWire
import Testing

/// Frames built in memory for every link type, IP variant and encapsulation the decapsulator handles.
@Suite("Decapsulation")
struct DecapsulatorTests {
    static let tsi = TSI(gsi: GSI((1, 2, 3, 4, 5, 6)), sourcePort: 4000)
    static let source = IPv4Address(198, 18, 0, 1)
    static let group = IPv4Address(239, 192, 0, 1)

    static let odata: [UInt8] = Packet(
        tsi: tsi,
        dataDestinationPort: 7500,
        body: .odata(DataPacket(sequence: SequenceNumber(42), trail: SequenceNumber(7), payload: [1, 2, 3][...]))
    ).encoded()

    static func ipv4(udp: (UInt16, UInt16)? = nil, routerAlert: Bool = false, pgm: [UInt8] = odata) -> [UInt8] {
        IPFrameBuilder.ipv4(pgm: pgm, source: source, destination: group, routerAlert: routerAlert, udpPorts: udp)
    }

    /// An IPv6 packet, optionally with a hop-by-hop header carrying Router Alert (RFC 2711) and a destination
    /// options header before the payload.
    static func ipv6(nextHeader: UInt8 = 113, payload: [UInt8] = odata, hopByHopRouterAlert: Bool = false) -> [UInt8] {
        var extensions: [UInt8] = []
        var first = nextHeader
        if hopByHopRouterAlert {
            // hop-by-hop: next = destination options (60); length 0 (8 bytes); RA option 05 02 0000; PadN 01 00
            extensions += [60, 0, 5, 2, 0, 0, 1, 0]
            // destination options: next = payload; length 0; PadN 01 04 00000000
            extensions += [nextHeader, 0, 1, 4, 0, 0, 0, 0]
            first = 0
        }
        let payloadLength = extensions.count + payload.count
        var packet: [UInt8] = [0x60, 0, 0, 0, UInt8(payloadLength >> 8), UInt8(payloadLength & 0xFF), first, 64]
        packet += [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1]
        packet += [0xff, 0x0e] + [UInt8](repeating: 0, count: 13) + [0x42]
        return packet + extensions + payload
    }

    static func ethernet(_ ip: [UInt8], etherType: UInt16 = 0x0800, vlans: [UInt16] = []) -> [UInt8] {
        var frame: [UInt8] = [1, 0, 0x5e, 0x40, 0, 1, 2, 0, 0, 0, 0, 2]
        for vlan in vlans { frame += [0x81, 0x00, UInt8(vlan >> 8), UInt8(vlan & 0xFF)] }
        return frame + [UInt8(etherType >> 8), UInt8(etherType & 0xFF)] + ip
    }

    static func expectODATA(
        _ result: Decapsulated,
        in frame: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard case .pgm(_, _, let range) = result else {
            Issue.record("not PGM: \(result)", sourceLocation: sourceLocation)
            return
        }
        #expect(Array(frame[range]) == odata, sourceLocation: sourceLocation)
        let packet = try? Packet(decoding: frame[range])
        #expect(packet?.body.type == .odata, sourceLocation: sourceLocation)
    }

    @Test func ethernetWithAndWithoutVLANTags() {
        let plain = Self.ethernet(Self.ipv4())
        Self.expectODATA(Decapsulator().decapsulate(plain, linkType: .ethernet), in: plain)
        let tagged = Self.ethernet(Self.ipv4(), vlans: [100, 4094])
        let result = Decapsulator().decapsulate(tagged, linkType: .ethernet)
        Self.expectODATA(result, in: tagged)
        guard case .pgm(let network, nil, _) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(network.vlanIDs == [100, 4094])
        #expect(network.source == .ipv4(Self.source))
        #expect(network.destination == .ipv4(Self.group))
        #expect(network.ipOffset == 22)
    }

    @Test func linuxCookedV1AndV2() {
        let ip = Self.ipv4()
        let v1: [UInt8] = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00] + ip
        Self.expectODATA(Decapsulator().decapsulate(v1, linkType: .linuxCooked), in: v1)
        let v2: [UInt8] = [0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + ip
        Self.expectODATA(Decapsulator().decapsulate(v2, linkType: .linuxCookedV2), in: v2)
    }

    @Test(arguments: [LinkType.raw, .rawDLT, .rawOpenBSD])
    func rawIPBothVersions(linkType: LinkType) {
        let v4 = Self.ipv4()
        Self.expectODATA(Decapsulator().decapsulate(v4, linkType: linkType), in: v4)
        let v6 = Self.ipv6()
        Self.expectODATA(Decapsulator().decapsulate(v6, linkType: linkType), in: v6)
    }

    @Test func rawIPv4AndIPv6LinkTypes() {
        let v4 = Self.ipv4()
        Self.expectODATA(Decapsulator().decapsulate(v4, linkType: .ipv4), in: v4)
        let v6 = Self.ipv6()
        Self.expectODATA(Decapsulator().decapsulate(v6, linkType: .ipv6), in: v6)
    }

    @Test func bsdLoopbackInBothByteOrders() {
        let v4 = Self.ipv4()
        let nullLittleEndian: [UInt8] = [2, 0, 0, 0] + v4
        Self.expectODATA(Decapsulator().decapsulate(nullLittleEndian, linkType: .null), in: nullLittleEndian)
        let loopBigEndian: [UInt8] = [0, 0, 0, 2] + v4
        Self.expectODATA(Decapsulator().decapsulate(loopBigEndian, linkType: .loop), in: loopBigEndian)
        let v6: [UInt8] = [30, 0, 0, 0] + Self.ipv6()
        Self.expectODATA(Decapsulator().decapsulate(v6, linkType: .null), in: v6)
        let other: [UInt8] = [7, 0, 0, 0] + v4
        #expect(Decapsulator().decapsulate(other, linkType: .null) == .other(reason: .linkProtocol(7)))
    }

    @Test func ipv4RouterAlertIsReported() throws {
        let frame = Self.ipv4(routerAlert: true)
        let result = Decapsulator().decapsulate(frame, linkType: .raw)
        Self.expectODATA(result, in: frame)
        guard case .pgm(let network, _, _) = result else { return }
        #expect(network.routerAlert)
        #expect(network.ipHeaderLength == 24)
        guard case .pgm(let plain, _, _) = Decapsulator().decapsulate(Self.ipv4(), linkType: .raw) else { return }
        #expect(!plain.routerAlert)
    }

    @Test func ipv6ExtensionHeadersAndRouterAlert() {
        let frame = Self.ipv6(hopByHopRouterAlert: true)
        let result = Decapsulator().decapsulate(frame, linkType: .ipv6)
        Self.expectODATA(result, in: frame)
        guard case .pgm(let network, _, _) = result else { return }
        #expect(network.routerAlert)
        #expect(network.ipHeaderLength == 56)
        #expect(network.source.description == "fe80::1")
        #expect(network.destination.description == "ff0e::42")
    }

    @Test func udpOnConfiguredPortAndByHeuristic() {
        let configured = Self.ipv4(udp: (40000, 3055))
        let result = Decapsulator().decapsulate(configured, linkType: .raw)
        Self.expectODATA(result, in: configured)
        guard case .pgm(_, let udp?, _) = result else { return }
        #expect(udp.destinationPort == 3055 && !udp.heuristic)

        let otherPort = Self.ipv4(udp: (40000, 5563))
        guard case .pgm(_, let heuristic?, _) = Decapsulator().decapsulate(otherPort, linkType: .raw) else {
            Issue.record("valid PGM on UDP 5563 not recognized")
            return
        }
        #expect(heuristic.heuristic)
        #expect(
            Decapsulator(udpHeuristic: false).decapsulate(otherPort, linkType: .raw) == .other(reason: .udpPort(5563))
        )
        // A wrong checksum on an unconfigured port is not PGM; on a configured port it is shown (and flagged).
        var corrupted = Self.odata
        corrupted[corrupted.count - 1] ^= 0xFF
        let bad = Self.ipv4(udp: (40000, 5563), pgm: corrupted)
        #expect(Decapsulator().decapsulate(bad, linkType: .raw) == .other(reason: .udpPort(5563)))
        let badConfigured = Self.ipv4(udp: (40000, 5563), pgm: corrupted)
        let shown = Dissection.dissect(
            frame: badConfigured,
            linkType: .raw,
            decapsulator: Decapsulator(udpPorts: [5563])
        )
        guard case .invalid = shown.pgm?.checksum else {
            Issue.record("bad checksum not flagged: \(String(describing: shown.pgm?.checksum))")
            return
        }
        #expect(shown.pgm?.packet != nil)
    }

    @Test func ipv4FragmentsAreReportedNotDecoded() {
        var first = Self.ipv4()
        first[6] = 0x20  // MF, offset 0
        guard case .fragment(_, let fragment) = Decapsulator().decapsulate(first, linkType: .raw) else {
            Issue.record("first fragment decoded")
            return
        }
        #expect(fragment.moreFragments && fragment.offset == 0)
        var later = Self.ipv4()
        later[6] = 0x00
        later[7] = 0xB9  // offset 185 * 8 = 1480
        guard case .fragment(let network, let last) = Decapsulator().decapsulate(later, linkType: .raw) else {
            Issue.record("last fragment decoded")
            return
        }
        #expect(!last.moreFragments && last.offset == 1480)
        #expect(network.protocolNumber == 113)
        var text = OutputBuffer()
        TextFormatter().format(Dissection.dissect(frame: later, linkType: .raw), into: &text)
        #expect(text.string.contains("fragment id 0 offset 1480 proto PGM (not decoded)"))
    }

    @Test func ipv6FragmentHeader() {
        // fragment header: next 113, reserved, offset 1 (8 bytes) and M, identification 0x01020304
        let fragmentHeader: [UInt8] = [113, 0, 0, 0x09, 1, 2, 3, 4]
        let frame = Self.ipv6(nextHeader: 44, payload: fragmentHeader + Self.odata)
        guard case .fragment(_, let fragment) = Decapsulator().decapsulate(frame, linkType: .ipv6) else {
            Issue.record("IPv6 fragment decoded")
            return
        }
        #expect(fragment.offset == 8 && fragment.moreFragments && fragment.identification == 0x0102_0304)
        // An atomic fragment (offset 0, no M) is a whole packet.
        let atomic = Self.ipv6(nextHeader: 44, payload: [113, 0, 0, 0, 1, 2, 3, 4] + Self.odata)
        guard case .pgm = Decapsulator().decapsulate(atomic, linkType: .ipv6) else {
            Issue.record("atomic fragment not decoded")
            return
        }
    }

    @Test func otherProtocolsAreSkipped() {
        var tcp = Self.ipv4()
        tcp[9] = 6
        #expect(Decapsulator().decapsulate(tcp, linkType: .raw) == .other(reason: .ipProtocol(6)))
        let arp = Self.ethernet([0, 1, 8, 0, 6, 4, 0, 1], etherType: 0x0806)
        #expect(Decapsulator().decapsulate(arp, linkType: .ethernet) == .other(reason: .linkProtocol(0x0806)))
    }

    /// Every prefix of every kind of frame is handled without a trap: a cut frame is malformed or truncated.
    @Test func everyTruncationIsHandled() {
        let frames: [(LinkType, [UInt8])] = [
            (.ethernet, Self.ethernet(Self.ipv4(udp: (1, 3055)), vlans: [5])),
            (
                .linuxCookedV2,
                [0x86, 0xDD, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]
                    + Self.ipv6(hopByHopRouterAlert: true)
            ),
            (.raw, Self.ipv4(routerAlert: true)),
        ]
        for (linkType, frame) in frames {
            for length in 0..<frame.count {
                let prefix = Array(frame[..<length])
                let dissection = Dissection.dissect(frame: prefix, linkType: linkType)
                switch dissection.layers {
                case .malformed, .other: break
                case .pgm(let network, _, _):
                    #expect(network.truncatedBySnapshot)
                    #expect(dissection.pgm?.packet == nil)
                case .fragment: Issue.record("prefix \(length) read as a fragment")
                }
                var out = OutputBuffer()
                TextFormatter(verbose: true, hexDump: .hexAndASCII).format(dissection, frame: nil, into: &out)
                JSONFormatter().format(dissection, into: &out)
            }
        }
    }

    @Test func unsupportedLinkType() {
        #expect(
            Decapsulator().decapsulate([1, 2, 3], linkType: LinkType(rawValue: 147))
                == .malformed(nil, .unsupportedLinkType(147))
        )
    }
}
