import Foundation
import Testing
@testable import Fanzha

// End to end through a real `fanzha` process: input formats, output fields, exit codes, flags,
// error reporting, bad input, and the rule tools.

/// A small rule set with known scores: 安全账户 6 (medium), 公安局…洗钱 4 (low), both 10 (high),
/// 验证码 3 (low, no category).
private let cliRules = """
levels low 3, medium 6, high 10

category police {
  title  "冒充公检法"
  advice "公检法不会电话办案，没有安全账户。"
  script "您好，这里是96110反诈中心。"
  labels "冒充公检法类"
}

rule police.safe_account {
  title    "安全账户"
  category police
  score    6
  tags     money_request, authority
  match    "安全账户"
  hit      "请转入安全账户"
  miss     "你好"
}

rule police.accuse {
  title    "自称公安并指控洗钱"
  category police
  score    4
  match    "公安局" near(20) "洗钱"
  hit      "我是公安局的，你涉嫌洗钱"
  miss     "公安局"
}

rule generic.code {
  title "索要验证码"
  score 3
  match caller: "验证码"
  hit   "验证码发我"
  miss  "你好"
}

rule slow {
  title "灾难性回溯"
  score 1
  match "灾难" and /^(\\p{Han}+)+$/
  hit   "灾难"
  miss  "你好"
}
"""

/// Writes the rule set to a temporary directory; `--rules` arguments for it.
private final class CLIFixture {
    let dir: TemporaryDirectory
    let rulesPath: String
    init(rules: String = cliRules) throws {
        dir = try TemporaryDirectory()
        rulesPath = try dir.write("rules/t.fz", rules)
    }
    var rulesArgs: [String] { ["--rules", rulesPath] }

