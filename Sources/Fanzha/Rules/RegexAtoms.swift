import FanzhaPCRE

// Regex atoms: a `/…/` pattern compiled by PCRE2 (an error pointed at its place in the rule
// file; a pattern that matches every text refused), and the literal words every match must
// contain, read from the pattern's syntax, which become its prefilter requirement.

extension Checker {
    mutating func regexAtom(_ source: String, flags: String, range: SourceRange) -> Int? {
        var options: Pattern.Options = [.caseless]
        for f in flags.unicodeScalars {
            switch f {
            case "i": break
            case "s": options.insert(.dotAll)
            case "x": options.insert(.extended)
            case "m": options.insert(.multiline)
            default:
                error(.invalidRegex, "unknown regex flag `\(f)`", range, help: "the flags are s (dot matches newline), x (extended), m (multiline)")
                return nil
            }
        }
        let k = "re:\(flags):\(source)"
        if let i = atomKeys[k] { return i }
        let pattern: Pattern
        do {
            pattern = try Pattern(source, options: options)
        } catch {
            // Point into the rule file: past the opening slash, at PCRE2's offset. The lexer turned
            // each `\/` (two characters in the file) into `/`, so step over the file's escapes.
            let file = sources[range.file].scalars
            var at = range.start + 1, inPattern = 0
            while inPattern < error.scalarOffset, at < range.end - 1 {
                if file[at] == "\\", at + 1 < range.end {
                    if file[at + 1] == "/" { at += 2; inPattern += 1; continue }
                    if inPattern + 2 <= error.scalarOffset { at += 2; inPattern += 2; continue }
                }
                at += 1; inPattern += 1
            }
            at = min(at, max(range.start, range.end - 1))
            self.error(.invalidRegex, "invalid regex: \(error.message)", SourceRange(file: range.file, start: at, end: at + 1))
            return nil
        }
        let scratch = MatchScratch(matchLimit: 10_000)
        // Matching the empty text is not enough: an anchored pattern (`^$`, `^.{0,3}$`) matches only
        // some texts. It always matches when it also matches texts it has no reason to match.
        func matches(_ probe: String) -> Bool {
            Array(probe.utf8).withUnsafeBufferPointer { (try? pattern.firstMatch(in: $0, using: scratch)) != nil }
        }
        if (try? pattern.firstMatch(in: UnsafeBufferPointer(start: nil, count: 0), using: scratch)) != nil,
           matches("\u{E000}"), matches("zq9 \u{E000}\n\u{E001}!") {
            error(.alwaysMatches, "this regex matches the empty string, so it matches every text", range,
                  help: "an empty alternative (`a||b`) or a pattern that may match nothing (`.*`, `x?`) is the usual cause")
            return nil
        }
        // The words every match needs, from the regex's literals, added to the prefilter's
        // dictionary. A literal is used only when normalising leaves it as it is (up to ASCII
        // case, the regex being caseless): the regex runs on normalised text, so a literal it
        // matches there is exactly a word the automaton finds there. (A literal that
        // normalisation would change, such as 帐户 or 回覆, is not certain to be found.)
        var requirement = WordRequirement.always
        if normaliser != nil {
            requirement = RegexAtoms.requirement(source, extended: options.contains(.extended)).map(
                { lit -> WordRequirement? in
                    let n = normalisedLiteral(lit)
                    guard n == lit.lowercased(), n.unicodeScalars.count >= 2 else { return nil }
                    return .word(wordID(n))
                },
                all: { WordRequirement.allOf($0) }, any: { WordRequirement.anyOf($0) }, always: .always)
        }
        atoms.append(Atom(kind: .regex, display: "/\(source)/\(flags)", words: [], wordIDs: [], requirement: requirement,
                          patterns: [pattern], literalSources: []))
        atomKeys[k] = atoms.count - 1
        return atoms.count - 1
    }
}

