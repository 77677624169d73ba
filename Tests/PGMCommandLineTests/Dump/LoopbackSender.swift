import Foundation

/// Sends `datagram` to 127.0.0.1:`port` `count` times, `interval` microseconds apart, from a UDP socket of its
/// own: the live-capture tests feed a capture on `lo` that may start a moment later. Loopback only.
func sendToLoopback(_ datagram: [UInt8], port: UInt16, count: Int, interval: UInt32) {
    let socketDescriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(socketDescriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    for _ in 0..<count {
        _ = datagram.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(
                        socketDescriptor, bytes.baseAddress, bytes.count, 0, $0,
                        socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        usleep(interval)
    }
}
