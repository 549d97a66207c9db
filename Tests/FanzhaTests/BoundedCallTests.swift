import Foundation
import FanzhaText
import Testing
@testable import Fanzha

/// A live call holds a bounded window of its text (`CallWindow`), and its final verdict keeps
/// what fired on the text it let go.
@Suite struct BoundedCallTests {
    static let rules = """
    levels low 3, medium 6, high 10

    category police {
      title  "冒充公检法"
      advice "请挂断。"
      script "您好，这里是反诈中心。"
    }

    rule t.early {
      title    "安全账户"
      category police
      score    4
      match    caller: "安全账户"
    }

    rule t.pair {
      title "转账与银行卡相隔不远"
      score 2
      match "转账" near(2 turns) "银行卡"
    }

    rule t.late {
      title    "验证码"
      category police
      score    3
      match    "验证码"
    }
    """

    /// 102 turns: 安全账户 at turn 0, 转账/银行卡 at 60/61, 验证码 at 101, filler between.
    static func longCall() -> [Turn] {
        (0..<102).map { i -> Turn in
            let caller = i % 2 == 0
            let text: String
            switch i {
            case 0: text = "请把钱转入安全账户"
            case 60: text = "你先转账"
            case 61: text = "用哪张银行卡"
            case 101: text = "把验证码念给我"
            default: text = caller ? "嗯，你听我说，第\(i)句" : "好的，我在听"
            }
            return Turn(speaker: caller ? "caller" : "callee", side: caller ? .caller : .callee, text: text)
        }
    }

    @Test("a long call holds at most twice its window, and its final keeps what fired on the text it let go")
    func longCallKeepsEarlierHits() throws {
        let rules = try compiledRuleSet(Self.rules)
        var limits = LiveCallScreener.Limits()
        limits.window = 4
        let live = LiveCallScreener(screener: try Screener(rules: rules), limits: limits)
        var finals: [CallFinal] = []
        for (i, t) in Self.longCall().enumerated() {
            finals += live.handle(.turn(call: "c", speaker: t.speaker, text: t.text, time: nil), number: i + 1).compactMap(\.final)
            #expect(live.heldTurns <= 2 * limits.window, "after turn \(i)")
        }
        finals += live.finish().compactMap(\.final)
        let final = try #require(finals.first)
        #expect(finals.count == 1)
        #expect(final.turns == 102)
        #expect(final.verdict.hits.map(\.rule) == ["t.early", "t.pair", "t.late"])
        #expect(final.verdict.score == 9)
        #expect(final.verdict.level == .medium)
        #expect(final.verdict.category == "police")
        #expect(final.verdict.categories.map(\.score) == [7])
        // Evidence in the call's turn numbers, and those turns' text is still there to show.
        let spans = final.verdict.hits.flatMap(\.spans)
        #expect(spans.compactMap(\.turn) == [0, 60, 61, 101])
        for s in spans {
            let text = Array(final.record.turns[s.turn!].text.unicodeScalars)
            #expect(String(String.UnicodeScalarView(text[s.start..<s.end])) == s.text)
        }
        // A turn let go without evidence is an empty stand-in, so numbering stays the call's.
        #expect(final.record.turns[30].text.isEmpty)
        // The same rules, and so level, score and category, as scanning the whole call.
        let whole = try Screener(rules: rules).screen(Record(id: "c", turns: Self.longCall()))
        #expect(whole.hits.map(\.rule) == final.verdict.hits.map(\.rule))
        #expect(whole.hits.flatMap(\.spans) == spans)
        #expect((whole.level, whole.score, whole.category) == (final.verdict.level, final.verdict.score, final.verdict.category))
    }

    @Test("long turns: the text held is bounded by bytes too, always keeping the latest turn")
    func bytesBoundTheWindow() throws {
        let rules = try compiledRuleSet(Self.rules)
        var limits = LiveCallScreener.Limits()
        limits.windowBytes = 1_000
        let live = LiveCallScreener(screener: try Screener(rules: rules), limits: limits)
        let long = String(repeating: "很长的一句话，", count: 40)   // 840 bytes
        for i in 0..<50 {
            _ = live.handle(.turn(call: "c", speaker: i % 2 == 0 ? "caller" : "callee", text: i == 4 ? "安全账户" + long : long, time: nil), number: i + 1)
            #expect(live.heldBytes <= 2 * limits.windowBytes, "after turn \(i)")
            #expect(live.heldTurns >= 1)
        }
        let final = try #require(live.finish().compactMap(\.final).first)
        #expect(final.turns == 50)
        #expect(final.verdict.hits.map(\.rule) == ["t.early"])
        #expect(final.verdict.hits.first?.spans.first?.turn == 4)
    }

