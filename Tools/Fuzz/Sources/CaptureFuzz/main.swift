// libFuzzer target over pgm-dump's whole packet path (FuzzHarness.Capture): a crash here is a crash of pgm-dump
// on a hostile capture. Tools/fuzz keeps every crashing input in Corpus/capture/, where FuzzRegressionTests
// replays it on every `swift test`.
import FuzzHarness

/// One harness for the whole run. libFuzzer calls the entry point from one thread; `nonisolated(unsafe)` is safe
/// under that invariant.
nonisolated(unsafe) var harness = FuzzHarness.Capture()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = harness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
