import FanzhaPCRE
import FanzhaText

/// Applies a compiled rule set to records: normalise → prefilter → match → score → decide.
///
/// One `Scanner` per worker thread: it owns the normaliser (OpenCC handle) and the PCRE2 match
/// scratch. The rule set and the automaton are shared read-only.
public final class Scanner {
    public let rules: RuleSet
    public let matcher: CompiledMatcher
    public var usePrefilter: Bool
    private let normaliser: Normaliser
    private let scratch: MatchScratch

    public init(matcher: CompiledMatcher, usePrefilter: Bool = true, matchLimit: UInt32 = MatchScratch.defaultMatchLimit) throws {
        self.rules = matcher.rules
        self.matcher = matcher
        self.usePrefilter = usePrefilter
        self.normaliser = try Normaliser()
        self.scratch = MatchScratch(matchLimit: matchLimit)
    }

    public convenience init(rules: RuleSet, usePrefilter: Bool = true) throws {
        try self.init(matcher: CompiledMatcher(rules), usePrefilter: usePrefilter)
    }

    /// A record's normalised turns and literal hits, kept so a live call can grow turn by turn.
    public final class Prepared {
        public let id: String
        public let isCall: Bool
        var turns: [Turn] = []
        var texts: [NormalisedText] = []
        /// Per turn: (word id, start, end) byte offsets of every dictionary word found.
        var wordHits: [[(Int32, Int32, Int32)]] = []
        init(id: String, isCall: Bool) { self.id = id; self.isCall = isCall }
        public var turnCount: Int { turns.count }
    }

    public func prepare(_ record: Record) -> Prepared {
        let p = Prepared(id: record.id, isCall: record.isCall)
        for t in record.turns { append(t, to: p) }
        return p
    }

    public func append(_ turn: Turn, to p: Prepared) {
        let n = normaliser.normalise(turn.text)
        p.turns.append(turn)
        p.texts.append(n)
        var hits: [(Int32, Int32, Int32)] = []
        if usePrefilter {
            n.bytes.withUnsafeBufferPointer { buf in
                matcher.automaton.forEachMatch(in: buf) { w, s, e in hits.append((Int32(w), Int32(s), Int32(e))) }
            }
        }
        p.wordHits.append(hits)
    }

    public func scan(_ record: Record) -> Verdict {
        let p = prepare(record)
        return evaluate(p, firstWarning: record.isCall)
    }

    /// The verdict on the first `turnLimit` turns (all by default). With `firstWarning`, also finds
    /// the first turn at which the level reached medium, by evaluating each prefix: a rule's
    /// outcome on a prefix is exactly what a live screener would have seen then.
    public func evaluate(_ p: Prepared, turnLimit: Int? = nil, firstWarning: Bool = false) -> Verdict {
        let limit = min(turnLimit ?? p.turns.count, p.turns.count)
        var warningTurn: Int?
        if firstWarning, limit > 0 {
            for k in 1...limit {
                var e = Evaluation(scanner: self, prepared: p, turnLimit: k)
                if e.verdict(firstWarningTurn: nil).level >= .medium { warningTurn = k - 1; break }
            }
        }
        var e = Evaluation(scanner: self, prepared: p, turnLimit: limit)
        return e.verdict(firstWarningTurn: warningTurn)
    }

    // MARK: - Evaluation of one record

    /// A place in one turn, in normalised bytes; turn -1 means "true, but nowhere" (from `not`).
    struct Occurrence {
        var turn: Int32
        var start: Int32
        var end: Int32
        var evidence: [Evidence]
        static let nowhere = Occurrence(turn: -1, start: 0, end: 0, evidence: [])
    }
    struct Evidence: Hashable { var turn: Int32; var start: Int32; var end: Int32 }

    /// Occurrence lists are capped: enough for evidence and counts, never a combinatorial blow-up.
    static let occurrenceCap = 256

    struct Evaluation {
        let scanner: Scanner
        let prepared: Prepared
        let turnLimit: Int
        let rules: RuleSet
        var atomCache: [Int: [Occurrence]] = [:]
        var ruleMemo: [Int: [Occurrence]] = [:]
        var errors: [String] = []
        var failedAtoms = Set<Int>()
        var currentRule = 0
        /// Word ids present (prefilter on): which rules can possibly match.
        var present: [Bool]

        init(scanner: Scanner, prepared: Prepared, turnLimit: Int) {
            self.scanner = scanner
            self.prepared = prepared
            self.turnLimit = turnLimit
            self.rules = scanner.rules
            present = [Bool](repeating: false, count: scanner.rules.words.count)
            if scanner.usePrefilter {
                for t in 0..<turnLimit { for h in prepared.wordHits[t] { present[Int(h.0)] = true } }
            }
        }

