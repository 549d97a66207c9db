import Foundation
import FanzhaPCRE
import FanzhaText

/// The outcome of compiling a rule set: the rules, or nothing; and every diagnostic either way.
public struct CompileResult: Sendable {
    public let ruleSet: RuleSet?
    public let diagnostics: [Diagnostic]
    /// The files read, in the order `SourceRange.file` counts them.
    public let sources: [SourceFile]
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

    /// Reads, parses, checks and compiles rule files into one rule set. A directory's
    /// `variants.txt` (`VariantDictionary`) is read too: its variant spellings join every literal.
    public static func compile(paths: [String]) throws -> CompileResult {
        var sources: [(String, Data)] = []
        for f in try ruleFiles(at: paths) {
            guard let data = FileManager.default.contents(atPath: f) else { throw RuleLoadError.unreadable(f, "permission denied or not a file") }
            sources.append((f, data))
        }
        var variants: [(path: String, data: Data)] = []
        for path in paths {
            var isDir: ObjCBool = false
            let file = (path as NSString).appendingPathComponent(VariantDictionary.fileName)
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
               let data = FileManager.default.contents(atPath: file) {
                variants.append((file, data))
            }
        }
        return compile(files: sources, variants: variants)
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

    /// The `invalid-utf8` error for a file that is not UTF-8, at the first damaged place.
    static func invalidUTF8(_ data: Data, file index: Int) -> Diagnostic? {
        guard let bad = firstInvalidUTF8(data) else { return nil }
        // Locate the damage in the decoded text: the number of scalars before the bad byte.
        let offset = String(decoding: data.prefix(bad), as: UTF8.self).unicodeScalars.count
        return Diagnostic(.invalidUTF8, "the file is not valid UTF-8 (byte \(bad))",
                          at: SourceRange(file: index, start: offset, end: offset + 1), help: "save the file as UTF-8")
    }

    static func sortDiagnostics(_ ds: [Diagnostic], _ sources: [SourceFile]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        return ds.filter { seen.insert($0).inserted }
            .sorted { ($0.range.file, $0.range.start) < ($1.range.file, $1.range.start) }
    }

    static func firstInvalidUTF8(_ data: Data) -> Int? {
        let bytes = [UInt8](data)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n: Int
            switch b {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: n = 1
            case 0xE0...0xEF: n = 2
            case 0xF0...0xF4: n = 3
            default: return i
            }
            guard i + n < bytes.count + 0, i + n <= bytes.count - 0 else { return i }
            for k in 1...n where i + k >= bytes.count || bytes[i + k] & 0xC0 != 0x80 { return i }
            // Overlong and surrogate forms.
            if b == 0xE0 && bytes[i + 1] < 0xA0 { return i }
            if b == 0xED && bytes[i + 1] > 0x9F { return i }
            if b == 0xF0 && bytes[i + 1] < 0x90 { return i }
            if b == 0xF4 && bytes[i + 1] > 0x8F { return i }
            i += n + 1
        }
        return nil
    }
}

/// Name resolution, semantic checks and lowering to `Condition`s. Runs over every file at once,
/// since names may be used across files and before they are declared.
struct Checker {
    /// Source bytes of one term-list alternation: well under PCRE2's 64 KiB compiled limit.
    static let maxAlternationBytes = 12_000
    let files: [RuleFile]
    let sources: [SourceFile]
    var diagnostics: [Diagnostic] = []
    private let normaliser: Normaliser?
    /// Literals already normalised: term lists are used by many rules, and normalising a literal
    /// costs far more than looking it up.
    private var normalisedLiterals: [String: String] = [:]

    private var levels: LevelsDecl?
    private var categories: [CategoryDecl] = []
    private var terms: [String: TermsDecl] = [:]
    private var ruleDecls: [RuleDecl] = []
    private var ruleIndex: [String: Int] = [:]
    private var usedTerms = Set<String>()

