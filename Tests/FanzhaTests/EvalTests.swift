import Foundation
import Testing
@testable import Fanzha

// `fanzha eval`: the arithmetic on a tiny corpus whose every outcome is known, label mapping,
// unknown labels, and reading labelled CSV.

private let evalRules = """
levels low 3, medium 6, high 10

category police {
  title  "冒充公检法"
  advice "公检法不会电话办案。"
  script "您好，这里是96110。"
  labels "冒充公检法类", "公检法"
}

category prize {
  title  "虚假中奖"
  advice "中奖先交钱的是诈骗。"
  script "您好，这里是96110。"
  labels "中奖类"
}

rule p.account { title "安全账户" category police score 6 tags money_request match "安全账户" }
rule p.bureau  { title "公安局"   category police score 4 match "公安局" }
rule z.prize   { title "中奖"     category prize  score 10 match "中奖" }
rule z.gift    { title "奖品"     category prize  score 3 match "奖品" }
"""

/// (label, text): the level each reaches is in the comment.
private let evalCorpus: [(String?, String)] = [
    ("冒充公检法类", "请转入安全账户"),          // 6 medium police       fraud, right
    ("police", "公安局通知，请转入安全账户"),     // 10 high police        fraud (label = category id), right
    ("公检法", "公安局来电"),                    // 4 low police          fraud, not flagged at medium
    ("中奖类", "恭喜中奖"),                      // 10 high prize         fraud, right
    ("prize", "你好啊"),                         // 0 none                fraud, missed
    ("中奖类", "公安局说请转入安全账户"),         // 10 high police        fraud, wrong category
    ("正常", "今天天气很好"),                    // 0 none                benign
    ("benign", "安全账户的知识讲座"),             // 6 medium police       benign, false alarm
    ("normal", "奖品已寄出"),                    // 3 low prize           benign
    ("0", "公安局"),                             // 4 low police          benign
    ("诈骗其他", "安全账户"),                     // unknown label: left out
    (nil, "公安局请转入安全账户"),                // no label: left out
]

private func evalRuleSet(sourceLocation: SourceLocation = #_sourceLocation) throws -> RuleSet {
    try compiledRuleSet(evalRules, path: "eval.fz", sourceLocation: sourceLocation)
}

private func evaluate(_ records: [Record], threads: Int = 2) throws -> (EvalReport, RuleSet) {
    let rules = try evalRuleSet()
    let e = Evaluator(scanner: try ParallelScanner(matcher: CompiledMatcher(rules), threads: threads), options: EvalOptions())
    e.add(records)
    return (e.report, rules)
}

private func evalCorpusRecords() -> [Record] {
    evalCorpus.enumerated().map { i, r in Record(id: "r\(i + 1)", text: r.1, label: r.0) }
}

private func approx(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }

@Suite struct EvalTests {
    @Test func confusionArithmetic() {
        let c = Confusion(tp: 5, fp: 3, fn: 1, tn: 1)
        #expect(approx(c.precision, 5.0 / 8))
        #expect(approx(c.recall, 5.0 / 6))
        #expect(approx(c.f1, 2 * (5.0 / 8) * (5.0 / 6) / (5.0 / 8 + 5.0 / 6)))
        #expect(approx(c.falsePositiveRate, 3.0 / 4))
        // Nothing to divide by: zero, not NaN.
        let empty = Confusion()
        #expect(empty.precision == 0 && empty.recall == 0 && empty.f1 == 0 && empty.falsePositiveRate == 0)
    }

    @Test func countsAtEachLevel() throws {
        let (r, _) = try evaluate(evalCorpusRecords())
        #expect(r.records == 10)
        #expect(r.fraud == 6)
        #expect(r.benign == 4)

        let low = try #require(r.byThreshold[.low])
        #expect(low == Confusion(tp: 5, fp: 3, fn: 1, tn: 1))
        #expect(approx(low.precision, 0.625) && approx(low.recall, 5.0 / 6) && approx(low.f1, 2 * 0.625 * (5.0 / 6) / (0.625 + 5.0 / 6)))
        #expect(approx(low.falsePositiveRate, 0.75))

        let medium = try #require(r.byThreshold[.medium])
        #expect(medium == Confusion(tp: 4, fp: 1, fn: 2, tn: 3))
        #expect(approx(medium.precision, 0.8) && approx(medium.recall, 4.0 / 6))
        #expect(approx(medium.f1, 2 * 0.8 * (4.0 / 6) / (0.8 + 4.0 / 6)))
        #expect(approx(medium.falsePositiveRate, 0.25))

        let high = try #require(r.byThreshold[.high])
        #expect(high == Confusion(tp: 3, fp: 0, fn: 3, tn: 4))
        #expect(approx(high.precision, 1) && approx(high.recall, 0.5) && approx(high.f1, 2.0 / 3) && high.falsePositiveRate == 0)
        #expect(r.byThreshold[.none] == nil)
    }

