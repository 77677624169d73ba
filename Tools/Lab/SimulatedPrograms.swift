import PGMCommandLine
import PGMCore
import PGMSimulation
import PGMWire

extension TopologyScenario.Options {
    /// The simulator's hosts configured as our programs configure their engines by default (ProgramDefaults), in
    /// `encapsulation`, with the topology's rate.
    init(programDefaultsIn encapsulation: Topology.Encapsulation, seed: UInt64, rate: Rate) {
        let native = encapsulation == .native
        self.init(
            seed: seed,
            rateBitsPerSecond: rate.bitsPerSecond,
            headerOverhead: ProgramDefaults.headerOverhead(native: native)
        )
        routerAlertOverhead = ProgramDefaults.routerAlertOverhead(native: native)
        // pgm-source's APDU size depends only on the TPDU size and the overheads: the session's identity here is
        // a placeholder.
        var source = Source.Configuration(
            tsi: TSI(gsi: GSI(rawValue: 0), sourcePort: 1),
            dataDestinationPort: ProgramDefaults.port,
            group: .ipv4(IPv4Address(239, 192, 0, 1)),
            sourceAddress: .ipv4(IPv4Address(198, 18, 0, 1))
        )
        source.maxTPDU = ProgramDefaults.maxTPDU
        source.headerOverhead = headerOverhead
        source.routerAlertOverhead = routerAlertOverhead
        apduSize = ProgramDefaults.apduSize(source)
        transmitWindow = .seconds(ProgramDefaults.transmitWindowSeconds)
        ambientSPMInterval = .seconds(ProgramDefaults.ambientSPMIntervalSeconds)
        openingSPMs = ProgramDefaults.openingSPMs
        receiverNAKRepeatInterval = .seconds(ProgramDefaults.receiverNAKRepeatIntervalSeconds)
        receiverNAKRdataInterval = .seconds(ProgramDefaults.receiverNAKRdataIntervalSeconds)
        receiverNAKBackoffInterval = .seconds(ProgramDefaults.receiverNAKBackoffIntervalSeconds)
    }
}
