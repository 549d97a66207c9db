import Foundation
import Testing
@testable import Fanzha

// The rules language, construct by construct: the syntax tree the parser builds, and where it
// matters what the compiled rule does on real text (through RuleScanner).

@Suite struct ParserTests {

    // MARK: declarations

    @Test func levelsDeclaration() throws {
        let (f, ds) = parseRules("levels low 2, medium 5, high 9\n")
        #expect(ds.isEmpty)
        #expect(f.declarations.count == 1)
        guard case .levels(let l) = try #require(f.declarations.first) else { Issue.record("not levels"); return }
        #expect((l.low, l.medium, l.high) == (2, 5, 9))

        // Any order of the three; the compiled rule set uses them.
        let r = compileRules("levels high 9, low 2, medium 5\n" + ruleText("r", match: "\"安全账户\"", extra: "  score 5\n"))
        let rules = try #require(r.ruleSet)
        #expect(rules.levels == Levels(low: 2, medium: 5, high: 9))
        let s = try RuleScanner(rules: rules)
        #expect(s.screen(Record(id: "1", text: "转到安全账户")).level == .medium)
        #expect(s.screen(Record(id: "2", text: "你好")).level == Level.none)
    }

    @Test func defaultLevelsWithoutDeclaration() throws {
        let r = compileRules(ruleText("r", match: "\"安全账户\"", extra: "  score 6\n"))
        let rules = try #require(r.ruleSet)
        #expect(rules.levels == Levels.defaults)
        #expect(rules.levels == Levels(low: 3, medium: 6, high: 10))
        #expect(try RuleScanner(rules: rules).screen(Record(id: "1", text: "安全账户")).level == .medium)
    }

    @Test func categoryWithAllFields() throws {
        let text = """
        category police {
          title "冒充公检法"
          description "骗子冒充公安，称你涉嫌洗钱。"
          advice "公检法不会电话办案，请挂断。"
          script "您好，这里是96110反诈中心。"
          labels "冒充公检法及政府机关类", "冒充公检法"
        }
        """
        let (f, ds) = parseRules(text)
        #expect(ds.isEmpty)
        guard case .category(let c) = try #require(f.declarations.first) else { Issue.record("not a category"); return }
        #expect(c.id.value == "police")
        #expect(c.title?.value == "冒充公检法")
        #expect(c.description?.value == "骗子冒充公安，称你涉嫌洗钱。")
        #expect(c.advice?.value == "公检法不会电话办案，请挂断。")
        #expect(c.script?.value == "您好，这里是96110反诈中心。")
        #expect(c.labels?.value.map(\.value) == ["冒充公检法及政府机关类", "冒充公检法"])
        // Ranges are scalar offsets: the id starts at column 10 of line 1.
        let src = SourceFile(path: "t", text: text)
        #expect(src.lineColumn(c.id.range.start) == (1, 10))
        #expect(src.text(c.title!.range.start..<c.title!.range.end) == "\"冒充公检法\"")

        let r = compileRules(text + "\n" + ruleText("r", match: "\"安全账户\"", extra: "  category police\n  score 4\n  hit \"安全账户\"\n  miss \"你好\"\n"))
        let rules = try #require(r.ruleSet)
        let cat = try #require(rules.categories.first)
        #expect(cat.id == "police")
        #expect(cat.title == "冒充公检法")
        #expect(cat.description == "骗子冒充公安，称你涉嫌洗钱。")
        #expect(cat.advice == "公检法不会电话办案，请挂断。")
        #expect(cat.script == "您好，这里是96110反诈中心。")
        #expect(cat.labels == ["冒充公检法及政府机关类", "冒充公检法"])
        let v = try RuleScanner(rules: rules).screen(Record(id: "1", text: "转到安全账户"))
        #expect(v.categoryIndex == 0)
        #expect(v.advice == "公检法不会电话办案，请挂断。")
        #expect(v.referral?.script == "您好，这里是96110反诈中心。")
    }