    private var atoms: [Atom] = []
    private var atomKeys: [String: Int] = [:]
    private var words: [String] = []
    private var wordIDs: [String: Int] = [:]
    /// Per word: which ends must not touch another Latin letter (1 start, 2 end; 0: anywhere):
    /// whole-word Latin literals, and the short Latin edges of variant spellings.
    private var wordEdges: [UInt8] = []
    private var variants = VariantDictionary.empty
    private let variantSources: [SourceFile]

    init(files: [RuleFile], sources: [SourceFile], variantSources: [SourceFile] = []) {
        self.files = files
        self.sources = sources + variantSources
        self.variantSources = variantSources
        self.normaliser = try? Normaliser()
    }

    /// Reads the variant dictionaries (merged, in order).
    private mutating func loadVariants() {
        var merged: [String: [String]] = [:]
        for (k, source) in variantSources.enumerated() {
            let (dict, ds) = VariantDictionary.parse(source, file: sources.count - variantSources.count + k) { normalisedLiteral($0) }
            diagnostics += ds
            for (w, vs) in dict.entries { merged[w, default: []] += vs.filter { !(merged[w]?.contains($0) ?? false) } }
        }
        variants = VariantDictionary(entries: merged)
    }

    private mutating func error(_ id: DiagnosticID, _ message: String, _ range: SourceRange, help: String? = nil) {
        diagnostics.append(Diagnostic(id, message, at: range, help: help))
    }

    mutating func run() -> RuleSet? {
        loadVariants()
        collect()
        // Categories.
        var categoryList: [Category] = []
        for c in categories {
            for (name, field) in [("title", c.title), ("advice", c.advice), ("script", c.script)] where field == nil {
                error(.missingField, "category `\(c.id.value)` has no `\(name)`", c.id.range,
                      help: name == "script" ? "add the words the 96110 caller should say: script \"…\"" : "add \(name) \"…\"")
            }
            categoryList.append(Category(id: c.id.value, title: c.title?.value ?? c.id.value, description: c.description?.value ?? "",
                                         advice: c.advice?.value ?? "", script: c.script?.value ?? "",
                                         labels: c.labels?.value.map(\.value) ?? []))
        }
        var levelValues = Levels.defaults
        if let l = levels {
            if !(l.low > 0 && l.low < l.medium && l.medium < l.high) {
                error(.invalidLevels, "levels must rise: 0 < low < medium < high (got \(l.low), \(l.medium), \(l.high))", l.range)
            }
            levelValues = Levels(low: l.low, medium: l.medium, high: l.high)
        }
        // Term lists become atoms up front, so unused ones are still checked.
        for name in terms.keys.sorted() { _ = termsAtom(name) }
        // Rules.
        var compiled: [CompiledRule?] = Array(repeating: nil, count: ruleDecls.count)
        for (i, r) in ruleDecls.enumerated() { compiled[i] = compileRule(r) }
        checkCycles()
        for name in terms.keys.sorted() where !usedTerms.contains(name) {
            warn(.unusedTerms, "term list `\(name)` is not used by any rule", terms[name]!.name.range, in: nil)
        }
        // Prefilter requirements, with rule references inlined.
        var requirementMemo: [Int: AtomRequirement] = [:]
        var result: [CompiledRule] = []
        for (i, c) in compiled.enumerated() {
            guard let c else { continue }
            var visiting = Set<Int>()
            let req = requirement(of: c.condition, compiled: compiled, memo: &requirementMemo, visiting: &visiting)
            if req == .always, !c.isPrivate {
                warn(.noAtom, "rule `\(c.id)` has no literal word any match must contain, so it runs on every text",
                     ruleDecls[i].match?.range ?? c.range, in: ruleDecls[i],
                     help: "add a literal the rule needs (e.g. `\"转账\" and …`), or `allow no-atom`")
            }
            var rule = CompiledRule(id: c.id, title: c.title, category: c.category, score: c.score, status: c.status, tags: c.tags,
                                    isPrivate: c.isPrivate, condition: c.condition, requirement: req, hits: c.hits, misses: c.misses, range: c.range)
            rule.frameKind = c.frameKind; rule.unless = c.unless; rule.whole = c.whole; rule.reads = c.reads
            result.append(rule)
        }
        guard result.count == ruleDecls.count else { return nil }
        return RuleSet(levels: levelValues, categories: categoryList, atoms: atoms, rules: result, words: words, sources: sources,
                       wordEdges: wordEdges, variants: variants)
    }

