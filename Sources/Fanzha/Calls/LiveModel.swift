import Foundation
import FanzhaText

// The learned model on a live call: its n-gram counts kept with the call, turn by turn, so an
// event counts only its own turn's n-grams instead of every turn's again.
//
// The model's margin is `bias + dot / √norm` over the counts of the n-grams of the stretch judged
// (ModelCondition.swift). The call keeps the counts of its turns from its first, in the order
// first seen, and `dot` and `norm` updated as each n-gram is counted. Those running sums are
// rounded differently from the margin's own sum, so they decide a `model` comparison only when
// the probability is further from the bound than their rounding error can carry it (a bound
// many times the worst case); nearer, the margin is summed over the kept counts in the order
// first seen — exactly the sum, and so the bits, that counting the turns afresh gives.

extension Screener {
    /// A live call's n-gram counts from its first turn (`lo`) to `hi`, kept with its `RegexMemo`.
    final class CallNGrams {
        let lo: Int
        private(set) var hi: Int
        /// `count` buckets in the order first seen, and their counts (plain memory: the loop
        /// over a turn's n-grams neither counts references nor checks exclusivity).
        private(set) var buckets: UnsafeMutablePointer<Int32>
        private(set) var counts: UnsafeMutablePointer<Int32>
        /// Per bucket, the turn (counted from `lo`) of the first n-gram long enough to be
        /// evidence counted in it, `noLong` for none yet: `liveModelEvidence` picks among the
        /// buckets with one, as `modelEvidence` does, and finds its place in that turn alone.
        /// Two bytes (10,000 open calls: 4 bytes a bucket took 25 MB): a call counted past
        /// `noLong` turns from `lo` leaves its evidence to the table.
        private(set) var firstLong: UnsafeMutablePointer<UInt16>
        static let noLong = UInt16.max
        private(set) var count = 0
        /// Open addressing over `capacity` slots: the position in `buckets` of each bucket
        /// counted, -1 for empty. At most half full.
        private var slots: UnsafeMutablePointer<Int32>
        /// Room from the start for the n-grams of a call's first few turns (4 KB): growing the
        /// table rehashes every bucket counted, which cost more than counting a turn.
        private var capacity = 512
        private var shift: UInt32 = 23
        /// Running sums, and what bounds their rounding error: the largest magnitude `dot`'s
        /// terms add up to, and how many updates were made.
        private(set) var dot = 0.0, norm = 0.0, absDot = 0.0
        private(set) var updates = 0

        init(from turn: Int) {
            lo = turn
            hi = turn
            buckets = .allocate(capacity: capacity / 2)
            counts = .allocate(capacity: capacity / 2)
            firstLong = .allocate(capacity: capacity / 2)
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: -1, count: capacity)
        }

        deinit {
            buckets.deallocate(); counts.deallocate(); firstLong.deallocate(); slots.deallocate()
        }

