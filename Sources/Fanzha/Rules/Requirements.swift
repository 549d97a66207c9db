// Requirements: the words a rule cannot match without (an AND/OR tree of the atoms'), with rule
// references followed. The prefilter's index is built from them (Program.swift); a public rule
// that needs no word runs on every text and is warned about (`no-atom`).

extension Checker {
    func requirement(of c: Condition, compiled: [CompiledRule?], memo: inout [Int: WordRequirement], visiting: inout Set<Int>) -> WordRequirement {
        switch c {
        case .atom(let a):
            return atoms[a].requirement
        case .rule(let r):
            if let m = memo[r] { return m }
            guard !cyclic, !visiting.contains(r), let rule = compiled[r] else { return .always }
            visiting.insert(r)
            let req = requirement(of: rule.condition, compiled: compiled, memo: &memo, visiting: &visiting)
            visiting.remove(r)
            memo[r] = req
            return req
        case .and(let xs):
            return WordRequirement.allOf(xs.map { requirement(of: $0, compiled: compiled, memo: &memo, visiting: &visiting) })
        case .or(let xs):
            return WordRequirement.anyOf(xs.map { requirement(of: $0, compiled: compiled, memo: &memo, visiting: &visiting) })
        case .not:
            return .always
        case .atLeast(let n, let xs):
            let reqs = xs.map { requirement(of: $0, compiled: compiled, memo: &memo, visiting: &visiting) }
            return n >= xs.count ? WordRequirement.allOf(reqs) : n >= 1 ? WordRequirement.anyOf(reqs) : .always
        case .near(let a, let b, _, _), .then(let a, let b, _):
            return WordRequirement.allOf([requirement(of: a, compiled: compiled, memo: &memo, visiting: &visiting),
                                requirement(of: b, compiled: compiled, memo: &memo, visiting: &visiting)])
        case .count(let x, let cmp, let n):
            // Only a count that needs at least one occurrence needs the words.
            let needsOne = (cmp == .atLeast && n >= 1) || (cmp == .more && n >= 0) || (cmp == .exactly && n >= 1)
            return needsOne ? requirement(of: x, compiled: compiled, memo: &memo, visiting: &visiting) : .always
        case .scope(_, let x):
            return requirement(of: x, compiled: compiled, memo: &memo, visiting: &visiting)
        case .model:
            return .always
        }
    }
}
