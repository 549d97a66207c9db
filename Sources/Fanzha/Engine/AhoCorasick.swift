/// An Aho–Corasick automaton over the characters of UTF-8 text, laid out compactly, for the
/// literal prefilter.
///
/// Why characters, and why compact: a scan is a chain of dependent loads, one a step, and on
/// Chinese text its time was the latency of those loads (perf put a third of a record's seconds on
/// one instruction). Stepping a character at a time rather than a byte at a time makes the chain
/// about 2.2 times shorter (1.4 steps a character against 3.2 on the bench slice), and the
/// bundled rules' ~20,000 words make ~48,000 states instead of ~98,000. Most states have one child
/// (a word's characters running on alone), so each state stores only its own transitions, with
/// its failure link and the words it reports: about 1.3 MB, where the first byte-level
/// automaton's dense table was 46 MB.
///
/// Characters are first mapped to classes (`classBlocks`, `classes`); every character that occurs in no word is
/// class 0 and leads straight back to the root from any state. The text must be valid UTF-8 (the
/// normaliser's output always is): other bytes are read safely but are not matched as bytes.
///
/// Layout: one flat table of Int32, `nodes`; a state is the offset of its record there:
/// - before the record, only when words end at it, its words: for each (its own words, then its
///   failure state's) `~id, ~length` (the length in UTF-8 bytes), then `~count` at `nodes[s - 1]`;
///   all negative, so that the records can be walked in order. Before the record, so that the
///   transitions are always at `s + 2`; beside it, so that reporting reads the state's own lines.
/// - `nodes[s]`: its failure state (the longest proper suffix of its string that is a state);
///   the root's (offset 0) is itself.
/// - `nodes[s + 1]`, its shape: the number of transitions `k` (a sparse state, fewer than
///   `denseFrom`), or `denseShape` for a state with a row of every class; `reportsShape` when
///   words end at it.
/// - then its transitions: for a sparse state, `k` 16-bit classes in ascending order, packed two
///   to an Int32 (`keyWords`: groups of four, padded with class 0), then the `k` targets in the
///   same order; for a dense state, a target for every
///   class, complete (where it has no child, the target its failure states lead to), so a dense
///   state never fails over. The root and the few states with many children are dense.
/// - a target is a state's offset, or `~offset` (negative) when that state reports words, so "no
///   word ends here" is a sign test on the value already loaded.
///
/// Its tables are plain memory (`Table`: its own, or read in place from a compiled rule cache's
/// mapped file), read through pointers that retain nothing. Immutable once made, so
/// `@unchecked Sendable`: every thread only reads it.
package final class AhoCorasick: @unchecked Sendable {
    /// The class of every Unicode scalar, in two levels: `classBlocks[scalar >> 7]` is a block's
    /// place in `classes` (in units of `blockSize` entries; block 0 is all class 0), and
    /// `classes[place + scalar & 127]` the class.
    let classBlocks: Table<UInt16>
    let classes: Table<UInt16>
    let classCount: Int
    let nodes: Table<Int32>
    /// How many states (for tests and diagnostics: the scan needs only offsets).
    package let stateCount: Int
    /// What keeps tables read in place alive (the mapped file); nil when they are all its own.
    private let storage: AnyObject?
    /// `nodes` when it is a huge-page copy (of a table of at least `hugePageCopyFrom` bytes).
    private let nodesCopy: HugePageCopy?

    static let blockSize = 128
    static let blockCount = 0x110000 / blockSize
    static let denseShape: Int32 = 1 << 16
    static let reportsShape: Int32 = 1 << 17
    static let transitionCountMask: Int32 = 0xFFFF
    /// A state with this many children or more gets a dense row. A row costs 4 bytes a class
    /// (~1,800 classes for the bundled rules); the 26 states with 33 children or more are the
    /// first characters of many words, visited often, and searching their classes four at a time
    /// would take up to nine steps.
    static let denseFrom = 33
    /// Smaller tables (the tests' automata) are read where they are.
    static let hugePageCopyFrom = 512 << 10

    /// How many Int32s a sparse state's `k` classes take: one for one class, else groups of four
    /// (eight bytes, the scan's one load) padded with class 0.
    static func keyWords(_ k: Int) -> Int { k <= 1 ? k : groupedKeyWords(k) }
    /// `keyWords` of two classes or more.
    @inline(__always)
    static func groupedKeyWords(_ k: Int) -> Int { ((k &+ 3) >> 2) << 1 }

    /// The automaton from its tables (as `CompiledRuleCache` reads them, with the file that holds
    /// them as `storage`), which it then owns or borrows as each `Table` says. The tables must be
    /// consistent (`tablesAreConsistent`): the scan reads them without bounds checks.
    init(classBlocks: Table<UInt16>, classes: Table<UInt16>, classCount: Int, nodes: Table<Int32>, stateCount: Int,
         storage: AnyObject? = nil) {
        self.classBlocks = classBlocks
        self.classes = classes
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
        self.stateCount = stateCount
        self.storage = storage
    }

    deinit {
        classBlocks.deallocate()
        classes.deallocate()
        nodes.deallocate()
    }

    /// Empty words are never reported. At most 65,535 distinct characters.
    package convenience init(words: [String]) {
        // Character classes, in order of first use.
        var classOf: [Unicode.Scalar: Int] = [:]
        let scalarWords: [[Int]] = words.map { w in
            w.unicodeScalars.map { c in
                if let k = classOf[c] { return k }
                classOf[c] = classOf.count + 1
                return classOf.count
            }
        }
        let n = classOf.count + 1
        precondition(n <= 0xFFFF, "the automaton's words use more than 65,535 characters")
        var blocks = [UInt16](repeating: 0, count: Self.blockCount)
        var classTable = [UInt16](repeating: 0, count: Self.blockSize)   // block 0: no word's characters
        for (c, k) in classOf.sorted(by: { $0.key.value < $1.key.value }) {
            let b = Int(c.value) / Self.blockSize
            if blocks[b] == 0 {
                blocks[b] = UInt16(classTable.count / Self.blockSize)
                classTable += repeatElement(0, count: Self.blockSize)
            }
            classTable[Int(blocks[b]) * Self.blockSize + Int(c.value) % Self.blockSize] = UInt16(k)
        }
        precondition(classTable.count / Self.blockSize <= 0xFFFF)

        // The trie: each state's children keyed by `state << 16 | class`, and the words ending at
        // each state as a linked list (equal words share a state).
        var child: [Int: Int32] = [:]
        var childCount: [Int] = [0]
        var own: [Int32] = [-1]
        var nextOwn = [Int32](repeating: -1, count: words.count)
        for (id, w) in scalarWords.enumerated() where !w.isEmpty {
            var s = 0
            for c in w {
                let key = s << 16 | c
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
        func goto(_ s: Int, _ c: Int) -> Int? { child[s << 16 | c].map(Int.init) }
        // Each state's children in order of class, as one list (`kids[kidStart[s] ..< kidStart[s + 1]]`).
        var kidStart = [Int](repeating: 0, count: stateCount + 1)
        for s in 0..<stateCount { kidStart[s + 1] = kidStart[s] + childCount[s] }
        let kids: [(class: Int, state: Int)] = child.keys.sorted().map { ($0 & 0xFFFF, Int(child[$0]!)) }

        // Breadth-first: failure links, each state's words (its own, then its failure state's,
        // already known as that state is shallower), and the order the states are laid out in.
        var fail = [Int](repeating: 0, count: stateCount)
        var found = [[Int32]](repeating: [], count: stateCount)
        var order = [0]
        order.reserveCapacity(stateCount)
        var head = 0
        while head < order.count {
            let s = order[head]; head += 1
            var w = own[s]
            while w >= 0 { found[s].append(w); w = nextOwn[Int(w)] }
            if s != 0 { found[s] += found[fail[s]] }
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
        func isDense(_ s: Int) -> Bool { s == 0 || childCount[s] >= Self.denseFrom }
        var offset = [Int](repeating: 0, count: stateCount)
        var size = 0
        for s in order {
            let k = childCount[s]
            size += found[s].isEmpty ? 0 : 2 * found[s].count + 1
            offset[s] = size
            size += 2 + (isDense(s) ? n : Self.keyWords(k) + k)
        }
        func target(_ t: Int) -> Int32 { found[t].isEmpty ? Int32(offset[t]) : ~Int32(offset[t]) }
        /// Where a state goes on class `c`, following failure links as the scan would.
        func next(_ s: Int, _ c: Int) -> Int {
            var f = s
            while true {
                if let t = goto(f, c) { return t }
                if f == 0 { return 0 }
                f = fail[f]
            }
        }
        let byteLength = words.map { Int32($0.utf8.count) }
        var nodes = [Int32](); nodes.reserveCapacity(size)
        for s in order {
            let dense = isDense(s), k = childCount[s]
            if !found[s].isEmpty {
                for w in found[s] { nodes += [~w, ~byteLength[Int(w)]] }
                nodes.append(~Int32(found[s].count))
            }
            nodes.append(Int32(offset[fail[s]]))
            nodes.append((dense ? Self.denseShape : Int32(k)) | (found[s].isEmpty ? 0 : Self.reportsShape))
            if dense {
                nodes.append(0)   // class 0: the characters of no word, which the scan sends to the root itself
                for c in 1..<n { nodes.append(target(next(s, c))) }
            } else {
                let mine = kids[kidStart[s]..<kidStart[s + 1]]
                var packed = [UInt16](repeating: 0, count: Self.keyWords(k) * 2)
                for (j, kid) in mine.enumerated() { packed[j] = UInt16(kid.class) }
                // The classes as the scan reads them back, through a 16-bit pointer.
                for q in stride(from: 0, to: packed.count, by: 2) {
                    nodes.append(packed.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: q * 2, as: Int32.self) })
                }
                for kid in mine { nodes.append(target(kid.state)) }
            }
        }
        assert(nodes.count == size)
        self.init(classBlocks: Table(blocks), classes: Table(classTable), classCount: n, nodes: Table(nodes), stateCount: stateCount)
    }

    /// Calls `found(wordID, start, end)` for every occurrence of every word (overlaps included),
    /// in order of end position. Offsets are byte offsets in `text`, which must be valid UTF-8.
    @inline(__always)
    package func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ found: (Int, Int, Int) -> Void) {
        guard let first = text.baseAddress else { return }
        // Plain pointers in locals: the loop holds its place, tables and state in registers, with
        // nothing to retain or release around it.
        let blocks = classBlocks.address(0), classes = self.classes.address(0), nodes = self.nodes.address(0)
        let end = first + text.count
        var p = first
        var s = 0   // the current state's offset
        while p < end {
            // The next character: three bytes (most of Chinese) or one first.
            let b0 = UInt32(p[0])
            let scalar: UInt32
            if b0 & 0xF0 == 0xE0 && end - p >= 3 {
                scalar = (b0 & 0x0F) << 12 | UInt32(p[1] & 0x3F) << 6 | UInt32(p[2] & 0x3F)
                p += 3
            } else if b0 < 0x80 {
                scalar = b0
                p += 1
            } else {
                scalar = AhoCorasick.scalar(at: &p, end: end)
            }
            let c = Int(classes[Int(blocks[Int(scalar >> 7)]) &* AhoCorasick.blockSize &+ Int(scalar & 127)])
            if c == 0 { s = 0; continue }
            var t: Int32
            while true {
                let shape = nodes[s &+ 1], body = nodes + (s &+ 2)
                if shape & AhoCorasick.denseShape != 0 { t = body[c]; break }
                let k = Int(shape & AhoCorasick.transitionCountMask)
                let keys = UnsafeRawPointer(body)
                if k == 1 {
                    // Most sparse states have one child (a word's characters running on alone).
                    if Int(keys.load(as: UInt16.self)) == c { t = body[1]; break }
                } else if k != 0 {
                    // Four classes at a time (padded with class 0, which is never `c`): the 16-bit
                    // lanes of `lanes ^ c·0x0001…0001` that are zero are the child on `c` (the
                    // lowest set bit of `zeroLanes` is exact).
                    let pattern = UInt64(truncatingIfNeeded: c) &* 0x0001_0001_0001_0001
                    var j = 0
                    var hit = -1
                    while j < k {
                        let x = UInt64(littleEndian: keys.loadUnaligned(fromByteOffset: j &* 2, as: UInt64.self)) ^ pattern
                        let zeroLanes = (x &- 0x0001_0001_0001_0001) & ~x & 0x8000_8000_8000_8000
                        if zeroLanes != 0 { hit = j &+ zeroLanes.trailingZeroBitCount >> 4; break }
                        j &+= 4
                    }
                    if hit >= 0 { t = body[AhoCorasick.groupedKeyWords(k) &+ hit]; break }
                }
                s = Int(nodes[s])   // no child on this class: fail over (the root is dense: it ends here)
            }
            if t >= 0 {
                s = Int(t)
                continue
            }
            s = Int(~t)
            let i = p - first
            var q = s &- 1 &- 2 &* Int(~nodes[s &- 1])
            while q < s &- 1 {
                found(Int(~nodes[q]), i &- Int(~nodes[q &+ 1]), i)
                q &+= 2
            }
        }
    }

    /// The scalar of a two- or four-byte sequence at `p`, and `p` past it; 0 and one byte on for a
    /// byte that starts no sequence or a sequence cut short by `end` (only in invalid UTF-8).
    @inline(never)
    static func scalar(at p: inout UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) -> UInt32 {
        let b0 = UInt32(p[0])
        if b0 >= 0xC0 && b0 < 0xE0 && end - p >= 2 {
            defer { p += 2 }
            return (b0 & 0x1F) << 6 | UInt32(p[1] & 0x3F)
        }
        if b0 >= 0xF0 && end - p >= 4 {
            let scalar = (b0 & 0x07) << 18 | UInt32(p[1] & 0x3F) << 12 | UInt32(p[2] & 0x3F) << 6 | UInt32(p[3] & 0x3F)
            if scalar < 0x110000 {
                p += 4
                return scalar
            }
        }
        p += 1
        return 0
    }

    /// Whether tables read from a file make an automaton the scan can walk without bounds checks
    /// and without looping: every class inside the class table, every state's record inside
    /// `nodes`, every target and failure link the offset of a state, every failure link shallower
    /// (earlier) than its state so a chain ends at the root, the root and every dense row complete,
    /// every word id below `wordCount`. Linear in the tables' size; `walkingRecords` false checks only the class map, the shapes
    /// and the root (for tables walked before, `CompiledRuleCache.decode`).
    static func tablesAreConsistent(classBlocks: Table<UInt16>, classes: Table<UInt16>, classCount: Int, nodes: Table<Int32>,
                                    stateCount: Int, wordCount: Int, walkingRecords: Bool = true) -> Bool {
        guard classBlocks.count == blockCount, classes.count >= blockSize, classes.count % blockSize == 0,
              classCount > 0, classCount <= 0xFFFF,
              nodes.count >= 2 + classCount, stateCount > 0, nodes[0] == 0, nodes[1] == denseShape else { return false }
        let places = classes.count / blockSize
        var highestBlock: UInt16 = 0, highestClass: UInt16 = 0
        for b in classBlocks.buffer { highestBlock = max(highestBlock, b) }
        for c in classes.buffer { highestClass = max(highestClass, c) }
        guard Int(highestBlock) < places, Int(highestClass) < classCount else { return false }
        guard walkingRecords else { return true }
        let count = nodes.count
        // Per entry of `nodes`: whether a state's record starts there, and whether that state reports.
        var isState = [Bool](repeating: false, count: count)
        var reports = [Bool](repeating: false, count: count)
        var states = 0
        var o = 0
        // First pass: each record's extent, its failure link and its words.
        while o < count {
            // The words before a reporting state: `~id, ~length` pairs, then `~count`.
            var wordRun = o
            while wordRun < count && nodes[wordRun] < 0 { wordRun += 1 }
            let words = wordRun - o
            if words > 0 {
                guard words % 2 == 1, Int(~nodes[wordRun - 1]) == words / 2 else { return false }
                for q in stride(from: o, to: wordRun - 1, by: 2) {
                    let id = Int(~nodes[q]), length = Int(~nodes[q + 1])
                    guard id < wordCount, length >= 1 else { return false }
                }
                o = wordRun
            }
            guard o + 2 <= count else { return false }
            let shape = nodes[o + 1]
            guard shape >= 0, shape & ~(denseShape | reportsShape | transitionCountMask) == 0 else { return false }
            let dense = shape & denseShape != 0, k = Int(shape & transitionCountMask)
            let reporting = shape & reportsShape != 0
            guard reporting == (words > 0), (dense && k == 0) || (!dense && k < denseFrom),
                  o != 0 || (dense && !reporting) else { return false }
            let fail = Int(nodes[o])
            guard o == 0 ? fail == 0 : (fail >= 0 && fail < o) else { return false }
            let body = o + 2, end = body + (dense ? classCount : keyWords(k) + k)
            guard end <= count else { return false }
            if !dense && k > 0 {
                let keys = UnsafeRawPointer(nodes.address(body))
                for j in 0..<(keyWords(k) * 2) {
                    // The padding must be class 0: a class there would name a target past the k.
                    let c = Int(keys.load(fromByteOffset: 2 * j, as: UInt16.self))
                    guard j < k ? c > 0 && c < classCount : c == 0 else { return false }
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
            while nodes[o] < 0 { o += 1 }   // words before a state: checked above
            let shape = nodes[o + 1], dense = shape & denseShape != 0, k = Int(shape & transitionCountMask)
            guard isState[Int(nodes[o])] else { return false }
            let body = o + 2
            let targets = dense ? (body + 1)..<(body + classCount) : (body + keyWords(k))..<(body + keyWords(k) + k)
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
