import Foundation

/// Scans batches of records on every core, each worker with its own `Screener`; results come back
/// in input order.
package final class ParallelScanner: @unchecked Sendable {
    package let matcher: CompiledMatcher
    private let scanners: [Screener]
    package var threads: Int { scanners.count }

    package init(matcher: CompiledMatcher, threads: Int = ProcessInfo.processInfo.activeProcessorCount, usePrefilter: Bool = true) throws {
        self.matcher = matcher
        scanners = try (0..<max(1, threads)).map { _ in try Screener(matcher: matcher, usePrefilter: usePrefilter) }
    }

    package var rules: RuleSet { matcher.rules }

    package func screen(_ records: [Record]) -> [Verdict] {
        map(records) { $0.screen($1) }
    }

    /// `body` on every record, on every core (each worker with its own scanner); results in input order.
    func map<T>(_ records: [Record], _ body: (Screener, Record) -> T) -> [T] {
        if scanners.count == 1 || records.count < 2 { return records.map { body(scanners[0], $0) } }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: records.count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        let n = scanners.count
        // Interleaved assignment keeps the workers balanced without a shared counter.
        DispatchQueue.concurrentPerform(iterations: n) { w in
            var i = w
            while i < records.count {
                results[i] = body(scanners[w], records[i])
                i += n
            }
        }
        return results.map { $0! }
    }
}

/// Where the bundled rules are: `$FANZHA_RULES`, else a `rules/` directory beside or above the
/// executable (the build tree), else `share/fanzha/rules` of an installed prefix.
package enum BundledRules {
    package static func path() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["FANZHA_RULES"], !env.isEmpty { return env }
        var dir = URL(fileURLWithPath: (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            for candidate in ["rules", "share/fanzha/rules"] {
                let p = dir.appendingPathComponent(candidate).path
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue,
                   (try? fm.contentsOfDirectory(atPath: p))?.contains(where: { $0.hasSuffix(".fz") }) == true {
                    return p
                }
            }
            dir.deleteLastPathComponent()
        }
        return nil
    }
}
