import Foundation

/// Where the package's files and the `fanzha` built with the tests are: one answer for every
/// test target (the library tests, the referral store's and the service's).
public enum BuiltProducts {
    /// The package root: this file is Tests/FanzhaTestSupport/BuiltProducts.swift.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `fanzha` executable built with the tests: beside the test binary, else in the build trees.
    public static let fanzha: String? = {
        let fm = FileManager.default
        var candidates: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("fanzha").path)
        }
        if let exe = Bundle.main.executablePath {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("fanzha").path)
        }
        candidates.append(URL(fileURLWithPath: Bundle.main.bundlePath).deletingLastPathComponent().appendingPathComponent("fanzha").path)
        for tree in [".build-tests", ".build"] {
            candidates.append(packageRoot.appendingPathComponent(tree).appendingPathComponent("debug/fanzha").path)
        }
        return candidates.first { fm.isExecutableFile(atPath: $0) }
    }()
}
