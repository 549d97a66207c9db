// Scoring: which rules fire, their points, the level, the ranked categories and the verdict.
// Positive rules run first; whether the message makes its own appeal then decides what the
// negative rules may read (RULES.md, Frames). `decide` is the same without evidence, for a
// call's timeline and `scan --count`.

extension Screener.Evaluation {
    /// The total score and whether a money-request rule fired, without evidence; see
    /// `Screener.decide`, which reads only the level: a score below the lowest level may leave
    /// out the negative rules' points (`decideAll`).
    mutating func decide(moneyRequestOnly: Bool) -> (score: Int, moneyRequest: Bool) {
        defer { release() }
        let d = decideAll(moneyRequestOnly: moneyRequestOnly, recordFired: false, framesFound: false)
        return (d.score, d.moneyRequest)
    }

    /// `decide`'s work. With `recordFired`, the public rules that fire are listed in `ws.fired`
    /// (a live call's decision state, LiveDecision.swift); with `framesFound`, `ws.frames` already
    /// holds this record's frames. `strong`: whether the positive rules made the message's own
    /// appeal (what decides the negative rules' blindness). Without `recordFired` only the level
    /// is asked for: when the positive rules score below the lowest level, the negative rules,
    /// which only take points away, are not evaluated, and the score is the positive rules'.
    mutating func decideAll(moneyRequestOnly: Bool, recordFired: Bool, framesFound: Bool) -> (score: Int, moneyRequest: Bool, strong: Bool) {
        collectCandidates()
        if recordFired { ws.fired.removeAll(keepingCapacity: true) }
        if !framesFound && program.pointee.frameRules.count > 0 && ws.indexedAny { findFrames() }
        // Positive rules first: whether the message makes its own appeal decides what the
        // negative rules may read (a warning frame lowers a verdict only without one).
        var score = 0, money = false, appeal = false, negatives = false
        for k in 0..<ws.candidates.count {
            let r = ws.candidates[k], i = Int(r)
            let ruleScore = Int(program.pointee.scores[i])
            if ruleScore < 0 { negatives = true; continue }
            let isMoney = program.pointee.moneyRequest[i]
            if moneyRequestOnly && !isMoney { continue }
            currentRule = i
            blindness = program.pointee.blind[i]
            if !fires(program.pointee.roots[i]) { continue }
            score += ruleScore
            if recordFired { ws.fired.append(r) }
            if program.pointee.appeal[i] { appeal = true }
            if isMoney {
                money = true
                if moneyRequestOnly { break }
            }
        }
        // Strong evidence in the message's own voice: an appeal, or positive points enough for
        // medium on their own. Then a warning in the same message lowers nothing.
        let strong = appeal || score >= screener.rules.levels.medium
        // Most records (two in three of the bench slice) end here below the lowest level: the
        // negative rules (the model's guard among them, on every record) cannot change that.
        guard negatives && !moneyRequestOnly && (recordFired || score >= screener.rules.levels.low) else { return (score, money, strong) }
        for k in 0..<ws.candidates.count {
            let r = ws.candidates[k], i = Int(r)
            let ruleScore = Int(program.pointee.scores[i])
            guard ruleScore < 0 else { continue }
            currentRule = i
            blindness = program.pointee.blindness(ofRule: i, strong: strong)
            if !fires(program.pointee.roots[i]) { continue }
            score += ruleScore
            if recordFired { ws.fired.append(r) }
        }
        return (score, money, strong)
    }

