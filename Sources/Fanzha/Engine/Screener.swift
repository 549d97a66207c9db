import Foundation
import FanzhaPCRE
import FanzhaText

/// Applies a compiled rule set to records: normalise → prefilter → match → score → decide.
///
/// One `Screener` per worker thread: it owns the normaliser (OpenCC handle) and the PCRE2 match
/// scratch. The rule set and the automaton are shared read-only. Its public face (compile, screen)
/// is in API/Screening.swift.
public final class Screener {
    public let rules: RuleSet
    package let matcher: CompiledMatcher
    package var usePrefilter: Bool
    private let normaliser: Normaliser
    let scratch: MatchScratch

    package init(matcher: CompiledMatcher, usePrefilter: Bool = true, matchLimit: UInt32 = MatchScratch.defaultMatchLimit) throws {
        self.rules = matcher.rules
        self.matcher = matcher
        self.usePrefilter = usePrefilter
        self.normaliser = try Normaliser()
        self.scratch = MatchScratch(matchLimit: matchLimit)
    }

    /// `usePrefilter: false` runs every rule's matchers on every record (for measurements and
    /// the tests that check the prefilter changes nothing).
    package convenience init(rules: RuleSet, model: TextModel? = nil, usePrefilter: Bool) throws {
        try self.init(matcher: CompiledMatcher(rules, model: model), usePrefilter: usePrefilter)
    }

    /// A record's normalised turns and literal hits, kept so a live call can grow turn by turn.
    package final class Prepared {
        package let id: String
        package let isCall: Bool
        /// Per turn: the turn, its normalised text and the dictionary words in it. One array of
        /// one struct, not an array each: a record costs one allocation here, not three.
        var turns: [PreparedTurn] = []
        /// The first turn of each side: from it on, `caller:`/`callee:` conditions have text to
        /// look at (`callee: not "不"` holds once the callee has said anything else).
        var firstCallerTurn: Int?, firstCalleeTurn: Int?
        init(id: String, isCall: Bool) { self.id = id; self.isCall = isCall }
        package var turnCount: Int { turns.count }
    }

    struct PreparedTurn {
        let turn: Turn
        let text: NormalisedText
        /// (word id, start, end) byte offsets of every dictionary word found.
        let wordHits: [(Int32, Int32, Int32)]
    }

    package func prepare(_ record: Record) -> Prepared {
        let p = Prepared(id: record.id, isCall: record.isCall)
        for t in record.turns { append(t, to: p) }
        return p
    }

    package func append(_ turn: Turn, to p: Prepared) {
        let n = normaliser.normalise(turn.text)
        if turn.role == .caller { p.firstCallerTurn = p.firstCallerTurn ?? p.turns.count } else { p.firstCalleeTurn = p.firstCalleeTurn ?? p.turns.count }
        // Collected in a reused buffer (moved out and back, so never shared and copied), then kept
        // as a copy of exactly its size: a live call keeps every turn's hits.
        var hits: [(Int32, Int32, Int32)] = []
        swap(&hits, &hitScratch)
        defer { swap(&hits, &hitScratch) }
        hits.removeAll(keepingCapacity: true)
        if usePrefilter {
            let edges = matcher.rules.wordEdges
            n.bytes.withUnsafeBufferPointer { buf in
                matcher.automaton.forEachMatch(in: buf) { w, s, e in
                    // A Latin-letter word is a whole word unless written `~"…"`, and so is a variant
                    // spelling's short Latin edge (`sd` is 刷单, not the `sd` of `usd`; RULES.md).
                    let edge = edges[w]
                    if edge != 0 && ((edge & 1 != 0 && s > 0 && Literal.isLatinLetter(buf[s - 1]))
                                     || (edge & 2 != 0 && e < buf.count && Literal.isLatinLetter(buf[e]))) { return }
                    hits.append((Int32(w), Int32(s), Int32(e)))
                }
            }
        }
        p.turns.append(PreparedTurn(turn: turn, text: n, wordHits: hits.isEmpty ? [] : Array(unsafeUninitializedCapacity: hits.count) { buffer, count in
            _ = buffer.initialize(from: hits)
            count = hits.count
        }))
    }
    private var hitScratch: [(Int32, Int32, Int32)] = []
    /// The model's per-record counting table (Model/ModelCondition.swift), reused.
    let modelScratch = ModelScratch()

    /// Per atom, its PCRE2 matchers, kept for this worker once asked for: a regex's own; a term
    /// list's compiled on first use (only a scan without the prefilter needs them).
    private var literalPatterns: [[Pattern]?] = []

