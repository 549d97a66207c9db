// The reading position in a regex's PCRE2 syntax that the readers of that syntax share: the
// prefilter's literals (`RegexAtoms.requirement`) and the engine's start anchors
// (`StartAnchors.of`). Each is a recursive descent of its own over one cursor; what steps over
// syntax neither reader looks into (what PCRE2 ignores, classes, option letters, hex codes)
// lives here once.

struct RegexCursor {
    let s: [Unicode.Scalar]
    var i = 0
    /// Extended mode here: the x flag, then `(?x)`/`(?-x)`/`(?^)` as PCRE2 applies them (to the
    /// end of the enclosing group; `(?x:…)` to that group). The readers save and restore it
    /// around groups.
    var extended: Bool

    init(_ pattern: String, extended: Bool) {
        s = Array(pattern.unicodeScalars)
        self.extended = extended
    }

    var atEnd: Bool { i >= s.count }

    /// The scalar `k` places on, nil past the end.
    func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < s.count ? s[i + k] : nil }

    /// White space that extended mode leaves out of the pattern.
    func isIgnoredSpace(_ c: Unicode.Scalar) -> Bool {
        extended && (c == " " || c == "\t" || c == "\n" || c == "\r")
    }

    /// Steps over what PCRE2 ignores between an item and its quantifier: `\E`, an empty
    /// `\Q\E`, a `(?#…)` comment, and in extended mode white space.
    mutating func skipIgnored() {
        while i < s.count {
            if isIgnoredSpace(s[i]) { i += 1; continue }
            if s[i] == "\\", i + 1 < s.count, s[i + 1] == "E" { i += 2; continue }
            if s[i] == "\\", i + 3 < s.count, s[i + 1] == "Q", s[i + 2] == "\\", s[i + 3] == "E" { i += 4; continue }
            if s[i] == "(", i + 2 < s.count, s[i + 1] == "?", s[i + 2] == "#" {
                skip(past: ")")
                continue
            }
            return
        }
    }

    /// Steps past the next `close` (or to the end).
    mutating func skip(past close: Unicode.Scalar) {
        while i < s.count, s[i] != close { i += 1 }
        i = min(i + 1, s.count)
    }

    /// Steps over the code after `\x`: `{…}`, or up to two hex digits.
    mutating func skipHexCode() {
        if i < s.count, s[i] == "{" { skip(past: "}"); return }
        var k = 0
        while k < 2, i < s.count, RegexCursor.isHex(s[i]) { i += 1; k += 1 }
    }

    static func isHex(_ c: Unicode.Scalar) -> Bool { (c >= "0" && c <= "9") || (c >= "a" && c <= "f") || (c >= "A" && c <= "F") }

    /// Steps over a class, `[` at `i`, to past its `]`: one character of a set. `]` first (after
    /// an optional `^`) is a member, and so is one quoted in `\Q…\E`; `[:alpha:]` inside does
    /// not end it. False when no `]` ends it.
    mutating func skipClass() -> Bool {
        i += 1
        if i < s.count, s[i] == "^" { i += 1 }
        if i < s.count, s[i] == "]" { i += 1 }
        while i < s.count, s[i] != "]" {
            if s[i] == "\\", i + 1 < s.count, s[i + 1] == "Q" {
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
        guard i < s.count else { i = s.count; return false }
        i += 1
        return true
    }

    /// Extended mode after option letters such as `i-x` or `^x` (of `(?i-x)`, `(?^x:…)`).
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
}
