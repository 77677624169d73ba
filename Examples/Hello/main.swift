import PGM

// A receiver and a source of one session on this host: loopback, with multicast looped back to us.
var options = PGMOptions(group: IPv4Address(239, 192, 7, 1))
options.interface = "127.0.0.1"
options.multicastLoop = true
options.encapsulation = .udp(port: 3156)
options.linger = .milliseconds(200)
let greetings = ["hello", "from", "PGM"]

let receiver = try await PGMReceiver(options: options)
let source = try await PGMSource(options: options)
let sending = Task {
    for text in greetings { try await source.send(Array(text.utf8)) }
    try await source.finish()  // OPT_FIN, then NAKs are answered for the linger
}
let deadline = Task {  // nothing within five seconds: the receiver closes and the check below fails
    try await Task.sleep(for: .seconds(5))
    receiver.close()
}
var received: [String] = []
for try await case .message(let message) in receiver {
    received.append(String(decoding: message.bytes, as: UTF8.self))
    print("\(message.tsi): \(received.last ?? "")")
    if received.count == greetings.count { break }
}
deadline.cancel()
try await sending.value
precondition(received == greetings, "received \(received), not \(greetings)")
