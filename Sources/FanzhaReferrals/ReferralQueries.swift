import Foundation
import GRDB

/// A case as listed: its state, tier and times, and its deadlines under the store's `Deadlines`.
public struct CaseSummary: Sendable, Equatable, Codable {
    public let id: Int64
    public let subject: String
    public let counterparty: String?
    public let tier: Tier
    public let state: CaseState
    public let outcome: Outcome?
    public let category: String?
    public let score: Int
    public let assignee: String?
    public let openedAt: Date
    /// When the case reached its tier (opened, escalated or reopened): its deadlines count from here.
    public let tierSince: Date
    public let smsAt: Date?
    public let firstCallAt: Date?
    public let visitedAt: Date?
    public let closedAt: Date?
    public let updatedAt: Date
    /// The 110 stop-payment step of an `already_paid` case.
    public let stopPayment: String?
    /// The first contact the tier calls for is due by then (a call; an SMS for low).
    public let contactDue: Date
    /// A high case's visit is due by then (when the person is unreached or still deceived).
    public let visitDue: Date?

    /// When the tier's first contact was made: the call (medium, high), or the SMS or a call (low).
    public var contactAt: Date? {
        tier == .low ? [smsAt, firstCallAt].compactMap { $0 }.min() : firstCallAt
    }

    /// What is overdue at `now`: "call", "sms", "visit", or nil.
    public func overdue(at now: Date) -> String? {
        if state == .closed { return nil }
        if contactAt == nil && now > contactDue { return tier.contact }
        if let visitDue, visitedAt == nil, state == .unreached || state == .visitRequested, now > visitDue { return "visit" }
        return nil
    }

    /// Whether the first-contact deadline was met (nil while it is still open, or when the case
    /// was closed before its deadline without a contact, e.g. a false alarm).
    public func contactDeadlineMet(at now: Date) -> Bool? {
        if let c = contactAt { return c <= contactDue }
        let end = closedAt ?? now
        return end > contactDue ? false : nil
    }
}

/// Which cases to list or export. Empty lists mean any.
public struct CaseFilter: Sendable, Equatable {
    public var states: [CaseState] = []
    public var tiers: [Tier] = []
    public var categories: [String] = []
    public var outcomes: [Outcome] = []
    public var assignee: String?
    public var subject: String?
    /// Only cases with something overdue now.
    public var overdueOnly = false
    /// Only cases not closed.
    public var openOnly = false
    public var limit: Int?
    public init() {}
}

/// One warning kept on a case.
public struct CaseEvidence: Sendable, Equatable, Codable {
    public let recordKey: String
    public let recordID: String
    public let origin: String
    public let tier: Tier
    public let score: Int
    public let category: String?
    public let counterparty: String?
    public let isCall: Bool
    public let turns: [WarningTurn]
    public let hits: [WarningHit]
    public let seenAt: Date
}

/// One row of a case's history.
public struct CaseEvent: Sendable, Equatable, Codable {
    public let id: Int64
    public let at: Date
    public let actor: String
    /// opened, joined, escalated, reopened, claim, sms, call, visit_requested, visited, close, note, reopen.
    public let kind: String
    public let from: CaseState?
    public let to: CaseState
    public let tier: Tier
    public let outcome: Outcome?
    public let note: String?
}

/// A case with its evidence and its history, oldest first.
public struct CaseDetail: Sendable, Equatable, Codable {
    public let summary: CaseSummary
    public let evidence: [CaseEvidence]
    public let history: [CaseEvent]
    /// The steps allowed now, as commands.
    public var allowed: [String] { Workflow.allowed(summary.state, tier: summary.tier) }
}

/// `report`: per tier and per category, and false alarms per rule.
public struct ReferralReport: Sendable, Equatable, Codable {
    public struct Row: Sendable, Equatable, Codable {
        public var group: String
        public var cases = 0
        public var open = 0
        /// Median minutes from the tier's start to its first contact, over the cases contacted.
        public var medianMinutesToContact: Double?
        /// First-contact deadlines decided (met, or passed without a contact) and met.
        public var deadlinesDecided = 0
        public var deadlinesMet = 0
        public var dissuaded = 0
        public var alreadyPaid = 0
        public var notReachable = 0
        public var falseAlarms = 0
        public var duplicates = 0
        public var deadlinesMetShare: Double? { deadlinesDecided == 0 ? nil : Double(deadlinesMet) / Double(deadlinesDecided) }
    }
    public struct RuleRow: Sendable, Equatable, Codable {
        public var rule: String
        public var cases = 0
        public var closed = 0
        public var falseAlarms = 0
        /// False alarms among the rule's closed cases.
        public var falseAlarmShare: Double? { closed == 0 ? nil : Double(falseAlarms) / Double(closed) }
    }
    public var total: Row
    public var byTier: [Row]
    public var byCategory: [Row]
    public var byRule: [RuleRow]
}

