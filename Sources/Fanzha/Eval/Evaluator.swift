import Foundation

/// `fanzha eval`: how well the rules separate fraud from benign, per level, per category and per rule.
package struct EvalOptions: Sendable {
    package var benignLabels: Set<String> = ["正常", "normal", "0", "benign"]
    /// Labels that say only "fraud", not which kind: such a record's kind is read from
    /// `categoryField` when that names a category, and otherwise any category counts as right.
    package var fraudLabels: Set<String> = ["scam", "fraud", "诈骗", "1"]
    package var categoryField = "category"
    package var labelField = "label"
    /// A field whose values break the results down (`--group-by scene`): records, recall and
    /// false alarms at medium per value.
    package var groupBy: String?
    package var showErrors = 0
    package init() {}
}

package struct Confusion: Sendable, Equatable {
    package var tp = 0, fp = 0, fn = 0, tn = 0
    package var precision: Double { tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp) }
    package var recall: Double { tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn) }
    package var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
    package var falsePositiveRate: Double { fp + tn == 0 ? 0 : Double(fp) / Double(fp + tn) }
}

package struct RuleStats: Sendable {
    package var fraudHits = 0, benignHits = 0
}

/// One value of the `--group-by` field, at medium.
package struct GroupStats: Sendable, Equatable {
    package var fraud = 0, fraudFlagged = 0, benign = 0, benignFlagged = 0
    package var records: Int { fraud + benign }
    package var recall: Double? { fraud == 0 ? nil : Double(fraudFlagged) / Double(fraud) }
    package var falseAlarmRate: Double? { benign == 0 ? nil : Double(benignFlagged) / Double(benign) }
}

package struct CallStats: Sendable {
    package var fraudCalls = 0
    package var warned = 0
    /// Sum over warned fraud calls of (first warning turn + 1) / turns.
    package var warningPositionSum = 0.0
    package var withMoneyRequest = 0
    package var warnedBeforeMoneyRequest = 0
}

package struct EvalReport: Sendable {
    package var records = 0, fraud = 0, benign = 0
    package var unknownLabels: [String: Int] = [:]
    /// Fraud vs benign, with low / medium / high as the flagging threshold.
    package var byThreshold: [Level: Confusion] = [:]
    /// At medium: per dataset label, flagged with the right main category.
    package var perLabel: [String: (total: Int, flagged: Int, rightCategory: Int)] = [:]
    /// At medium: per category id, precision and recall of the main category.
    package var perCategory: [String: Confusion] = [:]
    /// At medium: rows are dataset labels, columns predicted main categories ("-" for not flagged).
    package var confusion: [String: [String: Int]] = [:]
    package var perRule: [String: RuleStats] = [:]
    /// Per value of the `--group-by` field (nil when not asked for).
    package var groupField: String?
    package var groups: [String: GroupStats] = [:]
    package var calls = CallStats()
    package var misses: [(id: String, label: String, detail: String)] = []
    package var falseAlarms: [(id: String, label: String, detail: String)] = []
}

