import Foundation
import Testing
@testable import Fanzha

// Shared helpers for the rules-language tests (ParserTests, DiagnosticTests, FormatterTests,
// RuleFuzzTests).

/// Foundation has a `Screener` too.
typealias RuleScanner = Fanzha.Screener

/// Compiles one in-memory rule file.
func compileRules(_ text: String, path: String = "test.fz") -> CompileResult {
    RuleCompiler.compile(files: [(path: path, data: Data(text.utf8))])
}

/// Compiles one in-memory rule file that must compile cleanly; the test fails (and stops) if not.
func compiledRuleSet(_ text: String, path: String = "test.fz", sourceLocation: SourceLocation = #_sourceLocation) throws -> RuleSet {
    let result = compileRules(text, path: path)
    #expect(result.errors.isEmpty, "\(result.errors.map { $0.rendered(sources: result.sources) })", sourceLocation: sourceLocation)
    return try #require(result.ruleSet, sourceLocation: sourceLocation)
}

/// Compiles one in-memory rule file given as raw bytes (which need not be UTF-8).
func compileRuleBytes(_ bytes: [UInt8], path: String = "test.fz") -> CompileResult {
    RuleCompiler.compile(files: [(path: path, data: Data(bytes))])
}

/// Parses one file with the (internal) parser: the syntax tree and the lexer's and parser's diagnostics.
func parseRules(_ text: String, path: String = "test.fz") -> (file: RuleFile, diagnostics: [Diagnostic]) {
    var parser = Parser(file: 0, source: SourceFile(path: path, text: text))
    let file = parser.parseFile()
    return (file, parser.diagnostics)
}

/// The rule declarations of a parsed file, in order.
func ruleDecls(_ f: RuleFile) -> [RuleDecl] {
    f.declarations.compactMap { if case .rule(let r) = $0 { return r } else { return nil } }
}

/// A minimal rule around a match expression.
func ruleText(_ id: String = "t", match: String, extra: String = "") -> String {
    """
    rule \(id) {
      title "测试规则"
      match \(match)
    \(extra)}

    """
}

/// Parses `match` inside a minimal rule and returns its expression (nil, with diagnostics, if it fails).
func parseMatch(_ match: String) -> (expr: Expr?, diagnostics: [Diagnostic]) {
    let (f, ds) = parseRules(ruleText(match: match))
    return (ruleDecls(f).first?.match?.value, ds)
}

/// The expression of `match`, as an S-expression; "<error: …>" when it does not parse.
func shape(_ match: String) -> String {
    let (e, ds) = parseMatch(match)
    guard ds.isEmpty, let e else { return "<error: \(ds.map(\.message).joined(separator: "; "))>" }
    return sexpr(e)
}

/// A compact, unambiguous rendering of an expression tree, for structural assertions.
func sexpr(_ e: Expr) -> String {
    switch e.kind {
    case .literal(let s): return "\"\(s)\""
    case .exact(let s): return "exact(\"\(s)\")"
    case .regex(let p, let f): return "/\(p)/\(f)"
    case .name(let n): return n
    case .and(let xs): return "(and " + xs.map(sexpr).joined(separator: " ") + ")"
    case .or(let xs): return "(or " + xs.map(sexpr).joined(separator: " ") + ")"
    case .not(let x): return "(not \(sexpr(x)))"
    case .atLeast(let n, let xs, let spelling):
        let head: String
        switch spelling {
        case .any: head = "any"
        case .all: head = "all"
        case .of: head = "\(n)-of"
        }
        return "(\(head) " + xs.map(sexpr).joined(separator: " ") + ")"
    case .near(let a, let b, let d, let unit):
        return "(near\(d)\(unit == .turns ? "t" : "") \(sexpr(a)) \(sexpr(b)))"
    case .then(let a, let b, let gap):
        return "(then\(gap.map(String.init) ?? "") \(sexpr(a)) \(sexpr(b)))"
    case .count(let x, let cmp, let n): return "(count\(cmp.rawValue)\(n) \(sexpr(x)))"
    case .scope(let s, let x): return "(\(s.name) \(sexpr(x)))"
    case .model(let cmp, _, let written): return "(model\(cmp.rawValue)\(written))"
    }
}

