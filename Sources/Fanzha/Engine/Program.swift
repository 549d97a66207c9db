/// The rule set lowered for the hot loop: conditions as a flat table of plain nodes, prefilter
/// requirements as clauses of word ids. Every table is plain memory (`Table`): nothing is
/// reference-counted, so workers on different cores do not fight over shared reference counts
/// while they evaluate, and reading an entry is one load. An evaluation reads the program in
/// place through `CompiledMatcher.programPointer`, never copies it.
struct Program: Sendable {
    enum Op: UInt8, Sendable { case atom, rule, and, or, not, atLeast, near, nearTurns, then, thenGap, count, scope, model }

    struct Node: Sendable {
        var op: Op
        /// atom / rule index, N of atLeast and count, distance, gap, or the scope's `Side` (its raw value).
        var arg: Int32
        /// The comparison of `count` (index into Comparison.allCases).
        var arg2: Int32
        /// Children: `kids[first ..< first + count]`.
        var first: Int32
        var count: Int32
    }

    var nodes = Table<Node>()
    var kids = Table<Int32>()
    /// Root node of each rule's condition.
    var roots = Table<Int32>()
    /// Per rule, the prefilter: every clause must have at least one word present. Rule r's
    /// clauses are numbers `clauseFirst[r] ..< clauseFirst[r] + clauseCount[r]`, a public rule's
    /// first being the one it is indexed under (`rulesByWord`); the words of a
    /// clause are not listed per clause but inverted, `clausesByWord[clausesByWordStart[w] ..<
    /// clausesByWordStart[w + 1]]` being the clauses word w satisfies: a record marks the clauses
    /// of the words it holds, so checking a rule never walks a long term list.
    var clauseFirst = Table<Int32>()
    var clauseCount = Table<Int32>()
    var clauseTotal = 0
    var clausesByWordStart = Table<Int32>()
    var clausesByWord = Table<Int32>()
    var scores = Table<Int32>()
    var categories = Table<Int32>()   // -1 for none
    var isPrivate = Table<Bool>()
    /// Per rule: tagged `money_request` (for a call's first money request).
    var moneyRequest = Table<Bool>()
    /// Per rule: a positive rule tagged `money_request` or `appeal` — the message's own appeal,
    /// which keeps warning frames from lowering the verdict (RULES.md, Frames).
    var appeal = Table<Bool>()
    /// Per rule, the kinds of frame whose text it does not read: every kind for a positive public
    /// rule (less its `in`); for a negative rule, warnings (less its `in`), which it does not read
    /// only when the message makes its own appeal (`blindness(ofRule:strong:)`); none for helpers.
    var blind = Table<UInt8>()
    /// The frames (rule indices), and per rule: its frame kind (0 for rules), its `unless` root
    /// (-1 for none) and its `whole` share (0 for none).
    var frameRules = Table<Int32>()
    var frameKind = Table<UInt8>()
    var unlessRoots = Table<Int32>()
    var frameWhole = Table<Int32>()
    /// Per atom: a literal or term list, whose occurrences the automaton finds (not a regex).
    var atomIsWords = Table<Bool>()
    /// Per entry of `kids`, what the prefilter can say of that child (`Program.kidPrefilter`): its
    /// atom `a` when it is a word list; for a regex atom with clauses, `-2 - (c << 1 | more)`,
    /// where `c` is the first clause of its requirement and `more` says it has others
    /// (`ruledOut` then asks them, and the regex's literal gate, once `c` holds); -1 for the
    /// rest (a regex of no clause, a node that is not an atom: `ruledOut` asks those). An `or` or
    /// `at_least` passes over the children the prefilter rules out reading this one table and one
    /// stamp, not the child's node, then the atom's kind and its clauses (`nextKid`): a frame
    /// tries some forty regexes on every record, most of them needing a word the record does not
    /// hold — of those with several clauses, nine in ten lack a word of their first.
    var kidPrefilter = Table<Int32>()
    /// Per node, the node through which the prefilter can rule it out before it is evaluated
    /// (`Evaluation.ruledOut`), or -1: the node itself when it is an atom, or an `or`/`at_least`
    /// of word lists only (too few of them present); else the part it cannot hold without — a
    /// rule's condition, a scope's content, the first part of an `and` (or of an `at_least`
    /// needing all) or of a `near`/`then` — followed down to such a node. An evaluation then asks
    /// no call of `evaluate` for the nodes the record's words rule out (most of a record's
    /// `any(…)` lists, and the `near`s and rules they start).
    var ruledOutBy = Table<Int32>()
    /// The regex atoms.
    var regexAtoms = Table<Int32>()
    /// Per atom, the clauses of its own requirement (numbered after the rules' clauses; none
    /// for words, which the automaton finds anyway): a regex whose clauses a record's words do
    /// not all satisfy cannot match it, and PCRE2 does not run.
    var atomClauseFirst = Table<Int32>()
    var atomClauseCount = Table<Int32>()
    /// The prefilter's index: for each word, the public rules whose first clause (their shortest) contains it.
    /// A record's candidates are the rules indexed under the words it contains, plus
    /// `unfiltered` (rules no word can rule out); so the cost per record follows the words it
    /// holds, not the number of rules.
    /// Both indexes are flat (`list[start[w] ..< start[w + 1]]`): no array per word to retain in the loop.
    var rulesByWordStart = Table<Int32>()
    var rulesByWord = Table<Int32>()
    var unfiltered = Table<Int32>()
    /// For each word, the atoms (literals and term lists) that contain it.
    var atomsByWordStart = Table<Int32>()
    var atomsByWord = Table<Int32>()
    /// Per word, and one past the last, where its lists start in `clausesByWord`, `rulesByWord`
    /// and `atomsByWord`: the three `…ByWordStart` tables side by side (made from them at load;
    /// the compiled rule set stores those). A record's words are met at random over the whole
    /// vocabulary (19,624 words in the bundled rules), and reading a word's three starts from
    /// three tables of 78 KB each was three cache misses a word; here a word's starts and the
    /// next word's (its ends) are one line, or two.
    var wordLists = Table<WordLists>()

