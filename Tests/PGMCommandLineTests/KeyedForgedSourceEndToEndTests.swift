import Foundation
import PGMWire
import Testing

/// With `--key` on every host, a third host on the session's subnet that forges the source address (the address
/// the receiver hears the session from: the source, or the element below it) changes nothing (Docs/key.md). Real
/// processes across network namespaces (root only), 1 % drop into the receiver. The forger hears the group, then
/// sends, from that address (raw socket, IP_HDRINCL): 120 unsigned packets of the kinds issue 13's hostile host
/// sends (SPMs without a window or with the lead or trail millions ahead, garbage ODATA and RDATA just ahead, NCFs),
/// 40 packets with a genuine OPT_AUTH on changed bytes, and 30 verbatim copies of a genuine SPM after a newer one.
/// The transfer stays byte-exact, pgm-recv exits 0 with nothing unrecoverable, and its counters show the forged
/// packets dropped by kind.
///
/// The forger is a Python script the test writes (a test target cannot build a helper executable); it needs only
/// sockets in its namespace.
@Suite(.serialized, .timeLimit(.minutes(3))) struct KeyedForgedSourceEndToEndTests {
    typealias Child = SourceReceiveEndToEndTests.Child

    static let python = "/usr/bin/python3"
    static var available: Bool { NamespaceLab.available && FileManager.default.isExecutableFile(atPath: python) }

    /// Source, receiver and forger on one bridge.
    @Test(.enabled(if: available, "needs root, ip, nft and python3"))
    func aForgedSourceAddressChangesNothingWithAKey() throws {
        let lab = try ThirdHostNetwork.oneSubnet(121)
        defer { lab.network.tearDown() }
        try Self.run(lab, group: "239.192.121.1")
    }

    /// Source | pgm-ne --key | bridge with the receiver and the forger, who forges the element's address.
    @Test(.enabled(if: available, "needs root, ip, nft and python3"))
    func aForgedElementAddressChangesNothingWithAKey() throws {
        let lab = try ThirdHostNetwork.belowAnElement(upper: 122, lower: 123)
        defer { lab.network.tearDown() }
        try Self.run(lab, group: "239.192.123.1")
    }

    static func run(_ lab: ThirdHostNetwork, group: String) throws {
        let (network, source, receiver, forger, element) = (
            lab.network, lab.source, lab.receiver, lab.third, lab.element
        )
        let input = try SourceReceiveEndToEndTests.randomFile(bytes: 8_000_000)
        let script = input.appendingPathExtension("py")
        let key = input.appendingPathExtension("key")
        let output = input.appendingPathExtension("out")
        let forgerOutput = input.appendingPathExtension("forger")
        defer {
            for url in [script, key, input, output, forgerOutput] { try? FileManager.default.removeItem(at: url) }
        }
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        try Data("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n".utf8).write(to: key)
        let common = ["--group", group, "--udp-port", "3056", "--key", key.path]
        func inside(_ role: String) -> [String] { ["/usr/sbin/ip", "netns", "exec", network.namespace(role)] }

        let forwarder = try element.map { element in
            try Child(
                inside(element.role) + [
                    try SourceReceiveEndToEndTests.binary("pgm-ne"),
                    "--upstream", element.upstream, "--downstream", element.downstream, "--json",
                ] + common)
        }
        forwarder?.waitForStandardError(containing: "\"type\":\"start\"")
        let receiving = try Child(
            inside(receiver.role) + [
                try SourceReceiveEndToEndTests.binary("pgm-recv"),
                "--interface", receiver.address, "--output", output.path, "--timeout", "30", "--json",
            ] + common)
        receiving.waitForStandardError(containing: "\"type\":\"start\"")
        let sending = try Child(
            inside(source.role) + [
                try SourceReceiveEndToEndTests.binary("pgm-source"),
                "--interface", source.address, "--rate", "16M", input.path,
            ] + common)
        // Mid-transfer: the forger starts once the receiver has written half a megabyte.
        SessionLifecycleEndToEndTests.waitForSize(output, atLeast: 500_000)
        let forging = try Child(
            inside(forger.role) + [
                python, script.path, "--group", group, "--port", "3056", "--address", forger.address,
            ],
            output: forgerOutput)
        let forged = forging.wait(seconds: 30)
        let sent = sending.wait(seconds: 60)
        let received = receiving.wait(seconds: 60)
        if let forwarder { kill(forwarder.process.processIdentifier, SIGTERM) }
        let forwarded = forwarder?.wait(seconds: 10)

        let report = ((try? String(contentsOf: forgerOutput, encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .newlines)
        let summary = (try? MultiReceiverEndToEndTests.summary(received.standardError)) ?? [:]
        let counts = summary["authentication"] as? [String: Any] ?? [:]
        print(
            "forged source\(element == nil ? "" : " below an element"): \(report); pgm-recv exit \(received.status), "
                + "authentication \(counts), unrecoverable \(summary["unrecoverable"] ?? "?"), "
                + "bytes \(summary["bytes"] ?? "?")")
        #expect(forged.status == 0, "forger: \(forged.standardError) \(report)")
        #expect(report.contains("forged 190 packets") && report.contains("120 unsigned, 40 invalid, 30 replayed"))
        // The forged address is the one the receiver hears the session from.
        #expect(report.contains("from \(element?.downstream ?? source.address) "), "\(report)")
        #expect(sent.status == 0, "\(sent.standardError.suffix(2000))")
        #expect(received.status == 0, "\(received.standardError.suffix(3000))")
        #expect(summary["unrecoverable"] as? Int == 0)
        #expect(try Data(contentsOf: output) == Data(contentsOf: input))
        // 1 % of the forged packets may fall to the receiver's drop rule.
        #expect((counts["absent"] as? Int ?? 0) >= 110, "\(counts)")
        #expect((counts["invalid"] as? Int ?? 0) >= 36, "\(counts)")
        #expect((counts["replayed"] as? Int ?? 0) >= 27, "\(counts)")
        if let forwarded {
            #expect(forwarded.status == 0, "\(forwarded.standardError.suffix(2000))")
            // The forged packets carry the element's own address, so its kernel drops them as martians before
            // pgm-ne sees them; what it received (the source's signed packets) it verified and re-signed.
            let elementSummary = (try? MultiReceiverEndToEndTests.summary(forwarded.standardError)) ?? [:]
            let elementCounts = elementSummary["authentication"] as? [String: Any] ?? [:]
            #expect((elementCounts["valid"] as? Int ?? 0) > 5000, "\(elementCounts)")
            #expect(
                (elementCounts["signed"] as? Int ?? 0) >= (elementCounts["valid"] as? Int ?? .max), "\(elementCounts)")
        }
    }

    /// The forger. It prints one line: what it forged, from which address, for which TSI.
    static let script =
        ThirdHostNetwork.pythonPackets + #"""
            def refill(raw):
                raw = bytearray(raw)
                raw[6:8] = b"\0\0"
                raw[6:8] = struct.pack("!H", checksum(bytes(raw)))
                return bytes(raw)

            def find_auth(raw):
                """Offset of OPT_AUTH (type 0x40, 24 bytes) in a genuine packet, or None."""
                if not raw[5] & 0x01:
                    return None
                kind = raw[4]
                offset = {0x00: 36, 0x04: 24, 0x05: 24}.get(kind)
                if offset is None or raw[offset] != 0x00:
                    return None
                end = offset + struct.unpack("!H", raw[offset + 2:offset + 4])[0]
                offset += 4
                while offset + 4 <= end:
                    if raw[offset] & 0x7F == 0x40 and raw[offset + 1] == 24:
                        return offset
                    if raw[offset] & 0x80:
                        break
                    offset += raw[offset + 1]
                return None

            def forge(src, dst, port, payload):
                """IPv4 + UDP with a source address that is not ours (raw socket, IP_HDRINCL)."""
                udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
                ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), random.getrandbits(16), 0x4000, 1, 17, 0,
                                           socket.inet_aton(src), socket.inet_aton(dst)))
                ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
                return bytes(ip) + udp

            def main():
                args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
                group, port, me = args["--group"], int(args["--port"]), args["--address"]
                listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listen.bind(("", port))
                listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(me))
                listen.setblocking(False)
                raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                raw.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(me))
                raw.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                seen = {}

                def hear(timeout):
                    select.select([listen], [], [], timeout)
                    try:
                        while True:
                            packet, (sender, _) = listen.recvfrom(65535)
                            if sender == me or len(packet) < 24:
                                continue
                            seen["session"] = {"sport": struct.unpack("!H", packet[0:2])[0],
                                               "dport": struct.unpack("!H", packet[2:4])[0], "gsi": packet[8:14]}
                            seen["sender"] = sender
                            if packet[4] == 0x00 and len(packet) >= 36:
                                sqn = struct.unpack("!I", packet[16:20])[0]
                                seen.setdefault("first_spm", packet)
                                seen["spm_sqn"] = sqn
                                seen["path"] = socket.inet_ntoa(packet[32:36])
                            elif packet[4] == 0x04:
                                seen["odata"] = struct.unpack("!I", packet[16:20])[0]
                                if find_auth(packet) is not None:
                                    seen["signed_odata"] = packet
                    except BlockingIOError:
                        pass

                deadline = time.time() + 15
                while time.time() < deadline and not all(k in seen for k in ("first_spm", "odata", "signed_odata")):
                    hear(0.1)
                if not all(k in seen for k in ("first_spm", "odata", "signed_odata")):
                    print("heard no keyed session")
                    sys.exit(1)
                session, forged_source = seen["session"], seen["sender"]
                counts = {"unsigned": 0, "invalid": 0, "replayed": 0}
                rng = random.Random(13)

                def send(kind, payload):
                    raw.sendto(forge(forged_source, group, port, payload), (group, 0))
                    counts[kind] += 1
                    time.sleep(0.004)
                    hear(0)

                # Unsigned, as the hostile host of issue 13 sends them, but from the session's own address.
                for i in range(120):
                    s, o = seen["spm_sqn"], seen["odata"]
                    choice = i % 6
                    if choice == 0:
                        send("unsigned", spm(session, s + 1 + i, 0, 0x80000000, seen["path"]))
                    elif choice == 1:
                        send("unsigned", spm(session, s + 100 + i, o - 10, o + 5000000 + i, seen["path"]))
                    elif choice == 2:
                        send("unsigned", spm(session, s + 200 + i, o + 2000000, o + 2000100, seen["path"]))
                    elif choice == 3:
                        send("unsigned", data(session, 0x04, o + 20 + i, o - 5, bytes(rng.getrandbits(8) for _ in range(1000))))
                    elif choice == 4:
                        send("unsigned", data(session, 0x05, o + 3 + i % 30, o - 5, bytes(rng.getrandbits(8) for _ in range(1000))))
                    else:
                        send("unsigned", ncf(session, o + 1, forged_source, group, [o + 2 + k for k in range(62)]))
                # A genuine OPT_AUTH (key ID and tag) on other bytes, and genuine packets changed on the way.
                genuine = seen["signed_odata"]
                auth = find_auth(genuine)
                for i in range(40):
                    o = seen["odata"]
                    stolen = bytearray(genuine)
                    if i % 2 == 0:  # the genuine header and tag, the sequence moved ahead and the payload replaced
                        stolen[16:20] = struct.pack("!I", (o + 10 + i) & 0xFFFFFFFF)
                        stolen[auth + 24:] = bytes(rng.getrandbits(8) for _ in range(len(stolen) - auth - 24))
                    else:  # the genuine packet with one payload byte flipped
                        stolen[-1] ^= 0x01
                    send("invalid", refill(bytes(stolen)))
                # Verbatim copies of the first genuine SPM, once a newer one has been heard: replays.
                first_sqn = struct.unpack("!I", seen["first_spm"][16:20])[0]
                deadline = time.time() + 5
                while time.time() < deadline and seen["spm_sqn"] == first_sqn:
                    hear(0.05)
                if seen["spm_sqn"] == first_sqn:
                    print("heard no newer SPM")
                    sys.exit(1)
                for i in range(30):
                    send("replayed", seen["first_spm"])
                tsi = ":".join("%02x" % b for b in session["gsi"]) + ".%d" % session["sport"]
                print("forged %d packets from %s for TSI %s: %d unsigned, %d invalid, %d replayed" % (
                    sum(counts.values()), forged_source, tsi, counts["unsigned"], counts["invalid"], counts["replayed"]))

            main()
            """#
}
