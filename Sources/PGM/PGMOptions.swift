public import PGMCore
internal import PGMISAL
public import PGMSockets
public import PGMWire

@_exported public import enum PGMSockets.Encapsulation
@_exported public import struct PGMWire.GSI
// What an application names without importing the layers below: the session's identifiers and addresses, and how
// packets travel.
@_exported public import struct PGMWire.IPv4Address
@_exported public import struct PGMWire.SequenceNumber
@_exported public import struct PGMWire.TSI

/// Where a session travels and how its engine is tuned: the options of `pgm-source` and `pgm-recv`, with their
/// defaults (PGMCore's `ProgramDefaults`). A ``PGMSource`` reads the network and source fields, a ``PGMReceiver`` the
/// network and receiver fields; the programs build their engines from the same value, so that an application and
/// the programs configured alike behave alike.
public struct PGMOptions: Sendable {
    // MARK: Where the session travels (both sides)

    /// The session's multicast group (`--group`).
    public var group: IPv4Address = ProgramDefaults.groupAddress
    /// The PGM data-destination port (`--port`): sources and receivers of one session agree on it.
    public var port: UInt16 = ProgramDefaults.port
    /// The interface to join and send on, by name or IPv4 address (`--interface`); nil takes the one the route to
    /// the group leaves by.
    public var interface: String?
    /// UDP (`--udp-port`, the default: no privileges needed) or native IP protocol 113 (`--native`: root or
    /// CAP_NET_RAW).
    public var encapsulation: Encapsulation = .udp(port: ProgramDefaults.udpPort)
    /// IP_MULTICAST_TTL (`--ttl`).
    public var ttl: UInt8 = ProgramDefaults.ttl
    /// Loop multicast back to this host (`--multicast-loop`): needed when a source and its receivers share a host.
    public var multicastLoop = false
    /// A key file (`--key`, Docs/key.md): every packet sent carries OPT_AUTH, and packets received without a valid
    /// tag are dropped before the engine sees them. Every host of the session needs the same file.
    public var keyFile: String?

    // MARK: Source

    /// The rate limit for data, repairs and SPMs in bits per second on the wire (`--rate`).
    public var rateBitsPerSecond = ProgramDefaults.rateBitsPerSecond
    /// The largest IP datagram, headers included (`--max-tpdu`).
    public var maxTPDU = ProgramDefaults.maxTPDU
    /// TXW_SECS (`--txw-secs`): how long sent data stays available for repairs.
    public var transmitWindow: Duration = ProgramDefaults.transmitWindow
    /// A cap on the transmit window's bytes (`--txw-bytes`); nil is ``defaultWindowCap``.
    public var transmitWindowBytes: Int?
    /// The largest message (APDU) a source accepts (`--apdu-size`); nil is what OpenPGM receivers reassemble
    /// (`ProgramDefaults.apduSize(_:)`).
    public var maximumMessageSize: Int?
    /// How long ``PGMSource/finish()`` keeps answering NAKs after the last data (`--linger`).
    public var linger: Duration = ProgramDefaults.linger
    /// Seconds between ambient SPMs (`--spm-interval`).
    public var ambientSPMInterval: Duration = ProgramDefaults.ambientSPMInterval
    /// PGMCC (`--congestion-control pgmcc`, the default) or the rate alone (`none`).
    public var congestionControl = CongestionControlMode.pgmcc
    /// Reed–Solomon parity (`--fec-group-size`, `--fec-proactive`, `--fec-on-demand`); nil for none.
    public var fec: FEC?
    /// The TSI's data-source port (`--source-port`); nil picks one at random.
    public var sourcePort: UInt16?

    // MARK: Receiver

    /// Decode the parity a source offers and NAK by count (the default), or ignore it (`--no-fec`).
    public var receiveParity = true
    /// How long a silent session lives before it is reported expired (`--peer-expiry`).
    public var peerExpiry: Duration = ProgramDefaults.peerExpiry
    /// NAK_RPT_IVL, NAK_RDATA_IVL and the NAK back-off (`--nak-rpt-ivl`, `--nak-rdata-ivl`, `--nak-bo-ivl`).
    public var nakRepeatInterval: Duration = ProgramDefaults.receiverNAKRepeatInterval
    public var nakRdataInterval: Duration = ProgramDefaults.receiverNAKRdataInterval
    public var nakBackoffInterval: Duration = ProgramDefaults.receiverNAKBackoffInterval
    /// The most NAK packets a second per session (`--nak-rate`); 0 is no limit.
    public var nakRate = Receiver.NAKRateLimit.standard.packetsPerSecond
    /// Receiver events buffered for an application that has not taken them yet. When it is full the receiver
    /// stops reading its sockets until the application catches up (see ``PGMReceiver``).
    public var eventBufferCapacity = 1024

