// swift-tools-version: 6.1
import PackageDescription

// Nested so the root package builds without libFuzzer: a fuzz executable has no `main` of its own
// (Docs/testing.md).
// Build with `swift build -c release --sanitize=fuzzer` (Tools/fuzz runs it).
let fuzzFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "PGMFuzz",
    dependencies: [.package(name: "swift-pgm", path: "../..")],
    targets: [
        // What each target does with an input; the root package's FuzzRegressionTests compile the same file.
        .target(
            name: "FuzzHarness",
            dependencies: [
                .product(name: "PGMWire", package: "swift-pgm"), .product(name: "PGMCapture", package: "swift-pgm"),
                .product(name: "PGMCore", package: "swift-pgm"),
            ]),
        .executableTarget(name: "WireFuzz", dependencies: ["FuzzHarness"], swiftSettings: fuzzFlags),
        .executableTarget(name: "CaptureFuzz", dependencies: ["FuzzHarness"], swiftSettings: fuzzFlags),
        .executableTarget(name: "SessionFuzz", dependencies: ["FuzzHarness"], swiftSettings: fuzzFlags),
    ],
    swiftLanguageModes: [.v6]
)
