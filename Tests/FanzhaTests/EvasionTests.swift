import Foundation
import Testing
@testable import Fanzha

// Issue 18, item 4: the evasion suite. Every corpus scam that the bundled rules flag high (every
// category, messages and calls) is rewritten the ways scam senders write around keyword filters;
// the verdict must stay at medium or above for at least 95% of the (example, transformation)
// pairs. Benign corpus texts under the same rewrites must stay below medium as often as before.
//
// The per-transformation table in docs/EVASION.md comes from this suite:
//   FANZHA_EVASION_TABLE=/tmp/table.md FANZHA_EVASION_DUMP=/tmp/evasion swift test --filter EvasionSuite
// writes it (the test prints it as well) and, with FANZHA_EVASION_DUMP, the rewritten records as
// JSON Lines, one file per transformation, which scripts/evasion_compare.py scores with any build.


struct Evasion: Sendable {
    let name: String
    let rewrite: @Sendable (String, inout SplitMix64) -> String

    static func isHan(_ s: Unicode.Scalar) -> Bool { (0x4E00...0x9FFF).contains(s.value) || (0x3400...0x4DBF).contains(s.value) }

    /// Inserts `filler()` between every two adjacent Han characters.
    static func between(_ name: String, _ filler: @escaping @Sendable (inout SplitMix64) -> String) -> Evasion {
        Evasion(name: name) { text, rng in
            let s = Array(text.unicodeScalars)
            var out = ""
            for (i, c) in s.enumerated() {
                out.unicodeScalars.append(c)
                if i + 1 < s.count, isHan(c), isHan(s[i + 1]) { out += filler(&rng) }
            }
            return out
        }
    }

    /// Replaces every listed word with one of its variants that `accept` takes (longest words first).
    static func substitute(_ name: String, _ dictionary: VariantDictionary, _ accept: @escaping @Sendable (String) -> Bool) -> Evasion {
        let pairs: [(String, [String])] = dictionary.entries.compactMap { k, vs in
            let ok = vs.filter(accept)
            return ok.isEmpty || !k.unicodeScalars.allSatisfy(isHan) ? nil : (k, ok)
        }.sorted { $0.0.count != $1.0.count ? $0.0.count > $1.0.count : $0.0 < $1.0 }
        return Evasion(name: name) { text, rng in
            var t = text
            for (k, vs) in pairs where t.contains(k) {
                t = t.replacingOccurrences(of: k, with: vs[Int(rng.next() % UInt64(vs.count))])
            }
            return t
        }
    }

    static let cyrillic: [Character: [String]] = [
        "a": ["а", "α"], "c": ["с"], "e": ["е", "ε"], "o": ["о", "ο"], "p": ["р", "ρ"], "x": ["х", "χ"], "y": ["у"],
        "A": ["А", "Α"], "B": ["В", "Β"], "C": ["С"], "E": ["Е", "Ε"], "H": ["Н", "Η"], "K": ["К", "Κ"], "M": ["М", "Μ"],
        "O": ["О", "Ο"], "P": ["Р", "Ρ"], "T": ["Т", "Τ"], "X": ["Х", "Χ"], "i": ["і"], "I": ["І", "Ι"], "s": ["ѕ"], "j": ["ј"],
    ]

