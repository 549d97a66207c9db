import Foundation
import Testing
@testable import Fanzha

// Bad input to the rules compiler and formatter: every case ends with diagnostics, never a crash
// or a hang, and never a half-loaded rule set.

/// Checks what must hold for any compile result, whatever the input.
private func checkInvariants(_ r: CompileResult, _ input: String, sourceLocation: SourceLocation = #_sourceLocation) {
    // Loaded if and only if there is no error.
    #expect((r.ruleSet == nil) == !r.errors.isEmpty, "\(input.debugDescription)", sourceLocation: sourceLocation)
    var previous = (file: -1, start: -1)
    for d in r.diagnostics {
        #expect(d.range.file >= 0 && d.range.file < r.sources.count, sourceLocation: sourceLocation)
        let count = r.sources[d.range.file].scalars.count
        #expect(0 <= d.range.start && d.range.start <= d.range.end && d.range.end <= count + 1,
                "\(d.id) \(d.range) in \(count) scalars: \(input.debugDescription)", sourceLocation: sourceLocation)
        #expect(!d.message.isEmpty, sourceLocation: sourceLocation)
        // Sorted by file and position.
        #expect((previous.file, previous.start) <= (d.range.file, d.range.start), sourceLocation: sourceLocation)
        previous = (d.range.file, d.range.start)
        // Rendering never traps, and names the place.
        let (line, col) = r.sources[d.range.file].lineColumn(d.range.start)
        #expect(d.rendered(sources: r.sources).hasPrefix("\(r.sources[d.range.file].path):\(line):\(col): \(d.severity.rawValue)[\(d.id)]"),
                sourceLocation: sourceLocation)
        #expect(d.json(sources: r.sources).hasPrefix("{\"file\":"), sourceLocation: sourceLocation)
    }
}

/// fmt on anything: nil with errors, or a fixed point that parses cleanly.
private func checkFormatter(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let (out, ds, _) = RuleFormatter.format(path: "fuzz.fz", text: text)
    guard let out else {
        #expect(!ds.isEmpty, sourceLocation: sourceLocation)
        return
    }
    let (again, ds2, _) = RuleFormatter.format(path: "fuzz.fz", text: out)
    #expect(ds2.isEmpty, "\(text.debugDescription) → \(out.debugDescription)", sourceLocation: sourceLocation)
    #expect(again == out, "\(text.debugDescription)", sourceLocation: sourceLocation)
}

/// Runs `body` and fails if it takes longer than `seconds` (it cannot stop a hang, but it flags a
/// pathological slowdown instead of passing silently).
private func within<T>(_ seconds: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) rethrows -> T {
    let start = Date()
    let result = try body()
    let elapsed = Date().timeIntervalSince(start)
    #expect(elapsed < seconds, "\(what) took \(elapsed)s", sourceLocation: sourceLocation)
    return result
}

@Suite struct RuleFuzzTests {

    // MARK: random input

    @Test func randomBytes() {
        var rng = SplitMix64(seed: 0xFA_2A)
        // Bytes biased towards the language's own characters, Chinese, and broken UTF-8.
        let pieces: [[UInt8]] = ["rule", "terms", "category", "levels", "private", "match", "title", "score", "hit", "call",
                                 "near(", "then", "of", "not", "and", "or", "caller:", "{", "}", "(", ")", ",", "=", ">=",
                                 "\"", "\"\"", "/", "\\", "#", "\n", " ", "-", "7", "安全账户", "转账", "“", "（", "\u{200B}"]
            .map { Array($0.utf8) }
        var failures = 0
        for iteration in 0..<300 {
            var bytes: [UInt8] = []
            let length = Int.random(in: 0...24, using: &rng)
            for _ in 0..<length {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes.append(UInt8.random(in: 0...255, using: &rng))
                default: bytes += pieces.randomElement(using: &rng)!
                }
            }
            let r = compileRuleBytes(bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            checkInvariants(r, text)
            if String(validating: bytes, as: UTF8.self) == nil {
                #expect(diagnostics(r, "invalid-utf8").count == 1, "iteration \(iteration)")
            }
            if !isBlankOrComments(text) {
                #expect(!r.diagnostics.isEmpty, "iteration \(iteration): \(text.debugDescription)")
            }
            if !r.errors.isEmpty { failures += 1 }
            checkFormatter(text)
        }
        #expect(failures > 250)   // random input is almost never a valid rule file
    }

