/// The two networks on which a third host meddles with a session (HostileHostEndToEndTests, where it sends from its
/// own address, and KeyedForgedSourceEndToEndTests, where it forges the source's or the element's): UDP
/// encapsulation, 1 % of multicast dropped into the receiver.
struct ThirdHostNetwork {
    typealias Host = (role: String, address: String)

    let network: NamespaceNetwork
    let source: Host
    let receiver: Host
    /// The host that is not the source.
    let third: Host
    /// pgm-ne between the source and the subnet of the receiver and the third host, if any.
    let element: (role: String, upstream: String, downstream: String)?

    /// Source, receiver and third host on one bridge (in the source's namespace), addresses 198.19.`subnet`.1-3.
    static func oneSubnet(_ subnet: Int) throws -> ThirdHostNetwork {
        let network = NamespaceNetwork(roles: ["s", "r", "x"])
        let prefix = "198.19.\(subnet)"
        do {
            try network.setUp()
            try network.addBridge(in: "s", address: "\(prefix).1/24")
            try network.addLink("r", "e0", address: "\(prefix).2/24", to: "s", "pr", peerAddress: nil)
            try network.addLink("x", "e0", address: "\(prefix).3/24", to: "s", "px", peerAddress: nil)
            try network.dropMulticast(in: "r", percent: 1)
        } catch {
            network.tearDown()
            throw error
        }
        return ThirdHostNetwork(
            network: network, source: ("s", "\(prefix).1"), receiver: ("r", "\(prefix).2"),
            third: ("x", "\(prefix).3"), element: nil)
    }

    /// Source on 198.19.`upper` | pgm-ne | a bridge (in the element's namespace) with the receiver and the third
    /// host on 198.19.`lower`: the element's downstream subnet.
    static func belowAnElement(upper: Int, lower: Int) throws -> ThirdHostNetwork {
        let network = NamespaceNetwork(roles: ["s", "e", "r", "x"])
        let (above, below) = ("198.19.\(upper)", "198.19.\(lower)")
        do {
            try network.setUp()
            try network.addLink("s", "u0", address: "\(above).1/24", to: "e", "u0", peerAddress: "\(above).2/24")
            try network.addBridge(in: "e", address: "\(below).1/24")
            try network.addLink("r", "e0", address: "\(below).2/24", to: "e", "pr", peerAddress: nil)
            try network.addLink("x", "e0", address: "\(below).3/24", to: "e", "px", peerAddress: nil)
            for role in ["r", "x"] { try network.addRoute(in: role, to: "\(above).0/24", via: "\(below).1") }
            try network.addRoute(in: "s", to: "\(below).0/24", via: "\(above).2")
            try network.enableForwarding(in: "e")
            try network.dropMulticast(in: "r", percent: 1)
        } catch {
            network.tearDown()
            throw error
        }
        return ThirdHostNetwork(
            network: network, source: ("s", "\(above).1"), receiver: ("r", "\(below).2"), third: ("x", "\(below).3"),
            element: ("e", "\(above).2", "\(below).1"))
    }

    /// The start of both third-host scripts: imports and a PGM packet builder (options, checksum, NLAs, SPM, ODATA/RDATA, NCF) in Python, which
    /// each script's own packets are made with.
    static let pythonPackets = #"""
        import os, random, select, socket, struct, sys, time

        def checksum(data):
            if len(data) % 2:
                data += b"\0"
            total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            return (~total & 0xFFFF) or 0xFFFF

        def encode_options(options):
            if not options:
                return b""
            body = b""
            for index, (kind, value) in enumerate(options):
                end = 0x80 if index == len(options) - 1 else 0
                body += struct.pack("!BBBB", kind | end, 4 + len(value), 0, 0) + value
            return struct.pack("!BBH", 0x00, 4, 4 + len(body)) + body

        def packet(session, kind, header, options=(), payload=b"", network=False):
            encoded = encode_options(list(options))
            flags = (0x01 if encoded else 0) | (0x02 if network else 0)
            raw = bytearray(struct.pack("!HHBBH", session["sport"], session["dport"], kind, flags, 0) + session["gsi"]
                            + struct.pack("!H", len(payload)) + header + encoded + payload)
            raw[6:8] = struct.pack("!H", checksum(bytes(raw)))
            return bytes(raw)

        def nla(address):
            return struct.pack("!HH", 1, 0) + socket.inet_aton(address)

        def spm(session, sqn, trail, lead, path, options=()):
            header = struct.pack("!III", sqn & 0xFFFFFFFF, trail & 0xFFFFFFFF, lead & 0xFFFFFFFF) + nla(path)
            return packet(session, 0x00, header, options, network=bool(options))

        def data(session, kind, sqn, trail, payload, options=()):
            header = struct.pack("!II", sqn & 0xFFFFFFFF, trail & 0xFFFFFFFF)
            return packet(session, kind, header, options, payload)

        def ncf(session, sqn, source, group, listed):
            header = struct.pack("!I", sqn & 0xFFFFFFFF) + nla(source) + nla(group)
            value = b"".join(struct.pack("!I", s & 0xFFFFFFFF) for s in listed)
            return packet(session, 0x0A, header, [(0x02, value)], network=True)

        """#
}
