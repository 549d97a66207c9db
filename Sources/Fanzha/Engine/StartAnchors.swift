import Foundation
import FanzhaPCRE
import FanzhaText

// Start anchors: for a regex every match of which holds one of a few literals within a bounded
// number of characters of its start (王女士…: 女士 one character in; X某: 某 one character in),
// PCRE2 need not try a match at every character of a turn. The literals are found in the bytes
// (memchr), each occurrence gives the few starts a match could have, and an anchored twin of the
// pattern is tried at those starts only, left to right. Unanchored, PCRE2's JIT tries the regex
// at every Han character of the turn (the first character's class of 100 surnames holds no
// literal it could skip to), which on the bench corpus cost more than the rest of the frames.
//
// The same matches, by construction: an unanchored search from a position tries each start from
// there in order and returns the first start's match; a start not listed cannot match (every
// match there would hold an anchor literal at a listed distance), and at a listed start the
// anchored twin returns the match the unanchored search returns there. (The one difference: the
// match limit counts per start tried, not per search, so a regex that would only have hit its
// limit across a whole turn may now answer there.)

/// Which literals every match of a regex holds near its start: for each entry, the literal's
/// first character is `lo ... hi` characters after the match's start. Every match holds some
/// entry's literal at such a distance. Read from the pattern's syntax, like `RegexAtoms`.
struct StartAnchors: Equatable {
    struct Entry: Equatable { var literal: String; var lo: Int; var hi: Int }
    var entries: [Entry]

    /// The anchors of `pattern`, or nil when its syntax gives none that pays (a branch with no
    /// literal at a bounded distance, or too many starts to try per occurrence).
    static func of(_ pattern: String, extended: Bool) -> StartAnchors? {
        var parser = AnchorParser(cur: RegexCursor(pattern, extended: extended))
        let r = parser.alternation()
        guard !parser.failed, parser.cur.atEnd, let found = r.anchors else { return nil }
        return StartAnchors(entries: found.entries)
    }
}

/// A literal that matches only its own bytes in a caseless regex and is found by memchr in
/// normalised text: Han characters and digits (as `LiteralGate` uses).
private func isAnchorCharacter(_ c: Unicode.Scalar) -> Bool {
    (c.value >= 0x4E00 && c.value <= 0x9FFF) || (c >= "0" && c <= "9")
}

/// A width in characters: `lo ... hi`, hi nil when unbounded.
private struct Width: Equatable {
    var lo: Int, hi: Int?
    static let zero = Width(lo: 0, hi: 0), one = Width(lo: 1, hi: 1)
    static let unknown = Width(lo: 0, hi: nil)
    static func + (a: Width, b: Width) -> Width {
        Width(lo: a.lo + b.lo, hi: a.hi.flatMap { x in b.hi.map { x + $0 } })
    }
    /// `self` repeated `q.lo ... q.hi` times.
    func times(_ q: Width) -> Width {
        let upper: Int?
        if q.hi == 0 || hi == 0 { upper = 0 } else if let h = hi, let m = q.hi { upper = h * m } else { upper = nil }
        return Width(lo: lo * q.lo, hi: upper)
    }
    func union(_ b: Width) -> Width {
        Width(lo: min(lo, b.lo), hi: hi.flatMap { x in b.hi.map { max(x, $0) } })
    }
}

/// Anchor entries relative to some start, and what trying them costs: per occurrence of a
/// literal, the starts it gives (`hi - lo + 1`), weighted by how common a literal of its length
/// is (one character: many occurrences).
private struct Found {
    var entries: [StartAnchors.Entry]
    var cost: Double
    init(_ entries: [StartAnchors.Entry]) {
        self.entries = entries
        cost = entries.reduce(0) { sum, e in
            let n = e.literal.unicodeScalars.count
            return sum + Double(e.hi - e.lo + 1) * (n == 1 ? 4 : n == 2 ? 1 : 0.5)
        }
    }
    func shifted(by w: Width) -> Found? {
        guard let h = w.hi else { return nil }
        return Found(entries.map { StartAnchors.Entry(literal: $0.literal, lo: $0.lo + w.lo, hi: $0.hi + h) })
    }
}

/// A recursive-descent reading of PCRE2 syntax that tracks each item's width in characters.
/// Gives up (`failed`) on anything it does not understand, so what it finds is always sound.
private struct AnchorParser {
    var cur: RegexCursor
    var failed = false
    /// Set by an option group such as `(?x)`: the extended mode for the rest of the enclosing group.
    var pendingExtended: Bool?

    init(cur: RegexCursor) { self.cur = cur }

