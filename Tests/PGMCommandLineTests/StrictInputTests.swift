import ArgumentParser
import Foundation
import PGMCore
import PGMSockets
import PGMWire
import Testing

@testable import PGMCommandLine

/// Issue 18, item 2: every option is checked before the run against what the engines accept, byte and rate
/// options take unit suffixes, closed standard descriptors and unusable interfaces fail up front with a
/// sentence, and an existing output survives a run that gets nothing.
@Suite struct StrictInputTests {
    @Test(arguments: [
        ("1500", 1500), ("10M", 10_000_000), ("1.5MB", 1_500_000), ("64Ki", 65_536), ("256MiB", 268_435_456),
        ("1Gi", 1 << 30), ("2k", 2000), ("0", 0), (" 7 ", 7), ("1 KiB", 1024),
    ])
    func byteCountsTakeDecimalAndBinarySuffixes(text: String, bytes: Int) {
        #expect(ByteCount.parse(text) == bytes)
    }

    @Test(arguments: ["", "M", "abc", "-5", "1.5", "1Ti", "10x", "nan", "inf", "1e3", "9999999999G", "Mi", "1iB"])
    func badByteCountsAreRefused(text: String) {
        #expect(ByteCount.parse(text) == nil)
        #expect(throws: ByteCountError.self) { try ByteCount.argument(text) }
    }

    @Test func ratesTakeBinarySuffixesToo() throws {
        #expect(try #require(Rate(argument: "1Mi")).bitsPerSecond == 1 << 20)
        #expect(Rate(argument: "1Xi") == nil)
    }

    @Test func sizesPrintInTheUnitThatIsExact() {
        #expect(ByteCount.describe(256 << 20) == "256 MiB")
        #expect(ByteCount.describe(50_000_000) == "50 MB")
        #expect(ByteCount.describe(22_784) == "22,784 bytes")
    }

    /// The issue's trap: the option allowed 16 MiB, the engine 1 MiB.
    @Test func anAPDUAboveTheEnginesLimitIsAUsageError() throws {
        #expect(throws: (any Error).self) { try SourceCommand.parse(["--apdu-size", "2000000"]) }
        #expect(throws: (any Error).self) { try SourceCommand.parse(["--apdu-size", "1049577"]) }
        #expect(try SourceCommand.parse(["--apdu-size", "1Mi"]).apduSize == 1 << 20)
        #expect(try SourceCommand.parse(["--txw-bytes", "10M"]).txwBytes == 10_000_000)
        #expect(try ReceiveCommand.parse(["--dlr-cache", "64Mi"]).dlrCacheBytes == 64 << 20)
        #expect(try DumpCommand.parse(["-r", "x", "-s", "64Ki"]).snapshotLength == 65_536)
        #expect(throws: (any Error).self) { try DumpCommand.parse(["-r", "x", "-s", "4Gi"]) }
    }

    /// Every numeric option of pgm-source with hostile values: either a usage error, or a configuration the
    /// engine takes (``Source/init(configuration:at:)`` traps on anything else).
    @Test func noSourceOptionValueReachesTheEngineUnchecked() throws {
        let hostile = ["0", "-1", "1", "575", "576", "65535", "65536", "1e30", "nan", "inf", "1Gi", "1Mi", "999G"]
        let options = [
            "--rate", "--max-tpdu", "--txw-secs", "--txw-bytes", "--apdu-size", "--linger", "--spm-interval",
            "--source-port", "--port", "--udp-port", "--ttl",
        ]
        var accepted = 0
        for option in options {
            for value in hostile {
                for extra in [[], ["--max-tpdu", "576"], ["--apdu-size", "1Mi"], ["--native"]] {
                    guard let command = try? SourceCommand.parse([option, value] + extra) else { continue }
                    accepted += 1
                    let configuration = command.sourceConfiguration(
                        tsi: TSI(gsi: GSI(rawValue: 1), sourcePort: 1), sourceAddress: IPv4Address(198, 18, 0, 1))
                    #expect(throws: Never.self, "\(option) \(value) \(extra)") { try configuration.validate() }
                    _ = Source(configuration: configuration, at: .zero)
                }
            }
        }
        #expect(accepted > 50)
    }

    @Test func receiverAndElementTimesAreBounded() {
        for arguments in [
            ["--timeout", "1e300"], ["--timeout", "nan"], ["--peer-expiry", "inf"], ["--dlr-linger", "-1"],
            ["--nak-bo-ivl", "0"], ["--dlr-cache", "1K"],
        ] {
            #expect(throws: (any Error).self, "\(arguments)") { try ReceiveCommand.parse(arguments) }
        }
        let element = ["--upstream", "a", "--downstream", "b"]
        for arguments in [["--max-sessions", "0"], ["--nak-elim-ivl", "5"], ["--nak-rpt-rte", "1e9"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try NetworkElementCommand.parse(element + arguments) }
        }
    }

