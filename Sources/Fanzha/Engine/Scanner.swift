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
    let scratch: MatchScratch

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
        return evaluate(p, timeline: record.isCall)
    }

    /// The verdict on the first `turnLimit` turns (all by default). With `timeline` (calls), also
    /// finds the first turn after which the level was at least medium and the first turn after
    /// which a rule tagged `money_request` fired, by evaluating each prefix: a rule's outcome on a
    /// prefix is exactly what a live screener would have seen then.
    public func evaluate(_ p: Prepared, turnLimit: Int? = nil, timeline: Bool = false) -> Verdict {
        let limit = min(turnLimit ?? p.turns.count, p.turns.count)
        var warningTurn: Int?, moneyTurn: Int?
        if timeline, limit > 0 {
            let moneyRequest = rules.rules.map { $0.hasTag("money_request") }
            for k in 1...limit where warningTurn == nil || moneyTurn == nil {
                var e = Evaluation(scanner: self, prepared: p, turnLimit: k)
                let v = e.verdict(firstWarningTurn: nil, firstMoneyRequestTurn: nil)
                if warningTurn == nil, v.level >= .medium { warningTurn = k - 1 }
                if moneyTurn == nil, v.hits.contains(where: { moneyRequest[$0.rule] }) { moneyTurn = k - 1 }
            }
        }
        var e = Evaluation(scanner: self, prepared: p, turnLimit: limit)
        return e.verdict(firstWarningTurn: warningTurn, firstMoneyRequestTurn: moneyTurn)
    }

    // MARK: - Evaluation of one record

    /// A place in one turn, in normalised bytes; turn -1 means "true, but nowhere" (from `not`).
    /// Its evidence is `arena[evStart ..< evStart + evCount]` of the evaluation: plain values, no
    /// array per occurrence.
    struct Occurrence {
        var turn: Int32
        var start: Int32
        var end: Int32
        var evStart: Int32
        var evCount: Int32
        static let nowhere = Occurrence(turn: -1, start: 0, end: 0, evStart: 0, evCount: 0)
    }
    struct Evidence: Hashable { var turn: Int32; var start: Int32; var end: Int32 }

    /// Occurrence lists are capped: enough for evidence and counts, never a combinatorial blow-up.
    static let occurrenceCap = 256

    /// Per-worker buffers reused from record to record; a generation number marks what is current.
    struct Buffers {
        var generation: UInt32 = 0
        var wordStamp: [UInt32] = []
        var atomStamp: [UInt32] = []
        var atomResults: [[Occurrence]] = []
        var ruleStamp: [UInt32] = []
        var ruleResults: [[Occurrence]] = []
        var arena: [Evidence] = []
        /// Per atom, the automaton's hits of its words in this record: (turn, start, end).
        var ruleSeen: [UInt32] = []
        var candidates: [Int32] = []
        var bucketStamp: [UInt32] = []
        var buckets: [[(Int32, Int32, Int32)]] = []
    }
    var buffers = Buffers()

    struct Evaluation {
        unowned let scanner: Scanner
        let prepared: Prepared
        let turnLimit: Int
        let program: Program
        // Copied from the scanner once per evaluation, not fetched through it on every use.
        let usePrefilter: Bool
        let atoms: [Atom]
        var b: Buffers
        var errors: [String] = []
        var failedAtoms = Set<Int>()
        var currentRule = 0

        init(scanner: Scanner, prepared: Prepared, turnLimit: Int) {
            self.scanner = scanner
            self.prepared = prepared
            self.turnLimit = turnLimit
            self.program = scanner.matcher.program
            self.usePrefilter = scanner.usePrefilter
            self.atoms = scanner.rules.atoms
            b = scanner.buffers
            scanner.buffers = Buffers()
            b.generation &+= 1
            if b.generation == 0 {   // wrapped: forget every stamp
                b.generation = 1
                b.wordStamp = []; b.atomStamp = []; b.ruleStamp = []
            }
            let rules = scanner.rules
            if b.wordStamp.count != rules.words.count { b.wordStamp = [UInt32](repeating: 0, count: rules.words.count) }
            if b.atomStamp.count != rules.atoms.count {
                b.atomStamp = [UInt32](repeating: 0, count: rules.atoms.count)
                b.atomResults = [[Occurrence]](repeating: [], count: rules.atoms.count)
                b.bucketStamp = [UInt32](repeating: 0, count: rules.atoms.count)
                b.buckets = [[(Int32, Int32, Int32)]](repeating: [], count: rules.atoms.count)
            }
            if b.ruleSeen.count != rules.rules.count { b.ruleSeen = [UInt32](repeating: 0, count: rules.rules.count) }
            if b.ruleStamp.count != rules.rules.count * 4 {
                b.ruleStamp = [UInt32](repeating: 0, count: rules.rules.count * 4)
                b.ruleResults = [[Occurrence]](repeating: [], count: rules.rules.count * 4)
            }
            b.arena.removeAll(keepingCapacity: true)
            if usePrefilter {
                let g = b.generation
                // One pass over the automaton's hits: mark the words, and sort the hits into per-atom buckets.
                for t in 0..<turnLimit {
                    for h in prepared.wordHits[t] {
                        b.wordStamp[Int(h.0)] = g
                        let w = Int(h.0)
                        for k in Int(program.atomsByWordStart[w])..<Int(program.atomsByWordStart[w + 1]) {
                            let a = Int(program.atomsByWord[k])
                            if b.bucketStamp[a] != g { b.bucketStamp[a] = g; b.buckets[a].removeAll(keepingCapacity: true) }
                            b.buckets[a].append((Int32(t), h.1, h.2))
                        }
                    }
                }
            }
        }

        /// Hands the buffers back to the scanner for the next record.
        mutating func release() {
            scanner.buffers = b
            b = Buffers()
        }

        /// Whether the prefilter lets rule `r` run: every clause has a word present.
        func candidate(_ r: Int) -> Bool {
            let g = b.generation
            let first = Int(program.clauseFirst[r])
            for k in first..<(first + Int(program.clauseCount[r])) {
                var any = false
                for i in Int(program.clauseStart[k])..<Int(program.clauseStart[k + 1]) where b.wordStamp[Int(program.clauseWords[i])] == g {
                    any = true
                    break
                }
                if !any { return false }
            }
            return true
        }

        mutating func verdict(firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict {
            let rules = scanner.rules
            var hits: [RuleHit] = []
            var score = 0
            var categoryScores = [Int](repeating: 0, count: rules.categories.count)
            var categoryHit = [Bool](repeating: false, count: rules.categories.count)
            // Candidate rules, in rule order: from the prefilter's index, or every public rule without it.
            var order: [Int32]
            if usePrefilter {
                let g = b.generation
                b.candidates.removeAll(keepingCapacity: true)
                for r in program.unfiltered where b.ruleSeen[Int(r)] != g { b.ruleSeen[Int(r)] = g; b.candidates.append(r) }
                for t in 0..<turnLimit {
                    for h in prepared.wordHits[t] {
                        let w = Int(h.0)
                        for k in Int(program.rulesByWordStart[w])..<Int(program.rulesByWordStart[w + 1]) {
                            let r = program.rulesByWord[k]
                            guard b.ruleSeen[Int(r)] != g else { continue }
                            b.ruleSeen[Int(r)] = g
                            b.candidates.append(r)
                        }
                    }
                }
                b.candidates.sort()
                order = b.candidates
            } else {
                order = (0..<Int32(program.roots.count)).filter { !program.isPrivate[Int($0)] }
            }
            for r in order {
                let i = Int(r)
                if usePrefilter, !candidate(i) { continue }
                currentRule = i
                let occ = evaluate(program.roots[i], mask: 0)
                guard !occ.isEmpty else { continue }
                hits.append(RuleHit(rule: i, spans: spans(of: occ)))
                let ruleScore = Int(program.scores[i])
                score += ruleScore
                let c = Int(program.categories[i])
                if c >= 0 {
                    categoryScores[c] += ruleScore
                    if ruleScore > 0 { categoryHit[c] = true }
                }
            }
            release()
            let level = rules.levels.level(for: score)
            let ranked = categoryScores.indices.filter { categoryHit[$0] && categoryScores[$0] > 0 }
                .sorted { categoryScores[$0] != categoryScores[$1] ? categoryScores[$0] > categoryScores[$1] : $0 < $1 }
            // No risk, no main category (the per-category scores stay in `categories`).
            let main = level > .none ? ranked.first : nil
            let category = main.map { rules.categories[$0] }
            return Verdict(id: prepared.id, level: level, score: score, category: main,
                           categories: ranked.map { ($0, categoryScores[$0]) }, hits: hits, errors: errors,
                           firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn,
                           advice: level > .none ? (category?.advice ?? Scanner.genericAdvice) : nil,
                           referral: Referral.forLevel(level, script: category?.script ?? Scanner.genericScript))
        }

        /// Evidence spans in the original text, merged and in order.
        func spans(of occ: [Occurrence]) -> [EvidenceSpan] {
            var all: [Evidence] = []
            for o in occ where o.evCount > 0 { all += b.arena[Int(o.evStart)..<Int(o.evStart + o.evCount)] }
            all.sort { ($0.turn, $0.start, $0.end) < ($1.turn, $1.start, $1.end) }
            // Merge overlapping evidence within a turn.
            var merged: [Evidence] = []
            for e in all {
                if var last = merged.last, last.turn == e.turn, e.start <= last.end {
                    last.end = max(last.end, e.end)
                    merged[merged.count - 1] = last
                } else {
                    merged.append(e)
                }
            }
            // Evidence text: one walk over each turn's scalars (the spans are sorted), never an
            // offset-from-start per span.
            var out: [EvidenceSpan] = []
            out.reserveCapacity(merged.count)
            var turn = -1
            var scalars = "".unicodeScalars
            var index = scalars.startIndex, position = 0
            for e in merged {
                let t = Int(e.turn)
                let r = prepared.texts[t].originalRange(ofBytes: Int(e.start)..<Int(e.end))
                if t != turn {
                    turn = t
                    scalars = prepared.turns[t].text.unicodeScalars
                    index = scalars.startIndex
                    position = 0
                }
                if r.lowerBound < position {   // overlapping originals: restart this turn's walk
                    index = scalars.startIndex
                    position = 0
                }
                index = scalars.index(index, offsetBy: r.lowerBound - position)
                let end = scalars.index(index, offsetBy: r.count)
                out.append(EvidenceSpan(turn: prepared.isCall ? t : nil, start: r.lowerBound, end: r.upperBound,
                                        text: String(scalars[index..<end])))
                index = end
                position = r.upperBound
            }
            return out
        }

        func inMask(_ turn: Int32, _ mask: Int) -> Bool {
            switch mask {
            case 0: return true
            case 1: return prepared.turns[Int(turn)].role == .caller
            case 2: return prepared.turns[Int(turn)].role == .callee
            default: return false
            }
        }

        private mutating func single(_ turn: Int, _ s: Int32, _ e: Int32) -> Occurrence {
            b.arena.append(Evidence(turn: Int32(turn), start: s, end: e))
            return Occurrence(turn: Int32(turn), start: s, end: e, evStart: Int32(b.arena.count - 1), evCount: 1)
        }

        mutating func atomOccurrences(_ a: Int) -> [Occurrence] {
            if b.atomStamp[a] == b.generation { return b.atomResults[a] }
            let atom = atoms[a]
            var result: [Occurrence] = []
            if atom.kind == .words && usePrefilter {
                // The automaton already found every word: keep this atom's, leftmost-longest, non-overlapping.
                if b.bucketStamp[a] == b.generation {
                    var found = b.buckets[a]
                    found.sort { ($0.0, $0.1, -$0.2) < ($1.0, $1.1, -$1.2) }
                    var turn: Int32 = -1, end: Int32 = -1
                    for h in found {
                        if h.0 != turn { turn = h.0; end = -1 }
                        guard h.1 >= end else { continue }
                        result.append(single(Int(h.0), h.1, h.2))
                        end = h.2
                    }
                }
            } else {
                for t in 0..<turnLimit {
                    let text = prepared.texts[t]
                    var ranges: [Range<Int>] = []
                    for pattern in atom.patterns {
                        do {
                            try text.bytes.withUnsafeBufferPointer { buf throws(MatchFailure) in
                                try pattern.forEachMatch(in: buf, using: scanner.scratch) { r in
                                    if r.upperBound > r.lowerBound { ranges.append(r) }
                                    return ranges.count < 4096
                                }
                            }
                        } catch {
                            if failedAtoms.insert(a).inserted {
                                let rule = scanner.rules.rules[currentRule].id
                                errors.append("rule \(rule): \(atom.display): \(error)" + (prepared.isCall ? " (turn \(t))" : ""))
                            }
                        }
                    }
                    if atom.patterns.count > 1 {
                        // Several alternations of one list: back to leftmost-longest, non-overlapping.
                        ranges.sort { $0.lowerBound != $1.lowerBound ? $0.lowerBound < $1.lowerBound : $0.upperBound > $1.upperBound }
                        var end = -1
                        ranges = ranges.filter { r in
                            guard r.lowerBound >= end else { return false }
                            end = r.upperBound
                            return true
                        }
                    }
                    for r in ranges { result.append(single(t, Int32(r.lowerBound), Int32(r.upperBound))) }
                }
            }
            b.atomStamp[a] = b.generation
            b.atomResults[a] = result
            return result
        }

        private func kid(_ n: Program.Node, _ k: Int) -> Int32 { program.kids[Int(n.first) + k] }

        mutating func evaluate(_ id: Int32, mask: Int) -> [Occurrence] {
            let n = program.nodes[Int(id)]
            switch n.op {
            case .atom:
                let all = atomOccurrences(Int(n.arg))
                return mask == 0 ? all : all.filter { inMask($0.turn, mask) }
            case .rule:
                let key = Int(n.arg) * 4 + mask
                if b.ruleStamp[key] == b.generation { return b.ruleResults[key] }
                let saved = currentRule
                let result = evaluate(program.roots[Int(n.arg)], mask: mask)
                currentRule = saved
                b.ruleStamp[key] = b.generation
                b.ruleResults[key] = result
                return result
            case .and:
                var out: [Occurrence] = []
                for k in 0..<Int(n.count) {
                    let o = evaluate(kid(n, k), mask: mask)
                    if o.isEmpty { return [] }
                    out += o.prefix(Scanner.occurrenceCap)
                }
                return Array(out.prefix(Scanner.occurrenceCap))
            case .or:
                var out: [Occurrence] = []
                for k in 0..<Int(n.count) { out += evaluate(kid(n, k), mask: mask).prefix(Scanner.occurrenceCap) }
                return Array(out.prefix(Scanner.occurrenceCap))
            case .not:
                return evaluate(kid(n, 0), mask: mask).isEmpty ? [.nowhere] : []
            case .atLeast:
                var out: [Occurrence] = []
                var satisfied = 0
                for k in 0..<Int(n.count) {
                    let o = evaluate(kid(n, k), mask: mask)
                    if !o.isEmpty { satisfied += 1; out += o.prefix(Scanner.occurrenceCap) }
                }
                return satisfied >= Int(n.arg) ? Array(out.prefix(Scanner.occurrenceCap)) : []
            case .near, .nearTurns, .then, .thenGap:
                let xs = evaluate(kid(n, 0), mask: mask).filter { $0.turn >= 0 }
                if xs.isEmpty { return [] }
                let ys = evaluate(kid(n, 1), mask: mask).filter { $0.turn >= 0 }
                if ys.isEmpty { return [] }
                let d = Int(n.arg)
                let p = prepared
                func gap(_ x: Occurrence, _ y: Occurrence) -> Int { Evaluation.gap(p, x, y) }
                switch n.op {
                case .near: return pairs(xs, ys) { x, y in x.turn == y.turn && gap(x, y) <= d }
                case .nearTurns: return pairs(xs, ys) { x, y in abs(Int(x.turn) - Int(y.turn)) <= d }
                case .thenGap: return pairs(xs, ys) { x, y in x.turn == y.turn && y.start >= x.end && gap(x, y) <= d }
                default: return pairs(xs, ys) { x, y in x.turn < y.turn || (x.turn == y.turn && y.start >= x.end) }
                }
            case .count:
                let o = evaluate(kid(n, 0), mask: mask).filter { $0.turn >= 0 }
                guard Comparison.allCases[Int(n.arg2)].holds(o.count, Int(n.arg)) else { return [] }
                return o.isEmpty ? [.nowhere] : o
            case .scope:
                let want = Int(n.arg)
                let m = mask == 0 ? want : (mask == want ? want : 3)
                return evaluate(kid(n, 0), mask: m)
            }
        }

        /// Characters between two occurrences in one turn (0 when they touch or overlap).
        static func gap(_ prepared: Prepared, _ x: Occurrence, _ y: Occurrence) -> Int {
            let text = prepared.texts[Int(x.turn)]
            if y.start >= x.end {
                return text.normalisedScalarOffset(ofByte: Int(y.start)) - text.normalisedScalarOffset(ofByte: Int(x.end))
            }
            if x.start >= y.end {
                return text.normalisedScalarOffset(ofByte: Int(x.start)) - text.normalisedScalarOffset(ofByte: Int(y.end))
            }
            return 0
        }

        mutating func pairs(_ xs: [Occurrence], _ ys: [Occurrence], _ ok: (Occurrence, Occurrence) -> Bool) -> [Occurrence] {
            var matched: [(Occurrence, Occurrence)] = []
            outer: for x in xs {
                for y in ys where ok(x, y) {
                    matched.append((x, y))
                    if matched.count >= Scanner.occurrenceCap { break outer }
                }
            }
            return matched.map { x, y in
                let sameTurn = x.turn == y.turn
                let evStart = Int32(b.arena.count)
                b.arena.append(contentsOf: b.arena[Int(x.evStart)..<Int(x.evStart + x.evCount)])
                b.arena.append(contentsOf: b.arena[Int(y.evStart)..<Int(y.evStart + y.evCount)])
                return Occurrence(turn: sameTurn ? x.turn : y.turn,
                                  start: sameTurn ? min(x.start, y.start) : y.start,
                                  end: sameTurn ? max(x.end, y.end) : y.end,
                                  evStart: evStart, evCount: x.evCount + y.evCount)
            }
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
    let program: Program
    public init(_ rules: RuleSet) {
        self.rules = rules
        self.automaton = AhoCorasick(words: rules.words)
        self.program = Program(rules)
    }
}
