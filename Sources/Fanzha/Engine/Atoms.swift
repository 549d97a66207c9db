import FanzhaPCRE
import FanzhaText

// Atoms: where each literal list or regex occurs in a record. A word list's occurrences come
// from the automaton's hits when the prefilter ran; otherwise (and for every regex) from PCRE2.
// Either way the same leftmost-longest, non-overlapping occurrences, capped per turn.

extension Screener {
    /// Atom `a`'s PCRE2 matchers for this worker (`atomMatchers`): a regex's own; a term
    /// list's alternations compiled on first use (only a scan without the prefilter needs them).
    func patterns(ofAtom a: Int) throws(PatternCompileError) -> [Pattern] {
        if let done = atomMatchers[a].patterns { return done }
        let atom = rules.atoms[a]
        var compiled = try atom.patterns
        for source in atom.literalSources { compiled.append(try Pattern(source, options: [], validSubjects: true)) }
        atomMatchers[a].patterns = compiled
        return compiled
    }
}

extension Screener.Evaluation {
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
            // A one-turn record (a message) whose text the regex's literal gate, once built, does
            // not admit: no match, found before fetching the matchers (about 20 reference counts).
            var admitted = false
            if usePrefilter, let text = oneTurnBytes, screener.atomMatchers[a].hasGate {
                let scalars: UnsafePointer<UInt64>
                if let made = oneTurnScalars { scalars = made } else { scalars = scalarBits(ofTurn: 0); oneTurnScalars = scalars }
                if !screener.atomMatchers[a].gateAdmits(text, scalars: scalars) {
                    ws.atomStamp[a] = g
                    ws.atomResult[a] = since(start)
                    return since(start)
                }
                admitted = true
            }
            let patterns: [Pattern]
            do { patterns = try screener.patterns(ofAtom: a) } catch {
                prepared.regexMemo?.sawFailure = true
                if failedAtoms.insert(a).inserted {
                    errors.append("rule \(screener.rules.rules[currentRule].id): \(screener.rules.atoms[a].display): \(error.message)")
                }
                patterns = []
            }
            func failed(_ t: Int, _ message: String) -> String {
                "rule \(screener.rules.rules[currentRule].id): \(screener.rules.atoms[a].display): \(message)" + (prepared.isCall ? " (turn \(t))" : "")
            }
            let turns = prepared.turns, scratch = screener.scratch
            // A turn without the characters every match needs is not matched (LiteralGate.swift).
            let gate = usePrefilter && !patterns.isEmpty && !admitted ? screener.literalGate(ofAtom: a) : nil
            // A regex whose matches hold a literal near their start is tried only there
            // (StartAnchors.swift); without the prefilter, everywhere, as the reference. Looked up
            // once a turn gets past the gate: a scan of one message reads only the regexes it runs.
            let mayAnchor = usePrefilter && patterns.count == 1
            func match(_ t: Int) -> (ranges: [Range<Int>], failure: String?) {
                let text = turns[t].text
                if let gate {
                    let scalars = scalarBits(ofTurn: t)
                    if !text.bytes.withUnsafeBufferPointer({ gate.admits($0, scalars: scalars) }) { return ([], nil) }
                }
                if mayAnchor, let anchored = screener.anchoredSearch(ofAtom: a) {
                    let scalars = scalarBits(ofTurn: t)
                    if let found = text.bytes.withUnsafeBufferPointer({ buf in
                        anchored._withUnsafeGuaranteedRef { $0.matches(in: buf, scalars: scalars, scratch: scratch) }
                    }) { return found }
                }
                return Screener.matches(patterns, in: text, scratch: scratch)
            }
            if usePrefilter, let memo = prepared.regexMemo, !patterns.isEmpty {
                // A live call: each turn is matched once, whichever window of the call asks, and
                // only a turn whose own words the regex's requirement needs (Calls/LiveTurnClauses.swift).
                let base = prepared.firstTurnNumber
                let failure = memo.occurrences(of: Int32(a), turns: base, base + turnLimit,
                                               match: { t in liveTurnMayMatch(a, turn: t) ? match(t - base) : ([], nil) },
                                               each: { t, s, e in single(t - Int32(base), s, e) })
                if let failure, failedAtoms.insert(a).inserted { errors.append(failed(failure.turn - base, failure.message)) }
            } else {
                for t in 0..<turnLimit {
                    let (ranges, failure) = match(t)
                    if let failure, failedAtoms.insert(a).inserted { errors.append(failed(t, failure)) }
                    for r in ranges { single(Int32(t), Int32(r.lowerBound), Int32(r.upperBound)) }
                }
            }
        }
        let result = since(start)
        ws.atomStamp[a] = g
        ws.atomResult[a] = result
        return result
    }
}

extension Screener {
    /// An atom's occurrences in one turn's text by its PCRE2 matchers: leftmost-longest,
    /// non-overlapping, at most `matchesPerTurn`; and the first failure (a match limit), if any.
    static func matches(_ patterns: [Pattern], in text: NormalisedText, scratch: MatchScratch) -> (ranges: [Range<Int>], failure: String?) {
        var ranges: [Range<Int>] = []
        var failure: String?
        for pattern in patterns {
            do {
                try text.bytes.withUnsafeBufferPointer { buf throws(MatchFailure) in
                    try pattern.forEachMatch(in: buf, using: scratch) { r in
                        if r.upperBound > r.lowerBound { ranges.append(r) }
                        return ranges.count < Screener.matchesPerTurn
                    }
                }
            } catch {
                if failure == nil { failure = "\(error)" }
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
        return (ranges, failure)
    }
}