/// `line:column` of a diagnostic in its file.
func position(_ d: Diagnostic, _ sources: [SourceFile]) -> String {
    let (l, c) = sources[d.range.file].lineColumn(d.range.start)
    return "\(l):\(c)"
}

/// The source text a diagnostic's range covers.
func covered(_ d: Diagnostic, _ sources: [SourceFile]) -> String {
    sources[d.range.file].text(d.range.start..<d.range.end)
}

/// The diagnostics with an id.
func diagnostics(_ r: CompileResult, _ id: String) -> [Diagnostic] {
    r.diagnostics.filter { $0.id.rawValue == id }
}

/// A scanner over a rule set that must have compiled.
func makeScanner(_ text: String, usePrefilter: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> RuleScanner {
    let r = compileRules(text)
    #expect(r.errors.isEmpty, "unexpected errors: \(r.errors.map(\.message))", sourceLocation: sourceLocation)
    let rules = try #require(r.ruleSet, sourceLocation: sourceLocation)
    return try RuleScanner(rules: rules, usePrefilter: usePrefilter)
}

/// A call record from `speaker: text` lines (`caller`/`来电` are the caller's side).
func call(_ lines: String, id: String = "call") -> Record {
    guard case .success(let turns) = CallTranscript.parse(lines) else { fatalError("bad call transcript in a test") }
    return Record(id: id, turns: turns)
}

/// Whether rule `id` of the scanner's rule set fires on a record; its evidence when it does.
func fires(_ s: RuleScanner, _ id: String, _ record: Record) -> [EvidenceSpan]? {
    guard let i = s.rules.rule(named: id) else { fatalError("no rule \(id)") }
    return s.fires(rule: i, on: record)
}

func fires(_ s: RuleScanner, _ id: String, _ text: String) -> Bool {
    fires(s, id, Record(id: "m", text: text)) != nil
}

/// Whether a file is only whitespace and comments (the only input that may legitimately produce no
/// diagnostics in the fuzz tests).
func isBlankOrComments(_ text: String) -> Bool {
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let t = line.unicodeScalars.drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{FEFF}" || $0 == "\u{FFFD}" }
        if t.isEmpty || t.first == "#" { continue }
        if t.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{FEFF}" || $0 == "\u{FFFD}" }) { continue }
        return false
    }
    return true
}


/// A small but complete rule file used by several suites: every declaration kind and most
/// expression forms, with comments in all the places `fmt` must keep them.
let sampleRuleFile = """
# 样例规则集：冒充公检法
levels low 3, medium 6, high 10

category police {  # 分类
  title "冒充公检法及政府机关"
  description "骗子冒充公安、检察院、法院，称你涉嫌犯罪。"
  # 劝阻建议
  advice "公检法机关不会通过电话办案，也没有“安全账户”。"
  script "您好，这里是反诈中心，请不要转账。"
  labels "冒充公检法", "冒充公检法及政府机关类"
}

terms authority = "公安局", "派出所", "检察院", "法院", "警官"
terms crime = "洗钱", "涉案", "通缉", "逮捕令"  # 罪名

# 指控
rule police.accuse {
  title "自称公检法并指控涉嫌犯罪"
  category police
  score 4
  status stable
  tags authority, accusation
  match authority near(40) crime
  hit "我是公安局的警官，你的银行账户涉嫌洗钱"
  miss "警方提醒：凡是自称公检法要求转账的都是诈骗"
}

private rule _transfer {
  title "转账要求"
  match any("转账", "汇款", "打款")
}

rule police.safe_account {
  title "要求转入安全账户"
  category police
  score 5
  status experimental
  match _transfer and ("安全账户" or "国家账户") and not "提醒"
  hit "请把钱转账到安全账户"
  hit call "caller: 你涉嫌洗钱\\ncallee: 那怎么办\\ncaller: 把钱转账到安全账户"
  miss "反诈提醒：不存在安全账户，不要转账"
}

rule benign.notice {
  title "官方反诈提醒"
  score -3
  match 2 of ("96110", "反诈", "提醒") or count("骗子") >= 2
  hit "96110反诈提醒"
  miss "你好"
}
"""
