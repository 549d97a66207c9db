import Foundation

/// Screens calls while they happen: turn events arrive interleaved (`CallEventInput`), and it
/// reports typed events (`LiveCallEvent`): an `alert` the moment a call's level rises, and a
/// `final` verdict when the call ends (end event, idle timeout, eviction when too many calls are
/// open, the turn limit, or end of input). It writes nothing: `LiveEventPrinter` does.
///
/// Per call it keeps the normalised text of its last turns (`CallWindow`), and each new turn that
/// can change a rule costs one decision on at most `window` of them. A call that stays within
/// `window` turns and `windowBytes` bytes keeps every turn, and its final verdict is the
/// whole-call verdict: the same as `fanzha scan` on the turns it covers. A longer call keeps at
/// most twice that; its final verdict adds to the verdict on what it kept the rules that fired on
/// the text it let go (with their evidence), so memory per call is bounded however long it runs.
public final class LiveCallScreener {
    public struct Limits: Sendable {
        /// A call with no event for this many input lines (or, with `t`, seconds of event time) is closed.
        public var idleLines = 100_000
        public var idleSeconds: Double = 1800
        /// At most this many open calls; the least recently active is closed to make room.
        public var maxOpenCalls = 100_000
        /// A call with this many turns is closed when its next turn arrives (each turn costs an
        /// evaluation of the call so far); that turn opens a new call with the same id.
        public var maxTurns = Screener.timelineTurns
        /// Alerts and the timeline judge a long call on its last `window` turns, so one event costs
        /// at most an evaluation of that many turns however long the call is. A call keeps the text
        /// of at most `2 × window` turns and `2 × windowBytes` bytes (always its latest turn); when
        /// it has more, the rules that fired on the oldest are kept with their evidence, and the
        /// text goes (`CallWindow`).
        public var window = 400
        public var windowBytes = 400_000
        public init() {}
    }

    /// A call's screening: its text, level and timeline. Only one thread at a time works on a
    /// call (`ShardedLiveCalls` keeps each call on one worker), and only through `Step`s.
    final class LiveCall {
        let id: String
        /// The call's text: its last turns, and what fired on the turns before them.
        let window: CallWindow
        var level: Level = .none
        var reported = Set<Int>()   // rules already reported in alerts
        /// The call's timeline as it happens: the first turn after which the level was at least
        /// medium, and after which a money-request rule fired (what `scan` finds by replaying).
        var warningTurn: Int?
        var moneyTurn: Int?
        init(id: String, window: CallWindow) { self.id = id; self.window = window }
    }

    /// What the screener keeps to know which calls are open, when they go idle and what to say
    /// about their input: everything but the screening itself (`LiveCall`). Read and written by
    /// the planning alone, as the open calls (below): its fields are not checked for exclusive
    /// access at run time.
    final class CallState {
        let call: LiveCall
        /// The call's turns so far (the turn limit).
        @exclusivity(unchecked) var turns = 0
        /// Its last input line, and whether it is open, for its activity entries.
        let presence: Presence
        var lastLine: Int {
            get { presence.lastLine }
            set { presence.lastLine = newValue }
        }
        @exclusivity(unchecked) var lastTime: Double?
        /// Speaker names on neither side, in order of appearance (warned about once per call).
        @exclusivity(unchecked) var unmapped: [String] = []
        /// Whether an event time earlier than the call's latest was already noted.
        @exclusivity(unchecked) var skewNoted = false
        /// The call's last two speaker names and the side each is listed for: a call alternates
        /// between two names, and keying a name (`SpeakerSides.listedSide`) costs more than
        /// comparing it.
        @exclusivity(unchecked) private var speaker: (name: String, side: Side?)?
        @exclusivity(unchecked) private var otherSpeaker: (name: String, side: Side?)?
        init(call: LiveCall, line: Int) { self.call = call; self.presence = Presence(line: line) }

        /// The side `name` is listed for (nil: neither), by `listedSide` for a name not among the last two.
        func listedSide(of name: String, by listedSide: (String) -> Side?) -> Side? {
            if let s = speaker, s.name == name { return s.side }
            if let s = otherSpeaker, s.name == name {
                otherSpeaker = speaker
                speaker = s
                return s.side
            }
            let side = listedSide(name)
            otherSpeaker = speaker
            speaker = (name, side)
            return side
        }
    }

