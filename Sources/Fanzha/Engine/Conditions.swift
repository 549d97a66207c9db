// The condition interpreter: a rule's lowered program (Program.swift) evaluated node by node
// into occurrence lists, with the `near`/`then` pair join. Results are ranges of the
// workspace's arenas, so a node allocates nothing.

extension Screener.Evaluation {
    /// Appends one occurrence that is its own evidence.
    mutating func single(_ turn: Int32, _ s: Int32, _ e: Int32) {
        ws.arena.append(Evidence(turn: turn, start: s, end: e))
        ws.occ.append(Occurrence(turn: turn, start: s, end: e, evStart: Int32(ws.arena.count - 1), evCount: 1))
    }

    /// The occurrences from `start` to the end of the arena.
    mutating func since(_ start: Int) -> Occurrences {
        Occurrences(start: Int32(start), count: Int32(ws.occ.count - start))
    }

    /// `r`'s occurrences that pass `keep`: `r` itself when all do, else a filtered copy.
    private mutating func filter(_ r: Occurrences, _ keep: (Occurrence) -> Bool) -> Occurrences {
        let end = Int(r.start + r.count)
        guard let firstDropped = (Int(r.start)..<end).first(where: { !keep(ws.occ[$0]) }) else { return r }
        let start = ws.occ.count
        for i in Int(r.start)..<firstDropped { ws.occ.append(ws.occ[i]) }
        for i in (firstDropped + 1)..<max(firstDropped + 1, end) where keep(ws.occ[i]) { ws.occ.append(ws.occ[i]) }
        return since(start)
    }

    /// `r`'s occurrences in turns on the side `scope` (both at once: none, as no turn is on
    /// both). A record whose turns are all on that side (every message) keeps them all.
    private mutating func filterSide(_ r: Occurrences, _ scope: Side) -> Occurrences {
        if sidesPresent == scope { return r }
        let sides = ws.sides   // a view of the same memory: the closure does not touch `self`
        return filter(r) { sides[Int($0.turn)] == scope }
    }

    /// The first `occurrenceCap` occurrences of the results on the stack from `base`, in
    /// order; pops them.
    private mutating func concatenate(from base: Int) -> Occurrences {
        defer { ws.stack.removeLast(ws.stack.count - base) }
        if ws.stack.count - base == 1 {   // one part: itself, capped
            let r = ws.stack[base]
            return Occurrences(start: r.start, count: min(r.count, Int32(Screener.occurrenceCap)))
        }
        let start = ws.occ.count
        var left = Screener.occurrenceCap
        for k in base..<ws.stack.count where left > 0 {
            let r = ws.stack[k]
            let take = min(Int(r.count), left)
            for i in Int(r.start)..<(Int(r.start) + take) { ws.occ.append(ws.occ[i]) }
            left -= take
        }
        return since(start)
    }

    private func kid(_ n: Program.Node, _ k: Int) -> Int32 { program.pointee.kids[Int(n.first) &+ k] }

    /// Whether a rule whose root is node `root` fires: whether its occurrences are not empty,
    /// without the model's evidence when the root is the `model` condition, or an `and` of it
    /// and other conditions (`match model >= 0.98`, `match model < 0.02 and not …`: rules that
    /// run on every record). An `and` fires when every part does, so its parts are asked the
    /// same way, in order, stopping at the first that does not.
    mutating func fires(_ root: Int32) -> Bool {
        let n = program.pointee.nodes[Int(root)]
        switch n.op {
        case .model:
            return modelHolds(n, scope: [])
        case .and:
            for k in 0..<Int(n.count) {
                let id = kid(n, k)
                if ruledOut(id) || !fires(id) { return false }
            }
            return true
        default:
            return !evaluate(root, scope: []).isEmpty
        }
    }

