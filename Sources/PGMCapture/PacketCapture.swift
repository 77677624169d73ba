internal import CPcap
internal import Glibc
internal import Synchronization

/// The live capture SIGINT/SIGTERM interrupt, as the address of its `pcap_t` (0: none). A global because a C
/// signal handler cannot capture context; only ``PacketCapture/interruptibleOnSignals(_:)`` sets it.
private let interruptibleHandle = Atomic<UInt>(0)

/// The one type that talks to libpcap: opens a capture file (pcap or pcapng, `-` for stdin) or an interface,
/// applies a BPF filter, hands out frames, and optionally saves them (`pcap_dump`).
///
/// Not `Sendable`: a capture belongs to the thread that reads it. A live capture is stopped by SIGINT/SIGTERM inside
/// ``interruptibleOnSignals(_:)``: libpcap's read loop does not return on its timeout, so the handler calls
/// `pcap_breakloop` (async-signal-safe: it sets a flag and writes to an eventfd).
public final class PacketCapture {
    private let handle: OpaquePointer
    private var dumper: OpaquePointer?
    public let linkType: LinkType
    public let isLive: Bool

    /// How long a live read may wait in the kernel before libpcap looks again.
    public static let liveReadTimeoutMilliseconds: Int32 = 100

    /// Opens a capture file; `-` reads standard input. Timestamps keep nanosecond precision when the file has it.
    public init(file path: String) throws(CaptureError) {
        if path != "-" && access(path, R_OK) != 0 {
            throw .cannotOpenFile(path: path, reason: String(cString: strerror(errno)))
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard
            let handle = pcap_open_offline_with_tstamp_precision(
                path,
                UInt32(PCAP_TSTAMP_PRECISION_NANO),
                &errorBuffer
            )
        else {
            throw .corruptFile(path: path, reason: Self.string(errorBuffer))
        }
        self.handle = handle
        self.linkType = LinkType(rawValue: pcap_datalink(handle))
        self.isLive = false
    }

    /// Opens `interface` for live capture. Immediate mode, so each packet is printed as it arrives.
    public init(
        interface: String,
        promiscuous: Bool = true,
        snapshotLength: Int32 = 262_144,
        bufferSize: Int32? = nil
    ) throws(CaptureError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw .interfaceUnavailable(interface: interface, reason: Self.string(errorBuffer))
        }
        pcap_set_snaplen(handle, snapshotLength)
        pcap_set_promisc(handle, promiscuous ? 1 : 0)
        pcap_set_timeout(handle, Self.liveReadTimeoutMilliseconds)
        pcap_set_immediate_mode(handle, 1)
        pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))
        if let bufferSize { pcap_set_buffer_size(handle, bufferSize) }
        let status = pcap_activate(handle)
        if status < 0 {
            let reason = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            switch status {
            case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
                throw .permissionDenied(interface: interface, reason: reason)
            case PCAP_ERROR_NO_SUCH_DEVICE, PCAP_ERROR_IFACE_NOT_UP:
                throw .interfaceUnavailable(interface: interface, reason: reason)
            default:
                throw .captureFailed(reason: "\(interface): \(reason)")
            }
        }
        self.handle = handle
        self.linkType = LinkType(rawValue: pcap_datalink(handle))
        self.isLive = true
    }

    deinit {
        if let dumper { pcap_dump_close(dumper) }
        pcap_close(handle)
    }

    /// Compiles and installs a BPF filter (tcpdump's expression syntax, `man pcap-filter`).
    public func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .badFilter(expression: expression, reason: String(cString: pcap_geterr(handle)))
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw .badFilter(expression: expression, reason: String(cString: pcap_geterr(handle)))
        }
    }

    /// Saves every frame ``next(_:)`` returns to a pcap file (same link type and snapshot length).
    public func saveFrames(to path: String) throws(CaptureError) {
        guard let dumper = pcap_dump_open(handle, path) else {
            throw .cannotWriteFile(path: path, reason: String(cString: pcap_geterr(handle)))
        }
        self.dumper = dumper
    }

    public enum ReadResult {
        case frame
        /// Live capture only: nothing arrived within the read timeout.
        case timeout
        case endOfFile
    }

    /// Reads one frame and calls `body` with its captured bytes, timestamp and length on the wire.
    /// A truncated or corrupt file throws ``CaptureError/corruptFile(path:reason:)`` after the frames before it.
    public func next(_ body: (UnsafeRawBufferPointer, CaptureTimestamp, Int) -> Void) throws(CaptureError) -> ReadResult
    {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        switch status {
        case 1:
            guard let header, let data else { return .timeout }
            let pointer = header.pointee
            if let dumper {
                pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), header, data)
            }
            // With PCAP_TSTAMP_PRECISION_NANO, tv_usec holds nanoseconds.
            let timestamp = CaptureTimestamp(
                seconds: Int64(pointer.ts.tv_sec),
                nanoseconds: Int32(truncatingIfNeeded: pointer.ts.tv_usec)
            )
            body(UnsafeRawBufferPointer(start: data, count: Int(pointer.caplen)), timestamp, Int(pointer.len))
            return .frame
        case 0:
            return .timeout
        case PCAP_ERROR_BREAK:
            return .endOfFile
        default:
            let reason = String(cString: pcap_geterr(handle))
            if isLive { throw .captureFailed(reason: reason) }
            throw .corruptFile(path: nil, reason: reason)
        }
    }

    /// Runs `body` with SIGINT and SIGTERM ending the current and every later ``next(_:)`` with
    /// ``ReadResult/endOfFile``, then puts the previous signal dispositions back. Files just run `body`.
    public func interruptibleOnSignals<T>(_ body: () -> T) -> T {
        guard isLive else { return body() }
        interruptibleHandle.store(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))), ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            let address = interruptibleHandle.load(ordering: .acquiring)
            if let handle = OpaquePointer(bitPattern: address) { pcap_breakloop(handle) }
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var previousInterrupt = sigaction()
        var previousTerminate = sigaction()
        sigaction(SIGINT, &action, &previousInterrupt)
        sigaction(SIGTERM, &action, &previousTerminate)
        // A parent may have started us with these signals blocked (some process launchers pass their threads'
        // masks on); a stop request must get through.
        var stopSignals = sigset_t()
        var previousMask = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, &previousMask)
        defer {
            pthread_sigmask(SIG_SETMASK, &previousMask, nil)
            sigaction(SIGINT, &previousInterrupt, nil)
            sigaction(SIGTERM, &previousTerminate, nil)
            interruptibleHandle.store(0, ordering: .releasing)
        }
        return body()
    }

    /// Flushes saved frames to disk (the dump file is also flushed and closed when the capture is released).
    public func flushSavedFrames() {
        if let dumper { pcap_dump_flush(dumper) }
    }

    /// Kernel counters of a live capture: frames received by the filter and dropped for lack of buffer space.
    public var liveStatistics: (received: UInt32, dropped: UInt32)? {
        guard isLive else { return nil }
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        return (stats.ps_recv, stats.ps_drop)
    }

    /// The filter used when none is given: native PGM, UDP on the configured ports, and IPv4/IPv6 fragments
    /// (so they can be reported), also inside one VLAN tag. IPv6 PGM behind extension headers other than a
    /// fragment header needs an explicit filter (`ip6`), because `ip6 proto` does not follow the header chain.
    public static func defaultFilter(udpPorts: [UInt16]) -> String {
        let clauses =
            ["ip proto 113", "ip6 proto 113"] + udpPorts.map { "udp port \($0)" } + [
                "(ip[6:2] & 0x3fff != 0)", "ip6 proto 44",
            ]
        let any = clauses.joined(separator: " or ")
        return "\(any) or (vlan and (\(any)))"
    }

    private static func string(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Why a capture could not be opened or read; the command maps each case to an exit code.
public enum CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    case cannotOpenFile(path: String, reason: String)
    /// Not a pcap/pcapng file, or cut short or damaged (libpcap's message says which).
    case corruptFile(path: String?, reason: String)
    case cannotWriteFile(path: String, reason: String)
    case interfaceUnavailable(interface: String, reason: String)
    case permissionDenied(interface: String, reason: String)
    case badFilter(expression: String, reason: String)
    case captureFailed(reason: String)

    public var description: String {
        switch self {
        case .cannotOpenFile(let path, let reason): "cannot open \(path): \(reason)"
        case .corruptFile(let path?, let reason): "corrupt or truncated capture \(path): \(reason)"
        case .corruptFile(nil, let reason): "corrupt or truncated capture: \(reason)"
        case .cannotWriteFile(let path, let reason): "cannot write \(path): \(reason)"
        case .interfaceUnavailable(let interface, let reason): "interface \(interface) unavailable: \(reason)"
        case .permissionDenied(let interface, let reason):
            "no permission to capture on \(interface) (needs root or CAP_NET_RAW): \(reason)"
        case .badFilter(let expression, let reason): "bad filter '\(expression)': \(reason)"
        case .captureFailed(let reason): "capture failed: \(reason)"
        }
    }
}
