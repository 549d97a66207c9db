import Foundation
import Testing
@testable import Fanzha
#if canImport(Glibc)
import Glibc
#endif

// docs/RELIABILITY.md: what Fanzha promises, and these tests prove it.

/// A tiny rule set: 安全账户 is medium.
private let reliabilityRules = """
levels low 3, medium 6, high 10

category police {
  title  "冒充公检法"
  advice "挂断，拨打110核实。"
  script "您好，这里是96110反诈中心。"
}

rule police.safe_account {
  title    "安全账户"
  category police
  score    6
  match    "安全账户"
  hit      "请转入安全账户"
  miss     "你好"
}
"""

private final class ReliabilityFixture {
    let dir: TemporaryDirectory
    let rulesPath: String
    init(rules: String = reliabilityRules) throws {
        dir = try TemporaryDirectory()
        rulesPath = try dir.write("rules/t.fz", rules)
    }
    var rulesArgs: [String] { ["--rules", rulesPath] }
}

/// Runs `fanzha` with standard output going to `stdout` (a file, /dev/full, a pipe end).
private func fanzha(_ arguments: [String], stdout: FileHandle, stdin: String? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> (status: Int32, exited: Bool, err: String) {
    let exe = try #require(PackageFiles.fanzha, "the fanzha executable was not built", sourceLocation: sourceLocation)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: exe)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "FANZHA_RULES")
    env["NO_COLOR"] = "1"
    process.environment = env
    process.standardOutput = stdout
    let errPipe = Pipe()
    process.standardError = errPipe
    let inPipe = Pipe()
    process.standardInput = stdin == nil ? FileHandle(forReadingAtPath: "/dev/null") : inPipe
    try process.run()
    if let stdin {
        signal(SIGPIPE, SIG_IGN)
        try? inPipe.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
        try? inPipe.fileHandleForWriting.close()
    }
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason == .exit, String(decoding: err, as: UTF8.self))
}

/// Enough input that every command's output is larger than any buffer.
private func manyMessages(_ n: Int) -> String {
    (0..<n).map { $0 % 2 == 0 ? "请把钱转入安全账户\($0)" : "今天天气不错\($0)" }.joined(separator: "\n") + "\n"
}

@Suite("Every write is checked")
struct WriteErrorTests {
    /// Each command, with arguments that make it print something.
    private func commands(_ f: ReliabilityFixture, data: String) -> [(String, [String], String?)] {
        [("scan", ["scan"] + f.rulesArgs + [data], nil),
         ("scan jsonl", ["scan", "--format", "jsonl"] + f.rulesArgs + [data], nil),
         ("scan -c", ["scan", "-c"] + f.rulesArgs + [data], nil),
         ("scan events", ["scan", "--input", "events"] + f.rulesArgs + ["-"],
          "{\"call\":\"c1\",\"speaker\":\"caller\",\"text\":\"请把钱转入安全账户\"}\n{\"call\":\"c1\",\"end\":true}\n"),
         ("explain", ["explain"] + f.rulesArgs + ["请把钱转入安全账户"], nil),
         ("eval", ["eval"] + f.rulesArgs + [f.dir.path("labelled.csv")], nil),
         ("cases", ["cases"] + f.rulesArgs + [f.dir.path("labelled.csv")], nil),
         ("lint", ["lint", "--print-words", f.rulesPath], nil),
         ("test", ["test", f.rulesPath], nil),
         ("fmt --check", ["fmt", "--check", f.dir.path("unformatted.fz")], nil),
         ("--help", ["scan", "--help"], nil)]
    }

    private func fixture() throws -> (ReliabilityFixture, String) {
        let f = try ReliabilityFixture()
        let data = try f.dir.write("messages.txt", manyMessages(300))
        try f.dir.write("labelled.csv", "content,label\n请把钱转入安全账户,冒充公检法\n今天天气不错,正常\n")
        try f.dir.write("unformatted.fz", "terms   x =   \"安全账户\"\n")
        return (f, data)
    }

    @Test("/dev/full: `fanzha: write error: …` and exit 2, on every command")
    func devFull() throws {
        let (f, data) = try fixture()
        for (name, args, stdin) in commands(f, data: data) {
            let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
            let r = try fanzha(args, stdout: full, stdin: stdin)
            #expect(r.exited && r.status == 2, "\(name): status \(r.status)")
            #expect(r.err.contains("fanzha: write error: No space left on device"), "\(name): \(r.err)")
        }
    }

