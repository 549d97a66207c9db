import Foundation
import FanzhaText

/// The `model` condition in the screener: the learned model's probability on the record (the
/// turns of one side under `caller:`/`callee:`), computed once per evaluation when a rule asks,
/// and, when the condition holds, the n-grams that pushed the probability that way as evidence.

/// Per evaluation: the margin per scope (set of sides) and the evidence per scope and direction. Plain
/// values in tuples, so an evaluation that never asks costs nothing and one that does allocates
/// nothing here.
struct ModelCache {
    var margins: (Double, Double, Double, Double) = (.nan, .nan, .nan, .nan)
    /// The frame kinds hidden when each scope's margin and evidence were computed (see
    /// `modelBlindness`): another rule that reads other frames computes them again.
    var marginBlind: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    /// The calibrated probability of each scope's margin, once asked for (NaN: not yet): the three
    /// `model` rules compare the same probability, and computing it (`exp`) cost about 70
    /// instructions a question. Forgotten whenever its scope's margin is set (`setMargin`).
    var probabilities: (Double, Double, Double, Double) = (.nan, .nan, .nan, .nan)
    var evidenceBlind: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
    typealias Slot = Screener.Occurrences?
    var evidence: (Slot, Slot, Slot, Slot, Slot, Slot, Slot, Slot) = (nil, nil, nil, nil, nil, nil, nil, nil)
    /// The scope whose n-grams the screener's counting table holds (nil: none yet in this
    /// evaluation), and how many distinct buckets it holds.
    var tableScope: Side?
    var tableBlind: UInt8 = 0
    var tableUsed = 0

    /// Inlined, as is `setMargin`: every record asks twice per `model` rule (`modelHolds`, then
    /// `modelMargin`), and a call cost more than the look-up.
    @inline(__always)
    func margin(_ scope: Side, _ blind: UInt8) -> Double? {
        let m: Double, b: UInt8
        switch scope.rawValue {
        case 0: (m, b) = (margins.0, marginBlind.0)
        case 1: (m, b) = (margins.1, marginBlind.1)
        case 2: (m, b) = (margins.2, marginBlind.2)
        default: (m, b) = (margins.3, marginBlind.3)
        }
        return m.isNaN || b != blind ? nil : m
    }

    @inline(__always)
    mutating func setMargin(_ scope: Side, _ blind: UInt8, _ m: Double) {
        switch scope.rawValue {
        case 0: margins.0 = m; marginBlind.0 = blind; probabilities.0 = .nan
        case 1: margins.1 = m; marginBlind.1 = blind; probabilities.1 = .nan
        case 2: margins.2 = m; marginBlind.2 = blind; probabilities.2 = .nan
        default: margins.3 = m; marginBlind.3 = blind; probabilities.3 = .nan
        }
    }

    /// The probability of the margin held for `scope` with `blind`, when it has been computed.
    @inline(__always)
    func probability(_ scope: Side, _ blind: UInt8) -> Double? {
        guard margin(scope, blind) != nil else { return nil }
        let p: Double
        switch scope.rawValue {
        case 0: p = probabilities.0
        case 1: p = probabilities.1
        case 2: p = probabilities.2
        default: p = probabilities.3
        }
        return p.isNaN ? nil : p
    }

    /// `p`, the probability of the margin just set for `scope`.
    @inline(__always)
    mutating func setProbability(_ scope: Side, _ p: Double) {
        switch scope.rawValue {
        case 0: probabilities.0 = p
        case 1: probabilities.1 = p
        case 2: probabilities.2 = p
        default: probabilities.3 = p
        }
    }

