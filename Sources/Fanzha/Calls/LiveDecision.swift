// A live call's decision, event by event, evaluating again only the rules its new turn can change.
//
// A rule's outcome on a stretch of turns depends on the record only through the occurrences of
// the atoms it reads (following rule references), the prefilter's clauses of the words present,
// the sides that have spoken, the frames found, and the learned model. When a turn is added to
// the stretch judged at the previous event, an atom gains occurrences only if the new turn holds
// one of its words, or — for a regex — a word of its requirement (every match contains one of
// each clause: Requirements.swift), or, for a regex that needs no word, if it matches in the new
// turn. So a rule none of whose inputs the new turn changes fires exactly as it did at the
// previous event, and only the others (and the model's rules) are evaluated again. The frames are
// found again only when the new turn changes a frame's input; if they then differ, every rule is
// evaluated, as `decide` does. The verdict for an alert or the call's end, on the stretch the
// last decision judged, evaluates only the rules that decision found firing, for their evidence;
// an alert's, in the decision's own evaluation (`decideLive(_:alertAbove:)`).

extension Screener {
    /// The state of a live call's last decision: the stretch of turns it judged (the call's turn
    /// numbers `lo ..< hi`), what it found, and which public rules fired.
    struct LiveDecisionState {
        var lo: Int, hi: Int
        var sides: Side
        var frames: [FrameSpan]
        /// Public rules that fired, positive and negative (a negative one under `strong`'s blindness).
        var fired: [Int32]
        /// Whether the positive rules made the message's own appeal (what negative rules may read).
        var strong: Bool
    }

    /// The state of a live call's last decision of the money-request rules alone, made when none
    /// of them fired (`decideMoneyRequestLive`): the stretch it judged and the frames it found.
    struct LiveMoneyState {
        var lo: Int, hi: Int
        var sides: Side
        var frames: [FrameSpan]
    }

    /// What each rule reads, for `LiveDecisionState`: the rules that read each atom (following
    /// rule references; a frame's `unless` with it), each rule's regexes that need no word,
    /// whether it reads the model or has a `caller:`/`callee:` scope; which prefilter clause
    /// belongs to which rule or regex atom; and per-event marks. Built once per screener, on its
    /// first live call, from the program. Plain memory, like `Program`'s tables: the per-event
    /// loops touch no array that counts references or checks exclusivity.
    final class LiveIndex {
        /// The rules that read atom a: `rules[rulesStart[a] ..< rulesStart[a + 1]]`.
        let rulesStart: UnsafeMutableBufferPointer<Int32>, rules: UnsafeMutableBufferPointer<Int32>
        /// Rule r's atoms that are regexes needing no word, in atom order:
        /// `wordlessAtoms[wordlessStart[r] ..< wordlessStart[r + 1]]`.
        let wordlessStart: UnsafeMutableBufferPointer<Int32>, wordlessAtoms: UnsafeMutableBufferPointer<Int32>
        /// Per rule: `readsModel` (its input changes with every turn), `hasScope` (its input
        /// changes when a side speaks first).
        let reads: UnsafeMutableBufferPointer<UInt8>
        /// Per prefilter clause, the rule it belongs to, or `-1 - atom` for a regex atom's own.
        let clauseOwner: UnsafeMutableBufferPointer<Int32>
        /// Per-event marks, by generation: an atom or rule whose input the new turn changes, or
        /// one found unchanged; and per rule, the lowest of its atoms the new turn's words change
        /// (`ruleFirstAtom`, meaningful where `ruleAtomMarked` is the generation).
        let atomChanged: UnsafeMutableBufferPointer<UInt32>, atomUnchanged: UnsafeMutableBufferPointer<UInt32>
        let ruleChanged: UnsafeMutableBufferPointer<UInt32>, ruleUnchanged: UnsafeMutableBufferPointer<UInt32>
        let ruleAtomMarked: UnsafeMutableBufferPointer<UInt32>, ruleFirstAtom: UnsafeMutableBufferPointer<Int32>
        private(set) var generation: UInt32 = 0

        static let readsModel: UInt8 = 1, hasScope: UInt8 = 2