    /// What an entry of the activity queue reads to know whether it is its call's latest: the
    /// call's last input line, and whether the call is still open (`open` holds it: see
    /// `removeOpen`). With this in the entry, telling a stale entry needs no look-up of the
    /// call's id in `open` (hashing the id: two look-ups an event, about 600 instructions); and
    /// an entry left in the queue after its call closed holds no more than this, not the call's text.
    final class Presence {
        @exclusivity(unchecked) var lastLine: Int
        @exclusivity(unchecked) var isOpen = true
        init(line: Int) { lastLine = line }
    }

    /// One step of the screening, in output order: an event that is ready (a notice, bad input),
    /// a call's new turn (which may raise an alert), or a call's end (its final verdict). The
    /// steps of an input line are planned in order (`plan`), without screening anything, and
    /// performed later (`perform`), so the calls' screening can run on several threads while the
    /// open calls, idleness and eviction are kept in one place.
    enum Step {
        case ready(LiveCallEvent)
        case turn(LiveCall, Turn)
        case end(LiveCall, CallFinal.Reason, unmapped: [String])

        /// The call whose screening the step is; nil for a ready event.
        var call: LiveCall? {
            switch self {
            case .ready: return nil
            case .turn(let c, _), .end(let c, _, _): return c
            }
        }
    }

    public let screener: Screener
    public let limits: Limits
    public let sides: SpeakerSides
    // The open calls and their queues are the planning's alone, which one thread at a time does
    // (`ShardedLiveCalls`' planner; a server's shard under its lock); `perform`, which workers
    // call at once, never reads them. Not checked for exclusive access at run time: each check
    // cost about 90 instructions, several per event.
    @exclusivity(unchecked) private var open: [String: CallState] = [:]
    /// Calls by last activity, for idle checks and eviction (lazy: stale entries are skipped).
    @exclusivity(unchecked) private var activity: [(line: Int, call: String, presence: Presence)] = []
    @exclusivity(unchecked) private var activityHead = 0
    /// Calls by the event time (`t`) of their last event, earliest first, for idle-by-time checks:
    /// event times need not follow line order (several sources, clock skew). Lazy like `activity`.
    @exclusivity(unchecked) private var byTime = EarliestFirst()
    /// The side each speaker name seen is listed for (nil: neither). Keying a name
    /// (`SpeakerSides.listedSide`: trimmed, lower-cased, looked up) cost about 3,500
    /// instructions, and every new call names its speakers again — mostly the same few names.
    /// The planning's alone, like the open calls; emptied when it holds `speakerNamesKept`, so
    /// an input that names a new speaker at every event does not grow it without bound.
    @exclusivity(unchecked) private var speakerSides: [String: Side?] = [:]
    static let speakerNamesKept = 4096

    /// `screener` is this live screener's own (not shared with another thread).
    public init(screener: Screener, limits: Limits = Limits(), sides: SpeakerSides = SpeakerSides()) {
        self.screener = screener
        self.limits = limits
        self.sides = sides
    }

    /// The unmapped speaker names a live call lists (`speakers_unmapped`), at most.
    static let unmappedNamesKept = 32

    public var openCalls: Int { open.count }
    /// Turns and bytes of text held by the open calls (`CallWindow`): what bounds their memory.
    var heldTurns: Int { open.values.reduce(0) { $0 + $1.call.window.prepared.turnCount } }
    var heldBytes: Int { open.values.reduce(0) { $0 + $1.call.window.heldBytes } }

    /// One input line (`CallEventInput.decode`): line `number` of `source`, which name it in messages.
    public func handle(line: ArraySlice<UInt8>, number: Int, source: String = "<stdin>") -> [LiveCallEvent] {
        performed { plan(line: line, number: number, source: source, into: &$0) }
    }

    /// One event, the `number`th of the input (what idleness in lines counts), from `source`.
    public func handle(_ event: CallEventInput, number: Int, source: String = "<stdin>") -> [LiveCallEvent] {
        performed { plan(event, number: number, source: source, into: &$0) }
    }

