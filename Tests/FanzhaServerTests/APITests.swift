import Fanzha
@testable import FanzhaServer
import Foundation
import Testing

// API tests against a server on a free loopback port, over real sockets.

private let police = "我是市公安局刑警，你名下的银行卡涉嫌洗钱，请把钱转到安全账户配合调查"
private let ordinary = "妈，我周末回家吃饭，帮我留两个菜"

@Suite(.serialized) struct APITests {
    /// `POST /v1/scan` answers with the bytes `scan --format jsonl` prints, for messages, calls and
    /// records with pass-through fields.
    @Test func scanIsByteIdenticalToTheCommandLine() async throws {
        let records = [
            #"{"id":"m1","text":"\#(police)"}"#,
            #"{"id":7,"text":"\#(ordinary)","sender":"+8613800000000","meta":{"n":1e400,"tags":["a","\u00e9"]}}"#,
            #"{"id":"c1","turns":[{"speaker":"caller","text":"你好，这里是派出所，你的身份信息被人冒用参与了非法集资"},{"speaker":"callee","text":"啊？不可能吧"},{"speaker":"caller","text":"你需要把资金转到安全账户证明清白"}]}"#,
            #"{"id":"x","content":"恭喜您中奖了，请先缴纳手续费500元领取奖品","label":"prize"}"#,
        ]
        let cli = try await runFanzha(["scan", "--format", "jsonl", "--input", "jsonl", "--rules", Package.rules], stdin: Array((records.joined(separator: "\n") + "\n").utf8))
        let expected = String(decoding: cli, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(expected.count == records.count)
        try await withServer { port, _ in
            for (record, line) in zip(records, expected) {
                let r = try await http(port, "POST", "/v1/scan", json: record)
                #expect(r.status == 200)
                #expect(r.text == line + "\n")
            }
            // An array answers with the same verdicts, in order.
            let r = try await http(port, "POST", "/v1/scan", json: "[" + records.joined(separator: ",\n ") + "]")
            #expect(r.status == 200)
            #expect(r.text == "[" + expected.joined(separator: ",") + "]\n")
        }
    }

    @Test func arrayElementThatIsNoRecordKeepsItsPlace() async throws {
        try await withServer { port, _ in
            let r = try await http(port, "POST", "/v1/scan", json: #"[{"id":"a","text":"\#(ordinary)"},{"id":"b","turns":5},{"id":"c","text":"\#(police)"}]"#)
            #expect(r.status == 200)
            let items = try #require(r.json as? [[String: Any]])
            #expect(items.count == 3)
            #expect(items[0]["level"] as? String == "none")
            #expect(items[1]["id"] as? String == "b")
            #expect((items[1]["error"] as? String)?.contains("turns") == true)
            #expect(items[2]["level"] as? String == "high")
            let empty = try await http(port, "POST", "/v1/scan", json: "[]")
            #expect(empty.status == 200 && empty.text == "[]\n")
        }
    }

    @Test func malformedJSONIs400WithItsPosition() async throws {
        try await withServer { port, _ in
            let r = try await http(port, "POST", "/v1/scan", json: "{\"id\": 1,\n \"text\": \"你好\" \"x\"}")
            #expect(r.status == 400)
            #expect(r.object["line"] as? Int == 2)
            #expect(r.object["column"] as? Int == 15)
            #expect((r.object["error"] as? String)?.hasPrefix("not valid JSON") == true)
            // Inside an array: the position is the body's, not the element's.
            let a = try await http(port, "POST", "/v1/scan", json: "[{\"text\":\"a\"},\n{\"text\": tru}]")
            #expect(a.status == 400)
            #expect(a.object["line"] as? Int == 2)
            #expect((a.object["error"] as? String)?.hasPrefix("record 2: not valid JSON") == true)
            let unclosed = try await http(port, "POST", "/v1/scan", json: "[{\"text\":\"a\"}")
            #expect(unclosed.status == 400)
            let noText = try await http(port, "POST", "/v1/scan", json: #"{"id":"q"}"#)
            #expect(noText.status == 400)
            let notObject = try await http(port, "POST", "/v1/explain", json: #""just a string""#)
            #expect(notObject.status == 400)
        }
    }

    @Test func limits() async throws {
        try await withServer({ $0.maxBodyBytes = 2000; $0.maxBatch = 3; $0.bodyTimeout = .seconds(1) }) { port, _ in
            let big = #"{"text":""# + String(repeating: "好", count: 1000) + #""}"#
            #expect(try await http(port, "POST", "/v1/scan", json: big).status == 413)
            let many = "[" + Array(repeating: #"{"text":"a"}"#, count: 4).joined(separator: ",") + "]"
            #expect(try await http(port, "POST", "/v1/scan", json: many).status == 413)
            // A client that sends half its body and stops: 408 after the body timeout, not a held connection.
            let started = Date()
            let r = try await offPool {
                let c = try Connection(port: port)
                c.send(Array("POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\":".utf8))
                return parseResponse(c.readAll())
            }
            #expect(r.status == 408)
            // Well before the connection's idle timeout (75 s), which is what a held connection would
            // wait for; the bound is loose because a loaded CI machine can take seconds to schedule us.
            #expect(Date().timeIntervalSince(started) < 60)
            // The server still answers.
            #expect(try await http(port, "GET", "/healthz").status == 200)
        }
    }

    @Test func tokensAndRoles() async throws {
        let table = try TokenTable.parse(tokensFile, path: "tokens")
        try await withServer({ $0.tokens = table }) { port, _ in
            let body = #"{"text":"\#(police)"}"#
            let status95 = try await http(port, "POST", "/v1/scan", json: body).status
            #expect(status95 == 401)
            let status96 = try await http(port, "POST", "/v1/scan", json: body, token: "0123456789abcdef-wrong").status
            #expect(status96 == 401)
            let status97 = try await http(port, "POST", "/v1/scan", json: body, token: "0123456789abcdef-dispatch").status
            #expect(status97 == 403)
            let status98 = try await http(port, "POST", "/v1/scan", json: body, token: "0123456789abcdef-screen").status
            #expect(status98 == 200)
            let status99 = try await http(port, "POST", "/v1/rules/reload", token: "0123456789abcdef-screen").status
            #expect(status99 == 403)
            let status100 = try await http(port, "POST", "/v1/rules/reload", token: "0123456789abcdef-admin").status
            #expect(status100 == 200)
            let status101 = try await http(port, "POST", "/v1/calls/k/turns", json: #"{"text":"hi"}"#).status
            #expect(status101 == 401)
            // Health and metrics need no token (probes and scrapers); the console's files neither.
            let status103 = try await http(port, "GET", "/healthz").status
            #expect(status103 == 200)
            let status104 = try await http(port, "GET", "/metrics").status
            #expect(status104 == 200)
            let status105 = try await http(port, "GET", "/console/").status
            #expect(status105 == 200)
        }
        #expect(throws: TokenTable.ParseError.self) { try TokenTable.parse("a root 0123456789abcdef", path: "t") }
        #expect(throws: TokenTable.ParseError.self) { try TokenTable.parse("a screen short", path: "t") }
    }

    @Test func explainMarksTheEvidence() async throws {
        try await withServer { port, _ in
            let r = try await http(port, "POST", "/v1/explain", json: #"{"text":"\#(police)"}"#)
            #expect(r.status == 200)
            let marked = try #require(r.object["marked"] as? String)
            // The rule's evidence is inside one marked stretch (evidence of other rules, or the
            // model's n-grams, may run on into it and share the marks).
            let stretches = marked.split(separator: "〖", omittingEmptySubsequences: false).dropFirst()
                .compactMap { $0.split(separator: "〗", maxSplits: 1, omittingEmptySubsequences: false).first }
            #expect(stretches.contains { $0.contains("把钱转到安全账户") })
            let points = try #require(r.object["points"] as? [[String: Any]])
            #expect(points.contains { $0["rule"] as? String == "police.safe_account" })
            #expect((r.object["verdict"] as? [String: Any])?["level"] as? String == "high")
            #expect((r.object["report"] as? String)?.contains("total: level high") == true)
            // The bundled model's part, as `fanzha explain` prints it, and as fields: the
            // n-grams' places are offsets into the text sent.
            let model = try #require(r.object["model"] as? [String: Any])
            let p = try #require(model["probability"] as? Double)
            #expect(p >= 0 && p <= 1)
            #expect((r.object["report"] as? String)?.contains("model: probability") == true)
            let up = try #require(model["up"] as? [[String: Any]])
            let scalars = Array(police.unicodeScalars)
            for c in up {
                for span in try #require(c["spans"] as? [[String: Any]]) {
                    let start = try #require(span["start"] as? Int), end = try #require(span["end"] as? Int)
                    #expect(0 <= start && start < end && end <= scalars.count)
                    guard 0 <= start, start < end, end <= scalars.count else { continue }
                    #expect(String(String.UnicodeScalarView(scalars[start..<end])) == span["text"] as? String)
                }
            }
            #expect(model["outside_frames"] == nil)   // the text has no frame
        }
    }

    @Test func healthMetricsAndRules() async throws {
        try await withServer { port, _ in
            _ = try await http(port, "POST", "/v1/scan", json: #"{"text":"\#(police)"}"#)
            _ = try await http(port, "POST", "/v1/scan", json: #"{"text":"\#(ordinary)"}"#)
            let h = try await http(port, "GET", "/healthz")
            #expect(h.object["status"] as? String == "ok")
            let m = try await http(port, "GET", "/metrics").text
            #expect(m.contains(#"fanzha_records_screened_total{level="high",category="police"} 1"#))
            #expect(m.contains(#"fanzha_records_screened_total{level="none",category="none"} 1"#))
            #expect(m.contains("fanzha_request_duration_seconds_bucket{"))
            #expect(m.contains(#"route="/v1/scan""#))
            #expect(m.contains("fanzha_rules_loaded "))
            #expect(m.contains("fanzha_open_calls 0"))
            let rules = try await http(port, "GET", "/v1/rules").object
            let categories = try #require(rules["categories"] as? [[String: Any]])
            let policeCategory = try #require(categories.first { $0["id"] as? String == "police" })
            #expect((policeCategory["rules"] as? Int ?? 0) > 3)
            #expect((policeCategory["hits"] as? Int ?? 0) >= 2)
        }
    }

    /// A reload swaps the rule set whole; one with errors is refused with its diagnostics and the
    /// old one keeps serving.
    @Test func reloadSwapsOrRefuses() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("test.fz")
        func write(_ rules: String) throws { try rules.write(to: file, atomically: true, encoding: .utf8) }
        let category = """
        category demo {
          title "演示"
          description "演示类别"
          advice "挂断"
          script "您好"
        }
        """
        try write(category + "\nrule demo.one {\n  title \"一\"\n  category demo\n  score 10\n  match \"安全账户\"\n}\n")
        try await withServer({ _ in }, rules: [dir.path]) { port, service in
            #expect(try await http(port, "POST", "/v1/scan", json: #"{"text":"转到安全账户"}"#).object["level"] as? String == "high")
            #expect(try await http(port, "POST", "/v1/scan", json: #"{"text":"刷单返利"}"#).object["level"] as? String == "none")
            try write(category + "\nrule demo.one {\n  title \"一\"\n  category demo\n  score 10\n  match \"安全账户\" and\n}\n")
            let refused = try await http(port, "POST", "/v1/rules/reload")
            #expect(refused.status == 422)
            let diagnostics = try #require(refused.object["diagnostics"] as? [String])
            #expect(diagnostics.first?.contains("test.fz:") == true)
            #expect(try await http(port, "POST", "/v1/scan", json: #"{"text":"转到安全账户"}"#).object["level"] as? String == "high")
            try write(category + "\nrule demo.two {\n  title \"二\"\n  category demo\n  score 10\n  match \"刷单\"\n}\n")
            let ok = try await http(port, "POST", "/v1/rules/reload")
            #expect(ok.status == 200)
            #expect(try await http(port, "POST", "/v1/scan", json: #"{"text":"转到安全账户"}"#).object["level"] as? String == "none")
            #expect(try await http(port, "POST", "/v1/scan", json: #"{"text":"刷单返利"}"#).object["level"] as? String == "high")
            let m = try await http(port, "GET", "/metrics").text
            #expect(m.contains(#"fanzha_rule_reloads_total{result="ok"} 1"#))
            #expect(m.contains(#"fanzha_rule_reloads_total{result="refused"} 1"#))
            _ = service
        }
    }

    @Test func unknownRoutesAndMethods() async throws {
        try await withServer { port, _ in
            let status185 = try await http(port, "GET", "/v1/nothing").status
            #expect(status185 == 404)
            let wrongMethod = try await http(port, "GET", "/v1/scan").status
            #expect(wrongMethod == 405 || wrongMethod == 404)
            let status187 = try await http(port, "GET", "/v1/calls/stream").status
            #expect(status187 == 426)
        }
    }
}