        init(_ program: Program, ruleCount: Int, atomCount: Int) {
            var atomsOfRule = [[Int32]?](repeating: nil, count: ruleCount)
            var readsOfRule = [UInt8](repeating: 0, count: ruleCount)
            var visiting = Set<Int>()
            // Atoms are collected with repeats (a rule's referenced rules' lists appended whole),
            // then sorted once each: sets cost more than the lists' repeats.
            func walk(_ id: Int32, _ atoms: inout [Int32], _ reads: inout UInt8) {
                let n = program.nodes[Int(id)]
                switch n.op {
                case .atom: atoms.append(n.arg)
                case .model: reads |= LiveIndex.readsModel
                case .rule:
                    let (a, r) = of(Int(n.arg))
                    atoms += a
                    reads |= r
                default:
                    if n.op == .scope { reads |= LiveIndex.hasScope }
                    for k in 0..<Int(n.count) { walk(program.kids[Int(n.first) + k], &atoms, &reads) }
                }
            }
            func of(_ r: Int) -> ([Int32], UInt8) {
                if let done = atomsOfRule[r] { return (done, readsOfRule[r]) }
                // A cycle is refused when the rules are checked; never loop on one here.
                guard visiting.insert(r).inserted else { return ([], 0) }
                var atoms: [Int32] = [], reads: UInt8 = 0
                walk(program.roots[r], &atoms, &reads)
                visiting.remove(r)
                atomsOfRule[r] = atoms.sortedUnique()
                readsOfRule[r] = reads
                return (atomsOfRule[r]!, reads)
            }
            var wordless = [Bool](repeating: false, count: atomCount)
            for a in program.regexAtoms where program.atomClauseCount[Int(a)] == 0 { wordless[Int(a)] = true }
            var atomsRead: [[Int32]] = [], readsFlat: [UInt8] = []
            var wordlessStart: [Int32] = [0], wordlessFlat: [Int32] = []
            // How many rules read each atom, then each atom's rules in rule order (the lists laid
            // out by counting: one array, not one per atom).
            var rulesStart = [Int32](repeating: 0, count: atomCount + 1)
            for r in 0..<ruleCount {
                var (atoms, reads) = of(r)
                let unless = program.unlessRoots[r]
                if unless >= 0 {
                    // A frame's `unless` is read with it.
                    walk(unless, &atoms, &reads)
                    atoms.sortUnique()
                }
                for a in atoms {
                    rulesStart[Int(a) + 1] += 1
                    if wordless[Int(a)] { wordlessFlat.append(a) }
                }
                wordlessStart.append(Int32(wordlessFlat.count))
                atomsRead.append(atoms)
                readsFlat.append(reads)
            }
            for a in 0..<atomCount { rulesStart[a + 1] += rulesStart[a] }
            var rulesFlat = [Int32](repeating: 0, count: Int(rulesStart[atomCount]))
            var filled = rulesStart
            for (r, atoms) in atomsRead.enumerated() {
                for a in atoms {
                    rulesFlat[Int(filled[Int(a)])] = Int32(r)
                    filled[Int(a)] += 1
                }
            }
            var owner = [Int32](repeating: 0, count: program.clauseTotal)
            for r in 0..<ruleCount {
                let first = Int(program.clauseFirst[r])
                for c in first..<(first + Int(program.clauseCount[r])) { owner[c] = Int32(r) }
            }
            for a in 0..<atomCount {
                let first = Int(program.atomClauseFirst[a])
                for c in first..<(first + Int(program.atomClauseCount[a])) { owner[c] = -1 - Int32(a) }
            }
            func buffer<T>(_ values: [T]) -> UnsafeMutableBufferPointer<T> {
                let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, values.count))
                _ = b.initialize(from: values)
                return b
            }
            self.rulesStart = buffer(rulesStart)
            rules = buffer(rulesFlat)
            self.wordlessStart = buffer(wordlessStart)
            wordlessAtoms = buffer(wordlessFlat)
            reads = buffer(readsFlat)
            clauseOwner = buffer(owner)
            atomChanged = buffer([UInt32](repeating: 0, count: atomCount))
            atomUnchanged = buffer([UInt32](repeating: 0, count: atomCount))
            ruleChanged = buffer([UInt32](repeating: 0, count: ruleCount))
            ruleUnchanged = buffer([UInt32](repeating: 0, count: ruleCount))
            ruleAtomMarked = buffer([UInt32](repeating: 0, count: ruleCount))
            ruleFirstAtom = buffer([Int32](repeating: 0, count: ruleCount))
        }

        deinit {
            for b in [self.rulesStart, rules, self.wordlessStart, wordlessAtoms, clauseOwner, ruleFirstAtom] { b.deallocate() }
            for b in [atomChanged, atomUnchanged, ruleChanged, ruleUnchanged, ruleAtomMarked] { b.deallocate() }
            reads.deallocate()
        }

        /// Starts an event's marks: the generation that marks what is current.
        func nextGeneration() -> UInt32 {
            generation &+= 1
            if generation == 0 {
                for b in [atomChanged, atomUnchanged, ruleChanged, ruleUnchanged, ruleAtomMarked] { b.update(repeating: 0) }
                generation = 1
            }
            return generation
        }

        /// Marks atom `a` as changed by the new turn's words (generation `g`), and each rule
        /// that reads it with the lowest such atom of its own.
        @inline(__always)
        func markAtom(_ a: Int, _ g: UInt32) {
            guard atomChanged[a] != g else { return }
            atomChanged[a] = g
            for k in Int(rulesStart[a])..<Int(rulesStart[a + 1]) {
                let r = Int(rules[k])
                if ruleAtomMarked[r] != g {
                    ruleAtomMarked[r] = g
                    ruleFirstAtom[r] = Int32(a)
                } else if Int32(a) < ruleFirstAtom[r] {
                    ruleFirstAtom[r] = Int32(a)
                }
            }
        }
    }

    var liveIndex: LiveIndex {
        if let index = liveIndexStorage { return index }
        let index = LiveIndex(matcher.programPointer.pointee, ruleCount: rules.rules.count, atomCount: rules.atoms.count)
        liveIndexStorage = index
        return index
    }
}