    func patterns(ofAtom a: Int) throws(PatternCompileError) -> [Pattern] {
        if literalPatterns.isEmpty { literalPatterns = Array(repeating: nil, count: rules.atoms.count) }
        if let done = literalPatterns[a] { return done }
        let atom = rules.atoms[a]
        var compiled = atom.patterns
        for source in atom.literalSources { compiled.append(try Pattern(source, options: [])) }
        literalPatterns[a] = compiled
        return compiled
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
        var e = Evaluation(scanner: self, prepared: p, turnLimit: limit)
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
        var e = Evaluation(scanner: self, prepared: p, turnLimit: limit)
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
        var e = Evaluation(scanner: self, prepared: p, turnLimit: min(turnLimit ?? p.turns.count, p.turns.count))
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
            program.pointee.regexAtoms.contains { a in
                guard program.pointee.atomClauseCount[Int(a)] == 0 else { return false }
                guard let patterns = try? patterns(ofAtom: Int(a)) else { return true }
                return patterns.contains { pattern in
                    do { return try pattern.firstMatch(in: buf, using: scratch) != nil } catch { return true }
                }
            }
        }
    }

    // MARK: - Evaluation of one record

    /// A place in one turn, in normalised bytes; turn -1 means "true, but nowhere" (from `not`).
    /// Its evidence is `arena[evStart ..< evStart + evCount]` of the workspace: plain values, no
    /// array per occurrence.
    struct Occurrence {
        var turn: Int32
        var start: Int32
        var end: Int32
        var evStart: Int32
        var evCount: Int32
        static let nowhere = Occurrence(turn: -1, start: 0, end: 0, evStart: 0, evCount: 0)
    }
    struct Evidence: Hashable { var turn: Int32; var start: Int32; var end: Int32 }
    /// A frame in one turn: normalised bytes `start ..< end` (what atoms are checked against) and
    /// the original text's scalars `originalStart ..< originalEnd` (what the verdict reports).
    struct FrameSpan: Equatable {
        var turn: Int32, start: Int32, end: Int32, kind: UInt8, originalStart: Int32, originalEnd: Int32, rule: Int32
    }

    /// A node's result: the occurrences `occ[start ..< start + count]` of the workspace. Results
    /// are ranges of one arena, so evaluating a condition allocates nothing per node.
    struct Occurrences {
        var start: Int32
        var count: Int32
        var isEmpty: Bool { count == 0 }
        static let none = Occurrences(start: 0, count: 0)
        /// The workspace keeps `Occurrence.nowhere` at index 0.
        static let nowhere = Occurrences(start: 0, count: 1)
    }

    /// Occurrence lists are capped: enough for evidence and counts, never a combinatorial blow-up.
    static let occurrenceCap = 256
    /// At most this many occurrences of one atom per turn are taken, the same with the automaton
    /// and with PCRE2 (so the prefilter never changes a verdict), however many a hostile text holds.
    static let matchesPerTurn = 4096

    /// Per-worker memory reused from record to record; a generation number marks what is current.
    /// A struct the evaluation owns while it runs (moved out of the scanner and back), so the
    /// hot loop touches plain arrays, not properties of a shared object.
    struct Workspace {
        var generation: UInt32 = 0
        /// Per word, clause, atom and rule (×4 scopes): the generation that last wrote the entry.
        /// Plain buffers (`Arena`), like every table here: no copy-on-write check per write.
        var wordStamp = Arena<UInt32>()
        /// Clauses of the prefilter that a word of this record satisfies.
        var clauseStamp = Arena<UInt32>()
        var atomStamp = Arena<UInt32>()
        var atomResult = Arena<Occurrences>()
        var ruleStamp = Arena<UInt32>()
        var ruleResult = Arena<Occurrences>()
        /// Every occurrence made while evaluating one record (index 0: `nowhere`).
        var occ = Arena<Occurrence>()
        var arena = Arena<Evidence>()
        /// Results of a node's children while it combines them (a stack: nodes nest).
        var stack = Arena<Occurrences>()
        var ruleSeen = Arena<UInt32>()
        var candidates: [Int32] = []
        /// The automaton's hits per atom, `atomHits[atomHitFirst[a] ..< atomHitFirst[a] +
        /// atomHitCount[a]]` (placed by counting, not by sorting: an atom's run is in turn order,
        /// sorted within a turn when the atom is first asked for, `atomHitSorted`).
        var atomHits = Arena<Evidence>()
        var atomHitStamp = Arena<UInt32>()
        var atomHitFirst = Arena<Int32>()
        var atomHitCount = Arena<Int32>()
        var atomHitSorted = Arena<Bool>()
        /// The atoms with hits in this record.
        var touchedAtoms = Arena<Int32>()
        /// Per turn, its side as a scope mask: 1 caller, 2 callee.
        var sides = Arena<UInt8>()
        /// The byte offset of each scalar of one turn's original text (and its length last), for
        /// evidence text, and which turn of this record that is (-1: none yet).
        var scalarBytes = Arena<Int32>()
        var offsetsTurn = -1
        var categoryScores: [Int] = []
        var categoryHit: [Bool] = []
        /// A hit's evidence while it is sorted and merged.
        var evidence: [Evidence] = []
        /// The right-hand occurrences of a `near`/`then` pair search, in text order, and those
        /// one left-hand occurrence pairs with.
        var order: [Int32] = []
        var accepted: [Int32] = []
        /// The frames found in this record (RULES.md, Frames): each a sentence, or a whole message.
        var frames: [FrameSpan] = []

        /// Starts a record: a new generation, tables sized for `rules`, the arenas emptied.
        mutating func begin(_ rules: RuleSet, clauses: Int) {
            generation &+= 1
            let wrapped = generation == 0
            if wrapped { generation = 1 }   // forget every stamp below
            if wrapped || clauseStamp.count != clauses { clauseStamp.reset(count: clauses, to: 0) }
            if wrapped || wordStamp.count != rules.words.count { wordStamp.reset(count: rules.words.count, to: 0) }
            let atoms = rules.atoms.count
            if wrapped || atomStamp.count != atoms {
                atomStamp.reset(count: atoms, to: 0)
                atomResult.reset(count: atoms, to: .none)
                atomHitStamp.reset(count: atoms, to: 0)
                atomHitFirst.reset(count: atoms, to: 0)
                atomHitCount.reset(count: atoms, to: 0)
                atomHitSorted.reset(count: atoms, to: false)
            }
            let count = rules.rules.count
            if wrapped || ruleSeen.count != count { ruleSeen.reset(count: count, to: 0) }
            // A rule's result per scope (4) and per kinds of frame it cannot read (16).
            if wrapped || ruleStamp.count != count * 64 {
                ruleStamp.reset(count: count * 64, to: 0)
                ruleResult.reset(count: count * 64, to: .none)
            }
            offsetsTurn = -1
            frames.removeAll(keepingCapacity: true)
            occ.removeAll()
            occ.append(.nowhere)
            arena.removeAll()
            stack.removeAll()
        }

        func deallocate() {
            wordStamp.deallocate(); clauseStamp.deallocate(); atomStamp.deallocate(); atomResult.deallocate()
            ruleStamp.deallocate(); ruleResult.deallocate(); occ.deallocate(); arena.deallocate(); stack.deallocate()
            ruleSeen.deallocate(); atomHits.deallocate(); atomHitStamp.deallocate(); atomHitFirst.deallocate()
            atomHitCount.deallocate(); atomHitSorted.deallocate(); touchedAtoms.deallocate(); sides.deallocate(); scalarBytes.deallocate()
        }
    }
    /// Taken by an evaluation while it runs (`Optional.take()`: moved, never copied) and handed back.
    var workspace: Workspace? = Workspace()

    deinit {
        workspace?.deallocate()
    }

    /// One evaluation of the rules on the first `turnLimit` turns of a record.
    ///
    /// It refers to the scanner and the record `unowned(unsafe)` and to the program by pointer:
    /// the caller keeps them alive for the evaluation's whole (short, synchronous) life, and
    /// counting references to objects all workers share would make the cores fight over the
    /// same cache lines on every record. It owns the scanner's workspace while it runs (swapped
    /// in, so no array is copied); `release()` hands it back.
    struct Evaluation {
        unowned(unsafe) let scanner: Screener
        unowned(unsafe) let prepared: Prepared
        /// The shared program, read in place: no copy, no reference counting per record.
        let program: UnsafePointer<Program>
        var ws: Workspace
        let turnLimit: Int
        let usePrefilter: Bool
        var errors: [String] = []
        var failedAtoms = Set<Int>()
        var currentRule = 0
        /// The kinds of frame (bits of `FrameKinds`) whose text the rule being evaluated does not
        /// read: its atoms' occurrences inside such frames are left out.
        var blindness: UInt8 = 0
        /// The sides with a turn here, as scope bits (1 caller, 2 callee).
        var sidesPresent: UInt8 = 0
        /// The model's margin and evidence on this record, per scope mask, once asked for (Model/ModelCondition.swift).
        var modelCache = ModelCache()

        init(scanner: Screener, prepared: Prepared, turnLimit: Int) {
            self.scanner = scanner
            self.prepared = prepared
            self.turnLimit = turnLimit
            self.program = UnsafePointer(scanner.matcher.programPointer)
            self.usePrefilter = scanner.usePrefilter
            ws = scanner.workspace.take()!
            ws.begin(scanner.rules, clauses: program.pointee.clauseTotal)
            ws.sides.reset(count: turnLimit, to: 0)
            // The record's arrays read once (each read of a class's property is checked for
            // exclusive access at run time).
            let turns = prepared.turns
            for t in 0..<turnLimit {
                let side: UInt8 = turns[t].turn.role == .caller ? 1 : 2
                ws.sides[t] = side
                sidesPresent |= side
            }
            guard usePrefilter else { return }
            // The automaton's hits listed under their atoms, by counting: one pass to mark the
            // words and count each atom's hits, one to place them.
            let g = ws.generation
            ws.touchedAtoms.removeAll()
            for t in 0..<turnLimit {
                for h in turns[t].wordHits {
                    let w = Int(h.0)
                    if ws.wordStamp[w] != g {
                        ws.wordStamp[w] = g
                        for k in Int(program.pointee.clausesByWordStart[w])..<Int(program.pointee.clausesByWordStart[w + 1]) {
                            ws.clauseStamp[Int(program.pointee.clausesByWord[k])] = g
                        }
                    }
                    for k in Int(program.pointee.atomsByWordStart[w])..<Int(program.pointee.atomsByWordStart[w + 1]) {
                        let a = Int(program.pointee.atomsByWord[k])
                        if ws.atomHitStamp[a] != g {
                            ws.atomHitStamp[a] = g
                            ws.atomHitCount[a] = 0
                            ws.atomHitSorted[a] = false
                            ws.touchedAtoms.append(Int32(a))
                        }
                        ws.atomHitCount[a] += 1
                    }
                }
            }
            var total = 0
            for i in 0..<ws.touchedAtoms.count {
                let a = Int(ws.touchedAtoms[i])
                ws.atomHitFirst[a] = Int32(total)   // traps, never wraps, past 2^31 hits (over 25 GB of them)
                total += Int(ws.atomHitCount[a])
                ws.atomHitCount[a] = 0   // counts again while placing
            }
            ws.atomHits.reset(count: total, to: Evidence(turn: 0, start: 0, end: 0))
            for t in 0..<turnLimit {
                for h in turns[t].wordHits {
                    let w = Int(h.0)
                    for k in Int(program.pointee.atomsByWordStart[w])..<Int(program.pointee.atomsByWordStart[w + 1]) {
                        let a = Int(program.pointee.atomsByWord[k])
                        ws.atomHits[Int(ws.atomHitFirst[a] &+ ws.atomHitCount[a])] = Evidence(turn: Int32(t), start: h.1, end: h.2)
                        ws.atomHitCount[a] &+= 1
                    }
                }
            }
        }

        /// Hands the workspace back to the scanner for the next record.
        mutating func release() {
            scanner.workspace = ws
        }

        /// Whether the prefilter lets rule `r` run: every clause has a word present.
        func candidate(_ r: Int) -> Bool {
            let g = ws.generation
            let first = Int(program.pointee.clauseFirst[r])
            for k in first..<(first + Int(program.pointee.clauseCount[r])) where ws.clauseStamp[k] != g { return false }
            return true
        }

        /// Whether the prefilter lets regex atom `a` run: every clause of its requirement has a word present.
        func atomCandidate(_ a: Int) -> Bool {
            let g = ws.generation
            let first = Int(program.pointee.atomClauseFirst[a])
            for k in first..<(first + Int(program.pointee.atomClauseCount[a])) where ws.clauseStamp[k] != g { return false }
            return true
        }

        /// The rules to try, in rule order: from the prefilter's index (rules indexed under the
        /// words present, and those no word can rule out), or every public rule without it.
        mutating func collectCandidates() {
            ws.candidates.removeAll(keepingCapacity: true)
            if usePrefilter {
                let g = ws.generation
                let turns = prepared.turns
                for r in program.pointee.unfiltered where ws.ruleSeen[Int(r)] != g { ws.ruleSeen[Int(r)] = g; ws.candidates.append(r) }
                for t in 0..<turnLimit {
                    for h in turns[t].wordHits {
                        let w = Int(h.0)
                        for k in Int(program.pointee.rulesByWordStart[w])..<Int(program.pointee.rulesByWordStart[w + 1]) {
                            let r = program.pointee.rulesByWord[k]
                            guard ws.ruleSeen[Int(r)] != g else { continue }
                            ws.ruleSeen[Int(r)] = g
                            ws.candidates.append(r)
                        }
                    }
                }
                ws.candidates.sort()
            } else {
                for r in 0..<program.pointee.roots.count where !program.pointee.isPrivate[r] { ws.candidates.append(Int32(r)) }
            }
        }

        /// The total score and whether a money-request rule fired, without evidence; see
        /// `Screener.decide`.
        mutating func decide(moneyRequestOnly: Bool) -> (score: Int, moneyRequest: Bool) {
            defer { release() }
            collectCandidates()
            if program.pointee.frameRules.count > 0 && !ws.candidates.isEmpty { findFrames() }
            // Positive rules first: whether the message makes its own appeal decides what the
            // negative rules may read (a warning frame lowers a verdict only without one).
            var score = 0, money = false, appeal = false, negatives = false
            for r in ws.candidates {
                let i = Int(r)
                let ruleScore = Int(program.pointee.scores[i])
                if ruleScore < 0 { negatives = true; continue }
                let isMoney = program.pointee.moneyRequest[i]
                if moneyRequestOnly && !isMoney { continue }
                if usePrefilter, !candidate(i) { continue }
                currentRule = i
                blindness = program.pointee.blind[i]
                if evaluate(program.pointee.roots[i], mask: 0).isEmpty { continue }
                score += ruleScore
                if program.pointee.appeal[i] { appeal = true }
                if isMoney {
                    money = true
                    if moneyRequestOnly { break }
                }
            }
            guard negatives && !moneyRequestOnly else { return (score, money) }
            // Strong evidence in the message's own voice: an appeal, or positive points enough for
            // medium on their own. Then a warning in the same message lowers nothing.
            let strong = appeal || score >= scanner.rules.levels.medium
            for r in ws.candidates {
                let i = Int(r)
                let ruleScore = Int(program.pointee.scores[i])
                guard ruleScore < 0 else { continue }
                if usePrefilter, !candidate(i) { continue }
                currentRule = i
                blindness = strong ? FrameKinds.warning.rawValue : 0
                if evaluate(program.pointee.roots[i], mask: 0).isEmpty { continue }
                score += ruleScore
            }
            return (score, money)
        }

        mutating func verdict(firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict {
            let rules = scanner.rules
            var hits: [RuleHit] = []
            var score = 0
            let categoryCount = rules.categories.count
            ws.categoryScores.removeAll(keepingCapacity: true)
            ws.categoryScores.append(contentsOf: repeatElement(0, count: categoryCount))
            ws.categoryHit.removeAll(keepingCapacity: true)
            ws.categoryHit.append(contentsOf: repeatElement(false, count: categoryCount))
            collectCandidates()
            // Frames matter only to a rule that may fire: a record without a candidate has none.
            if program.pointee.frameRules.count > 0 && !ws.candidates.isEmpty { findFrames() }
            // As in `decide`: positive rules, then negative ones, which read warning frames only
            // when the message makes no appeal of its own.
            var appeal = false, negatives = false, strong = false
            for pass in 0..<2 {
                if pass == 1 && !negatives { break }
                if pass == 1 { strong = appeal || score >= rules.levels.medium }
                var k = 0
                while k < ws.candidates.count {
                    let i = Int(ws.candidates[k])
                    k += 1
                    let ruleScore = Int(program.pointee.scores[i])
                    if pass == 0 && ruleScore < 0 { negatives = true; continue }
                    if pass == 1 && ruleScore >= 0 { continue }
                    if usePrefilter, !candidate(i) { continue }
                    currentRule = i
                    blindness = pass == 0 ? program.pointee.blind[i] : strong ? FrameKinds.warning.rawValue : 0
                    let occ = evaluate(program.pointee.roots[i], mask: 0)
                    guard !occ.isEmpty else { continue }
                    if program.pointee.appeal[i] { appeal = true }
                    let rule = rules.rules[i]
                    hits.append(RuleHit(ruleIndex: i, rule: rule.id, title: rule.title, score: rule.score, tags: rule.tags, spans: spans(of: occ)))
                    score += ruleScore
                    let c = Int(program.pointee.categories[i])
                    if c >= 0 {
                        ws.categoryScores[c] += ruleScore
                        if ruleScore > 0 { ws.categoryHit[c] = true }
                    }
                }
            }
            if negatives { hits.sort { $0.ruleIndex < $1.ruleIndex } }
            let frames = reportedFrames()
            let level = rules.levels.level(for: score)
            defer { release() }
            var ranked: [(category: Int, score: Int)] = []
            for c in 0..<categoryCount where ws.categoryHit[c] && ws.categoryScores[c] > 0 { ranked.append((c, ws.categoryScores[c])) }
            ranked.sort { $0.score != $1.score ? $0.score > $1.score : $0.category < $1.category }
            // No risk, no main category (the per-category scores stay in `categories`).
            let main = level > .none ? ranked.first?.category : nil
            let category = main.map { rules.categories[$0] }
            return Verdict(id: prepared.id, level: level, score: score, category: category?.id,
                           categories: ranked.map { (rules.categories[$0.category].id, $0.score) }, hits: hits, errors: errors,
                           firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn,
                           advice: rules.policy.advice(level: level, category: category),
                           referral: rules.policy.referral(level: level, category: category),
                           frames: frames, categoryIndex: main)
        }

        /// Evidence spans in the original text, merged and in order.
        mutating func spans(of occ: Occurrences) -> [EvidenceSpan] {
            // Gathered, sorted and merged in a reused buffer.
            var merged: [Evidence] = []
            swap(&merged, &ws.evidence)
            defer { swap(&merged, &ws.evidence) }
            merged.removeAll(keepingCapacity: true)
            for i in Int(occ.start)..<Int(occ.start + occ.count) {
                let o = ws.occ[i]
                for e in Int(o.evStart)..<Int(o.evStart + o.evCount) { merged.append(ws.arena[e]) }
            }
            merged.sort { ($0.turn, $0.start, $0.end) < ($1.turn, $1.start, $1.end) }
            // Merge overlapping evidence within a turn, in place.
            var kept = 0
            for k in merged.indices {
                let e = merged[k]
                if kept > 0, merged[kept - 1].turn == e.turn, e.start <= merged[kept - 1].end {
                    merged[kept - 1].end = max(merged[kept - 1].end, e.end)
                } else {
                    merged[kept] = e
                    kept += 1
                }
            }
            merged.removeLast(merged.count - kept)
            // Evidence text: the turn's scalar → byte offsets, found in one walk over its UTF-8
            // per record (kept for the record's other hits), then each span is two lookups.
            var out: [EvidenceSpan] = []
            out.reserveCapacity(merged.count)
            var k = 0
            let isCall = prepared.isCall
            while k < merged.count {
                let t = Int(merged[k].turn)
                var text = prepared.turns[t].turn.text
                let normalised = prepared.turns[t].text
                text.withUTF8 { u in
                    if ws.offsetsTurn != t {
                        ws.offsetsTurn = t
                        ws.scalarBytes.removeAll()
                        for b in 0..<u.count where u[b] & 0xC0 != 0x80 { ws.scalarBytes.append(Int32(b)) }
                        ws.scalarBytes.append(Int32(u.count))
                    }
                    let last = ws.scalarBytes.count - 1
                    while k < merged.count && Int(merged[k].turn) == t {
                        let e = merged[k]
                        k += 1
                        let r = normalised.originalRange(ofBytes: Int(e.start)..<Int(e.end))
                        let from = Int(ws.scalarBytes[min(r.lowerBound, last)]), to = Int(ws.scalarBytes[min(r.upperBound, last)])
                        out.append(EvidenceSpan(turn: isCall ? t : nil, start: r.lowerBound, end: r.upperBound,
                                                text: String(decoding: UnsafeBufferPointer(rebasing: u[from..<to]), as: UTF8.self)))
                    }
                }
            }
            return out
        }

        /// Appends one occurrence that is its own evidence.
        private mutating func single(_ turn: Int32, _ s: Int32, _ e: Int32) {
            ws.arena.append(Evidence(turn: turn, start: s, end: e))
            ws.occ.append(Occurrence(turn: turn, start: s, end: e, evStart: Int32(ws.arena.count - 1), evCount: 1))
        }

        /// The occurrences from `start` to the end of the arena.
        private mutating func since(_ start: Int) -> Occurrences {
            Occurrences(start: Int32(start), count: Int32(ws.occ.count - start))
        }

        /// `r`'s occurrences that pass `keep`: `r` itself when all do, else a filtered copy.
        private mutating func filter(_ r: Occurrences, _ keep: (Occurrence) -> Bool) -> Occurrences {
            let end = Int(r.start + r.count)
            guard let firstDropped = (Int(r.start)..<end).first(where: { !keep(ws.occ[$0]) }) else { return r }
            let start = ws.occ.count
            for i in Int(r.start)..<firstDropped { ws.occ.append(ws.occ[i]) }
            for i in (firstDropped + 1)..<max(firstDropped + 1, end) where keep(ws.occ[i]) { ws.occ.append(ws.occ[i]) }
            return since(start)
        }

        /// `r`'s occurrences in turns of the side `mask` selects (1 caller, 2 callee; 3, both at
        /// once, none). A record whose turns are all on that side (every message) keeps them all.
        private mutating func filterSide(_ r: Occurrences, _ mask: Int) -> Occurrences {
            if Int(sidesPresent) == mask { return r }
            let sides = ws.sides   // a view of the same memory: the closure does not touch `self`
            return filter(r) { mask < 3 && Int(sides[Int($0.turn)]) == mask }
        }

        /// The first `occurrenceCap` occurrences of the results on the stack from `base`, in
        /// order; pops them.
        private mutating func concatenate(from base: Int) -> Occurrences {
            defer { ws.stack.removeLast(ws.stack.count - base) }
            if ws.stack.count - base == 1 {   // one part: itself, capped
                let r = ws.stack[base]
                return Occurrences(start: r.start, count: min(r.count, Int32(Screener.occurrenceCap)))
            }
            let start = ws.occ.count
            var left = Screener.occurrenceCap
            for k in base..<ws.stack.count where left > 0 {
                let r = ws.stack[k]
                let take = min(Int(r.count), left)
                for i in Int(r.start)..<(Int(r.start) + take) { ws.occ.append(ws.occ[i]) }
                left -= take
            }
            return since(start)
        }

        mutating func atomOccurrences(_ a: Int) -> Occurrences {
            let g = ws.generation
            if ws.atomStamp[a] == g { return ws.atomResult[a] }
            let start = ws.occ.count
            if program.pointee.atomIsWords[a] && usePrefilter {
                // The automaton already found every word: keep this atom's, leftmost-longest, non-overlapping.
                if ws.atomHitStamp[a] == g {
                    let first = Int(ws.atomHitFirst[a]), end = first + Int(ws.atomHitCount[a])
                    if !ws.atomHitSorted[a] {
                        // In turn order already; within a turn, by start, the longest first where
                        // two start together. Few per atom: insertion sort.
                        ws.atomHitSorted[a] = true
                        var i = first + 1
                        while i < end {
                            let h = ws.atomHits[i]
                            var j = i
                            while j > first {
                                let p = ws.atomHits[j - 1]
                                guard p.turn == h.turn && (p.start > h.start || (p.start == h.start && p.end < h.end)) else { break }
                                ws.atomHits[j] = p
                                j -= 1
                            }
                            ws.atomHits[j] = h
                            i += 1
                        }
                    }
                    var turn: Int32 = -1, stop: Int32 = -1, inTurn = 0
                    for i in first..<end {
                        let h = ws.atomHits[i]
                        if h.turn != turn { turn = h.turn; stop = -1; inTurn = 0 }
                        guard h.start >= stop, inTurn < Screener.matchesPerTurn else { continue }
                        single(h.turn, h.start, h.end)
                        stop = h.end
                        inTurn += 1
                    }
                }
            } else if !usePrefilter || atomCandidate(a) {
                let patterns: [Pattern]
                do { patterns = try scanner.patterns(ofAtom: a) } catch {
                    if failedAtoms.insert(a).inserted {
                        errors.append("rule \(scanner.rules.rules[currentRule].id): \(scanner.rules.atoms[a].display): \(error.message)")
                    }
                    patterns = []
                }
                for t in 0..<turnLimit {
                    var ranges: [Range<Int>] = []
                    for pattern in patterns {
                        do {
                            try prepared.turns[t].text.bytes.withUnsafeBufferPointer { buf throws(MatchFailure) in
                                try pattern.forEachMatch(in: buf, using: scanner.scratch) { r in
                                    if r.upperBound > r.lowerBound { ranges.append(r) }
                                    return ranges.count < Screener.matchesPerTurn
                                }
                            }
                        } catch {
                            if failedAtoms.insert(a).inserted {
                                let rule = scanner.rules.rules[currentRule].id
                                errors.append("rule \(rule): \(scanner.rules.atoms[a].display): \(error)" + (prepared.isCall ? " (turn \(t))" : ""))
                            }
                        }
                    }
                    if patterns.count > 1 {
                        // Several alternations of one list: back to leftmost-longest, non-overlapping.
                        ranges.sort { $0.lowerBound != $1.lowerBound ? $0.lowerBound < $1.lowerBound : $0.upperBound > $1.upperBound }
                        var end = -1
                        ranges = ranges.filter { r in
                            guard r.lowerBound >= end else { return false }
                            end = r.upperBound
                            return true
                        }
                    }
                    for r in ranges { single(Int32(t), Int32(r.lowerBound), Int32(r.upperBound)) }
                }
            }
            let result = since(start)
            ws.atomStamp[a] = g
            ws.atomResult[a] = result
            return result
        }

        private func kid(_ n: Program.Node, _ k: Int) -> Int32 { program.pointee.kids[Int(n.first) + k] }

        mutating func evaluate(_ id: Int32, mask: Int) -> Occurrences {
            let n = program.pointee.nodes[Int(id)]
            switch n.op {
            case .atom:
                var all = atomOccurrences(Int(n.arg))
                if blindness != 0 && !ws.frames.isEmpty && !all.isEmpty {
                    let frames = ws.frames, hidden = blindness
                    all = filter(all) { o in !Evaluation.inFrame(o, frames, hidden) }
                }
                if mask == 0 { return all }
                return filterSide(all, mask)
            case .rule:
                let key = (Int(n.arg) * 16 + Int(blindness & 15)) * 4 + mask
                if ws.ruleStamp[key] == ws.generation { return ws.ruleResult[key] }
                let saved = currentRule
                let result = evaluate(program.pointee.roots[Int(n.arg)], mask: mask)
                currentRule = saved
                ws.ruleStamp[key] = ws.generation
                ws.ruleResult[key] = result
                return result
            case .and:
                let base = ws.stack.count
                for k in 0..<Int(n.count) {
                    let o = evaluate(kid(n, k), mask: mask)
                    if o.isEmpty { ws.stack.removeLast(ws.stack.count - base); return .none }
                    ws.stack.append(o)
                }
                return concatenate(from: base)
            case .or:
                let base = ws.stack.count
                for k in 0..<Int(n.count) {
                    let o = evaluate(kid(n, k), mask: mask)
                    if !o.isEmpty { ws.stack.append(o) }
                }
                return ws.stack.count == base ? .none : concatenate(from: base)
            case .not:
                return evaluate(kid(n, 0), mask: mask).isEmpty ? .nowhere : .none
            case .atLeast:
                let base = ws.stack.count
                for k in 0..<Int(n.count) {
                    let o = evaluate(kid(n, k), mask: mask)
                    if !o.isEmpty { ws.stack.append(o) }
                }
                // None satisfied is false even for at_least(0, …): there is no evidence to show.
                if ws.stack.count - base >= Int(n.arg) && ws.stack.count > base { return concatenate(from: base) }
                ws.stack.removeLast(ws.stack.count - base)
                return .none
            case .near, .nearTurns, .then, .thenGap:
                let xs = filter(evaluate(kid(n, 0), mask: mask)) { $0.turn >= 0 }
                if xs.isEmpty { return .none }
                let ys = filter(evaluate(kid(n, 1), mask: mask)) { $0.turn >= 0 }
                if ys.isEmpty { return .none }
                return pairs(xs, ys, n.op, Int(n.arg))
            case .count:
                let o = filter(evaluate(kid(n, 0), mask: mask)) { $0.turn >= 0 }
                // Counts stop at the cap (RULES.md), for words as for combined results.
                let counted = min(Int(o.count), Screener.occurrenceCap)
                guard Comparison.allCases[Int(n.arg2)].holds(counted, Int(n.arg)) else { return .none }
                return o.isEmpty ? .nowhere : o
            case .scope:
                let want = Int(n.arg)
                let m = mask == 0 ? want : (mask == want ? want : 3)
                // No turn of that side (a callee in a message): nothing there can hold, not even
                // `not …` or `count(…) == 0`.
                guard speaks(m) else { return .none }
                return evaluate(kid(n, 0), mask: m)
            case .model:
                return modelCondition(n, mask: mask)
            }
        }

        /// Whether any of the first `turnLimit` turns is on the side `mask` selects (1 caller, 2 callee).
        private func speaks(_ mask: Int) -> Bool {
            (mask == 1 || mask == 2) && Int(sidesPresent) & mask != 0
        }

        /// Characters between two occurrences in one turn (0 when they touch or overlap).
        static func gap(_ turns: [PreparedTurn], _ x: Occurrence, _ y: Occurrence) -> Int {
            let text = turns[Int(x.turn)].text
            if y.start >= x.end {
                return text.normalisedScalarOffset(ofByte: Int(y.start)) - text.normalisedScalarOffset(ofByte: Int(x.end))
            }
            if x.start >= y.end {
                return text.normalisedScalarOffset(ofByte: Int(x.start)) - text.normalisedScalarOffset(ofByte: Int(y.end))
            }
            return 0
        }

        /// The pairs (x, y) that `op` accepts, each one occurrence with both evidences; at most
        /// `occurrenceCap` of them, x-major.
        ///
        /// The ys are put in text order (turn, start) once, and for each x only the window of ys
        /// that `op` could accept is visited, found by binary search: so a record with thousands of
        /// xs and ys that never meet costs n log n, not n² (a hostile line must not hang the scan).
        /// A character is at most 4 bytes, so `d` characters span at most `4d` bytes; the exact
        /// test is still made on each candidate.
        private mutating func pairs(_ xs: Occurrences, _ ys: Occurrences, _ op: Program.Op, _ d: Int) -> Occurrences {
            let turns = prepared.turns
            var order: [Int32] = [], accepted: [Int32] = []
            swap(&order, &ws.order)
            swap(&accepted, &ws.accepted)
            defer {
                swap(&order, &ws.order)
                swap(&accepted, &ws.accepted)
            }
            order.removeAll(keepingCapacity: true)
            var longest = 0
            var inOrder = true
            var previous = (Int32.min, Int32.min)
            for j in Int(ys.start)..<Int(ys.start + ys.count) {
                let y = ws.occ[j]
                order.append(Int32(j))
                longest = max(longest, Int(y.end - y.start))
                if (y.turn, y.start) < previous { inOrder = false }
                previous = (y.turn, y.start)
            }
            if !inOrder {
                let occ = ws.occ
                order.sort { (occ[Int($0)].turn, occ[Int($0)].start, $0) < (occ[Int($1)].turn, occ[Int($1)].start, $1) }
            }
            let start = ws.occ.count
            var made = 0
            outer: for i in Int(xs.start)..<Int(xs.start + xs.count) {
                let x = ws.occ[i]
                // The window of (turn, start) keys a y accepted by `op` can have.
                let from: (Int, Int), to: (Int, Int)
                switch op {
                case .near:
                    from = (Int(x.turn), Int(x.start) - 4 * d - longest)
                    to = (Int(x.turn), Int(x.end) + 4 * d)
                case .thenGap:
                    from = (Int(x.turn), Int(x.end))
                    to = (Int(x.turn), Int(x.end) + 4 * d)
                case .nearTurns:
                    from = (Int(x.turn) - d, Int.min)
                    to = (Int(x.turn) + d, Int.max)
                default:
                    from = (Int(x.turn), Int(x.end))
                    to = (Int.max, Int.max)
                }
                var lo = 0, hi = order.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    let y = ws.occ[Int(order[mid])]
                    if (Int(y.turn), Int(y.start)) < from { lo = mid + 1 } else { hi = mid }
                }
                accepted.removeAll(keepingCapacity: true)
                for k in lo..<order.count {
                    let y = ws.occ[Int(order[k])]
                    if (Int(y.turn), Int(y.start)) > to { break }
                    // One occurrence is not "an A and a B" (a word in both lists of a `near`).
                    if x.turn == y.turn && x.start == y.start && x.end == y.end && (op == .near || op == .nearTurns) { continue }
                    let ok: Bool
                    switch op {
                    case .near: ok = x.turn == y.turn && Evaluation.gap(turns, x, y) <= d
                    case .nearTurns: ok = abs(Int(x.turn) - Int(y.turn)) <= d
                    case .thenGap: ok = x.turn == y.turn && y.start >= x.end && Evaluation.gap(turns, x, y) <= d
                    default: ok = x.turn < y.turn || (x.turn == y.turn && y.start >= x.end)
                    }
                    if ok { accepted.append(order[k]) }
                }
                // Pairs in the ys' own order, as a plain double loop would make them: when the cap
                // cuts the list, the same pairs survive (and so the same outcome one level up).
                if !inOrder { accepted.sort() }
                for j in accepted {
                    let y = ws.occ[Int(j)]
                    let sameTurn = x.turn == y.turn
                    let evStart = Int32(ws.arena.count)
                    for e in Int(x.evStart)..<Int(x.evStart + x.evCount) { ws.arena.append(ws.arena[e]) }
                    for e in Int(y.evStart)..<Int(y.evStart + y.evCount) { ws.arena.append(ws.arena[e]) }
                    ws.occ.append(Occurrence(turn: sameTurn ? x.turn : y.turn,
                                             start: sameTurn ? min(x.start, y.start) : y.start,
                                             end: sameTurn ? max(x.end, y.end) : y.end,
                                             evStart: evStart, evCount: x.evCount + y.evCount))
                    made += 1
                    if made >= Screener.occurrenceCap { break outer }
                }
            }
            return since(start)
        }
    }

    /// The scalars `range` of `text`.
    static func substring(_ text: String, _ range: Range<Int>) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.index(scalars.startIndex, offsetBy: range.lowerBound, limitedBy: scalars.endIndex),
              let end = scalars.index(start, offsetBy: range.count, limitedBy: scalars.endIndex) else { return "" }
        return String(scalars[start..<end])
    }
}

