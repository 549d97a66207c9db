import Foundation

/// `fanzha fmt`: one canonical layout for rule files. Idempotent, and every comment is kept.
public enum RuleFormatter {
    /// A rule file's bytes in the canonical layout; nil with the errors when it does not parse or
    /// is not UTF-8 (decoding would turn the damage into U+FFFD, and writing would keep it).
    public static func format(path: String, data: Data) -> (String?, [Diagnostic], SourceFile) {
        let text = String(decoding: data, as: UTF8.self)
        if let d = RuleCompiler.invalidUTF8(data, file: 0) { return (nil, [d], SourceFile(path: path, text: text)) }
        return format(path: path, text: text)
    }

    static func format(path: String, text: String) -> (String?, [Diagnostic], SourceFile) {
        let source = SourceFile(path: path, text: text)
        var parser = Parser(file: 0, source: source)
        let file = parser.parseFile()
        let errors = parser.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty else { return (nil, errors, source) }
        var out: [String] = []
        for (i, d) in file.declarations.enumerated() {
            let block = declaration(d)
            // A blank line between declarations, except inside a run of uncommented term lists.
            if i > 0 {
                var bothTerms = false
                if case .terms = d, case .terms = file.declarations[i - 1] { bothTerms = true }
                if !(bothTerms && leadingComments(d).isEmpty) { out.append("") }
            }
            out.append(block)
        }
        if !file.trailingComments.isEmpty {
            if !out.isEmpty { out.append("") }
            out += file.trailingComments
        }
        return (out.joined(separator: "\n") + "\n", [], source)
    }

    static func leadingComments(_ d: Declaration) -> [String] {
        switch d {
        case .levels(let l): return l.comments.leading
        case .category(let c): return c.comments.leading
        case .terms(let t): return t.comments.leading
        case .rule(let r): return r.comments.leading
        }
    }

    static func quote(_ value: String) -> String {
        let (s, substring) = Literal.split(value)
        var out = substring ? "~\"" : "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || (0x200B...0x200F).contains(u.value) || u.value == 0xFEFF || (0x2060...0x2064).contains(u.value):
                out += "\\u{\(String(u.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func trailing(_ c: Comments) -> String { c.trailing.map { "  " + $0 } ?? "" }

    static func declaration(_ d: Declaration) -> String {
        var lines: [String] = []
        switch d {
        case .levels(let l):
            lines += l.comments.leading
            lines.append("levels low \(l.low), medium \(l.medium), high \(l.high)" + trailing(l.comments))
        case .terms(let t):
            lines += t.comments.leading
            let items = t.terms.map { quote($0.value) }
            let one = "terms \(t.name.value) = " + items.joined(separator: ", ")
            if one.count <= 100 {
                lines.append(one + trailing(t.comments))
            } else {
                lines.append("terms \(t.name.value) =")
                var line = "  "
                for (i, item) in items.enumerated() {
                    let piece = item + (i < items.count - 1 ? "," : "")
                    if line.count > 2 && line.count + piece.count + 1 > 80 { lines.append(line.trimmingTrailingSpace()); line = "  " }
                    line += piece + " "
                }
                lines.append(line.trimmingTrailingSpace() + trailing(t.comments))
            }
        case .category(let c):
            lines += c.comments.leading
            lines.append("category \(c.id.value) {" + trailing(c.comments))
            func field<T>(_ name: String, _ f: Field<T>?, _ show: (T) -> String) {
                guard let f else { return }
                lines += f.comments.leading.map { "  " + $0 }
                lines.append("  \(name) \(show(f.value))" + trailing(f.comments))
            }
            field("title", c.title, quote)
            field("description", c.description, quote)
            field("advice", c.advice, quote)
            field("script", c.script, quote)
            field("labels", c.labels) { $0.map { quote($0.value) }.joined(separator: ", ") }
            lines += c.closingComments.map { "  " + $0 }
            lines.append("}" + (c.closingTrailing.map { "  " + $0 } ?? ""))
        case .rule(let r):
            lines += r.comments.leading
            lines.append((r.isFrame ? "frame" : r.isPrivate ? "private rule" : "rule") + " \(r.id.value) {" + trailing(r.comments))
            func field<T>(_ name: String, _ f: Field<T>?, _ show: (T) -> String) {
                guard let f else { return }
                lines += f.comments.leading.map { "  " + $0 }
                lines.append("  \(name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(show(f.value))" + trailing(f.comments))
            }
            field("title", r.title, quote)
            field("category", r.category) { $0.value }
            field("score", r.score) { String($0) }
            field("status", r.status) { $0.rawValue }
            field("kind", r.kind) { $0.value }
            field("whole", r.whole) { String($0) }
            field("tags", r.tags) { $0.map(\.value).joined(separator: ", ") }
            field("in", r.inFrames) { $0.map(\.value).joined(separator: ", ") }
            field("allow", r.allow) { $0.map(\.value).joined(separator: ", ") }
            field("match", r.match) { expression($0) }
            field("unless", r.unless) { expression($0) }
            for (name, examples) in [("hit", r.hits), ("miss", r.misses)] {
                for ex in examples {
                    lines += ex.comments.leading.map { "  " + $0 }
                    lines.append("  \(name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(ex.isCall ? "call " : "")\(quote(ex.text))" + trailing(ex.comments))
                }
            }
            lines += r.closingComments.map { "  " + $0 }
            lines.append("}" + (r.closingTrailing.map { "  " + $0 } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// Binding strength, loosest first; a child looser than its context gets parentheses.
    static func precedence(_ e: Expr) -> Int {
        switch e.kind {
        case .or: return 0
        case .and: return 1
        case .not, .scope: return 2
        case .near, .then: return 3
        default: return 4
        }
    }

    static func expression(_ e: Expr, context: Int = 0) -> String {
        let p = precedence(e)
        let text: String
        func sub(_ x: Expr, _ ctx: Int) -> String { expression(x, context: ctx) }
        switch e.kind {
        case .literal(let s): text = quote(s)
        case .exact(let s): text = "exact(" + quote(s) + ")"
        case .regex(let pattern, let flags): text = "/" + pattern.replacingOccurrences(of: "/", with: "\\/") + "/" + flags
        case .name(let n): text = n
        case .or(let xs): text = xs.map { sub($0, 1) }.joined(separator: " or ")
        case .and(let xs): text = xs.map { sub($0, 2) }.joined(separator: " and ")
        case .not(let x): text = "not " + sub(x, 2)
        case .scope(let s, let x): text = "\(s.rawValue): " + sub(x, 2)
        case .atLeast(let n, let xs, let spelling):
            let list = xs.map { sub($0, 0) }.joined(separator: ", ")
            switch spelling {
            case .any: text = "any(\(list))"
            case .all: text = "all(\(list))"
            case .of: text = "\(n) of (\(list))"
            }
        case .near(let a, let b, let d, let unit):
            text = sub(a, 3) + " near(\(d)\(unit == .turns ? " turns" : "")) " + sub(b, 4)
        case .then(let a, let b, let gap):
            text = sub(a, 3) + " then" + (gap.map { "(\($0))" } ?? "") + " " + sub(b, 4)
        case .count(let x, let cmp, let n): text = "count(\(sub(x, 0))) \(cmp.rawValue) \(n)"
        case .model(let cmp, _, let written): text = "model \(cmp.rawValue) \(written)"
        }
        return p < context ? "(" + text + ")" : text
    }
}