    private mutating func collect() {
        var seenTop: [String: SourceRange] = [:]
        var seenCategories: [String: SourceRange] = [:]
        for f in files {
            for d in f.declarations {
                switch d {
                case .levels(let l):
                    if levels != nil { error(.invalidLevels, "`levels` is given more than once in this rule set", l.range) }
                    levels = l
                case .category(let c):
                    if let prev = seenCategories[c.id.value] {
                        error(.duplicateId, "category `\(c.id.value)` is declared twice", c.id.range, help: "first declared at \(location(prev))")
                    } else {
                        seenCategories[c.id.value] = c.id.range
                        categories.append(c)
                    }
                case .terms(let t):
                    if let prev = seenTop[t.name.value] {
                        error(.duplicateId, "`\(t.name.value)` is declared twice", t.name.range, help: "first declared at \(location(prev))")
                    } else {
                        seenTop[t.name.value] = t.name.range
                        terms[t.name.value] = t
                    }
                case .rule(let r):
                    if let prev = seenTop[r.id.value] {
                        error(.duplicateId, "`\(r.id.value)` is declared twice", r.id.range, help: "first declared at \(location(prev))")
                    } else {
                        seenTop[r.id.value] = r.id.range
                        ruleIndex[r.id.value] = ruleDecls.count
                        ruleDecls.append(r)
                    }
                }
            }
        }
    }

    private func location(_ r: SourceRange) -> String {
        let (l, c) = sources[r.file].lineColumn(r.start)
        return "\(sources[r.file].path):\(l):\(c)"
    }

    private mutating func warn(_ id: DiagnosticID, _ message: String, _ range: SourceRange, in rule: RuleDecl?, help: String? = nil) {
        // `allow no_atom` and `allow no-atom` mean the same.
        if let rule, rule.allow?.value.contains(where: { $0.value.replacingOccurrences(of: "_", with: "-") == id.rawValue }) == true { return }
        diagnostics.append(Diagnostic(id, message, at: range, help: help))
    }

    private struct Partial {
        let id: String, title: String, category: Int?, score: Int, status: RuleStatus, tags: [String], isPrivate: Bool
        let condition: Condition, hits: [CompiledExample], misses: [CompiledExample], range: SourceRange
    }