extension Screener {
    /// A live call's decision on its window (`decide`), and, when the level it finds is above
    /// `level`, the alert's verdict on the same turns from the same evaluation
    /// (`verdictFromLiveDecision`). A verdict evaluated apart from the decision placed the
    /// call's word hits again and found again the occurrences the decision had just found (its
    /// changed rules' atoms, the model's margin). The verdict is nil when the level is not above
    /// `level`, or when it is not taken from the decision (no decision kept, a regex failed):
    /// `evaluate` then gives it.
    func decideLive(_ p: Prepared, alertAbove level: Level) -> (decision: Decision, alert: Verdict?) {
        guard usePrefilter, let memo = p.regexMemo else { return (decide(p), nil) }
        var e = Evaluation(screener: self, prepared: p, turnLimit: p.turns.count)
        let d = e.decideLiveHeld(memo)
        let decision = Decision(level: rules.levels.level(for: d.score), moneyRequest: d.moneyRequest, errors: e.errors)
        // The verdict releases the evaluation when it answers.
        guard decision.level > level, e.errors.isEmpty,
              let verdict = e.verdictFromLiveDecision(firstWarningTurn: nil, firstMoneyRequestTurn: nil) else {
            e.release()
            return (decision, nil)
        }
        return (decision, verdict)
    }
}

extension Screener.Evaluation {
    /// A live call's decision on this stretch (`Screener.decide`): from the call's last decision
    /// when that judged the same stretch less its newest turns, else every rule, as `decide`.
    mutating func decideLive(_ memo: Screener.RegexMemo) -> (score: Int, moneyRequest: Bool) {
        defer { release() }
        return decideLiveHeld(memo)
    }

    /// `decideLive` without releasing the evaluation: the caller may take the alert's verdict
    /// from it (`Screener.decideLive(_:alertAbove:)`).
    mutating func decideLiveHeld(_ memo: Screener.RegexMemo) -> (score: Int, moneyRequest: Bool) {
        let lo = prepared.firstTurnNumber, hi = lo + turnLimit
        var framesFound = false
        if let s = memo.decision, s.lo == lo, s.hi < hi {
            if let (score, money, strong) = decideChanged(since: s) {
                memo.decision = Screener.LiveDecisionState(lo: lo, hi: hi, sides: sidesPresent, frames: s.frames, fired: ws.fired, strong: strong)
                return (score, money)
            }
            // The new turn changed the frames, which are in `ws.frames` now.
            framesFound = true
        }
        let d = decideAll(moneyRequestOnly: false, recordFired: true, framesFound: framesFound)
        // With no rule named by the index the frames were not looked for: the next event starts afresh.
        memo.decision = !ws.indexedAny ? nil
            : Screener.LiveDecisionState(lo: lo, hi: hi, sides: sidesPresent, frames: ws.frames, fired: ws.fired, strong: d.strong)
        return (d.score, d.moneyRequest)
    }