    @Test func randomTokenSoup() {
        // Sequences of real tokens: gets past the lexer into the parser's recovery and the checker.
        var rng = SplitMix64(seed: 0x50_0B)
        let tokens = ["rule", "private", "terms", "category", "levels", "low", "medium", "high", "title", "category", "score",
                      "status", "stable", "tags", "allow", "match", "hit", "miss", "call", "description", "advice", "script",
                      "labels", "and", "or", "not", "any", "all", "of", "near", "then", "count", "turns", "caller", "callee",
                      "r", "money", "police", "_p", "no_atom", "{", "}", "(", ")", ",", ":", "=", ">=", "<", "==",
                      "\"安全账户\"", "\"转账\"", "\"\"", "\"钱\"", "/验证码\\d+/", "/(/", "/x?/", "0", "2", "-1", "40",
                      "\n", "\n", "# 注释\n"]
        for iteration in 0..<400 {
            var text = ""
            for _ in 0..<Int.random(in: 1...40, using: &rng) { text += tokens.randomElement(using: &rng)! + " " }
            let r = compileRules(text)
            checkInvariants(r, text)
            // Non-blank input is either diagnosed or parsed into declarations.
            let (parsed, _) = parseRules(text)
            if !isBlankOrComments(text) {
                #expect(!r.diagnostics.isEmpty || !parsed.declarations.isEmpty, "iteration \(iteration)")
            }
            // A loaded rule set has every rule that was declared.
            if let rules = r.ruleSet {
                #expect(rules.rules.count == ruleDecls(parsed).count, "iteration \(iteration)")
            }
            checkFormatter(text)
        }
    }