    /// The default window is capped (4 s at 4 Gbit/s would be 2 GB held in memory); --txw-bytes raises it.
    @Test func theDefaultWindowIsCappedAndAnnounced() throws {
        let fast = try SourceCommand.parse(["--rate", "4G"])
        #expect(fast.windowBytes == 256 << 20)
        #expect(fast.windowDescription == "window 0.537 s at 4 Gbit/s = 256 MiB (cap; --txw-bytes raises it)")
        let raised = try SourceCommand.parse(["--rate", "4G", "--txw-bytes", "1Gi"])
        #expect(raised.windowBytes == 1 << 30)
        let slow = try SourceCommand.parse(["--rate", "10M", "--txw-secs", "0.5"])
        #expect(slow.windowBytes == 625_000 && slow.windowDescription == "window 0.5 s at 10 Mbit/s = 625,000 bytes")
    }

    @Test func interfacesThatAreDownOrWithoutMulticastAreRefused() {
        let address = IPv4Address(198, 18, 0, 1)
        let up = UInt32(IFF_UP), multicast = UInt32(IFF_MULTICAST), loopback = UInt32(IFF_LOOPBACK)
        #expect(throws: Never.self) {
            try NetworkInterface(name: "eth0", index: 2, address: address, flags: up | multicast).checkUsable()
        }
        #expect(throws: Never.self) {
            try NetworkInterface(name: "lo", index: 1, address: address, flags: up | loopback).checkUsable()
        }
        #expect(throws: NetworkConfigurationError.interfaceDown("eth0")) {
            try NetworkInterface(name: "eth0", index: 2, address: address, flags: multicast).checkUsable()
        }
        #expect(throws: NetworkConfigurationError.noMulticast("eth1")) {
            try NetworkInterface(name: "eth1", index: 3, address: address, flags: up).checkUsable()
        }
        #expect(NetworkConfigurationError.interfaceDown("eth0").description.contains("is down"))
    }

    /// pgm-ne compares interfaces after resolving them: a name and an address of one interface are one.
    @Test func theNetworkElementNamesADuplicateInterface() {
        let flags = UInt32(IFF_UP | IFF_MULTICAST)
        let interfaces = [
            NetworkInterface(
                name: "lo", index: 1, address: IPv4Address(127, 0, 0, 1), flags: UInt32(IFF_UP | IFF_LOOPBACK)),
            NetworkInterface(name: "eth0", index: 2, address: IPv4Address(198, 18, 0, 1), flags: flags),
            NetworkInterface(name: "eth1", index: 3, address: IPv4Address(198, 18, 1, 1), flags: UInt32(IFF_MULTICAST)),
        ]
        let lookup = { (name: String) throws(NetworkConfigurationError) -> NetworkInterface in
            guard let found = interfaces.first(where: { $0.name == name || "\($0.address)" == name }) else {
                throw .interfaceNotFound(name)
            }
            return found
        }
        do {
            _ = try NetworkElementCommand.resolve(upstream: "127.0.0.1", downstream: ["lo"], lookup: lookup)
            Issue.record("127.0.0.1 and lo were taken as two interfaces")
        } catch {
            #expect(error.exitCode == .usage)
            #expect(error.message.contains("--downstream lo") && error.message.contains("--upstream 127.0.0.1"))
        }
        #expect(throws: CommandFailure.self) {
            try NetworkElementCommand.resolve(upstream: "eth0", downstream: ["eth1"], lookup: lookup)
        }
        #expect(
            (try? NetworkElementCommand.resolve(upstream: "eth0", downstream: ["lo"], lookup: lookup))?.map(\.name)
                == ["eth0", "lo"])
        do {
            _ = try NetworkElementCommand.parse(["--upstream", "eth0", "--downstream", "lo", "--downstream", "lo"])
            Issue.record("a repeated --downstream was accepted")
        } catch {
            let message = NetworkElementCommand.message(for: error)
            #expect(message.contains("--downstream lo names the same interface as --downstream lo"), "\(message)")
        }
    }

    /// A run that gets nothing must not destroy an existing output; the file is written from the first data.
    @Test func anExistingOutputIsKeptUntilDataArrives() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-strict-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data("old".utf8).write(to: path)
        do {
            let writer = OutputWriter(.file(path.path))
            #expect(writer.flush())
            #expect(try Data(contentsOf: path) == Data("old".utf8))
            #expect(writer.append([1, 2, 3][...]) && writer.flush())
            #expect(writer.append([4][...]) && writer.flush())
        }
        #expect(try Data(contentsOf: path) == Data([1, 2, 3, 4]))
        try FileManager.default.removeItem(at: path)
        do {
            let writer = OutputWriter(.file(path.path))
            #expect(writer.createIfNeeded())
        }
        #expect(try Data(contentsOf: path).isEmpty)
        #expect(OutputWriter.Destination("-") == .standardOutput)
        #expect(OutputWriter.Destination(nil) == .standardOutput)
        #expect(OutputWriter.checkWritable(path.path) == nil)
        #expect(OutputWriter.checkWritable(FileManager.default.temporaryDirectory.path)?.contains("directory") == true)
        #expect(OutputWriter.checkWritable("/nonexistent-pgm-dir/out")?.hasPrefix("cannot create") == true)
        let failing = OutputWriter(.file("/nonexistent-pgm-dir/out"))
        #expect(!failing.append([1][...]) || !failing.flush())
        #expect(failing.failure.hasPrefix("cannot create /nonexistent-pgm-dir/out"))
    }

    /// The programs as processes, with a standard descriptor closed: a socket must not take its number.
    @Test(.timeLimit(.minutes(1))) func closedStandardDescriptorsFailWithASentence() throws {
        let source = try SourceReceiveEndToEndTests.binary("pgm-source")
        let receiver = try SourceReceiveEndToEndTests.binary("pgm-recv")
        for (command, code, words) in [
            ("exec \(source) --interface lo <&-", 66, "standard input is closed"),
            ("exec \(receiver) --interface lo >&-", 1, "standard output is closed"),
            ("exec \(receiver) --interface lo -o /nonexistent-pgm-dir/out", 1, "cannot create"),
        ] {
            let child = try SourceReceiveEndToEndTests.Child(["/bin/sh", "-c", command])
            let outcome = child.wait(seconds: 20)
            #expect(outcome.status == Int32(code), "\(command): \(outcome.standardError)")
            #expect(outcome.standardError.contains(words), "\(command): \(outcome.standardError)")
        }
    }

    /// `-w -`: the pcap on standard output, the text on standard error (tcpdump's convention).
    @Test func dumpWritingToStandardOutputPrintsTextToStandardError() throws {
        let capture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/testdata/tcpdump/epgm_zmtp1.pcap").standardized
        try #require(FileManager.default.fileExists(atPath: capture.path))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pgm-w-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let child = try SourceReceiveEndToEndTests.Child(
            [try SourceReceiveEndToEndTests.binary("pgm-dump"), "-r", capture.path, "-c", "2", "-w", "-"],
            output: output)
        let outcome = child.wait(seconds: 20)
        #expect(outcome.status == 0)
        let pcap = try Data(contentsOf: output)
        #expect(
            Array(pcap.prefix(4)) == [0x4d, 0x3c, 0xb2, 0xa1] || Array(pcap.prefix(4)) == [0xd4, 0xc3, 0xb2, 0xa1])
        #expect(outcome.standardError.split(separator: "\n").filter { $0.contains("SPM") }.count == 2)
    }

    /// In a namespace lab: an interface that is down, or up without multicast, fails with 69 and a sentence
    /// (before, the source sent into nothing and exited 0, and the receiver waited for ever).
    @Test(.enabled(if: NamespaceLab.available, "needs root and ip"), .timeLimit(.minutes(1)))
    func anInterfaceDownOrWithoutMulticastIsUnavailable() throws {
        let lab = NamespaceLab()
        defer { lab.tearDown() }
        try lab.setUp(lossPercent: 0)
        let link = "\(lab.prefix)a"
        let exec = ["/usr/sbin/ip", "netns", "exec", lab.sourceNamespace]
        let source = try SourceReceiveEndToEndTests.binary("pgm-source")
        let receiver = try SourceReceiveEndToEndTests.binary("pgm-recv")
        try NamespaceLab.run(["ip", "-n", lab.sourceNamespace, "link", "set", link, "down"])
        let down = try SourceReceiveEndToEndTests.Child(exec + [source, "--interface", link, "/dev/null"])
        let downOutcome = down.wait(seconds: 20)
        #expect(downOutcome.status == 69)
        #expect(downOutcome.standardError.contains("interface \(link) is down"), "\(downOutcome.standardError)")
        try NamespaceLab.run(["ip", "-n", lab.sourceNamespace, "link", "set", link, "up", "multicast", "off"])
        let plain = try SourceReceiveEndToEndTests.Child(exec + [receiver, "--interface", lab.sourceAddress])
        let plainOutcome = plain.wait(seconds: 20)
        #expect(plainOutcome.status == 69)
        #expect(plainOutcome.standardError.contains("does not support multicast"), "\(plainOutcome.standardError)")
    }
}
