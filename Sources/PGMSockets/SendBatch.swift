internal import CPGMSystem
internal import Glibc
internal import PGMCore
internal import PGMWire

/// Transmits encoded back to back into one buffer and sent with one `sendmmsg` call.
///
/// With UDP segmentation offload (GSO, `UDP_SEGMENT`), consecutive datagrams of one size to one destination
/// (a run of ODATA) travel as one message of up to ``maximumSegments`` datagrams: the kernel walks the
/// network stack once for the run and cuts it at the device, or not at all on loopback and veth, where a
/// receiver with `UDP_GRO` gets the run as it was sent. A datagram shorter than the run's size may end it.
/// Runs hold ODATA and RDATA only.
final class SendBatch {
    /// Messages per `sendmmsg`.
    let capacity: Int
    /// The kernel's limit on datagrams per GSO message (UDP_MAX_SEGMENTS in 6.1).
    static let maximumSegments = 64
    /// Payload bytes of one GSO message: one IPv4 datagram's worth.
    static let maximumSegmentedBytes = 65_000

    private struct Message {
        var range: Range<Int>
        var destination: IPv4Address
        /// The size of each datagram of a GSO run; the last may be shorter.
        var segmentSize: Int
        var segments: Int
        /// A shorter last datagram, or a packet other than ODATA or RDATA, closed the run.
        var isClosed: Bool
    }

    private var buffer: [UInt8] = []
    private var messages: [Message] = []
    private let names: UnsafeMutablePointer<sockaddr_in>
    private let iovecs: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutablePointer<pgm_mmsghdr>
    private let controls: UnsafeMutableRawPointer
    private let controlSize = Int(pgm_udp_segment_control_size())

    init(capacity: Int = 64) {
        self.capacity = capacity
        buffer.reserveCapacity(capacity * 1600)
        messages.reserveCapacity(capacity)
        names = .allocate(capacity: capacity)
        iovecs = .allocate(capacity: capacity)
        headers = .allocate(capacity: capacity)
        controls = .allocate(byteCount: capacity * controlSize, alignment: 16)
    }

    deinit {
        names.deallocate()
        iovecs.deallocate()
        headers.deallocate()
        controls.deallocate()
    }

    var isEmpty: Bool { messages.isEmpty }
    var isFull: Bool { messages.count == capacity }

    /// Encodes `transmit` for `sockets`: as UDP payload, or behind an IPv4 header in native mode. Returns where
    /// the PGM packet is in the batch's buffer, or nil when it was not appended.
    ///
    /// With `authentication` (a keyed driver) the packet is prepared for signing: OPT_AUTH with that key ID is
    /// appended after its options unless it carries one (a packet an element forwards), and its checksum is left 0
    /// for ``sign(_:with:)``; nil when the packet already has 16 options and cannot take another. The key is a
    /// plain struct here and the authenticator stays with the caller: an optional existential parameter cost every
    /// unkeyed packet about 200 instructions of copies (Tools/instructions-per-packet).
    @discardableResult
    func append(
        _ transmit: Transmit, for sockets: InterfaceSockets, authentication: Option.Authentication? = nil
    ) -> Range<Int>? {
        precondition(!isFull)
        var extra: Option.Authentication?
        if let authentication {
            let carries = transmit.packet.options.contains {
                if case .authentication = $0.value { true } else { false }
            }
            if !carries {
                guard transmit.packet.options.count < Option.maximumCount else { return nil }
                extra = authentication
            }
        }
        let address: IPv4Address
        switch transmit.destination {
        case .multicast(let nla), .unicast(let nla):
            if case .ipv4(let ipv4) = nla { address = ipv4 } else { address = IPv4Address(rawValue: 0) }
        }
        let start = buffer.count
        if sockets.udpPort == nil {
            let configuration = sockets.configuration
            var source = configuration.interface.address
            if case .ipv4(let spoofed)? = transmit.spoofedSource { source = spoofed }
            let isMulticast: Bool
            if case .multicast = transmit.destination { isMulticast = true } else { isMulticast = false }
            let length = transmit.packet.encodedLength(appendingAuthentication: extra)
            // Router Alert costs four bytes; a packet that would not fit the MTU with it goes without it.
            let routerAlert = transmit.routerAlert && 24 + length <= sockets.mtu
            IPv4Header.append(
                to: &buffer, source: source, destination: address,
                ttl: transmit.ttl ?? (isMulticast ? configuration.ttl : 64), routerAlert: routerAlert,
                payloadLength: length)
        }
        let packetStart = buffer.count
        transmit.packet.encode(into: &buffer, appendingAuthentication: extra, checksum: authentication == nil)
        let packet = packetStart..<buffer.count
        let length = buffer.count - start
        // Only data joins runs, so that a capture of one (pgm-dump) can be cut back into packets by their headers.
        let isData: Bool
        switch transmit.packet.body {
        case .odata, .rdata: isData = true
        default: isData = false
        }
        if sockets.segmentsUDP, isData, var last = messages.last, last.destination == address, !last.isClosed,
            length <= last.segmentSize, last.segments < Self.maximumSegments,
            last.range.count + length <= Self.maximumSegmentedBytes
        {
            last.range = last.range.lowerBound..<buffer.count
            last.segments += 1
            last.isClosed = length < last.segmentSize
            messages[messages.count - 1] = last
            return packet
        }
        messages.append(
            Message(
                range: start..<buffer.count, destination: address, segmentSize: length, segments: 1, isClosed: !isData))
        return packet
    }