    /// The decision from `s`, the decision on these turns less the newest (those from `s.hi` on):
    /// the rules whose input the new turns do not change fire as they did; the others are
    /// evaluated. Nil when the frames changed (found again into `ws.frames`): then every rule
    /// must be evaluated.
    private mutating func decideChanged(since s: Screener.LiveDecisionState) -> (score: Int, moneyRequest: Bool, strong: Bool)? {
        let index = screener.liveIndex
        let firstNew = s.hi - s.lo
        let sidesChanged = s.sides != sidesPresent
        let g = markChanges(from: firstNew, index)
        guard framesAsBefore(s.frames, g, index, sidesChanged, firstNew) else { return nil }
        collectCandidates()
        // Positive rules: those unchanged fire as they did (one that fired is still a candidate:
        // the words present only grow); the changed ones that the prefilter lets run are evaluated.
        var score = 0, money = false, appeal = false
        ws.fired.removeAll(keepingCapacity: true)
        for r in s.fired where program.pointee.scores[Int(r)] >= 0 && !changed(Int(r), g, index, sidesChanged, firstNew) {
            let i = Int(r)
            score += Int(program.pointee.scores[i])
            if program.pointee.appeal[i] { appeal = true }
            if program.pointee.moneyRequest[i] { money = true }
            ws.fired.append(r)
        }
        for k in 0..<ws.candidates.count {
            let i = Int(ws.candidates[k])
            guard program.pointee.scores[i] >= 0, changed(i, g, index, sidesChanged, firstNew) else { continue }
            currentRule = i
            blindness = program.pointee.blind[i]
            guard fires(program.pointee.roots[i]) else { continue }
            score += Int(program.pointee.scores[i])
            if program.pointee.appeal[i] { appeal = true }
            if program.pointee.moneyRequest[i] { money = true }
            ws.fired.append(Int32(i))
        }
        // Negative rules read warning frames only without the message's own appeal: when that
        // changed, every one is evaluated again.
        let strong = appeal || score >= screener.rules.levels.medium
        if strong == s.strong {
            for r in s.fired where program.pointee.scores[Int(r)] < 0 && !changed(Int(r), g, index, sidesChanged, firstNew) {
                score += Int(program.pointee.scores[Int(r)])
                ws.fired.append(r)
            }
        }
        for k in 0..<ws.candidates.count {
            let i = Int(ws.candidates[k])
            guard program.pointee.scores[i] < 0, strong != s.strong || changed(i, g, index, sidesChanged, firstNew) else { continue }
            currentRule = i
            blindness = program.pointee.blindness(ofRule: i, strong: strong)
            guard fires(program.pointee.roots[i]) else { continue }
            score += Int(program.pointee.scores[i])
            ws.fired.append(Int32(i))
        }
        return (score, money, strong)
    }

    /// Marks, with a new generation (returned), the atoms, and the rules by their own clauses,
    /// whose input the words of the new turns (from `firstNew` on) change; and each rule that
    /// reads a marked atom with the lowest it reads (`LiveIndex.markAtom`).
    private mutating func markChanges(from firstNew: Int, _ index: Screener.LiveIndex) -> UInt32 {
        let g = index.nextGeneration()
        // The tables in locals: the stores through the index's buffers may, for
        // all the compiler knows, change the program and the index, which were read again at every word.
        let atomsStart = program.pointee.atomsByWordStart, atomsOfWord = program.pointee.atomsByWord
        let clausesStart = program.pointee.clausesByWordStart, clauses = program.pointee.clausesByWord
        let clauseOwner = index.clauseOwner, ruleChanged = index.ruleChanged
        for t in firstNew..<turnLimit {
            for h in prepared.wordHits(ofTurn: t) {
                let w = Int(h.0)
                for k in Int(atomsStart[w])..<Int(atomsStart[w + 1]) { index.markAtom(Int(atomsOfWord[k]), g) }
                for k in Int(clausesStart[w])..<Int(clausesStart[w + 1]) {
                    let owner = clauseOwner[Int(clauses[k])]
                    if owner >= 0 { ruleChanged[Int(owner)] = g } else { index.markAtom(Int(-1 - owner), g) }
                }
            }
        }
        return g
    }

