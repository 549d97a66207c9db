/// A byte-level Aho–Corasick automaton with dense transitions, for the literal prefilter.
///
/// Layout for the hot loop: bytes are first mapped to equivalence classes (every byte that occurs
/// in no word shares class 0), then `next[state * classCount + class]` is a flat Int32 table: no
/// object per state, no dictionary, no branch on failure links while scanning.
public struct AhoCorasick: Sendable {
    public let words: [[UInt8]]
    private let byteClass: [UInt8]
    private let classCount: Int
    private let next: [Int32]
    /// Word ids reported at each state (its own word and those of its suffix states), flattened.
    private let outputStart: [Int32]
    private let outputs: [Int32]

    public init(words: [String]) {
        self.init(byteWords: words.map { Array($0.utf8) })
    }

    public init(byteWords: [[UInt8]]) {
        words = byteWords
        // Byte classes.
        var used = [Bool](repeating: false, count: 256)
        for w in byteWords { for b in w { used[Int(b)] = true } }
        var cls = [UInt8](repeating: 0, count: 256)
        var n = 1
        for b in 0..<256 where used[b] { cls[b] = UInt8(n); n += 1 }
        byteClass = cls
        classCount = n
        // Trie, sparse while building.
        var children: [[Int32]] = [[Int32](repeating: -1, count: n)]
        var own: [[Int32]] = [[]]
        for (id, w) in byteWords.enumerated() where !w.isEmpty {
            var s = 0
            for b in w {
                let c = Int(cls[Int(b)])
                if children[s][c] < 0 {
                    children[s][c] = Int32(children.count)
                    children.append([Int32](repeating: -1, count: n))
                    own.append([])
                }
                s = Int(children[s][c])
            }
            own[s].append(Int32(id))
        }
        // Breadth-first: failure links and the dense table.
        let stateCount = children.count
        var table = [Int32](repeating: 0, count: stateCount * n)
        var fail = [Int32](repeating: 0, count: stateCount)
        var all = own
        var queue: [Int] = []
        queue.reserveCapacity(stateCount)
        for c in 0..<n {
            let t = children[0][c]
            if t >= 0 { table[c] = t; fail[Int(t)] = 0; queue.append(Int(t)) } else { table[c] = 0 }
        }
        var head = 0
        while head < queue.count {
            let s = queue[head]; head += 1
            let f = Int(fail[s])
            if !all[f].isEmpty { all[s] += all[f] }
            for c in 0..<n {
                let t = children[s][c]
                if t >= 0 {
                    fail[Int(t)] = table[f * n + c]
                    table[s * n + c] = t
                    queue.append(Int(t))
                } else {
                    table[s * n + c] = table[f * n + c]
                }
            }
        }
        next = table
        var starts = [Int32](repeating: 0, count: stateCount + 1)
        var flat: [Int32] = []
        for s in 0..<stateCount {
            starts[s] = Int32(flat.count)
            flat += all[s]
        }
        starts[stateCount] = Int32(flat.count)
        outputStart = starts
        outputs = flat
    }

    public var stateCount: Int { outputStart.count - 1 }

    /// Calls `found(wordID, start, end)` for every occurrence of every word (overlaps included),
    /// in order of end position. Offsets are byte offsets in `text`.
    @inlinable
    public func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        scan(text, found)
    }

    @usableFromInline
    func scan(_ text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        next.withUnsafeBufferPointer { next in
            byteClass.withUnsafeBufferPointer { cls in
                outputStart.withUnsafeBufferPointer { starts in
                    var s = 0
                    let n = classCount
                    for i in 0..<text.count {
                        s = Int(next[s &* n &+ Int(cls[Int(text[i])])])
                        let a = Int(starts[s]), b = Int(starts[s &+ 1])
                        if a != b {
                            for k in a..<b {
                                let w = Int(outputs[k])
                                found(w, i + 1 - words[w].count, i + 1)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every occurrence, naively: the reference the automaton is tested against.
    public static func naiveMatches(words: [[UInt8]], in text: [UInt8]) -> [(Int, Int, Int)] {
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
