public import PGMWire

extension Receiver {
    /// Receiver settings. NAK timers default to OpenPGM's bundled examples (Docs/timers.md); RFC 3208
    /// names them without values.
    public struct Configuration: Sendable {
        /// The application's data-destination port: packets for other ports are foreign.
        public var dataDestinationPort: UInt16
        /// The group joined: NAK_GRP in our NAKs, where the SPMR's on-link copy goes.
        public var group: NLA
        /// NAK_BO_IVL: a NAK waits uniformly in (0, NAK_BO_IVL] so one receiver's NAK, confirmed by a
        /// multicast NCF, suppresses everyone else's (RFC 3208 §6.3). This is NAK_BO_IVL_DEFAULT: a session's
        /// source may replace it with OPT_NAK_BO_IVL (§15.2.2, see ``Receiver/nakBackoffInterval(for:)``).
        public var nakBackoffInterval: Duration = .milliseconds(50)
        /// NAK_RPT_IVL: how long a sent NAK waits for its NCF before backing off again.
        public var nakRepeatInterval: Duration = .seconds(2)
        /// NAK_RDATA_IVL: how long a confirmed NAK waits for RDATA before backing off again.
        public var nakRdataInterval: Duration = .seconds(2)
        /// NAK_NCF_RETRIES: NAKs repeated for want of an NCF before the sequence is declared lost.
        public var nakNCFRetries = 50
        /// NAK_DATA_RETRIES: NCF'd NAKs repeated for want of RDATA before the sequence is declared lost.
        public var nakDataRetries = 50
        /// SPMR_BO_IVL: random back-off before asking for an SPM (RFC 3208 Appendix C, "~250 ms").
        public var spmrBackoffInterval: Duration = .milliseconds(250)
        /// SPMR_SPM_IVL: after an SPMR (ours or overheard), wait this long, then a fresh random delay on
        /// SPMR_BO_IVL, before asking again (RFC 3208 §13.5).
        public var spmrRetryInterval: Duration = .seconds(1)
        /// When a back-off runs out, the NAK also takes every other sequence of the session whose back-off
        /// ends within this window, as far as one NAK's OPT_NAK_LIST holds (RFC 3208 §9.3): fewer NAK packets
        /// under steady loss (one receiver at 35,000 packets/s: 0.23 NAK packets per repair at 1 % loss, 0.12
        /// at 5 %, instead of about 1). Beyond the RFC, whose §9.3.2 has each sequence back off as if alone: a
        /// sequence taken early gives up its chance of being suppressed by another receiver's NAK. So `nil`
        /// (the default) is the session's NAK_BO_IVL scaled by the share of its recent back-offs that no
        /// NCF suppressed, and none behind a network element (see `Peer.coalescingWindow`); a value applies
        /// as given, `.zero` NAKs each back-off alone.
        public var nakCoalescingWindow: Duration? = nil
        /// Payload bytes held for one session while waiting for gaps to fill; above it the oldest gap is
        /// declared lost (`.receiveWindowOverflow`) so that memory stays bounded. 64 MiB is 1.3 s at 400 Mbit/s:
        /// a repair whose NAK, NCF or RDATA was lost takes NAK_RDATA_IVL or NAK_RPT_IVL more, and at 5 % loss
        /// 16 MiB (0.3 s) gave up sequences the source still held.
        public var maximumWindowBytes = 64 << 20
        /// Sequence numbers tracked for one session (received, missing or lost, not yet delivered).
        public var maximumWindowSequences = 1 << 16
        /// Use the FEC a source offers in OPT_PARITY_PRM (RFC 3208 §11.5): decode from proactive parity, and ask
        /// for on-demand parity with parity NAKs (by count per transmission group) instead of selective NAKs.
        /// `false` ignores parity packets and NAKs by sequence, as a receiver without FEC does.
        public var useParity = true
        /// The region multiply of the Reed–Solomon decoder: ``SwiftGaloisKernel`` here; the programs inject a
        /// faster native one.
        public var parityKernel: any GaloisRegionKernel = SwiftGaloisKernel()
        /// The largest APDU reassembled from OPT_FRAGMENT; larger claims are malformed.
        public var maximumAPDUSize = 1 << 20
        /// Sessions tracked at once; data from more is dropped and counted.
        public var maximumPeers = 256
        /// A session silent this long is forgotten (OpenPGM's peer expiry, 300 s).
        public var peerExpiry: Duration = .seconds(300)
        /// Weight of each sample in the loss-rate EWMA.
        public var lossRateWeight = 1.0 / 64
        /// The weight of each ODATA sequence in PGMCC's loss rate (OPT_PGMCC_FEEDBACK), measured at arrival: at
        /// 1/128 two receivers with the same 10 % loss stay within the source's switch bias of each other (at 1/64
        /// the acker flapped between them), and a receiver behind a newly congested path still shows within a few
        /// dozen packets.
        public var congestionLossWeight = 1.0 / 128
        /// When a session's path (the address its SPMs come from and their SPM_PATH) may move to another: a
        /// candidate path must send this many SPMs in a row with advancing SPM_SQN while the current one is silent
        /// for ``pathChangeSilence`` (or twice its longest gap between SPMs), see `PathDamping`. Until then, data,
        /// SPMs, NCFs and POLLs from any other address are dropped and counted (RFC 3208 §10). Beyond the RFC,
        /// which leaves the damping to implementations.
        public var pathChangeSPMs = 3
        /// Three of pgm-source's ambient SPM intervals (1 s): a path that has sent nothing for that long has
        /// failed, or the route moved.
        public var pathChangeSilence: Duration = .seconds(3)
        /// At most one ``Event/offPathPackets(_:from:dropped:)`` per session per interval, so that a flood makes
        /// a few events, not one per packet.
        public var offPathReportInterval: Duration = .seconds(1)
        /// NAK packets one session may send, as a token bucket: `nil` is no limit. Beyond RFC 3208, which bounds NAKs
        /// only by back-off: whatever a packet claims, a receiver never NAKs faster than this. The default covers
        /// 5 % loss at 1 Gbit/s with one NAK per lost sequence (83,000 TPDUs of 1,500 bytes per second, 4,200
        /// losses per second, NAKed and repeated) with room to spare; NAKs due beyond it wait for the bucket.
        public var nakRateLimit: NAKRateLimit? = .standard
        /// This host's unicast address, which OPT_CR names as the reporting receiver when a source asks for loss
        /// reports with OPT_CRQST (RFC 3208 Appendix B); `nil` never reports.
        public var address: NLA?
        public var seed: UInt64 = 0

