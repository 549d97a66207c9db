import Foundation
import Testing
@testable import Fanzha
import FanzhaPCRE
import FanzhaText

// The engine on small in-memory rule sets: evasions with original offsets, scoring, calls,
// the prefilter and the parallel scanner.

private typealias Engine = Fanzha.Screener

private func scannerEngine(_ text: String, usePrefilter: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> Engine {
    try Engine(rules: try compiledRuleSet(text, path: "t.fz", sourceLocation: sourceLocation), usePrefilter: usePrefilter)
}

private func message(_ text: String, id: String = "m") -> Record { Record(id: id, text: text) }

/// A call from `(speaker, text)` pairs; "caller" is the caller's side.
private func phoneCall(_ turns: [(String, String)], id: String = "c") -> Record {
    let sides = SpeakerSides()
    return Record(id: id, turns: turns.map { Turn(speaker: $0.0, side: sides.side(of: $0.0), text: $0.1) })
}

private func ruleIDs(_ v: Verdict, _ rules: RuleSet) -> [String] { v.hits.map { $0.rule } }

private func hit(_ v: Verdict, _ rules: RuleSet, _ id: String) -> RuleHit? { v.hits.first { $0.rule == id } }

private func firesOn(_ s: Engine, _ id: String, _ record: Record) -> [EvidenceSpan]? {
    guard let i = s.rules.rule(named: id) else { Issue.record("no rule \(id)"); return nil }
    return s.fires(rule: i, on: record)
}

/// Everything a verdict says, as one comparable string.
func verdictFingerprint(_ v: Verdict, _ rules: RuleSet) -> String {
    let hits: [String] = v.hits.map { h in
        let spans: [String] = h.spans.map { s in
            let turn = s.turn.map { String($0) } ?? "-"
            return "\(turn):\(s.start)-\(s.end):\(s.text)"
        }
        return h.rule + "[" + spans.joined(separator: ",") + "]"
    }
    var parts: [String] = [v.id, v.level.description, String(v.score)]
    parts.append(v.category ?? "-")
    parts.append(v.categories.map { "\($0.category)=\($0.score)" }.joined(separator: ","))
    parts.append(hits.joined(separator: " "))
    parts.append(v.errors.joined(separator: ";"))
    parts.append(v.firstWarningTurn.map { String($0) } ?? "-")
    parts.append(v.advice ?? "-")
    if let r = v.referral { parts.append("\(r.tier)/\(r.hotline)/\(r.action)/\(r.script)") } else { parts.append("-") }
    return parts.joined(separator: " | ")
}

/// Every record of the project's corpus (messages and calls).
func loadCorpusRecords(sourceLocation: SourceLocation = #_sourceLocation) throws -> [Record] {
    var records: [Record] = []
    for name in ["messages.jsonl", "calls.jsonl"] {
        let path = PackageFiles.corpus(name)
        let data = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)", sourceLocation: sourceLocation)
        let (read, errors) = RecordSource(bytes: data, name: path, format: .jsonl, options: ReaderOptions()).readAll()
        records += read
        #expect(errors.isEmpty, "\(errors)", sourceLocation: sourceLocation)
    }
    #expect(records.count > 300, sourceLocation: sourceLocation)
    #expect(records.contains { $0.isCall }, sourceLocation: sourceLocation)
    return records
}

func loadBundledRuleSet(sourceLocation: SourceLocation = #_sourceLocation) throws -> RuleSet {
    let result = try RuleCompiler.compile(paths: [PackageFiles.rulesDirectory])
    #expect(result.errors.isEmpty, "\(result.errors.map { $0.rendered(sources: result.sources) })", sourceLocation: sourceLocation)
    return try #require(result.ruleSet, sourceLocation: sourceLocation)
}

/// The bundled rules, and the same rules written as a compiled rule set and read back: the tables a
/// test compares between a program lowered from the rules and one loaded from a cache. The
/// temporary file is removed on return; what was read from it stays mapped.
func bundledRulesAndTheirCompiledCopy(_ label: String) throws -> (lowered: RuleSet, loaded: RuleSet) {
    let rules = try loadBundledRuleSet()
    let dir = NSTemporaryDirectory() + "fanzha-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try CompiledRuleCache.write(rules, model: nil, to: dir + "/rules.fzc")
    return (rules, try CompiledRuleCache.read(path: dir + "/rules.fzc"))
}

private let categoriesText = """
levels low 3, medium 6, high 10

category police {
  title  "冒充公检法"
  advice "公检法不会电话办案，没有安全账户。"
  script "您好，这里是96110反诈中心：自称公安的人是骗子。"
  labels "冒充公检法类"
}

category prize {
  title  "虚假中奖"
  advice "中奖先交钱的都是诈骗。"
  script "您好，这里是96110反诈中心：中奖要先交钱的是骗子。"
}

"""

@Suite struct ScannerTests {
    // MARK: evasions, with offsets in the original text

    static let evasionRules = categoriesText + """
    rule police.safe { title "安全账户" category police score 6 match "安全账户" }
    rule hotline { title "反诈专线" score 1 match "96110" }
    """

    @Test(arguments: [
        // text, rule, start, end, evidence as written
        ("请转入安全账户", "police.safe", 3, 7, "安全账户"),
        ("请转入安 全 账 户里", "police.safe", 3, 10, "安 全 账 户"),
        ("请转入安-全-账-户", "police.safe", 3, 10, "安-全-账-户"),
        ("请转入安全帳戶。", "police.safe", 3, 7, "安全帳戶"),
        ("请转入安全帐户", "police.safe", 3, 7, "安全帐户"),
        ("请转入安\u{200B}全账户", "police.safe", 3, 8, "安\u{200B}全账户"),
        ("😀😀请转入 安·全/账|户", "police.safe", 6, 13, "安·全/账|户"),
        ("请拨打９６１１０核实", "hotline", 3, 8, "９６１１０"),
        ("请拨打九六幺幺零核实", "hotline", 3, 8, "九六幺幺零"),
        ("请拨打96-110核实", "hotline", 3, 9, "96-110"),
        ("请拨打 9 6 1 1 0", "hotline", 4, 13, "9 6 1 1 0"),
    ])
    func evasionsAreFoundAtTheirOriginalOffsets(text: String, rule: String, start: Int, end: Int, evidence: String) throws {
        for prefilter in [true, false] {
            let s = try scannerEngine(Self.evasionRules, usePrefilter: prefilter)
            let v = s.screen(message(text))
            let h = try #require(hit(v, s.rules, rule), "\(rule) should fire on \(text) (prefilter \(prefilter))")
            #expect(h.spans.count == 1)
            let span = try #require(h.spans.first)
            #expect(span.start == start && span.end == end, "prefilter \(prefilter): got \(span.start)..<\(span.end)")
            #expect(span.text == evidence)
            #expect(span.turn == nil)
            // The span really is that slice of the original text, in Unicode scalars.
            #expect(String(String.UnicodeScalarView(Array(text.unicodeScalars)[span.start..<span.end])) == evidence)
        }
    }

    /// A screener writes a record's evidence in the last record's table only when no verdict
    /// holds that any more: a verdict kept keeps its spans, whatever is screened after it.
    @Test func aVerdictKeptKeepsItsEvidence() throws {
        let s = try scannerEngine(Self.evasionRules)
        let kept = s.screen(message("请转入安全账户"))
        let spans = kept.hits.map(\.spans)
        #expect(spans.map(\.count) == [1])
        for text in ["请拨打96110核实", "请转入安 全 账 户里，再拨打９６１１０", "安全账户安全账户"] {
            let v = s.screen(message(text))
            #expect(!v.hits.isEmpty, "\(text)")
        }
        #expect(kept.hits.map(\.spans) == spans)
        #expect(kept.hits.first?.spans.first?.text == "安全账户")
    }

    @Test func brokenUpWordsThatAreNotEvasionsDoNotMatch() throws {
        let s = try scannerEngine(Self.evasionRules)
        // A line break between Han characters is dropped (text split across lines, issue 18), so
        // "安全\n账户" matches now; a full stop between two longer sentences is kept.
        for text in ["安全的账户", "安全 的 账户", "安全账", "注意人身安全。账户余额请自查"] {
            #expect(hit(s.screen(message(text)), s.rules, "police.safe") == nil, "\(text)")
        }
        #expect(hit(s.screen(message("961100000")), s.rules, "hotline") != nil)
        #expect(hit(s.screen(message("九六幺幺")), s.rules, "hotline") == nil)
    }

    @Test func everyOccurrenceIsEvidence() throws {
        let s = try scannerEngine(Self.evasionRules)
        let v = s.screen(message("安全账户。安 全 账 户。安全帳戶"))
        let h = try #require(hit(v, s.rules, "police.safe"))
        #expect(h.spans.map { [$0.start, $0.end] } == [[0, 4], [5, 12], [13, 17]])
        #expect(h.spans.map(\.text) == ["安全账户", "安 全 账 户", "安全帳戶"])
    }

