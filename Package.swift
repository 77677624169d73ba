// swift-tools-version: 6.2
import PackageDescription

/// Layering (see Docs/architecture.md): PGMWire <- PGMCore <- PGMSimulation; PGMWire <- PGMCapture;
/// PGMCore <- PGMSockets; everything <- PGMCommandLine <- the four executables. The lab and the benchmarks are a
/// nested package (Tools/Package.swift), so this manifest declares only what the libraries and programs need.
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// Release tuning of the data path's two outer layers (Tools/instructions-per-packet measures it):
/// - the socket driver and the programs' loops keep their state in classes and closures, whose every access
///   the runtime checks for exclusivity: a fifth of pgm-recv's instructions per packet. Release builds skip
///   the check; debug builds, which the tests run, keep it;
/// - `Driver<Engine>` is generic and lives in PGMSockets: without cross-module optimization the programs run it
///   unspecialized, copying the engine through value witnesses at every property read.
/// The library products (PGMWire, PGMCore, PGMCapture) build without unsafe flags. `PGM` runs the driver, so
/// PGMSockets is in its product: at tools version 6.1 SwiftPM refused such a product to a package that depends on
/// this one by version ("the target 'PGMSockets' in product 'PGM' contains unsafe build flags"); from 6.2 it no
/// longer checks (measured with a two-package repro on 6.3.1: refused at 6.1, built at 6.2). `PGM` itself takes
/// `upcomingFeatures` only.
let dataPathTuning: [SwiftSetting] =
    upcomingFeatures + [
        .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))
    ]

