public import PGMWire

extension Source {
    /// Everything a source needs to know up front. Defaults follow OpenPGM's bundled examples (Docs/timers.md),
    /// since RFC 3208 names its timers but gives almost no values.
    public struct Configuration: Sendable {
        /// The session: our GSI and data-source port.
        public var tsi: TSI
        /// The application's well-known port (DPORT on downstream packets).
        public var dataDestinationPort: UInt16
        /// The multicast group ODATA, RDATA, SPM and NCF go to; NAKs must name it in NAK_GRP.
        public var group: NLA
        /// Our unicast NLA: SPM_PATH, and what NAK_SRC must equal.
        public var sourceAddress: NLA
        /// The largest IP datagram, IP header included (OpenPGM: 1500).
        public var maxTPDU: Int = 1500
        /// What carries the packets: the bytes below PGM that the rate limiter counts and ``maxTPDU`` must leave
        /// room for (``TransportProfile/nativeIPv4`` or ``TransportProfile/udpIPv4``).
        public var transport: TransportProfile = .nativeIPv4
        /// ``TransportProfile/headerOverhead`` of ``transport``, for callers that set it alone.
        public var headerOverhead: Int {
            get { transport.headerOverhead }
            set { transport.headerOverhead = newValue }
        }
        /// ``TransportProfile/routerAlertOverhead`` of ``transport``, for callers that set it alone.
        public var routerAlertOverhead: Int {
            get { transport.routerAlertOverhead }
            set { transport.routerAlertOverhead = newValue }
        }
        /// TXW_MAX_RTE in bytes per second on the wire, shared by ODATA, RDATA and SPM (OpenPGM example:
        /// 400,000 B/s including IP headers).
        public var rate: Int = 400_000
        /// The token bucket depth: how many bytes may leave back to back after an idle period.
        public var burst: Int = 16 * 1500
        /// TXW_SECS: data older than this leaves the window (RFC 3208 Appendix F, "advance with time").
        public var txwSeconds: Duration = .seconds(30)
        /// TXW_BYTES bound: when the window's payload bytes exceed this, the oldest data leaves it
        /// ("advance with data", OpenPGM's fixed ring). The trail follows whichever bound bites first.
        public var txwMaxBytes: Int = 16 << 20
        /// The largest APDU ``Source/send(_:at:)`` accepts; larger ones are split with OPT_FRAGMENT.
        public var maximumAPDUSize: Int = 64 << 10
        /// Bytes of queued, unsent APDUs before ``Source/send(_:at:)`` pushes back with `queueFull`.
        public var maximumQueuedBytes: Int = 1 << 20
        /// SPMs sent back to back when the session opens, before the first ODATA. A receiver may not NAK before
        /// it has an SPM (RFC 3208 §6.2), and an OpenPGM receiver declares every gap before its first SPM lost,
        /// then may stop delivering for good: more than one keeps a single lost SPM from costing the session.
        public var openingSPMs = 1
        /// Ambient SPMs (RFC 3208 §5.1.4): sent on this interval whether or not data flows, so that new
        /// receivers and network elements learn the path and window (OpenPGM example: 30 s).
        public var ambientSPMInterval: Duration = .seconds(30)
        /// Heartbeat SPMs (RFC 3208 §5.1.5, IHB_MIN ... IHB_MAX): restarted from the first entry after every
        /// ODATA or RDATA, so a lost tail is noticed quickly. OpenPGM's list.
        public var heartbeatIntervals: [Duration] = [
            .milliseconds(100), .milliseconds(100), .milliseconds(100), .milliseconds(100),
            .milliseconds(1300), .seconds(7), .seconds(16), .seconds(25), .seconds(30),
        ]
        /// How far back OPT_JOIN lets late joiners recover (RFC 3208 §9.3.1), in sequence numbers, capped by
        /// the window; `nil` sends no OPT_JOIN, so late joiners start at the first packet they see.
        public var joinHistory: UInt32?
        /// Answer at most one SPMR per interval (RFC 3208 §13.4: "no more than once per IHB_MIN").
        public var spmrHoldOff: Duration = .milliseconds(100)
        /// A NAK for a sequence repaired this recently is repaired once more when the hold-off ends, not at once:
        /// NAKs that crossed the repair on their way arrive right behind it, and however many come, they cost one
        /// more RDATA (RFC 3208 §5.3 still holds: every NAK for data in the window is repaired). Short, because a
        /// network element asks again within a few round trips when the repair it was waiting for was lost.
        public var repairHoldOff: Duration = .milliseconds(20)
        /// The most a repair waits after its first NAK for the rest of the loss neighbourhood's NAKs (RFC 3208
        /// §5.3 MAY). The wait itself is how far behind the first NAK duplicates have lately arrived (receivers
        /// whose back-off ended before the NCF reached them), decaying when none come: nothing on a network
        /// whose elements eliminate duplicates, about a round trip on a crowded LAN. 0 sends RDATA at once.
        public var maximumRepairDelay: Duration = .milliseconds(10)
        /// NAK_BO_IVL tuning for the receivers below the source (RFC 3208 §15.2.1): doubled on the first duplicate
        /// NAK of a repair, halved after NAK_PROBE_NUM repairs without one, advertised in OPT_NAK_BO_IVL on NCFs
        /// and SPMs, with the range in OPT_NAK_BO_RNG on SPMs, and never under four times how far behind a
        /// repair's first NAK other receivers' NAKs have lately come (``Source/advertisedNAKBackoff``). Network
        /// elements replace it with their own on the SPMs they forward. `nil` advertises nothing (receivers keep
        /// their configured NAK_BO_IVL).
        public var backoffTuning: NAKBackoffTuning? = NAKBackoffTuning()
        /// The first ODATA sequence number; `nil` draws one from ``seed``. Tests start near 2³² to cross
        /// the wrap.
        public var initialSequence: SequenceNumber?
        /// Ask receivers for their loss rate with OPT_CRQST on every SPM (RFC 3208 Appendix B); they answer with
        /// OPT_CR on their NAKs, which network elements aggregate to the worst one.
        public var requestCongestionReports = true
        /// How long the worst report stands before any newer report replaces it (a receiver that recovered, or
        /// left, stops being the worst).
        public var congestionReportLifetime: Duration = .seconds(10)
        public var seed: UInt64 = 0
        /// PGMCC (``CongestionControl``): OPT_PGMCC_DATA on every ODATA and RDATA, and a window clocked by the
        /// acker's ACKs under the rate, which stays the ceiling. `nil`: the rate alone decides, and no packet
        /// carries a PGMCC option.
        public var congestionControl: CongestionControl.Configuration?
        /// FEC (RFC 3208 Appendix A): transmission groups advertised in OPT_PARITY_PRM on every SPM, proactive
        /// parity after each group, on-demand parity in answer to parity NAKs. `nil`: no parity, and parity NAKs
        /// are counted and dropped.
        public var parity: Parity?