    @Test("a call that names a new speaker at every turn lists at most 32 of them, and says so once")
    func unmappedSpeakerNamesAreBounded() throws {
        let live = LiveCallScreener(screener: try Screener(rules: try compiledRuleSet(Self.rules)))
        var notices = 0
        for i in 0..<40 {
            notices += live.handle(.turn(call: "c", speaker: "说话人\(i)", text: "好的", time: nil), number: i + 1)
                .filter { if case .notice = $0 { return true } else { return false } }.count
        }
        let final = try #require(live.finish().compactMap(\.final).first)
        #expect(final.record.unmappedSpeakers == (0..<LiveCallScreener.unmappedNamesKept).map { "说话人\($0)" })
        #expect(notices == 1)
    }

    @Test("a call that stays within the window is judged whole, exactly as scan judges it")
    func withinTheWindowIsWhole() throws {
        let rules = try compiledRuleSet(Self.rules)
        var limits = LiveCallScreener.Limits()
        limits.window = 102   // alerts and the timeline judge the whole call, as scan's replay does
        let live = LiveCallScreener(screener: try Screener(rules: rules), limits: limits)
        for (i, t) in Self.longCall().enumerated() {
            _ = live.handle(.turn(call: "c", speaker: t.speaker, text: t.text, time: nil), number: i + 1)
        }
        let final = try #require(live.finish().compactMap(\.final).first)
        let record = Record(id: "c", turns: Self.longCall())
        let printer = VerdictPrinter(rules: rules, format: .jsonl)
        #expect(printer.json(final.verdict, record: final.record) == printer.json(try Screener(rules: rules).screen(record), record: record))
    }

    @Test("a sliding call keeps each turn it holds with the ScalarBits its text makes (CallScalarBits)")
    func keptScalarBitsAreTheTexts() throws {
        let screener = try Screener(rules: try compiledRuleSet(Self.rules))
        var limits = LiveCallScreener.Limits()
        limits.window = 4
        let w = CallWindow(prepared: screener.prepareLiveCall(id: "c"))
        var made = [UInt64](repeating: 0, count: ScalarBits.words)
        for (i, t) in Self.longCall().enumerated() {
            w.append(t, screener: screener, limits: limits)
            let p = w.prepared
            let kept = try #require(p.regexMemo?.scalarBits.sets(ofTurns: p.firstTurnNumber, p.firstTurnNumber + p.turnCount), "after turn \(i)")
            for k in 0..<p.turnCount {
                made.withUnsafeMutableBufferPointer { m in p.turns[k].text.bytes.withUnsafeBufferPointer { ScalarBits.fill(m.baseAddress!, from: $0) } }
                #expect(Array(UnsafeBufferPointer(start: kept + k * ScalarBits.words, count: ScalarBits.words)) == made, "after turn \(i), held turn \(k)")
            }
        }
        #expect(w.hasSlid)
    }
}

/// A live call matches each turn once per regex (`RegexMemo`): every window of the call, read
/// back from the memo, is judged exactly as the same turns prepared afresh.
@Suite struct RegexMemoTests {
    @Test("memoised windows of every corpus call judge as fresh records, and the memo forgets what the window let go")
    func memoisedWindowsEqualFreshOnes() throws {
        let rules = LiveCallsTests.rules
        let screener = try Screener(rules: rules)
        let fresh = try Screener(rules: rules)
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        var memoised = 0
        for call in try LiveCallsTests.calls() {
            for k in [2, 5] {
                var p = screener.prepareLiveCall(id: call.id)
                for t in call.turns {
                    screener.append(t, to: p)
                    if p.turnCount > 2 * k {
                        // As `CallWindow` slides: keep the last k turns, forget the rest.
                        p = p.lastTurns(k)
                        p.regexMemo?.forget(before: p.firstTurnNumber)
                        #expect((p.regexMemo?.firstTurnHeld ?? p.firstTurnNumber) >= p.firstTurnNumber)
                    }
                    for window in [p, p.lastTurns(min(k, p.turnCount))] {
                        let turns = window.turns.map(\.turn)
                        let record = Record(id: call.id, turns: turns)
                        let expected = printer.json(fresh.evaluate(fresh.prepare(record)), record: record)
                        #expect(printer.json(screener.evaluate(window), record: record) == expected, "call \(call.id), window \(k), turn \(window.firstTurnNumber + window.turnCount - 1)")
                    }
                }
                if (p.regexMemo?.entryCount ?? 0) > 0 { memoised += 1 }
            }
        }
        #expect(memoised > 0, "no call ran a regex: the test tests nothing")
    }
}
