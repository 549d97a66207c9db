import GRDB

/// The referral database's schema, as migrations: a database made by any earlier version opens
/// and is brought up to date. Never edit a migration that has shipped; add one.
enum Schema {
    /// The migrations in order. `v1` was the first schema; `v2` adds the per-rule index the
    /// report reads and the 110 stop-payment column, both filled from what v1 kept; `v3` keys the
    /// subjects that earlier versions kept as written (`SubjectKey`).
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in try v1(db) }
        m.registerMigration("v2") { db in try v2(db) }
        m.registerMigration("v3") { db in try v3(db) }
        return m
    }

    static let latest = "v3"

    static func v1(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE referral_case (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                subject TEXT NOT NULL,
                counterparty TEXT,
                tier TEXT NOT NULL CHECK (tier IN ('low', 'medium', 'high')),
                state TEXT NOT NULL CHECK (state IN ('new', 'calling', 'sms_sent', 'reached', 'unreached',
                                                     'visit_requested', 'visited', 'closed')),
                outcome TEXT CHECK (outcome IN ('dissuaded', 'already_paid', 'not_reachable', 'false_alarm', 'duplicate')),
                category TEXT,
                score INTEGER NOT NULL,
                assignee TEXT,
                opened_at REAL NOT NULL,
                tier_since REAL NOT NULL,
                sms_at REAL,
                first_call_at REAL,
                visited_at REAL,
                closed_at REAL,
                updated_at REAL NOT NULL,
                CHECK ((state = 'closed') = (outcome IS NOT NULL))
            );
            -- One open case per person, whatever number of processes write at once.
            CREATE UNIQUE INDEX referral_case_open_subject ON referral_case(subject) WHERE state <> 'closed';
            CREATE INDEX referral_case_subject ON referral_case(subject, id);
            CREATE INDEX referral_case_state ON referral_case(state, tier);
            CREATE INDEX referral_case_category ON referral_case(category);

            -- Every warning that opened or joined a case: the verdict's evidence and the text.
            CREATE TABLE evidence (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                case_id INTEGER NOT NULL REFERENCES referral_case(id),
                record_key TEXT NOT NULL,
                record_id TEXT NOT NULL,
                origin TEXT NOT NULL,
                tier TEXT NOT NULL,
                score INTEGER NOT NULL,
                category TEXT,
                counterparty TEXT,
                is_call INTEGER NOT NULL,
                turns TEXT NOT NULL,   -- JSON [{"speaker","text"}]
                hits TEXT NOT NULL,    -- JSON [{"rule","title","score","spans":[{"turn","start","end","text"}]}]
                seen_at REAL NOT NULL,
                UNIQUE (record_key, tier)
            );
            CREATE INDEX evidence_case ON evidence(case_id);

            -- The history: append-only, one row per change (who, when, from, to, note).
            CREATE TABLE case_event (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                case_id INTEGER NOT NULL REFERENCES referral_case(id),
                at REAL NOT NULL,
                actor TEXT NOT NULL,
                kind TEXT NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                tier TEXT NOT NULL,
                outcome TEXT,
                note TEXT
            );
            CREATE INDEX case_event_case ON case_event(case_id, id);
            CREATE TRIGGER case_event_no_update BEFORE UPDATE ON case_event
                BEGIN SELECT RAISE(ABORT, 'case_event is append-only'); END;
            CREATE TRIGGER case_event_no_delete BEFORE DELETE ON case_event
                BEGIN SELECT RAISE(ABORT, 'case_event is append-only'); END;
            """)
    }

    static func v2(_ db: Database) throws {
        try db.execute(sql: """
            -- Which rules each case's evidence fired: the report's false alarms per rule without
            -- reading every case's JSON.
            CREATE TABLE case_rule (
                case_id INTEGER NOT NULL REFERENCES referral_case(id),
                rule TEXT NOT NULL,
                PRIMARY KEY (case_id, rule)
            ) WITHOUT ROWID;
            CREATE INDEX case_rule_rule ON case_rule(rule);
            INSERT OR IGNORE INTO case_rule (case_id, rule)
                SELECT evidence.case_id, json_extract(hit.value, '$.rule') FROM evidence, json_each(evidence.hits) AS hit;

            -- The 110 stop-payment step of an already_paid case (v1 kept it in the closing note).
            ALTER TABLE referral_case ADD COLUMN stop_payment TEXT;
            UPDATE referral_case SET stop_payment = (
                SELECT note FROM case_event
                WHERE case_event.case_id = referral_case.id AND kind = 'close' AND outcome = 'already_paid'
                ORDER BY id DESC LIMIT 1)
            WHERE outcome = 'already_paid';
            """)
    }

    /// Subjects as `SubjectKey` keys them (earlier versions kept them as written, so
    /// `138 0013 8000` and `13800138000` were two people). An open case whose key another open
    /// case already has keeps its subject as written (one open case per person: the unique index
    /// refuses the second; `UPDATE OR IGNORE` skips it), so no case is merged or lost.
    static func v3(_ db: Database) throws {
        let rows = try Row.fetchAll(db, sql: "SELECT id, subject FROM referral_case ORDER BY state = 'closed', id")
        let update = try db.makeStatement(sql: "UPDATE OR IGNORE referral_case SET subject = ? WHERE id = ?")
        for row in rows {
            let subject: String = row["subject"]
            let key = SubjectKey.key(subject)
            if key != subject && !key.isEmpty {
                try update.execute(arguments: [key, row["id"] as Int64])
            }
        }
    }
}