        /// Counts the n-grams of turn `hi` (its normalised text), which becomes counted.
        func add(_ text: NormalisedText, model: TextModel, logs: UnsafeMutablePointer<Double>) {
            // At most one n-gram per order per scalar: room for them all first, so the loop
            // works on locals and never grows the table. The normaliser counted the scalars
            // (`scalarCount`, as `fillModelTable` bounds a record's), not a pass over the bytes.
            reserve(count + text.scalarCount * (model.maxN - model.minN + 1))
            let weights = model.weights
            let slots = self.slots, buckets = self.buckets, counts = self.counts, firstLong = self.firstLong
            let mask = capacity - 1, shift = self.shift
            let shortest = Screener.Evaluation.evidenceMinN(minN: model.minN, maxN: model.maxN)
            let turn = UInt16(min(hi - lo, Int(CallNGrams.noLong) - 1)), noLong = CallNGrams.noLong
            var count = self.count, dot = self.dot, norm = self.norm, absDot = self.absDot, updates = self.updates
            text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { bucket, _, _, len in
                    let b = Int32(truncatingIfNeeded: bucket)
                    var s = Int((UInt32(bitPattern: b) &* 0x9E37_79B1) >> shift)
                    var old: Int32 = 0
                    while true {
                        let at = slots[s]
                        if at < 0 {
                            buckets[count] = b
                            counts[count] = 1
                            firstLong[count] = len >= shortest ? turn : noLong
                            slots[s] = Int32(count)
                            count += 1
                            break
                        }
                        if buckets[Int(at)] == b {
                            old = counts[Int(at)]
                            counts[Int(at)] = old &+ 1
                            if len >= shortest && firstLong[Int(at)] == noLong { firstLong[Int(at)] = turn }
                            break
                        }
                        s = (s + 1) & mask
                    }
                    // The count's value in the model's vector before and after (`modelMargin`).
                    let before = ModelScratch.countValue(Int(old), logs), after = ModelScratch.countValue(Int(old) + 1, logs)
                    norm += after * after - before * before
                    let weight = weights[Int(b)]
                    if weight != 0 {
                        let w = Double(weight)
                        dot += w * (after - before)
                        absDot += abs(w) * (after - before)
                    }
                    updates += 1
                }
            }
            self.count = count
            self.dot = dot; self.norm = norm; self.absDot = absDot; self.updates = updates
            hi += 1
        }

        /// Grows the table, if need be, to hold `n` buckets at most half full.
        private func reserve(_ n: Int) {
            guard 2 * n > capacity else { return }
            var grown = capacity
            while 2 * n > grown { grown *= 2; shift -= 1 }
            let newBuckets = UnsafeMutablePointer<Int32>.allocate(capacity: grown / 2)
            let newCounts = UnsafeMutablePointer<Int32>.allocate(capacity: grown / 2)
            let newFirstLong = UnsafeMutablePointer<UInt16>.allocate(capacity: grown / 2)
            newBuckets.moveInitialize(from: buckets, count: count)
            newCounts.moveInitialize(from: counts, count: count)
            newFirstLong.moveInitialize(from: firstLong, count: count)
            buckets.deallocate(); counts.deallocate(); firstLong.deallocate(); slots.deallocate()
            buckets = newBuckets
            counts = newCounts
            firstLong = newFirstLong
            capacity = grown
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: -1, count: capacity)
            for i in 0..<count {
                var s = Int((UInt32(bitPattern: buckets[i]) &* 0x9E37_79B1) >> shift)
                while slots[s] >= 0 { s = (s + 1) & (capacity - 1) }
                slots[s] = Int32(i)
            }
        }

        /// Where bucket `b` is in `buckets` (-1 when not counted).
        private func position(ofBucket b: Int32) -> Int {
            var s = Int((UInt32(bitPattern: b) &* 0x9E37_79B1) >> shift)
            while true {
                let at = slots[s]
                if at < 0 || buckets[Int(at)] == b { return Int(at) }
                s = (s + 1) & (capacity - 1)
            }
        }

        /// The last margin outside hidden frames (`liveApproximateMargin`): the counts it was
        /// for (up to `hi`), the frames hidden, the buckets of the n-grams they hid (one entry
        /// per n-gram), and the result. The three `model` rules of a decision ask for the same
        /// one, and the next event's decision usually hides the same frames.
        var lastHidden: (hi: Int, frames: [FrameSpan], hidden: [Int32], margin: Double, error: Double)?

        /// The margin from the running sums less the n-grams of buckets `hidden` (one entry per
        /// n-gram, counted here), and how far from it the exact margin can be.
        func approximateMargin(_ model: TextModel, hiding hidden: [Int32], logs: UnsafeMutablePointer<Double>) -> (margin: Double, error: Double) {
            guard !hidden.isEmpty else { return approximateMargin(model) }
            var dot = self.dot, norm = self.norm
            let weights = model.weights
            // Each hidden n-gram taken off its bucket's count in place (so a bucket hidden twice
            // steps down twice, as counting without them would count), then the counts put back.
            var taken: [Int32] = []
            taken.reserveCapacity(hidden.count)
            for b in hidden {
                let at = position(ofBucket: b)
                guard at >= 0, counts[at] > 0 else { continue }   // every hidden n-gram was counted
                let c = Int(counts[at])
                let before = ModelScratch.countValue(c, logs), after = ModelScratch.countValue(c - 1, logs)
                norm += after * after - before * before
                let w = weights[Int(b)]
                if w != 0 { dot += Double(w) * (after - before) }
                counts[at] = Int32(c - 1)
                taken.append(Int32(at))
            }
            for at in taken { counts[Int(at)] += 1 }
            // Every n-gram hidden, or so nearly that the subtraction leaves mostly rounding: no
            // bound worth having (the caller sums exactly).
            guard hidden.count < updates, norm > self.norm * 1e-6 else { return (0, .infinity) }
            let root = norm.squareRoot()
            // As `approximateMargin(_:)`, with the hidden n-grams' updates, and `norm`'s error
            // relative to the sum before the subtraction (`self.norm`, the largest it was).
            let slack = 1000 * Double(updates + count + hidden.count + 4) * Double.ulpOfOne
            return (model.bias + dot / root, slack * (absDot / root + abs(dot) / root * (self.norm / norm) + 1))
        }

        /// The margin from the running sums, and how far from it the exact margin can be.
        func approximateMargin(_ model: TextModel) -> (margin: Double, error: Double) {
            guard norm > 0 else { return (model.bias, 0) }
            let root = norm.squareRoot()
            // Each update and each term of the exact sum rounds by at most one part in 2^53 of
            // a partial sum no larger than `absDot` (dot) or `norm`; taken 1,000 times over.
            let slack = 1000 * Double(updates + count + 4) * Double.ulpOfOne
            return (model.bias + dot / root, slack * (absDot / root + abs(dot) / root + 1))
        }

        /// The margin summed exactly as counting the turns afresh sums it: the buckets in the
        /// order first seen (ModelCondition.swift, `modelMargin`).
        func exactMargin(_ model: TextModel) -> Double {
            var dot = 0.0, norm = 0.0
            let weights = model.weights
            for k in 0..<count {
                let c = Int(counts[k])
                let v = c == 1 ? 1.0 : 1 + log(Double(c))
                norm += v * v
                let w = weights[Int(buckets[k])]
                if w != 0 { dot += Double(w) * v }
            }
            return model.bias + (norm > 0 ? dot / norm.squareRoot() : 0)
        }
    }
}

