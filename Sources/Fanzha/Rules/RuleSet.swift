import FanzhaPCRE
import Foundation

/// What the compiler hands the engine: immutable, shared read-only by every worker.

public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case none = 0, low, medium, high
    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    public var description: String {
        switch self {
        case .none: return "none"
        case .low: return "low"
        case .medium: return "medium"
        case .high: return "high"
        }
    }
    public init?(name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "low", "低": self = .low
        case "medium", "中": self = .medium
        case "high", "高": self = .high
        default: return nil
        }
    }
}

public struct Levels: Sendable, Equatable {
    public var low = 3, medium = 6, high = 10
    public static let defaults = Levels()
    public func level(for score: Int) -> Level {
        score >= high ? .high : score >= medium ? .medium : score >= low ? .low : .none
    }
}

public struct Category: Sendable {
    public let id: String
    public let title: String
    public let description: String
    public let advice: String
    public let script: String
    public let labels: [String]
}

/// One matcher: a literal, a term list (both: a set of normalised words) or a regex.
///
/// What scanning needs (the kind, the regexes) is held here; the rest (`AtomDetail`) is either in
/// hand or, for a rule set read from a compiled rule cache, decoded from it on first use
/// (`LazyRuleDetails`): a one-message scan never reads it.
package struct Atom: Sendable {
    package enum Kind: Sendable, Equatable { case words, regex }
    package let kind: Kind
    /// A regex's PCRE2 matchers (none for words: the prefilter's automaton finds them).
    package let regexes: AtomPatterns
    private let detail: Held<AtomDetail>

    package init(kind: Kind, display: String, words: [String], wordIDs: [Int], requirement: WordRequirement,
                 patterns: [Pattern], literalSources: [String]) {
        precondition(kind == .words || literalSources.isEmpty, "a regex atom has no literal sources")
        self.kind = kind
        regexes = patterns.isEmpty ? .none : AtomPatterns(compiled: patterns)
        detail = .value(AtomDetail(display: display, words: words, wordIDs: wordIDs, requirement: requirement, literalSources: literalSources))
    }

    init(kind: Kind, regexes: AtomPatterns, details: LazyRuleDetails, index: Int) {
        self.kind = kind
        self.regexes = regexes
        detail = .lazy(details, index)
    }

    private var details: AtomDetail { detail.resolved(in: \.atoms) }

    /// What the rule file wrote: the literal, the term list's name, or the regex.
    package var display: String { details.display }
    /// Normalised words, longest first (empty for a regex).
    package var words: [String] { details.words }
    /// Ids of `words` in the rule set's word dictionary (the prefilter's automaton).
    package var wordIDs: [Int] { details.wordIDs }
    /// The dictionary words any match of this atom contains: any of its words; for a regex, what
    /// its literals require (`RegexAtoms.requirement`), `.always` when it has none.
    package var requirement: WordRequirement { details.requirement }
    /// A regex's PCRE2 matchers (`regexes`): compiled with the rules when they come from rule
    /// files (its errors are the rule file's), else on first use.
    package var patterns: [Pattern] { get throws(PatternCompileError) { try regexes.patterns() } }
    /// For words, the same as PCRE2 sources, for a scanner that runs without the prefilter: one
    /// alternation, longest word first, so PCRE2 and the automaton agree on leftmost-longest
    /// matches (a very long list is split into several). Compiled only when needed
    /// (`Screener.patterns(ofAtom:)`), so loading the rules does not pay for them. Always empty
    /// for a regex (answered without the details: a scan asks for every regex it runs).
    package var literalSources: [String] { kind == .regex ? [] : details.literalSources }
}

/// The parts of an atom that scanning does not read (see `Atom`).
struct AtomDetail: Sendable {
    let display: String
    let words: [String]
    let wordIDs: [Int]
    let requirement: WordRequirement
    let literalSources: [String]
}

