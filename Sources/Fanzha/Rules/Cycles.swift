// Cycles: rules that refer to each other in a circle, or through a chain deeper than the
// evaluator's recursion may go, are errors; found by one depth-first walk over the references.

extension Checker {
    /// How long a chain of rule references may be: evaluating a rule follows its references
    /// recursively, so an unbounded chain could exhaust the stack.
    static let maxReferenceDepth = 64

    mutating func checkCycles() {
        // Depth-first over rule references (an explicit stack: chains may be long); one report per
        // cycle, and one per chain deeper than `maxReferenceDepth`.
        func refs(_ e: Expr, _ out: inout [(Int, SourceRange)]) {
            switch e.kind {
            case .name(let n): if let i = ruleIndex[n] { out.append((i, e.range)) }
            case .and(let xs), .or(let xs), .atLeast(_, let xs, _): for x in xs { refs(x, &out) }
            case .not(let x), .count(let x, _, _), .scope(_, let x): refs(x, &out)
            case .near(let a, let b, _, _), .then(let a, let b, _): refs(a, &out); refs(b, &out)
            case .literal, .exact, .regex, .model: break
            }
        }
        let references: [[(Int, SourceRange)]] = ruleDecls.map { d in
            var out: [(Int, SourceRange)] = []
            if let m = d.match { refs(m.value, &out) }
            return out
        }
        var state = [Int](repeating: 0, count: ruleDecls.count)  // 0 new, 1 on the path, 2 done
        var depth = [Int](repeating: 0, count: ruleDecls.count)  // the longest chain of references below
        var found: [(Int, SourceRange, [Int])] = []
        for root in ruleDecls.indices where state[root] == 0 {
            var path: [(rule: Int, next: Int)] = [(root, 0)]
            state[root] = 1
            while let top = path.last {
                let i = top.rule
                guard top.next < references[i].count else {
                    state[i] = 2
                    depth[i] = references[i].map { state[$0.0] == 2 ? depth[$0.0] + 1 : 0 }.max() ?? 0
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let (j, range) = references[i][top.next]
                if state[j] == 1 {
                    found.append((i, range, Array(path.map(\.rule).drop { $0 != j })))
                } else if state[j] == 0 {
                    state[j] = 1
                    path.append((j, 0))
                }
            }
        }
        for (_, range, cycle) in found {
            let names = (cycle + [cycle[0]]).map { "`\(ruleDecls[$0].id.value)`" }.joined(separator: " → ")
            error(.cycle, "rules refer to each other in a circle: \(names)", range, help: "a rule cannot depend on itself")
        }
        // A chain too deep is reported at its top: a deep rule that no other deep rule refers to.
        let limit = Checker.maxReferenceDepth
        var belowDeep = Set<Int>()
        for i in ruleDecls.indices where depth[i] > limit { for (j, _) in references[i] { belowDeep.insert(j) } }
        var tooDeep = false
        for i in ruleDecls.indices where depth[i] > limit && !belowDeep.contains(i) {
            tooDeep = true
            error(.tooDeep, "rule `\(ruleDecls[i].id.value)` depends on a chain of \(depth[i]) rule references (at most \(limit))",
                  ruleDecls[i].match?.range ?? ruleDecls[i].id.range, help: "refer to fewer rules in a row: combine steps into one rule")
        }
        if !found.isEmpty || tooDeep { cyclic = true }
    }
}