    private mutating func compileRule(_ r: RuleDecl) -> CompiledRule? {
        var ok = true
        if r.title == nil, !r.brokenFields.contains("title") { error(.missingField, "rule `\(r.id.value)` has no `title`", r.id.range, help: "add title \"…\""); ok = false }
        var categoryIndex: Int?
        if let c = r.category {
            categoryIndex = categories.firstIndex { $0.id.value == c.value.value }
            if categoryIndex == nil {
                let help = suggestion(for: c.value.value, among: categories.map(\.id.value)).map { "did you mean `\($0)`?" }
                error(.unknownCategory, "no category named `\(c.value.value)`", c.value.range, help: help)
                ok = false
            }
        }
        if r.isPrivate, let s = r.score {
            error(.privateWithScore, "a private rule scores nothing; remove `score`", s.range); ok = false
        }
        if r.isPrivate, let c = r.category {
            error(.privateWithCategory, "a private rule has no category; remove `category`", c.range); ok = false
        }
        for a in r.allow?.value ?? [] where DiagnosticID(rawValue: a.value.replacingOccurrences(of: "_", with: "-"))?.severity != .warning {
            let help = suggestion(for: a.value, among: DiagnosticID.allCases.filter { $0.severity == .warning }.map(\.rawValue)).map { "did you mean `\($0)`?" }
            warn(.unknownAllow, "`\(a.value)` is not a warning id", a.range, in: nil, help: help)
        }
        if !r.isPrivate || r.isFrame, r.hits.isEmpty || r.misses.isEmpty {
            warn(.noExamples, "\(r.isFrame ? "frame" : "rule") `\(r.id.value)` has no \(r.hits.isEmpty ? "`hit`" : "`miss`") example", r.id.range, in: r,
                 help: "examples are the \(r.isFrame ? "frame" : "rule")'s tests and its documentation")
        }
        // Frames: a kind, an optional veto and whole-message share; rules: the frames they read.
        var frameKind: FrameKinds = [], reads: FrameKinds = []
        if r.isFrame {
            if let k = r.kind {
                if let kind = FrameKinds(name: k.value.value) { frameKind = kind } else {
                    error(.unknownFrameKind, "no frame kind named `\(k.value.value)`", k.value.range,
                          help: "a frame kind is one of: \(FrameKinds.names.map(\.0).joined(separator: ", "))")
                    ok = false
                }
            } else if !r.brokenFields.contains("kind") {
                error(.missingField, "frame `\(r.id.value)` has no `kind`", r.id.range, help: "add kind report (or warning, quote, teaching)")
                ok = false
            }
            if let w = r.whole, !(1...100).contains(w.value) {
                error(.invalidWhole, "`whole` is a percentage of the message: 1 to 100 (got \(w.value))", w.range); ok = false
            }
        }
        for k in r.inFrames?.value ?? [] {
            if let kind = FrameKinds(name: k.value) { reads.insert(kind) } else {
                error(.unknownFrameKind, "no frame kind named `\(k.value)`", k.range,
                      help: "a frame kind is one of: \(FrameKinds.names.map(\.0).joined(separator: ", "))")
                ok = false
            }
        }
        var unless: Condition?
        if let u = r.unless {
            unless = lower(u.value, rule: r)
            if unless == nil { ok = false }
        }
        for ex in r.hits + r.misses where ex.isCall {
            if case .failure(let failure) = CallTranscript.parse(ex.text) {
                error(.badExample, "call example \(failure)", ex.range); ok = false
            }
        }
        guard let match = r.match else {
            if !r.brokenFields.contains("match") {
                error(.missingField, "rule `\(r.id.value)` has no `match`", r.id.range, help: "add match \"…\"")
            }
            return nil
        }
        guard let condition = lower(match.value, rule: r), ok else { return nil }
        let examples = { (xs: [Example]) in xs.map { CompiledExample(text: $0.text, isCall: $0.isCall, range: $0.range) } }
        var rule = CompiledRule(id: r.id.value, title: r.title?.value ?? r.id.value, category: categoryIndex, score: r.isPrivate ? 0 : (r.score?.value ?? 1),
                                status: r.status?.value ?? .stable, tags: r.tags?.value.map(\.value) ?? [], isPrivate: r.isPrivate,
                                condition: condition, requirement: .always, hits: examples(r.hits), misses: examples(r.misses), range: r.range)
        rule.frameKind = frameKind; rule.unless = unless; rule.whole = r.whole?.value; rule.reads = reads
        return rule
    }

    // MARK: lowering

