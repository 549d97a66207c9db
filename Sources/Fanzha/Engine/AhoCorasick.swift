/// A byte-level Aho–Corasick automaton for the literal prefilter, laid out compactly.
///
/// Why compact: the bundled rules' ~20,000 words make ~98,000 states. As a dense DFA (a row of
/// every byte class for every state) that was a 46 MB table, bigger than the last-level cache,
/// and a scan's walk through it missed on nearly every step past the root: a third of a record's
/// time sat on that one load while it was 7% of the instructions. Most states have one child
/// (a word's bytes run on alone past its first character), so this layout stores each state's
/// own transitions only, with its failure link, in about 1.6 MB; a scan follows a failure link
/// now and then, and every load it makes is likely a cache hit.
///
/// Layout: one flat table of Int32, `nodes`; a state is the offset of its record there:
/// - `nodes[s - 1]`, only when words end at it: where its words are in `outputs` (a count, then
///   the word ids: its own words, then its failure state's), as `~index` (negative, so that the
///   records can be walked in order). Before the record, so that the transitions are always at
///   `s + 2` and the scan never reads this word unless it reports.
/// - `nodes[s]`: its failure state (the longest proper suffix of its string that is a state);
///   the root's (offset 0) is itself.
/// - `nodes[s + 1]`, its shape: the number of transitions `k` (1 to 7: a sparse state), or
///   `denseShape` for a state with a row of every class; `reportsShape` when words end at it.
/// - then its transitions: for a sparse state, `k` class bytes packed four to an Int32, then the
///   `k` targets in the same order; for a dense state, a target for every class, complete (where
///   it has no child, the target its failure states lead to), so a dense state never fails over.
///   The root and states with many children (the first bytes of a character) are dense.
/// - a target is a state's offset, or `~offset` (negative) when that state reports words, so "no
///   word ends here" is a sign test on the value already loaded.
///
/// Bytes are first mapped to classes; every byte that occurs in no word is class 0 and leads
/// straight back to the root from any state.
///
/// Its tables are plain memory (`Table`: its own, or read in place from a compiled rule cache's
/// mapped file), read through pointers that retain nothing. Immutable once made, so
/// `@unchecked Sendable`: every thread only reads it.
package final class AhoCorasick: @unchecked Sendable {
    /// The class of each of the 256 bytes.
    let byteClass: Table<UInt8>
    let classCount: Int
    let nodes: Table<Int32>
    /// Each reporting state's words: a count, then the word ids.
    let outputs: Table<Int32>
    let wordLength: Table<Int32>
    /// How many states (for tests and diagnostics: the scan needs only offsets).
    package let stateCount: Int
    /// What keeps tables read in place alive (the mapped file); nil when they are all its own.
    private let storage: AnyObject?
    /// `nodes` when it is a huge-page copy (of a table of at least `hugePageCopyFrom` bytes).
    private let nodesCopy: HugePageCopy?
    /// Smaller tables (the tests' automata) are read where they are.
    static let hugePageCopyFrom = 1 << 20

    static let denseShape: Int32 = 1 << 16
    static let reportsShape: Int32 = 1 << 17
    static let transitionCountMask: Int32 = 0xFFFF
    /// A state with this many children or more gets a dense row. Fewer fit their class bytes in
    /// the eight bytes the scan compares at once; and most states with more are the first byte of
    /// a character, visited often enough to be worth a row.
    static let denseFrom = 8

    /// The automaton from its tables (as `CompiledRuleCache` reads them, with the file that holds
    /// them as `storage`), which it then owns or borrows as each `Table` says. The tables must be
    /// consistent (`tablesAreConsistent`): the scan reads them without bounds checks.
    init(byteClass: Table<UInt8>, classCount: Int, nodes: Table<Int32>, outputs: Table<Int32>, wordLength: Table<Int32>,
         stateCount: Int, storage: AnyObject? = nil) {
        self.byteClass = byteClass
        self.classCount = classCount
        // Each step of a scan reads a state at random in `nodes`: in 4 KB pages a large table
        // costs a TLB miss on most steps (`HugePageCopy`).
        if nodes.count * 4 >= Self.hugePageCopyFrom, let copy = HugePageCopy(copying: nodes.address(0), byteCount: nodes.count * 4) {
            nodes.deallocate()   // its own memory; a borrowed table's stays with its owner
            self.nodes = Table(borrowing: copy.base, count: nodes.count)
            nodesCopy = copy
        } else {
            self.nodes = nodes
            nodesCopy = nil
        }
        self.outputs = outputs
        self.wordLength = wordLength
        self.stateCount = stateCount
        self.storage = storage
    }

    deinit {
        byteClass.deallocate()
        for t in [nodes, outputs, wordLength] { t.deallocate() }
    }

    package convenience init(words: [String]) {
        self.init(byteWords: words.map { Array($0.utf8) })
    }

    /// Words of at most 255 distinct byte values (class 0 is for the bytes of no word; UTF-8
    /// text never uses 0xC0, 0xC1 or 0xF5–0xFF). Empty words are never reported.
    package convenience init(byteWords: [[UInt8]]) {
        // Byte classes.
        var used = [Bool](repeating: false, count: 256)
        for w in byteWords { for b in w { used[Int(b)] = true } }
        precondition(used.filter { $0 }.count < 256, "the automaton's words use all 256 byte values")
        var cls = [UInt8](repeating: 0, count: 256)
        var n = 1
        for b in 0..<256 where used[b] { cls[b] = UInt8(n); n += 1 }

        // The trie: each state's children as (class, child) keyed by `state << 8 | class`, and the
        // words ending at each state as a linked list (equal words share a state).
        var child: [Int: Int32] = [:]
        var childCount: [Int] = [0]
        var own: [Int32] = [-1]
        var nextOwn = [Int32](repeating: -1, count: byteWords.count)
        for (id, w) in byteWords.enumerated() where !w.isEmpty {
            var s = 0
            for b in w {
                let key = s << 8 | Int(cls[Int(b)])
                if let t = child[key] {
                    s = Int(t)
                } else {
                    let t = own.count
                    child[key] = Int32(t)
                    childCount[s] += 1
                    childCount.append(0)
                    own.append(-1)
                    s = t
                }
            }
            nextOwn[id] = own[s]
            own[s] = Int32(id)
        }
        let stateCount = own.count
        func goto(_ s: Int, _ c: Int) -> Int? { child[s << 8 | c].map(Int.init) }
        // Each state's children in order of class, as one list (`kids[kidStart[s] ..< kidStart[s + 1]]`).
        var kidStart = [Int](repeating: 0, count: stateCount + 1)
        for s in 0..<stateCount { kidStart[s + 1] = kidStart[s] + childCount[s] }
        let kids: [(class: Int, state: Int)] = child.keys.sorted().map { ($0 & 0xFF, Int(child[$0]!)) }

        // Breadth-first: failure links, each state's words (its own, then its failure state's,
        // already known as that state is shallower), and the order the states are laid out in.
        var fail = [Int](repeating: 0, count: stateCount)
        var words = [[Int32]](repeating: [], count: stateCount)
        var order = [0]
        order.reserveCapacity(stateCount)
        var head = 0
        while head < order.count {
            let s = order[head]; head += 1
            var w = own[s]
            while w >= 0 { words[s].append(w); w = nextOwn[Int(w)] }
            if s != 0 { words[s] += words[fail[s]] }
            for (c, t) in kids[kidStart[s]..<kidStart[s + 1]] {
                if s != 0 {
                    var f = fail[s]
                    while f != 0 && goto(f, c) == nil { f = fail[f] }
                    fail[t] = goto(f, c) ?? 0
                }
                order.append(t)
            }
        }
        // Where each state goes in `nodes`, in breadth-first order: the shallow states a scan
        // visits most sit together at the front.
        func isDense(_ s: Int) -> Bool { s == 0 || childCount[s] >= AhoCorasick.denseFrom }
        var offset = [Int](repeating: 0, count: stateCount)
        var size = 0
        for s in order {
            let k = childCount[s]
            size += words[s].isEmpty ? 0 : 1
            offset[s] = size
            size += 2 + (isDense(s) ? n : (k + 3) / 4 + k)
        }
        func target(_ t: Int) -> Int32 { words[t].isEmpty ? Int32(offset[t]) : ~Int32(offset[t]) }
        /// Where a state goes on class `c`, following failure links as the scan would.
        func next(_ s: Int, _ c: Int) -> Int {
            var f = s
            while true {
                if let t = goto(f, c) { return t }
                if f == 0 { return 0 }
                f = fail[f]
            }
        }
        var nodes = [Int32](); nodes.reserveCapacity(size)
        var outputs = [Int32]()
        for s in order {
            let dense = isDense(s), k = childCount[s]
            if !words[s].isEmpty {
                nodes.append(~Int32(outputs.count))
                outputs.append(Int32(words[s].count))
                outputs += words[s]
            }
            nodes.append(Int32(offset[fail[s]]))
            nodes.append((dense ? AhoCorasick.denseShape : Int32(k)) | (words[s].isEmpty ? 0 : AhoCorasick.reportsShape))
            if dense {
                nodes.append(0)   // class 0: the bytes of no word, which the scan sends to the root itself
                for c in 1..<n { nodes.append(target(next(s, c))) }
            } else {
                let mine = kids[kidStart[s]..<kidStart[s + 1]]
                var packed = [UInt8](repeating: 0, count: (k + 3) / 4 * 4)
                for (j, kid) in mine.enumerated() { packed[j] = UInt8(kid.class) }
                // The class bytes as the scan reads them back, through a byte pointer.
                for q in stride(from: 0, to: packed.count, by: 4) {
                    nodes.append(packed.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: q, as: Int32.self) })
                }
                for kid in mine { nodes.append(target(kid.state)) }
            }
        }
        assert(nodes.count == size)
        self.init(byteClass: Table(cls), classCount: n, nodes: Table(nodes), outputs: Table(outputs),
                  wordLength: Table(byteWords.map { Int32($0.count) }), stateCount: stateCount)
    }

    /// Calls `found(wordID, start, end)` for every occurrence of every word (overlaps included),
    /// in order of end position. Offsets are byte offsets in `text`.
    @inline(__always)
    package func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        guard let first = text.baseAddress else { return }
        // Plain pointers in locals: the loop holds its byte, class table, node table and state in
        // registers, with nothing to retain or release around it.
        let classOf = byteClass, nodes = self.nodes.address(0), outputs = self.outputs, wordLength = self.wordLength
        let end = first + text.count
        var p = first
        var s = 0   // the current state's offset
        while p < end {
            let c = Int(classOf[Int(p.pointee)])
            p += 1
            if c == 0 { s = 0; continue }
            var t: Int32
            while true {
                let shape = nodes[s &+ 1], body = nodes + (s &+ 2)
                if shape & AhoCorasick.denseShape != 0 { t = body[c]; break }
                // A sparse state's (up to 7) class bytes compared with `c` at once: the bytes of
                // `bytes ^ c·0x01…01` that are zero are its children on `c` (the lowest set bit
                // of `zeroBytes` is exact; the load's bytes past `k` are masked off).
                let k = Int(shape & AhoCorasick.transitionCountMask)
                if k == 1 {
                    // Most sparse states have one child (a word's bytes running on alone).
                    if Int(UnsafeRawPointer(body).load(as: UInt8.self)) == c { t = body[1]; break }
                } else if k != 0 {
                    let bytes = UInt64(littleEndian: UnsafeRawPointer(body).loadUnaligned(as: UInt64.self))
                    let x = bytes ^ (UInt64(truncatingIfNeeded: c) &* 0x0101_0101_0101_0101)
                    let zeroBytes = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 & (UInt64.max &>> (64 &- 8 &* k))
                    if zeroBytes != 0 { t = body[(k &+ 3) >> 2 &+ zeroBytes.trailingZeroBitCount >> 3]; break }
                }
                s = Int(nodes[s])   // no child on this class: fail over (the root is dense: it ends here)
            }
            if t >= 0 {
                s = Int(t)
                continue
            }
            s = Int(~t)
            let i = p - first
            let a = Int(~nodes[s &- 1])
            for k in (a &+ 1)..<(a &+ 1 &+ Int(outputs[a])) {
                let w = Int(outputs[k])
                found(w, i &- Int(wordLength[w]), i)
            }
        }
    }

    /// Whether tables read from a file make an automaton the scan can walk without bounds checks
    /// and without looping: every state's record inside `nodes`, every target and failure link the
    /// offset of a state, every failure link shallower (earlier) than its state so a chain ends at
    /// the root, the root and every dense row complete, every word list inside `outputs` and every
    /// word id below `wordCount`. Linear in the tables' size; `walkingRecords` false checks only
    /// the shapes and the root (for tables walked before, `CompiledRuleCache.decode`).
    static func tablesAreConsistent(byteClass: Table<UInt8>, classCount: Int, nodes: Table<Int32>, outputs: Table<Int32>,
                                    wordLength: Table<Int32>, stateCount: Int, wordCount: Int, walkingRecords: Bool = true) -> Bool {
        guard byteClass.count == 256, classCount > 0, classCount <= 256, wordLength.count == wordCount,
              nodes.count >= 2 + classCount, stateCount > 0, nodes[0] == 0, nodes[1] == denseShape else { return false }
        for c in byteClass where Int(c) >= classCount { return false }
        guard walkingRecords else { return true }
        let count = nodes.count
        // Per entry of `nodes`: whether a state's record starts there, and whether that state reports.
        var isState = [Bool](repeating: false, count: count)
        var reports = [Bool](repeating: false, count: count)
        var states = 0
        var o = 0
        // First pass: each record's extent, its failure link and its words.
        while o < count {
            var wordsAt: Int?
            if nodes[o] < 0 {
                wordsAt = Int(~nodes[o])
                o += 1
            }
            guard o + 2 <= count else { return false }
            let shape = nodes[o + 1]
            guard shape >= 0, shape & ~(denseShape | reportsShape | transitionCountMask) == 0 else { return false }
            let dense = shape & denseShape != 0, k = Int(shape & transitionCountMask)
            let reporting = shape & reportsShape != 0
            guard reporting == (wordsAt != nil), (dense && k == 0) || (!dense && k < denseFrom),
                  o != 0 || (dense && !reporting) else { return false }
            let fail = Int(nodes[o])
            guard o == 0 ? fail == 0 : (fail >= 0 && fail < o) else { return false }
            if let a = wordsAt {
                guard a < outputs.count else { return false }
                let n = Int(outputs[a])
                guard n >= 1, n <= outputs.count - a - 1 else { return false }
                for i in (a + 1)...(a + n) where outputs[i] < 0 || Int(outputs[i]) >= wordCount { return false }
            }
            let body = o + 2, end = body + (dense ? classCount : (k + 3) / 4 + k)
            guard end <= count else { return false }
            if !dense && k > 0 {
                let classes = UnsafeRawPointer(nodes.address(body))
                for j in 0..<k {
                    let c = Int(classes.load(fromByteOffset: j, as: UInt8.self))
                    guard c > 0 && c < classCount else { return false }
                }
            }
            isState[o] = true
            reports[o] = reporting
            states += 1
            o = end
        }
        guard states == stateCount else { return false }
        // Second pass: every failure link and target is a state's offset, signed as that state reports.
        func isTarget(_ t: Int32) -> Bool {
            let s = t >= 0 ? Int(t) : Int(~t)
            return s < count && isState[s] && reports[s] == (t < 0)
        }
        o = 0
        while o < count {
            if nodes[o] < 0 { o += 1 }
            let shape = nodes[o + 1], dense = shape & denseShape != 0, k = Int(shape & transitionCountMask)
            guard isState[Int(nodes[o])] else { return false }
            let body = o + 2
            let targets = dense ? (body + 1)..<(body + classCount) : (body + (k + 3) / 4)..<(body + (k + 3) / 4 + k)
            for i in targets where !isTarget(nodes[i]) { return false }
            o = targets.upperBound
        }
        return true
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