    /// The events of the steps `planSteps` appends, performed in order. The steps go into
    /// `stepsKept`, taken for the line and handed back empty: planned into a new array, every
    /// event's turn step allocated one (and freed it).
    private func performed(_ planSteps: (inout [Step]) -> Void) -> [LiveCallEvent] {
        var steps: [Step] = []
        swap(&steps, &stepsKept)
        planSteps(&steps)
        let events = steps.compactMap { perform($0, screener: screener) }
        steps.removeAll(keepingCapacity: true)
        swap(&steps, &stepsKept)
        return events
    }

    /// The room for a line's steps, kept from line to line (`performed`): the planning's alone.
    @exclusivity(unchecked) private var stepsKept: [Step] = []

    /// Closes every open call (end of input), oldest activity first.
    public func finish() -> [LiveCallEvent] {
        planFinish().compactMap { perform($0, screener: screener) }
    }

    /// The steps of one input line, in output order.
    func plan(line: ArraySlice<UInt8>, number: Int, source: String) -> [Step] {
        var out: [Step] = []
        plan(line: line, number: number, source: source, into: &out)
        return out
    }

    /// The steps of one input line, appended to `out`.
    func plan(line: ArraySlice<UInt8>, number: Int, source: String, into out: inout [Step]) {
        switch CallEventInput.decode(line: line) {
        case .blank: return
        case .malformed(let why): out.append(.ready(.malformed(RecordError(origin: "\(source):\(number)", message: why))))
        case .event(let event): plan(event, number: number, source: source, into: &out)
        case .turnWithoutText(let call, let time):
            expireIdle(now: number, time: time, into: &out)
            out.append(.ready(.malformed(RecordError(origin: "\(source):\(number)", message: "call \(call): a turn without `text` (ignored)"))))
        }
    }

    /// The steps of one event.
    func plan(_ event: CallEventInput, number: Int, source: String) -> [Step] {
        var out: [Step] = []
        plan(event, number: number, source: source, into: &out)
        return out
    }

    /// The steps of one event, appended to `out`.
    func plan(_ event: CallEventInput, number: Int, source: String, into out: inout [Step]) {
        switch event {
        case .end(let call, let time):
            expireIdle(now: number, time: time, into: &out)
            if let state = removeOpen(call) {
                out.append(end(state, reason: .end))
            } else {
                // Not bad input: the call may have been closed already (idle, evicted, at its turn limit).
                out.append(.ready(.notice("\(source):\(number): end of call \(call), which is not open")))
            }
        case .turn(let call, let speaker, let text, let time):
            expireIdle(now: number, time: time, into: &out)
            turn(call: call, speaker: speaker, text: text, time: time, number: number, source: source, into: &out)
        }
    }

    /// The steps that close every open call (end of input), oldest activity first.
    func planFinish() -> [Step] {
        let calls = open.values.sorted { $0.lastLine < $1.lastLine }
        open.removeAll()
        for state in calls { state.presence.isOpen = false }
        return calls.map { end($0, reason: .eof) }
    }

    /// Performs a step with `screener` (the one the call has always been screened with): the
    /// event it reports, if any.
    func perform(_ step: Step, screener: Screener) -> LiveCallEvent? {
        switch step {
        case .ready(let event): return event
        case .turn(let call, let turn): return take(turn, of: call, screener: screener).map(LiveCallEvent.alert)
        case .end(let call, let reason, let unmapped):
            let (verdict, turns) = call.window.final(screener: screener, firstWarningTurn: call.warningTurn, firstMoneyRequestTurn: call.moneyTurn)
            var record = Record(id: call.id, turns: turns)
            record.unmappedSpeakers = unmapped
            return .final(CallFinal(call: call.id, closed: reason, verdict: verdict, record: record))
        }
    }

