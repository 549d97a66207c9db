/// A recursive-descent parser for rule files. It recovers at the next field or declaration after
/// an error, so one run reports every problem in a file.
struct Parser {
    static let maxDepth = 600  // nesting steps; a parenthesis costs three
    private static let topKeywords: Set<String> = ["rule", "private", "category", "terms", "levels", "frame"]
    private static let ruleFields: Set<String> = ["title", "category", "score", "status", "tags", "allow", "match", "hit", "miss", "in"]
    private static let frameFields: Set<String> = ["title", "kind", "match", "unless", "whole", "allow", "hit", "miss"]
    private static let categoryFields: Set<String> = ["title", "description", "advice", "script", "labels"]

    private var tokens: [Token]
    private var p = 0
    private let file: Int
    private let source: SourceFile
    private var depth = 0
    private(set) var diagnostics: [Diagnostic] = []

    private struct Failure: Error {}

    init(file: Int, source: SourceFile) {
        var lexer = Lexer(file: file, source: source)
        tokens = lexer.tokenize()
        diagnostics = lexer.diagnostics
        self.file = file
        self.source = source
    }

    // MARK: token helpers

    private var current: Token { tokens[p] }
    private var previous: Token { tokens[max(0, p - 1)] }
    private mutating func advance() -> Token { let t = tokens[p]; if p < tokens.count - 1 { p += 1 }; return t }

    private func isIdent(_ word: String) -> Bool {
        if case .identifier(let w) = current.kind { return w == word }
        return false
    }
    private func isPunct(_ x: String) -> Bool {
        if case .punct(let v) = current.kind { return v == x }
        return false
    }
    private var atEnd: Bool { current.kind == .end }

    private static func describe(_ k: Token.Kind) -> String {
        switch k {
        case .identifier(let w): return "`\(w)`"
        case .integer(let n): return "number \(n)"
        case .decimal(let d): return "number \(d)"
        case .string: return "a string"
        case .regex: return "a regex"
        case .punct(let v): return "`\(v)`"
        case .end: return "end of file"
        }
    }

    private mutating func fail(_ message: String, help: String? = nil, at range: SourceRange? = nil) -> Failure {
        diagnostics.append(Diagnostic(.syntax, message, at: range ?? current.range, help: help))
        return Failure()
    }

    private mutating func expectPunct(_ x: String, _ context: String) throws -> Token {
        guard isPunct(x) else { throw fail("expected `\(x)` \(context), found \(Parser.describe(current.kind))") }
        return advance()
    }

    private mutating func expectIdentifier(_ context: String) throws -> Located<String> {
        guard case .identifier(let w) = current.kind else {
            throw fail("expected \(context), found \(Parser.describe(current.kind))")
        }
        let t = advance()
        return Located(value: w, range: t.range)
    }

    private mutating func expectString(_ context: String) throws -> Located<String> {
        guard case .string(let v) = current.kind else {
            throw fail("expected a string \(context), found \(Parser.describe(current.kind))", help: "strings are written in double quotes: \"…\"")
        }
        let t = advance()
        return Located(value: v, range: t.range)
    }

    private mutating func expectInteger(_ context: String) throws -> Located<Int> {
        guard case .integer(let n) = current.kind else {
            throw fail("expected a number \(context), found \(Parser.describe(current.kind))")
        }
        let t = advance()
        return Located(value: n, range: t.range)
    }

    /// Comments gathered on tokens from `start` up to the current one, for the field they belong to.
    private func comments(from start: Int) -> Comments {
        var c = Comments()
        c.leading = tokens[start].leadingComments
        for k in (start + 1)..<max(start + 1, p) {
            c.leading += tokens[k].leadingComments
        }
        for k in start..<max(start + 1, p) where k < p {
            if let t = tokens[k].trailingComment {
                if k == p - 1 { c.trailing = t } else { c.leading.append(t) }
            }
        }
        return c
    }

    // MARK: file

