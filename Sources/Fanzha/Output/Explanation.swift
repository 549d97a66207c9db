/// The SpamAssassin-style report of `fanzha explain`: the text with its evidence marked, then
/// points / rule / description, the total, the level and what to do.
package enum Explanation {
    package static func render(_ v: Verdict, record: Record, rules: RuleSet, colour: Bool) -> String {
        var out = ""
        let marked = Highlighter(style: colour ? .ansi : .brackets).mark(record: VerdictPrinter.forTerminal(record), hits: v.hits)
        out += marked + "\n\n"
        // The rule column fits the longest id shown: an analyst copies ids from here into rule files.
        let width = v.hits.map { $0.rule.count }.reduce(32, max)
        out += " pts  " + "rule".padding(toLength: width, withPad: " ", startingAt: 0) + "  description\n"
        out += "----  " + String(repeating: "-", count: width) + "  ---------------------------------\n"
        for h in v.hits.sorted(by: { $0.score > $1.score }) {
            let r = rules.rules[h.ruleIndex]
            let evidence = h.spans.map { "「\(VerdictPrinter.terminalSafe($0.text))」" + ($0.turn.map { "@\($0)" } ?? "") }.joined(separator: " ")
            out += "\(String(r.score).leftPadded(4))  \(r.id.padding(toLength: width, withPad: " ", startingAt: 0))  \(r.title)  \(evidence)\n"
        }
        if v.hits.isEmpty { out += "   0  (no rule fired)\n" }
        out += "----\n"
        out += "\(String(v.score).leftPadded(4))  total: level \(v.level)"
        if let c = v.categoryIndex { out += ", \(rules.categories[c].id) (\(rules.categories[c].title))" }
        out += "\n"
        if !v.frames.isEmpty {
            // What the positive rules did not read (RULES.md, Frames), each with its text.
            out += "\nframes (not read as the scam speaking to its target):\n"
            for f in v.frames {
                let scalars = Array(record.turns[f.turn ?? 0].text.unicodeScalars)
                var text = String.UnicodeScalarView()
                text.append(contentsOf: scalars[min(f.start, scalars.count)..<min(f.end, scalars.count)])
                var shown = VerdictPrinter.field(String(text))
                if shown.count > 60 { shown = String(shown.prefix(60)) + "…" }
                let place = (f.turn.map { "turn \($0) " } ?? "") + "\(f.start)–\(f.end)"
                out += "  \(f.kind.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(f.frame)  \(place)  「\(shown)」\n"
            }
        }
        if let t = v.firstWarningTurn { out += "      first warning at turn \(t)\n" }
        if let t = v.firstMoneyRequestTurn { out += "      first money request at turn \(t)\n" }
        if let a = v.advice { out += "\n建议: \(a)\n" }
        if let r = v.referral { out += "转介: [\(r.tier)] \(r.action)（\(r.hotline)）\n话术: \(r.script)\n" }
        for e in v.errors { out += "error: \(e)\n" }
        return out
    }
}
