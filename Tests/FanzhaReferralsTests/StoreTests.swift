import Foundation
import GRDB
import Testing
@testable import FanzhaReferrals

// The store: cases from warnings (idempotent, joining, escalation, reopening), deadlines with an
// injected clock, the append-only history, migration from v1, and the report by hand.

@Test func reScreeningNeverDuplicates() throws {
    let dir = try ScratchDirectory()
    let store = try ReferralStore(path: dir.path("cases.db"))
    let w = warning("msg-1", subject: "13800000001", tier: .medium)
    let first = try store.refer(w)
    guard case .opened(let id) = first else { Issue.record("\(first)"); return }
    #expect(try store.refer(w) == .unchanged(id))
    #expect(try store.refer([w, w]) == [.unchanged(id), .unchanged(id)])
    // The same record at a lower tier (rules changed, or a live alert before the final) adds nothing.
    var lower = w
    lower.tier = .low
    #expect(try store.refer(lower) == .unchanged(id))
    let c = try store.case(id)
    #expect(c.evidence.count == 1 && c.history.count == 1 && c.history[0].kind == "opened")
    #expect(try store.list().count == 1)
}

@Test func aNewWarningJoinsTheOpenCaseAndRaisesItsTier() throws {
    let dir = try ScratchDirectory()
    let clock = TestClock()
    let store = try ReferralStore(path: dir.path("cases.db"), clock: clock.clock)
    let id = try store.refer(warning("m1", subject: "13800000001", tier: .medium, rules: ["a.one"])).caseID
    clock.at(minutes: 10)
    #expect(try store.refer(warning("m2", subject: "13800000001", tier: .low, rules: ["b.two"])) == .joined(id))
    #expect(try store.case(id).summary.tier == .medium)
    try store.apply(.claim(assignee: "王"), to: id, actor: "王")
    clock.at(minutes: 12)
    #expect(try store.refer(warning("m3", subject: "13800000001", tier: .high, category: "investment", rules: ["c.three"])) == .escalated(id))
    let c = try store.case(id)
    #expect(c.summary.tier == .high && c.summary.state == .calling && c.summary.category == "investment")
    #expect(c.summary.tierSince == clock.now)   // the high deadlines count from the escalation
    #expect(c.evidence.map(\.recordKey) == ["m1", "m2", "m3"])
    #expect(c.history.map(\.kind) == ["opened", "joined", "claim", "escalated"])
    #expect(c.history.last?.note == "medium → high: test.jsonl:m3")
    // Another person: another case.
    #expect(try store.refer(warning("m4", subject: "13900000002", tier: .medium)).caseID != id)
    #expect(try store.list().count == 2)
}

@Test func aLiveCallEscalatesItsOwnCase() throws {
    let dir = try ScratchDirectory()
    let store = try ReferralStore(path: dir.path("cases.db"))
    // Alerts of one call: the same record key at a rising tier.
    let id = try store.refer(warning("call-7", subject: "13800000001", tier: .medium)).caseID
    #expect(try store.refer(warning("call-7", subject: "13800000001", tier: .high)) == .escalated(id))
    #expect(try store.refer(warning("call-7", subject: "13800000001", tier: .high)) == .unchanged(id))
    // The final verdict of the call, with more turns: the same warning, now covering the whole call.
    var whole = warning("call-7", subject: "13800000001", tier: .high, rules: ["police.safe_account", "police.secrecy"])
    whole.turns.append(WarningTurn(speaker: "客户", text: "好的"))
    #expect(try store.refer(whole) == .extended(id))
    #expect(try store.case(id).evidence.last?.turns.count == 2)
    #expect(try store.report().byRule.map(\.rule).sorted() == ["police.safe_account", "police.secrecy"])
    #expect(try store.refer(warning("call-7", subject: "13800000001", tier: .medium)) == .unchanged(id))
    #expect(try store.case(id).evidence.map(\.tier) == [.medium, .high])
}