    public init() {}

    /// The options of a session on `group`, otherwise the defaults.
    public init(group: IPv4Address, port: UInt16 = ProgramDefaults.port) {
        self.group = group
        self.port = port
    }

    /// `--congestion-control`: PGMCC (PGMCore's `CongestionControl`) or the rate alone.
    public enum CongestionControlMode: String, CaseIterable, Sendable {
        case pgmcc
        case none
    }

    /// FEC as RFC 3208 Appendix A has it: parity over transmission groups of ``groupSize`` packets.
    public struct FEC: Hashable, Sendable {
        /// k: data packets per group, a power of two 2...128.
        public var groupSize: Int
        /// Parity packets sent after every group, so receivers repair that many losses without a NAK.
        public var proactive: Int
        /// Answer parity NAKs with parity repairs.
        public var onDemand: Bool

        public init(groupSize: Int = Source.Parity.defaultGroupSize, proactive: Int = 0, onDemand: Bool = true) {
            self.groupSize = groupSize
            self.proactive = proactive
            self.onDemand = onDemand
        }
    }

    /// The transmit window's byte cap when ``transmitWindowBytes`` is nil: a window of seconds at a fast rate would
    /// otherwise hold gigabytes (4 s at 10 Gbit/s is 5 GB) on a host that has them or not. RFC 3208 leaves
    /// TXW_SECS and the window's size to the implementation (Appendix F).
    public static let defaultWindowCap = 256 << 20

    /// Bytes the transmit window holds: ``transmitWindow`` at the rate, up to the cap.
    public var windowBytes: Int { min(windowBytesBySeconds, transmitWindowBytes ?? Self.defaultWindowCap) }

    /// ``transmitWindow`` at the rate, without the cap.
    package var windowBytesBySeconds: Int {
        // To the attosecond, not the nanosecond: `--txw-secs 0.3` makes the same window as 0.3 × rate always did.
        let (seconds, attoseconds) = transmitWindow.components
        return Int((Double(seconds) + Double(attoseconds) * 1e-18) * Double(rateBytesPerSecond))
    }

    package var rateBytesPerSecond: Int { max(1, rateBitsPerSecond / 8) }

    package var isNative: Bool { encapsulation == .native }

    /// Bytes that signing with ``keyFile`` adds to a packet, which a source leaves room for and its rate counts.
    package var signingOverhead: Int { keyFile == nil ? 0 : PacketAuthentication.maximumOverhead }
}

// MARK: - One way to put an engine on sockets (shared with the programs)

extension PGMOptions {
    /// The source engine's configuration for this session and address: what pgm-source and ``PGMSource`` run.
    package func sourceConfiguration(tsi: TSI, sourceAddress: IPv4Address) -> Source.Configuration {
        var configuration = Source.Configuration(
            tsi: tsi, dataDestinationPort: port, group: .ipv4(group), sourceAddress: .ipv4(sourceAddress))
        configuration.maxTPDU = maxTPDU
        configuration.transport = ProgramDefaults.transport(native: isNative)
        configuration.transport.headerOverhead += signingOverhead  // room for OPT_AUTH, counted by the rate
        configuration.rate = rateBytesPerSecond
        // 2 ms of credit: a sleeping poll loop wakes tens of microseconds late (timer slack), so a bucket of a
        // few packets would cap a fast link far below the rate.
        configuration.burst = max(configuration.burst, rateBytesPerSecond / 500)
        configuration.txwSeconds = transmitWindow
        configuration.ambientSPMInterval = ambientSPMInterval
        configuration.openingSPMs = ProgramDefaults.openingSPMs
        configuration.txwMaxBytes = windowBytes
        // Before the APDU size: OPT_PGMCC_DATA takes room in every TPDU.
        if congestionControl == .pgmcc { configuration.congestionControl = CongestionControl.Configuration() }
        configuration.parity = fec.map {
            Source.Parity(
                groupSize: $0.groupSize, proactive: $0.proactive, onDemand: $0.onDemand,
                kernel: ProgramDefaults.galoisKernel)
        }
        let apduSize = maximumMessageSize ?? ProgramDefaults.apduSize(configuration)
        configuration.maximumAPDUSize = apduSize
        configuration.maximumQueuedBytes = max(1 << 20, 4 * apduSize)
        return configuration
    }

