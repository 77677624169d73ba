// pgm-sim-bench: NAK implosion control and repair cost at scale, in the deterministic simulator
// (`pgm-sim-bench --help`).
import ArgumentParser
import PGMCore
import PGMSimulation
import PGMWire

@main
struct SimulationBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgm-sim-bench",
        abstract: "NAK implosion control and repair cost at scale, in the deterministic simulator.",
        discussion: """
            One source and RECEIVERS receivers on one segment, 1 % independent loss on every receiver's downlink
            and uplink. Prints NAKs and RDATA at the source per lost sequence, repair latency percentiles (virtual
            time from the ODATA's transmission to the first RDATA at a receiver that missed it) and simulated
            events per second of wall time. Everything but the wall time is the same for the same arguments.

            Examples:
              swift run --package-path Tools -c release pgm-sim-bench
              swift run --package-path Tools -c release pgm-sim-bench 300 200 7
            """)

    @Argument(help: "Receivers on the segment.")
    var receivers = 1000

    @Argument(help: "APDUs of 1000 bytes the source sends.")
    var apdus = 500

    @Argument(help: "Seed of the simulated run (loss, back-off).")
    var seed: UInt64 = 1

    func validate() throws {
        guard receivers > 0, apdus > 0 else { throw ValidationError("receivers and apdus must be at least 1") }
    }

    func run() {
        let receiverCount = receivers
        let apduCount = apdus
        let data = (0..<apduCount).map { SessionScenario.apdu(index: $0, size: 1000) }
        var configuration = SessionScenario.Configuration(seed: seed, receivers: receiverCount, apdus: data)
        configuration.receiverDownlink = LinkProfile(delay: .microseconds(500), loss: .bernoulli(0.01))
        configuration.receiverUplink = LinkProfile(delay: .microseconds(500), loss: .bernoulli(0.01))
        configuration.source.rate = 2_000_000
        let scenario = SessionScenario(configuration)

        let sequences = Int(scenario.apduSequences.last?.upperBound ?? 0)
        var sentAt = [Instant?](repeating: nil, count: sequences)
        var odataReceivers = [Int](repeating: 0, count: sequences)
        var held = [[Bool]](repeating: [Bool](repeating: false, count: sequences), count: receiverCount)
        var latencies: [Duration] = []
        let initial = scenario.initialSequence
        let collect = scenario.network.observer
        scenario.network.observer = { observation in
            collect?(observation)
            let offset: Int
            switch observation.packet.body {
            case .odata(let data), .rdata(let data): offset = Int(initial.distance(to: data.sequence))
            default: return
            }
            guard offset >= 0 && offset < sequences else { return }
            switch (observation.kind, observation.packet.body.type) {
            case (.sent, .odata):
                sentAt[offset] = observation.time
            case (.delivered, .odata):
                if !held[observation.host - 1][offset] { odataReceivers[offset] += 1 }
                held[observation.host - 1][offset] = true
            case (.delivered, .rdata):
                if !held[observation.host - 1][offset], let sent = sentAt[offset] {
                    latencies.append(observation.time - sent)
                }
                held[observation.host - 1][offset] = true
            default:
                break
            }
        }

        let clock = ContinuousClock()
        let start = clock.now
        let finished = scenario.run(limit: .seconds(3600))
        let elapsed = clock.now - start

        let failures = scenario.verify()
        let statistics = scenario.source.engine.statistics
        let lostSequences = odataReceivers.filter { $0 < receiverCount }.count
        let receiverLosses = odataReceivers.reduce(0) { $0 + receiverCount - $1 }
        latencies.sort()

        func percentile(_ fraction: Double) -> String {
            guard !latencies.isEmpty else { return "-" }
            let index = min(latencies.count - 1, Int((Double(latencies.count) * fraction).rounded(.up)) - 1)
            return milliseconds(latencies[max(0, index)])
        }

        func milliseconds(_ duration: Duration) -> String {
            let value = (duration.secondsValue * 10_000).rounded() / 10
            return "\(value) ms"
        }

        func ratio(_ count: Int) -> String {
            lostSequences == 0 ? "-" : String((Double(count) / Double(lostSequences) * 100).rounded() / 100)
        }

        let wall = elapsed.secondsValue
        print(
            "pgm-sim-bench: \(receiverCount) receivers, \(apduCount) APDUs (\(sequences) sequences), 1 % loss each way, seed \(seed)"
        )
        print("completed: \(finished), invariant failures: \(failures.count), virtual time \(scenario.network.now)")
        print("sequences lost by at least one receiver: \(lostSequences) (receiver-sequence losses: \(receiverLosses))")
        print("NAK packets at source per lost sequence:  \(ratio(statistics.naksReceived))")
        print("NAKed sequences per lost sequence:        \(ratio(statistics.nakSequencesReceived))")
        print("NCFs per lost sequence:                   \(ratio(statistics.ncfSent))")
        print("RDATA per lost sequence:                  \(ratio(statistics.rdataSent))")
        print("repair latency (ODATA sent -> RDATA at a receiver that missed it), \(latencies.count) repairs:")
        print(
            "  p50 \(percentile(0.5))  p90 \(percentile(0.9))  p99 \(percentile(0.99))  max \(latencies.last.map(milliseconds) ?? "-")"
        )
        print(
            "simulated events: \(scenario.network.eventsProcessed) in \((wall * 1000).rounded() / 1000) s wall = \(Int(Double(scenario.network.eventsProcessed) / wall)) events/s"
        )
    }
}
