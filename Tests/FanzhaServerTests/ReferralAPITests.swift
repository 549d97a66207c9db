import Fanzha
import FanzhaReferrals
@testable import FanzhaServer
import Foundation
import Testing

/// A referral database of its own, removed afterwards.
func withReferralStore<T>(_ body: (ReferralStore) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-serve-cases-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try await body(try ReferralStore(path: dir.appendingPathComponent("cases.db").path))
}

private let desk = "0123456789abcdef-dispatch"
/// A call written for these tests: the level rises to high before its last turns.
private let liveTurns: [(String, String)] = [
    ("caller", "喂，你好，这里是市公安局刑侦大队"),
    ("callee", "啊？什么事"),
    ("caller", "你名下的银行卡涉嫌洗钱，现在需要你配合调查"),
    ("callee", "我没有啊"),
    ("caller", "为了证明你的清白，你需要把所有资金转到安全账户"),
    ("callee", "那我要怎么做"),
    ("caller", "不要告诉任何人，去银行转账，转完联系我"),
]
private let screener = "0123456789abcdef-screen"

@Suite(.serialized) struct ReferralAPITests {
    @Test func scanReferOpensCasesAndTheWorkflowRunsWithAnAuditTrail() async throws {
        let table = try TokenTable.parse(tokensFile, path: "tokens")
        try await withReferralStore { store in
            try await withServer({ $0.tokens = table; $0.referrals = store; $0.subjectField = "to" }) { port, _ in
                let body = #"[{"id":"s1","to":"13800000001","text":"我是市公安局刑警，你名下的银行卡涉嫌洗钱，请把钱转到安全账户配合调查"},{"id":"s2","to":"13800000002","text":"妈，我周末回家吃饭"}]"#
                let scanned = try await http(port, "POST", "/v1/scan?refer=1", json: body, token: screener)
                #expect(scanned.status == 200)
                let cases = try #require(scanned.headers["fanzha-cases"]).split(separator: ",").map(String.init)
                #expect(cases.count == 2 && cases[1] == "-")
                let id = try #require(Int(cases[0]))
                // The verdicts are those of a plain scan.
                let plain = try await http(port, "POST", "/v1/scan", json: body, token: screener)
                #expect(plain.text == scanned.text)
                // Screening the same record again joins nothing new.
                let again = try await http(port, "POST", "/v1/scan?refer=1", json: body, token: screener)
                #expect(again.headers["fanzha-cases"] == "\(id),-")

                let forbidden = try await http(port, "GET", "/v1/referrals", token: screener)
                #expect(forbidden.status == 403)
                let list = try await http(port, "GET", "/v1/referrals?open=1&tier=high", token: desk).object
                let listed = try #require(list["cases"] as? [[String: Any]])
                #expect(listed.count == 1)
                #expect(listed.first?["subject"] as? String == "13800000001")
                #expect(listed.first?["deadline"] is String)

                let shown = try await http(port, "GET", "/v1/referrals/\(id)", token: desk).object
                #expect(shown["state"] as? String == "new")
                let evidence = try #require((shown["evidence"] as? [[String: Any]])?.first)
                #expect((evidence["hits"] as? [[String: Any]])?.contains { $0["rule"] as? String == "police.safe_account" } == true)
                #expect((shown["history"] as? [[String: Any]])?.contains { $0["kind"] as? String == "read" && $0["actor"] as? String == "desk" } == true)

                func step(_ name: String, _ json: String = "{}") async throws -> HTTPResult {
                    try await http(port, "POST", "/v1/referrals/\(id)/\(name)", json: json, token: desk)
                }
                #expect(try await step("claim").object["state"] as? String == "calling")
                #expect(try await step("call", #"{"result":"unreached","note":"无人接听"}"#).object["state"] as? String == "unreached")
                // A high case not reached must be visited before it may be closed as dissuaded.
                let refused = try await step("close", #"{"outcome":"dissuaded"}"#)
                #expect(refused.status == 409)
                #expect(refused.object["state"] as? String == "unreached")
                #expect((refused.object["allowed"] as? [String])?.contains("visit") == true)
                #expect(try await step("visit").object["state"] as? String == "visit_requested")
                #expect(try await step("visit", #"{"done":true}"#).object["state"] as? String == "visited")
                let closed = try await step("close", #"{"outcome":"dissuaded","note":"已劝阻"}"#).object
                #expect(closed["state"] as? String == "closed")
                #expect(closed["outcome"] as? String == "dissuaded")
                let history = try #require(closed["history"] as? [[String: Any]])
                let changes = history.filter { !["opened", "read"].contains($0["kind"] as? String ?? "") }
                #expect(changes.map { $0["kind"] as? String ?? "" } == ["claim", "call", "visit_requested", "visited", "close"])
                #expect(changes.allSatisfy { $0["actor"] as? String == "desk" })

                #expect(try await step("call", #"{"result":"maybe"}"#).status == 400)
                #expect(try await step("close", #"{"outcome":"#).status == 400)
                #expect(try await http(port, "GET", "/v1/referrals/999999", token: desk).status == 404)
                #expect(try await http(port, "GET", "/v1/referrals/abc", token: desk).status == 404)
                #expect(try await http(port, "GET", "/v1/referrals?tier=urgent", token: desk).status == 400)
            }
        }
    }

    /// A live call over HTTP opens its case at the alert, while the call is still going on (as
    /// `scan --input events --refer`), keyed by the person however the number is written; the
    /// end extends the evidence to the whole call, in the same case.
    @Test func liveCallsOverHTTPOpenTheirCaseAtTheAlert() async throws {
        let table = try TokenTable.parse(tokensFile, path: "tokens")
        try await withReferralStore { store in
            try await withServer({ $0.tokens = table; $0.referrals = store; $0.subjectField = "callee"; $0.counterpartyField = "caller_number" }) { port, _ in
                var caseID: Int? = nil
                var turnsSent = 0
                for (i, (speaker, text)) in liveTurns.enumerated() {
                    let extra = i == 0 ? #","callee":"+86 138-0013-8000","caller_number":17000000000"# : ""
                    let r = try await http(port, "POST", "/v1/calls/h1/turns", json: #"{"speaker":"\#(speaker)","text":"\#(text)"\#(extra)}"#, token: screener)
                    #expect(r.status == 200, "\(r.text)")
                    turnsSent += 1
                    if let id = r.object["case"] as? Int {
                        #expect(r.object["alert"] is [String: Any])   // the case comes with the alert that opened it
                        caseID = id
                        break
                    }
                    #expect(r.object["case"] is NSNull)
                }
                let id = try #require(caseID, "no case opened during the call")
                #expect(turnsSent < liveTurns.count)
                // Open while the call is: the turns up to the alert, the person keyed, the counterparty as written.
                let atAlert = try await http(port, "GET", "/v1/referrals/\(id)", token: desk).object
                #expect(atAlert["subject"] as? String == "13800138000")
                #expect(atAlert["counterparty"] as? String == "17000000000")
                let first = try #require((atAlert["evidence"] as? [[String: Any]])?.first)
                #expect(first["is_call"] as? Bool == true && first["record_id"] as? String == "h1")
                #expect((first["turns"] as? [Any])?.count == turnsSent)
                #expect((atAlert["history"] as? [[String: Any]])?.first?["actor"] as? String == "screener")
                for (speaker, text) in liveTurns.dropFirst(turnsSent) {
                    let r = try await http(port, "POST", "/v1/calls/h1/turns", json: #"{"speaker":"\#(speaker)","text":"\#(text)"}"#, token: screener)
                    #expect(r.status == 200)
                }
                let end = try await http(port, "POST", "/v1/calls/h1/end", token: screener).object
                #expect(end["case"] as? Int == id)
                let whole = try await http(port, "GET", "/v1/referrals/\(id)", token: desk).object
                #expect(((whole["evidence"] as? [[String: Any]])?.last?["turns"] as? [Any])?.count == liveTurns.count)
                // Another call to the same person, the number written another way: the same case.
                for (speaker, text) in liveTurns {
                    _ = try await http(port, "POST", "/v1/calls/h2/turns", json: #"{"speaker":"\#(speaker)","text":"\#(text)","callee":"8613800138000"}"#, token: screener)
                }
                let second = try await http(port, "POST", "/v1/calls/h2/end", token: screener).object
                #expect(second["case"] as? Int == id)
                #expect(try store.list().count == 1)
                let bySubject = try await http(port, "GET", "/v1/referrals?subject=%2B86%20138%200013%208000", token: desk).object
                #expect((bySubject["cases"] as? [[String: Any]])?.map { $0["id"] as? Int } == [id])
                // A field the server does not name is still refused.
                #expect(try await http(port, "POST", "/v1/calls/h3/turns", json: #"{"text":"x","to":"1"}"#, token: screener).status == 400)
            }
        }
    }

    /// The WebSocket refers its calls too, and says so with a `case` event after the alert.
    @Test func liveCallsOverTheWebSocketOpenTheirCaseAtTheAlert() async throws {
        try await withReferralStore { store in
            try await withServer({ $0.referrals = store; $0.subjectField = "callee" }) { port, _ in
                let lines = liveTurns.map { #"{"call":"s1","speaker":"\#($0.0)","text":"\#($0.1)","callee":"138 0013 8001"}"# }
                // The call is not ended: the case must come while it is open.
                let (received, openCase) = try await offPool { () -> ([String], CaseDetail?) in
                    let ws = try WebSocketClient(port: port, path: "/v1/calls/stream")
                    defer { ws.close() }
                    ws.sendText(lines.joined(separator: "\n"))
                    var received: [String] = []
                    while let m = ws.receiveText() {
                        received.append(m)
                        if m.hasPrefix(#"{"event":"case""#) { break }
                    }
                    return (received, try store.list().first.map { try store.case($0.id) })
                }
                #expect(openCase?.summary.state == .new && openCase?.evidence.count == 1)
                let caseEvent = try #require(received.first { $0.hasPrefix(#"{"event":"case""#) })
                let alertIndex = try #require(received.firstIndex { $0.hasPrefix(#"{"event":"alert""#) })
                #expect(received.firstIndex(of: caseEvent)! > alertIndex)
                let o = try #require(try JSONSerialization.jsonObject(with: Data(caseEvent.utf8)) as? [String: Any])
                #expect(o["call"] as? String == "s1" && o["referral"] as? String == "opened")
                let id = try #require(o["case"] as? Int)
                let c = try store.case(Int64(id))
                #expect(c.summary.subject == "13800138001")
                #expect(c.evidence.first?.isCall == true && c.evidence.first?.recordKey == "api:s1")
                #expect(c.history.first?.actor == "anonymous")
            }
        }
    }

    @Test func withoutAStoreReferralRoutesAre404() async throws {
        try await withServer { port, _ in
            let list = try await http(port, "GET", "/v1/referrals").status
            let refer = try await http(port, "POST", "/v1/scan?refer=1", json: #"{"text":"x"}"#).status
            let badRefer = try await http(port, "POST", "/v1/scan?refer=2", json: #"{"text":"x"}"#).status
            #expect(list == 404)
            #expect(refer == 404)
            #expect(badRefer == 400)
        }
    }
}