    private func turn(call: String, speaker: String, text: String, time: Double?, number: Int, source: String, into out: inout [Step]) {
        // Where the line is, for a notice: made only when one is said (most turns say none).
        var origin: String { "\(source):\(number)" }
        let state: CallState
        if let s = open[call], s.turns < limits.maxTurns {
            state = s
        } else {
            if let full = removeOpen(call) {
                // At the turn limit: the call so far ends here, and this turn starts a new one.
                out.append(.ready(.notice("\(origin): call \(call) reached \(limits.maxTurns) turns: closed; this turn starts a new call")))
                out.append(end(full, reason: .turns))
            }
            if open.count >= limits.maxOpenCalls { out += evictOldest() }
            state = CallState(call: LiveCall(id: call, window: CallWindow(prepared: screener.prepareLiveCall(id: call))), line: number)
            open[call] = state
        }
        if let time, let last = state.lastTime, time < last, !state.skewNoted {
            // The turn is used (in arrival order): worth a word, once per call (two sources whose
            // clocks differ by a few seconds would otherwise say it at every other event).
            state.skewNoted = true
            out.append(.ready(.notice("\(origin): call \(call): event time \(time) is earlier than the previous \(last); events of a call are taken in arrival order (said once per call)")))
        }
        state.lastLine = number
        if let time {
            state.lastTime = max(time, state.lastTime ?? time)
            byTime.push(time: state.lastTime!, call: call, line: number)
            if byTime.count > 2 * open.count + 4096 {
                // Stale entries pile up when event time stands still: keep one per open call.
                byTime = EarliestFirst()
                for (id, s) in open { if let t = s.lastTime { byTime.push(time: t, call: id, line: s.lastLine) } }
            }
        }
        activity.append((number, call, state.presence))
        // At most `unmappedNamesKept` names: a call that names a new speaker at every event must
        // not grow with its length.
        let side = state.listedSide(of: speaker, by: listedSide(of:))
        if side == nil && state.unmapped.count < Self.unmappedNamesKept && !state.unmapped.contains(speaker) {
            if state.unmapped.isEmpty {
                out.append(.ready(.notice("\(origin): call \(call): speaker \(jsonString(speaker)) matches no side; read as the callee's (name the sides with --speakers)")))
            }
            state.unmapped.append(speaker)
        }
        state.turns += 1
        out.append(.turn(state.call, Turn(speaker: speaker, side: side ?? .callee, text: text)))
    }

    /// The side `name` is listed for in `sides` (nil: neither), keyed once per name (`speakerSides`).
    private func listedSide(of name: String) -> Side? {
        if let side = speakerSides[name] { return side }
        let side = sides.listedSide(of: name)
        if speakerSides.count >= Self.speakerNamesKept { speakerSides.removeAll(keepingCapacity: true) }
        speakerSides[name] = side
        return side
    }

    /// A call's new turn: its alert if the level rose.
    private func take(_ turn: Turn, of call: LiveCall, screener: Screener) -> CallAlert? {
        let w = call.window
        w.append(turn, screener: screener, limits: limits)
        // A turn that cannot change any rule cannot raise the level: no evaluation needed.
        let local = w.prepared.turnCount - 1
        let last = w.turnCount - 1   // the call's turn number
        // The timeline follows the first `Screener.timelineTurns` turns, as `scan` does.
        let followTimeline = last < Screener.timelineTurns
        // At the highest level no alert can follow: only the timeline's money-request turn can
        // still be found (as `scan`'s replay does once the warning turn is known), and once it
        // is (or the timeline is no longer followed) nothing this turn does can show.
        let atTop = call.level == Level.allCases.last
        let settled = atTop && (!followTimeline || call.moneyTurn != nil)
        guard !settled, last == 0 || screener.turnMayChangeTheVerdict(w.prepared, turn: local) else { return nil }
        // The decision alone (no evidence) on every turn; the full verdict only for an alert.
        let judged = w.prepared.turnCount > limits.window ? w.prepared.lastTurns(limits.window) : w.prepared
        // An alert's verdict comes with the decision when it can (`decideLive(_:alertAbove:)`).
        let (decision, alertVerdict) = atTop && call.warningTurn != nil
            ? (screener.decide(judged, moneyRequestOnly: true), nil) : screener.decideLive(judged, alertAbove: call.level)
        if followTimeline, call.warningTurn == nil, decision.level >= .medium { call.warningTurn = last }
        if followTimeline, call.moneyTurn == nil, decision.moneyRequest { call.moneyTurn = last }
        guard decision.level > call.level else { return nil }
        let verdict = alertVerdict ?? screener.evaluate(judged)
        call.level = verdict.level
        return alert(call, turn: last, verdict, turnOffset: w.dropped + w.prepared.turnCount - judged.turnCount)
    }

