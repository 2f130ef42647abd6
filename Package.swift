// swift-tools-version:6.0
import PackageDescription

// The library targets carry no unsafe flags, so CharRNN can be used as a dependency.
// Fast builds pass the CPU on the command line (see scripts/common.sh).
let package = Package(
    name: "charrnn",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "CharRNN", targets: ["CharRNN"]),
        .library(name: "CharRNNServer", targets: ["CharRNNServer"]),
        .executable(name: "charrnn", targets: ["charrnn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // `swift package generate-documentation --target CharRNN` (Sources/CharRNN/CharRNN.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "pkg-config"])]
        ),
        .target(name: "CCharRNNKernels"),
        .target(
            name: "CharRNN",
            dependencies: [
                "CCharRNNKernels",
                .target(name: "COpenBLAS", condition: .when(platforms: [.linux])),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS]))]
        ),
        .target(
            name: "CharRNNServer",
            dependencies: [
                "CharRNN",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "charrnn",
            dependencies: [
                "CharRNN",
                "CharRNNServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(name: "CharRNNTests", dependencies: ["CharRNN", "CCharRNNKernels", .product(name: "SystemPackage", package: "swift-system")], resources: [.copy("Fixtures")]),
        // The README's "From Swift" program, compiled with everything else and run by a test.
        .executableTarget(name: "from-swift", dependencies: ["CharRNN"], path: "Examples/FromSwift"),
        .testTarget(name: "charrnnTests", dependencies: ["charrnn", "from-swift", "CharRNN"]),
        .testTarget(
            name: "CharRNNServerTests",
            dependencies: [
                "CharRNNServer", "CharRNN",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
