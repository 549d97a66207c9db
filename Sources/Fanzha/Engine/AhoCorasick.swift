/// A byte-level Aho–Corasick automaton with dense transitions, for the literal prefilter.
///
/// Layout for the hot loop: bytes are first mapped to equivalence classes (every byte that occurs
/// in no word shares class 0), then `next[state * classCount + class]` is a flat Int32 table: no
/// object per state, no dictionary, no branch on failure links while scanning.
package struct AhoCorasick: Sendable {
    let byteClass: [UInt8]
    let classCount: Int
    let next: TransitionTable
    /// Word ids reported at each state (its own word and those of its suffix states):
    /// `outputs[outputStart[s] ..< outputStart[s] + outputCount[s]]`.
    let outputStart: [Int32]
    let outputCount: [Int32]
    let outputs: [Int32]
    let wordLength: [Int32]

    /// The automaton from its tables, as `CompiledRuleCache` stored them.
    init(byteClass: [UInt8], classCount: Int, next: TransitionTable,
         outputStart: [Int32], outputCount: [Int32], outputs: [Int32], wordLength: [Int32]) {
        self.byteClass = byteClass
        self.classCount = classCount
        self.next = next
        self.outputStart = outputStart
        self.outputCount = outputCount
        self.outputs = outputs
        self.wordLength = wordLength
    }

    package init(words: [String]) {
        self.init(byteWords: words.map { Array($0.utf8) })
    }

    package init(byteWords: [[UInt8]]) {
        // Byte classes.
        var used = [Bool](repeating: false, count: 256)
        for w in byteWords { for b in w { used[Int(b)] = true } }
        var cls = [UInt8](repeating: 0, count: 256)
        var n = 1
        for b in 0..<256 where used[b] { cls[b] = UInt8(n); n += 1 }
        byteClass = cls
        classCount = n
        // The trie, built straight into the flat table (one row of `n` entries per state; -1 = none).
        let maxStates = 1 + byteWords.reduce(0) { $0 + $1.count }
        var table = [Int32](repeating: -1, count: n)
        table.reserveCapacity(maxStates * n)
        // The words ending at each state, as a linked list (equal words share a state).
        var own = [Int32](repeating: -1, count: 1)
        own.reserveCapacity(maxStates)
        var nextOwn = [Int32](repeating: -1, count: byteWords.count)
        var stateCount = 1
        for (id, w) in byteWords.enumerated() where !w.isEmpty {
            var s = 0
            for b in w {
                let c = Int(cls[Int(b)])
                if table[s &* n &+ c] < 0 {
                    table[s &* n &+ c] = Int32(stateCount)
                    table.append(contentsOf: repeatElement(-1, count: n))
                    own.append(-1)
                    stateCount += 1
                }
                s = Int(table[s &* n &+ c])
            }
            nextOwn[id] = own[s]
            own[s] = Int32(id)
        }
        // Breadth-first: failure links complete the table into a DFA, and each state's outputs are
        // its own word followed by its failure state's outputs (already known, being shallower).
        var fail = [Int32](repeating: 0, count: stateCount)
        var outStart = [Int32](repeating: 0, count: stateCount)
        var outCount = [Int32](repeating: 0, count: stateCount)
        var flat: [Int32] = []
        var queue: [Int] = []
        queue.reserveCapacity(stateCount)
        for c in 0..<n {
            let t = table[c]
            if t >= 0 { queue.append(Int(t)) } else { table[c] = 0 }
        }
        var head = 0
        // The row loop runs states × classes times (millions at start-up): on the table's memory
        // directly, not through an array's uniqueness check per write. Every index is a state's
        // row plus a class, inside the table by construction.
        table.withUnsafeMutableBufferPointer { table in
            while head < queue.count {
                let s = queue[head]; head += 1
                let f = Int(fail[s])
                outStart[s] = Int32(flat.count)
                var w = own[s]
                while w >= 0 { flat.append(w); w = nextOwn[Int(w)] }
                // Element by element: appending a slice of `flat` to itself would copy the whole array.
                for k in Int(outStart[f])..<Int(outStart[f] + outCount[f]) { flat.append(flat[k]) }
                outCount[s] = Int32(flat.count) - outStart[s]
                let row = s &* n, failRow = f &* n
                for c in 0..<n {
                    let t = table[row &+ c]
                    if t >= 0 {
                        if s != 0 { fail[Int(t)] = table[failRow &+ c] }
                        queue.append(Int(t))
                    } else {
                        table[row &+ c] = table[failRow &+ c]
                    }
                }
            }
        }
        // For the scan loop: each entry is the target state's row offset (state × classCount), so
        // the next index is one addition; negated when the target reports words, so finding
        // "no match here" costs a sign test instead of a second load.
        outCount.withUnsafeBufferPointer { outCount in
            table.withUnsafeMutableBufferPointer { table in
                for i in table.indices {
                    let t = Int(table[i])
                    table[i] = outCount[t] > 0 ? -Int32(t &* n) - 1 : Int32(t &* n)
                }
            }
        }
        next = TransitionTable(copying: table)
        outputStart = outStart
        outputCount = outCount
        outputs = flat
        wordLength = byteWords.map { Int32($0.count) }
    }

    package var stateCount: Int { outputStart.count }

    /// Calls `found(wordID, start, end)` for every occurrence of every word (overlaps included),
    /// in order of end position. Offsets are byte offsets in `text`.
    @inlinable
    package func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        scan(text, found)
    }

    @usableFromInline
    func scan(_ text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        let next = self.next.base
        do {
            byteClass.withUnsafeBufferPointer { cls in
                var row = 0   // current state × classCount
                let n = classCount
                for i in 0..<text.count {
                    let entry = Int(next[row &+ Int(cls[Int(text[i])])])
                    if entry >= 0 {
                        row = entry
                        continue
                    }
                    row = -(entry &+ 1)
                    let s = row / n
                    let a = Int(outputStart[s])
                    for k in a..<(a + Int(outputCount[s])) {
                        let w = Int(outputs[k])
                        found(w, i + 1 - Int(wordLength[w]), i + 1)
                    }
                }
            }
        }
    }

    /// Every occurrence, naively: the reference the automaton is tested against.
    package static func naiveMatches(words: [[UInt8]], in text: [UInt8]) -> [(Int, Int, Int)] {
        var out: [(Int, Int, Int)] = []
        guard !text.isEmpty else { return out }
        for end in 1...text.count {
            for (id, w) in words.enumerated() where !w.isEmpty && w.count <= end {
                if text[(end - w.count)..<end].elementsEqual(w) { out.append((id, end - w.count, end)) }
            }
        }
        return out
    }
}

/// The automaton's transition table in memory of its own, or read in place from a compiled rule
/// set's mapped file (`CompiledRuleCache`): the table is most of that file (about 22 MB for the
/// bundled rules), and a one-message run touches only a few of its pages.
final class TransitionTable: @unchecked Sendable {
    let base: UnsafePointer<Int32>
    let count: Int
    /// What keeps borrowed memory alive (the mapped file); nil when the table owns its memory.
    private let owner: AnyObject?

    init(copying values: [Int32]) {
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { p.initialize(from: b, count: values.count) } }
        base = UnsafePointer(p)
        count = values.count
        owner = nil
    }

    /// `count` entries at `base`, valid while `owner` lives.
    init(borrowing base: UnsafePointer<Int32>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
    }

    deinit {
        if owner == nil { UnsafeMutablePointer(mutating: base).deallocate() }
    }

    var buffer: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: base, count: count) }
}
