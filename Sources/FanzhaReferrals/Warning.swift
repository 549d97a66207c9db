import Fanzha
import Foundation

/// One warning as the referral store takes it: a verdict at or above the referral level, with
/// the record it came from, the person at risk and the suspected counterparty. A plain value,
/// so a scan, a live call or a service can all make one.
public struct Warning: Sendable, Equatable, Codable {
    /// Identifies the screened record: the same record re-screened at the same (or a lower) tier
    /// adds nothing. A live call and the same call scanned later share it (the call id).
    public var recordKey: String
    public var recordID: String
    /// Where it came from: `file:line`, or `live:call` for a call screened as it happens.
    public var origin: String
    public var tier: Tier
    public var score: Int
    /// The verdict's main category id (`police`, `investment`…), nil when no category scored.
    public var category: String?
    /// The person at risk (the callee's or recipient's number), keyed by `SubjectKey` (a phone
    /// number however written is one key); a record without one is keyed by its record: `record:KEY`.
    public var subject: String
    /// The suspected counterparty: calling number, account, link.
    public var counterparty: String?
    public var isCall: Bool
    /// The text screened, turn by turn (a message is one turn with an empty speaker). A live
    /// alert carries the turns the call had when it rose.
    public var turns: [WarningTurn]
    public var hits: [WarningHit]

    public init(recordKey: String, recordID: String, origin: String, tier: Tier, score: Int, category: String?,
                subject: String?, counterparty: String?, isCall: Bool, turns: [WarningTurn], hits: [WarningHit]) {
        self.recordKey = recordKey
        self.recordID = recordID
        self.origin = origin
        self.tier = tier
        self.score = score
        self.category = category
        let s = subject.map(SubjectKey.key) ?? ""
        self.subject = s.isEmpty ? "record:\(recordKey)" : s
        let c = counterparty?.trimmingCharacters(in: .whitespaces) ?? ""
        self.counterparty = c.isEmpty ? nil : c
        self.isCall = isCall
        self.turns = turns
        self.hits = hits
    }

    /// The warning of a verdict, or nil when its level is none. `subjectField` and
    /// `counterpartyField` name input fields of the record (passed through from JSON or CSV).
    public init?(verdict v: Verdict, record: Record, rules: RuleSet, recordKey: String? = nil,
                 subjectField: String? = nil, counterpartyField: String? = nil) {
        guard let tier = Tier(v.level) else { return nil }
        self.init(recordKey: recordKey ?? record.id, recordID: record.id, origin: record.origin, tier: tier, score: v.score,
                  category: v.category,
                  subject: subjectField.flatMap { record.passthroughString($0) },
                  counterparty: counterpartyField.flatMap { record.passthroughString($0) },
                  isCall: record.isCall,
                  turns: record.turns.map { WarningTurn(speaker: $0.speaker, text: $0.text) },
                  hits: v.hits.map { h in
                      WarningHit(rule: h.rule, title: h.title, score: h.score,
                                 spans: h.spans.map { WarningSpan(turn: $0.turn, start: $0.start, end: $0.end, text: $0.text) })
                  })
    }
}

public struct WarningTurn: Sendable, Equatable, Codable {
    public var speaker: String
    public var text: String
    public init(speaker: String, text: String) { self.speaker = speaker; self.text = text }
}

public struct WarningHit: Sendable, Equatable, Codable {
    public var rule: String
    public var title: String
    public var score: Int
    public var spans: [WarningSpan]
    public init(rule: String, title: String, score: Int, spans: [WarningSpan]) {
        self.rule = rule; self.title = title; self.score = score; self.spans = spans
    }
}

/// Evidence: Unicode scalar offsets into the original text of a turn, end exclusive.
public struct WarningSpan: Sendable, Equatable, Codable {
    public var turn: Int?
    public var start: Int
    public var end: Int
    public var text: String
    public init(turn: Int?, start: Int, end: Int, text: String) {
        self.turn = turn; self.start = start; self.end = end; self.text = text
    }
}
