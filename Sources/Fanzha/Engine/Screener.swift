import Foundation
import FanzhaPCRE
import FanzhaText

// The screener: the engine's façade and the start of the pipeline. It prepares a record (each
// turn normalised, the prefilter automaton run over it), then asks an `Evaluation` for a verdict
// or a bare decision, and replays a call's prefixes for its timeline. The evaluation itself is
// spread over the files named for its stages: Evaluation, Workspace, Prefilter, Atoms,
// Conditions, Frames, Scoring, Evidence.

/// Applies a compiled rule set to records: normalise → prefilter → match → score → decide.
///
/// One `Screener` per worker thread: it owns the normaliser (OpenCC handle), the PCRE2 match
/// scratch and the memory its verdicts are written in as JSON. The rule set and the automaton are
/// shared read-only. Its public face (compile, screen) is in API/Screening.swift.
public final class Screener {
    public let rules: RuleSet
    package let matcher: CompiledMatcher
    // A screener's and its prepared records' state is unchecked for exclusive access: each is
    // used by one thread at a time and never re-entered, and the run-time check (about 60
    // instructions) ran about twenty times a record (`prepared.turns` alone in every stage).
    @exclusivity(unchecked) package var usePrefilter: Bool
    private let normaliser: Normaliser
    let scratch: MatchScratch

    package init(matcher: CompiledMatcher, usePrefilter: Bool = true, matchLimit: UInt32 = MatchScratch.defaultMatchLimit) throws {
        self.rules = matcher.rules
        self.matcher = matcher
        self.usePrefilter = usePrefilter
        self.normaliser = try Normaliser()
        self.scratch = MatchScratch(matchLimit: matchLimit)
        outcomes = Screener.outcomes(matcher.rules)
        atomCount = matcher.rules.atoms.count
        atomMatchers = .allocate(capacity: max(atomCount, 1))
        atomMatchers.initialize(repeating: AtomMatchers(), count: atomCount)
        ruleIdentities = .allocate(capacity: max(matcher.rules.rules.count, 1))
        ruleIdentities.initialize(repeating: nil, count: matcher.rules.rules.count)
    }

    /// `usePrefilter: false` runs every rule's matchers on every record (for measurements and
    /// the tests that check the prefilter changes nothing).
    package convenience init(rules: RuleSet, model: TextModel? = nil, usePrefilter: Bool) throws {
        try self.init(matcher: CompiledMatcher(rules, model: model), usePrefilter: usePrefilter)
    }