    static func all(_ dictionary: VariantDictionary) -> [Evasion] {
        func pick(_ xs: [String]) -> @Sendable (inout SplitMix64) -> String { { rng in xs[Int(rng.next() % UInt64(xs.count))] } }
        func fixed(_ x: String) -> @Sendable (inout SplitMix64) -> String { { _ in x } }
        let basic: [Evasion] = [
            between("emoji and hearts", pick(["❤", "❤️", "♥", "🔥", "👍🏻", "⭐", "👨‍👩‍👧", "✨"])),
            between("口 between characters", fixed("口")),
            between("；", fixed("；")),
            between("：", fixed("：")),
            between("!", fixed("!")),
            between("！", fixed("！")),
            between("。", fixed("。")),
            between("#", fixed("#")),
            between("^", fixed("^")),
            between("x", fixed("x")),
            between("newline", fixed("\n")),
            between("U+0301 combining accent", fixed("\u{301}")),
            between("U+2800 braille blank", fixed("\u{2800}")),
            Evasion(name: "「」 【】 () around characters") { text, rng in
                // Every second Han character (on average) in a pair of brackets: 安「全」账(户).
                let pairs = [("「", "」"), ("(", ")"), ("【", "】"), ("（", "）")]
                var out = ""
                for c in text.unicodeScalars {
                    if isHan(c), rng.next() % 2 == 0 {
                        let p = pairs[Int(rng.next() % UInt64(pairs.count))]
                        out += p.0
                        out.unicodeScalars.append(c)
                        out += p.1
                    } else {
                        out.unicodeScalars.append(c)
                    }
                }
                return out
            },
            Evasion(name: "vertical text") { text, _ in
                // One character a line; Latin words and numbers stay whole.
                var out = "", prevAlnum = false
                for c in text.unicodeScalars {
                    let alnum = c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))
                    if !out.isEmpty && !(alnum && prevAlnum) { out += "\n" }
                    out.unicodeScalars.append(c)
                    prevAlnum = alnum
                }
                return out
            },
            Evasion(name: "split across lines") { text, rng in
                var s = Array(text.unicodeScalars), cuts = 0
                let places = s.indices.dropLast().filter { isHan(s[$0]) && isHan(s[$0 + 1]) }
                for i in places.shuffled(using: &rng).prefix(3).sorted(by: >) {
                    s.insert("\n", at: i + 1)
                    cuts += 1
                }
                var out = ""
                out.unicodeScalars.append(contentsOf: s)
                return out
            },
            substitute("pinyin and initials", dictionary) { $0.unicodeScalars.contains { $0.isASCII } },
            substitute("homophones and near-shapes", dictionary) { $0.unicodeScalars.allSatisfy(isHan) },
            Evasion(name: "Cyrillic/Greek look-alikes") { text, rng in
                String(text.map { c -> String in
                    guard let options = cyrillic[c] else { return String(c) }
                    return options[Int(rng.next() % UInt64(options.count))]
                }.joined())
            },
            Evasion(name: "full-width Latin and digits") { text, _ in
                var out = ""
                for c in text.unicodeScalars {
                    if c.value >= 0x21 && c.value <= 0x7E, c.properties.isAlphabetic || ("0"..."9").contains(c) {
                        out.unicodeScalars.append(Unicode.Scalar(c.value + 0xFEE0)!)
                    } else {
                        out.unicodeScalars.append(c)
                    }
                }
                return out
            },
        ]
        // Combinations: two or three of the above in a row, chosen with a fixed seed per example.
        let combined = Evasion(name: "combinations (2–3, fixed seed)") { text, rng in
            var t = text
            let k = 2 + Int(rng.next() % 2)
            for e in basic.shuffled(using: &rng).prefix(k) { t = e.rewrite(t, &rng) }
            return t
        }
        return basic + [combined, combined, combined].enumerated().map { i, e in
            Evasion(name: e.name) { text, rng in
                var r = SplitMix64(seed: rng.next() &+ UInt64(i))
                return e.rewrite(text, &r)
            }
        }
    }
}

@Suite(.serialized) struct EvasionSuite {
    static let minimumKeptRate = 0.95

    func rewrite(_ r: Record, _ e: Evasion, seed: UInt64) -> Record {
        var rng = SplitMix64(seed: seed)
        var out = r
        out.turns = r.turns.map { t in
            var t = t
            t.text = e.rewrite(t.text, &rng)
            return t
        }
        return out
    }

