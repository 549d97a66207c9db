import FanzhaText

/// Speech frames: the parts of a text that are not the scam speaking to its target — a case
/// narrated, a warning given, a scammer's words quoted in a report (RULES.md, Frames).
///
/// A `frame` of the rule set is a condition like a rule's; each sentence that holds its evidence
/// (and none of its `unless` evidence) is in the frame. With `whole N`, a message whose sentences
/// of that kind cover N% of its characters is in the frame as a whole. Positive rules then do not
/// read framed text (an atom's occurrence inside a frame is left out), unless they say `in KIND`.
extension Screener.Evaluation {
    /// Finds this record's frames into `ws.frames`. Runs before the rules are scored.
    ///
    /// A call's frames of one frame rule depend on that rule's evidence and `unless` alone (the
    /// sentences it frames and vetoes are its own; `whole` is for messages). So a live call whose
    /// new turns leave some frame rules' input unchanged passes them as `kept` (bit k for
    /// `frameRules[k]`) with its last decision's frames, `previous`: those rules are not
    /// evaluated, their spans are taken from `previous`.
    mutating func findFrames(keeping kept: UInt64 = 0, of previous: [Screener.FrameSpan] = []) {
        // Emptied only when it holds frames (most records have none): emptying an array is a call
        // of the generic `replaceSubrange`, about 50 instructions, even when it is empty already.
        if !ws.frames.isEmpty { ws.frames.removeAll(keepingCapacity: true) }
        let frameRules = program.pointee.frameRules
        guard frameRules.count > 0 else { return }
        assert(kept == 0 || prepared.isCall, "frames are kept for calls only")
        defer { if kept != 0 { insertFrames(of: previous, kept: kept) } }
        let savedBlindness = blindness, savedRule = currentRule
        blindness = 0   // frames read everything
        defer { blindness = savedBlindness; currentRule = savedRule }
        // (frame, turn, normalised byte, veto)
        var marks: [(frame: Int32, turn: Int32, byte: Int32, veto: Bool)] = []
        for k in 0..<frameRules.count where kept & (1 << k) == 0 {
            let f = frameRules[k], fi = Int(f)
            if usePrefilter, !candidate(fi) { continue }
            currentRule = fi
            let found = evaluate(program.pointee.roots[fi], scope: [])
            guard !found.isEmpty else { continue }
            let before = marks.count
            forEachEvidence(of: found) { t, b in marks.append((f, t, b, false)) }
            guard marks.count > before else { continue }
            let u = program.pointee.unlessRoots[fi]
            if u >= 0 {
                let vetoes = evaluate(u, scope: [])
                forEachEvidence(of: vetoes) { t, b in marks.append((f, t, b, true)) }
            }
        }
        guard !marks.isEmpty else { return }
        let turns = prepared.turns
        // Sentences per turn, found once for the turns that hold a mark: turn t's are
        // `breaks[Int(breaksOfTurn[t])]`. The sentences framed and vetoed are sorted arrays, each
        // key once (`sortUnique`), not sets: a record has few, and hashing them cost
        // more than sorting.
        var breaksOfTurn = [Int32](repeating: -1, count: turnLimit)
        var breaks: [Screener.SentenceBreaks] = []
        var framed: [SentenceKey] = [], vetoed: [SentenceKey] = []
        for m in marks {
            let text = turns[Int(m.turn)].text
            if breaksOfTurn[Int(m.turn)] < 0 {
                breaksOfTurn[Int(m.turn)] = Int32(breaks.count)
                breaks.append(sentenceBreaks(ofTurn: Int(m.turn)))
            }
            let b = Int(breaksOfTurn[Int(m.turn)])
            let scalar = Int(m.byte) < text.bytes.count ? Int(text.originStart[Int(m.byte)]) : text.originalScalarCount
            // Words inside a quotation are someone else's: a quoted "you" vetoes nothing.
            if m.veto, breaks[b].quotations.contains(where: { $0.contains(scalar) }) { continue }
            let key = SentenceKey(frame: m.frame, turn: m.turn, sentence: Int32(Screener.lastIndex(in: breaks[b].starts, atMost: scalar)))
            if m.veto { vetoed.append(key) } else { framed.append(key) }
        }
        framed.sortUnique()
        vetoed.sortUnique()
        // A space is a weak break (a chat line written with spaces for commas): narration runs on
        // through the space-separated pieces after it, up to a real stop or a piece in the text's
        // own voice (its `unless`). Warnings do not run on: a scam may follow a disclaimer.
        let ranOn = framed.count
        for key in framed[..<ranOn] where !SentenceKey.sorted(vetoed, contains: key) {
            let kind = program.pointee.frameKind[Int(key.frame)]
            let b = Int(breaksOfTurn[Int(key.turn)])
            guard kind & FrameKinds.warning.rawValue == 0, program.pointee.unlessRoots[Int(key.frame)] >= 0,
                  !breaks[b].spaceBreaks.isEmpty else { continue }
            let starts = breaks[b].starts, spaceBreaks = breaks[b].spaceBreaks
            var next = SentenceKey(frame: key.frame, turn: key.turn, sentence: key.sentence + 1)
            while Int(next.sentence) < starts.count, spaceBreaks.contains(starts[Int(next.sentence)]), !SentenceKey.sorted(vetoed, contains: next) {
                framed.append(next)
                next.sentence += 1
            }
        }
        if framed.count > ranOn { framed.sortUnique() }
        // The sentences framed (for `whole`): of any kind, and those that narrate (not warnings),
        // each once (the keys come in sentence order, so a sentence's keys are together).
        var framedSentences: [Int64] = [], narrativeSentences: [Int64] = []
        for key in framed where !SentenceKey.sorted(vetoed, contains: key) {
            let text = turns[Int(key.turn)].text
            let starts = breaks[Int(breaksOfTurn[Int(key.turn)])].starts
            let s0 = starts[Int(key.sentence)]
            let s1 = Int(key.sentence) + 1 < starts.count ? starts[Int(key.sentence) + 1] : text.originalScalarCount
            let kind = program.pointee.frameKind[Int(key.frame)]
            ws.frames.append(Screener.FrameSpan(turn: key.turn, start: Int32(Screener.firstByte(text, atOrAfter: s0)),
                                               end: Int32(Screener.firstByte(text, atOrAfter: s1)), kind: kind,
                                               originalStart: Int32(s0), originalEnd: Int32(s1), rule: key.frame))
            let sentence = Int64(key.turn) << 32 | Int64(key.sentence)
            if framedSentences.last != sentence { framedSentences.append(sentence) }
            if kind & FrameKinds.warning.rawValue == 0 && narrativeSentences.last != sentence { narrativeSentences.append(sentence) }
        }
        // A message mostly framed is in the frame as a whole (news reports: narration runs
        // through sentences that carry no cue of their own) — unless it also speaks to its
        // reader: then the sentences an `unless` vetoed (outside quotations) must be fewer
        // characters than the narrated ones. Warnings alone do not outweigh them: scam messages
        // carry advice of their own (请注意保护个人隐私), only narration, quotation and teaching do.
        // Once a text narrates and has three framed sentences or more, it is a report, and a
        // report that turns to its reader (警方提醒…你, 不要轻信…你) is still a report: then the
        // vetoed sentences are weighed against every framed sentence, warnings included.
        guard !prepared.isCall, turnLimit > 0 else { return }
        let text = turns[0].text
        let total = text.originalScalarCount
        guard total > 0 else { return }
        var vetoedChars = 0
        if breaksOfTurn[0] >= 0 {
            let starts = breaks[Int(breaksOfTurn[0])].starts
            // Each vetoed sentence once: sorted, turn 0's come first, a sentence's keys together.
            var previous: Int32 = -1
            for key in vetoed where key.turn == 0 && key.sentence != previous {
                previous = key.sentence
                let i = Int(key.sentence)
                vetoedChars += (i + 1 < starts.count ? starts[i + 1] : total) - starts[i]
            }
        }
        for f in frameRules {
            let fi = Int(f)
            let whole = Int(program.pointee.frameWhole[fi])
            guard whole > 0 else { continue }
            let kind = program.pointee.frameKind[fi]
            guard !framedSentences.isEmpty, !ws.frames.contains(where: { $0.kind == kind && $0.originalStart == 0 && $0.originalEnd == Int32(total) }) else { continue }
            let starts = breaksOfTurn[0] >= 0 ? breaks[Int(breaksOfTurn[0])].starts : Screener.sentences(turns[0].turn.text).starts
            func characters(_ sentences: [Int64]) -> Int {
                sentences.reduce(0) { sum, s in
                    let i = Int(s & 0xFFFF_FFFF)
                    return sum + (i + 1 < starts.count ? starts[i + 1] : total) - starts[i]
                }
            }
            // Three framed sentences make a narrative too, in a long text whose sentences are long.
            // Warnings alone must cover half the message: a scam may end with one (the disclaimer
            // attack), a public-service notice is mostly warnings. A narrating text that never
            // speaks to its reader (no sentence vetoed) needs half the share: a victim's post or a
            // question about a message tells its case in a sentence or two and asks the rest.
            let share = narrativeSentences.isEmpty ? max(whole, 50) : vetoedChars == 0 ? whole / 2 : whole
            let isReport = !narrativeSentences.isEmpty && framedSentences.count >= 3
            let mostlyFramed = characters(framedSentences) * 100 >= share * total || isReport
            let outweighing = characters(isReport ? framedSentences : narrativeSentences)
            if mostlyFramed && (vetoedChars == 0 || vetoedChars < outweighing) {
                ws.frames.append(Screener.FrameSpan(turn: 0, start: 0, end: Int32(text.bytes.count), kind: kind,
                                                   originalStart: 0, originalEnd: Int32(total), rule: f))
            }
        }
    }

