import Foundation
import GRDB
import Testing
@testable import FanzhaReferrals

// End to end through the built `fanzha`: scan --refer (messages and live calls), the
// `referrals` commands and their exit statuses, redaction, export --format eval read by eval.

/// Messages written for these tests (not from any data set): two people at risk, scams and an
/// ordinary message.
enum Fixture {
    static let police = "【通知】我是市公安局刑侦支队民警，你的银行卡涉嫌洗钱案件，必须马上把全部存款转到国家安全账户配合调查，不准告诉家人，联系13912345678"
    static let investment = "老师带你炒股，内部消息稳赚不赔，下载这个APP先充值五万元，包赚翻倍，名额有限"
    static let ordinary = "妈，我周六回家吃饭，记得帮我留点饺子"
    static let refund = "您好，我是淘宝客服，您购买的商品有质量问题，我们给您办理三倍理赔退款，请提供银行卡号和验证码"

    static func messages() -> String {
        func line(_ id: String, _ to: String, _ from: String, _ text: String) -> String {
            "{\"id\":\"\(id)\",\"to\":\"\(to)\",\"from\":\"\(from)\",\"text\":\"\(text)\"}"
        }
        return [
            line("m1", "13800000001", "95566001", police),
            line("m2", "13800000002", "https://x.example/app", investment),
            line("m3", "13800000001", "95566002", refund),
            line("m4", "13800000003", "13700000000", ordinary),
        ].joined(separator: "\n") + "\n"
    }
}

private func referrals(_ args: [String], _ db: String, in dir: ScratchDirectory) throws -> Fanzha.Outcome {
    try Fanzha.run(["referrals", args[0], db] + args.dropFirst(), in: dir)
}

@Test func scanReferOpensJoinsAndNeverDuplicates() throws {
    let dir = try ScratchDirectory()
    let input = try dir.write("sms.jsonl", Fixture.messages())
    let db = dir.path("cases.db")
    let scan = ["scan", "--format", "jsonl", "--refer", db, "--subject-field", "to", "--counterparty-field", "from", input]
    let first = try Fanzha.run(scan, in: dir)
    #expect(first.status == 0, "\(first.err)")
    #expect(first.lines.count == 4)   // every verdict still printed
    #expect(first.err.contains("referrals: 2 opened, 1 joined"), "\(first.err)")
    let store = try ReferralStore(path: db)
    let cases = try store.list()
    #expect(cases.map(\.subject) == ["13800000001", "13800000002"])
    #expect(cases[0].counterparty == "95566001")
    let detail = try store.case(cases[0].id)
    #expect(detail.evidence.map(\.recordID) == ["m1", "m3"])
    #expect(detail.evidence[0].turns.first?.text == Fixture.police)
    #expect(!detail.evidence[0].hits.isEmpty)
    // Again, and with another output format: nothing new.
    let again = try Fanzha.run(["scan", "-q", "--refer", db, "--subject-field", "to", input], in: dir)
    #expect(again.status == 0)
    #expect(again.err.contains("referrals: 0 opened, 0 joined, 0 escalated, 0 reopened, 3 unchanged"), "\(again.err)")
    #expect(try store.list().count == 2)
    #expect(try store.case(cases[0].id).evidence.count == 2)
    // Plain text lines are known by file:line; without a subject each is a case of its own.
    let text = try dir.write("lines.txt", Fixture.police + "\n" + Fixture.investment + "\n")
    _ = try Fanzha.run(["scan", "--refer", db, text], in: dir)
    _ = try Fanzha.run(["scan", "--refer", db, text], in: dir)
    #expect(try store.list().map(\.subject).suffix(2) == ["record:\(text):1", "record:\(text):2"])
}

