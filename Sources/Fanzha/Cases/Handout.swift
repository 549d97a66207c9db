import Foundation

/// `fanzha cases`: representative flagged cases per category, written up as a handout for
/// anti-fraud lectures — how each scam works, real cases with the scam phrases marked and
/// labelled with their tell-tale sign, what to do, the 96110 / 110 reminder, and a one-page
/// summary of the warning signs. Everything that leaves goes through a `Redactor` first.

package enum HandoutFormat: String, Sendable, CaseIterable { case markdown, html }

package struct CaseOptions: Sendable {
    /// Cases per category (at most).
    package var perCategory = 3
    /// Seed of the tie-breaking choices: the same data and seed give the same handout.
    package var seed: UInt64 = 1
    /// Category ids to include; empty: every category.
    package var categories: [String] = []
    /// A case must reach this level.
    package var minLevel: Level = .medium
    /// Longest message, in characters (Unicode scalars), so it can be read aloud.
    package var maxMessageChars = 200
    /// Longest call (all turns' text), in characters.
    package var maxCallChars = 400
    /// Hides personal data in everything the handout shows.
    package var redactor = Redactor()
    /// Records with one of these labels are never cases (a false alarm is no example of a scam).
    package var benignLabels: Set<String> = ["正常", "normal", "0", "benign"]
    package init() {}
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator whose output depends
/// only on the seed — never Swift's system random source.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    package private(set) var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    package mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// FNV-1a of a string's UTF-8: a stable hash (Swift's `hashValue` changes between runs).
    package static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}

/// One chosen case, already redacted.
package struct HandoutCase: Sendable {
    /// The record with its text (and id, speaker names) redacted.
    package let record: Record
    /// The hits of positive-scoring rules of the case's category (and generic ones), spans on the redacted text.
    package let hits: [RuleHit]
    package let level: Level
    package let score: Int
    /// The tell-tale sign this case was chosen to show (a rule index).
    package let primaryRule: Int
    /// Rules (indices) of the case's category that fired, the primary first, then by score; then generic rules.
    package let signs: [Int]
}

package struct HandoutSection: Sendable {
    package let category: Int
    package let cases: [HandoutCase]
    /// Flagged records of this category (before the length limit).
    package let flagged: Int
    /// The category's main warning signs in the data (rule indices; by times fired × score), for the summary.
    package let warningSigns: [Int]
}

