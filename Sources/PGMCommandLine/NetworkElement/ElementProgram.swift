import PGMCore

/// pgm-ne's lifecycle without sockets or a clock: it runs until SIGINT or SIGTERM, exits 0, and prints the
/// element's events. Inputs: ``handle(_:)`` for each engine event, ``signalled()``.
struct ElementProgram {
    /// The interfaces' names by ``InterfaceID`` (upstream first), for the notes.
    let interfaceNames: [String]
    private(set) var isStopped = false

    init(interfaceNames: [String]) { self.interfaceNames = interfaceNames }

    var exitCode: PGMExitCode { .success }

    mutating func signalled() { isStopped = true }

    private func name(_ id: InterfaceID) -> String {
        interfaceNames.indices.contains(id.rawValue) ? interfaceNames[id.rawValue] : "\(id)"
    }

    /// One engine event as a note: sessions learned, moved and expired, DLRs learned and dropped.
    func handle(_ event: NetworkElement.Event) -> [ProgramOutput] {
        let (text, object): (String, [String: String])
        switch event {
        case .sessionLearned(let tsi, let upstream, let neighbor):
            (text, object) = (
                "session \(tsi) upstream \(neighbor) on \(name(upstream))",
                ["type": "session", "tsi": "\(tsi)", "upstream": name(upstream), "neighbor": "\(neighbor)"]
            )
        case .upstreamChanged(let tsi, let upstream, let neighbor):
            (text, object) = (
                "session \(tsi) moved upstream to \(neighbor) on \(name(upstream))",
                ["type": "upstream_changed", "tsi": "\(tsi)", "upstream": name(upstream), "neighbor": "\(neighbor)"]
            )
        case .sessionExpired(let tsi):
            (text, object) = ("session \(tsi) expired", ["type": "session_expired", "tsi": "\(tsi)"])
        case .repairerLearned(let tsi, let address, let interface):
            (text, object) = (
                "session \(tsi): NAKs now go to the DLR \(address) on \(name(interface))",
                ["type": "dlr", "tsi": "\(tsi)", "address": "\(address)", "interface": name(interface)]
            )
        case .repairerDropped(let tsi, let address):
            (text, object) = (
                "session \(tsi): DLR \(address) dropped, NAKs go upstream",
                ["type": "dlr_dropped", "tsi": "\(tsi)", "address": "\(address)"]
            )
        }
        return [.note(ProgramNote("pgm-ne: " + text, json: object))]
    }

    /// The statistics line: the element's counters, with the common keys where they mean the same.
    static func sample(_ engine: NetworkElement) -> StatisticsSample {
        let statistics = engine.statistics
        var sample = StatisticsSample(role: "network_element")
        sample.packets = statistics.packetsReceived
        sample.naks = statistics.naksReceived
        sample.ncfs = statistics.ncfsSent
        sample.repairs = statistics.rdataForwarded
        sample.element = ElementCounters(statistics, sessions: engine.sessionCount)
        return sample
    }

    /// The first line: the group, and the interfaces up- and downstream.
    static func started(
        group: String, port: UInt16, upstream: String, upstreamName: String, downstream: [String],
        downstreamNames: [String], transport: String
    ) -> ProgramNote {
        ProgramNote(
            "pgm-ne: \(group):\(port) upstream \(upstream), downstream " + downstream.joined(separator: ", ")
                + ", \(transport)",
            json: [
                "type": "start", "group": group, "upstream": upstreamName,
                "downstream": downstreamNames.joined(separator: ","),
            ])
    }
}
