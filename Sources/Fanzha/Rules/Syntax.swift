/// The typed syntax tree of rule files. Every node keeps its source range for diagnostics.

public struct Expr: Sendable {
    public indirect enum Kind: Sendable {
        case literal(String)
        /// `exact("…")`: the literal without its variant spellings (`rules/variants.txt`).
        case exact(String)
        case regex(pattern: String, flags: String)
        case name(String)
        case and([Expr])
        case or([Expr])
        case not(Expr)
        /// `any(…)` is `1 of`, `all(…)` is `count of`; the spelling is kept for `fmt`.
        case atLeast(Int, [Expr], spelling: OfSpelling)
        case near(Expr, Expr, distance: Int, unit: DistanceUnit)
        case then(Expr, Expr, maxGap: Int?)
        case count(Expr, Comparison, Int)
        case scope(Speaker, Expr)
        /// `model >= 0.9`: the learned model's probability compared with a threshold (0…1),
        /// kept as written for `fmt`.
        case model(Comparison, Double, text: String)
    }
    public var kind: Kind
    public var range: SourceRange
}

public enum OfSpelling: Sendable { case any, all, of }
public enum DistanceUnit: String, Sendable, Equatable { case characters, turns }
public enum Speaker: String, Sendable { case caller, callee }
public enum Comparison: String, Sendable, CaseIterable {
    case atLeast = ">=", more = ">", exactly = "==", atMost = "<=", less = "<"
    func holds(_ n: Int, _ bound: Int) -> Bool {
        switch self {
        case .atLeast: return n >= bound
        case .more: return n > bound
        case .exactly: return n == bound
        case .atMost: return n <= bound
        case .less: return n < bound
        }
    }
}

/// Comments attached to a declaration or field, kept so that `fmt` never loses them.
public struct Comments: Sendable {
    public var leading: [String] = []
    public var trailing: String?
}

public struct Located<T: Sendable>: Sendable {
    public var value: T
    public var range: SourceRange
}

public struct LevelsDecl: Sendable {
    public var low: Int, medium: Int, high: Int
    public var range: SourceRange
    public var comments = Comments()
}

public struct Field<T: Sendable>: Sendable {
    public var value: T
    public var range: SourceRange
    public var comments = Comments()
}

public struct CategoryDecl: Sendable {
    public var id: Located<String>
    public var title: Field<String>?
    public var description: Field<String>?
    public var advice: Field<String>?
    public var script: Field<String>?
    public var labels: Field<[Located<String>]>?
    public var range: SourceRange
    public var comments = Comments()
    public var closingComments: [String] = []
    /// A comment after the closing brace, on its line.
    public var closingTrailing: String?
}

public struct TermsDecl: Sendable {
    public var name: Located<String>
    public var terms: [Located<String>]
    public var range: SourceRange
    public var comments = Comments()
}

public enum RuleStatus: String, Sendable { case stable, experimental }

public struct Example: Sendable {
    public var text: String
    public var isCall: Bool
    public var range: SourceRange
    public var comments = Comments()
}

public struct RuleDecl: Sendable {
    public var id: Located<String>
    public var isPrivate: Bool
    /// A `frame` block: where the text is not the scam speaking to its target (RULES.md, Frames).
    public var isFrame = false
    /// Frames: the kind (report, warning, quote, teaching), the sentences `unless` vetoes, and
    /// the share of a message's characters in this kind that makes the whole message one.
    public var kind: Field<Located<String>>?
    public var unless: Field<Expr>?
    public var whole: Field<Int>?
    /// Rules: the kinds of frame whose text this rule still reads (`in report, quote`).
    public var inFrames: Field<[Located<String>]>?
    public var title: Field<String>?
    public var category: Field<Located<String>>?
    public var score: Field<Int>?
    public var status: Field<RuleStatus>?
    public var tags: Field<[Located<String>]>?
    public var allow: Field<[Located<String>]>?
    public var match: Field<Expr>?
    public var hits: [Example] = []
    public var misses: [Example] = []
    /// Fields that were written but did not parse (their error is reported already).
    public var brokenFields: Set<String> = []
    public var range: SourceRange
    public var comments = Comments()
    public var closingComments: [String] = []
    /// A comment after the closing brace, on its line.
    public var closingTrailing: String?
}

public enum Declaration: Sendable {
    case levels(LevelsDecl)
    case category(CategoryDecl)
    case terms(TermsDecl)
    case rule(RuleDecl)
}

public struct RuleFile: Sendable {
    public var file: Int
    public var declarations: [Declaration]
    public var trailingComments: [String] = []
}
