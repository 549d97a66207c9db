import Fanzha
import Foundation

// The 96110 referral workflow as a state machine: which steps a case in a state and tier may
// take, where each leads, and when each is due. Pure values: the store applies them.
//
//   new ──sms──► sms_sent ────────────────────────────────┐          (low: a 12381 warning SMS)
//    │                                                     │
//    ├──claim──► calling ──call──► reached ──visit──┐      ├──close(outcome)──► closed ──reopen──► new
//    └──call───────────────────► unreached ─visit─► visit_requested ──visit --done──► visited ──┘
//
// `claim` assigns the case (and starts the call of a medium or high case); `note` may be added
// in any state; `close` with outcome false_alarm or duplicate may end any open case.

/// Where a case stands.
public enum CaseState: String, Sendable, CaseIterable, Codable {
    case new, calling, smsSent = "sms_sent", reached, unreached, visitRequested = "visit_requested", visited, closed
}

/// How a case ended.
public enum Outcome: String, Sendable, CaseIterable, Codable {
    /// The person was reached and talked out of paying.
    case dissuaded
    /// The person had already paid: the 110 stop-payment / freeze request is recorded with it.
    case alreadyPaid = "already_paid"
    case notReachable = "not_reachable"
    case falseAlarm = "false_alarm"
    /// The same lead as another case.
    case duplicate
}

/// The risk tier of a case: the verdict's level (low, medium or high), never none.
public enum Tier: String, Sendable, CaseIterable, Codable, Comparable {
    case low, medium, high
    public init?(_ level: Level) {
        switch level {
        case .none: return nil
        case .low: self = .low
        case .medium: self = .medium
        case .high: self = .high
        }
    }
    public var level: Level {
        switch self {
        case .low: return .low
        case .medium: return .medium
        case .high: return .high
        }
    }
    private var rank: Int { self == .low ? 0 : self == .medium ? 1 : 2 }
    public static func < (a: Tier, b: Tier) -> Bool { a.rank < b.rank }
    /// The first contact this tier calls for: a 12381 SMS for low, a 96110 call otherwise.
    public var contact: String { self == .low ? "sms" : "call" }
}

/// One step an officer (or the system) takes on a case.
public enum Step: Sendable, Equatable {
    /// Take the case: it becomes the assignee's; a medium or high case in `new` starts `calling`.
    case claim(assignee: String)
    /// The 12381 warning SMS was sent (low tier).
    case sms
    /// A 96110 call was made: the person was reached, or not.
    case call(reached: Bool)
    /// A visit by the local police station was requested (unreached, or reached and still deceived).
    case requestVisit
    /// The visit took place.
    case visitDone
    /// Closed with an outcome; `already_paid` needs the 110 stop-payment step (`stopPayment`).
    case close(Outcome, stopPayment: String? = nil)
    case note
    /// A closed case opened again by hand.
    case reopen

    /// The step's name in the history and in messages: the command that takes it.
    public var name: String {
        switch self {
        case .claim: return "claim"
        case .sms: return "sms"
        case .call(let reached): return reached ? "call --result reached" : "call --result unreached"
        case .requestVisit: return "visit"
        case .visitDone: return "visit --done"
        case .close(let o, _): return "close --outcome \(o.rawValue)"
        case .note: return "note"
        case .reopen: return "reopen"
        }
    }

    /// The event kind written to the history.
    var eventKind: String {
        switch self {
        case .claim: return "claim"
        case .sms: return "sms"
        case .call: return "call"
        case .requestVisit: return "visit_requested"
        case .visitDone: return "visited"
        case .close: return "close"
        case .note: return "note"
        case .reopen: return "reopen"
        }
    }
}

/// Deadlines per tier, from the moment a case reached its tier (opened, or escalated).
public struct Deadlines: Sendable, Equatable, Codable {
    /// High: a 96110 call within this many seconds (default 5 minutes).
    public var highCall: TimeInterval = 5 * 60
    /// High: a visit within this many seconds when the person is unreached or still deceived (30 minutes).
    public var highVisit: TimeInterval = 30 * 60
    /// Medium: a 96110 call within this many seconds (30 minutes).
    public var mediumCall: TimeInterval = 30 * 60
    /// Low: a 12381 SMS within this many seconds (24 hours).
    public var lowSMS: TimeInterval = 24 * 3600
    public init() {}

    /// Seconds allowed for the first contact (call or SMS) of a tier.
    public func contact(_ tier: Tier) -> TimeInterval {
        switch tier {
        case .high: return highCall
        case .medium: return mediumCall
        case .low: return lowSMS
        }
    }

    /// The keys a deadlines file and `--deadline` use, each with its value.
    public static let keys: [(key: String, path: WritableKeyPath<Deadlines, TimeInterval>)] = [
        ("high.call", \.highCall), ("high.visit", \.highVisit), ("medium.call", \.mediumCall), ("low.sms", \.lowSMS),
    ]

