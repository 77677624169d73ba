// pgm-ne-bench: what RFC 3208 §7 network elements save, in the deterministic simulator.
//
// One source, a tree of routers (`--fanout 4,4`: a root with 4 downstream segments, each holding a router with
// 4 leaf subnets), `--receivers` receivers per leaf subnet, `--loss` independent loss on every leaf link (the
// router's attachment to a leaf subnet, so a loss hits the whole subnet) and `--receiver-loss` on every
// receiver's own link. The same seed runs twice: with NetworkElements, and with plain multicast routers that
// flood everything and let every NAK reach the source. Prints, per lost sequence, the NAK sequences and RDATA
// at the source, RDATA copies on the leaf subnets, repair latency percentiles (virtual time from the ODATA's
// transmission to the RDATA reaching a receiver that missed it), and whether every receiver delivered
// everything or reported exactly what it lost.
//
// `pgm-ne-bench --engine` instead times the NetworkElement engine alone (wall clock, no simulator): ODATA
// forwarded to three interfaces, NAKs confirmed and forwarded for distinct sequences, and a flood of NAKs for
// random in-window sequences against the default state caps.
//
// Usage: pgm-ne-bench [--fanout 4,4] [--receivers 20] [--apdus 300] [--loss 0.01] [--receiver-loss 0]
//                     [--seed 1] [--source-hold-off <ms>] [--link-delay <µs>]
//
// `--link-delay` sets the one-way delay of every link (500 µs by default); `--link-delay 50` is a LAN of
// sub-millisecond round trips, where a repair can pass an element before other receivers' back-off ends.
//
// `--source-hold-off` sets the source's repair hold-off: a source that ignores NAKs for a sequence it repaired
// within the hold-off (100 ms by default) leaves subnets behind elements, which constrain RDATA to the subnets
// that asked before it, waiting a whole NAK_RDATA_IVL.
import PGMCore
import PGMSimulation
import PGMWire


enum ElementBenchmark {
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

