import PGMCore

/// pgm-ne's lifecycle without sockets or a clock: it runs until SIGINT or SIGTERM, exits 0 (a signal is how an
/// element normally stops: nothing it was asked to do is cut short), and prints the element's events. Inputs: ``handle(_:)`` for each engine event, ``signalled()``.
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

    /// One engine event as a note: sessions learned, moved and expired, DLRs learned and dropped,
    /// packets from off a session's path (the engine reports those at most once a second per session).
    func handle(_ event: NetworkElement.Event) -> [ProgramOutput] {
        let note: ElementNote
        switch event {
        case .sessionLearned(let tsi, let upstream, let neighbor):
            note = .sessionLearned(tsi, upstream: name(upstream), neighbor: neighbor)
        case .upstreamChanged(let tsi, let upstream, let neighbor):
            note = .upstreamChanged(tsi, upstream: name(upstream), neighbor: neighbor)
        case .sessionExpired(let tsi):
            note = .sessionExpired(tsi)
        case .repairerLearned(let tsi, let address, let interface):
            note = .repairerLearned(tsi, address: address, interface: name(interface))
        case .repairerDropped(let tsi, let address):
            note = .repairerDropped(tsi, address: address)
        case .offPathPackets(let tsi, let address, let dropped):
            note = .offPath(tsi, from: address, dropped: dropped)
        }
        return [.note(.element(note))]
    }

    /// The statistics line: the element's counters, with the common keys where they mean the same.
    static func sample(_ engine: NetworkElement) -> StatisticsSample {
        let statistics = engine.statistics
        var sample = StatisticsSample(role: .networkElement)
        sample.bytes = statistics.dataBytesForwarded
        sample.packets = statistics.odataForwarded + statistics.rdataForwarded
        sample.naks = statistics.naksReceived
        sample.ncfs = statistics.ncfsSent
        sample.repairs = statistics.rdataForwarded
        sample.element = ElementCounters(statistics, sessions: engine.sessionCount)
        return sample
    }
}
