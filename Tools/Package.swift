// swift-tools-version: 6.1
import PackageDescription

/// The lab and the benchmarks, nested so that the root package declares only what its libraries and programs
/// need: a package depending on swift-pgm never resolves Yams or builds these executables. Sources stay where
/// they were (`path:`); Tools/lab, Tools/bench, Tools/dump-benchmark and Tools/test build them from here.
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-pgm-tools",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-pgm", path: ".."),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "pgm-lab",
            dependencies: [
                .product(name: "PGMSimulation", package: "swift-pgm"),
                .product(name: "PGMCommandLine", package: "swift-pgm"),
                .product(name: "PGMLabSupport", package: "swift-pgm"),
                .product(name: "PGMCapture", package: "swift-pgm"),
                .product(name: "PGMCore", package: "swift-pgm"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Lab", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-capture-gen",
            dependencies: [
                .product(name: "PGMWire", package: "swift-pgm"),
                .product(name: "PGMCapture", package: "swift-pgm"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "CaptureGenerator", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-sim-bench",
            dependencies: [
                .product(name: "PGMSimulation", package: "swift-pgm"),
                .product(name: "PGMCore", package: "swift-pgm"),
                .product(name: "PGMWire", package: "swift-pgm"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "SimulationBenchmark", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-ne-bench",
            dependencies: [
                .product(name: "PGMSimulation", package: "swift-pgm"),
                .product(name: "PGMCore", package: "swift-pgm"),
                .product(name: "PGMWire", package: "swift-pgm"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "ElementBenchmark", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-wire-bench",
            dependencies: [
                .product(name: "PGMWire", package: "swift-pgm"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "WireBenchmark", swiftSettings: upcomingFeatures),
    ],
    swiftLanguageModes: [.v6]
)
