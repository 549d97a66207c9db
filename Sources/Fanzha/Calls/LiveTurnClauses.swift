// A live call's prefilter clauses turn by turn: which regexes each turn can match at all.
//
// The prefilter lets a regex atom run on a record when every clause of its requirement has a word
// in the record (`atomCandidate`). A match lies in one turn, and holds a word of each clause
// there (Requirements.swift): so on a call, a regex can match only in a turn whose own words
// satisfy every clause. A live call matches each regex on each new turn once (`RegexMemo`);
// without this a regex that some earlier turn's words let run went through its literal gate, and
// often PCRE2, on every new turn. The turns' clauses are marked once each, the first time a regex
// asks about the turn, one bit per regex clause.

extension Screener {
    /// The clauses of regex requirements that the words of a live call's turns satisfy, one bit
    /// per regex clause (the program numbers them after every rule's, from `atomClauseFirst[0]`),
    /// by the call's turn numbers from `from`: turn `from + i`'s are the `rowWords` words at
    /// `bits[i * rowWords]`. Only the regexes' clauses: a turn's words satisfy hundreds of the
    /// rules' own, which no turn-by-turn question needs. A question is then one bit per clause of
    /// the regex's requirement; it was a binary search per clause in the turn's sorted list, and
    /// listing a turn an insertion into it per clause of each hit's word (about 2,000
    /// instructions a turn, 120 a question). Kept with the call's `RegexMemo`; plain memory,
    /// like the evaluation's tables.
    final class CallTurnClauses {
        // Unchecked for exclusive access: a call is evaluated on one thread at a time, and
        // `mayMatch` is never re-entered (each checked access was a runtime call).
        @exclusivity(unchecked) private(set) var from: Int
        @exclusivity(unchecked) private var bits = Arena<UInt64>()
        /// The turns marked so far, from `from`.
        @exclusivity(unchecked) private var listed = 0
        /// Words of a turn's row: the regex clauses' count in 64-bit words (set at the first turn marked).
        @exclusivity(unchecked) private var rowWords = 0

        init(from turn: Int) { from = turn }

        deinit { bits.deallocate() }

        /// Whether regex atom `a` can match in the call's turn `t`, a turn of `p`: every clause of
        /// its requirement has a word in that turn. True when the atom needs no word.
        func mayMatch(atom a: Int, inTurn t: Int, of p: Prepared, _ program: UnsafePointer<Program>) -> Bool {
            let count = Int(program.pointee.atomClauseCount[a])
            guard count > 0 else { return true }
            let base = p.firstTurnNumber
            guard t >= base, t < base + p.turnCount else { return true }
            if t < from || from + listed < base {
                // Turns not marked and no longer (or not yet) in reach: start again from this stretch.
                restart(from: base)
            }
            let regexClauses = Int(program.pointee.atomClauseFirst[0])
            if rowWords == 0 { rowWords = max(1, (program.pointee.clauseTotal - regexClauses + 63) >> 6) }
            while from + listed <= t {
                Self.mark(p.turns[from + listed - base].wordHits, in: bits.append(repeating: 0, count: rowWords), regexClauses, program)
                listed += 1
            }
            let row = bits.address((t - from) * rowWords)
            let first = Int(program.pointee.atomClauseFirst[a]) - regexClauses
            for c in first..<(first + count) where row[c >> 6] & (1 << UInt64(c & 63)) == 0 { return false }
            return true
        }

        /// Drops the turns marked, so that marking starts again at `turn`.
        func restart(from turn: Int) {
            from = turn
            bits.removeAll()
            listed = 0
        }

        /// Sets one turn's regex clauses in `row`, from its word hits.
        private static func mark(_ hits: [(Int32, Int32, Int32)], in row: UnsafeMutablePointer<UInt64>, _ regexClauses: Int, _ program: UnsafePointer<Program>) {
            let start = program.pointee.clausesByWordStart, byWord = program.pointee.clausesByWord
            for h in hits {
                let w = Int(h.0)
                let lo = Int(start[w])
                var k = Int(start[w + 1])
                // A word's clauses are in order: the regexes' are its last.
                while k > lo && Int(byWord[k - 1]) >= regexClauses {
                    k -= 1
                    let c = Int(byWord[k]) - regexClauses
                    row[c >> 6] |= 1 << UInt64(c & 63)
                }
            }
        }
    }
}

extension Screener.Evaluation {
    /// Whether regex atom `a` can match in the call's turn `t` (a live call's, `CallTurnClauses`);
    /// true for any other record.
    mutating func liveTurnMayMatch(_ a: Int, turn t: Int) -> Bool {
        // An atom that needs no word asks nothing of the call (and costs no look-up of its memo).
        guard program.pointee.atomClauseCount[a] > 0, let clauses = liveTurnClauses else { return true }
        // The record passed as the clauses are, guaranteed, not counted: `prepared` as an
        // argument was retained and released around each question (130,000 a run).
        let record = Unmanaged.passUnretained(prepared)
        return clauses._withUnsafeGuaranteedRef { listed in record._withUnsafeGuaranteedRef { listed.mayMatch(atom: a, inTurn: t, of: $0, program) } }
    }
}
