// Resolution: the declarations gathered into the checker's name tables (each name declared
// once), and each rule's fields checked against them — its category, frame kind, `allow` ids,
// examples — before its `match` is lowered.

extension Checker {
    mutating func collect() {
        var seenTop: [String: SourceRange] = [:]
        var seenCategories: [String: SourceRange] = [:]
        for f in files {
            for d in f.declarations {
                switch d {
                case .levels(let l):
                    if levels != nil { error(.invalidLevels, "`levels` is given more than once in this rule set", l.range) }
                    levels = l
                case .category(let c):
                    if let prev = seenCategories[c.id.value] {
                        error(.duplicateId, "category `\(c.id.value)` is declared twice", c.id.range, help: "first declared at \(location(prev))")
                    } else {
                        seenCategories[c.id.value] = c.id.range
                        categories.append(c)
                    }
                case .terms(let t):
                    if let prev = seenTop[t.name.value] {
                        error(.duplicateId, "`\(t.name.value)` is declared twice", t.name.range, help: "first declared at \(location(prev))")
                    } else {
                        seenTop[t.name.value] = t.name.range
                        terms[t.name.value] = t
                    }
                case .rule(let r):
                    if let prev = seenTop[r.id.value] {
                        error(.duplicateId, "`\(r.id.value)` is declared twice", r.id.range, help: "first declared at \(location(prev))")
                    } else {
                        seenTop[r.id.value] = r.id.range
                        ruleIndex[r.id.value] = ruleDecls.count
                        ruleDecls.append(r)
                    }
                }
            }
        }
    }

    mutating func compileRule(_ r: RuleDecl) -> CompiledRule? {
        var ok = true
        if r.title == nil, !r.brokenFields.contains("title") { error(.missingField, "rule `\(r.id.value)` has no `title`", r.id.range, help: "add title \"…\""); ok = false }
        var categoryIndex: Int?
        if let c = r.category {
            categoryIndex = categories.firstIndex { $0.id.value == c.value.value }
            if categoryIndex == nil {
                let help = suggestion(for: c.value.value, among: categories.map(\.id.value)).map { "did you mean `\($0)`?" }
                error(.unknownCategory, "no category named `\(c.value.value)`", c.value.range, help: help)
                ok = false
            }
        }
        if r.isPrivate, let s = r.score {
            error(.privateWithScore, "a private rule scores nothing; remove `score`", s.range); ok = false
        }
        if r.isPrivate, let c = r.category {
            error(.privateWithCategory, "a private rule has no category; remove `category`", c.range); ok = false
        }
        for a in r.allow?.value ?? [] where DiagnosticID(rawValue: a.value.replacingOccurrences(of: "_", with: "-"))?.severity != .warning {
            let help = suggestion(for: a.value, among: DiagnosticID.allCases.filter { $0.severity == .warning }.map(\.rawValue)).map { "did you mean `\($0)`?" }
            warn(.unknownAllow, "`\(a.value)` is not a warning id", a.range, in: nil, help: help)
        }
        if !r.isPrivate || r.isFrame, r.hits.isEmpty || r.misses.isEmpty {
            warn(.noExamples, "\(r.isFrame ? "frame" : "rule") `\(r.id.value)` has no \(r.hits.isEmpty ? "`hit`" : "`miss`") example", r.id.range, in: r,
                 help: "examples are the \(r.isFrame ? "frame" : "rule")'s tests and its documentation")
        }
        // Frames: a kind, an optional veto and whole-message share; rules: the frames they read.
        var frameKind: FrameKinds = [], reads: FrameKinds = []
        if r.isFrame {
            if let k = r.kind {
                if let kind = FrameKinds(name: k.value.value) { frameKind = kind } else {
                    error(.unknownFrameKind, "no frame kind named `\(k.value.value)`", k.value.range,
                          help: "a frame kind is one of: \(FrameKinds.names.map(\.0).joined(separator: ", "))")
                    ok = false
                }
            } else if !r.brokenFields.contains("kind") {
                error(.missingField, "frame `\(r.id.value)` has no `kind`", r.id.range, help: "add kind report (or warning, quote, teaching)")
                ok = false
            }
            if let w = r.whole, !(1...100).contains(w.value) {
                error(.invalidWhole, "`whole` is a percentage of the message: 1 to 100 (got \(w.value))", w.range); ok = false
            }
        }
        for k in r.inFrames?.value ?? [] {
            if let kind = FrameKinds(name: k.value) { reads.insert(kind) } else {
                error(.unknownFrameKind, "no frame kind named `\(k.value)`", k.range,
                      help: "a frame kind is one of: \(FrameKinds.names.map(\.0).joined(separator: ", "))")
                ok = false
            }
        }
        var unless: Condition?
        if let u = r.unless {
            unless = lower(u.value, rule: r)
            if unless == nil { ok = false }
        }
        for ex in r.hits + r.misses where ex.isCall {
            if case .failure(let failure) = CallTranscript.parse(ex.text) {
                error(.badExample, "call example \(failure)", ex.range); ok = false
            }
        }
        guard let match = r.match else {
            if !r.brokenFields.contains("match") {
                error(.missingField, "rule `\(r.id.value)` has no `match`", r.id.range, help: "add match \"…\"")
            }
            return nil
        }
        guard let condition = lower(match.value, rule: r), ok else { return nil }
        let examples = { (xs: [Example]) in xs.map { CompiledExample(text: $0.text, isCall: $0.isCall, range: $0.range) } }
        var rule = CompiledRule(id: r.id.value, title: r.title?.value ?? r.id.value, category: categoryIndex, score: r.isPrivate ? 0 : (r.score?.value ?? 1),
                                status: r.status?.value ?? .stable, tags: r.tags?.value.map(\.value) ?? [], isPrivate: r.isPrivate,
                                condition: condition, requirement: .always, hits: examples(r.hits), misses: examples(r.misses), range: r.range)
        rule.frameKind = frameKind; rule.unless = unless; rule.whole = r.whole?.value; rule.reads = reads
        return rule
    }
}