/// A regex atom's PCRE2 matchers. From rule files they are compiled with the rules (the checker
/// reports their errors); from a compiled rule set, each atom's are made (and JIT-compiled) the
/// first time a scan needs them, once, by whichever thread asks first: a one-message scan makes
/// only the regexes of the rules its prefilter selects, instead of all of them at start-up. A
/// compiled rule set holds PCRE2's compiled code of each atom's regexes (`SerializedPatterns`),
/// so they are decoded rather than compiled (only the JIT's code is made again).
/// They search only normalised text, which is valid UTF-8 (`Pattern`'s `validSubjects`).
package final class AtomPatterns: @unchecked Sendable {
    /// The regexes' sources and options, compiled or not.
    package let specs: [(source: String, options: Pattern.Options)]
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var compiled: Result<[Pattern], PatternCompileError>?

    /// No regexes (a word list's atom).
    package static let none = AtomPatterns(compiled: [])

    /// From a compiled rule set: PCRE2's code of `specs`, if it holds code this PCRE2 can decode.
    let code: SerializedPatterns?
    /// From a compiled rule set: the regex's literal gate, for a regex that gets one (LiteralGate.swift).
    let storedGate: StoredGate?
    /// From a compiled rule set: the regex's start anchors and anchored twin, for a regex searched
    /// from its anchors (StartAnchors.swift).
    let storedAnchors: StoredAnchors?

    init(compiled patterns: [Pattern]) {
        specs = patterns.map { ($0.source, $0.options) }
        compiled = .success(patterns)
        code = nil
        storedGate = nil
        storedAnchors = nil
    }

    init(specs: [(source: String, options: Pattern.Options)], code: SerializedPatterns?, storedGate: StoredGate?, storedAnchors: StoredAnchors?) {
        self.specs = specs
        compiled = specs.isEmpty ? .success([]) : nil
        self.code = code
        self.storedGate = storedGate
        self.storedAnchors = storedAnchors
    }

    /// PCRE2's compiled code of the regexes, as a compiled rule set stores it: the bytes it was
    /// loaded with (when they pass their checksum), else the patterns serialised (nil when they
    /// do not compile).
    var serializedCode: [UInt8]? {
        if let code, SerializedPatterns.checksum(code.bytes) == code.checksum { return Array(code.bytes) }
        return (try? patterns()).flatMap(Pattern.serialized)
    }

    /// Whether `patterns()` has compiled them (or they came compiled).
    package var isCompiled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return compiled != nil
    }

    /// The compiled matchers; a regex that does not compile (only possible when the PCRE2 library
    /// changed since the rule set was compiled) is an error every time it is asked for.
    package func patterns() throws(PatternCompileError) -> [Pattern] {
        lock.lock()
        defer { lock.unlock() }
        if let compiled { return try compiled.get() }
        var patterns: [Pattern] = []
        let result: Result<[Pattern], PatternCompileError>
        if let decoded = code?.patterns(of: specs) {
            compiled = .success(decoded)
            return decoded
        }
        do throws(PatternCompileError) {
            for (source, options) in specs { patterns.append(try Pattern(source, options: options, validSubjects: true)) }
            result = .success(patterns)
        } catch {
            result = .failure(error)
        }
        compiled = result
        return try result.get()
    }
}

/// A regex atom's PCRE2 code in a compiled rule set (`Pattern.serialized`), read in place from
/// the mapped file (`storage` keeps it mapped), with the checksum it was written with. PCRE2
/// decodes code without bounds or sanity checks of its body, and a stamped cache file is not
/// checksummed again at load, so the bytes are checked here before PCRE2 reads them; bytes that
/// fail, or that PCRE2 refuses, are not used: the sources are compiled instead.
struct SerializedPatterns: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    let checksum: UInt64
    let storage: AnyObject

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = ContentHash()
        h.add(bytes)
        return h.value
    }

    /// The patterns of `specs`, decoded and JIT-compiled; nil when the code cannot be used.
    func patterns(of specs: [(source: String, options: Pattern.Options)]) -> [Pattern]? {
        guard SerializedPatterns.checksum(bytes) == checksum else { return nil }
        return withExtendedLifetime(storage) { Pattern.deserialized(bytes, specs: specs, validSubjects: true) }
    }
}

