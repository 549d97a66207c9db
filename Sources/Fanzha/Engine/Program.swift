/// The rule set lowered for the hot loop: conditions as a flat array of plain nodes, prefilter
/// requirements as clauses of word ids. Nothing here is reference-counted per node, so workers
/// on different cores do not fight over shared reference counts while they evaluate. An
/// evaluation reads it in place through `CompiledMatcher.programPointer`, never copies it.
struct Program: Sendable {
    enum Op: UInt8, Sendable { case atom, rule, and, or, not, atLeast, near, nearTurns, then, thenGap, count, scope }

    struct Node: Sendable {
        var op: Op
        /// atom / rule index, N of atLeast and count, distance, gap, or the scope's mask (1 caller, 2 callee).
        var arg: Int32
        /// The comparison of `count` (index into Comparison.allCases).
        var arg2: Int32
        /// Children: `kids[first ..< first + count]`.
        var first: Int32
        var count: Int32
    }

    var nodes: [Node] = []
    var kids: [Int32] = []
    /// Root node of each rule's condition.
    var roots: [Int32] = []
    /// Per rule, the prefilter: every clause must have at least one word present. Rule r's
    /// clauses are numbers `clauseFirst[r] ..< clauseFirst[r] + clauseCount[r]`; the words of a
    /// clause are not listed per clause but inverted, `clausesByWord[clausesByWordStart[w] ..<
    /// clausesByWordStart[w + 1]]` being the clauses word w satisfies: a record marks the clauses
    /// of the words it holds, so checking a rule never walks a long term list.
    var clauseFirst: [Int32] = []
    var clauseCount: [Int32] = []
    var clauseTotal = 0
    var clausesByWordStart: [Int32] = []
    var clausesByWord: [Int32] = []
    var scores: [Int32] = []
    var categories: [Int32] = []   // -1 for none
    var isPrivate: [Bool] = []
    /// Per rule: tagged `money_request` (for a call's first money request).
    var moneyRequest: [Bool] = []
    /// Per atom: a literal or term list, whose occurrences the automaton finds (not a regex).
    var atomIsWords: [Bool] = []
    /// The regex atoms.
    var regexAtoms: [Int32] = []
    /// The prefilter's index: for each word, the public rules whose first clause contains it.
    /// A record's candidates are the rules indexed under the words it contains, plus
    /// `unfiltered` (rules no word can rule out); so the cost per record follows the words it
    /// holds, not the number of rules.
    /// Both indexes are flat (`list[start[w] ..< start[w + 1]]`): no array per word to retain in the loop.
    var rulesByWordStart: [Int32] = []
    var rulesByWord: [Int32] = []
    var unfiltered: [Int32] = []
    /// For each word, the atoms (literals and term lists) that contain it.
    var atomsByWordStart: [Int32] = []
    var atomsByWord: [Int32] = []

    static let maxClauses = 64

    init(_ rules: RuleSet) {
        var byWord = [[Int32]](repeating: [], count: rules.words.count)
        var clausesOfWord = [[Int32]](repeating: [], count: rules.words.count)
        for (r, rule) in rules.rules.enumerated() {
            roots.append(lower(rule.condition))
            scores.append(Int32(rule.score))
            categories.append(Int32(rule.category ?? -1))
            isPrivate.append(rule.isPrivate)
            moneyRequest.append(rule.hasTag("money_request"))
            let clauses = Program.clauses(rule.requirement)
            if !rule.isPrivate {
                if let key = clauses.min(by: { $0.count < $1.count }) {
                    for w in key { byWord[w].append(Int32(r)) }
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
        (rulesByWordStart, rulesByWord) = Program.flatten(byWord)
        (clausesByWordStart, clausesByWord) = Program.flatten(clausesOfWord)
        (atomsByWordStart, atomsByWord) = Program.flatten(rules.atomsForWord.map { $0.map(Int32.init) })
        atomIsWords = rules.atoms.map { $0.kind == .words }
        regexAtoms = atomIsWords.indices.filter { !atomIsWords[$0] }.map(Int32.init)
    }

    static func flatten(_ lists: [[Int32]]) -> ([Int32], [Int32]) {
        var start: [Int32] = [0], flat: [Int32] = []
        for l in lists { flat += l; start.append(Int32(flat.count)) }
        return (start, flat)
    }

    private mutating func lower(_ c: Condition) -> Int32 {
        func node(_ op: Op, _ arg: Int = 0, _ arg2: Int = 0, _ children: [Condition] = []) -> Int32 {
            let lowered = children.map { lower($0) }
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
        case .scope(let s, let x): return node(.scope, s == .caller ? 1 : 2, 0, [x])
        }
    }

    /// A requirement as clauses (AND of ORs of words), each clause sorted without repeats.
    /// Dropping clauses only weakens the filter, so where the product of alternatives grows too
    /// large some are dropped: always sound. Every sub-requirement is expanded once.
    static func clauses(_ r: AtomRequirement) -> [[Int]] {
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
                return [sortedUnique(each.flatMap { $0[0] })]
            }
            guard var acc = each.first else { return [] }
            for cs in each.dropFirst() {
                var product: [[Int]] = []
                outer: for p in acc {
                    for q in cs {
                        product.append(sortedUnique(p + q))
                        if product.count >= maxClauses { break outer }
                    }
                }
                acc = product
            }
            return acc
        }
    }

    private static func sortedUnique(_ words: [Int]) -> [Int] {
        var out = words.sorted()
        var kept = 0
        for i in out.indices where i == 0 || out[i] != out[kept - 1] {
            out[kept] = out[i]
            kept += 1
        }
        out.removeLast(out.count - kept)
        return out
    }
}
