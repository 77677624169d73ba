import PGMWire

/// Writes a ``TraceAnalyzer/Report`` as a text table or as JSON Lines (`session_stats` per TSI, then one
/// `capture_stats`; schema in `Docs/pgm-dump-json.md`).
public enum StatisticsFormatter {
    public static func text(_ report: TraceAnalyzer.Report, into out: inout OutputBuffer) {
        let capture = report.capture
        out.append(
            "capture: \(capture.frames) frames, \(capture.pgmPackets) PGM packets, \(capture.malformed) malformed, "
        )
        out.append(
            "\(capture.fragments) IP fragments, \(capture.other) not PGM, \(capture.badChecksums) bad checksums, "
        )
        out.append("\(capture.missingChecksums) without checksum\n")
        if let counts = capture.authentication {
            out.append("authentication: \(counts.valid) valid, \(counts.invalid) invalid, \(counts.absent) absent\n")
        }
        for session in report.sessions {
            out.append("\nsession ")
            out.append(tsi: session.tsi)
            out.append(" duration ")
            appendMilliseconds(session.lastTime &- session.firstTime, into: &out)
            out.append(" ms\n")
            out.append("  type        packets          bytes\n")
            for row in session.traffic {
                out.append("  ")
                pad(row.type.description, 6, &out)
                pad(String(row.packets), 13, &out, right: true)
                pad(String(row.bytes), 15, &out, right: true)
                out.append("\n")
            }
            if let range = session.odataRange {
                out.append("  ODATA sequences \(range.first)..\(range.last)")
            } else {
                out.append("  no ODATA")
            }
            if let lead = session.lastSPMLead { out.append(", last SPM lead \(lead)") }
            out.append("\n  ODATA gaps \(session.gaps) (\(session.gapSequences) sequences)\n")
            out.append("  NAKs \(session.naks) (\(session.nakEntries) entries), NCFs \(session.ncfs) ")
            out.append("(\(session.ncfEntries) entries), RDATA \(session.rdata)\n")
            out.append("  lost sequences \(session.lostSequences): NAKs per sequence mean ")
            appendMean(session.naksPerLostSequence, into: &out)
            out.append(", RDATA per sequence mean ")
            appendMean(session.rdataPerLostSequence, into: &out)
            out.append("\n  latency (ms)      count        p50        p90        p99        max\n")
            latencyRow("gap -> NAK", session.gapToNAK, &out)
            latencyRow("NAK -> NCF", session.nakToNCF, &out)
            latencyRow("NAK -> RDATA", session.nakToRDATA, &out)
            latencyRow("loss -> RDATA", session.detectToRDATA, &out)
            out.append("  never repaired \(session.neverRepaired.count)")
            if !session.neverRepaired.isEmpty {
                out.append(":")
                for sequence in session.neverRepaired.prefix(32) { out.append(" \(sequence)") }
                if session.neverRepaired.count > 32 { out.append(" ...") }
            }
            out.append("\n  OPT_CR reports \(session.congestionReports)")
            if let worst = session.worstReceiver {
                out.append(", worst receiver ")
                out.append(nla: worst.receiver)
                out.append(" rx_wp \(worst.loss) (")
                appendPercent(worst.loss, into: &out)
                out.append(")")
            }
            out.append("\n")
            if let parity = session.parity { parityLines(parity, &out) }
        }
    }

    /// The FEC lines of a session that used parity (``TraceAnalyzer/ParityReport``).
    private static func parityLines(_ parity: TraceAnalyzer.ParityReport, _ out: inout OutputBuffer) {
        out.append("  parity: transmission group size ")
        out.append(parity.groupSize.map { String($0) } ?? "unknown")
        out.append(", groups \(parity.groups), proactive \(parity.proactive), on-demand \(parity.onDemand)\n")
        out.append("  parity NAKs \(parity.naks) (\(parity.requestedPackets) packets requested), ")
        out.append("selective RDATA \(parity.selectiveRDATA)\n")
        out.append("  losses repaired by parity \(parity.repairedByParity), selectively \(parity.repairedSelectively) ")
        out.append("(as seen at this capture point)\n")
    }