    private mutating func lower(_ e: Expr, rule: RuleDecl) -> Condition? {
        switch e.kind {
        case .literal(let text):
            guard let atom = literalAtom([Located(value: text, range: e.range)], display: Literal.split(text).text, rule: rule) else { return nil }
            return .atom(atom)
        case .exact(let text):
            guard let atom = literalAtom([Located(value: text, range: e.range)], display: "exact(\(text))", rule: rule, exact: true) else { return nil }
            return .atom(atom)
        case .regex(let pattern, let flags):
            guard let atom = regexAtom(pattern, flags: flags, range: e.range) else { return nil }
            return .atom(atom)
        case .name(let name):
            if terms[name] != nil {
                usedTerms.insert(name)
                guard let atom = termsAtom(name) else { return nil }
                return .atom(atom)
            }
            if let r = ruleIndex[name] { return .rule(r) }
            let candidates = Array(terms.keys) + Array(ruleIndex.keys)
            let help = suggestion(for: name, among: candidates.sorted()).map { "did you mean `\($0)`?" }
                ?? (categories.contains { $0.id.value == name } ? "`\(name)` is a category; a rule's category is set with `category \(name)`" : nil)
            error(.unknownName, "no terms or rule named `\(name)`", e.range, help: help)
            return nil
        case .and(let xs):
            let cs = xs.map { lower($0, rule: rule) }
            return cs.contains { $0 == nil } ? nil : .and(cs.map { $0! })
        case .or(let xs):
            let cs = xs.map { lower($0, rule: rule) }
            return cs.contains { $0 == nil } ? nil : .or(cs.map { $0! })
        case .not(let x):
            return lower(x, rule: rule).map { .not($0) }
        case .atLeast(let n, let xs, let spelling):
            if spelling == .of, n < 1 || n > xs.count {
                error(.ofTooLarge, "`\(n) of` needs between 1 and \(xs.count) (the list has \(xs.count) item\(xs.count == 1 ? "" : "s"))", e.range,
                      help: n > xs.count ? "add items or lower N" : nil)
            }
            let cs = xs.map { lower($0, rule: rule) }
            guard !cs.contains(where: { $0 == nil }) else { return nil }
            // "N different ones": an item written twice counts once.
            var distinct: [Condition] = []
            for (k, c) in cs.enumerated() {
                if distinct.contains(c!) {
                    warn(.duplicateTerm, "this item is the same as an earlier one in the list (after normalisation); it counts once", xs[k].range, in: rule)
                } else {
                    distinct.append(c!)
                }
            }
            return .atLeast(n, distinct)
        case .near(let a, let b, let distance, let unit):
            // Lower both sides even when one fails, so every problem is reported.
            let x = lower(a, rule: rule), y = lower(b, rule: rule)
            guard let x, let y else { return nil }
            return .near(x, y, distance: distance, unit: unit)
        case .then(let a, let b, let gap):
            let x = lower(a, rule: rule), y = lower(b, rule: rule)
            guard let x, let y else { return nil }
            return .then(x, y, maxGap: gap)
        case .count(let x, let cmp, let n):
            return lower(x, rule: rule).map { .count($0, cmp, n) }
        case .scope(let speaker, let x):
            return lower(x, rule: rule).map { .scope(speaker, $0) }
        case .model(let cmp, let threshold, _):
            return .model(cmp, threshold)
        }
    }

    private mutating func termsAtom(_ name: String) -> Int? {
        if let i = atomKeys["terms:" + name] { return i }
        guard let t = terms[name] else { return nil }
        return literalAtom(t.terms, display: name, rule: nil, key: "terms:" + name)
    }

    /// A dictionary word's id. `edges` (see `Literal.latinEdges`) are the ends that must not touch
    /// another Latin letter: a whole-word `app` is a different entry from a substring `app` (and
    /// from a regex's required `app`, which must be found wherever the regex could match).
    private mutating func wordID(_ w: String, edges: UInt8 = 0) -> Int {
        let key = edges == 0 ? w : "\u{1}\(edges)" + w
        if let id = wordIDs[key] { return id }
        wordIDs[key] = words.count
        words.append(w)
        wordEdges.append(edges)
        return words.count - 1
    }

    private mutating func normalisedLiteral(_ s: String) -> String {
        if let n = normalisedLiterals[s] { return n }
        let n = normaliser?.normaliseLiteral(s) ?? s
        normalisedLiterals[s] = n
        return n
    }

