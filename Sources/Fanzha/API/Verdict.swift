/// What the engine says about one record. Hits, frames and the category carry their names, so a
/// program holding a verdict needs nothing else to read it.

public struct EvidenceSpan: Sendable, Equatable {
    /// Turn index in a call; nil for a message.
    public let turn: Int?
    /// Unicode scalar offsets into the ORIGINAL text (of that turn), end exclusive.
    public let start: Int
    public let end: Int
    public let text: String

    public init(turn: Int?, start: Int, end: Int, text: String) {
        self.turn = turn; self.start = start; self.end = end; self.text = text
    }
}

/// A frame found in a record (RULES.md, Frames): a sentence, or a whole message, that is not the
/// scam speaking to its target. Offsets as `EvidenceSpan`'s.
public struct Frame: Sendable, Equatable {
    public let kind: FrameKinds
    /// The name of the frame declaration that found it (`report.case`).
    public let frame: String
    /// Its index in the rule set's rules.
    package let ruleIndex: Int
    public let turn: Int?
    public let start: Int
    public let end: Int
}

/// A rule that fired on a record, and its evidence.
public struct RuleHit: Sendable {
    /// The rule's name (`police.safe_account`), title, score and tags, as the rule file gives them.
    public var rule: String { identity.rule }
    public var title: String { identity.title }
    public var score: Int { identity.score }
    public var tags: [String] { identity.tags }
    /// Where the evidence is, in the original text, merged and in order.
    public var spans: [EvidenceSpan] {
        switch evidence {
        case .given(let spans): return spans
        case .found(let table, let places): return places.map(table.span)
        }
    }
    /// The rule's index in the rule set (for tables kept per rule: evaluation, printing).
    package let ruleIndex: Int
    /// The rule's name, title, score and tags: one object per rule, shared by its hits.
    package let identity: RuleIdentity
    /// The spans: places in the verdict's evidence table as the engine found them (no array or
    /// string per hit: the JSON printer copies their text from the table), or given as spans.
    package let evidence: HitEvidence

    package init(ruleIndex: Int, rule: String = "", title: String = "", score: Int = 0, tags: [String] = [], spans: [EvidenceSpan]) {
        self.init(ruleIndex: ruleIndex, identity: RuleIdentity(rule: rule, title: title, score: score, tags: tags), evidence: .given(spans))
    }

    package init(ruleIndex: Int, identity: RuleIdentity, evidence: HitEvidence) {
        self.ruleIndex = ruleIndex; self.identity = identity; self.evidence = evidence
    }

    /// The same hit with other evidence (turns renumbered, text redacted).
    package func with(spans: [EvidenceSpan]) -> RuleHit {
        RuleHit(ruleIndex: ruleIndex, identity: identity, evidence: .given(spans))
    }
}

/// A rule's name, title, score and tags as its hits carry them. A screener makes one per rule, at
/// its first hit, and every hit of the rule shares it: a hit retains and releases one object, not
/// two strings and an array (the rule set's own fields, copied into every hit).
package final class RuleIdentity: Sendable {
    let rule: String
    let title: String
    let score: Int
    let tags: [String]

    init(rule: String, title: String, score: Int, tags: [String]) {
        self.rule = rule; self.title = title; self.score = score; self.tags = tags
    }
}

package enum HitEvidence: Sendable {
    case given([EvidenceSpan])
    case found(EvidenceTable, Range<Int>)
}

