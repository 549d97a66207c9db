import Foundation
import FanzhaText

/// The `model` condition in the scanner: the learned model's probability on the record (the
/// turns of one side under `caller:`/`callee:`), computed once per evaluation when a rule asks,
/// and, when the condition holds, the n-grams that pushed the probability that way as evidence.

/// Per evaluation: the margin per scope mask and the evidence per mask and direction. Plain
/// values in tuples, so an evaluation that never asks costs nothing and one that does allocates
/// nothing here.
struct ModelCache {
    var margins: (Double, Double, Double, Double) = (.nan, .nan, .nan, .nan)
    typealias Slot = Scanner.Occurrences?
    var evidence: (Slot, Slot, Slot, Slot, Slot, Slot, Slot, Slot) = (nil, nil, nil, nil, nil, nil, nil, nil)

    func margin(_ mask: Int) -> Double? {
        let m: Double
        switch mask {
        case 0: m = margins.0
        case 1: m = margins.1
        case 2: m = margins.2
        default: m = margins.3
        }
        return m.isNaN ? nil : m
    }

    mutating func setMargin(_ mask: Int, _ m: Double) {
        switch mask {
        case 0: margins.0 = m
        case 1: margins.1 = m
        case 2: margins.2 = m
        default: margins.3 = m
        }
    }

    func evidence(_ slot: Int) -> Slot {
        switch slot {
        case 0: return evidence.0
        case 1: return evidence.1
        case 2: return evidence.2
        case 3: return evidence.3
        case 4: return evidence.4
        case 5: return evidence.5
        case 6: return evidence.6
        default: return evidence.7
        }
    }

    mutating func setEvidence(_ slot: Int, _ o: Scanner.Occurrences) {
        switch slot {
        case 0: evidence.0 = o
        case 1: evidence.1 = o
        case 2: evidence.2 = o
        case 3: evidence.3 = o
        case 4: evidence.4 = o
        case 5: evidence.5 = o
        case 6: evidence.6 = o
        default: evidence.7 = o
        }
    }
}

extension Comparison {
    func holds(_ x: Double, _ bound: Double) -> Bool {
        switch self {
        case .atLeast: return x >= bound
        case .more: return x > bound
        case .exactly: return x == bound
        case .atMost: return x <= bound
        case .less: return x < bound
        }
    }
}

extension Scanner.Evaluation {
    /// How many n-grams a model hit shows as evidence, and how many places of each.
    static let modelEvidenceNGrams = 5
    static let modelEvidencePlaces = 2

    /// Whether turn `t` is in the scope `mask` (0: every turn; 1 caller, 2 callee).
    private func modelSees(_ t: Int, _ mask: Int) -> Bool {
        mask == 0 || Int(sidesPresent) == mask || Int(ws.sides[t]) == mask
    }

    /// The `model` node: false without a model; else the comparison on the calibrated probability.
    mutating func modelCondition(_ n: Program.Node, mask: Int) -> Scanner.Occurrences {
        guard let model = scanner.matcher.model, mask < 3 else { return .none }
        if mask != 0 && Int(sidesPresent) & mask == 0 { return .none }
        let p = model.probability(margin: modelMargin(model, mask: mask))
        let cmp = Comparison.allCases[Int(n.arg2)]
        guard cmp.holds(p, Double(n.arg) / 1_000_000) else { return .none }
        // Evidence: what pushed the probability up (for `>=`, `>`, `==`) or down (`<=`, `<`).
        let up = cmp != .atMost && cmp != .less
        return modelEvidence(model, mask: mask, up: up)
    }