    /// Puts this stretch's frames in `ws.frames`: `frames` (the last decision's) when the new
    /// turns change the input of no frame the prefilter lets run, else found again — by the
    /// frame rules whose input changed alone, the others' spans kept from `frames`
    /// (`findFrames(keeping:of:)`; most events that find frames change one or two of the four).
    /// Frames read everything (no blindness), so nothing they find depends on frames. Whether
    /// they are `frames`.
    private mutating func framesAsBefore(_ frames: [Screener.FrameSpan], _ g: UInt32, _ index: Screener.LiveIndex,
                                         _ sidesChanged: Bool, _ firstNew: Int) -> Bool {
        let frameRules = program.pointee.frameRules
        // Bit k: `frameRules[k]` unchanged (or not a candidate, which it was not before either:
        // the words present only grow). Past the 64th, a frame rule is found again.
        var kept: UInt64 = 0, anyChanged = false
        for k in 0..<frameRules.count {
            let f = Int(frameRules[k])
            if candidate(f) && changed(f, g, index, sidesChanged, firstNew) { anyChanged = true } else { kept |= 1 << k }
        }
        guard anyChanged else {
            ws.frames.removeAll(keepingCapacity: true)
            ws.frames.append(contentsOf: frames)
            return true
        }
        findFrames(keeping: kept, of: frames)
        return ws.frames == frames
    }

    /// A live call's decision of the money-request rules alone (`Screener.decide` with
    /// `moneyRequestOnly`, once the call is at the top level): whether one fires. From the call's
    /// last such decision, or its last whole decision, when none fired there on the same stretch
    /// less its newest turns: then only the money-request rules whose input the new turns change
    /// can fire now (all of them when the frames changed). Otherwise as `decide` does.
    mutating func decideMoneyRequestLive(_ memo: Screener.RegexMemo) -> Bool {
        defer { release() }
        let lo = prepared.firstTurnNumber, hi = lo + turnLimit
        var base: Screener.LiveMoneyState?
        if let m = memo.money, m.lo == lo, m.hi < hi {
            base = m
        } else if let s = memo.decision, s.lo == lo, s.hi < hi,
                  !s.fired.contains(where: { program.pointee.scores[Int($0)] >= 0 && program.pointee.moneyRequest[Int($0)] }) {
            base = Screener.LiveMoneyState(lo: s.lo, hi: s.hi, sides: s.sides, frames: s.frames)
        }
        guard let base else {
            let money = decideAll(moneyRequestOnly: true, recordFired: false, framesFound: false).moneyRequest
            // With no rule named by the index the frames were not looked for: the next decision starts afresh.
            memo.money = money || !ws.indexedAny ? nil : Screener.LiveMoneyState(lo: lo, hi: hi, sides: sidesPresent, frames: ws.frames)
            return money
        }
        let index = screener.liveIndex
        let firstNew = base.hi - base.lo
        let sidesChanged = base.sides != sidesPresent
        let g = markChanges(from: firstNew, index)
        let sameFrames = framesAsBefore(base.frames, g, index, sidesChanged, firstNew)
        collectCandidates()
        var money = false
        for k in 0..<ws.candidates.count {
            let i = Int(ws.candidates[k])
            guard program.pointee.scores[i] >= 0, program.pointee.moneyRequest[i],
                  !sameFrames || changed(i, g, index, sidesChanged, firstNew) else { continue }
            currentRule = i
            blindness = program.pointee.blind[i]
            if fires(program.pointee.roots[i]) {
                money = true
                break
            }
        }
        memo.money = money ? nil : Screener.LiveMoneyState(lo: lo, hi: hi, sides: sidesPresent, frames: ws.frames)
        return money
    }

