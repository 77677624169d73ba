import PGMCore
import PGMSimulation
import PGMWire
import Testing

/// Hosts that send and receive on one group: each delivers every other host's APDUs, in order and byte-exact
/// through loss (its own source answers the others' NAKs), and never its own.
@Suite struct GroupTransportTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func everyHostDeliversEveryOtherHostsDataButNotItsOwn(seed: UInt64) {
        let network = Network(seed: seed)
        let segment = network.addSegment("lan")
        let group = NLA.ipv4(IPv4Address(239, 192, 7, 2))
        var downlink = LinkProfile()
        downlink.loss = .bernoulli(0.05)
        downlink.jitter = .milliseconds(1)
        let count = 3
        let apdus = (0..<count).map { host in
            makeAPDUs(count: 200, sizes: 1...3000, seed: seed &* 10 &+ UInt64(host))
        }
        var hosts: [Host<GroupTransport>] = []
        var delivered = Array(repeating: [TSI: [[UInt8]]](), count: count)
        var sent = Array(repeating: 0, count: count)
        var tsis: [TSI] = []
        for index in 0..<count {
            let address = NLA.ipv4(IPv4Address(10, 0, 0, UInt8(index + 1)))
            let tsi = TSI(gsi: GSI(rawValue: UInt64(index + 1)), sourcePort: 4000)
            tsis.append(tsi)
            var source = Source.Configuration(tsi: tsi, dataDestinationPort: 7500, group: group, sourceAddress: address)
            source.rate = 2_000_000
            source.seed = seed &+ UInt64(index)
            source.joinHistory = UInt32.max
            var receiver = Receiver.Configuration(dataDestinationPort: 7500, group: group)
            receiver.seed = seed &+ 100 &+ UInt64(index)
            let host = network.addHost(
                "h\(index)",
                engine: GroupTransport(
                    source: Source(configuration: source, at: .zero), receiver: Receiver(configuration: receiver)),
                interfaces: [InterfaceConfiguration(segment: segment, address: address, downlink: downlink)])
            host.onActivity = { host, now in
                while let event = host.engine.pollEvent() {
                    if case .receiver(.data(let tsi, let bytes)) = event {
                        delivered[index][tsi, default: []].append(Array(bytes))
                    }
                }
                while sent[index] < apdus[index].count,
                    (try? host.engine.source.send(apdus[index][sent[index]], at: now)) != nil
                {
                    sent[index] += 1
                }
                if sent[index] == apdus[index].count, !host.engine.source.isClosing {
                    host.engine.source.close(at: now)
                }
            }
            hosts.append(host)
            network.wake(host)
        }
        network.run(until: .zero + .seconds(60)) {
            !(0..<count).allSatisfy { index in
                (0..<count).allSatisfy { other in other == index || delivered[index][tsis[other]]?.count == 200 }
            }
        }
        for index in 0..<count {
            #expect(delivered[index][tsis[index]] == nil, "host \(index) delivered its own data")
            for other in 0..<count where other != index {
                #expect(delivered[index][tsis[other]] == apdus[other], "seed \(seed): host \(index) from \(other)")
            }
        }
        #expect(hosts.allSatisfy { $0.engine.source.statistics.rdataSent > 0 }, "every source repaired")
    }
}