    private mutating func literalAtom(_ items: [Located<String>], display: String, rule: RuleDecl?, key: String? = nil, exact: Bool = false) -> Int? {
        var normalised: [String] = []
        var edges: [String: UInt8] = [:]   // per word: the ends that must be word boundaries
        var seen = Set<String>()
        var ok = true
        for item in items {
            let (value, substring) = Literal.split(item.value)
            let n = normalisedLiteral(value)
            if n.isEmpty {
                error(.emptyLiteral, "`\"\(value)\"` is empty after normalisation, so it would match everywhere", item.range,
                      help: "separators and invisible characters are removed before matching")
                ok = false
                continue
            }
            if n.unicodeScalars.count == 1 {
                warn(.shortLiteral, "`\"\(value)\"` is one character: it matches too much to be evidence", item.range, in: rule)
            }
            let latin = Literal.latinEdges(n)
            if substring && latin == 0 {
                warn(.needlessSubstring, "`~\"\(value)\"`: `~` only changes words that begin or end with a Latin letter", item.range, in: rule,
                     help: "write \"\(value)\"")
            }
            if !seen.insert(n).inserted {
                warn(.duplicateTerm, "`\"\(value)\"` is already in this list\(n != value ? " (as `\(n)` after normalisation)" : "")", item.range, in: rule)
                continue
            }
            normalised.append(n)
            edges[n] = substring ? 0 : latin
        }
        guard ok else { return nil }
        // The atom's identity: its own words and their edges (the variants follow from them).
        let k = key ?? ((exact ? "exact:" : "lit:") + normalised.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { edges[$0] == 0 ? $0 : "\u{2}\(edges[$0]!)" + $0 }.joined(separator: "\u{1}"))
        if let i = atomKeys[k] { return i }
        // Variant spellings (`VariantDictionary`) join the words, unless the rule asked for `exact("…")`.
        var boundary: [String: UInt8] = [:]
        if !exact && !variants.isEmpty {
            for n in normalised {
                for (v, b) in variants.expand(n) where !seen.contains(v) || boundary[v] != nil {
                    if seen.insert(v).inserted { normalised.append(v) }
                    boundary[v, default: 0] |= b
                }
            }
        }
        // Longest first: PCRE2 takes the first alternative that matches, so this is leftmost-longest.
        normalised.sort { $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0.utf8.lexicographicallyPrecedes($1.utf8) }
        // PCRE2 caps a compiled pattern at 64 KiB, so a long list becomes several alternations
        // (each longest first); the scanner merges their matches back to leftmost-longest.
        // Exact, not caseless: normalisation already folds ASCII case, and the prefilter's automaton
        // matches bytes exactly; a caseless literal would match more (Greek, Cyrillic) without it.
        var sources: [String] = []
        var chunk: [String] = [], chunkBytes = 0
        // A whole Latin word, or a variant that needs word boundaries: no Latin letter just before or
        // after it, as lookarounds (as the scanner filters the automaton's hits).
        func source(_ w: String) -> String {
            let b = (edges[w] ?? 0) | (boundary[w] ?? 0)
            return (b & 1 != 0 ? "(?<![a-z])" : "") + pcre2Escape(w) + (b & 2 != 0 ? "(?![a-z])" : "")
        }
        func flushChunk() {
            guard !chunk.isEmpty else { return }
            sources.append(chunk.count == 1 ? source(chunk[0]) : "(?:" + chunk.map(source).joined(separator: "|") + ")")
            chunk = []; chunkBytes = 0
        }
        for w in normalised {
            if chunkBytes + w.utf8.count > Checker.maxAlternationBytes { flushChunk() }
            chunk.append(w)
            chunkBytes += w.utf8.count + 1
        }
        flushChunk()
        let ids = normalised.map { wordID($0, edges: (edges[$0] ?? 0) | (boundary[$0] ?? 0)) }
        atoms.append(Atom(kind: .words, display: display, words: normalised, wordIDs: ids, requirement: .anyOf(ids.map { .word($0) }),
                          patterns: [], literalSources: sources))
        atomKeys[k] = atoms.count - 1
        return atoms.count - 1
    }