/// A regex's literal gate as a compiled rule set stores it: none (its literals say nothing), or
/// its layout (`Screener.LiteralGate.Layout`, stored form) in place in the mapped file that
/// `storage` keeps mapped, checked when first read.
enum StoredGate: @unchecked Sendable {
    case noGate
    case layout(UnsafeRawBufferPointer, storage: AnyObject)
}

/// A regex's start anchors as a compiled rule set stores them: none (its syntax gives none that
/// pays), or the anchors (`StartAnchors`, stored form) and PCRE2's code of its anchored twin (nil
/// when this PCRE2 cannot use it), in place in the mapped file that `storage` keeps mapped.
/// Reading the regex's syntax for them and compiling the twin at first use cost a scan about
/// 600 instructions a record on the bench slice (33 twins, 186 regexes read).
enum StoredAnchors: @unchecked Sendable {
    case noAnchors
    case stored(UnsafeRawBufferPointer, twin: SerializedPatterns?, storage: AnyObject)
}

/// A part of a rule set that is either in hand or in a compiled rule set's details, decoded on
/// first use (`LazyRuleDetails`), at the given index.
enum Held<Value: Sendable>: Sendable {
    case value(Value)
    case lazy(LazyRuleDetails, Int)

    /// The value in hand, or entry `i` of the decoded details' `list` (decoding them if not yet).
    func resolved(in list: KeyPath<LazyRuleDetails.Decoded, [Value]>) -> Value {
        switch self {
        case .value(let v): return v
        case .lazy(let store, let i): return store.decoded[keyPath: list][i]
        }
    }
}

/// A compiled match expression; atoms and rules are referred to by index.
package indirect enum Condition: Sendable, Equatable {
    case atom(Int)
    case rule(Int)
    case and([Condition])
    case or([Condition])
    case not(Condition)
    case atLeast(Int, [Condition])
    case near(Condition, Condition, distance: Int, unit: DistanceUnit)
    case then(Condition, Condition, maxGap: Int?)
    case count(Condition, Comparison, Int)
    case scope(Side, Condition)
    /// The learned model's probability against a threshold (false when no model is loaded).
    case model(Comparison, Double)
}

/// Which dictionary words any match of a rule must contain: the prefilter evaluates this on the
/// set of words one Aho–Corasick pass found, and runs the rule only when it holds.
package indirect enum WordRequirement: Sendable, Equatable {
    case always
    case word(Int)
    case all([WordRequirement])
    case any([WordRequirement])

    static func allOf(_ xs: [WordRequirement]) -> WordRequirement {
        let kept = xs.filter { $0 != .always }
        return kept.isEmpty ? .always : kept.count == 1 ? kept[0] : .all(kept)
    }

    static func anyOf(_ xs: [WordRequirement]) -> WordRequirement {
        if xs.isEmpty || xs.contains(.always) { return .always }
        return xs.count == 1 ? xs[0] : .any(xs)
    }

    package func holds(_ present: (Int) -> Bool) -> Bool {
        switch self {
        case .always: return true
        case .word(let w): return present(w)
        case .all(let xs): return xs.allSatisfy { $0.holds(present) }
        case .any(let xs): return xs.contains { $0.holds(present) }
        }
    }
}