    func evidence(_ slot: Int, _ blind: UInt8) -> Slot {
        let b: UInt8
        switch slot {
        case 0: b = evidenceBlind.0
        case 1: b = evidenceBlind.1
        case 2: b = evidenceBlind.2
        case 3: b = evidenceBlind.3
        case 4: b = evidenceBlind.4
        case 5: b = evidenceBlind.5
        case 6: b = evidenceBlind.6
        default: b = evidenceBlind.7
        }
        guard b == blind else { return nil }
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

    mutating func setEvidence(_ slot: Int, _ blind: UInt8, _ o: Screener.Occurrences) {
        switch slot {
        case 0: evidenceBlind.0 = blind
        case 1: evidenceBlind.1 = blind
        case 2: evidenceBlind.2 = blind
        case 3: evidenceBlind.3 = blind
        case 4: evidenceBlind.4 = blind
        case 5: evidenceBlind.5 = blind
        case 6: evidenceBlind.6 = blind
        default: evidenceBlind.7 = blind
        }
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

extension Screener.Evaluation {
    /// How many n-grams a model hit shows as evidence (one place each: the counting table keeps
    /// one per bucket).
    static let modelEvidenceNGrams = 3

    /// Whether turn `t` is in `scope` (`[]`: every turn).
    private func modelSees(_ t: Int, _ scope: Side) -> Bool {
        scope.isEmpty || sidesPresent == scope || ws.sides[t] == scope
    }

    /// The `model` node: false without a model; else the comparison on the calibrated probability.
    mutating func modelCondition(_ n: Program.Node, scope: Side) -> Screener.Occurrences {
        guard modelHolds(n, scope: scope), let model = screener.matcher.model else { return .none }
        // Evidence: what pushed the probability up (for `>=`, `>`, `==`) or down (`<=`, `<`).
        let cmp = Comparison.allCases[Int(n.arg2)]
        let up = cmp != .atMost && cmp != .less
        return modelEvidence(model, scope: scope, up: up)
    }

    /// Whether the `model` node holds: `modelCondition` without its evidence, which is never
    /// empty when it holds (`.nowhere` at least), so a decision that only asks whether a rule
    /// fires need not find it (Scoring.swift, `decide`).
    mutating func modelHolds(_ n: Program.Node, scope: Side) -> Bool {
        guard let model = screener.matcher.model, scope != [.caller, .callee] else { return false }
        if !scope.isEmpty && sidesPresent.isDisjoint(with: scope) { return false }
        let comparison = Comparison.allCases[Int(n.arg2)], bound = Double(n.arg) / 1_000_000
        // A live call keeps its n-gram counts from event to event (Calls/LiveModel.swift).
        if modelCache.margin(scope, modelBlindness) == nil, let counts = liveNGrams(model, scope: scope) {
            let (margin, error, hidden) = liveApproximateMargin(counts, model)
            let p = model.probability(margin: margin)
            // The logistic's slope is at most |plattA| / 4: how far the exact probability can be.
            if abs(p - bound) > abs(model.plattA) / 4 * error + 1e-12 { return comparison.holds(p, bound) }
            if hidden == 0 { modelCache.setMargin(scope, modelBlindness, counts.exactMargin(model)) }
        }
        if let p = modelCache.probability(scope, modelBlindness) { return comparison.holds(p, bound) }
        // `modelMargin` leaves the margin it returns held for this scope and blindness.
        let p = model.probability(margin: modelMargin(model, scope: scope))
        modelCache.setProbability(scope, p)
        return comparison.holds(p, bound)
    }

    /// The frame kinds the rule being evaluated does not read, when this record has frames:
    /// like its words, the model then reads only the text outside them (RULES.md, Frames).
    var modelBlindness: UInt8 { ws.frames.isEmpty ? 0 : blindness }

    /// The shortest n-gram (in scalars) shown as evidence. Single characters (我, 请) carry weight
    /// in the model but say little to a reader: the evidence shows n-grams of two characters or
    /// more when the model has them.
    static func evidenceMinN(minN: Int, maxN: Int) -> Int { max(minN, min(2, maxN)) }

    /// Counts the n-gram buckets of the turns in `scope` in the screener's table (leaving
    /// out n-grams inside the frames the current rule does not read), and where each bucket's
    /// first n-gram long enough to be evidence ends (`modelEvidence` finds its place from there).
    mutating func fillModelTable(_ model: TextModel, scope: Side) {
        let blind = modelBlindness
        if modelCache.tableScope == scope && modelCache.tableBlind == blind { return }
        let frames = ws.frames
        let turns = prepared.turns
        let (minN, maxN, bucketMask) = (model.minN, model.maxN, model.mask)
        // At most one n-gram per order per scalar: a bound by scalars, not bytes (a third of
        // them in Chinese), so the slots the record uses (`ModelScratch.begin`) are few.
        var bound = 0
        for t in 0..<turnLimit where modelSees(t, scope) { bound += turns[t].text.scalarCount }
        let table = screener.modelScratch
        table.begin(bound * (maxN - minN + 1))
        // The table's memory in locals: the loop then touches no class property. One slot holds
        // all a bucket's fields, so the loop keeps few pointers (and spills less) and a new bucket,
        // the usual case, is one store of a whole slot.
        let slots = table.slots, used = table.used
        let generation = table.generation, slotMask = table.mask
        // Where the next slot in use is listed, in memory, not in a local: a local the loop's
        // inlined copies share was kept in a dozen stack slots, each written on every new bucket.
        // A pointer, not a count, so listing a slot needs no load of the list's start.
        let nextUsed = table.nextUsed
        nextUsed.pointee = used
        let oneGrams = table.oneGramBuckets
        let shortest = Screener.Evaluation.evidenceMinN(minN: minN, maxN: maxN)
        // `end`: where the n-gram ends in the turns laid end to end, plus one (`Slot.shownEnd`).
        // `shortest` is a parameter so that the usual case's copy of the loop, below, knows it.
        @inline(__always) func count(_ bucket: Int, _ len: Int, _ end: UInt32, _ shortest: Int) {
            let b = Int32(truncatingIfNeeded: bucket)
            // A bucket is already the low bits of a mixed hash (`TextModel.finalMix`): its own
            // low bits place it, with no hashing again.
            var i = bucket & slotMask
            while true {
                let slot = slots + i
                if slot.pointee.stamp != generation {
                    slot.pointee = ModelScratch.Slot(stamp: generation, key: b, count: 1, shownEnd: len >= shortest ? end : 0)
                    nextUsed.pointee.pointee = Int32(truncatingIfNeeded: i)
                    nextUsed.pointee += 1
                    return
                }
                if slot.pointee.key == b {
                    slot.pointee.count &+= 1
                    // The first n-gram long enough to show in this bucket: where it ends.
                    if len >= shortest && slot.pointee.shownEnd == 0 { slot.pointee.shownEnd = end }
                    return
                }
                i = (i &+ 1) & slotMask
            }
        }
        var base = UInt32(1)
        for t in 0..<turnLimit {
            // Every turn's bytes in the offsets, read or not, as `modelEvidence` counts them.
            defer { base &+= UInt32(truncatingIfNeeded: turns[t].text.bytes.count) }
            guard modelSees(t, scope) else { continue }
            let turn = Int32(truncatingIfNeeded: t), base = base
            // Whether a frame this rule does not read lies in this turn (most turns: none).
            let hides = blind != 0 && frames.contains { $0.kind & blind != 0 && $0.turn == turn }
            turns[t].text.bytes.withUnsafeBufferPointer { buf in
                if minN == 1 && maxN == 3 {
                    // The usual case (the bundled model's sizes): the same n-grams, in the same
                    // order, through a copy of the loop with the sizes known to the compiler, so
                    // no n-gram tests, and each 1-gram's bucket read from the screener's table
                    // of them (`ModelScratch.oneGramBuckets`).
                    let shown = Screener.Evaluation.evidenceMinN(minN: 1, maxN: 3)
                    if !hides {
                        TextModel.forEachNGram(buf, minN: 1, maxN: 3, mask: bucketMask, oneGramBuckets: oneGrams) { bucket, _, end, len in
                            count(bucket, len, base &+ UInt32(truncatingIfNeeded: end), shown)
                        }
                        return
                    }
                    // A turn with text hidden (a record with frames, the model read by a rule
                    // blind to them): each n-gram inside such a frame left out.
                    TextModel.forEachNGram(buf, minN: 1, maxN: 3, mask: bucketMask, oneGramBuckets: oneGrams) { bucket, start, end, len in
                        if Screener.Evaluation.inFrame(turn: turn, start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: end),
                                                       frames, blind) { return }
                        count(bucket, len, base &+ UInt32(truncatingIfNeeded: end), shown)
                    }
                    return
                }
                TextModel.forEachNGram(buf, minN: minN, maxN: maxN, mask: bucketMask) { bucket, start, end, len in
                    if blind != 0 && Screener.Evaluation.inFrame(turn: turn, start: Int32(start), end: Int32(end), frames, blind) { return }
                    count(bucket, len, base &+ UInt32(truncatingIfNeeded: end), shortest)
                }
            }
        }
        modelCache.tableScope = scope
        modelCache.tableBlind = blind
        modelCache.tableUsed = nextUsed.pointee - used
    }

    mutating func modelMargin(_ model: TextModel, scope: Side) -> Double {
        if let m = modelCache.margin(scope, modelBlindness) { return m }
        // A live call's margin on a stretch of turns with no frame hidden is the same for every
        // evaluation of that stretch (the decision, then the alert or the final verdict).
        let memo = modelBlindness == 0 ? prepared.regexMemo : nil
        let lo = prepared.firstTurnNumber, hi = lo + turnLimit
        if let memo, let m = memo.margin(turns: lo, hi, scope: scope) {
            modelCache.setMargin(scope, 0, m)
            return m
        }
        defer { if let memo, let m = modelCache.margin(scope, 0) { memo.keepMargin(m, turns: lo, hi, scope: scope) } }
        fillModelTable(model, scope: scope)
        let table = screener.modelScratch
        let slots = table.slots, used = table.used, logs = table.oneMoreThanLog
        var dot = 0.0, norm = 0.0
        let weights = model.weights
        let usedCount = modelCache.tableUsed
        @inline(__always) func add(_ slot: ModelScratch.Slot, _ v: Double) {
            norm += v * v
            // A bucket with no weight adds +0: the same sum, since `dot` starts at +0 and so is
            // never −0 (x + +0 is x for every other x). Added without a test, the weight table's
            // look-up ends in a select, not in branches on whether it found the bucket.
            dot += Double(weights[Int(slot.key)]) * v
        }
        // Two loops, the same sums in the same order: the first, up to the first count of
        // `logged` or more (rare), with no call in it, so its sums and pointers stay in registers
        // (a call keeps no floating-point register); the second, from there, calls `log`. A slot
        // in use has counted one n-gram at least: no test for none.
        var k = 0
        while k < usedCount {
            let slot = slots[Int(used[k])]
            guard Int(slot.count) < ModelScratch.logged else { break }
            add(slot, logs[Int(slot.count)])
            k += 1
        }
        while k < usedCount {
            let slot = slots[Int(used[k])]
            add(slot, Int(slot.count) < ModelScratch.logged ? logs[Int(slot.count)] : 1 + log(Double(slot.count)))
            k += 1
        }
        let margin = model.bias + (norm > 0 ? dot / norm.squareRoot() : 0)
        modelCache.setMargin(scope, modelBlindness, margin)
        return margin
    }

    /// A model hit's chosen n-grams (`n` of `top`, each with its place) as the hit's
    /// occurrences, one evidence each, in text order: places of distinct buckets are distinct
    /// n-grams, so never equal. Shared by a record's evidence and a live call's (Calls/LiveModel.swift).
    @inline(__always)
    mutating func appendModelEvidence<Candidate>(_ top: UnsafeMutableBufferPointer<Candidate>, count n: Int,
                                                 place: (Candidate) -> ModelScratch.Place) {
        var i = 1
        while i < n {
            let c = top[i]
            var j = i
            while j > 0 && place(c).isBefore(place(top[j - 1])) { top[j] = top[j - 1]; j -= 1 }
            top[j] = c
            i += 1
        }
        for c in top[0..<n] {
            let p = place(c)
            ws.arena.append(Screener.Evidence(turn: p.turn, start: p.start, end: p.end))
            ws.occ.append(Screener.Occurrence(turn: p.turn, start: p.start, end: p.end,
                                              evStart: Int32(ws.arena.count - 1), evCount: 1))
        }
    }

    /// Where the n-gram of bucket `b` that ends at `shownEnd` (`ModelScratch.Slot`) lies: the
    /// shortest n-gram of `shortest` scalars or more ending there in that bucket that is counted
    /// (not hidden from the rule), as counting meets the n-grams ending at a scalar shorter first.
    private func shownPlace(ofBucket b: Int32, endingAt shownEnd: UInt32, _ model: TextModel, shortest: Int,
                            _ turns: [Screener.PreparedTurn], _ frames: [Screener.FrameSpan], _ blind: UInt8) -> ModelScratch.Place {
        var end = Int(shownEnd) - 1, t = 0
        while end > turns[t].text.bytes.count { end -= turns[t].text.bytes.count; t += 1 }
        let turn = Int32(truncatingIfNeeded: t), stop = Int32(truncatingIfNeeded: end)
        let start = turns[t].text.bytes.withUnsafeBufferPointer { buf in
            TextModel.startOfNGram(ending: end, in: buf, bucket: Int(b), minN: shortest, maxN: model.maxN, mask: model.mask) { s in
                blind != 0 && Screener.Evaluation.inFrame(turn: turn, start: Int32(truncatingIfNeeded: s), end: stop, frames, blind)
            }
        }
        assert(start != nil, "a model hit's n-gram not found where it was counted")
        return ModelScratch.Place(turn: turn, start: Int32(truncatingIfNeeded: start ?? end), end: stop)
    }

    /// The places of the n-grams with the largest weights in the pushing direction (at most
    /// `modelEvidenceNGrams` n-grams, one place each), in text order.
    mutating func modelEvidence(_ model: TextModel, scope: Side, up: Bool) -> Screener.Occurrences {
        let slot = Int(scope.rawValue) * 2 + (up ? 1 : 0)
        if let e = modelCache.evidence(slot, modelBlindness) { return e }
        // A live call's kept counts pick the same n-grams without counting the call again
        // (Calls/LiveModel.swift); a record has none, and asks no further.
        if prepared.regexMemo != nil, let e = liveModelEvidence(model, scope: scope, up: up) {
            modelCache.setEvidence(slot, modelBlindness, e)
            return e
        }
        // Buckets with an n-gram of `evidenceMinN` scalars or more are shown at the first of them.
        let shortest = Screener.Evaluation.evidenceMinN(minN: model.minN, maxN: model.maxN)
        let weights = model.weights
        let sign: Float = up ? 1 : -1
        let limit = Screener.Evaluation.modelEvidenceNGrams
        let start = ws.occ.count
        // The strongest `limit` distinct buckets pushing this way, from the counting table, then
        // each one's first place (the first n-gram in text order that falls in it and is long enough).
        fillModelTable(model, scope: scope)
        let table = screener.modelScratch
        let slots = table.slots, used = table.used, usedCount = modelCache.tableUsed
        // The candidates in a buffer on the stack, not an array allocated for every hit; the
        // weakest one's index kept, not searched for at every bucket.
        withUnsafeTemporaryAllocation(of: ModelScratch.Candidate.self, capacity: limit) { top in
            var n = 0, weakest = 0
            @inline(__always) func findWeakest() {
                weakest = 0
                for q in 1..<n where top[q].weight < top[weakest].weight { weakest = q }
            }
            for k in 0..<usedCount {
                let slot = slots[Int(used[k])]
                guard slot.shownEnd != 0 else { continue }
                // No weight reads as zero, which pushes neither way.
                let w = weights[Int(slot.key)] * sign
                guard w > 0 else { continue }
                let candidate = ModelScratch.Candidate(weight: w, bucket: slot.key, shownEnd: slot.shownEnd)
                if n < limit {
                    top[n] = candidate
                    n += 1
                    if n == limit { findWeakest() }
                } else if top[weakest].weight < w {
                    top[weakest] = candidate
                    findWeakest()
                }
            }
            let turns = prepared.turns, frames = ws.frames, blind = modelBlindness
            for q in 0..<n {
                top[q].place = shownPlace(ofBucket: top[q].bucket, endingAt: top[q].shownEnd, model, shortest: shortest, turns, frames, blind)
            }
            appendModelEvidence(top, count: n) { $0.place }
        }
        // Nothing pushed that way (an empty text): true, but nowhere.
        let result = ws.occ.count == start ? Screener.Occurrences.nowhere
            : Screener.Occurrences(start: Int32(start), count: Int32(ws.occ.count - start))
        modelCache.setEvidence(slot, modelBlindness, result)
        return result
    }
}

/// What `explain` shows about the model: its probability on the record and the n-grams that
/// pushed it most each way, as spans of the original text.
package struct ModelReport: Sendable {
    package struct Contribution: Sendable {
        /// The n-gram as the model saw it (normalised).
        package let ngram: String
        /// Its share of the margin: weight × feature value.
        package let contribution: Double
        package let spans: [EvidenceSpan]
    }
    package let probability: Double
    package let margin: Double
    /// The probability on the text outside the record's frames — what a `model` condition in a
    /// positive rule that reads no frame compares (a negative rule reads the whole text unless the
    /// message makes its own appeal: RULES.md, Frames); nil when no frame was given.
    package let outsideFrames: Double?
    package let up: [Contribution]
    package let down: [Contribution]
}

extension Screener {
    /// The model's report on a record (nil without a model): the probability and the `count`
    /// n-grams that raised it most and lowered it most, with their places in the original text.
    /// With the record's `frames` (its verdict's), also the probability on the text outside them:
    /// an n-gram wholly inside a frame is left out, as the screener leaves it out for a rule that
    /// reads no frame, so a warning's benign half cannot hide what the rules' model saw.
    package func modelReport(_ record: Record, frames: [Frame] = [], count: Int = 5) -> ModelReport? {
        guard let model = matcher.model else { return nil }
        let p = prepare(record)
        var all: [Int32] = [], outside: [Int32] = []
        struct Place { let turn: Int; let start: Int; let end: Int }
        var places: [Int: [Place]] = [:]
        for (t, turn) in p.turns.enumerated() {
            let turnFrames = frames.filter { ($0.turn ?? 0) == t }
            turn.text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { b, s, e, _ in
                    all.append(Int32(b))
                    if places[b, default: []].count < 3 { places[b, default: []].append(Place(turn: t, start: s, end: e)) }
                    if !turnFrames.isEmpty {
                        let r = turn.text.originalRange(ofBytes: s..<e)
                        if !turnFrames.contains(where: { $0.start <= r.lowerBound && r.upperBound <= $0.end }) { outside.append(Int32(b)) }
                    }
                }
            }
        }
        var indices: [Int32] = [], values: [Float] = []
        var outsideFrames: Double?
        if !frames.isEmpty {
            TextModel.vectorise(&outside, indices: &indices, values: &values)
            outsideFrames = model.probability(margin: model.margin(indices: indices, values: values))
        }
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
                                    text: Screener.substring(record.turns[pl.turn].text, r))
            }
            return ModelReport.Contribution(ngram: ngram, contribution: x.c, spans: spans)
        }
        let up = contributions.filter { $0.c > 0 }.sorted { $0.c != $1.c ? $0.c > $1.c : $0.bucket < $1.bucket }.prefix(count).map(describe)
        let down = contributions.filter { $0.c < 0 }.sorted { $0.c != $1.c ? $0.c < $1.c : $0.bucket < $1.bucket }.prefix(count).map(describe)
        return ModelReport(probability: model.probability(margin: margin), margin: margin, outsideFrames: outsideFrames, up: up, down: down)
    }
}