    public static func json(_ report: TraceAnalyzer.Report, into out: inout OutputBuffer) {
        for session in report.sessions {
            out.jsonOpen()
            out.jsonString("type", "session_stats")
            out.jsonString("tsi", session.tsi.description)
            out.jsonInt("first_time_ns", session.firstTime)
            out.jsonInt("last_time_ns", session.lastTime)
            out.jsonKey("traffic")
            out.jsonOpen()
            for row in session.traffic {
                out.jsonKey(dynamic: row.type.jsonName)
                out.jsonOpen()
                out.jsonInt("packets", row.packets)
                out.jsonInt("bytes", row.bytes)
                out.jsonClose()
            }
            out.jsonClose()
            out.jsonKey("odata_first_sequence")
            if let range = session.odataRange { out.append(decimal: range.first.rawValue) } else { out.append("null") }
            out.jsonKey("odata_last_sequence")
            if let range = session.odataRange { out.append(decimal: range.last.rawValue) } else { out.append("null") }
            out.jsonKey("last_spm_lead")
            if let lead = session.lastSPMLead { out.append(decimal: lead.rawValue) } else { out.append("null") }
            out.jsonInt("gaps", session.gaps)
            out.jsonInt("gap_sequences", session.gapSequences)
            out.jsonInt("naks", session.naks)
            out.jsonInt("nak_entries", session.nakEntries)
            out.jsonInt("ncfs", session.ncfs)
            out.jsonInt("ncf_entries", session.ncfEntries)
            out.jsonInt("rdata", session.rdata)
            out.jsonInt("lost_sequences", session.lostSequences)
            distribution("naks_per_lost_sequence", session.naksPerLostSequence, &out)
            distribution("rdata_per_lost_sequence", session.rdataPerLostSequence, &out)
            out.jsonKey("latency_ns")
            out.jsonOpen()
            latency("gap_to_nak", session.gapToNAK, &out)
            latency("nak_to_ncf", session.nakToNCF, &out)
            latency("nak_to_rdata", session.nakToRDATA, &out)
            latency("detect_to_rdata", session.detectToRDATA, &out)
            out.jsonClose()
            out.jsonKey("never_repaired")
            out.append("[")
            for (index, sequence) in session.neverRepaired.enumerated() {
                if index > 0 { out.append(",") }
                out.append(decimal: sequence.rawValue)
            }
            out.append("]")
            out.jsonInt("congestion_reports", session.congestionReports)
            out.jsonKey("worst_receiver")
            if let worst = session.worstReceiver {
                out.jsonOpen()
                out.jsonNLA("address", worst.receiver)
                out.jsonInt("rx_worst_path", worst.loss)
                out.jsonClose()
            } else {
                out.append("null")
            }
            if let parity = session.parity {
                out.jsonKey("parity")
                out.jsonOpen()
                out.jsonKey("group_size")
                if let k = parity.groupSize { out.append(decimal: k) } else { out.append("null") }
                out.jsonInt("groups", parity.groups)
                out.jsonInt("proactive_parity", parity.proactive)
                out.jsonInt("on_demand_parity", parity.onDemand)
                out.jsonInt("parity_naks", parity.naks)
                out.jsonInt("parity_requested_packets", parity.requestedPackets)
                out.jsonInt("selective_rdata", parity.selectiveRDATA)
                out.jsonInt("repaired_by_parity", parity.repairedByParity)
                out.jsonInt("repaired_selectively", parity.repairedSelectively)
                out.jsonClose()
            }
            out.jsonClose()
            out.append("\n")
        }
        let capture = report.capture
        out.jsonOpen()
        out.jsonString("type", "capture_stats")
        out.jsonInt("frames", capture.frames)
        out.jsonInt("pgm_packets", capture.pgmPackets)
        out.jsonInt("malformed", capture.malformed)
        out.jsonInt("fragments", capture.fragments)
        out.jsonInt("other", capture.other)
        out.jsonInt("bad_checksums", capture.badChecksums)
        out.jsonInt("missing_checksums", capture.missingChecksums)
        if let counts = capture.authentication {
            out.jsonKey("authentication")
            out.jsonOpen()
            out.jsonInt("valid", counts.valid)
            out.jsonInt("invalid", counts.invalid)
            out.jsonInt("absent", counts.absent)
            out.jsonClose()
        }
        out.jsonInt("sessions", report.sessions.count)
        out.jsonClose()
        out.append("\n")
    }