    /// Reads `key = duration` lines (`high.call = 5m`; `#` starts a comment; units s, m, h, d),
    /// on top of the defaults. Errors name the line.
    public static func parse(_ text: String, source: String = "deadlines") throws -> Deadlines {
        var d = Deadlines()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            try d.set(line, origin: "\(source):\(n + 1)")
        }
        return d
    }

    /// Sets one `key=duration` (as `--deadline high.call=5m` gives it).
    public mutating func set(_ assignment: String, origin: String = "--deadline") throws {
        let parts = assignment.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let entry = Deadlines.keys.first(where: { $0.key == parts[0] }) else {
            throw ReferralError.badConfiguration("\(origin): expected `KEY = DURATION` with KEY one of \(Deadlines.keys.map(\.key).joined(separator: ", "))")
        }
        guard let seconds = Deadlines.duration(parts[1]) else {
            throw ReferralError.badConfiguration("\(origin): `\(parts[1])` is not a duration of at most 365d (e.g. 90s, 5m, 2h, 1d)")
        }
        self[keyPath: entry.path] = seconds
    }

    /// The longest deadline: a year. Longer is a typo, and `1e308d` would overflow the dates and
    /// the whole-unit display (found by fuzzing: Tests/Fuzz/config).
    public static let longest: TimeInterval = 365 * 86400

    /// `90s`, `5m`, `2h`, `1d`, or plain seconds; nil when not a positive duration of at most `longest`.
    public static func duration(_ s: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var body = s, factor = 1.0
        if let last = s.last, let u = units[last] { body = String(s.dropLast()); factor = u }
        guard let n = Double(body), n.isFinite, n > 0, n * factor <= longest else { return nil }
        return n * factor
    }

    /// `5m`, `30m`, `24h`: for listings and the docs.
    public static func describe(_ seconds: TimeInterval) -> String {
        if seconds.truncatingRemainder(dividingBy: 86400) == 0 && seconds >= 86400 * 2 { return "\(Int(seconds / 86400))d" }
        if seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return "\(Int(seconds))s"
    }
}

/// The workflow's rules: which steps a case may take, and where they lead.
public enum Workflow {
    /// Where `step` takes a case in `state` with `tier`, or nil when the step is not allowed there.
    /// A note and a claim leave the state as it is (except claim starting a call).
    public static func next(_ state: CaseState, tier: Tier, step: Step) -> CaseState? {
        switch (state, step) {
        case (.closed, .reopen): return .new
        case (_, .note): return state
        case (.closed, _), (_, .reopen): return nil
        case (.new, .claim): return tier == .low ? .new : .calling
        case (_, .claim): return state
        case (.new, .sms): return tier == .low ? .smsSent : nil
        case (.new, .call(let reached)), (.calling, .call(let reached)), (.unreached, .call(let reached)):
            return reached ? .reached : .unreached
        case (.smsSent, .call(let reached)):
            // A low case escalated after its SMS gets its call.
            return tier == .low ? nil : (reached ? .reached : .unreached)
        case (.reached, .requestVisit), (.unreached, .requestVisit): return .visitRequested
        case (.visitRequested, .visitDone): return .visited
        case (_, .close(let outcome, let stopPayment)):
            if outcome == .alreadyPaid && (stopPayment ?? "").isEmpty { return nil }
            return closeOutcomes(state, tier: tier).contains(outcome) ? .closed : nil
        default: return nil
        }
    }

    /// The outcomes a case in `state` may be closed with.
    public static func closeOutcomes(_ state: CaseState, tier: Tier) -> [Outcome] {
        let always: [Outcome] = [.falseAlarm, .duplicate]
        switch state {
        case .closed: return []
        case .new, .calling: return always
        case .smsSent: return [.dissuaded, .notReachable] + always
        case .reached, .visited: return [.dissuaded, .alreadyPaid] + always + (state == .visited ? [.notReachable] : [])
        // A high case that could not be reached is visited before it may be given up.
        case .unreached: return (tier == .high ? [] : [.notReachable]) + always
        case .visitRequested: return [.notReachable] + always
        }
    }

    /// The steps allowed from `state` with `tier`, as commands (for errors and `show`).
    public static func allowed(_ state: CaseState, tier: Tier) -> [String] {
        if state == .closed { return ["reopen", "note"] }
        var steps: [String] = []
        let candidates: [Step] = [.sms, .call(reached: true), .call(reached: false), .requestVisit, .visitDone]
        for s in candidates where next(state, tier: tier, step: s) != nil { steps.append(s.name) }
        steps += closeOutcomes(state, tier: tier).map { "close --outcome \($0.rawValue)" }
        return steps + ["claim", "note"]
    }
}

/// Why the store refused something: typed, so a service can map it to a status code.
public enum ReferralError: Error, Equatable, CustomStringConvertible {
    /// The step is not allowed: names the case, its state and tier, and what is allowed.
    case illegalStep(caseID: Int64, state: CaseState, tier: Tier, step: String, allowed: [String])
    case noSuchCase(Int64)
    /// `close --outcome already_paid` without the 110 stop-payment step.
    case stopPaymentMissing(caseID: Int64)
    case badConfiguration(String)
    case badValue(String)

    public var description: String {
        switch self {
        case let .illegalStep(id, state, tier, step, allowed):
            return "case \(id) is \(state.rawValue) (\(tier.rawValue)): `\(step)` is not allowed; allowed: \(allowed.joined(separator: ", "))"
        case .noSuchCase(let id): return "no case \(id)"
        case .stopPaymentMissing(let id):
            return "case \(id): already_paid needs the 110 stop-payment step (--stop-payment \"110 止付/冻结 reference\")"
        case .badConfiguration(let s), .badValue(let s): return s
        }
    }
}
