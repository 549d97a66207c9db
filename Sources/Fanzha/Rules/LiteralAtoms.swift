import FanzhaPCRE

// Literal atoms: a literal or a term list, normalised as the text will be, expanded with its
// variant spellings, given dictionary word ids for the prefilter's automaton, and written as
// PCRE2 alternations (longest first, so leftmost-longest) for a scan without the prefilter.

extension Checker {
    /// A dictionary word's id. `edges` (see `Literal.latinEdges`) are the ends that must not touch
    /// another Latin letter: a whole-word `app` is a different entry from a substring `app` (and
    /// from a regex's required `app`, which must be found wherever the regex could match).
    mutating func wordID(_ w: String, edges: UInt8 = 0) -> Int {
        let key = edges == 0 ? w : "\u{1}\(edges)" + w
        if let id = wordIDs[key] { return id }
        wordIDs[key] = words.count
        words.append(w)
        wordEdges.append(edges)
        return words.count - 1
    }

    mutating func normalisedLiteral(_ s: String) -> String {
        if let n = normalisedLiterals[s] { return n }
        let n = normaliser?.normaliseLiteral(s) ?? s
        normalisedLiterals[s] = n
        return n
    }

    mutating func literalAtom(_ items: [Located<String>], display: String, rule: RuleDecl?, key: String? = nil, exact: Bool = false) -> Int? {
        var normalised: [String] = []
        var edges: [String: UInt8] = [:]   // per word: the ends that must be word boundaries
        var seen = Set<String>()
        var ok = true
        for item in items {
            let (value, substring) = Literal.split(item.value)
            let n = normalisedLiteral(value)
            if n.isEmpty {
                error(.emptyLiteral, "`\"\(value)\"` is empty after normalisation, so it would match everywhere", item.range,
                      help: "separators and invisible characters are removed before matching")
                ok = false
                continue
            }
            if n.unicodeScalars.count == 1 {
                warn(.shortLiteral, "`\"\(value)\"` is one character: it matches too much to be evidence", item.range, in: rule)
            }
            let latin = Literal.latinEdges(n)
            if substring && latin == 0 {
                warn(.needlessSubstring, "`~\"\(value)\"`: `~` only changes words that begin or end with a Latin letter", item.range, in: rule,
                     help: "write \"\(value)\"")
            }
            if !seen.insert(n).inserted {
                warn(.duplicateTerm, "`\"\(value)\"` is already in this list\(n != value ? " (as `\(n)` after normalisation)" : "")", item.range, in: rule)
                continue
            }
            normalised.append(n)
            edges[n] = substring ? 0 : latin
        }
        guard ok else { return nil }
        // The atom's identity: its own words and their edges (the variants follow from them).
        let k = key ?? ((exact ? "exact:" : "lit:") + normalised.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { edges[$0] == 0 ? $0 : "\u{2}\(edges[$0]!)" + $0 }.joined(separator: "\u{1}"))
        if let i = atomKeys[k] { return i }
        // Variant spellings (`VariantDictionary`) join the words, unless the rule asked for `exact("…")`.
        var boundary: [String: UInt8] = [:]
        if !exact && !variants.isEmpty {
            for n in normalised {
                for (v, b) in variants.expand(n) where !seen.contains(v) || boundary[v] != nil {
                    if seen.insert(v).inserted { normalised.append(v) }
                    boundary[v, default: 0] |= b
                }
            }
        }
        // Longest first: PCRE2 takes the first alternative that matches, so this is leftmost-longest.
        normalised.sort { $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0.utf8.lexicographicallyPrecedes($1.utf8) }
        // PCRE2 caps a compiled pattern at 64 KiB, so a long list becomes several alternations
        // (each longest first); the scanner merges their matches back to leftmost-longest.
        // Exact, not caseless: normalisation already folds ASCII case, and the prefilter's automaton
        // matches bytes exactly; a caseless literal would match more (Greek, Cyrillic) without it.
        var sources: [String] = []
        var chunk: [String] = [], chunkBytes = 0
        // A whole Latin word, or a variant that needs word boundaries: no Latin letter just before or
        // after it, as lookarounds (as the scanner filters the automaton's hits).
        // Not where a false friend it begins (`sd卡` for `sd`) occurs, as the scanner takes such hits back.
        func source(_ w: String) -> String {
            let b = (edges[w] ?? 0) | (boundary[w] ?? 0)
            let falseFriends = variants.falseFriends.keys.filter { $0.utf8.count > w.utf8.count && $0.utf8.starts(with: w.utf8) }.sorted()
                .map { (Literal.latinEdges($0) & 1 != 0 ? "(?<![a-z])" : "") + pcre2Escape($0) }
            return (falseFriends.isEmpty ? "" : "(?!" + falseFriends.joined(separator: "|") + ")")
                + (b & 1 != 0 ? "(?<![a-z])" : "") + pcre2Escape(w) + (b & 2 != 0 ? "(?![a-z])" : "")
        }
        func flushChunk() {
            guard !chunk.isEmpty else { return }
            sources.append(chunk.count == 1 ? source(chunk[0]) : "(?:" + chunk.map(source).joined(separator: "|") + ")")
            chunk = []; chunkBytes = 0
        }
        for w in normalised {
            if chunkBytes + w.utf8.count > Checker.maxAlternationBytes { flushChunk() }
            chunk.append(w)
            chunkBytes += w.utf8.count + 1
        }
        flushChunk()
        let ids = normalised.map { wordID($0, edges: (edges[$0] ?? 0) | (boundary[$0] ?? 0)) }
        atoms.append(Atom(kind: .words, display: display, words: normalised, wordIDs: ids, requirement: .anyOf(ids.map { .word($0) }),
                          patterns: [], literalSources: sources))
        atomKeys[k] = atoms.count - 1
        return atoms.count - 1
    }
}