@Test func aClosedCaseReopensOnlyOnAHigherWarning() throws {
    let dir = try ScratchDirectory()
    let clock = TestClock()
    let store = try ReferralStore(path: dir.path("cases.db"), clock: clock.clock)
    let id = try store.refer(warning("m1", subject: "S", tier: .medium)).caseID
    try store.apply(.call(reached: true), to: id, actor: "x")
    try store.apply(.close(.dissuaded), to: id, actor: "x")
    #expect(try store.refer(warning("m2", subject: "S", tier: .medium)) == .recordedOnClosed(id))
    #expect(try store.refer(warning("m3", subject: "S", tier: .low)) == .recordedOnClosed(id))
    var c = try store.case(id)
    #expect(c.summary.state == .closed && c.summary.outcome == .dissuaded && c.evidence.count == 3)
    clock.at(minutes: 60)
    #expect(try store.refer(warning("m4", subject: "S", tier: .high)) == .reopened(id))
    c = try store.case(id)
    #expect(c.summary.state == .new && c.summary.tier == .high && c.summary.outcome == nil && c.summary.firstCallAt == nil)
    #expect(c.summary.tierSince == clock.now)
    #expect(c.history.map(\.kind) == ["opened", "call", "close", "joined", "joined", "reopened"])
    #expect(try store.list().count == 1)
    try store.apply(.close(.falseAlarm), to: id, actor: "x")
    clock.at(minutes: 61)
    _ = try store.refer(warning("m5", subject: "S", tier: .high))   // not higher than high: stays closed
    #expect(try store.case(id).summary.state == .closed)
}

@Test func deadlinesWithAnInjectedClock() throws {
    let dir = try ScratchDirectory()
    let clock = TestClock()
    var d = Deadlines()
    d.lowSMS = 3600
    let store = try ReferralStore(path: dir.path("cases.db"), deadlines: d, clock: clock.clock)
    let high = try store.refer(warning("h", subject: "H", tier: .high)).caseID
    let medium = try store.refer(warning("m", subject: "M", tier: .medium)).caseID
    let low = try store.refer(warning("l", subject: "L", tier: .low)).caseID
    func overdue() throws -> [Int64: String] {
        Dictionary(uniqueKeysWithValues: try store.overdue().map { ($0.id, $0.overdue(at: clock.now) ?? "?") })
    }
    clock.at(minutes: 4.9)
    #expect(try overdue().isEmpty)
    clock.at(minutes: 5.1)
    #expect(try overdue() == [high: "call"])
    try store.apply(.call(reached: false), to: high, actor: "x")   // late: the deadline was missed
    #expect(try overdue().isEmpty)
    clock.at(minutes: 30.5)
    #expect(try overdue() == [high: "visit", medium: "call"])
    var f = CaseFilter()
    f.overdueOnly = true
    #expect(try store.list(f).map(\.id) == [high, medium])
    try store.apply(.requestVisit, to: high, actor: "x")
    #expect(try overdue() == [high: "visit", medium: "call"])
    try store.apply(.visitDone, to: high, actor: "x")
    try store.apply(.call(reached: true), to: medium, actor: "x")
    #expect(try overdue().isEmpty)
    clock.at(minutes: 61)
    #expect(try overdue() == [low: "sms"])
    try store.apply(.sms, to: low, actor: "x")
    #expect(try overdue().isEmpty)
    let met = try store.list().map { $0.contactDeadlineMet(at: clock.now) }
    #expect(met == [false, false, false])   // high called at 5.1 min (due 5), medium at 30.5 (due 30), low at 61 (due 60)
    // A store with other deadlines reads the same file with its own.
    var generous = Deadlines()
    generous.highCall = 600; generous.mediumCall = 3600; generous.lowSMS = 86400
    let other = try ReferralStore(path: dir.path("cases.db"), deadlines: generous, clock: clock.clock)
    #expect(try other.list().map { $0.contactDeadlineMet(at: clock.now) } == [true, true, true])
}

@Test func theHistoryIsAppendOnlyAndReplays() throws {
    let dir = try ScratchDirectory()
    let store = try ReferralStore(path: dir.path("cases.db"))
    let id = try store.refer(warning("m1", subject: "S", tier: .high)).caseID
    for step: Step in [.claim(assignee: "张"), .call(reached: false), .note, .requestVisit, .visitDone, .close(.dissuaded), .reopen] {
        try store.apply(step, to: id, actor: "张", note: "第\(step.name)步")
    }
    let c = try store.case(id)
    // Replaying from/to from the first event gives the state the case is in.
    var state: CaseState? = nil
    for e in c.history {
        #expect(e.from == state, "\(e.kind)")
        state = e.to
    }
    #expect(state == c.summary.state && state == .new)
    let db = try DatabaseQueue(path: dir.path("cases.db"))
    #expect(throws: (any Error).self) { try db.write { try $0.execute(sql: "UPDATE case_event SET actor = 'nobody'") } }
    #expect(throws: (any Error).self) { try db.write { try $0.execute(sql: "DELETE FROM case_event") } }
    #expect(try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM case_event") } == c.history.count)
}