        mutating func verdict(firstWarningTurn: Int?) -> Verdict {
            var hits: [RuleHit] = []
            var score = 0
            var categoryScores = [Int](repeating: 0, count: rules.categories.count)
            var categoryHit = [Bool](repeating: false, count: rules.categories.count)
            for (i, rule) in rules.rules.enumerated() where !rule.isPrivate {
                if scanner.usePrefilter, !rule.requirement.holds({ present[$0] }) { continue }
                currentRule = i
                let occ = evaluate(rule.condition, mask: 0)
                guard !occ.isEmpty else { continue }
                hits.append(RuleHit(rule: i, spans: spans(of: occ)))
                score += rule.score
                if let c = rule.category {
                    categoryScores[c] += rule.score
                    if rule.score > 0 { categoryHit[c] = true }
                }
            }
            let level = rules.levels.level(for: score)
            let ranked = categoryScores.indices.filter { categoryHit[$0] && categoryScores[$0] > 0 }
                .sorted { categoryScores[$0] != categoryScores[$1] ? categoryScores[$0] > categoryScores[$1] : $0 < $1 }
            let main = ranked.first
            let category = main.map { rules.categories[$0] }
            return Verdict(id: prepared.id, level: level, score: score, category: main,
                           categories: ranked.map { ($0, categoryScores[$0]) }, hits: hits, errors: errors,
                           firstWarningTurn: firstWarningTurn,
                           advice: level > .none ? (category?.advice ?? Scanner.genericAdvice) : nil,
                           referral: Referral.forLevel(level, script: category?.script ?? Scanner.genericScript))
        }

        /// Evidence spans in the original text, merged and in order.
        func spans(of occ: [Occurrence]) -> [EvidenceSpan] {
            var set = Set<Evidence>()
            for o in occ { for e in o.evidence { set.insert(e) } }
            let sorted = set.sorted { ($0.turn, $0.start, $0.end) < ($1.turn, $1.start, $1.end) }
            // Merge overlapping evidence within a turn.
            var merged: [Evidence] = []
            for e in sorted {
                if var last = merged.last, last.turn == e.turn, e.start <= last.end {
                    last.end = max(last.end, e.end)
                    merged[merged.count - 1] = last
                } else {
                    merged.append(e)
                }
            }
            return merged.map { e in
                let t = Int(e.turn)
                let r = prepared.texts[t].originalRange(ofBytes: Int(e.start)..<Int(e.end))
                return EvidenceSpan(turn: prepared.isCall ? t : nil, start: r.lowerBound, end: r.upperBound,
                                    text: Scanner.substring(prepared.turns[t].text, r))
            }
        }

        func inMask(_ turn: Int, _ mask: Int) -> Bool {
            switch mask {
            case 0: return true
            case 1: return prepared.turns[turn].role == .caller
            case 2: return prepared.turns[turn].role == .callee
            default: return false
            }
        }

        mutating func atomOccurrences(_ a: Int) -> [Occurrence] {
            if let cached = atomCache[a] { return cached }
            let atom = rules.atoms[a]
            var result: [Occurrence] = []
            if atom.kind == .words && scanner.usePrefilter {
                // The automaton already found every word: keep this atom's, leftmost-longest, non-overlapping.
                let mine = Set(atom.wordIDs)
                for t in 0..<turnLimit {
                    var found = prepared.wordHits[t].filter { mine.contains(Int($0.0)) }
                    guard !found.isEmpty else { continue }
                    found.sort { $0.1 != $1.1 ? $0.1 < $1.1 : $0.2 > $1.2 }
                    var end: Int32 = -1
                    for h in found where h.1 >= end {
                        result.append(Occurrence(turn: Int32(t), start: h.1, end: h.2, evidence: [Evidence(turn: Int32(t), start: h.1, end: h.2)]))
                        end = h.2
                    }
                }
            } else {
                for t in 0..<turnLimit {
                    let text = prepared.texts[t]
                    do {
                        try text.bytes.withUnsafeBufferPointer { buf throws(MatchFailure) in
                            try atom.pattern.forEachMatch(in: buf, using: scanner.scratch) { r in
                                guard r.upperBound > r.lowerBound else { return true }
                                let (s, e) = (Int32(r.lowerBound), Int32(r.upperBound))
                                result.append(Occurrence(turn: Int32(t), start: s, end: e, evidence: [Evidence(turn: Int32(t), start: s, end: e)]))
                                return result.count < 4096
                            }
                        }
                    } catch {
                        if failedAtoms.insert(a).inserted {
                            let rule = rules.rules[currentRule].id
                            errors.append("rule \(rule): \(atom.display): \(error)" + (prepared.isCall ? " (turn \(t))" : ""))
                        }
                        break
                    }
                }
            }
            atomCache[a] = result
            return result
        }

