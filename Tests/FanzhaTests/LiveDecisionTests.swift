import Foundation
import Testing
@testable import Fanzha

/// A live call's decision is made from its last one, evaluating only the rules the new turn can
/// change (Calls/LiveDecision.swift), and its verdict only the rules that decision fired: both
/// must be exactly what a fresh evaluation of the same turns gives.
@Suite struct LiveDecisionTests {
    /// Every corpus call turn by turn, with the bundled model and without it, deciding at every
    /// turn or (with `skip`) leaving turns undecided, which sends the next decision the whole way.
    @Test("a live call decided from its last decision decides and judges as a fresh record", arguments: [false, true])
    func incrementalDecisionsEqualFreshOnes(withModel: Bool) throws {
        let rules = LiveCallsTests.rules
        let model = withModel ? try bundledModel() : nil
        let live = try Screener(rules: rules, model: model)
        let fresh = try Screener(rules: rules, model: model)
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        var rng = SystemRandomNumberGenerator()
        var fromLast = 0, decisions = 0
        for call in try LiveCallsTests.calls() {
            for skip in [false, true] {
                let p = live.prepareLiveCall(id: call.id)
                for (k, turn) in call.turns.enumerated() {
                    live.append(turn, to: p)
                    if skip && Int.random(in: 0..<3, using: &rng) == 0 { continue }
                    let covered = p.regexMemo?.decision.map { $0.hi <= k } ?? false
                    let record = Record(id: call.id, turns: Array(call.turns.prefix(k + 1)))
                    decisions += 1
                    if covered { fromLast += 1 }
                    expectDecidedAsFresh(p, record, live: live, fresh: fresh, printer: printer, "call \(call.id), turn \(k)")
                }
            }
        }
        // Most decisions must come from the last one, or the test tests the fallback only.
        #expect(fromLast * 2 > decisions, "\(fromLast) of \(decisions) decisions made from the last one")
    }

    /// A decision from the last one keeps its frames when the new turn changes no frame rule's
    /// input, and finds them again when it does (`framesAsBefore`): the decision and the verdict
    /// that read them must be a fresh record's at every turn. Turns with frames of several
    /// kinds, one new kind or none at a time (the corpus calls have few frames).
    @Test func framesKeptOrFoundAgainTurnByTurn() throws {
        let rules = LiveCallsTests.rules
        let live = try Screener(rules: rules, model: nil)
        let fresh = try Screener(rules: rules, model: nil)
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        let texts = ["警方提醒：凡是自称公检法要求转账到安全账户的，都是诈骗", "对方称“你的包裹丢了，可以双倍理赔”，随后发来一个链接",
                     "典型案例：冒充电商客服以退款为由实施诈骗", "您好，请先添加客服微信，把验证码发给我", "只要提到安全账户的电话，一律挂断"]
        let turns = texts.enumerated().map { k, text in
            Turn(speaker: k % 2 == 0 ? "caller" : "callee", side: k % 2 == 0 ? .caller : .callee, text: text)
        }
        let p = live.prepareLiveCall(id: "frames")
        var kinds = Set<UInt8>()
        for k in turns.indices {
            live.append(turns[k], to: p)
            let record = Record(id: "frames", turns: Array(turns.prefix(k + 1)))
            expectDecidedAsFresh(p, record, live: live, fresh: fresh, printer: printer, "turn \(k)")
            for f in p.regexMemo?.decision?.frames ?? [] { kinds.insert(f.kind) }
        }
        #expect(kinds.count >= 2, "frames of \(kinds.count) kinds")
    }