    /// Branches up to the next `)` (not consumed) or the end: their widths, and anchors when
    /// every branch has them.
    mutating func alternation() -> (width: Width, anchors: Found?) {
        var (width, first) = sequence()
        var entries = first?.entries
        while !failed, cur.peek() == "|" {
            cur.i += 1
            let (w, a) = sequence()
            width = width.union(w)
            if let a, entries != nil, entries!.count + a.entries.count <= AnchorParser.mostEntries {
                entries! += a.entries
            } else {
                entries = nil
            }
        }
        return (width, entries.map(Found.init))
    }

    /// More literals than this and a search would look for too many to be quick.
    static let mostEntries = 64

    /// Items up to `|`, `)` or the end: the width, and the cheapest anchors any item gives.
    mutating func sequence() -> (width: Width, anchors: Found?) {
        var offset = Width.zero
        var best: Found?
        var run = String.UnicodeScalarView(), runStart = Width.zero
        func consider(_ f: Found?) {
            guard let f, f.entries.count <= AnchorParser.mostEntries else { return }
            if best == nil || f.cost < best!.cost { best = f }
        }
        func flush() {
            if !run.isEmpty { consider(Found([StartAnchors.Entry(literal: String(run), lo: 0, hi: 0)]).shifted(by: runStart)) }
            run = String.UnicodeScalarView()
        }
        while !failed, cur.i < cur.s.count {
            let c = cur.s[cur.i]
            if c == "|" || c == ")" { break }
            if cur.isIgnoredSpace(c) { cur.i += 1; continue }
            if cur.extended, c == "#" { failed = true; break }
            if c == "(" {
                flush()
                let (w, a) = group()
                if let x = pendingExtended { cur.extended = x; pendingExtended = nil }
                guard let q = quantifier() else { break }
                if q.lo >= 1 { consider(a?.shifted(by: offset)) }
                offset = offset + w.times(q)
                continue
            }
            if isAnchorCharacter(c) {
                cur.i += 1
                guard let q = quantifier() else { break }
                if q == .one {
                    if run.isEmpty { runStart = offset }
                    run.append(c)
                } else {
                    if q.lo >= 1 {
                        if run.isEmpty { runStart = offset }
                        run.append(c)
                    }
                    flush()
                }
                offset = offset + Width.one.times(q)
                continue
            }
            flush()
            let w = item()
            guard !failed, let q = quantifier() else { break }
            offset = offset + w.times(q)
        }
        flush()
        return (offset, best)
    }

    /// A group from its `(` to past its `)` (not its quantifier).
    mutating func group() -> (width: Width, anchors: Found?) {
        cur.i += 1
        var inner: (width: Width, anchors: Found?) = (.zero, nil)
        guard cur.i < cur.s.count, cur.s[cur.i] != "*" else { failed = true; return inner }   // (*VERB)
        let saved = cur.extended
        defer { cur.extended = saved }   // options set inside a group end with it
        if cur.s[cur.i] == "?" {
            guard cur.i + 1 < cur.s.count else { failed = true; return inner }
            let k = cur.s[cur.i + 1]
            switch k {
            case ":", ">", "|":
                cur.i += 2
                inner = alternation()
            case "=", "!":
                cur.i += 2
                _ = alternation()   // a lookahead consumes nothing
            case "<" where cur.i + 2 < cur.s.count && (cur.s[cur.i + 2] == "=" || cur.s[cur.i + 2] == "!"):
                cur.i += 3
                _ = alternation()   // a lookbehind consumes nothing
            case "<", "'", "P":
                guard k != "P" || (cur.i + 2 < cur.s.count && cur.s[cur.i + 2] == "<") else { failed = true; return inner }
                let close: Unicode.Scalar = k == "'" ? "'" : ">"
                cur.i += k == "P" ? 3 : 2
                while cur.i < cur.s.count, cur.s[cur.i] != close { cur.i += 1 }
                cur.i += 1
                inner = alternation()
            case "#":
                while cur.i < cur.s.count, cur.s[cur.i] != ")" { cur.i += 1 }
            default:
                // Option letters only: (?R), (?C…) and the like are not followed.
                let optionLetters = "imnsxUJ-^".unicodeScalars
                guard optionLetters.contains(k) else { failed = true; return inner }
                var j = cur.i + 1
                while j < cur.s.count, optionLetters.contains(cur.s[j]) { j += 1 }
                guard j < cur.s.count else { failed = true; return inner }
                let x = cur.extendedAfter(options: cur.s[(cur.i + 1)..<j])
                if cur.s[j] == ")" {
                    // Options for the rest of the enclosing group: nothing consumed. The caller
                    // reads on with them (`pendingExtended`), past this group's restore.
                    cur.i = j + 1
                    pendingExtended = x
                    return (.zero, nil)
                }
                guard cur.s[j] == ":" else { failed = true; return inner }
                cur.i = j + 1
                cur.extended = x
                inner = alternation()
            }
        } else {
            inner = alternation()
        }
        guard !failed, cur.peek() == ")" else { failed = true; return inner }
        cur.i += 1
        return inner
    }