    @Test func termsDeclaration() throws {
        // A list may continue on the next line after a comma.
        let text = "terms authority = \"公安局\", \"派出所\",\n  \"检察院\"\n"
        let (f, ds) = parseRules(text)
        #expect(ds.isEmpty)
        guard case .terms(let t) = try #require(f.declarations.first) else { Issue.record("not terms"); return }
        #expect(t.name.value == "authority")
        #expect(t.terms.map(\.value) == ["公安局", "派出所", "检察院"])

        let s = try makeScanner(text + ruleText("r", match: "authority", extra: "  hit \"检察院\"\n  miss \"你好\"\n"))
        #expect(fires(s, "r", "我是检察院的"))
        #expect(fires(s, "r", "我是派出所的"))
        #expect(!fires(s, "r", "我是法院的"))
        // The term list is one atom of normalised words, longest first.
        let atom = try #require(s.rules.atoms.first { $0.display == "authority" })
        #expect(atom.kind == .words)
        #expect(Set(atom.words) == ["公安局", "派出所", "检察院"])
    }

    @Test func ruleWithEveryField() throws {
        let text = """
        rule police.accuse {
          title    "自称公检法并指控涉嫌犯罪"
          category police
          score    4
          status   experimental
          tags     authority, money_request
          allow    no_examples, short_literal
          match    "公安局" near(40) "洗钱"
          hit      "我是公安局的，你涉嫌洗钱"
          hit      call "caller: 我是公安局的\\ncallee: 什么事\\ncaller: 你涉嫌洗钱"
          miss     "公安局提醒：谨防洗钱诈骗"
          miss     call "callee: 公安局在哪\\ncaller: 不知道"
        }
        """
        let (f, ds) = parseRules(text)
        #expect(ds.isEmpty)
        let r = try #require(ruleDecls(f).first)
        #expect(r.id.value == "police.accuse")
        #expect(!r.isPrivate)
        #expect(r.title?.value == "自称公检法并指控涉嫌犯罪")
        #expect(r.category?.value.value == "police")
        #expect(r.score?.value == 4)
        #expect(r.status?.value == .experimental)
        #expect(r.tags?.value.map(\.value) == ["authority", "money_request"])
        #expect(r.allow?.value.map(\.value) == ["no_examples", "short_literal"])
        #expect(r.match.map { sexpr($0.value) } == "(near40 \"公安局\" \"洗钱\")")
        #expect(r.hits.map(\.text) == ["我是公安局的，你涉嫌洗钱", "caller: 我是公安局的\ncallee: 什么事\ncaller: 你涉嫌洗钱"])
        #expect(r.hits.map(\.isCall) == [false, true])
        #expect(r.misses.map(\.text) == ["公安局提醒：谨防洗钱诈骗", "callee: 公安局在哪\ncaller: 不知道"])
        #expect(r.misses.map(\.isCall) == [false, true])
    }

    @Test func compiledRuleFieldsAndDefaults() throws {
        let text = """
        category police {
          title "冒充公检法"
          advice "挂断"
          script "您好"
        }
        rule a {
          title "甲"
          category police
          score 4
          status experimental
          tags authority, money_request
          match "公安局"
          hit "公安局"
          miss "你好"
        }
        rule b {
          title "乙"
          match "派出所"
          hit "派出所"
          miss "你好"
        }
        """
        let r = compileRules(text)
        #expect(r.diagnostics.isEmpty)
        let rules = try #require(r.ruleSet)
        let a = try #require(rules.rule(named: "a").map { rules.rules[$0] })
        #expect(a.title == "甲")
        #expect(a.category == 0)
        #expect(a.score == 4)
        #expect(a.status == .experimental)
        #expect(a.tags == ["authority", "money_request"])
        #expect(a.hasTag("authority"))
        #expect(a.hits.map(\.text) == ["公安局"])
        #expect(a.misses.map(\.text) == ["你好"])
        let b = try #require(rules.rule(named: "b").map { rules.rules[$0] })
        #expect(b.score == 1)          // default
        #expect(b.status == .stable)   // default
        #expect(b.category == nil)
        #expect(b.tags.isEmpty)
    }

