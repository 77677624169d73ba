import ArgumentParser
import Logging
import PGMCore
import PGMWire
import Testing

@testable import PGMCommandLine

@Suite struct SourceReceiveOptionsTests {
    @Test(arguments: [
        ("100M", 100_000_000), ("2.5G", 2_500_000_000), ("800k", 800_000), ("64K", 64_000), ("1000", 1000),
        ("100Mbps", 100_000_000), ("10 Mbit/s", 10_000_000), ("1.5m", 1_500_000),
    ])
    func ratesTakeDecimalSuffixes(text: String, bits: Int) throws {
        #expect(try #require(Rate(argument: text)).bitsPerSecond == bits)
    }

    @Test(arguments: ["", "M", "abc", "-5M", "0", "1T", "nan", "12x"])
    func badRatesAreRefused(text: String) {
        #expect(Rate(argument: text) == nil)
    }

    @Test func ratesPrintInTheirLargestUnit() {
        #expect(Rate(bitsPerSecond: 100_000_000).description == "100 Mbit/s")
        #expect(Rate(bitsPerSecond: 2_500_000_000).description == "2.5 Gbit/s")
        #expect(Rate(bitsPerSecond: 800_000).description == "800 kbit/s")
        #expect(Rate(bitsPerSecond: 100_000_000).bytesPerSecond == 12_500_000)
    }

    @Test func sourceDefaultsSuitALANAndPrintTheWindow() throws {
        let command = try SourceCommand.parse([])
        #expect(command.rate.bitsPerSecond == 100_000_000)
        #expect(command.apduSize == nil)
        #expect(command.network.group == "239.192.0.1")
        #expect(command.network.port == 7500)
        #expect(command.network.udpPort == 3056)
        #expect(!command.network.multicastLoop && !command.network.native)
        #expect(command.windowDescription == "window 4 s at 100 Mbit/s = 50 MB")
        let capped = try SourceCommand.parse(["--rate", "1G", "--txw-secs", "10", "--txw-bytes", "1000000"])
        #expect(capped.windowBytes == 1_000_000)
        #expect(capped.windowDescription == "window 0.008 s at 1 Gbit/s = 1 MB (--txw-bytes)")
    }

    /// The options' defaults are ProgramDefaults' (which the lab also hands to the simulator), with the values
    /// `--help` has always shown.
    @Test func optionsDefaultToProgramDefaults() throws {
        let source = try SourceCommand.parse([])
        #expect(source.rate == ProgramDefaults.rate && source.rate.bitsPerSecond == 100_000_000)
        #expect(source.maxTPDU == ProgramDefaults.maxTPDU && source.maxTPDU == 1500)
        #expect(source.txwSeconds == ProgramDefaults.transmitWindowSeconds && source.txwSeconds == 4)
        #expect(source.linger == ProgramDefaults.lingerSeconds && source.linger == 5)
        #expect(source.spmInterval == ProgramDefaults.ambientSPMIntervalSeconds && source.spmInterval == 1)
        let receiver = try ReceiveCommand.parse([])
        #expect(receiver.nakRepeatInterval == ProgramDefaults.receiverNAKRepeatIntervalSeconds)
        #expect(receiver.nakRdataInterval == ProgramDefaults.receiverNAKRdataIntervalSeconds)
        #expect(receiver.nakBackoffInterval == ProgramDefaults.receiverNAKBackoffIntervalSeconds)
        let intervals = [receiver.nakRepeatInterval, receiver.nakRdataInterval, receiver.nakBackoffInterval]
        #expect(intervals == [0.25, 0.25, 0.05])
        #expect(receiver.peerExpiry == 300 && receiver.dlrLinger == 5 && receiver.dlrCacheBytes == 32 << 20)
        #expect(receiver.network.ttl == 16 && receiver.network.udpPort == ProgramDefaults.udpPort)
        let element = try NetworkElementCommand.parse(["--upstream", "a", "--downstream", "b"])
        #expect(element.nakRepeatInterval == ProgramDefaults.elementNAKRepeatIntervalSeconds)
        #expect([element.nakRepeatInterval, element.nakRdataInterval, element.lossDetectionBackoff] == [2, 2, 0.002])
        #expect(element.maximumSessions == 1024)
        #expect(ProgramDefaults.headerOverhead(native: true) == 20)
        #expect(ProgramDefaults.headerOverhead(native: false) == 28)
        #expect(ProgramDefaults.routerAlertOverhead(native: true) == 4)
        #expect(ProgramDefaults.routerAlertOverhead(native: false) == 0)
    }

    /// pgm-ne takes every session from --upstream unless --per-session-upstream lets each session's SPMs say
    /// where its source is (pgm-chat members on both sides of an element, Topologies/chat.yaml).
    @Test func perSessionUpstreamLeavesTheUpstreamToEachSession() throws {
        let addresses: [NLA] = [.ipv4(IPv4Address(198, 18, 110, 1)), .ipv4(IPv4Address(198, 18, 111, 1))]
        let fixed = try NetworkElementCommand.parse(["--upstream", "a", "--downstream", "b"])
        #expect(!fixed.perSessionUpstream)
        #expect(fixed.elementConfiguration(addresses: addresses).upstream == InterfaceID(0))
        let learned = try NetworkElementCommand.parse([
            "--upstream", "a", "--downstream", "b", "--per-session-upstream",
        ])
        #expect(learned.elementConfiguration(addresses: addresses).upstream == nil)
    }

