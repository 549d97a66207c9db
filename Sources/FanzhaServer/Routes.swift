import Fanzha
import FanzhaReferrals
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
    var body = ByteBuffer()
    body.reserveCapacity(bytes.count + 1)
    body.writeBytes(bytes)
    body.writeInteger(UInt8(0x0A))
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
}

/// Registers routes and keeps their list, in OpenAPI's spelling (`{id}`), so a test can hold the
/// routes and docs/openapi.yaml to each other.
struct RouteTable {
    let router: Router<ServiceContext>
    private(set) var routes: [(method: String, path: String)] = []

    mutating func on(_ method: HTTPRequest.Method, _ path: String,
                     _ handler: @escaping @Sendable (Request, ServiceContext) async throws -> Response) {
        router.on(RouterPath(path), method: method, use: handler)
        let documented = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        routes.append((method.rawValue.lowercased(), documented))
    }
    mutating func get(_ path: String, _ handler: @escaping @Sendable (Request, ServiceContext) async throws -> Response) { on(.get, path, handler) }
    mutating func post(_ path: String, _ handler: @escaping @Sendable (Request, ServiceContext) async throws -> Response) { on(.post, path, handler) }
}

extension FanzhaService {
    /// The API's routes (the console's files are not part of the API).
    var apiRoutes: [(method: String, path: String)] {
        var table = RouteTable(router: Router(context: ServiceContext.self))
        addRoutes(to: &table)
        return table.routes
    }

