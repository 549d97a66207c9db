#!/usr/bin/env python3
"""Grows a referral database made by `fanzha scan --refer` to N cases for the latency benchmark
(scripts/bench_referrals.sh): each new case copies the evidence and rules of a real case and gets
a tier, state, outcome and times spread deterministically, so `list`, `overdue` and `report` have
realistic work. Usage: bench_referrals_fill.py DB N"""
import sqlite3, sys, time

db, target = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
con.execute("PRAGMA busy_timeout = 60000")
have = con.execute("SELECT count(*) FROM referral_case").fetchone()[0]
templates = con.execute("""SELECT c.id, c.category, c.score, c.counterparty, e.record_id, e.origin, e.is_call, e.turns, e.hits
                           FROM referral_case c JOIN evidence e ON e.case_id = c.id GROUP BY c.id""").fetchall()
rules = {}
for case_id, rule in con.execute("SELECT case_id, rule FROM case_rule"):
    rules.setdefault(case_id, []).append(rule)
if not templates:
    sys.exit("bench_referrals_fill: no case to copy in " + db)
start = con.execute("SELECT coalesce(max(id), 0) FROM referral_case").fetchone()[0] + 1
t0 = float(int(time.time())) - (target - have) * 3.0   # the newest cases are minutes old
cases, evidence, events, case_rules = [], [], [], []
for k in range(target - have):
    i = start + k
    tid, category, score, counterparty, record_id, origin, is_call, turns, hits = templates[k % len(templates)]
    tier = ("high", "high", "medium", "medium", "medium", "medium", "low", "low", "low", "low")[k % 10]
    opened = t0 + k * 3.0                       # one case every 3 seconds
    phase = (k // 10) % 5                       # 0 new, 1 contacted, 2-4 closed
    state, outcome, call, sms, closed = "new", None, None, None, None
    if phase >= 1:
        late = (k % 7 == 0)
        delay = (400 if tier == "high" else 2400) if late else (120 if tier == "high" else 900)
        if tier == "low":
            sms = opened + (90000 if late else 3600)
            state = "sms_sent"
        else:
            call = opened + delay
            state = "reached"
    if phase >= 2:
        outcome = ("false_alarm", "dissuaded", "dissuaded", "already_paid", "not_reachable")[(k // 50) % 5]
        if tier == "low" and outcome == "already_paid":
            outcome = "dissuaded"
        state, closed = "closed", opened + 7200
    cases.append((i, "bench:%d" % i, counterparty, tier, state, outcome, category, score, opened, opened, sms, call, closed,
                  closed or opened, "110止付 bench" if outcome == "already_paid" else None))
    evidence.append((i, "bench:%d" % i, record_id, origin, tier, score, category, counterparty, is_call, turns, hits, opened))
    events.append((i, opened, "bench", "opened", None, "new", tier, None, origin))
    if closed:
        events.append((i, closed, "bench", "close", "reached" if tier != "low" else "sms_sent", "closed", tier, outcome, None))
    case_rules.extend((i, r) for r in rules.get(tid, []))
with con:
    con.executemany("""INSERT INTO referral_case (id, subject, counterparty, tier, state, outcome, category, score, opened_at, tier_since,
                       sms_at, first_call_at, closed_at, updated_at, stop_payment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", cases)
    con.executemany("""INSERT INTO evidence (case_id, record_key, record_id, origin, tier, score, category, counterparty, is_call, turns, hits,
                       seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""", evidence)
    con.executemany("""INSERT INTO case_event (case_id, at, actor, kind, from_state, to_state, tier, outcome, note)
                       VALUES (?,?,?,?,?,?,?,?,?)""", events)
    con.executemany("INSERT OR IGNORE INTO case_rule (case_id, rule) VALUES (?,?)", case_rules)
print(con.execute("SELECT count(*) FROM referral_case").fetchone()[0])