    @Test("a closed pipe (| head): quiet exit, no message")
    func closedPipe() throws {
        let (f, data) = try fixture()
        for (name, args, stdin) in commands(f, data: data) {
            let pipe = Pipe()
            try pipe.fileHandleForReading.close()   // nobody reads: every write is EPIPE
            let r = try fanzha(args, stdout: pipe.fileHandleForWriting, stdin: stdin)
            try? pipe.fileHandleForWriting.close()
            #expect(r.exited && r.status == 0, "\(name): status \(r.status)")
            #expect(!r.err.contains("write error"), "\(name): \(r.err)")
        }
    }

    @Test("a file on a full tmpfs: write error, exit 2")
    func fullTmpfs() throws {
        let (f, _) = try fixture()
        let mountPoint = f.dir.path("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        // Mounting needs root (CI runs as root); elsewhere this case is skipped, and says so.
        let mount = try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint])
        guard mount.status == 0 else {
            print("skipped the full-tmpfs case: cannot mount a tmpfs here (\(mount.err.trimmingCharacters(in: .whitespacesAndNewlines)))")
            return
        }
        defer { _ = try? ProcessRunner.run("/bin/umount", [mountPoint]) }
        let big = try f.dir.write("big.txt", manyMessages(1000))   // about 300 KB of verdicts
        let path = mountPoint + "/out.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let r = try fanzha(["scan", "--format", "jsonl"] + f.rulesArgs + [big], stdout: handle)
        try? handle.close()
        #expect(r.exited && r.status == 2, "status \(r.status)")
        #expect(r.err.contains("fanzha: write error: No space left on device"), "\(r.err)")
    }

    @Test("a writable file: everything written, exit as usual")
    func regularFile() throws {
        let (f, data) = try fixture()
        let path = f.dir.path("out.txt")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let r = try fanzha(["scan", "--format", "jsonl"] + f.rulesArgs + [data], stdout: handle)
        try? handle.close()
        #expect(r.status == 0)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 300)
    }
}

private func object(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)", sourceLocation: sourceLocation)
}