        /// IPv4 (20) plus UDP (8): ``TransportProfile/udpIPv4``'s header overhead.
        public static let udpHeaderOverhead = TransportProfile.udpIPv4.headerOverhead

        public init(tsi: TSI, dataDestinationPort: UInt16, group: NLA, sourceAddress: NLA) {
            self.tsi = tsi
            self.dataDestinationPort = dataDestinationPort
            self.group = group
            self.sourceAddress = sourceAddress
        }
    }

    /// The source's FEC (RFC 3208 Appendix A): Reed–Solomon parity over transmission groups of ``groupSize``
    /// packets, compatible with OpenPGM's code.
    public struct Parity: Sendable {
        /// k, TGSIZE: data packets per transmission group, a power of two 2 ... 128.
        public var groupSize: Int
        /// h: parity packets sent as ODATA after each complete group (RFC 3208 §11.4 "pro-active parity"); 0 for
        /// none. At most 255 − k.
        public var proactive: Int
        /// Answer parity NAKs with parity RDATA (§11.4 "on-demand parity"), and say so in OPT_PARITY_PRM so
        /// receivers ask by count instead of by sequence.
        public var onDemand: Bool
        /// The region multiply of the Reed–Solomon code: ``SwiftGaloisKernel`` here; the programs inject a
        /// faster native one.
        public var kernel: any GaloisRegionKernel

