public import PGMWire

/// A capture timestamp: seconds and nanoseconds since the Unix epoch (as libpcap reports it, nanosecond precision).
public struct CaptureTimestamp: Hashable, Sendable, Comparable {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public init(totalNanoseconds: Int64) {
        self.seconds = totalNanoseconds / 1_000_000_000
        self.nanoseconds = Int32(totalNanoseconds % 1_000_000_000)
    }

    public var totalNanoseconds: Int64 { seconds &* 1_000_000_000 &+ Int64(nanoseconds) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.totalNanoseconds < rhs.totalNanoseconds }
}

/// What the stored PGM checksum says about the bytes (RFC 3208 §8: 0x0000 means "no checksum").
public enum ChecksumStatus: Hashable, Sendable {
    case valid(UInt16)
    case invalid(stored: UInt16, computed: UInt16)
    /// No checksum; RFC 3208 requires one on ODATA and RDATA.
    case absent

    /// Checks `pgm`, a whole PGM packet (at least the 16-byte common header).
    public init(of pgm: UnsafeRawBufferPointer) {
        guard pgm.count >= Packet.commonHeaderLength else {
            self = .absent
            return
        }
        let stored = pgm.u16(at: PGMChecksum.fieldOffset)
        if stored == 0 {
            self = .absent
        } else if PGMChecksum.isValid(pgm) {
            self = .valid(stored)
        } else {
            self = .invalid(stored: stored, computed: PGMChecksum.compute(pgm))
        }
    }
}

/// One captured frame and everything pgm-dump learned from it; what formatters and the analyzer consume.
public struct Dissection: Sendable {
    /// 1-based frame number in the capture, as tshark and tcpdump `-#` count.
    public var number: Int
    public var timestamp: CaptureTimestamp
    public var capturedLength: Int
    public var originalLength: Int
    public var layers: Decapsulated
    /// The PGM layer, when ``layers`` is ``Decapsulated/pgm(_:udp:pgm:)``.
    public var pgm: PGMLayer?
    /// This packet's place in a UDP segmentation run (see ``splittingSegmentationRun(frame:)``).
    public var segment: Segment?

    /// One datagram of a GSO run: a sender's `UDP_SEGMENT` message captured before the kernel cut it (on the
    /// sending host, or on a veth or bridge path), so one frame holds several PGM packets back to back.
    public struct Segment: Hashable, Sendable {
        /// 1-based.
        public var index: Int
        public var count: Int
    }

    /// The decoded PGM packet, or why its bytes are not one.
    public struct PGMLayer: Sendable {
        /// Bytes of the PGM packet as captured.
        public var length: Int
        /// The raw type byte, options byte and stored checksum, when the common header was captured.
        public var typeByte: UInt8?
        public var optionsByte: UInt8?
        public var checksum: ChecksumStatus
        public var result: Result<Packet, PacketDecodingError>
        /// OPT_AUTH under the key given with `pgm-dump --key`; nil without a key, or when the packet did not decode.
        public var authentication: AuthenticationVerdict?

        public var packet: Packet? {
            if case .success(let packet) = result { packet } else { nil }
        }
    }

    /// Decapsulates and decodes one frame. The PGM bytes are copied once, into the array the packet's payload
    /// slice shares.
    public static func dissect(
        frame: UnsafeRawBufferPointer,
        linkType: LinkType,
        decapsulator: Decapsulator,
        number: Int,
        timestamp: CaptureTimestamp,
        originalLength: Int,
        authenticator: (any PacketAuthenticator)? = nil
    ) -> Dissection {
        let layers = decapsulator.decapsulate(frame, linkType: linkType)
        var dissection = Dissection(
            number: number,
            timestamp: timestamp,
            capturedLength: frame.count,
            originalLength: originalLength,
            layers: layers,
            pgm: nil
        )
        if case .pgm(_, _, let range) = layers {
            dissection.pgm = decodePGM(UnsafeRawBufferPointer(rebasing: frame[range]), authenticator: authenticator)
        }
        return dissection
    }

