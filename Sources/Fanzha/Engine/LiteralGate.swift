import Foundation
import FanzhaPCRE
import FanzhaText

// A regex's literal gate: for a regex atom whose literals give the prefilter no dictionary word
// (its requirement is made of single characters, such as 某 or 说|称), the characters and short
// literals every match must contain, checked before PCRE2 runs on a turn. The prefilter's
// automaton holds no single characters (的 and 在 would hit in every text), so without this such
// a regex runs on every turn of every record.

extension Screener {
    /// The literals (of characters that match only themselves) that every match of one regex must contain,
    /// as an AND/OR tree (`RegexAtoms.requirement` with runs of one character kept). A turn whose
    /// bytes do not hold them cannot match, so PCRE2 need not run on it: the same promise as the
    /// word prefilter (and like it, a regex that would only have hit its match limit on such a
    /// turn is not run there).
    ///
    /// A literal is looked for in a turn's scalar bitmap first (`ScalarBits`: one bit per hashed
    /// scalar, made once per turn), and only when every one of its scalars' bits is set, in the
    /// bytes. Immutable once made: plain tables, read in place.
    final class LiteralGate {
        /// The gate's tables, which the check reads; the gate owns their memory (`block`,
        /// `firstMask`) and frees it when it goes.
        let tables: Tables
        /// The gate's first test, from a few bitmap words (`Evaluation.gateTurnsAway`).
        let pretest: Pretest
        private let block: UnsafeMutablePointer<Int32>
        private let firstMask: UnsafeMutablePointer<UInt64>

        /// The tree, flat, and the literals, in one block read in place. The check is the
        /// struct's: plain pointers copied out of the gate, so it retains and releases nothing (a
        /// method of the class was called with the gate retained around it, even through
        /// `Unmanaged`: a retain and a release for each of 50,000 checks per 10,000 records).
        /// Node `i` is a literal (`kind` 0, `first` its index), all (1) or any (2) of the nodes
        /// `kids[first ..< first + count]`; node 0 is the root. Literal `k`'s bytes are
        /// `bytes[byteStart[k] ..< byteStart[k + 1]]`, and its scalars' bits
        /// `bits[bitStart[k] ..< bitStart[k + 1]]`.
        struct Tables {
            fileprivate let kind: UnsafePointer<Int32>, first: UnsafePointer<Int32>, count: UnsafePointer<Int32>, kids: UnsafePointer<Int32>
            fileprivate let byteStart: UnsafePointer<Int32>, bitStart: UnsafePointer<Int32>, bits: UnsafePointer<Int32>
            fileprivate let bytes: UnsafePointer<UInt8>
            /// An `any` of literals only (`[王李]`, 80 verbs) is first tested as a whole: the
            /// bitmap's words `firstWord[p]` masked with `firstMask[p]`, for `p` in `firstPairs[i]
            /// ..< firstPairs[i + 1]`, hold the bits of its literals' first scalars; none set, none
            /// is present. A few word tests instead of one loop per literal, most of them failing.
            fileprivate let firstPairs: UnsafePointer<Int32>, firstWord: UnsafePointer<Int32>
            fileprivate let firstMask: UnsafePointer<UInt64>
            /// Such an `any`'s literals are in the order of their first scalars' bits (the
            /// outcome of an `any` is the same in any order): those whose first scalar's bit is in
            /// `firstWord[p]` end at `kids[pairKidsEnd[p]]`, so only the literals of a word with a
            /// bit set are looked for (`[王李张…]`, a hundred surnames, read a dozen).
            fileprivate let pairKidsEnd: UnsafePointer<Int32>
        }

