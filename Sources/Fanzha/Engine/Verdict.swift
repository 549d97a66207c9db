/// What the engine says about one record.

public struct EvidenceSpan: Sendable, Equatable {
    /// Turn index in a call; nil for a message.
    public let turn: Int?
    /// Unicode scalar offsets into the ORIGINAL text (of that turn), end exclusive.
    public let start: Int
    public let end: Int
    public let text: String
    public init(turn: Int?, start: Int, end: Int, text: String) { self.turn = turn; self.start = start; self.end = end; self.text = text }
}

/// A frame found in a record (RULES.md, Frames): a sentence, or a whole message, that is not the
/// scam speaking to its target. Offsets as `EvidenceSpan`'s.
public struct Frame: Sendable, Equatable {
    public let kind: FrameKinds
    /// The frame declaration (index into the rule set's rules) that found it.
    public let rule: Int
    public let turn: Int?
    public let start: Int
    public let end: Int
}

public struct RuleHit: Sendable {
    public let rule: Int
    public let spans: [EvidenceSpan]
    public init(rule: Int, spans: [EvidenceSpan]) { self.rule = rule; self.spans = spans }
}

/// The 96110 referral for a level: who acts, how, and what to say.
public struct Referral: Sendable, Equatable {
    public let tier: Level
    public let action: String
    public let hotline: String
    public let script: String

    public static func forLevel(_ level: Level, script: String) -> Referral? {
        switch level {
        case .none: return nil
        case .high:
            return Referral(tier: .high, action: "96110立即电话劝阻，并通知属地派出所上门见面劝阻；如已转账，立即拨打110申请紧急止付、冻结",
                            hotline: "96110", script: script)
        case .medium:
            return Referral(tier: .medium, action: "96110电话劝阻（预警签收→电话劝阻→研判→必要时上门）", hotline: "96110", script: script)
        case .low:
            return Referral(tier: .low, action: "12381预警短信提示，并向本人发送防骗提醒", hotline: "12381", script: script)
        }
    }
}

public struct Verdict: Sendable {
    public let id: String
    public let level: Level
    public let score: Int
    /// Category index with the highest score, if any category scored above zero.
    public let category: Int?
    /// Categories that scored above zero, highest first: (category index, score).
    public let categories: [(category: Int, score: Int)]
    public let hits: [RuleHit]
    public let errors: [String]
    /// For calls: the first turn (0-based) after which the call's level was at least medium.
    public let firstWarningTurn: Int?
    /// For calls: the first turn (0-based) after which a rule tagged `money_request` had fired.
    public let firstMoneyRequestTurn: Int?
    public let advice: String?
    public let referral: Referral?
    /// The frames found, in text order; empty when the rule set declares none or none applied.
    public internal(set) var frames: [Frame] = []
}

/// A verdict's decision without its evidence: enough to count, filter or watch a call's level.
public struct Decision: Sendable {
    public let level: Level
    /// A rule tagged `money_request` fired.
    public let moneyRequest: Bool
    /// Rules that hit a PCRE2 limit on this record (as in `Verdict.errors`).
    public let errors: [String]
}