    /// A sentence in a frame's kind, ordered by turn, sentence, then frame (the frames' order in a verdict).
    private struct SentenceKey: Equatable, Comparable {
        var frame: Int32, turn: Int32, sentence: Int32
        static func < (a: SentenceKey, b: SentenceKey) -> Bool { (a.turn, a.sentence, a.frame) < (b.turn, b.sentence, b.frame) }

        /// Whether the sorted `keys` hold `key`.
        static func sorted(_ keys: [SentenceKey], contains key: SentenceKey) -> Bool {
            var lo = 0, hi = keys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if keys[mid] < key { lo = mid + 1 } else { hi = mid }
            }
            return lo < keys.count && keys[lo] == key
        }
    }


    /// Puts the spans of `previous` whose frame rule is `kept` (`findFrames`) among those found,
    /// in the frames' order: by turn, sentence (its start), then frame rule.
    private mutating func insertFrames(of previous: [Screener.FrameSpan], kept: UInt64) {
        let frameRules = program.pointee.frameRules
        var at = 0
        for span in previous {
            guard let k = (0..<frameRules.count).first(where: { frameRules[$0] == span.rule }), kept & (1 << k) != 0 else { continue }
            while at < ws.frames.count,
                  (ws.frames[at].turn, ws.frames[at].originalStart, ws.frames[at].rule) < (span.turn, span.originalStart, span.rule) { at += 1 }
            ws.frames.insert(span, at: at)
            at += 1
        }
    }

    /// Turn `t`'s sentence breaks. A live call keeps each turn's in its memo, found the first
    /// time a frame marks the turn: its frames are found again at most events, and finding a
    /// turn's breaks walks its scalars (about 3,900 instructions a turn on the bench).
    private func sentenceBreaks(ofTurn t: Int) -> Screener.SentenceBreaks {
        guard let memo = liveMemo else { return Screener.sentenceBreaks(prepared.turns[t].turn.text) }
        return memo._withUnsafeGuaranteedRef { memo in
            let number = prepared.firstTurnNumber + t
            if let kept = memo.sentenceBreaks[number] { return kept }
            let found = Screener.sentenceBreaks(prepared.turns[t].turn.text)
            memo.sentenceBreaks[number] = found
            return found
        }
    }

    /// Calls `body(turn, byte)` with the start of each piece of evidence of `occ`.
    private func forEachEvidence(of occ: Screener.Occurrences, _ body: (Int32, Int32) -> Void) {
        guard !occ.isEmpty else { return }
        for i in Int(occ.start)..<Int(occ.start + occ.count) {
            let o = ws.occ[i]
            guard o.turn >= 0 else { continue }
            for e in Int(o.evStart)..<Int(o.evStart + o.evCount) {
                let ev = ws.arena[e]
                body(ev.turn, ev.start)
            }
        }
    }

    /// Whether an occurrence lies inside a frame of one of the kinds `hidden`.
    static func inFrame(_ o: Screener.Occurrence, _ frames: [Screener.FrameSpan], _ hidden: UInt8) -> Bool {
        o.turn >= 0 && inFrame(turn: o.turn, start: o.start, end: o.end, frames, hidden)
    }

    /// Whether the bytes `start..<end` of turn `turn` lie inside a frame of one of the kinds
    /// `hidden`. Inlined: the model asks it of every n-gram of a turn with text hidden.
    @inline(__always)
    static func inFrame(turn: Int32, start: Int32, end: Int32, _ frames: [Screener.FrameSpan], _ hidden: UInt8) -> Bool {
        for f in frames where f.kind & hidden != 0 && f.turn == turn && f.start <= start && end <= f.end { return true }
        return false
    }

    /// The frames for the verdict: original offsets, each once, in text order.
    func reportedFrames() -> [Frame] {
        guard !ws.frames.isEmpty else { return [] }
        var out: [Frame] = []
        for f in ws.frames {
            let frame = Frame(kind: FrameKinds(rawValue: f.kind), frame: screener.rules.rules[Int(f.rule)].id, ruleIndex: Int(f.rule),
                              turn: prepared.isCall ? Int(f.turn) : nil,
                              start: Int(f.originalStart), end: Int(f.originalEnd))
            if !out.contains(frame) { out.append(frame) }
        }
        out.sort { ($0.turn ?? 0, $0.start, $0.end, $0.kind.rawValue, $0.ruleIndex) < ($1.turn ?? 0, $1.start, $1.end, $1.kind.rawValue, $1.ruleIndex) }
        return out
    }
}

