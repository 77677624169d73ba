import PGMWire
import Testing

@testable import PGMSockets

@Suite struct NetworkInterfaceTests {
    @Test func loopbackByNameAndAddress() throws {
        let byName = try NetworkInterface.named("lo")
        #expect(byName.address == IPv4Address(127, 0, 0, 1))
        #expect(byName.index > 0)
        #expect(try NetworkInterface.named("127.0.0.1") == byName)
    }

    @Test func unknownInterfacesAreNamedInTheError() {
        #expect(throws: NetworkConfigurationError.interfaceNotFound("pgm-no-such0")) {
            try NetworkInterface.named("pgm-no-such0")
        }
        #expect(throws: NetworkConfigurationError.interfaceNotFound("198.19.255.254")) {
            try NetworkInterface.named("198.19.255.254")
        }
    }

    @Test func systemErrorsNameTheCallAndThePrivilege() {
        let refused = SystemError("socket(AF_INET, SOCK_RAW, 113)", errno: 1)
        #expect(refused.isPermissionDenied)
        #expect(refused.description.contains("CAP_NET_RAW"))
        let membership = SystemError("setsockopt(IP_ADD_MEMBERSHIP 239.192.0.1 on eth9)", errno: 19)
        #expect(membership.isUnavailable)
        #expect(membership.description.hasPrefix("setsockopt(IP_ADD_MEMBERSHIP 239.192.0.1 on eth9): "))
    }
}
