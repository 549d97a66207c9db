// A live call's dictionary-word hits, kept placed under their atoms from event to event.
//
// Every evaluation starts by listing the automaton's hits under the atoms they belong to
// (`placeWordHits`: each hit's word looked up in the program's word → atom and word → clause
// indexes, twice). A live call is evaluated at each of its events on the same turns plus a new
// one, so it keeps that work: the words present (once each), and each atom's run of hits, in
// turn order, in memory of its own. An evaluation of the call then looks up only its new turns'
// words, appends their hits to their atoms' runs, marks the call's distinct words as present, and
// reads the runs where they are (`Evaluation.atomHits`): the same runs, in the same order, as
// placing every turn afresh. The rules the prefilter's index holds under the call's words are
// kept too, as the candidates' bitmap (`collectCandidates`), and so are the prefilter's clauses
// the call's words satisfy: the evaluation reads the call's own table of them
// (`Evaluation.clauseMarks`), marked once per word, not the workspace's stamps, which every
// evaluation of every call or record starts afresh.

extension Screener {
    /// A live call's word hits in its turns `lo ..< hi` (the call's turn numbers), kept with its
    /// `RegexMemo` while the evaluations start at `lo`.
    final class CallWordHits {
        /// An atom's hits in `placed`: `count` of them from `first`, with room for `room` there.
        struct Run { var atom: Int32, first: Int32, count: Int32, room: Int32 }
        let lo: Int
        fileprivate(set) var hi: Int
        /// The words present, once each, in order first seen.
        fileprivate var words = Arena<Int32>()
        /// The atoms with hits, in order first touched, and where their hits are.
        fileprivate var runs = Arena<Run>()
        /// Each atom's hits (turns counted from `lo`), in turn order, one run after another. A
        /// run that fills up moves to the end with twice the room (its old place left unused),
        /// so a new turn's hits are appended where their atoms' runs are, and the runs are never
        /// copied again as a whole: copying every hit of the call into the workspace's table at
        /// every event cost more than the new turn's own hits. An evaluation sorts a run in place
        /// (`atomOccurrences`), which later turns' hits, appended after it, leave sorted.
        fileprivate var placed = Arena<Evidence>()
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
        /// A new run's room: the call's atoms hold about two hits each.
        static let firstRoom: Int32 = 2

        init(from turn: Int) { lo = turn; hi = turn }

        deinit {
            words.deallocate(); runs.deallocate(); placed.deallocate()
            candidateRules.baseAddress?.deallocate(); clauses.baseAddress?.deallocate()
        }
    }
}

extension Screener.Evaluation {
    /// `placeWordHits` for a live call's stretch from the turn its kept hits start at: the new
    /// turns' hits are added to the call's, then the call's runs are given to the evaluation.
    /// False (nothing done) for any other record or stretch.
    mutating func placeLiveWordHits() -> Bool {
        guard let memo = prepared.regexMemo else { return false }
        let lo = prepared.firstTurnNumber
        if memo.wordHits == nil { memo.wordHits = Screener.CallWordHits(from: lo) }
        // A window that moved on (a call longer than the window), or fewer turns than kept: as a record.
        guard let kept = memo.wordHits, kept.lo == lo, kept.hi <= lo + turnLimit else { return false }
        let mark = ws.markGeneration
        var words = kept.words, runs = kept.runs, placed = kept.placed
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
        // While the new turns are added, an atom's run's `first` in the workspace is its place in `runs`.
        for s in 0..<runs.count {
            let a = Int(runs[s].atom)
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
                        ws.atomHitRuns.address(a).pointee.first = Int32(runs.count)
                        let room = Screener.CallWordHits.firstRoom
                        runs.append(Screener.CallWordHits.Run(atom: Int32(a), first: Int32(placed.count), count: 0, room: room))
                        _ = placed.append(repeating: Evidence(turn: 0, start: 0, end: 0), count: Int(room))
                    }
                    let run = runs.address(Int(ws.atomHitRuns[a].first))
                    if run.pointee.count == run.pointee.room {
                        // Full: the run moves to the end, with twice the room.
                        let first = placed.count, room = run.pointee.room &* 2
                        _ = placed.append(repeating: Evidence(turn: 0, start: 0, end: 0), count: Int(room))
                        placed.address(first).update(from: placed.address(Int(run.pointee.first)), count: Int(run.pointee.count))
                        run.pointee.first = Int32(first)
                        run.pointee.room = room
                    }
                    placed[Int(run.pointee.first &+ run.pointee.count)] = Evidence(turn: Int32(t), start: h.1, end: h.2)
                    run.pointee.count &+= 1
                }
            }
        }
        kept.words = words; kept.runs = runs; kept.placed = placed
        kept.candidateRules = candidateRules; kept.clauses = callClauses
        kept.hi = lo + turnLimit
        for s in 0..<runs.count {
            let run = runs[s]
            ws.atomHitRuns[Int(run.atom)] = Screener.AtomHitRun(first: run.first, count: run.count, sorted: false)
        }
        atomHits = placed.buffer.baseAddress
        liveCandidateRules = candidateRules
        clauseMarks = callClauses.baseAddress
        clauseMark = holds
        return true
    }
}