    struct WordLists {
        var clauses: Int32
        var rules: Int32
        var atoms: Int32
        /// Makes an entry 16 bytes, so four share a cache line and none straddles two.
        var unused: Int32 = 0
    }

    static let maxClauses = 64

    init(_ rules: RuleSet) {
        var nodes: [Node] = [], kids: [Int32] = [], roots: [Int32] = []
        var clauseFirst: [Int32] = [], clauseCount: [Int32] = [], unfiltered: [Int32] = []
        var byWord = [[Int32]](repeating: [], count: rules.words.count)
        var clausesOfWord = [[Int32]](repeating: [], count: rules.words.count)
        var unlessRoots: [Int32] = []
        for (r, rule) in rules.rules.enumerated() {
            roots.append(Program.lower(rule.condition, &nodes, &kids))
            unlessRoots.append(rule.unless.map { Program.lower($0, &nodes, &kids) } ?? -1)
            var clauses = Program.clauses(rule.requirement)
            if !rule.isPrivate {
                // Indexed under the words of its shortest clause, which comes first: a candidate
                // from the index holds it already (`Evaluation.indexedCandidate`).
                if let k = clauses.indices.min(by: { clauses[$0].count < clauses[$1].count }) {
                    for w in clauses[k] { byWord[w].append(Int32(r)) }
                    clauses.insert(clauses.remove(at: k), at: 0)
                } else {
                    unfiltered.append(Int32(r))
                }
            }
            clauseFirst.append(Int32(clauseTotal))
            clauseCount.append(Int32(clauses.count))
            for c in clauses {
                for w in c { clausesOfWord[w].append(Int32(clauseTotal)) }
                clauseTotal += 1
            }
        }
        var atomClauseFirst: [Int32] = [], atomClauseCount: [Int32] = []
        for atom in rules.atoms {
            let clauses = atom.kind == .regex ? Program.clauses(atom.requirement) : []
            atomClauseFirst.append(Int32(clauseTotal))
            atomClauseCount.append(Int32(clauses.count))
            for c in clauses {
                for w in c { clausesOfWord[w].append(Int32(clauseTotal)) }
                clauseTotal += 1
            }
        }
        self.atomClauseFirst = Table(atomClauseFirst)
        self.atomClauseCount = Table(atomClauseCount)
        self.nodes = Table(nodes)
        self.kids = Table(kids)
        self.roots = Table(roots)
        self.clauseFirst = Table(clauseFirst)
        self.clauseCount = Table(clauseCount)
        self.unfiltered = Table(unfiltered)
        scores = Table(rules.rules.map { Int32($0.score) })
        categories = Table(rules.rules.map { Int32($0.category ?? -1) })
        isPrivate = Table(rules.rules.map(\.isPrivate))
        moneyRequest = Table(rules.rules.map { $0.hasTag("money_request") })
        appeal = Table(rules.rules.map { $0.score > 0 && ($0.hasTag("money_request") || $0.hasTag("appeal")) })
        blind = Table(rules.rules.map { rule in
            if rule.isPrivate { return 0 }
            return (rule.score < 0 ? FrameKinds.warning : FrameKinds.all).subtracting(rule.reads).rawValue
        })
        frameRules = Table(rules.rules.indices.filter { rules.rules[$0].isFrame }.map(Int32.init))
        frameKind = Table(rules.rules.map(\.frameKind.rawValue))
        self.unlessRoots = Table(unlessRoots)
        frameWhole = Table(rules.rules.map { Int32($0.whole ?? 0) })
        (rulesByWordStart, rulesByWord) = Program.flatten(byWord)
        (clausesByWordStart, clausesByWord) = Program.flatten(clausesOfWord)
        (atomsByWordStart, atomsByWord) = Program.flatten(rules.atomsForWord.map { $0.map(Int32.init) })
        let words = rules.atoms.map { $0.kind == .words }
        atomIsWords = Table(words)
        regexAtoms = Table(words.indices.filter { !words[$0] }.map(Int32.init))
        kidPrefilter = Program.kidPrefilter(nodes: self.nodes, kids: self.kids, atomIsWords: atomIsWords,
                                            atomClauseFirst: self.atomClauseFirst, atomClauseCount: self.atomClauseCount)
        ruledOutBy = Program.ruledOutBy(nodes: self.nodes, kids: self.kids, roots: self.roots, kidPrefilter: kidPrefilter)
        wordLists = Program.wordLists(clauses: clausesByWordStart, rules: rulesByWordStart, atoms: atomsByWordStart)
    }

