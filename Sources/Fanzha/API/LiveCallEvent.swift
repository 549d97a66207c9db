/// Live calls as values: what goes into a `LiveCallScreener` (`CallEventInput`) and what comes out
/// (`LiveCallEvent`). The screener never writes output; `LiveEventPrinter` (Output/) turns its
/// events into JSON Lines, TSV or text, as ripgrep's printers consume its searcher's sink.

/// One event of a live call, as read from a line `{"call": ID, "speaker": S, "text": T, "t": seconds}`
/// or `{"call": ID, "end": true}` (`CallEventInput.decode`), or made by a program.
public enum CallEventInput: Sendable, Equatable {
    /// A turn of call `call`; `time` (seconds, any origin) only measures idleness.
    case turn(call: String, speaker: String, text: String, time: Double?)
    /// The call ended.
    case end(call: String, time: Double?)
}

/// What a live-call screener reports.
public enum LiveCallEvent: Sendable {
    /// A call's level rose.
    case alert(CallAlert)
    /// A call ended, and its whole-call verdict.
    case final(CallFinal)
    /// An input event that could not be used: where it was and why. Output writes an `error`
    /// line in its place; the message belongs on standard error.
    case malformed(RecordError)
    /// Something the screener did on its own (closing an idle call or one over the cap, a clock
    /// that went back, a speaker on neither side): for standard error.
    case notice(String)
}

/// A call's level rose at `turn`.
public struct CallAlert: Sendable {
    public let call: String
    /// The turn (0-based) after which the level rose.
    public let turn: Int
    public let level: Level
    public let score: Int
    /// The main category's name.
    public let category: String?
    /// The rules that fired for the first time in this call; evidence turns are the call's.
    public let newHits: [RuleHit]
    public let referral: Referral?
}

/// A call that ended, and the verdict on the whole call (the same as `scan` on its turns).
public struct CallFinal: Sendable {
    /// Why it ended: an end event, idleness, eviction to stay under the open-call cap, the
    /// turn limit (the next turn starts a new call), or the end of input.
    public enum Reason: String, Sendable { case end, idle, evicted, turns, eof }
    public let call: String
    public let closed: Reason
    public let verdict: Verdict
    /// The call as screened: its turns in arrival order (speakers that matched no side are
    /// listed in the printed verdict as `speakers_unmapped`).
    public let record: Record
    public var turns: Int { record.turns.count }
}

extension LiveCallEvent {
    /// The level of an alert or a final verdict.
    public var level: Level? {
        switch self {
        case .alert(let a): return a.level
        case .final(let f): return f.verdict.level
        case .malformed, .notice: return nil
        }
    }
}