/// The parts of a compiled rule set that every worker shares: the rules and the prefilter automaton.
/// Immutable once built (`programPointer`'s memory is written once, in `init`, and only read after),
/// hence `@unchecked Sendable`.
package final class CompiledMatcher: @unchecked Sendable {
    package let rules: RuleSet
    package let automaton: AhoCorasick
    /// The learned model the rules' `model` conditions read; nil makes them false.
    package let model: TextModel?
    /// The program at a fixed address, so evaluations read it in place (see `Evaluation`).
    let programPointer: UnsafeMutablePointer<Program>
    var program: Program { programPointer.pointee }

    package init(_ rules: RuleSet, model: TextModel? = nil) {
        self.rules = rules
        self.model = model
        if let prebuilt = rules.prebuilt {
            // From a compiled rule cache: nothing to build (the rule set owns the program).
            automaton = prebuilt.automaton
            programPointer = .allocate(capacity: 1)
            programPointer.initialize(to: prebuilt.program)
            ownsProgram = false
            return
        }
        ownsProgram = true
        // The automaton and the program are independent: built side by side, they take the
        // longer of the two instead of the sum (start-up is part of every one-message run).
        programPointer = UnsafeMutablePointer<Program>.allocate(capacity: 1)
        let program = programPointer
        var automaton: AhoCorasick?
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 { automaton = AhoCorasick(words: rules.words) } else { program.initialize(to: Program(rules)) }
        }
        self.automaton = automaton!
    }

    /// False when the program belongs to the rule set's `PrebuiltMatcher`.
    private let ownsProgram: Bool

    deinit {
        if ownsProgram { programPointer.pointee.deallocate() }
        programPointer.deinitialize(count: 1)
        programPointer.deallocate()
    }
}

