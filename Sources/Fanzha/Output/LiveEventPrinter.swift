/// Turns a live-call screener's events into output lines: JSON Lines (`{"event":"alert",…}`,
/// `{"event":"final",…verdict}`, `{"event":"error",…}`), a TSV row or a line of text each.
/// Notices are not output: they belong on standard error.
public struct LiveEventPrinter: Sendable {
    public let format: OutputFormat
    private let verdicts: VerdictPrinter

    public init(rules: RuleSet, format: OutputFormat) {
        self.format = format
        verdicts = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
    }

    /// The room an alert's or a final's JSON starts with. Begun at 512 bytes, most grew twice or
    /// three times, each a new block and a copy (1,300 instructions a growth): on the bench's
    /// live events an alert's line is about 1,200 bytes, a final's 2,100, and nine in ten lines
    /// are under 3,300.
    static let eventCapacity = 4096

    /// The TSV header row (`--format tsv`).
    public static let tsvHeader = "event\tcall\tturns\tlevel\tscore\tcategory\trules\tclosed"

    /// The output line for an event, without its newline; nil for a notice.
    public func render(_ event: LiveCallEvent) -> String? {
        renderBytes(event).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `render`'s line as UTF-8 bytes (what an output sink writes, without a String in between).
    package func renderBytes(_ event: LiveCallEvent) -> [UInt8]? {
        switch format {
        case .jsonl: return jsonBytes(event)
        case .tsv: return row(event, tsv: true).map { Array($0.utf8) }
        case .text: return row(event, tsv: false).map { Array($0.utf8) }
        }
    }

    /// The event as one JSON object; nil for a notice.
    public func json(_ event: LiveCallEvent) -> String? {
        jsonBytes(event).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `json`'s object as UTF-8 bytes.
    package func jsonBytes(_ event: LiveCallEvent) -> [UInt8]? {
        switch event {
        case .alert(let a):
            var o = JSONObjectWriter(capacity: Self.eventCapacity)
            o.add("event", "alert")
            o.add("call", a.call)
            o.add("turn", a.turn)
            o.add("level", a.level.description)
            o.add("score", a.score)
            if let c = a.category { o.add("category", c) } else { o.addNull("category") }
            o.addObjects("new_hits", a.newHits) { h, hit in verdicts.writeHit(hit, to: &h) }
            if let r = a.referral { o.addObject("referral") { VerdictPrinter.writeReferral(r, to: &$0) } }
            return o.finishBytes()
        case .final(let f):
            return verdicts.jsonBytes(f.verdict, record: f.record, capacity: Self.eventCapacity) { o in
                o.add("event", "final")
                o.add("closed", f.closed.rawValue)
                o.add("turns", f.turns)
            }
        case .malformed(let e):
            var o = JSONObjectWriter()
            o.add("event", "error")
            o.add("id", e.id ?? e.origin)
            o.add("error", e.message)
            return o.finishBytes()
        case .notice:
            return nil
        }
    }

    /// A TSV row (event, call, turns, level, score, category, rules, closed) or a line of text.
    private func row(_ event: LiveCallEvent, tsv: Bool) -> String? {
        let visible = VerdictPrinter.visible
        func line(_ event: String, call: String, turns: Int, level: Level, score: Int, category: String?, rules: [String],
                  closed: String) -> String {
            if tsv {
                return [event, visible(call), String(turns), level.description, String(score), category ?? "", rules.joined(separator: ","),
                        closed].joined(separator: "\t")
            }
            let what = event == "alert" ? "alert at turn \(turns)" : "final after \(turns) turns (\(closed))"
            return "call \(visible(call)) \(what): \(level.description.uppercased()) \(score) \(category ?? "-")"
                + (rules.isEmpty ? "" : " [\(rules.joined(separator: ", "))]")
        }
        switch event {
        case .alert(let a):
            return line("alert", call: a.call, turns: a.turn, level: a.level, score: a.score, category: a.category,
                        rules: a.newHits.map(\.rule), closed: "")
        case .final(let f):
            return line("final", call: f.verdict.id, turns: f.turns, level: f.verdict.level, score: f.verdict.score,
                        category: f.verdict.category, rules: f.verdict.hits.map(\.rule), closed: f.closed.rawValue)
        case .malformed(let e):
            let id = visible(e.id ?? e.origin), message = visible(e.message)
            return tsv ? ["error", id, "", "", "", "", "", message].joined(separator: "\t") : "error \(id): \(message)"
        case .notice:
            return nil
        }
    }
}