@Suite("Bad input is named, never skipped silently")
struct BadInputTests {
    @Test("a bad record: stderr names file, line and reason; JSON Lines keeps one line per input; exit 2 unless --skip-bad")
    func badRecordsKeepTheirPlace() throws {
        let f = try ReliabilityFixture()
        let input = #"{"id":"a","text":"请把钱转入安全账户"}"# + "\n" + #"{"id":"b","text":"# + "\n"
            + #"{"id":"x","other":1}"# + "\n" + #"{"id":"c","text":"你好"}"# + "\n"
        let path = try f.dir.write("in.jsonl", input)
        let o = try ProcessRunner.fanzha(["scan", "--format", "jsonl"] + f.rulesArgs + [path])
        #expect(o.exited && o.status == 2)
        #expect(o.lines.count == 4)
        #expect(try object(o.lines[0])["level"] as? String == "medium")
        let bad = try object(o.lines[1])
        #expect(bad["id"] as? String == "\(path):2")
        #expect((bad["error"] as? String)?.hasPrefix("not valid JSON") == true)
        let noText = try object(o.lines[2])
        #expect(noText["id"] as? String == "x")
        #expect((noText["error"] as? String)?.contains("no `text` field") == true)
        #expect(try object(o.lines[3])["id"] as? String == "c")
        #expect(o.err.contains("fanzha: \(path):2: not valid JSON"))
        #expect(o.err.contains("fanzha: \(path):3: no `text` field"))
        #expect(o.err.contains("2 records read, 1 flagged (≥ low), 2 failed"))

        let skipped = try ProcessRunner.fanzha(["scan", "--format", "jsonl", "--skip-bad"] + f.rulesArgs + [path])
        #expect(skipped.status == 0)
        #expect(skipped.err.contains("\(path):2: not valid JSON"), "still reported")
        // -q: a bad record is trouble, not "nothing found".
        let quiet = try ProcessRunner.fanzha(["scan", "-q"] + f.rulesArgs + [f.dir.write("bad.jsonl", #"{"id":1"# + "\n")])
        #expect(quiet.status == 2)
        // TSV: a row with level `error`; text: stderr only.
        let tsv = try ProcessRunner.fanzha(["scan", "--format", "tsv"] + f.rulesArgs + [path])
        #expect(tsv.lines.count == 5)
        #expect(tsv.lines[2].hasPrefix("\(path):2\terror\t"))
        let text = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [path])
        #expect(text.lines.count == 2)
        #expect(text.status == 2)
    }

    @Test("a lone surrogate becomes U+FFFD and the record is scanned")
    func loneSurrogate() throws {
        let f = try ReliabilityFixture()
        let input = #"{"id":"s","text":"\ud800请转入安全账户\udc00"}"# + "\n" + #"{"id":"p","text":"\ud83d\ude00安全账户"}"# + "\n"
        let o = try ProcessRunner.fanzha(["scan", "--format", "jsonl", "--input", "jsonl"] + f.rulesArgs + ["-"], stdin: Data(input.utf8))
        #expect(o.status == 0, "\(o.err)")
        let v = try object(o.lines[0])
        #expect(v["level"] as? String == "medium")
        let span = try #require(((v["hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first)
        #expect(span["start"] as? Int == 4)   // U+FFFD, 请, 转, 入
        let pair = try object(o.lines[1])
        let span2 = try #require(((pair["hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first)
        #expect(span2["start"] as? Int == 1, "a proper pair is one scalar")
    }

    @Test("huge numbers pass through as written; nesting beyond the limit is an error with that reason")
    func numbersAndDepth() throws {
        let f = try ReliabilityFixture()
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let input = #"{"id":12345678901234567890,"text":"安全账户","amount":1e400,"n":-0.10e-5,"meta":{"a": [1, 2.50]}}"# + "\n"
            + #"{"id":"d","text":"安全账户","deep":"# + deep + "}\n"
        let o = try ProcessRunner.fanzha(["scan", "--format", "jsonl", "--input", "jsonl"] + f.rulesArgs + ["-"], stdin: Data(input.utf8))
        #expect(o.status == 2)
        #expect(o.lines.count == 2)
        #expect(o.lines[0].hasPrefix(#"{"id":"12345678901234567890","amount":1e400,"n":-0.10e-5,"meta":{"a": [1, 2.50]},"level":"medium""#))
        #expect(o.lines[1] == #"{"id":"<stdin>:2","error":"nested deeper than \#(JSONLine.maxDepth) levels"}"#, "a line that cannot be parsed: its place, file:line")
        #expect(o.err.contains("<stdin>:2: nested deeper than \(JSONLine.maxDepth) levels"))
    }

    @Test("stdin that starts with `{` read as text: a hint, once")
    func jsonOnStdinHint() throws {
        let f = try ReliabilityFixture()
        let input = #"{"id":"a","text":"安全账户"}"# + "\n" + #"{"id":"b","text":"安全账户"}"# + "\n"
        let o = try ProcessRunner.fanzha(["scan"] + f.rulesArgs, stdin: Data(input.utf8))
        #expect(o.errLines.filter { $0.contains("--input jsonl") }.count == 1)
        let explicit = try ProcessRunner.fanzha(["scan", "--input", "text"] + f.rulesArgs, stdin: Data(input.utf8))
        #expect(!explicit.err.contains("--input jsonl"))
    }

    @Test("a bad call event: named on stderr, an error line in the stream, exit 2")
    func badEvent() throws {
        let f = try ReliabilityFixture()
        let input = #"{"call":"c1","speaker":"caller","text":"请转入安全账户"}"# + "\n" + #"{"call":"c1","speaker":"#
            + "\n" + #"{"call":"c1","t":true,"text":"x"}"# + "\n" + #"{"call":"c1","end":true}"# + "\n"
        let o = try ProcessRunner.fanzha(["scan", "--input", "events"] + f.rulesArgs, stdin: Data(input.utf8))
        #expect(o.status == 2)
        let errors = try o.lines.map { try object($0) }.filter { $0["event"] as? String == "error" }
        #expect(errors.map { $0["id"] as? String } == ["<stdin>:2", "<stdin>:3"])
        #expect(o.err.contains("<stdin>:2: not valid JSON"))
        let finals = try o.lines.map { try object($0) }.filter { $0["event"] as? String == "final" }
        #expect(finals.count == 1)
    }
}

@Suite("JSON Lines parser")
struct JSONLineTests {
    /// A random JSON value as text, built here (so key order is known).
    private static func randomValue(_ g: inout SystemRandomNumberGenerator, depth: Int) -> String {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &g) {
        case 0: return randomString(&g)
        case 1: return String(Int.random(in: -1_000_000...1_000_000, using: &g))
        case 2: return ["1.5", "-0.25", "3e10", "12345678901234567890", "2.5E-3", "0"].randomElement(using: &g)!
        case 3: return Bool.random(using: &g) ? "true" : "false"
        case 4: return "null"
        case 5: return "[" + (0..<Int.random(in: 0...3, using: &g)).map { _ in randomValue(&g, depth: depth + 1) }.joined(separator: ", ") + "]"
        default:
            let n = Int.random(in: 0...3, using: &g)
            return "{" + (0..<n).map { i in "\"k\(i)\":" + randomValue(&g, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }

    private static func randomString(_ g: inout SystemRandomNumberGenerator) -> String {
        let pieces = ["a", "安全", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00", "😀", "\\t", " ", "帳戶", "\\u0000"]
        return "\"" + (0..<Int.random(in: 0...6, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined() + "\""
    }

    private static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as JSONNumber, let y as Int): return x.double == Double(y)
        case (let x as JSONNumber, let y as Double): return x.double == y
        case (let x as JSONNumber, let y as NSNumber): return x.double == y.doubleValue
        case (let x as Bool, let y as Bool): return x == y
        case (let x as Bool, let y as NSNumber): return x == y.boolValue
        case (let x as String, let y as String): return x == y
        case (is NSNull, is NSNull): return true
        case (let x as [Any], let y as [Any]): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (let x as [String: Any], let y as [String: Any]):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { same(v, $0) } ?? false }
        default: return false
        }
    }

    @Test("agrees with JSONSerialization on random objects; raw spans are each value's text")
    func randomObjects() throws {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let n = Int.random(in: 0...6, using: &g)
            let values = (0..<n).map { _ in Self.randomValue(&g, depth: 1) }
            let line = "{" + values.enumerated().map { "\"f\($0.offset)\" : \($0.element)" }.joined(separator: ", ") + "}"
            let fields = try JSONLine.object(ArraySlice(Array(line.utf8))).get()
            let reference = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(fields.map(\.key) == (0..<n).map { "f\($0)" })
            for (i, f) in fields.enumerated() {
                let raw = String(decoding: Array(line.utf8)[f.raw], as: UTF8.self)
                #expect(raw == values[i], "raw span of \(f.key) in \(line)")
                #expect(Self.same(f.value, reference[f.key]!), "\(f.key) in \(line)")
            }
        }
    }

    @Test("errors name their reason")
    func errors() {
        func why(_ s: String) -> String? {
            if case .failure(let e) = JSONLine.object(ArraySlice(Array(s.utf8))) { return e.description }
            return nil
        }
        #expect(why(#"{"a":1"#)?.hasPrefix("not valid JSON: unterminated object") == true)
        #expect(why(#"{"a":01}"#)?.hasPrefix("not valid JSON") == true)
        #expect(why(#"[1]"#) == "a JSON line must be an object, not an array")
        #expect(why(#"{"a":"\x"}"#)?.contains("unknown escape") == true)
        #expect(why("{\"a\":\"\u{01}\"}")?.contains("control character") == true)
        #expect(why(#"{"a":1} x"#)?.contains("text after the object") == true)
        #expect(why("{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}") == "nested deeper than 64 levels")
        #expect(why("{\"a\":" + String(repeating: "[", count: 62) + String(repeating: "]", count: 62) + "}") == nil)
        #expect(why("\u{FEFF}{\"a\":1}") == nil)
        #expect(why(#"{"a":"\ud800"}"#) == nil)
    }
}

@Suite("Latin words match whole words; ~\"…\" asks for a substring")
struct LatinWholeWordTests {
    private let rules = """
    terms apps = "app", ~"vx", "qq"
    rule whole { title "整词" score 1 match "app" hit "下载app" miss "happy" }
    rule part { title "子串" score 1 match ~"app" hit "happy" miss "应用" }
    rule listed { title "词表" score 1 match apps hit "加vx" miss "apple" }
    rule mixed { title "中英" score 1 match "app认识" hit "在app认识的" miss "在happ认识" }
    """

    @Test("whole words by default, with and without the prefilter")
    func wholeWords() throws {
        for prefilter in [true, false] {
            let s = try makeScanner(rules, usePrefilter: prefilter)
            for text in ["下载app", "下载APP做任务", "app.", "打开app：", "ＡＰＰ", "app2", "(app)"] {
                #expect(fires(s, "whole", text), "\(text), prefilter \(prefilter)")
            }
            for text in ["happy", "apps", "application", "whatsapp", "Happy"] {
                #expect(!fires(s, "whole", text), "\(text), prefilter \(prefilter)")
                #expect(fires(s, "part", text) == text.lowercased().contains("app"), "\(text), prefilter \(prefilter)")
            }
            #expect(fires(s, "listed", "加vxabc"), "a ~ word in a term list is a substring")
            #expect(fires(s, "listed", "加qq123"), "digits are no letters")
            #expect(!fires(s, "listed", "qqq"))
            #expect(!fires(s, "listed", "apple"))
            #expect(fires(s, "mixed", "在app认识的"))
            #expect(!fires(s, "mixed", "在happ认识"), "the Latin end of a mixed word is a word boundary")
            #expect(fires(s, "mixed", "appapp认识") == false)
        }
    }

    @Test("fmt keeps ~ and lint warns where it changes nothing")
    func formatAndLint() throws {
        let text = "terms t = ~\"app\",   \"x1\"\nrule r {\n  title \"t\"\n  match ~\"下载\" or ~\"app\"\n  hit \"下载\"\n}\n"
        let (formatted, ds, _) = RuleFormatter.format(path: "t.fz", data: Data(text.utf8))
        #expect(ds.isEmpty)
        let f = try #require(formatted)
        #expect(f.contains("~\"app\", \"x1\""))
        #expect(f.contains("~\"下载\" or ~\"app\""))
        #expect(RuleFormatter.format(path: "t.fz", data: Data(f.utf8)).0 == f, "formatting is idempotent")
        let r = compileRules(text)
        #expect(diagnostics(r, "needless-substring").count == 1)
        #expect(diagnostics(r, "needless-substring").first?.message.contains("下载") == true)
    }
}

@Suite("Speaker names map to sides")
struct SpeakerMappingTests {
    private let callerRule = """
    rule caller_account { title "来电方要求转入安全账户" score 6 match caller: "安全账户" hit call "caller: 转到安全账户" miss "你好" }
    """

    @Test("the default table: agent/customer, A/B, 客服/用户, 坐席/客户, 主叫/被叫")
    func defaultTable() throws {
        let sides = SpeakerSides()
        for (caller, callee) in [("agent", "customer"), ("A", "B"), ("客服", "用户"), ("坐席", "客户"), ("主叫", "被叫"), ("caller", "callee"), ("来电", "本人")] {
            #expect(sides.side(of: caller) == .caller, "\(caller)")
            #expect(sides.side(of: callee) == .callee, "\(callee)")
            #expect(sides.isMapped(caller) && sides.isMapped(callee))
        }
        #expect(!sides.isMapped("Speaker 1"))
        let turns = [Turn(speaker: "X", side: .callee, text: ""), Turn(speaker: "agent", side: .caller, text: ""), Turn(speaker: "X", side: .callee, text: ""), Turn(speaker: "Y", side: .callee, text: "")]
        #expect(sides.unmapped(in: turns) == ["X", "Y"])
    }

    @Test("--speakers moves names to a side, on top of the defaults; a bad spec is a usage error")
    func spec() throws {
        let r = try SpeakerSides(speakers: "caller=X, 张三 ;callee=Y,agent")
        #expect(r.side(of: "x") == .caller && r.side(of: "张三") == .caller)
        #expect(r.side(of: "Y") == .callee && r.isMapped("Y"))
        #expect(r.side(of: "agent") == .callee, "an explicit side beats the default table")
        #expect(r.side(of: "坐席") == .caller)
        #expect(throws: SpeakerSides.SpeakerSpecError.self) { try SpeakerSides(speakers: "speaker=X") }
        #expect(throws: SpeakerSides.SpeakerSpecError.self) { try SpeakerSides(speakers: "caller") }
    }

    @Test("an unmapped call: one warning per call, speakers_unmapped in its verdict; --speakers fixes it")
    func unmappedCalls() throws {
        let f = try ReliabilityFixture(rules: reliabilityRules + callerRule)
        let input = #"{"id":"c1","turns":[{"speaker":"X","text":"转到安全账户"},{"speaker":"Y","text":"好"},{"speaker":"X","text":"快"}]}"# + "\n"
            + #"{"id":"c2","turns":[{"speaker":"坐席","text":"转到安全账户"},{"speaker":"客户","text":"好"}]}"# + "\n"
        let path = try f.dir.write("calls.jsonl", input)
        let o = try ProcessRunner.fanzha(["scan", "--format", "jsonl"] + f.rulesArgs + [path])
        let warnings = o.errLines.filter { $0.contains("match no side") || $0.contains("matches no side") }
        #expect(warnings == ["fanzha: \(path):1: call c1: speakers \"X\", \"Y\" match no side; read as the callee's (name the sides with --speakers)"])
        let c1 = try object(o.lines[0]), c2 = try object(o.lines[1])
        #expect(c1["speakers_unmapped"] as? [String] == ["X", "Y"])
        #expect(c2["speakers_unmapped"] == nil)
        #expect((c2["hits"] as? [[String: Any]])?.contains { $0["rule"] as? String == "caller_account" } == true, "坐席 is the caller's side")
        #expect((c1["hits"] as? [[String: Any]])?.contains { $0["rule"] as? String == "caller_account" } == false)

        let mapped = try ProcessRunner.fanzha(["scan", "--format", "jsonl", "--speakers", "caller=X;callee=Y"] + f.rulesArgs + [path])
        #expect(!mapped.err.contains("no side"))
        #expect((try object(mapped.lines[0])["hits"] as? [[String: Any]])?.contains { $0["rule"] as? String == "caller_account" } == true)

        let bad = try ProcessRunner.fanzha(["scan", "--speakers", "talker=X"] + f.rulesArgs + [path])
        #expect(bad.status == 2 && bad.err.contains("unknown side"))

        // Live events: one notice per call, the final verdict lists them.
        let events = #"{"call":"e","speaker":"X","text":"转到安全账户"}"# + "\n" + #"{"call":"e","speaker":"Z","text":"好"}"# + "\n"
            + #"{"call":"e","speaker":"X","text":"快"}"# + "\n"
        let live = try ProcessRunner.fanzha(["scan", "--input", "events"] + f.rulesArgs, stdin: Data(events.utf8))
        #expect(live.errLines.filter { $0.contains("no side") }.count == 1)
        let final = try #require(try live.lines.map { try object($0) }.first { $0["event"] as? String == "final" })
        #expect(final["speakers_unmapped"] as? [String] == ["X", "Z"])
    }
}

@Suite("CLI consistency")
struct CLIConsistencyTests {
    @Test("bare `fanzha`: usage on stderr, exit 2")
    func bare() throws {
        let o = try ProcessRunner.fanzha([])
        #expect(o.exited && o.status == 2)
        #expect(o.stdout.isEmpty)
        #expect(o.err.contains("USAGE: fanzha <subcommand>"))
    }

    @Test("file names in multi-file text output, -H, --no-filename")
    func fileNames() throws {
        let f = try ReliabilityFixture()
        let a = try f.dir.write("a.txt", "请转入安全账户\n你好\n"), b = try f.dir.write("b.txt", "安全账户\n")
        let two = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [a, b])
        #expect(two.lines.map { $0.split(separator: "\t").first.map(String.init) ?? "" } == ["\(a):1", "\(a):2", "\(b):1"])
        let none = try ProcessRunner.fanzha(["scan", "--no-filename"] + f.rulesArgs + [a, b])
        #expect(none.lines.map { $0.split(separator: "\t").first.map(String.init) ?? "" } == ["1", "2", "1"])
        let one = try ProcessRunner.fanzha(["scan", "-H"] + f.rulesArgs + [b])
        #expect(one.lines == ["\(b):1\tMEDIUM   6 police           〖安全账户〗"])
        let plain = try ProcessRunner.fanzha(["scan"] + f.rulesArgs + [b])
        #expect(plain.lines.first?.hasPrefix("1\t") == true)
        let json = try ProcessRunner.fanzha(["scan", "--format", "jsonl"] + f.rulesArgs + [a, b])
        #expect(json.lines.allSatisfy { $0.hasPrefix("{") }, "JSON Lines never gets a prefix")
    }

    @Test("bidi and control characters are escaped in text output, kept in JSON")
    func bidi() throws {
        let f = try ReliabilityFixture()
        let input = "安全\u{202E}账户 \u{2066}x\u{2069} \u{1B}[2J\n"
        let text = try ProcessRunner.fanzha(["scan"] + f.rulesArgs, stdin: Data(input.utf8))
        #expect(text.out.contains("<U+202E>") && text.out.contains("<U+2066>x<U+2069>"))
        #expect(!text.out.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x1B })
        let json = try ProcessRunner.fanzha(["scan", "--format", "jsonl", "--input", "text"] + f.rulesArgs, stdin: Data(input.utf8))
        #expect(json.out.contains("\u{202E}"), "JSON carries the text as it was (escaped by JSON rules only)")
    }

    @Test("every listed input and format works: --input csv, events as tsv and text")
    func inputsAndFormats() throws {
        let f = try ReliabilityFixture()
        let csv = try f.dir.write("m.csv", "id,content\nx1,请转入安全账户\nx2,\"你好,朋友\"\nx3\n")
        let o = try ProcessRunner.fanzha(["scan", "--format", "jsonl", "--input", "csv"] + f.rulesArgs + [csv])
        #expect(o.status == 2, "a short row is a bad record")
        let ids = try o.lines.map { try object($0)["id"] as? String }
        #expect(ids == ["x1", "x2", "\(csv):4"], "the bad row keeps its place in the output, as in every format")
        let byName = try ProcessRunner.fanzha(["scan", "--skip-bad"] + f.rulesArgs + [csv])
        #expect(byName.status == 0 && byName.lines.count == 2, ".csv is read as CSV")

        let events = #"{"call":"k","speaker":"caller","text":"请转入安全账户"}"# + "\n" + #"{"call":"k","end":true}"# + "\n"
        let tsv = try ProcessRunner.fanzha(["scan", "--input", "events", "--format", "tsv"] + f.rulesArgs, stdin: Data(events.utf8))
        #expect(tsv.lines == ["event\tcall\tturns\tlevel\tscore\tcategory\trules\tclosed",
                              "alert\tk\t0\tmedium\t6\tpolice\tpolice.safe_account\t",
                              "final\tk\t1\tmedium\t6\tpolice\tpolice.safe_account\tend"])
        let text = try ProcessRunner.fanzha(["scan", "--input", "events", "--format", "text"] + f.rulesArgs, stdin: Data(events.utf8))
        #expect(text.lines == ["call k alert at turn 0: MEDIUM 6 police [police.safe_account]",
                               "call k final after 1 turns (end): MEDIUM 6 police [police.safe_account]"])
        let json = try ProcessRunner.fanzha(["scan", "--input", "events"] + f.rulesArgs, stdin: Data(events.utf8))
        #expect(json.lines.allSatisfy { $0.hasPrefix("{\"event\":") }, "JSON Lines by default")
    }

    @Test("fmt with no path rewrites nothing; --check reads the bundled rules")
    func fmtNeedsAPath() throws {
        let o = try ProcessRunner.fanzha(["fmt"])
        #expect(o.status == 2 && o.err.contains("name them"))
        let check = try ProcessRunner.fanzha(["fmt", "--check"])
        #expect(check.exited && check.status <= 1)
        #expect(!check.err.contains("formatted "))
    }

    @Test("always-matches understands anchors")
    func anchors() throws {
        for (regex, always) in [("/^$/", false), ("/^.{0,3}$/", false), ("/^\\s*$/", false), ("/x?/", true), ("/(?m)^/", true), ("/^/", true)] {
            let r = compileRules(ruleText(match: "\"安全\" and " + regex, extra: "  hit \"安全\"\n"))
            #expect(diagnostics(r, "always-matches").isEmpty != always, "\(regex)")
        }
    }
}

