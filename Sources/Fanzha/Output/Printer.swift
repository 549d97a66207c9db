import Foundation

public enum OutputFormat: String, Sendable, CaseIterable { case text, jsonl, tsv }

/// Turns verdicts into output records. Knows nothing of regexes or rules files: only verdicts.
public struct VerdictPrinter: Sendable {
    public let rules: RuleSet
    public let format: OutputFormat
    public let colour: Bool

    /// Per rule, its hit's fixed fields (rule, title, score, tags) as JSON, written once: rule
    /// `i`'s are `ruleFieldBytes[ruleFields[i]]` (one array: an array per rule was retained and
    /// released for every hit printed).
    private let ruleFields: [Range<Int>]
    private let ruleFieldBytes: [UInt8]
    /// The advice and referral of each category (and the generic ones, last) as JSON, written
    /// once: they are the longest texts of a verdict and the same for every record of a category.
    private let adviceJSON: [(text: String, json: [UInt8])]
    private let referralJSON: [[(referral: Referral, json: [UInt8])]]   // [level][category]

    public init(rules: RuleSet, format: OutputFormat, colour: Bool = false) {
        self.rules = rules
        self.format = format
        self.colour = colour
        var fieldBytes: [UInt8] = []
        ruleFields = rules.rules.map { rule in
            var h = JSONObjectWriter()
            h.add("rule", rule.id)
            h.add("title", rule.title)
            h.add("score", rule.score)
            h.add("tags", rule.tags)
            let start = fieldBytes.count
            fieldBytes += h.fields
            return start..<fieldBytes.count
        }
        ruleFieldBytes = fieldBytes
        func json(_ s: String) -> [UInt8] {
            var out: [UInt8] = []
            appendJSONString(s, to: &out)
            return out
        }
        let policy = rules.policy
        let advice = rules.categories.map(\.advice) + [policy.genericAdvice]
        let scripts = rules.categories.map(\.script) + [policy.genericScript]
        adviceJSON = advice.map { ($0, json($0)) }
        referralJSON = Level.allCases.map { level in
            scripts.compactMap { script in
                policy.referral(level: level, script: script).map { r in
                    var j = JSONObjectWriter()
                    VerdictPrinter.writeReferral(r, to: &j)
                    return (r, j.finishBytes())
                }
            }
        }
    }

    /// The pre-written JSON of a verdict's advice or referral when it is its category's (or the
    /// generic) one; nil for any other text, which is then escaped as usual.
    private func writtenAdvice(_ advice: String, category: Int?) -> [UInt8]? {
        let c = category ?? adviceJSON.count - 1
        return adviceJSON[c].text == advice ? adviceJSON[c].json : nil
    }

    private func writtenReferral(_ r: Referral, category: Int?) -> [UInt8]? {
        let forLevel = referralJSON[r.tier.rawValue]
        guard !forLevel.isEmpty else { return nil }
        let c = category ?? forLevel.count - 1
        return forLevel[c].referral == r ? forLevel[c].json : nil
    }

    /// One output record as UTF-8 bytes, without its newline.
    public func render(_ v: Verdict, record: Record) -> [UInt8] {
        let line = JSONBytes(capacity: 512)
        render(v, record: record, appendingTo: line)
        return line.bytes(from: 0)
    }

    /// The same, written after whatever `lines` holds (a worker's batch of output lines, `scan`).
    package func render(_ v: Verdict, record: Record, appendingTo lines: JSONBytes) {
        switch format {
        case .jsonl:
            var o = JSONObjectWriter(appendingTo: lines)
            writeJSON(v, record: record, to: &o)
            o.end()
        case .tsv: lines.append(contentsOf: tsv(v, record: record).utf8)
        case .text: lines.append(contentsOf: text(v, record: record).utf8)
        }
    }

    /// The output line for an input record that could not be read: `{"id":…,"error":"…"}` in
    /// JSON Lines (its id when known, else file:line), a row with level `error` in TSV, nothing in
    /// text (standard error names it there, as grep would).
    public func renderError(_ e: RecordError) -> [UInt8]? {
        switch format {
        case .jsonl:
            var o = JSONObjectWriter()
            o.add("id", e.id ?? e.origin)
            o.add("error", e.message)
            return o.finishBytes()
        case .tsv:
            let field = VerdictPrinter.field
            return Array([field(e.id ?? e.origin), "error", "", "", "", field(e.message)].joined(separator: "\t").utf8)
        case .text:
            return nil
        }
    }

