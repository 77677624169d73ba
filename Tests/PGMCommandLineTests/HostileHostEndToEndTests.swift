import Foundation
import PGMWire
import Testing

/// A third host on a session's subnet claiming the session (RFC 3208 §10), as real processes across network
/// namespaces (root only). It hears the group, learns the TSI, the SPM sequence, the path and the data sequence
/// numbers, and sends about 200 well-formed packets for that TSI from its own address mid-transfer: SPMs without a
/// window (§8.1) and with OPT_NBR_UNREACH (§15.3.2), SPMs whose lead or trail jumps millions ahead, ODATA and RDATA
/// with garbage for the sequences just ahead (some claiming 1 MiB APDUs), NCFs for sequences ahead, general POLLs.
/// The transfer (1 % drop into the receiver) must stay byte-exact and pgm-recv must exit 0.
///
/// The hostile host is a Python script the test writes: a test target cannot build a helper executable, and the
/// script needs nothing but a UDP socket in its namespace. Its packets are checked against PGMWire's decoder first
/// (checksums verified), so that a test passing is not a hostile host whose packets were never taken for PGM.
@Suite(.serialized, .timeLimit(.minutes(3))) struct HostileHostEndToEndTests {
    typealias Child = SourceReceiveEndToEndTests.Child

    static let python = "/usr/bin/python3"
    static var available: Bool { NamespaceLab.available && FileManager.default.isExecutableFile(atPath: python) }

    static func writeScript() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-hostile-\(UUID().uuidString).py")
        try Self.script.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Every kind of packet the script sends decodes, checksum verified, as the kind it claims to be.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python)))
    func theHostilePacketsAreValidPGM() throws {
        let script = try Self.writeScript()
        defer { try? FileManager.default.removeItem(at: script) }
        let output = script.appendingPathExtension("out")
        defer { try? FileManager.default.removeItem(at: output) }
        let child = try Child([Self.python, script.path, "--dump"], output: output)
        #expect(child.wait(seconds: 20).status == 0)
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 10)
        var types: [PacketType] = []
        for line in lines {
            let parts = line.split(separator: " ")
            let bytes = stride(from: 0, to: parts[1].count, by: 2).map { offset -> UInt8 in
                let start = parts[1].index(parts[1].startIndex, offsetBy: offset)
                return UInt8(parts[1][start..<parts[1].index(start, offsetBy: 2)], radix: 16)!
            }
            let packet = try Packet(decoding: bytes, checksum: .verify)
            #expect(packet.tsi == TSI(gsi: GSI(rawValue: 0x0102_0304_0506), sourcePort: 4000), "\(parts[0])")
            types.append(packet.body.type)
            if parts[0] == "spm-nbr-unreach" { #expect(packet.options.contains { $0.value == .neighborUnreachable }) }
            if parts[0] == "ncf" {
                #expect(packet.options.contains { if case .nakList = $0.value { true } else { false } })
            }
        }
        #expect(types == [.spm, .spm, .spm, .spm, .odata, .odata, .rdata, .ncf, .poll, .spm])
    }

    /// The summary line of a pgm-recv run with --json.
    static func summary(_ outcome: SourceReceiveEndToEndTests.Outcome) -> [String: Any] {
        (try? MultiReceiverEndToEndTests.summary(outcome.standardError)) ?? [:]
    }

    /// Source, receiver and the hostile host on one bridge, UDP encapsulation, 1 % drop into the receiver.
    @Test(.enabled(if: available, "needs root, ip, nft and python3"))
    func aHostileHostOnTheSubnetCannotBreakATransfer() throws {
        let lab = try ThirdHostNetwork.oneSubnet(111)
        defer { lab.network.tearDown() }
        try Self.run(lab, group: "239.192.111.1")
    }

    /// Source | pgm-ne | bridge with the receiver and the hostile host: the element's downstream subnet.
    @Test(.enabled(if: available, "needs root, ip, nft and python3"))
    func aHostileHostBelowAnElementCannotBreakATransfer() throws {
        let lab = try ThirdHostNetwork.belowAnElement(upper: 112, lower: 113)
        defer { lab.network.tearDown() }
        try Self.run(lab, group: "239.192.113.1")
    }

    static func run(_ lab: ThirdHostNetwork, group: String) throws {
        let (network, source, receiver, hostile, element) = (
            lab.network, lab.source, lab.receiver, lab.third, lab.element
        )
        let script = try writeScript()
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 6_000_000)
        let output = input.appendingPathExtension("out")
        let hostileOutput = input.appendingPathExtension("hostile")
        defer { for url in [script, input, output, hostileOutput] { try? FileManager.default.removeItem(at: url) } }
        let common = ["--group", group, "--udp-port", "3056"]
        let forwarder = try element.map { element in
            try Child(
                [
                    "/usr/sbin/ip", "netns", "exec", network.namespace(element.role),
                    try SourceReceiveEndToEndTests.binary("pgm-ne"),
                    "--upstream", element.upstream, "--downstream", element.downstream, "--json",
                ] + common)
        }
        forwarder?.waitForStandardError(containing: "\"type\":\"start\"")
        let receiving = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", network.namespace(receiver.role),
                try SourceReceiveEndToEndTests.binary("pgm-recv"),
                "--interface", receiver.address, "--output", output.path, "--timeout", "30", "--json",
            ] + common)
        receiving.waitForStandardError(containing: "\"type\":\"start\"")
        let sending = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", network.namespace(source.role),
                try SourceReceiveEndToEndTests.binary("pgm-source"),
                "--interface", source.address, "--rate", "16M", input.path,
            ] + common)
        // Mid-transfer: the hostile host starts once the receiver has written half a megabyte.
        SessionLifecycleEndToEndTests.waitForSize(output, atLeast: 500_000)
        let attacking = try Child(
            [
                "/usr/sbin/ip", "netns", "exec", network.namespace(hostile.role), python, script.path,
                "--group", group, "--port", "3056", "--address", hostile.address,
            ], output: hostileOutput)
        let attacked = attacking.wait(seconds: 30)
        let sent = sending.wait(seconds: 60)
        let received = receiving.wait(seconds: 60)
        if let forwarder { kill(forwarder.process.processIdentifier, SIGTERM) }
        let forwarded = forwarder?.wait(seconds: 10)
        let hostileSummary = (try? String(contentsOf: hostileOutput, encoding: .utf8)) ?? ""
        let fields = summary(received)
        let warnings = MultiReceiverEndToEndTests.jsonLines(received.standardError, type: "off_path")
        let elementSummary = forwarded.flatMap { try? MultiReceiverEndToEndTests.summary($0.standardError) }
        let elementOffPath = (elementSummary?["element"] as? [String: Any])?["off_path_dropped"] as? Int
        print(
            "hostile host\(element == nil ? "" : " below an element"): \(hostileSummary.trimmingCharacters(in: .newlines)); "
                + "pgm-recv exit \(received.status), NAKs \(fields["naks"] ?? "?"), "
                + "unrecoverable \(fields["unrecoverable"] ?? "?"), bytes \(fields["bytes"] ?? "?"), "
                + "off-path packets \(fields["off_path_packets"] ?? "?") (\(warnings.count) warnings)"
                + (element == nil ? "" : ", element off-path \(elementOffPath.map(String.init) ?? "?")"))
        #expect(attacked.status == 0, "hostile host: \(attacked.standardError) \(hostileSummary)")
        #expect(hostileSummary.contains("sent 200 packets"), "\(hostileSummary)")
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(received.status == 0, "\(received.standardError.suffix(3000))")
        #expect(fields["unrecoverable"] as? Int == 0)
        #expect(try Data(contentsOf: output) == Data(contentsOf: input))
        if let forwarded { #expect(forwarded.status == 0, "\(forwarded.standardError.suffix(2000))") }
        // Every packet of the hostile host reached the receiver (1 % of multicast dropped on the way): all of them
        // count as off the session's path, warned about at most once a second; an element below which the hostile
        // host sits counts the ones it heard too.
        let offPath = fields["off_path_packets"] as? Int ?? 0
        #expect(offPath >= 180 && offPath <= 200, "\(offPath) off-path packets counted")
        #expect(!warnings.isEmpty && warnings.count <= 5, "\(warnings.count) off_path warnings")
        if element != nil { #expect((elementOffPath ?? 0) > 0, "element: \(elementOffPath.map(String.init) ?? "?")") }
    }

    /// The hostile host. `--dump` prints one packet of each kind (hex) for a made-up session instead.
    static let script =
        ThirdHostNetwork.pythonPackets + #"""
            def poll(session, sqn, path):
                header = struct.pack("!IHH", sqn & 0xFFFFFFFF, 0, 0) + nla(path) + struct.pack("!III", 100000, 0, 0)
                return packet(session, 0x01, header)

            NBR_UNREACH = [(0x0B, b"")]

            def fragment(first, length):
                return [(0x01, struct.pack("!III", first & 0xFFFFFFFF, 0, length))]

            def attack(session, seen, me, group):
                """200 packets, in the order they go: each kind spread over the run."""
                rng = random.Random(13)
                garbage = lambda: bytes(rng.getrandbits(8) for _ in range(1000))
                out = []
                for i in range(25):  # no window (RFC 3208 §8.1)
                    out.append(lambda i=i: spm(session, seen["spm_sqn"] + 1 + i, 0, 0x80000000, me))
                for i in range(15):  # OPT_NBR_UNREACH claiming the real parent (§15.3.2)
                    out.append(lambda i=i: spm(session, seen["spm_sqn"] + i % 2, 0, 0x80000000, seen["path"], NBR_UNREACH))
                for i in range(30):  # the lead millions ahead
                    out.append(lambda i=i: spm(session, seen["spm_sqn"] + 100 + i, seen["odata"] - 10,
                                               seen["odata"] + 5000000 + 1000 * i, me))
                for i in range(10):  # the trail millions ahead
                    out.append(lambda i=i: spm(session, seen["spm_sqn"] + 200 + i, seen["odata"] + 2000000,
                                               seen["odata"] + 2000100, me))
                for i in range(40):  # garbage ODATA just ahead, a quarter claiming 1 MiB APDUs
                    opts = fragment(seen["odata"] + 20 + i, 1 << 20) if i % 4 == 0 else ()
                    out.append(lambda i=i, opts=opts: data(session, 0x04, seen["odata"] + 20 + i, seen["odata"] - 5,
                                                           garbage(), opts))
                for i in range(30):  # garbage RDATA just ahead
                    out.append(lambda i=i: data(session, 0x05, seen["odata"] + 3 + i, seen["odata"] - 5, garbage()))
                for i in range(30):  # NCFs for what is about to come
                    out.append(lambda i=i: ncf(session, seen["odata"] + 1 + 63 * i, seen["source"], group,
                                               [seen["odata"] + 2 + 63 * i + k for k in range(62)]))
                for i in range(10):  # general POLLs from a stranger
                    out.append(lambda i=i: poll(session, 1000 + i, me))
                for i in range(10):  # SPMs that look like the session's own, from the wrong host
                    out.append(lambda i=i: spm(session, seen["spm_sqn"] + 300 + i, seen["odata"] - 100, seen["odata"] + 5, me))
                order = list(range(len(out)))
                rng.shuffle(order)
                return [out[k] for k in order]

            def parse(data, sender, seen, me):
                if len(data) < 24 or sender == me:
                    return None
                kind = data[4]
                session = {"sport": struct.unpack("!H", data[0:2])[0], "dport": struct.unpack("!H", data[2:4])[0],
                           "gsi": data[8:14]}
                if kind == 0x00 and len(data) >= 36:
                    seen["spm_sqn"] = struct.unpack("!I", data[16:20])[0]
                    seen["path"] = socket.inet_ntoa(data[32:36])
                elif kind == 0x04:
                    seen["odata"] = struct.unpack("!I", data[16:20])[0]
                    seen["source"] = sender
                else:
                    return None
                return session

            def main():
                args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
                if "--dump" in sys.argv:
                    session = {"sport": 4000, "dport": 7500, "gsi": bytes([1, 2, 3, 4, 5, 6])}
                    me, path, group = "198.18.0.3", "198.18.0.1", "239.192.0.1"
                    for name, raw in [
                            ("spm-windowless", spm(session, 10, 0, 0x80000000, me)),
                            ("spm-nbr-unreach", spm(session, 10, 0, 0x80000000, path, NBR_UNREACH)),
                            ("spm-lead-jump", spm(session, 11, 90, 5000100, me)),
                            ("spm-trail-jump", spm(session, 12, 2000100, 2000200, me)),
                            ("odata", data(session, 0x04, 120, 95, b"x" * 1000)),
                            ("odata-fragment", data(session, 0x04, 121, 95, b"x" * 1000, fragment(121, 1 << 20))),
                            ("rdata", data(session, 0x05, 103, 95, b"y" * 1000)),
                            ("ncf", ncf(session, 101, path, group, list(range(102, 164)))),
                            ("poll", poll(session, 1000, me)),
                            ("spm-lookalike", spm(session, 13, 0, 105, me))]:
                        print(name, raw.hex())
                    return
                group, port, me = args["--group"], int(args["--port"]), args["--address"]
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("", port))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(me))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(me))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                sock.setblocking(False)
                seen, session = {}, None
                deadline = time.time() + 15
                while time.time() < deadline and not all(k in seen for k in ("spm_sqn", "odata")):
                    select.select([sock], [], [], 0.1)
                    try:
                        while True:
                            raw, (sender, _) = sock.recvfrom(65535)
                            session = parse(raw, sender, seen, me) or session
                    except BlockingIOError:
                        pass
                if session is None or not all(k in seen for k in ("spm_sqn", "odata")):
                    print("heard no session")
                    sys.exit(1)
                sent = 0
                for make in attack(session, seen, me, group):
                    try:
                        while True:  # keep "just ahead" just ahead of the live stream
                            raw, (sender, _) = sock.recvfrom(65535)
                            parse(raw, sender, seen, me)
                    except BlockingIOError:
                        pass
                    sock.sendto(make(), (group, port))
                    sent += 1
                    time.sleep(0.005)
                tsi = ":".join("%02x" % b for b in session["gsi"]) + ".%d" % session["sport"]
                print("sent %d packets for TSI %s" % (sent, tsi))

            main()
            """#
}