    mutating func verdict(firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict {
        if let v = verdictFromLiveDecision(firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn) { return v }
        let rules = screener.rules
        var hits: [RuleHit] = []
        var score = 0
        ws.clearCategories(rules.categories.count)
        collectCandidates()
        // Frames matter only to a rule that may fire: a record the index names no rule for has none.
        if program.pointee.frameRules.count > 0 && ws.indexedAny { findFrames() }
        // As in `decide`: positive rules, then negative ones, which read warning frames only
        // when the message makes no appeal of its own.
        var appeal = false, negatives = false, strong = false
        for pass in 0..<2 {
            if pass == 1 && !negatives { break }
            if pass == 1 { strong = appeal || score >= rules.levels.medium }
            var k = 0
            while k < ws.candidates.count {
                let i = Int(ws.candidates[k])
                k += 1
                let ruleScore = Int(program.pointee.scores[i])
                if pass == 0 && ruleScore < 0 { negatives = true; continue }
                if pass == 1 && ruleScore >= 0 { continue }
                currentRule = i
                blindness = program.pointee.blindness(ofRule: i, strong: strong)
                let occ = evaluate(program.pointee.roots[i], scope: [])
                guard !occ.isEmpty else { continue }
                if program.pointee.appeal[i] { appeal = true }
                record(firedRule: i, occ, hits: &hits, score: &score)
            }
        }
        if negatives { hits.sort { $0.ruleIndex < $1.ruleIndex } }
        let frames = reportedFrames()
        defer { release() }
        return screener.verdict(id: prepared.id, score: score, categoryScores: ws.categoryScores, categoryHit: ws.categoryHit,
                                hits: hits, errors: errors, frames: frames,
                                firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn)
    }

    /// Rule `i` fired with occurrences `occ`: its hit with evidence goes to `hits`, its points to
    /// `score` and to its category's (which counts only once one of its rules adds points). Both
    /// verdicts, the whole one and the one from a live decision, record a fired rule here.
    mutating func record(firedRule i: Int, _ occ: Occurrences, hits: inout [RuleHit], score: inout Int) {
        let ruleScore = Int(program.pointee.scores[i])
        // Room for a few at the first: grown one by one, a verdict's second and third hits each
        // moved the array (14,438 growths for 18,649 hits on the bench slice).
        if hits.isEmpty { hits.reserveCapacity(4) }
        hits.append(RuleHit(ruleIndex: i, identity: screener.ruleIdentity(i), evidence: hitEvidence(occ)))
        score += ruleScore
        let c = Int(program.pointee.categories[i])
        if c >= 0 {
            ws.categoryScores[c] += ruleScore
            if ruleScore > 0 { ws.categoryHit[c] = true }
        }
    }
}

extension Screener {
    /// The one place a verdict is decided from its points: the level from the total, the main
    /// category from each category's share (a category counts only when one of its rules added
    /// points), advice and referral from the policy. Used for a record (`Evaluation.verdict`) and
    /// for a live call that has let turns go (`CallWindow`).
    func verdict(id: String, score: Int, categoryScores: [Int], categoryHit: [Bool], hits: [RuleHit], errors: [String],
                 frames: [Frame], firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict {
        let level = rules.levels.level(for: score)
        // Counted first, so that the verdict's array is made at its size (none when no category
        // scored), not grown.
        var scored = 0
        for c in categoryScores.indices where categoryHit[c] && categoryScores[c] > 0 { scored += 1 }
        var ranked: [(category: Int, score: Int)] = []
        if scored > 0 {
            ranked.reserveCapacity(scored)
            for c in categoryScores.indices where categoryHit[c] && categoryScores[c] > 0 { ranked.append((c, categoryScores[c])) }
            ranked.sort { $0.score != $1.score ? $0.score > $1.score : $0.category < $1.category }
        }
        // No risk, no main category (the per-category scores stay in `categories`).
        let main = level > .none ? ranked.first?.category : nil
        return Verdict(id: id, level: level, score: score, hits: hits, errors: errors,
                       firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn,
                       frames: frames, categoryIndex: main, ranked: ranked,
                       outcome: outcomes[Screener.outcomeIndex(level: level, category: main, categoryCount: rules.categories.count)])
    }

    /// A verdict's advice and referral, which depend only on its level and main category, and the
    /// names its categories are ranked by. Shared by the verdicts of that outcome, read-only.
    package final class Outcome: Sendable {
        let advice: String?
        let referral: Referral?
        /// The rule set's category names, by index (one array, shared by every outcome).
        let categoryNames: [String]

        init(advice: String?, referral: Referral?, categoryNames: [String]) {
            self.advice = advice; self.referral = referral; self.categoryNames = categoryNames
        }
    }

    /// The policy's advice and referral for every level and main category (none last), asked of
    /// the policy once per screener: asking per verdict copied the policy and the category.
    static func outcomes(_ rules: RuleSet) -> [Outcome] {
        var all: [Outcome] = []
        let names = rules.categories.map(\.id)
        for level in Level.allCases {
            for c in 0...rules.categories.count {
                let category = c < rules.categories.count ? rules.categories[c] : nil
                all.append(Outcome(advice: rules.policy.advice(level: level, category: category),
                                   referral: rules.policy.referral(level: level, category: category), categoryNames: names))
            }
        }
        return all
    }

    /// Where `outcomes` keeps the outcome of `level` and main `category`.
    static func outcomeIndex(level: Level, category: Int?, categoryCount: Int) -> Int {
        level.rawValue * (categoryCount + 1) + (category ?? categoryCount)
    }
}