extension Screener.Evaluation {
    /// The call's n-gram counts for the `model` condition on this stretch, counted up to its
    /// last turn: when this is a live call's stretch from the turn its counts start at and the
    /// condition reads every turn (no side's scope). Frames hidden from the rule are left out
    /// by `liveApproximateMargin`.
    ///
    /// The memo is read as the regexes read it (`liveMemo`, not counted), and the screener's log
    /// table only when a turn is counted: asked by every `model` rule of every decision, the
    /// reads through `prepared` and `screener` each counted references.
    mutating func liveNGrams(_ model: TextModel, scope: Side) -> Screener.CallNGrams? {
        guard let held = liveMemo, scope.isEmpty || sidesPresent == scope else { return nil }
        let lo = prepared.firstTurnNumber, hi = lo + turnLimit
        return held._withUnsafeGuaranteedRef { memo in
            if memo.ngrams == nil { memo.ngrams = Screener.CallNGrams(from: lo) }
            // A window that moved on (a call longer than the window) counts afresh, as a record does.
            guard let counts = memo.ngrams, counts.lo == lo, counts.hi <= hi else { return nil }
            while counts.hi < hi {
                counts.add(prepared.normalisedText(ofTurn: counts.hi - lo), model: model, logs: screener.modelScratch.oneMoreThanLog)
            }
            return counts
        }
    }
}

extension Screener.Evaluation {
    /// The margin on this stretch from the call's counts (`liveNGrams`), and how far from it
    /// the exact margin can be, for the rule being evaluated: the n-grams wholly inside a frame
    /// hidden from it are left out, as `fillModelTable` leaves them out of a record's count.
    /// `hidden`: how many n-grams that left out; with none, the call's counts are the stretch's
    /// as a record counts them, and `exactMargin` is its margin to the bit.
    mutating func liveApproximateMargin(_ counts: Screener.CallNGrams, _ model: TextModel) -> (margin: Double, error: Double, hidden: Int) {
        let blind = modelBlindness
        guard blind != 0, ws.frames.contains(where: { $0.kind & blind != 0 }) else {
            let (margin, error) = counts.approximateMargin(model)
            return (margin, error, 0)
        }
        let frames = ws.frames.filter { $0.kind & blind != 0 }
        if let h = counts.lastHidden, h.frames == frames {
            if h.hi == counts.hi { return (h.margin, h.error, h.hidden.count) }
            // The same frames on more turns: they hide the same n-grams (a frame's are its own
            // bytes' in its turn, which a new turn does not change); only the counts moved.
            let (margin, error) = counts.approximateMargin(model, hiding: h.hidden, logs: screener.modelScratch.oneMoreThanLog)
            counts.lastHidden = (counts.hi, frames, h.hidden, margin, error)
            return (margin, error, h.hidden.count)
        }
        // The buckets of the n-grams wholly inside a hidden frame: those of each frame's own bytes
        // (an n-gram's bucket depends on its scalars alone), less those inside an earlier frame.
        var framed: [Int32] = []
        let (minN, maxN, mask) = (model.minN, model.maxN, model.mask)
        for (i, f) in frames.enumerated() {
            prepared.normalisedText(ofTurn: Int(f.turn)).bytes.withUnsafeBufferPointer { all in
                let lo = Int(f.start), hi = Int(f.end)
                // A frame starts and ends at scalars (the sentence starts' bytes); were it not to,
                // its bytes would not decode as the turn's do: every n-gram of the turn is then
                // looked at.
                let whole = lo > hi || hi > all.count || (lo < all.count && all[lo] & 0xC0 == 0x80) || (hi < all.count && all[hi] & 0xC0 == 0x80)
                let from = whole ? 0 : lo
                let bytes = whole ? all : UnsafeBufferPointer(rebasing: all[lo..<hi])
                TextModel.forEachNGram(bytes, minN: minN, maxN: maxN, mask: mask) { bucket, start, end, _ in
                    let o = Screener.Occurrence(turn: f.turn, start: Int32(from + start), end: Int32(from + end), evStart: 0, evCount: 0)
                    if whole && !(f.start <= o.start && o.end <= f.end) { return }
                    for j in 0..<i where frames[j].turn == f.turn && frames[j].start <= o.start && o.end <= frames[j].end { return }
                    framed.append(Int32(truncatingIfNeeded: bucket))
                }
            }
        }
        let (margin, error) = counts.approximateMargin(model, hiding: framed, logs: screener.modelScratch.oneMoreThanLog)
        counts.lastHidden = (counts.hi, frames, framed, margin, error)
        return (margin, error, framed.count)
    }
}

