internal import CPGMSystem
internal import Glibc
internal import PGMWire

/// Buffers for one `recvmmsg` call, allocated once per driver and reused for every batch; and reads of one
/// datagram or coalesced run into an array of its own (``receiveOwned(from:)``).
final class ReceiveBatch {
    let capacity: Int
    let bufferSize: Int
    private let buffers: UnsafeMutableRawPointer
    private let names: UnsafeMutablePointer<sockaddr_in>
    private let iovecs: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutablePointer<pgm_mmsghdr>
    private let controls: UnsafeMutableRawPointer
    private static let controlSize = 64
    private(set) var count = 0

    /// 64 KiB per buffer: the largest datagram, so nothing is truncated whatever the MTU.
    init(capacity: Int = 32, bufferSize: Int = 65536) {
        self.capacity = capacity
        self.bufferSize = bufferSize
        buffers = .allocate(byteCount: capacity * bufferSize, alignment: 16)
        names = .allocate(capacity: capacity)
        iovecs = .allocate(capacity: capacity)
        headers = .allocate(capacity: capacity)
        controls = .allocate(byteCount: capacity * Self.controlSize, alignment: 16)
        for index in 0..<capacity {
            iovecs[index] = iovec(iov_base: buffers + index * bufferSize, iov_len: bufferSize)
            var header = msghdr()
            header.msg_name = UnsafeMutableRawPointer(names + index)
            header.msg_iov = iovecs + index
            header.msg_iovlen = 1
            header.msg_control = controls + index * Self.controlSize
            headers[index] = pgm_mmsghdr(msg_hdr: header, msg_len: 0)
        }
    }

    deinit {
        buffers.deallocate()
        names.deallocate()
        iovecs.deallocate()
        headers.deallocate()
        controls.deallocate()
    }

    /// Reads up to ``capacity`` datagrams without blocking; 0 when none is waiting.
    func receive(from fd: Int32) throws(SystemError) -> Int {
        // The kernel shortens the name and control lengths to what it wrote: give them their room back.
        for index in 0..<capacity {
            headers[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            headers[index].msg_hdr.msg_controllen = Self.controlSize
        }
        while true {
            let received = pgm_recvmmsg(fd, headers, UInt32(capacity), Int32(MSG_DONTWAIT))
            if received >= 0 {
                count = Int(received)
                return count
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: count = 0; return 0
            // A pending ICMP error on the socket; the datagrams behind it are still there.
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: continue
            default: throw SystemError.last("recvmmsg")
            }
        }
    }

    /// The bytes of datagram `index` of the last batch.
    func bytes(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffers + index * bufferSize, count: Int(headers[index].msg_len))
    }

    /// The datagram did not fit its buffer.
    func isTruncated(_ index: Int) -> Bool { headers[index].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0 }

    /// The sender's address (for raw sockets the port is 0).
    func source(_ index: Int) -> IPv4Address { names[index].ipv4Address }

    /// IP_PKTINFO and UDP_GRO of datagram `index` of the last batch.
    func ancillary(_ index: Int) -> Ancillary {
        let header = headers[index].msg_hdr
        return Ancillary(UnsafeRawBufferPointer(start: header.msg_control, count: Int(header.msg_controllen)))
    }

    /// Reads one datagram, or one coalesced run (UDP_GRO), into a new array of its own, without blocking:
    /// the packets decoded from it are slices of that array, so nothing is copied after the kernel's copy.
    /// Nil when none is waiting.
    func receiveOwned(from fd: Int32) throws(SystemError) -> OwnedDatagram? {
        var name = sockaddr_in()
        var result = 0
        var flags: Int32 = 0
        var controlLength = 0
        let control = controls
        let size = bufferSize
        while true {
            let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                var vector = iovec(iov_base: buffer.baseAddress, iov_len: size)
                withUnsafeMutablePointer(to: &vector) { vector in
                    withUnsafeMutablePointer(to: &name) { name in
                        var header = msghdr()
                        header.msg_name = UnsafeMutableRawPointer(name)
                        header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                        header.msg_iov = vector
                        header.msg_iovlen = 1
                        header.msg_control = control
                        header.msg_controllen = Self.controlSize
                        result = recvmsg(fd, &header, Int32(MSG_DONTWAIT))
                        flags = header.msg_flags
                        controlLength = Int(header.msg_controllen)
                    }
                }
                initialized = max(0, result)
            }
            if result >= 0 {
                return OwnedDatagram(
                    bytes: bytes, source: name.ipv4Address,
                    ancillary: Ancillary(UnsafeRawBufferPointer(start: control, count: controlLength)),
                    isTruncated: flags & Int32(MSG_TRUNC) != 0)
            }
            switch errno {
            case EINTR, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw SystemError.last("recvmsg")
            }
        }
    }
}

/// A datagram read by ``ReceiveBatch/receiveOwned(from:)``.
struct OwnedDatagram {
    var bytes: [UInt8]
    var source: IPv4Address
    var ancillary: ReceiveBatch.Ancillary
    var isTruncated: Bool
}

extension ReceiveBatch {
    /// What the control messages of one datagram said.
    struct Ancillary {
        /// IP_PKTINFO: the arrival interface index and the header's destination address.
        var packetInfo: (interfaceIndex: Int32, destination: IPv4Address)?
        /// UDP_GRO: the datagrams of a coalesced run are this long (the last may be shorter).
        var segmentSize: Int?

        init(_ control: UnsafeRawBufferPointer) {
            // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then data, 8-byte aligned.
            let headerSize = MemoryLayout<Int>.size + 8
            var offset = 0
            while offset + headerSize <= control.count {
                let length = control.loadUnaligned(fromByteOffset: offset, as: Int.self)
                let level = control.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
                let type = control.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
                guard length >= headerSize, offset + length <= control.count else { return }
                if level == ipLevel && type == IP_PKTINFO && length >= headerSize + MemoryLayout<in_pktinfo>.size {
                    let info = control.loadUnaligned(fromByteOffset: offset + headerSize, as: in_pktinfo.self)
                    packetInfo = (info.ipi_ifindex, IPv4Address(rawValue: UInt32(bigEndian: info.ipi_addr.s_addr)))
                } else if level == udpLevel && type == udpGRO && length >= headerSize + 4 {
                    let size = Int(control.loadUnaligned(fromByteOffset: offset + headerSize, as: Int32.self))
                    if size > 0 { segmentSize = size }
                }
                offset += (length + 7) & ~7
            }
        }
    }
}