    /// The `wordLists` table of the three `…ByWordStart` tables (each one entry longer than the words).
    static func wordLists(clauses: Table<Int32>, rules: Table<Int32>, atoms: Table<Int32>) -> Table<WordLists> {
        precondition(clauses.count == rules.count && clauses.count == atoms.count)
        let (c, r, a) = (clauses.buffer, rules.buffer, atoms.buffer)
        return Table(count: c.count) { w in WordLists(clauses: c[w], rules: r[w], atoms: a[w]) }
    }

    /// The `kidPrefilter` table of a program's nodes, children, atoms and atoms' clauses (every
    /// index inside its table).
    static func kidPrefilter(nodes: Table<Node>, kids: Table<Int32>, atomIsWords: Table<Bool>,
                             atomClauseFirst: Table<Int32>, atomClauseCount: Table<Int32>) -> Table<Int32> {
        Table(kids.map { id -> Int32 in
            let n = nodes[Int(id)]
            guard n.op == .atom else { return -1 }
            let a = Int(n.arg)
            if atomIsWords[a] { return n.arg }
            let count = atomClauseCount[a]
            return count == 0 ? -1 : kidClauseEntry(clause: atomClauseFirst[a], more: count > 1)
        })
    }

    /// A regex child's `kidPrefilter` entry: the clause `nextKid` tests first, and whether the
    /// regex has other clauses (then `ruledOut` is asked too once that one holds). The entry fits
    /// an `Int32` for a clause below 2^30 (a rule set has thousands); past that it is -1, and
    /// `ruledOut` asks all the regex's clauses itself.
    static func kidClauseEntry(clause: Int32, more: Bool) -> Int32 {
        guard clause < 1 << 30 else { return -1 }
        return -2 - (clause << 1 | (more ? 1 : 0))
    }

    /// The `ruledOutBy` table of a program's nodes, children, rule roots and `kidPrefilter` (every index
    /// inside its table). Each step goes from a node to the part it evaluates first and is empty
    /// without, so a node whose chain ends in a node the prefilter rules out is empty in every
    /// scope and frame, and evaluating it would have evaluated nothing else first (no regex run,
    /// so no error left unreported). An `at_least` that needs all its parts is not followed: it
    /// evaluates every part before it counts them.
    static func ruledOutBy(nodes: Table<Node>, kids: Table<Int32>, roots: Table<Int32>, kidPrefilter: Table<Int32>) -> Table<Int32> {
        func checkable(_ n: Node) -> Bool {
            switch n.op {
            case .atom: return true
            case .or, .atLeast:
                let first = Int(n.first)
                return n.count > 0 && (first..<(first + Int(n.count))).allSatisfy { kidPrefilter[$0] >= 0 }
            default: return false
            }
        }
        func firstPart(_ n: Node) -> Int? {
            switch n.op {
            case .rule: return Int(roots[Int(n.arg)])
            case .scope, .and, .near, .nearTurns, .then, .thenGap: return n.count > 0 ? Int(kids[Int(n.first)]) : nil
            default: return nil
            }
        }
        var table: [Int32] = []
        table.reserveCapacity(nodes.count)
        for id in 0..<nodes.count {
            var at = id, steps = 0
            // Rules cannot refer to themselves (the compiler reports a cycle); the bound keeps
            // this walk finite whatever the rules are. (A compiled rule set stores the table.)
            while !checkable(nodes[at]), steps < 64, let next = firstPart(nodes[at]) {
                at = next
                steps += 1
            }
            table.append(checkable(nodes[at]) ? Int32(at) : -1)
        }
        return Table(table)
    }

