import Foundation
import PGMCapture
import PGMWire
import Testing

/// Reading capture files through libpcap: pcapng as well as pcap, and clear errors for damaged files.
@Suite("Capture files")
struct CaptureFileTests {
    static func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "pgm-dump-tests-\(getpid())-\(name)"
    }

    /// A minimal pcapng writer (section header, one interface, enhanced packet blocks; microsecond times),
    /// independent of libpcap, so reading pcapng is checked against a second implementation.
    static func pcapng(linkType: UInt16, frames: [TestData.Frame]) -> [UInt8] {
        var bytes: [UInt8] = []
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        u32(0x0A0D_0D0A); u32(28); u32(0x1A2B_3C4D); u16(1); u16(0); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u32(28)
        u32(1); u32(20); u16(linkType); u16(0); u32(262_144); u32(20)
        for frame in frames {
            let padded = (frame.bytes.count + 3) & ~3
            let microseconds = UInt64(frame.timestamp.seconds) * 1_000_000 + UInt64(frame.timestamp.nanoseconds / 1000)
            u32(6); u32(UInt32(32 + padded)); u32(0)
            u32(UInt32(microseconds >> 32)); u32(UInt32(microseconds & 0xFFFF_FFFF))
            u32(UInt32(frame.bytes.count)); u32(UInt32(frame.originalLength))
            bytes += frame.bytes + [UInt8](repeating: 0, count: padded - frame.bytes.count)
            u32(UInt32(32 + padded))
        }
        return bytes
    }

    @Test func pcapngReadsLikePcap() throws {
        let (linkType, frames) = try TestData.frames(TestData.zeroMQNative)
        let path = Self.temporaryPath("zmtp.pcapng")
        defer { unlink(path) }
        #expect(
            FileManager.default.createFile(
                atPath: path,
                contents: Data(Self.pcapng(linkType: UInt16(linkType.rawValue), frames: frames))
            )
        )
        let (readType, readFrames) = try TestData.frames(atPath: path)
        #expect(readType == linkType)
        #expect(readFrames.map(\.bytes) == frames.map(\.bytes))
        #expect(readFrames.map(\.timestamp) == frames.map(\.timestamp))
    }

    @Test func truncatedFileGivesFramesThenAnError() throws {
        let original = try #require(FileManager.default.contents(atPath: TestData.path(TestData.nativeCapture)))
        // Cut inside the 11th record: 24-byte file header, then records of 16 + captured bytes.
        var offset = 24
        for _ in 0..<10 {
            let captured = original[offset + 8..<offset + 12].reversed().reduce(0) { $0 << 8 | Int($1) }
            offset += 16 + captured
        }
        let path = Self.temporaryPath("truncated.pcap")
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: original.prefix(offset + 20))
        let capture = try PacketCapture(file: path)
        var frames = 0
        do {
            while try capture.next({ _, _, _ in frames += 1 }) == .frame {}
            Issue.record("no error after \(frames) frames")
        } catch {
            guard case .corruptFile(_, let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(reason.contains("truncated"))
        }
        #expect(frames == 10)
    }

    @Test func garbageFileIsRejectedAtOpen() throws {
        let path = Self.temporaryPath("garbage.pcap")
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data("this is not a capture file at all".utf8))
        #expect {
            try PacketCapture(file: path)
        } throws: { error in
            guard let error = error as? CaptureError, case .corruptFile = error else { return false }
            return error.description.contains(path)
        }
    }

    @Test func missingFileIsReportedAsSuch() {
        #expect(throws: CaptureError.self) { try PacketCapture(file: "/nonexistent/pgm-dump/none.pcap") }
        do {
            _ = try PacketCapture(file: "/nonexistent/pgm-dump/none.pcap")
        } catch {
            guard case .cannotOpenFile = error else {
                Issue.record("\(error)")
                return
            }
        }
    }

    @Test func badFilterIsRejected() throws {
        let capture = try PacketCapture(file: TestData.path(TestData.nativeCapture))
        #expect(throws: CaptureError.self) { try capture.setFilter("ip proto nonsense-protocol and") }
        try capture.setFilter(PacketCapture.defaultFilter(udpPorts: Decapsulator.defaultUDPPorts))
        var frames = 0
        while try capture.next({ _, _, _ in frames += 1 }) == .frame {}
        #expect(frames == 340)
    }

    @Test func filterSelectsFrames() throws {
        let capture = try PacketCapture(file: TestData.path(TestData.nativeCapture))
        try capture.setFilter("dst host 198.18.0.1")
        var frames = 0
        while try capture.next({ _, _, _ in frames += 1 }) == .frame {}
        // Unicast to the source: the NAKs and the unicast SPMR.
        #expect(frames == 21)
    }
}
