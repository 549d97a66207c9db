import Foundation
import Testing
@testable import Fanzha

// `fanzha cases`: the selection (deterministic, diverse, short, never benign), the Markdown and
// HTML handouts (structure, labels, escaping, redaction inside marks), the command, and a real
// render in headless Chromium.

// MARK: - Fixtures

private enum CasesFixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The bundled rules and the labelled corpus, scanned once.
    static let corpus: (rules: RuleSet, records: [Record], verdicts: [Verdict]) = {
        let compiled = try! RuleCompiler.compile(paths: [root.appendingPathComponent("rules").path])
        let rules = compiled.ruleSet!
        var records: [Record] = []
        for name in ["messages.jsonl", "calls.jsonl"] {
            let path = root.appendingPathComponent("corpus").appendingPathComponent(name).path
            records += RecordSource(bytes: FileManager.default.contents(atPath: path)!, name: path, format: .jsonl,
                                    options: ReaderOptions()).readAll().records
        }
        let scanner = try! Screener(rules: rules)
        return (rules, records, records.map { scanner.screen($0) })
    }()

    static func handout(seed: UInt64 = 1, configure: (inout CaseOptions) -> Void = { _ in }) -> Handout {
        var o = CaseOptions()
        o.seed = seed
        configure(&o)
        return Handout.select(records: corpus.records, verdicts: corpus.verdicts, rules: corpus.rules, options: o)
    }

    /// A small rule set whose category and rule titles need escaping.
    static let tricky = """
    levels low 3, medium 6, high 10

    category fake {
      title       "骗局<b>&\\"引号\\""
      description "骗子说 <script>alert(1)</script> & 要你转账。"
      advice      "不要转账 <u>，拨打 96110。"
      script      "您好，这里是反诈中心。"
    }

    category police {
      title  "冒充公检法"
      advice "挂断。"
      script "您好。"
      labels "冒充公检法"
    }

    rule fake.safe {
      title    "要求转入 <i>安全账户</i>"
      category fake
      score    6
      match    "安全账户"
    }

    rule fake.phone {
      title    "留手机号 & 让回拨"
      category fake
      score    2
      match    /1[3-9]\\d{9}/
    }

    rule fake.urgent {
      title    "催促"
      category fake
      score    2
      match    "马上"
    }

    rule fake.secret {
      title    "要求保密"
      category fake
      score    3
      match    "不要告诉"
    }
    """

    static func compile(_ text: String) throws -> RuleSet {
        let result = RuleCompiler.compile(files: [(path: "cases-test.fz", data: Data(text.utf8))])
        return try #require(result.ruleSet, "rules do not compile: \(result.errors.map(\.message))")
    }

    static func handout(rules: RuleSet, texts: [(id: String, text: String, label: String?)], configure: (inout CaseOptions) -> Void = { _ in }) throws -> Handout {
        let records = texts.map { Record(id: $0.id, text: $0.text, label: $0.label) }
        var o = CaseOptions()
        configure(&o)
        return try Handout.build(records: records, rules: rules, options: o)
    }
}

private func digits(_ s: String) -> Int { s.unicodeScalars.filter { ("0"..."9").contains($0) || ("０"..."９").contains($0) }.count }

// MARK: - Selection

@Suite struct CasesSelectionTests {
    @Test func sameSeedGivesTheSameHandout() {
        let a = CasesFixture.handout(seed: 7), b = CasesFixture.handout(seed: 7)
        #expect(a.caseCount > 0)
        #expect(a.markdown() == b.markdown())
        #expect(a.html() == b.html())
        #expect(a.sections.map { $0.cases.map(\.record.id) } == b.sections.map { $0.cases.map(\.record.id) })
    }

    @Test func differentSeedsMayChooseDifferently() {
        var choices: Set<[[String]]> = []
        for seed in UInt64(1)...12 {
            choices.insert(CasesFixture.handout(seed: seed).sections.map { $0.cases.map(\.record.id) })
        }
        #expect(choices.count > 1, "12 seeds all chose the same cases")
    }

