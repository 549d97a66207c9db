import Foundation

// Discovery: which files a rule set is made of — the .fz files under the given paths and each
// directory's variants.txt — read into memory for the compiler (and hashed by the compiled rule
// cache, which must see exactly what the compiler would read).

extension RuleCompiler {
    /// Rule files under the given paths (a directory means every .fz file in it, recursively, sorted;
    /// a symlink to a directory counts as the directory; hidden entries such as editor lock files
    /// and anything that is not a regular file are skipped). A file reached twice is read once.
    package static func ruleFiles(at paths: [String]) throws -> [String] {
        var files: [String] = []
        var seen = Set<String>()
        func add(_ file: String) {
            if seen.insert(canonicalPath(file)).inserted { files.append(file) }
        }
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else { throw RuleLoadError.unreadable(path, "no such file or directory") }
            guard st.st_mode & S_IFMT == S_IFDIR else { add(path); continue }
            // Walk the directory itself, not a link to it (links inside it are not followed into).
            let root = canonicalPath(path)
            var found: [String] = []
            for relative in entries(under: root) {
                guard relative.hasSuffix(".\(fileExtension)") else { continue }
                var entry = stat()
                guard stat(root + "/" + relative, &entry) == 0, entry.st_mode & S_IFMT != S_IFDIR else { continue }   // a directory named x.fz, or a dangling link
                found.append(relative)
            }
            if found.isEmpty { throw RuleLoadError.noRuleFiles(path) }
            for relative in found.sorted() { add((path as NSString).appendingPathComponent(relative)) }
        }
        return files
    }

    /// The path with every link resolved (the path as given when it cannot be: it is only a key).
    private static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Every entry under `root`, as paths relative to it, recursively, skipping hidden entries
    /// (editor lock files, `.git`) and not descending through links. With plain `readdir`, not
    /// FileManager's enumerator: discovery runs on every start-up, and the enumerator cost more
    /// than a one-message scan's decoding of its rules (start-up, issue 22).
    private static func entries(under root: String) -> [String] {
        var out: [String] = []
        func walk(_ relative: String) {
            guard let dir = opendir(relative.isEmpty ? root : root + "/" + relative) else { return }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard !name.hasPrefix(".") else { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                out.append(path)
                var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
                if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                    var st = stat()
                    isDirectory = lstat(root + "/" + path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
                }
                if isDirectory { walk(path) }
            }
        }
        walk("")
        return out
    }

    /// What a rule set is compiled from: the rule files and the variant dictionaries, read.
    struct SourceFiles {
        var rules: [(path: String, data: Data)] = []
        var variants: [(path: String, data: Data)] = []
    }

    /// Reads every rule file and variant dictionary under `paths` (what `compile(paths:)` reads).
    static func sourceFiles(paths: [String]) throws -> SourceFiles {
        var out = SourceFiles()
        for f in try ruleFiles(at: paths) {
            guard let data = FileManager.default.contents(atPath: f) else { throw RuleLoadError.unreadable(f, "permission denied or not a file") }
            out.rules.append((f, data))
        }
        for path in paths {
            var isDir: ObjCBool = false
            let file = (path as NSString).appendingPathComponent(VariantDictionary.fileName)
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
               let data = FileManager.default.contents(atPath: file) {
                out.variants.append((file, data))
            }
        }
        return out
    }
}