    @Test func negativeScore() throws {
        let text = ruleText("scam", match: "\"安全账户\"", extra: "  score 7\n")
            + ruleText("benign", match: "\"反诈中心提醒\"", extra: "  score -5\n")
        let (f, ds) = parseRules(text)
        #expect(ds.isEmpty)
        #expect(ruleDecls(f).map { $0.score?.value } == [7, -5])
        let s = try makeScanner(text)
        #expect(s.rules.rules.map(\.score) == [7, -5])
        let v = s.screen(Record(id: "1", text: "反诈中心提醒：不存在安全账户"))
        #expect(v.score == 2)           // 7 + (-5)
        #expect(v.hits.count == 2)
        #expect(v.level == Level.none)   // below low (3)
        #expect(s.screen(Record(id: "2", text: "转到安全账户")).level == .medium)
    }

    @Test func callExampleIsParsedAsTurns() throws {
        let text = ruleText("r", match: "caller: \"安全账户\"",
                            extra: "  hit call \"来电: 把钱转到安全账户\\n本人: 好的\"\n  miss call \"本人: 我的安全账户\\n来电: 是吗\"\n")
        let r = compileRules(text)
        #expect(r.errors.isEmpty)
        let rules = try #require(r.ruleSet)
        #expect(rules.rules[0].hits.first?.isCall == true)
        let report = ExampleRunner.run(rules, screener: try RuleScanner(rules: rules))
        #expect(report.passed == 2)
        #expect(report.failures.isEmpty)
    }

    @Test func privateRule() throws {
        let text = """
        private rule _transfer {
          title "转账"
          match any("转账", "汇款")
        }
        rule safe {
          title "安全账户转账"
          score 5
          match _transfer and "安全账户"
          hit "转账到安全账户"
          miss "安全账户"
        }
        """
        let (f, ds) = parseRules(text)
        #expect(ds.isEmpty)
        #expect(ruleDecls(f).map(\.isPrivate) == [true, false])
        #expect(ruleDecls(f).map(\.id.value) == ["_transfer", "safe"])

        let s = try makeScanner(text)
        let priv = try #require(s.rules.rule(named: "_transfer"))
        #expect(s.rules.rules[priv].isPrivate)
        #expect(s.rules.rules[priv].score == 0)
        // It fires on its own, but never shows as a hit and never scores.
        #expect(s.fires(rule: priv, on: Record(id: "1", text: "请汇款")) != nil)
        let alone = s.screen(Record(id: "1", text: "请汇款"))
        #expect(alone.hits.isEmpty)
        #expect(alone.score == 0)
        let both = s.screen(Record(id: "2", text: "请汇款到安全账户"))
        #expect(both.hits.map { $0.rule } == ["safe"])
        #expect(both.score == 5)
    }

    @Test func declarationsInAnyOrderAndAcrossFiles() throws {
        // A name may be used before it is declared, and in another file of the same rule set.
        let a = ruleText("r", match: "money and _helper", extra: "  hit \"转账到安全账户\"\n  miss \"你好\"\n")
        let b = "terms money = \"转账\", \"汇款\"\nprivate rule _helper {\n  title \"帮助\"\n  match \"安全账户\"\n}\n"
        let r = RuleCompiler.compile(files: [("a.fz", Data(a.utf8)), ("b.fz", Data(b.utf8))])
        #expect(r.diagnostics.isEmpty)
        let rules = try #require(r.ruleSet)
        let s = try RuleScanner(rules: rules)
        #expect(fires(s, "r", "汇款到安全账户"))
        #expect(!fires(s, "r", "汇款"))
    }

    // MARK: expression forms: the tree

    @Test func literal() {
        #expect(shape("\"安全账户\"") == "\"安全账户\"")
        // Escapes are decoded into the literal's value.
        #expect(shape(#""安全\u{200B}账户""#) == "\"安全\u{200B}账户\"")
        #expect(shape(#""他说\"转账\"\\""#) == "\"他说\"转账\"\\\"")
    }

    @Test func regexWithFlags() {
        #expect(shape(#"/案件编号:?\s*[a-z0-9]{6,}/"#) == #"/案件编号:?\s*[a-z0-9]{6,}/"#)
        #expect(shape("/验证码.*告诉我/sx") == "/验证码.*告诉我/sx")
        // `\/` is a slash inside the regex; other escapes are kept for PCRE2.
        #expect(shape(#"/网址\/[a-z]+\d/"#) == #"/网址/[a-z]+\d/"#)
    }

