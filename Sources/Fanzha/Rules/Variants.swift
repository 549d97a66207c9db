import Foundation
import FanzhaText

/// The variant dictionary (`rules/variants.txt`, issue 18): spellings that scam senders use to
/// write around keyword filters (pinyin, initials, homophones, near-shapes), each listed under the
/// word it stands for. At compile time every rule literal and term also gets its variant spellings
/// as alternatives of the same atom, so `"刷单"` finds `刷蛋`, `sd` and `shua dan`, and the
/// evidence span is the variant as written.
///
/// The file: one entry a line, `WORD = variant, variant, …` (commas `,` or `，`), `#` comments.
/// Both sides are normalised like rule literals. Inside a literal every occurrence of a listed
/// word may be replaced (`公安局` → `ga局`, `攻安局`), at most two replacements at once and at most
/// `maxVariantsPerWord` spellings per literal.
///
/// `WORD != false friend, …` lists words that begin with one of WORD's variants but mean something
/// else (`刷单 != sd卡`: an SD card is not 刷单). Where a false friend occurs, the variant at its start
/// is not evidence: the prefilter drops that hit (`Screener.append`), and a scan without the
/// prefilter matches the variant only where the rest of the false friend does not follow it.
package struct VariantDictionary: Sendable {
    /// Normalised word → its normalised variants, in file order.
    package let entries: [String: [String]]
    /// Normalised false friend → the variant it begins with (the longest of its word's variants).
    package let falseFriends: [String: String]
    /// The listed words by their first scalar, longest first.
    private let byFirst: [Unicode.Scalar: [(key: [Unicode.Scalar], variants: [String])]]
    package static let fileName = "variants.txt"
    package static let maxVariantsPerWord = 48
    package static let maxReplacements = 2

    package static let empty = VariantDictionary(entries: [:])

    init(entries: [String: [String]], falseFriends: [String: String] = [:]) {
        self.entries = entries
        self.falseFriends = falseFriends
        var by: [Unicode.Scalar: [(key: [Unicode.Scalar], variants: [String])]] = [:]
        for (k, vs) in entries.sorted(by: { $0.key < $1.key }) {
            let s = Array(k.unicodeScalars)
            if let f = s.first { by[f, default: []].append((s, vs)) }
        }
        for k in by.keys { by[k]!.sort { $0.key.count > $1.key.count } }
        byFirst = by
    }

    package var isEmpty: Bool { entries.isEmpty }

    /// How many variant spellings the dictionary lists.
    package var count: Int { entries.values.reduce(0) { $0 + $1.count } }

    /// Parses the file. Problems are `syntax` errors (a line without `=`) and `empty-literal`
    /// errors (a side that normalisation leaves empty), at the line in `file`.
    static func parse(_ source: SourceFile, file index: Int, normalise: (String) -> String) -> (VariantDictionary, [Diagnostic]) {
        var entries: [String: [String]] = [:]
        var falseFriendLines: [(word: String, falseFriends: [String], range: SourceRange)] = []
        var diagnostics: [Diagnostic] = []
        let text = String(String.UnicodeScalarView(source.scalars))
        var offset = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let lineLength = rawLine.unicodeScalars.count
            defer { offset += lineLength + 1 }
            var line = String(rawLine)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let range = SourceRange(file: index, start: offset, end: offset + max(1, lineLength))
            guard let eq = line.firstIndex(of: "=") else {
                diagnostics.append(Diagnostic(.syntax, "a variant line is `WORD = variant, variant, …`", at: range,
                                              help: "comments start with #"))
                continue
            }
            let negated = eq > line.startIndex && line[line.index(before: eq)] == "!"
            let word = normalise(line[..<(negated ? line.index(before: eq) : eq)].trimmingCharacters(in: .whitespaces))
            let variants = line[line.index(after: eq)...].split(whereSeparator: { $0 == "," || $0 == "，" })
                .map { normalise($0.trimmingCharacters(in: .whitespaces)) }
            guard !word.isEmpty, !variants.contains(where: \.isEmpty) else {
                diagnostics.append(Diagnostic(.emptyLiteral, "a word or variant on this line is empty after normalisation", at: range))
                continue
            }
            if negated {
                falseFriendLines.append((word, variants, range))
                continue
            }
            for v in variants where v != word && !(entries[word]?.contains(v) ?? false) {
                entries[word, default: []].append(v)
            }
        }
        // A false friend must begin with one of its word's variants (the longest), and be longer.
        var falseFriends: [String: String] = [:]
        for (word, list, range) in falseFriendLines {
            for l in list {
                let variant = (entries[word] ?? []).filter { l.utf8.count > $0.utf8.count && l.utf8.starts(with: $0.utf8) }
                    .max { $0.utf8.count < $1.utf8.count }
                guard let variant else {
                    diagnostics.append(Diagnostic(.syntax, "false friend `\(l)` does not begin with a variant of `\(word)` in this file", at: range,
                                                  help: "`WORD != false friend` names words that begin with one of WORD's variants but mean something else"))
                    continue
                }
                falseFriends[l] = variant
            }
        }
        return (VariantDictionary(entries: entries, falseFriends: falseFriends), diagnostics)
    }

    /// The variant spellings of a normalised word (not the word itself), each with the word
    /// boundaries it needs: bit 1 when it starts with up to four Latin letters where the word did
    /// not (so `sd` does not match inside `usd`), bit 2 likewise at its end.
    package func expand(_ word: String) -> [(text: String, boundary: UInt8)] {
        guard !entries.isEmpty else { return [] }
        let w = Array(word.unicodeScalars)
        // Occurrences of listed words: (start, end, variants).
        var occ: [(Int, Int, [String])] = []
        for i in w.indices {
            guard let keys = byFirst[w[i]] else { continue }
            for (k, vs) in keys where i + k.count <= w.count && w[i..<(i + k.count)].elementsEqual(k) {
                occ.append((i, i + k.count, vs))
            }
        }
        guard !occ.isEmpty else { return [] }
        var out: [String] = []
        var seen: Set<String> = [word]
        // Depth-first: each occurrence kept or replaced, replacements never overlapping, with
        // exactly `target` replacements. One replacement first, then two: when the spellings
        // exceed the cap, a whole word's own variants (安全账户 = aqzh, safe account) are kept
        // before the products of its parts' (安全 × 账户) use it up.
        func visit(_ o: Int, _ pos: Int, _ prefix: String, _ replaced: Int, _ target: Int) {
            if out.count >= VariantDictionary.maxVariantsPerWord { return }
            if o == occ.count {
                guard replaced == target else { return }
                let s = prefix + String(String.UnicodeScalarView(w[pos...]))
                if seen.insert(s).inserted { out.append(s) }
                return
            }
            let (start, end, variants) = occ[o]
            // Keep this occurrence's text.
            visit(o + 1, pos, prefix, replaced, target)
            guard start >= pos, replaced < target else { return }
            let head = prefix + String(String.UnicodeScalarView(w[pos..<start]))
            for v in variants { visit(o + 1, end, head + v, replaced + 1, target) }
        }
        for target in 1...VariantDictionary.maxReplacements { visit(0, 0, "", 0, target) }
        func latin(_ s: Unicode.Scalar?) -> Bool { s.map { ($0.value >= 0x61 && $0.value <= 0x7A) } ?? false }
        // Only a short Latin edge (initials, one syllable: up to four letters) needs the boundary;
        // full pinyin (`zhanghu`, `caipiao`) may run into the next word, as senders write it.
        func short<S: Sequence>(_ s: S) -> Bool where S.Element == Unicode.Scalar { s.prefix(5).prefix { latin($0) }.count <= 4 }
        return out.map { v in
            var b: UInt8 = 0
            let u = Array(v.unicodeScalars)
            if latin(u.first), !latin(w.first), short(u) { b |= 1 }
            if latin(u.last), !latin(w.last), short(u.reversed()) { b |= 2 }
            return (v, b)
        }
    }
}