    public func json(_ v: Verdict, record: Record) -> String {
        String(decoding: jsonBytes(v, record: record), as: UTF8.self)
    }

    /// The verdict as one JSON object; `leading` writes fields before its own (a live call's
    /// `event`, `closed` and `turns`); `capacity`: the room it starts with.
    package func jsonBytes(_ v: Verdict, record: Record, capacity: Int = 512, leading: (inout JSONObjectWriter) -> Void = { _ in }) -> [UInt8] {
        var o = JSONObjectWriter(capacity: capacity)
        leading(&o)
        writeJSON(v, record: record, to: &o)
        return o.finishBytes()
    }

    /// The verdict's fields, in the format's order.
    private func writeJSON(_ v: Verdict, record: Record, to o: inout JSONObjectWriter) {
        o.add("id", v.id)
        if let label = record.label { o.add("label", label) }
        for (k, json) in record.passthrough where !VerdictPrinter.ownKeys.contains(k) { o.addRaw(k, json) }
        o.add("level", v.level.description)
        o.add("score", v.score)
        if let c = v.category { o.add("category", c) } else { o.addNull("category") }
        // By index, in the names the verdict ranks them by (`categories` would make an array).
        let names = v.outcome.categoryNames
        o.add("categories", v.ranked.lazy.map { names[$0.category] })
        writeHits(v.hits, to: &o)
        if let advice = v.advice {
            if let written = writtenAdvice(advice, category: v.categoryIndex) { o.addRaw("advice", bytes: written) } else { o.add("advice", advice) }
        } else {
            o.addNull("advice")
        }
        if let r = v.referral {
            if let written = writtenReferral(r, category: v.categoryIndex) {
                o.addRaw("referral", bytes: written)
            } else {
                o.addObject("referral") { VerdictPrinter.writeReferral(r, to: &$0) }
            }
        } else {
            o.addNull("referral")
        }
        o.add("errors", v.errors)
        // Frames only when there are some: most records have none, and their lines stay as they were.
        if !v.frames.isEmpty {
            o.addObjects("frames", v.frames) { j, f in
                j.add("kind", f.kind.name)
                j.add("frame", f.frame)
                if let t = f.turn { j.add("turn", t) }
                j.add("start", f.start)
                j.add("end", f.end)
            }
        }
        if record.isCall && !record.unmappedSpeakers.isEmpty { o.add("speakers_unmapped", record.unmappedSpeakers) }
        if record.isCall {
            if let t = v.firstWarningTurn { o.add("first_warning_turn", t) } else { o.addNull("first_warning_turn") }
            if let t = v.firstMoneyRequestTurn { o.add("first_money_request_turn", t) } else { o.addNull("first_money_request_turn") }
        }
    }

    /// A verdict's hits, each read where the array keeps it: a `for` over the hits copied each one
    /// out (its name, title, tags and evidence table retained, then released again).
    /// The closure reads the rules' written fields through locals: capturing `self`, it copied
    /// the whole printer for every verdict (its arrays and rule set retained, then released).
    private func writeHits(_ hits: [RuleHit], to o: inout JSONObjectWriter) {
        let fields = ruleFields, fieldBytes = ruleFieldBytes
        hits.withUnsafeBufferPointer { hits in
            o.addObjects("hits", hits.indices) { h, k in
                VerdictPrinter.writeHit(ruleIndex: hits[k].ruleIndex, evidence: hits[k].evidence, fields: fields, fieldBytes: fieldBytes, to: &h)
            }
        }
    }

    /// One hit: rule, title, score, tags and evidence spans.
    package func writeHit(_ hit: RuleHit, to h: inout JSONObjectWriter) {
        VerdictPrinter.writeHit(ruleIndex: hit.ruleIndex, evidence: hit.evidence, fields: ruleFields, fieldBytes: ruleFieldBytes, to: &h)
    }