        /// The gate's first test, from a word or three of a text's `ScalarBits`, read with no
        /// reference to the gate: `mask`, bits of `word` that every text the gate admits has set
        /// (the scalars of the literals every match needs alone, the root's or an `all` root's
        /// literal parts, in the word that holds most of them; 0 when there are none); and
        /// `anyMasks`. A text that fails it is turned away before the gate's tables are read.
        struct Pretest: Equatable {
            var word: Int32 = 0
            var mask: UInt64 = 0
            /// And an `any` of literals every match needs (the root, or a part of an `all` root)
            /// whose first scalars' bits lie in two bitmap words or one (`[:：]`): one of these
            /// bits set. Masks 0: none.
            var anyWords: (Int32, Int32) = (0, 0)
            var anyMasks: (UInt64, UInt64) = (0, 0)

            /// Whether the text with `scalars`, its `ScalarBits`, has every bit of `mask` set, and
            /// one of `anyMasks`' when they have any.
            @inline(__always)
            func passes(_ scalars: UnsafePointer<UInt64>) -> Bool {
                guard scalars[Int(word)] & mask == mask else { return false }
                return anyMasks.0 == 0 || scalars[Int(anyWords.0)] & anyMasks.0 | scalars[Int(anyWords.1)] & anyMasks.1 != 0
            }

            static func == (a: Pretest, b: Pretest) -> Bool {
                (a.word, a.mask, a.anyWords.0, a.anyWords.1, a.anyMasks.0, a.anyMasks.1)
                    == (b.word, b.mask, b.anyWords.0, b.anyWords.1, b.anyMasks.0, b.anyMasks.1)
            }
        }

        /// The gate of a regex with source `source`, or nil when its literals say nothing — or,
        /// with `beyondWords`, no single character (only what its prefilter words may say).
        convenience init?(source: String, extended: Bool, beyondWords: Bool = false) {
            guard let layout = LiteralGate.layout(source: source, extended: extended, beyondWords: beyondWords) else { return nil }
            self.init(layout)
        }

        /// The tables and literal bytes of a gate, from which `init(_:)` lays it out. A compiled
        /// rule set stores them (CompiledRuleCache.swift), so that a gate is not made from its
        /// regex's source again at every start-up.
        struct Layout: Equatable {
            /// kind, first, count, kids, byteStart, bitStart, bits (see the properties above).
            var tables: [[Int32]]
            var bytes: [UInt8]
        }

