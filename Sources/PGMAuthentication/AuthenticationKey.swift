internal import Glibc

/// The secret every keyed host of a session shares (`--key FILE`, Docs/key.md#key-files).
///
/// A key file holds either hex digits (whitespace, including a final newline, ignored: what `openssl rand -hex 32`
/// prints) or raw bytes (`head -c 32 /dev/urandom`): a file whose non-whitespace characters are all hex digits, an
/// even number of them, is read as hex; any other file is the key byte for byte. Keys are 16 to 4,096 bytes; 32
/// random bytes are plenty (HMAC-SHA-256 gains nothing from more than 64).
public struct AuthenticationKey: Sendable {
    public static let minimumLength = 16
    public static let maximumLength = 4096

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(KeyFileError) {
        guard bytes.count >= Self.minimumLength else { throw .tooShort(path: nil, bytes: bytes.count) }
        guard bytes.count <= Self.maximumLength else { throw .tooLong(path: nil) }
        self.bytes = bytes
    }

    /// The key in a file's contents: hex when the contents are hex digits and whitespace only, raw bytes otherwise.
    public init(contents: [UInt8]) throws(KeyFileError) {
        try self.init(bytes: Self.hexDecoded(contents) ?? contents)
    }

    /// Reads a key file.
    public init(file path: String) throws(KeyFileError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // Twice the longest hex key, plus a newline: anything longer is refused without reading it all (a device
        // such as /dev/urandom never ends).
        let limit = 2 * Self.maximumLength + 2
        while contents.count <= limit {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            contents.append(contentsOf: chunk[0..<count])
        }
        guard contents.count <= limit else { throw .tooLong(path: path) }
        do {
            try self.init(contents: contents)
        } catch {
            throw error.naming(path)
        }
    }

    /// The bytes of hex text (whitespace ignored), or nil when `contents` is not that.
    static func hexDecoded(_ contents: [UInt8]) -> [UInt8]? {
        var digits: [UInt8] = []
        digits.reserveCapacity(contents.count)
        for byte in contents {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

/// Why a key cannot be used. Programs exit 66 for ``unreadable(path:reason:)`` and 64 (usage) otherwise.
public enum KeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case tooShort(path: String?, bytes: Int)
    case tooLong(path: String?)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read the key file \(path): \(reason)"
        case .tooShort(let path, let bytes):
            "the key\(path.map { " in \($0)" } ?? "") is \(bytes) byte\(bytes == 1 ? "" : "s") long; a key needs at "
                + "least \(AuthenticationKey.minimumLength) (make one with: head -c 32 /dev/urandom > FILE)"
        case .tooLong(let path):
            "the key\(path.map { " in \($0)" } ?? "") is longer than \(AuthenticationKey.maximumLength) bytes"
        }
    }

    func naming(_ path: String) -> KeyFileError {
        switch self {
        case .unreadable: self
        case .tooShort(_, let bytes): .tooShort(path: path, bytes: bytes)
        case .tooLong: .tooLong(path: path)
        }
    }
}
