import Foundation

// Discovery: which files a rule set is made of — the .fz files under the given paths and each
// directory's variants.txt — read into memory for the compiler (and hashed by the compiled rule
// cache, which must see exactly what the compiler would read).

extension RuleCompiler {
    /// Rule files under the given paths (a directory means every .fz file in it, recursively, sorted;
    /// a symlink to a directory counts as the directory; hidden entries such as editor lock files
    /// and anything that is not a regular file are skipped). A file reached twice is read once.
    package static func ruleFiles(at paths: [String]) throws -> [String] {
        let fm = FileManager.default
        var files: [String] = []
        var seen = Set<String>()
        func add(_ file: String) {
            if seen.insert(URL(fileURLWithPath: file).resolvingSymlinksInPath().standardizedFileURL.path).inserted { files.append(file) }
        }
        for path in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                throw RuleLoadError.unreadable(path, "no such file or directory")
            }
            guard isDir.boolValue else { add(path); continue }
            // Enumerate the directory itself, not a link to it (the enumerator would not follow it).
            let root = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            var found: [String] = []
            for case let relative as String in fm.enumerator(atPath: root)?.allObjects ?? [] {
                let name = (relative as NSString).lastPathComponent
                guard name.hasSuffix(".\(fileExtension)"),
                      !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
                var entryIsDir: ObjCBool = false
                guard fm.fileExists(atPath: (root as NSString).appendingPathComponent(relative), isDirectory: &entryIsDir),
                      !entryIsDir.boolValue else { continue }   // a directory named x.fz, or a dangling link
                found.append(relative)
            }
            if found.isEmpty { throw RuleLoadError.noRuleFiles(path) }
            for relative in found.sorted() { add((path as NSString).appendingPathComponent(relative)) }
        }
        return files
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