    @Test func scamsStayFlaggedAndBenignTextsStayQuiet() throws {
        let rules = try loadBundledRuleSet()
        let scanner = try ParallelScanner(matcher: CompiledMatcher(rules), threads: 2)
        let records = try loadCorpusRecords()
        let before = scanner.screen(records)
        let scams = zip(records, before).filter { $0.0.label != "benign" && $0.1.level == .high }.map(\.0)
        let benign = records.filter { $0.label == "benign" }
        let benignQuietBefore = zip(records, before).filter { $0.0.label == "benign" && $0.1.level < .medium }.count
        #expect(Set(scams.compactMap(\.label)).count >= 15, "every category has examples at high")

        let evasions = Evasion.all(rules.variants)
        var rows: [String] = []
        var keptTotal = 0, pairsTotal = 0, changedTotal = 0
        var byCategory: [String: (kept: Int, pairs: Int)] = [:]
        var lost: [String] = []
        var benignFlips: [String] = []
        // Combination rows share a name: merge them.
        var merged: [String: (pairs: Int, kept: Int, changed: Int, quiet: Int, benign: Int)] = [:]
        var order: [String] = []
        for (k, e) in evasions.enumerated() {
            let seed = UInt64(2026 + k)
            let rewritten = scams.enumerated().map { rewrite($0.1, e, seed: seed &+ UInt64($0.0)) }
            let verdicts = scanner.screen(rewritten)
            var kept = 0, changed = 0
            for (i, v) in verdicts.enumerated() {
                let label = scams[i].label ?? "?"
                if rewritten[i].turns.map(\.text) != scams[i].turns.map(\.text) { changed += 1 }
                if v.level >= .medium {
                    kept += 1
                } else if lost.count < 40 {
                    lost.append("\(e.name): \(scams[i].id) \(v.level) \(v.score)")
                }
                byCategory[label, default: (0, 0)].pairs += 1
                if v.level >= .medium { byCategory[label, default: (0, 0)].kept += 1 }
            }
            let benignRewritten = benign.enumerated().map { rewrite($0.1, e, seed: seed &+ 7919 &+ UInt64($0.0)) }
            if let dir = ProcessInfo.processInfo.environment["FANZHA_EVASION_DUMP"] {
                // The rewritten records as JSON Lines, to compare other builds with `fanzha scan`.
                var lines = ""
                for r in rewritten + benignRewritten {
                    var o: [String: Any] = ["id": r.id, "label": r.label ?? "", "evasion": e.name]
                    if r.isCall { o["turns"] = r.turns.map { ["speaker": $0.speaker, "text": $0.text] } } else { o["text"] = r.turns[0].text }
                    lines += String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) + "\n"
                }
                try lines.write(toFile: "\(dir)/\(String(format: "%02d", k)).jsonl", atomically: true, encoding: .utf8)
            }
            let benignVerdicts = scanner.screen(benignRewritten)
            let quiet = benignVerdicts.filter { $0.level < .medium }.count
            for (i, v) in benignVerdicts.enumerated() where v.level >= .medium && before[records.firstIndex { $0.id == benign[i].id }!].level < .medium {
                benignFlips.append("\(e.name): \(benign[i].id) \(v.level) \(v.hits.map { $0.rule }) \(benignRewritten[i].turns.map(\.text).joined(separator: " | ").prefix(160))")
            }
            if merged[e.name] == nil { order.append(e.name) }
            let m = merged[e.name] ?? (0, 0, 0, 0, 0)
            merged[e.name] = (m.pairs + scams.count, m.kept + kept, m.changed + changed, m.quiet + quiet, m.benign + benign.count)
            keptTotal += kept
            pairsTotal += scams.count
            changedTotal += changed
        }
        for name in order {
            let m = merged[name]!
            rows.append("| \(name) | \(m.pairs) | \(m.changed) | \(m.kept) | \(String(format: "%.3f", Double(m.kept) / Double(m.pairs))) | \(m.quiet) / \(m.benign) |")
        }
        let rate = Double(keptTotal) / Double(pairsTotal)
        let quietAll = merged.values.reduce(0) { $0 + $1.quiet }, benignAll = merged.values.reduce(0) { $0 + $1.benign }
        let categories = Set(scams.compactMap(\.label)).count
        let quietRate = Double(benignQuietBefore) / Double(benign.count)
        var table = """
        Scam examples at high before the rewrite: \(scams.count) (messages and calls, \(categories) categories); \
        benign texts: \(benign.count), \(benignQuietBefore) below medium before any rewrite (\(String(format: "%.3f", quietRate))).

        | transformation | pairs | rewritten | still ≥ medium | rate | benign below medium |
        |---|---:|---:|---:|---:|---:|
        \(rows.joined(separator: "\n"))
        | **all** | \(pairsTotal) | \(changedTotal) | \(keptTotal) | **\(String(format: "%.3f", rate))** | \(quietAll) / \(benignAll) (\(String(format: "%.3f", Double(quietAll) / Double(benignAll)))) |

        Per category (all transformations):

        | category | pairs | still ≥ medium | rate |
        |---|---:|---:|---:|

        """
        for (c, v) in byCategory.sorted(by: { $0.key < $1.key }) {
            table += "| \(c) | \(v.pairs) | \(v.kept) | \(String(format: "%.3f", Double(v.kept) / Double(v.pairs))) |\n"
        }
        print(table)
        if let path = ProcessInfo.processInfo.environment["FANZHA_EVASION_TABLE"] {
            try table.write(toFile: path, atomically: true, encoding: .utf8)
        }
        if !benignFlips.isEmpty { print("Benign texts pushed to medium:\n" + benignFlips.joined(separator: "\n")) }
        #expect(rate >= Self.minimumKeptRate, "\(keptTotal) of \(pairsTotal) pairs still at medium or above; lost: \(lost.joined(separator: "; "))")
        // Benign texts below medium as often as before: over all rewrites within one point, and
        // within three points for each (docs/EVASION.md says which benign texts still move: those
        // whose reassurance is a regex over a sender header that the rewrite broke up).
        for name in order {
            let m = merged[name]!
            #expect(Double(m.quiet) / Double(m.benign) >= quietRate - 0.03,
                    "\(name): \(m.quiet) of \(m.benign) benign texts below medium, before \(benignQuietBefore) of \(benign.count)")
        }
        #expect(Double(quietAll) / Double(benignAll) >= quietRate - 0.01, "\(quietAll) of \(benignAll) benign texts below medium")
    }
}