    /// `fields`, `fieldBytes`: the printer's `ruleFields` and `ruleFieldBytes`.
    private static func writeHit(ruleIndex: Int, evidence: HitEvidence, fields: [Range<Int>], fieldBytes: [UInt8], to h: inout JSONObjectWriter) {
        fieldBytes.withUnsafeBufferPointer { h.addFields(UnsafeBufferPointer(rebasing: $0[fields[ruleIndex]])) }
        switch evidence {
        case .found(let table, let places):
            // Straight from the evidence table's memory: no span, array or string made.
            let isCall = table.isCall
            h.addObjects("spans", places) { j, k in
                let p = table.place(k)
                j.add("start", Int(p.start)); j.add("end", Int(p.end))
                j.add("text", utf8: table.text(of: p))
                if isCall { j.add("turn", Int(p.turn)) }
            }
        case .given(let spans):
            h.addSpans("spans", spans)
        }
    }

    package static func writeReferral(_ r: Referral, to j: inout JSONObjectWriter) {
        j.add("tier", r.tier.description); j.add("action", r.action); j.add("hotline", r.hotline); j.add("script", r.script)
    }

    static let ownKeys: Set<String> = ["id", "label", "level", "score", "category", "categories", "hits", "advice", "referral", "errors", "frames",
                                       "speakers_unmapped",
                                       "first_warning_turn", "first_money_request_turn"]

    public static let tsvHeader = "id\tlevel\tscore\tcategory\trules\ttext"

    package func tsv(_ v: Verdict, record: Record) -> String {
        let field = VerdictPrinter.field
        return [field(v.id), v.level.description, String(v.score), v.category ?? "",
                v.hits.map(\.rule).joined(separator: ","), field(Highlighter.plainText(of: record))].joined(separator: "\t")
    }

    /// grep-like: level, score and category, then the text with the evidence marked.
    package func text(_ v: Verdict, record: Record) -> String {
        let style: Highlighter.Style = colour ? .ansi : .brackets
        let marked = VerdictPrinter.escapingBidi(VerdictPrinter.oneLine(Highlighter(style: style).mark(record: VerdictPrinter.forTerminal(record), hits: v.hits)))
        let level = v.level.description.uppercased().padding(toLength: 6, withPad: " ", startingAt: 0)
        let id = v.category ?? "-"
        let cat = id.padding(toLength: max(16, id.count), withPad: " ", startingAt: 0)   // aligned, never cut
        let levelText = colour ? Highlighter.colour(for: v.level) + level + "\u{1B}[0m" : level
        return "\(VerdictPrinter.field(v.id))\t\(levelText) \(String(v.score).leftPadded(3)) \(cat) \(marked)"
    }

    /// The record as a terminal should show it: control characters (an ESC that would move the
    /// cursor or hide text, a CR that would overwrite the line) become their visible pictures
    /// (␛, ␍, …), one scalar for one, so evidence offsets still fit. Tab and newline stay.
    static func forTerminal(_ record: Record) -> Record {
        guard record.turns.contains(where: { hasControl($0.text) || hasControl($0.speaker) }) else { return record }
        var copy = record
        copy.turns = record.turns.map { Turn(speaker: terminalSafe($0.speaker), side: $0.side, text: terminalSafe($0.text)) }
        return copy
    }

    /// `s` with control characters shown as their pictures (see `forTerminal`).
    /// One cell or field of a line: on one line and terminal-safe.
    static func field(_ s: String) -> String { escapingBidi(terminalSafe(oneLine(s))) }

    /// A name or message as a terminal line should show it: on one line, control characters as
    /// pictures, bidirectional controls escaped (`<U+202E>`).
    package static func visible(_ s: String) -> String { field(s) }

    /// Bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
    /// U+061C) would reorder what the terminal shows (a reversed file name or verdict): they are
    /// written as `<U+202E>`. Text output only; JSON keeps the text as it was.
    static func escapingBidi(_ s: String) -> String {
        func isBidi(_ u: Unicode.Scalar) -> Bool {
            (0x202A...0x202E).contains(u.value) || (0x2066...0x2069).contains(u.value) || u.value == 0x200E || u.value == 0x200F || u.value == 0x061C
        }
        guard s.unicodeScalars.contains(where: isBidi) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if isBidi(u) { out += "<U+\(String(u.value, radix: 16, uppercase: true))>" } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    private static func hasControl(_ s: String) -> Bool { s.unicodeScalars.contains(where: isControl) }

    static func terminalSafe(_ s: String) -> String {
        guard hasControl(s) else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map { u in
            guard isControl(u) else { return u }
            switch u.value {
            case 0x00..<0x20: return Unicode.Scalar(0x2400 + u.value)!
            case 0x7F: return "\u{2421}"
            default: return "\u{FFFD}"
            }
        }))
    }

    private static func isControl(_ u: Unicode.Scalar) -> Bool {
        (u.value < 0x20 && u != "\t" && u != "\n") || (u.value >= 0x7F && u.value < 0xA0)
    }

    /// `s` on one line: line breaks and tabs become spaces (one record, one line, fixed columns).
    static func oneLine(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\u{2028}" || $0 == "\u{2029}" }) else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map {
            $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\u{2028}" || $0 == "\u{2029}" ? " " : $0
        }))
    }
}