    /// A record's normalised turns and literal hits, kept so a live call can grow turn by turn.
    package final class Prepared {
        @exclusivity(unchecked) package private(set) var id: String
        @exclusivity(unchecked) package private(set) var isCall: Bool
        /// Per turn: the turn, its normalised text and the dictionary words in it. One array of
        /// one struct, not an array each: a record costs one allocation here, not three.
        @exclusivity(unchecked) var turns: [PreparedTurn] = []
        /// The first turn of each side: from it on, `caller:`/`callee:` conditions have text to
        /// look at (`callee: not "不"` holds once the callee has said anything else).
        @exclusivity(unchecked) var firstCallerTurn: Int?, firstCalleeTurn: Int?
        /// The call's turn number of `turns[0]`: a live call's window starts later in the call.
        @exclusivity(unchecked) var firstTurnNumber = 0
        /// A live call's regex occurrences, each turn matched once and shared by every window of
        /// the call (`RegexMemo`); nil for a record evaluated once.
        @exclusivity(unchecked) var regexMemo: RegexMemo?
        /// The last record's normalised texts that nothing else held when it was emptied (`reset`),
        /// refilled for this record's turns (`Screener.append`): no text allocated and freed per turn.
        @exclusivity(unchecked) var spareTexts: [NormalisedText] = []
        /// The same for the last record's word-hit arrays: this record's turns' hits are written in them.
        @exclusivity(unchecked) var spareHits: [[(Int32, Int32, Int32)]] = []
        /// A message's (a one-turn record's) `ScalarBits`, written by the normaliser as it writes
        /// the text (`Screener.prepare`), for the regexes' literal gates; nil for more turns. A
        /// call's turns get theirs from an evaluation that asks (`scalarBits(ofTurn:)`): a set is
        /// 512 bytes, and a call's turns can be many and short. (A live call, evaluated again at
        /// its events, keeps its window's: Calls/LiveScalarBits.swift.)
        @exclusivity(unchecked) private(set) var messageScalarBits: UnsafePointer<UInt64>?
        /// Its memory, made for the first message prepared in this object and kept.
        @exclusivity(unchecked) private var messageScalarMemory: UnsafeMutablePointer<UInt64>?
        init(id: String, isCall: Bool) { self.id = id; self.isCall = isCall }
        deinit { messageScalarMemory?.deallocate() }
        package var turnCount: Int { turns.count }

        /// Turn `t`'s normalised text, read in place. `turns[t].text` copies the whole turn first,
        /// retaining and releasing its original speaker and text strings too: on a live call the
        /// reader thread made those, long before, so each copy brought their cold line to the
        /// worker for a count it did not need.
        @inline(__always)
        func normalisedText(ofTurn t: Int) -> NormalisedText {
            turns.withUnsafeBufferPointer { $0[t].text }
        }

        /// Turn `t`'s word hits, read in place (as `normalisedText(ofTurn:)`).
        @inline(__always)
        func wordHits(ofTurn t: Int) -> [(Int32, Int32, Int32)] {
            turns.withUnsafeBufferPointer { $0[t].wordHits }
        }

        /// Empty again, for another record; the array of turns keeps its memory, and the texts
        /// no one else holds (a live call's window, a caller's copy) and the word-hit arrays are
        /// kept for the next turns (an array something else still holds is copied when written).
        func reset(id: String, isCall: Bool) {
            self.id = id
            self.isCall = isCall
            while var last = turns.popLast() {
                if isKnownUniquelyReferenced(&last.text) { spareTexts.append(last.text) }
                if last.wordHits.capacity > 0 { spareHits.append(last.wordHits) }
            }
            firstCallerTurn = nil
            firstCalleeTurn = nil
            firstTurnNumber = 0
            regexMemo = nil
            messageScalarBits = nil
        }

        /// Memory for a message's `ScalarBits`, which it then has (`messageScalarBits`).
        func takeMessageScalarBits() -> UnsafeMutablePointer<UInt64> {
            let bits = messageScalarMemory ?? UnsafeMutablePointer<UInt64>.allocate(capacity: ScalarBits.words)
            messageScalarMemory = bits
            messageScalarBits = UnsafePointer(bits)
            return bits
        }
    }

    struct PreparedTurn {
        let turn: Turn
        /// A `var` only so that `Prepared.reset` can ask whether anything else holds it.
        var text: NormalisedText
        /// (word id, start, end) byte offsets of every dictionary word found.
        let wordHits: [(Int32, Int32, Int32)]
    }

    /// The record normalised and its words found. The screener keeps the last record it prepared
    /// and prepares the next one in it when nothing else holds it any more (its verdict does not):
    /// the object and its array of turns are reused, not allocated and freed again per record.
    package func prepare(_ record: Record) -> Prepared {
        let p: Prepared
        if isKnownUniquelyReferenced(&lastPrepared), let last = lastPrepared {
            p = last
            p.reset(id: record.id, isCall: record.isCall)
        } else {
            p = Prepared(id: record.id, isCall: record.isCall)
            lastPrepared = p
        }
        if record.turns.count == 1 {
            append(record.turns[0], to: p, scalarBits: p.takeMessageScalarBits())
        } else {
            for t in record.turns { append(t, to: p) }
        }
        return p
    }
    @exclusivity(unchecked) private var lastPrepared: Prepared?
    /// The last evidence table made (`emptyEvidenceTable`, Evidence.swift).
    @exclusivity(unchecked) var lastEvidenceTable: EvidenceTable?

