import PGMCommandLine
import PGMCore
import PGMSimulation
import PGMWire

extension TopologyScenario.Options {
    /// The simulator's hosts configured as our programs configure their engines by default (ProgramDefaults), in
    /// `encapsulation`, with the topology's rate.
    init(programDefaultsIn encapsulation: Topology.Encapsulation, seed: UInt64, rate: Rate) {
        self.init(seed: seed, rateBitsPerSecond: rate.bitsPerSecond, native: encapsulation == .native)
    }
}
