import Foundation

// The rule compiler's entry points and the order of its passes: discovery (Discovery.swift),
// parsing each file on every core (Lexer, Parser), then the checker over all files at once
// (Checker.swift: resolution, lowering, literal and regex atoms, cycles, requirements). Every
// problem is a `Diagnostic` (Diagnostic.swift); a rule set is made only when there is no error.

/// The outcome of compiling a rule set: the rules, or nothing; and every diagnostic either way.
public struct CompileResult: Sendable {
    public let ruleSet: RuleSet?
    public let diagnostics: [Diagnostic]
    private let readSources: [SourceFile]?
    /// The files read, in the order `SourceRange.file` counts them (for a rule set from a compiled
    /// rule set, its sources, decoded only if asked for: loading without diagnostics never does).
    public var sources: [SourceFile] { readSources ?? ruleSet?.sources ?? [] }

    init(ruleSet: RuleSet?, diagnostics: [Diagnostic], sources: [SourceFile]) {
        self.ruleSet = ruleSet
        self.diagnostics = diagnostics
        readSources = sources
    }

    /// A rule set read from a compiled rule set: no diagnostics.
    init(loaded set: RuleSet) {
        ruleSet = set
        diagnostics = []
        readSources = nil
    }
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}

public enum RuleLoadError: Error, CustomStringConvertible {
    case unreadable(String, String)
    case noRuleFiles(String)
    public var description: String {
        switch self {
        case .unreadable(let p, let why): return "\(p): cannot read: \(why)"
        case .noRuleFiles(let p): return "\(p): no .fz rule files found"
        }
    }
}

public enum RuleCompiler {
    package static let fileExtension = "fz"

    /// Reads, parses, checks and compiles rule files into one rule set. A directory's
    /// `variants.txt` (`VariantDictionary`) is read too: its variant spellings join every literal.
    public static func compile(paths: [String]) throws -> CompileResult {
        let inputs = try sourceFiles(paths: paths)
        return compile(files: inputs.rules, variants: inputs.variants)
    }

    /// Compiles rule text given in memory (path names are only used in diagnostics), with the
    /// variant dictionaries `variants` (the text of `variants.txt` files; none by default).
    public static func compile(files: [(path: String, data: Data)], variants: [(path: String, data: Data)] = []) -> CompileResult {
        // Files parse independently, so on every core; the checker then sees them in order.
        let perFile = UnsafeMutableBufferPointer<(SourceFile, RuleFile, [Diagnostic])?>.allocate(capacity: files.count)
        perFile.initialize(repeating: nil)
        defer {
            _ = perFile.deinitialize()
            perFile.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            perFile[index] = parse(index: index, path: files[index].path, data: files[index].data)
        }
        var diagnostics: [Diagnostic] = []
        var sources: [SourceFile] = []
        var parsed: [RuleFile] = []
        for case let (source, file, fileDiagnostics)? in perFile {
            sources.append(source)
            parsed.append(file)
            diagnostics += fileDiagnostics
        }
        // Variant dictionaries are sources too (after the rule files), for their diagnostics.
        var variantSources: [SourceFile] = []
        for v in variants {
            if let d = invalidUTF8(v.data, file: sources.count + variantSources.count) { diagnostics.append(d) }
            variantSources.append(SourceFile(path: v.path, text: String(decoding: v.data, as: UTF8.self)))
        }
        var checker = Checker(files: parsed, sources: sources, variantSources: variantSources)
        sources += variantSources
        let ruleSet = checker.run()
        diagnostics += checker.diagnostics
        let errors = diagnostics.contains { $0.severity == .error }
        return CompileResult(ruleSet: errors ? nil : ruleSet, diagnostics: sortDiagnostics(diagnostics, sources), sources: sources)
    }

    /// One file: its source, syntax tree, and the encoding, lexer and parser diagnostics.
    private static func parse(index: Int, path: String, data: Data) -> (SourceFile, RuleFile, [Diagnostic]) {
        let source = SourceFile(path: path, text: String(decoding: data, as: UTF8.self))
        var diagnostics: [Diagnostic] = []
        if let d = invalidUTF8(data, file: index) { diagnostics.append(d) }
        var parser = Parser(file: index, source: source)
        let file = parser.parseFile()
        return (source, file, diagnostics + parser.diagnostics)
    }

    /// Each diagnostic once, in file order and then by place.
    private static func sortDiagnostics(_ ds: [Diagnostic], _ sources: [SourceFile]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        return ds.filter { seen.insert($0).inserted }
            .sorted { ($0.range.file, $0.range.start) < ($1.range.file, $1.range.start) }
    }
}
