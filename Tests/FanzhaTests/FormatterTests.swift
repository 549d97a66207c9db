import Foundation
import Testing
@testable import Fanzha

// `fanzha fmt`: one canonical layout, idempotent, every comment kept, the same rules after.

private func fmt(_ text: String, path: String = "test.fz", sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let (out, ds, _) = RuleFormatter.format(path: path, text: text)
    #expect(ds.isEmpty, "\(ds.map(\.message))", sourceLocation: sourceLocation)
    return try #require(out, sourceLocation: sourceLocation)
}

/// The `#` comments of a text, as the lexer sees them (a `#` inside a string is not one), less
/// the `# uses:` lines fmt writes itself.
private func comments(_ text: String) -> [String] {
    var lexer = Lexer(file: 0, source: SourceFile(path: "t", text: text))
    return lexer.tokenize().flatMap { $0.leadingComments + ($0.trailingComment.map { [$0] } ?? []) }
        .filter { !$0.hasPrefix("# uses: ") }
}

/// Everything a compiled rule set says about its rules, as comparable text.
private func summary(_ rules: RuleSet) -> [String] {
    rules.rules.map { r in
        [r.id, r.title, r.category.map { rules.categories[$0].id } ?? "-", String(r.score), r.status.rawValue,
         r.tags.joined(separator: ","), String(r.isPrivate), r.hits.map { "\($0.isCall)\($0.text)" }.joined(separator: "|"),
         r.misses.map { "\($0.isCall)\($0.text)" }.joined(separator: "|")].joined(separator: " ")
    } + rules.categories.map { [$0.id, $0.title, $0.description, $0.advice, $0.script, $0.labels.joined(separator: ",")].joined(separator: " ") }
}

/// What a scanner says about a text, as comparable text.
private func verdictSummary(_ s: RuleScanner, _ record: Record) -> String {
    let v = s.screen(record)
    let hits = v.hits.map { h in h.rule + ":" + h.spans.map { "\($0.turn ?? -1)/\($0.start)-\($0.end)" }.joined(separator: ",") }
    return "\(v.level) \(v.score) \(v.category ?? "-") [\(hits.joined(separator: " "))]"
}

private let probeTexts: [Record] = [
    Record(id: "1", text: "我是公安局的警官，你的银行账户涉嫌洗钱，请把钱转账到安全账户"),
    Record(id: "2", text: "反诈提醒：不存在安全账户，不要转账"),
    Record(id: "3", text: "96110反诈提醒，骗子骗子"),
    Record(id: "4", text: "今天天气很好"),
    call("caller: 你涉嫌洗钱\ncallee: 那怎么办\ncaller: 把钱转账到安全账户"),
]

@Suite struct FormatterTests {

