internal import Glibc

/// `setsockopt` with a typed value; the error names the option, e.g. `setsockopt(IP_ADD_MEMBERSHIP)`.
func setOption<Value>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Value, _ label: String) throws(SystemError) {
    var value = value
    let result = withUnsafePointer(to: &value) {
        setsockopt(fd, level, name, $0, socklen_t(MemoryLayout<Value>.size))
    }
    if result != 0 { throw SystemError.last("setsockopt(\(label))") }
}

func bindSocket(_ fd: Int32, _ address: sockaddr_in, _ label: String) throws(SystemError) {
    var address = address
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    if result != 0 { throw SystemError.last("bind(\(label))") }
}

func boundPort(_ fd: Int32) -> UInt16 {
    var local = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return local.portNumber
}

let ipLevel = Int32(IPPROTO_IP)
let udpLevel = Int32(IPPROTO_UDP)
/// UDP_GRO (linux/udp.h, 5.0): coalesced runs of datagrams, with their size in a control message.
let udpGRO: Int32 = 104
let socketLevel = SOL_SOCKET