    func scan(_ args: [String], input: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessOutcome {
        try ProcessRunner.fanzha(["scan"] + rulesArgs + args, stdin: Data(input.utf8), sourceLocation: sourceLocation)
    }
    func scan(_ args: [String], bytes: Data, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessOutcome {
        try ProcessRunner.fanzha(["scan"] + rulesArgs + args, stdin: bytes, sourceLocation: sourceLocation)
    }
}

private func jsonObject(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let any = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(any as? [String: Any], "not an object: \(line)", sourceLocation: sourceLocation)
}

private func summary(_ o: ProcessOutcome) -> String? { o.errLines.last { $0.contains("records read") || $0.contains("record read") } }

/// How the text output marks evidence: 〖…〗, written here rather than asked of the library's
/// highlighter, so a change in the marks fails these tests (not 【】: SMS use those for sender tags).
private let evidenceMarks = (open: "〖", close: "〗")

/// `s` as the text output marks it.
private func marked(_ s: String) -> String { evidenceMarks.open + s + evidenceMarks.close }

private let threeMessages = "请把钱转入安全账户\n今天天气很好\n我是公安局的，你涉嫌洗钱，请转入安全账户\n"

@Suite(.serialized) struct CLITests {
    @Test func theExecutableWasBuilt() throws {
        let exe = try #require(PackageFiles.fanzha)
        #expect(FileManager.default.isExecutableFile(atPath: exe))
    }

    #if os(Linux)
    /// The executable's malloc is mimalloc's (Package.swift: linked ahead of libc), not glibc's: a
    /// link order that let libc's bind first would lose the live calls' speed without a word.
    /// mimalloc announces its start when `MIMALLOC_VERBOSE` is set; glibc prints nothing.
    @Test func theExecutableAllocatesWithMimalloc() throws {
        let exe = try #require(PackageFiles.fanzha)
        var env = ProcessInfo.processInfo.environment
        env["MIMALLOC_VERBOSE"] = "1"
        let o = try ProcessRunner.run(exe, ["--version"], environment: env)
        #expect(o.exited && o.status == 0)
        #expect(o.err.contains("mimalloc: process init"), "stderr: \(o.err.prefix(300))")
    }
    #endif

    // MARK: scan: input and output

    @Test func textOnStdinToTextOnStdout() throws {
        let f = try CLIFixture()
        let o = try f.scan([], input: threeMessages)
        #expect(o.exited && o.status == 0)
        #expect(o.lines.count == 3)
        #expect(o.lines[0].hasPrefix("1\tMEDIUM"))
        #expect(o.lines[0].contains("police"))
        #expect(o.lines[0].hasSuffix("请把钱转入" + marked("安全账户")))
        #expect(o.lines[1].hasPrefix("2\tNONE"))
        #expect(o.lines[1].hasSuffix("今天天气很好"))
        #expect(o.lines[2].hasPrefix("3\tHIGH"))
        #expect(o.lines[2].contains(" 10 "))
        #expect(o.lines[2].contains(marked("公安局")) && o.lines[2].contains(marked("洗钱")) && o.lines[2].contains(marked("安全账户")))
        #expect(summary(o) == "fanzha: 3 records read, 2 flagged (≥ low), 0 failed")
        #expect(!o.out.contains("\u{1B}["), "no colour when stdout is not a terminal")
    }

    @Test func jsonlOutputFieldsForMessages() throws {
        let f = try CLIFixture()
        let o = try f.scan(["--format", "jsonl"], input: "请把钱转入安 全 账 户\n今天天气很好\n")
        #expect(o.status == 0)
        #expect(o.lines.count == 2)
        let v = try jsonObject(o.lines[0])
        #expect(v["id"] as? String == "1")
        #expect(v["level"] as? String == "medium")
        #expect(v["score"] as? Int == 6)
        #expect(v["category"] as? String == "police")
        #expect(v["categories"] as? [String] == ["police"])
        let hits = try #require(v["hits"] as? [[String: Any]])
        #expect(hits.count == 1)
        #expect(hits[0]["rule"] as? String == "police.safe_account")
        #expect(hits[0]["title"] as? String == "安全账户")
        #expect(hits[0]["score"] as? Int == 6)
        #expect(hits[0]["tags"] as? [String] == ["money_request", "authority"])
        let spans = try #require(hits[0]["spans"] as? [[String: Any]])
        #expect(spans.count == 1)
        #expect(spans[0]["start"] as? Int == 5)
        #expect(spans[0]["end"] as? Int == 12)
        #expect(spans[0]["text"] as? String == "安 全 账 户")
        #expect(spans[0]["turn"] == nil, "messages have no turns")
        #expect(v["advice"] as? String == "公检法不会电话办案，没有安全账户。")
        let referral = try #require(v["referral"] as? [String: Any])
        #expect(referral["tier"] as? String == "medium")
        #expect(referral["hotline"] as? String == "96110")
        #expect((referral["action"] as? String)?.isEmpty == false)
        #expect(referral["script"] as? String == "您好，这里是96110反诈中心。")
        #expect(v["errors"] as? [String] == [])
        #expect(v.keys.contains("first_warning_turn") == false, "only calls carry first_warning_turn")
        // Field order is part of the format.
        #expect(JSONTypes.keyOrder(Data(o.lines[0].utf8)) == ["id", "level", "score", "category", "categories", "hits", "advice", "referral", "errors"])

        let none = try jsonObject(o.lines[1])
        #expect(none["level"] as? String == "none")
        #expect(none["score"] as? Int == 0)
        #expect(none["category"] is NSNull)
        #expect(none["advice"] is NSNull)
        #expect(none["referral"] is NSNull)
        #expect((none["hits"] as? [Any])?.isEmpty == true)
    }

    @Test func jsonlInputPassesOtherFieldsThrough() throws {
        let f = try CLIFixture()
        let input = """
        {"id":"sms-7","label":"police","text":"我是公安局的，你涉嫌洗钱","source":"短信","meta":{"n":1,"tags":["a","b"]},"score":99}
        {"content":"验证码发我","received":"2024-01-01"}

        """
        let o = try f.scan(["--format", "jsonl", "--input", "jsonl"], input: input)
        #expect(o.status == 0)
        #expect(o.lines.count == 2)
        let a = try jsonObject(o.lines[0])
        #expect(a["id"] as? String == "sms-7")
        #expect(a["label"] as? String == "police")
        #expect(a["source"] as? String == "短信")
        let meta = try #require(a["meta"] as? [String: Any])
        #expect(meta["n"] as? Int == 1 && meta["tags"] as? [String] == ["a", "b"])
        #expect(a["score"] as? Int == 4, "the verdict's own fields are never overwritten by input fields")
        #expect(a["text"] == nil, "the text itself is not repeated")
        #expect(JSONTypes.keyOrder(Data(o.lines[0].utf8)).prefix(5) == ["id", "label", "source", "meta", "level"])

        let b = try jsonObject(o.lines[1])
        #expect(b["id"] as? String == "2", "without an id the line number is the id")
        #expect(b["received"] as? String == "2024-01-01")
        #expect(b["level"] as? String == "low")
        #expect(b["category"] is NSNull)
        #expect((b["referral"] as? [String: Any])?["hotline"] as? String == "12381")
    }

    @Test func jsonlCallsCarryTurnsAndFirstWarningTurn() throws {
        let f = try CLIFixture()
        let call = #"{"id":"call-1","turns":[{"speaker":"caller","text":"你好"},{"speaker":"callee","text":"什么事"},{"speaker":"caller","text":"我是公安局的，你涉嫌洗钱"},{"speaker":"caller","text":"钱转入安全账户"}]}"#
        let quiet = #"{"id":"call-2","turns":[{"speaker":"caller","text":"你好"},{"speaker":"callee","text":"验证码是什么"}]}"#
        let o = try f.scan(["--input", "jsonl", "--format", "jsonl"], input: call + "\n" + quiet + "\n")
        #expect(o.lines.count == 2)
        let v = try jsonObject(o.lines[0])
        #expect(v["level"] as? String == "high")
        #expect(v["first_warning_turn"] as? Int == 3)
        let hits = try #require(v["hits"] as? [[String: Any]])
        let accuse = try #require(hits.first { $0["rule"] as? String == "police.accuse" })
        #expect((accuse["spans"] as? [[String: Any]])?.map { $0["turn"] as? Int } == [2, 2])
        let spans = hits.flatMap { ($0["spans"] as? [[String: Any]]) ?? [] }
        #expect(spans.allSatisfy { $0["turn"] is Int })
        let account = try #require(hits.first { $0["rule"] as? String == "police.safe_account" })
        let s = try #require((account["spans"] as? [[String: Any]])?.first)
        #expect(s["turn"] as? Int == 3 && s["start"] as? Int == 3 && s["end"] as? Int == 7 && s["text"] as? String == "安全账户")

        let q = try jsonObject(o.lines[1])
        #expect(q["level"] as? String == "none")
        #expect(q["first_warning_turn"] is NSNull)
        #expect(q["first_money_request_turn"] is NSNull)
        #expect(JSONTypes.keyOrder(Data(o.lines[1].utf8)).suffix(2) == ["first_warning_turn", "first_money_request_turn"])
    }

    @Test func nearDoesNotJoinTurnsInTheCLIEither() throws {
        let f = try CLIFixture()
        let call = #"{"turns":[{"speaker":"caller","text":"我是公安局的"},{"speaker":"caller","text":"你涉嫌洗钱"}]}"#
        let o = try f.scan(["--input", "jsonl", "--format", "jsonl"], input: call + "\n")
        let v = try jsonObject(try #require(o.lines.first))
        #expect(v["level"] as? String == "none")
        #expect(o.status == 1)
    }

    @Test func tsvFormat() throws {
        let f = try CLIFixture()
        let o = try f.scan(["--format", "tsv"], input: "请把钱转入安全账户\n今天\t天气很好\n")
        #expect(o.lines == [
            "id\tlevel\tscore\tcategory\trules\ttext",
            "1\tmedium\t6\tpolice\tpolice.safe_account\t请把钱转入安全账户",
            "2\tnone\t0\t\t\t今天 天气很好",
        ])
    }

    // MARK: scan: exit codes and flags

    @Test func exitCodes() throws {
        let f = try CLIFixture()
        #expect(try f.scan([], input: "安全账户\n").status == 0)
        let none = try f.scan([], input: "你好\n今天天气很好\n")
        #expect(none.exited && none.status == 1)
        #expect(none.lines.count == 2)

        let missing = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [f.dir.path("no-such-file.txt")])
        #expect(missing.status == 2)
        #expect(missing.err.contains("fanzha: \(f.dir.path("no-such-file.txt")): no such file"))
        #expect(missing.out.isEmpty)

        let dir = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [f.dir.url.path])
        #expect(dir.status == 2)
        #expect(dir.err.contains("is a directory"))