    @Test func theGeneratorIsSplitMix64() {
        // reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c)
        var g = Fanzha.SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(Fanzha.SplitMix64.hash("police") == Fanzha.SplitMix64.hash("police"))
    }

    @Test func casesAreFlaggedShortAndOfTheirCategory() {
        let h = CasesFixture.handout()
        let rules = CasesFixture.corpus.rules
        #expect(h.sections.count >= 12, "only \(h.sections.count) categories have cases")
        for s in h.sections {
            #expect(!s.cases.isEmpty && s.cases.count <= 3)
            for c in s.cases {
                #expect(c.level >= .medium)
                #expect(rules.rules[c.primaryRule].category == s.category)
                #expect(c.signs.first == c.primaryRule)
                let length = c.record.turns.reduce(0) { $0 + $1.text.unicodeScalars.count }
                #expect(length <= (c.record.isCall ? 400 : 200), "\(c.record.id) is \(length) characters")
                // a case is never labelled benign or as another category
                #expect(!c.record.id.contains("benign"))
                if let label = c.record.label { #expect(label == rules.categories[s.category].id) }
            }
        }
    }

    @Test func chosenCasesShowDifferentRules() {
        let h = CasesFixture.handout()
        var diverse = 0
        for s in h.sections where s.cases.count > 1 {
            // each case is chosen for a different sign, one it shows
            let primaries = s.cases.map(\.primaryRule)
            #expect(Set(primaries).count == primaries.count, "category \(s.category): the same tell-tale rule twice \(primaries)")
            diverse += 1
        }
        #expect(diverse >= 10)
    }

    @Test func diversityBeatsAHigherScoreOfTheSameRule() throws {
        let rules = try CasesFixture.compile(CasesFixture.tricky)
        // four texts with only 安全账户 (+ phone, + urgency), one with 不要告诉
        let h = try CasesFixture.handout(rules: rules, texts: [
            ("a1", "马上把钱转入安全账户，联系13812345678", nil),
            ("a2", "马上转入安全账户，回拨13912345678", nil),
            ("a3", "请马上转到安全账户，电话13712345678", nil),
            ("b1", "钱转入安全账户，不要告诉任何人", nil),
        ]) { $0.perCategory = 2 }
        let cases = try #require(h.sections.first?.cases)
        #expect(cases.count == 2)
        #expect(Set(cases.map(\.primaryRule)).count == 2)
        #expect(cases.map(\.record.id).contains("b1"))
    }

    /// A dataset label that several categories accept (冒充领导、熟人类: boss, relative, school)
    /// keeps a case in whichever of them the rules chose.
    @Test func aLabelOfSeveralCategoriesKeepsItsCasesInEach() throws {
        let h = try CasesFixture.handout(rules: CasesFixture.corpus.rules, texts: [
            ("r", "爸，我是小宇，我在学校打篮球把人撞伤了，对方要我赔两万医药费，不然要报警。你先别告诉妈，钱打到辅导员给的卡上，我晚点跟你说。", "冒充领导、熟人类"),
            ("b", "我在开会，不方便接电话。有个合作方需要马上付一笔38万的保证金，你先从公司账上转过去，账号我发你，回头我补签字。", "冒充领导、熟人类"),
        ])
        let ids = Set(h.sections.map { CasesFixture.corpus.rules.categories[$0.category].id })
        #expect(ids == ["relative", "boss"])
    }

    @Test func plainTextWithCRLFLinesIsOneRecordPerLine() {
        let (records, errors) = RecordSource(bytes: Data("第一条\r\n第二条\r\n\r\n第三条\r\n".utf8), name: "t.txt", format: .text,
                                             options: ReaderOptions()).readAll()
        #expect(errors.isEmpty)
        #expect(records.map { $0.turns.map(\.text) } == [["第一条"], ["第二条"], [""], ["第三条"]], "a blank line is a record too, as in scan")
        #expect(records.map(\.id) == ["1", "2", "3", "4"])
    }

    @Test func benignLabelsLongTextsAndLowLevelsAreLeftOut() throws {
        let rules = try CasesFixture.compile(CasesFixture.tricky)
        let long = "请把钱转入安全账户，不要告诉家人。" + String(repeating: "这是很长的说明文字。", count: 25)
        let h = try CasesFixture.handout(rules: rules, texts: [
            ("benign", "警方提醒：不存在安全账户，不要告诉骗子验证码", "benign"),
            ("other", "请转入安全账户，不要告诉家人", "冒充公检法"),
            ("long", long, nil),
            ("low", "不要告诉别人", nil),
            ("ok", "请转入安全账户，不要告诉家人", "fake"),
        ])
        #expect(h.sections.flatMap { $0.cases.map(\.record.id) } == ["ok"])
        #expect(h.sections.first?.flagged == 2)   // benign and other-category records are not counted; long is
    }

    @Test func categoryFilterAndPerCategory() {
        let h = CasesFixture.handout { $0.categories = ["police", "boss"]; $0.perCategory = 2 }
        let rules = CasesFixture.corpus.rules
        #expect(h.sections.map { rules.categories[$0.category].id } == ["police", "boss"])
        #expect(h.sections.allSatisfy { $0.cases.count == 2 })
    }

    @Test func warningSignsAreTheCategorysRules() {
        let h = CasesFixture.handout()
        let rules = CasesFixture.corpus.rules
        for s in h.sections {
            #expect(!s.warningSigns.isEmpty)
            #expect(s.warningSigns.allSatisfy { rules.rules[$0].category == s.category && rules.rules[$0].score > 0 })
        }
    }
}

// MARK: - Rendering

@Suite struct CasesRenderTests {
    @Test func markdownHasAHeadingPerCategoryLabelledMarksAdviceAndASummary() {
        let h = CasesFixture.handout()
        let md = h.markdown()
        let rules = CasesFixture.corpus.rules
        let lines = md.split(separator: "\n").map(String.init)
        #expect(lines.first == "# 防范电信网络诈骗 · 典型案例讲义")
        for (n, s) in h.sections.enumerated() {
            let cat = rules.categories[s.category]
            #expect(lines.contains("## \(Handout.chineseNumber(n + 1))、\(Handout.escapeMarkdown(cat.title))"), "no heading for \(cat.id)")
            #expect(md.contains(Handout.escapeMarkdown(cat.advice)), "no advice for \(cat.id)")
            #expect(md.contains(Handout.escapeMarkdown(cat.description)), "no description for \(cat.id)")
            for c in s.cases { #expect(md.contains("- \(Handout.escapeMarkdown(rules.rules[c.primaryRule].title))")) }
        }
        #expect(lines.filter { $0.hasPrefix("### 案例 ") }.count == h.caseCount)
        // marks with the rule title as the label: **phrase**〔title〕
        let mark = try! Regex(#"\*\*[^*\n]+\*\*〔([^〕]+)〕"#)
        let labelled = md.matches(of: mark).compactMap { $0.output[1].substring.map(String.init) }
        #expect(labelled.count >= h.caseCount)
        let titles = Set(rules.rules.map { Handout.escapeMarkdown($0.title) })
        #expect(labelled.allSatisfy { titles.contains($0) })
        // the summary: one table row per category
        let summary = try! #require(md.range(of: "## 防骗要点一页通"))
        let tail = md[summary.upperBound...]
        #expect(tail.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| 骗局") }.count == h.sections.count)
        #expect(md.contains("96110") && md.contains(" 110 "))
        #expect(lines.filter { $0.contains("**提醒：**") && $0.contains("96110") && $0.contains("110") }.count == h.sections.count)
    }

    @Test func htmlIsSelfContainedPrintableAndResponsive() {
        let h = CasesFixture.handout()
        let html = h.html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        #expect(html.contains("@page { size: A4;"))
        #expect(html.contains("break-before: page") && html.contains("break-inside: avoid"))
        #expect(html.contains("@media (max-width: 600px)") && html.contains("@media print"))
        #expect(html.contains("\"Noto Sans CJK SC\""))
        // nothing to fetch, nothing to run
        for needle in ["<script", "<link", "src=", "http://", "https://", "@import", "url("] {
            #expect(!html.contains(needle), "the handout contains \(needle)")
        }
        #expect(html.components(separatedBy: "<section class=\"category\"").count - 1 == h.sections.count)
        #expect(html.components(separatedBy: "<article class=\"case\">").count - 1 == h.caseCount)
        #expect(html.contains("<mark title=\"") && html.contains("</mark><sup>"))
        #expect(html.contains("<section class=\"summary\" id=\"summary\">"))
        let rules = CasesFixture.corpus.rules
        for s in h.sections {
            #expect(html.contains(Highlighter.escapeHTML(rules.categories[s.category].advice)))
        }
        #expect(html.contains("<strong>96110</strong>") && html.contains("<strong>110</strong>"))
        // every tag that opens a block closes it
        for tag in ["section", "article", "blockquote", "ul", "mark", "div", "p"] {
            let opens = html.components(separatedBy: "<\(tag)>").count + html.components(separatedBy: "<\(tag) ").count - 2
            #expect(opens == html.components(separatedBy: "</\(tag)>").count - 1, "<\(tag)> is not balanced")
        }
    }

    @Test func everythingFromTheDataAndTheRulesIsEscaped() throws {
        let rules = try CasesFixture.compile(CasesFixture.tricky)
        let h = try CasesFixture.handout(rules: rules, texts: [
            ("<x>", "<script>alert(\"x\")</script>请马上转入安全账户 & 不要告诉别人 <b>", nil),
        ])
        #expect(h.caseCount == 1)
        let html = h.html()
        #expect(!html.contains("<script") && !html.contains("<b>") && !html.contains("<i>") && !html.contains("<u>"))
        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
        #expect(html.contains("骗局&lt;b&gt;&amp;&quot;引号&quot;"))
        #expect(html.contains("<mark title=\"要求转入 &lt;i&gt;安全账户&lt;/i&gt;\">安全账户</mark><sup>要求转入 &lt;i&gt;安全账户&lt;/i&gt;</sup>"))
        #expect(html.contains("编号 &lt;x&gt;"))
        #expect(html.contains("&amp; 要你转账") && html.contains("不要转账 &lt;u&gt;"))
        let md = h.markdown()
        #expect(md.contains("\\<script\\>alert(\"x\")\\</script\\>"))
        #expect(md.contains("## 一、骗局\\<b\\>\\&\"引号\""))
        #expect(md.contains("\\& **不要告诉**〔要求保密〕别人 \\<b\\>"))
    }

    @Test func redactionReachesInsideTheMarks() throws {
        let rules = try CasesFixture.compile(CasesFixture.tricky)
        let h = try CasesFixture.handout(rules: rules, texts: [
            ("m1", "请马上转入安全账户，有事打 138-1234-5678，卡号 6222 0212 3456 7890 123", nil),
        ])
        let md = h.markdown(), html = h.html()
        #expect(md.contains("**[手机号]**〔留手机号 \\& 让回拨〕"))
        #expect(html.contains("<mark title=\"留手机号 &amp; 让回拨\"><span class=\"redacted\">[手机号]</span></mark>"))
        #expect(md.contains("卡号 [银行卡号]") && html.contains("卡号 <span class=\"redacted\">[银行卡号]</span>"))
        for out in [md, html] {
            #expect(!out.contains("1234") && !out.contains("6222") && !out.contains("5678"))
        }
    }

    @Test func callsAreShownAsTurns() {
        let h = CasesFixture.handout { $0.maxCallChars = 10_000; $0.maxMessageChars = 0 }
        let calls = h.sections.flatMap(\.cases)
        #expect(!calls.isEmpty && calls.allSatisfy(\.record.isCall))
        let md = h.markdown(), html = h.html()
        #expect(md.contains("> **来电方：** ") && md.contains("> **接听方：** "))
        #expect(html.contains("<p class=\"turn caller\"><span class=\"who\">来电方：</span>"))
        #expect(html.contains("<p class=\"turn callee\"><span class=\"who\">接听方：</span>"))
    }

    @Test func corpusHandoutsLeakNoPhoneOrCardNumber() {
        for seed in UInt64(1)...3 {
            let h = CasesFixture.handout(seed: seed) { $0.perCategory = 5; $0.maxCallChars = 10_000 }
            for c in h.sections.flatMap(\.cases) {
                for t in c.record.turns {
                    #expect(Redactor().matches(in: t.text).isEmpty, "\(c.record.id): still has something to hide: \(t.text)")
                }
            }
        }
    }

    @Test func explainAndScanStillHighlightTheSameWay() throws {
        let rules = try CasesFixture.compile(CasesFixture.tricky)
        let record = Record(id: "t", text: "马上转入安全账户")
        let v = try Screener(rules: rules).screen(record)
        #expect(Highlighter(style: .markdown).mark(record: record, hits: v.hits) == "**马上**转入**安全账户**")
        let brackets = Highlighter(style: .brackets).mark(record: record, hits: v.hits)
        #expect(brackets != record.turns[0].text && brackets.contains("马上") && brackets.contains("安全账户"))
        #expect(Explanation.render(v, record: record, rules: rules, colour: false).hasPrefix(brackets + "\n"))
        let call = Record(id: "c", turns: [Turn(speaker: "a", side: .caller, text: "马上"), Turn(speaker: "b", side: .callee, text: "好")])
        let cv = try Screener(rules: rules).screen(call)
        #expect(Highlighter(style: .markdown).mark(record: call, hits: cv.hits) == "a: **马上**\nb: 好")
        #expect(Highlighter(style: .html).mark(record: call, hits: cv.hits, labels: { _ in "<&>" }, transform: Highlighter.escapeHTML)
                == "a: <mark title=\"&lt;&amp;&gt;\">马上</mark><sup>&lt;&amp;&gt;</sup>\nb: 好")
    }
}

// MARK: - The command

private func casesExecutable() -> String? {
    var dirs: [URL] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        dirs.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
    }
    dirs.append(URL(fileURLWithPath: Bundle.main.bundlePath).deletingLastPathComponent())
    if let p = Bundle.main.executablePath { dirs.append(URL(fileURLWithPath: p).deletingLastPathComponent()) }
    for tree in [".build-cases", ".build-tests", ".build"] { dirs.append(CasesFixture.root.appendingPathComponent(tree).appendingPathComponent("debug")) }
    return dirs.map { $0.appendingPathComponent("fanzha").path }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Runs a program to the end (or kills it after `timeout` seconds): status, stdout, stderr.
private func runProgram(_ path: String, _ arguments: [String], timeout: Double = 120) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    env.removeValue(forKey: "FANZHA_RULES")
    p.environment = env
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-cases-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); Issue.record("\(path) \(arguments) did not finish in \(timeout) s") }
    p.waitUntilExit()
    try out.close(); try err.close()
    return (p.terminationStatus, String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

@Suite struct CasesCommandTests {
    @Test func writesAHandoutAndIsDeterministic() throws {
        let exe = try #require(casesExecutable(), "the fanzha executable was not built")
        let rules = CasesFixture.root.appendingPathComponent("rules").path
        let data = CasesFixture.root.appendingPathComponent("corpus/messages.jsonl").path
        let a = try runProgram(exe, ["cases", data, "--rules", rules, "--seed", "3", "--category", "police,phishing"])
        let b = try runProgram(exe, ["cases", data, "--rules", rules, "--seed", "3", "--category", "police", "--category", "phishing"])
        #expect(a.status == 0, "\(a.err)")
        #expect(a.out == b.out)
        #expect(a.out.hasPrefix("# 防范电信网络诈骗"))
        #expect(a.out.contains("## 一、冒充公检法及政府机关") && a.out.contains("## 二、钓鱼短信"))
        #expect(a.err.contains("cases in 2 categories"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-cases-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("handout.html").path
        let c = try runProgram(exe, ["cases", data, "--rules", rules, "-o", file, "--redact-amounts", "--redact-names"])
        #expect(c.status == 0, "\(c.err)")
        let html = try String(contentsOfFile: file, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("金额、姓名也已隐去"))

        let bad = try runProgram(exe, ["cases", data, "--rules", rules, "--category", "nope"])
        #expect(bad.status == 2 && bad.err.contains("unknown category `nope`"))
        let badFormat = try runProgram(exe, ["cases", data, "--rules", rules, "--format", "pdf"])
        #expect(badFormat.status == 2 && badFormat.err.contains("unknown --format"))
        let benign = dir.appendingPathComponent("benign.txt").path
        try "今天天气不错\n晚上一起吃饭吧\n".write(toFile: benign, atomically: true, encoding: .utf8)
        let none = try runProgram(exe, ["cases", benign, "--rules", rules])
        #expect(none.status == 1)
    }
}

// MARK: - A real browser

/// The first of `names` on PATH.
private func onPath(_ names: [String]) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        for n in names {
            let p = "\(dir)/\(n)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
    }
    return nil
}

