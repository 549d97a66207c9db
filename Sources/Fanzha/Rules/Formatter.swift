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
        let declarations = file.declarations.map(withoutUsesComment)
        let uses = usesComment(declarations)
        if !uses.isEmpty, !declarations.isEmpty {
            // Above the file's own header: the names this file reads from the others.
            out += uses
            out.append("")
        }
        for (i, d) in declarations.enumerated() {
            let block = declaration(d)
            // A blank line between declarations, except inside a run of uncommented term lists.
            if i > 0 {
                var bothTerms = false
                if case .terms = d, case .terms = declarations[i - 1] { bothTerms = true }
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

    /// The comment `fmt` keeps at the top of a file: every term list or rule the file names but
    /// does not declare (so declared in another file of the rule set), sorted, wrapped.
    static let usesPrefix = "# uses: "

    static func usesComment(_ declarations: [Declaration]) -> [String] {
        var declared = Set<String>(), used = Set<String>()
        for d in declarations {
            switch d {
            case .terms(let t): declared.insert(t.name.value)
            case .rule(let r):
                declared.insert(r.id.value)
                if let m = r.match { names(in: m.value, into: &used) }
                if let u = r.unless { names(in: u.value, into: &used) }
            case .levels, .category: break
            }
        }
        let external = used.subtracting(declared).sorted()
        var lines: [String] = [], line = ""
        for (i, name) in external.enumerated() {
            let piece = name + (i < external.count - 1 ? "," : "")
            if !line.isEmpty && usesPrefix.count + line.count + 1 + piece.count > width {
                lines.append(usesPrefix + line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + piece
        }
        if !line.isEmpty { lines.append(usesPrefix + line) }
        return lines
    }

    static func names(in e: Expr, into set: inout Set<String>) {
        switch e.kind {
        case .name(let n): set.insert(n)
        case .literal, .exact, .regex, .model: break
        case .and(let xs), .or(let xs), .atLeast(_, let xs, _): for x in xs { names(in: x, into: &set) }
        case .not(let x), .scope(_, let x), .count(let x, _, _): names(in: x, into: &set)
        case .near(let a, let b, _, _), .then(let a, let b, _):
            names(in: a, into: &set)
            names(in: b, into: &set)
        }
    }

    /// A declaration without the `# uses:` lines of its leading comments (fmt writes them anew).
    static func withoutUsesComment(_ d: Declaration) -> Declaration {
        func strip(_ c: inout Comments) { c.leading.removeAll { $0.hasPrefix(usesPrefix) } }
        switch d {
        case .levels(var l): strip(&l.comments); return .levels(l)
        case .category(var c): strip(&c.comments); return .category(c)
        case .terms(var t): strip(&t.comments); return .terms(t)
        case .rule(var r): strip(&r.comments); return .rule(r)
        }
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
            field("match", r.match) { fieldExpression($0) }
            field("unless", r.unless) { fieldExpression($0) }
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

    /// The longest line `fmt` writes where it can break one (a long literal or regex may exceed it).
    static let width = 100

    /// A `match` or `unless` value: on the field's line when it fits, else broken over lines.
    /// An `and`/`or` chain at the top continues at column 4, below the field's value, so that a
    /// continuation line never starts where a field name does.
    static func fieldExpression(_ e: Expr) -> String {
        let column = "  match    ".count
        switch e.kind {
        case .and, .or: return layout(e, column: column, indent: 4)
        default: return layout(e, column: column, indent: 2)
        }
    }

    /// `e` written from `column`, on one line when it fits within `width`, else broken: a
    /// parenthesised group or a list opens its bracket, puts its contents on lines indented two
    /// more than `indent` (the line's indentation) and closes at `indent`; an `and`/`or` chain
    /// puts each operand after the first on its own line, led by its operator; a `near`/`then`
    /// chain puts each step on its own line, two further in. Literals and regexes never break.
    static func layout(_ e: Expr, context: Int = 0, column: Int, indent: Int) -> String {
        let flat = expression(e, context: context)
        if column + flat.count <= width { return flat }
        func pad(_ n: Int) -> String { String(repeating: " ", count: n) }
        let p = precedence(e)
        if p < context {
            let inner = indent + 2
            return "(\n" + pad(inner) + layout(e, column: inner, indent: inner) + "\n" + pad(indent) + ")"
        }
        switch e.kind {
        case .or(let xs), .and(let xs):
            let isOr: Bool
            if case .or = e.kind { isOr = true } else { isOr = false }
            let op = isOr ? "or " : "and ", ctx = isOr ? 1 : 2
            var text = layout(xs[0], context: ctx, column: column, indent: indent)
            for x in xs.dropFirst() {
                text += "\n" + pad(indent) + op + layout(x, context: ctx, column: indent + op.count, indent: indent)
            }
            return text
        case .not(let x):
            return "not " + layout(x, context: 2, column: column + 4, indent: indent)
        case .scope(let s, let x):
            let lead = "\(s.name): "
            return lead + layout(x, context: 2, column: column + lead.count, indent: indent)
        case .near, .then:
            // The left spine of a chain (`a near(5) b then c` is `(a near(5) b) then c`).
            var steps: [(String, Expr)] = []
            var head = e
            while true {
                switch head.kind {
                case .near(let a, let b, let d, let unit):
                    steps.append((" near(\(d)\(unit == .turns ? " turns" : "")) ", b))
                    head = a
                    continue
                case .then(let a, let b, let gap):
                    steps.append((" then" + (gap.map { "(\($0))" } ?? "") + " ", b))
                    head = a
                    continue
                default: break
                }
                break
            }
            var text = layout(head, context: 3, column: column, indent: indent)
            let stepIndent = indent + 2
            for (op, b) in steps.reversed() {
                let word = String(op.dropFirst())
                text += "\n" + pad(stepIndent) + word + layout(b, context: 4, column: stepIndent + word.count, indent: stepIndent)
            }
            return text
        case .atLeast(let n, let xs, let spelling):
            let open: String
            switch spelling {
            case .any: open = "any("
            case .all: open = "all("
            case .of: open = "\(n) of ("
            }
            let inner = indent + 2
            var lines: [String] = [], line = ""
            for (i, x) in xs.enumerated() {
                let comma = i < xs.count - 1 ? "," : ""
                let item = expression(x, context: 0) + comma
                if inner + item.count > width {
                    // Too long for a line of its own: laid out on its own lines.
                    if !line.isEmpty { lines.append(line); line = "" }
                    lines.append(layout(x, column: inner, indent: inner) + comma)
                    continue
                }
                if !line.isEmpty && inner + line.count + 1 + item.count > width {
                    lines.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + item
            }
            if !line.isEmpty { lines.append(line) }
            return open + "\n" + lines.map { pad(inner) + $0 }.joined(separator: "\n") + "\n" + pad(indent) + ")"
        case .count(let x, let cmp, let n):
            return "count(" + layout(x, column: column + 6, indent: indent) + ") \(cmp.rawValue) \(n)"
        case .literal, .exact, .regex, .name, .model:
            return flat
        }
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
        case .scope(let s, let x): text = "\(s.name): " + sub(x, 2)
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
