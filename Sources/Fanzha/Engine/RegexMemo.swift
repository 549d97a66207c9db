// A live call's regex occurrences, kept from event to event: a call is decided on its window at
// every event, and without this each decision would run every regex that may match over every
// turn of the window again. With it a turn is matched once by each regex (when the regex first
// may match in the window that holds it), and an evaluation only reads the occurrences back.

extension Screener {
    /// A live call's own screener-side record: its `Prepared` and the windows cut from it
    /// (`lastTurns`) share one. `Prepared.firstTurnNumber` maps an evaluation's turns to the
    /// call's turn numbers, which is what the memo is keyed by.
    package func prepareLiveCall(id: String) -> Prepared {
        let p = Prepared(id: id, isCall: true)
        // Without the prefilter every atom runs through PCRE2 on every record (a measurement
        // mode): memoising them all would keep an entry per atom per call.
        if usePrefilter { p.regexMemo = RegexMemo() }
        return p
    }

    /// Per regex atom, the turns of the call matched so far and the occurrences found in them,
    /// by the call's turn numbers. Only what the current window may read is kept (`forget`), so
    /// it is bounded like the window itself.
    final class RegexMemo {
        struct Entry {
            /// The call's turns `from ..< to` have been matched.
            var from = 0, to = 0
            /// Their occurrences in turn order (within a turn as the atom's matching leaves them).
            var found: [Evidence] = []
            /// The first failure of each turn that had one (PCRE2's match limit): the turn and why.
            var failures: [(turn: Int, message: String)] = []
        }
        /// Each regex's entry, by atom (`AtomEntries`). Not checked for exclusive access at run
        /// time: only the call's worker reads or writes a call's memo, one evaluation at a time,
        /// and neither closure `occurrences` calls while it changes an entry touches the entries.
        /// Each regex asked about (111,000 a run of the bench's live events) paid about 90
        /// instructions for the check.
        @exclusivity(unchecked) private var entries = AtomEntries()

        /// The occurrences of atom `a` in the call's turns `lo ..< hi`, matching (by `match`)
        /// the turns not matched yet; `each` gets them in turn order, and the result is the
        /// first failure among those turns.
        func occurrences(of a: Int32, turns lo: Int, _ hi: Int,
                         match: (Int) -> (ranges: [Range<Int>], failure: String?),
                         each: (Int32, Int32, Int32) -> Void) -> (turn: Int, message: String)? {
            guard lo < hi else { return nil }
            // The entry is changed where it is (one look-up, and its arrays are not copied).
            let i = entries.slot(making: a)
            return occurrences(in: &entries.entries[i], turns: lo, hi, match: match, each: each)
        }

        private func occurrences(in e: inout Entry, turns lo: Int, _ hi: Int,
                                        match: (Int) -> (ranges: [Range<Int>], failure: String?),
                                        each: (Int32, Int32, Int32) -> Void) -> (turn: Int, message: String)? {
            if e.to < lo || e.from > hi || e.from == e.to {
                // Nothing matched next to these turns: start again from them.
                e = Entry(from: lo, to: lo)
            }
            if lo < e.from {
                // Earlier turns than matched so far (a slide judges more than the window did).
                var earlier = Entry(from: lo, to: lo)
                extend(&earlier, to: e.from, match: match)
                earlier.found += e.found
                earlier.failures += e.failures
                earlier.to = e.to
                e = earlier
            }
            if e.to < hi { extend(&e, to: hi, match: match) }
            var i = Self.firstIndex(in: e.found, atOrAfter: lo)
            while i < e.found.count, Int(e.found[i].turn) < hi {
                let o = e.found[i]
                each(o.turn, o.start, o.end)
                i += 1
            }
            return e.failures.first { $0.turn >= lo && $0.turn < hi }
        }

        private func extend(_ e: inout Entry, to end: Int, match: (Int) -> (ranges: [Range<Int>], failure: String?)) {
            for t in e.to..<end {
                let (ranges, failure) = match(t)
                for r in ranges { e.found.append(Evidence(turn: Int32(t), start: Int32(r.lowerBound), end: Int32(r.upperBound))) }
                if let failure { e.failures.append((t, failure)); sawFailure = true }
            }
            e.to = end
        }