    /// One dissection per PGM packet when this frame is a GSO run: UDP whose payload is ODATA or RDATA packets of
    /// the first one's length back to back (the last may be shorter), each complete by its own header. Anything
    /// else stays one dissection. `frame` is the frame this dissection was made from.
    public func splittingSegmentationRun(
        frame: UnsafeRawBufferPointer, authenticator: (any PacketAuthenticator)? = nil
    ) -> [Dissection] {
        guard case .pgm(let network, let udp?, let range) = layers,
            let runs = Self.segmentRanges(UnsafeRawBufferPointer(rebasing: frame[range]))
        else { return [self] }
        return runs.enumerated().map { index, run in
            let segment = (range.lowerBound + run.lowerBound)..<(range.lowerBound + run.upperBound)
            var dissection = self
            dissection.layers = .pgm(network, udp: udp, pgm: segment)
            dissection.pgm = Self.decodePGM(
                UnsafeRawBufferPointer(rebasing: frame[segment]), authenticator: authenticator)
            dissection.segment = Segment(index: index + 1, count: runs.count)
            return dissection
        }
    }

    /// The packets of a GSO run in `bytes`, or nil when `bytes` is one packet (or not a clean run).
    static func segmentRanges(_ bytes: UnsafeRawBufferPointer) -> [Range<Int>]? {
        /// An ODATA or RDATA packet's length by its own header: common and data headers, options, TSDU.
        func declaredDataLength(at offset: Int) -> Int? {
            guard bytes.count - offset >= 24, bytes[offset + 4] == 0x04 || bytes[offset + 4] == 0x05 else { return nil }
            let tsdu = Int(bytes.u16(at: offset + 14))
            var options = 0
            if bytes[offset + 5] & 0x01 != 0 {
                guard bytes.count - offset >= 28 else { return nil }
                options = Int(bytes.u16(at: offset + 26))
            }
            return 24 + options + tsdu
        }
        guard let size = declaredDataLength(at: 0), size > 0, size < bytes.count else { return nil }
        var ranges: [Range<Int>] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + size, bytes.count)
            guard declaredDataLength(at: offset) == end - offset, ranges.count < 128 else { return nil }
            ranges.append(offset..<end)
            offset = end
        }
        return ranges
    }

    public static func dissect(
        frame: [UInt8],
        linkType: LinkType,
        decapsulator: Decapsulator = Decapsulator(),
        number: Int = 1,
        timestamp: CaptureTimestamp = CaptureTimestamp(seconds: 0, nanoseconds: 0)
    ) -> Dissection {
        frame.withUnsafeBytes {
            dissect(
                frame: $0,
                linkType: linkType,
                decapsulator: decapsulator,
                number: number,
                timestamp: timestamp,
                originalLength: frame.count
            )
        }
    }

    /// Decodes PGM bytes without rejecting a wrong checksum: an inspector shows the packet and flags the checksum.
    /// With `authenticator`, a packet that decodes also gets its OPT_AUTH verdict.
    public static func decodePGM(
        _ bytes: UnsafeRawBufferPointer, authenticator: (any PacketAuthenticator)? = nil
    ) -> PGMLayer {
        let checksum = ChecksumStatus(of: bytes)
        let header = bytes.count >= Packet.commonHeaderLength
        let copy = [UInt8](bytes)
        var layer = PGMLayer(
            length: bytes.count,
            typeByte: header ? bytes[4] : nil,
            optionsByte: header ? bytes[5] : nil,
            checksum: checksum,
            result: Result { () throws(PacketDecodingError) in try Packet(decoding: copy[...], checksum: .ignore) }
        )
        if let authenticator, layer.packet != nil { layer.authentication = authenticator.verify(bytes) }
        return layer
    }
}
