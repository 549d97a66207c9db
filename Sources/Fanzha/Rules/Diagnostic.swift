import Foundation

/// A problem found in rule files, compiler style: a stable id, a location, and maybe a fix.
public struct Diagnostic: Sendable, Hashable {
    public enum Severity: String, Sendable { case error, warning }
    public let id: DiagnosticID
    public var severity: Severity { id.severity }
    public let message: String
    /// Where: a file of the compilation's `sources` and scalar offsets into it.
    public let range: SourceRange
    public let help: String?

    package init(_ id: DiagnosticID, _ message: String, at range: SourceRange, help: String? = nil) {
        self.id = id; self.message = message; self.range = range; self.help = help
    }
}

/// Every diagnostic Fanzha can emit, one case each: its id (as `lint` prints it and `allow`
/// names a warning), its severity and what it means. docs/RULES.md lists the same table (a test
/// checks that it does).
public enum DiagnosticID: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The id as `lint` prints it (`no-atom`).
    public var description: String { rawValue }

    case invalidUTF8 = "invalid-utf8"
    case unexpectedCharacter = "unexpected-character"
    case unterminatedString = "unterminated-string"
    case unterminatedRegex = "unterminated-regex"
    case invalidEscape = "invalid-escape"
    case syntax = "syntax"
    case tooDeep = "too-deep"
    case duplicateId = "duplicate-id"
    case duplicateField = "duplicate-field"
    case missingField = "missing-field"
    case unknownName = "unknown-name"
    case unknownCategory = "unknown-category"
    case unknownField = "unknown-field"
    case cycle = "cycle"
    case ofTooLarge = "of-too-large"
    case invalidRegex = "invalid-regex"
    case invalidLevels = "invalid-levels"
    case emptyLiteral = "empty-literal"
    case alwaysMatches = "always-matches"
    case privateWithScore = "private-with-score"
    case privateWithCategory = "private-with-category"
    case badExample = "bad-example"
    case unknownFrameKind = "unknown-frame-kind"
    case invalidWhole = "invalid-whole"
    case noAtom = "no-atom"
    case shortLiteral = "short-literal"
    case needlessSubstring = "needless-substring"
    case noExamples = "no-examples"
    case unusedTerms = "unused-terms"
    case duplicateTerm = "duplicate-term"
    case unknownAllow = "unknown-allow"

    public var severity: Diagnostic.Severity {
        switch self {
        case .noAtom, .shortLiteral, .needlessSubstring, .noExamples, .unusedTerms, .duplicateTerm, .unknownAllow: return .warning
        default: return .error
        }
    }

    /// What it means, in one line.
    public var meaning: String {
        switch self {
        case .invalidUTF8: return "the file is not valid UTF-8"
        case .unexpectedCharacter: return "a character that cannot start any token"
        case .unterminatedString: return "a string without its closing quote"
        case .unterminatedRegex: return "a regex without its closing slash"
        case .invalidEscape: return "an unknown escape in a string"
        case .syntax: return "the tokens do not form a declaration or expression"
        case .tooDeep: return "an expression nested too deeply (about 200 parentheses), or a chain of more than \(Checker.maxReferenceDepth) rule references"
        case .duplicateId: return "two declarations with the same name"
        case .duplicateField: return "a field given twice in one block"
        case .missingField: return "a required field (title, match, advice, script) is missing"
        case .unknownName: return "a name that is neither a term list nor a rule"
        case .unknownCategory: return "a rule names a category that is not declared"
        case .unknownField: return "a field that this block does not have"
        case .cycle: return "rules that refer to each other in a circle"
        case .ofTooLarge: return "`N of (…)` with N larger than its list or below 1"
        case .invalidRegex: return "PCRE2 cannot compile the regex"
        case .invalidLevels: return "level thresholds that are not 0 < low < medium < high, or given twice"
        case .emptyLiteral: return "a literal that normalisation leaves empty"
        case .alwaysMatches: return "a pattern that matches the empty string, so it matches every text"
        case .privateWithScore: return "a private rule given a score"
        case .privateWithCategory: return "a private rule given a category"
        case .badExample: return "an embedded call example that is not `speaker: text` lines"
        case .unknownFrameKind: return "a frame `kind` or a rule's `in` that names no frame kind (report, warning, quote, teaching)"
        case .invalidWhole: return "a frame's `whole` share that is not a percentage from 1 to 100"
        case .noAtom: return "a rule with no word for the prefilter (from its words, term lists or the literals its regexes must match): it runs on every text"
        case .shortLiteral: return "a one-character literal: it matches too much to be evidence"
        case .needlessSubstring: return "`~\"…\"` on a word that neither begins nor ends with a Latin letter, where it changes nothing"
        case .noExamples: return "a rule or frame without a hit or a miss example"
        case .unusedTerms: return "a term list no rule uses"
        case .duplicateTerm: return "the same word twice in one list (after normalisation)"
        case .unknownAllow: return "`allow` names an id that is not a warning"
        }
    }
}

extension Diagnostic {
    /// `file:line:col: severity[id]: message`, the source line, a caret under the range, and help.
    public func rendered(sources: [SourceFile], colour: Bool = false) -> String {
        guard range.file < sources.count else { return "\(severity.rawValue)[\(id.rawValue)]: \(message)" }
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
        var out = "\(bold)\(src.path):\(line):\(col): \(sevColour)\(severity.rawValue)[\(id.rawValue)]\(reset)\(bold): \(message)\(reset)\n"
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
        o.add("severity", severity.rawValue); o.add("id", id.rawValue); o.add("message", message)
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