    mutating func modelMargin(_ model: TextModel, mask: Int) -> Double {
        if let m = modelCache.margin(mask) { return m }
        var buckets: [Int32] = []
        swap(&buckets, &scanner.modelBuckets)
        defer { swap(&buckets, &scanner.modelBuckets) }
        buckets.removeAll(keepingCapacity: true)
        let turns = prepared.turns
        let (minN, maxN, bucketMask) = (model.minN, model.maxN, model.mask)
        for t in 0..<turnLimit where modelSees(t, mask) {
            turns[t].text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: minN, maxN: maxN, mask: bucketMask) { b, _, _ in buckets.append(Int32(truncatingIfNeeded: b)) }
            }
        }
        buckets.sort()
        var dot = 0.0, norm = 0.0
        var k = 0
        let weights = model.weights
        while k < buckets.count {
            var j = k + 1
            while j < buckets.count && buckets[j] == buckets[k] { j += 1 }
            let v = j - k == 1 ? 1.0 : 1 + log(Double(j - k))
            dot += Double(weights[Int(buckets[k])]) * v
            norm += v * v
            k = j
        }
        let margin = model.bias + (norm > 0 ? dot / norm.squareRoot() : 0)
        modelCache.setMargin(mask, margin)
        return margin
    }

    /// The places of the n-grams with the largest weights in the pushing direction (at most
    /// `modelEvidenceNGrams` n-grams, `modelEvidencePlaces` places each), in text order.
    mutating func modelEvidence(_ model: TextModel, mask: Int, up: Bool) -> Scanner.Occurrences {
        let slot = mask * 2 + (up ? 1 : 0)
        if let e = modelCache.evidence(slot) { return e }
        let turns = prepared.turns
        // Single characters (我, 请) carry weight in the model but say little to a reader: the
        // evidence shows n-grams of two characters or more when the model has them.
        let (minN, maxN, bucketMask) = (max(model.minN, min(2, model.maxN)), model.maxN, model.mask)
        let weights = model.weights
        let sign: Float = up ? 1 : -1
        var top: [(bucket: Int, weight: Float)] = []
        let limit = Scanner.Evaluation.modelEvidenceNGrams
        for t in 0..<turnLimit where modelSees(t, mask) {
            turns[t].text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: minN, maxN: maxN, mask: bucketMask) { b, _, _ in
                    let w = weights[b] * sign
                    guard w > 0, !top.contains(where: { $0.bucket == b }) else { return }
                    if top.count < limit {
                        top.append((b, w))
                    } else if let weakest = top.indices.min(by: { top[$0].weight < top[$1].weight }), top[weakest].weight < w {
                        top[weakest] = (b, w)
                    } else {
                        return
                    }
                }
            }
        }
        let start = ws.occ.count
        var places = [Int](repeating: 0, count: top.count)
        for t in 0..<turnLimit where modelSees(t, mask) && !top.isEmpty {
            var found: [(Int, Int)] = []
            turns[t].text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: minN, maxN: maxN, mask: bucketMask) { b, s, e in
                    guard let i = top.firstIndex(where: { $0.bucket == b }), places[i] < Scanner.Evaluation.modelEvidencePlaces else { return }
                    places[i] += 1
                    found.append((s, e))
                }
            }
            found.sort { $0 < $1 }
            for (s, e) in found {
                ws.arena.append(Scanner.Evidence(turn: Int32(t), start: Int32(s), end: Int32(e)))
                ws.occ.append(Scanner.Occurrence(turn: Int32(t), start: Int32(s), end: Int32(e), evStart: Int32(ws.arena.count - 1), evCount: 1))
            }
        }
        // Nothing pushed that way (an empty text): true, but nowhere.
        let result = ws.occ.count == start ? Scanner.Occurrences.nowhere
            : Scanner.Occurrences(start: Int32(start), count: Int32(ws.occ.count - start))
        modelCache.setEvidence(slot, result)
        return result
    }
}

/// What `explain` shows about the model: its probability on the record and the n-grams that
/// pushed it most each way, as spans of the original text.
public struct ModelReport: Sendable {
    public struct Contribution: Sendable {
        /// The n-gram as the model saw it (normalised).
        public let ngram: String
        /// Its share of the margin: weight × feature value.
        public let contribution: Double
        public let spans: [EvidenceSpan]
    }
    public let probability: Double
    public let margin: Double
    public let up: [Contribution]
    public let down: [Contribution]
}

extension Scanner {
    /// The model's report on a record (nil without a model): the probability and the `count`
    /// n-grams that raised it most and lowered it most, with their places in the original text.
    public func modelReport(_ record: Record, count: Int = 5) -> ModelReport? {
        guard let model = matcher.model else { return nil }
        let p = prepare(record)
        var all: [Int32] = []
        struct Place { let turn: Int; let start: Int; let end: Int }
        var places: [Int: [Place]] = [:]
        for (t, turn) in p.turns.enumerated() {
            turn.text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { b, s, e in
                    all.append(Int32(b))
                    if places[b, default: []].count < 3 { places[b, default: []].append(Place(turn: t, start: s, end: e)) }
                }
            }
        }
        var indices: [Int32] = [], values: [Float] = []
        TextModel.vectorise(&all, indices: &indices, values: &values)
        let margin = model.margin(indices: indices, values: values)
        var contributions: [(bucket: Int, c: Double)] = []
        for k in indices.indices {
            let c = Double(model.weights[Int(indices[k])]) * Double(values[k])
            if c != 0 { contributions.append((Int(indices[k]), c)) }
        }
        func describe(_ x: (bucket: Int, c: Double)) -> ModelReport.Contribution {
            let ps = places[x.bucket] ?? []
            var ngram = ""
            let spans = ps.map { pl -> EvidenceSpan in
                let text = p.turns[pl.turn].text
                if ngram.isEmpty { ngram = String(decoding: text.bytes[pl.start..<pl.end], as: UTF8.self) }
                let r = text.originalRange(ofBytes: pl.start..<pl.end)
                return EvidenceSpan(turn: record.isCall ? pl.turn : nil, start: r.lowerBound, end: r.upperBound,
                                    text: Scanner.substring(record.turns[pl.turn].text, r))
            }
            return ModelReport.Contribution(ngram: ngram, contribution: x.c, spans: spans)
        }
        let up = contributions.filter { $0.c > 0 }.sorted { $0.c != $1.c ? $0.c > $1.c : $0.bucket < $1.bucket }.prefix(count).map(describe)
        let down = contributions.filter { $0.c < 0 }.sorted { $0.c != $1.c ? $0.c < $1.c : $0.bucket < $1.bucket }.prefix(count).map(describe)
        return ModelReport(probability: model.probability(margin: margin), margin: margin, up: up, down: down)
    }
}

extension RuleSet {
    /// Whether any rule's condition reads the model.
    public var usesModel: Bool {
        func reads(_ c: Condition) -> Bool {
            switch c {
            case .model: return true
            case .atom, .rule: return false
            case .and(let xs), .or(let xs), .atLeast(_, let xs): return xs.contains(where: reads)
            case .not(let x), .count(let x, _, _), .scope(_, let x): return reads(x)
            case .near(let a, let b, _, _), .then(let a, let b, _): return reads(a) || reads(b)
            }
        }
        return rules.contains { reads($0.condition) }
    }
}