extension ReferralStore {
    static let summaryColumns = """
        id, subject, counterparty, tier, state, outcome, category, score, assignee, opened_at, tier_since,
        sms_at, first_call_at, visited_at, closed_at, updated_at, stop_payment
        """

    func summary(_ row: Row) -> CaseSummary {
        func date(_ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
        let tier = Tier(rawValue: row["tier"]) ?? .low
        let since: Double = row["tier_since"]
        return CaseSummary(
            id: row["id"], subject: row["subject"], counterparty: row["counterparty"], tier: tier,
            state: CaseState(rawValue: row["state"]) ?? .new, outcome: (row["outcome"] as String?).flatMap(Outcome.init(rawValue:)),
            category: row["category"], score: row["score"], assignee: row["assignee"],
            openedAt: date("opened_at")!, tierSince: Date(timeIntervalSince1970: since), smsAt: date("sms_at"),
            firstCallAt: date("first_call_at"), visitedAt: date("visited_at"), closedAt: date("closed_at"),
            updatedAt: date("updated_at")!, stopPayment: row["stop_payment"],
            contactDue: Date(timeIntervalSince1970: since + deadlines.contact(tier)),
            visitDue: tier == .high ? Date(timeIntervalSince1970: since + deadlines.highVisit) : nil)
    }

    /// The SQL condition for "something is overdue at :now" (as `CaseSummary.overdue`), with its arguments.
    func overdueCondition(now: Double) -> (String, StatementArguments) {
        let sql = """
            (state <> 'closed' AND (
                (tier = 'low' AND sms_at IS NULL AND first_call_at IS NULL AND tier_since + ? < ?)
             OR (tier = 'medium' AND first_call_at IS NULL AND tier_since + ? < ?)
             OR (tier = 'high' AND first_call_at IS NULL AND tier_since + ? < ?)
             OR (tier = 'high' AND visited_at IS NULL AND state IN ('unreached', 'visit_requested') AND tier_since + ? < ?)))
            """
        return (sql, [deadlines.lowSMS, now, deadlines.mediumCall, now, deadlines.highCall, now, deadlines.highVisit, now])
    }

    func whereClause(_ f: CaseFilter, now: Double) -> (String, StatementArguments) {
        var parts: [String] = []
        var args = StatementArguments()
        func any(_ column: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            parts.append("\(column) IN (\(values.map { _ in "?" }.joined(separator: ", ")))")
            args += StatementArguments(values)
        }
        any("state", f.states.map(\.rawValue))
        any("tier", f.tiers.map(\.rawValue))
        any("category", f.categories)
        any("outcome", f.outcomes.map(\.rawValue))
        if let a = f.assignee { parts.append("assignee = ?"); args += [a] }
        if let s = f.subject { parts.append("subject = ?"); args += [SubjectKey.key(s)] }
        if f.openOnly { parts.append("state <> 'closed'") }
        if f.overdueOnly {
            let (sql, a) = overdueCondition(now: now)
            parts.append(sql)
            args += a
        }
        return (parts.isEmpty ? "" : "WHERE " + parts.joined(separator: " AND "), args)
    }

    /// The cases matching `filter`, oldest first.
    public func list(_ filter: CaseFilter = CaseFilter()) throws -> [CaseSummary] {
        let (condition, args) = whereClause(filter, now: now)
        let limit = filter.limit.map { " LIMIT \($0)" } ?? ""
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT \(ReferralStore.summaryColumns) FROM referral_case \(condition) ORDER BY id\(limit)", arguments: args)
                .map(summary)
        }
    }

