import FanzhaPCRE

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
package struct Atom: Sendable {
    package enum Kind: Sendable, Equatable { case words, regex }
    package let kind: Kind
    /// What the rule file wrote: the literal, the term list's name, or the regex.
    package let display: String
    /// Normalised words, longest first (empty for a regex).
    package let words: [String]
    /// Ids of `words` in the rule set's word dictionary (the prefilter's automaton).
    package let wordIDs: [Int]
    /// The dictionary words any match of this atom contains: any of its words; for a regex, what
    /// its literals require (`RegexAtoms.requirement`), `.always` when it has none.
    package let requirement: WordRequirement
    /// A regex's PCRE2 matcher, compiled with the rules (its errors are the rule file's).
    /// Empty for words: the prefilter's automaton finds them.
    package let patterns: [Pattern]
    /// For words, the same as PCRE2 sources, for a scanner that runs without the prefilter: one
    /// alternation, longest word first, so PCRE2 and the automaton agree on leftmost-longest
    /// matches (a very long list is split into several). Compiled only when needed
    /// (`Screener.patterns(ofAtom:)`), so loading the rules does not pay for them.
    package let literalSources: [String]
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
    public var name: String { FrameKinds.names.filter { contains($0.1) }.map(\.0).joined(separator: ",") }
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
    package let condition: Condition
    package let requirement: WordRequirement
    package let hits: [CompiledExample]
    package let misses: [CompiledExample]
    package let range: SourceRange
    /// A frame's kind (empty for a rule), the sentences its `unless` vetoes, and the share of a
    /// message (percent) in its kind that makes the whole message that kind.
    package internal(set) var frameKind: FrameKinds = []
    package internal(set) var unless: Condition? = nil
    package internal(set) var whole: Int? = nil
    /// A rule's `in`: the kinds of frame whose text it still reads.
    package internal(set) var reads: FrameKinds = []
    package var isFrame: Bool { !frameKind.isEmpty }
    package func hasTag(_ tag: String) -> Bool { tags.contains(tag) }
}

public final class RuleSet: Sendable {
    public let levels: Levels
    public let categories: [Category]
    /// What verdicts advise and whom they refer to (`ReferralPolicy`).
    public let policy: ReferralPolicy
    package let atoms: [Atom]
    package let rules: [CompiledRule]
    /// Every distinct normalised word of every literal and term list: the prefilter's dictionary.
    package let words: [String]
    /// For each word id, the atoms that contain it.
    package let atomsForWord: [[Int]]
    package let sources: [SourceFile]
    /// For each word id, the ends of an occurrence that must not touch another Latin letter
    /// (1: its start, 2: its end): Latin-letter words match whole words unless written `~"…"`,
    /// and short Latin edges of variant spellings (`VariantDictionary`) likewise.
    package let wordEdges: [UInt8]
    /// The variant dictionary the literals were expanded with.
    package let variants: VariantDictionary
    /// The automaton and program, when the rules came from a compiled rule cache
    /// (`CompiledRuleCache`): `CompiledMatcher` uses them instead of building its own.
    let prebuilt: PrebuiltMatcher?
    /// The model file a `.fzc` file carries (`fanzha compile`), for rules that read one.
    package let embeddedModel: [UInt8]?

    init(levels: Levels, categories: [Category], atoms: [Atom], rules: [CompiledRule], words: [String], sources: [SourceFile],
         wordEdges: [UInt8] = [], variants: VariantDictionary = .empty, prebuilt: PrebuiltMatcher? = nil, embeddedModel: [UInt8]? = nil) {
        self.prebuilt = prebuilt
        self.embeddedModel = embeddedModel
        self.wordEdges = wordEdges.count == words.count ? wordEdges : [UInt8](repeating: 0, count: words.count)
        self.variants = variants
        self.policy = .standard
        self.levels = levels
        self.categories = categories
        self.atoms = atoms
        self.rules = rules
        self.words = words
        var afw = [[Int]](repeating: [], count: words.count)
        for (i, a) in atoms.enumerated() { for w in a.wordIDs { afw[w].append(i) } }
        atomsForWord = afw
        self.sources = sources
    }

    package func category(named id: String) -> Int? { categories.firstIndex { $0.id == id } }
    package func rule(named id: String) -> Int? { rules.firstIndex { $0.id == id } }

    /// The names of the rules (frames and private rules included), in rule order.
    public var ruleNames: [String] { rules.map(\.id) }
}
