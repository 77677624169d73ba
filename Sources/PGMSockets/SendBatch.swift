internal import CPGMSystem
internal import Glibc
internal import PGMCore
internal import PGMWire

/// Transmits encoded back to back into one buffer and sent with one `sendmmsg` call.
final class SendBatch {
    let capacity: Int
    private var buffer: [UInt8] = []
    private var ranges: [Range<Int>] = []
    private var names: UnsafeMutablePointer<sockaddr_in>
    private var iovecs: UnsafeMutablePointer<iovec>
    private var headers: UnsafeMutablePointer<pgm_mmsghdr>

    init(capacity: Int = 64) {
        self.capacity = capacity
        buffer.reserveCapacity(capacity * 1600)
        names = .allocate(capacity: capacity)
        iovecs = .allocate(capacity: capacity)
        headers = .allocate(capacity: capacity)
    }

    deinit {
        names.deallocate()
        iovecs.deallocate()
        headers.deallocate()
    }

    var count: Int { ranges.count }
    var isFull: Bool { ranges.count == capacity }

    /// Encodes `transmit` for `sockets`: as UDP payload, or behind an IPv4 header in native mode.
    func append(_ transmit: Transmit, for sockets: InterfaceSockets) {
        precondition(!isFull)
        let address: IPv4Address
        switch transmit.destination {
        case .multicast(let nla), .unicast(let nla):
            if case .ipv4(let ipv4) = nla { address = ipv4 } else { address = IPv4Address(rawValue: 0) }
        }
        let start = buffer.count
        let configuration = sockets.configuration
        if let port = sockets.udpPort {
            names[ranges.count] = sockaddr_in(address, port: port)
        } else {
            var source = configuration.interface.address
            if case .ipv4(let spoofed)? = transmit.spoofedSource { source = spoofed }
            let isMulticast: Bool
            if case .multicast = transmit.destination { isMulticast = true } else { isMulticast = false }
            let length = transmit.packet.encodedLength
            // Router Alert costs four bytes; a packet that would not fit the MTU with it goes without it.
            let routerAlert = transmit.routerAlert && 24 + length <= sockets.mtu
            IPv4Header.append(
                to: &buffer, source: source, destination: address,
                ttl: transmit.ttl ?? (isMulticast ? configuration.ttl : 64), routerAlert: routerAlert,
                payloadLength: length)
            names[ranges.count] = sockaddr_in(address, port: 0)
        }
        transmit.packet.encode(into: &buffer)
        ranges.append(start..<buffer.count)
    }

    /// Sends everything appended; returns how many datagrams and bytes left, counting the rest as failures.
    /// A full socket buffer blocks briefly (sockets send in blocking mode); ENOBUFS and unreachable
    /// destinations drop the datagram, as a router would.
    func flush(to fd: Int32) -> (sent: Int, bytes: Int, failed: Int, lastError: SystemError?) {
        var sent = 0
        var bytes = 0
        var failed = 0
        var lastError: SystemError?
        buffer.withUnsafeMutableBytes { raw in
            for (index, range) in ranges.enumerated() {
                iovecs[index] = iovec(iov_base: raw.baseAddress! + range.lowerBound, iov_len: range.count)
                var header = msghdr()
                header.msg_name = UnsafeMutableRawPointer(names + index)
                header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                header.msg_iov = iovecs + index
                header.msg_iovlen = 1
                headers[index] = pgm_mmsghdr(msg_hdr: header, msg_len: 0)
            }
            var next = 0
            while next < ranges.count {
                let result = pgm_sendmmsg(fd, headers + next, UInt32(ranges.count - next), 0)
                if result > 0 {
                    for index in next..<(next + Int(result)) { bytes += ranges[index].count }
                    sent += Int(result)
                    next += Int(result)
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    // The datagram at `next` failed; skip it and go on with the rest.
                    lastError = SystemError.last("sendmmsg")
                    failed += 1
                    next += 1
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
        ranges.removeAll(keepingCapacity: true)
        return (sent, bytes, failed, lastError)
    }
}
