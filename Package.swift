// swift-tools-version:6.0
import PackageDescription

// The pipeline, as targets:
//   CPCRE2 / COpenCC   system libraries (Debian: libpcre2-dev, libopencc-dev; the executables also link
//                      libmimalloc-dev's allocator, below)
//   FanzhaPCRE         the only module that imports PCRE2: compile, JIT, match, limits
//   FanzhaText         the only module that imports OpenCC: normalise text with an offset map
//   Fanzha             rules language (compiler) and engine (scanner), readers and printers
//   FanzhaReferrals    the 96110 referral case store (SQLite through GRDB): cases from verdicts, the workflow
//   FanzhaServer       `fanzha serve`: the HTTP API, live calls over HTTP and WebSocket, the web console
//   FanzhaCommandLine  what the two executables' commands share (rule and model options, `serve`'s options)
//   fanzha             the thin command-line shell
//   fanzha-serve       `fanzha serve` executes it: the service's program, apart so that the command-line
//                      tool starts without the server's libraries (docs/BENCHMARKS.md, issue 22)

// Start-up (issue 22): a release executable carries the Swift runtime and Foundation instead of
// loading and relocating their shared libraries on every run.
let staticRuntime: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib", "-Xlinker", "--start-group"]
                 + ["Foundation", "CoreFoundation", "FoundationInternationalization", "FoundationEssentials", "_FoundationICU", "_FoundationCShims",
                    "_FoundationCollections", "swiftSynchronization", "swiftDispatch", "dispatch", "BlocksRuntime"].flatMap { ["-Xlinker", "-l\($0)"] }
                 + ["-Xlinker", "--end-group", "-lstdc++"],
                 .when(platforms: [.linux], configuration: .release)),
]

// Throughput (issue 22): mimalloc (Debian: libmimalloc-dev) serves the whole process's malloc and
// free in place of glibc's. A live call's event allocates and frees small blocks on two worker
// threads, and glibc's per-thread heaps grow and shrink a page at a time under that; mimalloc's
// thread-local free lists do not (docs/BENCHMARKS.md, the twenty-seventh round). It is linked
// ahead of libc, so the dynamic linker binds every library's malloc to it (`LD_DEBUG=bindings`).
// The executables only: the library targets leave the allocator to the program that uses them.
let allocator: [LinkerSetting] = [.linkedLibrary("mimalloc", .when(platforms: [.linux]))]

let package = Package(
    name: "Fanzha",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fanzha", targets: ["fanzha"]),
        .executable(name: "fanzha-serve", targets: ["fanzha-serve"]),
        .library(name: "Fanzha", targets: ["Fanzha"]),
        .library(name: "FanzhaReferrals", targets: ["FanzhaReferrals"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "COpenCC", pkgConfig: "opencc", providers: [.apt(["libopencc-dev"])]),
        .target(name: "FanzhaPCRE", dependencies: ["CPCRE2"]),
        .target(name: "FanzhaText", dependencies: ["COpenCC"]),
        .target(name: "Fanzha", dependencies: ["FanzhaPCRE", "FanzhaText"]),
        // The core engine never depends on SQLite: only the referral store does.
        .target(name: "FanzhaReferrals", dependencies: ["Fanzha", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "FanzhaServer", dependencies: [
            "Fanzha",
            "FanzhaReferrals",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("Console")]),
        .target(name: "FanzhaCommandLine", dependencies: [
            "Fanzha",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "fanzha", dependencies: [
            "Fanzha",
            "FanzhaCommandLine",
            "FanzhaReferrals",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: staticRuntime + allocator),
        .executableTarget(name: "fanzha-serve", dependencies: [
            "Fanzha",
            "FanzhaCommandLine",
            "FanzhaReferrals",
            "FanzhaServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: staticRuntime + allocator),
        // Where the package's files and the built `fanzha` are, for every test target.
        .target(name: "FanzhaTestSupport", path: "Tests/FanzhaTestSupport"),
        .testTarget(name: "FanzhaTests", dependencies: ["Fanzha", "FanzhaPCRE", "FanzhaText", "FanzhaTestSupport"]),
        .testTarget(name: "FanzhaReferralsTests", dependencies: ["FanzhaReferrals", "Fanzha", "FanzhaTestSupport"]),
        .testTarget(name: "FanzhaServerTests", dependencies: ["Fanzha", "FanzhaReferrals", "FanzhaServer", "FanzhaTestSupport"]),
        .testTarget(name: "FanzhaCommandLineTests", dependencies: ["FanzhaCommandLine", "Fanzha", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    ],
    swiftLanguageModes: [.v5]
)

// libFuzzer targets, one per parser of outside input (Tests/Fuzz/Targets; scripts/fuzz.sh, `make fuzz`):
// in the manifest only when FANZHA_FUZZ is set, because they link libFuzzer's driver and are built
// with AddressSanitizer and coverage instrumentation in their own scratch path, `.build/fuzz`; the
// normal build and `swift test` never see them.
if Context.environment["FANZHA_FUZZ"] != nil {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzRules", ["Fanzha"]),
        ("FuzzJSONL", ["Fanzha"]),
        ("FuzzEvents", ["Fanzha"]),
        ("FuzzConfig", ["FanzhaReferrals", "FanzhaServer"]),
    ]
    package.targets.append(.target(name: "FuzzDriver", path: "Tests/Fuzz/Targets/FuzzDriver"))
    for t in fuzzTargets {
        package.targets.append(.executableTarget(name: t.name, dependencies: t.dependencies + ["FuzzDriver"], path: "Tests/Fuzz/Targets/\(t.name)"))
    }
}
