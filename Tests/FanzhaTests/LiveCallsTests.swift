import Foundation
import Testing
@testable import Fanzha

/// The `level` field of an event line.
private func level(of json: String) -> Level? {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], let l = obj["level"] as? String else { return nil }
    return Level(name: l)
}

/// Live call screening: streamed events must end in exactly the verdict of the whole call.
@Suite struct LiveCallsTests {
    static let rules: RuleSet = {
        let result = try! RuleCompiler.compile(paths: [PackageFiles.rulesDirectory])
        return result.ruleSet!
    }()

    static func calls() throws -> [Record] {
        let data = try #require(FileManager.default.contents(atPath: PackageFiles.corpus("calls.jsonl")))
        var errors: [String] = []
        let records = LabelledData.read(path: "calls.jsonl", data: data, textField: nil, labelField: "label", idField: "id",
                                        roles: SpeakerRoles(), errors: &errors)
        #expect(errors.isEmpty)
        return records
    }

    static func event(_ call: String, _ turn: Turn) -> String {
        "{\"call\":\(jsonString(call)),\"speaker\":\(jsonString(turn.speaker)),\"text\":\(jsonString(turn.text))}"
    }

    /// Feeds lines and collects stdout records and stderr problems.
    static func run(_ live: LiveCallScreener, _ lines: [String]) -> (records: [String], problems: [String]) {
        var records: [String] = [], problems: [String] = []
        func take(_ outs: [LiveCallScreener.Output]) {
            for o in outs {
                switch o {
                case .alert(let r, _), .final(let r, _): records.append(r)
                case .malformed(let p), .notice(let p): problems.append(p)
                }
            }
        }
        for (i, line) in lines.enumerated() { take(live.handle(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events")) }
        take(live.finish())
        return (records, problems)
    }

    static func finals(_ records: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for r in records where r.hasPrefix("{\"event\":\"final\"") {
            let obj = try! JSONSerialization.jsonObject(with: Data(r.utf8)) as! [String: Any]
            // Strip the event envelope: what is left is the verdict record.
            let body = "{" + r[r.range(of: "\"id\":")!.lowerBound...]
            out[obj["id"] as! String] = String(body)
        }
        return out
    }

    @Test func streamedEqualsWholeOverRandomInterleavings() throws {
        let calls = try Self.calls()
        #expect(calls.count >= 40)
        let scanner = try Scanner(rules: Self.rules)
        let printer = VerdictPrinter(rules: Self.rules, format: .jsonl, colour: false)
        var expected: [String: String] = [:]
        for c in calls { expected[c.id] = printer.json(scanner.scan(Record(id: c.id, turns: c.turns)), record: Record(id: c.id, turns: c.turns)) }
        // Several random interleavings of all calls' turns, each call's turns in order.
        var rng = SplitMix64(seed: 20261129)
        for round in 0..<4 {
            var cursors = calls.map { ($0, 0) }
            var lines: [String] = []
            while !cursors.isEmpty {
                let k = Int(rng.next() % UInt64(cursors.count))
                let (call, i) = cursors[k]
                lines.append(Self.event(call.id, call.turns[i]))
                if i + 1 == call.turns.count {
                    // Half the calls end explicitly, the rest at end of input.
                    if rng.next() % 2 == 0 { lines.append("{\"call\":\(jsonString(call.id)),\"end\":true}") }
                    cursors.remove(at: k)
                } else {
                    cursors[k].1 = i + 1
                }
            }
            let live = LiveCallScreener(scanner: try Scanner(rules: Self.rules))
            let (records, problems) = Self.run(live, lines)
            #expect(problems.isEmpty, "round \(round): \(problems)")
            let finals = Self.finals(records)
            #expect(finals.count == calls.count)
            for c in calls { #expect(finals[c.id] == expected[c.id], "call \(c.id), round \(round)") }
            #expect(live.openCalls == 0)
        }
    }

    /// A side's first words change what its scope sees, even without a dictionary word: the live
    /// screener must decide that turn, or `callee: not …` never alerts.
    @Test func aSidesFirstTurnIsDecidedEvenWithoutWords() throws {
        let rules = try compiledRuleSet("""
        levels low 3, medium 6, high 10
        rule t.silent { title "对方未拒绝" score 10 match callee: not "不" }
        """, path: "t.fz")
        let lines = [Self.event("c1", Turn(speaker: "caller", role: .caller, text: "转账")),
                     Self.event("c1", Turn(speaker: "callee", role: .callee, text: "嗯"))]
        let (records, _) = Self.run(LiveCallScreener(scanner: try Scanner(rules: rules)), lines)
        #expect(records.contains { $0.hasPrefix("{\"event\":\"alert\"") && level(of: $0) == .high }, "\(records)")
    }

    @Test func alertsRiseAndComeBeforeTheEnd() throws {
        let turns = [
            ("caller", "你好，我是市公安局的张警官"),
            ("callee", "什么事？"),
            ("caller", "你的银行卡涉嫌洗钱，现在要资金清查，这件事要保密，不能告诉家人"),
            ("caller", "请把钱转到安全账户配合调查"),
        ]
        let lines = turns.map { Self.event("c1", Turn(speaker: $0.0, role: .caller, text: $0.1)) } + ["{\"call\":\"c1\",\"end\":true}"]
        let (records, problems) = Self.run(LiveCallScreener(scanner: try Scanner(rules: Self.rules)), lines)
        #expect(problems.isEmpty)
        let alerts = records.filter { $0.hasPrefix("{\"event\":\"alert\"") }
        #expect(!alerts.isEmpty)
        let levels = alerts.compactMap { level(of: $0) }
        #expect(levels == levels.sorted() && Set(levels).count == levels.count, "each alert is a rise: \(levels)")
        #expect(levels.last == .high)
        // The first medium-or-higher alert names the turn the final verdict calls first_warning_turn.
        let final = try #require(records.last)
        #expect(final.hasPrefix("{\"event\":\"final\",\"closed\":\"end\""))
        let obj = try JSONSerialization.jsonObject(with: Data(final.utf8)) as! [String: Any]
        let firstWarning = try #require(obj["first_warning_turn"] as? Int)
        let firstMediumAlert = try #require(alerts.first { (level(of: $0) ?? .none) >= .medium })
        let alertObj = try JSONSerialization.jsonObject(with: Data(firstMediumAlert.utf8)) as! [String: Any]
        #expect(alertObj["turn"] as? Int == firstWarning)
        #expect(obj["first_money_request_turn"] as? Int == 3, "the transfer request is turn 3")
        #expect(firstWarning < 3, "warned before the money request in turn 3")
    }

    @Test func badInputIsReportedWithLineNumbersAndNothingIsLost() throws {
        let lines = [
            "{\"call\":\"a\",\"speaker\":\"caller\",\"text\":\"你好\",\"t\":5}",
            "not json",
            "[1,2]",
            "{\"speaker\":\"caller\",\"text\":\"没有通话编号\"}",
            "{\"call\":\"a\",\"speaker\":\"caller\"}",
            "{\"call\":\"zzz\",\"end\":true}",
            "{\"call\":\"a\",\"speaker\":\"caller\",\"text\":\"请把钱转到安全账户\",\"t\":3}",
            "",
        ]
        let live = LiveCallScreener(scanner: try Scanner(rules: Self.rules))
        let (records, problems) = Self.run(live, lines)
        #expect(problems.contains { $0.hasPrefix("events:2:") && $0.contains("not valid JSON") })
        #expect(problems.contains { $0.hasPrefix("events:3:") && $0.contains("object") })
        #expect(problems.contains { $0.hasPrefix("events:4:") && $0.contains("`call`") })
        #expect(problems.contains { $0.hasPrefix("events:5:") && $0.contains("without `text`") })
        #expect(problems.contains { $0.hasPrefix("events:6:") && $0.contains("not open") })
        #expect(problems.contains { $0.hasPrefix("events:7:") && $0.contains("earlier") })
        #expect(problems.count == 6)
        // Call a still got both of its turns and a final verdict at end of input.
        let final = try #require(records.last)
        let obj = try JSONSerialization.jsonObject(with: Data(final.utf8)) as! [String: Any]
        #expect(obj["closed"] as? String == "eof")
        #expect(obj["turns"] as? Int == 2)
    }

    @Test func idleAndEvictionCloseCallsAndSayWhy() throws {
        var limits = LiveCallScreener.Limits()
        limits.idleLines = 3
        limits.maxOpenCalls = 2
        let live = LiveCallScreener(scanner: try Scanner(rules: Self.rules), limits: limits)
        let t = { (c: String) in Self.event(c, Turn(speaker: "caller", role: .caller, text: "喂，你好")) }
        let (records, problems) = Self.run(live, [t("a"), t("b"), t("c"), t("c"), t("c"), t("c"), t("c")])
        let finals = records.filter { $0.hasPrefix("{\"event\":\"final\"") }
        // c opens while a and b are open: a (least recently active) is evicted; b then idles out.
        #expect(finals.first?.contains("\"closed\":\"evicted\"") == true && finals.first?.contains("\"id\":\"a\"") == true)
        #expect(finals.contains { $0.contains("\"closed\":\"idle\"") && $0.contains("\"id\":\"b\"") })
        #expect(finals.last?.contains("\"closed\":\"eof\"") == true && finals.last?.contains("\"id\":\"c\"") == true)
        #expect(problems.contains { $0.contains("call a") && $0.contains("2 open calls") })
        #expect(problems.contains { $0.contains("call b") && $0.contains("idle") })
        #expect(finals.count == 3)
    }

    @Test func aCallIsClosedAtTheTurnLimitAndItsLaterTurnsStartANewCall() throws {
        var limits = LiveCallScreener.Limits()
        limits.maxTurns = 3
        let live = LiveCallScreener(scanner: try Scanner(rules: Self.rules), limits: limits)
        let t = { (text: String) in Self.event("a", Turn(speaker: "caller", role: .caller, text: text)) }
        let (records, problems) = Self.run(live, [t("喂，你好"), t("我是市公安局的"), t("你涉嫌洗钱"), t("请转入安全账户")])
        let finals = records.filter { $0.hasPrefix("{\"event\":\"final\"") }
        #expect(finals.count == 2)
        #expect(finals.first?.contains("\"closed\":\"turns\"") == true && finals.first?.contains("\"turns\":3") == true)
        #expect(finals.last?.contains("\"closed\":\"eof\"") == true && finals.last?.contains("\"turns\":1") == true)
        #expect(problems.contains { $0.contains("call a reached 3 turns") })

        // A call of exactly the limit that then ends normally is closed by its end event.
        let again = LiveCallScreener(scanner: try Scanner(rules: Self.rules), limits: limits)
        let ended = Self.run(again, [t("喂，你好"), t("我是市公安局的"), t("你涉嫌洗钱"), #"{"call":"a","end":true}"#])
        #expect(ended.problems.isEmpty, "\(ended.problems)")
        #expect(ended.records.filter { $0.hasPrefix("{\"event\":\"final\"") }.map { $0.contains("\"closed\":\"end\"") } == [true])
    }

    @Test func idleByEventTimeDoesNotWaitForAnOlderLine() throws {
        var limits = LiveCallScreener.Limits()
        limits.idleSeconds = 100
        let live = LiveCallScreener(scanner: try Scanner(rules: Self.rules), limits: limits)
        let lines = [
            #"{"call":"A","speaker":"caller","text":"你好"}"#,                  // no time: never idle by time
            #"{"call":"B","speaker":"caller","text":"你好","t":0}"#,
            #"{"call":"C","speaker":"caller","text":"你好","t":10000}"#,        // B is now idle
            #"{"call":"B","speaker":"caller","text":"还在吗","t":10001}"#,      // a new call B
        ]
        let (records, problems) = Self.run(live, lines)
        let finals = records.filter { $0.hasPrefix("{\"event\":\"final\"") }
        #expect(finals.first?.contains("\"closed\":\"idle\"") == true && finals.first?.contains("\"id\":\"B\"") == true)
        #expect(finals.count == 4, "B idle, then A, C and the new B at the end")
        #expect(problems.contains { $0.contains("call B: closed after being idle") })
    }

    @Test func callIdsAndTimesMustBeWhatTheySay() throws {
        let live = LiveCallScreener(scanner: try Scanner(rules: Self.rules))
        let (records, problems) = Self.run(live, [
            #"{"call":true,"speaker":"caller","text":"你好"}"#,
            #"{"call":"1","speaker":"caller","text":"你好","t":"2"}"#,
            #"{"call":7,"speaker":"caller","text":"你好"}"#,
        ])
        #expect(problems.contains { $0.hasPrefix("events:1: an event needs a `call` id") })
        #expect(problems.contains { $0.hasPrefix("events:2: call 1: `t` must be a number") })
        #expect(records.count == 1 && records[0].contains("\"id\":\"7\""))
    }
}