    @Test func defaultAPDUsFitSixteenFragments() {
        var configuration = Source.Configuration(
            tsi: TSI(gsi: GSI(rawValue: 1), sourcePort: 1), dataDestinationPort: 7500,
            group: .ipv4(IPv4Address(239, 192, 0, 1)), sourceAddress: .ipv4(IPv4Address(198, 18, 0, 1)))
        configuration.headerOverhead = Source.Configuration.udpHeaderOverhead
        configuration.routerAlertOverhead = 0
        #expect(ProgramDefaults.apduSize(configuration) == 16 * Source.maximumPayload(configuration, fragmented: true))
        #expect(ProgramDefaults.apduSize(configuration) < 22_800)
        configuration.headerOverhead = 20
        configuration.routerAlertOverhead = 4
        #expect(ProgramDefaults.apduSize(configuration) == 22_800)
    }

    @Test(arguments: [
        ["--group", "10.1.2.3"], ["--group", "239.192.0"], ["--rate", "1k"], ["--max-tpdu", "100"], ["--port", "0"],
        ["--txw-secs", "0"], ["--apdu-size", "0"], ["--linger", "-1"],
    ])
    func badSourceOptionsAreUsageErrors(arguments: [String]) {
        #expect(throws: (any Error).self) { try SourceCommand.parse(arguments) }
        #expect(SourceCommand.exitCode(for: ValidationError("x")).rawValue == 64)
    }

    @Test func receiverOptions() throws {
        let command = try ReceiveCommand.parse([
            "--group", "239.192.3.4", "--interface", "lo", "--native", "--ttl", "1", "--multicast-loop", "-o", "out",
            "--tsi", "c6:12:00:01:ab:cd.4000", "--timeout", "2.5", "--json", "--log-level", "debug",
        ])
        #expect(command.network.groupAddress == IPv4Address(239, 192, 3, 4))
        #expect(command.network.native)
        #expect(command.network.ttl == 1 && command.network.multicastLoop)
        #expect(command.outputFile == "out")
        #expect(command.tsi?.value == TSI(gsi: GSI(rawValue: 0xc612_0001_abcd), sourcePort: 4000))
        #expect(command.timeout == 2.5)
        #expect(command.output.json)
        #expect(command.logging.logLevel.rawValue == "debug")
        #expect(throws: (any Error).self) { try ReceiveCommand.parse(["--tsi", "c6:12:00:01:ab.4000"]) }
        #expect(throws: (any Error).self) { try ReceiveCommand.parse(["--timeout", "0"]) }
    }

    @Test func helpGivesExamplesAndExitCodes() {
        let source = SourceCommand.helpMessage(columns: 120)
        #expect(source.contains("OVERVIEW: Send files or standard input reliably to a PGM (RFC 3208) multicast group."))
        #expect(source.contains("pgm-source --interface eth0 --rate 50M big.iso"))
        #expect(source.contains("77  --native without root or CAP_NET_RAW"))
        #expect(
            source.contains("--udp-port <port>") && source.contains("--multicast-loop") && source.contains("--txw-secs")
        )
        let receiver = ReceiveCommand.helpMessage(columns: 120)
        #expect(receiver.contains("pgm-recv --interface eth0 --output big.iso"))
        #expect(receiver.contains("3   some data was unrecoverable"))
        #expect(receiver.contains("--timeout <seconds>"))
        #expect(receiver.contains("--follow"))
        #expect(receiver.contains("--peer-expiry <seconds>"))
        #expect(receiver.contains("--nak-bo-ivl <seconds>"))
        #expect(receiver.contains("pgm-recv --interface eth0 --follow --peer-expiry 10 >> feed.log"))
    }

    @Test func theFirstSessionIsKeptAndOthersAreReported() {
        let first = TSI(gsi: GSI(rawValue: 1), sourcePort: 1)
        let second = TSI(gsi: GSI(rawValue: 2), sourcePort: 2)
        var session = ReceiveSession(wanted: nil)
        let firstSeen = session.handle(.peerDiscovered(first, source: .ipv4(IPv4Address(198, 18, 0, 1))))
        guard case .note(let note) = firstSeen.first else {
            Issue.record("no note for the first session")
            return
        }
        #expect(note.text.contains("\(first)"))
        let secondSeen = session.handle(.peerDiscovered(second, source: .ipv4(IPv4Address(198, 18, 0, 2))))
        guard case .note(let other) = secondSeen.first else {
            Issue.record("no note for the second session")
            return
        }
        #expect(other.text.hasPrefix("ignoring session"))
        #expect(session.handle(.peerDiscovered(second, source: .ipv4(IPv4Address(198, 18, 0, 2)))) == [])
        #expect(session.handle(.data(second, bytes: [9])) == [])
        #expect(session.handle(.data(first, bytes: [1, 2])) == [.write([1, 2])])
        #expect(
            session.handle(
                .unrecoverable(second, first: SequenceNumber(1), last: SequenceNumber(2), reason: .windowAdvanced))
                == [])
        _ = session.handle(
            .unrecoverable(first, first: SequenceNumber(10), last: SequenceNumber(12), reason: .retriesExhausted))
        #expect(session.lostSequences == 3)
        #expect(session.handle(.sessionClosed(second)) == [])
        #expect(session.handle(.sessionClosed(first)) == [.closed])
    }

    @Test func tsiNamesTheSessionToKeep() {
        let first = TSI(gsi: GSI(rawValue: 1), sourcePort: 1)
        let second = TSI(gsi: GSI(rawValue: 2), sourcePort: 2)
        var session = ReceiveSession(wanted: second)
        _ = session.handle(.peerDiscovered(first, source: .ipv4(IPv4Address(198, 18, 0, 1))))
        #expect(session.handle(.data(first, bytes: [1])) == [])
        #expect(session.handle(.data(second, bytes: [2])) == [.write([2])])
        #expect(session.selected == second)
    }
}