/// Which literal strings every match of a regex must contain, as an AND/OR tree: what the
/// prefilter needs from a regex (YARA calls these atoms). `/(账户|账号)(异常|冻结)/` needs
/// `all(any(账户, 账号), any(异常, 冻结))`.
indirect enum LiteralRequirement: Equatable, Sendable {
    case always
    case literal(String)
    case all([LiteralRequirement])
    case any([LiteralRequirement])

    static func allOf(_ xs: [LiteralRequirement]) -> LiteralRequirement {
        var kept: [LiteralRequirement] = []
        for x in xs {
            switch x {
            case .always: continue
            case .all(let ys): kept += ys
            default: kept.append(x)
            }
        }
        return kept.isEmpty ? .always : kept.count == 1 ? kept[0] : .all(kept)
    }

    static func anyOf(_ xs: [LiteralRequirement]) -> LiteralRequirement {
        var kept: [LiteralRequirement] = []
        for x in xs {
            switch x {
            case .always: return .always   // one branch needs nothing: neither does the whole
            case .any(let ys): for y in ys where !kept.contains(y) { kept.append(y) }
            default: if !kept.contains(x) { kept.append(x) }
            }
        }
        return kept.isEmpty ? .always : kept.count == 1 ? kept[0] : .any(kept)
    }

    /// The same tree with each literal mapped (`.always` where `f` gives nil), simplified.
    func map<T>(_ f: (String) -> T?, all: ([T]) -> T, any: ([T]) -> T, always: T) -> T {
        switch self {
        case .always: return always
        case .literal(let s): return f(s) ?? always
        case .all(let xs): return all(xs.map { $0.map(f, all: all, any: any, always: always) })
        case .any(let xs): return any(xs.map { $0.map(f, all: all, any: any, always: always) })
        }
    }
}

/// Literal extraction from regexes, for the prefilter.
enum RegexAtoms {
    /// The literals every match of `pattern` must contain: runs of two or more plain characters
    /// (Han, ASCII letters and digits) outside classes and escapes, combined through groups and
    /// alternations; a part that may repeat zero times, a lookaround and anything not understood
    /// needs nothing. Always sound: it may need less than the regex does, never more.
    /// `shortest: 1` keeps runs of one character too (the engine's `LiteralGate`; the prefilter's
    /// dictionary holds words of two or more).
    static func requirement(_ pattern: String, extended: Bool = false, shortest: Int = 2) -> LiteralRequirement {
        let s = Array(pattern.unicodeScalars)
        var parser = RequirementParser(s: s, extended: extended, shortest: shortest)
        let r = parser.alternation()
        // Something not understood, or an unbalanced `)`: need nothing.
        return parser.failed || parser.i < s.count ? .always : r
    }
}

/// A recursive-descent reading of PCRE2 syntax, just deep enough to find required literals.
private struct RequirementParser {
    let s: [Unicode.Scalar]
    /// Extended mode here: the x flag, then `(?x)`/`(?-x)`/`(?^)` as PCRE2 applies them (to the
    /// end of the enclosing group; `(?x:…)` to that group).
    var extended: Bool
    /// The shortest run of plain characters kept as a literal.
    let shortest: Int
    var i = 0
    var failed = false

    init(s: [Unicode.Scalar], extended: Bool, shortest: Int) {
        self.s = s
        self.extended = extended
        self.shortest = shortest
    }