    mutating func parseFile() -> RuleFile {
        var decls: [Declaration] = []
        while !atEnd {
            let start = p
            do {
                if let d = try parseDeclaration() { decls.append(d) }
            } catch {
                synchronizeTop(from: start)
            }
        }
        return RuleFile(file: file, declarations: decls, trailingComments: current.leadingComments)
    }

    private mutating func synchronizeTop(from start: Int) {
        if p == start { _ = advance() }
        var braces = 0
        while !atEnd {
            if isPunct("{") { braces += 1 }
            if isPunct("}") {
                braces -= 1
                _ = advance()
                if braces <= 0 { return }
                continue
            }
            if braces <= 0, case .identifier(let w) = current.kind, Parser.topKeywords.contains(w),
               current.range.start > 0 { return }
            _ = advance()
        }
    }

    private mutating func parseDeclaration() throws -> Declaration? {
        let start = p
        guard case .identifier(let word) = current.kind else {
            throw fail("expected a declaration (`rule`, `frame`, `category`, `terms` or `levels`), found \(Parser.describe(current.kind))")
        }
        switch word {
        case "levels": return .levels(try parseLevels(start))
        case "category": return .category(try parseCategory(start))
        case "terms": return .terms(try parseTerms(start))
        case "rule", "private", "frame": return .rule(try parseRule(start))
        default:
            let help = suggestion(for: word, among: Parser.topKeywords).map { "did you mean `\($0)`?" }
            throw fail("expected a declaration (`rule`, `frame`, `category`, `terms` or `levels`), found `\(word)`", help: help)
        }
    }

    private mutating func parseLevels(_ start: Int) throws -> LevelsDecl {
        let kw = advance()
        var values: [String: Int] = [:]
        repeat {
            let name = try expectIdentifier("`low`, `medium` or `high`")
            guard ["low", "medium", "high"].contains(name.value) else {
                throw fail("unknown level `\(name.value)`", help: "the levels are low, medium and high", at: name.range)
            }
            let value = try expectInteger("after `\(name.value)`").value
            if values[name.value] != nil {
                diagnostics.append(Diagnostic(.invalidLevels, "`\(name.value)` is given twice in `levels`", at: name.range,
                                              help: "give each of low, medium and high once"))
            }
            values[name.value] = value
        } while isPunct(",") && advance().kind == .punct(",")
        guard let low = values["low"], let medium = values["medium"], let high = values["high"] else {
            throw fail("`levels` needs all three of low, medium and high", help: "levels low 3, medium 6, high 10",
                       at: kw.range.joined(previous.range))
        }
        return LevelsDecl(low: low, medium: medium, high: high, range: kw.range.joined(previous.range), comments: comments(from: start))
    }

    private mutating func parseTerms(_ start: Int) throws -> TermsDecl {
        let kw = advance()
        let name = try expectIdentifier("a name for the term list")
        _ = try expectPunct("=", "after the term list's name")
        var terms: [Located<String>] = []
        repeat {
            terms.append(try expectString("in the term list"))
        } while isPunct(",") && advance().kind == .punct(",")
        return TermsDecl(name: name, terms: terms, range: kw.range.joined(previous.range), comments: comments(from: start))
    }