    private static func distribution(
        _ name: StaticString,
        _ value: TraceAnalyzer.Distribution,
        _ out: inout OutputBuffer
    ) {
        out.jsonKey(name)
        out.jsonOpen()
        out.jsonInt("count", value.count)
        out.jsonInt("total", value.total)
        out.jsonInt("max", value.maximum)
        out.jsonDouble("mean", (value.mean * 1000).rounded() / 1000)
        out.jsonClose()
    }

    private static func latency(_ name: StaticString, _ value: TraceAnalyzer.LatencySummary, _ out: inout OutputBuffer)
    {
        out.jsonKey(name)
        out.jsonOpen()
        out.jsonInt("count", value.count)
        out.jsonInt("p50", value.p50)
        out.jsonInt("p90", value.p90)
        out.jsonInt("p99", value.p99)
        out.jsonInt("max", value.maximum)
        out.jsonClose()
    }

    private static func latencyRow(_ name: String, _ value: TraceAnalyzer.LatencySummary, _ out: inout OutputBuffer) {
        out.append("  ")
        pad(name, 14, &out)
        pad(String(value.count), 9, &out, right: true)
        for sample in [value.p50, value.p90, value.p99, value.maximum] {
            var cell = OutputBuffer(capacity: 16)
            if value.count == 0 { cell.append("-") } else { appendMilliseconds(sample, into: &cell) }
            pad(String(decoding: cell.bytes, as: UTF8.self), 11, &out, right: true)
        }
        out.append("\n")
    }

    /// Nanoseconds as milliseconds with three decimals, by integer arithmetic (no Foundation formatting).
    static func appendMilliseconds(_ nanoseconds: Int64, into out: inout OutputBuffer) {
        let microseconds = (nanoseconds / 1000) + (nanoseconds % 1000 >= 500 ? 1 : 0)
        out.append(decimal: microseconds / 1000)
        out.append(".")
        out.append(decimal: Int((microseconds % 1000).magnitude), width: 3)
    }

    private static func appendMean(_ value: TraceAnalyzer.Distribution, into out: inout OutputBuffer) {
        let hundredths = value.count == 0 ? 0 : (value.total * 100 + value.count / 2) / value.count
        out.append(decimal: hundredths / 100)
        out.append(".")
        out.append(decimal: hundredths % 100, width: 2)
        out.append(" max ")
        out.append(decimal: value.maximum)
    }

    /// A loss value of OPT_CR (linear, 0xFFFF = 100 %) as a percentage with one decimal.
    private static func appendPercent(_ loss: UInt16, into out: inout OutputBuffer) {
        let tenths = (Int(loss) * 1000 + 32_767) / 65_535
        out.append(decimal: tenths / 10)
        out.append(".")
        out.append(decimal: tenths % 10)
        out.append(" %")
    }

    private static func pad(_ text: String, _ width: Int, _ out: inout OutputBuffer, right: Bool = false) {
        let padding = String(repeating: " ", count: max(0, width - text.utf8.count))
        if right { out.append(padding) }
        out.append(text)
        if !right { out.append(padding) }
    }
}
