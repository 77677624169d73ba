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

    /// Element settings. RFC 3208 names the NE timers without values; the defaults follow Docs/timers.md
    /// (OpenPGM's 2 s for NAK_RPT_IVL and NAK_RDATA_IVL) and make NAK_ELIM_IVL a tenth of NAK_RDATA_IVL.
    public struct Configuration: Sendable {
        /// Every interface the element forwards PGM on, in the order copies are sent.
        public var interfaces: [Interface]
        /// The interface towards every source, when the element sits at a fixed point of the tree; `nil`
        /// learns it per TSI from the interface its SPMs arrive on (RFC 3208 §7.1), following route changes
        /// when a newer SPM arrives elsewhere.
        public var upstream: InterfaceID?
        /// NAK_RPT_IVL: how long a forwarded NAK is repeated without an NCF before forwarding is cancelled, or
        /// before a DLR that stays silent is given up (RFC 3208 §7.3, §9.5.3.2). An NE's NAK_RPT_IVL is the
        /// total repeat window, not a per-NAK wait as at receivers (Docs/timers.md, "NAK_RPT_IVL means two things").
        public var nakRepeatInterval: Duration = .seconds(2)
        /// NAK_RDATA_IVL: how long confirmed repair state waits for RDATA before it is discarded (RFC 3208 §7.3).
        public var nakRdataInterval: Duration = .seconds(2)
        /// NAK_RPT_RTE, as the time between repeats of a NAK that has no NCF yet (RFC 3208 §7.3): an eighth of
        /// ``nakRepeatInterval`` (250 ms for the default 2 s) unless set, so that repeats follow the interval.
        public var nakRepeatPeriod: Duration {
            get { nakRepeatPeriodSetting ?? nakRepeatInterval / 8 }
            set { nakRepeatPeriodSetting = newValue }
        }
        /// NAK_ELIM_IVL: how long duplicates of a confirmed NAK are discarded, "some small fraction of
        /// NAK_RDATA_IVL" (RFC 3208 §7.4): a tenth of ``nakRdataInterval`` unless set; ``validate()`` keeps it
        /// at most half of it. Also the lifetime of state created by an NNAK (§9.5.3.2).
        public var nakEliminationInterval: Duration {
            get { nakEliminationIntervalSetting ?? nakRdataInterval / 10 }
            set { nakEliminationIntervalSetting = newValue }
        }
        private var nakRepeatPeriodSetting: Duration?
        private var nakEliminationIntervalSetting: Duration?
        /// Loss above the element (beyond RFC 3208, which leaves loss detection to receivers): the element
        /// forwards every ODATA itself, so a jump in ODATA sequence numbers is a loss every downstream interface
        /// shares. The element creates repair state for each missing sequence with every downstream interface in
        /// its list, waits a random time up to this long (so that elements sharing an upstream link suppress one
        /// another through the NCF, and a reordered packet can still arrive), then NAKs upstream itself and
        /// multicasts an NCF on each downstream interface, which suppresses the receivers' NAKs (RFC 3208 §6.3:
        /// any matching NCF during back-off). The RDATA then goes to every downstream interface. `nil` turns
        /// detection off (RFC behaviour: only receivers' NAKs create repair state). Sessions with FEC
        /// (OPT_PARITY_PRM) are left to their receivers' parity NAKs.
        public var lossDetectionBackoff: Duration? = .milliseconds(2)
        /// Jumps in ODATA sequence numbers longer than this are not turned into repair state (a restarted or
        /// misbehaving source); receivers still NAK what they miss.
        public var maximumDetectedGap = 1024
        /// The least the element waits for a repair before asking again: for a confirmed repair (the source sends
        /// RDATA right behind its NCF) and for an unconfirmed request for a loss it detected itself. The wait is the
        /// measured NAK → RDATA round trip (smoothed, plus four times its variation) within [this, NAK_RDATA_IVL],
        /// NAK_RPT_RTE's period before any was measured, doubled per retry, and never past NAK_RPT_RTE's period
        /// for an unconfirmed request. A repair lost between the source and the element is so asked for again
        /// within a few round trips instead of every receiver below waiting its NAK_RDATA_IVL. Beyond RFC 3208
        /// §7.3, whose elements never retry confirmed NAKs; requests stop NAK_RDATA_IVL after the first NCF (or
        /// the detection), and repairs queued at the source behind others still arriving are not asked again.
        public var repairRetryMinimum: Duration = .milliseconds(5)
        /// How long an RDATA the element forwarded is kept to answer NAKs that arrive after it passed: a
        /// receiver whose back-off outlasted the repair, or whose copy was lost, gets an NCF and the kept copy on
        /// its interface (at most once per ``ncfHoldOff`` per interface: a NAK that close behind the repair most
        /// likely crossed it) instead of a new NAK going upstream, where the source would repair it again.
        /// `nil` derives it: the largest of NAK_ELIM_IVL, twice the largest NAK_BO_IVL the element advertises
        /// for the session, and half of NAK_RDATA_IVL (a receiver whose copy was lost asks again after its own
        /// NAK_RDATA_IVL). Beyond RFC 3208 §7.8, whose repair state ends with the RDATA: the copy constrains no
        /// forwarding and eliminates no NAK for a sequence it does not hold. Parity RDATA is kept as long, up to k
        /// per transmission group, and answers a parity NAK from an interface it did not go to, once the group's
        /// parity state is gone (beyond RFC 3208 §11.6).
        public var repairCacheLifetime: Duration?
        /// RDATA copies kept per session (selective and parity copies each), the oldest dropped first, and by the
        /// whole element (about 24 MB at 1,500 bytes each): when the element is full, sessions only replace their
        /// own oldest copies.
        public var maximumRepairCopiesPerSession = 4096
        public var maximumRepairCopies = 16384
        /// Identical NCFs (same sequence, same interface) closer together than this are not repeated: the NAK
        /// storm counter-measure RFC 3208 §7.2 suggests. The first NCF always goes at once.
        public var ncfHoldOff: Duration = .milliseconds(10)
        /// Sessions tracked at once; SPMs of further TSIs are dropped and counted.
        public var maximumSessions = 1024
        /// Sequence numbers with repair state per session; NAKs for further sequences are dropped and counted
        /// (the state of a flood drains within NAK_RPT_IVL / NAK_RDATA_IVL).
        public var maximumRepairStatesPerSession = 4096
        /// A session whose source has sent nothing (SPM, ODATA, RDATA) for this long is forgotten. The RFC
        /// leaves path-state expiry open; this is several ambient-SPM intervals (Docs/timers.md).
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
        /// then lose the parent's OPT_NAK_BO_IVL, which §15.2.1 forbids passing on unchanged. The advertised value
        /// never goes below twice ``lossDetectionBackoff``, so the element's own NCF for a shared loss reaches
        /// receivers before their back-off ends.
        public var backoffTuning: BackoffTuning? = BackoffTuning()
        /// When a session's path (the interface its SPMs arrive on, their network-layer source and SPM_PATH) may
        /// move: SPMs by another path replace it only after this many in a row with advancing SPM_SQN while the
        /// current path is silent for ``pathChangeSilence`` (or twice its longest gap between SPMs), see
        /// `PathDamping` and Docs/integrity.md. Until then data, SPMs, NCFs and POLLs of the session from other
        /// addresses are dropped and counted (RFC 3208 §10, which leaves the damping to implementations).
        public var pathChangeSPMs = 3
        public var pathChangeSilence: Duration = .seconds(3)
        /// At most one ``Event/offPathPackets(_:from:dropped:)`` per session per interval.
        public var offPathReportInterval: Duration = .seconds(1)
        /// Seeds RAND_NODE_ID (RFC 3208 §14.5), POLL_RAND and POLR back-off.
        public var seed: UInt64 = 0

        public init(interfaces: [Interface], upstream: InterfaceID? = nil) {
            self.interfaces = interfaces
            self.upstream = upstream
        }

        /// Rejects timer combinations the RFC rules out or that cannot work, with a sentence for the user.
        public func validate() throws(ConfigurationError) {
            func require(_ condition: Bool, _ reason: String) throws(ConfigurationError) {
                if !condition { throw ConfigurationError(reason) }
            }
            try require(nakRepeatInterval > .zero, "NAK_RPT_IVL must be positive")
            try require(nakRdataInterval > .zero, "NAK_RDATA_IVL must be positive")
            try require(
                nakRepeatPeriod > .zero && nakRepeatPeriod <= nakRepeatInterval,
                "NAK_RPT_RTE's period (\(nakRepeatPeriod)) must be positive and at most NAK_RPT_IVL (\(nakRepeatInterval))"
            )
            try require(
                nakEliminationInterval > .zero && nakEliminationInterval * 2 <= nakRdataInterval,
                "NAK_ELIM_IVL (\(nakEliminationInterval)) must be positive and a small fraction of NAK_RDATA_IVL "
                    + "(at most half of \(nakRdataInterval))")
            if let backoff = lossDetectionBackoff {
                try require(
                    backoff > .zero && backoff < nakRepeatPeriod,
                    "the loss-detection back-off (\(backoff)) must be positive and shorter than NAK_RPT_RTE's period")
            }
            try require(repairRetryMinimum > .zero, "the repair retry minimum must be positive")
            try require((repairCacheLifetime ?? .zero) >= .zero, "the repair cache lifetime must not be negative")
            try require(maximumSessions > 0 && maximumRepairStatesPerSession > 0, "the state limits must be positive")
            try require(pathChangeSPMs > 0 && pathChangeSilence >= .zero, "the path-change rule must be positive")
            try require(
                maximumDetectedGap >= 0 && maximumRepairCopiesPerSession >= 0 && maximumRepairCopies >= 0,
                "limits must not be negative")
        }
    }

    /// A configuration the element cannot run with (``Configuration/validate()``).
    public typealias ConfigurationError = PGMCore.ConfigurationError

    /// The limits of NAK_BO_IVL tuning (RFC 3208 §15.2.1).
    public typealias BackoffTuning = NAKBackoffTuning

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
        /// Packets of the session from `from`, an address off its path, were dropped (RFC 3208 §10); `dropped` for
        /// the session so far. At most one per ``Configuration/offPathReportInterval`` per session.
        case offPathPackets(TSI, from: NLA, dropped: Int)
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
        /// PGMCC ACKs sent on upstream.
        public var acksForwarded = 0
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
        /// Data, SPMs, NCFs and POLLs of a known session from an address that is neither its SPMs' source nor their
        /// SPM_PATH (nor, for RDATA and NCFs, its DLR): a stranger claiming the session (RFC 3208 §10).
        public var offPathDropped = 0
        /// SPMs with OPT_NBR_UNREACH whose SPM_PATH is not the session's parent: ignored (RFC 3208 §15.3.2).
        public var neighborUnreachableIgnored = 0

        // MARK: Data
        /// ODATA forwarded, counted once however many interfaces took it; includes ODATA of sessions not yet
        /// learned, forwarded from a configured upstream interface.
        public var odataForwarded = 0
        /// ODATA of an unknown session, or arriving elsewhere than on the session's upstream interface.
        public var odataDropped = 0
        /// RDATA forwarded (counted once however many interfaces took it).
        public var rdataForwarded = 0
        /// Payload bytes of the ODATA and RDATA forwarded (once per packet, however many interfaces took it).
        public var dataBytesForwarded = 0
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
        /// Parity NAKs (and parity NCFs and NNAKs) of a session whose SPMs gave no OPT_PARITY_PRM yet: without k the
        /// element cannot tell the transmission group from the count (RFC 3208 §11.6).
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

        // MARK: FEC (RFC 3208 Appendix A §11.6)
        /// ODATA with OPT_PARITY (proactive parity) switched; also counted in ``odataForwarded``.
        public var parityODATAForwarded = 0
        /// Parity NCFs sent downstream answering parity NAKs; also counted in ``ncfsSent``.
        public var parityNCFsSent = 0
        /// Parity NAK packets sent upstream or to a parity-capable DLR, first transmissions and repeats; also counted
        /// in ``naksForwarded``.
        public var parityNAKsForwarded = 0
        /// Parity NAKs whose every transmission group was pending or within NAK_ELIM_IVL with a count no larger than
        /// the largest known; also counted in ``naksEliminated``.
        public var parityNAKsEliminated = 0
        /// Parity RDATA (on-demand parity) forwarded, once however many interfaces took it; also counted in
        /// ``rdataForwarded``.
        public var parityRDATAForwarded = 0
        /// Parity RDATA without parity repair state (with interfaces) for its transmission group, or of a session
        /// without k yet: discarded (RFC 3208 §11.6). Selective ones are ``rdataWithoutRepairStateDropped``.
        public var parityRDATADiscarded = 0
        /// Groups of parity NAKs answered from kept parity RDATA that went to other interfaces, instead of being
        /// forwarded (beyond RFC 3208, ``Configuration/repairCacheLifetime``); also those held back because copies
        /// went on the NAK's interface within the NCF hold-off.
        public var parityNAKsAnsweredFromCopies = 0
        /// Parity RDATA sent from those copies (also counted in ``rdataCopiesSent``).
        public var parityRDATAResentFromCopies = 0
        /// OPT_PARITY_PRM with a group size that is not a power of two in 2...128, and OPT_CURR_TGSIZE with a size
        /// outside 1...k: ignored (the SPM or RDATA itself is forwarded).
        public var parityOptionsIgnored = 0

        // MARK: Loss above the element (beyond RFC 3208, see Configuration/lossDetectionBackoff)
        /// Sequences missing from the ODATA the element forwards, turned into repair state for every downstream
        /// interface.
        public var lossesDetected = 0
        /// Detected losses whose ODATA arrived late (reordered) before the element asked for them.
        public var detectedLossesFilledLate = 0
        /// Jumps in ODATA sequence numbers longer than ``Configuration/maximumDetectedGap``: left to receivers.
        public var odataGapsNotTracked = 0
        /// Sequences confirmed with an NCF on downstream interfaces that had not NAKed them (their receivers'
        /// NAKs suppressed).
        public var detectedLossesConfirmedDownstream = 0
        /// Detected losses asked for again because their RDATA did not follow the NCF within a repair round trip.
        public var repairRetries = 0
        /// NAKed sequences answered from a kept RDATA copy instead of being forwarded
        /// (``Configuration/repairCacheLifetime``).
        public var nakSequencesAnsweredFromCopies = 0
        /// RDATA copies sent from those kept copies (also counted in ``rdataCopiesSent``).
        public var repairsResentFromCopies = 0
        /// Forwarded RDATA not kept because the element held ``Configuration/maximumRepairCopies``.
        public var repairCopiesRefused = 0

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

        /// Every drop counter summed: each `…Dropped`, `…Discarded…` and `…Rejected` above, which count input the
        /// element refused (malformed, misaddressed, from the wrong side, of no session, beyond its caps; the
        /// `Rejected` ones count refused sessions and sequences). Duplicates removed by design are not drops and are
        /// left out: eliminated NAKs and NNAKs (§7.4), rate-limited NCFs, ignored polls, repair copies not kept.
        public var packetsDropped: Int {
            foreignPacketsDropped + packetsDiscardedByOption + sessionsRejected + spmsStaleDropped
                + spmsFromDownstreamDropped + odataDropped + rdataWithoutRepairStateDropped + rdataMisroutedDropped
                + naksWithoutSessionDropped + naksMisroutedDropped + naksMisaddressedDropped + naksOutsideWindowDropped
                + parityNAKsDropped + repairStatesRejected + ncfsFromDownstreamDropped + ncfsMisaddressedDropped
                + nnaksDropped + spmrsDropped + polrsDropped + offPathDropped + parityRDATADiscarded
        }
    }
}
