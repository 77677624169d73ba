import PGMWire
import Testing

@testable import PGMSockets

@Suite struct IPv4HeaderTests {
    @Test(arguments: [false, true])
    func roundTrip(routerAlert: Bool) throws {
        var buffer: [UInt8] = []
        IPv4Header.append(
            to: &buffer, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(239, 192, 0, 1), ttl: 7,
            routerAlert: routerAlert, payloadLength: 3)
        buffer += [1, 2, 3]
        #expect(buffer.count == (routerAlert ? 27 : 23))
        #expect(buffer[8] == 7)
        #expect(buffer[9] == 113)
        if routerAlert { #expect(Array(buffer[20..<24]) == [0x94, 0x04, 0x00, 0x00]) }
        let parsed = try #require(buffer.withUnsafeBytes { IPv4Header.parse($0) })
        #expect(parsed.source == IPv4Address(198, 18, 0, 1))
        #expect(parsed.destination == IPv4Address(239, 192, 0, 1))
        #expect(parsed.routerAlert == routerAlert)
        #expect(Array(buffer[parsed.payload]) == [1, 2, 3])
    }

    @Test func rejectsOtherProtocolsAndShortHeaders() {
        var buffer: [UInt8] = []
        IPv4Header.append(
            to: &buffer, source: IPv4Address(1, 2, 3, 4), destination: IPv4Address(5, 6, 7, 8), ttl: 1,
            routerAlert: false, payloadLength: 0)
        var udp = buffer
        udp[9] = 17
        #expect(udp.withUnsafeBytes { IPv4Header.parse($0) } == nil)
        #expect(Array(buffer[0..<19]).withUnsafeBytes { IPv4Header.parse($0) } == nil)
        var badLength = buffer
        badLength[0] = 0x4F  // IHL 60 bytes, longer than the datagram
        #expect(badLength.withUnsafeBytes { IPv4Header.parse($0) } == nil)
    }

    /// What the driver keeps from a raw socket's datagram: a total length that does not fit (another kernel's
    /// byte order) falls back to the datagram's end, and options are read as far as they are well formed.
    @Test func receivedHeadersAreReadLeniently() throws {
        var buffer: [UInt8] = []
        IPv4Header.append(
            to: &buffer, source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(239, 192, 0, 1), ttl: 1,
            routerAlert: true, payloadLength: 4)
        buffer += [9, 9, 9, 9]
        buffer[2] = 0x1C  // 28 little-endian in a big-endian field: 7,168
        buffer[3] = 0x00
        let swapped = try #require(buffer.withUnsafeBytes { IPv4Header.parse($0) })
        #expect(swapped.payload == 24..<28 && swapped.routerAlert)

        var options = buffer
        options[0] = 0x47  // 28-byte header: Router Alert, then an option whose length runs past the header
        options[2] = 0
        options[3] = 32
        options.insert(contentsOf: [0x44, 8, 0, 0], at: 24)
        let parsed = try #require(options.withUnsafeBytes { IPv4Header.parse($0) })
        #expect(parsed.routerAlert && parsed.payload == 28..<32)
    }
}
