public import ArgumentParser
public import PGM
public import PGMCore
import PGMWire

/// pgm-source's FEC options (RFC 3208 Appendix A). FEC is on when any of them is given: `--fec-group-size`
/// alone means on-demand parity, `--fec-proactive` alone proactive parity only, both flags both.
public struct FECOptions: ParsableArguments {
    public init() {}

    @ArgumentParser.Option(
        name: .customLong("fec-group-size"),
        help: ArgumentHelp(
            "FEC transmission group: k data packets per group, a power of two 2...128 (default with FEC: 16).",
            valueName: "k"))
    public var groupSize: Int?

    @ArgumentParser.Option(
        name: .customLong("fec-proactive"),
        help: ArgumentHelp(
            "FEC: send N parity packets after every group, so receivers repair up to N losses per group without a NAK.",
            valueName: "N"))
    public var proactive: Int?

    @Flag(
        name: .customLong("fec-on-demand"),
        help: ArgumentHelp(
            "FEC: answer parity NAKs with parity repairs; one parity packet repairs a different loss at every receiver."
        ))
    public var onDemand = false

    public var isEnabled: Bool { groupSize != nil || proactive != nil || onDemand }

    public func validate() throws {
        let k = groupSize ?? Source.Parity.defaultGroupSize
        guard TransmissionGroups(size: k) != nil else {
            throw ValidationError("--fec-group-size must be a power of two 2...128, not \(k)")
        }
        if let proactive, !(0...(ReedSolomonCode.blockLength - k)).contains(proactive) {
            throw ValidationError(
                "--fec-proactive must be 0...\(ReedSolomonCode.blockLength - k) with groups of \(k) (n = 255)")
        }
        if proactive == 0 && !onDemand && groupSize == nil {
            throw ValidationError("--fec-proactive 0 sends no parity: add --fec-on-demand, or leave FEC off")
        }
    }

    /// FEC as the options ask for it, `nil` when it is off: a group size alone means on-demand parity, proactive
    /// parity alone only proactive parity (``Source/Parity/init(groupSize:proactive:onDemand:kernel:)``).
    public var settings: PGMOptions.FEC? {
        Source.Parity(groupSize: groupSize, proactive: proactive, onDemand: onDemand).map {
            PGMOptions.FEC(groupSize: $0.groupSize, proactive: $0.proactive, onDemand: $0.onDemand)
        }
    }
}