        mutating func evaluate(_ c: Condition, mask: Int) -> [Occurrence] {
            switch c {
            case .atom(let a):
                let all = atomOccurrences(a)
                return mask == 0 ? all : all.filter { inMask(Int($0.turn), mask) }
            case .rule(let r):
                let key = r * 4 + mask
                if let m = ruleMemo[key] { return m }
                let saved = currentRule
                let result = evaluate(rules.rules[r].condition, mask: mask)
                currentRule = saved
                ruleMemo[key] = result
                return result
            case .and(let xs):
                var out: [Occurrence] = []
                for x in xs {
                    let o = evaluate(x, mask: mask)
                    if o.isEmpty { return [] }
                    out += o.prefix(Scanner.occurrenceCap)
                }
                return Array(out.prefix(Scanner.occurrenceCap))
            case .or(let xs):
                var out: [Occurrence] = []
                for x in xs { out += evaluate(x, mask: mask).prefix(Scanner.occurrenceCap) }
                return Array(out.prefix(Scanner.occurrenceCap))
            case .not(let x):
                return evaluate(x, mask: mask).isEmpty ? [.nowhere] : []
            case .atLeast(let n, let xs):
                var out: [Occurrence] = []
                var satisfied = 0
                for x in xs {
                    let o = evaluate(x, mask: mask)
                    if !o.isEmpty { satisfied += 1; out += o.prefix(Scanner.occurrenceCap) }
                }
                return satisfied >= n ? Array(out.prefix(Scanner.occurrenceCap)) : []
            case .near(let a, let b, let distance, let unit):
                let xs = evaluate(a, mask: mask).filter { $0.turn >= 0 }
                if xs.isEmpty { return [] }
                let ys = evaluate(b, mask: mask).filter { $0.turn >= 0 }
                return pairs(xs, ys) { x, y in
                    if unit == .turns { return abs(Int(x.turn) - Int(y.turn)) <= distance }
                    return x.turn == y.turn && gap(x, y) <= distance
                }
            case .then(let a, let b, let maxGap):
                let xs = evaluate(a, mask: mask).filter { $0.turn >= 0 }
                if xs.isEmpty { return [] }
                let ys = evaluate(b, mask: mask).filter { $0.turn >= 0 }
                return pairs(xs, ys) { x, y in
                    if let maxGap { return x.turn == y.turn && y.start >= x.end && gap(x, y) <= maxGap }
                    return x.turn < y.turn || (x.turn == y.turn && y.start >= x.end)
                }
            case .count(let x, let cmp, let n):
                let o = evaluate(x, mask: mask).filter { $0.turn >= 0 }
                guard cmp.holds(o.count, n) else { return [] }
                return o.isEmpty ? [.nowhere] : o
            case .scope(let speaker, let x):
                let want = speaker == .caller ? 1 : 2
                let m = mask == 0 ? want : (mask == want ? want : 3)
                return evaluate(x, mask: m)
            }
        }

        /// Characters between two occurrences in one turn (0 when they touch or overlap).
        func gap(_ x: Occurrence, _ y: Occurrence) -> Int {
            let text = prepared.texts[Int(x.turn)]
            if y.start >= x.end {
                return text.normalisedScalarOffset(ofByte: Int(y.start)) - text.normalisedScalarOffset(ofByte: Int(x.end))
            }
            if x.start >= y.end {
                return text.normalisedScalarOffset(ofByte: Int(x.start)) - text.normalisedScalarOffset(ofByte: Int(y.end))
            }
            return 0
        }

        func pairs(_ xs: [Occurrence], _ ys: [Occurrence], _ ok: (Occurrence, Occurrence) -> Bool) -> [Occurrence] {
            var out: [Occurrence] = []
            for x in xs {
                for y in ys where ok(x, y) {
                    let sameTurn = x.turn == y.turn
                    out.append(Occurrence(turn: sameTurn ? x.turn : y.turn,
                                          start: sameTurn ? min(x.start, y.start) : y.start,
                                          end: sameTurn ? max(x.end, y.end) : y.end,
                                          evidence: x.evidence + y.evidence))
                    if out.count >= Scanner.occurrenceCap { return out }
                }
            }
            return out
        }
    }

    static let genericAdvice = "这条信息有诈骗特征。不要转账汇款，不要透露验证码、银行卡号和身份证号；拿不准时拨打96110咨询，或直接拨打110。"
    static let genericScript = "您好，这里是96110反诈中心。您刚接触的信息有诈骗特征，请不要转账、不要透露验证码，有疑问可随时拨打96110。"

    /// The scalars `range` of `text`.
    static func substring(_ text: String, _ range: Range<Int>) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.index(scalars.startIndex, offsetBy: range.lowerBound, limitedBy: scalars.endIndex),
              let end = scalars.index(start, offsetBy: range.count, limitedBy: scalars.endIndex) else { return "" }
        return String(scalars[start..<end])
    }
}

/// The parts of a compiled rule set that every worker shares: the rules and the prefilter automaton.
public final class CompiledMatcher: Sendable {
    public let rules: RuleSet
    public let automaton: AhoCorasick
    public init(_ rules: RuleSet) {
        self.rules = rules
        self.automaton = AhoCorasick(words: rules.words)
    }
}