    private mutating func parseCategory(_ start: Int) throws -> CategoryDecl {
        let kw = advance()
        let id = try expectIdentifier("a category id")
        _ = try expectPunct("{", "to open the category")
        var decl = CategoryDecl(id: id, range: kw.range, comments: comments(from: start))
        while !isPunct("}") && !atEnd {
            let fieldStart = p
            do {
                let name = try expectIdentifier("a field (title, description, advice, script, labels)")
                func set(_ slot: inout Field<String>?) throws {
                    let v = try expectString("after `\(name.value)`")
                    if slot != nil { duplicate(name) }
                    slot = Field(value: v.value, range: v.range)
                    slot!.comments = comments(from: fieldStart)
                }
                switch name.value {
                case "title": try set(&decl.title)
                case "description": try set(&decl.description)
                case "advice": try set(&decl.advice)
                case "script": try set(&decl.script)
                case "labels":
                    var labels: [Located<String>] = []
                    repeat { labels.append(try expectString("in `labels`")) } while isPunct(",") && advance().kind == .punct(",")
                    if decl.labels != nil { duplicate(name) }
                    decl.labels = Field(value: labels, range: name.range.joined(previous.range), comments: comments(from: fieldStart))
                default:
                    unknownField(name, Parser.categoryFields, "category")
                    synchronizeField(Parser.categoryFields)
                }
            } catch {
                synchronizeField(Parser.categoryFields)
            }
        }
        decl.closingComments = current.leadingComments
        decl.closingTrailing = try expectPunct("}", "to close category `\(id.value)`").trailingComment
        decl.range = kw.range.joined(previous.range)
        return decl
    }

    private mutating func duplicate(_ name: Located<String>) {
        diagnostics.append(Diagnostic(.duplicateField, "`\(name.value)` is given twice", at: name.range))
    }

    private mutating func unknownField(_ name: Located<String>, _ fields: Set<String>, _ block: String) {
        let help = suggestion(for: name.value, among: fields.sorted()).map { "did you mean `\($0)`?" }
            ?? "a \(block) has: \(fields.sorted().joined(separator: ", "))"
        diagnostics.append(Diagnostic(.unknownField, "a \(block) has no field `\(name.value)`", at: name.range, help: help))
    }

    /// Skips to the next field keyword that starts a line or follows a value, or the closing brace.
    private mutating func synchronizeField(_ fields: Set<String>) {
        var parens = 0
        while !atEnd {
            if isPunct("(") { parens += 1 }
            if isPunct(")") { parens -= 1 }
            if parens <= 0 {
                if isPunct("}") { return }
                if case .identifier(let w) = current.kind, fields.contains(w) || Parser.topKeywords.contains(w),
                   startsLine(p) || endsValue(p - 1) { return }
            }
            _ = advance()
        }
    }

    /// Whether token `k` can end a field's value (a string, number or regex), so a field keyword
    /// after it starts the next field even on the same line (`title "x" bogus "y" match …`).
    private func endsValue(_ k: Int) -> Bool {
        guard k >= 0, k < tokens.count else { return false }
        switch tokens[k].kind {
        case .string, .integer, .decimal, .regex: return true
        default: return false
        }
    }

    /// Whether token `k` is the first on its line (where a new field can start).
    private func startsLine(_ k: Int) -> Bool {
        guard k > 0 else { return true }
        return source.lineColumn(tokens[k - 1].range.end).line != source.lineColumn(tokens[k].range.start).line
    }