    @Test func names() {
        #expect(shape("authority") == "authority")
        #expect(shape("police.safe_account") == "police.safe_account")
        // A trailing dot is not part of a name.
        let (e, ds) = parseMatch("_transfer.")
        #expect(e.map(sexpr) == "_transfer")
        #expect(ds.map(\.id.rawValue) == ["unexpected-character"])
    }

    @Test func andOrNot() {
        #expect(shape("\"甲方\" and \"乙方\" and \"丙方\"") == "(and \"甲方\" \"乙方\" \"丙方\")")
        #expect(shape("\"甲方\" or \"乙方\" or \"丙方\"") == "(or \"甲方\" \"乙方\" \"丙方\")")
        #expect(shape("not \"提醒\"") == "(not \"提醒\")")
        #expect(shape("not not \"提醒\"") == "(not (not \"提醒\"))")
    }

    @Test func anyAllAndNOf() {
        #expect(shape("any(\"保密\", \"不要告诉\")") == "(any \"保密\" \"不要告诉\")")
        #expect(shape("all(\"保密\", \"不要告诉\", \"家人\")") == "(all \"保密\" \"不要告诉\" \"家人\")")
        #expect(shape("2 of (authority, crime, \"安全账户\")") == "(2-of authority crime \"安全账户\")")
        // Items are full expressions.
        #expect(shape("any(\"甲方\" and \"乙方\", not \"丙方\")") == "(any (and \"甲方\" \"乙方\") (not \"丙方\"))")
        guard case .atLeast(let n, let xs, .all)? = parseMatch("all(\"甲方\", \"乙方\", \"丙方\")").expr?.kind else {
            Issue.record("all(…) is not atLeast"); return
        }
        #expect(n == 3 && xs.count == 3)   // `all` is `count of`
        guard case .atLeast(1, _, .any)? = parseMatch("any(\"甲方\", \"乙方\")").expr?.kind else {
            Issue.record("any(…) is not 1 of"); return
        }
    }

    @Test func nearForms() {
        #expect(shape("authority near(40) crime") == "(near40 authority crime)")
        #expect(shape("authority near(0) crime") == "(near0 authority crime)")
        #expect(shape("authority near(2 turns) crime") == "(near2t authority crime)")
        #expect(shape("authority near(1 turn) crime") == "(near1t authority crime)")
    }

    @Test func thenForms() {
        #expect(shape("\"验证码\" then \"告诉我\"") == "(then \"验证码\" \"告诉我\")")
        #expect(shape("\"验证码\" then(10) \"告诉我\"") == "(then10 \"验证码\" \"告诉我\")")
        #expect(shape("\"验证码\" then (10) \"告诉我\"") == "(then10 \"验证码\" \"告诉我\")")
        // A parenthesised right side is not a gap.
        #expect(shape("\"验证码\" then (\"告诉我\" or \"发给我\")") == "(then \"验证码\" (or \"告诉我\" \"发给我\"))")
        #expect(shape("\"验证码\" then(\"告诉我\")") == "(then \"验证码\" \"告诉我\")")
        #expect(shape("\"验证码\" then (2 of (\"告诉我\", \"发给我\", \"念一下\"))") == "(then \"验证码\" (2-of \"告诉我\" \"发给我\" \"念一下\"))")
        #expect(shape("\"验证码\" then(3) (\"告诉我\" or \"发给我\")") == "(then3 \"验证码\" (or \"告诉我\" \"发给我\"))")
        #expect(shape("\"验证码\" then(3 \"告诉我\"") == "<error: expected `)` to close `then(…)`, found a string>")
    }

    @Test func countComparisons() {
        #expect(shape("count(money) >= 2") == "(count>=2 money)")
        #expect(shape("count(money) > 2") == "(count>2 money)")
        #expect(shape("count(money) == 2") == "(count==2 money)")
        #expect(shape("count(money) <= 2") == "(count<=2 money)")
        #expect(shape("count(money) < 2") == "(count<2 money)")
        #expect(shape("count(\"转账\" or \"汇款\") >= 3") == "(count>=3 (or \"转账\" \"汇款\"))")
        // A bare `=` is not a comparison.
        #expect(shape("count(money) = 2").hasPrefix("<error: expected a comparison after `count(…)`"))
    }