    static func isPlain(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x4E00 && c.value <= 0x9FFF) || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
    }

    /// Branches up to the next `)` (not consumed) or the end: any of them.
    mutating func alternation() -> LiteralRequirement {
        var branches = [sequence()]
        while !failed, i < s.count, s[i] == "|" {
            i += 1
            branches.append(sequence())
        }
        return .anyOf(branches)
    }

    /// Items up to `|`, `)` or the end: all of them.
    mutating func sequence() -> LiteralRequirement {
        var parts: [LiteralRequirement] = []
        var run = String.UnicodeScalarView()
        func flush() {
            if run.count >= shortest { parts.append(.literal(String(run))) }
            run = String.UnicodeScalarView()
        }
        while !failed, i < s.count {
            let c = s[i]
            if c == "|" || c == ")" { break }
            if extended {
                if c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1; continue }   // not part of the pattern
                if c == "#" { failed = true; break }   // a comment to the end: give up rather than guess
            }
            if c == "{", quantifier() != nil { continue }   // a count after a count: the item was flushed already
            if RequirementParser.isPlain(c) {
                i += 1
                switch quantifier() {
                case nil: run.append(c)
                case let n? where n >= 1: run.append(c); flush()   // once for certain, then maybe again
                default: flush()   // may be absent: the run ends before it
                }
                continue
            }
            flush()
            if c == "(" {
                parts.append(group())
            } else {
                skipItem()
                _ = quantifier()
            }
        }
        flush()
        return .allOf(parts)
    }

    /// A group from its `(` to past its `)` and quantifier.
    mutating func group() -> LiteralRequirement {
        i += 1
        var inner = LiteralRequirement.always
        if i < s.count, s[i] == "*" { failed = true; return .always }   // (*VERB)
        if i < s.count, s[i] == "?" {
            guard i + 1 < s.count else { failed = true; return .always }
            let k = s[i + 1]
            switch k {
            case ":", ">", "|":
                i += 2
                let saved = extended
                inner = alternation()
                extended = saved
            case "=", "!":
                i += 2
                let saved = extended
                _ = alternation()
                extended = saved   // lookahead: what it sees may lie outside the match; need nothing
            case "<" where i + 2 < s.count && (s[i + 2] == "=" || s[i + 2] == "!"):
                i += 3
                let saved = extended
                _ = alternation()   // lookbehind
                extended = saved
            case "<", "'":
                // A named group: (?<name>…), (?'name'…) — lookbehind, (?<=…) and (?<!…), was matched above —
                fallthrough
            case "P" where i + 2 < s.count && s[i + 2] == "<":
                // … or (?P<name>…).
                let close: Unicode.Scalar = k == "'" ? "'" : ">"
                i += k == "P" ? 3 : 2   // past `?<`, `?'`, `?P<`
                while i < s.count, s[i] != close { i += 1 }
                i += 1
                let saved = extended
                inner = alternation()
                extended = saved
            case "#":
                while i < s.count, s[i] != ")" { i += 1 }   // a comment
            default:
                if (k >= "a" && k <= "z") || (k >= "A" && k <= "Z") || k == "-" || k == "^" {
                    // Options: (?i) sets them for the rest, (?i:…) for a group.
                    var j = i + 1
                    while j < s.count, (s[j] >= "a" && s[j] <= "z") || (s[j] >= "A" && s[j] <= "Z") || s[j] == "-" || s[j] == "^" { j += 1 }
                    guard j < s.count else { failed = true; return .always }
                    let x = extendedAfter(options: s[(i + 1)..<j])
                    if s[j] == ")" {
                        extended = x   // to the end of the enclosing group
                        i = j + 1
                        return .always
                    }
                    guard s[j] == ":" else { failed = true; return .always }
                    i = j + 1
                    let saved = extended
                    extended = x
                    inner = alternation()
                    extended = saved
                } else {
                    // Recursion, subroutine calls, conditionals, callouts: not followed.
                    failed = true
                    return .always
                }
            }
        } else {
            let saved = extended
            inner = alternation()
            extended = saved
        }
        guard !failed, i < s.count, s[i] == ")" else { failed = true; return .always }
        i += 1
        if let n = quantifier(), n == 0 { return .always }
        return inner
    }

    /// Steps over one item that is never part of a literal run: an escape (with whatever it
    /// consumes: hex and octal codes, property names, group references, a control letter), a
    /// class, or a single other character (`.`, `^`, `$`, punctuation).
    mutating func skipItem() {
        let c = s[i]
        if c == "\\" {
            guard i + 1 < s.count else { i += 1; return }
            let e = s[i + 1]
            i += 2
            switch e {
            case "x":
                if i < s.count, s[i] == "{" { skip(past: "}") } else {
                    var k = 0
                    while k < 2, i < s.count, RequirementParser.isHex(s[i]) { i += 1; k += 1 }
                }
            case "o", "N", "p", "P":
                if i < s.count, s[i] == "{" { skip(past: "}") } else if e == "p" || e == "P" { i += 1 }
            case "k", "g":
                if i < s.count, let close: Unicode.Scalar = (s[i] == "<" ? ">" : s[i] == "'" ? "'" : s[i] == "{" ? "}" : nil) {
                    i += 1
                    skip(past: close)
                } else {
                    if i < s.count, s[i] == "-" || s[i] == "+" { i += 1 }
                    while i < s.count, s[i] >= "0" && s[i] <= "9" { i += 1 }
                }
            case "c":
                i += 1
            case "0"..."9":
                while i < s.count, s[i] >= "0" && s[i] <= "9" { i += 1 }
            case "Q":
                while i + 1 < s.count, !(s[i] == "\\" && s[i + 1] == "E") { i += 1 }
                i = min(i + 2, s.count)
            default:
                break
            }
            return
        }
        if c == "[" {
            // One character of a set. `]` first (after an optional `^`) is a member;
            // `[:alpha:]` inside does not end it.
            i += 1
            if i < s.count, s[i] == "^" { i += 1 }
            if i < s.count, s[i] == "]" { i += 1 }
            while i < s.count, s[i] != "]" {
                if s[i] == "\\", i + 1 < s.count, s[i + 1] == "Q" {   // quoted: `]` in it is a member
                    i += 2
                    while i + 1 < s.count, !(s[i] == "\\" && s[i + 1] == "E") { i += 1 }
                    i += 2
                    continue
                }
                if s[i] == "\\" { i += 2; continue }
                if s[i] == "[", i + 1 < s.count, s[i + 1] == ":" || s[i + 1] == "." || s[i + 1] == "=" {
                    let end = s[i + 1]
                    i += 2
                    while i + 1 < s.count, !(s[i] == end && s[i + 1] == "]") { i += 1 }
                    i += 2
                    continue
                }
                i += 1
            }
            i = min(i + 1, s.count)
            return
        }
        i += 1
    }

    /// The quantifier at `i`, if any: its least count (consumed with a lazy or possessive mark).
    /// A brace that might be a count is taken for one that allows zero unless it reads clearly.
    mutating func quantifier() -> Int? {
        skipIgnored()
        guard i < s.count else { return nil }
        var least: Int
        switch s[i] {
        case "?", "*":
            least = 0
            i += 1
        case "+":
            least = 1
            i += 1
        case "{":
            // {n}, {n,}, {n,m}, {,m} (spaces allowed in newer PCRE2); anything else is a literal brace.
            var j = i + 1
            while j < s.count, (s[j] >= "0" && s[j] <= "9") || s[j] == "," || s[j] == " " { j += 1 }
            guard j < s.count, s[j] == "}", j > i + 1 else { return nil }
            var first = String.UnicodeScalarView()
            for c in s[(i + 1)..<j] { if c == "," { break }; if c != " " { first.append(c) } }
            least = Int(String(first)) ?? 0
            i = j + 1
        default:
            return nil
        }
        if i < s.count, s[i] == "?" || s[i] == "+" { i += 1 }
        return least
    }

    /// Extended mode after an option setting such as `i-x` or `^x`.
    func extendedAfter(options o: ArraySlice<Unicode.Scalar>) -> Bool {
        var x = extended, on = true
        for c in o {
            switch c {
            case "^": x = false
            case "-": on = false
            case "x": x = on
            default: break
            }
        }
        return x
    }

    /// Steps over what PCRE2 ignores between an item and its quantifier: `\E`, an empty
    /// `\Q\E`, a `(?#…)` comment, and in extended mode white space.
    mutating func skipIgnored() {
        while i < s.count {
            if extended, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1; continue }
            if s[i] == "\\", i + 1 < s.count, s[i + 1] == "E" { i += 2; continue }
            if s[i] == "\\", i + 3 < s.count, s[i + 1] == "Q", s[i + 2] == "\\", s[i + 3] == "E" { i += 4; continue }
            if s[i] == "(", i + 2 < s.count, s[i + 1] == "?", s[i + 2] == "#" {
                while i < s.count, s[i] != ")" { i += 1 }
                i = min(i + 1, s.count)
                continue
            }
            return
        }
    }

    mutating func skip(past close: Unicode.Scalar) {
        while i < s.count, s[i] != close { i += 1 }
        i = min(i + 1, s.count)
    }

    static func isHex(_ c: Unicode.Scalar) -> Bool { (c >= "0" && c <= "9") || (c >= "a" && c <= "f") || (c >= "A" && c <= "F") }
}