@Test func aVersion1DatabaseMigrates() throws {
    let dir = try ScratchDirectory()
    let path = dir.path("old.db")
    // The file as the first version left it: the v1 schema, and rows written in its shape.
    let old = try DatabasePool(path: path)
    try Schema.migrator.migrate(old, upTo: "v1")
    try old.write { db in
        try db.execute(sql: """
            INSERT INTO referral_case (id, subject, tier, state, outcome, category, score, opened_at, tier_since, first_call_at, closed_at, updated_at)
            VALUES (1, '13800000001', 'high', 'closed', 'already_paid', 'police', 12, 100, 100, 200, 300, 300),
                   (2, '+86 138-0000-0002', 'medium', 'new', NULL, 'investment', 7, 400, 400, NULL, NULL, 400);
            INSERT INTO evidence (case_id, record_key, record_id, origin, tier, score, category, is_call, turns, hits, seen_at)
            VALUES (1, 'k1', 'k1', 'a.jsonl:1', 'high', 12, 'police', 0, '[{"speaker":"","text":"安全账户"}]',
                    '[{"rule":"police.safe_account","score":6,"spans":[],"title":"t"},{"rule":"police.arrest","score":4,"spans":[],"title":"t"}]', 100),
                   (2, 'k2', 'k2', 'a.jsonl:2', 'medium', 7, 'investment', 0, '[{"speaker":"","text":"带单"}]',
                    '[{"rule":"investment.mentor","score":7,"spans":[],"title":"t"}]', 400);
            INSERT INTO case_event (case_id, at, actor, kind, from_state, to_state, tier, outcome, note) VALUES
                (1, 100, 'scan', 'opened', NULL, 'new', 'high', NULL, 'a.jsonl:1'),
                (1, 200, '王', 'call', 'new', 'reached', 'high', NULL, NULL),
                (1, 300, '王', 'close', 'reached', 'closed', 'high', 'already_paid', '110止付 单号 B7'),
                (2, 400, 'scan', 'opened', NULL, 'new', 'medium', NULL, 'a.jsonl:2');
            """)
    }
    #expect(try old.read { try Schema.migrator.appliedMigrations($0) } == ["v1"])
    try old.close()

    let store = try ReferralStore(path: path)
    #expect(try store.appliedMigrations() == ["v1", "v2", "v3"])
    // v3: the subject written as it came is keyed as a new warning's would be.
    #expect(try store.case(2).summary.subject == "13800000002")
    let paid = try store.case(1)
    #expect(paid.summary.stopPayment == "110止付 单号 B7" && paid.summary.outcome == .alreadyPaid)
    #expect(paid.evidence.first?.hits.map(\.rule) == ["police.safe_account", "police.arrest"])
    #expect(paid.history.count == 3)
    let report = try store.report()
    #expect(report.byRule.map(\.rule).sorted() == ["investment.mentor", "police.arrest", "police.safe_account"])
    // And it works on: a new warning for the open case's person joins it.
    #expect(try store.refer(warning("k3", subject: "13800000002", tier: .high)) == .escalated(2))
    #expect(try store.refer(warning("k4", subject: "13800000003", tier: .low)) == .opened(3))
}

@Test func phoneNumbersKeyOnePersonHoweverWritten() {
    for written in ["+86 138-0013-8000", "8613800138000", "138 0013 8000", "13800138000", "0086 13800138000",
                    "(+86) 138.0013.8000", "＋８６ １３８００１３８０００", " 138-0013-8000 "] {
        #expect(SubjectKey.key(written) == "13800138000", "\(written)")
    }
    // Landlines get their trunk 0 back; another country keeps its code.
    #expect(SubjectKey.key("+86 10 8888 7777") == "01088887777")
    #expect(SubjectKey.key("010-8888-7777") == "01088887777")
    #expect(SubjectKey.key("+852 9123 4567") == "+85291234567")
    #expect(SubjectKey.key("00852 9123 4567") == "+85291234567")
    // Other identifiers are kept as written (trimmed): accounts, ids, names, links, short codes.
    for kept in ["wxid_ab12 cd", "张三", "6222 0200 1234 5678 901", "https://x.example/a b", "1234", "record:a.txt:3", "138 0013 8000 转 2"] {
        #expect(SubjectKey.key(kept) == kept, "\(kept)")
    }
    #expect(SubjectKey.key(" 95566 ") == "95566")
    #expect(SubjectKey.key("   ") == "")
}

