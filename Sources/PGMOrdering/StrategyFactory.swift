/// The ``TotalOrderStrategy`` of `mode` for one view (Docs/ordering.md#delivery-per-mode). ``GroupMember`` calls
/// it for total modes only: fifo and causal need no agreement, so their answer (a sequencer) is never consulted.
public func makeStrategy(
    mode: OrderingMode, me: MemberID, members: [MemberID], view: UInt32, nextGlobal: UInt64, at now: Duration
) -> any TotalOrderStrategy {
    switch mode {
    case .fifo, .causal, .totalSequencer:
        SequencerStrategy(me: me, members: members, view: view, nextGlobal: nextGlobal, at: now)
    case .totalISIS:
        ISISStrategy(me: me, members: members, view: view, nextGlobal: nextGlobal, at: now)
    case .totalToken:
        TokenStrategy(me: me, members: members, view: view, nextGlobal: nextGlobal, at: now)
    }
}