    /// A rule is evaluated again when the new turn holds a word it reads (its own or a rule's it
    /// refers to) or matches a regex of it that needs no word (`LiveIndex.markAtom`, `changed`):
    /// with words and matches coming in every order, each decision is a fresh record's.
    @Test func rulesChangeWithTheirWordsAndWordlessRegexes() throws {
        let rules = try compiledRuleSet(
            "private rule account {\n  title \"账户\"\n  match any(\"安全账户\", \"公检法\")\n}\n\n"
            + ruleText("code", match: #"account and /\d{6}/"#, extra: "  score 6\n")
            + ruleText("digits", match: #"/\d{4}/ and "验证码""#, extra: "  score 3\n")
            + ruleText("both", match: #"/\d{6}/ and /[A-Z]{3}/"#, extra: "  score 2\n"))
        let texts = ["你好", "号码是1234", "请转到安全账户", "好的", "验证码是123456", "ABC", "公检法通知", "收到验证码了", "再见"]
        let live = try Screener(rules: rules, model: nil)
        let fresh = try Screener(rules: rules, model: nil)
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        for order in [texts, texts.reversed(), texts.shuffled(), texts.shuffled()] {
            let turns = order.enumerated().map { k, text in Turn(speaker: "caller", side: k % 2 == 0 ? .caller : .callee, text: text) }
            let p = live.prepareLiveCall(id: "c")
            for k in turns.indices {
                live.append(turns[k], to: p)
                let record = Record(id: "c", turns: Array(turns.prefix(k + 1)))
                expectDecidedAsFresh(p, record, live: live, fresh: fresh, printer: printer, "\(order), turn \(k)")
            }
        }
    }
}

/// The live call `p`, its turns so far being `record`'s, decides as a fresh evaluation of `record`
/// does (level and money request), and its verdict, which evaluates only the rules that decision
/// fired, prints as the fresh one's: both the alert's, taken from the decision's own evaluation
/// (`decideLive(_:alertAbove:)`, above no risk), and one evaluated afterwards.
func expectDecidedAsFresh(_ p: Screener.Prepared, _ record: Record, live: Screener, fresh: Screener, printer: VerdictPrinter,
                          _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = fresh.decide(fresh.prepare(record))
    let expectedVerdict = printer.json(fresh.evaluate(fresh.prepare(record)), record: record)
    let (got, alert) = live.decideLive(p, alertAbove: .none)
    #expect(got.level == expected.level && got.moneyRequest == expected.moneyRequest,
            "\(label): \(got.level) \(got.moneyRequest), fresh \(expected.level) \(expected.moneyRequest)", sourceLocation: sourceLocation)
    #expect((alert != nil) == (got.level > .none), "\(label): an alert's verdict with the decision", sourceLocation: sourceLocation)
    if let alert { #expect(printer.json(alert, record: record) == expectedVerdict, "\(label): the alert's verdict", sourceLocation: sourceLocation) }
    #expect(printer.json(live.evaluate(p), record: record) == expectedVerdict, "\(label)", sourceLocation: sourceLocation)
}

/// A live call at the top level decides the money-request rules alone, from its last such
/// decision or its last whole one (Calls/LiveDecision.swift, `decideMoneyRequestLive`): whether
/// one fires must be what a fresh record's decision of them says.
@Suite struct LiveMoneyRequestDecisionTests {
    @Test("the money-request rules decided from the last decision decide as on a fresh record", arguments: [false, true])
    func moneyRequestDecisionsEqualFreshOnes(withModel: Bool) throws {
        let rules = LiveCallsTests.rules
        let model = withModel ? try bundledModel() : nil
        let live = try Screener(rules: rules, model: model)
        let fresh = try Screener(rules: rules, model: model)
        var fromLast = 0, decisions = 0, fired = 0
        for call in try LiveCallsTests.calls() {
            let p = live.prepareLiveCall(id: call.id)
            // Whole decisions on the first turns, then the money-request rules alone, as a call
            // that reached the top level is decided.
            let whole = max(1, call.turns.count / 3)
            for (k, turn) in call.turns.enumerated() {
                live.append(turn, to: p)
                if k < whole { _ = live.decide(p); continue }
                let memo = try #require(p.regexMemo)
                if (memo.money.map { $0.hi <= k } ?? false) || (memo.decision.map { $0.hi <= k } ?? false) { fromLast += 1 }
                let record = Record(id: call.id, turns: Array(call.turns.prefix(k + 1)))
                let expected = fresh.decide(fresh.prepare(record), moneyRequestOnly: true).moneyRequest
                let got = live.decide(p, moneyRequestOnly: true).moneyRequest
                decisions += 1
                if got { fired += 1 }
                #expect(got == expected, "call \(call.id), turn \(k): \(got), fresh \(expected)")
            }
        }
        #expect(fromLast * 2 > decisions, "\(fromLast) of \(decisions) decisions made from the last one")
        #expect(fired > 10, "\(fired) decisions found a money request")
    }
}

/// A live call's n-gram counts (Calls/LiveModel.swift): summed in the order first seen they give
/// the model's margin bit for bit as counting the turns afresh does, and the running sums stay
/// within the error bound that lets them decide a comparison.
@Suite struct LiveModelTests {
    @Test func keptCountsGiveTheFreshMarginExactly() throws {
        let model = try bundledModel()
        let screener = try Screener(rules: LiveCallsTests.rules, model: model)
        var compared = 0
        for call in try LiveCallsTests.calls() {
            let p = screener.prepare(call)
            let counts = Screener.CallNGrams(from: 0)
            for k in 0..<p.turnCount {
                counts.add(p.turns[k].text, model: model, logs: screener.modelScratch.oneMoreThanLog)
                var e = Screener.Evaluation(screener: screener, prepared: p, turnLimit: k + 1)
                let fresh = e.modelMargin(model, scope: [])
                e.release()
                #expect(counts.exactMargin(model).bitPattern == fresh.bitPattern, "call \(call.id), turn \(k)")
                let (approximate, error) = counts.approximateMargin(model)
                #expect(abs(approximate - fresh) <= error, "call \(call.id), turn \(k): \(approximate) vs \(fresh), bound \(error)")
                compared += 1
            }
        }
        #expect(compared > 100)
    }

    /// A model hit's evidence on a live call, from the call's kept counts (`liveModelEvidence`):
    /// the same n-grams in the same places, both ways, as counting the turns afresh picks.
    @Test func keptCountsPickTheFreshEvidence() throws {
        let model = try bundledModel()
        let live = try Screener(rules: LiveCallsTests.rules, model: model)
        let fresh = try Screener(rules: LiveCallsTests.rules, model: model)
        func places(_ o: Screener.Occurrences, _ e: Screener.Evaluation) -> [[Int32]] {
            (Int(o.start)..<Int(o.start + o.count)).map { [e.ws.occ[$0].turn, e.ws.occ[$0].start, e.ws.occ[$0].end] }
        }
        var compared = 0, shown = 0
        for call in try LiveCallsTests.calls() {
            let p = live.prepareLiveCall(id: call.id)
            for (k, turn) in call.turns.enumerated() {
                live.append(turn, to: p)
                let q = fresh.prepare(Record(id: call.id, turns: Array(call.turns.prefix(k + 1))))
                for up in [true, false] {
                    var e = Screener.Evaluation(screener: live, prepared: p, turnLimit: k + 1)
                    let evidence = e.liveModelEvidence(model, scope: [], up: up)
                    let kept = try #require(evidence, "call \(call.id), turn \(k)")
                    let got = places(kept, e)
                    e.release()
                    var f = Screener.Evaluation(screener: fresh, prepared: q, turnLimit: k + 1)
                    let expected = places(f.modelEvidence(model, scope: [], up: up), f)
                    f.release()
                    #expect(got == expected, "call \(call.id), turn \(k), up \(up)")
                    compared += 1
                    if got.count == Screener.Evaluation.modelEvidenceNGrams { shown += 1 }
                }
            }
        }
        #expect(compared > 100)
        #expect(shown * 2 > compared, "\(shown) of \(compared) showed every n-gram they may")
    }
}

/// The model's margin outside the frames hidden from a rule, from a live call's counts less the
/// n-grams in those frames (Calls/LiveModel.swift, `liveApproximateMargin`): within its error
/// bound of the margin a fresh count outside the frames gives, on every corpus call turn by turn.
@Suite struct LiveModelOutsideFramesTests {
    /// Every corpus call, turn by turn: the call's n-gram counts up to turn `k` and an evaluation
    /// of the call up to it with its candidates and frames found (released after `body`).
    static func eachTurnWithFrames(
        _ body: (inout Screener.Evaluation, Screener.CallNGrams, TextModel, _ call: String, _ k: Int) throws -> Void
    ) throws {
        let model = try bundledModel()
        let screener = try Screener(rules: LiveCallsTests.rules, model: model)
        for call in try LiveCallsTests.calls() {
            let p = screener.prepare(call)
            let counts = Screener.CallNGrams(from: 0)
            for k in 0..<p.turnCount {
                counts.add(p.turns[k].text, model: model, logs: screener.modelScratch.oneMoreThanLog)
                var e = Screener.Evaluation(screener: screener, prepared: p, turnLimit: k + 1)
                e.collectCandidates()
                e.findFrames()
                try body(&e, counts, model, call.id, k)
                e.release()
            }
        }
    }

    @Test func countsLessTheFramedNGramsBoundTheFreshMargin() throws {
        var compared = 0, hiding = 0
        try Self.eachTurnWithFrames { e, counts, model, call, k in
            // Every kind of frame hidden (a positive rule's usual blindness), then warnings only.
            for blind in [UInt8(0xFF), FrameKinds.warning.rawValue] {
                e.blindness = blind
                let fresh = e.modelMargin(model, scope: [])
                let (approximate, error, hidden) = e.liveApproximateMargin(counts, model)
                #expect(abs(approximate - fresh) <= error, "call \(call), turn \(k): \(approximate) vs \(fresh), bound \(error)")
                if hidden == 0 { #expect(counts.exactMargin(model).bitPattern == fresh.bitPattern, "call \(call), turn \(k)") }
                if hidden > 0 && error.isFinite { hiding += 1 }
                compared += 1
            }
        }
        #expect(compared > 100)
        // Frames hid n-grams often enough that the subtraction itself is tested.
        #expect(hiding > 20, "\(hiding) of \(compared) margins had n-grams hidden")
    }

    /// The next turn's margin with the same frames hidden reuses the n-grams they hid
    /// (`lastHidden`): the same margin and bound, to the bit, as finding them again.
    @Test func theSameFramesOnMoreTurnsHideWhatTheyHid() throws {
        var reused = 0
        try Self.eachTurnWithFrames { e, counts, model, call, k in
            e.blindness = 0xFF
            let blind = e.modelBlindness
            let hiddenFrames = e.ws.frames.filter { $0.kind & blind != 0 }
            if let h = counts.lastHidden, h.hi < counts.hi, h.frames == hiddenFrames, !hiddenFrames.isEmpty { reused += 1 }
            let kept = e.liveApproximateMargin(counts, model)
            counts.lastHidden = nil
            let afresh = e.liveApproximateMargin(counts, model)
            #expect(kept.margin.bitPattern == afresh.margin.bitPattern && kept.error.bitPattern == afresh.error.bitPattern
                    && kept.hidden == afresh.hidden, "call \(call), turn \(k)")
        }
        #expect(reused > 20, "\(reused) margins reused the last turn's hidden n-grams")
    }
}

/// A live call's word hits stay placed under their atoms from event to event
/// (Calls/LiveWordHits.swift): every evaluation of the call — its whole stretch turn by turn, a
/// shorter stretch than the hits kept, a window of its last turns — judges as a fresh record.
@Suite struct LiveWordHitsTests {
    @Test func keptPlacementJudgesAsAFreshRecord() throws {
        let rules = LiveCallsTests.rules
        let live = try Screener(rules: rules, usePrefilter: true)
        let fresh = try Screener(rules: rules, usePrefilter: true)
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        var kept = 0
        for call in try LiveCallsTests.calls() {
            let p = live.prepareLiveCall(id: call.id)
            for (k, turn) in call.turns.enumerated() {
                live.append(turn, to: p)
                let record = Record(id: call.id, turns: Array(call.turns.prefix(k + 1)))
                #expect(printer.json(live.evaluate(p), record: record) == printer.json(fresh.evaluate(fresh.prepare(record)), record: record),
                        "call \(call.id), turn \(k)")
                if p.regexMemo?.wordHits?.hi == k + 1 { kept += 1 }
            }
            // Fewer turns than the call keeps placed: placed afresh, as a record.
            let first = Record(id: call.id, turns: Array(call.turns.prefix(2)))
            #expect(printer.json(live.evaluate(p, turnLimit: 2), record: first) == printer.json(fresh.evaluate(fresh.prepare(first)), record: first),
                    "call \(call.id), its first two turns")
            // A window of its last turns, as a call longer than the window is judged.
            let window = p.lastTurns(3), last = Record(id: call.id, turns: Array(call.turns.suffix(3)))
            #expect(printer.json(live.evaluate(window), record: last) == printer.json(fresh.evaluate(fresh.prepare(last)), record: last),
                    "call \(call.id), its last three turns")
        }
        // The kept placement, not the fallback, made the turn-by-turn verdicts.
        #expect(kept > 500, "\(kept) verdicts from the kept placement")
    }
}

/// A live call matches a regex only on turns whose own words its requirement needs
/// (Calls/LiveTurnClauses.swift): words spread over several turns let it run on none of them.
@Suite struct LiveTurnClausesTests {
    @Test func aRegexRunsOnlyOnTurnsHoldingEveryWordItNeeds() throws {
        let rules = try compiledRuleSet(ruleText("transfer", match: "/安全账户.{0,6}转账/"))
        let screener = try Screener(rules: rules, usePrefilter: true)
        let a = try #require(rules.atoms.firstIndex { $0.kind == .regex })
        let turns = ["请把钱转到安全账户，马上转账", "好的我知道了", "安全账户在哪里", "现在就转账", "安全账户里的钱不用转账"]
        let p = screener.prepareLiveCall(id: "c")
        for (k, text) in turns.enumerated() { screener.append(Turn(speaker: "caller", side: k % 2 == 0 ? .caller : .callee, text: text), to: p) }
        let listed = Screener.CallTurnClauses(from: 0)
        let program = UnsafePointer(screener.matcher.programPointer)
        let may = turns.indices.map { listed.mayMatch(atom: a, inTurn: $0, of: p, program) }
        // Both words in the turn; neither; one of the two; the other; both again.
        #expect(may == [true, false, false, false, true])
        // Judged turn by turn as it grows, the call gives a fresh record's verdicts.
        let fresh = try Screener(rules: rules, usePrefilter: true)
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        let live = screener.prepareLiveCall(id: "c")
        var fired = 0
        for k in turns.indices {
            screener.append(p.turns[k].turn, to: live)
            let record = Record(id: "c", turns: Array(p.turns.prefix(k + 1).map(\.turn)))
            let v = screener.evaluate(live)
            #expect(printer.json(v, record: record) == printer.json(fresh.evaluate(fresh.prepare(record)), record: record), "turn \(k)")
            fired += v.hits.count
        }
        #expect(fired == turns.count)
    }