    /// The receiver engine's configuration, for a receiver on `address`: what pgm-recv and ``PGMReceiver`` run.
    package func receiverConfiguration(address: IPv4Address, seed: UInt64) -> Receiver.Configuration {
        var configuration = Receiver.Configuration(dataDestinationPort: port, group: .ipv4(group))
        configuration.seed = seed
        configuration.address = .ipv4(address)
        configuration.nakRepeatInterval = nakRepeatInterval
        configuration.nakRdataInterval = nakRdataInterval
        configuration.nakBackoffInterval = nakBackoffInterval
        configuration.peerExpiry = peerExpiry
        configuration.useParity = receiveParity
        configuration.parityKernel = ProgramDefaults.galoisKernel
        configuration.nakRateLimit =
            nakRate > 0 ? Receiver.NAKRateLimit(packetsPerSecond: nakRate, burst: max(1, nakRate / 5)) : nil
        return configuration
    }

    /// A new session on `address`: the GSI is the address and 16 random bits, as OpenPGM's
    /// `pgm_gsi_create_from_addr` makes it, the data-source port ``sourcePort`` or random (at least 1024); `seed`
    /// seeds the engine.
    package func makeSession(address: IPv4Address) -> (tsi: TSI, seed: UInt64) {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let gsi = GSI(rawValue: UInt64(address.rawValue) << 16 | (random & 0xFFFF))
        let tsi = TSI(gsi: gsi, sourcePort: sourcePort ?? UInt16(truncatingIfNeeded: random >> 16 | 0x400))
        return (tsi, random >> 32)
    }

    /// The interface ``interface`` names, or the one the route to the group leaves by, checked to be up and to do
    /// multicast. Throws `NetworkConfigurationError` or `SystemError`.
    package func resolveInterface() throws -> NetworkInterface {
        let found: NetworkInterface
        if let interface {
            found = try NetworkInterface.named(interface)
        } else {
            found = try NetworkInterface.route(to: group)
        }
        try found.checkUsable()
        return found
    }

    /// A source's sockets: unicast for NAKs and SPMRs on the interface address, no group membership; natively,
    /// only what a source answers (not its own data, which its raw socket sees too).
    package func openSourceSockets(on interface: NetworkInterface) throws -> InterfaceSockets {
        try openSockets(on: interface, joinGroup: false, listenUnicast: true, nativeTypes: [.nak, .nnak, .spmr, .ack])
    }

    /// A receiver's sockets: the group joined. Natively a plain receiver reads downstream packets, SPMRs and NAKs
    /// multicast by other receivers (which suppress its own) and POLLs (which it answers); a DLR also repairs NAKs
    /// sent to it, so it listens for unicast and reads everything.
    package func openReceiverSockets(on interface: NetworkInterface, repairer: Bool = false) throws
        -> InterfaceSockets
    {
        try openSockets(
            on: interface, joinGroup: true, listenUnicast: repairer,
            nativeTypes: repairer ? nil : [.spm, .odata, .rdata, .ncf, .spmr, .nak, .poll])
    }

    /// A host that is source and receiver at once (a group member): the group joined, unicast NAKs and SPMRs
    /// taken, every packet type read. With UDP encapsulation the unicast socket holds the interface address and UDP
    /// port alone, so one such host per address and port: members sharing a host need their own addresses (network
    /// namespaces), or native PGM.
    package func openMemberSockets(on interface: NetworkInterface) throws -> InterfaceSockets {
        try openSockets(on: interface, joinGroup: true, listenUnicast: true, nativeTypes: nil)
    }

    /// The socket set of an end host on its one interface.
    package func openSockets(
        on interface: NetworkInterface, joinGroup: Bool, listenUnicast: Bool, nativeTypes: [PacketType]?
    ) throws -> InterfaceSockets {
        try InterfaceSockets(
            InterfaceSockets.Configuration(
                interface: interface, group: group, encapsulation: encapsulation, ttl: ttl,
                multicastLoop: multicastLoop, joinGroup: joinGroup, listenUnicast: listenUnicast,
                nativeTypes: nativeTypes))
    }
}

extension ProgramDefaults {
    /// The Reed–Solomon region multiply the programs and the library give their engines' FEC: ISA-L's, 3.2-3.5
    /// times the portable Swift kernel's speed on this machine's AVX-512 (`Tools/fec-benchmark`; the Swift kernel
    /// stays the engines' default, and the simulator's).
    package static var galoisKernel: any GaloisRegionKernel { ISALGaloisKernel() }
}