@Suite("The bundled rules are stored formatted")
struct BundledRulesFormattedTests {
    @Test("fanzha fmt --check rules/ lists nothing")
    func formatted() throws {
        let o = try ProcessRunner.fanzha(["fmt", "--check", PackageFiles.rulesDirectory])
        #expect(o.exited && o.status == 0, "unformatted (run `fanzha fmt rules/`): \(o.out)")
    }
}

@Suite("Redaction: spaced and full-width labels, split and 大写 digits")
struct RedactionReliabilityTests {
    private let redactor = Redactor()

    /// The cases named in issue 19, then more of the same kinds.
    @Test(arguments: [
        // issue 19
        ("微 信：abc_12345", "微 信：[微信号]"),
        ("V：kefu8888", "V：[微信号]"),
        ("Ｑ Ｑ：12345678", "Ｑ Ｑ：[QQ号]"),
        ("电话138🔥1234🔥5678", "电话[手机号]"),
        ("壹叁捌壹贰叁肆伍陆柒捌", "[手机号]"),
        // labels
        ("加vx：kefu_2024", "加vx：[微信号]"),
        ("薇信 hello_world88", "薇信 [微信号]"),
        ("扣扣 87654321", "扣扣 [QQ号]"),
        ("Q Q号：123456789", "Q Q号：[QQ号]"),
        ("微-信号: shop_9988", "微-信号: [微信号]"),
        ("Ｖ：ｋｅｆｕ６６６６", "Ｖ：[微信号]"),
        ("v x：abc12345", "v x：[微信号]"),
        ("W X: zhang_san_88", "W X: [微信号]"),
        ("ＱＱ群 765432198", "ＱＱ群 [QQ号]"),
        // split digits
        ("回拨1️⃣3️⃣8️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣", "回拨[手机号]"),
        ("手机 138★1234★5678 咨询", "手机 [手机号] 咨询"),
        ("电话 139~1234~5678", "电话 [手机号]"),
        ("号码 138😀1234😀5678", "号码 [手机号]"),
        ("联系 1③8 1２3４ 5六7八", "联系 [手机号]"),
        // 大写 and full-width
        ("电话：壹叁玖 壹贰叁肆 伍陆柒捌", "电话：[手机号]"),
        ("回拨１５９１２３４５６７８", "回拨[手机号]"),
        ("卡号陆贰贰捌肆捌零零壹贰叁肆伍陆柒捌玖壹贰", "卡号[银行卡号]"),
        ("身份证 １１０１０５１９９０１２３１００１Ｘ", "身份证 [身份证号]"),
        ("身份证号 110105💥19901231💥001X", "身份证号 [身份证号]"),
        ("卡号 6228★4800★1234★5678★912", "卡号 [银行卡号]"),
        ("請撥打壹參捌壹貳參肆伍陸柒捌", "請撥打[手機號]".replacingOccurrences(of: "手機號", with: "手机号")),
    ])
    func hidden(text: String, expected: String) {
        #expect(redactor.apply(text) == expected, "\(text)")
    }