        public init(dataDestinationPort: UInt16, group: NLA) {
            self.dataDestinationPort = dataDestinationPort
            self.group = group
        }
    }

    /// A token bucket of NAK packets per session (``Configuration/nakRateLimit``).
    public struct NAKRateLimit: Hashable, Sendable {
        /// NAK packets per second, each carrying up to 63 sequences (RFC 3208 §9.3).
        public var packetsPerSecond: Int
        /// NAK packets that may go at once.
        public var burst: Int

        /// 10,000 NAK packets a second in bursts of 2,000 (``Configuration/nakRateLimit`` says why).
        public static let standard = NAKRateLimit(packetsPerSecond: 10_000, burst: 2_000)

        public init(packetsPerSecond: Int, burst: Int) {
            precondition(packetsPerSecond > 0 && burst > 0, "a NAK rate limit must let NAKs through")
            self.packetsPerSecond = packetsPerSecond
            self.burst = burst
        }
    }

    /// Why sequence numbers could not be recovered (RFC 3208 §6.3: cancellation is the loss indication).
    public enum LossReason: Hashable, Sendable {
        /// The source's trail (SPM_TRAIL, OD_TRAIL, RD_TRAIL) moved past them: the source cannot repair them.
        case windowAdvanced
        /// NAK_NCF_RETRIES or NAK_DATA_RETRIES ran out.
        case retriesExhausted
        /// The receive window hit ``Configuration/maximumWindowBytes`` or ``Configuration/maximumWindowSequences``.
        case receiveWindowOverflow
    }

    /// What the receiver tells its application, in delivery order; drained with ``Receiver/pollEvent()``.
    public enum Event: Hashable, Sendable {
        /// First SPM or data of a session.
        case peerDiscovered(TSI, source: NLA)
        /// The session's window was anchored: delivery starts with the first whole APDU at or after
        /// `firstSequence`. `lateJoin` says the source's window then still held earlier sequences (its trail
        /// preceded `firstSequence`) that this receiver will never deliver (RFC 3208 §6.1, late join), so an
        /// application can tell a stream joined mid-way from one received from its start.
        case joined(TSI, firstSequence: SequenceNumber, lateJoin: Bool)
        /// One whole APDU, in order.
        case data(TSI, bytes: ArraySlice<UInt8>)
        /// `first ... last` (serially) will never be delivered; delivery goes on with the next whole APDU.
        case unrecoverable(TSI, first: SequenceNumber, last: SequenceNumber, reason: LossReason)
        /// OPT_FIN was seen and everything before it was delivered or reported lost.
        case sessionClosed(TSI)
        /// OPT_RST was seen on an SPM (RFC 3208 §9.8: the source aborted the session, `errorCode` its reason, 0
        /// unknown) and everything up to its SPM_LEAD was delivered or reported lost: without the N bit the
        /// receiver went on NAKing within the window until then; with it, what was still missing was declared lost.
        case sessionReset(TSI, errorCode: UInt8)
        /// Nothing heard for ``Configuration/peerExpiry``; its state is gone.
        case peerExpired(TSI)
        /// Packets for the session from an address that is not its path (the address its SPMs come from, or their
        /// SPM_PATH) were dropped (RFC 3208 §10): the latest from `from`, `dropped` for the session so far. At most
        /// one per ``Configuration/offPathReportInterval``, for a program to print as a warning.
        case offPathPackets(TSI, from: NLA, dropped: Int)
        /// The session's path moved (``Configuration/pathChangeSPMs``): its SPMs now come from `sender` with
        /// SPM_PATH `path`, where NAKs go.
        case pathChanged(TSI, sender: NLA, path: NLA)
    }

