import PGMCore
import PGMWire
import Testing

/// OPT_RST (RFC 3208 §9.8) at both ends: a source that aborts its session sends what was queued, then OPT_RST
/// on every SPM (N bit clear while it still answers NAKs, set once its window is empty), and a receiver reports
/// the reset once everything up to the SPM's lead was delivered or declared lost.
@Suite struct SessionResetTests {
    static func spms(_ transmits: [Transmit]) -> [Packet] {
        transmits.map(\.packet).filter { $0.body.type == .spm }
    }

    static func resetOption(_ packet: Packet) -> (ignoresNAKs: Bool, errorCode: UInt8)? {
        for option in packet.options {
            if case .reset(let ignoresNAKs, let errorCode) = option.value { return (ignoresNAKs, errorCode) }
        }
        return nil
    }

    /// What was queued still goes; then OPT_RST without N (no OPT_FIN) on an SPM sent at once, NAKs still
    /// answered; once the window ages out, OPT_RST with N and the empty window, then the engine finishes.
    @Test func aResetSourceSendsWhatWasQueuedThenOptRstAndAnswersNAKsUntilItsWindowIsEmpty() throws {
        var configuration = sourceConfiguration()
        configuration.txwSeconds = .seconds(1)
        var source = EngineHarness(Source(configuration: configuration, at: .zero))
        try source.send([1], at: .zero)
        try source.send([2], at: .zero)
        source.engine.reset(at: .zero, errorCode: 2)
        #expect(source.isClosing && source.resetCode == 2 && !source.ignoresNAKs)
        #expect(throws: Source.SendError.closed) { try source.send([3], at: .zero) }
        let first = source.drain(at: .zero)
        #expect(first.map(\.packet.body.type) == [.spm, .odata, .odata, .spm], "the RST SPM at once")
        let rst = try #require(Self.spms(first).last)
        #expect(Self.resetOption(rst)! == (false, 2))
        #expect(!rst.options.contains(Option(.fin)))
        if case .spm(let spm) = rst.body { #expect(spm.lead == SequenceNumber(101)) }

        let answer = source.receive(nakPacket([100]), arrival: fromReceiver, at: at(100))
        #expect(answer.map(\.packet.body.type).contains(.rdata), "N clear: NAKs are still answered")

        var later: [Packet] = []
        while let step = source.step() { later += Self.spms(step.sent) }
        #expect(source.isFinished)
        let withN = later.filter { Self.resetOption($0)?.ignoresNAKs == true }
        #expect(!withN.isEmpty && later.allSatisfy { Self.resetOption($0) != nil })
        if case .spm(let last) = withN.last?.body {
            #expect(last.trail == SequenceNumber(102) && last.lead == SequenceNumber(101), "the empty window")
        }
        #expect(source.events().last == .finished)
    }

    /// ``Source/abandonRepairs(at:)``: the window empties at once and the next SPM carries OPT_RST with N.
    @Test func abandoningRepairsSetsTheNBitAtOnce() throws {
        var source = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        try source.send([1], at: .zero)
        source.engine.reset(at: .zero, errorCode: 15)
        _ = source.drain(at: .zero)
        source.engine.abandonRepairs(at: at(10))
        #expect(source.ignoresNAKs && source.trail == SequenceNumber(101))
        let spm = try #require(Self.spms(source.drain(at: at(10))).first)
        #expect(Self.resetOption(spm)! == (true, 15))
        let answer = source.receive(nakPacket([100]), arrival: fromReceiver, at: at(20))
        #expect(!answer.map(\.packet.body.type).contains(.rdata))
    }

    /// A session whose OPT_FIN already went out stays closed; a close that has not reached OPT_FIN yet (data still
    /// queued) becomes a reset.
    @Test func aResetAfterOptFINChangesNothingButOneBeforeItDoes() throws {
        var closed = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        try closed.send([1], at: .zero)
        closed.close(at: .zero)
        _ = closed.drain(at: .zero)
        closed.engine.reset(at: at(1))
        #expect(closed.resetCode == nil)
        #expect(Self.spms(closed.advance(by: .seconds(1))).allSatisfy { $0.options.contains(Option(.fin)) })

        var closing = EngineHarness(Source(configuration: sourceConfiguration(), at: .zero))
        try closing.send([1], at: .zero)
        closing.close(at: .zero)
        closing.engine.reset(at: .zero)
        let spms = Self.spms(closing.drain(at: .zero))
        #expect(Self.resetOption(spms.last!)! == (false, 0))
    }

    /// OPT_RST without N: the receiver goes on repairing up to the SPM's lead, then reports the reset.
    @Test func aReceiverReportsTheResetOnceEverythingUpToTheLeadIsDelivered() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        let rst = Option(.reset(ignoresNAKs: false, errorCode: 2))
        receiver.receive(spm(2, trail: 0, lead: 2, options: [rst]), arrival: fromSource, at: at(1))
        #expect(!receiver.events().contains(.sessionReset(tsi, errorCode: 2)), "2 is still missing")
        #expect(receiver.nakSequences(receiver.advance(to: at(200))) == [2], "N clear: it still NAKs")
        receiver.receive(odata(2, trail: 0, [2], repair: true), arrival: fromSource, at: at(300))
        #expect(receiver.events() == [.data(tsi, bytes: [2]), .sessionReset(tsi, errorCode: 2)])
    }

    /// OPT_RST with N: what is missing up to the lead is lost at once, no NAK follows, and the reset is reported.
    @Test func withTheNBitWhatIsMissingIsLostAtOnce() {
        var receiver = EngineHarness(Receiver(configuration: receiverConfiguration()))
        receiver.receive(spm(1, trail: 0, lead: 0), arrival: fromSource, at: at(0))
        receiver.receive(odata(1, trail: 0, [1]), arrival: fromSource, at: at(0))
        receiver.receive(odata(3, trail: 0, [3]), arrival: fromSource, at: at(0))
        _ = receiver.events()
        let rst = Option(.reset(ignoresNAKs: true, errorCode: 0))
        receiver.receive(spm(2, trail: 0, lead: 4, options: [rst]), arrival: fromSource, at: at(1))
        #expect(
            receiver.events() == [
                .unrecoverable(tsi, first: SequenceNumber(2), last: SequenceNumber(2), reason: .windowAdvanced),
                .data(tsi, bytes: [3]),
                .unrecoverable(tsi, first: SequenceNumber(4), last: SequenceNumber(4), reason: .windowAdvanced),
                .sessionReset(tsi, errorCode: 0),
            ])
        #expect(receiver.nakSequences(receiver.advance(to: at(1000))).isEmpty)
    }
}
