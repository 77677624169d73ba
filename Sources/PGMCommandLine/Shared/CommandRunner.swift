import ArgumentParser

/// Runs a program body, printing a ``CommandFailure`` as `program: message` on stderr and exiting with its code.
func runReportingFailure(_ program: String, _ body: () throws -> PGMExitCode) throws {
    let code: PGMExitCode
    do {
        code = try body()
    } catch {
        let failure = CommandFailure(error)
        writeError("\(program): \(failure.message)\n")
        code = failure.exitCode
    }
    if code != .success { throw ExitCode(code.rawValue) }
}
