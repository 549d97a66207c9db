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

    /// Every worker's `batchLines` emptied, for the next batch.
    package func emptyBatchLines() {
        for scanner in scanners { scanner.batchLines.removeAll() }
    }

    package func screen(_ records: [Record]) -> [Verdict] {
        var records = records
        return map(&records) { $0.screen($1) }
    }

    /// `body` on every record, on every core (each worker with its own scanner); results in input order.
    /// Each record is lent in place (`inout`, though `body` changes nothing): passed by value, it
    /// was copied for every call (its strings and arrays retained, then released: about 350
    /// instructions a record), as `body` might, for all the optimiser knew, change the array
    /// meanwhile. `records` is made unique first if it is not (the scan's batches are).
    func map<T>(_ records: inout [Record], _ body: (Screener, inout Record) -> T) -> [T] {
        records.withUnsafeMutableBufferPointer { records in
            if scanners.count == 1 || records.count < 2 {
                // A loop, not `records.map`: `map` is generic here (over `T`, which the caller
                // names), and its unspecialised form copied and destroyed each record through the
                // type's value witnesses (about 500 instructions a record).
                let scanner = scanners[0]
                var out: [T] = []
                out.reserveCapacity(records.count)
                for i in records.indices { out.append(body(scanner, &records[i])) }
                return out
            }
            let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: records.count)
            results.initialize(repeating: nil)
            defer {
                _ = results.deinitialize()
                results.deallocate()
            }
            let n = scanners.count, shared = records
            // Interleaved assignment keeps the workers balanced without a shared counter.
            DispatchQueue.concurrentPerform(iterations: n) { w in
                var i = w
                while i < shared.count {
                    results[i] = body(scanners[w], &shared[i])
                    i += n
                }
            }
            return results.map { $0! }
        }
    }
}

/// Where the bundled rules are: `$FANZHA_RULES`, else a `rules/` directory beside or above the
/// executable (the build tree), else `share/fanzha/rules` of an installed prefix. With `realpath`
/// and `readdir`, not URL and FileManager: it runs on every start-up (issue 22).
package enum BundledRules {
    package static func path() -> String? {
        if let env = environmentValue("FANZHA_RULES"), !env.isEmpty { return env }
        // The executable, every link resolved; then its folder and up to five above it.
        guard let resolved = realpath("/proc/self/exe", nil) ?? realpath(CommandLine.arguments[0], nil) else { return nil }
        var dir = String(cString: resolved)
        free(resolved)
        for _ in 0..<6 {
            dir = parent(of: dir)
            for candidate in ["rules", "share/fanzha/rules"] {
                let p = (dir == "/" ? "" : dir) + "/" + candidate
                if holdsRuleFiles(p) { return p }
            }
        }
        return nil
    }

    /// The folder holding `path` (absolute, no trailing slash); "/" for "/" and its entries.
    private static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), slash != path.utf8.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// Whether `path` is a directory with a `.fz` entry.
    private static func holdsRuleFiles(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".\(RuleCompiler.fileExtension)") { return true }
        }
        return false
    }
}

/// The value of an environment variable (nil when unset): `getenv`, not
/// `ProcessInfo.environment`, which builds a dictionary of every variable on each call.
package func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