/// A growable array of plain values for the evaluation's hot loop: appends and reads with no
/// copy-on-write check and no reference counting (a Swift array checks uniqueness on every
/// append, and those checks were a tenth of a record's instructions). Copies share storage, so
/// exactly one owner (a scanner's workspace) calls `deallocate()`; elements are bitwise values,
/// never deinitialised.
struct Arena<Element: BitwiseCopyable> {
    private var base: UnsafeMutablePointer<Element>? = nil
    private(set) var count = 0
    private var capacity = 0

    init() {}

    @inline(__always)
    subscript(i: Int) -> Element {
        get {
            assert(i >= 0 && i < count, "arena index out of range")
            return base.unsafelyUnwrapped[i]
        }
        nonmutating set {
            assert(i >= 0 && i < count, "arena index out of range")
            base.unsafelyUnwrapped[i] = newValue
        }
    }

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow() }
        (base.unsafelyUnwrapped + count).initialize(to: e)
        count &+= 1
    }

    private mutating func grow() {
        let newCapacity = Swift.max(64, capacity &* 2)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if let base {
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = grown
        capacity = newCapacity
    }

    mutating func removeAll() { count = 0 }

    /// `n` elements, each `value` (the workspace's per-rule and per-atom tables).
    mutating func reset(count n: Int, to value: Element) {
        count = 0
        while capacity < n { grow() }
        if n > 0 { base.unsafelyUnwrapped.initialize(repeating: value, count: n) }
        count = n
    }

    mutating func removeLast(_ k: Int) { count &-= k }

    func deallocate() { base?.deallocate() }
}