    private mutating func regexAtom(_ source: String, flags: String, range: SourceRange) -> Int? {
        var options: Pattern.Options = [.caseless]
        for f in flags.unicodeScalars {
            switch f {
            case "i": break
            case "s": options.insert(.dotAll)
            case "x": options.insert(.extended)
            case "m": options.insert(.multiline)
            default:
                error(.invalidRegex, "unknown regex flag `\(f)`", range, help: "the flags are s (dot matches newline), x (extended), m (multiline)")
                return nil
            }
        }
        let k = "re:\(flags):\(source)"
        if let i = atomKeys[k] { return i }
        let pattern: Pattern
        do {
            pattern = try Pattern(source, options: options)
        } catch {
            // Point into the rule file: past the opening slash, at PCRE2's offset. The lexer turned
            // each `\/` (two characters in the file) into `/`, so step over the file's escapes.
            let file = sources[range.file].scalars
            var at = range.start + 1, inPattern = 0
            while inPattern < error.scalarOffset, at < range.end - 1 {
                if file[at] == "\\", at + 1 < range.end {
                    if file[at + 1] == "/" { at += 2; inPattern += 1; continue }
                    if inPattern + 2 <= error.scalarOffset { at += 2; inPattern += 2; continue }
                }
                at += 1; inPattern += 1
            }
            at = min(at, max(range.start, range.end - 1))
            self.error(.invalidRegex, "invalid regex: \(error.message)", SourceRange(file: range.file, start: at, end: at + 1))
            return nil
        }
        let scratch = MatchScratch(matchLimit: 10_000)
        // Matching the empty text is not enough: an anchored pattern (`^$`, `^.{0,3}$`) matches only
        // some texts. It always matches when it also matches texts it has no reason to match.
        func matches(_ probe: String) -> Bool {
            Array(probe.utf8).withUnsafeBufferPointer { (try? pattern.firstMatch(in: $0, using: scratch)) != nil }
        }
        if (try? pattern.firstMatch(in: UnsafeBufferPointer(start: nil, count: 0), using: scratch)) != nil,
           matches("\u{E000}"), matches("zq9 \u{E000}\n\u{E001}!") {
            error(.alwaysMatches, "this regex matches the empty string, so it matches every text", range,
                  help: "an empty alternative (`a||b`) or a pattern that may match nothing (`.*`, `x?`) is the usual cause")
            return nil
        }
        // The words every match needs, from the regex's literals, added to the prefilter's
        // dictionary. A literal is used only when normalising leaves it as it is (up to ASCII
        // case, the regex being caseless): the regex runs on normalised text, so a literal it
        // matches there is exactly a word the automaton finds there. (A literal that
        // normalisation would change, such as 帐户 or 回覆, is not certain to be found.)
        var requirement = AtomRequirement.always
        if normaliser != nil {
            requirement = RegexAtoms.requirement(source, extended: options.contains(.extended)).map(
                { lit -> AtomRequirement? in
                    let n = normalisedLiteral(lit)
                    guard n == lit.lowercased(), n.unicodeScalars.count >= 2 else { return nil }
                    return .word(wordID(n))
                },
                all: { AtomRequirement.allOf($0) }, any: { AtomRequirement.anyOf($0) }, always: .always)
        }
        atoms.append(Atom(kind: .regex, display: "/\(source)/\(flags)", words: [], wordIDs: [], requirement: requirement,
                          patterns: [pattern], literalSources: []))
        atomKeys[k] = atoms.count - 1
        return atoms.count - 1
    }

    // MARK: cycles and requirements

    /// How long a chain of rule references may be: evaluating a rule follows its references
    /// recursively, so an unbounded chain could exhaust the stack.
    static let maxReferenceDepth = 64

