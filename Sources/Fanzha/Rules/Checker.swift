import FanzhaText

// The checker's state, the order of its passes (`run`) and how it reports. The passes live in
// Resolution, Lowering, LiteralAtoms, RegexAtoms, Cycles and Requirements.

/// Name resolution, semantic checks and lowering to `Condition`s. Runs over every file at once,
/// since names may be used across files and before they are declared.
struct Checker {
    /// Source bytes of one term-list alternation: well under PCRE2's 64 KiB compiled limit.
    static let maxAlternationBytes = 12_000
    let files: [RuleFile]
    let sources: [SourceFile]
    var diagnostics: [Diagnostic] = []
    let normaliser: Normaliser?
    /// Literals already normalised: term lists are used by many rules, and normalising a literal
    /// costs far more than looking it up.
    var normalisedLiterals: [String: String] = [:]

    var levels: LevelsDecl?
    var categories: [CategoryDecl] = []
    var terms: [String: TermsDecl] = [:]
    var ruleDecls: [RuleDecl] = []
    var ruleIndex: [String: Int] = [:]
    var usedTerms = Set<String>()

    var atoms: [Atom] = []
    var atomKeys: [String: Int] = [:]
    var words: [String] = []
    var wordIDs: [String: Int] = [:]
    /// Per word: which ends must not touch another Latin letter (1 start, 2 end; 0: anywhere):
    /// whole-word Latin literals, and the short Latin edges of variant spellings; false friends
    /// (`RuleSet.falseFriendEdge`).
    var wordEdges: [UInt8] = []
    var variants = VariantDictionary.empty
    /// Set by `checkCycles` when rules refer to each other in a circle or too deep a chain: the
    /// requirements then do not follow references.
    var cyclic = false
    let variantSources: [SourceFile]

    init(files: [RuleFile], sources: [SourceFile], variantSources: [SourceFile] = []) {
        self.files = files
        self.sources = sources + variantSources
        self.variantSources = variantSources
        self.normaliser = try? Normaliser()
    }

    /// Reads the variant dictionaries (merged, in order).
    mutating func loadVariants() {
        var merged: [String: [String]] = [:]
        var falseFriends: [String: String] = [:]
        for (k, source) in variantSources.enumerated() {
            let (dict, ds) = VariantDictionary.parse(source, file: sources.count - variantSources.count + k) { normalisedLiteral($0) }
            diagnostics += ds
            for (w, vs) in dict.entries { merged[w, default: []] += vs.filter { !(merged[w]?.contains($0) ?? false) } }
            falseFriends.merge(dict.falseFriends) { a, _ in a }
        }
        variants = VariantDictionary(entries: merged, falseFriends: falseFriends)
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
        var requirementMemo: [Int: WordRequirement] = [:]
        var result: [CompiledRule] = []
        for (i, c) in compiled.enumerated() {
            guard let c else { continue }
            var visiting = Set<Int>()
            let req = requirement(of: c.condition, compiled: compiled, memo: &requirementMemo, visiting: &visiting)
            if req == .always, !c.isPrivate {
                warn(.noAtom, "rule `\(c.id)` has no word any match must contain, so it runs on every text",
                     ruleDecls[i].match?.range ?? c.range, in: ruleDecls[i],
                     help: "add a literal the rule needs (e.g. `\"转账\" and …`), or `allow no-atom`")
            }
            var rule = CompiledRule(id: c.id, title: c.title, category: c.category, score: c.score, status: c.status, tags: c.tags,
                                    isPrivate: c.isPrivate, condition: c.condition, requirement: req, hits: c.hits, misses: c.misses, range: c.range)
            rule.frameKind = c.frameKind; rule.unless = c.unless; rule.whole = c.whole; rule.reads = c.reads
            result.append(rule)
        }
        guard result.count == ruleDecls.count else { return nil }
        // False friends join the prefilter's dictionary under no atom: their hits only take back the
        // variant hit at their start (`Screener.append`). Sorted, so word ids do not depend on
        // the dictionary's order.
        for l in variants.falseFriends.keys.sorted() {
            _ = wordID(l, edges: RuleSet.falseFriendEdge | (Literal.latinEdges(l) & 1))
        }
        return RuleSet(levels: levelValues, categories: categoryList, atoms: atoms, rules: result, words: words, sources: sources,
                       wordEdges: wordEdges, variants: variants)
    }

    mutating func error(_ id: DiagnosticID, _ message: String, _ range: SourceRange, help: String? = nil) {
        diagnostics.append(Diagnostic(id, message, at: range, help: help))
    }

    func location(_ r: SourceRange) -> String {
        let (l, c) = sources[r.file].lineColumn(r.start)
        return "\(sources[r.file].path):\(l):\(c)"
    }

    mutating func warn(_ id: DiagnosticID, _ message: String, _ range: SourceRange, in rule: RuleDecl?, help: String? = nil) {
        // `allow no_atom` and `allow no-atom` mean the same.
        if let rule, rule.allow?.value.contains(where: { $0.value.replacingOccurrences(of: "_", with: "-") == id.rawValue }) == true { return }
        diagnostics.append(Diagnostic(id, message, at: range, help: help))
    }
}
