// Lowering: a rule's syntax tree (`Expr`) turned into a `Condition` over atoms and rule
// references, names resolved to term lists or rules; every problem reported, not just the first.

extension Checker {
    mutating func lower(_ e: Expr, rule: RuleDecl) -> Condition? {
        switch e.kind {
        case .literal(let text):
            guard let atom = literalAtom([Located(value: text, range: e.range)], display: Literal.split(text).text, rule: rule) else { return nil }
            return .atom(atom)
        case .exact(let text):
            guard let atom = literalAtom([Located(value: text, range: e.range)], display: "exact(\(text))", rule: rule, exact: true) else { return nil }
            return .atom(atom)
        case .regex(let pattern, let flags):
            guard let atom = regexAtom(pattern, flags: flags, range: e.range) else { return nil }
            return .atom(atom)
        case .name(let name):
            if terms[name] != nil {
                usedTerms.insert(name)
                guard let atom = termsAtom(name) else { return nil }
                return .atom(atom)
            }
            if let r = ruleIndex[name] { return .rule(r) }
            let candidates = Array(terms.keys) + Array(ruleIndex.keys)
            let help = suggestion(for: name, among: candidates.sorted()).map { "did you mean `\($0)`?" }
                ?? (categories.contains { $0.id.value == name } ? "`\(name)` is a category; a rule's category is set with `category \(name)`" : nil)
            error(.unknownName, "no terms or rule named `\(name)`", e.range, help: help)
            return nil
        case .and(let xs):
            let cs = xs.map { lower($0, rule: rule) }
            return cs.contains { $0 == nil } ? nil : .and(cs.map { $0! })
        case .or(let xs):
            let cs = xs.map { lower($0, rule: rule) }
            return cs.contains { $0 == nil } ? nil : .or(cs.map { $0! })
        case .not(let x):
            guard let c = lower(x, rule: rule) else { return nil }
            // `not not not X` is `not X` exactly (a `not` gives the same result whatever its
            // operand's evidence), so a chain of `not`s stays at most two deep: evaluation recurses
            // once per level, and 401 of them ran a debug build's worker thread out of stack.
            if case .not(let inner) = c, case .not = inner { return inner }
            return .not(c)
        case .atLeast(let n, let xs, let spelling):
            if spelling == .of, n < 1 || n > xs.count {
                error(.ofTooLarge, "`\(n) of` needs between 1 and \(xs.count) (the list has \(xs.count) item\(xs.count == 1 ? "" : "s"))", e.range,
                      help: n > xs.count ? "add items or lower N" : nil)
            }
            let cs = xs.map { lower($0, rule: rule) }
            guard !cs.contains(where: { $0 == nil }) else { return nil }
            // "N different ones": an item written twice counts once.
            var distinct: [Condition] = []
            for (k, c) in cs.enumerated() {
                if distinct.contains(c!) {
                    warn(.duplicateTerm, "this item is the same as an earlier one in the list (after normalisation); it counts once", xs[k].range, in: rule)
                } else {
                    distinct.append(c!)
                }
            }
            return .atLeast(n, distinct)
        case .near(let a, let b, let distance, let unit):
            // Lower both sides even when one fails, so every problem is reported.
            let x = lower(a, rule: rule), y = lower(b, rule: rule)
            guard let x, let y else { return nil }
            return .near(x, y, distance: distance, unit: unit)
        case .then(let a, let b, let gap):
            let x = lower(a, rule: rule), y = lower(b, rule: rule)
            guard let x, let y else { return nil }
            return .then(x, y, maxGap: gap)
        case .count(let x, let cmp, let n):
            return lower(x, rule: rule).map { .count($0, cmp, n) }
        case .scope(let side, let x):
            return lower(x, rule: rule).map { .scope(side, $0) }
        case .model(let cmp, let threshold, _):
            return .model(cmp, threshold)
        }
    }

    mutating func termsAtom(_ name: String) -> Int? {
        if let i = atomKeys["terms:" + name] { return i }
        guard let t = terms[name] else { return nil }
        return literalAtom(t.terms, display: name, rule: nil, key: "terms:" + name)
    }
}