    @Test func speakerScopes() {
        #expect(shape("caller: \"安全账户\"") == "(caller \"安全账户\")")
        #expect(shape("callee: \"安全账户\"") == "(callee \"安全账户\")")
        #expect(shape("caller: (authority near(20) crime)") == "(caller (near20 authority crime))")
        #expect(shape("caller: callee: \"安全账户\"") == "(caller (callee \"安全账户\"))")
        // `caller` without a colon is just a name.
        #expect(shape("caller and \"转账\"") == "(and caller \"转账\")")
    }

    @Test func precedence() {
        // or < and < not, caller:/callee: < near/then (left to right).
        #expect(shape("a or b and c") == "(or a (and b c))")
        #expect(shape("a and b or c") == "(or (and a b) c)")
        #expect(shape("not a near(5) b") == "(not (near5 a b))")
        #expect(shape("not a and b") == "(and (not a) b)")
        #expect(shape("not a or b") == "(or (not a) b)")
        #expect(shape("caller: a near(3) b") == "(caller (near3 a b))")
        #expect(shape("caller: a and b") == "(and (caller a) b)")
        #expect(shape("caller: not a") == "(caller (not a))")
        #expect(shape("a near(5) b near(6) c") == "(near6 (near5 a b) c)")
        #expect(shape("a then b near(2) c") == "(near2 (then a b) c)")
        #expect(shape("a near(2) b then(3) c") == "(then3 (near2 a b) c)")
        #expect(shape("a and b near(1) c or not d") == "(or (and a (near1 b c)) (not d))")
    }

    @Test func parentheses() {
        #expect(shape("(a or b) and c") == "(and (or a b) c)")
        #expect(shape("a and (b or c)") == "(and a (or b c))")
        #expect(shape("not (a and b)") == "(not (and a b))")
        #expect(shape("(not a) near(5) b") == "(near5 (not a) b)")
        #expect(shape("a near(5) (b near(6) c)") == "(near5 a (near6 b c))")
        #expect(shape("a or (b or c)") == "(or a (or b c))")
        #expect(shape("((((\"安全账户\"))))") == "\"安全账户\"")
    }

    @Test func expressionRanges() throws {
        // A node's range covers its source text (scalar offsets, Chinese counts one each).
        let text = ruleText(match: "\"安全账户\" near(5) crime or any(\"汇款\")")
        let src = SourceFile(path: "t", text: text)
        let (f, _) = parseRules(text)
        let e = try #require(ruleDecls(f).first?.match?.value)
        #expect(src.text(e.range.start..<e.range.end) == "\"安全账户\" near(5) crime or any(\"汇款\")")
        guard case .or(let xs) = e.kind else { Issue.record("not or"); return }
        #expect(src.text(xs[0].range.start..<xs[0].range.end) == "\"安全账户\" near(5) crime")
        #expect(src.text(xs[1].range.start..<xs[1].range.end) == "any(\"汇款\")")
        #expect(src.lineColumn(xs[1].range.start) == (3, 33))
    }

    // MARK: expression forms: what they do

    @Test func literalMatchesNormalisedTextWithSpansInOriginal() throws {
        let s = try makeScanner(ruleText("r", match: "\"安全账户\""))
        // Traditional characters, variants, separators and zero-width characters.
        for text in ["安全账户", "安全帳戶", "安全帐户", "安 全 账 户", "安-全-账-户", "安\u{200B}全账户"] {
            #expect(fires(s, "r", text), "\(text)")
        }
        #expect(!fires(s, "r", "安全帐号"))
        // Evidence is in the original text, in Unicode scalars (the emoji is one scalar).
        let text = "😀请转到安 全 账 户里"
        let spans = try #require(fires(s, "r", Record(id: "1", text: text)))
        #expect(spans == [EvidenceSpan(turn: nil, start: 4, end: 11, text: "安 全 账 户")])
        let v = s.screen(Record(id: "1", text: text))
        #expect(v.hits.first?.spans == spans)
    }

