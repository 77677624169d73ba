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
}