    @Test func canonicalLayout() throws {
        let messy = """
        levels   high 10,low 3 , medium 6
        terms money="转账","汇款"
        terms crime = "洗钱"
        rule   police.accuse{miss "你好" hit "我是公安局的，你涉嫌洗钱"
        match "公安局"near(40)crime   score 4 category police title "指控"
        tags a,b status stable}
        """
        #expect(try fmt(messy) == """
            levels low 3, medium 6, high 10

            terms money = "转账", "汇款"
            terms crime = "洗钱"

            rule police.accuse {
              title    "指控"
              category police
              score    4
              status   stable
              tags     a, b
              match    "公安局" near(40) crime
              hit      "我是公安局的，你涉嫌洗钱"
              miss     "你好"
            }

            """)
    }

    @Test func categoryLayoutAndPrivateRule() throws {
        let text = """
        category police { labels "甲","乙" script "您好" advice "挂断" description "说明" title "冒充公检法" }
        private rule _p { match any("转账" , "汇款") title "帮助" }
        """
        #expect(try fmt(text) == """
            category police {
              title "冒充公检法"
              description "说明"
              advice "挂断"
              script "您好"
              labels "甲", "乙"
            }

            private rule _p {
              title    "帮助"
              match    any("转账", "汇款")
            }

            """)
    }

    @Test func idempotentOnSample() throws {
        let once = try fmt(sampleRuleFile)
        let twice = try fmt(once)
        #expect(twice == once)
        // Already formatted text is left exactly as it is.
        #expect(try fmt(twice) == twice)
    }

    @Test func idempotentOnBundledRules() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("rules")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".fz") }.sorted() ?? []
        var checked = 0
        var originals: [(String, Data)] = [], formatted: [(String, Data)] = []
        for name in files {
            guard let text = try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8) else { continue }
            let (first, _, _) = RuleFormatter.format(path: name, text: text)
            guard let first else { continue }   // a file mid-edit elsewhere; the fuzz tests cover failures
            originals.append((name, Data(text.utf8)))
            formatted.append((name, Data(first.utf8)))
            let (second, ds, _) = RuleFormatter.format(path: name, text: first)
            #expect(ds.isEmpty, "\(name)")
            #expect(second == first, "\(name) is not formatted idempotently")
            #expect(comments(first).sorted() == comments(text).sorted(), "\(name) lost or gained comments")
            checked += 1
        }
        #expect(checked > 0 || files.isEmpty)
        // The whole library means the same after formatting.
        let before = RuleCompiler.compile(files: originals)
        if let a = before.ruleSet {
            let after = RuleCompiler.compile(files: formatted)
            let b = try #require(after.ruleSet, "\(after.errors.map(\.message))")
            #expect(summary(a) == summary(b))
            #expect(before.diagnostics.map(\.id.rawValue) == after.diagnostics.map(\.id.rawValue))
            let sa = try RuleScanner(rules: a), sb = try RuleScanner(rules: b)
            for record in probeTexts { #expect(verdictSummary(sa, record) == verdictSummary(sb, record)) }
        }
    }

    @Test func commentsAreKept() throws {
        let text = """
        # 文件开头的说明

        # 等级
        levels low 3, medium 6, high 10  # 等级行尾

        category police {  # 分类开括号
          # 标题之前
          title "冒充公检法"  # 标题行尾
          advice "挂断"
          script "您好"
          # 分类结尾之前
        }  # 分类闭括号

        terms money = "转账",  # 列表中间
          "汇款"  # 列表行尾

        # 规则之前
        rule police.a {  # 规则开括号
          title "指控"
          # 匹配之前
          match money  # 匹配行尾
            # 表达式中间
            and "安全账户"
          # 例子之前
          hit "转账到安全账户"  # 例子行尾
          miss "你好"
          # 规则结尾之前
        }  # 规则闭括号
        # 文件结尾
        """
        let out = try fmt(text)
        #expect(comments(out).sorted() == comments(text).sorted())
        // Each comment stays with what it describes.
        #expect(out.contains("levels low 3, medium 6, high 10  # 等级行尾"))
        #expect(out.contains("category police {  # 分类开括号\n  # 标题之前\n  title \"冒充公检法\"  # 标题行尾"))
        #expect(out.contains("  # 分类结尾之前\n}  # 分类闭括号\n"))
        #expect(out.contains("rule police.a {  # 规则开括号"))
        #expect(out.contains("  hit      \"转账到安全账户\"  # 例子行尾"))
        #expect(out.contains("  # 规则结尾之前\n}  # 规则闭括号\n"))
        #expect(out.hasSuffix("# 文件结尾\n"))
        #expect(out.hasPrefix("# 文件开头的说明\n"))
        #expect(try fmt(out) == out)
    }

    @Test func formattedFileCompilesToTheSameRules() throws {
        let formatted = try fmt(sampleRuleFile)
        #expect(formatted != sampleRuleFile)   // the layout did change
        let before = compileRules(sampleRuleFile), after = compileRules(formatted)
        #expect(before.errors.isEmpty && after.errors.isEmpty)
        #expect(before.diagnostics.map(\.id.rawValue) == after.diagnostics.map(\.id.rawValue))
        let a = try #require(before.ruleSet), b = try #require(after.ruleSet)
        #expect(summary(a) == summary(b))
        #expect(a.rules.map(\.id) == ["police.accuse", "_transfer", "police.safe_account", "benign.notice"])
        #expect(a.rules.map(\.score) == [4, 0, 5, -3])
        #expect(a.levels == b.levels)
        let sa = try RuleScanner(rules: a), sb = try RuleScanner(rules: b)
        for record in probeTexts {
            #expect(verdictSummary(sa, record) == verdictSummary(sb, record))
        }
        // The probes do exercise the rules.
        #expect(verdictSummary(sa, probeTexts[0]).hasPrefix("medium 9 police"))
        #expect(verdictSummary(sa, probeTexts[2]).hasPrefix("none -3"))
        // And the examples still pass.
        #expect(ExampleRunner.run(b, screener: sb).failures.isEmpty)
    }

    @Test func precedencePreservingParentheses() throws {
        let cases: [(String, String)] = [
            ("(a or b) and c", "(a or b) and c"),
            ("a or (b and c)", "a or b and c"),
            ("(a and b) or c", "a and b or c"),
            ("not (a and b)", "not (a and b)"),
            ("not (a or b)", "not (a or b)"),
            ("(not a) and b", "not a and b"),
            ("not (a near(5) b)", "not a near(5) b"),
            ("(not a) near(5) b", "(not a) near(5) b"),
            ("(a near(5) b) near(6) c", "a near(5) b near(6) c"),
            ("a near(5) (b near(6) c)", "a near(5) (b near(6) c)"),
            ("a then (b then(2) c)", "a then (b then(2) c)"),
            ("(a or b) near(3 turns) c", "(a or b) near(3 turns) c"),
            ("caller: (a near(3) b)", "caller: a near(3) b"),
            ("caller: (a and b)", "caller: (a and b)"),
            ("(caller: a) and b", "caller: a and b"),
            ("(caller: a) near(2) b", "(caller: a) near(2) b"),
            ("a or (b or c)", "a or (b or c)"),
            ("(a or b) or c", "(a or b) or c"),
            ("a and (b and c)", "a and (b and c)"),
            ("not (not a)", "not not a"),
            ("any((a or b), c and d)", "any(a or b, c and d)"),
            ("2 of ((a), b,c)", "2 of (a, b, c)"),
            ("count((a or b)) >= 2 and c", "count(a or b) >= 2 and c"),
            ("(count(a) < 2)", "count(a) < 2"),
            ("((((a))))", "a"),
        ]
        for (input, expected) in cases {
            let out = try fmt(ruleText(match: input))
            let line = out.split(separator: "\n").first { $0.hasPrefix("  match") }.map { String($0.dropFirst("  match    ".count)) }
            #expect(line == expected, "\(input)")
            // And the tree is the same.
            #expect(shape(expected) == shape(input), "\(input)")
        }
    }

    @Test func stringsAndRegexesRoundTrip() throws {
        let text = #"""
        rule r {
          title "他说\"转账\"\\然后\t走了"
          match "安全\u{200B}账户" or /网址\/[a-z]+\.com/x or "换行\n之后"
          hit call "caller: 把钱转到安全账户\ncallee: 好"
        }
        """#
        let out = try fmt(text)
        #expect(out.contains(#"title    "他说\"转账\"\\然后\t走了""#))
        #expect(out.contains(#"match    "安全\u{200B}账户" or /网址\/[a-z]+\.com/x or "换行\n之后""#))
        #expect(out.contains(#"hit      call "caller: 把钱转到安全账户\ncallee: 好""#))
        let (a, _) = parseRules(text), (b, _) = parseRules(out)
        let ra = try #require(ruleDecls(a).first), rb = try #require(ruleDecls(b).first)
        #expect(ra.title?.value == rb.title?.value)
        #expect(ra.title?.value == "他说\"转账\"\\然后\t走了")
        #expect(ra.match.map { sexpr($0.value) } == rb.match.map { sexpr($0.value) })
        #expect(ra.hits.map(\.text) == rb.hits.map(\.text))
        #expect(try fmt(out) == out)
    }

    @Test func longTermListsWrap() throws {
        let words = (1...40).map { "诈骗话术第\($0)条" }
        let text = "terms scripts = " + words.map { "\"\($0)\"" }.joined(separator: ", ") + "\n"
        let out = try fmt(text)
        let lines = out.split(separator: "\n")
        #expect(lines.first == "terms scripts =")
        #expect(lines.count > 3)
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("  \"") && $0.count <= 80 })
        let (f, ds) = parseRules(out)
        #expect(ds.isEmpty)
        guard case .terms(let t)? = f.declarations.first else { Issue.record("no terms"); return }
        #expect(t.terms.map(\.value) == words)
        #expect(try fmt(out) == out)
        // A short list stays on one line.
        #expect(try fmt("terms money = \"转账\",\n  \"汇款\"\n") == "terms money = \"转账\", \"汇款\"\n")
    }

    @Test func longMatchExpressionsWrap() throws {
        let text = """
        rule generic.staff_intro {
          title "自称客服"
          match caller: (any("我是", "我们是", "这里是", "这边是", "我这边是") then(15) any("客服", "售后", "理赔专员", "工作人员", "专员") and not any(guard.anti_fraud, "退订", "续保", "车险", "保养", "专柜", "门店", "营业厅", "官方app", "网点", "柜台", "续费提醒", "会员中心", "积分商城", "售后服务中心", "预约到店"))
        }

        """
        let out = try fmt(text)
        #expect(out == """
            # uses: guard.anti_fraud

            rule generic.staff_intro {
              title    "自称客服"
              match    caller: (
                any("我是", "我们是", "这里是", "这边是", "我这边是") then(15) any("客服", "售后", "理赔专员", "工作人员", "专员")
                and not any(
                  guard.anti_fraud, "退订", "续保", "车险", "保养", "专柜", "门店", "营业厅", "官方app", "网点", "柜台", "续费提醒",
                  "会员中心", "积分商城", "售后服务中心", "预约到店"
                )
              )
            }

            """)
        #expect(try fmt(out) == out)
        let (a, _) = parseRules(text), (b, _) = parseRules(out)
        #expect(ruleDecls(a).first?.match.map { sexpr($0.value) } == ruleDecls(b).first?.match.map { sexpr($0.value) })

        // A top-level chain continues below the value, never where a field name starts; a
        // near chain puts each step on its own line; a list too long for a line fills lines.
        let words = (1...30).map { "\"诈骗话术\($0)\"" }.joined(separator: ", ")
        let chain = try fmt(ruleText(match: "any(\(words)) near(40) \"验证码\" near(20) any(\"告诉我\", \"发给我\") or \"安全账户\""))
        let lines = chain.split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(chain)")
        #expect(lines.contains("  match    any("))
        #expect(lines.contains("      near(40) \"验证码\""))
        #expect(lines.contains("      near(20) any(\"告诉我\", \"发给我\")"))
        #expect(lines.contains("    or \"安全账户\""))
        #expect(!lines.contains { $0.hasPrefix("  and") || $0.hasPrefix("  or") })
        #expect(try fmt(chain) == chain)
        let (c, ds) = parseRules(chain)
        #expect(ds.isEmpty)
        #expect(ruleDecls(c).first?.match.map { sexpr($0.value) } == shape("any(\(words)) near(40) \"验证码\" near(20) any(\"告诉我\", \"发给我\") or \"安全账户\""))

        // A short expression stays on the field's line.
        #expect(try fmt(ruleText(match: "\"安全账户\" and not guard.anti_fraud")).contains("  match    \"安全账户\" and not guard.anti_fraud\n"))
    }

    @Test func usesCommentListsTheNamesOtherFilesDeclare() throws {
        let text = """
        # 说明：本文件的开头
        # uses: stale_name
        terms local = "本地词"

        rule a {
          title "甲"
          match local near(20) transfer_verb and not any(guard.anti_fraud, b)
        }

        rule b {
          title "乙"
          match fee or link
        }

        """
        let out = try fmt(text)
        #expect(out.hasPrefix("# uses: fee, guard.anti_fraud, link, transfer_verb\n\n# 说明：本文件的开头\nterms local"))
        #expect(!out.contains("stale_name"))
        #expect(try fmt(out) == out)
        // Many names wrap, each line a `# uses:` line.
        let many = (1...40).map { "shared_list_\($0)" }
        let wide = try fmt(ruleText(match: "any(" + many.joined(separator: ", ") + ")"))
        let usesLines = wide.split(separator: "\n").filter { $0.hasPrefix("# uses: ") }
        #expect(usesLines.count > 1)
        #expect(usesLines.allSatisfy { $0.count <= 100 })
        #expect(Set(usesLines.flatMap { $0.dropFirst(8).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }) == Set(many))
        // A file that names nothing from elsewhere has no such line, and an old one goes.
        #expect(try fmt("# uses: gone\nterms x = \"词\"\n") == "terms x = \"词\"\n")
    }

    @Test func blankLinesBetweenDeclarations() throws {
        let text = "terms a = \"转账\"\nterms b = \"汇款\"\n# 注释\nterms c = \"打款\"\nlevels low 1, medium 2, high 3\nterms d = \"付款\"\n"
        #expect(try fmt(text) == """
            terms a = "转账"
            terms b = "汇款"

            # 注释
            terms c = "打款"

            levels low 1, medium 2, high 3

            terms d = "付款"

            """)
    }

    @Test func emptyAndCommentOnlyFiles() throws {
        #expect(try fmt("") == "\n")
        #expect(try fmt("\n\n") == "\n")
        #expect(try fmt("# 只有注释\n\n# 第二行") == "# 只有注释\n# 第二行\n")
    }

    @Test func refusesFilesWithSyntaxErrors() {
        let (out, ds, src) = RuleFormatter.format(path: "bad.fz", text: "rule r {\n  title \"测试\n  match \"安全账户\"\n}\n")
        #expect(out == nil)
        #expect(ds.map(\.id.rawValue) == ["unterminated-string"])
        #expect(src.path == "bad.fz")
        // Semantic problems are the checker's business: fmt still lays the file out.
        let (ok, none, _) = RuleFormatter.format(path: "t.fz", text: "rule r { title \"测试\" match nowhere }")
        #expect(none.isEmpty)
        #expect(ok == "# uses: nowhere\n\nrule r {\n  title    \"测试\"\n  match    nowhere\n}\n")
    }

    @Test func formattingPreservesRandomExpressionTrees() throws {
        // Random trees written with parentheses everywhere: fmt drops the redundant ones and keeps
        // the tree; its output is a fixed point.
        var rng = SplitMix64(seed: 0xF0_2024)
        let leaves = ["\"安全账户\"", "\"转账\"", "money", "_helper", "/验证码\\d{4}/", "/网址\\/x/s"]
        func gen(_ depth: Int) -> String {
            if depth == 0 || Int.random(in: 0..<4, using: &rng) == 0 { return leaves.randomElement(using: &rng)! }
            let a = gen(depth - 1), b = gen(depth - 1)
            switch Int.random(in: 0..<11, using: &rng) {
            case 0: return "(\(a) and \(b))"
            case 1: return "(\(a) or \(b))"
            case 2: return "(not \(a))"
            case 3: return "(\(a) near(\(Int.random(in: 0...50, using: &rng))) \(b))"
            case 4: return "(\(a) near(2 turns) \(b))"
            case 5: return "(\(a) then \(b))"
            case 6: return "(\(a) then(7) \(b))"
            case 7: return "any(\(a), \(b))"
            case 8: return "2 of (\(a), \(b), \"汇款\")"
            case 9: return "(count(\(a)) \(Comparison.allCases.randomElement(using: &rng)!.rawValue) 2)"
            default: return "(\(["caller", "callee"].randomElement(using: &rng)!): \(a))"
            }
        }
        for _ in 0..<200 {
            let expr = gen(5)
            let original = shape(expr)
            #expect(!original.hasPrefix("<error"), "\(expr)")
            let out = try fmt(ruleText(match: expr))
            let (f, ds) = parseRules(out)
            #expect(ds.isEmpty, "\(out)")
            #expect(ruleDecls(f).first?.match.map { sexpr($0.value) } == original, "\(expr)\n\(out)")
            #expect(try fmt(out) == out)
        }
    }
}