    private mutating func parseRule(_ start: Int) throws -> RuleDecl {
        var isPrivate = false, isFrame = false
        let first = advance()
        if case .identifier("frame") = first.kind { isFrame = true }
        if case .identifier("private") = first.kind {
            isPrivate = true
            guard isIdent("rule") else { throw fail("expected `rule` after `private`") }
            _ = advance()
        }
        let block = isFrame ? "frame" : "rule"
        let fields = isFrame ? Parser.frameFields : Parser.ruleFields
        let id = try expectIdentifier("a \(block) id")
        _ = try expectPunct("{", "to open the \(block)")
        var decl = RuleDecl(id: id, isPrivate: isPrivate || isFrame, range: first.range, comments: comments(from: start))
        decl.isFrame = isFrame
        while !isPunct("}") && !atEnd {
            let fieldStart = p
            var field = ""
            do {
                let name = try expectIdentifier(isFrame ? "a field (title, kind, match, unless, whole, hit, miss, allow)"
                                                        : "a field (title, category, score, status, tags, match, hit, miss, allow, in)")
                field = name.value
                guard fields.contains(name.value) else {
                    unknownField(name, fields, block)
                    synchronizeField(fields)
                    continue
                }
                switch name.value {
                case "kind":
                    let v = try expectIdentifier("a frame kind (report, warning, quote, teaching)")
                    if decl.kind != nil { duplicate(name) }
                    decl.kind = Field(value: v, range: v.range, comments: comments(from: fieldStart))
                case "whole":
                    let v = try expectInteger("a percentage after `whole`")
                    if decl.whole != nil { duplicate(name) }
                    decl.whole = Field(value: v.value, range: v.range, comments: comments(from: fieldStart))
                case "unless":
                    depth = 0
                    let e = try parseExpr()
                    if decl.unless != nil { duplicate(name) }
                    decl.unless = Field(value: e, range: e.range, comments: comments(from: fieldStart))
                case "in":
                    var list: [Located<String>] = []
                    repeat { list.append(try expectIdentifier("a frame kind in `in`")) } while isPunct(",") && advance().kind == .punct(",")
                    if decl.inFrames != nil { duplicate(name) }
                    decl.inFrames = Field(value: list, range: name.range.joined(previous.range), comments: comments(from: fieldStart))
                case "title":
                    let v = try expectString("after `title`")
                    if decl.title != nil { duplicate(name) }
                    decl.title = Field(value: v.value, range: v.range, comments: comments(from: fieldStart))
                case "category":
                    let v = try expectIdentifier("a category id")
                    if decl.category != nil { duplicate(name) }
                    decl.category = Field(value: v, range: v.range, comments: comments(from: fieldStart))
                case "score":
                    let v = try expectInteger("after `score`")
                    if decl.score != nil { duplicate(name) }
                    decl.score = Field(value: v.value, range: v.range, comments: comments(from: fieldStart))
                case "status":
                    let v = try expectIdentifier("`stable` or `experimental`")
                    guard let st = RuleStatus(rawValue: v.value) else {
                        throw fail("unknown status `\(v.value)`", help: "a status is `stable` or `experimental`", at: v.range)
                    }
                    if decl.status != nil { duplicate(name) }
                    decl.status = Field(value: st, range: v.range, comments: comments(from: fieldStart))
                case "tags", "allow":
                    var list: [Located<String>] = []
                    repeat { list.append(try expectIdentifier("a name in `\(name.value)`")) } while isPunct(",") && advance().kind == .punct(",")
                    let f = Field(value: list, range: name.range.joined(previous.range), comments: comments(from: fieldStart))
                    if name.value == "tags" {
                        if decl.tags != nil { duplicate(name) }
                        decl.tags = f
                    } else {
                        if decl.allow != nil { duplicate(name) }
                        decl.allow = f
                    }
                case "match":
                    depth = 0
                    let e = try parseExpr()
                    if decl.match != nil { duplicate(name) }
                    decl.match = Field(value: e, range: e.range, comments: comments(from: fieldStart))
                case "hit", "miss":
                    var isCall = false
                    if isIdent("call") { _ = advance(); isCall = true }
                    let v = try expectString("after `\(name.value)`")
                    let ex = Example(text: v.value, isCall: isCall, range: v.range, comments: comments(from: fieldStart))
                    if name.value == "hit" { decl.hits.append(ex) } else { decl.misses.append(ex) }
                default:
                    unknownField(name, fields, block)
                    synchronizeField(fields)
                }
            } catch {
                if !field.isEmpty { decl.brokenFields.insert(field) }   // already reported: no "missing" error too
                synchronizeField(fields)
            }
        }
        decl.closingComments = current.leadingComments
        decl.closingTrailing = try expectPunct("}", "to close \(block) `\(id.value)`").trailingComment
        decl.range = first.range.joined(previous.range)
        return decl
    }

    // MARK: expressions