    private func alert(_ call: LiveCall, turn: Int, _ v: Verdict, turnOffset: Int = 0) -> CallAlert {
        var fresh = v.hits.filter { !call.reported.contains($0.ruleIndex) }
        if turnOffset > 0 {
            // Judged on the window: its turn numbers are the call's, later by the turns before it.
            fresh = fresh.map { h in
                h.with(spans: h.spans.map { EvidenceSpan(turn: $0.turn.map { $0 + turnOffset }, start: $0.start, end: $0.end, text: $0.text) })
            }
        }
        for h in fresh { call.reported.insert(h.ruleIndex) }
        return CallAlert(call: call.id, turn: turn, level: v.level, score: v.score, category: v.category, newHits: fresh, referral: v.referral)
    }

    /// The step that ends a call (closed already: no longer in `open`).
    private func end(_ state: CallState, reason: CallFinal.Reason) -> Step {
        .end(state.call, reason, unmapped: state.unmapped)
    }

    /// Takes call `id` out of the open calls; its activity entries are stale from now on.
    private func removeOpen(_ id: String) -> CallState? {
        guard let state = open.removeValue(forKey: id) else { return nil }
        state.presence.isOpen = false
        return state
    }

    /// Closes the calls idle at line `now` (and event time `time`): their steps appended to `out`.
    private func expireIdle(now: Int, time: Double?, into out: inout [Step]) {
        func close(_ call: String) {
            guard let state = removeOpen(call) else { return }
            out.append(.ready(.notice("call \(call): closed after being idle (last event at line \(state.lastLine))")))
            out.append(end(state, reason: .idle))
        }
        // Idle by input lines: the activity queue is in line order, so the first busy call ends the search.
        while activityHead < activity.count {
            let (line, call, presence) = activity[activityHead]
            guard presence.isOpen, presence.lastLine == line else { activityHead += 1; continue }  // stale entry
            guard now - line > limits.idleLines else { break }
            activityHead += 1
            close(call)
        }
        compactActivity()
        // Idle by event time: earliest last event first, whatever line it came on.
        if let time {
            while let earliest = byTime.earliest, time - earliest.time > limits.idleSeconds {
                byTime.pop()
                guard let state = open[earliest.call], state.lastLine == earliest.line else { continue }  // stale entry
                close(earliest.call)
            }
        }
    }

    private func evictOldest() -> [Step] {
        while activityHead < activity.count {
            let (line, call, presence) = activity[activityHead]
            activityHead += 1
            guard presence.isOpen, presence.lastLine == line, let state = removeOpen(call) else { continue }
            compactActivity()
            return [.ready(.notice("call \(call): closed to stay under \(limits.maxOpenCalls) open calls")), end(state, reason: .evicted)]
        }
        return []
    }

    private func compactActivity() {
        if activityHead > 4096 && activityHead * 2 > activity.count {
            activity.removeFirst(activityHead)
            activityHead = 0
        }
    }
}

/// A binary min-heap of (event time, call, line), for closing calls idle by event time.
struct EarliestFirst {
    private var items: [(time: Double, call: String, line: Int)] = []

    var earliest: (time: Double, call: String, line: Int)? { items.first }
    var count: Int { items.count }

    mutating func push(time: Double, call: String, line: Int) {
        items.append((time, call, line))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].time < items[parent].time else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < items.count && items[l].time < items[smallest].time { smallest = l }
            if r < items.count && items[r].time < items[smallest].time { smallest = r }
            guard smallest != i else { return }
            items.swapAt(i, smallest)
            i = smallest
        }
    }
}

extension Screener.Prepared {
    /// The call's last `k` turns as a call of their own (their word hits kept): what a live call's
    /// alerts judge once it is longer than the window.
    func lastTurns(_ k: Int) -> Screener.Prepared {
        let w = Screener.Prepared(id: id, isCall: isCall)
        w.turns = Array(turns.suffix(k))
        w.firstTurnNumber = firstTurnNumber + turns.count - w.turns.count
        w.regexMemo = regexMemo
        for (i, t) in w.turns.enumerated() {
            if t.turn.side == .caller { w.firstCallerTurn = w.firstCallerTurn ?? i } else { w.firstCalleeTurn = w.firstCalleeTurn ?? i }
        }
        return w
    }
}