    @Test(arguments: [
        "反诈热线96110，报警110",
        "2024年5月1日 10:30 见",
        "价格 99元，两件 180元",
        "会议 3月15日—3月18日",
        "QQ音乐很好听",
        "请保管好你的微信",
    ])
    func ordinaryTextStays(text: String) {
        #expect(redactor.apply(text) == text)
    }
}

@Suite("Clock skew: events of one call are joined by call id")
struct ClockSkewTests {
    @Test("two sources a few seconds apart: one call, turns in arrival order, one notice")
    func skewedSources() throws {
        let f = try ReliabilityFixture()
        // Caller's source runs 4 s ahead of the callee's; events arrive interleaved.
        let events = [
            #"{"call":"k","speaker":"caller","text":"你好","t":104}"#,
            #"{"call":"k","speaker":"callee","text":"喂","t":101}"#,
            #"{"call":"k","speaker":"caller","text":"请转入安全账户","t":107}"#,
            #"{"call":"k","speaker":"callee","text":"好的","t":104.5}"#,
            #"{"call":"k","end":true}"#,
        ].joined(separator: "\n") + "\n"
        let o = try ProcessRunner.fanzha(["scan", "--input", "events", "--idle-seconds", "30"] + f.rulesArgs, stdin: Data(events.utf8))
        #expect(o.status == 0, "\(o.err)")
        let finals = try o.lines.map { try object($0) }.filter { $0["event"] as? String == "final" }
        #expect(finals.count == 1)
        #expect(finals.first?["turns"] as? Int == 4)
        #expect(finals.first?["closed"] as? String == "end")
        let span = ((finals.first?["hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first
        #expect(span?["turn"] as? Int == 2, "turns in arrival order")
        #expect(o.errLines.filter { $0.contains("earlier than the previous") }.count == 1)
    }
}

@Suite("Live calls: a window bounds the work per event")
struct LiveWindowTests {
    @Test("alerts of a call longer than the window come from its last turns, with the call's turn numbers; the final covers all")
    func windowedAlerts() throws {
        let f = try ReliabilityFixture()
        var events: [String] = []
        for i in 0..<30 { events.append(#"{"call":"w","speaker":"callee","text":"今天天气不错\#(i)"}"#) }
        events.append(#"{"call":"w","speaker":"caller","text":"请转入安全账户"}"#)
        events.append(#"{"call":"w","end":true}"#)
        let input = Data((events.joined(separator: "\n") + "\n").utf8)
        let o = try ProcessRunner.fanzha(["scan", "--input", "events", "--window-turns", "5"] + f.rulesArgs, stdin: input)
        let out = try o.lines.map { try object($0) }
        let alert = try #require(out.first { $0["event"] as? String == "alert" })
        #expect(alert["turn"] as? Int == 30)
        let span = ((alert["new_hits"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first
        #expect(span?["turn"] as? Int == 30, "the call's turn number, not the window's")
        let final = try #require(out.first { $0["event"] as? String == "final" })
        #expect(final["turns"] as? Int == 31)
        let whole = try ProcessRunner.fanzha(["scan", "--input", "events"] + f.rulesArgs, stdin: input)
        let wholeFinal = try #require(try whole.lines.map { try object($0) }.first { $0["event"] as? String == "final" })
        #expect(wholeFinal["level"] as? String == final["level"] as? String)
        #expect(wholeFinal["score"] as? Int == final["score"] as? Int)
        #expect(try ProcessRunner.fanzha(["scan", "--input", "events", "--window-turns", "0"] + f.rulesArgs, stdin: input).status == 2)
    }
}