@Test func oneNumberWrittenThreeWaysIsOneCase() throws {
    let dir = try ScratchDirectory()
    let store = try ReferralStore(path: dir.path("cases.db"))
    let id = try store.refer(warning("w1", subject: "+86 138-0013-8000", tier: .medium)).caseID
    #expect(try store.refer(warning("w2", subject: "8613800138000", tier: .medium)) == .joined(id))
    #expect(try store.refer(warning("w3", subject: "138 0013 8000", tier: .high)) == .escalated(id))
    #expect(try store.case(id).summary.subject == "13800138000")
    // A blank subject is the record's own case; the filter keys its value as the store does.
    #expect(try store.refer(warning("w4", subject: "  ", tier: .medium)).caseID != id)
    var f = CaseFilter()
    f.subject = "+86 13800138000"
    #expect(try store.list(f).map(\.id) == [id])
}

@Test func reportFiguresByHand() throws {
    let dir = try ScratchDirectory()
    let clock = TestClock()
    let store = try ReferralStore(path: dir.path("cases.db"), clock: clock.clock)
    func open(_ key: String, _ tier: Tier, _ category: String?, _ rules: [String]) throws -> Int64 {
        try store.refer(warning(key, subject: "subject-\(key)", tier: tier, category: category, rules: rules)).caseID as Int64
    }
    let a = try open("A", .high, "police", ["r.a", "r.b"])
    let b = try open("B", .high, "police", ["r.a"])
    let c = try open("C", .medium, "investment", ["r.c"])
    _ = try open("D", .medium, "investment", ["r.a", "r.c"])
    let e = try open("E", .low, nil, ["r.d"])
    let f = try open("F", .low, "investment", ["r.c"])
    func step(_ minutes: Double, _ id: Int64, _ s: Step) throws {
        clock.at(minutes: minutes)
        try store.apply(s, to: id, actor: "officer")
    }
    try step(1, a, .claim(assignee: "王"))
    try step(2, f, .close(.falseAlarm))                 // closed before its deadline, never contacted: not counted
    try step(3, a, .call(reached: true))                // 3 min, met (5)
    try step(8, b, .call(reached: false))               // 8 min, missed
    try step(9, b, .requestVisit)
    try step(20, c, .call(reached: true))               // 20 min, met (30)
    try step(25, b, .visitDone)
    try step(26, b, .close(.alreadyPaid, stopPayment: "110止付 单号 9"))
    try step(30, e, .sms)                                // 30 min, met (24 h)
    try step(31, a, .close(.dissuaded))
    try step(31, c, .close(.falseAlarm))
    try step(31, e, .close(.dissuaded))
    clock.at(minutes: 60)                                // D: never called, 30 min passed: missed
    let r = try store.report()
    typealias Row = ReferralReport.Row
    func row(_ g: String, cases: Int, open: Int = 0, median: Double?, decided: Int, met: Int,
             dissuaded: Int = 0, paid: Int = 0, falseAlarms: Int = 0) -> Row {
        var x = Row(group: g)
        x.cases = cases; x.open = open; x.medianMinutesToContact = median; x.deadlinesDecided = decided; x.deadlinesMet = met
        x.dissuaded = dissuaded; x.alreadyPaid = paid; x.falseAlarms = falseAlarms
        return x
    }
    #expect(r.total == row("all", cases: 6, open: 1, median: 14, decided: 5, met: 3, dissuaded: 2, paid: 1, falseAlarms: 2))
    #expect(r.byTier == [
        row("high", cases: 2, median: 5.5, decided: 2, met: 1, dissuaded: 1, paid: 1),
        row("medium", cases: 2, open: 1, median: 20, decided: 2, met: 1, falseAlarms: 1),
        row("low", cases: 2, median: 30, decided: 1, met: 1, dissuaded: 1, falseAlarms: 1),
    ])
    #expect(r.byCategory == [
        row("-", cases: 1, median: 30, decided: 1, met: 1, dissuaded: 1),
        row("investment", cases: 3, open: 1, median: 20, decided: 2, met: 1, falseAlarms: 2),
        row("police", cases: 2, median: 5.5, decided: 2, met: 1, dissuaded: 1, paid: 1),
    ])
    #expect(r.byRule == [
        ReferralReport.RuleRow(rule: "r.c", cases: 3, closed: 2, falseAlarms: 2),
        ReferralReport.RuleRow(rule: "r.a", cases: 3, closed: 2, falseAlarms: 0),
        ReferralReport.RuleRow(rule: "r.b", cases: 1, closed: 1, falseAlarms: 0),
        ReferralReport.RuleRow(rule: "r.d", cases: 1, closed: 1, falseAlarms: 0),
    ])
    #expect(r.total.deadlinesMetShare == 0.6)
}

