// swift-tools-version: 6.1
import PackageDescription

// Nested so the root package builds without libFuzzer: a fuzz executable has no `main` of its own (STYLE.md §8).
// Build with `swift build -c release --sanitize=fuzzer` (Tools/fuzz runs it).
let fuzzFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "PGMFuzz",
    dependencies: [.package(name: "swift-pgm", path: "../..")],
    targets: [
        .executableTarget(
            name: "WireFuzz",
            dependencies: [.product(name: "PGMWire", package: "swift-pgm")],
            swiftSettings: fuzzFlags),
        .executableTarget(
            name: "CaptureFuzz",
            dependencies: [.product(name: "PGMCapture", package: "swift-pgm")],
            swiftSettings: fuzzFlags),
    ],
    swiftLanguageModes: [.v6]
)
