// A live call's prefilter clauses turn by turn: which regexes each turn can match at all.
//
// The prefilter lets a regex atom run on a record when every clause of its requirement has a word
// in the record (`atomCandidate`). A match lies in one turn, and holds a word of each clause
// there (Requirements.swift): so on a call, a regex can match only in a turn whose own words
// satisfy every clause. A live call matches each regex on each new turn once (`RegexMemo`);
// without this a regex that some earlier turn's words let run went through its literal gate, and
// often PCRE2, on every new turn. The turns' clauses are listed once each, the first time a regex
// asks about the turn.

extension Screener {
    /// The clauses of regex requirements that the words of a live call's turns satisfy, sorted,
    /// by the call's turn numbers from `from`: turn `from + i`'s are `clauses[starts[i] ..<
    /// starts[i + 1]]`. Only the regexes' clauses: a turn's words satisfy hundreds of the rules'
    /// own, which no turn-by-turn question needs. Kept with the call's `RegexMemo`; plain memory,
    /// like the evaluation's tables.
    final class CallTurnClauses {
        // Unchecked for exclusive access: a call is evaluated on one thread at a time, and
        // `mayMatch` is never re-entered (each checked access was a runtime call).
        @exclusivity(unchecked) private(set) var from: Int
        @exclusivity(unchecked) private var clauses = Arena<Int32>()
        @exclusivity(unchecked) private var starts = Arena<Int32>()

        init(from turn: Int) {
            from = turn
            starts.append(0)
        }

        deinit { clauses.deallocate(); starts.deallocate() }

        /// Whether regex atom `a` can match in the call's turn `t`, a turn of `p`: every clause of
        /// its requirement has a word in that turn. True when the atom needs no word.
        func mayMatch(atom a: Int, inTurn t: Int, of p: Prepared, _ program: UnsafePointer<Program>) -> Bool {
            let count = Int(program.pointee.atomClauseCount[a])
            guard count > 0 else { return true }
            let base = p.firstTurnNumber
            guard t >= base, t < base + p.turnCount else { return true }
            if t < from || from + starts.count - 1 < base {
                // Turns not listed and no longer (or not yet) in reach: start again from this stretch.
                restart(from: base)
            }
            while from + starts.count - 1 <= t {
                Self.list(p.turns[from + starts.count - 1 - base].wordHits, into: &clauses, program)
                starts.append(Int32(clauses.count))
            }
            let i = t - from
            let lo = Int(starts[i]), hi = Int(starts[i + 1])
            let first = Int32(program.pointee.atomClauseFirst[a])
            for c in first..<(first + Int32(count)) {
                // Binary search in the turn's sorted clauses.
                var l = lo, h = hi
                while l < h {
                    let m = (l + h) >> 1
                    if clauses[m] < c { l = m + 1 } else { h = m }
                }
                if l == hi || clauses[l] != c { return false }
            }
            return true
        }

        /// Drops the turns listed, so that listing starts again at `turn`.
        func restart(from turn: Int) {
            from = turn
            clauses.removeAll()
            starts.removeAll()
            starts.append(0)
        }

        /// Appends one turn's regex clauses, from its word hits, sorted and once each.
        private static func list(_ hits: [(Int32, Int32, Int32)], into clauses: inout Arena<Int32>, _ program: UnsafePointer<Program>) {
            let start = program.pointee.clausesByWordStart, byWord = program.pointee.clausesByWord
            // The regexes' clauses are numbered after every rule's, and a word's are in order.
            let regexClauses = program.pointee.atomClauseFirst[0]
            let first = clauses.count
            for h in hits {
                let w = Int(h.0)
                let lo = Int(start[w])
                var k = Int(start[w + 1])
                while k > lo && byWord[k - 1] >= regexClauses {
                    k -= 1
                    let c = byWord[k]
                    // Insertion into the few listed so far.
                    var j = clauses.count
                    while j > first && clauses[j - 1] > c { j -= 1 }
                    if j > first && clauses[j - 1] == c { continue }
                    clauses.append(c)
                    var m = clauses.count - 1
                    while m > j {
                        clauses[m] = clauses[m - 1]
                        m -= 1
                    }
                    clauses[j] = c
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
