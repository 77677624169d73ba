// libFuzzer target over the PGM decoder (FuzzHarness.wire): beyond "never traps", every input that decodes must
// re-encode to bytes that decode to the same packet. Tools/fuzz keeps every crashing input in Corpus/wire/,
// where FuzzRegressionTests replays it on every `swift test`.
import FuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let failure = FuzzHarness.wire(Array(UnsafeBufferPointer(start: data, count: size))) {
        fatalError(failure)
    }
    return 0
}
