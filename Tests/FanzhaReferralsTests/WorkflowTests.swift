import Foundation
import Testing
@testable import FanzhaReferrals

// The state machine: every (state, tier, step) against a table written out by hand, and the
// same through the store (typed errors naming the case, its state and what is allowed).

private let allSteps: [Step] = [
    .claim(assignee: "王警官"), .sms, .call(reached: true), .call(reached: false), .requestVisit, .visitDone, .note, .reopen,
] + Outcome.allCases.map { .close($0, stopPayment: "110止付 单号 A1") }

/// The legal transitions, written out: (state, tiers, step name) → next state. Anything not
/// here is illegal.
private let legal: [(CaseState, [Tier], String, CaseState)] = {
    let all = Tier.allCases
    var t: [(CaseState, [Tier], String, CaseState)] = []
    for s in CaseState.allCases where s != .closed {
        t.append((s, all, "note", s))
        t.append((s, all, "claim", s == .new ? .calling : s))   // low overridden below
        t.append((s, all, "close --outcome false_alarm", .closed))
        t.append((s, all, "close --outcome duplicate", .closed))
    }
    t.removeAll { $0.0 == .new && $0.2 == "claim" }
    t.append((.new, [.low], "claim", .new))
    t.append((.new, [.medium, .high], "claim", .calling))
    t.append((.closed, all, "note", .closed))
    t.append((.closed, all, "reopen", .new))
    t.append((.new, [.low], "sms", .smsSent))
    for s in [CaseState.new, .calling, .unreached] {
        t.append((s, all, "call --result reached", .reached))
        t.append((s, all, "call --result unreached", .unreached))
    }
    t.append((.smsSent, [.medium, .high], "call --result reached", .reached))
    t.append((.smsSent, [.medium, .high], "call --result unreached", .unreached))
    t.append((.smsSent, all, "close --outcome dissuaded", .closed))
    t.append((.smsSent, all, "close --outcome not_reachable", .closed))
    t.append((.reached, all, "visit", .visitRequested))
    t.append((.unreached, all, "visit", .visitRequested))
    t.append((.visitRequested, all, "visit --done", .visited))
    for s in [CaseState.reached, .visited] {
        t.append((s, all, "close --outcome dissuaded", .closed))
        t.append((s, all, "close --outcome already_paid", .closed))
    }
    t.append((.visited, all, "close --outcome not_reachable", .closed))
    t.append((.visitRequested, all, "close --outcome not_reachable", .closed))
    // A high case that could not be reached is visited before it may be given up.
    t.append((.unreached, [.low, .medium], "close --outcome not_reachable", .closed))
    return t
}()

private func expected(_ s: CaseState, _ tier: Tier, _ step: Step) -> CaseState? {
    legal.first { $0.0 == s && $0.1.contains(tier) && $0.2 == step.name }?.3
}

@Test func everyTransitionMatchesTheTable() {
    var checked = 0, allowed = 0
    for s in CaseState.allCases {
        for tier in Tier.allCases {
            for step in allSteps {
                let got = Workflow.next(s, tier: tier, step: step)
                #expect(got == expected(s, tier, step), "\(s.rawValue) \(tier.rawValue) \(step.name)")
                checked += 1
                if got != nil { allowed += 1 }
            }
        }
    }
    #expect(checked == CaseState.allCases.count * 3 * allSteps.count)
    #expect(allowed == legal.reduce(0) { $0 + $1.1.count })
}

@Test func alreadyPaidNeedsTheStopPaymentStep() {
    #expect(Workflow.next(.reached, tier: .high, step: .close(.alreadyPaid, stopPayment: nil)) == nil)
    #expect(Workflow.next(.reached, tier: .high, step: .close(.alreadyPaid, stopPayment: "")) == nil)
    #expect(Workflow.next(.reached, tier: .high, step: .close(.alreadyPaid, stopPayment: "110-7")) == .closed)
}

/// Drives a case to `state` through the store by a legal path.
private func drive(_ store: ReferralStore, _ id: Int64, to state: CaseState, tier: Tier) throws {
    let path: [Step]
    switch state {
    case .new: path = []
    case .calling: path = [.claim(assignee: "李")]
    case .smsSent: path = [.sms]
    case .reached: path = [.call(reached: true)]
    case .unreached: path = [.call(reached: false)]
    case .visitRequested: path = [.call(reached: false), .requestVisit]
    case .visited: path = [.call(reached: false), .requestVisit, .visitDone]
    case .closed: path = [.close(.falseAlarm)]
    }
    for step in path { try store.apply(step, to: id, actor: "test") }
}