    // MARK: scoring

    static let scoringRules = categoriesText + """
    rule p.account  { title "安全账户" category police score 4 match "安全账户" }
    rule p.bureau   { title "公安局" category police score 3 match "公安局" }
    rule z.prize    { title "中奖" category prize score 5 match "中奖" }
    rule z.claim    { title "领奖" category prize score 4 match "领奖" }
    rule ok.notice  { title "反诈提醒" score -2 match "反诈提醒" }
    rule p.hukou    { title "户籍业务" category police score -6 match "户籍业务" }
    rule g.code     { title "验证码" score 3 match "验证码" }
    """

    @Test func scoresAddUpAndTheMainCategoryIsTheHighest() throws {
        let s = try scannerEngine(Self.scoringRules)
        let rules = s.rules
        #expect(rules.category(named: "police") != nil && rules.category(named: "prize") != nil)

        // 4 + 5: medium, prize leads.
        var v = s.screen(message("恭喜中奖，请把奖金转入安全账户"))
        #expect(v.score == 9)
        #expect(v.level == .medium)
        #expect(v.category == "prize")
        #expect(v.categories.map(\.category) == ["prize", "police"])
        #expect(v.categories.map(\.score) == [5, 4])
        #expect(v.advice == "中奖先交钱的都是诈骗。")
        #expect(v.referral == Referral(tier: .medium, action: ReferralPolicy.standard.medium.action, hotline: "96110",
                                       script: "您好，这里是96110反诈中心：中奖要先交钱的是骗子。"))

        // 4 + 3 + 5 = 12: high, police leads with 7.
        v = s.screen(message("公安局通知：你中奖了，请转入安全账户"))
        #expect(v.score == 12)
        #expect(v.level == .high)
        #expect(v.category == "police")
        #expect(v.categories.map(\.score) == [7, 5])
        #expect(v.advice == "公检法不会电话办案，没有安全账户。")
        #expect(v.referral?.tier == .high)
        #expect(v.referral?.hotline == "96110")
        #expect(v.referral?.action.contains("上门") == true)
        #expect(v.referral?.script == "您好，这里是96110反诈中心：自称公安的人是骗子。")
        #expect(Set(ruleIDs(v, rules)) == ["p.account", "p.bureau", "z.prize"])
    }

    @Test func negativeRulesSubtract() throws {
        let s = try scannerEngine(Self.scoringRules)
        let rules = s.rules
        #expect(rules.category(named: "prize") != nil)

        // 4 + 3 + 5 - 2 = 10: exactly the high threshold.
        var v = s.screen(message("反诈提醒：公安局说你中奖了，请转入安全账户"))
        #expect(v.score == 10)
        #expect(v.level == .high)
        #expect(ruleIDs(v, rules).contains("ok.notice"))

        // 5 + 4 - 2 = 7.
        v = s.screen(message("反诈提醒：中奖后请转入安全账户"))
        #expect(v.score == 7)
        #expect(v.level == .medium)

        // A negative rule alone: fires, shows as a hit, level none, no advice or referral.
        v = s.screen(message("反诈提醒：注意防范"))
        #expect(v.score == -2)
        #expect(v.level == .none)
        #expect(ruleIDs(v, rules) == ["ok.notice"])
        #expect(v.category == nil && v.categories.isEmpty)
        #expect(v.advice == nil && v.referral == nil)

        // A category pushed to or below zero by its own negative rule is not a candidate.
        v = s.screen(message("户籍业务办理：安全账户，中奖"))
        #expect(v.score == 4 - 6 + 5)
        #expect(v.level == .low)
        #expect(v.category == "prize")
        #expect(v.categories.map(\.category) == ["prize"])
    }

    @Test func levelsReferralsAndAdvicePerLevel() throws {
        let s = try scannerEngine(Self.scoringRules)
        #expect(s.rules.category(named: "police") != nil)

        // Low with a category: the category's advice, a 12381 warning SMS.
        var v = s.screen(message("公安局"))
        #expect(v.score == 3 && v.level == .low && v.category == "police")
        #expect(v.advice == "公检法不会电话办案，没有安全账户。")
        #expect(v.referral?.tier == .low)
        #expect(v.referral?.hotline == "12381")
        #expect(v.referral?.script == "您好，这里是96110反诈中心：自称公安的人是骗子。")

        // Low without any category: generic advice and script.
        v = s.screen(message("验证码"))
        #expect(v.score == 3 && v.level == .low && v.category == nil)
        #expect(v.advice == ReferralPolicy.standard.genericAdvice)
        #expect(v.referral?.script == ReferralPolicy.standard.genericScript)
        #expect(v.referral?.hotline == "12381")

        // Nothing: no hits at all.
        v = s.screen(message("今天天气很好"))
        #expect(v.score == 0 && v.level == .none && v.hits.isEmpty && v.advice == nil && v.referral == nil)
        #expect(v.firstWarningTurn == nil && v.errors.isEmpty)

        // A tie between categories goes to the one declared first.
        v = s.screen(message("领奖，安全账户"))
        #expect(v.categories.map(\.score) == [4, 4])
        #expect(v.category == "police")
    }

    @Test func levelsComeFromTheRuleSetsThresholds() throws {
        let s = try scannerEngine("""
        levels low 2, medium 5, high 7
        rule one  { title "一" score 1 match "苹果" }
        rule two  { title "二" score 2 match "香蕉" }
        rule four { title "四" score 4 match "橙子" }
        """)
        #expect(s.rules.levels == Levels(low: 2, medium: 5, high: 7))
        let cases: [(String, Int, Level)] = [
            ("苹果", 1, .none), ("香蕉", 2, .low), ("苹果香蕉", 3, .low), ("橙子", 4, .low),
            ("苹果橙子", 5, .medium), ("香蕉橙子", 6, .medium), ("苹果香蕉橙子", 7, .high),
        ]
        for (text, score, level) in cases {
            let v = s.screen(message(text))
            #expect(v.score == score && v.level == level, "\(text): \(v.score) \(v.level)")
            #expect((v.referral?.tier) == (level == .none ? nil : level))
            #expect((v.referral?.hotline) == (level == .none ? nil : level == .low ? "12381" : "96110"))
        }
        // Without `levels`, the defaults.
        let d = try compiledRuleSet("rule r { title \"r\" score 6 match \"苹果\" }")
        #expect(d.levels == Levels.defaults)
        #expect(try Engine(rules: d).screen(message("苹果")).level == .medium)
    }

    @Test func privateRulesScoreNothingButCanBeUsed() throws {
        let s = try scannerEngine(categoriesText + """
        private rule _money { title "钱" match any("转账", "汇款") }
        rule police.money { title "公安要钱" category police score 6 match "公安" near(10) _money }
        """)
        let v = s.screen(message("我是公安，请马上转账"))
        #expect(ruleIDs(v, s.rules) == ["police.money"])
        #expect(v.score == 6)
        #expect(hit(v, s.rules, "police.money")?.spans.map(\.text) == ["公安", "转账"])
        #expect(s.screen(message("请马上转账")).hits.isEmpty)
        #expect(firesOn(s, "_money", message("请马上转账")) != nil)
    }

    // MARK: calls

    static let callRules = """
    rule caller.code  { title "来电方提验证码" score 1 match caller: "验证码" }
    rule callee.code  { title "接听方提验证码" score 1 match callee: "验证码" }
    rule code.then    { title "先验证码后告诉我" score 1 match "验证码" then "告诉我" }
    rule code.then5   { title "验证码后五字内告诉我" score 1 match "验证码" then(5) "告诉我" }
    rule account.near { title "同一句里安全账户和转账" score 1 match "安全账户" near(10) "转账" }
    rule account.turn { title "相邻两轮安全账户和转账" score 1 match "安全账户" near(1 turns) "转账" }
    rule transfer.3   { title "三次转账" score 1 match count("转账") >= 3 }
    rule caller.transfer.2 { title "来电方两次转账" score 1 match count(caller: "转账") >= 2 }
    rule no.transfer  { title "没提转账" score 1 match "安全账户" and count("转账") == 0 }
    """

    @Test func callerAndCalleeScopes() throws {
        let s = try scannerEngine(Self.callRules)
        var c = phoneCall([("caller", "您好，请把收到的验证码告诉我"), ("callee", "好的")])
        let spans = try #require(firesOn(s, "caller.code", c))
        #expect(spans.map(\.turn) == [0])
        #expect(spans.map { [$0.start, $0.end] } == [[8, 11]])
        #expect(firesOn(s, "callee.code", c) == nil)

        c = phoneCall([("caller", "您好"), ("callee", "验证码是多少来着")])
        #expect(firesOn(s, "caller.code", c) == nil)
        #expect(try #require(firesOn(s, "callee.code", c)).map(\.turn) == [1])

        // Speaker names map to sides: 来电 is the caller's side, anything else the callee's.
        c = phoneCall([("来电", "验证码发我"), ("老人", "好")])
        #expect(firesOn(s, "caller.code", c) != nil)

        // In a message the whole text is the caller's; callee: never fires.
        #expect(firesOn(s, "caller.code", message("验证码")) != nil)
        #expect(firesOn(s, "callee.code", message("验证码")) == nil)
    }

    @Test func thenWorksAcrossTurnsInOrder() throws {
        let s = try scannerEngine(Self.callRules)
        let forward = phoneCall([("caller", "你收到验证码了吗"), ("callee", "收到了"), ("caller", "那你告诉我")])
        let spans = try #require(firesOn(s, "code.then", forward))
        #expect(spans.map(\.turn) == [0, 2])
        #expect(spans.map(\.text) == ["验证码", "告诉我"])
        #expect(firesOn(s, "code.then5", forward) == nil, "then(N) stays within one turn")

        let backward = phoneCall([("caller", "告诉我一件事"), ("callee", "什么验证码")])
        #expect(firesOn(s, "code.then", backward) == nil)

        #expect(firesOn(s, "code.then", message("验证码请告诉我")) != nil)
        #expect(firesOn(s, "code.then", message("告诉我验证码")) == nil)
        #expect(firesOn(s, "code.then5", message("验证码请马上告诉我")) != nil)        // gap 3
        #expect(firesOn(s, "code.then5", message("验证码甲乙丙丁戊告诉我")) != nil)   // gap 5
        #expect(firesOn(s, "code.then5", message("验证码甲乙丙丁戊己告诉我")) == nil) // gap 6
    }

    @Test func nearDoesNotLeakAcrossTurns() throws {
        let s = try scannerEngine(Self.callRules)
        let split = phoneCall([("caller", "这是安全账户"), ("caller", "转账吧")])
        #expect(firesOn(s, "account.near", split) == nil)
        #expect(try #require(firesOn(s, "account.turn", split)).map(\.turn) == [0, 1])

        let same = phoneCall([("caller", "你好"), ("caller", "转账到安全账户")])
        let spans = try #require(firesOn(s, "account.near", same))
        #expect(spans.map(\.turn) == [1, 1])
        #expect(spans.map { [$0.start, $0.end] } == [[0, 2], [3, 7]])

        let far = phoneCall([("caller", "这是安全账户"), ("callee", "嗯"), ("caller", "转账吧")])
        #expect(firesOn(s, "account.turn", far) == nil, "two turns apart is more than near(1 turns)")
        #expect(firesOn(s, "account.near", far) == nil)

        // The character distance is counted in the normalised text of one turn.
        #expect(firesOn(s, "account.near", message("安全账户甲乙丙丁戊己庚辛壬癸转账")) != nil)
        #expect(firesOn(s, "account.near", message("安全账户甲乙丙丁戊己庚辛壬癸子转账")) == nil)
    }

    /// `near`/`then` search only a window of the right-hand side (found by binary search in text
    /// order, bytes bounding characters): checked against a brute-force reading of the operators
    /// on random calls whose fillers are 1- to 4-byte characters, with nested and unsorted sides.
    @Test func pairSearchAgreesWithBruteForce() throws {
        let s = try scannerEngine("""
        rule r.near     { title "t" score 1 match "安全" near(3) "转账" }
        rule r.thengap  { title "t" score 1 match "安全" then(2) "转账" }
        rule r.then     { title "t" score 1 match "安全" then "转账" }
        rule r.turns    { title "t" score 1 match "安全" near(1 turns) "转账" }
        rule r.unsorted { title "t" score 1 match "安全" near(2) any("汇款", "转账") }
        rule r.nested   { title "t" score 1 match ("安全" near(2) "转账") near(3) "汇款" }
        rule r.inner    { title "t" score 1 match "汇款" then(4) ("安全" near(1) "转账") }
        """)
        typealias Span = (turn: Int, start: Int, end: Int)
        func spans(_ word: String, _ turns: [[String]]) -> [Span] {
            var out: [Span] = []
            for (t, tokens) in turns.enumerated() {
                var position = 0
                for token in tokens {
                    if token == word { out.append((t, position, position + 2)) }
                    position += token.count
                }
            }
            return out
        }
        func gap(_ x: Span, _ y: Span) -> Int { y.start >= x.end ? y.start - x.end : x.start >= y.end ? x.start - y.end : 0 }
        func join(_ xs: [Span], _ ys: [Span], _ accepts: (Span, Span) -> Bool) -> [Span] {
            var out: [Span] = []
            for x in xs { for y in ys where accepts(x, y) {
                out.append(x.turn == y.turn ? (x.turn, min(x.start, y.start), max(x.end, y.end)) : y)
            } }
            return out
        }
        let near = { (d: Int) in { (x: Span, y: Span) in x.turn == y.turn && gap(x, y) <= d } }
        let fillers = ["a", "ж", "中", "𠀀"]   // 1, 2, 3 and 4 UTF-8 bytes, none of them a separator
        var generator = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let turns: [[String]] = (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                (0..<Int.random(in: 0...14, using: &generator)).map { _ in
                    Int.random(in: 0..<10, using: &generator) < 4
                        ? ["安全", "转账", "汇款"].randomElement(using: &generator)!
                        : String(repeating: fillers.randomElement(using: &generator)!, count: Int.random(in: 1...3, using: &generator))
                }
            }
            let call = phoneCall(turns.map { ("caller", $0.joined()) })
            let a = spans("安全", turns), b = spans("转账", turns), c = spans("汇款", turns)
            let expected: [String: Bool] = [
                "r.near": !join(a, b, near(3)).isEmpty,
                "r.thengap": !join(a, b) { x, y in x.turn == y.turn && y.start >= x.end && y.start - x.end <= 2 }.isEmpty,
                "r.then": !join(a, b) { x, y in x.turn < y.turn || (x.turn == y.turn && y.start >= x.end) }.isEmpty,
                "r.turns": !join(a, b) { x, y in abs(x.turn - y.turn) <= 1 }.isEmpty,
                "r.unsorted": !join(a, c + b, near(2)).isEmpty,
                "r.nested": !join(join(a, b, near(2)), c, near(3)).isEmpty,
                "r.inner": !join(c, join(a, b, near(1))) { x, y in x.turn == y.turn && y.start >= x.end && y.start - x.end <= 4 }.isEmpty,
            ]
            for (rule, fires) in expected.sorted(by: { $0.key < $1.key }) {
                #expect((firesOn(s, rule, call) != nil) == fires, "round \(round), \(rule) on \(turns)")
            }
        }
    }

    /// When the 256-pair cap cuts a pair list, the pairs kept are those a plain double loop over
    /// the right-hand side in its own order makes, so the enclosing condition sees the same list.
    @Test func theCappedPairListKeepsTheRightHandOrder() throws {
        let s = try scannerEngine("""
        rule t.cap { title "t" score 3 match ("安全" near(1 turns) ("汇款" or "转账")) near(1) "银行" }
        """)
        let call = phoneCall([("caller", "安全"), ("caller", String(repeating: "转账", count: 200)), ("caller", "安全"),
                              ("caller", String(repeating: "转账", count: 55) + "哈哈哈哈哈汇款银行")])
        #expect(firesOn(s, "t.cap", call) != nil)
    }

    @Test func aCallLongerThanTheTimelineSearchSaysSo() throws {
        let s = try scannerEngine(Self.callRules)
        let turns = Engine.timelineTurns
        let atLimit = phoneCall(Array(repeating: ("caller", "你好"), count: turns))
        #expect(s.screen(atLimit).errors.isEmpty)
        let longer = phoneCall(Array(repeating: ("caller", "你好"), count: turns) + [("caller", "请转入安全账户，转账")])
        let v = s.screen(longer)
        #expect(v.errors == ["the call timeline was searched in the first \(turns) of \(turns + 1) turns only"])
        #expect(v.firstWarningTurn == nil)
        #expect(ruleIDs(v, s.rules).contains("account.near"), "the verdict still covers every turn")
    }

    /// RULES.md: counts stop at 256; `callee:` never holds in a message; `near` needs an A and a
    /// B, not one occurrence that is both; and the prefilter never changes a verdict, however many
    /// times a word occurs.
    @Test func operatorEdgesFollowTheSpecification() throws {
        let text = """
        rule c.over  { title "t" score 1 match count("转账") > 256 }
        rule c.at    { title "t" score 1 match count("转账") >= 256 }
        rule s.quiet { title "t" score 1 match "你好" and callee: not "转账" }
        rule n.self  { title "t" score 1 match "转账" near(10) "转账" }
        rule t.self  { title "t" score 1 match "转账" near(1 turns) "转账" }
        rule w.any   { title "t" score 1 match "转账" }
        """
        let on = try scannerEngine(text, usePrefilter: true)
        let off = try scannerEngine(text, usePrefilter: false)
        let many = message(String(repeating: "转账", count: 5000))
        #expect(Set(ruleIDs(on.screen(many), on.rules)) == ["c.at", "n.self", "t.self", "w.any"])
        #expect(verdictFingerprint(on.screen(many), on.rules) == verdictFingerprint(off.screen(many), off.rules))

        #expect(firesOn(on, "s.quiet", message("你好转账")) == nil, "no callee in a message")
        #expect(firesOn(on, "s.quiet", message("你好")) == nil)
        #expect(firesOn(on, "s.quiet", phoneCall([("caller", "你好"), ("callee", "嗯")])) != nil)
        #expect(firesOn(on, "s.quiet", phoneCall([("caller", "你好"), ("callee", "转账")])) == nil)

        #expect(firesOn(on, "n.self", message("你好转账")) == nil, "one occurrence is not a pair")
        #expect(firesOn(on, "n.self", message("转账后再转账")) != nil)
        #expect(firesOn(on, "t.self", phoneCall([("caller", "转账")])) == nil)
        #expect(firesOn(on, "t.self", phoneCall([("caller", "转账"), ("callee", "转账？")])) != nil)
    }

    @Test func countCountsOccurrencesOverAllTurns() throws {
        let s = try scannerEngine(Self.callRules)
        let three = phoneCall([("caller", "转账"), ("callee", "转账？"), ("caller", "对，转账")])
        let spans = try #require(firesOn(s, "transfer.3", three))
        #expect(spans.map(\.turn) == [0, 1, 2])
        #expect(firesOn(s, "caller.transfer.2", three) != nil)

        let two = phoneCall([("caller", "转账"), ("callee", "转账？"), ("caller", "对")])
        #expect(firesOn(s, "transfer.3", two) == nil)
        #expect(firesOn(s, "caller.transfer.2", two) == nil, "the callee's mention is not counted")

        #expect(firesOn(s, "transfer.3", message("转账转账转账")) != nil)
        #expect(firesOn(s, "transfer.3", message("转账、转账")) == nil)
        #expect(firesOn(s, "no.transfer", message("安全账户")) != nil)
        #expect(firesOn(s, "no.transfer", message("安全账户转账")) == nil)
    }

    static let warningRules = """
    levels low 3, medium 6, high 10
    rule w.account { title "安全账户" score 3 match caller: "安全账户" }
    rule w.code    { title "验证码" score 3 match caller: "验证码" }
    rule w.freeze  { title "冻结" score 6 match "冻结" }
    """

    @Test func firstWarningTurnIsWhenTheCallFirstReachedMedium() throws {
        let s = try scannerEngine(Self.warningRules)
        let call = phoneCall([("caller", "你好"), ("callee", "你好"), ("caller", "请转到安全账户"), ("callee", "好的"),
                              ("caller", "验证码发我"), ("caller", "不然冻结")])
        let v = s.screen(call)
        #expect(v.firstWarningTurn == 4)
        #expect(v.score == 12 && v.level == .high)
        #expect(hit(v, s.rules, "w.account")?.spans.map { [$0.turn, $0.start, $0.end] } == [[2, 3, 7]])

        #expect(s.screen(phoneCall([("caller", "冻结了"), ("callee", "什么")])).firstWarningTurn == 0)
        #expect(s.screen(phoneCall([("caller", "你好"), ("callee", "安全账户和验证码是什么")])).firstWarningTurn == nil)
        #expect(s.screen(phoneCall([("caller", "你好"), ("callee", "再见")])).firstWarningTurn == nil)
        // Low is not a warning.
        #expect(s.screen(phoneCall([("caller", "安全账户")])).firstWarningTurn == nil)
        // Messages never carry one.
        #expect(s.screen(message("冻结")).firstWarningTurn == nil)
        // The level of a prefix: evaluate(turnLimit:) sees only the first turns.
        let p = s.prepare(call)
        #expect(s.evaluate(p, turnLimit: 3).score == 3)
        #expect(s.evaluate(p, turnLimit: 5).level == .medium)
    }

    // MARK: resource limits

    @Test func aRegexStoppedByItsLimitIsAnErrorNotACrash() throws {
        let rules = try compiledRuleSet("""
        rule slow { title "慢" score 3 match /^(\\p{Han}+)+$/ }
        rule safe { title "安全账户" score 6 match "安全账户" }
        """)
        let s = try Engine(matcher: CompiledMatcher(rules), matchLimit: 10_000)
        let v = s.screen(message("安全账户" + String(repeating: "汉", count: 200) + "!"))
        #expect(ruleIDs(v, rules) == ["safe"])
        #expect(v.score == 6)
        #expect(v.errors.count == 1)
        #expect(v.errors.first?.contains("slow") == true)
        #expect(v.errors.first?.contains("match limit exceeded") == true)
        // The next record on the same scanner is fine.
        let ok = s.screen(message(String(repeating: "汉", count: 200)))
        #expect(ok.errors.isEmpty && ruleIDs(ok, rules) == ["slow"])
    }

    /// The call timeline by brute force: the verdict of every prefix.
    private func naiveTimeline(_ s: Engine, _ call: Record) -> (warning: Int?, money: Int?) {
        let p = s.prepare(call)
        var warning: Int?, money: Int?
        for k in 1...p.turnCount {
            let v = s.evaluate(p, turnLimit: k)
            if warning == nil, v.level >= .medium { warning = k - 1 }
            if money == nil, v.hits.contains(where: { s.rules.rules[$0.ruleIndex].hasTag("money_request") }) { money = k - 1 }
        }
        return (warning, money)
    }

    @Test func callTimelineSkipsOnlyTurnsThatCannotChangeTheVerdict() throws {
        // A regex with no word, a rule that fires on no text at all, negative evidence later on.
        let s = try scannerEngine("""
        levels low 3, medium 6, high 10
        rule t.code  { title "六位数" score 3 match caller: /\\d{6}/ }
        rule t.quiet { title "没说你好" score 3 match not "你好" }
        rule t.money { title "转账" score 3 tags money_request match "转账" }
        rule t.calm  { title "报警" score -6 match "报警" }
        """)
        let calls: [[(String, String)]] = [
            [("caller", "嗯"), ("callee", "嗯"), ("caller", "验证码123456"), ("callee", "好")],
            [("caller", "你好"), ("callee", "嗯"), ("caller", "嗯"), ("caller", "转账"), ("callee", "嗯"), ("caller", "654321")],
            [("caller", "你好"), ("caller", "转账"), ("callee", "我报警"), ("caller", "嗯"), ("caller", "112233")],
            [("caller", "嗯")],
        ]
        for turns in calls {
            let v = s.screen(phoneCall(turns))
            let naive = naiveTimeline(s, phoneCall(turns))
            #expect(v.firstWarningTurn == naive.warning, "\(turns)")
            #expect(v.firstMoneyRequestTurn == naive.money, "\(turns)")
        }
        // t.quiet fires before anything is said, so the warning comes with the regex's turn.
        #expect(s.screen(phoneCall(calls[0])).firstWarningTurn == 2)

        // A side's first turn changes what its scope sees, even without a word: `callee: not …`
        // holds from the callee's first turn on.
        let sides = try scannerEngine("""
        levels low 3, medium 6, high 10
        rule t.silent { title "对方未拒绝" score 10 match callee: not "不" }
        """)
        let quietCallee = phoneCall([("caller", "转账"), ("callee", "嗯"), ("caller", "转账")])
        #expect(sides.screen(quietCallee).firstWarningTurn == 1)
        #expect(naiveTimeline(sides, quietCallee).warning == 1)

        // The bundled rules on every corpus call, with word-less filler turns between the turns.
        let bundled = try Engine(rules: try loadBundledRuleSet())
        for r in try loadCorpusRecords() where r.isCall {
            var padded: [Turn] = []
            for t in r.turns { padded.append(t); padded.append(Turn(speaker: t.speaker, side: t.side, text: "嗯嗯")) }
            for call in [r, Record(id: r.id, turns: padded)] {
                let v = bundled.screen(call)
                let naive = naiveTimeline(bundled, call)
                #expect(v.firstWarningTurn == naive.warning && v.firstMoneyRequestTurn == naive.money, "\(call.id)")
            }
        }
    }

    /// A decision (no evidence) is the verdict's level and money request, on every corpus record
    /// and on every prefix of every corpus call; money-request-only finds the same request.
    @Test func aDecisionIsTheVerdictWithoutItsEvidence() throws {
        let s = try Engine(rules: try loadBundledRuleSet())
        let moneyRequest = s.matcher.program.moneyRequest
        var levels = Set<Level>()
        for r in try loadCorpusRecords() {
            let p = s.prepare(r)
            for k in 1...max(1, p.turnCount) {
                let v = s.evaluate(p, turnLimit: k)
                let d = s.decide(p, turnLimit: k)
                let money = v.hits.contains { moneyRequest[$0.ruleIndex] }
                #expect(d.level == v.level && d.moneyRequest == money, "\(r.id), \(k) turns")
                #expect(s.decide(p, turnLimit: k, moneyRequestOnly: true).moneyRequest == money, "\(r.id), \(k) turns")
                levels.insert(d.level)
            }
        }
        #expect(levels == [.none, .low, .medium, .high])
    }

    /// A decision of the level alone leaves the negative rules out when the positive ones score
    /// below the lowest level (`decideAll`): on every subset of five cues, it is the verdict's level.
    @Test func aDecisionBelowTheLowestLevelNeedsNoNegativeRule() throws {
        let text = categoriesText + """
        rule p { title "p" score 12 match "甲" }
        rule q { title "q" score 4 match "乙" }
        rule n { title "n" score -1 match "丙" }
        rule m { title "m" score -3 match "丁" }
        rule g { title "g" score -40 match "戊" }
        """
        let s = try scannerEngine(text)
        var levels = Set<Level>()
        for mask in 0..<32 {
            let t = ["甲", "乙", "丙", "丁", "戊"].enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element).joined(separator: "和")
            let p = s.prepare(message(t))
            let d = s.decide(p)
            #expect(d.level == s.evaluate(p).level, "\(t)")
            levels.insert(d.level)
        }
        #expect(levels == [.none, .low, .medium, .high])
    }

    /// An `or` or `at_least` passes over the parts the prefilter rules out (`nextKid`) and
    /// evaluates the others, in order; a rule fires in a decision exactly when its condition
    /// has occurrences. Every subset of four cues, words and regexes, with and without the
    /// prefilter: each rule fires on some, and no text tells `fires` and `evaluate` apart.
    @Test func aRuleFiresExactlyWhenItsConditionHasOccurrences() throws {
        let text = categoriesText + """
        rule a { title "a" score 1 match /乙+/ or "甲" or "丙" }
        rule b { title "b" score 1 match 2 of ("甲", /乙/, "丙", /丁/) }
        rule c { title "c" score 1 match ("甲" or /丙/) and not (/乙/ or "丁") }
        rule d { title "d" score 1 match 3 of ("甲", "乙", /丙|丁/) and "甲" near(4) /丁/ }
        rule e { title "e" score 1 match not (/甲/ and "乙") }
        rule f { title "f" score 1 match 3 of ("甲", /乙/, "丙", "丁") or /甲.*丁/ }
        """
        for usePrefilter in [true, false] {
            let s = try scannerEngine(text, usePrefilter: usePrefilter)
            var fired = Set<String>()
            for mask in 0..<16 {
                let cues = ["甲", "乙", "丙", "丁"].enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
                let t = cues.joined(separator: "和")
                let p = s.prepare(message(t))
                var e = Engine.Evaluation(screener: s, prepared: p, turnLimit: p.turnCount)
                for r in s.rules.rules.indices {
                    let root = e.program.pointee.roots[r]
                    let fires = e.fires(root)
                    #expect(fires == !e.evaluate(root, scope: []).isEmpty, "\(s.rules.rules[r].id) on \(t)")
                    if fires { fired.insert(s.rules.rules[r].id) }
                }
                e.release()
            }
            #expect(fired == ["a", "b", "c", "d", "e", "f"], "each rule fires on some text")
        }
    }

    /// An `or`'s or `at_least`'s regex child whose requirement is one clause is passed over on
    /// that clause's stamp (`Program.kidPrefilter`); one of several clauses, on its first
    /// clause's stamp and then through `ruledOut`; one of none, through `ruledOut`. Every subset
    /// of their cues gives the same hits and spans with the prefilter as without it.
    @Test func regexChildrenArePassedOverOnTheirClauses() throws {
        let text = categoriesText + """
        rule a { title "a" score 1 match /甲乙.?/ or /(丙丁|戊己)/ or /庚辛.*壬癸/ or /子/ }
        rule b { title "b" score 1 match 2 of (/甲乙/, /(丙丁|戊己)/, /庚辛.*壬癸/, "子丑") }
        """
        let reference = try scannerEngine(text, usePrefilter: false), s = try scannerEngine(text, usePrefilter: true)
        let p = s.matcher.programPointer.pointee
        let a = p.nodes[Int(p.roots[s.rules.rules.firstIndex { $0.id == "a" }!])]
        let entries = (0..<Int(a.count)).map { p.kidPrefilter[Int(a.first) + $0] }
        let first = { (k: Int) in p.atomClauseFirst[Int(p.nodes[Int(p.kids[Int(a.first) + k])].arg)] }
        #expect(entries[0] == Program.kidClauseEntry(clause: first(0), more: false)
                && entries[1] == Program.kidClauseEntry(clause: first(1), more: false)
                && entries[2] == Program.kidClauseEntry(clause: first(2), more: true) && entries[3] == -1,
                "one clause (甲乙), one clause of two words, two clauses, none: \(entries)")
        let cues = ["甲乙", "丙丁", "戊己", "庚辛", "壬癸", "子丑"]
        var fired = Set<Int>()
        for mask in 0..<(1 << cues.count) {
            let t = cues.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element).joined(separator: "和")
            let v = s.evaluate(s.prepare(message(t))), expected = reference.evaluate(reference.prepare(message(t)))
            #expect(v.hits.map(\.spans) == expected.hits.map(\.spans) && v.hits.map(\.ruleIndex) == expected.hits.map(\.ruleIndex), "\(t)")
            fired.formUnion(v.hits.map(\.ruleIndex))
        }
        #expect(fired.count == 2, "both rules fire on some text")
    }

    /// A regex without words is gated on first use; from then on a message its gate's pretest
    /// turns away rules it out (`gateTurnsAway`), alone, in an `or`, as the first part of a
    /// `near` and under `not`. Every subset of the cues, asked twice (before and after the gates
    /// are made), gives the same hits and spans with the prefilter as without it.
    @Test func aRegexTurnedAwayByItsGatesPretestIsRuledOut() throws {
        let text = categoriesText + """
        private rule named { title "n" match /[王李]某.{0,4}(?:在|到)/ }
        rule a { title "a" score 1 match /被.{0,6}骗/ or "甲乙" }
        rule b { title "b" score 1 match named near(10) "报警" }
        rule c { title "c" score 1 match "报警" and not /某.{0,2}说/ }
        """
        let reference = try scannerEngine(text, usePrefilter: false), s = try scannerEngine(text, usePrefilter: true)
        let cues = ["王某", "在", "被", "骗", "报警", "甲乙", "说"]
        var fired = Set<Int>()
        for pass in 0..<2 {
            for mask in 0..<(1 << cues.count) {
                let t = cues.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element).joined(separator: "，")
                let v = s.evaluate(s.prepare(message(t))), expected = reference.evaluate(reference.prepare(message(t)))
                #expect(v.hits.map(\.spans) == expected.hits.map(\.spans) && v.hits.map(\.ruleIndex) == expected.hits.map(\.ruleIndex), "pass \(pass): \(t)")
                #expect(s.decide(s.prepare(message(t))).level == reference.decide(reference.prepare(message(t))).level, "pass \(pass): \(t)")
                fired.formUnion(v.hits.map(\.ruleIndex))
            }
        }
        #expect(fired.count == 3, "every rule fires on some text")
        // Each regex's gate was made, with a first test that turns messages away.
        let regexes = s.rules.atoms.indices.filter { s.rules.atoms[$0].kind == .regex }
        #expect(regexes.count == 3 && regexes.allSatisfy { s.atomMatchers[$0].hasGate && s.atomMatchers[$0].pretest.mask != 0 })
    }

    /// A public rule's first clause is the one the prefilter's index holds it under, its
    /// shortest: a candidate from the index holds it, and `indexedCandidate` asks only the
    /// others. The same in a program read back from a compiled rule set.
    @Test func aRulesIndexClauseIsItsFirst() throws {
        let (rules, loaded) = try bundledRulesAndTheirCompiledCopy("index-clause")
        let loweredMatcher = CompiledMatcher(rules)
        let loadedMatcher = CompiledMatcher(loaded)
        withExtendedLifetime((loweredMatcher, loadedMatcher)) {   // they own the tables read here
            for p in [loweredMatcher.programPointer.pointee, loadedMatcher.programPointer.pointee] {
                // Per clause, its words; per public rule, the words it is indexed under.
                var wordsOfClause = [Set<Int>](repeating: [], count: p.clauseTotal)
                var indexedUnder = [Set<Int>](repeating: [], count: p.roots.count)
                for w in 0..<(p.clausesByWordStart.count - 1) {
                    for k in Int(p.clausesByWordStart[w])..<Int(p.clausesByWordStart[w + 1]) { wordsOfClause[Int(p.clausesByWord[k])].insert(w) }
                    for k in Int(p.rulesByWordStart[w])..<Int(p.rulesByWordStart[w + 1]) { indexedUnder[Int(p.rulesByWord[k])].insert(w) }
                }
                var checked = 0, several = 0
                for r in 0..<p.roots.count where !p.isPrivate[r] && p.clauseCount[r] > 0 {
                    let first = Int(p.clauseFirst[r])
                    let clauses = (first..<(first + Int(p.clauseCount[r]))).map { wordsOfClause[$0] }
                    #expect(indexedUnder[r] == clauses[0], "rule \(rules.rules[r].id) is indexed under its first clause")
                    #expect(clauses.allSatisfy { $0.count >= clauses[0].count }, "rule \(rules.rules[r].id): the first clause is the shortest")
                    checked += 1
                    if clauses.count > 1 { several += 1 }
                }
                #expect(checked > 300 && several > 30, "\(checked) indexed rules, \(several) of several clauses")
            }
        }
    }

    /// `Program.kidPrefilter`, what `nextKid` reads for each child of an `or` or `at_least`: its atom
    /// when it is a word list, its first clause (and whether it has more) when it is a regex with
    /// clauses, -1 for the rest; the same in a program read back from a compiled rule set as in one
    /// lowered from the rules. (`aRuleFiresExactlyWhenItsConditionHasOccurrences` checks that
    /// passing over children by it changes no outcome.)
    @Test func eachChildsPrefilterEntryNamesItsAtomOrClause() throws {
        let (rules, loaded) = try bundledRulesAndTheirCompiledCopy("kid-atoms")
        for set in [rules, loaded] {
            let matcher = CompiledMatcher(set)
            let p = matcher.programPointer.pointee
            #expect(p.kidPrefilter.count == p.kids.count)
            var words = 0, regexes = 0, severalClauses = 0, others = 0
            for j in 0..<p.kids.count {
                let n = p.nodes[Int(p.kids[j])]
                let a = Int(n.arg)
                let expected: Int32 = n.op != .atom ? -1 : p.atomIsWords[a] ? n.arg
                    : p.atomClauseCount[a] == 0 ? -1 : -2 - (p.atomClauseFirst[a] << 1 | (p.atomClauseCount[a] > 1 ? 1 : 0))
                #expect(p.kidPrefilter[j] == expected)
                if expected >= 0 { words += 1 } else if expected == -1 { others += 1 } else if (-2 - expected) & 1 == 0 { regexes += 1 } else { severalClauses += 1 }
            }
            #expect(words > 100 && regexes > 100 && severalClauses > 30 && others > 100,
                    "children: \(words) word lists, \(regexes) one-clause regexes, \(severalClauses) of several, \(others) others")
        }
    }

    /// `Program.ruledOutBy`: an atom names itself, an `or`/`at_least` of word lists names itself,
    /// and a rule, a scope, an `and` and a `near`/`then` name what their first part names (an
    /// `at_least` of other parts, a `not` and a `count` name nothing); the same in a program read
    /// back from a compiled rule set. A node the prefilter rules out through it is empty: every
    /// subset of four cues, with and without the prefilter, gives every rule the same occurrences.
    @Test func aNodeIsRuledOutThroughItsFirstPart() throws {
        let text = categoriesText + """
        private rule h { title "h" match any("甲", "乙") near(6) /丙|丁/ }
        rule a { title "a" score 1 match h and "丁" }
        rule b { title "b" score 1 match caller: (2 of ("甲", "乙", "丙") then "丁") }
        rule c { title "c" score 1 match not any("甲", "丁") and ("乙" or /丙/) }
        rule d { title "d" score 1 match all("甲", /乙/) or count("丙") >= 1 }
        rule e { title "e" score 1 match 3 of ("甲", "乙", "丙") near(8) h }
        """
        let reference = try scannerEngine(text, usePrefilter: false)
        for usePrefilter in [true, false] {
            let s = try scannerEngine(text, usePrefilter: usePrefilter)
            let p = s.matcher.programPointer.pointee
            func named(_ r: String) -> Int32 { p.roots[s.rules.rules.firstIndex { $0.id == r }!] }
            func kid(_ id: Int32, _ k: Int) -> Int32 { p.kids[Int(p.nodes[Int(id)].first) + k] }
            let h = named("h"), hAny = kid(h, 0)
            #expect(p.nodes[Int(hAny)].op == .atLeast && p.ruledOutBy[Int(hAny)] == hAny)
            #expect(p.ruledOutBy[Int(h)] == hAny)
            #expect(p.ruledOutBy[Int(named("a"))] == hAny, "a rule reference names its condition's")
            let b = named("b")
            #expect(p.ruledOutBy[Int(b)] == kid(kid(b, 0), 0), "a scope, then a `then`: its 2 of (…)")
            #expect(p.ruledOutBy[Int(named("c"))] == -1, "a `not` first: nothing")
            let d = named("d")
            #expect(p.ruledOutBy[Int(d)] == -1 && p.ruledOutBy[Int(kid(d, 0))] == -1, "an `or` of other parts, `all` of a regex")
            #expect(p.ruledOutBy[Int(kid(kid(d, 0), 0))] == kid(kid(d, 0), 0), "an atom names itself")
            for mask in 0..<16 {
                let cues = ["甲", "乙", "丙", "丁"].enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
                let t = cues.joined(separator: "和")
                let v = s.evaluate(s.prepare(message(t))), expected = reference.evaluate(reference.prepare(message(t)))
                #expect(v.hits.map(\.spans) == expected.hits.map(\.spans) && v.hits.map(\.ruleIndex) == expected.hits.map(\.ruleIndex), "\(t)")
            }
        }
        let (rules, loaded) = try bundledRulesAndTheirCompiledCopy("ruled-out")
        let loweredMatcher = CompiledMatcher(rules)
        let loadedMatcher = CompiledMatcher(loaded)
        withExtendedLifetime((loweredMatcher, loadedMatcher)) {   // they own the tables read here
            let lowered = loweredMatcher.programPointer.pointee, loaded = loadedMatcher.programPointer.pointee
            #expect(Array(lowered.ruledOutBy.buffer) == Array(loaded.ruledOutBy.buffer))
            #expect(lowered.ruledOutBy.count == lowered.nodes.count && lowered.ruledOutBy.buffer.filter { $0 >= 0 }.count > lowered.nodes.count / 2)
        }
    }

    /// A regex searched from its start anchors searches with its anchored twin: the worker does
    /// not fetch (and so JIT-compile) its own pattern, and finds the same matches as without
    /// the prefilter, which searches with the pattern itself.
    @Test func aRegexSearchedFromItsAnchorsIsNotFetched() throws {
        let text = categoriesText + """
        rule a { title "a" score 3 match /[王李]某{1,2}(?:在|到)/ }
        """
        let anchored = try scannerEngine(text, usePrefilter: true), reference = try scannerEngine(text, usePrefilter: false)
        let a = try #require(anchored.rules.atoms.indices.first { anchored.rules.atoms[$0].kind == .regex })
        for t in ["后来王某到了银行，李某某在家", "王某说", "您好，这里是客服中心"] {
            let v = anchored.evaluate(anchored.prepare(message(t))), expected = reference.evaluate(reference.prepare(message(t)))
            #expect(v.hits.map(\.spans) == expected.hits.map(\.spans) && !(t.hasPrefix("后来") && v.hits.isEmpty), "\(t)")
        }
        #expect(anchored.anchoredSearch(ofAtom: a) != nil)
        #expect(anchored.atomMatchers[a].patterns == nil, "searched by its twin only")
        #expect(reference.atomMatchers[a].patterns != nil)
    }

    // MARK: the prefilter and the parallel scanner

    // That the prefilter and the worker count change no verdict on the whole corpus is checked on
    // the release binary by scripts/equivalence.sh (`make test`); here, constructs of our own.

    @Test func prefilterOnAndOffAgreeOnEvasionsAndRegexes() throws {
        let text = categoriesText + """
        terms account = "安全账户", "国家账户", "安全账户里", "账户"
        rule a { title "a" category police score 2 match account near(8) "转账" }
        rule b { title "b" score 1 match /案件编号:?\\s*[a-z0-9]{6,}/ }
        rule c { title "c" score 1 match /转账\\d+元/ and not "退款" }
        rule d { title "d" score 1 match count(account) >= 2 }
        rule e { title "e" score 1 match caller: /验证码/ then "告诉我" }
        rule f { title "f" score 1 match "etc" or "ＡＰＰ" }
        rule g { title "g" score 1 match 2 of ("安全账户", "转账", /\\d{6}/) }
        rule h { title "h" score 1 match "ΑΡΡ下载" or "Σωτηρία" }
        """
        let on = try scannerEngine(text, usePrefilter: true)
        let off = try scannerEngine(text, usePrefilter: false)
        let texts = ["转账到安 全 账 户里", "案件编号: AB12345，转账500元", "国家帳戶转账1000元退款", "安全账户安全账户里账户",
                     "验证码请告诉我", "下载ETC和app", "安全账户123456", "", "\u{200B}", "转账",
                     "αρρ下载", "ΑΡΡ下载", "ΣΩΤΗΡΊΑ", "σωτηρία"]
        for t in texts {
            #expect(verdictFingerprint(on.screen(message(t)), on.rules) == verdictFingerprint(off.screen(message(t)), off.rules), "\(t)")
        }
        let call = phoneCall([("caller", "验证码"), ("callee", "告诉我什么"), ("caller", "告诉我验证码")])
        #expect(verdictFingerprint(on.screen(call), on.rules) == verdictFingerprint(off.screen(call), off.rules))
    }

    /// The prefilter takes from a regex the literals every match contains, as an AND/OR tree;
    /// quantifier counts, class members, escape codes, group references, parts that may repeat
    /// zero times and lookarounds are never required.
    @Test(arguments: [
        ("转账\\d{11}", "转账"), ("\\d{11}", "-"), ("[^]转账]元", "-"), ("[[:alpha:]转账]元钱", "元钱"),
        ("\\x41BC", "BC"), ("\\x{5b89}全部", "全部"), ("(?<n>安全)\\k<n>账户", "all(安全,账户)"), ("(安全)\\1234", "安全"),
        ("\\g{-1}安全", "安全"), ("\\cA转账", "转账"), ("\\Q转账\\E元钱", "元钱"), ("\\p{Han}{2}账户", "账户"),
        ("安全账户|转账", "any(安全账户,转账)"), ("安全账?户", "安全"), ("安全账+户", "安全账"), ("安全账{2,}户", "安全账"),
        ("安全账{0,3}户口", "all(安全,户口)"), ("(账户|账号)(异常|冻结)", "all(any(账户,账号),any(异常,冻结))"),
        ("(账户|账号|有)异常", "异常"), ("(账户|)异常", "异常"), ("(?:账户|账号)?异常", "异常"), ("(账户|账号)*", "-"),
        ("(?<!买家|卖家)(支付|付款)(?!成功)", "any(支付,付款)"), ("(?=安全)安全账户", "安全账户"), ("(?i)app下载", "app下载"),
        ("(?i:账户)异常", "all(账户,异常)"), ("(?#注释)转账", "转账"), ("(?|转账|汇款)到", "any(转账,汇款)"),
        ("转 账 # 安全账户", "安全账户"), ("(?(1)转账|汇款)", "-"), ("(?R)转账", "转账"), ("(*UTF)转账", "-"), ("转账{a", "转账"),
        ("转账)", "-"), ("(转账", "-"), ("转账++", "转账"), ("转账{1}{2}", "转账"),
        // What PCRE2 skips between an item and its quantifier, quoted class members, long counts.
        ("(?'n1'账户)冻结", "all(账户,冻结)"), ("安全(?#可选)?账户", "账户"), ("安全\\E?账户", "账户"),
        ("(ab)\\Q\\E{0}cd", "cd"), ("[\\Q]安全\\E]账户", "账户"), ("ab{0000000000000000000000000}zz", "zz"),
        ("[(?x)]ab cd", "all(ab,cd)"), ("(?x:转账)app store", "all(转账,app,store)"),
    ] as [(String, String)])
    func requirementOfARegex(pattern: String, expected: String) {
        #expect(render(RegexAtoms.requirement(pattern)) == expected, "\(pattern)")
    }

    @Test func extendedRegexesIgnoreSpaces() {
        #expect(render(RegexAtoms.requirement("转 账 \\d+ 元钱", extended: true)) == "all(转账,元钱)")
        #expect(render(RegexAtoms.requirement("(?x) 安 全 | 转 账")) == "any(安全,转账)")
        // `#` starts a comment to the end: its words are in no match.
        #expect(render(RegexAtoms.requirement("转 账 # 安全账户", extended: true)) == "-")
        // Option settings apply from where they are to the end of their group.
        #expect(render(RegexAtoms.requirement("(?-x)app store", extended: true)) == "all(app,store)")
        #expect(render(RegexAtoms.requirement("(?^)ab cd", extended: true)) == "all(ab,cd)")
        #expect(render(RegexAtoms.requirement("(?x:a b)c d", extended: false)) == "ab")
        #expect(render(RegexAtoms.requirement("\\\\(?x)app #安全账户")) == "-")
    }

    /// Randomised: whatever a regex is, every text it matches contains what its requirement
    /// asks for (the prefilter may run a regex needlessly, never skip one that matches).
    @Test func aRegexRequirementHoldsOnEveryTextTheRegexMatches() throws {
        var rng = SplitMix64(seed: 20261130)
        let chars = ["安", "全", "账", "户", "转", "a", "b", "1", " "]
        let quantifiers = ["", "", "", "?", "*", "+", "{0,2}", "{1,2}", "{2}", "??", "+?", "{1}", "{0}"]
        // What PCRE2 ignores between an item and its quantifier.
        let ignored = ["", "", "", "", "(?#c)", "\\E", "\\Q\\E"]
        var names = 0
        func item(_ depth: Int) -> String {
            switch rng.next() % (depth > 2 ? 5 : 13) {
            case 0, 1: return chars[Int(rng.next() % UInt64(chars.count))]
            case 2: return ["安全", "账户", "ab", "转账", "a b"][Int(rng.next() % 5)]
            case 3: return ["." , "[安全]", "\\d", "[^a]", "[\\Q]安\\E]"][Int(rng.next() % 5)]
            case 4: return ["(?x)", "(?-x)", "(?^)", "(?i)"][Int(rng.next() % 4)]
            case 5, 6: return "(" + alternation(depth + 1) + ")"
            case 7: return "(?:" + alternation(depth + 1) + ")"
            case 8: return "(?=" + alternation(depth + 1) + ")"
            case 9: return "(?!" + alternation(depth + 1) + ")"
            case 10: return "(?x:" + alternation(depth + 1) + ")"
            case 11:
                names += 1
                return ["(?'n\(names)'", "(?<n\(names)>", "(?P<n\(names)>"][Int(rng.next() % 3)] + alternation(depth + 1) + ")"
            default: return "(?-x:" + alternation(depth + 1) + ")"
            }
        }
        func sequence(_ depth: Int) -> String {
            (0..<(1 + Int(rng.next() % 4))).map { _ in
                item(depth) + ignored[Int(rng.next() % UInt64(ignored.count))] + quantifiers[Int(rng.next() % UInt64(quantifiers.count))]
            }.joined()
        }
        func alternation(_ depth: Int) -> String {
            (0..<(1 + Int(rng.next() % (depth == 0 ? 2 : 3)))).map { _ in sequence(depth) }.joined(separator: "|")
        }
        let scratch = MatchScratch()
        let pieces = chars + ["安全", "账户", "转账", "ab"]
        var checked = 0
        for round in 0..<20_000 {
            names = 0
            let source = alternation(0)
            let extended = round % 3 == 0   // the x flag
            guard let pattern = try? Pattern(source, options: extended ? [.caseless, .extended] : [.caseless]) else { continue }
            let requirement = RegexAtoms.requirement(source, extended: extended)
            guard requirement != .always else { continue }
            for _ in 0..<60 {
                let text = (0..<Int(rng.next() % 10)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
                let bytes = Array(text.utf8)
                let matched = bytes.withUnsafeBufferPointer { (try? pattern.firstMatch(in: $0, using: scratch)) ?? nil }
                guard matched != nil else { continue }
                checked += 1
                #expect(holds(requirement, text), "/\(source)/\(extended ? "x" : "") matches \(text) but requires \(render(requirement))")
            }
        }
        #expect(checked > 2000, "the generator exercises the extractor: \(checked) matches of regexes that need a literal")
    }

    private func render(_ r: LiteralRequirement) -> String {
        switch r {
        case .always: return "-"
        case .literal(let s): return s
        case .all(let xs): return "all(" + xs.map(render).joined(separator: ",") + ")"
        case .any(let xs): return "any(" + xs.map(render).joined(separator: ",") + ")"
        }
    }

    private func holds(_ r: LiteralRequirement, _ text: String) -> Bool {
        switch r {
        case .always: return true
        case .literal(let s): return text.lowercased().contains(s.lowercased())
        case .all(let xs): return xs.allSatisfy { holds($0, text) }
        case .any(let xs): return xs.contains { holds($0, text) }
        }
    }

    @Test func aRuleOfOnlyARegexGetsItsLiteralsAsItsPrefilter() throws {
        let text = categoriesText + """
        rule r { title "r" score 5 match /(账户|账号)[^,]{0,4}(异常|冻结)/ }
        """
        let on = try scannerEngine(text, usePrefilter: true)
        let off = try scannerEngine(text, usePrefilter: false)
        let r = try #require(on.rules.rules.first)
        #expect(r.requirement != .always)
        #expect(on.rules.words.contains("账号") && on.rules.words.contains("冻结"))
        for t in ["您的账号已异常", "账户被冻结", "异常", "账号", "帐号异常", "您的账 号异常"] {
            #expect(verdictFingerprint(on.screen(message(t)), on.rules) == verdictFingerprint(off.screen(message(t)), off.rules), "\(t)")
        }
        #expect(ruleIDs(on.screen(message("您的账号已异常")), on.rules) == ["r"])
    }

    @Test func regexesWithCountsClassesAndEscapesAreNotSkippedByThePrefilter() throws {
        let text = categoriesText + """
        rule n { title "n" score 5 match /\\d{11}/ }
        rule w { title "w" score 1 match "11" or "转账" }
        rule c { title "c" score 5 match /[^]转账]元/ }
        rule x { title "x" score 5 match /\\x41BC/ }
        rule y { title "y" score 1 match "bc" }
        """
        let on = try scannerEngine(text, usePrefilter: true)
        let off = try scannerEngine(text, usePrefilter: false)
        for t in ["打我电话13812345678", "给我100元", "代号ABC"] {
            let v = on.screen(message(t))
            #expect(verdictFingerprint(v, on.rules) == verdictFingerprint(off.screen(message(t)), off.rules), "\(t)")
            #expect(v.score >= 5, "\(t): \(ruleIDs(v, on.rules))")
        }
    }

    @Test func extendedRegexCommentsAreNotRequiredWords() throws {
        // With the x flag, `# …` is a comment: the words in it are not part of any match, so the
        // prefilter must not require them.
        let text = """
        rule words   { title "词" score 1 match "安全账户" }
        rule amount  { title "金额" score 6 match /转账 \\d+ 元 # 安全账户/x }
        """
        let on = try scannerEngine(text, usePrefilter: true)
        let off = try scannerEngine(text, usePrefilter: false)
        let m = message("请转账500元")
        #expect(ruleIDs(off.screen(m), off.rules) == ["amount"])
        #expect(ruleIDs(on.screen(m), on.rules) == ["amount"])
    }

    @Test func parallelScannerEqualsSequentialAndKeepsOrder() throws {
        let rules = try loadBundledRuleSet()
        // A slice of the corpus is enough for order, reuse and agreement (the whole corpus:
        // scripts/equivalence.sh on the release binary); calls and messages both.
        let corpus = try loadCorpusRecords()
        var records = Array(corpus.prefix(60)) + Array(corpus.filter(\.isCall).prefix(30))
        // Some extra records, unordered ids, duplicates and empties.
        records.append(Record(id: "empty", text: ""))
        records.append(contentsOf: records.prefix(20).enumerated().map { i, r in
            var copy = r
            copy.id = "copy-\(19 - i)"
            return copy
        })
        let sequential = try Engine(rules: rules)
        let expected = records.map { verdictFingerprint(sequential.screen($0), rules) }
        for threads in [1, 2, 5] {
            let parallel = try ParallelScanner(matcher: CompiledMatcher(rules), threads: threads)
            #expect(parallel.threads == threads)
            let verdicts = parallel.screen(records)
            #expect(verdicts.map(\.id) == records.map(\.id))
            #expect(verdicts.map { verdictFingerprint($0, rules) } == expected)
            // Scanning again reuses the workers: same answer.
            #expect(parallel.screen(records).map { verdictFingerprint($0, rules) } == expected)
        }
        let p = try ParallelScanner(matcher: CompiledMatcher(rules), threads: 3)
        #expect(p.screen([]).isEmpty)
        #expect(p.screen([records[0]]).map { verdictFingerprint($0, rules) } == [expected[0]])
    }

    /// A screener prepares each record in the memory of the last one when nothing holds that any
    /// more: the verdicts are a fresh screener's, and a prepared record still held is never touched.
    @Test func aPreparedRecordIsReusedOnlyWhenNothingHoldsIt() throws {
        let rules = try loadBundledRuleSet()
        let corpus = try loadCorpusRecords()
        // Calls and messages interleaved: a call's turns and sides must not reach the next record.
        let records = zip(corpus.filter(\.isCall).prefix(15), corpus.filter { !$0.isCall }.prefix(15)).flatMap { [$0, $1] }
        #expect(records.count == 30)
        let reused = try Engine(rules: rules)
        for r in records {
            let fresh = try reused.sibling()
            #expect(verdictFingerprint(reused.screen(r), rules) == verdictFingerprint(fresh.screen(r), rules), "\(r.id)")
        }
        weak var first: Engine.Prepared?
        first = reused.prepare(records[0])
        let second = reused.prepare(records[1])
        #expect(first === second)
        #expect(second.id == records[1].id && second.isCall == records[1].isCall && second.turnCount == records[1].turns.count)
        // `second` is held: the next record gets a new one, and `second` stays as it was.
        let third = reused.prepare(records[2])
        #expect(third !== second)
        #expect(second.id == records[1].id && second.isCall == records[1].isCall && second.turnCount == records[1].turns.count)
        #expect(third.id == records[2].id && third.turnCount == records[2].turns.count)
    }

    @Test func aReusedRecordRefillsItsTextsUnlessSomethingHoldsThem() throws {
        let rules = try loadBundledRuleSet()
        let calls = try loadCorpusRecords().filter(\.isCall).prefix(3)
        let engine = try Engine(rules: rules)
        let fresh = try engine.sibling()
        let texts: [ObjectIdentifier], held: NormalisedText
        do {
            let first = engine.prepare(calls[calls.startIndex])
            texts = first.turns.map { ObjectIdentifier($0.text) }
            held = first.turns[0].text
        }
        let heldBytes = held.bytes
        let p = engine.prepare(calls[calls.startIndex + 1])
        // Every text but the held one was refilled for the next record's turns (up to its count).
        let reused = Set(p.turns.map { ObjectIdentifier($0.text) }).intersection(texts)
        #expect(reused.count == min(texts.count - 1, p.turns.count))
        #expect(!reused.contains(ObjectIdentifier(held)))
        #expect(held.bytes == heldBytes)
        // The refilled texts are what a fresh screener makes.
        let other = fresh.prepare(calls[calls.startIndex + 1])
        for (a, b) in zip(p.turns, other.turns) {
            #expect(a.text.bytes == b.text.bytes && a.text.originStart == b.text.originStart)
            #expect((0...a.text.bytes.count).allSatisfy { a.text.normalisedScalarOffset(ofByte: $0) == b.text.normalisedScalarOffset(ofByte: $0) })
            #expect(a.text.scalarCount == b.text.scalarCount && a.text.originalScalarCount == b.text.originalScalarCount)
        }
    }

    @Test func aReusedRecordWritesItsWordHitsInTheLastOnesArrays() throws {
        let rules = try loadBundledRuleSet()
        let records = try loadCorpusRecords()
        let calls = records.filter(\.isCall).prefix(2), messages = records.filter { !$0.isCall }.prefix(2)
        let engine = try Engine(rules: rules)
        let fresh = try engine.sibling()
        func buffers(_ p: Engine.Prepared) -> [UnsafeRawPointer?] {
            p.turns.filter { $0.wordHits.capacity > 0 }.map { $0.wordHits.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } }
        }
        for (first, next) in [(calls[calls.startIndex], calls[calls.startIndex + 1]), (messages[messages.startIndex], messages[messages.startIndex + 1]),
                              (calls[calls.startIndex], messages[messages.startIndex])] {
            _ = engine.prepare(first)
            // The hits are what a fresh screener finds.
            let p = engine.prepare(next), other = fresh.prepare(next)
            for (a, b) in zip(p.turns, other.turns) { #expect(a.wordHits.elementsEqual(b.wordHits) { $0 == $1 }) }
        }
        // A message with words prepared again: its hits fit in the array it had, which is refilled.
        let message = try #require(records.first { !$0.isCall && !engine.prepare($0).turns[0].wordHits.isEmpty })
        let kept = buffers(engine.prepare(message))
        #expect(kept.count == 1 && buffers(engine.prepare(message)) == kept)
    }

    @Test func aMessagesScalarBitsAreWrittenWithItsText() throws {
        let rules = try loadBundledRuleSet()
        let records = try loadCorpusRecords()
        let engine = try Engine(rules: rules)
        let message = try #require(records.first { !$0.isCall }), call = try #require(records.first { $0.isCall && $0.turns.count > 1 })
        let expected = UnsafeMutablePointer<UInt64>.allocate(capacity: ScalarBits.words)
        defer { expected.deallocate() }
        let p = engine.prepare(message)
        let bits = try #require(p.messageScalarBits)
        p.turns[0].text.bytes.withUnsafeBufferPointer { ScalarBits.fill(expected, from: $0) }
        #expect((0..<ScalarBits.words).allSatisfy { bits[$0] == expected[$0] })
        // A call's turns have none: an evaluation makes a turn's when it asks.
        #expect(engine.prepare(call).messageScalarBits == nil)
    }
}