    @Test func regexFlagsBehave() throws {
        let text = ruleText("plain", match: "/验证码.*告诉我/")
            + ruleText("dotall", match: "/验证码.*告诉我/s")
            + ruleText("extended", match: "/验证 码 \\d{4}/x")
            + ruleText("caseless", match: "/下载app/")
        let s = try makeScanner(text)
        #expect(fires(s, "plain", "把验证码马上告诉我"))
        // (A bare line break between two Han characters is dropped by the normaliser; after
        // sentence punctuation between longer runs it is kept.)
        #expect(!fires(s, "plain", "把验证码：\n马上告诉我"))
        #expect(fires(s, "dotall", "把验证码：\n马上告诉我"))
        #expect(fires(s, "extended", "验证码1234"))
        #expect(!fires(s, "extended", "验证码12"))
        #expect(fires(s, "caseless", "请下载APP"))
        let spans = try #require(fires(s, "plain", Record(id: "1", text: "请把验证码马上告诉我吧")))
        #expect(spans.map(\.text) == ["验证码马上告诉我"])
        #expect(spans.map(\.start) == [2])
    }

    @Test func namesOfTermsAndRules() throws {
        let text = """
        terms money = "转账", "汇款"
        rule base {
          title "基础"
          match money
        }
        rule ref {
          title "引用"
          match base and "安全账户"
        }
        """
        let s = try makeScanner(text)
        #expect(fires(s, "base", "请汇款"))
        #expect(!fires(s, "base", "安全账户"))
        #expect(fires(s, "ref", "汇款到安全账户"))
        #expect(!fires(s, "ref", "安全账户"))
        #expect(!fires(s, "ref", "汇款"))
        // A rule reference's evidence is the referenced rule's evidence plus the rest.
        let spans = try #require(fires(s, "ref", Record(id: "1", text: "汇款到安全账户")))
        #expect(spans.map(\.text) == ["汇款", "安全账户"])
    }

    @Test func andOrNotBehave() throws {
        let text = ruleText("both", match: "\"安全账户\" and \"转账\"")
            + ruleText("either", match: "\"安全账户\" or \"转账\"")
            + ruleText("without", match: "\"安全账户\" and not \"提醒\"")
        let s = try makeScanner(text)
        #expect(fires(s, "both", "转账到安全账户"))
        #expect(!fires(s, "both", "安全账户"))
        #expect(fires(s, "either", "安全账户"))
        #expect(fires(s, "either", "转账"))
        #expect(!fires(s, "either", "你好"))
        #expect(fires(s, "without", "安全账户"))
        #expect(!fires(s, "without", "提醒：没有安全账户"))
        // `not` contributes no evidence.
        let spans = try #require(fires(s, "without", Record(id: "1", text: "这是安全账户")))
        #expect(spans.map(\.text) == ["安全账户"])
    }

    @Test func anyAllOfBehave() throws {
        let text = ruleText("any", match: "any(\"保密\", \"不要告诉\")")
            + ruleText("all", match: "all(\"保密\", \"不要告诉\")")
            + ruleText("two", match: "2 of (\"公安局\", \"洗钱\", \"安全账户\")")
        let s = try makeScanner(text)
        #expect(fires(s, "any", "这件事要保密"))
        #expect(!fires(s, "any", "你好"))
        #expect(fires(s, "all", "要保密，不要告诉家人"))
        #expect(!fires(s, "all", "要保密"))
        #expect(fires(s, "two", "公安局说你洗钱"))
        #expect(fires(s, "two", "洗钱的钱转到安全账户"))
        #expect(!fires(s, "two", "公安局公安局公安局"))   // the same one three times is one
    }

    @Test func nearBehaves() throws {
        let s = try makeScanner(ruleText("r", match: "\"安全\" near(3) \"账户\""))
        #expect(fires(s, "r", "安全账户"))
        #expect(fires(s, "r", "安全的那个账户"))       // 3 characters apart
        #expect(!fires(s, "r", "安全的那个大账户"))     // 4
        #expect(fires(s, "r", "账户很安全"))           // either order
        #expect(fires(s, "r", "安全的那 个 账户"))     // spaces between Chinese do not count
        // Calls: characters only within one turn.
        #expect(fires(s, "r", call("caller: 安全\ncallee: 账户")) == nil)
    }