    /// What rule `i` does not read in an evaluation. A negative rule reads everything, except that
    /// when the message makes its own appeal (`strong`) a warning lowers nothing — a scam's own
    /// disclaimer (谨防诈骗) must not cancel its request — unless the rule says `in warning` (a
    /// caller talking someone out of a payment warns in the same breath as it recounts the scam).
    @inline(__always) func blindness(ofRule i: Int, strong: Bool) -> UInt8 {
        scores[i] < 0 && !strong ? 0 : blind[i]
    }

    /// Frees every table; the owner (`CompiledMatcher`) calls it once, when nothing reads the program any more.
    func deallocate() {
        for t in [nodes.allocation, kids.allocation, roots.allocation, clauseFirst.allocation, clauseCount.allocation,
                  clausesByWordStart.allocation, clausesByWord.allocation, scores.allocation, categories.allocation,
                  isPrivate.allocation, moneyRequest.allocation, appeal.allocation, blind.allocation, frameRules.allocation,
                  frameKind.allocation, unlessRoots.allocation, frameWhole.allocation, atomIsWords.allocation, regexAtoms.allocation,
                  atomClauseFirst.allocation, atomClauseCount.allocation, rulesByWordStart.allocation, rulesByWord.allocation,
                  unfiltered.allocation, atomsByWordStart.allocation, atomsByWord.allocation, kidPrefilter.allocation,
                  ruledOutBy.allocation, wordLists.allocation] {
            t?.deallocate()
        }
    }

    static func flatten(_ lists: [[Int32]]) -> (Table<Int32>, Table<Int32>) {
        var start: [Int32] = [0], flat: [Int32] = []
        for l in lists { flat += l; start.append(Int32(flat.count)) }
        return (Table(start), Table(flat))
    }

    private static func lower(_ c: Condition, _ nodes: inout [Node], _ kids: inout [Int32]) -> Int32 {
        func node(_ op: Op, _ arg: Int = 0, _ arg2: Int = 0, _ children: [Condition] = []) -> Int32 {
            let lowered = children.map { lower($0, &nodes, &kids) }
            let first = Int32(kids.count)
            kids += lowered
            nodes.append(Node(op: op, arg: Int32(clamping: arg), arg2: Int32(arg2), first: first, count: Int32(lowered.count)))
            return Int32(nodes.count - 1)
        }
        switch c {
        case .atom(let a): return node(.atom, a)
        case .rule(let r): return node(.rule, r)
        case .and(let xs): return node(.and, 0, 0, xs)
        case .or(let xs): return node(.or, 0, 0, xs)
        case .not(let x): return node(.not, 0, 0, [x])
        case .atLeast(let n, let xs): return node(.atLeast, n, 0, xs)
        case .near(let a, let b, let d, let unit): return node(unit == .turns ? .nearTurns : .near, d, 0, [a, b])
        case .then(let a, let b, let gap): return gap.map { node(.thenGap, $0, 0, [a, b]) } ?? node(.then, 0, 0, [a, b])
        case .count(let x, let cmp, let n): return node(.count, n, Comparison.allCases.firstIndex(of: cmp)!, [x])
        case .scope(let s, let x): return node(.scope, Int(s.rawValue), 0, [x])
        case .model(let cmp, let threshold): return node(.model, Int((threshold * 1_000_000).rounded()), Comparison.allCases.firstIndex(of: cmp)!)
        }
    }

