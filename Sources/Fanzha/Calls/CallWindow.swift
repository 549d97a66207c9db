import Foundation

/// The text a live call keeps: its last turns, normalised (`prepared`), and what fired on the
/// turns it has let go. Memory per open call is bounded however long the call runs.
///
/// While the call has at most `2 × window` turns and `2 × windowBytes` bytes of text it keeps
/// every turn, and its final verdict is `scan`'s on the whole call. Past that it slides: the
/// verdict on every turn it holds is taken (so a rule whose evidence spans up to `window` turns
/// is seen whole on some slide: each slide overlaps the next by the turns kept), the rules that
/// fired are kept with their evidence and the turns that evidence is in, and the oldest turns go
/// until at most `window` turns and `windowBytes` bytes are left. One slide evaluates at most
/// `2 × window` turns once per `window` new turns, so it adds a constant to the cost per event.
///
/// The final verdict of a call that slid is the verdict on the turns kept plus every rule that
/// fired on an earlier slide (its first evidence), scored as one verdict: a rule fires on the
/// call if it fired on some stretch of it. A rule that needs the whole call at once (`not` over
/// the whole call, `count(…) >= N` with its occurrences further apart than the window) is judged
/// on those stretches.
final class CallWindow {
    private(set) var prepared: Screener.Prepared
    /// Turns let go: the call's turn number of `prepared.turns[0]`.
    private(set) var dropped = 0
    /// Bytes of text held in `prepared`.
    private var bytes = 0
    var heldBytes: Int { bytes }
    /// Rules that fired on turns let go, by rule index, with their first evidence (the call's turn numbers).
    private var earlier: [Int: RuleHit] = [:]
    private var earlierErrors: [String] = []
    /// Frames found in the turns let go that are kept (`evidenceTurns`).
    private var earlierFrames: [Frame] = []
    /// The turns let go that hold evidence of `earlier`, by the call's turn number.
    private var evidenceTurns: [Int: Turn] = [:]

    init(prepared: Screener.Prepared) { self.prepared = prepared }

    /// The call's turns so far, those let go included.
    var turnCount: Int { dropped + prepared.turnCount }
    /// Whether turns have been let go (the final verdict is then put together, not whole).
    var hasSlid: Bool { dropped > 0 }

    func append(_ turn: Turn, screener: Screener, limits: LiveCallScreener.Limits) {
        // Its `ScalarBits` written with its text, kept for the call's evaluations (LiveScalarBits.swift).
        screener.append(turn, to: prepared, scalarBits: prepared.regexMemo?.scalarBits.room(forTurn: turnCount))
        bytes += turn.text.utf8.count
        if prepared.turnCount > 2 * limits.window || (bytes > 2 * limits.windowBytes && prepared.turnCount > 1) {
            slide(screener: screener, limits: limits)
        }
    }

    private func slide(screener: Screener, limits: LiveCallScreener.Limits) {
        let v = screener.evaluate(prepared)
        let turns = prepared.turns
        // Keep the last turns that fit (always the latest), let the rest go.
        var keep = 0, kept = 0
        while keep < turns.count, keep < limits.window {
            let b = turns[turns.count - 1 - keep].turn.text.utf8.count
            if keep > 0 && kept + b > limits.windowBytes { break }
            keep += 1
            kept += b
        }
        let letGo = turns.count - keep
        for hit in v.hits where earlier[hit.ruleIndex] == nil {
            earlier[hit.ruleIndex] = hit.with(spans: hit.spans.map { EvidenceSpan(turn: $0.turn.map { $0 + dropped }, start: $0.start, end: $0.end, text: $0.text) })
        }
        // The turns that go and hold evidence of a rule kept (found on this slide or before) stay.
        for hit in earlier.values {
            for span in hit.spans {
                if let t = span.turn, t >= dropped, t < dropped + letGo { evidenceTurns[t] = turns[t - dropped].turn }
            }
        }
        // Frames of the turns that go are kept only in the turns kept for evidence: elsewhere their
        // text is gone (an empty stand-in in the final record), and keeping them would grow with the call.
        for f in v.frames {
            guard let t = f.turn, t < letGo, evidenceTurns[t + dropped] != nil else { continue }
            earlierFrames.append(Frame(kind: f.kind, frame: f.frame, ruleIndex: f.ruleIndex, turn: t + dropped, start: f.start, end: f.end))
        }
        for e in v.errors where !earlierErrors.contains(e) { earlierErrors.append(e) }
        prepared = prepared.lastTurns(keep)
        dropped += letGo
        prepared.regexMemo?.forget(before: dropped)
        bytes = kept
    }

    /// The final verdict and the call's turns for its record (turns let go without evidence in
    /// them are there as empty turns, so that turn numbers stay the call's).
    func final(screener: Screener, firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> (Verdict, [Turn]) {
        guard hasSlid else {
            let v = screener.evaluate(prepared, turnLimit: prepared.turnCount, firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn)
            return (v, prepared.turns.map(\.turn))
        }
        let last = screener.evaluate(prepared)
        let offset = dropped
        func shifted(_ s: EvidenceSpan) -> EvidenceSpan { EvidenceSpan(turn: s.turn.map { $0 + offset }, start: s.start, end: s.end, text: s.text) }
        var hits = earlier
        for h in last.hits where hits[h.ruleIndex] == nil { hits[h.ruleIndex] = h.with(spans: h.spans.map(shifted)) }
        var errors = earlierErrors
        for e in last.errors where !errors.contains(e) { errors.append(e) }
        if turnCount > Screener.timelineTurns, firstWarningTurn == nil || firstMoneyRequestTurn == nil {
            errors.append("the call timeline was searched in the first \(Screener.timelineTurns) of \(turnCount) turns only")
        }
        let frames = earlierFrames + last.frames.map {
            Frame(kind: $0.kind, frame: $0.frame, ruleIndex: $0.ruleIndex, turn: $0.turn.map { $0 + offset }, start: $0.start, end: $0.end)
        }
        let verdict = screener.verdict(id: prepared.id, hits: hits.values.sorted { $0.ruleIndex < $1.ruleIndex }, errors: errors, frames: frames,
                                       firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn)
        var turns: [Turn] = []
        turns.reserveCapacity(turnCount)
        for t in 0..<dropped { turns.append(evidenceTurns[t] ?? Turn(speaker: "", side: .callee, text: "")) }
        turns += prepared.turns.map(\.turn)
        return (verdict, turns)
    }
}

extension Screener {
    /// A verdict from the rules that fired (`hits`, in rule order), scored as `evaluate` scores
    /// them: the total, each category's share, the level, advice and referral.
    func verdict(id: String, hits: [RuleHit], errors: [String], frames: [Frame], firstWarningTurn: Int?, firstMoneyRequestTurn: Int?) -> Verdict {
        var score = 0
        var categoryScores = [Int](repeating: 0, count: rules.categories.count)
        var categoryHit = [Bool](repeating: false, count: rules.categories.count)
        for h in hits {
            let ruleScore = rules.rules[h.ruleIndex].score
            score += ruleScore
            if let c = rules.rules[h.ruleIndex].category {
                categoryScores[c] += ruleScore
                if ruleScore > 0 { categoryHit[c] = true }
            }
        }
        return verdict(id: id, score: score, categoryScores: categoryScores, categoryHit: categoryHit, hits: hits, errors: errors,
                       frames: frames.sorted { ($0.turn ?? 0, $0.start) < ($1.turn ?? 0, $1.start) },
                       firstWarningTurn: firstWarningTurn, firstMoneyRequestTurn: firstMoneyRequestTurn)
    }
}
