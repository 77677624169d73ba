import PGMCapture
import PGMWire

/// Paths of the shared captures: `../shared/testdata` beside the package root (CI has it there too).
enum TestData {
    static let packageRoot: String = {
        var components = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        // <root>/Tests/PGMCaptureTests/Support/TestData.swift
        components.removeLast(4)
        return components.joined(separator: "/")
    }()

    static func path(_ relative: String) -> String { packageRoot + "/../shared/testdata/" + relative }

    static let nativeCapture = "openpgm/openpgm-native-loss10.pcap"
    static let udpCapture = "openpgm/openpgm-udp3055-loss10.pcap"
    static let zeroMQNative = "tcpdump/pgm_zmtp1.pcap"
    static let zeroMQUDP = "tcpdump/epgm_zmtp1.pcap"
    static let allCaptures = [nativeCapture, udpCapture, zeroMQNative, zeroMQUDP]

    /// A captured frame with the bytes kept (the capture's buffer is reused by libpcap).
    struct Frame {
        var bytes: [UInt8]
        var timestamp: CaptureTimestamp
        var originalLength: Int
    }

    static func frames(_ relative: String) throws -> (LinkType, [Frame]) {
        try frames(atPath: path(relative))
    }

    static func frames(atPath path: String) throws -> (LinkType, [Frame]) {
        let capture = try PacketCapture(file: path)
        var frames: [Frame] = []
        while try capture.next({ bytes, timestamp, length in
            frames.append(Frame(bytes: [UInt8](bytes), timestamp: timestamp, originalLength: length))
        }) == .frame {}
        return (capture.linkType, frames)
    }

    static func dissections(_ relative: String, decapsulator: Decapsulator = Decapsulator()) throws -> [(
        Frame, Dissection
    )] {
        let (linkType, frames) = try frames(relative)
        return frames.enumerated().map { index, frame in
            let dissection = frame.bytes.withUnsafeBytes {
                Dissection.dissect(
                    frame: $0,
                    linkType: linkType,
                    decapsulator: decapsulator,
                    number: index + 1,
                    timestamp: frame.timestamp,
                    originalLength: frame.originalLength
                )
            }
            return (frame, dissection)
        }
    }
}

extension OutputBuffer {
    var string: String { String(decoding: bytes, as: UTF8.self) }
}