@Test func liveCallsOpenTheCaseAtTheAlert() throws {
    let dir = try ScratchDirectory()
    let turns = [
        ("客服", "您好，请问是王女士吗"), ("客户", "是我，什么事"),
        ("客服", "我是市公安局刑侦支队民警，你的银行卡涉嫌洗钱案件"), ("客户", "啊？不可能吧"),
        ("客服", "必须马上把全部存款转到国家安全账户配合调查，不准告诉家人"), ("客户", "好的，我去银行"),
        ("客服", "转完告诉我"), ("客户", "嗯"),
    ]
    var lines = turns.enumerated().map { i, t in
        "{\"call\":\"c1\",\"speaker\":\"\(t.0)\",\"text\":\"\(t.1)\",\"t\":\(i),\"callee\":\"13800000009\",\"caller_number\":\"+8617000000000\"}"
    }
    lines.append("{\"call\":\"c1\",\"end\":true}")
    let db = dir.path("cases.db")
    // The events arrive on a pipe, as from a switch: the first five turns, then a pause.
    let input = Pipe()
    let p = try Fanzha.start(["scan", "--input", "events", "--refer", db, "--subject-field", "callee", "--counterparty-field", "caller_number"],
                             in: dir, name: "live", stdin: input)
    input.fileHandleForWriting.write(Data((lines.prefix(5).joined(separator: "\n") + "\n").utf8))
    var opened: CaseDetail?
    let deadline = Date().addingTimeInterval(60)
    while opened == nil && Date() < deadline && p.isRunning {
        usleep(100_000)
        if FileManager.default.fileExists(atPath: db), let store = try? ReferralStore(path: db), let c = try? store.list().first {
            opened = try? store.case(c.id)
        }
    }
    // The case is there while the call is still going on, with the turns it had at the alert.
    let atAlert = try #require(opened, "no case while the call was open")
    #expect(p.isRunning)
    #expect(atAlert.summary.subject == "13800000009" && atAlert.summary.counterparty == "+8617000000000")
    let first = try #require(atAlert.evidence.first)
    #expect(first.isCall && first.recordKey == "c1" && !first.hits.isEmpty)
    #expect(first.turns.count <= 5 && first.turns.map(\.text) == Array(turns.prefix(first.turns.count).map(\.1)))
    #expect(atAlert.history.first?.kind == "opened")
    input.fileHandleForWriting.write(Data((lines.dropFirst(5).joined(separator: "\n") + "\n").utf8))
    try input.fileHandleForWriting.close()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "\((try? String(contentsOfFile: dir.path("live.err"), encoding: .utf8)) ?? "")")
    // At the end of the call its evidence covers the whole call, in the same case.
    let store = try ReferralStore(path: db)
    #expect(try store.list().count == 1)
    #expect(try store.case(atAlert.summary.id).evidence.last?.turns.count == turns.count)
}

@Test func theWorkflowFromTheCommandLine() throws {
    let dir = try ScratchDirectory()
    let input = try dir.write("sms.jsonl", Fixture.messages())
    let db = dir.path("cases.db")
    _ = try Fanzha.run(["scan", "-q", "--refer", db, "--subject-field", "to", input], in: dir)
    let list = try referrals(["list"], db, in: dir)
    #expect(list.status == 0 && list.lines.count == 2, "\(list.err)")
    #expect(list.lines[0].hasPrefix("#1 HIGH new"), "\(list.out)")
    let tsv = try referrals(["list", "--format", "tsv", "--tier", "high"], db, in: dir)
    #expect(tsv.lines.first == ReferralText.tsvHeader && tsv.lines.count == 3)   // header and both cases (both high)
    #expect(try referrals(["list", "--state", "closed"], db, in: dir).status == 1)
    #expect(try referrals(["list", "--state", "nope"], db, in: dir).status == 2)
    // Nothing overdue under the default deadlines; everything under a tiny one.
    #expect(try referrals(["overdue"], db, in: dir).status == 1)
    let late = try referrals(["overdue", "--deadline", "high.call=0.001s", "--deadline", "medium.call=0.001s", "--format", "jsonl"], db, in: dir)
    #expect(late.status == 0 && late.lines.count == 2 && late.out.contains("\"overdue\":\"call\""), "\(late.out)\(late.err)")

    #expect(try referrals(["claim", "1", "--by", "王警官"], db, in: dir).out == "case 1: new → calling\n")
    let illegal = try referrals(["visit", "1", "--done"], db, in: dir)
    #expect(illegal.status == 2)
    #expect(illegal.err.contains("case 1 is calling (high): `visit --done` is not allowed; allowed: call --result reached, call --result unreached"), "\(illegal.err)")
    #expect(try referrals(["call", "1", "--result", "unreached", "--note", "关机"], db, in: dir).out == "case 1: calling → unreached\n")
    #expect(try referrals(["close", "1", "--outcome", "not_reachable"], db, in: dir).status == 2)   // high: visit first
    #expect(try referrals(["visit", "1"], db, in: dir).status == 0)
    #expect(try referrals(["visit", "1", "--done"], db, in: dir).status == 0)
    let paid = try referrals(["close", "1", "--outcome", "already_paid"], db, in: dir)
    #expect(paid.status == 2 && paid.err.contains("--stop-payment"))
    #expect(try referrals(["close", "1", "--outcome", "already_paid", "--stop-payment", "110止付 单号 A1"], db, in: dir).status == 0)
    #expect(try referrals(["note", "1", "家属已知情"], db, in: dir).status == 0)
    #expect(try referrals(["call", "2", "--result", "reached"], db, in: dir).status == 0)
    #expect(try referrals(["close", "2", "--outcome", "false_alarm"], db, in: dir).status == 0)
    #expect(try referrals(["close", "9", "--outcome", "false_alarm"], db, in: dir).err == "fanzha: no case 9\n")

    let show = try referrals(["show", "1"], db, in: dir)
    #expect(show.status == 0)
    #expect(show.out.contains("〖"), "\(show.out)")   // evidence marked as in explain
    #expect(show.out.contains("claim  new → calling"))
    #expect(show.out.contains("110 stop-payment: 110止付 单号 A1"))
    #expect(show.out.contains("王警官"))

    let report = try referrals(["report", "--format", "json"], db, in: dir)
    let json = try #require(try JSONSerialization.jsonObject(with: Data(report.out.utf8)) as? [String: Any])
    let total = try #require(json["total"] as? [String: Any])
    #expect(total["cases"] as? Int == 2 && total["already_paid"] as? Int == 1 && total["false_alarms"] as? Int == 1)
    let text = try referrals(["report"], db, in: dir)
    #expect(text.out.hasPrefix("Referral report: 2 cases, 0 open"), "\(text.out)")
}