    private mutating func nest<T>(_ body: (inout Parser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Parser.maxDepth { throw tooDeep() }
        return try body(&self)
    }

    private mutating func tooDeep() -> Failure {
        diagnostics.append(Diagnostic(.tooDeep, "expression nested too deeply", at: current.range,
                                      help: "split it into helper rules (`private rule`)"))
        // Skip the rest of this expression wholesale: recovering inside it would re-report.
        while !atEnd && !isPunct("}") { _ = advance() }
        return Failure()
    }

    mutating func parseExpr() throws -> Expr {
        try nest { parser in
            var items = [try parser.parseAnd()]
            while parser.isIdent("or") { _ = parser.advance(); items.append(try parser.parseAnd()) }
            return items.count == 1 ? items[0] : Expr(kind: .or(items), range: items[0].range.joined(items.last!.range))
        }
    }

    private mutating func parseAnd() throws -> Expr {
        var items = [try parseUnary()]
        while isIdent("and") { _ = advance(); items.append(try parseUnary()) }
        return items.count == 1 ? items[0] : Expr(kind: .and(items), range: items[0].range.joined(items.last!.range))
    }

    private mutating func parseUnary() throws -> Expr {
        try nest { parser in
            let t = parser.current
            if parser.isIdent("not") {
                _ = parser.advance()
                let e = try parser.parseUnary()
                return Expr(kind: .not(e), range: t.range.joined(e.range))
            }
            if case .identifier(let w) = t.kind, let side = Side(name: w),
               parser.tokens[parser.p + 1].kind == .punct(":") {
                _ = parser.advance(); _ = parser.advance()
                let e = try parser.parseUnary()
                return Expr(kind: .scope(side, e), range: t.range.joined(e.range))
            }
            return try parser.parseRelation()
        }
    }

    private mutating func parseRelation() throws -> Expr {
        var left = try parsePrimary()
        // Each chained `near`/`then` nests the tree one level deeper: it counts towards the limit.
        let outer = depth
        defer { depth = outer }
        while true {
            if isIdent("near") || isIdent("then") {
                depth += 1
                if depth > Parser.maxDepth { throw tooDeep() }
            }
            if isIdent("near") {
                _ = advance()
                _ = try expectPunct("(", "after `near`")
                let n = try expectInteger("for the distance in `near(…)`")
                var unit = DistanceUnit.characters
                if isIdent("turns") || isIdent("turn") { _ = advance(); unit = .turns }
                _ = try expectPunct(")", "to close `near(…)`")
                guard n.value >= 0 else { throw fail("a distance cannot be negative", at: n.range) }
                let right = try parsePrimary()
                left = Expr(kind: .near(left, right, distance: n.value, unit: unit), range: left.range.joined(right.range))
            } else if isIdent("then") {
                _ = advance()
                var gap: Int?
                // `then(N)` has a gap; `then (A or B)` and `then (2 of (…))` have a parenthesised right side.
                if isPunct("("), case .integer = tokens[p + 1].kind, tokens[p + 2].kind != .identifier("of") {
                    _ = advance()
                    let n = try expectInteger("for the largest gap in `then(…)`")
                    guard n.value >= 0 else { throw fail("a distance cannot be negative", at: n.range) }
                    gap = n.value
                    _ = try expectPunct(")", "to close `then(…)`")
                }
                let right = try parsePrimary()
                left = Expr(kind: .then(left, right, maxGap: gap), range: left.range.joined(right.range))
            } else {
                return left
            }
        }
    }

    /// `model >= 0.9`: the learned model's probability, a comparison and a number from 0 to 1.
    private mutating func parseModel(_ start: Token, _ cmp: Comparison) throws -> Expr {
        _ = advance()   // `model`
        _ = advance()   // the comparison
        let t = current
        let written: String
        switch t.kind {
        case .decimal(let d): written = d
        case .integer(let n): written = String(n)
        default: throw fail("expected a probability from 0 to 1 after `model \(cmp.rawValue)`, found \(Parser.describe(t.kind))",
                            help: "write `model >= 0.9`")
        }
        _ = advance()
        guard let value = Double(written), value >= 0, value <= 1 else {
            throw fail("a model probability is from 0 to 1, not \(written)", help: "write `model >= 0.9`", at: t.range)
        }
        return Expr(kind: .model(cmp, value, text: written), range: start.range.joined(t.range))
    }

    private mutating func parseList(_ what: String) throws -> [Expr] {
        _ = try expectPunct("(", "after `\(what)`")
        var items: [Expr] = []
        if !isPunct(")") {
            repeat { items.append(try parseExpr()) } while isPunct(",") && advance().kind == .punct(",")
        }
        _ = try expectPunct(")", "to close `\(what)(…)`")
        return items
    }

    private mutating func parsePrimary() throws -> Expr {
        try nest { parser in
            let t = parser.current
            switch t.kind {
            case .string(let v):
                _ = parser.advance()
                return Expr(kind: .literal(v), range: t.range)
            case .regex(let pattern, let flags):
                _ = parser.advance()
                return Expr(kind: .regex(pattern: pattern, flags: flags), range: t.range)
            case .punct("("):
                _ = parser.advance()
                let e = try parser.parseExpr()
                _ = try parser.expectPunct(")", "to close the parenthesis")
                return e
            case .integer(let n):
                _ = parser.advance()
                guard parser.isIdent("of") else {
                    throw parser.fail("expected `of` after a number in an expression", help: "write `2 of (a, b, c)`")
                }
                _ = parser.advance()
                let items = try parser.parseList("of")
                return Expr(kind: .atLeast(n, items, spelling: .of), range: t.range.joined(parser.previous.range))
            case .identifier(let w):
                if w == "exact", parser.tokens[parser.p + 1].kind == .punct("(") {
                    _ = parser.advance()
                    _ = parser.advance()
                    let v = try parser.expectString("in `exact(…)`: it takes one word")
                    _ = try parser.expectPunct(")", "to close `exact(…)`")
                    return Expr(kind: .exact(v.value), range: t.range.joined(parser.previous.range))
                }
                if (w == "any" || w == "all" || w == "count"), parser.tokens[parser.p + 1].kind == .punct("(") {
                    _ = parser.advance()
                    let items = try parser.parseList(w)
                    if w == "count" {
                        guard items.count == 1 else { throw parser.fail("`count(…)` takes one expression", at: t.range.joined(parser.previous.range)) }
                        guard case .punct(let op) = parser.current.kind, let cmp = Comparison(rawValue: op) else {
                            throw parser.fail("expected a comparison after `count(…)`", help: "write `count(a) >= 2`")
                        }
                        _ = parser.advance()
                        let n = try parser.expectInteger("after the comparison")
                        return Expr(kind: .count(items[0], cmp, n.value), range: t.range.joined(n.range))
                    }
                    guard !items.isEmpty else { throw parser.fail("`\(w)(…)` needs at least one item", at: t.range.joined(parser.previous.range)) }
                    let range = t.range.joined(parser.previous.range)
                    return w == "any" ? Expr(kind: .atLeast(1, items, spelling: .any), range: range)
                        : Expr(kind: .atLeast(items.count, items, spelling: .all), range: range)
                }
                if w == "model", case .punct(let op) = parser.tokens[parser.p + 1].kind, let cmp = Comparison(rawValue: op) {
                    return try parser.parseModel(t, cmp)
                }
                if Parser.ruleFields.contains(w), parser.startsLine(parser.p) {
                    throw parser.fail("the expression ends before it is complete: expected a word, a name or `(`, found the next field `\(w)`",
                                      at: parser.previous.range)
                }
                if ["and", "or", "then", "near", "of"].contains(w) {
                    throw parser.fail("expected a word, a name or `(` before `\(w)`")
                }
                _ = parser.advance()
                return Expr(kind: .name(w), range: t.range)
            default:
                throw parser.fail("expected a string, a regex, a name or `(`, found \(Parser.describe(t.kind))")
            }
        }
    }
}