extension Screener {
    /// The scalar offset where each sentence of `text` starts (the first is 0). A sentence ends
    /// after 。！？!?；; … or a line break, or at a space between Chinese characters once it is six
    /// characters long and the piece after the space is two characters or more (posts written
    /// with spaces for full stops; 安 全 账 户 stays one piece); a quotation (“…”, 「…」, 『…』, "…") stays in the
    /// sentence that quotes it, so a scammer's quoted words belong to the narration around them
    /// (a quotation left open ends at its line's end —
    /// a speech of several paragraphs opens its mark again on each — or after 300 characters). A bracketed tag (【反诈提醒】, 【某某银行】)
    /// and a notice label before a colon (温馨提示：, 警方提醒：) start a sentence even with no full
    /// stop before them: a warning or a signature added to a message is a sentence of its own, so
    /// a frame can take it without taking the message.
    static func sentenceStarts(_ text: String) -> [Int] { sentences(text).starts }

    /// The sentence starts, and the quotations (scalar ranges, marks included).
    static func sentences(_ text: String) -> (starts: [Int], quotations: [Range<Int>]) {
        let (starts, quotations, _) = sentenceBreaks(text)
        return (starts, quotations)
    }

    /// A text's sentence starts, its quotations, and the starts that follow a space rather than a stop.
    typealias SentenceBreaks = (starts: [Int], quotations: [Range<Int>], spaceBreaks: Set<Int>)