        public init(
            groupSize: Int = 16, proactive: Int = 0, onDemand: Bool = true,
            kernel: any GaloisRegionKernel = SwiftGaloisKernel()
        ) {
            self.groupSize = groupSize
            self.proactive = proactive
            self.onDemand = onDemand
            self.kernel = kernel
        }

        /// The transmission-group arithmetic for ``groupSize``, `nil` if it is not a valid size.
        public var groups: TransmissionGroups? { TransmissionGroups(size: groupSize) }

        /// k when FEC is on and no group size is given.
        public static let defaultGroupSize = 16

        /// FEC as pgm-source's options ask for it (`--fec-group-size`, `--fec-proactive`, `--fec-on-demand`), `nil`
        /// when none is given: a group size alone means on-demand parity, proactive parity alone (N > 0) only
        /// proactive parity. The lab's simulator reads a topology's source arguments the same way.
        public init?(
            groupSize: Int?, proactive: Int?, onDemand: Bool, kernel: any GaloisRegionKernel = SwiftGaloisKernel()
        ) {
            guard groupSize != nil || proactive != nil || onDemand else { return nil }
            self.init(
                groupSize: groupSize ?? Self.defaultGroupSize, proactive: proactive ?? 0,
                onDemand: onDemand || (proactive ?? 0) == 0, kernel: kernel)
        }
    }

    /// A configuration ``Source/init(configuration:at:)`` would refuse (it traps on one, as on any misuse).
    public typealias ConfigurationError = PGMCore.ConfigurationError

    /// Local API misuse the caller can act on; network input never throws.
    public enum SendError: Error, Hashable, Sendable {
        /// The unsent queue is full: retry after ``Source/queuedBytesAvailable`` has room (it grows as ODATA
        /// leaves under the rate limit, i.e. once ``Source/pollTransmit(at:)`` has sent more).
        case queueFull(available: Int)
        /// Larger than ``Configuration/maximumAPDUSize``.
        case apduTooLarge(size: Int, maximum: Int)
        /// ``Source/close(at:)`` was called.
        case closed
    }

    /// What the application may want to know; drained with ``Source/pollEvent()``.
    public enum Event: Hashable, Sendable {
        /// A valid NAK asked for these in-window sequence numbers (an NCF has been queued).
        case nakReceived(sequences: [SequenceNumber], from: NLA)
        /// A NAK named only sequences outside the transmit window: counted, not answered.
        case nakOutsideWindow(sequence: SequenceNumber, from: NLA)
        /// After ``Source/close(at:)``: all data was sent and has left the window; no more packets follow.
        case finished
        /// The worst receiver's loss rate (0…1) as OPT_CR reports it (RFC 3208 Appendix B) changed.
        case worstReceiver(lossRate: Double, address: NLA)
        /// PGMCC elected this receiver as acker (first election, a worse receiver, or after the acker fell silent).
        case ackerElected(NLA)
        /// The acker fell silent and no other receiver is known: the source asks for an election again.
        case ackerLost(NLA)
        /// Nobody answered PGMCC's election: the source runs at its rate without congestion control.
        case noAcker
    }

