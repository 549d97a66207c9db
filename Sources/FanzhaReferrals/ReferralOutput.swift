import Fanzha
import Foundation

// How cases are written: list lines (text, TSV, JSON), `show`, exports (JSON Lines, CSV, the
// labelled records `fanzha eval` reads) and the report. In the library so a service writes the same.

public enum ReferralText {
    /// ISO 8601 in UTC, seconds: `2026-12-04T13:40:00Z`; `-` for none.
    public static func time(_ d: Date?) -> String {
        guard let d else { return "-" }
        // By hand with gmtime_r: a formatter per call cost more than the rest of a listed case.
        var t = time_t(d.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    public static let tsvHeader = "id\ttier\tstate\toutcome\tcategory\tsubject\tcounterparty\tassignee\topened_at\tcontact_due\toverdue"

    public static func tsv(_ c: CaseSummary, now: Date) -> String {
        [String(c.id), c.tier.rawValue, c.state.rawValue, c.outcome?.rawValue ?? "", c.category ?? "", VerdictPrinter.visible(c.subject),
         VerdictPrinter.visible(c.counterparty ?? ""), VerdictPrinter.visible(c.assignee ?? ""), time(c.openedAt), time(c.contactDue),
         c.overdue(at: now) ?? ""].joined(separator: "\t")
    }

    /// `#12 HIGH calling police 13800000001 ← 95566001 opened … OVERDUE call [王]`
    public static func line(_ c: CaseSummary, now: Date) -> String {
        var s = "#\(c.id) \(c.tier.rawValue.uppercased()) \(c.state.rawValue)"
        if let o = c.outcome { s += " (\(o.rawValue))" }
        s += " \(c.category ?? "-") \(VerdictPrinter.visible(c.subject))"
        if let cp = c.counterparty { s += " ← \(VerdictPrinter.visible(cp))" }
        s += " opened \(time(c.openedAt))"
        if c.state != .closed {
            if let late = c.overdue(at: now) {
                s += " OVERDUE \(late)"
            } else if c.contactAt == nil {
                s += " \(c.tier.contact) due \(time(c.contactDue))"
            }
        }
        if let a = c.assignee { s += " [\(VerdictPrinter.visible(a))]" }
        return s
    }

    /// A case summary as one JSON object.
    package static func json(_ c: CaseSummary, now: Date, redact: Redactor? = nil) -> [UInt8] {
        var o = JSONObjectWriter()
        fields(c, now: now, into: &o, redact: redact)
        return o.finishBytes()
    }

    package static func fields(_ c: CaseSummary, now: Date, into o: inout JSONObjectWriter, redact: Redactor?) {
        let r: (String) -> String = { s in redact?.apply(s) ?? s }
        o.add("id", Int(c.id))
        o.add("tier", c.tier.rawValue)
        o.add("state", c.state.rawValue)
        if let v = c.outcome { o.add("outcome", v.rawValue) } else { o.addNull("outcome") }
        if let v = c.category { o.add("category", v) } else { o.addNull("category") }
        o.add("score", c.score)
        o.add("subject", r(c.subject))
        if let v = c.counterparty { o.add("counterparty", r(v)) } else { o.addNull("counterparty") }
        if let v = c.assignee { o.add("assignee", v) } else { o.addNull("assignee") }
        let times: [(String, Date?)] = [("opened_at", c.openedAt), ("tier_since", c.tierSince), ("sms_at", c.smsAt), ("first_call_at", c.firstCallAt),
                                        ("visited_at", c.visitedAt), ("closed_at", c.closedAt), ("contact_due", c.contactDue), ("visit_due", c.visitDue)]
        for (k, d) in times { o.addRaw(k, d.map { jsonString(time($0)) } ?? "null") }
        if let v = c.stopPayment { o.add("stop_payment", r(v)) } else { o.addNull("stop_payment") }
        if let late = c.overdue(at: now) { o.add("overdue", late) } else { o.addNull("overdue") }
    }
}

public enum ReferralExport {
    /// A case with its evidence and history as one JSON object; redacted when `redact` is given
    /// (spans then point into the redacted text).
    package static func json(_ c: CaseDetail, now: Date, redact: Redactor?) -> [UInt8] {
        var o = JSONObjectWriter()
        ReferralText.fields(c.summary, now: now, into: &o, redact: redact)
        detailFields(c, into: &o, redact: redact)
        return o.finishBytes()
    }

    /// What a case adds to its summary: the steps allowed now, its evidence and its history.
    package static func detailFields(_ c: CaseDetail, into o: inout JSONObjectWriter, redact: Redactor?) {
        o.add("allowed", c.allowed)
        o.addObjects("evidence", c.evidence) { j, e in
            let (turns, hits) = redacted(e, redact)
            j.add("record_id", e.recordID)
            j.add("origin", e.origin)
            j.add("tier", e.tier.rawValue)
            j.add("score", e.score)
            if let v = e.category { j.add("category", v) } else { j.addNull("category") }
            if let v = e.counterparty { j.add("counterparty", redact?.apply(v) ?? v) } else { j.addNull("counterparty") }
            j.add("is_call", e.isCall)
            j.addObjects("turns", turns) { t, turn in
                t.add("speaker", turn.speaker)
                t.add("text", turn.text)
            }
            j.addObjects("hits", hits) { h, hit in
                h.add("rule", hit.rule)
                h.add("title", hit.title)
                h.add("score", hit.score)
                h.addObjects("spans", hit.spans) { s, span in
                    if let t = span.turn { s.add("turn", t) }
                    s.add("start", span.start)
                    s.add("end", span.end)
                    s.add("text", span.text)
                }
            }
            j.add("seen_at", ReferralText.time(e.seenAt))
        }
        o.addObjects("history", c.history) { j, e in
            j.add("at", ReferralText.time(e.at))
            j.add("actor", e.actor)
            j.add("kind", e.kind)
            if let f = e.from { j.add("from", f.rawValue) } else { j.addNull("from") }
            j.add("to", e.to.rawValue)
            j.add("tier", e.tier.rawValue)
            if let v = e.outcome { j.add("outcome", v.rawValue) } else { j.addNull("outcome") }
            if let v = e.note { j.add("note", redact?.apply(v) ?? v) } else { j.addNull("note") }
        }
    }

    /// The turns and hits of a warning, redacted (spans moved into the redacted text) or as they are.
    static func redacted(_ e: CaseEvidence, _ redactor: Redactor?) -> ([WarningTurn], [WarningHit]) {
        guard let redactor else { return (e.turns, e.hits) }
        let redactions = e.turns.map { redactor.redact($0.text) }
        let turns = zip(e.turns, redactions).map { WarningTurn(speaker: $0.speaker, text: $1.text) }
        let hits = e.hits.map { h in
            WarningHit(rule: h.rule, title: h.title, score: h.score, spans: h.spans.compactMap { s in
                let i = s.turn ?? 0
                guard i < redactions.count else { return nil }
                let m = redactions[i].mapSpan(EvidenceSpan(turn: s.turn, start: s.start, end: s.end, text: s.text))
                return WarningSpan(turn: s.turn, start: m.start, end: m.end, text: m.text)
            })
        }
        return (turns, hits)
    }

    public static let csvHeader = "case_id,state,tier,outcome,category,subject,counterparty,assignee,opened_at,first_contact_at,closed_at,stop_payment,record_id,origin,record_tier,rules,text"

    /// One CSV row per warning of the case (RFC 4180 quoting).
    package static func csvRows(_ c: CaseDetail, redactor: Redactor?) -> [String] {
        let s = c.summary
        let r: (String) -> String = { redactor?.apply($0) ?? $0 }
        let evidence: [CaseEvidence?] = c.evidence.isEmpty ? [nil] : c.evidence
        return evidence.map { e in
            let (turns, hits) = e.map { redacted($0, redactor) } ?? ([], [])
            let text = e.map { $0.isCall ? turns.map { "\($0.speaker): \($0.text)" }.joined(separator: "\n") : (turns.first?.text ?? "") } ?? ""
            return [String(s.id), s.state.rawValue, s.tier.rawValue, s.outcome?.rawValue ?? "", s.category ?? "", r(s.subject),
                    s.counterparty.map(r) ?? "", s.assignee ?? "", ReferralText.time(s.openedAt),
                    s.contactAt.map(ReferralText.time) ?? "", s.closedAt.map(ReferralText.time) ?? "", s.stopPayment.map(r) ?? "",
                    e?.recordID ?? "", e?.origin ?? "", e?.tier.rawValue ?? "", hits.map(\.rule).joined(separator: " "), text]
                .map(csvField).joined(separator: ",")
        }
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The label a closed case gives its records for `fanzha eval`: `benign` for a false alarm,
    /// `scam` for dissuaded or already paid (the person was being defrauded); nil otherwise.
    public static func evalLabel(_ outcome: Outcome?) -> String? {
        switch outcome {
        case .falseAlarm?: return "benign"
        case .dissuaded?, .alreadyPaid?: return "scam"
        default: return nil
        }
    }

    /// Labelled records `fanzha eval` reads as they are: one per screened record of the case (a
    /// record referred at several tiers, as a live call's alerts, once: its latest, longest text).
    /// `{"id","text"|"turns","label","case","outcome"}`.
    package static func evalLines(_ c: CaseDetail, redactor: Redactor?) -> [[UInt8]] {
        guard let label = evalLabel(c.summary.outcome) else { return [] }
        var latest: [String: CaseEvidence] = [:]
        var order: [String] = []
        for e in c.evidence where !e.turns.isEmpty {
            if latest[e.recordKey] == nil { order.append(e.recordKey) }
            latest[e.recordKey] = e
        }
        return order.map { key in
            let e = latest[key]!
            let (turns, _) = redacted(e, redactor)
            var o = JSONObjectWriter()
            o.add("id", "case\(c.summary.id):\(e.recordID)")
            if e.isCall {
                o.addObjects("turns", turns) { t, turn in
                    t.add("speaker", turn.speaker)
                    t.add("text", turn.text)
                }
            } else {
                o.add("text", turns.first?.text ?? "")
            }
            // The field confirms fraud, not its kind: no category, so any category counts as right.
            o.add("label", label)
            o.add("case", Int(c.summary.id))
            o.add("outcome", c.summary.outcome?.rawValue ?? "")
            return o.finishBytes()
        }
    }
}

public enum ReferralShow {
    /// `show`: the case, its evidence marked as in `explain`, its history, the steps allowed.
    public static func render(_ c: CaseDetail, now: Date, colour: Bool) -> String {
        let s = c.summary
        let v = VerdictPrinter.visible
        var out = "case \(s.id)  \(s.tier.rawValue.uppercased())  \(s.state.rawValue)"
        if let o = s.outcome { out += " (\(o.rawValue))" }
        out += "  \(s.category ?? "-")  score \(s.score)\n"
        out += "person: \(v(s.subject))"
        if let cp = s.counterparty { out += "   counterparty: \(v(cp))" }
        if let a = s.assignee { out += "   assignee: \(v(a))" }
        out += "\nopened \(ReferralText.time(s.openedAt)); \(s.tier.rawValue) since \(ReferralText.time(s.tierSince))\n"
        if let at = s.contactAt {
            out += "\(s.tier.contact) at \(ReferralText.time(at)) (due \(ReferralText.time(s.contactDue)): \(at <= s.contactDue ? "met" : "late"))\n"
        } else if s.state != .closed {
            out += "\(s.tier.contact) due \(ReferralText.time(s.contactDue))\(s.overdue(at: now) == s.tier.contact ? "  OVERDUE" : "")\n"
        }
        if let due = s.visitDue, s.state == .unreached || s.state == .visitRequested {
            out += "visit due \(ReferralText.time(due))\(s.overdue(at: now) == "visit" ? "  OVERDUE" : "")\n"
        }
        if let at = s.visitedAt { out += "visited at \(ReferralText.time(at))\n" }
        if let stop = s.stopPayment { out += "110 stop-payment: \(v(stop))\n" }
        out += "next: \(c.allowed.joined(separator: " | "))\n"
        let marker = Highlighter(style: colour ? .ansi : .brackets)
        for (i, e) in c.evidence.enumerated() {
            out += "\nevidence \(i + 1): \(v(e.origin)) record \(v(e.recordID))  \(e.tier.rawValue) \(e.score) \(e.category ?? "-")  \(ReferralText.time(e.seenAt))\n"
            if !e.turns.isEmpty {
                let record = e.isCall
                    ? Record(id: e.recordID, turns: e.turns.map { Turn(speaker: $0.speaker, side: .caller, text: $0.text) })
                    : Record(id: e.recordID, text: e.turns[0].text)
                let hits = e.hits.map { h in
                    RuleHit(ruleIndex: 0, spans: h.spans.map { EvidenceSpan(turn: $0.turn, start: $0.start, end: $0.end, text: $0.text) })
                }
                let marked = marker.mark(record: record, hits: hits, transform: VerdictPrinter.visible)
                out += marked.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
            }
            for h in e.hits {
                let spans = h.spans.map { "「\(v($0.text))」" + ($0.turn.map { "@\($0)" } ?? "") }.joined(separator: " ")
                out += "  \(String(h.score).leftPadded(3))  \(h.rule)  \(h.title)  \(spans)\n"
            }
        }
        out += "\nhistory:\n"
        for e in c.history {
            out += "  \(ReferralText.time(e.at))  \(v(e.actor))  \(e.kind)  \(e.from?.rawValue ?? "-") → \(e.to.rawValue)  [\(e.tier.rawValue)]"
            if let o = e.outcome { out += "  \(o.rawValue)" }
            if let n = e.note { out += "  \(v(n))" }
            out += "\n"
        }
        return out
    }
}

public enum ReferralReportText {
    static func percent(_ x: Double?) -> String { x.map { String(format: "%.0f%%", 100 * $0) } ?? "-" }
    static func minutes(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "-" }

    /// Tables: per tier, per category, per rule.
    public static func render(_ r: ReferralReport) -> String {
        let header = ["", "cases", "open", "median min to contact", "deadlines met", "dissuaded", "already paid", "not reachable", "false alarms", "duplicates"]
        func row(_ x: ReferralReport.Row) -> [String] {
            [x.group, "\(x.cases)", "\(x.open)", minutes(x.medianMinutesToContact),
             "\(x.deadlinesMet)/\(x.deadlinesDecided) (\(percent(x.deadlinesMetShare)))", "\(x.dissuaded)", "\(x.alreadyPaid)",
             "\(x.notReachable)", "\(x.falseAlarms)", "\(x.duplicates)"]
        }
        var out = "Referral report: \(r.total.cases) case\(r.total.cases == 1 ? "" : "s"), \(r.total.open) open\n\n"
        out += table(["tier"] + header.dropFirst(), r.byTier.map(row) + [row(r.total)]) + "\n"
        out += table(["category"] + header.dropFirst(), r.byCategory.map(row)) + "\n"
        out += table(["rule", "cases", "closed", "false alarms", "false alarm share"],
                     r.byRule.map { [$0.rule, "\($0.cases)", "\($0.closed)", "\($0.falseAlarms)", percent($0.falseAlarmShare)] })
        return out
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0) : c.leftPadded(widths[i]) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    public static func json(_ r: ReferralReport) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? e.encode(r)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