/// The outcomes and edges the first fixture has not: a contact exactly at its deadline (met), a
/// deadline counted from an escalation, not reachable and duplicate, an open case past its deadline.
@Test func reportFiguresByHandAtTheEdges() throws {
    let dir = try ScratchDirectory()
    let clock = TestClock()
    let store = try ReferralStore(path: dir.path("cases.db"), clock: clock.clock)
    let h = try store.refer(warning("H1", subject: "p-h", tier: .medium, rules: ["r.x"])).caseID
    let i = try store.refer(warning("I1", subject: "p-i", tier: .high, rules: ["r.x", "r.y"])).caseID
    let j = try store.refer(warning("J1", subject: "p-j", tier: .medium, category: nil, rules: ["r.z"])).caseID
    func step(_ minutes: Double, _ id: Int64, _ s: Step) throws {
        clock.at(minutes: minutes)
        try store.apply(s, to: id, actor: "officer")
    }
    clock.at(minutes: 10)
    #expect(try store.refer(warning("H2", subject: "p-h", tier: .high, rules: ["r.x"])) == .escalated(h))  // high from 10
    try step(1, i, .claim(assignee: "李"))
    try step(6, i, .call(reached: false))                // I: 6 min, missed (5)
    try step(7, i, .requestVisit)
    try step(15, h, .call(reached: true))                // H: 5 min after its escalation: exactly the deadline, met
    try step(16, h, .close(.duplicate))
    try step(40, i, .visitDone)
    try step(41, i, .close(.notReachable))
    clock.at(minutes: 60)                                // J: open, never called, 60 > 30: missed
    let r = try store.report()
    func row(_ g: String, cases: Int, open: Int, median: Double?, decided: Int, met: Int, notReachable: Int, duplicates: Int) -> ReferralReport.Row {
        var x = ReferralReport.Row(group: g)
        x.cases = cases; x.open = open; x.medianMinutesToContact = median; x.deadlinesDecided = decided; x.deadlinesMet = met
        x.notReachable = notReachable; x.duplicates = duplicates
        return x
    }
    // Minutes to contact: H 5, I 6 → median 5.5; J none.
    #expect(r.total == row("all", cases: 3, open: 1, median: 5.5, decided: 3, met: 1, notReachable: 1, duplicates: 1))
    #expect(r.byTier == [row("high", cases: 2, open: 0, median: 5.5, decided: 2, met: 1, notReachable: 1, duplicates: 1),
                         row("medium", cases: 1, open: 1, median: nil, decided: 1, met: 0, notReachable: 0, duplicates: 0)])
    #expect(r.byCategory == [row("-", cases: 1, open: 1, median: nil, decided: 1, met: 0, notReachable: 0, duplicates: 0),
                             row("police", cases: 2, open: 0, median: 5.5, decided: 2, met: 1, notReachable: 1, duplicates: 1)])
    #expect(r.byRule == [ReferralReport.RuleRow(rule: "r.x", cases: 2, closed: 2, falseAlarms: 0),
                         ReferralReport.RuleRow(rule: "r.y", cases: 1, closed: 1, falseAlarms: 0),
                         ReferralReport.RuleRow(rule: "r.z", cases: 1, closed: 0, falseAlarms: 0)])
    // Before J's deadline its first contact is not decided yet.
    #expect(try store.report(now: clock.start.addingTimeInterval(20 * 60)).byTier.last?.deadlinesDecided == 0)
    _ = j
}

@Test func timesAreISO8601InUTC() {
    #expect(ReferralText.time(Date(timeIntervalSince1970: 1_800_000_000)) == "2027-01-15T08:00:00Z")
    #expect(ReferralText.time(Date(timeIntervalSince1970: 1_800_000_009.9)) == "2027-01-15T08:00:09Z")
    #expect(ReferralText.time(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    #expect(ReferralText.time(nil) == "-")
}