    /// Whether the prefilter rules node `id` out in this record, through the node its
    /// `Program.ruledOutBy` entry names: a word list none of whose words the automaton found, a
    /// regex one of whose requirement's clauses has no word present (`atomCandidate`) or whose
    /// literal gate's first test turns this message away (`gateTurnsAway`), or an
    /// `or`/`at_least` of word lists with fewer of them present than it needs. Empty in every
    /// scope and frame, known without evaluating it. Most nodes a candidate rule evaluates are
    /// such (the alternatives of an `or`; a frame's regexes, tried on every record; the `any(…)`
    /// lists that start a `near`), and a call to `evaluate` for each cost about forty
    /// instructions before it found that out. Mutating, though it writes nothing: a plain method
    /// called from `evaluate` took a copy of the whole evaluation in a debug build (inlining is
    /// not guaranteed there), four such copies in `evaluate`'s frame, and the deep recursion of a
    /// long condition then ran out of a worker thread's stack.
    @inline(__always)
    private mutating func ruledOut(_ id: Int32) -> Bool {
        guard usePrefilter else { return false }
        let at = Int(program.pointee.ruledOutBy[Int(id)])
        if at < 0 { return false }
        let n = program.pointee.nodes[at]
        let mark = ws.markGeneration
        if n.op == .atom {
            let a = Int(n.arg)
            return program.pointee.atomIsWords[a] ? ws.atomHitStamp[a] != mark : !atomCandidate(a) || gateTurnsAway(a)
        }
        // An `or` (one present word list is enough) or an `at_least(N, …)` (N; none is never enough).
        let need = n.op == .or ? 1 : max(1, Int(n.arg))
        let kidPrefilter = program.pointee.kidPrefilter, hitStamp = ws.atomHitStamp
        var present = 0
        for k in Int(n.first)..<Int(n.first &+ n.count) where hitStamp[Int(kidPrefilter[k])] == mark {
            present &+= 1
            if present == need { return false }
        }
        return true
    }

    /// The first child of `n` from `k` on that the prefilter does not rule out (`ruledOut`), or
    /// `n.count` when there is none: the caller evaluates it with `evaluateNode`. A loop of its
    /// own, with no call and no write, so the tables' addresses are read once, not again for each
    /// child after every evaluation (`or` and `at_least` lists pass over about 70 ruled-out
    /// children a record: 15 instructions each instead of 24).
    @inline(__always)
    private mutating func nextKid(of n: Program.Node, from k: Int) -> Int {
        guard usePrefilter else { return k }
        // One table read per child (`Program.kidPrefilter`): a word list's atom; for a regex with
        // clauses, -2 - (its first clause << 1 | whether it has more); -1 for the rest. About 130
        // children a record pass here, most of them word lists not found and the frames' regexes.
        let end = Int(n.count)
        guard k < end else { return end }
        let hitStamp = ws.atomHitStamp, clauseMarks = clauseMarks
        let mark = ws.markGeneration, clauseMark = clauseMark
        // This node's entries, indexed by the child: the loop's index is its only counter.
        let entries = program.pointee.kidPrefilter.address(Int(n.first))
        var k = k
        while k < end {
            let x = Int(entries[k])
            if x >= 0 {
                if hitStamp[x] == mark { return k }
            } else {
                if x != -1 {
                    // A regex's first clause: passed over without it; with it, a regex of one
                    // clause runs, and one of more asks `ruledOut` (its other clauses, its gate).
                    let entry = -2 - x
                    if clauseMarks.unsafelyUnwrapped[entry >> 1] != clauseMark { k &+= 1; continue }
                    if entry & 1 == 0 { return k }
                }
                // Asked from one place: with two, `nextKid` was no longer inlined.
                if !ruledOut(kid(n, k)) { return k }
            }
            k &+= 1
        }
        return end
    }

    /// The occurrences of node `id` in the turns of `scope` (`[]`: every turn). Inlined where it
    /// is asked, so that a node the prefilter rules out (`ruledOut`) costs no call.
    @inline(__always)
    mutating func evaluate(_ id: Int32, scope: Side) -> Occurrences {
        ruledOut(id) ? .none : evaluateNode(id, scope: scope)
    }

    /// An `atom` node's occurrences: atom `a`'s, less those inside the frames the current rule
    /// does not read, in the turns of `scope`. Inlined into `evaluateNode`'s `atom` case; the `or`
    /// and `at_least` loops ask it of an atom child themselves, and the compiler keeps those as
    /// calls of this small function — cheaper than a call of `evaluateNode`, whose prologue saves
    /// six registers and sets up its large frame, and its dispatch on the node's kind (about
    /// 80,000 atom children a slice: −60 a record, −200 a live event).
    @inline(__always)
    private mutating func atomNode(_ a: Int, scope: Side) -> Occurrences {
        var all = ws.atomStamp[a] == ws.generation ? ws.atomResult[a] : atomOccurrences(a)
        if blindness != 0 && !ws.frames.isEmpty && !all.isEmpty {
            let frames = ws.frames, hidden = blindness
            all = filter(all) { o in !Self.inFrame(o, frames, hidden) }
        }
        // A record whose turns are all on one side (every message) keeps them all.
        if scope.isEmpty || sidesPresent == scope { return all }
        return filterSide(all, scope)
    }

