import Foundation
import Testing
@testable import Fanzha

extension LiveCallEvent {
    var alert: CallAlert? { if case .alert(let a) = self { return a } else { return nil } }
    var final: CallFinal? { if case .final(let f) = self { return f } else { return nil } }
}

/// Live call screening: streamed events must end in exactly the verdict of the whole call.
@Suite struct LiveCallsTests {
    static let rules: RuleSet = {
        let result = try! RuleCompiler.compile(paths: [PackageFiles.rulesDirectory])
        return result.ruleSet!
    }()

    static func calls() throws -> [Record] {
        let data = try #require(FileManager.default.contents(atPath: PackageFiles.corpus("calls.jsonl")))
        let (records, errors) = RecordSource(bytes: data, name: "calls.jsonl", format: .jsonl, options: ReaderOptions()).readAll()
        #expect(errors.isEmpty)
        return records
    }

    static func event(_ call: String, _ turn: Turn) -> String {
        "{\"call\":\(jsonString(call)),\"speaker\":\(jsonString(turn.speaker)),\"text\":\(jsonString(turn.text))}"
    }

    /// Feeds lines and collects the alerts and finals, and the problems (what goes to stderr).
    static func run(_ live: LiveCallScreener, _ lines: [String]) -> (records: [LiveCallEvent], problems: [String]) {
        var records: [LiveCallEvent] = [], problems: [String] = []
        func take(_ events: [LiveCallEvent]) {
            for e in events {
                switch e {
                case .alert, .final: records.append(e)
                case .malformed(let p): problems.append(p.description)
                case .notice(let p): problems.append(p)
                }
            }
        }
        for (i, line) in lines.enumerated() { take(live.handle(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events")) }
        take(live.finish())
        return (records, problems)
    }

    /// Each call's final verdict, printed as `scan` prints a verdict.
    static func finals(_ records: [LiveCallEvent]) -> [String: String] {
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        var out: [String: String] = [:]
        for f in records.compactMap(\.final) { out[f.call] = printer.json(f.verdict, record: f.record) }
        return out
    }

    @Test func streamedEqualsWholeOverRandomInterleavings() throws {
        let calls = try Self.calls()
        #expect(calls.count >= 40)
        let scanner = try Screener(rules: Self.rules)
        let printer = VerdictPrinter(rules: Self.rules, format: .jsonl, colour: false)
        var expected: [String: String] = [:]
        for c in calls { expected[c.id] = printer.json(scanner.screen(Record(id: c.id, turns: c.turns)), record: Record(id: c.id, turns: c.turns)) }
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
            let live = LiveCallScreener(screener: try Screener(rules: Self.rules))
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
        let lines = [Self.event("c1", Turn(speaker: "caller", side: .caller, text: "转账")),
                     Self.event("c1", Turn(speaker: "callee", side: .callee, text: "嗯"))]
        let (records, _) = Self.run(LiveCallScreener(screener: try Screener(rules: rules)), lines)
        #expect(records.contains { $0.alert?.level == .high }, "\(records)")
    }

    /// A call keys each speaker name once and then compares names (`CallState.listedSide`):
    /// whatever order the names come in, with case and spaces changed and one on neither list,
    /// every turn gets the side `SpeakerSides.side(of:)` gives, and the unlisted name one notice.
    @Test func eachTurnGetsItsSpeakersSideWhateverTheOrderOfNames() throws {
        let sides = SpeakerSides()
        let names = ["客服", "用户", " Caller ", "客服", "路人", "用户", "CALLER", "路人", "caller", "我", "客服", "路人"]
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules))
        var notices: [String] = []
        for (i, name) in names.enumerated() {
            let line = Self.event("c1", Turn(speaker: name, side: .callee, text: "请把验证码告诉我"))
            for step in live.plan(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events") {
                switch step {
                case .turn(_, let turn): #expect(turn.side == sides.side(of: name), "turn \(i): \(name)")
                case .ready(.notice(let n)): notices.append(n)
                default: break
                }
            }
        }
        #expect(sides.side(of: " Caller ") == .caller && sides.side(of: "路人") == .callee)
        #expect(notices.count == 1 && notices[0].contains("\"路人\" matches no side"), "\(notices)")
        let final = try #require(live.finish().compactMap(\.final).first)
        #expect(final.record.unmappedSpeakers == ["路人"])
    }

    /// The screener keys each speaker name once for every call (`LiveCallScreener.speakerSides`):
    /// the same names in other calls, and again once the names kept were let go, give each turn
    /// the side `SpeakerSides.side(of:)` gives.
    @Test func speakerNamesKeyedOnceServeEveryCall() throws {
        let sides = SpeakerSides()
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules))
        let known = ["客服", "用户", " Caller ", "路人", "CALLER", "我", "callee"]
        let names = known + (0...LiveCallScreener.speakerNamesKept).map { "听众\($0)" } + known
        var turns = 0
        for (i, name) in names.enumerated() {
            let line = Self.event("c\(i % 3)", Turn(speaker: name, side: .callee, text: "你好"))
            for case .turn(_, let turn) in live.plan(line: ArraySlice(Array(line.utf8)), number: i + 1, source: "events") {
                #expect(turn.side == sides.side(of: name), "turn \(i): \(name)")
                turns += 1
            }
        }
        #expect(turns == names.count)
    }

    @Test func alertsRiseAndComeBeforeTheEnd() throws {
        let turns = [
            ("caller", "你好，我是市公安局的张警官"),
            ("callee", "什么事？"),
            ("caller", "你的银行卡涉嫌洗钱，现在要资金清查，这件事要保密，不能告诉家人"),
            ("caller", "请把钱转到安全账户配合调查"),
        ]
        let lines = turns.map { Self.event("c1", Turn(speaker: $0.0, side: .caller, text: $0.1)) } + ["{\"call\":\"c1\",\"end\":true}"]
        let (records, problems) = Self.run(LiveCallScreener(screener: try Screener(rules: Self.rules)), lines)
        #expect(problems.isEmpty)
        let alerts = records.compactMap(\.alert)
        #expect(!alerts.isEmpty)
        let levels = alerts.map(\.level)
        #expect(levels == levels.sorted() && Set(levels).count == levels.count, "each alert is a rise: \(levels)")
        #expect(levels.last == .high)
        // The first medium-or-higher alert names the turn the final verdict calls first_warning_turn.
        let final = try #require(records.last?.final)
        #expect(final.closed == .end)
        let firstWarning = try #require(final.verdict.firstWarningTurn)
        let firstMediumAlert = try #require(alerts.first { $0.level >= .medium })
        #expect(firstMediumAlert.turn == firstWarning)
        #expect(final.verdict.firstMoneyRequestTurn == 3, "the transfer request is turn 3")
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
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules))
        let (records, problems) = Self.run(live, lines)
        #expect(problems.contains { $0.hasPrefix("events:2:") && $0.contains("not valid JSON") })
        #expect(problems.contains { $0.hasPrefix("events:3:") && $0.contains("object") })
        #expect(problems.contains { $0.hasPrefix("events:4:") && $0.contains("`call`") })
        #expect(problems.contains { $0.hasPrefix("events:5:") && $0.contains("without `text`") })
        #expect(problems.contains { $0.hasPrefix("events:6:") && $0.contains("not open") })
        #expect(problems.contains { $0.hasPrefix("events:7:") && $0.contains("earlier") })
        #expect(problems.count == 6)
        // Call a still got both of its turns and a final verdict at end of input.
        let final = try #require(records.last?.final)
        #expect(final.closed == .eof)
        #expect(final.turns == 2)
    }

    @Test func idleAndEvictionCloseCallsAndSayWhy() throws {
        var limits = LiveCallScreener.Limits()
        limits.idleLines = 3
        limits.maxOpenCalls = 2
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules), limits: limits)
        let t = { (c: String) in Self.event(c, Turn(speaker: "caller", side: .caller, text: "喂，你好")) }
        let (records, problems) = Self.run(live, [t("a"), t("b"), t("c"), t("c"), t("c"), t("c"), t("c")])
        let finals = records.compactMap(\.final)
        // c opens while a and b are open: a (least recently active) is evicted; b then idles out.
        #expect(finals.first?.closed == .evicted && finals.first?.call == "a")
        #expect(finals.contains { $0.closed == .idle && $0.call == "b" })
        #expect(finals.last?.closed == .eof && finals.last?.call == "c")
        #expect(problems.contains { $0.contains("call a") && $0.contains("2 open calls") })
        #expect(problems.contains { $0.contains("call b") && $0.contains("idle") })
        #expect(finals.count == 3)
    }

    @Test func aCallIsClosedAtTheTurnLimitAndItsLaterTurnsStartANewCall() throws {
        var limits = LiveCallScreener.Limits()
        limits.maxTurns = 3
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules), limits: limits)
        let t = { (text: String) in Self.event("a", Turn(speaker: "caller", side: .caller, text: text)) }
        let (records, problems) = Self.run(live, [t("喂，你好"), t("我是市公安局的"), t("你涉嫌洗钱"), t("请转入安全账户")])
        let finals = records.compactMap(\.final)
        #expect(finals.count == 2)
        #expect(finals.first?.closed == .turns && finals.first?.turns == 3)
        #expect(finals.last?.closed == .eof && finals.last?.turns == 1)
        #expect(problems.contains { $0.contains("call a reached 3 turns") })

        // A call of exactly the limit that then ends normally is closed by its end event.
        let again = LiveCallScreener(screener: try Screener(rules: Self.rules), limits: limits)
        let ended = Self.run(again, [t("喂，你好"), t("我是市公安局的"), t("你涉嫌洗钱"), #"{"call":"a","end":true}"#])
        #expect(ended.problems.isEmpty, "\(ended.problems)")
        #expect(ended.records.compactMap(\.final).map(\.closed) == [.end])
    }

    @Test func idleByEventTimeDoesNotWaitForAnOlderLine() throws {
        var limits = LiveCallScreener.Limits()
        limits.idleSeconds = 100
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules), limits: limits)
        let lines = [
            #"{"call":"A","speaker":"caller","text":"你好"}"#,                  // no time: never idle by time
            #"{"call":"B","speaker":"caller","text":"你好","t":0}"#,
            #"{"call":"C","speaker":"caller","text":"你好","t":10000}"#,        // B is now idle
            #"{"call":"B","speaker":"caller","text":"还在吗","t":10001}"#,      // a new call B
        ]
        let (records, problems) = Self.run(live, lines)
        let finals = records.compactMap(\.final)
        #expect(finals.first?.closed == .idle && finals.first?.call == "B")
        #expect(finals.count == 4, "B idle, then A, C and the new B at the end")
        #expect(problems.contains { $0.contains("call B: closed after being idle") })
    }

    @Test func callIdsAndTimesMustBeWhatTheySay() throws {
        let live = LiveCallScreener(screener: try Screener(rules: Self.rules))
        let (records, problems) = Self.run(live, [
            #"{"call":true,"speaker":"caller","text":"你好"}"#,
            #"{"call":"1","speaker":"caller","text":"你好","t":"2"}"#,
            #"{"call":7,"speaker":"caller","text":"你好"}"#,
        ])
        #expect(problems.contains { $0.hasPrefix("events:1: an event needs a `call` id") })
        #expect(problems.contains { $0.hasPrefix("events:2: call 1: `t` must be a number") })
        #expect(records.count == 1 && records[0].final?.call == "7")
    }

    /// The printer, not the screener, writes events: JSON with the event's fields first, then (for a
    /// final) the verdict as `scan` writes it; TSV and text rows with the same facts.
    @Test func thePrinterWritesEachEventInEachFormat() throws {
        let rules = try compiledRuleSet("""
        levels low 3, medium 6, high 10
        category police { title "冒充公检法" advice "挂断" script "您好" }
        rule p.account { title "安全账户" category police score 7 tags money_request match "安全账户" }
        """, path: "t.fz")
        let live = LiveCallScreener(screener: try Screener(rules: rules))
        let lines = [#"{"call":"c1","speaker":"caller","text":"转到安全账户"}"#, #"{"call":"c1","end":true}"#, "oops"]
        let (events, _) = Self.run(live, lines)
        let bad = live.handle(line: ArraySlice(Array("oops".utf8)), number: 9, source: "ev")
        let all = events + bad
        let json = LiveEventPrinter(rules: rules, format: .jsonl)
        let referral = #"{"tier":"medium","action":"\#(ReferralPolicy.standard.medium.action)","hotline":"96110","script":"您好"}"#
        let span = #"{"start":2,"end":6,"text":"安全账户","turn":0}"#
        let hit = #"{"rule":"p.account","title":"安全账户","score":7,"tags":["money_request"],"spans":[\#(span)]}"#
        #expect(all.compactMap(json.render) == [
            #"{"event":"alert","call":"c1","turn":0,"level":"medium","score":7,"category":"police","new_hits":[\#(hit)],"referral":\#(referral)}"#,
            #"{"event":"final","closed":"end","turns":1,"id":"c1","level":"medium","score":7,"category":"police","categories":["police"],"hits":[\#(hit)],"advice":"挂断","referral":\#(referral),"errors":[],"first_warning_turn":0,"first_money_request_turn":0}"#,
            #"{"event":"error","id":"ev:9","error":"not valid JSON: expected `{` at byte 1"}"#,
        ])
        #expect(all.compactMap(LiveEventPrinter(rules: rules, format: .tsv).render) == [
            "alert\tc1\t0\tmedium\t7\tpolice\tp.account\t",
            "final\tc1\t1\tmedium\t7\tpolice\tp.account\tend",
            "error\tev:9\t\t\t\t\t\tnot valid JSON: expected `{` at byte 1",
        ])
        #expect(all.compactMap(LiveEventPrinter(rules: rules, format: .text).render) == [
            "call c1 alert at turn 0: MEDIUM 7 police [p.account]",
            "call c1 final after 1 turns (end): MEDIUM 7 police [p.account]",
            "error ev:9: not valid JSON: expected `{` at byte 1",
        ])
        #expect(json.render(.notice("closed")) == nil)
    }
}
