public import PGMWire

extension NetworkElement {
    /// One interface of the element and the element's own unicast address on it: SPM_PATH and POLL_PATH of
    /// what it sends there, and where receivers on that link address their NAKs (RFC 3208 §7.1).
    public struct Interface: Hashable, Sendable {
        public var id: InterfaceID
        public var address: NLA

        public init(id: InterfaceID, address: NLA) {
            self.id = id
            self.address = address
        }
    }

    /// Element settings. RFC 3208 names the NE timers without values; the defaults follow the protocol notes
    /// §12 (OpenPGM's 2 s for NAK_RPT_IVL and NAK_RDATA_IVL) and make NAK_ELIM_IVL a tenth of NAK_RDATA_IVL.
    public struct Configuration: Sendable {
        /// Every interface the element forwards PGM on, in the order copies are sent.
        public var interfaces: [Interface]
        /// The interface towards every source, when the element sits at a fixed point of the tree; `nil`
        /// learns it per TSI from the interface its SPMs arrive on (RFC 3208 §7.1), following route changes
        /// when a newer SPM arrives elsewhere.
        public var upstream: InterfaceID?
        /// NAK_RPT_RTE, as the time between repeats of a NAK that has no NCF yet (RFC 3208 §7.3).
        public var nakRepeatPeriod: Duration = .milliseconds(250)
        /// NAK_RPT_IVL: how long a forwarded NAK is repeated without an NCF before forwarding is cancelled, or
        /// before a DLR that stays silent is given up (RFC 3208 §7.3, §9.5.3.2). An NE's NAK_RPT_IVL is the
        /// total repeat window, not a per-NAK wait as at receivers (protocol notes §15.8).
        public var nakRepeatInterval: Duration = .seconds(2)
        /// NAK_RDATA_IVL: how long confirmed repair state waits for RDATA before it is discarded (RFC 3208 §7.3).
        public var nakRdataInterval: Duration = .seconds(2)
        /// NAK_ELIM_IVL: how long duplicates of a confirmed NAK are discarded; "some small fraction of
        /// NAK_RDATA_IVL" (RFC 3208 §7.4). Also the lifetime of state created by an NNAK (§9.5.3.2).
        public var nakEliminationInterval: Duration = .milliseconds(200)
        /// Identical NCFs (same sequence, same interface) closer together than this are not repeated: the NAK
        /// storm counter-measure RFC 3208 §7.2 suggests. The first NCF always goes at once.
        public var ncfHoldOff: Duration = .milliseconds(10)
        /// Sessions tracked at once; SPMs of further TSIs are dropped and counted.
        public var maximumSessions = 1024
        /// Sequence numbers with repair state per session; NAKs for further sequences are dropped and counted
        /// (the state of a flood drains within NAK_RPT_IVL / NAK_RDATA_IVL).
        public var maximumRepairStatesPerSession = 4096
        /// A session whose source has sent nothing (SPM, ODATA, RDATA) for this long is forgotten. The RFC
        /// leaves path-state expiry open; this is several ambient-SPM intervals (protocol notes §7).
        public var sessionExpiry: Duration = .seconds(180)
        /// An SPMR from downstream is answered from the cached SPM when that SPM is younger than this and no
        /// ODATA has moved the lead since; otherwise the request is left to the source (see
        /// ``NetworkElement`` on SPMR).
        public var spmrAnswerMaximumAge: Duration = .seconds(5)
        /// Minimum time between two SPMR answers on one interface for one session.
        public var spmrHoldOff: Duration = .milliseconds(100)
        /// Period of the off-tree DLR search (POLL with POLL_S_TYPE PGM_POLL_DLR on every downstream interface,
        /// RFC 3208 §9.5.3.1); `nil` disables it. The first poll goes when a session is learned.
        public var dlrPollInterval: Duration? = .seconds(30)
        /// POLL_BO_IVL of the element's DLR polls (RFC 3208 §14.4).
        public var dlrPollBackoffInterval: Duration = .milliseconds(50)
        /// NAK_BO_IVL tuning per session and downstream interface (RFC 3208 Appendix E §15.2.1), advertised in
        /// OPT_NAK_BO_IVL on the element's NCFs and the SPMs it forwards. `nil` turns tuning off; forwarded SPMs
        /// then lose the parent's OPT_NAK_BO_IVL, which §15.2.1 forbids passing on unchanged.
        public var backoffTuning: BackoffTuning? = BackoffTuning()
        /// Seeds RAND_NODE_ID (RFC 3208 §14.5), POLL_RAND and POLR back-off.
        public var seed: UInt64 = 0

        public init(interfaces: [Interface], upstream: InterfaceID? = nil) {
            self.interfaces = interfaces
            self.upstream = upstream
        }
    }

