import Foundation

package enum EvalFormat: String, Sendable { case text, json, markdown }

/// Renders an `EvalReport` as aligned text, Markdown tables or JSON.
package enum EvalRenderer {
    static func f(_ x: Double) -> String { String(format: "%.3f", x) }

    package static func render(_ r: EvalReport, rules: RuleSet, format: EvalFormat) -> String {
        if format == .json { return json(r, rules: rules) + "\n" }
        var tables: [(title: String, header: [String], rows: [[String]])] = []
        tables.append(("Fraud vs benign (\(r.fraud) fraud, \(r.benign) benign records)",
                       ["flag at", "TP", "FP", "FN", "TN", "precision", "recall", "F1", "FP rate"],
                       [Level.low, .medium, .high].map { l in
                           let c = r.byThreshold[l]!
                           return [l.description, "\(c.tp)", "\(c.fp)", "\(c.fn)", "\(c.tn)", f(c.precision), f(c.recall), f(c.f1), f(c.falsePositiveRate)]
                       }))
        tables.append(("Per dataset label, flagged at medium with the right main category",
                       ["label", "records", "flagged", "right category", "recall"],
                       r.perLabel.keys.sorted().map { k in
                           let v = r.perLabel[k]!
                           return [k, "\(v.total)", "\(v.flagged)", "\(v.rightCategory)", f(Double(v.rightCategory) / Double(max(1, v.total)))]
                       }))
        tables.append(("Per category (main category, at medium)", ["category", "TP", "FP", "FN", "precision", "recall"],
                       r.perCategory.keys.sorted().map { k in
                           let c = r.perCategory[k]!
                           return [k, "\(c.tp)", "\(c.fp)", "\(c.fn)", c.tp + c.fp == 0 ? "-" : f(c.precision), c.tp + c.fn == 0 ? "-" : f(c.recall)]   // "-": no such prediction or label
                       }))
        if let field = r.groupField {
            tables.append(("Per \(field), at medium", ["\(field)", "records", "fraud", "flagged", "recall", "benign", "flagged", "FP rate"],
                           r.groups.keys.sorted().map { k in
                               let g = r.groups[k]!
                               return [k, "\(g.records)", "\(g.fraud)", "\(g.fraudFlagged)", g.recall.map(f) ?? "-",
                                       "\(g.benign)", "\(g.benignFlagged)", g.falseAlarmRate.map(f) ?? "-"]
                           }))
        }
        let predicted = Set(r.confusion.values.flatMap(\.keys)).sorted { $0 == "-" ? false : $1 == "-" ? true : $0 < $1 }
        tables.append(("Confusion (rows: label; columns: main category at medium, - not flagged)", ["label"] + predicted,
                       r.confusion.keys.sorted().map { k in [k] + predicted.map { String(r.confusion[k]![$0] ?? 0) } }))
        let fraudTotal = Double(max(1, r.fraud)), benignTotal = Double(max(1, r.benign))
        tables.append(("Per rule (mass-check): S/O = fraud% / (fraud% + benign%)", ["rule", "score", "fraud hits", "fraud %", "benign hits", "benign %", "S/O"],
                       rules.rules.filter { !$0.isPrivate }.map { rule -> (CompiledRule, RuleStats) in (rule, r.perRule[rule.id] ?? RuleStats()) }
                           .sorted { ($0.1.benignHits, $0.1.fraudHits) > ($1.1.benignHits, $1.1.fraudHits) }
                           .map { rule, s in
                               let fp = Double(s.fraudHits) / fraudTotal, bp = Double(s.benignHits) / benignTotal
                               return [rule.id, "\(rule.score)", "\(s.fraudHits)", String(format: "%.2f", 100 * fp), "\(s.benignHits)",
                                       String(format: "%.2f", 100 * bp), fp + bp == 0 ? "-" : f(fp / (fp + bp))]
                           }))
        if r.calls.fraudCalls > 0 {
            let c = r.calls
            tables.append(("Fraud calls", ["calls", "warned", "mean warning position", "with money request", "warned before it"],
                           [["\(c.fraudCalls)", "\(c.warned)", c.warned == 0 ? "-" : f(c.warningPositionSum / Double(c.warned)),
                             "\(c.withMoneyRequest)", "\(c.warnedBeforeMoneyRequest)"]]))
        }
        var out = ""
        for t in tables {
            out += format == .markdown ? markdownTable(t.title, t.header, t.rows) : textTable(t.title, t.header, t.rows)
            out += "\n"
        }
        if !r.unknownLabels.isEmpty {
            out += "Labels that map to no category (left out): " + r.unknownLabels.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + "\n\n"
        }
        // In Markdown each item is a list item (plain lines would run together into one paragraph).
        let item = format == .markdown ? "- " : "  "
        if !r.misses.isEmpty {
            out += "Misses (fraud not flagged at medium, or the wrong category):\n" + r.misses.map { "\(item)\($0.id) [\($0.label)] \($0.detail)" }.joined(separator: "\n") + "\n\n"
        }
        if !r.falseAlarms.isEmpty {
            out += "False alarms (benign flagged at medium):\n" + r.falseAlarms.map { "\(item)\($0.id) [\($0.label)] \($0.detail)" }.joined(separator: "\n") + "\n"
        }
        return out
    }

    static func textTable(_ title: String, _ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map { displayWidth($0) }
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], displayWidth(c)) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - displayWidth(c))
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }
        return title + "\n" + line(header) + "\n" + rows.map(line).joined(separator: "\n") + "\n"
    }

    static func markdownTable(_ title: String, _ header: [String], _ rows: [[String]]) -> String {
        var out = "**\(title)**\n\n| " + header.joined(separator: " | ") + " |\n|" + header.enumerated().map { $0.offset == 0 ? "---" : "---:" }.joined(separator: "|") + "|\n"
        // A `|` inside a cell (a dataset label, say) would split it.
        for row in rows { out += "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        return out
    }

    static func json(_ r: EvalReport, rules: RuleSet) -> String {
        func confusion(_ c: Confusion) -> String {
            var o = JSONObjectWriter()
            o.add("tp", c.tp); o.add("fp", c.fp); o.add("fn", c.fn); o.add("tn", c.tn)
            o.add("precision", c.precision); o.add("recall", c.recall); o.add("f1", c.f1); o.add("fp_rate", c.falsePositiveRate)
            return o.finish()
        }
        func object(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { jsonString($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
        }
        var o = JSONObjectWriter()
        o.add("records", r.records); o.add("fraud", r.fraud); o.add("benign", r.benign)
        o.addRaw("thresholds", object([Level.low, .medium, .high].map { ($0.description, confusion(r.byThreshold[$0]!)) }))
        o.addRaw("labels", object(r.perLabel.keys.sorted().map { k in
            let v = r.perLabel[k]!
            var j = JSONObjectWriter()
            j.add("records", v.total); j.add("flagged", v.flagged); j.add("right_category", v.rightCategory)
            j.add("recall", Double(v.rightCategory) / Double(max(1, v.total)))
            return (k, j.finish())
        }))
        // Per category there are no true negatives to count: precision and recall only, null
        // where there was no such prediction or label (the text table's "-").
        o.addRaw("categories", object(r.perCategory.keys.sorted().map { k in
            let c = r.perCategory[k]!
            var j = JSONObjectWriter()
            j.add("tp", c.tp); j.add("fp", c.fp); j.add("fn", c.fn)
            if c.tp + c.fp == 0 { j.addNull("precision") } else { j.add("precision", c.precision) }
            if c.tp + c.fn == 0 { j.addNull("recall") } else { j.add("recall", c.recall) }
            return (k, j.finish())
        }))
        o.addRaw("confusion", object(r.confusion.keys.sorted().map { k in (k, object(r.confusion[k]!.sorted { $0.key < $1.key }.map { ($0.key, String($0.value)) })) }))
        o.addRaw("rules", object(rules.rules.filter { !$0.isPrivate }.map { rule in
            let s = r.perRule[rule.id] ?? RuleStats()
            var j = JSONObjectWriter()
            j.add("fraud_hits", s.fraudHits); j.add("benign_hits", s.benignHits)
            return (rule.id, j.finish())
        }))
        if let field = r.groupField {
            var g = JSONObjectWriter()
            g.add("field", field)
            g.addRaw("values", object(r.groups.keys.sorted().map { k in
                let v = r.groups[k]!
                var j = JSONObjectWriter()
                j.add("records", v.records); j.add("fraud", v.fraud); j.add("fraud_flagged", v.fraudFlagged)
                j.add("benign", v.benign); j.add("benign_flagged", v.benignFlagged)
                if let x = v.recall { j.add("recall", x) } else { j.addNull("recall") }
                if let x = v.falseAlarmRate { j.add("fp_rate", x) } else { j.addNull("fp_rate") }
                return (k, j.finish())
            }))
            o.addRaw("groups", g.finish())
        }
        o.addRaw("unknown_labels", object(r.unknownLabels.sorted { $0.key < $1.key }.map { ($0.key, String($0.value)) }))
        for (key, list) in [("misses" as StaticString, r.misses), ("false_alarms", r.falseAlarms)] {
            o.addObjects(key, list) { j, e in j.add("id", e.id); j.add("label", e.label); j.add("detail", e.detail) }
        }
        var c = JSONObjectWriter()
        c.add("fraud_calls", r.calls.fraudCalls); c.add("warned", r.calls.warned)
        c.add("mean_warning_position", r.calls.warned == 0 ? 0 : r.calls.warningPositionSum / Double(r.calls.warned))
        c.add("with_money_request", r.calls.withMoneyRequest); c.add("warned_before_money_request", r.calls.warnedBeforeMoneyRequest)
        o.addRaw("calls", c.finish())
        return o.finish()
    }
}
