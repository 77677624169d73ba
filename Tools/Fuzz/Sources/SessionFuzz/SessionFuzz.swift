// libFuzzer target over one session under attack (FuzzHarness.Session.run): a real source's lossy stream and
// well-formed hostile packets for its TSI, fed to a receiver, a network element and a receiver below it; every
// operation checks the invariants (bounded state, bounded NAKs and losses, delivery only of the source's data).
// Tools/fuzz keeps every crashing input in Corpus/session/, where FuzzRegressionTests replays it on `swift test`.
import FuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let failure = FuzzHarness.Session.run(Array(UnsafeBufferPointer(start: data, count: size))) {
        fatalError(failure)
    }
    return 0
}