/// Marks evidence spans in a record's original text. Shared by `scan`, `explain` and `cases`.
package struct Highlighter {
    package enum Style: Sendable { case ansi, brackets, markdown, html }
    package let style: Style
    package init(style: Style) { self.style = style }

    static func colour(for level: Level) -> String {
        switch level {
        case .high: return "\u{1B}[1;31m"
        case .medium: return "\u{1B}[1;33m"
        case .low: return "\u{1B}[1;36m"
        case .none: return "\u{1B}[2m"
        }
    }

    /// A record's text as a reader sees it: a message, or a call's turns as `speaker: text` lines.
    package static func plainText(of record: Record) -> String {
        record.isCall ? record.turns.map { "\($0.speaker): \($0.text)" }.joined(separator: "\n") : (record.turns.first?.text ?? "")
    }

    /// The record's text with each evidence span wrapped; calls as `speaker: text` lines.
    /// `transform` lets a caller (redaction, HTML escaping) rewrite the unmarked and marked pieces.
    package func mark(record: Record, hits: [RuleHit], labels: ((EvidenceSpan) -> String?)? = nil,
                     transform: (String) -> String = { $0 }) -> String {
        let bodies = markTurns(record: record, hits: hits, labels: labels, transform: transform)
        return zip(record.turns, bodies).map { turn, body in
            record.isCall ? "\(transform(turn.speaker)): \(body)" : body
        }.joined(separator: "\n")
    }

    /// Each turn's text (no speaker) with its evidence spans wrapped, in turn order: for layouts that
    /// place the turns themselves (`cases` HTML). Spans are offsets into `record`'s turn texts.
    package func markTurns(record: Record, hits: [RuleHit], labels: ((EvidenceSpan) -> String?)? = nil,
                          transform: (String) -> String = { $0 }) -> [String] {
        var perTurn: [Int: [EvidenceSpan]] = [:]
        for h in hits { for s in h.spans { perTurn[s.turn ?? 0, default: []].append(s) } }
        return record.turns.enumerated().map { t, turn in
            mark(turn.text, spans: Highlighter.merge(perTurn[t] ?? []), labels: labels, transform: transform)
        }
    }

    /// `&`, `<`, `>`, `"` and `'` as HTML character references (text and attribute values).
    package static func escapeHTML(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func merge(_ spans: [EvidenceSpan]) -> [EvidenceSpan] {
        var out: [EvidenceSpan] = []
        for s in spans.sorted(by: { ($0.start, $0.end) < ($1.start, $1.end) }) {
            if let last = out.last, s.start < last.end {
                if s.end > last.end { out[out.count - 1] = EvidenceSpan(turn: last.turn, start: last.start, end: s.end, text: last.text) }
            } else {
                out.append(s)
            }
        }
        return out
    }

    func mark(_ text: String, spans: [EvidenceSpan], labels: ((EvidenceSpan) -> String?)?, transform: (String) -> String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = ""
        var pos = 0
        func piece(_ a: Int, _ b: Int) -> String {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[max(0, a)..<min(b, scalars.count)])
            return String(v)
        }
        for s in spans where s.start >= pos && s.end <= scalars.count {
            out += transform(piece(pos, s.start))
            let inner = transform(piece(s.start, s.end))
            let label = labels?(s)
            switch style {
            case .ansi: out += "\u{1B}[1;31m" + inner + "\u{1B}[0m"
            case .brackets: out += "〖" + inner + "〗"   // not 【】: SMS use those for sender tags
            case .markdown: out += "**" + inner + "**" + (label.map { "〔\($0)〕" } ?? "")
            case .html:
                let l = label.map(Highlighter.escapeHTML)
                out += "<mark" + (l.map { " title=\"\($0)\"" } ?? "") + ">" + inner + "</mark>" + (l.map { "<sup>\($0)</sup>" } ?? "")
            }
            pos = s.end
        }
        out += transform(piece(pos, scalars.count))
        return out
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