    /// The sentence starts, the quotations, and the starts that follow a space rather than a stop.
    static func sentenceBreaks(_ text: String) -> SentenceBreaks {
        var starts = [0], quotations: [Range<Int>] = [], spaceBreaks = Set<Int>()
        var depth = 0, ascii = false, opened = 0, i = 0
        var previousIsHan = false, pendingSpace = -1, spaceBreak = -1
        var recent: (UnicodeScalar, UnicodeScalar, UnicodeScalar, UnicodeScalar) = (" ", " ", " ", " ")
        func startSentence(at s: Int) { if s > starts.last! { starts.append(s) } }
        for u in text.unicodeScalars {
            let isHan = (0x4E00...0x9FFF).contains(u.value) || (0x3400...0x4DBF).contains(u.value)
            if spaceBreak >= 0 {
                // Only before a piece of two characters or more: text spaced out character by
                // character (安 全 账 户, 涉 嫌 洗 钱，请 加 Q Q, an evasion) has no break, or
                // it would be cut into arbitrary six-character sentences.
                if isHan {
                    starts.append(spaceBreak)
                    spaceBreaks.insert(spaceBreak)
                }
                spaceBreak = -1
            }
            if u == " " || u == "\u{3000}" {
                if previousIsHan && pendingSpace < 0 { pendingSpace = i }
            } else {
                if isHan, pendingSpace >= 0, depth == 0, !ascii, pendingSpace - starts.last! >= 6 {
                    spaceBreak = pendingSpace + 1
                }
                pendingSpace = -1
                previousIsHan = isHan
            }
            switch u {
            case "“", "「", "『", "‘":
                if depth == 0 && !ascii { opened = i }
                depth += 1
            case "”", "」", "』", "’":
                if depth > 0 {
                    depth -= 1
                    if depth == 0 && !ascii { quotations.append(opened..<(i + 1)) }
                }
            case "\"":
                ascii.toggle()
                if ascii && depth == 0 { opened = i } else if !ascii && depth == 0 { quotations.append(opened..<(i + 1)) }
            case "。", "！", "？", "!", "?", "；", ";", "…", "\n":
                if (depth > 0 || ascii) && (u == "\n" || i - opened > 300) { depth = 0; ascii = false }
                if depth == 0 && !ascii { startSentence(at: i + 1) }
            case "【":
                if depth == 0 && !ascii { startSentence(at: i) }
            case "：", ":":
                // Two characters and 提示 or 提醒: the label starts where those four do.
                let isHan = { (c: UnicodeScalar) in (0x4E00...0x9FFF).contains(c.value) }
                if depth == 0, !ascii, i >= 4, isHan(recent.0), isHan(recent.1), recent.2 == "提",
                   recent.3 == "示" || recent.3 == "醒" {
                    startSentence(at: i - 4)
                }
            default:
                break
            }
            recent = (recent.1, recent.2, recent.3, u)
            i += 1
        }
        if starts.count > 1 && starts.last! >= i { starts.removeLast() }
        return (starts, quotations, spaceBreaks)
    }

    /// The index of the last element of the sorted `xs` that is at most `x` (0 when none is).
    static func lastIndex(in xs: [Int], atMost x: Int) -> Int {
        var lo = 0, hi = xs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if xs[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return max(0, lo - 1)
    }

    /// The first normalised byte that comes from original scalar `s` or later (the text's length
    /// when none does).
    static func firstByte(_ text: NormalisedText, atOrAfter s: Int) -> Int {
        var lo = 0, hi = text.bytes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(text.originStart[mid]) < s { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
