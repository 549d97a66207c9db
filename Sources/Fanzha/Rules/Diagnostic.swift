import Foundation

/// A problem found in rule files, compiler style: a stable id, a location, and maybe a fix.
public struct Diagnostic: Sendable, Hashable {
    public enum Severity: String, Sendable { case error, warning }
    public let id: String
    public let severity: Severity
    public let message: String
    public let range: SourceRange
    public let help: String?

    public init(_ severity: Severity, _ id: String, _ message: String, at range: SourceRange, help: String? = nil) {
        self.id = id; self.severity = severity; self.message = message; self.range = range; self.help = help
    }
}

/// Every diagnostic id Fanzha can emit, with what it means; docs/RULES.md lists the same table.
public enum DiagnosticID {
    public static let all: [(id: String, severity: Diagnostic.Severity, meaning: String)] = [
        ("invalid-utf8", .error, "the file is not valid UTF-8"),
        ("unexpected-character", .error, "a character that cannot start any token"),
        ("unterminated-string", .error, "a string without its closing quote"),
        ("unterminated-regex", .error, "a regex without its closing slash"),
        ("invalid-escape", .error, "an unknown escape in a string"),
        ("syntax", .error, "the tokens do not form a declaration or expression"),
        ("too-deep", .error, "an expression nested too deeply (about 200 parentheses), or a chain of more than \(Checker.maxReferenceDepth) rule references"),
        ("duplicate-id", .error, "two declarations with the same name"),
        ("duplicate-field", .error, "a field given twice in one block"),
        ("missing-field", .error, "a required field (title, match, advice, script) is missing"),
        ("unknown-name", .error, "a name that is neither a term list nor a rule"),
        ("unknown-category", .error, "a rule names a category that is not declared"),
        ("unknown-field", .error, "a field that this block does not have"),
        ("cycle", .error, "rules that refer to each other in a circle"),
        ("of-too-large", .error, "`N of (…)` with N larger than its list or below 1"),
        ("invalid-regex", .error, "PCRE2 cannot compile the regex"),
        ("invalid-levels", .error, "level thresholds that are not low < medium < high, or given twice"),
        ("empty-literal", .error, "a literal that normalisation leaves empty"),
        ("always-matches", .error, "a pattern that matches the empty string, so it matches every text"),
        ("private-with-score", .error, "a private rule given a score or category"),
        ("bad-example", .error, "an embedded call example that is not `speaker: text` lines"),
        ("unknown-frame-kind", .error, "a frame `kind` or a rule's `in` that names no frame kind (report, warning, quote, teaching)"),
        ("invalid-whole", .error, "a frame's `whole` share that is not a percentage from 1 to 100"),
        ("no-atom", .warning, "a rule with no literal word for the prefilter: it runs on every text"),
        ("short-literal", .warning, "a one-character literal: it matches too much to be evidence"),
        ("needless-substring", .warning, "`~\"…\"` on a word that neither begins nor ends with a Latin letter, where it changes nothing"),
        ("no-examples", .warning, "a rule or frame without a hit or a miss example"),
        ("unused-terms", .warning, "a term list no rule uses"),
        ("duplicate-term", .warning, "the same word twice in one list (after normalisation)"),
        ("unknown-allow", .warning, "`allow` names an id that is not a warning"),
    ]
}

extension Diagnostic {
    /// `file:line:col: severity[id]: message`, the source line, a caret under the range, and help.
    public func rendered(sources: [SourceFile], colour: Bool = false) -> String {
        guard range.file < sources.count else { return "\(severity.rawValue)[\(id)]: \(message)" }
        let src = sources[range.file]
        let (line, col) = src.lineColumn(range.start)
        let text = src.lineText(line)
        let lineLength = text.unicodeScalars.count
        let width = max(1, min(range.end, range.start + lineLength - col + 1) - range.start)
        let gutter = String(line)
        let pad = String(repeating: " ", count: gutter.count)
        let (bold, red, yellow, blue, reset) = colour ? ("\u{1B}[1m", "\u{1B}[31m", "\u{1B}[33m", "\u{1B}[34m", "\u{1B}[0m") : ("", "", "", "", "")
        let sevColour = severity == .error ? red : yellow
        // Wide characters take two terminal columns: the caret line follows the display width.
        let prefix = String(String.UnicodeScalarView(text.unicodeScalars.prefix(col - 1)))
        let underlined = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(col - 1).prefix(width)))
        // A tab before the caret stays a tab, so the terminal moves the caret line as it moved the text.
        let indent = prefix.unicodeScalars.map { $0 == "\t" ? "\t" : String(repeating: " ", count: displayWidth(String($0))) }.joined()
        let carets = "^" + String(repeating: "~", count: max(0, displayWidth(underlined) - 1))
        var out = "\(bold)\(src.path):\(line):\(col): \(sevColour)\(severity.rawValue)[\(id)]\(reset)\(bold): \(message)\(reset)\n"
        out += "\(blue)\(pad) |\(reset)\n"
        out += "\(blue)\(gutter) |\(reset) \(text)\n"
        out += "\(blue)\(pad) |\(reset) \(indent)\(sevColour)\(carets)\(reset)\n"
        if let help { out += "\(blue)\(pad) =\(reset) help: \(help)\n" }
        return out
    }

    /// One JSON object, for editors and CI.
    public func json(sources: [SourceFile]) -> String {
        let src = range.file < sources.count ? sources[range.file] : nil
        let (line, col) = src?.lineColumn(range.start) ?? (0, 0)
        let (endLine, endCol) = src?.lineColumn(range.end) ?? (0, 0)
        var o = JSONObjectWriter()
        o.add("file", src?.path ?? "")
        o.add("line", line); o.add("column", col)
        o.add("end_line", endLine); o.add("end_column", endCol)
        o.add("severity", severity.rawValue); o.add("id", id); o.add("message", message)
        if let help { o.add("help", help) }
        return o.finish()
    }
}

/// Terminal columns a string takes: East Asian wide characters take two.
func displayWidth(_ s: String) -> Int {
    var w = 0
    for u in s.unicodeScalars {
        switch u.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x20000...0x3FFFD: w += 2
        case 0x200B...0x200F, 0x2060...0x2064, 0xFEFF, 0x0300...0x036F: break   // zero-width and combining
        default: w += 1
        }
    }
    return w
}

/// Edit distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count), cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

/// The closest candidate, if it is close enough to be a plausible typo.
func suggestion(for name: String, among candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(name, c)
        if d <= max(2, name.count / 3), best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
}