        private static func firstIndex(in found: [Evidence], atOrAfter turn: Int) -> Int {
            var lo = 0, hi = found.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Int(found[mid].turn) < turn { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }

        /// Adds turn `turn`'s matches of atom `a` (found outside an evaluation) when the atom's
        /// entry has matched the turns up to it; otherwise leaves the entry as it is.
        func extend(_ a: Int32, turn: Int, ranges: [Range<Int>], failure: String?) {
            let i = entries.slot(of: a)
            guard entries.atoms[i] == a, entries.entries[i].to == turn else { return }
            extend(&entries.entries[i], to: turn + 1) { _ in (ranges, failure) }
        }

        /// Whether a regex of the call failed (PCRE2's match limit) or did not compile: then
        /// every verdict is evaluated in full, so that its errors are every rule's.
        var sawFailure = false

        /// The call's last decision, and its last of the money-request rules alone (LiveDecision.swift).
        var decision: LiveDecisionState?
        var money: LiveMoneyState?

        /// The call's n-gram counts for the learned model (LiveModel.swift).
        var ngrams: CallNGrams?

        /// The call's word hits, placed under their atoms (Calls/LiveWordHits.swift).
        var wordHits: CallWordHits?

        /// The prefilter clauses of the call's turns, listed as regexes ask (Calls/LiveTurnClauses.swift):
        /// one for the call's life, so that asking reads a `let` (no reference counted).
        let turnClauses = CallTurnClauses(from: 0)

        /// The `ScalarBits` of the call's turns, written as each is added (Calls/LiveScalarBits.swift).
        let scalarBits = CallScalarBits()

        /// The sentence breaks of the call's turns that a frame has marked, by the call's turn
        /// number (Frames.swift).
        var sentenceBreaks: [Int: SentenceBreaks] = [:]

        /// Drops what the call's turns before `turn` hold: they have left the window for good.
        func forget(before turn: Int) {
            sentenceBreaks = sentenceBreaks.filter { $0.key >= turn }
            if let counts = ngrams, counts.lo < turn { ngrams = nil }
            if let kept = wordHits, kept.lo < turn { wordHits = nil }
            if turnClauses.from < turn { turnClauses.restart(from: turn) }
            scalarBits.forget(before: turn)
            entries.keep { e in
                guard e.to > turn else { return false }
                if e.from < turn {
                    e.found.removeFirst(Self.firstIndex(in: e.found, atOrAfter: turn))
                    e.failures.removeAll { $0.turn < turn }
                    e.from = turn
                }
                return true
            }
        }

        /// The learned model's margins on the stretches of the call judged last, with no frame
        /// hidden: (first turn, end, scope, margin), the newest last (ModelCondition.swift).
        private var margins: [(lo: Int, hi: Int, scope: Side, margin: Double)] = []

        func margin(turns lo: Int, _ hi: Int, scope: Side) -> Double? {
            margins.last { $0.lo == lo && $0.hi == hi && $0.scope == scope }?.margin
        }

        func keepMargin(_ m: Double, turns lo: Int, _ hi: Int, scope: Side) {
            if margins.count >= 4 { margins.removeFirst() }
            margins.append((lo, hi, scope, m))
        }

        /// Atoms with turns matched (for tests: the memo follows the window).
        var entryCount: Int { entries.count }
        /// The earliest turn any atom still holds, or nil.
        var firstTurnHeld: Int? { entries.held.map(\.from).min() }
    }
}

extension Screener.RegexMemo {
    /// The memo's entries by atom: open addressing over the atoms a call's windows ask about (a
    /// power of two slots, at most half full), each slot's atom (-1: none) beside its entry. Read
    /// at every regex an evaluation asks about: a `Dictionary` hashed each atom with `Hasher`,
    /// which cost more than the rest of the look-up.
    struct AtomEntries {
        private(set) var atoms: [Int32]
        var entries: [Entry]
        /// Atoms with a slot.
        private(set) var count = 0

        /// Room from the start for the regexes a call's windows ask about (growing from empty, the
        /// bench's 2,000 calls grew their tables about 16 times a call).
        init(capacity: Int = 64) {
            atoms = Array(repeating: -1, count: capacity)
            entries = Array(repeating: Entry(), count: capacity)
        }

        /// The slot of atom `a`: its own, or the empty one where it would go.
        func slot(of a: Int32) -> Int {
            let mask = atoms.count - 1
            // Atoms are small numbers: a multiplication spreads neighbours over the slots.
            var i = Int(truncatingIfNeeded: (UInt32(bitPattern: a) &* 0x9E37_79B1) >> 16) & mask
            while atoms[i] != a && atoms[i] >= 0 { i = (i + 1) & mask }
            return i
        }

        /// The slot of atom `a`, given it (with an empty entry) if it has none.
        mutating func slot(making a: Int32) -> Int {
            let i = slot(of: a)
            if atoms[i] == a { return i }
            guard 2 * (count + 1) > atoms.count else {
                atoms[i] = a
                count += 1
                return i
            }
            rebuild(capacity: 2 * atoms.count, keeping: { _ in true })
            return slot(making: a)
        }

        /// The entries held, in slot order.
        var held: [Entry] { atoms.indices.filter { atoms[$0] >= 0 }.map { entries[$0] } }

        /// Keeps the entries for which `keep` (which may change them) says true; drops the others.
        mutating func keep(_ keep: (inout Entry) -> Bool) {
            rebuild(capacity: atoms.count, keeping: keep)
        }

        private mutating func rebuild(capacity: Int, keeping keep: (inout Entry) -> Bool) {
            let old = (atoms, entries)
            self = AtomEntries(capacity: capacity)
            for k in old.0.indices where old.0[k] >= 0 {
                var e = old.1[k]
                guard keep(&e) else { continue }
                let i = slot(of: old.0[k])
                atoms[i] = old.0[k]
                entries[i] = e
                count += 1
            }
        }
    }
}
