/// A small JSON reader that keeps duplicate keys (tshark's `-T json` repeats keys such as `pgm.port`, which
/// strict parsers reject or collapse). Objects are ordered lists of members.
indirect enum TolerantJSON: Equatable {
    case object([(key: String, value: TolerantJSON)])
    case array([TolerantJSON])
    case string(String)
    /// Numbers, `true`, `false` and `null`, as written.
    case literal(String)

    static func == (lhs: TolerantJSON, rhs: TolerantJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)), (.literal(let a), .literal(let b)): a == b
        default: false
        }
    }

    struct ParseError: Error, CustomStringConvertible {
        var offset: Int
        var description: String { "JSON syntax error at byte \(offset)" }
    }

    static func parse(_ bytes: [UInt8]) throws -> TolerantJSON {
        var parser = Parser(bytes: bytes)
        let value = try parser.value()
        parser.skipSpace()
        guard parser.index == bytes.count else { throw ParseError(offset: parser.index) }
        return value
    }

    static func parse(_ text: String) throws -> TolerantJSON { try parse(Array(text.utf8)) }

    subscript(key: String) -> TolerantJSON? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    var elements: [TolerantJSON] {
        if case .array(let values) = self { return values }
        return []
    }

    var text: String? {
        switch self {
        case .string(let value), .literal(let value): value
        default: nil
        }
    }

    /// Keys of every object member at any depth, in document order.
    var memberKeys: [String] {
        switch self {
        case .object(let members): members.flatMap { [$0.key] + $0.value.memberKeys }
        case .array(let values): values.flatMap(\.memberKeys)
        case .string, .literal: []
        }
    }

    /// Every value stored under `key` at any depth, in document order.
    func all(_ key: String) -> [TolerantJSON] {
        var found: [TolerantJSON] = []
        collect(key, into: &found)
        return found
    }

    /// The first value under `key` at any depth, as text.
    func first(_ key: String) -> String? { all(key).first?.text }

    private func collect(_ key: String, into found: inout [TolerantJSON]) {
        switch self {
        case .object(let members):
            for member in members {
                if member.key == key { found.append(member.value) }
                member.value.collect(key, into: &found)
            }
        case .array(let values):
            for value in values { value.collect(key, into: &found) }
        case .string, .literal:
            break
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { throw ParseError(offset: index) }
            index += 1
        }

        mutating func value() throws -> TolerantJSON {
            skipSpace()
            guard index < bytes.count else { throw ParseError(offset: index) }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, value: TolerantJSON)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"))
                    members.append((key, try value()))
                    skipSpace()
                    guard index < bytes.count else { throw ParseError(offset: index) }
                    index += 1
                    if bytes[index - 1] == UInt8(ascii: "}") { return .object(members) }
                    guard bytes[index - 1] == UInt8(ascii: ",") else { throw ParseError(offset: index - 1) }
                }
            case UInt8(ascii: "["):
                index += 1
                var values: [TolerantJSON] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(values)
                }
                while true {
                    values.append(try value())
                    skipSpace()
                    guard index < bytes.count else { throw ParseError(offset: index) }
                    index += 1
                    if bytes[index - 1] == UInt8(ascii: "]") { return .array(values) }
                    guard bytes[index - 1] == UInt8(ascii: ",") else { throw ParseError(offset: index - 1) }
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            default:
                let start = index
                while index < bytes.count, !",}] \n\r\t".utf8.contains(bytes[index]) { index += 1 }
                guard index > start else { throw ParseError(offset: index) }
                return .literal(String(decoding: bytes[start..<index], as: UTF8.self))
            }
        }

        mutating func string() throws -> String {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw ParseError(offset: index) }
            index += 1
            var result: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: result, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw ParseError(offset: index) }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "n"): result.append(0x0A)
                    case UInt8(ascii: "t"): result.append(0x09)
                    case UInt8(ascii: "r"): result.append(0x0D)
                    case UInt8(ascii: "b"): result.append(0x08)
                    case UInt8(ascii: "f"): result.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard index + 4 <= bytes.count,
                            let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
                        else { throw ParseError(offset: index) }
                        index += 4
                        result.append(contentsOf: Array(String(Character(Unicode.Scalar(code) ?? "?")).utf8))
                    default: result.append(escaped)
                    }
                default:
                    result.append(byte)
                }
            }
            throw ParseError(offset: index)
        }
    }
}