    private mutating func checkCycles() {
        // Depth-first over rule references (an explicit stack: chains may be long); one report per
        // cycle, and one per chain deeper than `maxReferenceDepth`.
        func refs(_ e: Expr, _ out: inout [(Int, SourceRange)]) {
            switch e.kind {
            case .name(let n): if let i = ruleIndex[n] { out.append((i, e.range)) }
            case .and(let xs), .or(let xs), .atLeast(_, let xs, _): for x in xs { refs(x, &out) }
            case .not(let x), .count(let x, _, _), .scope(_, let x): refs(x, &out)
            case .near(let a, let b, _, _), .then(let a, let b, _): refs(a, &out); refs(b, &out)
            case .literal, .exact, .regex, .model: break
            }
        }
        let references: [[(Int, SourceRange)]] = ruleDecls.map { d in
            var out: [(Int, SourceRange)] = []
            if let m = d.match { refs(m.value, &out) }
            return out
        }
        var state = [Int](repeating: 0, count: ruleDecls.count)  // 0 new, 1 on the path, 2 done
        var depth = [Int](repeating: 0, count: ruleDecls.count)  // the longest chain of references below
        var found: [(Int, SourceRange, [Int])] = []
        for root in ruleDecls.indices where state[root] == 0 {
            var path: [(rule: Int, next: Int)] = [(root, 0)]
            state[root] = 1
            while let top = path.last {
                let i = top.rule
                guard top.next < references[i].count else {
                    state[i] = 2
                    depth[i] = references[i].map { state[$0.0] == 2 ? depth[$0.0] + 1 : 0 }.max() ?? 0
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let (j, range) = references[i][top.next]
                if state[j] == 1 {
                    found.append((i, range, Array(path.map(\.rule).drop { $0 != j })))
                } else if state[j] == 0 {
                    state[j] = 1
                    path.append((j, 0))
                }
            }
        }
        for (_, range, cycle) in found {
            let names = (cycle + [cycle[0]]).map { "`\(ruleDecls[$0].id.value)`" }.joined(separator: " → ")
            error(.cycle, "rules refer to each other in a circle: \(names)", range, help: "a rule cannot depend on itself")
        }
        // A chain too deep is reported at its top: a deep rule that no other deep rule refers to.
        let limit = Checker.maxReferenceDepth
        var belowDeep = Set<Int>()
        for i in ruleDecls.indices where depth[i] > limit { for (j, _) in references[i] { belowDeep.insert(j) } }
        var tooDeep = false
        for i in ruleDecls.indices where depth[i] > limit && !belowDeep.contains(i) {
            tooDeep = true
            error(.tooDeep, "rule `\(ruleDecls[i].id.value)` depends on a chain of \(depth[i]) rule references (at most \(limit))",
                  ruleDecls[i].match?.range ?? ruleDecls[i].id.range, help: "refer to fewer rules in a row: combine steps into one rule")
        }
        if !found.isEmpty || tooDeep { cyclic = true }
    }
    private var cyclic = false

    private func requirement(of c: Condition, compiled: [CompiledRule?], memo: inout [Int: AtomRequirement], visiting: inout Set<Int>) -> AtomRequirement {
        switch c {
        case .atom(let a):
            return atoms[a].requirement
        case .rule(let r):
            if let m = memo[r] { return m }
            guard !cyclic, !visiting.contains(r), let rule = compiled[r] else { return .always }
            visiting.insert(r)
            let req = requirement(of: rule.condition, compiled: compiled, memo: &memo, visiting: &visiting)
            visiting.remove(r)
            memo[r] = req
            return req
        case .and(let xs):
            return AtomRequirement.allOf(xs.map { requirement(of: $0, compiled: compiled, memo: &memo, visiting: &visiting) })
        case .or(let xs):
            return AtomRequirement.anyOf(xs.map { requirement(of: $0, compiled: compiled, memo: &memo, visiting: &visiting) })
        case .not:
            return .always
        case .atLeast(let n, let xs):
            let reqs = xs.map { requirement(of: $0, compiled: compiled, memo: &memo, visiting: &visiting) }
            return n >= xs.count ? AtomRequirement.allOf(reqs) : n >= 1 ? AtomRequirement.anyOf(reqs) : .always
        case .near(let a, let b, _, _), .then(let a, let b, _):
            return AtomRequirement.allOf([requirement(of: a, compiled: compiled, memo: &memo, visiting: &visiting),
                                requirement(of: b, compiled: compiled, memo: &memo, visiting: &visiting)])
        case .count(let x, let cmp, let n):
            // Only a count that needs at least one occurrence needs the words.
            let needsOne = (cmp == .atLeast && n >= 1) || (cmp == .more && n >= 0) || (cmp == .exactly && n >= 1)
            return needsOne ? requirement(of: x, compiled: compiled, memo: &memo, visiting: &visiting) : .always
        case .scope(_, let x):
            return requirement(of: x, compiled: compiled, memo: &memo, visiting: &visiting)
        case .model:
            return .always
        }
    }
}