    /// The limits of NAK_BO_IVL tuning (RFC 3208 §15.2.1): double on an interface's first duplicate NAK for a
    /// sequence, halve after NAK_PROBE_NUM repair states without one, within [NAK_BO_IVL_MIN, NAK_BO_IVL_MAX]
    /// (a session's OPT_NAK_BO_RNG overrides the range). The RFC gives no values; these start at the receivers'
    /// 50 ms and stay well under NAK_RPT_IVL.
    public struct BackoffTuning: Hashable, Sendable {
        /// NAK_BO_IVL_DEFAULT.
        public var initial: Duration = .milliseconds(50)
        /// NAK_BO_IVL_MIN.
        public var minimum: Duration = .milliseconds(5)
        /// NAK_BO_IVL_MAX.
        public var maximum: Duration = .seconds(1)
        /// NAK_PROBE_NUM.
        public var probeCount = 8

        public init() {}
    }

    /// What the element reports besides packets; drained with ``NetworkElement/pollEvent()``.
    public enum Event: Hashable, Sendable {
        /// The first in-sequence SPM of a session: where its source lies.
        case sessionLearned(TSI, upstream: InterfaceID, neighbor: NLA)
        /// A newer SPM arrived on another interface, or named another upstream neighbour.
        case upstreamChanged(TSI, upstream: InterfaceID, neighbor: NLA)
        /// Nothing from the source for ``Configuration/sessionExpiry``; all its state is gone.
        case sessionExpired(TSI)
        /// A redirecting POLR named a DLR; later NAKs for the session go to it (RFC 3208 §9.5.3.2).
        case repairerLearned(TSI, address: NLA, interface: InterfaceID)
        /// The DLR did not confirm a NAK within NAK_RPT_IVL; NAKs go upstream again.
        case repairerDropped(TSI, address: NLA)
    }

    /// Counters. A packet the element drops lands in a `…Dropped`, `…Discarded`, `…Eliminated` or `…Rejected`
    /// counter named after the rule that drops it (NCFs, which are never forwarded, only when they are
    /// misaddressed or from the wrong side); where the PGM MIB
    /// (draft-petrova-pgmmib-01, `pgmNeIf…`) has a per-interface counter for the same thing, its doc comment
    /// names it (ours are summed over interfaces).
    public struct Statistics: Hashable, Sendable {
        public var packetsReceived = 0
        /// Types an element neither forwards nor answers (ACK), or packets for another port than the
        /// session's.
        public var foreignPacketsDropped = 0
        /// Packets with an unknown option whose OPX says "discard packet" (RFC 3208 §9).
        public var packetsDiscardedByOption = 0
        /// Unknown options turned into OPT_INVALID on forwarding (OPX "invalidate option", RFC 3208 §9).
        public var optionsInvalidated = 0

        // MARK: Sessions and SPMs (§7.1)
        public var sessionsLearned = 0
        public var sessionsExpired = 0
        /// SPMs of new sessions refused at ``Configuration/maximumSessions``.
        public var sessionsRejected = 0
        /// SPM copies sent (MIB pgmNeIfOutSpms, over all interfaces).
        public var spmsForwarded = 0
        /// SPMs with an SPM_SQN not newer than the last one (MIB pgmNeIfSpmBadSqn).
        public var spmsStaleDropped = 0
        /// SPMs arriving on another interface than the configured upstream one.
        public var spmsFromDownstreamDropped = 0
        public var upstreamChanges = 0

        // MARK: Data
        /// ODATA forwarded, counted once however many interfaces took it; includes ODATA of sessions not yet
        /// learned, forwarded from a configured upstream interface.
        public var odataForwarded = 0
        /// ODATA of an unknown session, or arriving elsewhere than on the session's upstream interface.
        public var odataDropped = 0
        /// RDATA forwarded (counted once however many interfaces took it).
        public var rdataForwarded = 0
        /// RDATA copies sent, one per interface in the repair state (RFC 3208 §7.8; MIB pgmNeIfOutRdata).
        public var rdataCopiesSent = 0
        /// RDATA for which no interface holds repair state: "SHOULD discard" (RFC 3208 §7.8; MIB
        /// pgmNeIfInRdataNoSessionErrors).
        public var rdataWithoutRepairStateDropped = 0
        /// RDATA of an unknown session or from downstream (other than from the session's DLR).
        public var rdataMisroutedDropped = 0

