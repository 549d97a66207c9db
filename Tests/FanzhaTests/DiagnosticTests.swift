import Foundation
import Testing
@testable import Fanzha

// Every diagnostic Fanzha can emit: its exact message, where it points, its help; and how
// diagnostics are rendered, serialised, suppressed and collected.

/// One diagnostic id, provoked by a small file.
struct DiagnosticCase: Sendable, CustomTestStringConvertible {
    let id: String
    let bytes: [UInt8]
    let message: String
    /// `line:column` of the diagnostic's start.
    let at: String
    let help: String?
    /// The source text under the diagnostic's range, when worth checking.
    let covers: String?
    var testDescription: String { id }

    init(_ id: String, _ text: String, _ message: String, at: String, help: String? = nil, covers: String? = nil) {
        self.init(id, Array(text.utf8), message, at: at, help: help, covers: covers)
    }
    init(_ id: String, _ bytes: [UInt8], _ message: String, at: String, help: String? = nil, covers: String? = nil) {
        self.id = id; self.bytes = bytes; self.message = message; self.at = at; self.help = help; self.covers = covers
    }
}

/// A complete rule (title, match on line 3 from column 9, hit and miss) with extra fields.
private func rule(_ match: String, _ extra: String = "", id: String = "r") -> String {
    """
    rule \(id) {
      title "测试"
      match \(match)
      hit "安全账户"
      miss "你好"
    \(extra)}

    """
}

private let policeCategory = """
category police {
  title "冒充公检法"
  advice "挂断"
  script "您好"
}

"""

@Suite struct DiagnosticTests {