/// A decoded PNG: width, height and RGBA pixels (8-bit, non-interlaced files, which is what Chromium writes).
private struct DecodedPNG {
    let width: Int, height: Int
    let rgba: [UInt8]

    /// Width and height from the IHDR chunk (bytes 16–23), without decoding anything.
    static func size(of data: Data) -> (width: Int, height: Int)? {
        let b = [UInt8](data.prefix(24))
        guard b.count == 24, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], b[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        func be(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be(16), be(20))
    }

    init(_ data: Data) throws {
        let b = [UInt8](data)
        struct Bad: Error, CustomStringConvertible { let description: String }
        guard let (w, h) = DecodedPNG.size(of: data) else { throw Bad(description: "not a PNG") }
        let depth = b[24], colour = b[25], interlace = b[28]
        guard depth == 8, interlace == 0, [2, 6].contains(colour) else { throw Bad(description: "PNG depth \(depth) colour \(colour) interlace \(interlace)") }
        var idat: [UInt8] = []
        var i = 8
        while i + 8 <= b.count {
            let len = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            if type == "IDAT" { idat += b[(i + 8)..<(i + 8 + len)] }
            if type == "IEND" { break }
            i += 12 + len
        }
        let raw = try Inflate.zlib(idat)
        let channels = colour == 6 ? 4 : 3
        let stride = w * channels
        guard raw.count >= h * (stride + 1) else { throw Bad(description: "PNG data too short") }
        var pixels = [UInt8](repeating: 0, count: w * h * 4)
        var prior = [UInt8](repeating: 0, count: stride)
        var row = [UInt8](repeating: 0, count: stride)
        for y in 0..<h {
            let base = y * (stride + 1)
            let filter = raw[base]
            for x in 0..<stride {
                let v = raw[base + 1 + x]
                let a = x >= channels ? Int(row[x - channels]) : 0
                let up = Int(prior[x])
                let c = x >= channels ? Int(prior[x - channels]) : 0
                let p: Int
                switch filter {
                case 0: p = 0
                case 1: p = a
                case 2: p = up
                case 3: p = (a + up) / 2
                default:
                    let e = a + up - c, pa = abs(e - a), pb = abs(e - up), pc = abs(e - c)
                    p = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                }
                row[x] = UInt8((Int(v) + p) & 0xFF)
            }
            for x in 0..<w {
                for k in 0..<3 { pixels[(y * w + x) * 4 + k] = row[x * channels + k] }
                pixels[(y * w + x) * 4 + 3] = channels == 4 ? row[x * 4 + 3] : 255
            }
            swap(&prior, &row)
        }
        width = w; height = h; rgba = pixels
    }