        /// The layout of the gate of a regex with source `source`, or nil when its literals say
        /// nothing — or, with `beyondWords`, no single character.
        static func layout(source: String, extended: Bool, beyondWords: Bool = false) -> Layout? {
            // Only characters without case: the regex is caseless, and a caseless ASCII letter
            // also matches characters that are not its own bytes (k and the Kelvin sign).
            func usable(_ s: String) -> Bool {
                !s.isEmpty && s.unicodeScalars.allSatisfy(RegexAtoms.matchesOnlyItself)
            }
            indirect enum Node { case literal(String), all([Node]), any([Node]) }
            func build(_ r: LiteralRequirement) -> Node? {
                switch r {
                case .always: return nil
                case .literal(let s): return usable(s) ? .literal(s) : nil
                case .all(let xs):
                    let kept = xs.compactMap(build)
                    return kept.isEmpty ? nil : kept.count == 1 ? kept[0] : .all(kept)
                case .any(let xs):
                    var kept: [Node] = []
                    for x in xs {
                        guard let n = build(x) else { return nil }   // one branch needs nothing
                        // An `any` within an `any` is one `any` (`(?:[王李](?:女士|先生)|一男子)`):
                        // a flat `any` of literals is tested as a few masked words (`firstMask`).
                        if case .any(let inner) = n { kept += inner } else { kept.append(n) }
                    }
                    // A literal whose bytes hold another's of the same `any` adds nothing to it
                    // (一男子 beside 男子: wherever the first is, the second is), nor does one
                    // seen before.
                    let literalBytes = kept.compactMap { n -> [UInt8]? in if case .literal(let s) = n { return Array(s.utf8) } else { return nil } }
                    var seen = Set<String>()
                    kept = kept.filter { n in
                        guard case .literal(let s) = n else { return true }
                        let own = Array(s.utf8)
                        return seen.insert(s).inserted
                            && !literalBytes.contains { other in other.count < own.count && own.indices.contains { own[$0...].starts(with: other) } }
                    }
                    return kept.count == 1 ? kept[0] : .any(kept)
                }
            }
            guard let root = build(RegexAtoms.requirement(source, extended: extended, shortest: 1)) else { return nil }
            // The literals the tree holds, each once, numbered in order of first appearance.
            var literals: [String] = []
            var index: [String: Int] = [:]
            func collect(_ n: Node) {
                switch n {
                case .literal(let s):
                    if index[s] == nil { index[s] = literals.count; literals.append(s) }
                case .all(let xs), .any(let xs): xs.forEach(collect)
                }
            }
            collect(root)
            // The prefilter has found the words before the regex is tried: a gate whose literals
            // are all of two characters or more would mostly test them again. One of a single
            // character (类, ：) the dictionary never holds.
            if beyondWords, !literals.contains(where: { $0.unicodeScalars.count == 1 }) { return nil }
            var kinds: [Int32] = [], firsts: [Int32] = [], counts: [Int32] = [], kids: [Int32] = []
            // Breadth by level: a node's children are numbered together, after it.
            func place(_ n: Node) -> Int {
                let i = kinds.count
                kinds.append(0); firsts.append(0); counts.append(0)
                switch n {
                case .literal(let s): firsts[i] = Int32(index[s]!)
                case .all(let xs), .any(let xs):
                    if case .all = n { kinds[i] = 1 } else { kinds[i] = 2 }
                    let children = xs.map(place)
                    firsts[i] = Int32(kids.count)
                    counts[i] = Int32(children.count)
                    kids += children.map(Int32.init)
                }
                return i
            }
            _ = place(root)
            var bytes: [UInt8] = [], byteStart: [Int32] = [0], bits: [Int32] = [], bitStart: [Int32] = [0]
            for l in literals {
                bytes += Array(l.utf8)
                byteStart.append(Int32(bytes.count))
                for c in l.unicodeScalars { bits.append(Int32(ScalarBits.bit(c.value))) }
                bitStart.append(Int32(bits.count))
            }
            return Layout(tables: [kinds, firsts, counts, kids, byteStart, bitStart, bits], bytes: bytes)
        }