    /// `evaluate`'s work, for a node the prefilter does not rule out (so a word list here has words present).
    private mutating func evaluateNode(_ id: Int32, scope: Side) -> Occurrences {
        let n = program.pointee.nodes[Int(id)]
        switch n.op {
        case .atom:
            return atomNode(Int(n.arg), scope: scope)
        case .rule:
            let key = (Int(n.arg) * 16 + Int(blindness & 15)) * 4 + Int(scope.rawValue)
            if ws.ruleStamp[key] == ws.generation { return ws.ruleResult[key] }
            let saved = currentRule
            let result = evaluate(program.pointee.roots[Int(n.arg)], scope: scope)
            currentRule = saved
            ws.ruleStamp[key] = ws.generation
            ws.ruleResult[key] = result
            return result
        case .and:
            let base = ws.stack.count
            for k in 0..<Int(n.count) {
                let o = evaluate(kid(n, k), scope: scope)
                if o.isEmpty { ws.stack.removeLast(ws.stack.count - base); return .none }
                ws.stack.append(o)
            }
            return concatenate(from: base)
        case .or:
            let base = ws.stack.count
            var k = nextKid(of: n, from: 0)
            while k < Int(n.count) {
                let id = kid(n, k), child = program.pointee.nodes[Int(id)]
                let o = child.op == .atom ? atomNode(Int(child.arg), scope: scope) : evaluateNode(id, scope: scope)
                if !o.isEmpty { ws.stack.append(o) }
                k = nextKid(of: n, from: k + 1)
            }
            return ws.stack.count == base ? .none : concatenate(from: base)
        case .not:
            return evaluate(kid(n, 0), scope: scope).isEmpty ? .nowhere : .none
        case .atLeast:
            let base = ws.stack.count
            var k = nextKid(of: n, from: 0)
            while k < Int(n.count) {
                let id = kid(n, k), child = program.pointee.nodes[Int(id)]
                let o = child.op == .atom ? atomNode(Int(child.arg), scope: scope) : evaluateNode(id, scope: scope)
                if !o.isEmpty { ws.stack.append(o) }
                k = nextKid(of: n, from: k + 1)
            }
            // None satisfied is false even for at_least(0, …): there is no evidence to show.
            if ws.stack.count - base >= Int(n.arg) && ws.stack.count > base { return concatenate(from: base) }
            ws.stack.removeLast(ws.stack.count - base)
            return .none
        case .near, .nearTurns, .then, .thenGap:
            let xs = filter(evaluate(kid(n, 0), scope: scope)) { $0.turn >= 0 }
            if xs.isEmpty { return .none }
            let ys = filter(evaluate(kid(n, 1), scope: scope)) { $0.turn >= 0 }
            if ys.isEmpty { return .none }
            return pairs(xs, ys, n.op, Int(n.arg))
        case .count:
            let o = filter(evaluate(kid(n, 0), scope: scope)) { $0.turn >= 0 }
            // Counts stop at the cap (RULES.md), for words as for combined results.
            let counted = min(Int(o.count), Screener.occurrenceCap)
            guard Comparison.allCases[Int(n.arg2)].holds(counted, Int(n.arg)) else { return .none }
            return o.isEmpty ? .nowhere : o
        case .scope:
            // Nested in the other side's scope, both sides at once: nothing holds there.
            let inner = scope.union(Side(rawValue: UInt8(n.arg)))
            // No turn of that side (a callee in a message): nothing there can hold, not even
            // `not …` or `count(…) == 0`.
            guard speaks(inner) else { return .none }
            return evaluate(kid(n, 0), scope: inner)
        case .model:
            return modelCondition(n, scope: scope)
        }
    }

    /// Whether `scope` is one side and any of the first `turnLimit` turns is on it.
    private func speaks(_ scope: Side) -> Bool {
        (scope == .caller || scope == .callee) && !sidesPresent.isDisjoint(with: scope)
    }

    /// Characters between two occurrences in one turn (0 when they touch or overlap).
    static func gap(_ turns: [PreparedTurn], _ x: Occurrence, _ y: Occurrence) -> Int {
        let text = turns[Int(x.turn)].text
        if y.start >= x.end {
            return text.normalisedScalarOffset(ofByte: Int(y.start)) - text.normalisedScalarOffset(ofByte: Int(x.end))
        }
        if x.start >= y.end {
            return text.normalisedScalarOffset(ofByte: Int(x.start)) - text.normalisedScalarOffset(ofByte: Int(y.end))
        }
        return 0
    }