    @Test func labelsMapToCategoriesThroughTheirLabelsAndIDs() throws {
        let rules = try evalRuleSet()
        let e = Evaluator(scanner: try ParallelScanner(matcher: CompiledMatcher(rules), threads: 1), options: EvalOptions())
        let police = try #require(rules.category(named: "police")), prize = try #require(rules.category(named: "prize"))
        #expect(e.categories(forLabel: "冒充公检法类") == [police])
        #expect(e.categories(forLabel: "公检法") == [police])
        #expect(e.categories(forLabel: "police") == [police])
        #expect(e.categories(forLabel: "中奖类") == [prize])
        for benign in ["正常", "normal", "0", "benign"] { #expect(e.categories(forLabel: benign) == []) }
        #expect(e.categories(forLabel: "诈骗其他") == nil)
        #expect(e.categories(forLabel: "") == nil)
        #expect(e.categories(forLabel: "Police") == nil, "labels are exact")

        // Benign labels are configurable.
        var options = EvalOptions()
        options.benignLabels = ["白"]
        let custom = Evaluator(scanner: try ParallelScanner(matcher: CompiledMatcher(rules), threads: 1), options: options)
        #expect(custom.categories(forLabel: "白") == [])
        #expect(custom.categories(forLabel: "正常") == nil)
    }

    @Test func perLabelPerCategoryAndConfusionAtMedium() throws {
        let (r, _) = try evaluate(evalCorpusRecords())
        func row(_ l: String) -> [Int]? { r.perLabel[l].map { [$0.total, $0.flagged, $0.rightCategory] } }
        #expect(row("冒充公检法类") == [1, 1, 1])
        #expect(row("police") == [1, 1, 1])
        #expect(row("公检法") == [1, 0, 0])
        #expect(row("中奖类") == [2, 2, 1])
        #expect(row("prize") == [1, 0, 0])
        #expect(r.perLabel["正常"] == nil, "benign labels have no per-label recall row")

        #expect(r.perCategory["police"].map { [$0.tp, $0.fp, $0.fn] } == [2, 2, 1])
        #expect(r.perCategory["prize"].map { [$0.tp, $0.fp, $0.fn] } == [1, 0, 2])

        #expect(r.confusion["中奖类"] == ["prize": 1, "police": 1])
        #expect(r.confusion["公检法"] == ["-": 1])
        #expect(r.confusion["benign"] == ["police": 1])
        #expect(r.confusion["0"] == ["-": 1])

        #expect(r.perRule["p.account"].map { [$0.fraudHits, $0.benignHits] } == [3, 1])
        #expect(r.perRule["p.bureau"].map { [$0.fraudHits, $0.benignHits] } == [3, 1])
        #expect(r.perRule["z.gift"].map { [$0.fraudHits, $0.benignHits] } == [0, 1])
    }

    @Test func unknownLabelsAreReportedAndNotCountedAsBenign() throws {
        let (r, rules) = try evaluate(evalCorpusRecords())
        #expect(r.unknownLabels == ["诈骗其他": 1, "(no label)": 1])
        #expect(r.benign == 4, "left out, not benign")
        #expect(r.records == r.fraud + r.benign)
        #expect(r.confusion["诈骗其他"] == nil)
        let medium = try #require(r.byThreshold[.medium])
        #expect(medium.tp + medium.fp + medium.fn + medium.tn == 10)

        let text = EvalRenderer.render(r, rules: rules, format: .text)
        #expect(text.contains("Labels that map to no category (left out): "))
        #expect(text.contains("诈骗其他 ×1"))
        #expect(text.contains("Fraud vs benign (6 fraud, 4 benign records)"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(EvalRenderer.render(r, rules: rules, format: .json).utf8)) as? [String: Any])
        #expect((json["unknown_labels"] as? [String: Int]) == ["诈骗其他": 1, "(no label)": 1])
    }

    @Test func aBenignLabelThatIsAlsoACategoryLabelIsNoMiss() throws {
        let rules = try evalRuleSet()
        var options = EvalOptions()
        options.benignLabels = ["prize", "正常"]
        let e = Evaluator(scanner: try ParallelScanner(matcher: CompiledMatcher(rules), threads: 1), options: options)
        e.add([Record(id: "1", text: "今天天气很好", label: "prize"), Record(id: "2", text: "你好", label: " prize ")])
        #expect(e.report.benign == 2 && e.report.fraud == 0)
        #expect(e.report.perCategory["prize"] == nil, "benign records charge no category with a miss")
    }

    @Test func csvWithABOMQuotedHeaderBlankLinesAndAMissingTextField() {
        let data = "\u{FEFF}\"content\",\"label\"\r\n\"请转账\",\"刷单返利类\"\r\n\r\n你好,正常\r\n\r\n"
        let (records, errors) = readCSV(data)
        #expect(records.map { $0.turns.map(\.text) } == [["请转账"], ["你好"]])
        #expect(records.map(\.id) == ["1", "3"], "without an id column a row is numbered among the rows after the header, blank ones too")
        #expect(errors.isEmpty, "\(errors)")
        #expect(readCSV(data, textField: "body").errors == ["d.csv:1: no `body` column (--text-field); the header has content, label"])
    }

    @Test func resultsDoNotDependOnBatchingOrThreads() throws {
        let records = evalCorpusRecords()
        let (whole, _) = try evaluate(records, threads: 1)
        let rules = try evalRuleSet()
        let e = Evaluator(scanner: try ParallelScanner(matcher: CompiledMatcher(rules), threads: 3), options: EvalOptions())
        for chunk in stride(from: 0, to: records.count, by: 5) { e.add(Array(records[chunk..<min(chunk + 5, records.count)])) }
        for level in [Level.low, .medium, .high] { #expect(e.report.byThreshold[level] == whole.byThreshold[level]) }
        #expect(e.report.unknownLabels == whole.unknownLabels)
        #expect(e.report.perCategory == whole.perCategory)
    }

    @Test func callWarningTiming() throws {
        let sides = SpeakerSides()
        func call(_ id: String, _ turns: [(String, String)]) -> Record {
            Record(id: id, turns: turns.map { Turn(speaker: $0.0, side: sides.side(of: $0.0), text: $0.1) }, label: "police")
        }
        let records = [
            call("a", [("caller", "公安局的民警"), ("callee", "什么事"), ("caller", "你中奖了"), ("caller", "转入安全账户")]),
            call("b", [("caller", "转入安全账户"), ("callee", "好")]),
            call("c", [("caller", "你好"), ("callee", "你好")]),
        ]
        let (r, _) = try evaluate(records)
        #expect(r.calls.fraudCalls == 3)
        #expect(r.calls.warned == 2)
        #expect(approx(r.calls.warningPositionSum, 3.0 / 4 + 1.0 / 2))
        #expect(r.calls.withMoneyRequest == 2)
        #expect(r.calls.warnedBeforeMoneyRequest == 1)
    }

    // MARK: CSV

    @Test func csvQuotedCommasQuotesAndNewlines() {
        let text = "id,label,content\n1,police,\"请转入安全账户，然后\"\"保密\"\"\"\n2,正常,\"第一行\n第二行, 还有逗号\"\n3,prize,恭喜中奖\n"
        let rows = csvRows(text)
        #expect(rows.map(\.line) == [1, 2, 3, 5])
        #expect(rows.map(\.fields) == [
            ["id", "label", "content"],
            ["1", "police", "请转入安全账户，然后\"保密\""],
            ["2", "正常", "第一行\n第二行, 还有逗号"],
            ["3", "prize", "恭喜中奖"],
        ])
    }

