// swift-tools-version: 6.1
import PackageDescription

/// The lab and the benchmarks, nested so that the root package declares only what its libraries and programs
/// need: a package depending on swift-pgm never resolves Yams or builds these executables. Sources stay where
/// they were (`path:`); Tools/lab, Tools/bench, Tools/dump-benchmark and Tools/test build them from here.
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// Products of the root package, by name.
func swiftPGM(_ names: String...) -> [Target.Dependency] {
    names.map { .product(name: $0, package: "swift-pgm") }
}

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

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
            dependencies: swiftPGM("PGMSimulation", "PGMCommandLine", "PGMLabSupport", "PGMCapture", "PGMCore")
                + [.product(name: "Yams", package: "Yams"), argumentParser],
            path: "Lab", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-capture-gen", dependencies: swiftPGM("PGMWire", "PGMCapture") + [argumentParser],
            path: "CaptureGenerator", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-sim-bench", dependencies: swiftPGM("PGMSimulation", "PGMCore", "PGMWire") + [argumentParser],
            path: "SimulationBenchmark", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-ne-bench", dependencies: swiftPGM("PGMSimulation", "PGMCore", "PGMWire") + [argumentParser],
            path: "ElementBenchmark", swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-fec-bench", dependencies: swiftPGM("PGMCore", "PGMISAL") + [argumentParser],
            path: "FECBenchmark",
            swiftSettings: upcomingFeatures),
        .executableTarget(
            name: "pgm-wire-bench", dependencies: swiftPGM("PGMWire") + [argumentParser], path: "WireBenchmark",
            swiftSettings: upcomingFeatures),
    ],
    swiftLanguageModes: [.v6]
)