    @Test func nearTurnsBehaves() throws {
        let s = try makeScanner(ruleText("r", match: "\"公安局\" near(1 turns) \"洗钱\""))
        #expect(fires(s, "r", call("caller: 我是公安局的\ncallee: 什么事\ncaller: 你涉嫌洗钱")) == nil)
        let spans = try #require(fires(s, "r", call("caller: 我是公安局的\ncallee: 你说洗钱？")))
        #expect(spans == [EvidenceSpan(turn: 0, start: 2, end: 5, text: "公安局"),
                          EvidenceSpan(turn: 1, start: 2, end: 4, text: "洗钱")])
        #expect(fires(s, "r", call("caller: 公安局说你洗钱")) != nil)   // same turn: 0 apart
    }

    @Test func thenBehaves() throws {
        let text = ruleText("then", match: "\"验证码\" then \"告诉我\"")
            + ruleText("gap", match: "\"验证码\" then(2) \"告诉我\"")
        let s = try makeScanner(text)
        #expect(fires(s, "then", "验证码快告诉我"))
        #expect(!fires(s, "then", "告诉我验证码"))
        #expect(fires(s, "gap", "验证码快快告诉我"))
        #expect(!fires(s, "gap", "验证码快快快告诉我"))
        // In a call, `then` crosses turns; `then(N)` does not.
        let c = call("caller: 你收到验证码了吗\ncallee: 收到了\ncaller: 告诉我")
        #expect(fires(s, "then", c) != nil)
        #expect(fires(s, "gap", c) == nil)
        #expect(fires(s, "then", call("caller: 告诉我\ncallee: 验证码是多少")) == nil)
    }

    @Test func countBehaves() throws {
        let text = ruleText("ge", match: "count(\"转账\") >= 2")
            + ruleText("gt", match: "count(\"转账\") > 2")
            + ruleText("eq", match: "count(\"转账\") == 1")
            + ruleText("le", match: "\"汇款\" and count(\"转账\") <= 1")
            + ruleText("lt", match: "\"汇款\" and count(\"转账\") < 1")
        let s = try makeScanner(text)
        let one = "请转账", two = "转账，再转账", three = "转账转账转账"
        #expect([one, two, three].map { fires(s, "ge", $0) } == [false, true, true])
        #expect([one, two, three].map { fires(s, "gt", $0) } == [false, false, true])
        #expect([one, two, three].map { fires(s, "eq", $0) } == [true, false, false])
        #expect(["汇款", "汇款" + one, "汇款" + two].map { fires(s, "le", $0) } == [true, true, false])
        #expect(["汇款", "汇款" + one].map { fires(s, "lt", $0) } == [true, false])
        // Evidence of a count is every occurrence it counted.
        let spans = try #require(fires(s, "ge", Record(id: "1", text: two)))
        #expect(spans.map(\.start) == [0, 4])
    }

    @Test func speakerScopesBehave() throws {
        let text = ruleText("caller", match: "caller: \"安全账户\"") + ruleText("callee", match: "callee: \"安全账户\"")
        let s = try makeScanner(text)
        let fromCaller = call("来电: 把钱转到安全账户\n本人: 好的")
        let fromCallee = call("来电: 你好\n本人: 什么是安全账户")
        #expect(fires(s, "caller", fromCaller) != nil)
        #expect(fires(s, "callee", fromCaller) == nil)
        #expect(fires(s, "caller", fromCallee) == nil)
        #expect(fires(s, "callee", fromCallee) != nil)
        // A message is all the caller's.
        #expect(fires(s, "caller", "转到安全账户"))
        #expect(!fires(s, "callee", "转到安全账户"))
    }

    @Test func precedenceBehaves() throws {
        // `not a near(5) b` is `not (a near(5) b)`: fires when a and b are far apart.
        let s = try makeScanner(ruleText("r", match: "\"安全\" and not \"安全\" near(2) \"账户\""))
        #expect(fires(s, "r", "安全的很远很远的账户"))
        #expect(!fires(s, "r", "安全账户"))
        // `a or b and c` is `a or (b and c)`.
        let t = try makeScanner(ruleText("r", match: "\"公安局\" or \"洗钱\" and \"安全账户\""))
        #expect(fires(t, "r", "公安局"))
        #expect(!fires(t, "r", "洗钱"))
        #expect(fires(t, "r", "洗钱安全账户"))
    }
}