    @Test func csvEdgeCases() {
        #expect(csvRows("").isEmpty)
        #expect(csvRows("a,b\r\n1,2\r\n").map(\.fields) == [["a", "b"], ["1", "2"]])
        #expect(csvRows("a,b\n1,2").map(\.fields) == [["a", "b"], ["1", "2"]], "the last row needs no newline")
        #expect(csvRows("a,,c\n").map(\.fields) == [["a", "", "c"]])
        #expect(csvRows("\"\",x\n").map(\.fields) == [["", "x"]])
        #expect(csvRows("\"a,b\"\n").map(\.fields) == [["a,b"]])
        #expect(csvRows("x\"y,z\n").map(\.fields) == [["x\"y", "z"]], "a quote inside an unquoted field is kept")
        #expect(csvRows("\"line\r\nbreak\",2\n").map(\.fields) == [["line\r\nbreak", "2"]], "CR inside quotes is data")
        #expect(csvRows("a\n\"unterminated,\nstill\n").map(\.fields) == [["a"], ["unterminated,\nstill\n"]])
        #expect(csvRows("a\n\"unterminated,\nstill\n").map(\.unclosedQuote) == [false, true])
        #expect(csvRows("a\n\"closed\"\n").map(\.unclosedQuote) == [false, false])
    }

