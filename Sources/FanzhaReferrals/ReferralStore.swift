import Fanzha
import Foundation
import GRDB

/// The 96110 referral cases in one SQLite file (WAL mode): cases opened and joined from
/// warnings, the workflow's steps, the append-only history, deadlines, the report.
///
/// Several processes may use one file at once (scans, a dispatcher, `fanzha serve`): every
/// change is one IMMEDIATE transaction, and a writer waits up to `busyTimeout` for another.
/// A process killed mid-batch loses only its uncommitted transaction.
public final class ReferralStore: Sendable {
    public typealias Clock = @Sendable () -> Date

    public let path: String
    public let deadlines: Deadlines
    let clock: Clock
    let pool: DatabasePool

    /// Opens (creating and migrating as needed) the database at `path`.
    public init(path: String, deadlines: Deadlines = Deadlines(), clock: @escaping Clock = { Date() },
                busyTimeout: TimeInterval = 60) throws {
        self.path = path
        self.deadlines = deadlines
        self.clock = clock
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.label = "referrals"
        pool = try ReferralStore.open(path: path, configuration: config, busyTimeout: busyTimeout)
        try ReferralStore.migrate(pool, path: path)
    }

    /// Opens the pool, waiting out another process's lock. Opening switches a new file to WAL,
    /// and SQLite answers that switch with SQLITE_BUSY at once, without calling the busy
    /// handler, while another connection is doing the same: two scans started together on a
    /// new file raced here and one failed with "database is locked".
    static func open(path: String, configuration: Configuration, busyTimeout: TimeInterval) throws -> DatabasePool {
        let deadline = Date().addingTimeInterval(busyTimeout)
        var pause: useconds_t = 2_000
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                usleep(pause)
                pause = min(pause * 2, 100_000)
            } catch {
                throw ReferralError.badValue("\(path): cannot open the referral database: \(ReferralStore.message(error))")
            }
        }
    }

    /// Brings the schema up to date. The migrator reads which migrations are applied before it
    /// takes the write lock, so two processes opening a new file at once can both try `v1`:
    /// the loser's transaction rolls back, and it reads again.
    static func migrate(_ pool: DatabasePool, path: String, upTo target: String = Schema.latest) throws {
        let migrator = Schema.migrator
        var attempt = 0
        while true {
            do {
                try migrator.migrate(pool, upTo: target)
                return
            } catch {
                attempt += 1
                if attempt >= 5 {
                    throw ReferralError.badValue("\(path): cannot bring the referral database up to date: \(message(error))")
                }
            }
        }
    }

    static func message(_ error: Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
        return "\(error)"
    }

    /// The schema migrations applied to this file, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { try Schema.migrator.appliedMigrations($0) }
    }

    var now: Double { clock().timeIntervalSince1970 }

    /// One IMMEDIATE write transaction: the write lock is taken at BEGIN, so two processes never
    /// both read and then both try to write.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let e as ReferralError {
            throw e
        } catch {
            throw ReferralError.badValue("\(path): \(ReferralStore.message(error))")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let e as ReferralError {
            throw e
        } catch {
            throw ReferralError.badValue("\(path): \(ReferralStore.message(error))")
        }
    }

    // MARK: - Warnings into cases

    /// What a warning did.
    public enum Referred: Sendable, Equatable {
        /// A new case.
        case opened(Int64)
        /// Added to the person's open case (tier unchanged).
        case joined(Int64)
        /// Added to the person's open case and raised its tier.
        case escalated(Int64)
        /// A closed case of the person's, opened again by a higher warning.
        case reopened(Int64)
        /// Kept as evidence on the person's closed case, which a warning no higher leaves closed.
        case recordedOnClosed(Int64)
        /// This record was already referred at this tier or higher: nothing changed.
        case unchanged(Int64)
        /// This record was already referred at this tier, with fewer turns (a live call's alert,
        /// then its final verdict): its evidence now covers the longer text. No new case or warning.
        case extended(Int64)

        /// What happened, in one word: opened, joined, escalated, reopened, recorded_on_closed, unchanged, extended.
        public var kind: String {
            switch self {
            case .opened: return "opened"
            case .joined: return "joined"
            case .escalated: return "escalated"
            case .reopened: return "reopened"
            case .recordedOnClosed: return "recorded_on_closed"
            case .unchanged: return "unchanged"
            case .extended: return "extended"
            }
        }

        public var caseID: Int64 {
            switch self {
            case .opened(let i), .joined(let i), .escalated(let i), .reopened(let i), .recordedOnClosed(let i), .unchanged(let i), .extended(let i):
                return i
            }
        }
    }

    /// Refers one warning (one transaction).
    @discardableResult
    public func refer(_ warning: Warning, actor: String = "fanzha") throws -> Referred {
        try refer([warning], actor: actor)[0]
    }

    /// Refers a batch of warnings in one transaction: all of them are committed, or none.
    public func refer(_ warnings: [Warning], actor: String = "fanzha") throws -> [Referred] {
        if warnings.isEmpty { return [] }
        let at = now
        return try write { db in try warnings.map { try refer($0, actor: actor, at: at, db: db) } }
    }

    /// Runs a statement prepared once per connection (a batch of thousands of warnings would
    /// otherwise compile each of its statements thousands of times).
    func run(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    private func refer(_ w: Warning, actor: String, at: Double, db: Database) throws -> Referred {
        // The same record at this tier or above: re-screening changes nothing.
        let seen = try Row.fetchAll(db.cachedStatement(sql: "SELECT id, case_id, tier, json_array_length(turns) AS turns FROM evidence WHERE record_key = ?"),
                                    arguments: [w.recordKey])
        if let same = seen.first(where: { (Tier(rawValue: $0["tier"]) ?? .low) >= w.tier }) {
            let caseID: Int64 = same["case_id"]
            guard Tier(rawValue: same["tier"]) == w.tier, w.turns.count > same["turns"] else { return .unchanged(caseID) }
            try run(db, "UPDATE evidence SET turns = ?, hits = ?, score = max(score, ?), seen_at = ? WHERE id = ?",
                    [EvidenceJSON.turns(w.turns), EvidenceJSON.hits(w.hits), w.score, at, same["id"] as Int64])
            for rule in Set(w.hits.map(\.rule)) {
                try run(db, "INSERT OR IGNORE INTO case_rule (case_id, rule) VALUES (?, ?)", [caseID, rule])
            }
            return .extended(caseID)
        }
        let result: Referred
        if let open = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, tier, state FROM referral_case WHERE subject = ? AND state <> 'closed'"),
                                       arguments: [w.subject]) {
            let id: Int64 = open["id"]
            let tier = Tier(rawValue: open["tier"]) ?? .low
            let state: String = open["state"]
            if w.tier > tier {
                try run(db, """
                    UPDATE referral_case SET tier = ?, tier_since = ?, score = max(score, ?), category = coalesce(?, category),
                        counterparty = coalesce(counterparty, ?), updated_at = ? WHERE id = ?
                    """, [w.tier.rawValue, at, w.score, w.category, w.counterparty, at, id])
                try event(db, case: id, at: at, actor: actor, kind: "escalated", from: state, to: state, tier: w.tier,
                          note: "\(tier.rawValue) → \(w.tier.rawValue): \(w.origin)")
                result = .escalated(id)
            } else {
                try run(db, "UPDATE referral_case SET score = max(score, ?), counterparty = coalesce(counterparty, ?), updated_at = ? WHERE id = ?",
                        [w.score, w.counterparty, at, id])
                try event(db, case: id, at: at, actor: actor, kind: "joined", from: state, to: state, tier: tier, note: w.origin)
                result = .joined(id)
            }
        } else if let closed = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, tier FROM referral_case WHERE subject = ? ORDER BY id DESC LIMIT 1"),
                                                arguments: [w.subject]) {
            let id: Int64 = closed["id"]
            let tier = Tier(rawValue: closed["tier"]) ?? .low
            if w.tier > tier {
                // A new, higher warning: the case is worked again from the start, at its new tier.
                try db.execute(sql: """
                    UPDATE referral_case SET state = 'new', outcome = NULL, stop_payment = NULL, closed_at = NULL, tier = ?, tier_since = ?,
                        score = max(score, ?), category = coalesce(?, category), sms_at = NULL, first_call_at = NULL, visited_at = NULL,
                        updated_at = ? WHERE id = ?
                    """, arguments: [w.tier.rawValue, at, w.score, w.category, at, id])
                try event(db, case: id, at: at, actor: actor, kind: "reopened", from: "closed", to: "new", tier: w.tier,
                          note: "a higher warning (\(tier.rawValue) → \(w.tier.rawValue)): \(w.origin)")
                result = .reopened(id)
            } else {
                try event(db, case: id, at: at, actor: actor, kind: "joined", from: "closed", to: "closed", tier: tier,
                          note: "\(w.origin) (not higher than the closed case: left closed)")
                result = .recordedOnClosed(id)
            }
        } else {
            try run(db, """
                INSERT INTO referral_case (subject, counterparty, tier, state, category, score, opened_at, tier_since, updated_at)
                VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?)
                """, [w.subject, w.counterparty, w.tier.rawValue, w.category, w.score, at, at, at])
            let id = db.lastInsertedRowID
            try event(db, case: id, at: at, actor: actor, kind: "opened", from: nil, to: "new", tier: w.tier, note: w.origin)
            result = .opened(id)
        }
        let caseID = result.caseID
        try run(db, """
            INSERT INTO evidence (case_id, record_key, record_id, origin, tier, score, category, counterparty, is_call, turns, hits, seen_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [caseID, w.recordKey, w.recordID, w.origin, w.tier.rawValue, w.score, w.category, w.counterparty,
                  w.isCall, EvidenceJSON.turns(w.turns), EvidenceJSON.hits(w.hits), at])
        for rule in Set(w.hits.map(\.rule)) {
            try run(db, "INSERT OR IGNORE INTO case_rule (case_id, rule) VALUES (?, ?)", [caseID, rule])
        }
        return result
    }

    func event(_ db: Database, case id: Int64, at: Double, actor: String, kind: String, from: String?, to: String,
               tier: Tier, outcome: Outcome? = nil, note: String?) throws {
        try run(db, """
            INSERT INTO case_event (case_id, at, actor, kind, from_state, to_state, tier, outcome, note)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [id, at, actor, kind, from, to, tier.rawValue, outcome?.rawValue, note])
    }

    // MARK: - The workflow

    /// Takes `step` on case `id`: the new state, or a typed error naming the case, its state and
    /// the steps allowed. The change and its history row are one transaction.
    @discardableResult
    public func apply(_ step: Step, to id: Int64, actor: String, note: String? = nil) throws -> CaseState {
        let at = now
        let note = note.flatMap { $0.isEmpty ? nil : $0 }
        if case .claim(let who) = step, who.isEmpty { throw ReferralError.badValue("claim needs an assignee") }
        if case .note = step, note == nil { throw ReferralError.badValue("a note needs its text") }
        return try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT state, tier FROM referral_case WHERE id = ?", arguments: [id]) else {
                throw ReferralError.noSuchCase(id)
            }
            let state = CaseState(rawValue: row["state"]) ?? .new
            let tier = Tier(rawValue: row["tier"]) ?? .low
            if case .close(.alreadyPaid, let stop) = step, (stop ?? "").isEmpty, Workflow.closeOutcomes(state, tier: tier).contains(.alreadyPaid) {
                throw ReferralError.stopPaymentMissing(caseID: id)
            }
            guard let next = Workflow.next(state, tier: tier, step: step) else {
                throw ReferralError.illegalStep(caseID: id, state: state, tier: tier, step: step.name, allowed: Workflow.allowed(state, tier: tier))
            }
            if case .reopen = step, let other = try Int64.fetchOne(db, sql: """
                SELECT id FROM referral_case WHERE state <> 'closed' AND id <> ?
                AND subject = (SELECT subject FROM referral_case WHERE id = ?)
                """, arguments: [id, id]) {
                throw ReferralError.badValue("case \(id) cannot be reopened: the same person has open case \(other)")
            }
            var sets = ["state = ?", "updated_at = ?"]
            var args: [(any DatabaseValueConvertible)?] = [next.rawValue, at]
            var outcome: Outcome?
            var eventNote = note
            switch step {
            case .claim(let who):
                sets.append("assignee = ?"); args.append(who)
                eventNote = note.map { "\(who): \($0)" } ?? who
            case .sms:
                sets.append("sms_at = coalesce(sms_at, ?)"); args.append(at)
            case .call:
                sets.append("first_call_at = coalesce(first_call_at, ?)"); args.append(at)
            case .visitDone:
                sets.append("visited_at = ?"); args.append(at)
            case .close(let o, let stop):
                outcome = o
                sets += ["outcome = ?", "closed_at = ?"]; args += [o.rawValue, at]
                if o == .alreadyPaid { sets.append("stop_payment = ?"); args.append(stop) }
                if o == .alreadyPaid, let stop { eventNote = "110: \(stop)" + (note.map { "; \($0)" } ?? "") }
            case .reopen:
                sets += ["outcome = NULL", "stop_payment = NULL", "closed_at = NULL", "tier_since = ?",
                         "sms_at = NULL", "first_call_at = NULL", "visited_at = NULL"]
                args.append(at)
            case .requestVisit, .note:
                break
            }
            args.append(id)
            try db.execute(sql: "UPDATE referral_case SET \(sets.joined(separator: ", ")) WHERE id = ?", arguments: StatementArguments(args))
            try event(db, case: id, at: at, actor: actor, kind: step.eventKind, from: state.rawValue, to: next.rawValue,
                      tier: tier, outcome: outcome, note: eventNote)
            return next
        }
    }
}