    /// Turn `turn` normalised and its words found, as `p`'s next turn; with `scalarBits`, its
    /// `ScalarBits` written there too.
    package func append(_ turn: Turn, to p: Prepared, scalarBits: UnsafeMutablePointer<UInt64>? = nil) {
        let n = normaliser.normalise(turn.text, into: p.spareTexts.popLast(), scalarBits: scalarBits)
        if turn.side == .caller { p.firstCallerTurn = p.firstCallerTurn ?? p.turns.count } else { p.firstCalleeTurn = p.firstCalleeTurn ?? p.turns.count }
        // Into the last record's array for this turn when there is one (`Prepared.reset` keeps
        // them), emptied keeping its memory: no array allocated and freed per turn with words.
        if var spare = p.spareHits.popLast() {
            spare.removeAll(keepingCapacity: true)
            findWords(in: n, into: &spare)
            p.turns.append(PreparedTurn(turn: turn, text: n, wordHits: spare))
            return
        }
        // Otherwise (the first records, a live call's turns) collected in a reused buffer (moved
        // out and back, so never shared and copied), then kept as a copy of exactly its size: a
        // live call keeps every turn's hits. (Copied from a buffer pointer:
        // `Array(unsafeUninitializedCapacity:)` takes the standard library's unspecialised
        // allocation path, several hundred instructions more.)
        var hits: [(Int32, Int32, Int32)] = []
        swap(&hits, &hitScratch)
        defer { swap(&hits, &hitScratch) }
        hits.removeAll(keepingCapacity: true)
        findWords(in: n, into: &hits)
        p.turns.append(PreparedTurn(turn: turn, text: n, wordHits: hits.isEmpty ? [] : hits.withUnsafeBufferPointer { Array($0) }))
    }

    /// Appends to `hits` the dictionary words in `n` (none without the prefilter).
    private func findWords(in n: NormalisedText, into hits: inout [(Int32, Int32, Int32)]) {
        guard usePrefilter else { return }
        // The edges through a buffer pointer, as the automaton's tables: nothing is retained
        // around the automaton's loop, which then keeps its state in registers.
        let automaton = matcher.automaton
        matcher.rules.wordEdges.withUnsafeBufferPointer { edges in
        n.bytes.withUnsafeBufferPointer { buf in
            automaton.forEachMatch(in: buf) { w, s, e in
                // A Latin-letter word is a whole word unless written `~"…"`, and so is a variant
                // spelling's short Latin edge (`sd` is 刷单, not the `sd` of `usd`; RULES.md).
                let edge = edges[w]
                if edge != 0 {
                    if (edge & 1 != 0 && s > 0 && Literal.isLatinLetter(buf[s - 1]))
                        || (edge & 2 != 0 && e < buf.count && Literal.isLatinLetter(buf[e])) { return }
                    // A false friend (`sd卡`) takes back the hits that are a prefix of it (`sd`, 刷单's
                    // variant): they were reported before it, since hits come in order of their end.
                    if edge & RuleSet.falseFriendEdge != 0 {
                        Screener.takeBackPrefixes(of: Int32(s), Int32(e), from: &hits)
                        return
                    }
                }
                hits.append((Int32(w), Int32(s), Int32(e)))
            }
        }
        }
    }
    @exclusivity(unchecked) private var hitScratch: [(Int32, Int32, Int32)] = []

    /// Removes the hits that start at `s` and end before `e` (only the latest hits can: they are
    /// in order of their end).
    static func takeBackPrefixes(of s: Int32, _ e: Int32, from hits: inout [(Int32, Int32, Int32)]) {
        var k = hits.count - 1
        while k >= 0 && hits[k].2 > s {
            if hits[k].1 == s && hits[k].2 < e { hits.remove(at: k) }
            k -= 1
        }
    }
    /// Each level's and main category's advice and referral (Scoring.swift, `outcomes`).
    let outcomes: [Outcome]
    /// The model's per-record counting table (Model/ModelCondition.swift), reused.
    let modelScratch = ModelScratch()
    /// The output lines this worker has written for the batch in hand (`scan`: each verdict by
    /// `VerdictPrinter.render(_:record:appendingTo:)`, one after the other), copied to the output
    /// in input order and emptied once the batch is delivered (`ScanPipeline`): a line costs no
    /// array of its own, allocated, copied and freed. Four megabytes are kept (a batch of 1,024
    /// verdicts is under one); more, grown for long calls, is given back.
    package let batchLines = JSONBytes(capacity: 1 << 16, keeping: 1 << 22)

