public import ArgumentParser
import PGMCore

/// `--congestion-control`: PGMCC (``CongestionControl``) or the rate alone.
public enum CongestionControlMode: String, CaseIterable, ExpressibleByArgument, Sendable {
    case pgmcc
    case none
}

/// pgm-source's congestion state on the statistics line and in JSON (`congestion` object).
public struct CongestionSample: Encodable, Equatable, Sendable {
    /// `electing` (waiting for a receiver to answer), `acked` (an acker clocks the window) or `unacked` (nobody
    /// answered: running at --rate).
    public var phase: String
    /// W in packets, and what it allows at the smoothed RTT (bits/s on the wire), when known.
    public var window: Double
    public var windowRateBitsPerSecond: Double?
    public var acker: String?
    /// The acker's reported loss (0…1) and its smallest measured round trip.
    public var ackerLossRate: Double?
    public var ackerRttSeconds: Double?
    public var ackerSwitches: Int
    public var windowReductions: Int
    public var timeouts: Int

    init(_ control: CongestionControl, packetBytes: Int) {
        switch control.phase {
        case .electing: phase = "electing"
        case .acked: phase = "acked"
        case .unacked: phase = "unacked"
        }
        window = control.window
        windowRateBitsPerSecond = control.smoothedRTT.flatMap { rtt in
            rtt > .zero && control.phase == .acked
                ? control.window * Double(packetBytes * 8) / rtt.secondsValue : nil
        }
        acker = control.acker.map { "\($0.address)" }
        ackerLossRate = control.acker.map { Double($0.loss) / Double(UInt16.max) }
        ackerRttSeconds = control.acker.map { $0.roundTripTime.secondsValue }
        ackerSwitches = control.statistics.ackerSwitches + control.statistics.ackerTimeouts
        windowReductions = control.statistics.windowReductions
        timeouts = control.statistics.timeouts
    }

    /// The statistics line's fields: `W 131` and `acker 198.18.0.2 0.52% 35ms`, or the phase. The window's rate is
    /// in JSON only (the line shows the actual rate); the acker is the first to go when the line is full.
    var fields: [(priority: Int, text: String)] {
        switch phase {
        case "electing": return [(3, "electing acker")]
        case "unacked": return [(3, "no acker")]
        default:
            var acker = "acker \(self.acker ?? "?")"
            if let loss = ackerLossRate { acker += " \(formatPercent(loss))" }
            if let rtt = ackerRttSeconds { acker += " \(formatDecimal(rtt * 1000, places: rtt < 0.01 ? 1 : 0))ms" }
            return [(3, "W \(Int(window.rounded()))"), (2, acker)]
        }
    }
}