/// The evidence columns' JSON, written by hand: JSONEncoder cost more than the rest of a
/// referral together. The shapes are the ones `Codable` reads back (ReferralQueries).
enum EvidenceJSON {
    static func turns(_ turns: [WarningTurn]) -> String {
        var o: [UInt8] = [0x5B]
        for (i, t) in turns.enumerated() {
            if i > 0 { o.append(0x2C) }
            var j = JSONObjectWriter()
            j.add("speaker", t.speaker)
            j.add("text", t.text)
            o += j.finishBytes()
        }
        o.append(0x5D)
        return String(decoding: o, as: UTF8.self)
    }

    static func hits(_ hits: [WarningHit]) -> String {
        var o: [UInt8] = [0x5B]
        for (i, h) in hits.enumerated() {
            if i > 0 { o.append(0x2C) }
            var j = JSONObjectWriter()
            j.add("rule", h.rule)
            j.add("score", h.score)
            j.addObjects("spans", h.spans) { s, span in
                s.add("end", span.end)
                s.add("start", span.start)
                s.add("text", span.text)
                if let t = span.turn { s.add("turn", t) }
            }
            j.add("title", h.title)
            o += j.finishBytes()
        }
        o.append(0x5D)
        return String(decoding: o, as: UTF8.self)
    }
}