    /// Signs the packet at `range` (as ``append(_:for:authentication:)`` returned it, with an `authentication`):
    /// writes its OPT_AUTH key ID and tag, then its checksum over them.
    func sign(_ range: Range<Int>, with authenticator: any PacketAuthenticator) {
        buffer.withUnsafeMutableBytes { raw in
            _ = authenticator.sign(UnsafeMutableRawBufferPointer(rebasing: raw[range]))
        }
        PGMChecksum.fill(&buffer, packetAt: range.lowerBound)
    }

    /// Sends everything appended; returns how many datagrams and bytes left, counting the rest as failures.
    /// A full socket buffer blocks briefly (sockets send in blocking mode); ENOBUFS and unreachable
    /// destinations drop the datagram, as a router would. A GSO message the kernel refuses (EIO: a device
    /// without checksum offload) turns segmentation off for `sockets` and goes out datagram by datagram.
    func flush(to sockets: InterfaceSockets) -> (sent: Int, bytes: Int, failed: Int, lastError: SystemError?) {
        let fd = sockets.sendDescriptor
        let port = sockets.udpPort ?? 0
        var sent = 0
        var bytes = 0
        var failed = 0
        var lastError: SystemError?
        buffer.withUnsafeMutableBytes { raw in
            for (index, message) in messages.enumerated() {
                names[index] = sockaddr_in(message.destination, port: port)
                iovecs[index] = iovec(
                    iov_base: raw.baseAddress! + message.range.lowerBound, iov_len: message.range.count)
                var header = msghdr()
                header.msg_name = UnsafeMutableRawPointer(names + index)
                header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                header.msg_iov = iovecs + index
                header.msg_iovlen = 1
                if message.segments > 1 {
                    let control = controls + index * controlSize
                    pgm_udp_segment_control(control, UInt16(message.segmentSize))
                    header.msg_control = control
                    header.msg_controllen = controlSize
                }
                headers[index] = pgm_mmsghdr(msg_hdr: header, msg_len: 0)
            }
            var next = 0
            while next < messages.count {
                let result = pgm_sendmmsg(fd, headers + next, UInt32(messages.count - next), 0)
                if result > 0 {
                    for index in next..<(next + Int(result)) {
                        bytes += messages[index].range.count
                        sent += messages[index].segments
                    }
                    next += Int(result)
                } else if result < 0 && errno == EINTR {
                    continue
                } else if messages[next].segments > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP) {
                    sockets.segmentsUDP = false
                    let outcome = sendSegments(
                        of: messages[next], from: UnsafeRawBufferPointer(raw), to: fd, name: names + next)
                    sent += outcome.sent
                    bytes += outcome.bytes
                    failed += messages[next].segments - outcome.sent
                    next += 1
                } else {
                    // The message at `next` failed; skip it and go on with the rest.
                    lastError = SystemError.last("sendmmsg")
                    failed += messages[next].segments
                    next += 1
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
        messages.removeAll(keepingCapacity: true)
        return (sent, bytes, failed, lastError)
    }

    /// One `sendto` per datagram of a GSO run, after the kernel refused the run.
    private func sendSegments(
        of message: Message, from raw: UnsafeRawBufferPointer, to fd: Int32, name: UnsafePointer<sockaddr_in>
    ) -> (sent: Int, bytes: Int) {
        var sent = 0
        var bytes = 0
        var offset = message.range.lowerBound
        while offset < message.range.upperBound {
            let length = min(message.segmentSize, message.range.upperBound - offset)
            let result = name.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, raw.baseAddress! + offset, length, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
            if result >= 0 {
                sent += 1
                bytes += length
            }
            offset += length
        }
        return (sent, bytes)
    }
}