        // MARK: NAKs (§7.2 to §7.4)
        /// NAK packets received (MIB pgmNeIfInNaks).
        public var naksReceived = 0
        /// NAKs for a TSI the element has no source path state for: it has nowhere to forward them (MIB
        /// pgmNeIfInNakNoSessionErrors).
        public var naksWithoutSessionDropped = 0
        /// NAKs arriving on the session's upstream interface, or not unicast to this element.
        public var naksMisroutedDropped = 0
        /// NAK_SRC or NAK_GRP not the session's.
        public var naksMisaddressedDropped = 0
        /// No requested sequence lies in the source's window as SPMs and data advertised it (MIB
        /// pgmNeIfInNakSeqErrors).
        public var naksOutsideWindowDropped = 0
        /// Parity NAKs: FEC (RFC 3208 Appendix A) is not supported by this element.
        public var parityNAKsDropped = 0
        /// Sequences refused at ``Configuration/maximumRepairStatesPerSession``.
        public var repairStatesRejected = 0
        /// NAKs discarded because every sequence was pending or within NAK_ELIM_IVL (RFC 3208 §7.4).
        public var naksEliminated = 0
        /// NAK packets sent upstream or to a DLR, first transmissions and repeats (MIB pgmNeIfOutNaks).
        public var naksForwarded = 0
        /// Sequences carried by those NAKs.
        public var nakSequencesForwarded = 0
        /// Sequences repeated at NAK_RPT_RTE for want of an NCF.
        public var nakRepeats = 0
        /// NAKs forwarded only because the OPT_CR report moved by more than 5 % (RFC 3208 Appendix B.6.1).
        public var naksForwardedForCongestionReport = 0
        /// Sequences whose NAK_RPT_IVL ran out without an NCF from upstream: forwarding cancelled (with
        /// ``repairStatesExpired``, MIB pgmNeIfReXmitTimedOut).
        public var nakForwardingTimeouts = 0
        /// Confirmed sequences whose NAK_RDATA_IVL ran out without RDATA.
        public var repairStatesExpired = 0
        /// NCF packets sent (MIB pgmNeIfOutNcfs).
        public var ncfsSent = 0
        /// NAK_BO_IVL doublings and halvings (RFC 3208 §15.2.1), over all sessions and interfaces.
        public var nakBackoffIncreases = 0
        public var nakBackoffDecreases = 0
        /// NCFs not repeated within ``Configuration/ncfHoldOff`` (RFC 3208 §7.2).
        public var ncfsRateLimited = 0

        // MARK: NCFs (§7.3, §7.5)
        /// NCF packets received (MIB pgmNeIfInNcfs).
        public var ncfsReceived = 0
        /// Unsolicited NCFs from upstream that created repair state (NAK anticipation, RFC 3208 §7.5).
        public var ncfsAnticipated = 0
        /// NCFs not from upstream (nor the session's DLR): discarded without state (RFC 3208 §7.5).
        public var ncfsFromDownstreamDropped = 0
        /// NCFs of unknown sessions or with another NAK_SRC / NAK_GRP (MIB pgmNeIfInNcfNoSessionErrors).
        public var ncfsMisaddressedDropped = 0

        // MARK: NNAKs (§9.5.3.2)
        /// NNAK packets received (MIB pgmNeIfInNnaks).
        public var nnaksReceived = 0
        /// NNAK packets sent upstream (MIB pgmNeIfOutNnaks).
        public var nnaksForwarded = 0
        /// NNAKs for sequences that all had repair state already.
        public var nnaksEliminated = 0
        /// NNAKs of unknown sessions, from upstream, misaddressed or outside the window.
        public var nnaksDropped = 0

        // MARK: SPMR (Appendix C)
        public var spmrsReceived = 0
        /// SPMRs answered with the cached SPM.
        public var spmrsAnswered = 0
        /// SPMRs unicast to this element, forwarded to the source.
        public var spmrsForwarded = 0
        /// SPMRs neither answered nor forwarded: stale cache and the requester's own unicast copy goes to the
        /// source, hold-off, unknown session, or from upstream.
        public var spmrsDropped = 0

        // MARK: POLL / POLR and DLRs (Appendix D, §9.5)
        public var pollsReceived = 0
        /// General polls answered with a POLR (RFC 3208 §14.5).
        public var polrsSent = 0
        /// Polls not answered: another sub-type, the random condition, a round without round 0, or from
        /// downstream. POLLs are never forwarded (RFC 3208 §14.1).
        public var pollsIgnored = 0
        public var dlrPollsSent = 0
        public var polrsReceived = 0
        /// POLRs without OPT_REDIRECT (the element only polls for DLRs), of unknown sessions, or naming this
        /// element.
        public var polrsDropped = 0
        public var repairersLearned = 0
        /// DLRs given up after NAK_RPT_IVL without an NCF (RFC 3208 §9.5.3.2).
        public var repairerFallbacks = 0
        /// NAK packets sent to a DLR rather than upstream.
        public var naksRedirected = 0
        /// Sequences sent upstream instead of to the DLR because the DLR's interface asked for them, or the DLR
        /// itself NAKed them.
        public var redirectionsAvoided = 0

        /// The worst OPT_CR report per session as it stands (RFC 3208 Appendix B), what forwarded NAKs carry.
        public var worstCongestionReports: [TSI: Option.CongestionReport] = [:]
    }
}
