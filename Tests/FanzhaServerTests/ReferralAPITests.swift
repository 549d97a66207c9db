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