/// Kinds of frame: parts of a text that are not the scam speaking to its target (RULES.md, Frames).
public struct FrameKinds: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Narration of a case: a victim, a suspect, the police, a reporter telling what happened.
    public static let report = FrameKinds(rawValue: 1)
    /// Warnings and advice: 警方提醒, 谨防, 凡是…都是诈骗, 切勿.
    public static let warning = FrameKinds(rawValue: 2)
    /// A scammer's words quoted inside narration.
    public static let quote = FrameKinds(rawValue: 4)
    /// Teaching material: 识别要点, 案例分析, 防骗知识.
    public static let teaching = FrameKinds(rawValue: 8)
    public static let all: FrameKinds = [.report, .warning, .quote, .teaching]
    public static let names: [(String, FrameKinds)] = [("report", .report), ("warning", .warning), ("quote", .quote), ("teaching", .teaching)]
    public init?(name: String) {
        guard let k = FrameKinds.names.first(where: { $0.0 == name })?.1 else { return nil }
        self = k
    }
    /// The name of a single kind ("report"), or the names joined by commas.
    public var name: String {
        // One kind (every frame a verdict reports): its name, with no array filtered and joined.
        if let one = FrameKinds.names.first(where: { $0.1 == self }) { return one.0 }
        return FrameKinds.names.filter { contains($0.1) }.map(\.0).joined(separator: ",")
    }
}

package struct CompiledExample: Sendable {
    package let text: String
    package let isCall: Bool
    package let range: SourceRange
}

package struct CompiledRule: Sendable {
    package let id: String
    package let title: String
    package let category: Int?
    package let score: Int
    package let status: RuleStatus
    package let tags: [String]
    package let isPrivate: Bool
    package let range: SourceRange
    /// A frame's kind (empty for a rule), the sentences its `unless` vetoes, and the share of a
    /// message (percent) in its kind that makes the whole message that kind.
    package internal(set) var frameKind: FrameKinds = []
    package internal(set) var whole: Int? = nil
    /// A rule's `in`: the kinds of frame whose text it still reads.
    package internal(set) var reads: FrameKinds = []
    /// The condition, prefilter requirement, `unless` and examples: what the evaluation program
    /// was made from, read again only by the tools (`fanzha test`, building a program). From a
    /// compiled rule set they are decoded on first use (`LazyRuleDetails`).
    private var detail: Held<RuleDetail>

    package init(id: String, title: String, category: Int?, score: Int, status: RuleStatus, tags: [String], isPrivate: Bool,
                 condition: Condition, requirement: WordRequirement, hits: [CompiledExample], misses: [CompiledExample], range: SourceRange) {
        self.id = id; self.title = title; self.category = category; self.score = score; self.status = status; self.tags = tags
        self.isPrivate = isPrivate; self.range = range
        detail = .value(RuleDetail(condition: condition, requirement: requirement, hits: hits, misses: misses, unless: nil))
    }

    init(id: String, title: String, category: Int?, score: Int, status: RuleStatus, tags: [String], isPrivate: Bool,
         range: SourceRange, details: LazyRuleDetails, index: Int) {
        self.id = id; self.title = title; self.category = category; self.score = score; self.status = status; self.tags = tags
        self.isPrivate = isPrivate; self.range = range
        detail = .lazy(details, index)
    }

    private var details: RuleDetail { detail.resolved(in: \.rules) }

    package var condition: Condition { details.condition }
    package var requirement: WordRequirement { details.requirement }
    package var hits: [CompiledExample] { details.hits }
    package var misses: [CompiledExample] { details.misses }
    package internal(set) var unless: Condition? {
        get { details.unless }
        set {
            var d = details
            d.unless = newValue
            detail = .value(d)
        }
    }
    package var isFrame: Bool { !frameKind.isEmpty }
    package func hasTag(_ tag: String) -> Bool { tags.contains(tag) }
}

/// The parts of a rule that scanning does not read (see `CompiledRule`).
struct RuleDetail: Sendable {
    let condition: Condition
    let requirement: WordRequirement
    let hits: [CompiledExample]
    let misses: [CompiledExample]
    var unless: Condition?
}

