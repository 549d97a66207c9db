/// Runs every rule's embedded `hit` and `miss` examples: the rules' own tests.
package struct ExampleFailure: Sendable {
    package let rule: String
    package let example: CompiledExample
    package let expectedHit: Bool
    /// Why: what fired on the example, and what the whole rule set scored.
    package let detail: String
}

package struct ExampleReport: Sendable {
    package var passed = 0
    package var failures: [ExampleFailure] = []
}

package enum ExampleRunner {
    package static func run(_ rules: RuleSet, screener: Screener) -> ExampleReport {
        var report = ExampleReport()
        for (i, rule) in rules.rules.enumerated() {
            for (examples, expected) in [(rule.hits, true), (rule.misses, false)] {
                for ex in examples {
                    let record: Record
                    if ex.isCall, case .success(let turns) = CallTranscript.parse(ex.text) {
                        record = Record(id: rule.id, turns: turns)
                    } else {
                        record = Record(id: rule.id, text: ex.text)
                    }
                    let fired = screener.fires(rule: i, on: record)
                    if (fired != nil) == expected {
                        report.passed += 1
                        continue
                    }
                    let verdict = screener.screen(record)
                    let others = verdict.hits.map { "\($0.rule) (\($0.spans.map(\.text).joined(separator: ", ")))" }
                    let evidence = (fired ?? []).map { "「\($0.text)」" }.joined(separator: " ")
                    var detail = expected ? "did not fire" : evidence.isEmpty ? "fired with no evidence (through `not` or a count of zero)" : "fired on " + evidence
                    detail += "; the rule set scored \(verdict.score) (\(verdict.level))"
                    if !others.isEmpty { detail += " with " + others.joined(separator: "; ") }
                    report.failures.append(ExampleFailure(rule: rule.id, example: ex, expectedHit: expected, detail: detail))
                }
            }
        }
        return report
    }
}

extension Screener {
    /// Whether one rule (private ones too) fires on a record, with its evidence, reading what it
    /// reads in a scan (a positive rule does not read framed text). A frame "fires" when it
    /// frames part of the record; its evidence is the framed text.
    package func fires(rule r: Int, on record: Record) -> [EvidenceSpan]? {
        let p = prepare(record)
        var e = Evaluation(screener: self, prepared: p, turnLimit: p.turnCount)
        if matcher.program.frameRules.count > 0 { e.collectCandidates(); e.findFrames() }
        if rules.rules[r].isFrame {
            let framed = e.reportedFrames().filter { $0.ruleIndex == r }
            e.release()
            if framed.isEmpty { return nil }
            return framed.map { f in
                let text = record.turns[f.turn ?? 0].text
                let scalars = Array(text.unicodeScalars)
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[min(f.start, scalars.count)..<min(f.end, scalars.count)])
                return EvidenceSpan(turn: f.turn, start: f.start, end: f.end, text: String(s))
            }
        }
        // A negative rule's examples are read as in a message without an appeal of its own.
        e.blindness = matcher.program.blindness(ofRule: r, strong: false)
        let occ = e.evaluate(matcher.program.roots[r], scope: [])
        let spans = withExtendedLifetime(p) { occ.isEmpty ? nil : e.spans(of: occ) }
        e.release()
        return spans
    }
}
