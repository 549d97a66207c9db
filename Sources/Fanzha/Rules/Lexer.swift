/// Tokens of the rules language.
struct Token: Sendable {
    enum Kind: Equatable, Sendable {
        case identifier(String)
        case integer(Int)
        /// A number with a decimal point (`0.9`), as written: only `model` thresholds use one.
        case decimal(String)
        case string(String)
        case regex(pattern: String, flags: String)
        case punct(String)   // { } ( ) , : = >= > <= < ==
        case end
    }
    var kind: Kind
    var range: SourceRange
    /// Comments on their own lines just before this token.
    var leadingComments: [String] = []
    /// A comment after this token on the same line.
    var trailingComment: String?
}

/// A hand-written lexer: one pass over scalars; it never stops at the first error, so every
/// problem in a file can be reported at once.
struct Lexer {
    let file: Int
    let s: [Unicode.Scalar]
    var i = 0
    var diagnostics: [Diagnostic] = []

    init(file: Int, source: SourceFile) {
        self.file = file
        self.s = source.scalars
    }

    private func range(_ a: Int, _ b: Int) -> SourceRange { SourceRange(file: file, start: a, end: b) }

    mutating func tokenize() -> [Token] {
        var tokens: [Token] = []
        var pendingComments: [String] = []
        while true {
            // Skip whitespace; collect comments.
            while i < s.count {
                let c = s[i]
                if c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\u{FEFF}" { i += 1; continue }
                if c == "#" {
                    let start = i
                    while i < s.count, s[i] != "\n" { i += 1 }
                    var text = String.UnicodeScalarView()
                    text.append(contentsOf: s[start..<i])
                    let comment = String(text).trimmingTrailingSpace()
                    // On the same line as the previous token: a trailing comment.
                    if !tokens.isEmpty, !hasNewline(from: tokens[tokens.count - 1].range.end, to: start),
                       tokens[tokens.count - 1].trailingComment == nil {
                        tokens[tokens.count - 1].trailingComment = comment
                    } else {
                        pendingComments.append(comment)
                    }
                    continue
                }
                break
            }
            guard i < s.count else {
                var t = Token(kind: .end, range: range(s.count, s.count))
                t.leadingComments = pendingComments
                tokens.append(t)
                return tokens
            }
            if var t = nextToken() {
                t.leadingComments = pendingComments
                pendingComments = []
                tokens.append(t)
            }
        }
    }

    private func hasNewline(from a: Int, to b: Int) -> Bool {
        var k = a
        while k < b { if s[k] == "\n" { return true }; k += 1 }
        return false
    }

