import Fanzha
import Foundation

/// Live calls into referral warnings, the same for `scan --input events --refer` and for
/// `fanzha serve` (turns over HTTP and the WebSocket): a call's case is opened or escalated at its
/// **alert**, the moment its level reaches the referral level, not when the call ends.
///
/// An alert carries only the rules that are new, not the call's text nor the input's other fields,
/// so this keeps, per open call, the turns so far, the rules fired, and the person at risk and the
/// counterparty read from its events. A call is forgotten at its final verdict (every call the
/// screener opens ends with one: end, idle, eviction, turn limit, end of input), so what it keeps
/// is bounded by the screener's open calls. One instance per screener, used from one thread at a
/// time, as the screener is.
public final class LiveCallReferrals {
    /// The level that refers a call (an alert or a final at or above it).
    public let level: Level
    public let subjectField: String?
    public let counterpartyField: String?
    /// Put before the call id to make the warning's record key (`""` for the command line, whose
    /// call ids are the ids of the records a later `scan` reads; `api:` for the service, as its scans).
    public let keyPrefix: String

    private struct LiveCall {
        var turns: [WarningTurn] = []
        var hits: [WarningHit] = []
        var subject: String?
        var counterparty: String?
    }
    private var calls: [String: LiveCall] = [:]

    public init(level: Level, subjectField: String?, counterpartyField: String?, keyPrefix: String = "") {
        self.level = level
        self.subjectField = subjectField
        self.counterpartyField = counterpartyField
        self.keyPrefix = keyPrefix
    }

    /// Calls being followed (for tests and metrics).
    public var followedCalls: Int { calls.count }

    /// A turn of `call`, before the screener takes it; `fields` are the event's other fields
    /// (the subject and counterparty fields among them), as text.
    public func see(call: String, speaker: String, text: String, fields: (String) -> String?) {
        var c = calls[call] ?? LiveCall()
        if let s = subjectField.flatMap(fields), !s.isEmpty { c.subject = s }
        if let s = counterpartyField.flatMap(fields), !s.isEmpty { c.counterparty = s }
        c.turns.append(WarningTurn(speaker: speaker, text: text))
        calls[call] = c
    }

    /// An input event line (`scan --input events`, the WebSocket), before the screener takes it.
    /// Lines that are no turn (an end, bad JSON, a turn without text) are the screener's to judge.
    public func see(eventLine line: ArraySlice<UInt8>) {
        guard case .success(let list) = JSONLine.object(line) else { return }
        var f: [String: Any] = [:]
        for x in list { f[x.key] = x.value }
        guard let call = LiveCallReferrals.text(f["call"]), !call.isEmpty, let text = f["text"] as? String else { return }
        see(call: call, speaker: LiveCallReferrals.text(f["speaker"]) ?? "", text: text) { LiveCallReferrals.text(f[$0]) }
    }

    /// A JSON string or number as text (a phone number may be written either way).
    public static func text(_ v: Any?) -> String? {
        switch v {
        case let s as String: return s
        case let n as JSONNumber: return n.text
        default: return nil
        }
    }

    /// An alert: the warning that opens or escalates the call's case (with the turns so far and
    /// every rule fired in the call), or nil below the referral level.
    public func alert(_ a: CallAlert, origin: String) -> Warning? {
        var c = calls[a.call] ?? LiveCall()
        c.hits += a.newHits.map { WarningHit($0) }
        calls[a.call] = c
        guard a.level >= level, let tier = Tier(a.level) else { return nil }
        return Warning(recordKey: keyPrefix + a.call, recordID: a.call, origin: origin, tier: tier, score: a.score,
                       category: a.category, subject: c.subject, counterparty: c.counterparty, isCall: true,
                       turns: Array(c.turns.prefix(a.turn + 1)), hits: c.hits)
    }

    /// A call's final verdict: the warning of the whole call (the store leaves it unchanged when
    /// an alert already referred it at its level, and extends the evidence to the whole call when
    /// the alert had fewer turns), or nil below the level. The call is forgotten — unless the turn
    /// just seen ended it (turn limit, idle) and starts a new call with the same id and person.
    public func final(_ f: CallFinal, origin: String) -> Warning? {
        let c = calls.removeValue(forKey: f.call) ?? LiveCall()
        if c.turns.count > f.turns {
            // Turns seen beyond the call's: the turn that ended it (turn limit, or idle before it)
            // opened a new call with the same id.
            calls[f.call] = LiveCall(turns: Array(c.turns.suffix(c.turns.count - f.turns)), hits: [],
                                     subject: c.subject, counterparty: c.counterparty)
        }
        guard f.verdict.level >= level, let tier = Tier(f.verdict.level) else { return nil }
        return Warning(recordKey: keyPrefix + f.call, recordID: f.call, origin: origin, tier: tier, score: f.verdict.score,
                       category: f.verdict.category, subject: c.subject, counterparty: c.counterparty, isCall: true,
                       turns: f.record.turns.map { WarningTurn(speaker: $0.speaker, text: $0.text) },
                       hits: f.verdict.hits.map { WarningHit($0) })
    }

    /// Forgets every call (the screener was finished and its finals handled, or dropped).
    public func forgetAll() { calls.removeAll() }
}

extension WarningHit {
    /// A rule hit of a verdict or an alert, with its evidence.
    public init(_ h: RuleHit) {
        self.init(rule: h.rule, title: h.title, score: h.score,
                  spans: h.spans.map { WarningSpan(turn: $0.turn, start: $0.start, end: $0.end, text: $0.text) })
    }
}