    /// Per atom, for this worker, once asked for: its PCRE2 matchers (a regex's own; a term
    /// list's compiled on first use: only a scan without the prefilter needs them), its
    /// literal gate (LiteralGate.swift) and its anchored search (StartAnchors.swift). In memory of its own, read through a pointer: a class's
    /// array property is checked for exclusive access at run time on every read (about 60
    /// instructions), and these are read for every regex an evaluation runs.
    let atomMatchers: UnsafeMutablePointer<AtomMatchers>
    let atomCount: Int
    struct AtomMatchers {
        var patterns: [Pattern]?
        var gate: GateState = .unknown
        /// Searches so far of a regex with words and no gate yet (`searchesBeforeGate`).
        var searches: Int32 = 0
        var anchored: AnchoredState = .unknown
        /// The literal gate's `pretest`, once the gate is made (till then one that passes every text),
        /// read with no switch on `gate` nor reference to it (`Evaluation.gateTurnsAway`).
        var pretest = LiteralGate.Pretest()
    }
    /// Per rule, the identity its hits share (`ruleIdentity`), made at its first hit. In memory of
    /// its own, read through a pointer, as `atomMatchers`.
    private let ruleIdentities: UnsafeMutablePointer<RuleIdentity?>

    /// Rule `i`'s name, title, score and tags, as every hit of it on this screener carries them.
    func ruleIdentity(_ i: Int) -> RuleIdentity {
        if let made = ruleIdentities[i] { return made }
        let rule = rules.rules[i]
        let made = RuleIdentity(rule: rule.id, title: rule.title, score: rule.score, tags: rule.tags)
        ruleIdentities[i] = made
        return made
    }

    /// The workspace, moved into an evaluation while it runs and moved back (`Evaluation.init`,
    /// `release()`): in memory of its own, so that each move is one copy of its 624 bytes. Taken
    /// out of an optional (`Optional.take()`) and assigned back, it was copied seven times a
    /// record, about 650 instructions. Uninitialised while `workspaceTaken`.
    let workspaceStore: UnsafeMutablePointer<Workspace> = {
        let p = UnsafeMutablePointer<Workspace>.allocate(capacity: 1)
        p.initialize(to: Workspace())
        return p
    }()
    @exclusivity(unchecked) var workspaceTaken = false
    /// What a live call's decision reads, built on the first live call (LiveDecision.swift).
    @exclusivity(unchecked) var liveIndexStorage: LiveIndex?

    deinit {
        workspaceStore.pointee.deallocate()
        workspaceStore.deinitialize(count: 1)
        workspaceStore.deallocate()
        for a in 0..<atomCount { atomMatchers[a].releaseHeld() }
        atomMatchers.deinitialize(count: atomCount)
        atomMatchers.deallocate()
        ruleIdentities.deinitialize(count: rules.rules.count)
        ruleIdentities.deallocate()
    }

    /// The verdict on the first `turnLimit` turns (all by default). With `timeline` (calls), also
    /// finds the first turn after which the level was at least medium and the first turn after
    /// which a rule tagged `money_request` fired, by deciding each prefix of the first
    /// `timelineTurns` turns: a rule's outcome on a prefix is exactly what a live screener saw then.
    package func evaluate(_ p: Prepared, turnLimit: Int? = nil, timeline: Bool = false) -> Verdict {
        let limit = min(turnLimit ?? p.turns.count, p.turns.count)
        var warningTurn: Int?, moneyTurn: Int?
        let searched = min(limit, Screener.timelineTurns)
        if timeline, searched > 0 {
            for k in 1...searched where warningTurn == nil || moneyTurn == nil {
                // A turn that adds no occurrence leaves the verdict as it was after the turn
                // before, which did not qualify (or the loop would have recorded it): skip it.
                // The first prefix always runs (rules made only of `not` fire on no text at all).
                if k > 1 && !turnMayChangeTheVerdict(p, turn: k - 1) { continue }
                // Once the level has been reached, only the money-request rules still matter.
                let d = decide(p, turnLimit: k, moneyRequestOnly: warningTurn != nil)
                if warningTurn == nil, d.level >= .medium { warningTurn = k - 1 }
                if moneyTurn == nil, d.moneyRequest { moneyTurn = k - 1 }
            }
        }
        if timeline { return evaluate(p, turnLimit: limit, firstWarningTurn: warningTurn, firstMoneyRequestTurn: moneyTurn) }
        var e = Evaluation(screener: self, prepared: p, turnLimit: limit)
        return e.verdict(firstWarningTurn: nil, firstMoneyRequestTurn: nil)
    }