    /// Counters; every drop of network input lands in one of them.
    public struct Statistics: Hashable, Sendable {
        public var packetsReceived = 0
        public var odataReceived = 0
        public var rdataReceived = 0
        public var spmReceived = 0
        public var ncfReceived = 0
        /// Data for a sequence already held, delivered or declared lost.
        public var duplicates = 0
        /// Another port, or a type a receiver does not take.
        public var foreignPackets = 0
        /// Failed sanity checks (trail after sequence, bad OPT_FRAGMENT, oversize APDU).
        public var malformedPackets = 0
        /// SPMs with an SPM_SQN not newer than the last one (RFC 3208 §6.2).
        public var staleSPMs = 0
        /// SPMs without window information (TRAIL 0 with LEAD 0x80000000, RFC 3208 §8.1, or OPT_NBR_UNREACH,
        /// §15.3.2): taken for their path, never for the window.
        public var windowlessSPMs = 0
        /// SPMs with OPT_NBR_UNREACH whose SPM_PATH is not the session's path, and NCFs with OPT_NBR_UNREACH whose
        /// OPT_PATH_NLA is not: ignored (RFC 3208 §15.3.2).
        public var neighborUnreachableIgnored = 0
        /// Data, SPMs, NCFs and POLLs of a session from an address that is not its path: dropped (RFC 3208 §10).
        public var offPathPackets = 0
        /// Sessions whose path moved (``Configuration/pathChangeSPMs``).
        public var pathChanges = 0
        /// SPM leads and data sequences further ahead of the window than the session's advertised window (or the
        /// receive window) allows: not taken until data near them confirms them (beyond RFC 3208, §10's spirit).
        public var leadJumpsDistrusted = 0
        /// Sequences whose NAK waited for ``Configuration/nakRateLimit``.
        public var nakSequencesRateLimited = 0
        /// New sessions refused at ``Configuration/maximumPeers``.
        public var peersRejected = 0
        public var naksSent = 0
        public var nakSequencesSent = 0
        /// Sequences not NAKed because an NCF or overheard NAK arrived during back-off (RFC 3208 §6.3).
        public var naksSuppressed = 0
        /// Other receivers' NAKs heard multicast to the group (RFC 3208 §6.3: they suppress ours like NCFs).
        public var naksOverheard = 0
        public var pollsReceived = 0
        /// POLLs of an unknown session, or not from the session's upstream (RFC 3208 §14.4).
        public var pollsIgnored = 0
        /// POLRs sent in answer to POLLs (RFC 3208 §14.5).
        public var polrsSent = 0
        public var spmrSent = 0
        public var spmrSuppressed = 0
        public var apdusDelivered = 0
        public var bytesDelivered = 0
        /// Sequences recovered by RDATA, selective or decoded from parity.
        public var sequencesRepaired = 0
        /// FEC (RFC 3208 Appendix A): parity packets received (proactive ODATA and on-demand RDATA), sequences
        /// recovered from them (also in ``sequencesRepaired``), parity NAKs sent and the packets they asked
        /// for, groups whose parity could not be decoded (inconsistent or corrupt), and parity packets not usable
        /// (no OPT_PARITY_PRM seen for the session, ``Configuration/useParity`` off, or malformed).
        public var parityReceived = 0
        public var sequencesRecoveredByParity = 0
        public var parityNAKsSent = 0
        public var parityPacketsRequested = 0
        public var parityDecodingFailures = 0
        public var parityUnusable = 0
        /// Groups NAKed by sequence after two parity NAKs for them went unanswered, and sessions that stopped
        /// asking for parity because none ever came.
        public var parityGroupsNAKedBySequence = 0
        public var parityFallbacks = 0
        public var sequencesLost = 0
        public var lossEvents = 0
        /// Fragments of APDUs that cannot be completed (part lost, or begun before we joined).
        public var fragmentsDiscarded = 0
        /// EWMA of the fraction of sequences whose ODATA was missed, over all sessions.
        public var lossRate = 0.0
        /// ``lossRate`` on OPT_CR's scale (0xFFFF = 100 %).
        public var lossRateScaled: UInt16 = 0
        /// PGMCC: ACKs sent (as acker, or answering an election), elections answered, the loss rate last reported
        /// in OPT_PGMCC_FEEDBACK (0xFFFF = 100 %), and whether the latest data named this receiver the acker.
        public var acksSent = 0
        public var electionAnswers = 0
        public var congestionLossRate: UInt16?
        public var isAcker = false
    }
}