    func addRoutes(to router: inout RouteTable) {
        router.get("/healthz") { _, _ in
            let e = self.store.current
            var o = JSONObjectWriter()
            o.add("status", "ok")
            o.add("rules", e.rules.rules.count)
            o.add("loaded_at", ISO8601DateFormatter().string(from: e.loadedAt))
            return jsonResponse(o.finishBytes())
        }
        router.get("/metrics") { _, _ in
            self.metrics.openCalls.set(Double(self.calls.openCalls + self.streams.withLockedValue { $0 }))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: self.metrics.text())))
        }
        router.post("/v1/scan") { request, _ in try await self.scan(request) }
        router.post("/v1/explain") { request, _ in try await self.explain(request) }
        router.get("/v1/rules") { request, _ in
            _ = try self.authorize(request, nil)
            return jsonResponse(self.store.current.summary())
        }
        router.post("/v1/rules/reload") { request, _ in
            let caller = try self.authorize(request, .admin)
            switch self.reload(by: caller.name) {
            case .success(let e):
                return jsonResponse(e.summary())
            case .failure(let f):
                // 422: the request was fine, the rules on disk are not; the old ones keep serving.
                throw APIError(.unprocessableContent, f.message, fields: [
                    ("diagnostics", Array(("[" + f.diagnostics.map(jsonString).joined(separator: ",") + "]").utf8)),
                    ("serving", jsonNumber(self.store.current.rules.rules.count)),
                ])
            }
        }
        addReferralRoutes(to: &router)
        router.post("/v1/calls/:id/turns") { request, context in
            try await self.turn(request, id: try context.parameters.require("id"))
        }
        router.post("/v1/calls/:id/end") { request, context in
            try await self.end(request, id: try context.parameters.require("id"))
        }
        // Reached only when the WebSocket upgrade was refused: say why.
        router.get("/v1/calls/stream") { request, _ in
            _ = try self.authorize(request, .screen)
            throw APIError(.upgradeRequired, "a WebSocket: send `Upgrade: websocket`")
        }
    }

    // MARK: scan and explain

    /// The records of a scan body: one JSON object, or an array of them.
    func records(_ body: [UInt8], engine: ScreeningEngine) throws -> (records: [Result<Record, RecordError>], single: Bool) {
        if let elements = try arrayElements(body) {
            guard elements.count <= configuration.maxBatch else {
                throw APIError(.contentTooLarge, "\(elements.count) records in one request; at most \(configuration.maxBatch) (--max-batch)")
            }
            var out: [Result<Record, RecordError>] = []
            for (i, range) in elements.enumerated() {
                let decoded = engine.decode(body[range], number: i + 1)
                if case .failure(let e) = decoded, e.message.hasPrefix("not valid JSON") {
                    throw malformed("record \(i + 1): \(e.message)", body: body, offset: range.lowerBound)
                }
                out.append(decoded)
            }
            return (out, false)
        }
        let decoded = engine.decode(ArraySlice(body), number: 1)
        if case .failure(let e) = decoded {
            if e.message.hasPrefix("not valid JSON") { throw malformed(e.message, body: body) }
            throw APIError(.badRequest, e.message)
        }
        return ([decoded], true)
    }

    func scan(_ request: Request) async throws -> Response {
        let caller = try authorize(request, .screen)
        let refer: Bool
        switch request.uri.queryParameters["refer"] {
        case nil, "0": refer = false
        case "1": refer = true
        case let v?: throw APIError(.badRequest, "`refer` is 0 or 1, not `\(v)`")
        }
        let referrals = refer ? try referralStore() : nil
        let body = try await readBody(request, limit: configuration.maxBodyBytes, timeout: configuration.bodyTimeout)
        let engine = store.current
        let (records, single) = try records(body, engine: engine)
        var out: [UInt8] = single ? [] : [0x5B]
        var warnings: [(index: Int, warning: Warning)] = []
        for (i, r) in records.enumerated() {
            if i > 0 { out.append(0x2C) }
            switch r {
            case .success(let record):
                let s = engine.screen(record)
                metrics.screened(level: s.verdict.level, category: s.verdict.category)
                out += s.json
                if refer, s.verdict.level >= configuration.referLevel,
                   let w = Warning(verdict: s.verdict, record: record, rules: engine.rules, recordKey: "api:" + record.id,
                                   subjectField: configuration.subjectField, counterpartyField: configuration.counterpartyField) {
                    warnings.append((i, w))
                }
            case .failure(let e):
                metrics.errors.increment()
                out += engine.errorJSON(e)
            }
        }
        if !single { out.append(0x5D) }
        var response = jsonResponse(out)
        if let referrals {
            // The verdicts stay as `scan` prints them; the cases are named in a header, one entry
            // per record in order (`-` for a record that opened none).
            let referred = try withReferrals { try referrals.refer(warnings.map(\.warning), actor: caller.name) }
            var cases = Array(repeating: "-", count: records.count)
            for (w, r) in zip(warnings, referred) { cases[w.index] = String(r.caseID) }
            response.headers[.init("Fanzha-Cases")!] = cases.joined(separator: ",")
        }
        return response
    }

    func explain(_ request: Request) async throws -> Response {
        _ = try authorize(request, .screen)
        let body = try await readBody(request, limit: configuration.maxBodyBytes, timeout: configuration.bodyTimeout)
        let engine = store.current
        let decoded = engine.decode(ArraySlice(body), number: 1)
        switch decoded {
        case .failure(let e):
            if e.message.hasPrefix("not valid JSON") { throw malformed(e.message, body: body) }
            throw APIError(.badRequest, e.message)
        case .success(let record):
            let s = engine.screen(record)
            metrics.screened(level: s.verdict.level, category: s.verdict.category)
            return jsonResponse(engine.explanation(s))
        }
    }

    // MARK: live calls over HTTP

    func turn(_ request: Request, id: String) async throws -> Response {
        let caller = try authorize(request, .screen)
        let body = try await readBody(request, limit: configuration.maxBodyBytes, timeout: configuration.bodyTimeout)
        let fields: [JSONLine.Field]
        switch JSONLine.object(ArraySlice(body)) {
        case .success(let f): fields = f
        case .failure(let e): throw malformed(e.description, body: body)
        }
        var speaker = "", text: String? = nil, time: Double? = nil
        // The person at risk and the counterparty, for the call's case (--subject-field, --counterparty-field).
        var named: [String: String] = [:]
        for f in fields {
            if f.key == configuration.subjectField || f.key == configuration.counterpartyField {
                guard let v = LiveCallReferrals.text(f.value) else { throw APIError(.badRequest, "`\(f.key)` must be a string or a number") }
                named[f.key] = v
                continue
            }
            switch f.key {
            case "speaker":
                if let s = f.value as? String { speaker = s }
                else if let n = f.value as? JSONNumber { speaker = n.text }
                else { throw APIError(.badRequest, "`speaker` must be a string") }
            case "text":
                guard let s = f.value as? String else { throw APIError(.badRequest, "`text` must be a string") }
                text = s
            case "t":
                guard let n = f.value as? JSONNumber, n.double.isFinite else { throw APIError(.badRequest, "`t` must be a number of seconds") }
                time = n.double
            default:
                let also = [configuration.subjectField, configuration.counterpartyField].compactMap { $0 }.map { ", \($0)" }.joined()
                throw APIError(.badRequest, "unknown field `\(f.key)` (a turn is {speaker, text, t\(also)})")
            }
        }
        guard let text else { throw APIError(.badRequest, "a turn needs `text`") }
        return try callAnswer(call: id, .turn(call: id, speaker: speaker, text: text, time: time), fields: { named[$0] }, caller: caller)
    }

    func end(_ request: Request, id: String) async throws -> Response {
        let caller = try authorize(request, .screen)
        _ = try await readBody(request, limit: configuration.maxBodyBytes, timeout: configuration.bodyTimeout)
        return try callAnswer(call: id, .end(call: id, time: nil), caller: caller)
    }

    /// With `--referrals`, an alert at the referral level opens or escalates the call's case at
    /// once (as `scan --input events --refer`), and the final extends it to the whole call; the
    /// answer's `case` names it.
    private func callAnswer(call: String, _ event: CallEventInput, fields: (String) -> String? = { _ in nil }, caller: Caller) throws -> Response {
        let answer = calls.handle(event, fields: fields, engine: store.current)
        if let m = answer.malformed { throw APIError(.badRequest, m) }
        if case .end = event, answer.final == nil { throw APIError(.notFound, "call \(call) is not open") }
        var caseID: Int64? = nil
        if let referrals = configuration.referrals, !answer.warnings.isEmpty {
            let referred = try withReferrals { try referrals.refer(answer.warnings, actor: caller.name) }
            for (w, r) in zip(answer.warnings, referred) where w.recordID == call { caseID = r.caseID }
        }
        var o = JSONObjectWriter()
        o.add("call", call)
        if let a = answer.alert { o.addRaw("alert", bytes: a) } else { o.addNull("alert") }
        if let f = answer.final { o.addRaw("final", bytes: f) } else { o.addNull("final") }
        if let caseID { o.add("case", Int(caseID)) } else { o.addNull("case") }
        return jsonResponse(o.finishBytes())
    }

    // MARK: live calls over a WebSocket

    /// A WebSocket of `scan --input events` lines: alerts and finals are sent as they happen, one
    /// JSON text message each. The calls are this connection's own; when it closes, its open calls
    /// are closed and their finals written to the server's output.
    ///
    /// With `--referrals`, an alert at the referral level opens or escalates the call's case at
    /// once and a `{"event":"case","call","case","referral"}` message says which case and what
    /// happened to it (opened, joined, escalated, …), after the alert or final it follows.
    func stream(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, caller: Caller) async {
        let engine = store.current
        let live = engine.liveScreener(limits: configuration.callLimits)
        let referrals = configuration.referrals.map { _ in configuration.liveCallReferrals() }
        /// The warnings of these events' alerts and finals, referred in one transaction: a
        /// `case` event per warning, or an `error` event when the store could not be written.
        func refer(_ events: [LiveCallEvent]) -> [String] {
            guard let referrals, let store = configuration.referrals else { return [] }
            var warnings: [Warning] = []
            for e in events {
                switch e {
                case .alert(let a): if let w = referrals.alert(a, origin: "stream: call \(a.call)") { warnings.append(w) }
                case .final(let f): if let w = referrals.final(f, origin: "stream: call \(f.call)") { warnings.append(w) }
                case .malformed, .notice: break
                }
            }
            if warnings.isEmpty { return [] }
            do {
                return zip(warnings, try store.refer(warnings, actor: caller.name)).map { w, r in
                    var o = JSONObjectWriter()
                    o.add("event", "case")
                    o.add("call", w.recordID)
                    o.add("case", Int(r.caseID))
                    o.add("referral", r.kind)
                    return o.finish()
                }
            } catch {
                metrics.errors.increment()
                logger.error("stream: the cases of \(warnings.count) live-call warnings could not be written: \(error)")
                var o = JSONObjectWriter()
                o.add("event", "error")
                o.add("error", "the referral store could not be written: \(error)")
                return [o.finish()]
            }
        }
        var line = 0
        var tracked = 0
        func account() {
            let now = live.openCalls
            let delta = now - tracked
            tracked = now
            if delta != 0 { streams.withLockedValue { $0 += delta } }
        }
        func send(_ events: [LiveCallEvent]) async -> Bool {
            let cases = refer(events)
            for e in events {
                let text: String
                switch e {
                case .alert, .malformed: text = engine.eventPrinter.json(e) ?? ""
                case .final(let f):
                    metrics.screened(level: f.verdict.level, category: f.verdict.category)
                    text = engine.eventPrinter.json(e) ?? ""
                case .notice(let m):
                    // Only this connection's calls are in its screener: its notices are its own.
                    var n = JSONObjectWriter()
                    n.add("event", "notice")
                    n.add("message", m)
                    text = n.finish()
                }
                do { try await outbound.write(.text(text)) } catch {
                    if case .final = e { configuration.log(text) }
                    return false
                }
            }
            for text in cases {
                do { try await outbound.write(.text(text)) } catch { return false }
            }
            return true
        }
        do {
            for try await message in inbound.messages(maxSize: configuration.maxBodyBytes) {
                guard case .text(let text) = message else {
                    _ = await send([.malformed(RecordError(origin: "stream", message: "a binary message (send text: one JSON event per line)"))])
                    continue
                }
                for part in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: true) {
                    line += 1
                    referrals?.see(eventLine: ArraySlice(part))
                    let events = live.handle(line: ArraySlice(part), number: line, source: "stream")
                    account()
                    if !(await send(events)) { break }
                }
            }
        } catch {
            logger.debug("stream closed: \(error)")
        }
        // The client has gone (or the server is stopping): finals where they can still be read.
        let finals = live.finish()
        account()
        _ = refer(finals)
        for e in finals {
            guard case .final(let f) = e else { continue }
            metrics.screened(level: f.verdict.level, category: f.verdict.category)
            if let json = engine.eventPrinter.json(e) { configuration.log(json) }
        }
    }
}
