// swift-tools-version:6.0
import PackageDescription

// The pipeline, as targets:
//   CPCRE2 / COpenCC   system libraries (Debian: libpcre2-dev, libopencc-dev)
//   FanzhaPCRE         the only module that imports PCRE2: compile, JIT, match, limits
//   FanzhaText         the only module that imports OpenCC: normalise text with an offset map
//   Fanzha             rules language (compiler) and engine (scanner), readers and printers
//   FanzhaReferrals    the 96110 referral case store (SQLite through GRDB): cases from verdicts, the workflow
//   fanzha             the thin command-line shell
let package = Package(
    name: "Fanzha",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fanzha", targets: ["fanzha"]),
        .library(name: "Fanzha", targets: ["Fanzha"]),
        .library(name: "FanzhaReferrals", targets: ["FanzhaReferrals"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "COpenCC", pkgConfig: "opencc", providers: [.apt(["libopencc-dev"])]),
        .target(name: "FanzhaPCRE", dependencies: ["CPCRE2"]),
        .target(name: "FanzhaText", dependencies: ["COpenCC"]),
        .target(name: "Fanzha", dependencies: ["FanzhaPCRE", "FanzhaText"]),
        // The core engine never depends on SQLite: only the referral store does.
        .target(name: "FanzhaReferrals", dependencies: ["Fanzha", .product(name: "GRDB", package: "GRDB.swift")]),
        .executableTarget(name: "fanzha", dependencies: [
            "Fanzha",
            "FanzhaReferrals",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "FanzhaTests", dependencies: ["Fanzha", "FanzhaPCRE", "FanzhaText"]),
        .testTarget(name: "FanzhaReferralsTests", dependencies: ["FanzhaReferrals", "Fanzha"]),
    ],
    swiftLanguageModes: [.v5]
)
