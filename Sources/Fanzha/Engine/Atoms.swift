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
            if ws.atomHitStamp[a] == ws.markGeneration {
                let run = ws.atomHitRuns[a], atomHits = atomHits.unsafelyUnwrapped
                let first = Int(run.first), end = first + Int(run.count)
                if !run.sorted {
                    // In turn order already; within a turn, by start, the longest first where
                    // two start together. Few per atom: insertion sort.
                    ws.atomHitRuns[a].sorted = true
                    var i = first + 1
                    while i < end {
                        let h = atomHits[i]
                        var j = i
                        while j > first {
                            let p = atomHits[j - 1]
                            guard p.turn == h.turn && (p.start > h.start || (p.start == h.start && p.end < h.end)) else { break }
                            atomHits[j] = p
                            j -= 1
                        }
                        atomHits[j] = h
                        i += 1
                    }
                }
                var turn: Int32 = -1, stop: Int32 = -1, inTurn = 0
                for i in first..<end {
                    let h = atomHits[i]
                    if h.turn != turn { turn = h.turn; stop = -1; inTurn = 0 }
                    guard h.start >= stop, inTurn < Screener.matchesPerTurn else { continue }
                    single(h.turn, h.start, h.end)
                    stop = h.end
                    inTurn += 1
                }
            }
        } else if !usePrefilter || atomCandidate(a) {
            // The worker's matchers of the atom, read in place: through the screener's methods
            // each read ran with the screener retained and released around it.
            let matchers = screener.atomMatchers
            // A one-turn record (a message) whose text the regex's literal gate, once built, does
            // not admit: no match, found before fetching the matchers (about 20 reference counts).
            var admitted = false
            if usePrefilter, let text = oneTurnBytes, matchers[a].hasGate {
                let scalars: UnsafePointer<UInt64>
                if let made = oneTurnScalars { scalars = made } else { scalars = scalarBits(ofTurn: 0); oneTurnScalars = scalars }
                if !matchers[a].gateAdmits(text, scalars: scalars) {
                    ws.atomStamp[a] = g
                    ws.atomResult[a] = since(start)
                    return since(start)
                }
                admitted = true
            }
            // The matchers are fetched when a turn is first searched with them, not before: a
            // regex searched from its start anchors (StartAnchors.swift) searches with its
            // anchored twin, and a call's turns may all be turned away by the gate. Fetching them
            // JIT-compiles them (on this worker's first use), about 120,000 instructions for a
            // pattern that then never ran: 39 of the 219 a 10,000-record slice compiled. (The
            // nested functions capture no `var`: one they change is boxed on the heap per call.)
            func patterns() -> [Pattern] {
                if let held = matchers[a].patterns { return held }
                do { return try screener.patterns(ofAtom: a) } catch {
                    prepared.regexMemo?.sawFailure = true
                    if failedAtoms.insert(a).inserted {
                        errors.append("rule \(screener.rules.rules[currentRule].id): \(screener.rules.atoms[a].display): \(error.message)")
                    }
                    return []
                }
            }
            func failed(_ t: Int, _ message: String) -> String {
                "rule \(screener.rules.rules[currentRule].id): \(screener.rules.atoms[a].display): \(message)" + (prepared.isCall ? " (turn \(t))" : "")
            }
            // The worker's match scratch, not retained: the screener holds it for the evaluation's
            // life. (Held as a reference, it was retained and released for every regex asked
            // about, most of which match no turn: their gate or their memo answers.)
            let scratch = Unmanaged.passUnretained(screener.scratch)
            // A turn without the characters every match needs is not matched (LiteralGate.swift):
            // the gate's tables, which the screener keeps once it has made the gate.
            let gate = usePrefilter && !admitted ? gateTables(ofAtom: a) : nil
            // A regex whose matches hold a literal near their start is tried only there
            // (StartAnchors.swift); without the prefilter, everywhere, as the reference. Looked up
            // once a turn gets past the gate: a scan of one message reads only the regexes it runs.
            // (Only a regex atom of one pattern has one.)
            func anchoredSearch() -> Unmanaged<Screener.AnchoredSearch>? {
                switch matchers[a].anchored {
                case .search(let made): return made
                case .none: return nil
                case .unknown: return screener.anchoredSearch(ofAtom: a)
                }
            }
            func match(_ t: Int) -> (ranges: [Range<Int>], failure: String?) {
                // A message's bytes as the evaluation read them; a call's turn's, which the
                // record keeps unchanged while it is evaluated.
                let text = oneTurnBytes ?? turnBytes(t)
                if let gate {
                    let scalars = scalarBits(ofTurn: t)
                    if !gate.admits(text, scalars: scalars) { return ([], nil) }
                }
                if usePrefilter, let anchored = anchoredSearch() {
                    let scalars = scalarBits(ofTurn: t)
                    if let found = anchored._withUnsafeGuaranteedRef({ search in
                        scratch._withUnsafeGuaranteedRef { search.matches(in: text, scalars: scalars, scratch: $0) }
                    }) { return found }
                }
                let all = patterns()
                return scratch._withUnsafeGuaranteedRef { Screener.matches(all, inBytes: text, scratch: $0) }
            }
            if usePrefilter, let memo = liveMemo {
                // A live call: each turn is matched once, whichever window of the call asks, and
                // only a turn whose own words the regex's requirement needs (Calls/LiveTurnClauses.swift).
                let base = prepared.firstTurnNumber
                let failure = memo._withUnsafeGuaranteedRef {
                    $0.occurrences(of: Int32(a), turns: base, base + turnLimit,
                                   match: { t in liveTurnMayMatch(a, turn: t) ? match(t - base) : ([], nil) },
                                   each: { t, s, e in single(t - Int32(base), s, e) })
                }
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

extension Screener.Evaluation {
    /// Turn `t`'s normalised bytes, which the record keeps unchanged for the evaluation's life:
    /// read through `prepared.turns` once per evaluation (each read counted about six
    /// references, and an evaluation's regexes ask about a turn many times).
    mutating func turnBytes(_ t: Int) -> UnsafeBufferPointer<UInt8> {
        if ws.turnBytesStamp.count < turnLimit {
            ws.turnBytesStamp.reset(count: turnLimit, to: 0)
            ws.turnBytes.reset(count: turnLimit, to: UnsafeBufferPointer(start: nil, count: 0))
        }
        if ws.turnBytesStamp[t] != ws.generation {
            ws.turnBytesStamp[t] = ws.generation
            ws.turnBytes[t] = prepared.normalisedText(ofTurn: t).bytes.withUnsafeBufferPointer { $0 }
        }
        return ws.turnBytes[t]
    }
}

extension Screener {
    /// An atom's occurrences in one turn's text by its PCRE2 matchers: leftmost-longest,
    /// non-overlapping, at most `matchesPerTurn`; and the first failure (a match limit), if any.
    static func matches(_ patterns: [Pattern], in text: NormalisedText, scratch: MatchScratch) -> (ranges: [Range<Int>], failure: String?) {
        text.bytes.withUnsafeBufferPointer { matches(patterns, inBytes: $0, scratch: scratch) }
    }

    /// The same in a turn's normalised bytes.
    static func matches(_ patterns: [Pattern], inBytes text: UnsafeBufferPointer<UInt8>, scratch: MatchScratch) -> (ranges: [Range<Int>], failure: String?) {
        var ranges: [Range<Int>] = []
        var failure: String?
        for pattern in patterns {
            do {
                try pattern.forEachMatch(in: text, using: scratch) { r in
                    if r.upperBound > r.lowerBound { ranges.append(r) }
                    return ranges.count < Screener.matchesPerTurn
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