    @Test func anUnclosedQuoteIsReportedWhereItStarts() {
        let (records, errors) = readCSV("content,label\n请转账,刷单返利类\n\"没有结束的引号,正常\n后面一行,正常\n")
        #expect(records.map { $0.turns.map(\.text) } == [["请转账"]])
        #expect(errors == ["d.csv:3: a quoted field is never closed; the rest of the file was read into it"])
    }

    @Test func labelledCSVAndJSONLAreRead() throws {
        let csv = "\u{FEFF}id, label ,content\nc1, 冒充公检法类 ,\"请转入安全账户，马上\"\nc2,正常,\"多行\n文本\"\nc3,正常\n"
        var (records, errors) = readCSV(csv, name: "data.csv")
        #expect(records.map(\.id) == ["c1", "c2"])
        #expect(records.map(\.label) == ["冒充公检法类", "正常"])
        #expect(records.map { $0.turns[0].text } == ["请转入安全账户，马上", "多行\n文本"])
        #expect(records.map(\.origin) == ["data.csv:2", "data.csv:3"])
        #expect(errors == ["data.csv:5: 2 fields, the header has 3"])

        errors = readCSV("a,b\n1,2\n", name: "bad.csv").errors
        #expect(errors == ["bad.csv:1: the header needs a text column (content or text, or --text-field); it has a, b"])

        let jsonl = "{\"id\":\"j1\",\"label\":0,\"text\":\"你好\"}\n\n[1]\n{\"id\":\"j2\",\"label\":\"police\",\"turns\":[{\"speaker\":\"caller\",\"text\":\"安全账户\"}]}\n"
        let (js, jsonErrors) = RecordSource(bytes: Data(jsonl.utf8), name: "d.jsonl", format: .jsonl, options: ReaderOptions()).readAll()
        errors = jsonErrors.map(\.description)
        #expect(js.map(\.id) == ["j1", "j2"])
        #expect(js.map(\.label) == ["0", "police"], "a numeric label is read as text")
        #expect(js.map(\.isCall) == [false, true])
        #expect(errors == ["d.jsonl:3: a JSON line must be an object, not an array"])
    }