    /// Open cases with something overdue at `now` (the store's clock when nil), oldest first.
    public func overdue(now: Date? = nil) throws -> [CaseSummary] {
        let at = (now ?? clock()).timeIntervalSince1970
        let (condition, args) = overdueCondition(now: at)
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT \(ReferralStore.summaryColumns) FROM referral_case WHERE \(condition) ORDER BY id", arguments: args)
                .map(summary)
        }
    }

    /// One case with its evidence and history.
    public func `case`(_ id: Int64) throws -> CaseDetail {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(ReferralStore.summaryColumns) FROM referral_case WHERE id = ?", arguments: [id]) else {
                throw ReferralError.noSuchCase(id)
            }
            return CaseDetail(summary: summary(row), evidence: try evidence(db, caseIDs: "?", [id])[id] ?? [],
                              history: try history(db, id))
        }
    }

    /// The cases matching `filter` with their evidence and history, oldest first (for export).
    public func details(_ filter: CaseFilter) throws -> [CaseDetail] {
        let (condition, args) = whereClause(filter, now: now)
        let limit = filter.limit.map { " LIMIT \($0)" } ?? ""
        return try read { db in
            let cases = try Row.fetchAll(db, sql: "SELECT \(ReferralStore.summaryColumns) FROM referral_case \(condition) ORDER BY id\(limit)", arguments: args)
                .map(summary)
            let evidence = try self.evidence(db, caseIDs: "SELECT id FROM referral_case \(condition) ORDER BY id\(limit)", args)
            var events: [Int64: [CaseEvent]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM case_event WHERE case_id IN (SELECT id FROM referral_case \(condition) ORDER BY id\(limit)) ORDER BY id",
                                        arguments: args) {
                events[row["case_id"], default: []].append(event(row))
            }
            return cases.map { CaseDetail(summary: $0, evidence: evidence[$0.id] ?? [], history: events[$0.id] ?? []) }
        }
    }

    private func evidence(_ db: Database, caseIDs: String, _ args: StatementArguments) throws -> [Int64: [CaseEvidence]] {
        let decoder = JSONDecoder()
        var out: [Int64: [CaseEvidence]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM evidence WHERE case_id IN (\(caseIDs)) ORDER BY id", arguments: args) {
            let turns: String = row["turns"], hits: String = row["hits"]
            out[row["case_id"], default: []].append(CaseEvidence(
                recordKey: row["record_key"], recordID: row["record_id"], origin: row["origin"],
                tier: Tier(rawValue: row["tier"]) ?? .low, score: row["score"], category: row["category"],
                counterparty: row["counterparty"], isCall: row["is_call"],
                turns: try decoder.decode([WarningTurn].self, from: Data(turns.utf8)),
                hits: try decoder.decode([WarningHit].self, from: Data(hits.utf8)),
                seenAt: Date(timeIntervalSince1970: row["seen_at"])))
        }
        return out
    }

    private func history(_ db: Database, _ id: Int64) throws -> [CaseEvent] {
        try Row.fetchAll(db, sql: "SELECT * FROM case_event WHERE case_id = ? ORDER BY id", arguments: [id]).map(event)
    }

    private func event(_ row: Row) -> CaseEvent {
        CaseEvent(id: row["id"], at: Date(timeIntervalSince1970: row["at"]), actor: row["actor"], kind: row["kind"],
                  from: (row["from_state"] as String?).flatMap(CaseState.init(rawValue:)),
                  to: CaseState(rawValue: row["to_state"]) ?? .new, tier: Tier(rawValue: row["tier"]) ?? .low,
                  outcome: (row["outcome"] as String?).flatMap(Outcome.init(rawValue:)), note: row["note"])
    }

    /// The report: per tier, per category and in all; false alarms per rule. The counts are SQL
    /// aggregates (one pass over the cases grouped by tier and category, summed here); the medians
    /// come from a second pass that reads only the contacted cases' minutes. No case summary is
    /// built. The definitions are those of `CaseSummary.contactAt` and `contactDeadlineMet`.
    public func report(now: Date? = nil) throws -> ReferralReport {
        let at = (now ?? clock()).timeIntervalSince1970
        // Per case: when the tier's first contact was made (the call; for low the SMS or a call,
        // whichever came first), and when it was due.
        let perCase = """
            SELECT tier, coalesce(category, '-') AS category, state, outcome, tier_since, closed_at,
                   CASE WHEN tier = 'low' THEN coalesce(min(sms_at, first_call_at), sms_at, first_call_at)
                        ELSE first_call_at END AS contact,
                   tier_since + CASE tier WHEN 'low' THEN ? WHEN 'medium' THEN ? ELSE ? END AS due
            FROM referral_case
            """
        let dueArgs: StatementArguments = [deadlines.lowSMS, deadlines.mediumCall, deadlines.highCall]
        return try read { db in
            var total = ReferralReport.Row(group: "all")
            var tiers: [String: ReferralReport.Row] = [:]
            var categories: [String: ReferralReport.Row] = [:]
            // A deadline is decided when the contact was made, or when the case passed it
            // without one (still open now, or closed after it); met when the contact was in time.
            let groups = try Row.fetchAll(db, sql: """
                SELECT tier, category, count(*) AS cases, sum(state <> 'closed') AS open,
                       sum(contact IS NOT NULL OR coalesce(closed_at, ?) > due) AS decided,
                       sum(contact IS NOT NULL AND contact <= due) AS met,
                       sum(outcome IS 'dissuaded') AS dissuaded, sum(outcome IS 'already_paid') AS already_paid,
                       sum(outcome IS 'not_reachable') AS not_reachable, sum(outcome IS 'false_alarm') AS false_alarms,
                       sum(outcome IS 'duplicate') AS duplicates
                FROM (\(perCase)) GROUP BY tier, category
                """, arguments: [at] + dueArgs)
            for g in groups {
                func add(_ r: inout ReferralReport.Row) {
                    r.cases += g["cases"]; r.open += g["open"]
                    r.deadlinesDecided += g["decided"]; r.deadlinesMet += g["met"]
                    r.dissuaded += g["dissuaded"]; r.alreadyPaid += g["already_paid"]; r.notReachable += g["not_reachable"]
                    r.falseAlarms += g["false_alarms"]; r.duplicates += g["duplicates"]
                }
                let tier: String = g["tier"], category: String = g["category"]
                add(&total)
                add(&tiers[tier, default: ReferralReport.Row(group: tier)])
                add(&categories[category, default: ReferralReport.Row(group: category)])
            }
            // Medians of the minutes to first contact, over the cases contacted, per tier, per
            // category and in all: SQLite has no median, and window functions (a sort per
            // grouping) took three more passes, so one pass collects the minutes and Swift sorts.
            var minutes: [String: [Double]] = [:]
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT tier, category, max(0, contact - tier_since) / 60.0 FROM (\(perCase)) WHERE contact IS NOT NULL
                """, arguments: dueArgs)
            while let row = try cursor.next() {
                let tier: String = row[0], category: String = row[1], m: Double = row[2]
                minutes["tier:" + tier, default: []].append(m)
                minutes["category:" + category, default: []].append(m)
                minutes["all", default: []].append(m)
            }
            var medians: [String: Double] = [:]
            for (key, var m) in minutes where !m.isEmpty {
                m.sort()
                medians[key] = m.count % 2 == 1 ? m[m.count / 2] : (m[m.count / 2 - 1] + m[m.count / 2]) / 2
            }
            total.medianMinutesToContact = medians["all"]
            let byTier = Tier.allCases.reversed().compactMap { t -> ReferralReport.Row? in
                guard var r = tiers[t.rawValue] else { return nil }
                r.medianMinutesToContact = medians["tier:" + t.rawValue]
                return r
            }
            let byCategory = categories.keys.sorted().map { k -> ReferralReport.Row in
                var r = categories[k]!
                r.medianMinutesToContact = medians["category:" + k]
                return r
            }
            let byRule = try Row.fetchAll(db, sql: """
                SELECT rule, count(*) AS cases, sum(c.state = 'closed') AS closed, sum(c.outcome IS 'false_alarm') AS false_alarms
                FROM case_rule JOIN referral_case AS c ON c.id = case_rule.case_id
                GROUP BY rule ORDER BY false_alarms DESC, cases DESC, rule
                """).map { row in
                ReferralReport.RuleRow(rule: row["rule"], cases: row["cases"], closed: row["closed"], falseAlarms: row["false_alarms"])
            }
            return ReferralReport(total: total, byTier: byTier, byCategory: byCategory, byRule: byRule)
        }
    }
}
