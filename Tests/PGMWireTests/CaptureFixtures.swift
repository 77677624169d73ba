import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the shared captures for known-answer tests: a minimal classic-pcap walker (Ethernet → IPv4 → PGM or
/// UDP → PGM) that exists only so the codec's tests need no libpcap. `pgm-dump`'s real reader is in PGMCapture.
struct CaptureFixture {
    struct Frame {
        var number: Int
        var pgm: [UInt8]
    }

    /// `../shared/testdata/<relative>`, found from this file's location (the package root's sibling).
    static func path(_ relative: String) -> String {
        let components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        let root = components.dropLast(3).joined(separator: "/")
        return root + "/../shared/testdata/" + relative
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw FixtureError.unreadable(path) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    enum FixtureError: Error { case unreadable(String), notPcap }

    /// Every frame carrying PGM, natively or on one of `udpPorts`, numbered from 1 as tshark does.
    static func frames(_ relative: String, udpPorts: Set<UInt16>) throws -> [Frame] {
        let bytes = try readFile(path(relative))
        guard bytes.count >= 24, bytes[0] == 0xD4, bytes[1] == 0xC3 else { throw FixtureError.notPcap }
        func le32(_ offset: Int) -> Int {
            Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3])
                << 24
        }
        func be16(_ offset: Int) -> Int { Int(bytes[offset]) << 8 | Int(bytes[offset + 1]) }
        var frames: [Frame] = []
        var offset = 24
        var number = 0
        while offset + 16 <= bytes.count {
            let captured = le32(offset + 8)
            let start = offset + 16
            offset = start + captured
            number += 1
            guard offset <= bytes.count else { break }
            var ip = start + 14
            var etherType = be16(start + 12)
            if etherType == 0x8100 {
                etherType = be16(start + 16)
                ip += 4
            }
            guard etherType == 0x0800, bytes[ip] >> 4 == 4 else { continue }
            let headerLength = Int(bytes[ip] & 0x0F) * 4
            let total = be16(ip + 2)
            let end = min(ip + total, offset)
            var payload = ip + headerLength
            switch bytes[ip + 9] {
            case 113:
                break
            case 17 where udpPorts.contains(UInt16(be16(payload))) || udpPorts.contains(UInt16(be16(payload + 2))):
                payload += 8
            default:
                continue
            }
            frames.append(Frame(number: number, pgm: Array(bytes[payload..<end])))
        }
        return frames
    }
}

/// The leaf fields of tshark's `-T json` output, per frame (numbered by position, since some exports filter
/// out `frame.number`), in document order. tshark repeats keys inside one
/// object (`pgm.port` twice), which dictionary-based JSON decoders silently collapse, so this walks the text.
struct TsharkDecoding {
    /// frame number → (key, value) leaves
    var frames: [Int: [(key: String, value: String)]] = [:]

    init(path: String) throws {
        let text = try CaptureFixture.readFile(path)
        var index = 0
        var depth = 0
        var current: [(key: String, value: String)] = []
        var pendingKey: String?
        func readString() -> String {
            index += 1  // opening quote
            var scalars: [UInt8] = []
            while index < text.count, text[index] != UInt8(ascii: "\"") {
                if text[index] == UInt8(ascii: "\\") { index += 1 }
                scalars.append(text[index])
                index += 1
            }
            index += 1
            return String(decoding: scalars, as: UTF8.self)
        }
        while index < text.count {
            let byte = text[index]
            switch byte {
            case UInt8(ascii: "{"):
                depth += 1
                pendingKey = nil
                index += 1
            case UInt8(ascii: "}"):
                depth -= 1
                index += 1
                if depth == 0 {
                    frames[frames.count + 1] = current
                    current = []
                }
            case UInt8(ascii: "\""):
                let string = readString()
                if let key = pendingKey {
                    current.append((key, string))
                    pendingKey = nil
                } else {
                    // A key if a colon follows, else an array element.
                    var look = index
                    while look < text.count, text[look] == UInt8(ascii: " ") { look += 1 }
                    if look < text.count, text[look] == UInt8(ascii: ":") {
                        pendingKey = string
                        index = look + 1
                    }
                }
            case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","):
                if byte == UInt8(ascii: ",") { pendingKey = nil }
                index += 1
            default:
                if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r")
                    && byte != UInt8(ascii: "\t")
                {
                    // A bare literal (number, true, false, null): tshark quotes its values, so skip it.
                    while index < text.count,
                        ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(text[index])
                    {
                        index += 1
                    }
                    pendingKey = nil
                } else {
                    index += 1
                }
            }
        }
    }
}