    func pixel(_ x: Int, _ y: Int) -> (r: Int, g: Int, b: Int) {
        let i = (y * width + x) * 4
        return (Int(rgba[i]), Int(rgba[i + 1]), Int(rgba[i + 2]))
    }
}

/// DEFLATE (RFC 1951) inside a zlib stream (RFC 1950): enough to read a PNG without zlib.
private enum Inflate {
    struct Bad: Error {}

    static func zlib(_ data: [UInt8]) throws -> [UInt8] {
        guard data.count > 2, data[0] & 0x0F == 8 else { throw Bad() }
        return try inflate(data, from: 2)
    }

    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []
        init(lengths: [Int]) {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var offsets = [Int](repeating: 0, count: 16)
            for l in 1..<16 { offsets[l] = offsets[l - 1] + counts[l - 1] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (s, l) in lengths.enumerated() where l != 0 { symbols[offsets[l]] = s; offsets[l] += 1 }
        }
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                           4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static func inflate(_ input: [UInt8], from start: Int) throws -> [UInt8] {
        var pos = start, bitBuf = 0, bitCount = 0
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 4)
        func bits(_ n: Int) throws -> Int {
            while bitCount < n {
                guard pos < input.count else { throw Bad() }
                bitBuf |= Int(input[pos]) << bitCount
                pos += 1
                bitCount += 8
            }
            let v = bitBuf & ((1 << n) - 1)
            bitBuf >>= n
            bitCount -= n
            return v
        }
        func decode(_ h: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1..<16 {
                code |= try bits(1)
                let count = h.counts[len]
                if code - count < first { return h.symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Bad()
        }
        var final = 0
        repeat {
            final = try bits(1)
            let type = try bits(2)
            switch type {
            case 0:
                bitBuf = 0; bitCount = 0
                guard pos + 4 <= input.count else { throw Bad() }
                let len = Int(input[pos]) | Int(input[pos + 1]) << 8
                pos += 4
                guard pos + len <= input.count else { throw Bad() }
                out += input[pos..<(pos + len)]
                pos += len
            case 1, 2:
                var lit: Huffman, dist: Huffman
                if type == 1 {
                    lit = Huffman(lengths: [Int](repeating: 8, count: 144) + [Int](repeating: 9, count: 112) + [Int](repeating: 7, count: 24) + [Int](repeating: 8, count: 8))
                    dist = Huffman(lengths: [Int](repeating: 5, count: 30))
                } else {
                    let hlit = try bits(5) + 257, hdist = try bits(5) + 1, hclen = try bits(4) + 4
                    let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
                    var cl = [Int](repeating: 0, count: 19)
                    for k in 0..<hclen { cl[order[k]] = try bits(3) }
                    let clh = Huffman(lengths: cl)
                    var lengths: [Int] = []
                    while lengths.count < hlit + hdist {
                        let sym = try decode(clh)
                        switch sym {
                        case 0..<16: lengths.append(sym)
                        case 16:
                            guard let last = lengths.last else { throw Bad() }
                            lengths += [Int](repeating: last, count: 3 + (try bits(2)))
                        case 17: lengths += [Int](repeating: 0, count: 3 + (try bits(3)))
                        default: lengths += [Int](repeating: 0, count: 11 + (try bits(7)))
                        }
                    }
                    lit = Huffman(lengths: Array(lengths[0..<hlit]))
                    dist = Huffman(lengths: Array(lengths[hlit..<(hlit + hdist)]))
                }
                while true {
                    let sym = try decode(lit)
                    if sym < 256 { out.append(UInt8(sym)); continue }
                    if sym == 256 { break }
                    let li = sym - 257
                    guard li < 29 else { throw Bad() }
                    let length = lengthBase[li] + (try bits(lengthExtra[li]))
                    let di = try decode(dist)
                    guard di < 30 else { throw Bad() }
                    let distance = distBase[di] + (try bits(distExtra[di]))
                    guard distance <= out.count else { throw Bad() }
                    let from = out.count - distance
                    for k in 0..<length { out.append(out[from + k]) }
                }
            default: throw Bad()
            }
        } while final == 0
        return out
    }
}

@Suite(.serialized) struct CasesBrowserTests {
    /// Renders `html` to a 1240×1754 PNG (A4 at 150 dpi) in headless Chromium.
    private func screenshot(_ chromium: String, html: String, in dir: URL, name: String) throws -> Data {
        let page = dir.appendingPathComponent("\(name).html"), png = dir.appendingPathComponent("\(name).png")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let profile = dir.appendingPathComponent("profile-\(name)")
        let r = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                          "--user-data-dir=\(profile.path)", "--screenshot=\(png.path)",
                                          "--window-size=1240,1754", page.absoluteString], timeout: 180)
        let data = try #require(FileManager.default.contents(atPath: png.path),
                                "chromium wrote no screenshot (status \(r.status)): \(r.err.suffix(2000))")
        return data
    }

    @Test func theHandoutRendersInHeadlessChromium() throws {
        guard let chromium = onPath(["chromium", "chromium-browser"]) else {
            Issue.record("""
                chromium is not on PATH: the handout cannot be rendered. Install it with scripts/setup.sh \
                (Debian packages chromium and fonts-noto-cjk); CI runs the setup script.
                """)
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-cases-render-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let handout = try screenshot(chromium, html: CasesFixture.handout().html(), in: dir, name: "handout")
        let blank = try screenshot(chromium, html: "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>",
                                   in: dir, name: "blank")
        // the size, from the IHDR chunk
        let size = try #require(DecodedPNG.size(of: handout), "the screenshot is not a PNG")
        #expect(size.width == 1240 && size.height == 1754)
        #expect(DecodedPNG.size(of: blank).map { $0.width == 1240 && $0.height == 1754 } == true)
        // not blank: a page of text compresses far worse than an empty page
        #expect(handout.count > 10 * blank.count, "handout PNG \(handout.count) bytes, blank page \(blank.count) bytes")

        // and, decoded: ink on the page, and the yellow of the marks (#ffe066)
        let png = try DecodedPNG(handout)
        var dark = 0, yellow = 0, red = 0
        for y in stride(from: 0, to: png.height, by: 2) {
            for x in stride(from: 0, to: png.width, by: 2) {
                let p = png.pixel(x, y)
                if p.r + p.g + p.b < 200 { dark += 1 }
                if p.r > 240 && (210...235).contains(p.g) && (80...125).contains(p.b) { yellow += 1 }
                if (150...180).contains(p.r) && p.g < 40 && p.b < 40 { red += 1 }   // headings, badges (#a4161a)
            }
        }
        let sampled = (png.width / 2) * (png.height / 2)
        #expect(Double(dark) / Double(sampled) > 0.01, "hardly any text: \(dark) dark pixels of \(sampled)")
        #expect(yellow > 500, "no highlighted phrases visible: \(yellow) yellow pixels")
        #expect(red > 500, "no red headings or badges: \(red) red pixels")
        let blankPNG = try DecodedPNG(blank)
        #expect((0..<blankPNG.height).allSatisfy { y in blankPNG.pixel(blankPNG.width / 2, y) == (255, 255, 255) })
    }
}
