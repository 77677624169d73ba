import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

/// PGMCC's state on pgm-source's statistics line and in its JSON.
@Suite struct CongestionStatisticsTests {
    static let receiver = NLA.ipv4(IPv4Address(198, 18, 200, 200))

    /// A source under PGMCC that sent 4 ODATA and got the election answered by ``receiver`` 35 ms later.
    static func electedSource() throws -> Source {
        var configuration = Source.Configuration(
            tsi: TSI(gsi: GSI(rawValue: 7), sourcePort: 9), dataDestinationPort: 7500,
            group: .ipv4(IPv4Address(239, 192, 0, 1)), sourceAddress: .ipv4(IPv4Address(198, 18, 0, 1)))
        configuration.congestionControl = CongestionControl.Configuration()
        configuration.initialSequence = SequenceNumber(1)
        configuration.rate = 10_000_000
        var source = Source(configuration: configuration, at: .zero)
        for _ in 0..<8 { try source.send([UInt8](repeating: 1, count: 1000), at: .zero) }
        var stamp: UInt32 = 0
        while let transmit = source.pollTransmit(at: .zero) {
            for option in transmit.packet.options {
                if case .pgmccData(let timestamp, _) = option.value { stamp = timestamp }
            }
        }
        let ack = Packet(
            tsi: configuration.tsi, dataDestinationPort: 7500,
            body: .ack(ACK(receivedMaximum: SequenceNumber(1), bitmap: 1)),
            options: [Option(.pgmccFeedback(timestamp: stamp, lossRate: 340, receiver: receiver))])
        source.receive(
            ack, arrival: Arrival(source: receiver, destination: configuration.sourceAddress),
            at: .zero + .milliseconds(35))
        return source
    }

    @Test func theLineShowsTheWindowAndTheAckerWithinEightyColumns() throws {
        let source = try Self.electedSource()
        var sample = SourceProgram.sample(source, accepted: 8000)
        sample.elapsedSeconds = 12
        sample.rateBitsPerSecond = 38_000_000
        sample.totalBytes = 123_456_789
        sample.etaSeconds = 20
        let line = StatisticsPrinter.text(sample)
        #expect(line.count <= 80, "\(line)")
        #expect(line.hasSuffix("  W 4"), "\(line)")
        // The lowest priority: the acker goes first when the line is full, and shows on a shorter one.
        sample.totalBytes = nil
        sample.etaSeconds = nil
        let short = StatisticsPrinter.text(sample)
        #expect(short.hasSuffix("  W 4  acker 198.18.200.200 0.52% 35ms"), "\(short)")
        #expect(short.count <= 80, "\(short)")
    }

    @Test func jsonCarriesTheCongestionObject() throws {
        let source = try Self.electedSource()
        let congestion = try #require(SourceProgram.sample(source, accepted: 8000).congestion)
        #expect(congestion.phase == "acked" && congestion.acker == "198.18.200.200")
        #expect(congestion.ackerRttSeconds == 0.035)
        #expect(congestion.window == 4)
        let fresh = Source(configuration: try Self.electedSource().configuration, at: .zero)
        #expect(SourceProgram.sample(fresh, accepted: 0).congestion?.phase == "electing")
    }
}