let package = Package(
    name: "swift-pgm",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PGMWire", targets: ["PGMWire"]),
        .library(name: "PGMCore", targets: ["PGMCore"]),
        .library(name: "PGMOrdering", targets: ["PGMOrdering"]),
        // ISA-L's erasure-code kernel for PGMCore's Reed–Solomon code (links libisal).
        .library(name: "PGMISAL", targets: ["PGMISAL"]),
        .library(name: "PGMCapture", targets: ["PGMCapture"]),
        // The application library: an async source and receiver on sockets (Sources/PGM/PGM.docc).
        .library(name: "PGM", targets: ["PGM"]),
        // For the nested Tools package (lab, benchmarks): the simulator, and the programs' options and parsers.
        .library(name: "PGMSimulation", targets: ["PGMSimulation"]),
        .library(name: "PGMCommandLine", targets: ["PGMCommandLine"]),
        // Namespaces and commands for the lab (Tools/) and the root-only tests; no protocol code.
        .library(name: "PGMLabSupport", targets: ["PGMLabSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // HMAC-SHA-256 for `--key` (PGMAuthentication only). 3.x rather than 4.x: the same HMAC, without the SHA-3
        // (XKCP) sources 4.x adds to every build.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(name: "PGMWire", swiftSettings: upcomingFeatures),
        // Ordered group communication over messages (Docs/ordering.md): pure, the standard library only.
        .target(name: "PGMOrdering", swiftSettings: upcomingFeatures),
        .target(
            name: "PGMCore",
            dependencies: [
                "PGMWire", .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: upcomingFeatures),
        // A member of an ordered group on PGM: GroupTransport (PGMCore) and GroupMember (PGMOrdering) as one engine
        // for the socket driver and the simulator alike.
        .target(
            name: "PGMGroupEngine",
            dependencies: [
                "PGMCore", "PGMOrdering", "PGMWire", .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: upcomingFeatures),
        .target(name: "CPGMSystem"),
        .systemLibrary(name: "CISAL", path: "Sources/CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // `GaloisRegionKernel` on ISA-L: what the programs inject into `ReedSolomonCode` when the portable Swift
        // kernel is too slow; PGMCore itself stays pure Swift.
        .target(name: "PGMISAL", dependencies: ["PGMCore", "CISAL"], swiftSettings: upcomingFeatures),
        // The keyed MAC behind OPT_AUTH (Docs/key.md): HMAC-SHA-256 with swift-crypto, key files, the replay guard.
        // PGMWire defines the option, the covered bytes and the `PacketAuthenticator` protocol; PGMWire and PGMCore
        // never import Crypto.
        .target(
            name: "PGMAuthentication",
            dependencies: ["PGMWire", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: upcomingFeatures),
        .target(
            name: "PGMSockets",
            dependencies: ["CPGMSystem", "PGMCore", "PGMWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: dataPathTuning),
        // The application library (Docs/architecture.md): async `PGMSource` and `PGMReceiver`, and the runner that puts
        // one engine on sockets on a thread of its own, which the programs share. No unsafe flags: it is a product.
        .target(
            name: "PGM",
            dependencies: [
                "PGMSockets", "PGMCore", "PGMWire", "PGMISAL", "PGMAuthentication", "PGMOrdering", "PGMGroupEngine",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures),
        .systemLibrary(name: "CPcap", path: "Sources/CPcap", providers: [.apt(["libpcap-dev"])]),
        .target(name: "PGMCapture", dependencies: ["PGMWire", "CPcap"], swiftSettings: upcomingFeatures),
        .target(
            name: "PGMCommandLine",
            dependencies: [
                "PGM", "PGMWire", "PGMCore", "PGMSockets", "PGMCapture", "PGMAuthentication", "PGMISAL", "PGMOrdering",
                "PGMGroupEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: dataPathTuning),
        .executableTarget(name: "pgm-dump", dependencies: ["PGMCommandLine"], swiftSettings: upcomingFeatures),
        .executableTarget(name: "pgm-source", dependencies: ["PGMCommandLine"], swiftSettings: upcomingFeatures),
        .executableTarget(name: "pgm-recv", dependencies: ["PGMCommandLine"], swiftSettings: upcomingFeatures),
        .executableTarget(name: "pgm-chat", dependencies: ["PGMCommandLine"], swiftSettings: upcomingFeatures),
        .executableTarget(name: "pgm-ne", dependencies: ["PGMCommandLine"], swiftSettings: upcomingFeatures),
        // The README's example (README.md, "Using the library"): PGMTests checks that both hold the same code and runs it.
        .executableTarget(
            name: "pgm-example", dependencies: ["PGM"], path: "Examples/Hello", swiftSettings: upcomingFeatures),
        .testTarget(
            name: "PGMTests", dependencies: ["PGM", "PGMCore", "PGMWire", "PGMSockets"], swiftSettings: upcomingFeatures
        ),
        .testTarget(name: "PGMCaptureTests", dependencies: ["PGMCapture", "PGMWire"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "PGMCommandLineTests",
            dependencies: ["PGMCommandLine", "PGMCapture", "PGMWire", "PGMLabSupport", "PGMAuthentication"],
            swiftSettings: upcomingFeatures),
        .target(name: "PGMLabSupport", swiftSettings: upcomingFeatures),
        .testTarget(name: "PGMLabSupportTests", dependencies: ["PGMLabSupport"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "PGMSocketsTests", dependencies: ["PGMSockets", "PGMCore", "PGMWire", "PGMAuthentication"],
            swiftSettings: upcomingFeatures),
        .testTarget(
            name: "PGMAuthenticationTests", dependencies: ["PGMAuthentication", "PGMWire", "PGMCore"],
            swiftSettings: upcomingFeatures),
        .target(
            name: "PGMSimulation",
            dependencies: [
                "PGMCore", "PGMWire", "PGMCapture", "PGMGroupEngine", "PGMOrdering",
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: upcomingFeatures),
        .testTarget(name: "PGMOrderingTests", dependencies: ["PGMOrdering"], swiftSettings: upcomingFeatures),
        .testTarget(name: "PGMCoreTests", dependencies: ["PGMCore", "PGMWire"], swiftSettings: upcomingFeatures),
        .testTarget(name: "PGMISALTests", dependencies: ["PGMISAL", "PGMCore"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "PGMSimulationTests",
            dependencies: ["PGMSimulation", "PGMCore", "PGMWire", "PGMCapture", "PGMGroupEngine", "PGMOrdering"],
            swiftSettings: upcomingFeatures),
        .testTarget(name: "PGMWireTests", dependencies: ["PGMWire", "PGMCore"], swiftSettings: upcomingFeatures),
        // The fuzz corpus and crashes replayed through the fuzz targets' harness, which lives in the nested
        // Tools/Fuzz package (it cannot reach out of its directory, so this target reaches in).
        .testTarget(
            name: "FuzzRegressionTests", dependencies: ["PGMWire", "PGMCapture", "PGMCore"], path: "Tools/Fuzz/Sources",
            exclude: ["WireFuzz", "CaptureFuzz", "SessionFuzz"], sources: ["FuzzHarness", "FuzzRegressionTests"],
            swiftSettings: upcomingFeatures),
    ],
    swiftLanguageModes: [.v6]
)
