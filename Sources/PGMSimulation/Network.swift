import HeapModule
import PGMCapture
public import PGMCore
public import PGMWire

/// A deterministic discrete-event network in virtual time: hosts running engines, LAN segments, lossy links.
///
/// Every packet is encoded on send and decoded at each receiving host, so the codec runs on every hop.
/// Multicast reaches every other interface on the sender's segment; unicast reaches the interface owning the
/// destination address, wherever it is (routing between segments is not modelled beyond the two links).
/// A host with several interfaces (a network element) picks the segment with ``Transmit/interface``.
/// The same seed gives the same run: each link direction draws from its own split of the network's
/// generator, and simultaneous events run in the order they were scheduled.
public final class Network {
    public private(set) var now = Instant.zero
    /// Events executed so far (deliveries, timers, scheduled actions).
    public private(set) var eventsProcessed = 0
    /// Record every packet in ``trace`` (turn off for large benchmarks).
    public var tracing = true
    public private(set) var trace: [TraceRecord] = []
    /// Packets sent to a unicast address no host owns, or on an interface the host lacks.
    public private(set) var unroutable = 0
    /// Sees every packet a host sends (before any link) and every packet a host receives (after decoding),
    /// with the host's index in order of ``addHost(_:engine:interfaces:)``; for measurements.
    public var observer: ((Observation) -> Void)?

    /// Decides deterministic drops on top of the link models, for scenarios that must lose one exact packet:
    /// asked once on the sender's uplink (`receiver == nil`) and once per receiving host; `true` drops.
    public var dropRule: ((DropQuery) -> Bool)?

    public struct DropQuery {
        public var sender: Int
        /// The receiving host's index, or `nil` for the sender's uplink.
        public var receiver: Int?
        public var packet: Packet
        public var time: Instant
    }

    public struct Observation {
        public enum Kind: Sendable { case sent, delivered }
        public var kind: Kind
        public var host: Int
        public var packet: Packet
        public var time: Instant
        /// The network-layer source the packet claims (for `.delivered`, as the receiving host sees it).
        public var source: NLA?
    }

    /// Packets a drop-tail queue (``LinkProfile/queueLimit``) refused on host `host`'s links, both directions.
    public func queueDrops(host: Int) -> Int {
        links[host].reduce(0) { $0 + $1.uplink.queueDrops + $1.downlink.queueDrops }
    }

    /// Changes how host `host`'s interface `interface` receives from its segment from now on (a path that
    /// becomes congested, say); its queue and random stream carry on.
    public func setDownlink(host: Int, interface: Int = 0, _ profile: LinkProfile) {
        links[host][interface].downlink.profile = profile
    }

    private var random: SplitMix64
    private var hosts: [any SimulatedHost] = []
    private var links: [[(uplink: LinkState, downlink: LinkState)]] = []
    private var segments: [[(host: Int, interface: Int)]] = []
    private var segmentNames: [String] = []
    private var owners: [NLA: (host: Int, interface: Int)] = [:]
    private var queue = Heap<ScheduledEvent>()
    private var order: UInt64 = 0
    private var actions: [UInt64: (Network) -> Void] = [:]

    public init(seed: UInt64) { random = SplitMix64(seed: seed) }

    public func addSegment(_ name: String) -> SegmentID {
        segments.append([])
        segmentNames.append(name)
        return SegmentID(rawValue: segments.count - 1)
    }

    public func name(of segment: SegmentID) -> String { segmentNames[segment.rawValue] }

    /// Adds a host; its engine gets its first ``Engine/handleTimeout(at:)`` at its first deadline.
    @discardableResult
    public func addHost<E: Engine>(_ name: String, engine: E, interfaces: [InterfaceConfiguration]) -> Host<E> {
        precondition(!interfaces.isEmpty, "a host needs an interface")
        let host = Host(name: name, engine: engine, interfaces: interfaces)
        let index = hosts.count
        hosts.append(host)
        links.append(
            interfaces.map {
                (
                    LinkState(profile: $0.uplink, random: random.split()),
                    LinkState(profile: $0.downlink, random: random.split())
                )
            })
        for (position, interface) in interfaces.enumerated() {
            precondition(interface.segment.rawValue < segments.count, "unknown segment")
            segments[interface.segment.rawValue].append((index, position))
            owners[interface.address] = (index, position)
        }
        reschedule(index)
        return host
    }

    /// Runs `action` at `time` (not before ``now``), e.g. to make a source send or close.
    public func schedule(at time: Instant, _ action: @escaping (Network) -> Void) {
        order += 1
        actions[order] = action
        queue.insert(ScheduledEvent(time: max(time, now), order: order, action: .closure(order)))
    }

    /// Lets a host act on a change made from outside (e.g. data queued in its engine): drains its transmits,
    /// runs its ``Host/onActivity`` and re-arms its timer.
    public func wake<E: Engine>(_ host: Host<E>) {
        guard let index = hosts.firstIndex(where: { $0 === host }) else { return }
        process(index)
    }

    /// Executes events up to and including `end`, then sets ``now`` to `end`.
    public func run(until end: Instant) { run(until: end, while: { true }) }

    /// Executes events up to `end` while `condition` holds (checked after each event). Returns whether it
    /// stopped because the condition failed.
    @discardableResult
    public func run(until end: Instant, while condition: () -> Bool) -> Bool {
        while let next = queue.min, next.time <= end {
            queue.removeMin()
            now = next.time
            eventsProcessed += 1
            execute(next.action)
            if !condition() { return true }
        }
        now = max(now, end)
        return false
    }

