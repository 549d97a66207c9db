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
            pattern = try Pattern(source, options: options, validSubjects: true)
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
    /// `shortest: 1` keeps runs of one character too, and also reads as single-character
    /// literals punctuation outside classes (`：`, `（`, `\.`) and a short class of characters that
    /// match only themselves (`[:：]`, `[哥姐]`: any of them) — the engine's `LiteralGate`; the
    /// prefilter's dictionary holds words of two or more, and never punctuation.
    static func requirement(_ pattern: String, extended: Bool = false, shortest: Int = 2) -> LiteralRequirement {
        var parser = RequirementParser(cur: RegexCursor(pattern, extended: extended), shortest: shortest)
        let r = parser.alternation()
        // Something not understood, or an unbalanced `)`: need nothing.
        return parser.failed || !parser.cur.atEnd ? .always : r
    }

    /// Whether a caseless regex matches `c` only as `c` itself: Han characters, digits, and
    /// punctuation that has no case (ASCII, general punctuation such as “ ” — …, CJK
    /// punctuation, full-width forms other than letters). A letter also matches its other case
    /// and characters that fold to it (k and the Kelvin sign), so a literal with one is never
    /// certain to be in a matching text's bytes.
    static func matchesOnlyItself(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x30...0x39: return true
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        case 0x2010...0x2027, 0x3000...0x303F: return true
        case 0xFF01...0xFF0F, 0xFF1A...0xFF20, 0xFF3B...0xFF40, 0xFF5B...0xFF65: return true
        default: return false
        }
    }
}

/// A recursive-descent reading of PCRE2 syntax, just deep enough to find required literals.
private struct RequirementParser {
    var cur: RegexCursor
    /// The shortest run of plain characters kept as a literal.
    let shortest: Int
    var failed = false

