import Foundation
import GRDB
import Synchronization
import Testing
@testable import FanzhaReferrals
#if canImport(Glibc)
import Glibc
#endif

// Several real processes on one file: two `scan --refer` writing at once lose and duplicate
// nothing, and one killed with SIGKILL mid-batch leaves a file that opens with every committed
// case whole.

/// One rule: the scans here measure the store, not the bundled rules (compiled in a debug build
/// they take most of a test's time).
private let tinyRules = """
levels low 3, medium 6, high 10

category police {
  title  "冒充公检法"
  advice "挂断，拨打96110。"
  script "您好，这里是96110反诈中心。"
}

rule police.safe_account {
  title    "要求转入安全账户"
  category police
  score    6
  match    "安全账户"
}
"""

/// `n` short scam messages, ids `prefix0…`, person `p{i + offset}`: each scores at least low.
private func messages(_ n: Int, prefix: String, subjectOffset: Int) -> String {
    var out = ""
    out.reserveCapacity(n * 120)
    for i in 0..<n {
        out += "{\"id\":\"\(prefix)\(i)\",\"to\":\"p\(i + subjectOffset)\",\"text\":\"我是公安局的，你涉嫌洗钱，请把钱转到安全账户 \(i)\"}\n"
    }
    return out
}

/// Everything a committed case must have: it opens, its evidence and history are complete, its
/// history replays to its state, and the file passes SQLite's own check.
private func checkWhole(_ path: String) throws -> (cases: Int, evidence: [String]) {
    let store = try ReferralStore(path: path)
    let cases = try store.details(CaseFilter())
    for c in cases {
        #expect(!c.evidence.isEmpty, "case \(c.summary.id) without evidence")
        #expect(c.history.first?.kind == "opened" && c.history.first?.from == nil)
        var state: CaseState? = nil
        for e in c.history {
            #expect(e.from == state, "case \(c.summary.id): \(e.kind)")
            state = e.to
        }
        #expect(state == c.summary.state)
        for e in c.evidence { #expect(!e.turns.isEmpty && !e.hits.isEmpty) }
    }
    let db = try DatabaseQueue(path: path)
    #expect(try db.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
    let opened = try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM case_event WHERE kind = 'opened'") }
    #expect(opened == cases.count)
    let openPerSubject = try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM (SELECT subject FROM referral_case WHERE state <> 'closed' GROUP BY subject HAVING count(*) > 1)") }
    #expect(openPerSubject == 0)
    return (cases.count, cases.flatMap { $0.evidence.map(\.recordKey) })
}

@Test func twoProcessesWritingAtOnceLoseAndDuplicateNothing() throws {
    let dir = try ScratchDirectory()
    let n = 10_000
    // The two halves share 5,000 people: their warnings must meet in one case each.
    let a = try dir.write("a.jsonl", messages(n, prefix: "a", subjectOffset: 0))
    let b = try dir.write("b.jsonl", messages(n, prefix: "b", subjectOffset: n / 2))
    let db = dir.path("cases.db")
    let rules = try dir.write("tiny.fz", tinyRules)
    let args = { (input: String) in ["scan", "--count", "--rules", rules, "--refer", db, "--refer-level", "low", "--subject-field", "to", input] }
    let pa = try Fanzha.start(args(a), in: dir, name: "a")
    let pb = try Fanzha.start(args(b), in: dir, name: "b")
    pa.waitUntilExit()
    pb.waitUntilExit()
    let errA = try String(contentsOfFile: dir.path("a.err"), encoding: .utf8), errB = try String(contentsOfFile: dir.path("b.err"), encoding: .utf8)
    #expect(pa.terminationStatus == 0 && pb.terminationStatus == 0, "\(errA)\n\(errB)")
    let (cases, keys) = try checkWhole(db)
    #expect(cases == n + n / 2)
    #expect(keys.count == 2 * n && Set(keys).count == 2 * n)   // every warning once
    let shared = try ReferralStore(path: db).list({ var f = CaseFilter(); f.subject = "p\(n / 2)"; return f }())
    #expect(shared.count == 1)
    let evidence = try ReferralStore(path: db).case(shared[0].id).evidence.count
    #expect(evidence == 2)
}

@Test func aWriterKilledMidBatchLeavesEveryCommittedCaseWhole() throws {
    let dir = try ScratchDirectory()
    let n = 12_000
    let input = try dir.write("big.jsonl", messages(n, prefix: "k", subjectOffset: 0))
    let db = dir.path("cases.db")
    let scan = ["scan", "--count", "--rules", try dir.write("tiny.fz", tinyRules), "--refer", db, "--refer-level", "low", "--subject-field", "to", input]
    let p = try Fanzha.start(scan, in: dir, name: "victim")
    // Wait until some batches are committed, then kill it where it stands.
    let deadline = Date().addingTimeInterval(60)
    var committed = 0
    while Date() < deadline && p.isRunning {
        usleep(50_000)
        if FileManager.default.fileExists(atPath: db),
           let q = try? DatabaseQueue(path: db),
           let c = try? q.read({ try Int.fetchOne($0, sql: "SELECT count(*) FROM referral_case") ?? 0 }) {
            committed = c
            if c >= 2048 { break }
        }
    }
    #expect(p.isRunning, "the scan ended before it could be killed (\(committed) cases)")
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    #expect(p.terminationReason == .uncaughtSignal)
    let (cases, keys) = try checkWhole(db)
    #expect(cases >= committed && cases < n)
    // Batches commit in input order, all or nothing: what is there is the input's first records.
    #expect(Set(keys) == Set((0..<cases).map { "k\($0)" }))
    // And the file goes on working: the same scan again completes it without duplicates.
    let rest = try Fanzha.run(scan, in: dir)
    #expect(rest.status == 0, "\(rest.err)")
    #expect(rest.err.contains("\(n - cases) opened"), "\(rest.err)")
    #expect(try checkWhole(db).cases == n)
}

/// Opening a new file switches it to WAL, which SQLite refuses with SQLITE_BUSY (without the
/// busy handler) while another connection does the same. Several stores opened at once on one
/// new file must all open it: two scans started together once lost one of them this way.
@Test func storesOpenedAtOnceOnANewFileAllOpenIt() throws {
    let dir = try ScratchDirectory()
    for round in 0..<20 {
        let db = dir.path("new-\(round).db")
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do { _ = try ReferralStore(path: db) } catch { failures.withLock { $0.append("\(error)") } }
        }
        #expect(failures.withLock { $0 } == [], "round \(round)")
        #expect(try ReferralStore(path: db).appliedMigrations().last == Schema.latest)
    }
}