        init(_ layout: Layout) {
            let (kinds, firsts, counts, bitStart, bits) =
                (layout.tables[0], layout.tables[1], layout.tables[2], layout.tables[5], layout.tables[6])
            let byteStart = layout.tables[4], bytes = layout.bytes
            var kids = layout.tables[3]
            var firstPairs: [Int32] = [0], firstWord: [Int32] = [], firstMask: [UInt64] = [], pairKidsEnd: [Int32] = []
            for i in kinds.indices {
                let range = kinds[i] == 2 ? Int(firsts[i]) ..< Int(firsts[i] + counts[i]) : 0 ..< 0
                if kinds[i] == 2, kids[range].allSatisfy({ kinds[Int($0)] == 0 }) {
                    // The literals in the order of their first scalars' bits (sorted, not hashed
                    // by word: a gate is made at a regex's first use, on the record's time), so
                    // that each bitmap word's are together; each word's bits masked together.
                    func firstBit(_ kid: Int32) -> Int32 { bits[Int(bitStart[Int(firsts[Int(kid)])])] }
                    let ordered = kids[range].map { (firstBit($0), $0) }.sorted { $0 < $1 }.map(\.1)
                    kids.replaceSubrange(range, with: ordered)
                    let pairsStart = firstWord.count
                    for (offset, kid) in ordered.enumerated() {
                        let bit = firstBit(kid)
                        let word = bit >> 6, mask = UInt64(1) << UInt64(bit & 63)
                        if firstWord.count > pairsStart, firstWord[firstWord.count - 1] == word {
                            firstMask[firstMask.count - 1] |= mask
                        } else {
                            firstWord.append(word)
                            firstMask.append(mask)
                            pairKidsEnd.append(0)
                        }
                        pairKidsEnd[pairKidsEnd.count - 1] = Int32(range.lowerBound + offset + 1)
                    }
                }
                firstPairs.append(Int32(firstWord.count))
            }
            // One block: the Int32 tables one after another, then the bytes.
            let tables = [kinds, firsts, counts, kids, byteStart, bitStart, bits, firstPairs, firstWord, pairKidsEnd]
            let words = tables.reduce(0) { $0 + $1.count }
            let block = UnsafeMutablePointer<Int32>.allocate(capacity: words + (bytes.count + 3) / 4)
            var at = 0
            var starts: [UnsafePointer<Int32>] = []
            for t in tables {
                (block + at).initialize(from: t, count: t.count)
                starts.append(UnsafePointer(block + at))
                at += t.count
            }
            let byteBase = UnsafeMutableRawPointer(block + at).bindMemory(to: UInt8.self, capacity: bytes.count)
            byteBase.initialize(from: bytes, count: bytes.count)
            let masks = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, firstMask.count))
            masks.initialize(from: firstMask, count: firstMask.count)
            self.block = block
            self.firstMask = masks
            self.pretest = LiteralGate.pretest(kinds: kinds, firsts: firsts, counts: counts, kids: kids, bitStart: bitStart, bits: bits)
            self.tables = Tables(kind: starts[0], first: starts[1], count: starts[2], kids: starts[3],
                            byteStart: starts[4], bitStart: starts[5], bits: starts[6], bytes: UnsafePointer(byteBase),
                            firstPairs: starts[7], firstWord: starts[8], firstMask: UnsafePointer(masks), pairKidsEnd: starts[9])
        }

        deinit {
            block.deallocate()
            firstMask.deallocate()
        }

        /// The `Pretest` of a gate's tree (node 0 its root).
        static func pretest(kinds: [Int32], firsts: [Int32], counts: [Int32], kids: [Int32],
                            bitStart: [Int32], bits: [Int32]) -> Pretest {
            let needed: [Int]
            switch kinds[0] {
            case 0: needed = [0]
            case 1: needed = kids[Int(firsts[0]) ..< Int(firsts[0] + counts[0])].map { Int($0) }.filter { kinds[$0] == 0 }
            default: needed = []
            }
            var needs: [Int32] = []
            for node in needed {
                let literal = Int(firsts[node])
                needs += bits[Int(bitStart[literal]) ..< Int(bitStart[literal + 1])]
            }
            // The word with the most bits; of those, the lowest (made once a gate: sorted, not hashed).
            needs.sort()
            var best = Pretest(), at = 0
            while at < needs.count {
                let word = needs[at] >> 6
                var mask: UInt64 = 0
                while at < needs.count, needs[at] >> 6 == word {
                    mask |= 1 << UInt64(needs[at] & 63)
                    at += 1
                }
                if mask.nonzeroBitCount > best.mask.nonzeroBitCount { (best.word, best.mask) = (word, mask) }
            }
            // The `any` of literals with the fewest first bits, in at most two words.
            let anys = kinds[0] == 2 ? [0] : kinds[0] == 1 ? kids[Int(firsts[0]) ..< Int(firsts[0] + counts[0])].map { Int($0) } : []
            var fewest = Int.max
            for node in anys where kinds[node] == 2 {
                let parts = kids[Int(firsts[node]) ..< Int(firsts[node] + counts[node])].map { Int($0) }
                guard parts.allSatisfy({ kinds[$0] == 0 }) else { continue }
                let firstBits = Set(parts.map { bits[Int(bitStart[Int(firsts[$0])])] }).sorted()
                let words = Set(firstBits.map { $0 >> 6 }).sorted()
                guard words.count <= 2, firstBits.count < fewest else { continue }
                fewest = firstBits.count
                func mask(_ w: Int32) -> UInt64 { firstBits.filter { $0 >> 6 == w }.reduce(0) { $0 | 1 << UInt64($1 & 63) } }
                best.anyWords = (words[0], words.count > 1 ? words[1] : words[0])
                best.anyMasks = (mask(words[0]), words.count > 1 ? mask(words[1]) : 0)
            }
            return best
        }

        /// Whether `text` (with `scalars`, its `ScalarBits`) holds what every match needs: false
        /// means PCRE2 would find nothing there.
        func admits(_ text: UnsafeBufferPointer<UInt8>, scalars: UnsafePointer<UInt64>) -> Bool {
            tables.admits(text, scalars: scalars)
        }
    }

    /// Atom `a`'s literal gate, made by this worker when its literals need something: for a
    /// regex the prefilter's words cannot rule out (its own requirement has no clause), on first
    /// use; for one they can, when it needs a character beside its words (`(刷单|返利)(类|型)`:
    /// the words are common, 类 and 型 rare beside them, and PCRE2 tries every position), once it
    /// has been searched `searchesBeforeGate` times. Reading a regex's syntax for its gate costs
    /// about as much as fifty searches, and most regexes with words are searched rarely.
    func literalGate(ofAtom a: Int) -> LiteralGate? {
        switch atomMatchers[a].gate {
        case .none: return nil
        case .gate(let g): return g.takeUnretainedValue()
        case .unknown:
            let hasWords = matcher.programPointer.pointee.atomClauseCount[a] > 0
            if hasWords {
                atomMatchers[a].searches += 1
                if atomMatchers[a].searches < Screener.searchesBeforeGate { return nil }
            }
            let gate = makeLiteralGate(ofAtom: a)
            atomMatchers[a].gate = gate.map { .gate(Unmanaged.passRetained($0)) } ?? .none
            if let gate { atomMatchers[a].pretest = gate.pretest }
            return gate
        }
    }

    /// Atom `a`'s literal gate made now, whether or not it has been searched: nil when it is
    /// not a regex of one pattern or its literals need nothing (with words: no single character).
    /// A compiled rule set's stored gate is taken unless it fails its checks; then, as without
    /// one, the gate is made from the regex's source.
    func makeLiteralGate(ofAtom a: Int) -> LiteralGate? {
        let atom = rules.atoms[a]
        guard let spec = Screener.gatedRegex(atom, clauseCount: matcher.programPointer.pointee.atomClauseCount[a]) else { return nil }
        switch atom.regexes.storedGate {
        case .noGate?: return nil
        case .layout(let bytes, _)?:
            if let layout = LiteralGate.Layout(stored: bytes) { return LiteralGate(layout) }
        case nil: break
        }
        return LiteralGate(source: spec.source, extended: spec.options.contains(.extended), beyondWords: spec.beyondWords)
    }

    /// The regex of atom `atom` (with `clauseCount` word clauses of its own) that may have a
    /// literal gate: a regex atom's one pattern. Its source is read from the pattern itself, not
    /// from the atom's display (a compiled rule set decodes displays only when a tool asks).
    /// `beyondWords` when the prefilter's words can rule it out: then only a single character
    /// beside them is worth a gate.
    static func gatedRegex(_ atom: Atom, clauseCount: Int32) -> (source: String, options: Pattern.Options, beyondWords: Bool)? {
        guard atom.kind == .regex, atom.regexes.specs.count == 1 else { return nil }
        let spec = atom.regexes.specs[0]
        return (spec.source, spec.options, clauseCount > 0)
    }

    /// An atom's literal gate, once asked for. The gate is held unmanaged, retained once when it
    /// is made and released with the screener (`AtomMatchers.releaseHeld`): with the object
    /// itself as the payload, every read of the state copied it out, retained and released it,
    /// twice for each check of a gate that keeps a regex from running (about 100 instructions,
    /// on 40,000 such checks per 10,000 records in the frames alone).
    enum GateState { case unknown, none, gate(Unmanaged<LiteralGate>) }

    /// Searches of a regex with words before its literal gate is made (`literalGate(ofAtom:)`).
    static let searchesBeforeGate: Int32 = 64
}

