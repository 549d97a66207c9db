import Fanzha
import FanzhaReferrals
import Foundation
import Hummingbird

// The referral queue over HTTP (role dispatch): the same store, workflow rules and errors as
// `fanzha referrals …`, and every read of a case and every change written to its history with
// the token's name.

/// A case summary as the queue shows it: the CLI's JSON fields, and the deadline it counts down to.
func caseFields(_ c: CaseSummary, now: Date, into o: inout JSONObjectWriter) {
    ReferralText.fields(c, now: now, into: &o, redact: nil)
    // The deadline the queue counts down to: the first contact, then (high) the visit.
    var deadline: Date? = nil
    if c.state != .closed {
        if c.contactAt == nil { deadline = c.contactDue }
        else if let v = c.visitDue, c.visitedAt == nil, c.state == .unreached || c.state == .visitRequested { deadline = v }
    }
    if let deadline { o.add("deadline", ReferralText.time(deadline)) } else { o.addNull("deadline") }
}

/// A case with its evidence and history: as `fanzha referrals show --format jsonl` writes it, with the deadline.
func caseJSON(_ d: CaseDetail, now: Date) -> [UInt8] {
    var o = JSONObjectWriter()
    caseFields(d.summary, now: now, into: &o)
    ReferralExport.detailFields(d, into: &o, redact: nil)
    return o.finishBytes()
}

/// The store's typed errors as HTTP: no such case 404, a step the workflow does not allow 409
/// (with the case's state and the steps allowed), a bad value 400.
func apiError(_ e: ReferralError) -> APIError {
    switch e {
    case .noSuchCase: return APIError(.notFound, e.description)
    case let .illegalStep(_, state, _, _, allowed):
        return APIError(.conflict, e.description, fields: [("state", jsonText(state.rawValue)),
                                                           ("allowed", Array(("[" + allowed.map(jsonString).joined(separator: ",") + "]").utf8))])
    case .stopPaymentMissing, .badValue, .badConfiguration: return APIError(.badRequest, e.description)
    }
}

extension FanzhaService {
    func referralStore() throws -> ReferralStore {
        guard let store = configuration.referrals else {
            throw APIError(.notFound, "no referral store: start the server with --referrals FILE")
        }
        return store
    }

    func withReferrals<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ReferralError { throw apiError(e) }
    }

    func addReferralRoutes(to router: inout RouteTable) {
        router.get("/v1/referrals") { request, _ in
            _ = try self.authorize(request, .dispatch)
            let store = try self.referralStore()
            let q = request.uri.queryParameters
            var filter = CaseFilter()
            func list<T>(_ key: String, _ make: (String) -> T?) throws -> [T] {
                guard let v = q[Substring(key)] else { return [] }
                return try v.split(separator: ",").map { s in
                    guard let x = make(String(s)) else { throw APIError(.badRequest, "unknown \(key) `\(s)`") }
                    return x
                }
            }
            filter.states = try list("state") { CaseState(rawValue: $0) }
            filter.tiers = try list("tier") { Tier(rawValue: $0) }
            filter.categories = try list("category") { $0 }
            filter.outcomes = try list("outcome") { Outcome(rawValue: $0) }
            filter.assignee = q["assignee"].map(String.init)
            filter.subject = q["subject"].map(String.init)
            filter.overdueOnly = q["overdue"] == "1"
            filter.openOnly = q["open"] == "1"
            if let l = q["limit"] {
                guard let n = Int(l), n > 0 else { throw APIError(.badRequest, "`limit` must be a positive number") }
                filter.limit = n
            }
            let now = Date()
            let cases = try self.withReferrals { try store.list(filter) }
            var o = JSONObjectWriter()
            o.add("now", ReferralText.time(now))
            o.addObjects("cases", cases) { j, c in caseFields(c, now: now, into: &j) }
            return jsonResponse(o.finishBytes())
        }
        router.get("/v1/referrals/:id") { request, context in
            let caller = try self.authorize(request, .dispatch)
            let store = try self.referralStore()
            let id = try self.caseID(context)
            let detail = try self.withReferrals { () throws -> CaseDetail in
                try store.recordRead(id, actor: caller.name)
                return try store.case(id)
            }
            return jsonResponse(caseJSON(detail, now: Date()))
        }
        for step in ["claim", "sms", "call", "visit", "close", "note", "reopen"] {
            router.post("/v1/referrals/:id/\(step)") { request, context in
                try await self.referralStep(step, request, context)
            }
        }
    }

    func caseID(_ context: ServiceContext) throws -> Int64 {
        let raw = try context.parameters.require("id")
        guard let id = Int64(raw), id > 0 else { throw APIError(.notFound, "no case \(raw)") }
        return id
    }

    /// One workflow step: `{note}` and, per step, `{assignee}` (claim; default the token's name),
    /// `{result: reached|unreached}` (call), `{done: true}` (visit done), `{outcome, stop_payment}` (close).
    func referralStep(_ name: String, _ request: Request, _ context: ServiceContext) async throws -> Response {
        let caller = try authorize(request, .dispatch)
        let store = try referralStore()
        let id = try caseID(context)
        let body = try await readBody(request, limit: configuration.maxBodyBytes, timeout: configuration.bodyTimeout)
        var fields: [String: Any] = [:]
        if !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            switch JSONLine.object(ArraySlice(body)) {
            case .success(let f): for x in f { fields[x.key] = x.value }
            case .failure(let e): throw malformed(e.description, body: body)
            }
        }
        func string(_ key: String) throws -> String? {
            guard let v = fields[key] else { return nil }
            if v is NSNull { return nil }
            guard let s = v as? String else { throw APIError(.badRequest, "`\(key)` must be a string") }
            return s
        }
        let step: Step
        switch name {
        case "claim": step = .claim(assignee: try string("assignee") ?? caller.name)
        case "sms": step = .sms
        case "call":
            switch try string("result") {
            case "reached": step = .call(reached: true)
            case "unreached": step = .call(reached: false)
            default: throw APIError(.badRequest, "a call needs `result`: reached or unreached")
            }
        case "visit":
            if let d = fields["done"], !(d is Bool) { throw APIError(.badRequest, "`done` must be true or false") }
            step = (fields["done"] as? Bool) == true ? .visitDone : .requestVisit
        case "close":
            guard let raw = try string("outcome"), let outcome = Outcome(rawValue: raw) else {
                throw APIError(.badRequest, "closing needs `outcome`: \(Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            step = .close(outcome, stopPayment: try string("stop_payment"))
        case "note": step = .note
        default: step = .reopen
        }
        let note = try string("note")
        let detail = try withReferrals { () throws -> CaseDetail in
            try store.apply(step, to: id, actor: caller.name, note: note)
            return try store.case(id)
        }
        return jsonResponse(caseJSON(detail, now: Date()))
    }
}