    /// A requirement as clauses (AND of ORs of words), each clause sorted without repeats.
    /// Dropping clauses only weakens the filter, so where the product of alternatives grows too
    /// large some are dropped: always sound. Every sub-requirement is expanded once.
    static func clauses(_ r: WordRequirement) -> [[Int]] {
        switch r {
        case .always: return []
        case .word(let w): return [[w]]
        case .all(let xs):
            var out: [[Int]] = []
            for x in xs where out.count < maxClauses { out += clauses(x) }
            return Array(out.prefix(maxClauses))
        case .any(let xs):
            var each: [[[Int]]] = []
            each.reserveCapacity(xs.count)
            for x in xs {
                let cs = clauses(x)
                if cs.isEmpty { return [] }   // one alternative needs nothing: neither does the whole
                each.append(cs)
            }
            if each.allSatisfy({ $0.count == 1 }) {
                // The usual case (a term list, any(…) of words): one clause, the union.
                return [each.flatMap { $0[0] }.sortedUnique()]
            }
            guard var acc = each.first else { return [] }
            for cs in each.dropFirst() {
                var product: [[Int]] = []
                outer: for p in acc {
                    for q in cs {
                        product.append((p + q).sortedUnique())
                        if product.count >= maxClauses { break outer }
                    }
                }
                acc = product
            }
            return acc
        }
    }

}

extension Array where Element: Comparable {
    /// Sorts the array and keeps each element once: the set of a few values, in order, without
    /// hashing them (the prefilter's word lists, a rule's atoms, a record's framed sentences).
    mutating func sortUnique() {
        sort()
        var kept = 0
        for i in indices where kept == 0 || self[kept - 1] != self[i] {
            self[kept] = self[i]
            kept += 1
        }
        removeLast(count - kept)
    }

    /// The array sorted, each element once.
    func sortedUnique() -> [Element] {
        var out = self
        out.sortUnique()
        return out
    }
}

/// An immutable table of plain values in memory of its own, for the program's hot loop: an
/// entry is one load, with no reference counting (a Swift array's storage is retained and
/// released around reads in a loop like `evaluate`'s, and those were a large share of a
/// record's instructions). Indices come from the compiler, which built the tables together;
/// debug builds (the tests) still check them. Freed by `Program.deallocate()`.
struct Table<Element: BitwiseCopyable>: @unchecked Sendable {
    fileprivate let raw: UnsafeMutableRawPointer?
    let count: Int
    /// False for a table read in place from a mapped compiled rule set, which its owner keeps
    /// mapped (`PrebuiltMatcher`): `deallocate()` leaves it alone.
    fileprivate let owned: Bool

    init() { raw = nil; count = 0; owned = true }

    init(_ values: [Element]) {
        count = values.count
        owned = true
        guard !values.isEmpty else { raw = nil; return }
        let p = UnsafeMutablePointer<Element>.allocate(capacity: values.count)
        values.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: values.count) }
        raw = UnsafeMutableRawPointer(p)
    }

    /// `count` values, entry `i` being `value(i)`, written in place (no array made and copied).
    init(count: Int, _ value: (Int) -> Element) {
        self.count = count
        owned = true
        guard count > 0 else { raw = nil; return }
        let p = UnsafeMutablePointer<Element>.allocate(capacity: count)
        for i in 0..<count { (p + i).initialize(to: value(i)) }
        raw = UnsafeMutableRawPointer(p)
    }

    /// `count` values at `start`, not copied: valid while whoever keeps that memory keeps it.
    init(borrowing start: UnsafeRawPointer, count: Int) {
        raw = count == 0 ? nil : UnsafeMutableRawPointer(mutating: start)
        self.count = count
        owned = false
    }

    /// The memory to free: nil when borrowed.
    fileprivate var allocation: UnsafeMutableRawPointer? { owned ? raw : nil }

    /// Frees the table's memory when it is its own (a borrowed table's belongs to its owner).
    func deallocate() { allocation?.deallocate() }

    /// The values as a buffer (for checking a table whole).
    var buffer: UnsafeBufferPointer<Element> {
        UnsafeBufferPointer(start: raw?.assumingMemoryBound(to: Element.self), count: count)
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        assert(i >= 0 && i < count, "program table index out of range")
        return raw.unsafelyUnwrapped.assumingMemoryBound(to: Element.self)[i]
    }

    /// Where entry `i` is, for a loop that reads the entries from `i` on by their offset from it
    /// (a node's children): no addition of `i` to each index, no register kept for it.
    @inline(__always)
    func address(_ i: Int) -> UnsafePointer<Element> {
        assert(i >= 0 && i < count, "program table index out of range")
        return UnsafePointer(raw.unsafelyUnwrapped.assumingMemoryBound(to: Element.self)) + i
    }
}

extension Table: Sequence {
    func makeIterator() -> UnsafeBufferPointer<Element>.Iterator {
        UnsafeBufferPointer(start: raw?.assumingMemoryBound(to: Element.self), count: count).makeIterator()
    }
}
