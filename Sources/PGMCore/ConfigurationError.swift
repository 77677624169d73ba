/// A configuration an engine cannot run with, found by its configuration's `validate()` (``Source/Configuration``,
/// ``NetworkElement/Configuration``), with a sentence for the user.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