@Test func everyTransitionThroughTheStore() throws {
    let dir = try ScratchDirectory()
    let clock = TestClock()
    let store = try ReferralStore(path: dir.path("cases.db"), clock: clock.clock)
    var n = 0
    for s in CaseState.allCases {
        for tier in Tier.allCases {
            if s == .calling && tier == .low { continue }      // a low case is never calling
            if s == .smsSent && tier != .low { continue }      // only a low case gets the SMS
            for step in allSteps {
                n += 1
                let id = try store.refer(warning("r\(n)", subject: "1380000\(n)", tier: tier)).caseID
                try drive(store, id, to: s, tier: tier)
                #expect(try store.case(id).summary.state == s)
                if let next = expected(s, tier, step) {
                    #expect(try store.apply(step, to: id, actor: "test", note: "n") == next)
                    let c = try store.case(id)
                    #expect(c.summary.state == next)
                    #expect(c.history.last?.to == next && c.history.last?.from == s && c.history.last?.actor == "test")
                } else {
                    do {
                        try store.apply(step, to: id, actor: "test", note: "n")
                        Issue.record("\(s.rawValue) \(tier.rawValue) \(step.name) was allowed")
                    } catch let ReferralError.illegalStep(caseID, state, t, name, allowedSteps) {
                        #expect(caseID == id && state == s && t == tier && name == step.name)
                        #expect(allowedSteps == Workflow.allowed(s, tier: tier))
                        #expect(!allowedSteps.isEmpty)
                    }
                    #expect(try store.case(id).summary.state == s)   // refused: nothing changed
                }
            }
        }
    }
}

@Test func theErrorNamesCaseStateAndAllowedSteps() throws {
    let dir = try ScratchDirectory()
    let store = try ReferralStore(path: dir.path("cases.db"))
    let id = try store.refer(warning("a", subject: "13800000001", tier: .high)).caseID
    do {
        try store.apply(.visitDone, to: id, actor: "x")
        Issue.record("allowed")
    } catch let e as ReferralError {
        #expect(e.description == "case \(id) is new (high): `visit --done` is not allowed; allowed: call --result reached, call --result unreached, close --outcome false_alarm, close --outcome duplicate, claim, note")
    }
    #expect(throws: ReferralError.noSuchCase(999)) { try store.apply(.note, to: 999, actor: "x", note: "hi") }
    try store.apply(.call(reached: true), to: id, actor: "x")
    #expect(throws: ReferralError.stopPaymentMissing(caseID: id)) { try store.apply(.close(.alreadyPaid), to: id, actor: "x") }
    try store.apply(.close(.alreadyPaid, stopPayment: "110止付 单号 A1"), to: id, actor: "x", note: "已转 2 万")
    let c = try store.case(id)
    #expect(c.summary.outcome == .alreadyPaid && c.summary.stopPayment == "110止付 单号 A1")
    #expect(c.history.last?.note == "110: 110止付 单号 A1; 已转 2 万")
}

@Test func deadlinesFileAndFlags() throws {
    var d = try Deadlines.parse("# our county\nhigh.call = 3m\nlow.sms=12h  # SMS the same day\n")
    #expect(d.highCall == 180 && d.lowSMS == 12 * 3600 && d.mediumCall == 1800 && d.highVisit == 1800)
    try d.set("medium.call=90s")
    #expect(d.mediumCall == 90)
    #expect(throws: ReferralError.badConfiguration("deadlines:2: `soon` is not a duration of at most 365d (e.g. 90s, 5m, 2h, 1d)")) {
        try Deadlines.parse("high.call = 5m\nhigh.visit = soon")
    }
    #expect(throws: (any Error).self) { try Deadlines.parse("highest.call = 5m") }
    #expect(Deadlines.describe(300) == "5m" && Deadlines.describe(86400) == "24h" && Deadlines.describe(90) == "90s")
}

/// Found by fuzzing (Tests/Fuzz/config/deadlines_huge.txt): `1e308d` was read as an infinite
/// deadline, which `describe` (and the deadline's date) cannot hold; the process trapped.
@Test func aDeadlineBeyondAYearIsAnErrorNotATrap() throws {
    for text in ["1e308d", "1e300", "366d", "inf", "nan", "-1m", "0s"] {
        #expect(throws: ReferralError.badConfiguration("deadlines:1: `\(text)` is not a duration of at most 365d (e.g. 90s, 5m, 2h, 1d)")) {
            try Deadlines.parse("high.call = \(text)")
        }
    }
    let d = try Deadlines.parse("low.sms = 365d")
    #expect(d.lowSMS == Deadlines.longest && Deadlines.describe(d.lowSMS) == "365d")
}