    static let cases: [DiagnosticCase] = [
        DiagnosticCase("invalid-utf8",
                       Array("# 注释\nrule r {\n  title \"标".utf8) + [0xFF] + Array("题\"\n  match \"安全账户\"\n  hit \"安全账户\"\n  miss \"你好\"\n}\n".utf8),
                       "the file is not valid UTF-8 (byte 30)", at: "3:11", help: "save the file as UTF-8"),
        DiagnosticCase("unexpected-character", "terms money = \"转账\"，\"汇款\"\n" + rule("money"),
                       "unexpected character `，`", at: "1:19", help: "separate items with an ASCII comma `,`", covers: "，"),
        DiagnosticCase("unterminated-string", "rule r {\n  title \"测试\n  match \"安全账户\"\n  hit \"安全账户\"\n  miss \"你好\"\n}\n",
                       "unterminated string", at: "2:9", help: "add a closing `\"` before the end of the line", covers: "\""),
        DiagnosticCase("unterminated-regex", rule("/安全账户"),
                       "unterminated regex", at: "3:9", help: "close it with `/` on the same line; write a slash inside it as `\\/`", covers: "/"),
        DiagnosticCase("invalid-escape", "rule r {\n  title \"测试\\q\"\n  match \"安全账户\"\n  hit \"安全账户\"\n  miss \"你好\"\n}\n",
                       "unknown escape `\\q`", at: "2:12", help: "the escapes are \\\" \\\\ \\n \\t \\u{…}", covers: "\\q"),
        DiagnosticCase("syntax", "ruel r {\n  title \"测试\"\n}\n" + rule("\"安全账户\""),
                       "expected a declaration (`rule`, `frame`, `category`, `terms` or `levels`), found `ruel`", at: "1:1",
                       help: "did you mean `rule`?", covers: "ruel"),
        DiagnosticCase("too-deep", rule(String(repeating: "(", count: 300) + "\"安全账户\"" + String(repeating: ")", count: 300)),
                       "expression nested too deeply", at: "3:209", help: "split it into helper rules (`private rule`)", covers: "("),
        DiagnosticCase("duplicate-id", "terms money = \"转账\"\nterms money = \"汇款\"\n" + rule("money"),
                       "`money` is declared twice", at: "2:7", help: "first declared at test.fz:1:7", covers: "money"),
        DiagnosticCase("duplicate-field", rule("\"安全账户\"", "  title \"又一个标题\"\n"),
                       "`title` is given twice", at: "6:3", covers: "title"),
        DiagnosticCase("missing-field", "rule police.accuse {\n  match \"安全账户\"\n  hit \"安全账户\"\n  miss \"你好\"\n}\n",
                       "rule `police.accuse` has no `title`", at: "1:6", help: "add title \"…\"", covers: "police.accuse"),
        DiagnosticCase("unknown-name", "terms authority = \"公安局\", \"警官\"\nterms crime = \"洗钱\", \"通缉\"\n" + rule("authorty near(40) crime"),
                       "no terms or rule named `authorty`", at: "5:9", help: "did you mean `authority`?", covers: "authorty"),
        DiagnosticCase("unknown-category", policeCategory + rule("\"安全账户\"", "  category polise\n"),
                       "no category named `polise`", at: "11:12", help: "did you mean `police`?", covers: "polise"),
        DiagnosticCase("unknown-field", rule("\"安全账户\"", "  socre 4\n"),
                       "a rule has no field `socre`", at: "6:3", help: "did you mean `score`?", covers: "socre"),
        DiagnosticCase("cycle", rule("b and \"安全账户\"", id: "a") + rule("a and \"转账\"", id: "b"),
                       "rules refer to each other in a circle: `a` → `b` → `a`", at: "9:9", help: "a rule cannot depend on itself", covers: "a"),
        DiagnosticCase("of-too-large", rule("4 of (\"甲方\", \"乙方\", \"丙方\")"),
                       "`4 of` needs between 1 and 3 (the list has 3 items)", at: "3:9", help: "add items or lower N"),
        DiagnosticCase("invalid-regex", rule("/账户[z-a]/"),
                       "invalid regex: range out of order in character class", at: "3:15", covers: "a"),
        DiagnosticCase("invalid-levels", "levels low 6, medium 3, high 10\n" + rule("\"安全账户\""),
                       "levels must rise: 0 < low < medium < high (got 6, 3, 10)", at: "1:1", covers: "levels low 6, medium 3, high 10"),
        DiagnosticCase("empty-literal", rule("\"安全账户\" and \"\""),
                       "`\"\"` is empty after normalisation, so it would match everywhere", at: "3:20",
                       help: "separators and invisible characters are removed before matching", covers: "\"\""),
        DiagnosticCase("always-matches", rule("/(安全账户)?/"),
                       "this regex matches the empty string, so it matches every text", at: "3:9",
                       help: "an empty alternative (`a||b`) or a pattern that may match nothing (`.*`, `x?`) is the usual cause", covers: "/(安全账户)?/"),
        DiagnosticCase("needless-substring", rule("~\"安全账户\""),
                       "`~\"安全账户\"`: `~` only changes words that begin or end with a Latin letter", at: "3:9",
                       help: "write \"安全账户\"", covers: "~\"安全账户\""),
        DiagnosticCase("private-with-score", "private rule _helper {\n  title \"帮助\"\n  score 3\n  match \"安全账户\"\n}\n",
                       "a private rule scores nothing; remove `score`", at: "3:9", covers: "3"),
        DiagnosticCase("private-with-category", policeCategory + "private rule _helper {\n  title \"帮助\"\n  category police\n  match \"安全账户\"\n}\n",
                       "a private rule has no category; remove `category`", at: "8:12", covers: "police"),
        DiagnosticCase("bad-example", rule("\"安全账户\"", "  hit call \"骗子说安全账户\"\n"),
                       "call example line 1 is not `speaker: text`", at: "6:12", covers: "\"骗子说安全账户\""),
        DiagnosticCase("no-atom", rule("not \"提醒\""),
                       "rule `r` has no word any match must contain, so it runs on every text", at: "3:9",
                       help: "add a literal the rule needs (e.g. `\"转账\" and …`), or `allow no-atom`", covers: "not \"提醒\""),
        DiagnosticCase("short-literal", rule("\"转账\" and \"钱\""),
                       "`\"钱\"` is one character: it matches too much to be evidence", at: "3:18", covers: "\"钱\""),
        DiagnosticCase("no-examples", "rule r {\n  title \"测试\"\n  match \"安全账户\"\n  hit \"安全账户\"\n}\n",
                       "rule `r` has no `miss` example", at: "1:6", help: "examples are the rule's tests and its documentation", covers: "r"),
        DiagnosticCase("unused-terms", "terms spare = \"备用\"\n" + rule("\"安全账户\""),
                       "term list `spare` is not used by any rule", at: "1:7", covers: "spare"),
        DiagnosticCase("duplicate-term", "terms account = \"安全账户\", \"安全帐户\"\n" + rule("account"),
                       "`\"安全帐户\"` is already in this list (as `安全账户` after normalisation)", at: "1:25", covers: "\"安全帐户\""),
        DiagnosticCase("unknown-frame-kind", rule("\"安全账户\"", "  in reports\n"),
                       "no frame kind named `reports`", at: "6:6", help: "a frame kind is one of: report, warning, quote, teaching",
                       covers: "reports"),
        DiagnosticCase("invalid-whole", "frame f {\n  title \"叙述\"\n  kind report\n  whole 120\n  match \"受害人\"\n  hit \"受害人报警\"\n  miss \"你好\"\n}\n",
                       "`whole` is a percentage of the message: 1 to 100 (got 120)", at: "4:9", covers: "120"),
        DiagnosticCase("unknown-allow", rule("\"安全账户\"", "  allow no_atoms\n"),
                       "`no_atoms` is not a warning id", at: "6:9", help: "did you mean `no-atom`?", covers: "no_atoms"),
    ]