    @Test func evalAndCasesNameBadRecordsAndExit2UnlessSkipBad() throws {
        let dir = try TemporaryDirectory()
        let rules = try dir.write("rules/eval.fz", evalRules)
        let data = try dir.write("d.jsonl", "{\"id\":\"a\",\"label\":\"police\",\"text\":\"请转入安全账户\"}\n[1]\n{\"id\":\"b\",\"label\":\"正常\",\"turns\":\"x\"}\n")
        let bad = ["fanzha: \(data):2: a JSON line must be an object, not an array", "fanzha: \(data):3: `turns` must be an array of {speaker, text}"]
        let o = try ProcessRunner.fanzha(["eval", "--rules", rules, "--format", "json", data])
        #expect(o.status == 2, "\(o.err)")
        #expect(bad.allSatisfy(o.errLines.contains), "\(o.errLines)")
        let report = try #require(try JSONSerialization.jsonObject(with: o.stdout) as? [String: Any], "the report is written all the same")
        #expect(report["records"] as? Int == 1)
        #expect(try ProcessRunner.fanzha(["eval", "--rules", rules, "--skip-bad", data]).status == 0)

        let cases = try ProcessRunner.fanzha(["cases", "--rules", rules, data, dir.path("missing.jsonl")])
        #expect(cases.status == 2 && bad.allSatisfy(cases.errLines.contains), "\(cases.errLines)")
        #expect(cases.errLines.contains("fanzha: \(dir.path("missing.jsonl")): no such file"))
        #expect(cases.out.contains("编号 a"), "the handout is written all the same")
        #expect(try ProcessRunner.fanzha(["cases", "--rules", rules, "--skip-bad", data]).status == 0)
        #expect(try ProcessRunner.fanzha(["cases", "--rules", rules, "--input", "events", data]).status == 2)
    }

    @Test func evalCommandEndToEnd() throws {
        let dir = try TemporaryDirectory()
        let rules = try dir.write("rules/eval.fz", evalRules)
        // The same corpus, split over a CSV file (with quoting) and a JSON Lines file.
        var csv = "id,label,content\n"
        var jsonl = ""
        for (i, (label, text)) in evalCorpus.enumerated() {
            if i % 2 == 0 {
                csv += "r\(i + 1),\(label ?? ""),\"\(text.replacingOccurrences(of: "\"", with: "\"\""))\"\n"
            } else {
                var o: [String: Any] = ["id": "r\(i + 1)", "text": text]
                if let label { o["label"] = label }
                jsonl += String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self) + "\n"
            }
        }
        let a = try dir.write("a.csv", csv), b = try dir.write("b.jsonl", jsonl)
        let o = try ProcessRunner.fanzha(["eval", "--rules", rules, "--format", "json", a, b])
        #expect(o.exited && o.status == 0, "\(o.err)")
        let report = try #require(try JSONSerialization.jsonObject(with: o.stdout) as? [String: Any])
        #expect(report["records"] as? Int == 10)
        #expect(report["fraud"] as? Int == 6)
        #expect(report["benign"] as? Int == 4)
        let thresholds = try #require(report["thresholds"] as? [String: [String: Any]])
        func counts(_ level: String) -> [Int?] { ["tp", "fp", "fn", "tn"].map { thresholds[level]?[$0] as? Int } }
        #expect(counts("low") == [5, 3, 1, 1])
        #expect(counts("medium") == [4, 1, 2, 3])
        #expect(counts("high") == [3, 0, 3, 4])
        #expect((thresholds["medium"]?["precision"] as? Double).map { abs($0 - 0.8) < 1e-4 } == true)
        #expect((thresholds["medium"]?["recall"] as? Double).map { abs($0 - 4.0 / 6) < 1e-4 } == true)
        #expect((thresholds["low"]?["fp_rate"] as? Double).map { abs($0 - 0.75) < 1e-4 } == true)
        // The empty CSV label and the JSONL record without a label are both unknown, as is 诈骗其他.
        #expect(report["unknown_labels"] as? [String: Int] == ["诈骗其他": 1, "(no label)": 1])

        let textReport = try ProcessRunner.fanzha(["eval", "--rules", rules, "--benign", "正常,benign,normal", a, b])
        #expect(textReport.status == 0)
        // With "0" no longer benign, its record moves to the unknown labels.
        #expect(textReport.out.contains("Fraud vs benign (6 fraud, 3 benign records)"))
        #expect(textReport.out.contains("0 ×1"))
        #expect(textReport.out.contains("诈骗其他 ×1"))
    }
}