    @Test func everyPrefixOfAValidFile() throws {
        let full = """
        # 冒充公检法
        rule police.accuse {
          title "自称公检法并指控涉嫌犯罪"
          score 4
          match authority near(40) crime and not /提醒|警方提示/
          hit "我是公安局的警官，你涉嫌洗钱"
          miss "警方提醒：谨防诈骗"
        }
        terms authority = "公安局", "派出所", "警官"
        terms crime = "洗钱", "涉案"
        """
        let complete = compileRules(full)
        #expect(complete.diagnostics.isEmpty)
        #expect(complete.ruleSet != nil)
        let scalars = Array(full.unicodeScalars)
        let closing = try #require(scalars.firstIndex(of: "}"))
        for n in 0..<scalars.count {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[0..<n])
            let prefix = String(v)
            let r = compileRules(prefix)
            checkInvariants(r, prefix)
            // Cut before the rule's closing brace (and after its comment): never loads.
            if n > 8 && n <= closing {
                #expect(r.ruleSet == nil, "prefix of \(n): \(prefix.debugDescription)")
            }
            // Cut inside a string: reported as unterminated.
            let lastLine = prefix.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
            if lastLine.filter({ $0 == "\"" }).count % 2 == 1 {
                #expect(!diagnostics(r, "unterminated-string").isEmpty, "prefix of \(n)")
            }
            checkFormatter(prefix)
        }
    }

    // MARK: unterminated tokens

    @Test func unterminatedStringsAndRegexes() throws {
        let cases: [(String, [String])] = [
            ("rule r {\n  title \"测试", ["unterminated-string", "syntax"]),
            ("rule r {\n  title \"测试\\", ["unterminated-string", "syntax"]),
            ("rule r {\n  title \"测试\\u{20", ["invalid-escape", "unterminated-string", "syntax"]),
            ("rule r {\n  title \"测试\"\n  match /安全账户", ["unterminated-regex", "syntax"]),
            ("rule r {\n  title \"测试\"\n  match /安全账户\\", ["unterminated-regex", "syntax"]),
            ("terms money = \"转账", ["unterminated-string", "unused-terms"]),
            ("\"", ["unterminated-string", "syntax"]),
            ("/", ["unterminated-regex", "syntax"]),
        ]
        for (text, ids) in cases {
            let r = within(5, text.debugDescription) { compileRules(text) }
            checkInvariants(r, text)
            #expect(Set(r.diagnostics.map(\.id.rawValue)) == Set(ids), "\(text.debugDescription): \(r.diagnostics.map { "\($0.id): \($0.message)" })")
            #expect(r.ruleSet == nil)
        }
        // Unterminated on one line, the rest of the file is still read: both rules' problems are reported.
        let text = """
        rule a {
          title "没有结尾
          match /也没有结尾
          hit "安全账户"
          miss "你好"
        }
        rule b {
          title "乙"
          match nowhere
          hit "安全账户"
          miss "你好"
        }
        """
        let r = compileRules(text)
        #expect(r.errors.map { "\($0.id)@\(position($0, r.sources))" } == ["unterminated-string@2:9", "unterminated-regex@3:9", "unknown-name@9:9"])
    }

    // MARK: nesting

    @Test func tenThousandParentheses() throws {
        let deep = String(repeating: "(", count: 10_000) + "\"安全账户\"" + String(repeating: ")", count: 10_000)
        let text = ruleText("deep", match: deep) + ruleText("fine", match: "\"转账\" and nowhere")
        let r = within(20, "10,000 parentheses") { compileRules(text) }
        checkInvariants(r, "deep parentheses")
        #expect(diagnostics(r, "too-deep").count == 1)
        #expect(diagnostics(r, "too-deep").first.map { position($0, r.sources) } == "3:209")
        // Parsing resumes after the deep rule.
        #expect(diagnostics(r, "unknown-name").count == 1)
        #expect(r.ruleSet == nil)
        let (out, ds, _) = within(20, "fmt of 10,000 parentheses") { RuleFormatter.format(path: "t.fz", text: text) }
        #expect(out == nil)
        #expect(ds.contains { $0.id.rawValue == "too-deep" })
    }

    @Test func tenThousandNots() throws {
        let text = ruleText("deep", match: String(repeating: "not ", count: 10_000) + "\"安全账户\"")
        let r = within(20, "10,000 nots") { compileRules(text) }
        checkInvariants(r, "deep not")
        #expect(diagnostics(r, "too-deep").count == 1)
        #expect(r.ruleSet == nil)
    }

    @Test func otherDeepNestings() throws {
        for (what, match) in [
            ("caller:", String(repeating: "caller: ", count: 10_000) + "\"安全账户\""),
            ("any(", String(repeating: "any(", count: 10_000) + "\"安全账户\"" + String(repeating: ")", count: 10_000)),
            ("count(", String(repeating: "count(", count: 10_000) + "\"安全账户\"" + String(repeating: ") >= 1", count: 10_000)),
            ("near chain", "\"安全账户\"" + String(repeating: " near(5) \"转账\"", count: 10_000)),
            ("then chain", "\"安全账户\"" + String(repeating: " then \"转账\"", count: 10_000)),
            ("mixed chain", "\"安全账户\"" + String(repeating: " then(3) \"转账\" near(2 turns) \"汇款\"", count: 5_000)),
        ] {
            let text = ruleText("deep", match: match)
            let r = within(20, what) { compileRules(text) }
            checkInvariants(r, what)
            #expect(diagnostics(r, "too-deep").count == 1, "\(what)")
            #expect(r.ruleSet == nil, "\(what)")
            let (out, _, _) = RuleFormatter.format(path: "t.fz", text: text)
            #expect(out == nil, "\(what)")
        }
    }

    @Test func deepButAllowedNestingCompilesAndScans() throws {
        // Just inside the limits: compiled, scanned, formatted, all without running out of stack.
        let parens = String(repeating: "(", count: 150) + "\"安全账户\"" + String(repeating: ")", count: 150)
        let nots = String(repeating: "not ", count: 401) + "\"提醒\""
        let chain = "\"安全账户\"" + String(repeating: " near(50) \"转账\"", count: 300)
        let text = ruleText("parens", match: parens) + ruleText("nots", match: "\"安全账户\" and " + nots)
            + ruleText("chain", match: chain)
        let r = compileRules(text)
        #expect(r.errors.isEmpty, "\(r.errors.map(\.message))")
        let s = try RuleScanner(rules: try #require(r.ruleSet))
        #expect(fires(s, "parens", "转到安全账户"))
        #expect(fires(s, "nots", "转到安全账户"))          // an odd number of nots: `not "提醒"`
        #expect(!fires(s, "nots", "提醒：安全账户"))
        #expect(fires(s, "chain", "转账到安全账户"))
        let v = s.screen(Record(id: "1", text: "转账到安全账户"))
        #expect(v.errors.isEmpty)
        #expect(v.hits.count == 3)
        checkFormatter(text)
    }

    @Test func longFlatLists() throws {
        // Flat `or` chains and long `any(…)` lists are not nesting: they compile.
        let words = (0..<3_000).map { "\"诈骗词\($0)\"" }
        let text = ruleText("ors", match: words.joined(separator: " or ")) + ruleText("any", match: "any(" + words.joined(separator: ", ") + ")")
        let r = within(60, "3,000-item lists") { compileRules(text) }
        #expect(r.errors.isEmpty)
        let s = try RuleScanner(rules: try #require(r.ruleSet))
        #expect(fires(s, "ors", "这是诈骗词2999"))
        #expect(fires(s, "any", "这是诈骗词1500"))
        #expect(!fires(s, "any", "这是诈骗"))
    }

    // MARK: size

    @Test func hugeTermList() throws {
        let n = 20_000
        let text = "terms huge = " + (0..<n).map { "\"诈骗词\($0)\"" }.joined(separator: ", ") + "\n"
            + ruleText("big", match: "huge", extra: "  hit \"诈骗词19999\"\n  miss \"你好\"\n")
        let r = within(60, "20,000 terms") { compileRules(text) }
        checkInvariants(r, "huge term list")
        if let rules = r.ruleSet {
            // Loaded: it must work.
            let s = try RuleScanner(rules: rules)
            #expect(fires(s, "big", "这是诈骗词19999"))
            #expect(fires(s, "big", "这是诈骗词0"))
            #expect(!fires(s, "big", "这是诈骗"))
            // Without the prefilter the list is several PCRE2 alternations, compiled on first use.
            #expect(rules.atoms.contains { $0.literalSources.count > 1 })
            let off = try RuleScanner(rules: rules, usePrefilter: false)
            #expect(fires(off, "big", "这是诈骗词12345"))
            #expect(fires(off, "big", "这是诈骗词0"))
            #expect(!fires(off, "big", "这是诈骗"))
        } else {
            // Not loaded: an error that says why, at the list.
            let d = try #require(r.errors.first)
            #expect(r.errors.count == 1)
            #expect(position(d, r.sources) == "1:14")
            #expect(d.message.contains("too large"), "\(d.message)")
        }
        let (out, ds, _) = within(60, "fmt of 20,000 terms") { RuleFormatter.format(path: "t.fz", text: text) }
        #expect(ds.isEmpty)
        let formatted = try #require(out)
        #expect(formatted.split(separator: "\n").allSatisfy { $0.count <= 80 })
        #expect(formatted.contains("\"诈骗词19999\""))
    }

    @Test func largeButRealisticTermListWorks() throws {
        // A few thousand words (the bundled library has about two thousand in all) is fine.
        let text = "terms big = " + (0..<2_000).map { "\"诈骗词\($0)\"" }.joined(separator: ", ") + "\n"
            + ruleText("uses_big", match: "big")
        let s = try makeScanner(text)
        #expect(fires(s, "uses_big", "这是诈骗词1999"))
        let off = try RuleScanner(rules: s.rules, usePrefilter: false)
        #expect(fires(off, "uses_big", "这是诈骗词1999"))
        #expect(!fires(off, "uses_big", "这是诈骗词"))
    }

    // MARK: hostile regexes

    @Test(arguments: [#"(a+)+$"#, #"^(\p{Han}+)+$"#])
    func catastrophicBacktrackingHitsTheMatchLimit(_ pattern: String) throws {
        let text = ruleText("evil", match: "/\(pattern)/") + ruleText("plain", match: "\"汉汉\"")
        let r = compileRules(text)
        #expect(r.errors.isEmpty, "\(r.errors.map(\.message))")
        #expect(diagnostics(r, "no-atom").count == 1)   // it compiles, with a warning
        let s = try RuleScanner(rules: try #require(r.ruleSet))
        let subject = pattern.contains("Han") ? String(repeating: "汉", count: 50_000) + "!" : String(repeating: "a", count: 50_000) + "!"
        let v = within(30, "hostile regex /\(pattern)/") { s.screen(Record(id: "evil", text: subject)) }
        #expect(v.errors.count == 1, "\(v.errors)")
        let e = try #require(v.errors.first)
        #expect(e.hasPrefix("rule evil: /\(pattern)/: match limit exceeded"), "\(e)")
        // The hostile rule is not a hit; the other rules still ran.
        #expect(!v.hits.contains { $0.rule == "evil" })
        #expect(v.hits.contains { $0.rule == "plain" } == pattern.contains("Han"))
        // An ordinary text is unaffected.
        let ok = s.screen(Record(id: "ok", text: pattern.contains("Han") ? "汉汉汉" : "aaa"))
        #expect(ok.errors.isEmpty)
        #expect(ok.hits.contains { $0.rule == "evil" })
    }

    // MARK: encodings

    @Test func invalidUTF8InTheRuleFile() {
        let good = Array(rule_ok.utf8)
        let cases: [(String, [UInt8], Int)] = [
            ("stray continuation byte", Array("# 注".utf8) + [0x80] + Array("\n".utf8) + good, 5),
            ("0xFF", [0xFF] + good, 0),
            ("overlong slash", Array("rule r {\n  title \"".utf8) + [0xC0, 0xAF] + Array("\"\n".utf8) + good, 18),
            ("surrogate", Array("terms x = \"".utf8) + [0xED, 0xA0, 0x80] + Array("\"\n".utf8) + good, 11),
            ("above U+10FFFF", Array("# ".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("\n".utf8) + good, 2),
            ("truncated at end", good + Array("# 安".utf8).dropLast(1), good.count + 2),
            ("in an identifier", Array("rule r".utf8) + [0xFE] + Array("x {\n}\n".utf8) + good, 6),
            ("latin-1 text", Array("# caf".utf8) + [0xE9] + Array("\n".utf8) + good, 5),
        ]
        for (what, bytes, offset) in cases {
            let r = compileRuleBytes(bytes)
            checkInvariants(r, what)
            let bad = diagnostics(r, "invalid-utf8")
            #expect(bad.count == 1, "\(what)")
            #expect(bad.first?.message == "the file is not valid UTF-8 (byte \(offset))", "\(what)")
            #expect(r.ruleSet == nil, "\(what)")
            // The position is in scalars of the decoded text: the bytes before are valid.
            let scalarsBefore = String(decoding: bytes.prefix(offset), as: UTF8.self).unicodeScalars.count
            #expect(bad.first?.range.start == scalarsBefore, "\(what)")
        }
        // Valid UTF-8 with a byte-order mark, CRLF line ends and astral characters is fine.
        let fine = compileRuleBytes([0xEF, 0xBB, 0xBF] + Array(rule_ok.replacingOccurrences(of: "\n", with: "\r\n").replacingOccurrences(of: "你好", with: "你好😀").utf8))
        #expect(fine.diagnostics.isEmpty, "\(fine.diagnostics.map(\.message))")
        #expect(fine.ruleSet != nil)
    }

    @Test func nulAndControlCharacters() {
        let text = "rule r {\u{0}\n  title \"测试\u{0}\"\n  match \"安全账户\" \u{7}\n}\n"
        let r = compileRules(text)
        checkInvariants(r, text)
        #expect(diagnostics(r, "unexpected-character").map(\.message) == ["unexpected character U+0", "unexpected character U+7"])
        #expect(r.ruleSet == nil)
    }
}

private let rule_ok = """
rule ok {
  title "正常"
  match "安全账户"
  hit "安全账户"
  miss "你好"
}

"""
