// libFuzzer target over pgm-dump's whole packet path: link layer -> IP -> UDP -> PGM -> text, JSON and the
// trace analyzer. The first input byte picks the link type, the rest is the frame. A crash here is a crash of
// pgm-dump on a hostile capture; every one becomes a regression test (Tests/PGMCaptureTests/FuzzRegressionTests).
import PGMCapture

/// One analyzer for the whole run, so state built from earlier inputs (sessions, loss records) is exercised too.
/// libFuzzer calls the entry point from one thread; `nonisolated(unsafe)` is safe under that invariant.
nonisolated(unsafe) var analyzer = TraceAnalyzer()
nonisolated(unsafe) var inputs = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let linkType = LinkType.supported[Int(data[0]) % LinkType.supported.count]
    let frame = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    // Alternate port configurations so both the configured-port and the heuristic UDP paths run.
    let decapsulator = Decapsulator(
        udpPorts: data[0] & 0x80 == 0 ? Decapsulator.defaultUDPPorts : [],
        udpHeuristic: true
    )
    let dissection = Dissection.dissect(
        frame: frame,
        linkType: linkType,
        decapsulator: decapsulator,
        number: 1,
        timestamp: CaptureTimestamp(seconds: Int64(size), nanoseconds: Int32(size % 1_000_000_000)),
        originalLength: size - 1
    )
    var out = OutputBuffer()
    TextFormatter(verbose: true, hexDump: .hexAndASCII).format(dissection, frame: frame, into: &out)
    TextFormatter().format(dissection, frame: frame, into: &out)
    JSONFormatter().format(dissection, into: &out)
    analyzer.record(dissection)
    inputs += 1
    if inputs % 4096 == 0 {
        // Reports are built at the end of a capture; build one now and then, and start over to bound memory.
        let report = analyzer.report()
        StatisticsFormatter.text(report, into: &out)
        StatisticsFormatter.json(report, into: &out)
        analyzer = TraceAnalyzer()
    }
    return 0
}