// A label that only says "scam" takes its kind from the category field, and --group-by breaks
// results down by any field: the shapes of the data sets in ../shared/datasets.
@Test func scamLabelsTakeTheirKindFromTheCategoryFieldAndGroupByCounts() throws {
    let rules = try evalRuleSet()
    var options = EvalOptions()
    options.groupBy = "kind"
    let e = Evaluator(scanner: try ParallelScanner(matcher: CompiledMatcher(rules), threads: 1), options: options)
    func r(_ id: String, _ label: String, _ category: String?, _ kind: String, _ text: String) -> Record {
        var passthrough = [(key: "kind", json: "\"\(kind)\"")]
        if let category { passthrough.append((key: "category", json: "\"\(category)\"")) }
        return Record(id: id, text: text, label: label, passthrough: passthrough)
    }
    e.add([
        r("a", "scam", "police", "sms", "请转入安全账户"),          // police, right
        r("b", "scam", "中奖类", "sms", "请转入安全账户"),          // flagged, wrong category
        r("c", "scam", "FR:Other", "call", "恭喜中奖"),             // unknown kind: any category is right
        r("d", "scam", nil, "call", "你好"),                        // missed
        r("e", "benign", nil, "news", "安全账户的知识讲座"),         // false alarm
        r("f", "benign", nil, "news", "今天天气很好"),
    ])
    let report = e.report
    #expect(report.fraud == 4 && report.benign == 2)
    #expect(report.byThreshold[.medium] == Confusion(tp: 3, fp: 1, fn: 1, tn: 1))
    #expect(report.perLabel["police"]! == (1, 1, 1))
    #expect(report.perLabel["中奖类"]! == (1, 1, 0))
    #expect(report.perLabel["FR:Other"]! == (1, 1, 1))
    #expect(report.groups["sms"] == GroupStats(fraud: 2, fraudFlagged: 2, benign: 0, benignFlagged: 0))
    #expect(report.groups["call"] == GroupStats(fraud: 2, fraudFlagged: 1, benign: 0, benignFlagged: 0))
    #expect(report.groups["news"] == GroupStats(fraud: 0, fraudFlagged: 0, benign: 2, benignFlagged: 1))
    #expect(report.groups["news"]?.falseAlarmRate == 0.5)
    let text = EvalRenderer.render(report, rules: rules, format: .text)
    #expect(text.contains("Per kind, at medium"))
}

/// CSV rows as the input layer reads them (`CSVRows` over in-memory lines).
private func csvRows(_ text: String) -> [(line: Int, fields: [String], unclosedQuote: Bool)] {
    let rows = CSVRows(lines: LineReader(bytes: Array(text.utf8), keepsCarriageReturns: true))
    var out: [(line: Int, fields: [String], unclosedQuote: Bool)] = []
    while let item = rows.next() {
        if case .row(let line, let fields, let unclosed) = item { out.append((line, fields, unclosed)) }
    }
    return out
}

/// Records of CSV text through the input layer, and its errors as printed.
private func readCSV(_ text: String, name: String = "d.csv", textField: String? = nil) -> (records: [Record], errors: [String]) {
    var options = ReaderOptions()
    options.textField = textField
    let (records, errors) = RecordSource(bytes: Array(text.utf8), name: name, format: .csv, options: options).readAll()
    return (records, errors.map(\.description))
}

// CSV streams: a quoted field over several lines, CR LF and a row longer than the limit read the
// same whatever the size of the chunks the file arrives in.
@Test(arguments: [1, 7, 1 << 20])
func csvReadsTheSameWhateverTheChunkSize(chunk: Int) throws {
    let text = "\u{FEFF}id,content,label\r\nc1,\"多行\r\n文本，\"\"引号\"\"\",scam\r\nc2,\"\(String(repeating: "长", count: 40))\",正常\r\nc3,你好,正常"
    let dir = try TemporaryDirectory()
    let path = try dir.write("in.csv", Data(text.utf8))
    let lines = LineReader(handle: try #require(FileHandle(forReadingAtPath: path)), chunkSize: chunk, maxLineBytes: 100, keepsCarriageReturns: true)
    let (records, errors) = RecordSource(lines: lines, name: "in.csv", format: .csv, options: ReaderOptions()).readAll()
    #expect(records.map(\.id) == ["c1", "c3"])
    #expect(records.map { $0.turns[0].text } == ["多行\r\n文本，\"引号\"", "你好"], "a CR LF inside quotes is data")
    #expect(records.map(\.origin) == ["in.csv:2", "in.csv:5"], "c1's quoted field runs over lines 2 and 3")
    #expect(errors.map(\.description) == ["in.csv:4: row of 133 bytes is longer than --max-record-bytes 100; skipped"])
}