    /// The width of one item that is not a group or an anchor character: an escape, a class, or
    /// another single character. Fails on what may consume a varying or unknown number of
    /// characters or move the match's start (`\R`, `\X`, back references, `\K`, `\C`).
    mutating func item() -> Width {
        let c = cur.s[cur.i]
        if c == "\\" {
            guard cur.i + 1 < cur.s.count else { failed = true; return .zero }
            let e = cur.s[cur.i + 1]
            cur.i += 2
            switch e {
            case "b", "B", "A", "z", "Z", "G", "E":
                return .zero
            case "d", "D", "s", "S", "w", "W", "h", "H", "v", "V":
                return .one
            case "N":
                guard cur.i >= cur.s.count || cur.s[cur.i] != "{" else { failed = true; return .zero }
                return .one
            case "x":
                cur.skipHexCode()
                return .one
            case "o":
                guard cur.peek() == "{" else { failed = true; return .zero }
                cur.skip(past: "}")
                return .one
            case "p", "P":
                if cur.peek() == "{" { cur.skip(past: "}") } else { cur.i += 1 }
                return .one
            case "c":
                cur.i += 1
                return .one
            case "t", "n", "r", "f", "e", "a":
                return .one
            default:
                // An escaped punctuation character is itself; letters and digits not listed
                // (back references, \K, \R, \X, \Q…) are not followed.
                if e.isASCII, !(e >= "a" && e <= "z"), !(e >= "A" && e <= "Z"), !(e >= "0" && e <= "9") { return .one }
                failed = true
                return .zero
            }
        }
        if c == "[" {
            guard cur.skipClass() else { failed = true; return .zero }
            return .one
        }
        cur.i += 1
        if c == "^" || c == "$" { return .zero }
        return .one   // `.` or a plain character
    }

    /// The quantifier here as a count range (`.one` when there is none), consumed with a lazy
    /// or possessive mark; nil (and `failed`) for a brace this reading is not sure of.
    mutating func quantifier() -> Width? {
        cur.skipIgnored()
        guard cur.i < cur.s.count else { return .one }
        var q: Width
        switch cur.s[cur.i] {
        case "?": q = Width(lo: 0, hi: 1); cur.i += 1
        case "*": q = Width(lo: 0, hi: nil); cur.i += 1
        case "+": q = Width(lo: 1, hi: nil); cur.i += 1
        case "{":
            // Only {n}, {n,} and {n,m}: any other brace (a literal in older PCRE2, a count in
            // newer) is not guessed at.
            var j = cur.i + 1
            var first = 0, second: Int?, comma = false, digits = 0
            while j < cur.s.count, (cur.s[j] >= "0" && cur.s[j] <= "9") || cur.s[j] == "," {
                if cur.s[j] == "," {
                    if comma { failed = true; return nil }
                    comma = true
                    second = nil
                } else if comma {
                    second = (second ?? 0) * 10 + Int(cur.s[j].value - 48)
                } else {
                    first = first * 10 + Int(cur.s[j].value - 48)
                    digits += 1
                }
                j += 1
            }
            guard j < cur.s.count, cur.s[j] == "}", digits > 0 else { failed = true; return nil }
            q = Width(lo: first, hi: comma ? second : first)
            cur.i = j + 1
        default:
            return .one
        }
        if cur.i < cur.s.count, cur.s[cur.i] == "?" || cur.s[cur.i] == "+" { cur.i += 1 }
        cur.skipIgnored()
        if cur.i < cur.s.count, cur.s[cur.i] == "?" || cur.s[cur.i] == "*" || cur.s[cur.i] == "+" || cur.s[cur.i] == "{" { failed = true; return nil }
        return q
    }
}