    /// How many turns of a call the timeline replays. Each prefix costs an evaluation of the
    /// call so far, so the search is quadratic in turns: this bounds a hostile transcript (a
    /// three-hour call has about 3,000 turns). The verdict itself always covers every turn.
    package static let timelineTurns = 5_000

    /// The verdict on the first `turnLimit` turns of a call, with its timeline as found (by the
    /// replay above, or by a live screener that watched every prefix up to `timelineTurns`);
    /// `errors` says so when the timeline was cut before finding both turns.
    package func evaluate(_ p: Prepared, turnLimit: Int, firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict {
        let limit = min(turnLimit, p.turns.count)
        var e = Evaluation(screener: self, prepared: p, turnLimit: limit)
        if limit > Screener.timelineTurns, firstWarningTurn == nil || firstMoneyRequestTurn == nil {
            e.errors.append("the call timeline was searched in the first \(Screener.timelineTurns) of \(limit) turns only")
        }
        return e.verdict(firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn)
    }

    /// The level of the first `turnLimit` turns (all by default) and whether a rule tagged
    /// `money_request` fired: a verdict's decision without its evidence or timeline, which is all
    /// a call's timeline needs from each prefix, and all `scan --count` needs from a record. With
    /// `moneyRequestOnly` only those rules run (the level is then not computed) and the first
    /// that fires ends the evaluation.
    package func decide(_ p: Prepared, turnLimit: Int? = nil, moneyRequestOnly: Bool = false) -> Decision {
        var e = Evaluation(screener: self, prepared: p, turnLimit: min(turnLimit ?? p.turns.count, p.turns.count))
        // A live call's window, judged at each of its events: from its last decision (LiveDecision.swift).
        if usePrefilter && turnLimit == nil, let memo = p.regexMemo {
            if moneyRequestOnly { return Decision(level: .none, moneyRequest: e.decideMoneyRequestLive(memo), errors: e.errors) }
            let d = e.decideLive(memo)
            return Decision(level: rules.levels.level(for: d.score), moneyRequest: d.moneyRequest, errors: e.errors)
        }
        let d = e.decide(moneyRequestOnly: moneyRequestOnly)
        return Decision(level: moneyRequestOnly ? .none : rules.levels.level(for: d.score), moneyRequest: d.moneyRequest,
                        errors: e.errors)
    }

    /// Whether turn `t` can add an occurrence of any atom, and so change any rule's outcome.
    /// Conditions depend on turns through occurrences, and on whether a side has spoken at all
    /// (a scope over a side with no turn is false), so a turn with no dictionary word and no regex
    /// match, by a side that has spoken before, leaves every rule as it was. Conservative: without
    /// the prefilter (no word hits to look at) or when a regex hits its match limit, the turn
    /// counts as a change.
    package func turnMayChangeTheVerdict(_ p: Prepared, turn t: Int) -> Bool {
        // Any turn can move the learned model's probability (Model/).
        guard usePrefilter, matcher.model == nil, p.turns[t].wordHits.isEmpty, t != p.firstCallerTurn, t != p.firstCalleeTurn else { return true }
        // Without a word in this turn, only a regex that needs no word can match in it.
        let program = matcher.programPointer
        return p.turns[t].text.bytes.withUnsafeBufferPointer { buf in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ScalarBits.words) { bits in
            ScalarBits.fill(bits.baseAddress!, from: buf)
            return program.pointee.regexAtoms.contains { a in
                guard program.pointee.atomClauseCount[Int(a)] == 0 else { return false }
                if let gate = literalGate(ofAtom: Int(a)), !gate.admits(buf, scalars: bits.baseAddress!) { return false }
                guard let patterns = try? patterns(ofAtom: Int(a)) else { return true }
                return patterns.contains { pattern in
                    do { return try pattern.firstMatch(in: buf, using: scratch) != nil } catch { return true }
                }
            }
            }
        }
    }
}
