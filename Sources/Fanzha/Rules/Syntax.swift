/// The typed syntax tree of rule files. Every node keeps its source range for diagnostics.

package struct Expr: Sendable {
    package indirect enum Kind: Sendable {
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
        case scope(Side, Expr)
        /// `model >= 0.9`: the learned model's probability compared with a threshold (0…1),
        /// kept as written for `fmt`.
        case model(Comparison, Double, text: String)
    }
    package var kind: Kind
    package var range: SourceRange
}

package enum OfSpelling: Sendable { case any, all, of }
package enum DistanceUnit: String, Sendable, Equatable { case characters, turns }
/// The sides of a call: the caller (whoever rings: the suspect) and the callee. A set, because a
/// condition reads a set of them: unscoped, `[]` (every turn, whichever side); under `caller:`,
/// `.caller`; under a scope nested in the other side's (`caller: (callee: …)`), both at once,
/// where nothing can hold. A turn is on exactly one side; a message's one text is the caller's.
public struct Side: OptionSet, Sendable, Hashable, BitwiseCopyable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let caller = Side(rawValue: 1)
    public static let callee = Side(rawValue: 2)

    /// A scope's side as the rules write it: `caller` or `callee`.
    package init?(name: String) {
        switch name {
        case "caller": self = .caller
        case "callee": self = .callee
        default: return nil
        }
    }

    /// The rules' word for one side (a scope's).
    package var name: String { self == .caller ? "caller" : "callee" }
}
package enum Comparison: String, Sendable, CaseIterable {
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
package struct Comments: Sendable {
    package var leading: [String] = []
    package var trailing: String?
}

package struct Located<T: Sendable>: Sendable {
    package var value: T
    package var range: SourceRange
}

package struct LevelsDecl: Sendable {
    package var low: Int, medium: Int, high: Int
    package var range: SourceRange
    package var comments = Comments()
}

package struct Field<T: Sendable>: Sendable {
    package var value: T
    package var range: SourceRange
    package var comments = Comments()
}

package struct CategoryDecl: Sendable {
    package var id: Located<String>
    package var title: Field<String>?
    package var description: Field<String>?
    package var advice: Field<String>?
    package var script: Field<String>?
    package var labels: Field<[Located<String>]>?
    package var range: SourceRange
    package var comments = Comments()
    package var closingComments: [String] = []
    /// A comment after the closing brace, on its line.
    package var closingTrailing: String?
}

package struct TermsDecl: Sendable {
    package var name: Located<String>
    package var terms: [Located<String>]
    package var range: SourceRange
    package var comments = Comments()
}

package enum RuleStatus: String, Sendable { case stable, experimental }

package struct Example: Sendable {
    package var text: String
    package var isCall: Bool
    package var range: SourceRange
    package var comments = Comments()
}

package struct RuleDecl: Sendable {
    package var id: Located<String>
    package var isPrivate: Bool
    /// A `frame` block: where the text is not the scam speaking to its target (RULES.md, Frames).
    package var isFrame = false
    /// Frames: the kind (report, warning, quote, teaching), the sentences `unless` vetoes, and
    /// the share of a message's characters in this kind that makes the whole message one.
    package var kind: Field<Located<String>>?
    package var unless: Field<Expr>?
    package var whole: Field<Int>?
    /// Rules: the kinds of frame whose text this rule still reads (`in report, quote`).
    package var inFrames: Field<[Located<String>]>?
    package var title: Field<String>?
    package var category: Field<Located<String>>?
    package var score: Field<Int>?
    package var status: Field<RuleStatus>?
    package var tags: Field<[Located<String>]>?
    package var allow: Field<[Located<String>]>?
    package var match: Field<Expr>?
    package var hits: [Example] = []
    package var misses: [Example] = []
    /// Fields that were written but did not parse (their error is reported already).
    package var brokenFields: Set<String> = []
    package var range: SourceRange
    package var comments = Comments()
    package var closingComments: [String] = []
    /// A comment after the closing brace, on its line.
    package var closingTrailing: String?
}

package enum Declaration: Sendable {
    case levels(LevelsDecl)
    case category(CategoryDecl)
    case terms(TermsDecl)
    case rule(RuleDecl)
}

package struct RuleFile: Sendable {
    package var file: Int
    package var declarations: [Declaration]
    package var trailingComments: [String] = []
}