extension RuleSet {
    /// Whether any rule's condition reads the model.
    package var usesModel: Bool {
        func reads(_ c: Condition) -> Bool {
            switch c {
            case .model: return true
            case .atom, .rule: return false
            case .and(let xs), .or(let xs), .atLeast(_, let xs): return xs.contains(where: reads)
            case .not(let x), .count(let x, _, _), .scope(_, let x): return reads(x)
            case .near(let a, let b, _, _), .then(let a, let b, _): return reads(a) || reads(b)
            }
        }
        return recordedModelUse ?? rules.contains { reads($0.condition) }
    }
}

/// A screener's table for counting one record's n-gram buckets: open addressing with generation
/// stamps, so starting a record clears nothing and counting allocates nothing once it has grown.
final class ModelScratch {
    /// Where a bucket was first counted from an n-gram long enough to be evidence.
    struct Place {
        var turn: Int32; var start: Int32; var end: Int32
        func isBefore(_ o: Place) -> Bool { (turn, start, end) < (o.turn, o.start, o.end) }
    }
    /// A bucket in the running for a model hit's evidence: its weight in the pushing direction,
    /// where its first n-gram long enough to show ends (`Slot.shownEnd`), and its place, found
    /// from there once the candidates are chosen (`shownPlace`).
    struct Candidate {
        var weight: Float; var bucket: Int32; var shownEnd: UInt32
        var place = Place(turn: -1, start: -1, end: -1)
    }
    /// 16 bytes, four to a cache line, with no padding to write. A record's slots are read and
    /// written at random; with each bucket's first place kept whole (turn, start and end: 32
    /// bytes a slot), they took twice the lines, and counting wrote three fields more for each
    /// new n-gram that only a model hit's evidence, for three buckets, reads.
    struct Slot {
        /// The record (`generation`) that last wrote the slot: an older one is free.
        var stamp: UInt32
        var key: Int32
        var count: UInt32
        /// Where the first n-gram of `evidenceMinN` scalars or more counted in it ends, as an
        /// offset into the record's turns laid end to end (every turn up to the window's last,
        /// in order), plus one; 0 for none (evidence shows n-grams of 2 scalars or more). Its
        /// start and turn are found from there (`shownPlace`). The engine keeps a turn's
        /// offsets in 32 bits (`Place`); a record's turns together are far below 4 GB.
        var shownEnd: UInt32
    }
    /// A power of two: the most slots a record has needed.
    private(set) var capacity = 0
    /// The slots this record uses, `slots[0 ... mask]`: a power of two at least four times its
    /// n-grams, so at most a quarter full (half full cost more probes than it saved misses); a
    /// bucket's low bits are its first slot. Sized by the
    /// record, not by `capacity`: one long record grows the table, and the short ones after it
    /// then spread their few n-grams over a few kilobytes, not all of it (a new bucket's slot
    /// is a cache miss when the table is larger than the L1 cache: 32 bytes a slot, 1,024
    /// slots at least, filled the whole 32 KB).
    private(set) var mask = 0
    /// The fewest slots a record uses.
    private static let fewestSlots = 64
    private(set) var slots = ModelScratch.allocateSlots(1)
    /// `n` slots on a cache line's boundary, so that no slot (16 bytes) straddles two lines: a
    /// new bucket's slot is then one line, read by its stamp's test and written whole.
    private static func allocateSlots(_ n: Int) -> UnsafeMutablePointer<Slot> {
        UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Slot>.stride, alignment: 64).bindMemory(to: Slot.self, capacity: n)
    }
    /// The slots in use, in the order first seen, and where the next one goes.
    private(set) var used = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    let nextUsed = UnsafeMutablePointer<UnsafeMutablePointer<Int32>>.allocate(capacity: 1)
    private(set) var generation: UInt32 = 0
    /// The bucket of each scalar below U+10000 as a 1-gram, plus one (0: not yet met), filled as
    /// records meet them (`TextModel.forEachNGram`): a screener has one model, so a scalar's
    /// bucket never changes. 256 KB of the kernel's zero pages (`mmap`), each touched only once
    /// a scalar on it is met: `calloc` cleared them at start-up (400,000 instructions).
    let oneGramBuckets: UnsafeMutablePointer<UInt32> = {
        let memory = mmap(nil, ModelScratch.oneGramBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let memory, memory != UnsafeMutableRawPointer(bitPattern: -1) else { fatalError("cannot map \(ModelScratch.oneGramBytes) bytes for the model's 1-grams") }
        return memory.bindMemory(to: UInt32.self, capacity: 1 << 16)
    }()
    private static let oneGramBytes = (1 << 16) * MemoryLayout<UInt32>.stride
    /// `1 + log(c)` for counts below `logged`, computed once (the same function, so the same bits).
    static let logged = 64
    /// A count's value in the model's vector: `1 + log(c)`, from `logs` (`oneMoreThanLog`) below
    /// `logged`; 0 for no count. The record's pass and a live call's running counts both read it.
    @inline(__always) static func countValue(_ c: Int, _ logs: UnsafeMutablePointer<Double>) -> Double {
        c < logged ? logs[c] : 1 + log(Double(c))
    }
    /// `1 + log(c)` for each count `c` below `logged`, and 0 (+0) for a count of 0 — a bucket
    /// with no n-gram, absent from the vector — so that `countValue` needs no test for it: a live
    /// call asks it twice for every n-gram it counts, the count before and after.
    let oneMoreThanLog: UnsafeMutablePointer<Double> = {
        let p = UnsafeMutablePointer<Double>.allocate(capacity: logged)
        p[0] = 0
        for c in 1..<logged { p[c] = 1 + log(Double(c)) }
        return p
    }()

    /// Starts a record of at most `n` n-grams. The slots past `mask` are left as they are: the
    /// stamps of slots an earlier record used are older than this record's generation.
    func begin(_ n: Int) {
        generation &+= 1
        var size = ModelScratch.fewestSlots
        while size < 4 * n { size *= 2 }
        if size > capacity || generation == 0 {
            if size > capacity {
                slots.deallocate(); used.deallocate()
                slots = ModelScratch.allocateSlots(size)
                used = .allocate(capacity: size)
                capacity = size
            }
            slots.initialize(repeating: Slot(stamp: 0, key: 0, count: 0, shownEnd: 0), count: capacity)
            generation = 1
        }
        mask = size - 1
    }

    deinit {
        slots.deallocate(); used.deallocate(); nextUsed.deallocate(); oneMoreThanLog.deallocate()
        munmap(oneGramBuckets, ModelScratch.oneGramBytes)
    }
}