    /// Whether the new turns (from `firstNew` to the end of this stretch) change rule `r`'s
    /// input, marked with generation `g`. A regex that needs no word is matched on the new turns
    /// when a rule asks (only rules the prefilter lets run ask), once per event.
    ///
    /// As if the rule's atoms were looked at in order up to the first one changed: the regexes
    /// that need no word before it are matched (a match limit met there marks the call, so
    /// exactly those), then the rule is changed. `markChanges` noted the lowest atom the words
    /// change (`ruleFirstAtom`), so only the rule's wordless regexes are looked at, not every
    /// atom (200 a decision on the bench).
    private mutating func changed(_ r: Int, _ g: UInt32, _ index: Screener.LiveIndex, _ sidesChanged: Bool, _ firstNew: Int) -> Bool {
        if index.ruleChanged[r] == g { return true }
        if index.ruleUnchanged[r] == g { return false }
        let reads = index.reads[r]
        var result = reads & Screener.LiveIndex.readsModel != 0 || (sidesChanged && reads & Screener.LiveIndex.hasScope != 0)
        if !result {
            let marked = index.ruleAtomMarked[r] == g
            let first = marked ? Int(index.ruleFirstAtom[r]) : Int.max
            let wordless = index.wordlessAtoms, atomChanged = index.atomChanged, atomUnchanged = index.atomUnchanged
            for k in Int(index.wordlessStart[r])..<Int(index.wordlessStart[r + 1]) {
                let a = Int(wordless[k])
                guard a < first else { break }
                // Changed already: found matching when another rule asked.
                if atomChanged[a] == g { result = true; break }
                guard atomUnchanged[a] != g else { continue }
                if (firstNew..<turnLimit).contains(where: { regexOccurs(a, inTurn: $0) }) {
                    atomChanged[a] = g
                    result = true
                    break
                }
                atomUnchanged[a] = g
            }
            if !result { result = marked }
        }
        if result { index.ruleChanged[r] = g } else { index.ruleUnchanged[r] = g }
        return result
    }

    /// A live call's verdict on the stretch its last decision judged (an alert's, or the final
    /// one): the rules that decision found firing are evaluated for their evidence, the others
    /// need not run. Nil when there is no such decision, or when a regex of the call failed (a
    /// match limit: the verdict then lists the errors every rule's evaluation meets).
    mutating func verdictFromLiveDecision(firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict? {
        guard usePrefilter, let memo = prepared.regexMemo, !memo.sawFailure, let s = memo.decision,
              s.lo == prepared.firstTurnNumber, s.hi == s.lo + turnLimit, s.sides == sidesPresent else { return nil }
        let rules = screener.rules
        ws.frames.removeAll(keepingCapacity: true)
        ws.frames.append(contentsOf: s.frames)
        ws.clearCategories(rules.categories.count)
        var hits: [RuleHit] = []
        hits.reserveCapacity(s.fired.count)
        var score = 0
        // In rule order, as `verdict` lists them.
        for r in s.fired.sorted() {
            let i = Int(r)
            currentRule = i
            blindness = program.pointee.blindness(ofRule: i, strong: s.strong)
            let occ = evaluate(program.pointee.roots[i], scope: [])
            // It fired in the decision: it fires here (the same evaluation, with its evidence).
            guard !occ.isEmpty else { assertionFailure("a rule the live decision fired does not fire"); return nil }
            record(firedRule: i, occ, hits: &hits, score: &score)
        }
        let frames = reportedFrames()
        defer { release() }
        return screener.verdict(id: prepared.id, score: score, categoryScores: ws.categoryScores, categoryHit: ws.categoryHit,
                                hits: hits, errors: errors, frames: frames,
                                firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn)
    }

    /// Whether regex atom `a` (one that needs no word) matches in turn `t`, or fails there (a
    /// match limit: counted as a change). The turn's matches go to the call's memo when its
    /// entry for `a` ends just before `t`, so the evaluation does not match the turn again.
    ///
    /// The turn's bytes and the gate's tables are read as the evaluation's regexes read them
    /// (`turnBytes`, `gateTables`): through `prepared.turns` and `literalGate(ofAtom:)` each
    /// question counted about ten references, and most questions end at the gate.
    private mutating func regexOccurs(_ a: Int, inTurn t: Int) -> Bool {
        let text = turnBytes(t)
        if let gate = gateTables(ofAtom: a), !gate.admits(text, scalars: scalarBits(ofTurn: t)) { return false }
        guard let patterns = try? screener.patterns(ofAtom: a) else { return true }
        guard !patterns.isEmpty else { return false }
        let (ranges, failure) = Screener.matches(patterns, inBytes: text, scratch: screener.scratch)
        liveMemo?._withUnsafeGuaranteedRef { $0.extend(Int32(a), turn: prepared.firstTurnNumber + t, ranges: ranges, failure: failure) }
        return !ranges.isEmpty || failure != nil
    }
}

