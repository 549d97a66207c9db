// A live call's dictionary-word hits, kept placed under their atoms from event to event.
//
// Every evaluation starts by listing the automaton's hits under the atoms they belong to
// (`placeWordHits`: each hit's word looked up in the program's word → atom and word → clause
// indexes, twice). A live call is evaluated at each of its events on the same turns plus a new
// one, so it keeps that work: the words present (once each), the atoms with hits, and each hit
// with its atom, in turn order. An evaluation of the call then looks up only its new turns'
// words, marks the call's distinct words as present, and copies each hit to its atom's run: the
// same runs, in the same order, as placing every turn afresh. The rules the prefilter's index
// holds under the call's words are kept too, as the candidates' bitmap (`collectCandidates`), and
// so are the prefilter's clauses the call's words satisfy: the evaluation reads the call's own
// table of them (`Evaluation.clauseMarks`), marked once per word, not the workspace's stamps,
// which every evaluation of every call or record starts afresh.

extension Screener {
    /// A live call's word hits in its turns `lo ..< hi` (the call's turn numbers), kept with its
    /// `RegexMemo` while the evaluations start at `lo`.
    final class CallWordHits {
        struct Hit { var atom: Int32, turn: Int32, start: Int32, end: Int32 }
        let lo: Int
        fileprivate(set) var hi: Int
        /// The words present, once each, in order first seen.
        fileprivate var words = Arena<Int32>()
        /// The atoms with hits, in order first touched, and how many hits each has.
        fileprivate var atoms = Arena<Int32>()
        fileprivate var counts = Arena<Int32>()
        /// Every hit under every atom of its word, in turn order (turns counted from `lo`).
        fileprivate var hits = Arena<Hit>()
        /// The candidate rules (`collectCandidates`), one bit per rule: those no word can rule
        /// out, and those the prefilter's index holds under a word present, marked as each word
        /// is first seen. Marked again from every word of the call at each evaluation, they cost
        /// more than placing the hits. Its exact size (13 words for the bundled rules), made at
        /// the first evaluation: an arena's least room is 64 words, 512 bytes in every open call.
        fileprivate(set) var candidateRules = UnsafeMutableBufferPointer<UInt64>(start: nil, count: 0)
        /// Per clause of the prefilter (`Program.clauseTotal`), `clauseHolds` when a word present
        /// satisfies it, else 0: marked as each word is first seen, made with `candidateRules`.
        /// A byte each, as the workspace's stamps, so the evaluation's checks read either table
        /// the same way. Stamping the workspace's again from every word the call holds, at every
        /// event, was about 600 stamps an evaluation (23 words, 27 clauses each).
        fileprivate(set) var clauses = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
        static let clauseHolds: UInt8 = 1

        init(from turn: Int) { lo = turn; hi = turn }

        deinit {
            words.deallocate(); atoms.deallocate(); counts.deallocate(); hits.deallocate()
            candidateRules.baseAddress?.deallocate(); clauses.baseAddress?.deallocate()
        }
    }
}

extension Screener.Evaluation {
    /// `placeWordHits` for a live call's stretch from the turn its kept hits start at: the new
    /// turns' hits are added to the call's, then the call's are placed. False (nothing done) for
    /// any other record or stretch.
    mutating func placeLiveWordHits() -> Bool {
        guard let memo = prepared.regexMemo else { return false }
        let lo = prepared.firstTurnNumber
        if memo.wordHits == nil { memo.wordHits = Screener.CallWordHits(from: lo) }
        // A window that moved on (a call longer than the window), or fewer turns than kept: as a record.
        guard let kept = memo.wordHits, kept.lo == lo, kept.hi <= lo + turnLimit else { return false }
        let mark = ws.markGeneration
        var words = kept.words, atoms = kept.atoms, counts = kept.counts, hits = kept.hits
        var candidateRules = kept.candidateRules, callClauses = kept.clauses
        let wordLists = program.pointee.wordLists, clauses = program.pointee.clausesByWord, atomsOfWord = program.pointee.atomsByWord
        if candidateRules.baseAddress == nil {
            // One bit per rule (the size `begin` gives the workspace's own), and the rules no word rules out.
            candidateRules = .allocate(capacity: max(1, ws.ruleBits.count))
            candidateRules.initialize(repeating: 0)
            markUnfilteredRules(in: candidateRules)
            callClauses = .allocate(capacity: max(1, Int(program.pointee.clauseTotal)))
            callClauses.initialize(repeating: 0)
        }
        let holds = Screener.CallWordHits.clauseHolds
        // The call's words seen before are marked as present (below, a new word is one not
        // marked); their clauses are already in the call's table.
        for i in 0..<words.count { ws.wordStamp[Int(words[i])] = mark }
        // While the new turns are added, an atom's run's `first` is its place in `atoms`.
        for s in 0..<atoms.count {
            let a = Int(atoms[s])
            ws.atomHitStamp[a] = mark
            ws.atomHitRuns.address(a).pointee.first = Int32(s)
        }
        let turns = prepared.turns
        for t in (kept.hi - lo)..<turnLimit {
            for h in turns[t].wordHits {
                let w = Int(h.0), lists = wordLists.address(w)
                if ws.wordStamp[w] != mark {
                    ws.wordStamp[w] = mark
                    words.append(h.0)
                    for k in Int(lists[0].clauses)..<Int(lists[1].clauses) { callClauses[Int(clauses[k])] = holds }
                    markRules(ofWord: w, in: candidateRules)
                }
                for k in Int(lists[0].atoms)..<Int(lists[1].atoms) {
                    let a = Int(atomsOfWord[k])
                    if ws.atomHitStamp[a] != mark {
                        ws.atomHitStamp[a] = mark
                        ws.atomHitRuns.address(a).pointee.first = Int32(atoms.count)
                        atoms.append(Int32(a))
                        counts.append(0)
                    }
                    counts[Int(ws.atomHitRuns[a].first)] &+= 1
                    hits.append(Screener.CallWordHits.Hit(atom: Int32(a), turn: Int32(t), start: h.1, end: h.2))
                }
            }
        }
        kept.words = words; kept.atoms = atoms; kept.counts = counts; kept.hits = hits
        kept.candidateRules = candidateRules; kept.clauses = callClauses
        kept.hi = lo + turnLimit
        // Placed by counting, as `placeWordHits` places them.
        var total = 0
        for s in 0..<atoms.count {
            let a = Int(atoms[s])
            ws.atomHitRuns[a] = Screener.AtomHitRun(first: Int32(total), count: 0, sorted: false)
            total += Int(counts[s])
        }
        ws.atomHits.resize(count: total)   // each written below
        for i in 0..<hits.count {
            let h = hits[i], a = Int(h.atom)
            let run = ws.atomHitRuns.address(a)
            ws.atomHits[Int(run.pointee.first &+ run.pointee.count)] = Evidence(turn: h.turn, start: h.start, end: h.end)
            run.pointee.count &+= 1
        }
        liveCandidateRules = candidateRules
        clauseMarks = callClauses.baseAddress
        clauseMark = holds
        return true
    }
}