extension Screener {
    /// A regex searched from its start anchors: an anchored twin of its pattern and, per anchor,
    /// the literal's bytes and the distances (in characters) back to where a match may start.
    /// Immutable once made; per worker (it holds a compiled pattern).
    final class AnchoredSearch {
        private let source: String, options: Pattern.Options
        /// The anchored twin, compiled when a turn first holds an anchor (a scan of one message
        /// compiles only the twins it uses); `.none` if PCRE2 cannot JIT it.
        private var twin: Twin = .unknown
        private enum Twin { case unknown, none, pattern(Pattern) }
        private let storedTwin: SerializedPatterns?
        /// Literal `k`'s bytes are `bytes[byteStart[k] ..< byteStart[k + 1]]` and its scalars'
        /// `ScalarBits` bits `bits[bitStart[k] ..< bitStart[k + 1]]` (a literal with one missing is
        /// not looked for); a match may start `lo[k] ... hi[k]` characters before it. Flat, so a
        /// search reads them without retaining an array per literal.
        private let bytes: [UInt8], byteStart: [Int], bits: [Int], bitStart: [Int]
        private let lo: [Int], hi: [Int]
        /// The starts of the last search, kept for their memory (a search is one worker's).
        private var startsBuffer: [Int] = []

        /// The regex's anchors (nil: it is searched as usual) and, from a compiled rule set, its
        /// anchored twin's stored code (`storedTwin`), decoded instead of compiled at first use.
        init(source: String, options: Pattern.Options, anchors: StartAnchors, storedTwin: SerializedPatterns?) {
            self.source = source
            self.options = options
            self.storedTwin = storedTwin
            var bytes: [UInt8] = [], byteStart = [0], bits: [Int] = [], bitStart = [0]
            for e in anchors.entries {
                bytes += e.literal.utf8
                byteStart.append(bytes.count)
                bits += e.literal.unicodeScalars.map { Int(ScalarBits.bit($0.value)) }
                bitStart.append(bits.count)
            }
            (self.bytes, self.byteStart, self.bits, self.bitStart) = (bytes, byteStart, bits, bitStart)
            lo = anchors.entries.map(\.lo)
            hi = anchors.entries.map(\.hi)
        }

        /// At most this many starts are tried per occurrence of a literal.
        static let widestSpan = 4

        /// The start anchors a regex is searched from, if any: those its syntax gives, when each
        /// gives at most `widestSpan` starts.
        static func anchors(source: String, options: Pattern.Options) -> StartAnchors? {
            guard let anchors = StartAnchors.of(source, extended: options.contains(.extended)),
                  anchors.entries.allSatisfy({ $0.hi - $0.lo < widestSpan }) else { return nil }
            return anchors
        }

        /// The anchored twin of a pattern: what a compiled rule set stores (serialised) and what
        /// a search compiles at first use without it.
        static func twin(source: String, options: Pattern.Options) -> Pattern? {
            try? Pattern(source, options: options.union(.anchored), validSubjects: true)
        }

        /// The matches in `text`, as `Screener.matches` gives them for the unanchored pattern
        /// (leftmost, non-overlapping, at most `matchesPerTurn`), and the first failure; nil
        /// when the twin cannot be JIT-compiled (then search as usual).
        func matches(in text: UnsafeBufferPointer<UInt8>, scalars: UnsafePointer<UInt64>, scratch: MatchScratch) -> (ranges: [Range<Int>], failure: String?)? {
            guard let base = text.baseAddress, !text.isEmpty else { return ([], nil) }
            var starts: [Int] = []
            swap(&starts, &startsBuffer)
            starts.removeAll(keepingCapacity: true)
            defer { swap(&starts, &startsBuffer) }
            bytes.withUnsafeBufferPointer { bytes in
                for k in 0..<(bitStart.count - 1) {
                    var b = bitStart[k]
                    while b < bitStart[k + 1], scalars[bits[b] &>> 6] & (1 &<< UInt64(bits[b] & 63)) != 0 { b += 1 }
                    guard b == bitStart[k + 1] else { continue }
                    let needle = bytes.baseAddress! + byteStart[k], n = byteStart[k + 1] - byteStart[k]
                    guard n <= text.count else { continue }
                    let last = Int32(needle[n - 1])
                    var from = n - 1
                    while from < text.count, let hit = memchr(base + from, last, text.count - from) {
                        let end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) + 1
                        from = end
                        guard memcmp(base + (end - n), needle, n) == 0 else { continue }
                        // Back `lo` characters, then each start up to `hi` back.
                        var at = end - n, back = 0
                        while back < lo[k], at > 0 { at = AnchoredSearch.previous(text, at); back += 1 }
                        guard back == lo[k] else { continue }
                        starts.append(at)
                        while back < hi[k], at > 0 {
                            at = AnchoredSearch.previous(text, at)
                            back += 1
                            starts.append(at)
                        }
                    }
                }
            }
            guard !starts.isEmpty else { return ([], nil) }
            let pattern: Pattern
            switch twin {
            case .pattern(let p): pattern = p
            case .none: return nil
            case .unknown:
                let stored = storedTwin?.patterns(of: [(source, options.union(.anchored))])?.first
                guard let p = stored ?? AnchoredSearch.twin(source: source, options: options), p.isJIT else { twin = .none; return nil }
                twin = .pattern(p)
                pattern = p
            }
            starts.sort()
            var ranges: [Range<Int>] = []
            var position = 0, previousStart = -1
            for s in starts where s >= position && s != previousStart {
                previousStart = s
                do {
                    guard let r = try pattern.firstMatch(in: text, from: s, using: scratch) else { continue }
                    // Never empty: every match holds a literal.
                    ranges.append(r)
                    if ranges.count >= Screener.matchesPerTurn { break }
                    position = r.upperBound
                } catch {
                    return (ranges, "\(error)")
                }
            }
            return (ranges, nil)
        }

