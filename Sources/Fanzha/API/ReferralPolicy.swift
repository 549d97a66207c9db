/// What a verdict tells people to do: the advice for the person, and the 96110 referral (who
/// acts, how, what to say) for each level. The one place this wording lives: a category's own
/// advice and script come from its rule file; the rest, and the tiers, from here.
public struct ReferralPolicy: Sendable, Equatable {
    /// The action and hotline of one tier.
    public struct Tier: Sendable, Equatable {
        public var action: String
        public var hotline: String
        public init(action: String, hotline: String) { self.action = action; self.hotline = hotline }
    }

    /// Advice for a record with no category of its own (only generic rules fired).
    public var genericAdvice: String
    /// The 96110 caller's script for such a record.
    public var genericScript: String
    public var low: Tier
    public var medium: Tier
    public var high: Tier

    public init(genericAdvice: String, genericScript: String, low: Tier, medium: Tier, high: Tier) {
        self.genericAdvice = genericAdvice; self.genericScript = genericScript
        self.low = low; self.medium = medium; self.high = high
    }

    /// The 96110 practice: high → call and an in-person visit, medium → a dissuasion call, low →
    /// a 12381 warning SMS.
    public static let standard = ReferralPolicy(
        genericAdvice: "这条信息有诈骗特征。不要转账汇款，不要透露验证码、银行卡号和身份证号；拿不准时拨打96110咨询，或直接拨打110。",
        genericScript: "您好，这里是96110反诈中心。您刚接触的信息有诈骗特征，请不要转账、不要透露验证码，有疑问可随时拨打96110。",
        low: Tier(action: "12381预警短信提示，并向本人发送防骗提醒", hotline: "12381"),
        medium: Tier(action: "96110电话劝阻（预警签收→电话劝阻→研判→必要时上门）", hotline: "96110"),
        high: Tier(action: "96110立即电话劝阻，并通知属地派出所上门见面劝阻；如已转账，立即拨打110申请紧急止付、冻结", hotline: "96110"))

    public func tier(_ level: Level) -> Tier? {
        switch level {
        case .none: return nil
        case .low: return low
        case .medium: return medium
        case .high: return high
        }
    }

    /// The advice for a record at `level` whose main category is `category`: the category's own,
    /// else the generic one; none at level none.
    public func advice(level: Level, category: Category?) -> String? {
        level > .none ? (category?.advice ?? genericAdvice) : nil
    }

    /// The referral for a record at `level` whose main category is `category` (its script, else
    /// the generic one); none at level none.
    public func referral(level: Level, category: Category?) -> Referral? {
        referral(level: level, script: category?.script ?? genericScript)
    }

    /// The referral for `level` with the 96110 caller's `script`.
    public func referral(level: Level, script: String) -> Referral? {
        tier(level).map { Referral(tier: level, action: $0.action, hotline: $0.hotline, script: script) }
    }
}