extension Screener.AtomMatchers {
    /// Whether the atom's literal gate has been built (and the regex has one).
    var hasGate: Bool {
        if case .gate = gate { return true }
        return false
    }

    /// Whether the atom's literal gate admits `text` (with `scalars`, its `ScalarBits`); true
    /// when it has none. The gate is used in place, its reference not counted: the screener
    /// keeps it alive.
    func gateAdmits(_ text: UnsafeBufferPointer<UInt8>, scalars: UnsafePointer<UInt64>) -> Bool {
        guard case .gate(let gate) = gate else { return true }
        return gate._withUnsafeGuaranteedRef { $0.tables }.admits(text, scalars: scalars)
    }

    /// Releases the gate and the anchored search it holds, if any (once, when the screener goes).
    func releaseHeld() {
        if case .gate(let gate) = gate { gate.release() }
        if case .search(let search) = anchored { search.release() }
    }
}

extension Screener.LiteralGate.Tables {
    /// Whether `text` (with `scalars`, its `ScalarBits`) holds what every match needs: false
    /// means PCRE2 would find nothing there.
    func admits(_ text: UnsafeBufferPointer<UInt8>, scalars: UnsafePointer<UInt64>) -> Bool {
        holds(0, text, scalars)
    }

    /// Node `i` holds in `text`. An `all` asks every part's bitmap test (`mayHold`) before any
    /// part's bytes or nested parts, and an `any` its literals before its nested parts: on the
    /// frames' gates, tried on every record, most checks end at a bitmap word (被 or 骗 absent)
    /// that the parts in the regex's order reached only after searching the bytes of a common
    /// character (我) or walking a long `any`. Each node's outcome is the same whatever the order.
    private func holds(_ i: Int, _ text: UnsafeBufferPointer<UInt8>, _ scalars: UnsafePointer<UInt64>) -> Bool {
        let f = Int(first[i])
        switch kind[i] {
        case 0: return present(f, text, scalars)
        case 1:
            let end = f + Int(count[i])
            for j in f..<end where !mayHold(Int(kids[j]), scalars) { return false }
            for j in f..<end {
                let k = Int(kids[j])
                // A literal's scalars were found in the bitmap above: its bytes are left.
                if !(kind[k] == 0 ? bytesPresent(Int(first[k]), text) : holds(k, text, scalars)) { return false }
            }
            return true
        default:
            var p = Int(firstPairs[i])
            let pairsEnd = Int(firstPairs[i + 1])
            if p < pairsEnd {
                // Literals only, a bitmap word's together: each word with one of its literals'
                // first bits set, then those literals.
                var j = f
                while p < pairsEnd {
                    let kidsEnd = Int(pairKidsEnd[p])
                    if scalars[Int(firstWord[p])] & firstMask[p] != 0 {
                        while j < kidsEnd {
                            if present(Int(first[Int(kids[j])]), text, scalars) { return true }
                            j &+= 1
                        }
                    }
                    j = kidsEnd
                    p &+= 1
                }
                return false
            }
            let end = f + Int(count[i])
            var nested = false
            for j in f..<end {
                let k = Int(kids[j])
                if kind[k] != 0 { nested = true } else if present(Int(first[k]), text, scalars) { return true }
            }
            guard nested else { return false }
            for j in f..<end {
                let k = Int(kids[j])
                if kind[k] != 0, holds(k, text, scalars) { return true }
            }
            return false
        }
    }