    /// The turns' clauses as bits answer as the clauses the turn's words satisfy, counted from
    /// the program's word lists: every regex of the bundled rules that needs a word, on every
    /// turn of every corpus call, asked last turn first (all marked at once), then turn by turn
    /// from a window of the call's last three turns, and after starting again there.
    @Test func aTurnsClausesAnswerAsItsWordsSay() throws {
        let rules = LiveCallsTests.rules
        let screener = try Screener(rules: rules, usePrefilter: true)
        let program = UnsafePointer(screener.matcher.programPointer)
        let regexes = rules.atoms.indices.filter { program.pointee.atomClauseCount[$0] > 0 }
        #expect(regexes.count > 20)
        var yes = 0, no = 0
        for call in try LiveCallsTests.calls() {
            let p = screener.prepareLiveCall(id: call.id)
            for turn in call.turns { screener.append(turn, to: p) }
            // What turn t's words satisfy, from the word lists.
            func naive(_ a: Int, _ t: Int) -> Bool {
                var held = Set<Int32>()
                for h in p.turns[t].wordHits {
                    let w = Int(h.0)
                    for k in Int(program.pointee.clausesByWordStart[w])..<Int(program.pointee.clausesByWordStart[w + 1]) {
                        held.insert(program.pointee.clausesByWord[k])
                    }
                }
                let first = program.pointee.atomClauseFirst[a]
                return (first..<(first + program.pointee.atomClauseCount[a])).allSatisfy(held.contains)
            }
            let listed = Screener.CallTurnClauses(from: 0)
            for t in p.turns.indices.reversed() {
                for a in regexes {
                    let may = listed.mayMatch(atom: a, inTurn: t, of: p, program)
                    #expect(may == naive(a, t), "call \(call.id), turn \(t), atom \(a)")
                    if may { yes += 1 } else { no += 1 }
                }
            }
            let window = p.lastTurns(3), base = window.firstTurnNumber
            for _ in 0..<2 {
                for t in base..<(base + window.turnCount) {
                    for a in regexes { #expect(listed.mayMatch(atom: a, inTurn: t, of: window, program) == naive(a, t), "call \(call.id), window turn \(t)") }
                }
                listed.restart(from: base)
            }
        }
        // Both answers were given, many times.
        #expect(yes > 100 && no > 100, "\(yes) yes, \(no) no")
    }
}