package struct Handout: Sendable {
    package let rules: RuleSet
    package let sections: [HandoutSection]
    /// Categories asked for (or all) that had no usable case.
    package let emptyCategories: [Int]
    package let recordsRead: Int
    package let seed: UInt64
    package let redactor: Redactor

    package var caseCount: Int { sections.reduce(0) { $0 + $1.cases.count } }

    // MARK: - Selection

    /// Scans the records and picks the cases.
    package static func build(records: [Record], rules: RuleSet, options: CaseOptions) throws -> Handout {
        let scanner = try Screener(rules: rules)
        return select(records: records, verdicts: records.map { scanner.screen($0) }, rules: rules, options: options)
    }

    /// Picks up to `perCategory` cases per category from scanned records. Per category, greedily:
    /// a case with a sign (rule of the category) no chosen case shows comes first, then one with a
    /// sign no case was chosen for — each case is chosen for a different sign, its `primaryRule`,
    /// and when no case is left with one the category gets fewer cases. Among those, the best of:
    /// score (capped), new signs shown, shortness, a new kind (message / call), and a seeded jitter
    /// that breaks near-ties — so the same records and seed always give the same cases.
    /// `recordsRead` is how many records were read in all, when `records` holds only those that
    /// may be cases (at `options.minLevel` or above, in input order): a reader that streams keeps no more.
    package static func select(records: [Record], verdicts: [Verdict], rules: RuleSet, options: CaseOptions,
                               recordsRead: Int? = nil) -> Handout {
        precondition(records.count == verdicts.count)
        let wanted: [Int] = options.categories.isEmpty
            ? Array(rules.categories.indices)
            : options.categories.compactMap { rules.category(named: $0) }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        /// Whether category `c` accepts dataset label `l` (a label may belong to several).
        func accepts(_ c: Int, _ l: String) -> Bool { rules.categories[c].id == l || rules.categories[c].labels.contains(l) }
        func isCategoryLabel(_ l: String) -> Bool { rules.categories.indices.contains { accepts($0, l) } }
        func chars(_ r: Record) -> Int { r.turns.reduce(0) { $0 + $1.text.unicodeScalars.count } }
        func positive(_ v: Verdict) -> [RuleHit] { v.hits.filter { rules.rules[$0.ruleIndex].score > 0 } }

        var sections: [HandoutSection] = []
        var empty: [Int] = []
        for c in wanted {
            // Flagged records of this category, in input order.
            var flagged: [Int] = []
            for (i, v) in verdicts.enumerated() where v.level >= options.minLevel && v.categoryIndex == c {
                if let l = records[i].label {
                    if options.benignLabels.contains(l) { continue }
                    // A label of some other category only: the rules put it in the wrong place.
                    if isCategoryLabel(l) && !accepts(c, l) { continue }
                }
                flagged.append(i)
            }
            // Warning signs for the summary: this category's rules, by how often they fired times their
            // score (a strong sign that fires often before a mere topic word that fires everywhere).
            var weight: [Int: Int] = [:]
            for i in flagged {
                for r in Set(positive(verdicts[i]).map(\.ruleIndex)) where rules.rules[r].category == c { weight[r, default: 0] += rules.rules[r].score }
            }
            let warningSigns = weight.keys.sorted { (weight[$1]!, $0) < (weight[$0]!, $1) }

            // Candidates: short enough, and each text once.
            var seen: Set<String> = []
            var candidates: [Int] = []
            for i in flagged {
                let r = records[i]
                guard chars(r) <= (r.isCall ? options.maxCallChars : options.maxMessageChars) else { continue }
                guard seen.insert(Highlighter.plainText(of: r)).inserted else { continue }
                candidates.append(i)
            }
            var rng = SplitMix64(seed: options.seed ^ SplitMix64.hash(rules.categories[c].id))
            let jitter = candidates.map { _ in rng.nextUnit() }
            let signsOf: [[Int]] = candidates.map { i in
                var out: [Int] = []
                for h in positive(verdicts[i]) where rules.rules[h.ruleIndex].category == c && !out.contains(h.ruleIndex) { out.append(h.ruleIndex) }
                return out.sorted { (rules.rules[$1].score, $0) < (rules.rules[$0].score, $1) }
            }
            let cap = Double(rules.levels.high + 6)
            var chosen: [(candidate: Int, primary: Int)] = []
            var shownSigns: Set<Int> = []
            var primaries: Set<Int> = []
            var kinds: Set<Bool> = []
            while chosen.count < options.perCategory {
                var best: (utility: Double, candidate: Int, primary: Int)?
                for (k, i) in candidates.enumerated() where !chosen.contains(where: { $0.candidate == k }) {
                    let v = verdicts[i], signs = signsOf[k]
                    // the tell-tale sign it would show: a rule no chosen case has, else one no case is chosen
                    // for; a case that would show a sign again is not chosen (fewer cases, all different)
                    let unseen = signs.first { !shownSigns.contains($0) }
                    guard let fresh = unseen ?? signs.first(where: { !primaries.contains($0) }) else { continue }
                    var u = min(Double(v.score), cap)
                    u += 1.5 * Double(signs.filter { !shownSigns.contains($0) }.count)
                    u -= Double(chars(records[i])) / 100
                    u += kinds.contains(records[i].isCall) ? 0 : 1
                    u += 2 * jitter[k]
                    if unseen != nil { u += 1000 }
                    if best == nil || u > best!.utility { best = (u, k, fresh) }
                }
                guard let b = best else { break }
                chosen.append((b.candidate, b.primary))
                primaries.insert(b.primary)
                shownSigns.formUnion(signsOf[b.candidate])
                kinds.insert(records[candidates[b.candidate]].isCall)
            }
            guard !chosen.isEmpty else { empty.append(c); continue }
            let cases = chosen.map { k, primary -> HandoutCase in
                let i = candidates[k]
                // the evidence of this category's rules and of generic ones; another category's would confuse
                let shown = positive(verdicts[i]).filter { rules.rules[$0.ruleIndex].category.map { $0 == c } ?? true }
                let (red, hits) = options.redactor.redact(record: records[i], hits: shown)
                var signs = [primary] + signsOf[k].filter { $0 != primary }
                for h in shown where !signs.contains(h.ruleIndex) { signs.append(h.ruleIndex) }   // generic rules last
                return HandoutCase(record: red, hits: hits, level: verdicts[i].level, score: verdicts[i].score,
                                   primaryRule: primary, signs: signs)
            }
            sections.append(HandoutSection(category: c, cases: cases, flagged: flagged.count, warningSigns: warningSigns))
        }
        return Handout(rules: rules, sections: sections, emptyCategories: empty, recordsRead: recordsRead ?? records.count,
                       seed: options.seed, redactor: options.redactor)
    }

    // MARK: - Rendering

    package func render(_ format: HandoutFormat) -> String {
        switch format {
        case .markdown: return markdown()
        case .html: return html()
        }
    }

    /// The one highlighter `explain` and `scan` use too, in the handout's style. Each sign (rule) is
    /// named at its first marked phrase; later phrases of a sign already named are marked only.
    func marked(_ c: HandoutCase, style: Highlighter.Style, transform: (String) -> String) -> [String] {
        var named: Set<Int> = []
        return Highlighter(style: style).markTurns(record: c.record, hits: c.hits, labels: { span in
            guard let r = self.signs(for: span, in: c).first(where: { !named.contains($0) }) else { return nil }
            named.insert(r)
            // the HTML style escapes its labels itself; Markdown labels are escaped here
            return style == .markdown ? Handout.escapeMarkdown(self.rules.rules[r].title) : self.rules.rules[r].title
        }, transform: transform)
    }

    /// The rules whose evidence a marked span covers: the case's own signs first, then by score.
    func signs(for span: EvidenceSpan, in c: HandoutCase) -> [Int] {
        var found: [Int] = []
        for h in c.hits where !found.contains(h.ruleIndex) {
            if h.spans.contains(where: { ($0.turn ?? 0) == (span.turn ?? 0) && $0.start < span.end && span.start < $0.end }) { found.append(h.ruleIndex) }
        }
        let rank = { (r: Int) -> (Int, Int, Int) in (c.signs.firstIndex(of: r) ?? Int.max, -self.rules.rules[r].score, r) }
        return found.sorted { rank($0) < rank($1) }
    }

    static let title = "防范电信网络诈骗 · 典型案例讲义"
    static let hotline = "接到可疑电话、短信，先挂断，拨打 96110 反诈专线咨询；已经转账或被骗，立即拨打 110 报警。"
    static let slogan = ["陌生来电不轻信", "未知链接不点击", "个人信息不透露", "转账汇款多核实"]

    func lead() -> String {
        let cats = sections.count, n = caseCount
        var s = "本讲义从 \(recordsRead) 条记录中选出 \(cats) 类骗局的 \(n) 个典型案例，供反诈宣讲使用。"
        s += "案例中标出的是骗子的话术，旁边注明识别要点。"
        s += "手机号、银行卡号、身份证号、QQ号、微信号和链接等个人信息已隐去"
        var extra: [String] = []
        if redactor.amounts { extra.append("金额") }
        if redactor.names { extra.append("姓名") }
        if !extra.isEmpty { s += "（" + extra.joined(separator: "、") + "也已隐去）" }
        s += "，以 [手机号] 这样的标记代替。"
        return s
    }

    func speaker(_ turn: Turn) -> String {
        let ascii = turn.speaker.unicodeScalars.allSatisfy { $0.isASCII }
        if turn.speaker.isEmpty || ascii { return turn.side == .caller ? "来电方" : "接听方" }
        return turn.speaker
    }

    func kindName(_ c: HandoutCase) -> String { c.record.isCall ? "通话" : "短信" }

    func levelName(_ l: Level) -> String {
        switch l {
        case .high: return "高风险"
        case .medium: return "中风险"
        case .low: return "低风险"
        case .none: return "无风险"
        }
    }

    // MARK: Markdown

    /// Escapes what Markdown would read as markup; placeholders like `[手机号]` stay readable.
    static func escapeMarkdown(_ s: String) -> String {
        var out = ""
        var previous: Unicode.Scalar?
        for c in s.unicodeScalars {
            switch c {
            case "\\", "`", "*", "_", "<", ">", "#", "|", "~", "&": out += "\\"; out.unicodeScalars.append(c)
            case "(" where previous == "]", ":" where previous == "]": out += "\\"; out.unicodeScalars.append(c)
            case "\r": break
            default: out.unicodeScalars.append(c)
            }
            previous = c
        }
        return out
    }

    /// A marked body as Markdown block-quote lines; line starts that would make a list are escaped.
    static func quoteLines(_ body: String, prefix: String = "") -> [String] {
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return lines.enumerated().map { k, line in
            var l = line
            if let f = l.unicodeScalars.first, f == "-" || f == "+" || f == "=" { l = "\\" + l }
            if let end = l.firstIndex(where: { !("0"..."9").contains($0) }), end != l.startIndex, l[end] == "." || l[end] == ")" {
                l.insert("\\", at: end)
            }
            // a hard line break (`\` at the end) keeps the lines of one message apart
            return "> " + (k == 0 ? prefix : "") + l + (k < lines.count - 1 ? "\\" : "")
        }
    }

    package func markdown() -> String {
        var o: [String] = []
        let esc = Handout.escapeMarkdown
        o.append("# \(Handout.title)")
        o.append("")
        o.append(lead())
        o.append("")
        o.append("> ☎ **\(Handout.hotline)**")
        o.append("")
        if sections.isEmpty {
            o.append("（数据中没有达到中风险以上的案例。）")
            o.append("")
        }
        for (n, section) in sections.enumerated() {
            let cat = rules.categories[section.category]
            o.append("## \(Handout.chineseNumber(n + 1))、\(esc(cat.title))")
            o.append("")
            if !cat.description.isEmpty {
                o.append("**骗局怎么回事：** \(esc(cat.description))")
                o.append("")
            }
            for (k, c) in section.cases.enumerated() {
                o.append("### 案例 \(k + 1) · \(kindName(c))")
                o.append("")
                o.append("*\(levelName(c.level))（\(c.score) 分） · 编号 \(esc(c.record.id))*")
                o.append("")
                let bodies = marked(c, style: .markdown, transform: esc)
                if c.record.isCall {
                    for (t, (turn, body)) in zip(c.record.turns, bodies).enumerated() {
                        if t > 0 { o.append(">") }
                        o += Handout.quoteLines(body, prefix: "**\(esc(speaker(turn)))：** ")
                    }
                } else {
                    o += Handout.quoteLines(bodies.first ?? "")
                }
                o.append("")
                o.append("识别要点：")
                o.append("")
                for r in c.signs { o.append("- \(esc(rules.rules[r].title))") }
                o.append("")
            }
            o.append("**怎么办：** \(esc(cat.advice))")
            o.append("")
            o.append("**提醒：** \(Handout.hotline)")
            o.append("")
        }
        o.append("## 防骗要点一页通")
        o.append("")
        o.append("| 骗局 | 危险信号 |")
        o.append("|---|---|")
        for section in sections {
            let cat = rules.categories[section.category]
            let signs = section.warningSigns.prefix(3).map { esc(rules.rules[$0].title) }.joined(separator: "；")
            o.append("| \(esc(cat.title)) | \(signs) |")
        }
        o.append("")
        o.append("**牢记：** " + Handout.slogan.joined(separator: "，") + "。")
        o.append("")
        o.append("> ☎ **\(Handout.hotline)**")
        o.append("")
        o.append("---")
        o.append("")
        o.append("*由 fanzha cases 生成 · 抽样种子 \(seed)*")
        return o.joined(separator: "\n") + "\n"
    }

    // MARK: HTML

    /// HTML text: escaped, with the redaction placeholders set off.
    func htmlText(_ s: String) -> String {
        var out = Highlighter.escapeHTML(s)
        guard out.contains("[") else { return out }
        for k in Redactor.Kind.allCases {
            let p = k.placeholder
            out = out.replacingOccurrences(of: p, with: "<span class=\"redacted\">\(p)</span>")
        }
        return out
    }

    static let css = """
    @page { size: A4; margin: 16mm 15mm 18mm; }
    * { box-sizing: border-box; }
    html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
    body { margin: 0; background: #efece6; color: #1d1d1f; font-size: 18px; line-height: 1.75;
      font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "PingFang SC",
        "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK TC", "Noto Sans CJK JP", sans-serif; }
    main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1.5rem 3rem; background: #fff; }
    h1 { font-size: 2rem; line-height: 1.3; margin: .4rem 0 1rem; color: #a4161a; }
    h2 { font-size: 1.5rem; line-height: 1.4; margin: 2.2rem 0 1rem; padding-bottom: .2rem; border-bottom: 3px solid #a4161a; }
    h3 { font-size: 1.15rem; line-height: 1.4; margin: 1.1rem 0 .4rem; }
    h2, h3 { break-after: avoid; page-break-after: avoid; }
    p { margin: .5rem 0; }
    .lead { color: #333; }
    .hotline { background: #fff4e5; border-left: 6px solid #e85d04; border-radius: 6px; padding: .6rem .9rem; font-weight: 700; }
    .how, .advice { border-radius: 6px; padding: .6rem .9rem; margin: .8rem 0; }
    .how { background: #f3f3f3; }
    .advice { background: #e9f5ea; border-left: 6px solid #2e7d32; }
    .how h3, .advice h3 { margin: 0 0 .2rem; font-size: 1rem; }
    nav.toc ol { columns: 2 14rem; padding-left: 1.6rem; margin: .4rem 0; }
    nav.toc a { color: #1d1d1f; text-decoration: none; border-bottom: 1px dotted #999; }
    .case { border: 1px solid #d8d8d8; border-radius: 10px; padding: .8rem 1rem; margin: 1rem 0;
      break-inside: avoid; page-break-inside: avoid; }
    .case h3 { margin-top: 0; }
    .meta { color: #666; font-size: .85rem; margin: 0 0 .3rem; }
    .badge { display: inline-block; color: #fff; background: #e85d04; border-radius: 999px; padding: 0 .6rem; font-size: .8rem; }
    .badge.high { background: #a4161a; }
    .text { margin: .3rem 0 .5rem; padding: .6rem .9rem; background: #fafafa; border-left: 4px solid #9a9a9a;
      border-radius: 0 6px 6px 0; font-size: 1.05rem; overflow-wrap: anywhere; word-break: break-word; }
    .text.message { white-space: pre-wrap; }
    .turn { margin: .25rem 0; white-space: pre-wrap; }
    .who { font-weight: 700; color: #555; }
    .turn.caller .who { color: #a4161a; }
    mark { background: #ffe066; color: inherit; border-radius: 3px; padding: 0 .1em;
      -webkit-box-decoration-break: clone; box-decoration-break: clone; }
    mark + sup { display: inline-block; font-size: .66em; line-height: 1.4; vertical-align: super; color: #fff; background: #a4161a;
      border-radius: 4px; padding: 0 .35em; margin: 0 .2em; white-space: nowrap; font-weight: 600; }
    .redacted { background: #3a3a3a; color: #fff; border-radius: 3px; padding: 0 .2em; font-size: .85em; white-space: nowrap; }
    ul.signs { margin: .2rem 0 0; padding-left: 1.4rem; }
    section.category { break-before: page; page-break-before: always; }
    section.summary { break-before: page; page-break-before: always; }
    .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .6rem; }
    .card { border: 1px solid #d8d8d8; border-radius: 8px; padding: .5rem .8rem; break-inside: avoid; page-break-inside: avoid; }
    .card h3 { font-size: 1rem; margin: 0 0 .2rem; color: #a4161a; }
    .card ul { margin: 0; padding-left: 1.2rem; font-size: .9rem; line-height: 1.5; }
    .slogan { display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; list-style: none; margin: 1rem 0; }
    .slogan li { background: #a4161a; color: #fff; border-radius: 6px; padding: .2rem .7rem; font-weight: 700; }
    footer { color: #777; font-size: .8rem; margin-top: 2rem; border-top: 1px solid #ddd; padding-top: .5rem; }
    @media (max-width: 600px) {
      body { font-size: 17px; }
      main { padding: 1rem .85rem 2rem; }
      h1 { font-size: 1.55rem; }
      h2 { font-size: 1.3rem; }
      .case { padding: .6rem .7rem; }
      .text { padding: .5rem .6rem; }
      nav.toc ol { columns: 1; }
    }
    @media print {
      body { background: #fff; font-size: 11.5pt; line-height: 1.6; }
      main { max-width: none; padding: 0; }
      section.category > h2, section.summary > h2 { margin-top: 0; }
      nav.toc a { border: 0; }
      .summary { font-size: 10pt; }
      .summary .grid { grid-template-columns: repeat(3, 1fr); gap: 3mm; }
      mark, mark + sup, .badge, .redacted, .slogan li, .hotline, .advice, .how {
        -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    }
    """

    package func html() -> String {
        let h = Highlighter.escapeHTML
        var o = ""
        o += "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
        o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        o += "<title>\(h(Handout.title))</title>\n<style>\n\(Handout.css)\n</style>\n</head>\n<body>\n<main>\n"
        o += "<header>\n<h1>\(h(Handout.title))</h1>\n<p class=\"lead\">\(htmlText(lead()))</p>\n"
        o += "<p class=\"hotline\">☎ \(hotlineHTML())</p>\n"
        if sections.isEmpty {
            o += "<p>（数据中没有达到中风险以上的案例。）</p>\n"
        } else {
            o += "<nav class=\"toc\"><h2>目录</h2><ol>\n"
            for s in sections {
                let cat = rules.categories[s.category]
                o += "<li><a href=\"#cat-\(anchor(cat.id))\">\(h(cat.title))</a></li>\n"
            }
            o += "<li><a href=\"#summary\">防骗要点一页通</a></li>\n</ol></nav>\n"
        }
        o += "</header>\n"
        for (n, section) in sections.enumerated() {
            let cat = rules.categories[section.category]
            o += "<section class=\"category\" id=\"cat-\(anchor(cat.id))\">\n"
            o += "<h2>\(Handout.chineseNumber(n + 1))、\(h(cat.title))</h2>\n"
            if !cat.description.isEmpty {
                o += "<div class=\"how\"><h3>骗局怎么回事</h3><p>\(h(cat.description))</p></div>\n"
            }
            for (k, c) in section.cases.enumerated() {
                o += "<article class=\"case\">\n"
                o += "<h3>案例 \(k + 1) · \(kindName(c)) <span class=\"badge \(c.level == .high ? "high" : "medium")\">\(levelName(c.level))</span></h3>\n"
                o += "<p class=\"meta\">\(c.score) 分 · 编号 \(htmlText(c.record.id))</p>\n"
                let bodies = marked(c, style: .html, transform: htmlText)
                if c.record.isCall {
                    o += "<div class=\"text call\">\n"
                    for (turn, body) in zip(c.record.turns, bodies) {
                        o += "<p class=\"turn \(turn.side.name)\"><span class=\"who\">\(htmlText(speaker(turn)))：</span>\(body)</p>\n"
                    }
                    o += "</div>\n"
                } else {
                    o += "<blockquote class=\"text message\">\(bodies.first ?? "")</blockquote>\n"
                }
                o += "<p><strong>识别要点：</strong></p>\n<ul class=\"signs\">\n"
                for r in c.signs { o += "<li>\(h(rules.rules[r].title))</li>\n" }
                o += "</ul>\n</article>\n"
            }
            o += "<div class=\"advice\"><h3>怎么办</h3><p>\(h(cat.advice))</p></div>\n"
            o += "<p class=\"hotline\">☎ \(hotlineHTML())</p>\n"
            o += "</section>\n"
        }
        o += "<section class=\"summary\" id=\"summary\">\n<h2>防骗要点一页通</h2>\n<div class=\"grid\">\n"
        for section in sections {
            let cat = rules.categories[section.category]
            o += "<div class=\"card\"><h3>\(h(cat.title))</h3><ul>"
            for r in section.warningSigns.prefix(3) { o += "<li>\(h(rules.rules[r].title))</li>" }
            o += "</ul></div>\n"
        }
        o += "</div>\n<ul class=\"slogan\">" + Handout.slogan.map { "<li>\(h($0))</li>" }.joined() + "</ul>\n"
        o += "<p class=\"hotline\">☎ \(hotlineHTML())</p>\n</section>\n"
        o += "<footer>由 fanzha cases 生成 · 抽样种子 \(seed)</footer>\n"
        o += "</main>\n</body>\n</html>\n"
        return o
    }

    func hotlineHTML() -> String {
        Highlighter.escapeHTML(Handout.hotline)
            .replacingOccurrences(of: "96110", with: "<strong>96110</strong>")
            .replacingOccurrences(of: " 110 ", with: " <strong>110</strong> ")
    }

    func anchor(_ id: String) -> String {
        String(String.UnicodeScalarView(id.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) ? $0 : "-" }))
    }

    /// 1 → 一, 12 → 十二, 20 → 二十, 35 → 三十五 (up to 99; beyond, Arabic digits).
    static func chineseNumber(_ n: Int) -> String {
        let d = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
        switch n {
        case 1...9: return d[n]
        case 10...19: return "十" + (n % 10 == 0 ? "" : d[n % 10])
        case 20...99: return d[n / 10] + "十" + (n % 10 == 0 ? "" : d[n % 10])
        default: return String(n)
        }
    }
}