    /// docs/RULES.md's table is this enum's: every id, its severity and meaning, in order.
    @Test func theRulesDocumentListsEveryDiagnostic() throws {
        let doc = try String(contentsOf: PackageFiles.root.appendingPathComponent("docs/RULES.md"), encoding: .utf8)
        let rows = doc.split(separator: "\n").map(String.init).filter { $0.hasPrefix("| `") && ($0.contains("` | error | ") || $0.contains("` | warning | ")) }
        #expect(rows == DiagnosticID.allCases.map { "| `\($0.rawValue)` | \($0.severity.rawValue) | \($0.meaning) |" })
    }

    @Test func everyDiagnosticIdHasACase() {
        let ids = DiagnosticID.allCases.map(\.rawValue)
        #expect(Set(ids).count == ids.count, "ids are unique")
        #expect(Set(Self.cases.map(\.id)) == Set(ids))
        #expect(Self.cases.count == ids.count)
    }

    @Test(arguments: cases) func diagnostic(_ c: DiagnosticCase) throws {
        let r = compileRuleBytes(c.bytes)
        let expected = try #require(DiagnosticID(rawValue: c.id))
        let found = diagnostics(r, c.id)
        #expect(found.count == 1, "\(c.id): \(r.diagnostics.map { "\($0.id) \(position($0, r.sources)) \($0.message)" })")
        let d = try #require(found.first)
        #expect(d.message == c.message)
        #expect(position(d, r.sources) == c.at)
        #expect(d.help == c.help)
        #expect(d.severity == expected.severity)
        if let covers = c.covers { #expect(covered(d, r.sources) == covers) }
        // An error keeps the rule set from loading; a warning alone does not.
        if expected.severity == .error {
            #expect(r.ruleSet == nil)
        } else {
            #expect(r.errors.isEmpty, "\(r.errors.map(\.message))")
            #expect(r.ruleSet != nil)
        }
    }

    // MARK: more messages per id

    @Test func unexpectedCharacterHelps() {
        let r = compileRules(rule("“安全账户” or （\"转账\"） or \"汇款\" @ \u{01}"))
        let ds = diagnostics(r, "unexpected-character")
        // A word in typographic quotes is one error for the whole word, with the fix.
        let quote = ds.first { $0.message == "strings use straight double quotes, not `“…”`" }
        #expect(quote?.help == "write \"安全账户\"")
        #expect(quote.map { position($0, r.sources) } == "3:9")
        #expect(quote.map { $0.range.end - $0.range.start } == 6)
        #expect(ds.filter { $0.message.contains("“") || $0.message.contains("”") }.count == 1)
        let paren = ds.first { $0.message == "unexpected character `（`" }
        #expect(paren?.help == "use ASCII parentheses ( )")
        #expect(ds.contains { $0.message == "unexpected character `@`" && $0.help == nil })
        // Control characters are shown by code point.
        #expect(ds.contains { $0.message == "unexpected character U+1" })
        #expect(r.ruleSet == nil)
    }

    /// Rules that refer to rules, in a chain: evaluation follows it recursively, so a chain
    /// longer than the limit is one error at its top, however long (10,000 once overflowed the stack).
    @Test(arguments: [70, 10_000])
    func aTooLongChainOfRuleReferencesIsOneError(length: Int) {
        var text = "rule top.r { title \"t\" score 1 match r0 and \"转账\" hit \"转账\" miss \"你好\" }\n"
        for i in 0..<length {
            text += "private rule r\(i) { title \"t\" match \(i < length - 1 ? "r\(i + 1) and \"转账\"" : "\"转账\"") }\n"
        }
        let r = compileRules(text)
        let ds = diagnostics(r, "too-deep")
        #expect(ds.map(\.message) == ["rule `top.r` depends on a chain of \(length) rule references (at most 64)"])
        #expect(ds.map { position($0, r.sources) } == ["1:38"])
        #expect(r.ruleSet == nil)
        // Within the limit it compiles.
        var ok = "rule top.r { title \"t\" score 1 match r0 and \"转账\" hit \"转账\" miss \"你好\" }\n"
        for i in 0..<64 { ok += "private rule r\(i) { title \"t\" match \(i < 63 ? "r\(i + 1) and \"转账\"" : "\"转账\"") }\n" }
        #expect(compileRules(ok).errors.isEmpty)
    }

    @Test func aByteOrderMarkAndOldMacLineEndsDoNotMoveOrHideAnything() {
        let bom = compileRules("\u{FEFF}rule a { title \"中文\" match fooo hit \"x\" miss \"y\" }\n")
        #expect(diagnostics(bom, "unknown-name").map { position($0, bom.sources) } == ["1:27"])
        // Lone CRs end lines: the comment is one line, the rule is still there.
        let cr = compileRules("# 注释\rrule a { title \"t\" score 1 match \"转账\" hit \"转账\" miss \"你好\" }\r")
        #expect(cr.errors.isEmpty)
        #expect(cr.ruleSet?.rules.map(\.id) == ["a"])
        let crError = compileRules("# 注释\rrule a { title \"t\" match fooo }\r")
        #expect(diagnostics(crError, "unknown-name").map { position($0, crError.sources) } == ["2:26"])
    }

    @Test func aLevelGivenTwiceAndAnItemListedTwiceAreReported() throws {
        let levels = compileRules("levels low 3, low 5, medium 6, high 10\n" + rule("\"安全账户\""))
        let d = try #require(diagnostics(levels, "invalid-levels").first)
        #expect(d.message == "`low` is given twice in `levels`")
        #expect(position(d, levels.sources) == "1:15")
        #expect(levels.ruleSet == nil)

        // "N different ones": the same item twice (here after normalisation) counts once.
        let twice = compileRules("rule a { title \"t\" score 1 match 2 of (\"转账\", \"轉賬\", \"汇款\") hit \"转账汇款\" miss \"转账\" }\n")
        #expect(diagnostics(twice, "duplicate-term").map { position($0, twice.sources) } == ["1:46"])
        let s = try RuleScanner(rules: try #require(twice.ruleSet))
        #expect(s.screen(Record(id: "1", text: "转账")).hits.isEmpty)
        #expect(!s.screen(Record(id: "2", text: "转账汇款")).hits.isEmpty)
    }

    @Test func theCaretFollowsTabsAndWideCharacters() throws {
        let r = compileRules("rule a {\n  title \"t\"\n\tmatch\t\"转账\" and\tfooo\n}\n")
        let d = try #require(diagnostics(r, "unknown-name").first)
        let lines = d.rendered(sources: r.sources).components(separatedBy: "\n")
        #expect(lines[2] == "3 | \tmatch\t\"转账\" and\tfooo")
        #expect(lines[3] == "  | \t     \t          \t^~~~")
    }

    @Test func anUnknownFieldOnAOneLineRuleIsTheOnlyError() {
        let r = compileRules("rule a { title \"x\" bogus \"x\" match \"转账\" hit \"转账\" miss \"no\" }\n")
        #expect(r.diagnostics.map(\.id.rawValue) == ["unknown-field"], "\(r.diagnostics.map(\.message))")
    }

    @Test func anUnfinishedMatchIsOneErrorAtItsEnd() throws {
        let text = """
        category c {
          title "t"
          advice "a"
          script "s"
        }
        rule r {
          title "t"
          category c
          match "安全账户" and
          hit "安全账户"
          miss "你好"
        }
        """
        let r = compileRules(text)
        let d = try #require(r.errors.first)
        #expect(r.errors.count == 1, "no follow-on `missing-field` for the match that was written: \(r.errors.map(\.message))")
        #expect(d.id == .syntax)
        #expect(d.message == "the expression ends before it is complete: expected a word, a name or `(`, found the next field `hit`")
        #expect(position(d, r.sources) == "9:16")   // at the dangling `and`
    }

    @Test func invalidUnicodeEscape() throws {
        let r = compileRules(rule(#""安全\u{ZZ}账户""#))
        let d = try #require(diagnostics(r, "invalid-escape").first)
        #expect(d.message == "invalid unicode escape")
        #expect(d.help == "write it as \\u{200B}")
        #expect(position(d, r.sources) == "3:12")
        #expect(covered(d, r.sources) == "\\u")
    }

    @Test func syntaxMessages() {
        func first(_ text: String) -> (String, String, String?) {
            let r = compileRules(text)
            guard let d = diagnostics(r, "syntax").first else { return ("none", "", nil) }
            return (d.message, position(d, r.sources), d.help)
        }
        #expect(first(rule("\"安全账户\"", "  score \"高\"\n")) == ("expected a number after `score`, found a string", "6:9", nil))
        #expect(first(rule("\"安全账户\"", "  status draft\n")) == ("unknown status `draft`", "6:10", "a status is `stable` or `experimental`"))
        #expect(first(rule("\"安全账户\" near(-3) \"转账\"")) == ("a distance cannot be negative", "3:21", nil))
        #expect(first(rule("(\"安全账户\" and)")) == ("expected a string, a regex, a name or `(`, found `)`", "3:20", nil))
        #expect(first(rule("2 \"安全账户\"")) == ("expected `of` after a number in an expression", "3:11", "write `2 of (a, b, c)`"))
        #expect(first(rule("count(\"转账\")")) == ("expected a comparison after `count(…)`", "4:3", "write `count(a) >= 2`"))
        #expect(first(rule("count(\"转账\", \"汇款\") >= 2")) == ("`count(…)` takes one expression", "3:9", nil))
        #expect(first(rule("any()")) == ("`any(…)` needs at least one item", "3:9", nil))
        #expect(first(rule("\"安全账户\" and or \"转账\"")) == ("expected a word, a name or `(` before `or`", "3:20", nil))
        #expect(first(rule("(\"安全账户\"")) == ("expected `)` to close the parenthesis, found `hit`", "4:3", nil))
        #expect(first(rule("\"安全账户\"", "  score 99999999999\n")) == ("number too large", "6:9", nil))
        #expect(first("levels low 3, medium 6\n") == ("`levels` needs all three of low, medium and high", "1:1", "levels low 3, medium 6, high 10"))
        #expect(first("levels low 3, middle 6, high 10\n") == ("unknown level `middle`", "1:15", "the levels are low, medium and high"))
        #expect(first("terms money \"转账\"\n") == ("expected `=` after the term list's name, found a string", "1:13", nil))
        #expect(first("private terms x = \"转账\"\n") == ("expected `rule` after `private`", "1:9", nil))
        #expect(first("rule r {\n  title \"测试\"\n  match \"安全账户\"\n") == ("expected `}` to close rule `r`, found end of file", "4:1", nil))
        #expect(first("category police {\n  title 标题\n}\n").0 == "expected a string after `title`, found `}`")
    }

    @Test func missingFieldMessages() {
        let r = compileRules("category police {\n  title \"冒充公检法\"\n}\nrule r {\n  title \"测试\"\n  hit \"安全账户\"\n  miss \"你好\"\n}\n")
        let ds = diagnostics(r, "missing-field")
        #expect(ds.map { position($0, r.sources) } == ["1:10", "1:10", "4:6"])
        #expect(Set(ds.map { "\($0.message) / \($0.help ?? "")" }) == [
            "category `police` has no `advice` / add advice \"…\"",
            "category `police` has no `script` / add the words the 96110 caller should say: script \"…\"",
            "rule `r` has no `match` / add match \"…\"",
        ])
    }

    @Test func duplicateCategoryAndRuleIds() {
        let r = compileRules(policeCategory + policeCategory + rule("\"安全账户\"", id: "police.a") + rule("\"转账\"", id: "police.a"))
        let ds = diagnostics(r, "duplicate-id")
        #expect(ds.map(\.message) == ["category `police` is declared twice", "`police.a` is declared twice"])
        #expect(ds.map { position($0, r.sources) } == ["6:10", "17:6"])
        #expect(ds.map(\.help) == ["first declared at test.fz:1:10", "first declared at test.fz:11:6"])
    }

    @Test func unknownNameHelps() {
        // Nothing close: no help. A category's name: a hint about `category`.
        let r = compileRules(policeCategory + rule("xyzzy and police"))
        let ds = diagnostics(r, "unknown-name")
        #expect(ds.map(\.message) == ["no terms or rule named `xyzzy`", "no terms or rule named `police`"])
        #expect(ds.map(\.help) == [nil, "`police` is a category; a rule's category is set with `category police`"])
        // Rules are suggested as well as term lists.
        let s = compileRules(rule("\"安全账户\"", id: "a") + rule("_transfr", id: "b") + "private rule _transfer {\n  title \"转账\"\n  match \"转账\"\n}\n")
        #expect(diagnostics(s, "unknown-name").first?.help == "did you mean `_transfer`?")
    }

    @Test func unknownFieldHelps() {
        let r = compileRules(rule("\"安全账户\"", "  weight 4\n") + "category police {\n  title \"冒充\"\n  advise \"挂断\"\n  advice \"挂断\"\n  script \"您好\"\n}\n")
        let ds = diagnostics(r, "unknown-field")
        #expect(ds.map(\.message) == ["a rule has no field `weight`", "a category has no field `advise`"])
        #expect(ds.map(\.help) == ["a rule has: allow, category, hit, in, match, miss, score, status, tags, title", "did you mean `advice`?"])
        #expect(ds.map { position($0, r.sources) } == ["6:3", "10:3"])
    }

    @Test func selfReferenceIsACycle() throws {
        let r = compileRules(rule("loop or \"安全账户\"", id: "loop"))
        let d = try #require(diagnostics(r, "cycle").first)
        #expect(d.message == "rules refer to each other in a circle: `loop` → `loop`")
        #expect(position(d, r.sources) == "3:9")
        #expect(r.ruleSet == nil)
    }

    @Test func ofBelowOne() throws {
        let r = compileRules(rule("0 of (\"甲方\")"))
        let d = try #require(diagnostics(r, "of-too-large").first)
        #expect(d.message == "`0 of` needs between 1 and 1 (the list has 1 item)")
        #expect(d.help == nil)
    }

    @Test func invalidRegexFlag() throws {
        let r = compileRules(rule("/安全账户/q"))
        let d = try #require(diagnostics(r, "invalid-regex").first)
        #expect(d.message == "unknown regex flag `q`")
        #expect(d.help == "the flags are s (dot matches newline), x (extended), m (multiline)")
        #expect(covered(d, r.sources) == "/安全账户/q")
    }

    @Test func invalidRegexOffsetMapsToRuleFileColumn() throws {
        // PCRE2 reports a byte offset into the pattern; the diagnostic points at the same
        // character in the rule file, counting Chinese characters as one column each.
        func point(_ match: String) throws -> (String, String) {
            let r = compileRules(rule(match))
            let d = try #require(diagnostics(r, "invalid-regex").first, "\(match)")
            #expect(d.message == "invalid regex: range out of order in character class")
            return (position(d, r.sources), covered(d, r.sources))
        }
        #expect(try point("/[z-a]/") == ("3:13", "a"))
        #expect(try point("/安全账户[z-a]/") == ("3:17", "a"))
        #expect(try point("\"转账\" and /安全账户[z-a]/") == ("3:26", "a"))
        // An escaped slash is two characters in the file but one in the pattern.
        #expect(try point(#"/网址\/[z-a]/"#) == ("3:17", "a"))
        #expect(try point(#"/\/\/\/[z-a]/"#) == ("3:19", "a"))
        // A missing parenthesis is reported at the end of the pattern: the closing slash.
        let r = compileRules(rule("/汉字(/"))
        let d = try #require(diagnostics(r, "invalid-regex").first)
        #expect(d.message == "invalid regex: missing closing parenthesis")
        #expect(position(d, r.sources) == "3:13")
        #expect(covered(d, r.sources) == "/")
    }

    @Test func levelsGivenTwice() throws {
        let r = compileRules("levels low 3, medium 6, high 10\nlevels low 2, medium 5, high 9\n" + rule("\"安全账户\""))
        let d = try #require(diagnostics(r, "invalid-levels").first)
        #expect(d.message == "`levels` is given more than once in this rule set")
        #expect(position(d, r.sources) == "2:1")
        #expect(r.ruleSet == nil)
    }

    @Test func invisibleLiteralIsEmpty() throws {
        let r = compileRules(rule(#""\u{200B}""#) + "terms blank = \"转账\", \"\u{7F}\", \"汇款\"\n")
        let ds = diagnostics(r, "empty-literal")
        #expect(ds.map { position($0, r.sources) } == ["3:9", "7:21"])
        #expect(ds.first?.message == "`\"\u{200B}\"` is empty after normalisation, so it would match everywhere")
    }

    @Test func badExampleLineNumber() throws {
        let r = compileRules(rule("\"安全账户\"", "  miss call \"caller: 你好\\n没有冒号\"\n"))
        let d = try #require(diagnostics(r, "bad-example").first)
        #expect(d.message == "call example line 2 is not `speaker: text`")
    }

    @Test func noExamplesForMissingHit() throws {
        let r = compileRules("rule r {\n  title \"测试\"\n  match \"安全账户\"\n  miss \"你好\"\n}\n")
        #expect(diagnostics(r, "no-examples").map(\.message) == ["rule `r` has no `hit` example"])
        // A private rule needs no examples.
        let p = compileRules("private rule _p {\n  title \"测试\"\n  match \"安全账户\"\n}\n")
        #expect(p.diagnostics.isEmpty)
    }

    @Test func duplicateTermVerbatim() throws {
        let r = compileRules("terms money = \"转账\", \"汇款\", \"转账\"\n" + rule("money"))
        let d = try #require(diagnostics(r, "duplicate-term").first)
        #expect(d.message == "`\"转账\"` is already in this list")
        #expect(position(d, r.sources) == "1:27")
    }

    // MARK: rendering

    @Test func renderedForm() throws {
        let text = "terms authority = \"公安局\", \"警官\"\nterms crime = \"洗钱\", \"通缉\"\n" + rule("authorty near(40) crime")
        let r = compileRules(text, path: "rules/police.fz")
        let d = try #require(r.errors.first)
        #expect(d.rendered(sources: r.sources) == """
            rules/police.fz:5:9: error[unknown-name]: no terms or rule named `authorty`
              |
            5 |   match authorty near(40) crime
              |         ^~~~~~~~
              = help: did you mean `authority`?

            """)
    }

    @Test func renderedFormFollowsDisplayWidth() throws {
        // A warning, a two-digit line number, and wide characters before and under the caret.
        let text = String(repeating: "# 注释\n", count: 9) + rule("\"转账\" and \"钱\"")
        let r = compileRules(text)
        let d = try #require(diagnostics(r, "short-literal").first)
        #expect(d.rendered(sources: r.sources) == """
            test.fz:12:18: warning[short-literal]: `"钱"` is one character: it matches too much to be evidence
               |
            12 |   match "转账" and "钱"
               |                    ^~~~

            """)
        // Colour: the severity in red for errors, yellow for warnings.
        let coloured = d.rendered(sources: r.sources, colour: true)
        #expect(coloured.contains("\u{1B}[33mwarning[short-literal]\u{1B}[0m"))
        #expect(!coloured.contains("\u{1B}[31m"))
    }

    @Test func renderedCaretIsClampedToTheLine() throws {
        // A range that runs over several lines is underlined only to the end of its first line.
        let r = compileRules("levels low 6,\n  medium 3, high 10\n")
        let d = try #require(diagnostics(r, "invalid-levels").first)
        #expect(covered(d, r.sources) == "levels low 6,\n  medium 3, high 10")
        let lines = d.rendered(sources: r.sources).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[2] == "1 | levels low 6,")
        #expect(lines[3] == "  | ^" + String(repeating: "~", count: 12))   // `levels low 6,` is 13 wide
        #expect(lines.count == 5)   // no help line; ends with a newline
        // A one-character range gets a single caret under the right column.
        let u = compileRules("rule r {\n  title \"测试\n  match \"安全账户\"\n  hit \"安全账户\"\n  miss \"你好\"\n}\n")
        let s = try #require(diagnostics(u, "unterminated-string").first)
        let ulines = s.rendered(sources: u.sources).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(ulines[2] == "2 |   title \"测试")
        #expect(ulines[3] == "  |         ^")
        #expect(ulines[4] == "  = help: add a closing `\"` before the end of the line")
    }

    @Test func jsonForm() throws {
        let text = "terms authority = \"公安局\", \"警官\"\nterms crime = \"洗钱\", \"通缉\"\n" + rule("authorty near(40) crime")
        let r = compileRules(text, path: "rules/police.fz")
        let d = try #require(r.errors.first)
        let json = d.json(sources: r.sources)
        #expect(json == #"{"file":"rules/police.fz","line":5,"column":9,"end_line":5,"end_column":17,"severity":"error","id":"unknown-name","message":"no terms or rule named `authorty`","help":"did you mean `authority`?"}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["line"] as? Int == 5)
        #expect(object["column"] as? Int == 9)
        #expect(object["id"] as? String == "unknown-name")
        // Without help, there is no help key; quotes in messages are escaped.
        let w = try #require(diagnostics(compileRules(rule("\"转账\" and \"钱\"")), "short-literal").first)
        let wj = w.json(sources: compileRules(rule("\"转账\" and \"钱\"")).sources)
        let wo = try #require(try JSONSerialization.jsonObject(with: Data(wj.utf8)) as? [String: Any])
        #expect(wo["help"] == nil)
        #expect(wo["severity"] as? String == "warning")
        #expect(wo["message"] as? String == "`\"钱\"` is one character: it matches too much to be evidence")
    }

    // MARK: behaviour of the set of diagnostics

    @Test func warningsSuppressedByAllow() throws {
        let noisy = """
        rule noisy {
          title "噪音"
          match not "提醒" and "钱"
        }
        """
        let r = compileRules(noisy)
        #expect(Set(r.diagnostics.map(\.id.rawValue)) == ["no-examples", "short-literal"])
        #expect(r.ruleSet != nil)   // warnings do not stop loading

        let notAtom = compileRules(rule("not \"提醒\""))
        #expect(notAtom.diagnostics.map(\.id.rawValue) == ["no-atom"])

        let quiet = """
        rule quiet {
          title "安静"
          allow no_examples, short_literal
          match not "提醒" and "钱"
        }
        rule quiet2 {
          title "安静"
          allow no_atom
          match not "提醒"
          hit "你好"
          miss "提醒"
        }
        """
        let q = compileRules(quiet)
        #expect(q.diagnostics.map { "\($0.id) \($0.message)" } == [])
        #expect(q.ruleSet != nil)

        // `allow` silences only its own rule's warnings.
        let mixed = compileRules(quiet + "\n" + noisy)
        #expect(mixed.diagnostics.map(\.id.rawValue).sorted() == ["no-examples", "short-literal"])
        #expect(mixed.diagnostics.allSatisfy { mixed.sources[0].lineColumn($0.range.start).line >= 13 })
    }

    @Test func bothSpellingsOfAnIdAreAllowed() {
        // The help names `allow no-atom`; the reference also shows `allow no_atom`. Both must work.
        let r = compileRules(rule("not \"提醒\""))
        let help = diagnostics(r, "no-atom").first?.help ?? ""
        let written = help.components(separatedBy: "`allow ").dropFirst().first?.components(separatedBy: "`").first
        #expect(written == "no-atom")
        for spelling in ["no-atom", "no_atom"] {
            let q = compileRules(rule("not \"提醒\"", "  allow \(spelling)\n"))
            #expect(q.diagnostics.map { "\($0.id): \($0.message)" } == [], "allow \(spelling)")
            #expect(q.ruleSet != nil)
        }
        // So does the spelling an unknown-allow suggests.
        let typo = compileRules(rule("not \"提醒\"", "  allow no-atm\n"))
        #expect(diagnostics(typo, "unknown-allow").first?.help == "did you mean `no-atom`?")
        #expect(diagnostics(typo, "no-atom").count == 1)
        // Hyphenated names are still names elsewhere; a minus sign before a digit is still a number.
        #expect(shape("money-words and \"转账\"") == "(and money-words \"转账\")")
        #expect(parseRules(rule("\"转账\"", "  score -3\n")).file.declarations.count == 1)
    }

    @Test func errorsCannotBeAllowed() {
        let r = compileRules(rule("\"安全账户\" and nothing", "  allow unknown_name\n"))
        #expect(diagnostics(r, "unknown-name").count == 1)
        #expect(diagnostics(r, "unknown-allow").first?.message == "`unknown_name` is not a warning id")
        #expect(r.ruleSet == nil)
    }

    @Test func everyErrorInAFileIsReported() {
        let text = """
        terms money = "转账", "汇款"
        terms money = "打款"

        rule a {
          title "甲
          socre 4
          match money
          hit "转账"
          miss "你好"
        }

        rule b {
          title "乙"
          match 5 of (money, "安全账户") and mony
          hit "转账"
          miss "你好"
        }

        rule c {
          title "丙"
          match /[z-a]/
          hit "转账"
          miss "你好"
        }
        """
        let r = compileRules(text)
        #expect(r.errors.map { "\($0.id)@\(position($0, r.sources))" } == [
            "duplicate-id@2:7",
            "unterminated-string@5:9",
            "unknown-field@6:3",
            "of-too-large@14:9",
            "unknown-name@14:34",
            "invalid-regex@21:13",
        ])
        #expect(r.ruleSet == nil)
    }

    @Test func bothSidesOfNearAndThenAreChecked() {
        // An error on the left of `near`/`then` does not hide one on the right.
        let r = compileRules(rule("nope_a near(5) nope_b") + rule("nope_c then(2) /(/", id: "r2"))
        #expect(r.errors.map { "\($0.id)@\(position($0, r.sources))" } == [
            "unknown-name@3:9", "unknown-name@3:24", "unknown-name@9:9", "invalid-regex@9:26",
        ])
        // And a term list used only on the right is still used: no spurious warning.
        let doc = compileRules("terms authority = \"公安局\", \"警官\"\nterms crime = \"洗钱\", \"通缉\"\n" + rule("authorty near(40) crime"))
        #expect(diagnostics(doc, "unused-terms").map(\.message) == ["term list `authority` is not used by any rule"])
    }

    @Test func diagnosticsAcrossFilesAreSortedByFileAndPosition() {
        let a = rule("\"安全账户\" and missing_a", id: "a")
        let b = "terms unused = \"备用词\"\n" + rule("missing_b", id: "b")
        let r = RuleCompiler.compile(files: [("a.fz", Data(a.utf8)), ("b.fz", Data(b.utf8))])
        #expect(r.diagnostics.map { "\(r.sources[$0.range.file].path):\(position($0, r.sources)) \($0.id)" } == [
            "a.fz:3:20 unknown-name",
            "b.fz:1:7 unused-terms",
            "b.fz:4:9 unknown-name",
        ])
        #expect(r.errors.count == 2)
        #expect(r.warnings.count == 1)
    }

    @Test func aRuleSetWithAnErrorIsNotLoaded() throws {
        let good = rule("\"安全账户\"", id: "good")
        let clean = compileRules(good)
        #expect(clean.diagnostics.isEmpty)
        #expect(clean.ruleSet?.rules.count == 1)
        // One bad rule anywhere: nothing is loaded, not even the good rule.
        let bad = compileRules(good + rule("\"转账\" and nowhere", id: "bad"))
        #expect(bad.errors.count == 1)
        #expect(bad.ruleSet == nil)
        // The same across files.
        let split = RuleCompiler.compile(files: [("good.fz", Data(good.utf8)), ("bad.fz", Data(rule("/(/", id: "bad").utf8))])
        #expect(split.errors.map(\.id.rawValue) == ["invalid-regex"])
        #expect(split.ruleSet == nil)
    }

    @Test func invalidUTF8ReportedOncePerFile() throws {
        // Several bad bytes: one diagnostic, at the first; the rest of the file is still checked.
        let bytes = Array("rule r {\n  title \"".utf8) + [0xC0, 0xAF] + Array("\"\n  match \"安全账户\" and nowhere\n}\n".utf8) + [0xFF, 0xFE]
        let r = compileRuleBytes(bytes)
        let bad = diagnostics(r, "invalid-utf8")
        #expect(bad.count == 1)
        #expect(bad.first?.message == "the file is not valid UTF-8 (byte 18)")
        #expect(bad.first.map { position($0, r.sources) } == "2:10")
        #expect(diagnostics(r, "unknown-name").count == 1)
        #expect(r.ruleSet == nil)
    }
}