/// The evidence of one record's hits as the engine found it: every span in one table, its text
/// copied once from the record's original bytes. A verdict has one (made at its first hit), not an
/// array and a string per hit and span; `RuleHit.spans` makes those when a reader asks.
/// Written only while its record is evaluated, on that thread; read-only once the verdict is made
/// (its screener writes it again for a later record only when no verdict holds it any more).
package final class EvidenceTable: @unchecked Sendable {
    package struct Place: BitwiseCopyable {
        /// The turn (a call's; 0 in a message) and its scalars `start ..< end` in the original text.
        package var turn: Int32, start: Int32, end: Int32
        /// The span's text: `bytes[from ..< to]`.
        package var from: Int32, to: Int32
    }
    /// Whether the record is a call: its spans name their turn.
    @exclusivity(unchecked) package private(set) var isCall: Bool
    // Unchecked: written by one evaluation, then only read (a class's stored properties are
    // otherwise checked for exclusive access at every read and append). In arenas, the table's
    // own plain memory: arrays here were retained and released at every read (twice for each
    // hit printed) and checked for uniqueness at every append.
    @exclusivity(unchecked) private var places = Arena<Place>()
    @exclusivity(unchecked) private var bytes = Arena<UInt8>()

    init(isCall: Bool) { self.isCall = isCall }

    deinit {
        places.deallocate()
        bytes.deallocate()
    }

    /// How many places the table holds.
    package var count: Int { places.count }

    /// Empty again, for another record's evidence; its memory kept.
    func reset(isCall: Bool) {
        self.isCall = isCall
        places.removeAll()
        bytes.removeAll()
    }

    func append(turn: Int, start: Int, end: Int, text: UnsafeBufferPointer<UInt8>) {
        let from = bytes.count
        bytes.append(contentsOf: text)
        places.append(Place(turn: Int32(turn), start: Int32(start), end: Int32(end), from: Int32(from), to: Int32(bytes.count)))
    }

    package func place(_ k: Int) -> Place {
        precondition(k >= 0 && k < places.count, "evidence place out of range")
        return places[k]
    }

    /// A place's text, in the table's memory: valid while the table is alive and not reset (a
    /// verdict holding the table keeps it from both).
    package func text(of p: Place) -> UnsafeBufferPointer<UInt8> {
        p.to > p.from ? UnsafeBufferPointer(start: bytes.address(Int(p.from)), count: Int(p.to &- p.from)) : UnsafeBufferPointer(start: nil, count: 0)
    }

    package func span(_ k: Int) -> EvidenceSpan {
        let p = place(k)
        return EvidenceSpan(turn: isCall ? Int(p.turn) : nil, start: Int(p.start), end: Int(p.end), text: String(decoding: text(of: p), as: UTF8.self))
    }
}

/// The 96110 referral for a level: who acts, how, and what to say (`ReferralPolicy`).
public struct Referral: Sendable, Equatable {
    public let tier: Level
    public let action: String
    public let hotline: String
    public let script: String

    public init(tier: Level, action: String, hotline: String, script: String) {
        self.tier = tier; self.action = action; self.hotline = hotline; self.script = script
    }
}

public struct Verdict: Sendable {
    /// The record's id.
    public let id: String
    public let level: Level
    public let score: Int
    /// The name of the category with the highest score, if the level is above none and some
    /// category scored above zero.
    public var category: String? { categoryIndex.map { outcome.categoryNames[$0] } }
    /// Categories that scored above zero, highest first.
    public var categories: [(category: String, score: Int)] { ranked.map { (outcome.categoryNames[$0.category], $0.score) } }
    /// The rules that fired, in rule order.
    public let hits: [RuleHit]
    /// Rules that hit a PCRE2 limit on this record; the rest of the verdict still stands.
    public let errors: [String]
    /// For calls: the first turn (0-based) after which the call's level was at least medium.
    public let firstWarningTurn: Int?
    /// For calls: the first turn (0-based) after which a rule tagged `money_request` had fired.
    public let firstMoneyRequestTurn: Int?
    /// What to tell the person (`ReferralPolicy`); nil at level none.
    public var advice: String? { outcome.advice }
    public var referral: Referral? { outcome.referral }
    /// The frames found, in text order; empty when the rule set declares none or none applied.
    public internal(set) var frames: [Frame] = []
    /// The main category's index in the rule set.
    package let categoryIndex: Int?
    /// `categories` as indexes in the rule set: a verdict makes no array of names, and the
    /// names are not retained and released again with every verdict.
    package let ranked: [(category: Int, score: Int)]
    /// The advice and referral of the verdict's level and main category, and the rule set's
    /// category names: one object shared by every verdict of that outcome (`Screener.outcomes`),
    /// not four strings retained and released per verdict.
    package let outcome: Screener.Outcome
}

/// A verdict's decision without its evidence: enough to count, filter or watch a call's level.
public struct Decision: Sendable {
    public let level: Level
    /// A rule tagged `money_request` fired.
    public let moneyRequest: Bool
    /// Rules that hit a PCRE2 limit on this record (as in `Verdict.errors`).
    public let errors: [String]
}