    static func isPlain(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x4E00 && c.value <= 0x9FFF) || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
    }

    /// Branches up to the next `)` (not consumed) or the end: any of them.
    mutating func alternation() -> LiteralRequirement {
        var branches = [sequence()]
        while !failed, cur.peek() == "|" {
            cur.i += 1
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
        while !failed, cur.i < cur.s.count {
            let c = cur.s[cur.i]
            if c == "|" || c == ")" { break }
            if cur.isIgnoredSpace(c) { cur.i += 1; continue }   // not part of the pattern
            if cur.extended, c == "#" { failed = true; break }   // a comment to the end: give up rather than guess
            if c == "{", quantifier() != nil { continue }   // a count after a count: the item was flushed already
            if RequirementParser.isPlain(c) {
                cur.i += 1
                switch quantifier() {
                case nil: run.append(c)
                case let n? where n >= 1: run.append(c); flush()   // once for certain, then maybe again
                default: flush()   // may be absent: the run ends before it
                }
                continue
            }
            flush()
            if shortest == 1, let members = singleCharacters() {
                // A lone punctuation mark, or a short class: one of these characters, unless
                // the item may be absent. Not part of a run: `表[哥姐]` needs 表 and one of 哥, 姐.
                if (quantifier() ?? 1) >= 1 { parts.append(.anyOf(members.map { .literal(String($0)) })) }
                continue
            }
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

    /// The characters of the item here when it is one of a few characters that each match only
    /// themselves (`RegexAtoms.matchesOnlyItself`), consumed: a punctuation mark that is not
    /// syntax or is escaped (`\.`), or a class of at most `mostClassMembers` such characters with
    /// no range, negation, escape or nested class. Nil, consuming nothing, for anything else.
    mutating func singleCharacters() -> [Unicode.Scalar]? {
        let c = cur.s[cur.i]
        if c == "\\" {
            // PCRE2 reads a backslash before a character that is not a letter or a digit as that
            // character itself: `\.` in a domain (`[a-z0-9-]+\.(?:top|cc)`) needs a full stop.
            guard cur.i + 1 < cur.s.count else { return nil }
            let e = cur.s[cur.i + 1]
            guard e.isASCII, RegexAtoms.matchesOnlyItself(e), !(e >= "0" && e <= "9") else { return nil }
            cur.i += 2
            return [e]
        }
        if c != "[" {
            guard RegexAtoms.matchesOnlyItself(c), !"\\^$.[]|()?*+{}".unicodeScalars.contains(c) else { return nil }
            cur.i += 1
            return [c]
        }
        var j = cur.i + 1, members: [Unicode.Scalar] = []
        while j < cur.s.count, cur.s[j] != "]" || members.isEmpty {
            let m = cur.s[j]
            guard RegexAtoms.matchesOnlyItself(m), !"\\^-[]".unicodeScalars.contains(m), !cur.isIgnoredSpace(m),
                  members.count < RequirementParser.mostClassMembers else { return nil }
            if !members.contains(m) { members.append(m) }
            j += 1
        }
        guard j < cur.s.count else { return nil }
        cur.i = j + 1
        return members
    }

    /// A longer class (100 surnames) would make the gate test more than it saves.
    static let mostClassMembers = 8

    /// A group from its `(` to past its `)` and quantifier.
    mutating func group() -> LiteralRequirement {
        cur.i += 1
        var inner = LiteralRequirement.always
        if cur.peek() == "*" { failed = true; return .always }   // (*VERB)
        if cur.peek() == "?" {
            guard cur.i + 1 < cur.s.count else { failed = true; return .always }
            let k = cur.s[cur.i + 1]
            switch k {
            case ":", ">", "|":
                cur.i += 2
                let saved = cur.extended
                inner = alternation()
                cur.extended = saved
            case "=", "!":
                cur.i += 2
                let saved = cur.extended
                _ = alternation()
                cur.extended = saved   // lookahead: what it sees may lie outside the match; need nothing
            case "<" where cur.i + 2 < cur.s.count && (cur.s[cur.i + 2] == "=" || cur.s[cur.i + 2] == "!"):
                cur.i += 3
                let saved = cur.extended
                _ = alternation()   // lookbehind
                cur.extended = saved
            case "<", "'":
                // A named group: (?<name>…), (?'name'…) — lookbehind, (?<=…) and (?<!…), was matched above —
                fallthrough
            case "P" where cur.i + 2 < cur.s.count && cur.s[cur.i + 2] == "<":
                // … or (?P<name>…).
                let close: Unicode.Scalar = k == "'" ? "'" : ">"
                cur.i += k == "P" ? 3 : 2   // past `?<`, `?'`, `?P<`
                while cur.i < cur.s.count, cur.s[cur.i] != close { cur.i += 1 }
                cur.i += 1
                let saved = cur.extended
                inner = alternation()
                cur.extended = saved
            case "#":
                while cur.i < cur.s.count, cur.s[cur.i] != ")" { cur.i += 1 }   // a comment (its `)` is read below)
            default:
                if (k >= "a" && k <= "z") || (k >= "A" && k <= "Z") || k == "-" || k == "^" {
                    // Options: (?i) sets them for the rest, (?i:…) for a group.
                    var j = cur.i + 1
                    while j < cur.s.count, (cur.s[j] >= "a" && cur.s[j] <= "z") || (cur.s[j] >= "A" && cur.s[j] <= "Z") || cur.s[j] == "-" || cur.s[j] == "^" { j += 1 }
                    guard j < cur.s.count else { failed = true; return .always }
                    let x = cur.extendedAfter(options: cur.s[(cur.i + 1)..<j])
                    if cur.s[j] == ")" {
                        cur.extended = x   // to the end of the enclosing group
                        cur.i = j + 1
                        return .always
                    }
                    guard cur.s[j] == ":" else { failed = true; return .always }
                    cur.i = j + 1
                    let saved = cur.extended
                    cur.extended = x
                    inner = alternation()
                    cur.extended = saved
                } else {
                    // Recursion, subroutine calls, conditionals, callouts: not followed.
                    failed = true
                    return .always
                }
            }
        } else {
            let saved = cur.extended
            inner = alternation()
            cur.extended = saved
        }
        guard !failed, cur.peek() == ")" else { failed = true; return .always }
        cur.i += 1
        if let n = quantifier(), n == 0 { return .always }
        return inner
    }

    /// Steps over one item that is never part of a literal run: an escape (with whatever it
    /// consumes: hex and octal codes, property names, group references, a control letter), a
    /// class, or a single other character (`.`, `^`, `$`, punctuation).
    mutating func skipItem() {
        let c = cur.s[cur.i]
        if c == "\\" {
            guard cur.i + 1 < cur.s.count else { cur.i += 1; return }
            let e = cur.s[cur.i + 1]
            cur.i += 2
            switch e {
            case "x":
                cur.skipHexCode()
            case "o", "N", "p", "P":
                if cur.peek() == "{" { cur.skip(past: "}") } else if e == "p" || e == "P" { cur.i += 1 }
            case "k", "g":
                if cur.i < cur.s.count, let close: Unicode.Scalar = (cur.s[cur.i] == "<" ? ">" : cur.s[cur.i] == "'" ? "'" : cur.s[cur.i] == "{" ? "}" : nil) {
                    cur.i += 1
                    cur.skip(past: close)
                } else {
                    if cur.i < cur.s.count, cur.s[cur.i] == "-" || cur.s[cur.i] == "+" { cur.i += 1 }
                    while cur.i < cur.s.count, cur.s[cur.i] >= "0" && cur.s[cur.i] <= "9" { cur.i += 1 }
                }
            case "c":
                cur.i += 1
            case "0"..."9":
                while cur.i < cur.s.count, cur.s[cur.i] >= "0" && cur.s[cur.i] <= "9" { cur.i += 1 }
            case "Q":
                while cur.i + 1 < cur.s.count, !(cur.s[cur.i] == "\\" && cur.s[cur.i + 1] == "E") { cur.i += 1 }
                cur.i = min(cur.i + 2, cur.s.count)
            default:
                break
            }
            return
        }
        if c == "[" {
            _ = cur.skipClass()   // PCRE2 compiled the pattern: the class is closed
            return
        }
        cur.i += 1
    }

    /// The quantifier here, if any: its least count (consumed with a lazy or possessive mark).
    /// A brace that might be a count is taken for one that allows zero unless it reads clearly.
    mutating func quantifier() -> Int? {
        cur.skipIgnored()
        guard cur.i < cur.s.count else { return nil }
        var least: Int
        switch cur.s[cur.i] {
        case "?", "*":
            least = 0
            cur.i += 1
        case "+":
            least = 1
            cur.i += 1
        case "{":
            // {n}, {n,}, {n,m}, {,m} (spaces allowed in newer PCRE2); anything else is a literal brace.
            var j = cur.i + 1
            while j < cur.s.count, (cur.s[j] >= "0" && cur.s[j] <= "9") || cur.s[j] == "," || cur.s[j] == " " { j += 1 }
            guard j < cur.s.count, cur.s[j] == "}", j > cur.i + 1 else { return nil }
            var first = String.UnicodeScalarView()
            for c in cur.s[(cur.i + 1)..<j] { if c == "," { break }; if c != " " { first.append(c) } }
            least = Int(String(first)) ?? 0
            cur.i = j + 1
        default:
            return nil
        }
        if cur.i < cur.s.count, cur.s[cur.i] == "?" || cur.s[cur.i] == "+" { cur.i += 1 }
        return least
    }
}