    /// Whether node `k` may hold, from the bitmap alone: a literal's scalars' bits all set, or,
    /// for an `any` of literals, one of their first scalars' bits (`firstPairs`); true for the rest.
    /// False means the node does not hold.
    @inline(__always)
    private func mayHold(_ k: Int, _ scalars: UnsafePointer<UInt64>) -> Bool {
        if kind[k] == 0 { return scalarsPresent(Int(first[k]), scalars) }
        var p = Int(firstPairs[k])
        let end = Int(firstPairs[k + 1])
        if p == end { return true }
        while p < end {
            if scalars[Int(firstWord[p])] & firstMask[p] != 0 { return true }
            p &+= 1
        }
        return false
    }

    /// Whether literal `k` is in `text`: every one of its scalars' bits set, then its bytes found.
    @inline(__always)
    private func present(_ k: Int, _ text: UnsafeBufferPointer<UInt8>, _ scalars: UnsafePointer<UInt64>) -> Bool {
        scalarsPresent(k, scalars) && bytesPresent(k, text)
    }

    /// Whether every scalar of literal `k` has its bit set in `scalars`.
    @inline(__always)
    private func scalarsPresent(_ k: Int, _ scalars: UnsafePointer<UInt64>) -> Bool {
        var b = Int(bitStart[k])
        let bitEnd = Int(bitStart[k + 1])
        while b < bitEnd {
            let bit = Int(bits[b])
            if scalars[bit &>> 6] & (1 &<< UInt64(bit & 63)) == 0 { return false }
            b &+= 1
        }
        return true
    }