        /// The start of the character before byte `i` of valid UTF-8 `text` (`i > 0`).
        @inline(__always)
        static func previous(_ text: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
            var j = i - 1
            while j > 0, text[j] & 0xC0 == 0x80 { j -= 1 }
            return j
        }
    }

    /// Atom `a`'s anchored search, made on first use by this worker: for a regex atom of one
    /// pattern whose start anchors are few and near, and which no prefilter word rules out (it
    /// has a literal gate instead, or runs on every turn). A regex with words runs only on the
    /// records that hold them, where PCRE2's own search is as quick as finding the anchors, and
    /// compiling a twin for each would cost more than it saves.
    /// Unmanaged, as the literal gate is (`GateState`): the screener holds it, a search uses it in place.
    func anchoredSearch(ofAtom a: Int) -> Unmanaged<AnchoredSearch>? {
        switch atomMatchers[a].anchored {
        case .none: return nil
        case .search(let s): return s
        case .unknown:
            var search: AnchoredSearch?
            if let spec = Screener.anchoredRegex(rules.atoms[a], clauseCount: matcher.programPointer.pointee.atomClauseCount[a]) {
                // A compiled rule set's stored anchors and twin, unless they fail their checks.
                var anchors: StartAnchors?, twin: SerializedPatterns?
                switch rules.atoms[a].regexes.storedAnchors {
                case .noAnchors?: break
                case .stored(let bytes, let code, _)?:
                    anchors = StartAnchors(stored: bytes) ?? AnchoredSearch.anchors(source: spec.source, options: spec.options)
                    twin = code
                case nil: anchors = AnchoredSearch.anchors(source: spec.source, options: spec.options)
                }
                search = anchors.map { AnchoredSearch(source: spec.source, options: spec.options, anchors: $0, storedTwin: twin) }
            }
            let held = search.map { Unmanaged.passRetained($0) }
            atomMatchers[a].anchored = held.map { .search($0) } ?? .none
            return held
        }
    }

    enum AnchoredState { case unknown, none, search(Unmanaged<AnchoredSearch>) }

    /// The regex of atom `atom` (with `clauseCount` word clauses of its own) that may be searched
    /// from its start anchors: the one pattern of a regex atom no prefilter word rules out.
    static func anchoredRegex(_ atom: Atom, clauseCount: Int32) -> (source: String, options: Pattern.Options)? {
        guard atom.kind == .regex, clauseCount == 0, atom.regexes.specs.count == 1 else { return nil }
        return atom.regexes.specs[0]
    }
}

extension StartAnchors {
    /// The stored form (a compiled rule set's): the entries' count, then each one's literal and distances.
    func encode(into w: inout ByteWriter) {
        w.count(entries.count)
        for e in entries { w.string(e.literal); w.i64(e.lo); w.i64(e.hi) }
    }

    /// The anchors `encode` wrote, if they are ones a search can use (nil: read the regex's
    /// syntax instead). A stamped cache file is not checksummed again, so these checks keep a
    /// damaged entry from sending a search outside its text: every literal at least one
    /// character, every distance at least 0 and each span under `AnchoredSearch.widestSpan`.
    init?(stored: UnsafeRawBufferPointer) {
        var r = ByteReader(stored, path: "start anchors")
        var entries: [Entry] = []
        do {
            let n = try r.count()
            guard n > 0 else { return nil }
            for _ in 0..<n {
                let e = Entry(literal: try r.string(), lo: try r.int(), hi: try r.int())
                guard !e.literal.isEmpty, e.lo >= 0, e.hi >= e.lo, e.hi - e.lo < Screener.AnchoredSearch.widestSpan else { return nil }
                entries.append(e)
            }
        } catch {
            return nil
        }
        guard r.p == stored.count else { return nil }
        self.init(entries: entries)
    }
}
