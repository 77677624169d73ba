import PGMCore
import PGMWire
import Testing

/// The bytes below PGM, as the source's rate limiter and TPDU sizes count them.
@Suite struct TransportProfileTests {
    @Test func theTwoProfilesOfIPv4() {
        let native = TransportProfile.nativeIPv4
        #expect(native.headerOverhead == 20 && native.routerAlertOverhead == 4)
        #expect(TransportProfile.udpIPv4.headerOverhead == 28 && TransportProfile.udpIPv4.routerAlertOverhead == 0)
        #expect(TransportProfile.nativeIPv4.encapsulation == .native && TransportProfile.udpIPv4.encapsulation == .udp)
        #expect(TransportProfile.nativeIPv4.wireLength(ofPGM: 100, routerAlert: true) == 124)
        #expect(TransportProfile.nativeIPv4.wireLength(ofPGM: 100, routerAlert: false) == 120)
        #expect(TransportProfile.udpIPv4.wireLength(ofPGM: 100, routerAlert: true) == 128)
        #expect(TransportProfile.nativeIPv4.maximumPGMLength(inDatagramsOf: 1500) == 1476)
        #expect(TransportProfile.udpIPv4.maximumPGMLength(inDatagramsOf: 1500) == 1472)
    }

    @Test func theSourceSizesAndChargesItsPacketsByItsProfile() throws {
        var native = sourceConfiguration()
        native.transport = .nativeIPv4
        var udp = sourceConfiguration()
        udp.transport = .udpIPv4
        // A UDP TPDU has 4 bytes less room: 8 of UDP header, but no Router Alert to leave room for.
        #expect(
            Source.maximumPayload(udp, fragmented: false) == Source.maximumPayload(native, fragmented: false) - 4)
        for configuration in [native, udp] {
            var source = EngineHarness(Source(configuration: configuration, at: .zero))
            try source.send([UInt8](repeating: 1, count: 1000), at: .zero)
            let sent = source.drain()
            let expected = sent.reduce(0) { total, transmit in
                total
                    + configuration.transport.wireLength(
                        ofPGM: transmit.packet.encodedLength, routerAlert: transmit.routerAlert)
            }
            #expect(source.statistics.bytesSent == expected)
            // Every repair of the largest TPDU fits the datagram with its Router Alert.
            let largest = Source.maximumPayload(configuration, fragmented: true)
            #expect(
                configuration.transport.wireLength(
                    ofPGM: Packet.commonHeaderLength + 8 + 4 + 4 + 16 + largest,
                    routerAlert: true) <= configuration.maxTPDU)
        }
    }

    @Test func theOverheadPropertiesWriteThroughToTheProfile() {
        var configuration = sourceConfiguration()
        #expect(configuration.transport == .nativeIPv4)
        configuration.headerOverhead = Source.Configuration.udpHeaderOverhead
        configuration.routerAlertOverhead = 0
        #expect(configuration.transport.headerOverhead == 28 && configuration.transport.routerAlertOverhead == 0)
        #expect(
            Source.maximumPayload(configuration, fragmented: false)
                == {
                    var udp = sourceConfiguration()
                    udp.transport = .udpIPv4
                    return Source.maximumPayload(udp, fragmented: false)
                }())
    }
}