    // MARK: Internals

    private func execute(_ action: ScheduledEvent.Action) {
        switch action {
        case .closure(let key):
            actions.removeValue(forKey: key)?(self)
        case .timer(let index, let generation):
            let host = hosts[index]
            guard generation == host.timerGeneration else { return }
            host.scheduledDeadline = nil
            host.timeout(at: now)
            process(index)
        case .deliver(let delivery):
            let host = hosts[delivery.host]
            let packet: Packet
            do {
                packet = try Packet(decoding: delivery.bytes)
            } catch {
                (host as? AnyDecodeCounter)?.countDecodeFailure()
                return
            }
            observer?(
                Observation(
                    kind: .delivered, host: delivery.host, packet: packet, time: now, source: delivery.arrival.source))
            host.deliver(packet, arrival: delivery.arrival, at: now)
            process(delivery.host)
        }
    }

    /// After any input: send what the engine has, let the application hook act, send again, re-arm the timer.
    private func process(_ index: Int) {
        let host = hosts[index]
        drain(index)
        host.activity(at: now)
        drain(index)
        reschedule(index)
    }

    private func drain(_ index: Int) {
        while let transmit = hosts[index].nextTransmit(at: now) { send(transmit, from: index) }
    }

    private func reschedule(_ index: Int) {
        let host = hosts[index]
        guard var deadline = host.deadline else {
            host.scheduledDeadline = nil
            host.timerGeneration += 1
            return
        }
        // An engine asking to run again at the current instant after being drained would spin; a
        // nanosecond later keeps virtual time moving.
        if deadline <= now { deadline = now + .nanoseconds(1) }
        guard deadline != host.scheduledDeadline else { return }
        host.scheduledDeadline = deadline
        host.timerGeneration += 1
        order += 1
        queue.insert(ScheduledEvent(time: deadline, order: order, action: .timer(index, host.timerGeneration)))
    }

    private func send(_ transmit: Transmit, from index: Int) {
        let host = hosts[index]
        let position = transmit.interface.rawValue
        guard position >= 0 && position < host.interfaces.count else {
            unroutable += 1
            return
        }
        let interface = host.interfaces[position]
        observer?(
            Observation(
                kind: .sent, host: index, packet: transmit.packet, time: now,
                source: transmit.spoofedSource ?? interface.address))
        let bytes = transmit.packet.encoded()
        let source = transmit.spoofedSource ?? interface.address
        let targets: [(host: Int, interface: Int)]
        let destinationAddress: NLA
        switch transmit.destination {
        case .multicast(let group):
            destinationAddress = group
            targets = segments[interface.segment.rawValue].filter { !($0.host == index && $0.interface == position) }
        case .unicast(let address):
            destinationAddress = address
            guard let owner = owners[address] else {
                unroutable += 1
                return
            }
            targets = [owner]
        }
        var copies = links[index][position].uplink.transit(bytes: bytes.count, at: now)
        if let dropRule, dropRule(DropQuery(sender: index, receiver: nil, packet: transmit.packet, time: now)) {
            copies = []
        }
        record(interface.segment, source, destinationAddress, bytes, transmit, receiver: nil, dropped: copies.isEmpty)
        for first in copies {
            for target in targets {
                let targetInterface = hosts[target.host].interfaces[target.interface]
                var second = links[target.host][target.interface].downlink.transit(bytes: bytes.count, at: now)
                if let dropRule,
                    dropRule(DropQuery(sender: index, receiver: target.host, packet: transmit.packet, time: now))
                {
                    second = []
                }
                if second.isEmpty {
                    record(
                        targetInterface.segment, source, destinationAddress, bytes, transmit,
                        receiver: hosts[target.host].name, dropped: true)
                }
                for delay in second {
                    order += 1
                    let arrival = Arrival(
                        source: source, destination: destinationAddress, interface: InterfaceID(target.interface))
                    queue.insert(
                        ScheduledEvent(
                            time: now + first + delay, order: order,
                            action: .deliver(Delivery(host: target.host, bytes: bytes, arrival: arrival))))
                }
            }
        }
    }

    private func record(
        _ segment: SegmentID, _ source: NLA, _ destination: NLA, _ bytes: [UInt8], _ transmit: Transmit,
        receiver: String?, dropped: Bool
    ) {
        guard tracing else { return }
        trace.append(
            TraceRecord(
                time: now, segment: segment, source: source, destination: destination, bytes: bytes,
                ttl: transmit.ttl, routerAlert: transmit.routerAlert, receiver: receiver, dropped: dropped))
    }
}

/// Lets the network count decode failures on a host without knowing its engine type.
protocol AnyDecodeCounter: AnyObject { func countDecodeFailure() }

extension Host: AnyDecodeCounter {
    func countDecodeFailure() { decodeFailures += 1 }
}

struct Delivery {
    var host: Int
    var bytes: [UInt8]
    var arrival: Arrival
}

struct ScheduledEvent: Comparable {
    enum Action {
        case deliver(Delivery)
        case timer(Int, UInt64)
        case closure(UInt64)
    }

    var time: Instant
    var order: UInt64
    var action: Action

    static func == (lhs: ScheduledEvent, rhs: ScheduledEvent) -> Bool { lhs.time == rhs.time && lhs.order == rhs.order }
    static func < (lhs: ScheduledEvent, rhs: ScheduledEvent) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.order < rhs.order
    }
}