public final class RuleSet: Sendable {
    public let levels: Levels
    public let categories: [Category]
    /// What verdicts advise and whom they refer to (`ReferralPolicy`).
    public let policy: ReferralPolicy
    package let atoms: [Atom]
    package let rules: [CompiledRule]
    /// How many words the prefilter's dictionary has (`words`).
    package let wordCount: Int
    /// For each word id, the ends of an occurrence that must not touch another Latin letter
    /// (1: its start, 2: its end): Latin-letter words match whole words unless written `~"…"`,
    /// and short Latin edges of variant spellings (`VariantDictionary`) likewise. A word with
    /// `falseFriendEdge` is a false friend, not evidence: `Screener.append` takes back its prefixes.
    package let wordEdges: [UInt8]
    /// `wordEdges`' bit for a false friend (`VariantDictionary.falseFriends`): a hit of it takes
    /// back the hits that start where it starts and end before it ends.
    package static let falseFriendEdge: UInt8 = 4
    /// The automaton and program, when the rules came from a compiled rule cache
    /// (`CompiledRuleCache`): `CompiledMatcher` uses them instead of building its own.
    let prebuilt: PrebuiltMatcher?
    /// The model file a `.fzc` file carries (`fanzha compile`), for rules that read one.
    package let embeddedModel: [UInt8]?
    /// Whether a rule reads the model, as a compiled rule set recorded it (nil: ask the conditions).
    let recordedModelUse: Bool?
    /// The rule files and the variant dictionary, in hand or in a compiled rule set's details.
    private let held: Held<(words: [String], sources: [SourceFile], variants: VariantDictionary)>

    init(levels: Levels, categories: [Category], atoms: [Atom], rules: [CompiledRule], words: [String], sources: [SourceFile],
         wordEdges: [UInt8] = [], variants: VariantDictionary = .empty, prebuilt: PrebuiltMatcher? = nil, embeddedModel: [UInt8]? = nil) {
        self.prebuilt = prebuilt
        self.embeddedModel = embeddedModel
        self.wordEdges = wordEdges.count == words.count ? wordEdges : [UInt8](repeating: 0, count: words.count)
        held = .value((words, sources, variants))
        recordedModelUse = nil
        self.policy = .standard
        self.levels = levels
        self.categories = categories
        self.atoms = atoms
        self.rules = rules
        wordCount = words.count
    }

    /// A rule set read from a compiled rule set: its sources, variants and the atoms' and rules'
    /// details are decoded from `details` when first asked for.
    init(levels: Levels, categories: [Category], atoms: [Atom], rules: [CompiledRule], wordEdges: [UInt8],
         details: LazyRuleDetails, usesModel: Bool, prebuilt: PrebuiltMatcher, embeddedModel: [UInt8]?) {
        self.prebuilt = prebuilt
        self.embeddedModel = embeddedModel
        self.wordEdges = wordEdges
        wordCount = wordEdges.count
        held = .lazy(details, 0)
        recordedModelUse = usesModel
        self.policy = .standard
        self.levels = levels
        self.categories = categories
        self.atoms = atoms
        self.rules = rules
    }

    /// Every distinct normalised word of every literal and term list: the prefilter's dictionary
    /// (from a compiled rule set, decoded when first asked for: a scan needs only `wordCount`).
    package var words: [String] {
        switch held {
        case .value(let v): return v.words
        case .lazy(let store, _): return store.decoded.words
        }
    }

    /// The rule files the rules came from, in the order `SourceRange.file` counts them.
    package var sources: [SourceFile] {
        switch held {
        case .value(let v): return v.sources
        case .lazy(let store, _): return store.decoded.sources
        }
    }

    /// The variant dictionary the literals were expanded with.
    package var variants: VariantDictionary {
        switch held {
        case .value(let v): return v.variants
        case .lazy(let store, _): return store.decoded.variants
        }
    }

    /// For each word id, the atoms that contain it (for building the evaluation program).
    package var atomsForWord: [[Int]] {
        var afw = [[Int]](repeating: [], count: wordCount)
        for (i, a) in atoms.enumerated() { for w in a.wordIDs { afw[w].append(i) } }
        return afw
    }

    package func category(named id: String) -> Int? { categories.firstIndex { $0.id == id } }
    package func rule(named id: String) -> Int? { rules.firstIndex { $0.id == id } }

    /// The names of the rules (frames and private rules included), in rule order.
    public var ruleNames: [String] { rules.map(\.id) }
}