    private static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }
    private static func isIdentContinue(_ c: Unicode.Scalar) -> Bool {
        isIdentStart(c) || (c >= "0" && c <= "9") || c == "."
    }
    private static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    private mutating func nextToken() -> Token? {
        let start = i
        let c = s[i]
        if Lexer.isIdentStart(c) {
            // A hyphen between letters belongs to the name, so `allow no-atom` names the warning.
            while i < s.count, Lexer.isIdentContinue(s[i]) || (s[i] == "-" && i + 1 < s.count && Lexer.isIdentStart(s[i + 1])) { i += 1 }
            // A trailing dot belongs to no identifier.
            while s[i - 1] == "." { i -= 1 }
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[start..<i])
            return Token(kind: .identifier(String(v)), range: range(start, i))
        }
        if Lexer.isDigit(c) || (c == "-" && i + 1 < s.count && Lexer.isDigit(s[i + 1])) {
            i += 1
            while i < s.count, Lexer.isDigit(s[i]) { i += 1 }
            if i + 1 < s.count, s[i] == ".", Lexer.isDigit(s[i + 1]) {
                i += 1
                while i < s.count, Lexer.isDigit(s[i]) { i += 1 }
                var d = String.UnicodeScalarView()
                d.append(contentsOf: s[start..<i])
                return Token(kind: .decimal(String(d)), range: range(start, i))
            }
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[start..<i])
            guard let n = Int(String(v)), abs(n) <= 1_000_000_000 else {
                diagnostics.append(Diagnostic(.syntax, "number too large", at: range(start, i)))
                return Token(kind: .integer(0), range: range(start, i))
            }
            return Token(kind: .integer(n), range: range(start, i))
        }
        switch c {
        case "\"": return lexString()
        case "~" where i + 1 < s.count && s[i + 1] == "\"":
            // `~"app"`: a word that also matches inside longer Latin words (RULES.md).
            i += 1
            let t = lexString()
            guard case .string(let v) = t.kind else { return t }
            return Token(kind: .string(Literal.substringMarker + v), range: range(start, t.range.end))
        case "/": return lexRegex()
        case "{", "}", "(", ")", ",", ":":
            i += 1
            return Token(kind: .punct(String(c)), range: range(start, i))
        case "=", ">", "<":
            i += 1
            if i < s.count, s[i] == "=" { i += 1 }
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[start..<i])
            return Token(kind: .punct(String(v)), range: range(start, i))
        case "“", "「":
            // A word in typographic quotes: one error for the whole word, and parsing goes on with it.
            let close: Unicode.Scalar = c == "“" ? "”" : "」"
            var j = i + 1
            while j < s.count, s[j] != close, s[j] != "\n", s[j] != "\"" { j += 1 }
            guard j < s.count, s[j] == close else { return unexpected(c, start) }
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[(i + 1)..<j])
            i = j + 1
            diagnostics.append(Diagnostic(.unexpectedCharacter, "strings use straight double quotes, not `\(c)…\(close)`",
                                          at: range(start, i), help: "write \"\(String(v))\""))
            return Token(kind: .string(String(v)), range: range(start, i))
        case "\u{FFFD}":
            // Where the file was not UTF-8 the loader already reported it; skip the damage.
            i += 1
            return nil
        default:
            return unexpected(c, start)
        }
    }

    private mutating func unexpected(_ c: Unicode.Scalar, _ start: Int) -> Token? {
        i = start + 1
        let shown = c.value < 0x20 || c.value == 0x7F ? "U+\(String(c.value, radix: 16, uppercase: true))" : "`\(c)`"
        var help: String?
        if c == "“" || c == "”" || c == "「" || c == "」" { help = "strings use straight double quotes: \"…\"" }
        if c == "，" { help = "separate items with an ASCII comma `,`" }
        if c == "（" || c == "）" { help = "use ASCII parentheses ( )" }
        diagnostics.append(Diagnostic(.unexpectedCharacter, "unexpected character \(shown)", at: range(start, i), help: help))
        return nil
    }

    private mutating func lexString() -> Token {
        let start = i
        i += 1
        var value = String.UnicodeScalarView()
        while i < s.count {
            let c = s[i]
            if c == "\"" {
                i += 1
                return Token(kind: .string(String(value)), range: range(start, i))
            }
            if c == "\n" { break }
            if c == "\\" {
                let escStart = i
                i += 1
                guard i < s.count else { break }
                let e = s[i]
                i += 1
                switch e {
                case "\"": value.append("\"")
                case "\\": value.append("\\")
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "u":
                    // \u{XXXX}
                    if i < s.count, s[i] == "{" {
                        var j = i + 1
                        var hex = ""
                        while j < s.count, s[j] != "}", hex.count < 8 { hex.unicodeScalars.append(s[j]); j += 1 }
                        if j < s.count, s[j] == "}", let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) {
                            value.append(u)
                            i = j + 1
                            continue
                        }
                    }
                    diagnostics.append(Diagnostic(.invalidEscape, "invalid unicode escape", at: range(escStart, i),
                                                  help: "write it as \\u{200B}"))
                default:
                    diagnostics.append(Diagnostic(.invalidEscape, "unknown escape `\\\(e)`", at: range(escStart, i),
                                                  help: "the escapes are \\\" \\\\ \\n \\t \\u{…}"))
                }
                continue
            }
            value.append(c)
            i += 1
        }
        diagnostics.append(Diagnostic(.unterminatedString, "unterminated string", at: range(start, start + 1),
                                      help: "add a closing `\"` before the end of the line"))
        return Token(kind: .string(String(value)), range: range(start, i))
    }

    private mutating func lexRegex() -> Token {
        let start = i
        i += 1
        var pattern = String.UnicodeScalarView()
        var closed = false
        while i < s.count, s[i] != "\n" {
            let c = s[i]
            if c == "\\", i + 1 < s.count, s[i + 1] == "/" {
                pattern.append("/"); i += 2; continue
            }
            if c == "\\", i + 1 < s.count, s[i + 1] != "\n" {
                pattern.append(c); pattern.append(s[i + 1]); i += 2; continue
            }
            if c == "/" { closed = true; i += 1; break }
            pattern.append(c)
            i += 1
        }
        if !closed {
            diagnostics.append(Diagnostic(.unterminatedRegex, "unterminated regex", at: range(start, start + 1),
                                          help: "close it with `/` on the same line; write a slash inside it as `\\/`"))
        }
        var flags = ""
        while closed, i < s.count, Lexer.isIdentStart(s[i]) { flags.unicodeScalars.append(s[i]); i += 1 }
        return Token(kind: .regex(pattern: String(pattern), flags: flags), range: range(start, i))
    }
}

extension String {
    func trimmingTrailingSpace() -> String {
        var v = unicodeScalars
        while let last = v.last, last == " " || last == "\t" || last == "\r" { v.removeLast() }
        return String(v)
    }
}

/// Literal words: Latin-letter words match whole words, `~"…"` asks for a substring.
package enum Literal {
    /// The lexer marks a `~"…"` literal's value with this prefix (a control character no string
    /// can hold: the lexer rejects raw control characters and `\u{1}` is not a useful escape).
    static let substringMarker = "\u{1}"

    /// The literal's words and whether it asked to match as a substring (`~"app"`).
    static func split(_ value: String) -> (text: String, substring: Bool) {
        value.hasPrefix(substringMarker) ? (String(value.dropFirst(substringMarker.count)), true) : (value, false)
    }

    /// As written in a rule file: `"app"` or `~"app"`.
    static func written(_ value: String) -> String {
        let (text, substring) = split(value)
        return (substring ? "~" : "") + "\"" + text + "\""
    }

    static func isLatinLetter(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) }

    /// For a normalised word: 1 when it starts with a Latin letter, 2 when it ends with one (both: 3).
    static func latinEdges(_ normalised: String) -> UInt8 {
        let u = Array(normalised.utf8)
        guard let f = u.first, let l = u.last else { return 0 }
        return (isLatinLetter(f) ? 1 : 0) | (isLatinLetter(l) ? 2 : 0)
    }
}