        let badOption = try f.scan(["--min-level", "extreme"], input: "安全账户\n")
        #expect(badOption.status == 2)
        #expect(badOption.err.contains("unknown --min-level `extreme`"))
        let badFormat = try f.scan(["--format", "xml"], input: "安全账户\n")
        #expect(badFormat.status == 2)
        #expect(badFormat.err.contains("unknown --format `xml`"))
    }

    @Test func brokenRulesExitTwoAndLoadNothing() throws {
        let f = try CLIFixture(rules: """
        rule r {
          title "坏规则"
          match authorty near(40) "洗钱"
        }
        """)
        let o = try f.scan([], input: "安全账户\n")
        #expect(o.exited && o.status == 2)
        #expect(o.out.isEmpty)
        #expect(o.err.contains("\(f.rulesPath):3:9: error[unknown-name]"))
        #expect(o.err.contains("nothing was loaded"))

        let noRules = try ProcessRunner.fanzha(["scan", "--rules", f.dir.path("nothing-here")], stdin: Data("安全账户\n".utf8))
        #expect(noRules.status == 2)
        #expect(noRules.err.hasPrefix("fanzha: "))
    }

    @Test func quietPrintsNothing() throws {
        let f = try CLIFixture()
        let flagged = try f.scan(["-q"], input: threeMessages)
        #expect(flagged.status == 0)
        #expect(flagged.stdout.isEmpty)
        #expect(flagged.stderr.isEmpty)
        let none = try f.scan(["--quiet"], input: "你好\n")
        #expect(none.status == 1)
        #expect(none.stdout.isEmpty && none.stderr.isEmpty)
        let high = try f.scan(["-q", "--min-level", "high"], input: "请把钱转入安全账户\n")
        #expect(high.status == 1)
    }

    @Test func flaggedOnlyAndMinLevel() throws {
        let f = try CLIFixture()
        var o = try f.scan(["--flagged-only", "--format", "tsv"], input: threeMessages)
        #expect(o.lines.map { $0.split(separator: "\t").first.map(String.init) ?? "" } == ["id", "1", "3"])
        #expect(summary(o) == "fanzha: 3 records read, 2 flagged (≥ low), 0 failed")

        o = try f.scan(["--min-level", "medium"], input: "验证码发我\n" + threeMessages)
        #expect(o.status == 0)
        #expect(o.lines.count == 4, "without --flagged-only every record is printed")
        #expect(summary(o) == "fanzha: 4 records read, 2 flagged (≥ medium), 0 failed")

        o = try f.scan(["--min-level", "high", "--flagged-only", "--format", "jsonl"], input: threeMessages)
        #expect(o.status == 0)
        #expect(o.lines.count == 1)
        #expect(try jsonObject(o.lines[0])["id"] as? String == "3")
        #expect(summary(o) == "fanzha: 3 records read, 1 flagged (≥ high), 0 failed")

        o = try f.scan(["--min-level", "high", "--flagged-only"], input: "验证码发我\n请把钱转入安全账户\n")
        #expect(o.status == 1)
        #expect(o.stdout.isEmpty)
        #expect(summary(o) == "fanzha: 2 records read, 0 flagged (≥ high), 0 failed")
    }

    @Test func countPrintsTheNumberOfFlaggedRecordsLikeGrepC() throws {
        let f = try CLIFixture()
        var o = try f.scan(["--count"], input: threeMessages)
        #expect(o.status == 0)
        #expect(o.out == "2\n")
        #expect(summary(o) == "fanzha: 3 records read, 2 flagged (≥ low), 0 failed")

        o = try f.scan(["-c", "--min-level", "high"], input: threeMessages)
        #expect(o.out == "1\n")

        o = try f.scan(["-c"], input: "今天天气很好\n")
        #expect(o.status == 1, "nothing flagged: exit 1, like grep -c")
        #expect(o.out == "0\n")

        // Several files: FILE:N each, in order.
        let a = try f.dir.write("a.txt", threeMessages)
        let b = try f.dir.write("b.txt", "今天天气很好\n")
        o = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["-c", a, b])
        #expect(o.status == 0)
        #expect(o.out == "\(a):2\n\(b):0\n")
    }

    @Test func filesAreReadInOrderAndTheirFormatIsGuessed() throws {
        let f = try CLIFixture()
        let a = try f.dir.write("a.txt", "请把钱转入安全账户\n")
        let b = try f.dir.write("b.jsonl", #"{"id":"j1","text":"验证码发我"}"# + "\n")
        let o = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--format", "jsonl", a, b])
        #expect(o.status == 0)
        #expect(try o.lines.map { try jsonObject($0)["id"] as? String } == ["1", "j1"])
        #expect(summary(o) == "fanzha: 2 records read, 2 flagged (≥ low), 0 failed")
    }

    @Test func transcriptInput() throws {
        let f = try CLIFixture()
        let path = try f.dir.write("call.txt", "caller: 我是公安局的，你涉嫌洗钱\ncallee: 啊？\ncaller：钱转入安全账户\n")
        let o = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--input", "transcript", "--format", "jsonl", path])
        #expect(o.status == 0)
        let v = try jsonObject(try #require(o.lines.first))
        #expect(v["id"] as? String == path)
        #expect(v["level"] as? String == "high")
        #expect(v["first_warning_turn"] as? Int == 2)

        let bad = try f.dir.write("bad.txt", "caller: 你好\n这一行没有说话人\n")
        let b = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--input", "transcript", bad])
        #expect(b.status == 2, "a record that cannot be read is trouble (--skip-bad: 0/1)")
        #expect(b.err.contains("\(bad):2: not `speaker: text`"))
        #expect(summary(b) == "fanzha: 0 records read, 0 flagged (≥ low), 1 failed")

        // With --strict the same message comes first, then the reason for stopping.
        let strict = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--input", "transcript", "--strict", bad])
        #expect(strict.status == 2)
        #expect(strict.errLines == ["fanzha: \(bad):2: not `speaker: text`", "fanzha: stopped at the first malformed record (--strict)"])

        let csv = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--input", "csv", bad])
        #expect(csv.status == 2)
        #expect(csv.err.contains("the header needs a text column"), "a listed input works: this file is no CSV with a text column")
    }

    /// `--threads` and `--no-prefilter` reach the engine and keep the output as it was. That the
    /// prefilter and the worker count change no verdict is checked once, on the whole corpus, by
    /// scripts/equivalence.sh on the release binary; here a few records of our own are enough.
    @Test func threadsAndPrefilterFlagsKeepTheOutput() throws {
        let f = try CLIFixture()
        let lines = [
            #"{"id":"m1","text":"请把钱转入安全账户"}"#,
            #"{"id":"m2","text":"今天天气很好"}"#,
            #"{"id":"m3","text":"我是公安局的，你涉嫌洗钱，请转入安全账户"}"#,
            #"{"id":"m4","text":"验证码发我"}"#,
            #"{"id":"c1","turns":[{"speaker":"caller","text":"我是公安局的"},{"speaker":"callee","text":"验证码是多少"},{"speaker":"caller","text":"你涉嫌洗钱"}]}"#,
            #"{"id":"m5","text":"明天下午开会"}"#,
            #"{"id":"m6","text":"公安局提醒：不要把验证码告诉别人"}"#,
        ]
        let input = try f.dir.write("in.jsonl", lines.joined(separator: "\n") + "\n")
        let base = ["scan"] + f.rulesArgs + ["--format", "jsonl"]
        let one = try ProcessRunner.fanzha(base + ["--threads", "1", input])
        #expect(one.exited && one.status == 0)
        #expect(try one.lines.map { try jsonObject($0)["id"] as? String } == ["m1", "m2", "m3", "m4", "c1", "m5", "m6"])
        let three = try ProcessRunner.fanzha(base + ["--threads", "3", input])
        #expect(three.out == one.out)
        let noPrefilter = try ProcessRunner.fanzha(base + ["--no-prefilter", input])
        #expect(noPrefilter.out == one.out)
        #expect(noPrefilter.err == one.err)
    }

    // MARK: scan: malformed records

    @Test func malformedJSONLineIsReportedWithItsLineNumberAndTheRestIsScanned() throws {
        let f = try CLIFixture()
        let input = #"{"id":"a","text":"请把钱转入安全账户"}"# + "\n" + #"{"id":"b","text":"#  + "\n" + #"{"id":"c","text":"验证码发我"}"# + "\n"
        let o = try f.scan(["--format", "jsonl", "--input", "jsonl"], input: input)
        #expect(o.status == 2, "every good record scanned, then exit 2 for the bad one")
        #expect(try o.lines.map { try jsonObject($0)["id"] as? String } == ["a", "<stdin>:2", "c"], "an error line in its place")
        #expect(o.err.contains("fanzha: <stdin>:2: not valid JSON"))
        #expect(summary(o) == "fanzha: 2 records read, 2 flagged (≥ low), 1 failed")

        let path = try f.dir.write("in.jsonl", input)
        let fromFile = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [path])
        #expect(fromFile.err.contains("fanzha: \(path):2: not valid JSON"))
        #expect(fromFile.lines.count == 2, "text output: the bad record on stderr only")
    }

    @Test func strictMakesAMalformedRecordFatal() throws {
        let f = try CLIFixture()
        let input = #"{"id":"a","text":"请把钱转入安全账户"}"# + "\n" + "not json at all\n" + #"{"id":"c","text":"验证码发我"}"# + "\n"
        let o = try f.scan(["--format", "jsonl", "--input", "jsonl", "--strict"], input: input)
        #expect(o.exited && o.status == 2)
        #expect(o.err.contains("<stdin>:2: not valid JSON"))
        #expect(o.err.contains("--strict"))
        #expect(try o.lines.map { try jsonObject($0)["id"] as? String } == ["a", "<stdin>:2"], "records before the bad line are still printed")
        #expect(!o.out.contains("\"c\""))
    }

    @Test func closedPipeEndsQuietly() throws {
        let f = try CLIFixture()
        let exe = try #require(PackageFiles.fanzha)
        let bash = "/bin/bash"
        try #require(FileManager.default.isExecutableFile(atPath: bash))
        // Far more output than a pipe buffer holds, so fanzha is still writing when head exits.
        var big = ""
        for i in 0..<30_000 { big += "第\(i)条：请把钱转入安全账户\n" }
        let input = try f.dir.write("big.txt", big)
        let script = """
        "$0" scan --rules "$1" "$2" 2>"$3" | head -1 >"$4"; echo "${PIPESTATUS[0]}"
        """
        let o = try ProcessRunner.run(bash, ["-c", script, exe, f.rulesPath, input, f.dir.path("err.txt"), f.dir.path("head.txt")])
        #expect(o.status == 0)
        #expect(o.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "fanzha's exit status behind head")
        let err = try String(contentsOfFile: f.dir.path("err.txt"), encoding: .utf8)
        #expect(err.isEmpty, "no error text on a closed pipe: \(err)")
        let head = try String(contentsOfFile: f.dir.path("head.txt"), encoding: .utf8)
        #expect(head.hasPrefix("1\tMEDIUM"))
    }

    @Test func invalidUTF8InTextInputIsScannedAroundTheBadBytes() throws {
        let f = try CLIFixture()
        var bytes = Data([0xFF, 0xFE])
        bytes += Data("请转入安全账户".utf8)
        bytes += Data([0xC3, 0x0A])
        bytes += Data("你好".utf8) + Data([0xE5, 0xAE, 0x0A])
        let o = try f.scan(["--format", "jsonl"], bytes: bytes)
        #expect(o.exited && o.status == 0)
        #expect(o.lines.count == 2)
        let v = try jsonObject(o.lines[0])
        #expect(v["level"] as? String == "medium")
        let span = try #require(((v["hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first)
        #expect(span["text"] as? String == "安全账户")
        #expect((span["end"] as? Int ?? 0) - (span["start"] as? Int ?? 0) == 4)
        #expect(try jsonObject(o.lines[1])["level"] as? String == "none")
        #expect(summary(o) == "fanzha: 2 records read, 1 flagged (≥ low), 0 failed")
    }

    @Test func invalidUTF8InAJSONLineIsAMalformedRecord() throws {
        let f = try CLIFixture()
        var bytes = Data(#"{"id":"x","text":""#.utf8) + Data([0xFF]) + Data(#"安全账户"}"#.utf8) + Data("\n".utf8)
        bytes += Data(#"{"id":"y","text":"安全账户"}"#.utf8) + Data("\n".utf8)
        let o = try f.scan(["--input", "jsonl", "--format", "jsonl"], bytes: bytes)
        #expect(o.exited && o.status == 2)
        #expect(o.err.contains("<stdin>:1: not valid JSON"))
        #expect(try o.lines.map { try jsonObject($0)["id"] as? String } == ["<stdin>:1", "y"])
        #expect(summary(o) == "fanzha: 1 record read, 1 flagged (≥ low), 1 failed")
    }

    @Test func aLineOverTheRecordLimitIsReportedAndSkipped() throws {
        let f = try CLIFixture()
        let long = String(repeating: "安全账户", count: 100)   // 1,200 bytes
        let input = "请转入安全账户\n" + long + "\n你好\n"
        let o = try f.scan(["--format", "tsv", "--max-record-bytes", "1000"], input: input)
        #expect(o.exited && o.status == 2)
        #expect(o.err.contains("fanzha: <stdin>:2: line of 1200 bytes is longer than --max-record-bytes 1000; skipped"))
        #expect(o.lines.dropFirst().map { $0.split(separator: "\t").prefix(2).joined(separator: " ") } == ["1 medium", "<stdin>:2 error", "3 none"],
                "the records around it keep their line numbers")
        #expect(summary(o) == "fanzha: 2 records read, 1 flagged (≥ low), 1 failed")

        let strict = try f.scan(["--max-record-bytes", "1000", "--strict"], input: input)
        #expect(strict.exited && strict.status == 2)

        // A transcript with a turn over the limit is reported, not judged on the rest.
        let transcript = try f.dir.write("call.txt", "来电: 请转入安全账户\n来电: " + long + "\n")
        let call = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--input", "transcript", "--max-record-bytes", "1000", transcript])
        #expect(call.exited && call.status == 2)
        #expect(call.lines.isEmpty)
        #expect(call.err.contains("\(transcript):2: line of 1208 bytes is longer than --max-record-bytes 1000; skipped"))
    }

    @Test func byteOrderMarksAndLineEndingsDoNotMoveOffsetsOrSpeakers() throws {
        let f = try CLIFixture()
        // A raw BOM starting a JSON string is part of the text: the evidence is one further on.
        let bom = Data([0xEF, 0xBB, 0xBF])
        let line = Data(#"{"id":"b","text":""#.utf8) + bom + Data(#"请转入安全账户"}"#.utf8) + Data("\n".utf8)
        let o = try f.scan(["--input", "jsonl", "--format", "jsonl"], bytes: bom + line)
        let span = try #require(((try jsonObject(o.lines[0])["hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first)
        #expect(span["start"] as? Int == 4 && span["end"] as? Int == 8 && span["text"] as? String == "安全账户")

        // A transcript file's BOM does not stick to the first speaker; CR LF lines are turns.
        let call = try f.dir.write("call.txt", bom + Data("caller: 请转入安全账户\r\ncallee: 好\r\n".utf8))
        let t = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--input", "transcript", "--format", "jsonl", call])
        let spans = try #require(((try jsonObject(t.lines[0])["hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]]))
        #expect(spans.map { $0["turn"] as? Int } == [0])
        let explained = try ProcessRunner.fanzha(["explain"] + f.rulesArgs + ["--call", call])
        #expect(explained.out.contains("「安全账户」@0"))
        #expect(explained.out.contains("callee: 好"))

        // Text output stays one line per record whatever the id and text hold.
        let text = try f.scan(["--input", "jsonl"], input: #"{"id":"a\nb\tc","text":"请转入\r安全账户"}"# + "\n")
        #expect(text.lines.count == 1)
        #expect(text.lines.first?.hasPrefix("a b c\tMEDIUM") == true)
    }

    @Test func aMissingFileIsReportedAndTheOthersStillScanned() throws {
        let f = try CLIFixture()
        let a = try f.dir.write("a.txt", "请转入安全账户\n")
        let b = try f.dir.write("b.txt", "你好\n请转入安全账户\n")
        let o = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + ["--format", "tsv", a, f.dir.path("missing.txt"), b])
        #expect(o.exited && o.status == 2)
        #expect(o.err.contains("missing.txt: no such file"))
        #expect(o.lines.count == 4, "header and every record of a and b: \(o.lines)")
        #expect(summary(o) == "fanzha: 3 records read, 2 flagged (≥ low), 0 failed")
    }

    @Test func badFlagValuesAreUsageErrorsWithStatusTwo() throws {
        let f = try CLIFixture()
        for args in [["--threads", "0"], ["--threads", "-1"], ["--idle-seconds", "-5"], ["--max-record-bytes", "0"], ["--no-such-flag"]] {
            let o = try f.scan(args, input: "你好\n")
            #expect(o.exited && o.status == 2, "\(args): \(o.status)")
            #expect(!o.err.isEmpty)
        }
    }

    @Test func liveEventsHonourFlaggedOnlyAndTSV() throws {
        let f = try CLIFixture()
        let events = #"{"call":"a","speaker":"caller","text":"你好"}"# + "\n" + #"{"call":"b","speaker":"caller","text":"请转入安全账户"}"# + "\n"
        let o = try f.scan(["--input", "events", "--flagged-only", "--min-level", "medium"], input: events)
        #expect(o.lines.allSatisfy { $0.hasPrefix("{") }, "JSON Lines by default: \(o.lines)")
        #expect(o.lines.contains { $0.contains("\"event\":\"final\"") && $0.contains("\"id\":\"b\"") })
        #expect(!o.lines.contains { $0.contains("\"id\":\"a\"") }, "call a stayed below medium")
        let tsv = try f.scan(["--input", "events", "--flagged-only", "--min-level", "medium", "--format", "tsv"], input: events)
        #expect(tsv.lines.first == "event\tcall\tturns\tlevel\tscore\tcategory\trules\tclosed")
        #expect(tsv.lines.dropFirst().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false)[1] == "b" }, "\(tsv.lines)")
    }

    @Test func emptyLinesAndEmptyInput() throws {
        let f = try CLIFixture()
        // Text: every line is a message, an empty one too (ids are line numbers).
        let text = try f.scan(["--format", "tsv"], input: "安全账户\n\n\n验证码发我\n")
        #expect(text.status == 0)
        #expect(text.lines.dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).prefix(2).joined(separator: " ") }
                == ["1 medium", "2 none", "3 none", "4 low"])
        #expect(summary(text) == "fanzha: 4 records read, 2 flagged (≥ low), 0 failed")

        // JSON Lines: blank lines are skipped, not errors.
        let jsonl = try f.scan(["--input", "jsonl", "--format", "jsonl"], input: "\n" + #"{"text":"安全账户"}"# + "\n  \n\r\n" + #"{"text":"你好"}"# + "\n\n")
        #expect(jsonl.status == 0)
        #expect(try jsonl.lines.map { try jsonObject($0)["id"] as? String } == ["2", "5"])
        #expect(summary(jsonl) == "fanzha: 2 records read, 1 flagged (≥ low), 0 failed")

        // No input at all.
        let empty = try f.scan([], input: "")
        #expect(empty.exited && empty.status == 1)
        #expect(empty.stdout.isEmpty)
        #expect(summary(empty) == "fanzha: 0 records read, 0 flagged (≥ low), 0 failed")
        let emptyFile = try f.dir.write("empty.jsonl", "")
        let e2 = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [emptyFile])
        #expect(e2.status == 1 && e2.stdout.isEmpty)
        #expect(summary(e2) == "fanzha: 0 records read, 0 flagged (≥ low), 0 failed")
    }

    @Test func aTenMegabyteLine() throws {
        let f = try CLIFixture()
        var line = String(repeating: "今天天气很好，我们去公园散步吧。", count: 10 * 1024 * 1024 / 48 + 1)
        line += "请转入安全账户"
        #expect(line.utf8.count > 10 * 1024 * 1024)
        let o = try f.scan(["--format", "tsv"], input: line + "\n你好\n")
        #expect(o.exited && o.status == 0)
        let rows = o.lines.dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(rows.count == 2)
        #expect(rows.first.map { Array($0.prefix(5)) } == ["1", "medium", "6", "police", "police.safe_account"])
        #expect(rows.first?.last.map(\.utf8.count) == line.utf8.count, "the whole line is kept")
        #expect(rows.last.map { Array($0.prefix(2)) } == ["2", "none"])
        #expect(summary(o) == "fanzha: 2 records read, 1 flagged (≥ low), 0 failed")
    }

    @Test func binaryGarbageNeverCrashes() throws {
        let f = try CLIFixture()
        var rng = SplitMix64(seed: 2024)
        var garbage = Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        garbage += Data("\n请转入安全账户\n".utf8)
        let newlines = garbage.filter { $0 == 0x0A }.count

        let text = try f.scan(["--format", "jsonl"], bytes: garbage)
        #expect(text.exited && text.status == 0)
        // Every line is one record; the last one is found.
        let s = try #require(summary(text))
        #expect(s.hasPrefix("fanzha: \(newlines) records read, ") && s.hasSuffix(" flagged (≥ low), 0 failed"), "\(s)")
        #expect(text.lines.count == newlines)
        for line in text.lines { #expect((try? jsonObject(line)) != nil, "output must stay valid JSON") }
        #expect(text.lines.last.map { $0.contains("\"text\":\"安全账户\"") } == true)

        let jsonl = try f.scan(["--input", "jsonl"], bytes: garbage)
        #expect(jsonl.exited)
        #expect(jsonl.status == 2)
        let failed = jsonl.errLines.filter { $0.hasPrefix("fanzha: <stdin>:") }.count
        #expect(failed > 0)
        #expect(summary(jsonl)?.hasSuffix("\(failed) failed") == true)
    }

    @Test func aJSONArrayLineAndACallWithoutTurns() throws {
        let f = try CLIFixture()
        let input = """
        [1,2,3]
        {"id":"c0","turns":[]}
        "just a string"
        {"id":"t","turns":"caller: 你好"}
        {"id":"n","text":42}
        {"id":"x","other":"no text"}
        {"id":"ok","text":"安全账户"}

        """
        let o = try f.scan(["--input", "jsonl", "--format", "jsonl"], input: input)
        #expect(o.exited && o.status == 2)
        #expect(try o.lines.map { try jsonObject($0)["id"] as? String } == ["<stdin>:1", "c0", "<stdin>:3", "t", "n", "x", "ok"],
                "one line per input line: an error with the id when it could be read")
        #expect(o.err.contains("fanzha: <stdin>:1: a JSON line must be an object, not an array"))
        #expect(o.err.contains("fanzha: <stdin>:2: a call without turns"))
        #expect(o.err.contains("fanzha: <stdin>:3: a JSON line must be an object, not a string"))
        #expect(o.err.contains("fanzha: <stdin>:4: `turns` must be an array"))
        #expect(o.err.contains("fanzha: <stdin>:5: `text` must be a string"))
        #expect(o.err.contains("fanzha: <stdin>:6: no `text` field"))
        #expect(summary(o) == "fanzha: 1 record read, 1 flagged (≥ low), 6 failed")
    }

    @Test func aRegexThatHitsItsLimitIsReportedAndScanningGoesOn() throws {
        let f = try CLIFixture()
        let line = "灾难" + String(repeating: "汉", count: 5000) + "!"
        let o = try f.scan(["--format", "jsonl"], input: line + "\n请转入安全账户\n")
        #expect(o.exited && o.status == 0)
        #expect(o.lines.count == 2)
        #expect(o.err.contains("fanzha: <stdin>:1: rule slow:"))
        #expect(o.err.contains("match limit exceeded"))
        let v = try jsonObject(o.lines[0])
        #expect((v["errors"] as? [String])?.first?.contains("match limit exceeded") == true)
        #expect(try jsonObject(o.lines[1])["level"] as? String == "medium")
    }

    // MARK: the other subcommands

    @Test func helpListsTheSubcommands() throws {
        let o = try ProcessRunner.fanzha(["--help"])
        #expect(o.status == 0)
        for sub in ["scan", "explain", "eval", "lint", "test", "fmt"] {
            #expect(o.out.contains("\n  \(sub) "), "\(sub) missing from --help")
        }
        let scanHelp = try ProcessRunner.fanzha(["scan", "--help"])
        #expect(scanHelp.status == 0)
        for option in ["--format", "--min-level", "--flagged-only", "--count", "--quiet", "--strict", "--rules"] {
            #expect(scanHelp.out.contains(option))
        }
        let unknown = try ProcessRunner.fanzha(["frobnicate"])
        #expect(unknown.exited && unknown.status != 0)
    }

    @Test func explainPrintsTheTable() throws {
        let f = try CLIFixture()
        let o = try ProcessRunner.fanzha(["explain"] + f.rulesArgs + ["我是公安局的，你涉嫌洗钱，请转入安全账户"])
        #expect(o.status == 0)
        let lines = o.out.components(separatedBy: "\n")
        #expect(lines.first == "我是" + marked("公安局") + "的，你涉嫌" + marked("洗钱") + "，请转入" + marked("安全账户"))
        #expect(o.out.contains(" pts  rule                              description"))
        let rows = lines.filter { $0.hasPrefix("   6  ") || $0.hasPrefix("   4  ") }
        #expect(rows.count == 2)
        #expect(rows.first?.hasPrefix("   6  police.safe_account") == true, "highest points first")
        #expect(rows.last?.contains("自称公安并指控洗钱") == true)
        #expect(rows.last?.contains("「公安局」 「洗钱」") == true)
        #expect(o.out.contains("  10  total: level high, police (冒充公检法)"))
        #expect(o.out.contains("建议: 公检法不会电话办案，没有安全账户。"))
        #expect(o.out.contains("转介: [high]"))
        #expect(o.out.contains("话术: 您好，这里是96110反诈中心。"))

        let none = try ProcessRunner.fanzha(["explain"] + f.rulesArgs + ["-"], stdin: Data("今天天气很好\n".utf8))
        #expect(none.status == 1)
        #expect(none.out.contains("(no rule fired)"))
        #expect(none.out.contains("   0  total: level none"))

        let call = try ProcessRunner.fanzha(["explain"] + f.rulesArgs + ["--call", "-"],
                                            stdin: Data("caller: 你好\ncallee: 你好\ncaller: 钱转入安全账户\n".utf8))
        #expect(call.status == 0)
        #expect(call.out.contains("caller: 钱转入" + marked("安全账户")))
        #expect(call.out.contains("「安全账户」@2"))
        #expect(call.out.contains("first warning at turn 2"))
    }

    @Test func explainShowsLongRuleIDsWhole() throws {
        let dir = try TemporaryDirectory()
        let id = "customer_service.finance_platform_account_cancel"
        let rules = try dir.write("long.fz", """
        rule \(id) { title "注销账户" score 3 match "注销账户" }
        rule short.one { title "客服" score 1 match "客服" }
        """)
        let o = try ProcessRunner.fanzha(["explain", "--rules", rules, "客服说要注销账户"])
        let lines = o.out.components(separatedBy: "\n")
        #expect(lines.contains("   3  \(id)  注销账户  「注销账户」"))
        #expect(lines.contains("   1  short.one" + String(repeating: " ", count: id.count - 9) + "  客服  「客服」"), "one column width for all rows")
    }

    @Test func fmtLeavesAFileThatIsNotUTF8Alone() throws {
        let dir = try TemporaryDirectory()
        // "转账" in GBK: decoding it as UTF-8 would turn it into U+FFFD for good.
        let gbk = Data("rule a { title \"t\" score 1 match \"".utf8) + Data([0xD7, 0xAA, 0xD5, 0xCB]) + Data("\" }\n".utf8)
        let path = try dir.write("gbk.fz", gbk)
        let o = try ProcessRunner.fanzha(["fmt", path])
        #expect(o.exited && o.status == 2)
        #expect(o.err.contains("invalid-utf8"))
        #expect(FileManager.default.contents(atPath: path) == gbk, "the file is unchanged")
    }

    @Test func ruleDirectoriesThroughLinksWithLockFilesAndOverlaps() throws {
        let f = try CLIFixture()
        let dir = try TemporaryDirectory()
        let real = dir.url.appendingPathComponent("real")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: f.rulesPath, toPath: real.appendingPathComponent("a.fz").path)
        try FileManager.default.createSymbolicLink(atPath: real.appendingPathComponent(".#a.fz").path, withDestinationPath: "user@host.123")
        try FileManager.default.createDirectory(at: real.appendingPathComponent("odd.fz"), withIntermediateDirectories: true)
        let link = dir.path("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real.path)
        #expect(try RuleCompiler.ruleFiles(at: [link]) == [link + "/a.fz"])
        #expect(try RuleCompiler.ruleFiles(at: [real.path, real.appendingPathComponent("a.fz").path]).count == 1, "read once")
        let o = try ProcessRunner.fanzha(["lint", link, real.appendingPathComponent("a.fz").path])
        #expect(o.exited && o.status == 0, "\(o.err)\(o.out)")
    }

    @Test func fmtWritesThroughALinkAndKeepsPermissions() throws {
        let dir = try TemporaryDirectory()
        let original = try dir.write("orig.fz", "rule a {title \"t\" score 1 match \"转账\" hit \"转账\" miss \"你好\"}\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: original)
        let link = dir.path("link.fz")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: original)
        let o = try ProcessRunner.fanzha(["fmt", link])
        #expect(o.exited && o.status == 0, "\(o.err)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == original, "still a link")
        let formatted = try String(contentsOfFile: original, encoding: .utf8)
        #expect(formatted.contains("\n  title "), "the file behind the link was formatted")
        #expect((try FileManager.default.attributesOfItem(atPath: original)[.posixPermissions] as? Int) == 0o600)
    }

    @Test func controlCharactersInATextAreShownNotObeyed() throws {
        let f = try CLIFixture()
        let hostile = "请转入安全账户\u{1B}[2K\r\u{1B}[1A正常"
        let o = try f.scan([], input: hostile + "\n")
        #expect(!o.out.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\r" })
        #expect(o.out.contains("\u{241B}[2K\u{240D}"))
        let e = try ProcessRunner.fanzha(["explain"] + f.rulesArgs + [hostile])
        #expect(!e.out.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\r" })
        // Speaker names are trimmed in --caller-names (one parser for every command).
        let sides = SpeakerSides(commaSeparated: " X , A,,")
        #expect(sides.side(of: "A") == .caller && sides.side(of: "x") == .caller && sides.side(of: "B") == .callee)
        #expect(sides.callerNames == ["x", "a"])
    }

    @Test func lintReportsFileLineAndColumn() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("bad.fz", """
        terms crime = "洗钱", "涉案"

        rule police.accuse {
          title "自称公检法"
          score 4
          match authorty near(40) crime
          hit   "我是警察，你涉嫌洗钱"
          miss  "你好"
        }

        rule regex.bad {
          title "坏正则"
          match /安全(账户/
          hit   "安全账户"
          miss  "你好"
        }
        """)
        let o = try ProcessRunner.fanzha(["lint", path])
        #expect(o.exited && o.status == 1)
        #expect(o.out.contains("\(path):6:9: error[unknown-name]: no terms or rule named `authorty`"))
        #expect(o.out.contains("\n6 |   match authorty near(40) crime\n"))
        #expect(o.out.contains("|         ^~~~~~~~"))
        #expect(o.out.contains("\(path):13:15: error[invalid-regex]: invalid regex: missing closing parenthesis"))
        #expect(o.err.contains("1 file checked: 2 errors"))

        let json = try ProcessRunner.fanzha(["lint", "--format", "json", path])
        #expect(json.status == 1)
        let first = try jsonObject(try #require(json.lines.first))
        #expect(first["file"] as? String == path)
        #expect(first["line"] as? Int == 6 && first["column"] as? Int == 9)
        #expect(first["id"] as? String == "unknown-name")

        let good = try dir.write("good/t.fz", cliRules)
        let clean = try ProcessRunner.fanzha(["lint", good])
        #expect(clean.status == 0)
        #expect(clean.out.isEmpty || !clean.out.contains("error["))
    }

    @Test func testSubcommandRunsTheBundledExamples() throws {
        // Run from the package root with no argument: the bundled rules are found by themselves. That
        // every bundled example passes, with the prefilter and without, is BundledRulesTests' check on
        // the library; here the command is run over them once (it was twice: by path and by default).
        let o = try ProcessRunner.fanzha(["test"], currentDirectory: PackageFiles.root)
        #expect(o.exited && o.status == 0, "\(o.out.suffix(2000))")
        let last = try #require(o.lines.last)
        let parts = last.split(separator: " ")
        #expect(parts.count == 4 && parts[1] == "passed," && parts[2] == "0" && parts[3] == "failed")
        #expect((Int(parts.first ?? "") ?? 0) > 100, "\(last)")
        #expect(!o.out.contains("FAIL"))
    }

    @Test func testSubcommandReportsAFailingExample() throws {
        let f = try CLIFixture(rules: """
        rule r {
          title "安全账户"
          score 6
          match "安全账户"
          hit   "请转入国家账户"
          miss  "你好"
        }
        """)
        let o = try ProcessRunner.fanzha(["test", f.rulesPath])
        #expect(o.status == 1)
        #expect(o.out.contains("\(f.rulesPath):5:9: FAIL r: hit example did not fire"))
        #expect(o.lines.last == "1 passed, 1 failed")
    }
}
