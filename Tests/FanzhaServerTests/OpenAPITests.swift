import Fanzha
@testable import FanzhaServer
import Foundation
import Testing

/// docs/openapi.yaml, read for what the tests hold the server to: each operation's documented
/// statuses, and each schema's required fields. (The document is written in one regular layout:
/// two spaces per level; this reader knows only that layout.)
struct OpenAPIDocument {
    var operations: [String: Set<Int>] = [:]   // "post /v1/scan" → statuses
    var required: [String: [String]] = [:]      // schema name → required fields

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var section = "", currentPath = "", currentOp = "", inResponses = false, schema = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let indent = line.prefix { $0 == " " }.count
            let body = line.trimmingCharacters(in: .whitespaces)
            if body.isEmpty || body.hasPrefix("#") { continue }
            if indent == 0 { section = body; continue }
            if section == "paths:" {
                if indent == 2 { currentPath = String(body.dropLast()); continue }
                if indent == 4, ["get:", "post:", "put:", "delete:"].contains(body) {
                    currentOp = "\(body.dropLast()) \(currentPath)"
                    operations[currentOp] = []
                    inResponses = false
                    continue
                }
                if indent == 6 { inResponses = body == "responses:"; continue }
                if indent == 8, inResponses, body.hasPrefix("\""), let code = Int(body.dropFirst().prefix(3)) {
                    operations[currentOp, default: []].insert(code)
                }
            } else if section == "components:" {
                if indent == 4 && body.hasSuffix(":") { schema = String(body.dropLast()); continue }
                if indent == 6, body.hasPrefix("required: [") {
                    required[schema] = body.dropFirst("required: [".count).dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                }
            }
        }
    }
}

@Suite(.serialized) struct OpenAPITests {
    let doc: OpenAPIDocument

    init() throws { doc = try OpenAPIDocument(path: Package.file("docs/openapi.yaml")) }

    /// Every route the server has is documented, and every documented operation exists.
    @Test func routesMatchTheDocument() async throws {
        try await withServer { _, service in
            let served = Set(service.apiRoutes.map { "\($0.method) \($0.path)" })
            let documented = Set(doc.operations.keys)
            #expect(served.subtracting(documented).isEmpty, "routes not in docs/openapi.yaml: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        }
    }

    /// Each operation, called with and without a valid token and body, answers only with statuses
    /// the document lists for it.
    @Test func statusesAreDocumented() async throws {
        let table = try TokenTable.parse(tokensFile, path: "tokens")
        try await withReferralStore { store in try await withServer({ $0.tokens = table; $0.referrals = store }) { port, _ in
            for (op, statuses) in doc.operations.sorted(by: { $0.key < $1.key }) {
                let parts = op.split(separator: " ")
                let method = parts[0].uppercased(), path = parts[1].replacingOccurrences(of: "{id}", with: "doc-1")
                // (A reload reads no body, and compiles the rules: once per token is enough.)
                let bodies: [String?] = method == "POST" && !path.hasSuffix("/reload") ? [#"{"text":"请把钱转到安全账户"}"#, "{", nil] : [nil]
                for token in [nil, "0123456789abcdef-dispatch", "0123456789abcdef-admin"] {
                    for body in bodies {
                        let r = try await http(port, method, path, body: body.map { Array($0.utf8) }, token: token)
                        #expect(statuses.contains(r.status), "\(op) with token \(token ?? "none") and body \(body ?? "none") answered \(r.status), not in \(statuses.sorted())")
                    }
                }
            }
        } }
    }

    /// The answers carry the fields the document says are required.
    @Test func answersHaveTheRequiredFields() async throws {
        try await withServer { port, _ in
            func check(_ object: [String: Any]?, _ schema: String) {
                let required = doc.required[schema] ?? []
                #expect(!required.isEmpty, "no required fields for \(schema)")
                for field in required { #expect(object?.keys.contains(field) == true, "\(schema) answer lacks `\(field)`") }
            }
            check(try await http(port, "POST", "/v1/scan", json: #"{"text":"请把钱转到安全账户"}"#).object, "Verdict")
            let call = try await http(port, "POST", "/v1/scan", json: #"{"turns":[{"speaker":"caller","text":"我是公安局的，你涉嫌洗钱"}]}"#).object
            check(call, "Verdict")
            #expect(call.keys.contains("first_warning_turn"))
            let explained = try await http(port, "POST", "/v1/explain", json: #"{"text":"请把钱转到安全账户"}"#).object
            check(explained["verdict"] as? [String: Any], "Verdict")
            check((explained["verdict"] as? [String: Any])?["hits"].flatMap { ($0 as? [[String: Any]])?.first }, "Hit")
            check((explained["model"] as? [String: Any])?["up"].flatMap { ($0 as? [[String: Any]])?.first }, "ModelContribution")
            check(try await http(port, "GET", "/v1/rules").object, "RulesSummary")
            let turn = try await http(port, "POST", "/v1/calls/r1/turns", json: #"{"speaker":"caller","text":"我是公安局的，你涉嫌洗钱，把钱转到安全账户"}"#).object
            check(turn, "CallAnswer")
            check(turn["alert"] as? [String: Any], "Alert")
            let end = try await http(port, "POST", "/v1/calls/r1/end").object
            check(end["final"] as? [String: Any], "Verdict")
            check(try await http(port, "POST", "/v1/scan", json: "{").object, "Error")
        }
    }
}
