/// A byte-level Aho–Corasick automaton with dense transitions, for the literal prefilter.
///
/// Layout for the hot loop: bytes are first mapped to equivalence classes (every byte that occurs
/// in no word shares class 0), then `next[state * classCount + class]` is a flat Int32 table: no
/// object per state, no dictionary, no branch on failure links while scanning.
///
/// An object whose tables are plain memory (`Table`: its own, or read in place from a compiled
/// rule cache's mapped file, as the transition table is): the scan loop reads them through
/// pointers that retain nothing. As a struct of arrays, a scan retained and released each of its
/// arrays, and the loop kept its row and table on the stack because those references held its
/// registers. Immutable once made, so `@unchecked Sendable`: every thread only reads it.
package final class AhoCorasick: @unchecked Sendable {
    /// The class of each of the 256 bytes.
    let byteClass: Table<UInt8>
    let classCount: Int
    let next: TransitionTable
    /// Word ids reported at each state (its own word and those of its suffix states):
    /// `outputs[outputStart[s] ..< outputStart[s] + outputCount[s]]`.
    let outputStart: Table<Int32>
    let outputCount: Table<Int32>
    let outputs: Table<Int32>
    let wordLength: Table<Int32>
    /// What keeps tables read in place alive (the mapped file); nil when they are all its own.
    private let storage: AnyObject?

    /// The automaton from its tables (as `CompiledRuleCache` reads them, with the file that holds
    /// them as `storage`), which it then owns or borrows as each `Table` says.
    init(byteClass: Table<UInt8>, classCount: Int, next: TransitionTable, outputStart: Table<Int32>,
         outputCount: Table<Int32>, outputs: Table<Int32>, wordLength: Table<Int32>, storage: AnyObject? = nil) {
        self.byteClass = byteClass
        self.classCount = classCount
        self.next = next
        self.outputStart = outputStart
        self.outputCount = outputCount
        self.outputs = outputs
        self.wordLength = wordLength
        self.storage = storage
    }

    deinit {
        byteClass.deallocate()
        for t in [outputStart, outputCount, outputs, wordLength] { t.deallocate() }
    }

    package convenience init(words: [String]) {
        self.init(byteWords: words.map { Array($0.utf8) })
    }

    package convenience init(byteWords: [[UInt8]]) {
        // Byte classes.
        var used = [Bool](repeating: false, count: 256)
        for w in byteWords { for b in w { used[Int(b)] = true } }
        var cls = [UInt8](repeating: 0, count: 256)
        var n = 1
        for b in 0..<256 where used[b] { cls[b] = UInt8(n); n += 1 }
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
        self.init(byteClass: Table(cls), classCount: n, next: TransitionTable(copying: table), outputStart: Table(outStart),
                  outputCount: Table(outCount), outputs: Table(flat), wordLength: Table(byteWords.map { Int32($0.count) }))
    }

    package var stateCount: Int { outputStart.count }

    /// Calls `found(wordID, start, end)` for every occurrence of every word (overlaps included),
    /// in order of end position. Offsets are byte offsets in `text`.
    @inline(__always)
    package func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        guard let first = text.baseAddress else { return }
        // Plain pointers in locals: the loop holds its byte, class table, transition table and
        // row in registers, with nothing to retain or release around it.
        let classOf = byteClass, next = self.next.base, n = classCount
        let end = first + text.count
        var p = first
        var row = 0   // current state × classCount
        while p < end {
            let entry = Int(next[row &+ Int(classOf[Int(p.pointee)])])
            p += 1
            if entry >= 0 {
                row = entry
                continue
            }
            row = ~entry   // -(entry + 1)
            let s = row / n, i = p - first
            let a = Int(outputStart[s])
            for k in a..<(a &+ Int(outputCount[s])) {
                let w = Int(outputs[k])
                found(w, i &- Int(wordLength[w]), i)
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