    /// Counters named after the RFC 3208 / PGM MIB ideas they count.
    public struct Statistics: Hashable, Sendable {
        public var apdusQueued = 0
        public var odataSent = 0
        public var rdataSent = 0
        /// NAKs carrying OPT_CR with a receiver's loss report.
        public var congestionReports = 0
        /// The worst reported receiver loss (0xFFFF = 100 %) and who reported it, from OPT_CR.
        public var worstReceiverLoss: UInt16?
        public var worstReceiver: NLA?
        public var spmSent = 0
        public var ncfSent = 0
        /// Bytes on the wire (with ``Configuration/transport``'s overheads) of every packet sent.
        public var bytesSent = 0
        public var naksReceived = 0
        /// Sequence numbers named by valid NAKs (OPT_NAK_LIST entries included).
        public var nakSequencesReceived = 0
        /// NAKed sequences already queued (or deferred): the queued RDATA answers them.
        public var nakSequencesIgnored = 0
        /// NAKed sequences repaired within ``Configuration/repairHoldOff``: repaired again when it ends.
        public var nakSequencesDeferred = 0
        /// Repairs held back for the loss neighbourhood's NAKs (``Configuration/maximumRepairDelay``).
        public var repairsDelayed = 0
        /// NAK_BO_IVL doublings and halvings (RFC 3208 §15.2.1).
        public var nakBackoffIncreases = 0
        public var nakBackoffDecreases = 0
        public var naksOutsideWindow = 0
        /// NAKs whose NAK_SRC or NAK_GRP is not ours, or parity NAKs when this source offers no on-demand parity.
        public var naksMisaddressed = 0
        /// FEC (``Configuration/parity``): transmission groups completed, proactive parity ODATA and on-demand
        /// parity RDATA sent, parity NAKs received and the parity packets they asked for (after consolidation,
        /// RFC 3208 §11.4: only what raises a group's pending count), and parity asked for but impossible (the
        /// group's data had left the window, or the group was still open).
        public var groupsCompleted = 0
        public var proactiveParitySent = 0
        public var onDemandParitySent = 0
        public var parityNAKsReceived = 0
        public var parityPacketsRequested = 0
        public var parityUnavailable = 0
        public var nnaksReceived = 0
        public var spmrReceived = 0
        public var spmrRateLimited = 0
        /// Foreign packets: another session, or types a source does not take.
        public var packetsDiscarded = 0
        /// Events dropped because the application did not drain ``Source/pollEvent()``.
        public var eventsDropped = 0
        /// Sequences that left the window (TXW_TRAIL advanced past them).
        public var sequencesExpired = 0
    }
}

extension Source.Configuration {
    /// The largest APDU a source takes: reassembly state for more is what OpenPGM and our receiver refuse
    /// (``Receiver/Configuration/maximumAPDUSize``), and the queue must hold a whole one.
    public static let maximumAPDUSizeLimit = 1 << 20

    /// Checks what ``Source/init(configuration:at:)`` requires, with a sentence for the user, so that a program
    /// can refuse bad options instead of trapping.
    public func validate() throws(ConfigurationError) {
        func require(_ condition: Bool, _ reason: String) throws(ConfigurationError) {
            if !condition { throw ConfigurationError(reason) }
        }
        try require(
            maximumAPDUSize > 0 && maximumAPDUSize <= Self.maximumAPDUSizeLimit,
            "the largest APDU must be 1 byte ... 1 MiB (\(Self.maximumAPDUSizeLimit) bytes), not \(maximumAPDUSize)")
        try require(
            maximumQueuedBytes >= maximumAPDUSize, "the send queue (\(maximumQueuedBytes) bytes) must hold one APDU")
        try require(rate > 0, "the rate must be positive")
        try require(txwMaxBytes > 0, "the transmit window must hold at least one byte")
        try require(txwSeconds > .zero, "TXW_SECS must be positive")
        if let parity {
            try require(
                parity.groups != nil,
                "the transmission group size must be a power of two 2 ... 128, not \(parity.groupSize)")
            try require(
                parity.proactive >= 0 && parity.proactive <= ReedSolomonCode.blockLength - parity.groupSize,
                "proactive parity must be 0 ... \(ReedSolomonCode.blockLength - parity.groupSize) packets per group of \(parity.groupSize)"
            )
            try require(
                parity.proactive > 0 || parity.onDemand, "FEC needs proactive parity, on-demand parity or both")
        }
        try require(
            Source.maximumPayload(self, fragmented: true) > 0,
            "a TPDU of \(maxTPDU) bytes has no room for data after the IP, UDP and PGM headers")
    }
}
