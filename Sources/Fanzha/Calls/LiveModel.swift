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
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: -1, count: capacity)
        }

        deinit {
            buckets.deallocate(); counts.deallocate(); slots.deallocate()
        }

        /// Counts the n-grams of turn `hi` (its normalised text), which becomes counted.
        func add(_ text: NormalisedText, model: TextModel, logs: UnsafeMutablePointer<Double>) {
            // At most one n-gram per order per scalar: room for them all first, so the loop
            // works on locals and never grows the table.
            var scalars = 0
            for b in text.bytes where b & 0xC0 != 0x80 { scalars += 1 }
            reserve(count + scalars * (model.maxN - model.minN + 1))
            let weights = model.weights
            let slots = self.slots, buckets = self.buckets, counts = self.counts
            let mask = capacity - 1, shift = self.shift
            var count = self.count, dot = self.dot, norm = self.norm, absDot = self.absDot, updates = self.updates
            text.bytes.withUnsafeBufferPointer { buf in
                TextModel.forEachNGram(buf, minN: model.minN, maxN: model.maxN, mask: model.mask) { bucket, _, _, _ in
                    let b = Int32(truncatingIfNeeded: bucket)
                    var s = Int((UInt32(bitPattern: b) &* 0x9E37_79B1) >> shift)
                    var old: Int32 = 0
                    while true {
                        let at = slots[s]
                        if at < 0 {
                            buckets[count] = b
                            counts[count] = 1
                            slots[s] = Int32(count)
                            count += 1
                            break
                        }
                        if buckets[Int(at)] == b {
                            old = counts[Int(at)]
                            counts[Int(at)] = old &+ 1
                            break
                        }
                        s = (s + 1) & mask
                    }
                    // The count's value in the model's vector before and after (`modelMargin`).
                    let before = ModelScratch.countValue(Int(old), logs), after = ModelScratch.countValue(Int(old) + 1, logs)
                    norm += after * after - before * before
                    if model.knows(Int(b)) {
                        let w = Double(weights[Int(b)])
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
            newBuckets.moveInitialize(from: buckets, count: count)
            newCounts.moveInitialize(from: counts, count: count)
            buckets.deallocate(); counts.deallocate(); slots.deallocate()
            buckets = newBuckets
            counts = newCounts
            capacity = grown
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: -1, count: capacity)
            for i in 0..<count {
                var s = Int((UInt32(bitPattern: buckets[i]) &* 0x9E37_79B1) >> shift)
                while slots[s] >= 0 { s = (s + 1) & (capacity - 1) }
                slots[s] = Int32(i)
            }
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
                let b = Int(buckets[k])
                if model.knows(b) { dot += Double(weights[b]) * v }
            }
            return model.bias + (norm > 0 ? dot / norm.squareRoot() : 0)
        }
    }
}

extension Screener.Evaluation {
    /// The call's n-gram counts for the `model` condition on this stretch, counted up to its
    /// last turn: when this is a live call's stretch from the turn its counts start at, the
    /// condition reads every turn (no side's scope) and no frame is hidden from it.
    mutating func liveNGrams(_ model: TextModel, scope: Side) -> Screener.CallNGrams? {
        guard let memo = prepared.regexMemo, modelBlindness == 0, scope.isEmpty || sidesPresent == scope else { return nil }
        let lo = prepared.firstTurnNumber, hi = lo + turnLimit
        if memo.ngrams == nil { memo.ngrams = Screener.CallNGrams(from: lo) }
        // A window that moved on (a call longer than the window) counts afresh, as a record does.
        guard let counts = memo.ngrams, counts.lo == lo, counts.hi <= hi else { return nil }
        let logs = screener.modelScratch.oneMoreThanLog
        while counts.hi < hi { counts.add(prepared.turns[counts.hi - lo].text, model: model, logs: logs) }
        return counts
    }
}
