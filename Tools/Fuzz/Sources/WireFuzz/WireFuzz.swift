import PGMWire

/// libFuzzer entry over the PGM decoder. Beyond "never traps", it checks the codec's contract on every input
/// that decodes: the packet re-encodes to bytes that decode to the same packet.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? Packet(decoding: bytes)
    guard let packet = try? Packet(decoding: bytes, checksum: .ignore) else { return 0 }
    let encoded = packet.encoded()
    guard let again = try? Packet(decoding: encoded) else {
        fatalError("re-encoded packet does not decode: \(packet)")
    }
    precondition(again == packet, "round trip changed the packet: \(packet) became \(again)")
    _ = packet.tsi.description
    return 0
}