    static func main() {
        if CommandLine.arguments.dropFirst().first == "--engine" {
            engineThroughput()
            return
        }
        guard let options = parse(Array(CommandLine.arguments.dropFirst())) else {
            print("usage: pgm-ne-bench [--fanout 4,4] [--receivers 20] [--apdus 300] [--loss 0.01] "
                + "[--receiver-loss 0] [--seed 1] [--source-hold-off <ms>] [--link-delay <µs>]")
            return
        }
        let leaves = options.fanout.reduce(1, *)
        print("pgm-ne-bench: fanout \(options.fanout) = \(leaves) leaf subnets x \(options.receivers) receivers "
            + "= \(leaves * options.receivers), \(options.apdus) APDUs of 1000 bytes, leaf-link loss "
            + "\(percent(options.loss)), receiver-link loss \(percent(options.receiverLoss)), link delay "
            + "\(options.linkDelay) µs, seed \(options.seed)")
        print(pad("", 18) + pad("lost", 7) + pad("NAKseq@src", 11) + pad("/lost", 7) + pad("RDATA@src", 10)
            + pad("/lost", 7) + pad("RDATA@leaves", 13) + pad("/lost", 7) + pad("p50", 9) + pad("p90", 9)
            + pad("p99", 9) + pad("max", 9) + pad("verify", 8) + "events")
        for elements in [true, false] {
            let scenario = ElementTreeScenario(configuration(options, elements: elements))
            let finished = scenario.run(limit: .seconds(3600))
            let failures = scenario.verify()
            let lost = scenario.lostSomewhere.union(scenario.logs.reduce(into: Set<UInt32>()) { $0.formUnion($1.lost) })
            let bySegment = scenario.repairsBySegment()
            let leafRDATA = scenario.leafSegments.reduce(0) { $0 + (bySegment[$1]?.rdata.values.reduce(0, +) ?? 0) }
            let perLost = { (value: Int) in lost.isEmpty ? "-" : String(format2(Double(value) / Double(lost.count))) }
            let latency = { (fraction: Double) in scenario.latencyPercentile(fraction).map(milliseconds) ?? "-" }
            print(pad(elements ? "with elements" : "plain routers", 18) + pad("\(lost.count)", 7)
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
                print("  elements: \(received) NAKs in, \(forwarded) forwarded, \(eliminated) eliminated; "
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
                body: .spm(SPM(sequence: SequenceNumber(1), trail: SequenceNumber(1), lead: SequenceNumber(2_000_000), path: source)))
            element.receive(spm, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: .zero)
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
            print(pad(name, 44) + pad("\(count) in", 12) + pad(milliseconds(elapsed), 12)
                + "\(Int(rate)) packets/s, \(sent) sent, \(element.repairStateCount) repair states left")
        }

        print("pgm-ne-bench --engine: one session, four interfaces, 1 µs of virtual time per input")
        run("ODATA forwarded to 3 interfaces", count: 1_000_000) { element, index, now in
            let odata = Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .odata(DataPacket(sequence: SequenceNumber(UInt32(index + 1)), trail: SequenceNumber(1), payload: payload)))
            element.receive(odata, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: now)
        }
        run("NAK, NCF down, NAK up, NCF, RDATA (distinct)", count: 200_000) { element, index, now in
            let sequence = SequenceNumber(UInt32(index + 1))
            let down = InterfaceID(1 + index % 3)
            let nak = Packet(tsi: tsi, dataDestinationPort: 7500, body: .nak(NAK(sequence: sequence, source: source, group: group)))
            element.receive(
                nak, arrival: Arrival(source: .ipv4(IPv4Address(10, UInt8(down.rawValue), 0, 9)),
                                      destination: interfaces[down.rawValue].address, interface: down), at: now)
            let ncf = Packet(tsi: tsi, dataDestinationPort: 7500, body: .ncf(NAK(sequence: sequence, source: source, group: group)))
            element.receive(ncf, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: now)
            let rdata = Packet(
                tsi: tsi, dataDestinationPort: 7500,
                body: .rdata(DataPacket(sequence: sequence, trail: SequenceNumber(1), payload: payload)))
            element.receive(rdata, arrival: Arrival(source: source, destination: group, interface: InterfaceID(0)), at: now)
        }
        var random = SplitMix64(seed: 1)
        let flood = (0..<1_000_000).map { _ in SequenceNumber(UInt32(random.bounded(2_000_000)) + 1) }
        run("NAK flood, random in-window sequences", count: flood.count) { element, index, now in
            let down = InterfaceID(1 + index % 3)
            let nak = Packet(tsi: tsi, dataDestinationPort: 7500, body: .nak(NAK(sequence: flood[index], source: source, group: group)))
            element.receive(
                nak, arrival: Arrival(source: .ipv4(IPv4Address(10, UInt8(down.rawValue), 0, 9)),
                                      destination: interfaces[down.rawValue].address, interface: down), at: now)
        }
    }

    static func configuration(_ options: Options, elements: Bool) -> ElementTreeScenario.Configuration {
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

    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var index = 0
        while index < arguments.count {
            guard index + 1 < arguments.count else { return nil }
            let value = arguments[index + 1]
            switch arguments[index] {
            case "--fanout":
                let levels = value.split(separator: ",").compactMap { Int($0) }
                guard !levels.isEmpty, levels.allSatisfy({ $0 > 0 }) else { return nil }
                options.fanout = levels
            case "--receivers": guard let n = Int(value), n > 0 else { return nil }; options.receivers = n
            case "--apdus": guard let n = Int(value), n > 0 else { return nil }; options.apdus = n
            case "--loss": guard let p = Double(value), p >= 0, p < 1 else { return nil }; options.loss = p
            case "--receiver-loss": guard let p = Double(value), p >= 0, p < 1 else { return nil }; options.receiverLoss = p
            case "--seed": guard let n = UInt64(value) else { return nil }; options.seed = n
            case "--source-hold-off": guard let n = Int(value), n >= 0 else { return nil }; options.holdOff = n
            case "--link-delay": guard let n = Int(value), n >= 0, n <= 10_000_000 else { return nil }; options.linkDelay = n
            default: return nil
            }
            index += 2
        }
        return options
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func percent(_ value: Double) -> String { format2(value * 100) + " %" }

    static func milliseconds(_ duration: Duration) -> String {
        format2(Double(duration.totalNanoseconds) / 1e6) + "ms"
    }
}
ElementBenchmark.main()