@Test func exportRedactsAndEvalReadsItsLabels() throws {
    let dir = try ScratchDirectory()
    let input = try dir.write("sms.jsonl", Fixture.messages())
    let db = dir.path("cases.db")
    _ = try Fanzha.run(["scan", "-q", "--refer", db, "--subject-field", "to", "--counterparty-field", "from", input], in: dir)
    _ = try referrals(["call", "1", "--result", "reached"], db, in: dir)
    _ = try referrals(["close", "1", "--outcome", "dissuaded"], db, in: dir)
    _ = try referrals(["close", "2", "--outcome", "false_alarm"], db, in: dir)

    let csv = try referrals(["export", "--format", "csv"], db, in: dir)
    #expect(csv.status == 0 && csv.lines.first == ReferralExport.csvHeader)
    #expect(!csv.out.contains("13912345678") && !csv.out.contains("13800000001") && csv.out.contains("[手机号]"), "\(csv.out)")
    let plain = try referrals(["export", "--format", "csv", "--no-redact"], db, in: dir)
    #expect(plain.out.contains("13912345678") && plain.out.contains("13800000001"))
    let jsonl = try referrals(["export"], db, in: dir)
    #expect(jsonl.lines.count == 2 && !jsonl.out.contains("13912345678"))

    let outcomes = dir.path("outcomes.jsonl")
    let eval = try referrals(["export", "--format", "eval", "-o", outcomes], db, in: dir)
    #expect(eval.status == 0, "\(eval.err)")
    let records = try String(contentsOfFile: outcomes, encoding: .utf8).split(separator: "\n")
    #expect(records.count == 3)   // case 1: m1 and m3 (dissuaded, scam); case 2: m2 (false alarm, benign)
    #expect(records.filter { $0.contains("\"label\":\"benign\"") }.count == 1)
    #expect(records.filter { $0.contains("\"label\":\"scam\"") }.count == 2)
    let measured = try Fanzha.run(["eval", "--format", "json", outcomes], in: dir)
    #expect(measured.status == 0, "\(measured.err)")
    let result = try #require(try JSONSerialization.jsonObject(with: Data(measured.out.utf8)) as? [String: Any])
    #expect(result["records"] as? Int == 3 && result["fraud"] as? Int == 2 && result["benign"] as? Int == 1, "\(measured.out)")
}
