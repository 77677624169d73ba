// pgm-ne-bench: what RFC 3208 §7 network elements save, in the deterministic simulator (`pgm-ne-bench --help`).
import ArgumentParser
import PGMCore
import PGMSimulation
import PGMWire

struct ElementBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgm-ne-bench",
        abstract: "What RFC 3208 §7 network elements save, in the deterministic simulator.",
        discussion: """
            One source, a tree of routers (--fanout 4,4: a root with 4 downstream segments, each holding a router
            with 4 leaf subnets), --receivers receivers per leaf subnet, --loss independent loss on every leaf link
            (the router's attachment to a leaf subnet, so a loss hits the whole subnet) and --receiver-loss on
            every receiver's own link. The same seed runs twice: with NetworkElements, and with plain multicast
            routers that flood everything and let every NAK reach the source. Prints, per lost sequence, the NAK
            sequences and RDATA at the source, RDATA copies on the leaf subnets, repair latency percentiles
            (virtual time from the ODATA's transmission to the RDATA reaching a receiver that missed it), and
            whether every receiver delivered everything or reported exactly what it lost.

            --link-delay 50 is a LAN of sub-millisecond round trips, where a repair can pass an element before
            other receivers' back-off ends. --source-hold-off sets the source's repair hold-off: a source that
            ignores NAKs for a sequence it repaired within the hold-off leaves subnets behind elements, which
            constrain RDATA to the subnets that asked before it, waiting a whole NAK_RDATA_IVL.

            --engine instead times the NetworkElement engine alone (wall clock, no simulator): ODATA forwarded
            to three interfaces, NAKs confirmed and forwarded for distinct sequences, and a flood of NAKs for
            random in-window sequences against the default state caps.

            Examples:
              swift run --package-path Tools -c release pgm-ne-bench --link-delay 50
              swift run --package-path Tools -c release pgm-ne-bench --fanout 4,4,4 --receivers 10
            """)

    struct Options {
        var fanout = [4, 4]
        var receivers = 20
        var apdus = 300
        var loss = 0.01
        var receiverLoss = 0.0
        var seed: UInt64 = 1
        /// The source's repair hold-off (Source.Configuration.repairHoldOff), in milliseconds.
        var holdOff: Int?
        /// One-way delay of every link, in microseconds.
        var linkDelay = 500
    }

    @ArgumentParser.Option(
        help: "Routers per level below the root, comma-separated (default: 4,4).", transform: Self.levels)
    var fanout: [Int] = Options().fanout

    @ArgumentParser.Option(help: "Receivers per leaf subnet.")
    var receivers = Options().receivers

    @ArgumentParser.Option(help: "APDUs of 1000 bytes the source sends.")
    var apdus = Options().apdus

    @ArgumentParser.Option(help: "Loss on every leaf link, 0 to below 1.")
    var loss = Options().loss

    @ArgumentParser.Option(help: "Loss on every receiver's own link, 0 to below 1.")
    var receiverLoss = Options().receiverLoss

    @ArgumentParser.Option(help: "Seed of both runs (loss, back-off).")
    var seed = Options().seed

    @ArgumentParser.Option(help: "The source's repair hold-off in milliseconds (default: the source's, 100 ms).")
    var sourceHoldOff: Int?

    @ArgumentParser.Option(help: "One-way delay of every link in microseconds, at most 10,000,000.")
    var linkDelay = Options().linkDelay

    @Flag(help: "Time the NetworkElement engine alone instead (wall clock, no simulator).")
    var engine = false

    static func levels(_ text: String) throws -> [Int] {
        let levels = text.split(separator: ",").compactMap { Int($0) }
        guard !levels.isEmpty, levels.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--fanout takes positive whole numbers, comma-separated: 4,4")
        }
        return levels
    }

    func validate() throws {
        guard receivers > 0, apdus > 0 else { throw ValidationError("--receivers and --apdus must be at least 1") }
        guard loss >= 0, loss < 1, receiverLoss >= 0, receiverLoss < 1 else {
            throw ValidationError("--loss and --receiver-loss must be at least 0 and below 1")
        }
        guard sourceHoldOff.map({ $0 >= 0 }) ?? true else { throw ValidationError("--source-hold-off must be >= 0") }
        guard linkDelay >= 0, linkDelay <= 10_000_000 else {
            throw ValidationError("--link-delay must be from 0 to 10,000,000 µs")
        }
    }

    func run() {
        if engine {
            Self.engineThroughput()
            return
        }
        let options = Options(
            fanout: fanout, receivers: receivers, apdus: apdus, loss: loss, receiverLoss: receiverLoss, seed: seed,
            holdOff: sourceHoldOff, linkDelay: linkDelay)
        let leaves = options.fanout.reduce(1, *)
        print(
            "pgm-ne-bench: fanout \(options.fanout) = \(leaves) leaf subnets x \(options.receivers) receivers "
                + "= \(leaves * options.receivers), \(options.apdus) APDUs of 1000 bytes, leaf-link loss "
                + "\(percent(options.loss)), receiver-link loss \(percent(options.receiverLoss)), link delay "
                + "\(options.linkDelay) µs, seed \(options.seed)")
        print(
            pad("", 18) + pad("lost", 7) + pad("NAKseq@src", 11) + pad("/lost", 7) + pad("RDATA@src", 10)
                + pad("/lost", 7) + pad("RDATA@leaves", 13) + pad("/lost", 7) + pad("p50", 9) + pad("p90", 9)
                + pad("p99", 9) + pad("max", 9) + pad("verify", 8) + "events")
        for elements in [true, false] {
            let scenario = ElementTreeScenario(Self.scenario(options, elements: elements))
            let finished = scenario.run(limit: .seconds(3600))
            let failures = scenario.verify()
            let lost = scenario.lostSomewhere.union(scenario.logs.reduce(into: Set<UInt32>()) { $0.formUnion($1.lost) })
            let bySegment = scenario.repairsBySegment()
            let leafRDATA = scenario.leafSegments.reduce(0) { $0 + (bySegment[$1]?.rdata.values.reduce(0, +) ?? 0) }
            let perLost = { (value: Int) in lost.isEmpty ? "-" : String(format2(Double(value) / Double(lost.count))) }
            let latency = { (fraction: Double) in scenario.latencyPercentile(fraction).map(milliseconds) ?? "-" }
            print(
                pad(elements ? "with elements" : "plain routers", 18) + pad("\(lost.count)", 7)
                    + pad("\(scenario.sourceNAKSequences)", 11) + pad(perLost(scenario.sourceNAKSequences), 7)
                    + pad("\(scenario.sourceRDATA)", 10) + pad(perLost(scenario.sourceRDATA), 7)
                    + pad("\(leafRDATA)", 13) + pad(perLost(leafRDATA), 7)
                    + pad(latency(0.5), 9) + pad(latency(0.9), 9) + pad(latency(0.99), 9) + pad(latency(1), 9)
                    + pad(finished && failures.isEmpty ? "ok" : "FAIL", 8) + "\(scenario.network.eventsProcessed)")
            for failure in failures.prefix(3) { print("  " + failure) }
            if elements {
                let statistics = scenario.elementHosts.map(\.engine.statistics)
                let eliminated = statistics.reduce(0) { $0 + $1.naksEliminated }
                let received = statistics.reduce(0) { $0 + $1.naksReceived }
                let forwarded = statistics.reduce(0) { $0 + $1.naksForwarded }
                let withoutState = statistics.reduce(0) { $0 + $1.rdataWithoutRepairStateDropped }
                print(
                    "  elements: \(received) NAKs in, \(forwarded) forwarded, \(eliminated) eliminated; "
                        + "\(withoutState) RDATA dropped without repair state; at most \(scenario.maximumNAKsPerCycle) "
                        + "NAK per sequence per element per NAK_ELIM_IVL at the source")
            }
        }
    }

    static func engineThroughput() {
        let source = NLA.ipv4(IPv4Address(10, 0, 0, 1))
        let group = NLA.ipv4(IPv4Address(239, 192, 0, 1))
        let tsi = TSI(gsi: GSI(rawValue: 0x0A0B_0C0D_0E0F), sourcePort: 4000)
        let interfaces = (0..<4).map {
            NetworkElement.Interface(id: InterfaceID($0), address: .ipv4(IPv4Address(10, UInt8($0), 0, 254)))
        }
        var configuration = NetworkElement.Configuration(interfaces: interfaces, upstream: InterfaceID(0))
        configuration.dlrPollInterval = nil
        let clock = ContinuousClock()
        let payload = ArraySlice([UInt8](repeating: 7, count: 1000))

        func run(_ name: String, count: Int, _ body: (inout NetworkElement, Int, Instant) -> Void) {
            var element = NetworkElement(configuration: configuration)
            let spm = Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .spm(
                    SPM(
                        sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(2_000_000),
                        path: source)))
            element.receive(
                spm, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: .zero)
            while element.pollTransmit(at: .zero) != nil {}
            var sent = 0
            let start = clock.now
            for index in 0..<count {
                let now = Instant(nanoseconds: Int64(index) * 1000)
                body(&element, index, now)
                element.handleTimeout(at: now)
                while element.pollTransmit(at: now) != nil { sent += 1 }
            }
            let elapsed = clock.now - start
            let rate = Double(count) / elapsed.secondsValue
            print(
                pad(name, 44) + pad("\(count) in", 12) + pad(milliseconds(elapsed), 12)
                    + "\(Int(rate)) packets/s, \(sent) sent, \(element.repairStateCount) repair states left")
        }

        print("pgm-ne-bench --engine: one session, four interfaces, 1 µs of virtual time per input")
        run("ODATA forwarded to 3 interfaces", count: 1_000_000) { element, index, now in
            let odata = Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .odata(
                    DataPacket(sequence: SequenceNumber(UInt32(index + 1)), trail: SequenceNumber(1), payload: payload))
            )
            element.receive(
                odata, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: now)
        }
        run("NAK, NCF down, NAK up, NCF, RDATA (distinct)", count: 200_000) { element, index, now in
            let sequence = SequenceNumber(UInt32(index + 1))
            let down = InterfaceID(1 + index % 3)
            let nak = Packet(
                tsi: tsi, dataDestinationPort: 7500, body: .nak(NAK(sequence: sequence, source: source, group: group)))
            element.receive(
                nak,
                arrival: Arrival(
                    source: .ipv4(IPv4Address(10, UInt8(down.rawValue), 0, 9)),
                    destination: interfaces[down.rawValue].address, interface: down), at: now)
            let ncf = Packet(
                tsi: tsi, dataDestinationPort: 7500, body: .ncf(NAK(sequence: sequence, source: source, group: group)))
            element.receive(
                ncf, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: now)
            let rdata = Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .rdata(DataPacket(sequence: sequence, trail: SequenceNumber(1), payload: payload)))
            element.receive(
                rdata, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: now)
        }
        var random = SplitMix64(seed: 1)
        let flood = (0..<1_000_000).map { _ in SequenceNumber(UInt32(random.bounded(2_000_000)) + 1) }
        run("NAK flood, random in-window sequences", count: flood.count) { element, index, now in
            let down = InterfaceID(1 + index % 3)
            let nak = Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .nak(NAK(sequence: flood[index], source: source, group: group)))
            element.receive(
                nak,
                arrival: Arrival(
                    source: .ipv4(IPv4Address(10, UInt8(down.rawValue), 0, 9)),
                    destination: interfaces[down.rawValue].address, interface: down), at: now)
        }
    }

    static func scenario(_ options: Options, elements: Bool) -> ElementTreeScenario.Configuration {
        let apdus = (0..<options.apdus).map { SessionScenario.apdu(index: $0, size: 1000) }
        var configuration = ElementTreeScenario.Configuration(
            seed: options.seed, apdus: apdus, fanout: options.fanout, receiversPerLeaf: options.receivers)
        configuration.elements = elements
        let delay = Duration.microseconds(Int64(options.linkDelay))
        configuration.link = LinkProfile(delay: delay)
        configuration.receiverUplink = LinkProfile(delay: delay)
        configuration.leafRouterUplink = LinkProfile(delay: delay, loss: .bernoulli(options.loss))
        configuration.receiverDownlink = LinkProfile(delay: delay, loss: .bernoulli(options.receiverLoss))
        configuration.source.rate = 2_000_000
        if let holdOff = options.holdOff { configuration.source.repairHoldOff = .milliseconds(holdOff) }
        return configuration
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

func percent(_ value: Double) -> String { format2(value * 100) + " %" }

func milliseconds(_ duration: Duration) -> String {
    format2(Double(duration.totalNanoseconds) / 1e6) + "ms"
}

ElementBenchmark.main()
