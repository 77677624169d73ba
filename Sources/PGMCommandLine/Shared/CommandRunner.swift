import ArgumentParser

/// Runs a program body, printing a ``CommandFailure`` as `program: message` on stderr (a JSON line with `json`)
/// and exiting with its code.
func runReportingFailure(_ program: String, json: Bool = false, _ body: () throws -> PGMExitCode) throws {
    let code: PGMExitCode
    do {
        code = try body()
    } catch {
        let failure = CommandFailure(error)
        writeError(
            json
                ? JSONLines.error(program: program, message: failure.message, exitCode: failure.exitCode.rawValue)
                : "\(program): \(failure.message)\n")
        code = failure.exitCode
    }
    if code != .success { throw ExitCode(code.rawValue) }
}