    /// The pairs (x, y) that `op` accepts, each one occurrence with both evidences; at most
    /// `occurrenceCap` of them, x-major.
    ///
    /// The ys are put in text order (turn, start) once, and for each x only the window of ys
    /// that `op` could accept is visited, found by binary search: so a record with thousands of
    /// xs and ys that never meet costs n log n, not n² (a hostile line must not hang the scan).
    /// A character is at most 4 bytes, so `d` characters span at most `4d` bytes; the exact
    /// test is still made on each candidate.
    private mutating func pairs(_ xs: Occurrences, _ ys: Occurrences, _ op: Program.Op, _ d: Int) -> Occurrences {
        let turns = prepared.turns
        // The ys' order and each x's accepted ys are written in the workspace's arenas, in place:
        // arrays cost a uniqueness check per append and a call per emptying (about 200
        // instructions a join, 13,000 joins per 10,000 records).
        ws.order.removeAll()
        var longest = 0
        var inOrder = true
        var previous = (Int32.min, Int32.min)
        for j in Int(ys.start)..<Int(ys.start + ys.count) {
            let y = ws.occ[j]
            ws.order.append(Int32(j))
            longest = max(longest, Int(y.end - y.start))
            if (y.turn, y.start) < previous { inOrder = false }
            previous = (y.turn, y.start)
        }
        if !inOrder {
            let occ = ws.occ
            var order = ws.order.buffer
            order.sort { (occ[Int($0)].turn, occ[Int($0)].start, $0) < (occ[Int($1)].turn, occ[Int($1)].start, $1) }
        }
        let start = ws.occ.count
        var made = 0
        outer: for i in Int(xs.start)..<Int(xs.start + xs.count) {
            let x = ws.occ[i]
            // The window of (turn, start) keys a y accepted by `op` can have.
            let from: (Int, Int), to: (Int, Int)
            switch op {
            case .near:
                from = (Int(x.turn), Int(x.start) - 4 * d - longest)
                to = (Int(x.turn), Int(x.end) + 4 * d)
            case .thenGap:
                from = (Int(x.turn), Int(x.end))
                to = (Int(x.turn), Int(x.end) + 4 * d)
            case .nearTurns:
                from = (Int(x.turn) - d, Int.min)
                to = (Int(x.turn) + d, Int.max)
            default:
                from = (Int(x.turn), Int(x.end))
                to = (Int.max, Int.max)
            }
            var lo = 0, hi = ws.order.count
            while lo < hi {
                let mid = (lo + hi) / 2
                let y = ws.occ[Int(ws.order[mid])]
                if (Int(y.turn), Int(y.start)) < from { lo = mid + 1 } else { hi = mid }
            }
            ws.accepted.removeAll()
            for k in lo..<ws.order.count {
                let y = ws.occ[Int(ws.order[k])]
                if (Int(y.turn), Int(y.start)) > to { break }
                // One occurrence is not "an A and a B" (a word in both lists of a `near`).
                if x.turn == y.turn && x.start == y.start && x.end == y.end && (op == .near || op == .nearTurns) { continue }
                let ok: Bool
                switch op {
                case .near: ok = x.turn == y.turn && Self.gap(turns, x, y) <= d
                case .nearTurns: ok = abs(Int(x.turn) - Int(y.turn)) <= d
                case .thenGap: ok = x.turn == y.turn && y.start >= x.end && Self.gap(turns, x, y) <= d
                default: ok = x.turn < y.turn || (x.turn == y.turn && y.start >= x.end)
                }
                if ok { ws.accepted.append(ws.order[k]) }
            }
            // Pairs in the ys' own order, as a plain double loop would make them: when the cap
            // cuts the list, the same pairs survive (and so the same outcome one level up).
            if !inOrder {
                var accepted = ws.accepted.buffer
                accepted.sort()
            }
            for a in 0..<ws.accepted.count {
                let y = ws.occ[Int(ws.accepted[a])]
                let sameTurn = x.turn == y.turn
                let evStart = Int32(ws.arena.count)
                for e in Int(x.evStart)..<Int(x.evStart + x.evCount) { ws.arena.append(ws.arena[e]) }
                for e in Int(y.evStart)..<Int(y.evStart + y.evCount) { ws.arena.append(ws.arena[e]) }
                ws.occ.append(Occurrence(turn: sameTurn ? x.turn : y.turn,
                                         start: sameTurn ? min(x.start, y.start) : y.start,
                                         end: sameTurn ? max(x.end, y.end) : y.end,
                                         evStart: evStart, evCount: x.evCount + y.evCount))
                made += 1
                if made >= Screener.occurrenceCap { break outer }
            }
        }
        return since(start)
    }
}