extension Screener.Evaluation {
    /// `modelEvidence` on a live call's stretch, from the call's counts (`liveNGrams`) rather
    /// than counting every turn again in the screener's table: when the rule being evaluated
    /// hides no frame, the call's counts are the table's — the same buckets, first seen in the
    /// same order, each with an n-gram long enough to show or not — so the same buckets are
    /// picked, ties broken alike. Their places (each bucket's first n-gram long enough to show,
    /// the one the table keeps) are found in the turns the counts noted for them. Nil (nothing
    /// done) for any other record, stretch or rule.
    mutating func liveModelEvidence(_ model: TextModel, scope: Side, up: Bool) -> Screener.Occurrences? {
        guard modelBlindness == 0, let counts = liveNGrams(model, scope: scope), counts.hi - counts.lo < Int(Screener.CallNGrams.noLong) else { return nil }
        let shortest = Screener.Evaluation.evidenceMinN(minN: model.minN, maxN: model.maxN)
        let weights = model.weights
        let sign: Float = up ? 1 : -1
        let limit = Screener.Evaluation.modelEvidenceNGrams
        let start = ws.occ.count
        let buckets = counts.buckets, firstLong = counts.firstLong
        withUnsafeTemporaryAllocation(of: (weight: Float, bucket: Int32, place: ModelScratch.Place).self, capacity: limit) { top in
            // The strongest `limit` buckets pushing this way, as `modelEvidence` picks them from
            // the table's buckets in the order first seen.
            var n = 0, weakest = 0
            @inline(__always) func findWeakest() {
                weakest = 0
                for q in 1..<n where top[q].weight < top[weakest].weight { weakest = q }
            }
            for k in 0..<counts.count where firstLong[k] != Screener.CallNGrams.noLong {
                let w = weights[Int(buckets[k])] * sign
                guard w > 0 else { continue }
                // The turn for now; the place once the buckets are picked.
                let turn = ModelScratch.Place(turn: Int32(firstLong[k]), start: -1, end: -1)
                if n < limit {
                    top[n] = (w, buckets[k], turn)
                    n += 1
                    if n == limit { findWeakest() }
                } else if top[weakest].weight < w {
                    top[weakest] = (w, buckets[k], turn)
                    findWeakest()
                }
            }
            // Their places: each one's first n-gram of `shortest` scalars or more in its turn
            // (n-grams of `shortest` scalars and more only: the same buckets, as each longer
            // n-gram's hash extends the shorter one's). The buckets are distinct, so each
            // n-gram places one at most.
            for q in 0..<n where top[q].place.start < 0 {
                let t = Int(top[q].place.turn)
                prepared.normalisedText(ofTurn: t).bytes.withUnsafeBufferPointer { buf in
                    TextModel.forEachNGram(buf, minN: shortest, maxN: model.maxN, mask: model.mask) { bucket, from, to, _ in
                        let b = Int32(truncatingIfNeeded: bucket)
                        for p in q..<n where top[p].bucket == b && top[p].place.start < 0 && Int(top[p].place.turn) == t {
                            top[p].place = ModelScratch.Place(turn: Int32(t), start: Int32(truncatingIfNeeded: from), end: Int32(truncatingIfNeeded: to))
                        }
                    }
                }
            }
            appendModelEvidence(top, count: n) { $0.place }
        }
        return ws.occ.count == start ? Screener.Occurrences.nowhere
            : Screener.Occurrences(start: Int32(start), count: Int32(ws.occ.count - start))
    }
}