    /// Whether literal `k`'s bytes are in `text`.
    @inline(__always)
    private func bytesPresent(_ k: Int, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let s = Int(byteStart[k]), n = Int(byteStart[k + 1]) - s
        guard let base = text.baseAddress, n <= text.count else { return false }
        // Look for the literal's last byte (for Han, the most varied of a character's
        // three), then compare the whole.
        let needle = bytes + s, last = Int32(needle[n - 1])
        var from = n - 1
        while from < text.count, let hit = memchr(base + from, last, text.count - from) {
            let end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) + 1
            if memcmp(base + (end - n), needle, n) == 0 { return true }
            from = end
        }
        return false
    }
}

extension Screener.Evaluation {
    /// Atom `a`'s literal gate's tables, which the screener keeps once it has made the gate (made
    /// here on first use; nil when the atom has none): plain pointers, read with no reference
    /// to the gate counted.
    @inline(__always)
    func gateTables(ofAtom a: Int) -> Screener.LiteralGate.Tables? {
        switch screener.atomMatchers[a].gate {
        case .gate(let made): return made._withUnsafeGuaranteedRef { $0.tables }
        case .none: return nil
        case .unknown: return screener.literalGate(ofAtom: a)?.tables
        }
    }

    /// Whether regex atom `a`'s literal gate, once made, turns this one-turn record away by its
    /// `pretest` alone: then the prefilter rules the atom out (`ruledOut`), and neither
    /// `evaluateNode` nor `atomOccurrences`, whose gate would turn the record away too, is called.
    /// Most of the frames' regexes, tried on every record, end at their gate, and those calls and
    /// the gate's tables cost about 150 instructions a regex (about 8 regexes a record on the
    /// bench, most of them turned away here). False without a gate yet (its pretest passes every
    /// text), for a word list (it has none) and for a record of several turns (each turn has its
    /// own `ScalarBits`). Mutating, though it writes nothing, as `ruledOut`, which asks it.
    @inline(__always)
    mutating func gateTurnsAway(_ a: Int) -> Bool {
        guard usePrefilter, let scalars = oneTurnScalars else { return false }
        return !screener.atomMatchers[a].pretest.passes(scalars)
    }

    /// Turn `t`'s `ScalarBits`: a message's or a live call's as the normaliser wrote them, else
    /// made on first use in this evaluation.
    mutating func scalarBits(ofTurn t: Int) -> UnsafePointer<UInt64> {
        // Set only for a one-turn evaluation, whose only turn is 0.
        if let made = oneTurnScalars { return made }
        if let kept = liveScalars { return kept + t * ScalarBits.words }
        if ws.scalarBitsStamp.count < turnLimit {
            ws.scalarBitsStamp.reset(count: turnLimit, to: 0)
            ws.scalarBits.reset(count: turnLimit * ScalarBits.words, to: 0)
        }
        let at = ws.scalarBits.address(t * ScalarBits.words)
        if ws.scalarBitsStamp[t] != ws.generation {
            ws.scalarBitsStamp[t] = ws.generation
            prepared.normalisedText(ofTurn: t).bytes.withUnsafeBufferPointer { ScalarBits.fill(at, from: $0) }
        }
        return UnsafePointer(at)
    }
}
