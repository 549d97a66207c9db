// The prefilter's side of an evaluation: the automaton's word hits (found when the record was
// prepared) joined with the program's indexes, to say which clauses hold, which rules may fire
// and which regex atoms may match. A rule or regex whose every clause has a word present runs;
// the others cannot match, so they are skipped (RULES.md, Prefilter).

extension Screener.Evaluation {
    /// Lists the automaton's hits under their atoms, by counting: one pass to mark the words
    /// (the clauses they satisfy, and the rules the prefilter's index holds under them) and
    /// count each atom's hits, one to place them.
    mutating func placeWordHits() {
        guard usePrefilter else { return }
        // A live call keeps its turns' hits placed from event to event, and its candidate rules'
        // bitmap with them (Calls/LiveWordHits.swift).
        if placeLiveWordHits() { return }
        // A record's candidate rules' bitmap (`collectCandidates`) starts empty.
        let ruleBits = ws.ruleBits
        for i in 0..<ruleBits.count { ruleBits[i] = 0 }
        let turns = prepared.turns
        let mark = ws.markGeneration
        ws.touchedAtoms.removeAll()
        for t in 0..<turnLimit {
            for h in turns[t].wordHits {
                let w = Int(h.0)
                // The word's lists' starts, and the next word's: where they end.
                let lists = program.pointee.wordLists.address(w)
                if ws.wordStamp[w] != mark {
                    ws.wordStamp[w] = mark
                    for k in Int(lists[0].clauses)..<Int(lists[1].clauses) {
                        ws.clauseStamp[Int(program.pointee.clausesByWord[k])] = mark
                    }
                    // Marked here, once per word present, not by `collectCandidates` in a pass of
                    // its own over every hit again.
                    markRules(ofWord: w, in: ruleBits.buffer)
                }
                for k in Int(lists[0].atoms)..<Int(lists[1].atoms) {
                    let a = Int(program.pointee.atomsByWord[k])
                    if ws.atomHitStamp[a] != mark {
                        ws.atomHitStamp[a] = mark
                        ws.atomHitRuns[a] = Screener.AtomHitRun(first: 0, count: 0, sorted: false)
                        ws.touchedAtoms.append(Int32(a))
                    }
                    ws.atomHitRuns.address(a).pointee.count += 1
                }
            }
        }
        var total = 0
        for i in 0..<ws.touchedAtoms.count {
            let a = Int(ws.touchedAtoms[i])
            let run = ws.atomHitRuns.address(a)
            let count = Int(run.pointee.count)
            run.pointee.first = Int32(total)   // traps, never wraps, past 2^31 hits (over 25 GB of them)
            run.pointee.count = 0   // counts again while placing
            total += count
        }
        ws.atomHits.resize(count: total)   // each written below
        atomHits = ws.atomHits.buffer.baseAddress
        for t in 0..<turnLimit {
            for h in turns[t].wordHits {
                let lists = program.pointee.wordLists.address(Int(h.0))
                for k in Int(lists[0].atoms)..<Int(lists[1].atoms) {
                    let a = Int(program.pointee.atomsByWord[k])
                    let run = ws.atomHitRuns.address(a)
                    ws.atomHits[Int(run.pointee.first &+ run.pointee.count)] = Evidence(turn: Int32(t), start: h.1, end: h.2)
                    run.pointee.count &+= 1
                }
            }
        }
    }

    /// Whether the prefilter lets rule `r` run: every clause has a word present. Inlined, as is
    /// `atomCandidate`: called from a mutating method, an out-of-line call took a copy of the whole
    /// evaluation (784 bytes) each time, more than the check itself.
    @inline(__always)
    func candidate(_ r: Int) -> Bool {
        let marks = clauseMarks, g = clauseMark
        let first = Int(program.pointee.clauseFirst[r])
        for k in first..<(first + Int(program.pointee.clauseCount[r])) where marks.unsafelyUnwrapped[k] != g { return false }
        return true
    }

    /// `candidate(r)` for a rule the index named (`collectCandidates`): its clauses after the
    /// first. The first is the clause the index holds it under (`Program.rulesByWord`), so a word
    /// present put it there and it holds (a rule no word can rule out has no clause): asking it
    /// again was most of the check for the many rules of one clause.
    @inline(__always)
    func indexedCandidate(_ r: Int) -> Bool {
        let marks = clauseMarks, g = clauseMark
        let first = Int(program.pointee.clauseFirst[r]), end = first + Int(program.pointee.clauseCount[r])
        var k = first &+ 1
        while k < end {
            if marks.unsafelyUnwrapped[k] != g { return false }
            k &+= 1
        }
        return true
    }

    /// Whether the prefilter lets regex atom `a` run: every clause of its requirement has a word present.
    @inline(__always)
    func atomCandidate(_ a: Int) -> Bool {
        let marks = clauseMarks, g = clauseMark
        let first = Int(program.pointee.atomClauseFirst[a])
        for k in first..<(first + Int(program.pointee.atomClauseCount[a])) where marks.unsafelyUnwrapped[k] != g { return false }
        return true
    }

    /// Sets the bits (one per rule) of the rules the prefilter's index holds under word `w`.
    @inline(__always)
    func markRules(ofWord w: Int, in bits: UnsafeMutableBufferPointer<UInt64>) {
        let lists = program.pointee.wordLists.address(w), rules = program.pointee.rulesByWord
        for k in Int(lists[0].rules)..<Int(lists[1].rules) {
            let r = rules[k]
            bits[Int(r) >> 6] |= 1 << UInt64(r & 63)
        }
    }

    /// Sets the bits of the rules no word can rule out (`Program.unfiltered`).
    @inline(__always)
    func markUnfilteredRules(in bits: UnsafeMutableBufferPointer<UInt64>) {
        for r in program.pointee.unfiltered { bits[Int(r) >> 6] |= 1 << UInt64(r & 63) }
    }

    /// The rules to try, in rule order: from the prefilter's index (rules indexed under the
    /// words present whose other clauses hold too, and those no word can rule out), or every
    /// public rule without it. `ws.indexedAny` says whether the index named any.
    mutating func collectCandidates() {
        ws.candidates.removeAll()
        guard usePrefilter else {
            for r in 0..<program.pointee.roots.count where !program.pointee.isPrivate[r] { ws.candidates.append(Int32(r)) }
            ws.indexedAny = !ws.candidates.isEmpty
            return
        }
        // Marked in a bitmap by rule and read back word by word: the list comes out in rule
        // order with no sort (sorting it cost a live call's decision more than collecting it).
        // A record's words marked theirs as `placeWordHits` met them; a live call keeps its own,
        // marked as each word was first seen (with the rules no word rules out), and it is read
        // and left as it is.
        let bits: UnsafeMutableBufferPointer<UInt64>
        if let kept = liveCandidateRules {
            bits = kept
        } else {
            bits = ws.ruleBits.buffer
            markUnfilteredRules(in: bits)
        }
        // Each rule's other clauses checked here, once: two in three of the rules a record's
        // words name lack one (about 14 a record on the bench slice), and each cost the loops
        // that read the list (the decision, the verdict, a live call's) a pass of their own.
        var any = false
        for i in 0..<bits.count where bits[i] != 0 {
            any = true
            var word = bits[i]
            while word != 0 {
                let r = i << 6 | word.trailingZeroBitCount
                if indexedCandidate(r) { ws.candidates.append(Int32(r)) }
                word &= word &- 1
            }
        }
        ws.indexedAny = any
    }
}
