internal import Glibc
import PGMCapture
import PGMWire

/// Runs one pgm-dump invocation: open, filter, read, format, summarize. Output goes through `flush`, so tests
/// collect it in memory and the program writes it to standard output in large blocks.
struct DumpRunner {
    let command: DumpCommand
    /// Receives formatted output whenever the buffer fills up, and once at the end.
    var flush: (inout OutputBuffer) -> Void = { $0.flush(to: STDOUT_FILENO) }
    /// Receives one diagnostic line (without newline) for standard error.
    var diagnose: (String) -> Void = { message in
        var buffer = OutputBuffer(capacity: message.utf8.count + 12)
        buffer.append("pgm-dump: ")
        buffer.append(message)
        buffer.append(byte: 10)
        buffer.flush(to: STDERR_FILENO)
    }

    static let flushThreshold = 1 << 16

    func run() -> PGMExitCode {
        let authenticator: (any PacketAuthenticator)?
        do {
            authenticator = try KeyOptions.authenticator(file: command.keyFile)
        } catch {
            diagnose(error.message)
            return error.exitCode
        }
        let capture: PacketCapture
        do {
            if let interface = command.interface {
                capture = try PacketCapture(
                    interface: interface,
                    promiscuous: !command.noPromiscuous,
                    snapshotLength: command.snapshotLength,
                    bufferSize: command.bufferSize.map { $0 * 1024 }
                )
            } else {
                capture = try PacketCapture(file: command.file ?? "-")
            }
            let filter = command.filter.joined(separator: " ")
            if !filter.isEmpty {
                try capture.setFilter(filter)
            } else if capture.isLive {
                try capture.setFilter(PacketCapture.defaultFilter(udpPorts: command.decapsulator.udpPorts))
            }
            if let writeFile = command.writeFile { try capture.saveFrames(to: writeFile) }
        } catch {
            diagnose(error.description)
            return Self.exitCode(for: error)
        }
        guard LinkType.supported.contains(capture.linkType) else {
            diagnose("unsupported link type \(capture.linkType.rawValue)")
            return .failure
        }
        let decapsulator = command.decapsulator
        let linkType = capture.linkType
        let text = TextFormatter(
            verbose: command.verbose,
            hexDump: command.hexAndASCII ? .hexAndASCII : command.hex ? .hex : .none
        )
        let json = JSONFormatter()
        // k per session from OPT_PARITY_PRM, so parity packets show their group and index or count.
        var parity = ParityContext()
        var analyzer = TraceAnalyzer()
        var out = OutputBuffer(capacity: Self.flushThreshold + 4096)
        // Property-wrapper reads are generic and slow; read each option once, not once per packet.
        let stats = command.stats
        let jsonOutput = command.json
        let limit = command.count
        var frameNumber = 0
        var shown = 0
        var failure: CaptureError?
        // A live capture ends on SIGINT/SIGTERM like a file ends: what was read is flushed and summarized, exit 0.
        capture.interruptibleOnSignals {
            reading: while true {
                do throws(CaptureError) {
                    let result = try capture.next { frame, timestamp, originalLength in
                        frameNumber += 1
                        let dissections = Dissection.dissect(
                            frame: frame,
                            linkType: linkType,
                            decapsulator: decapsulator,
                            number: frameNumber,
                            timestamp: timestamp,
                            originalLength: originalLength,
                            authenticator: authenticator
                        ).splittingSegmentationRun(frame: frame, authenticator: authenticator)
                        for dissection in dissections {
                            if stats {
                                analyzer.record(dissection)
                            }
                            if case .other = dissection.layers { continue }
                            shown += 1
                            guard !stats else { continue }
                            parity.record(dissection)
                            if jsonOutput {
                                json.format(dissection, parity: parity, into: &out)
                            } else {
                                text.format(dissection, frame: frame, parity: parity, into: &out)
                            }
                            if out.count >= Self.flushThreshold { flush(&out) }
                        }
                    }
                    switch result {
                    case .frame:
                        if let limit, shown >= limit { break reading }
                        if capture.isLive && !stats { flush(&out) }
                    case .timeout: continue
                    case .endOfFile: break reading
                    }
                } catch {
                    failure = error
                    break reading
                }
            }
        }
        capture.flushSavedFrames()
        if command.stats {
            let report = analyzer.report()
            if command.json {
                StatisticsFormatter.json(report, into: &out)
            } else {
                StatisticsFormatter.text(report, into: &out)
            }
        }
        flush(&out)
        if let statistics = capture.liveStatistics {
            diagnose("\(statistics.received) frames received by filter, \(statistics.dropped) dropped by kernel")
        }
        if let failure {
            diagnose(failure.description)
            return Self.exitCode(for: failure)
        }
        return .success
    }

    static func exitCode(for error: CaptureError) -> PGMExitCode {
        switch error {
        case .cannotOpenFile: .noInput
        case .corruptFile: .dataError
        case .cannotWriteFile, .captureFailed: .failure
        case .interfaceUnavailable: .unavailable
        case .permissionDenied: .noPermission
        case .badFilter: .usage
        }
    }
}