package final class Evaluator {
    package let scanner: ParallelScanner
    package let options: EvalOptions
    private let labelCategories: [String: Set<Int>]
    /// The category a label means first: the one that lists it earliest among its labels. A miss of
    /// a label that several categories accept is charged to this one.
    private let primaryCategory: [String: Int]
    package private(set) var report = EvalReport()

    package init(scanner: ParallelScanner, options: EvalOptions) {
        self.scanner = scanner
        self.options = options
        var map: [String: Set<Int>] = [:]
        var primary: [String: (position: Int, category: Int)] = [:]
        for (i, c) in scanner.rules.categories.enumerated() {
            for (position, l) in (c.labels + [c.id]).enumerated() {
                map[l, default: []].insert(i)
                if let p = primary[l], p.position <= position { continue }
                primary[l] = (position, i)
            }
        }
        labelCategories = map
        primaryCategory = primary.mapValues(\.category)
        for l in Level.allCases where l != .none { report.byThreshold[l] = Confusion() }
    }

    /// Which categories a label means: [] for benign, nil when it maps to nothing.
    package func categories(forLabel label: String) -> Set<Int>? {
        if options.benignLabels.contains(label) { return [] }
        return labelCategories[label]
    }

    /// Which categories a record's label means, and the label it is reported under. A plain
    /// "fraud" label (`scam`) takes its kind from the category field: a category's label, or
    /// when that maps to nothing, any category (the record is reported under the field's value).
    func categories(for record: Record) -> (categories: Set<Int>, label: String)? {
        let label = record.label ?? ""
        if !options.benignLabels.contains(label), labelCategories[label] == nil, options.fraudLabels.contains(label) {
            guard let kind = record.passthroughString(options.categoryField), !kind.isEmpty else { return (allCategories, label) }
            return (labelCategories[kind] ?? allCategories, kind)
        }
        return categories(forLabel: label).map { ($0, label) }
    }

    private var allCategories: Set<Int> { Set(scanner.rules.categories.indices) }

    package func add(_ records: [Record]) {
        var known: [(Record, Set<Int>, String)] = []
        for r in records {
            guard let (cats, label) = categories(for: r) else {
                let label = r.label ?? ""
                report.unknownLabels[label.isEmpty ? "(no label)" : label, default: 0] += 1
                continue
            }
            known.append((r, cats, label))
        }
        let verdicts = scanner.screen(known.map(\.0))
        let rules = scanner.rules
        report.groupField = options.groupBy
        for ((record, cats, label), v) in zip(known, verdicts) {
            let isFraud = !cats.isEmpty
            report.records += 1
            if isFraud { report.fraud += 1 } else { report.benign += 1 }
            for level in [Level.low, .medium, .high] {
                let flagged = v.level >= level
                switch (isFraud, flagged) {
                case (true, true): report.byThreshold[level]!.tp += 1
                case (true, false): report.byThreshold[level]!.fn += 1
                case (false, true): report.byThreshold[level]!.fp += 1
                case (false, false): report.byThreshold[level]!.tn += 1
                }
            }
            let flagged = v.level >= .medium
            if let field = options.groupBy {
                let key = (field == options.labelField ? record.label : record.passthroughString(field)) ?? "(none)"
                var g = report.groups[key] ?? GroupStats()
                if isFraud { g.fraud += 1; if flagged { g.fraudFlagged += 1 } } else { g.benign += 1; if flagged { g.benignFlagged += 1 } }
                report.groups[key] = g
            }
            let predicted = flagged ? v.category ?? "?" : "-"
            report.confusion[label, default: [:]][predicted, default: 0] += 1
            let right = flagged && v.categoryIndex.map { cats.contains($0) } == true
            if isFraud {
                var row = report.perLabel[label] ?? (0, 0, 0)
                row.total += 1
                if flagged { row.flagged += 1 }
                if right { row.rightCategory += 1 }
                report.perLabel[label] = row
            }
            // Per category: a predicted main category is right when the label means it.
            if flagged, let c = v.categoryIndex {
                let id = rules.categories[c].id
                if cats.contains(c) { report.perCategory[id, default: Confusion()].tp += 1 } else { report.perCategory[id, default: Confusion()].fp += 1 }
            }
            // A label may mean several categories (a coarse dataset taxonomy); a miss is charged to its primary one.
            if isFraud, !right, let c = primaryCategory[label] ?? cats.min() {
                report.perCategory[rules.categories[c].id, default: Confusion()].fn += 1
            }
            for h in v.hits {
                let id = h.rule
                if isFraud { report.perRule[id, default: RuleStats()].fraudHits += 1 } else { report.perRule[id, default: RuleStats()].benignHits += 1 }
            }
            if record.isCall && isFraud { addCall(record, v) }
            let detail = { () -> String in
                let text = Highlighter(style: .brackets).mark(record: VerdictPrinter.forTerminal(record), hits: v.hits)
                    .replacingOccurrences(of: "\n", with: " / ")
                let hits = v.hits.map { "\($0.rule)(\($0.score))" }.joined(separator: " ")
                return "score \(v.score) \(v.level) → \(predicted)  [\(hits)]  \(String(text.prefix(160)))"
            }
            if isFraud && !right && report.misses.count < options.showErrors { report.misses.append((record.id, label, detail())) }
            if !isFraud && flagged && report.falseAlarms.count < options.showErrors { report.falseAlarms.append((record.id, label, detail())) }
        }
    }

    private func addCall(_ record: Record, _ v: Verdict) {
        report.calls.fraudCalls += 1
        let moneyTurn = v.firstMoneyRequestTurn
        if moneyTurn != nil { report.calls.withMoneyRequest += 1 }
        guard let w = v.firstWarningTurn else { return }
        report.calls.warned += 1
        report.calls.warningPositionSum += Double(w + 1) / Double(record.turns.count)
        if let m = moneyTurn, w < m { report.calls.warnedBeforeMoneyRequest += 1 }
    }
}
