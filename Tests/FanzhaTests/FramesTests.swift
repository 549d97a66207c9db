import Foundation
import Testing
@testable import Fanzha

// Speech frames: a scam word inside a narrated or warning sentence is not the scam speaking.
// A small rule set whose every outcome is worked out by hand in the comments.

private let frameRules = """
levels low 3, medium 6, high 10

category police {
  title  "冒充公检法"
  advice "挂断"
  script "您好"
}

rule p.account { title "安全账户" category police score 6 tags money_request match "安全账户" }
rule p.quoted  { title "引述也算" category police score 2 in report match "通缉令" }
rule n.warn    { title "提醒" score -4 match "谨防" }

private rule addresses_reader { title "对你说" match /(你|您)的/ }

frame f.report {
  title "叙述"
  kind  report
  whole 50
  match any("受害人", "民警")
  unless addresses_reader
  hit   "受害人报警"
  miss  "你好"
}

frame f.warning {
  title "提醒"
  kind  warning
  match "谨防"
  hit   "谨防诈骗"
  miss  "你好"
}
"""

private func verdict(_ text: String) throws -> (Verdict, RuleSet) {
    let rules = try compiledRuleSet(frameRules)
    let scanner = try Screener(rules: rules)
    return (scanner.screen(Record(id: "x", text: text)), rules)
}

@Suite struct FramesTests {
    @Test func sentencesKeepQuotationsTogether() {
        // 。 inside “…” does not end the sentence; the quotation's range is reported.
        let text = "他说：“转到安全账户。马上。”然后挂了。好"
        let (starts, quotes) = Screener.sentences(text)
        #expect(starts == [0, 20])
        #expect(quotes == [3..<15])
        #expect(Screener.sentenceStarts("一。二！三") == [0, 2, 4])
        #expect(Screener.sentenceStarts("") == [0])
    }

    @Test func aQuotationLeftOpenEndsAtItsLine() {
        // A stray “ at a line's end (a page's chat screenshot caption) does not swallow the next
        // lines: each line is a sentence again, and no quotation is reported for it.
        let (starts, quotes) = Screener.sentences("聊天记录如下“\n李某报警。\n你的钱")
        #expect(starts == [0, 8, 13, 14])
        #expect(quotes.isEmpty)
    }

    @Test func aTagOrANoticeLabelStartsASentenceWithoutAFullStop() {
        // 请马上核查 | 【反诈提醒】谨防受骗: a warning appended with no full stop is its own sentence.
        #expect(Screener.sentenceStarts("请马上核查【反诈提醒】谨防受骗") == [0, 5])
        // 配合核查 | 温馨提示：请勿泄露验证码 — the label is two characters and 提示/提醒.
        #expect(Screener.sentenceStarts("配合核查温馨提示：请勿泄露验证码") == [0, 4])
        #expect(Screener.sentenceStarts("转账到这里警方提醒:凡是") == [0, 5])
        // A tag at the start, or a colon after other words, starts nothing new.
        #expect(Screener.sentenceStarts("【某某银行】您的验证码是1234") == [0])
        #expect(Screener.sentenceStarts("他说：转到安全账户") == [0])
        // Inside a quotation a tag stays in the quoting sentence.
        #expect(Screener.sentenceStarts("他说“【通知】转账”然后") == [0])
    }

    @Test func aScamWordInANarratedSentenceDoesNotCount() throws {
        // Sentence 1 is narration (受害人): 安全账户 there is not the scam speaking. It is 13 of the
        // message's 19 characters (≥ 50%), so the whole message is a report too.
        let (v, _) = try verdict("受害人被要求转到安全账户。后来他报警了")
        #expect(v.score == 0)
        #expect(v.level == .none)
        #expect(v.frames.map(\.kind) == [.report, .report])
        #expect(v.frames.first?.frame == "f.report")
        // Offsets are scalars of the original text, end exclusive.
        #expect(v.frames.map { [$0.start, $0.end] } == [[0, 13], [0, 19]])
    }

    @Test func theSameWordOutsideTheFrameCounts() throws {
        // Sentence 2 speaks to the reader (你的…, vetoed; 安全账户 outside any frame): 6 points,
        // medium. The narrated sentence is 6 of 23 characters, too little to frame the whole
        // message that speaks in its own voice.
        let (v, _) = try verdict("受害人被骗。请把你的钱马上转到这个安全账户里面")
        #expect(v.frames.map { [$0.start, $0.end] } == [[0, 6]])
        #expect(v.score == 6)
        #expect(v.level == .medium)
    }

    @Test func narrationRunsOnThroughSpaceSeparatedPieces() throws {
        // A chat line written with spaces for commas: 受害人报警了 frames its piece, and the
        // narration runs on through 后来要转安全账户 (a space, not a stop, before it), so 安全账户
        // is not the text speaking. It stops at the piece that says 你的 (the text's own voice,
        // vetoed). Framed: 17 of 37 characters, too few to frame the whole message.
        let text = "受害人报警了了 后来要转安全账户 你的钱在吗你的钱在吗你的钱在吗你的钱在吗"
        let (starts, _, breaks) = Screener.sentenceBreaks(text)
        #expect(starts == [0, 8, 17])
        #expect(breaks == [8, 17])
        let (v, _) = try verdict(text)
        #expect(v.frames.map { [$0.start, $0.end] } == [[0, 8], [8, 17]])
        #expect(v.score == 0)
        // After a full stop the same piece is a sentence of its own: 安全账户 counts (6).
        let (stop, _) = try verdict("受害人报警了了。后来要转安全账户 你的钱在吗你的钱在吗你的钱在吗你的钱在吗")
        #expect(stop.frames.map { [$0.start, $0.end] } == [[0, 8]])
        #expect(stop.score == 6)
    }

    @Test func textSpacedOutCharacterByCharacterHasNoSpaceBreaks() throws {
        // 受 害 人 报 警 了 … (an evasion, every character spaced) is one sentence: cut at every
        // sixth character it would be arbitrary pieces, and narration would run on from one
        // of them through the rest. Pieces of two characters or more still break.
        let spaced = "你 的 身 份 证 被 人 冒 用 涉 嫌 洗 钱，请 加 Q Q 联 系 办 案 民 警"
        #expect(Screener.sentenceBreaks(spaced).starts == [0])
        #expect(Screener.sentenceBreaks(spaced).spaceBreaks.isEmpty)
        let mixed = "受害人报警了了 后 来 要 转 安 全 账 户 你的钱在吗"
        #expect(Screener.sentenceBreaks(mixed).starts == [0, 24])
        // One sentence, so its 你的 (the text's own voice) vetoes the frame for all of it. Cut
        // into pieces, narration ran on from 受害人 through 安全账户 and stopped only at 你的.
        let (v, _) = try verdict("受 害 人 说 ， 把 钱 转 到 安 全 账 户 ， 你 的 钱 就 安 全 了")
        #expect(v.frames.isEmpty)
        #expect(v.score == 6)
    }

    @Test func aWarningDoesNotRunOnThroughSpaces() throws {
        // 谨防诈骗请注意 is a warning piece (8 of 25 characters); the appeal after the space is
        // still the text's own: 6, and n.warn reads no warning once the message appeals.
        let (v, _) = try verdict("谨防诈骗请注意 马上把卡里的钱都转到这个安全账户")
        #expect(v.frames.map { [$0.start, $0.end] } == [[0, 8]])
        #expect(v.score == 6)
    }

    @Test func unlessVetoesTheSentence() throws {
        // 民警 would frame it, but the sentence says 你的: a fake policeman, not a report.
        let (v, _) = try verdict("我是民警，你的钱要转到安全账户")
        #expect(v.frames.isEmpty)
        #expect(v.score == 6)
    }

    @Test func aQuotedYouDoesNotVeto() throws {
        // 你的 inside quotation marks is someone else's words: the sentence stays narration.
        let (v, _) = try verdict("受害人说对方称“你的钱要转到安全账户”")
        #expect(v.frames.map(\.kind) == [.report])
        #expect(v.score == 0)
    }

    @Test func aRuleThatReadsReportsStillCounts() throws {
        // p.quoted says `in report`: its word counts inside the narrated sentence.
        let (v, _) = try verdict("民警说骗子发来了通缉令")
        #expect(v.hits.map { $0.rule } == ["p.quoted"])
        #expect(v.score == 2)
    }

    @Test func aMostlyNarratedMessageIsFramedWhole() throws {
        // Sentence 1 (受害人) is 6 of 11 characters: ≥ 50%, so the whole message is a report and the
        // second sentence's 安全账户 does not count either.
        let (v, _) = try verdict("受害人王某报警。安全账户")
        #expect(v.frames.contains { $0.start == 0 && $0.end == 12 && $0.kind == .report })
        #expect(v.score == 0)
    }

    @Test func aReportThatTurnsToItsReaderIsStillFramedWhole() throws {
        // 受害人报警。(6, narrated) 谨防诈骗。(5, warning) 谨防诈骗。(5, warning) 你的安全账户里有钱 (9,
        // vetoed: 你的). Three framed sentences, one narrating: a report, so the vetoed 9 characters
        // are weighed against all 16 framed ones (not the 6 narrated) and the whole text is framed.
        let (v, _) = try verdict("受害人报警。谨防诈骗。谨防诈骗。你的安全账户里有钱")
        #expect(v.frames.contains { $0.start == 0 && $0.end == 25 && $0.kind == .report })
        #expect(!v.hits.contains { $0.rule == "p.account" })
        #expect(v.score == -4)
        #expect(v.level == .none)
    }

    @Test func aScamThatImitatesAReportStillScores() throws {
        // The same three framed sentences (16 characters) before a longer appeal in the text's own
        // voice (你的安全账户已开通，你的钱请马上转入你的安全账户: 26 characters, vetoed): the vetoes
        // outweigh the frames, so only the framed sentences are framed and 安全账户 counts (+6);
        // the appeal blinds 谨防 (−4) in the warning frames.
        let (v, _) = try verdict("受害人报警。谨防诈骗。谨防诈骗。你的安全账户已开通，你的钱请马上转入你的安全账户")
        #expect(!v.frames.contains { $0.start == 0 && $0.kind == .report && $0.end > 6 })
        #expect(v.score == 6)
        #expect(v.level == .medium)
    }

    @Test func aWarningLowersAVerdictOnlyWithoutAnAppeal() throws {
        // The disclaimer attack: 谨防 (−4) appended to an appeal (安全账户, money_request) does not
        // lower it; the same warning alone still scores −4.
        let (scam, _) = try verdict("请马上转到安全账户。谨防诈骗")
        #expect(scam.score == 6)
        #expect(scam.level == .medium)
        #expect(!scam.hits.contains { $0.rule == "n.warn" })
        let (warning, _) = try verdict("谨防诈骗")
        #expect(warning.score == -4)
    }

    @Test func aTextThatNeverSpeaksToItsReaderNeedsHalfTheShare() throws {
        // f.report says `whole 50`. 受害人报警。 is 6 of 18 characters (33%): a text with no
        // sentence in its own voice needs half the share (25%), so it is framed whole and 安全账户
        // is not read; the same case followed by 你的… (vetoed) needs the whole share and scores.
        let story = "受害人报警。后来他把钱转到安全账户了"
        let (v, _) = try verdict(story)
        #expect(v.frames.contains { $0.kind == .report && $0.start == 0 && $0.end == story.unicodeScalars.count })
        #expect(v.score == 0)
        let (appeal, _) = try verdict("受害人报警。你的钱要转到安全账户了")
        #expect(!appeal.frames.contains { $0.start == 0 && $0.end > 6 })
        #expect(appeal.score == 6)
    }

    @Test func aNegativeRuleInWarningReadsWarningsDespiteAnAppeal() throws {
        // n.stop says `in warning`: it still reads 谨防 after the appeal (−3, so 6 − 3 = 3: low),
        // where n.warn does not; alone, both read it (−4 − 3). `decide` agrees with the verdict.
        let rules = try compiledRuleSet(frameRules + "\nrule n.stop { title \"劝阻\" score -3 in warning match \"谨防\" }\n")
        let scanner = try Screener(rules: rules)
        let scam = scanner.screen(Record(id: "x", text: "请马上转到安全账户。谨防诈骗"))
        #expect(scam.hits.map(\.rule) == ["p.account", "n.stop"])
        #expect(scam.score == 3)
        #expect(scam.level == .low)
        let warning = scanner.screen(Record(id: "x", text: "谨防诈骗"))
        #expect(warning.score == -7)
        for text in ["请马上转到安全账户。谨防诈骗", "谨防诈骗"] {
            #expect(scanner.decide(scanner.prepare(Record(id: "x", text: text))).level == scanner.screen(Record(id: "x", text: text)).level)
        }
    }

    @Test func decideAgreesWithTheVerdict() throws {
        let rules = try compiledRuleSet(frameRules)
        let scanner = try Screener(rules: rules)
        for text in ["受害人被要求转到安全账户。后来他报警了", "请马上转到安全账户。谨防诈骗", "受害人王某报警。安全账户",
                     "我是民警，你的钱要转到安全账户", "民警说骗子发来了通缉令", "谨防诈骗"] {
            let p = scanner.prepare(Record(id: "x", text: text))
            #expect(scanner.decide(p).level == scanner.screen(Record(id: "x", text: text)).level, "\(text)")
        }
    }

    @Test func framesAreWrittenInTheVerdictJSON() throws {
        let (v, rules) = try verdict("受害人被要求转到安全账户。后来他报警了")
        let printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        let line = printer.json(v, record: Record(id: "x", text: "受害人被要求转到安全账户。后来他报警了"))
        #expect(line.contains(#""frames":[{"kind":"report","frame":"f.report","start":0,"end":13},{"kind":"report","frame":"f.report","start":0,"end":19}]"#))
        // A record without frames has no `frames` key at all.
        let (plain, _) = try verdict("你好")
        #expect(!printer.json(plain, record: Record(id: "y", text: "你好")).contains("frames"))
    }

    @Test func explainListsTheFramesWithTheirText() throws {
        let (v, rules) = try verdict("受害人被要求转到安全账户。后来他报警了")
        let text = Explanation.render(v, record: Record(id: "x", text: "受害人被要求转到安全账户。后来他报警了"), rules: rules, colour: false)
        #expect(text.contains("frames (not read as the scam speaking to its target):\n  report   f.report  0–13  「受害人被要求转到安全账户。」\n"))
    }

    @Test func framesParseFormatAndRunTheirExamples() throws {
        let rules = try compiledRuleSet(frameRules)
        #expect(rules.rules.filter(\.isFrame).map(\.id) == ["f.report", "f.warning"])
        let report = ExampleRunner.run(rules, screener: try Screener(rules: rules))
        #expect(report.failures.map(\.rule) == [])
        #expect(report.passed == 4)
        let (formatted, diagnostics, _) = RuleFormatter.format(path: "f.fz", text: frameRules)
        #expect(diagnostics.isEmpty)
        let text = try #require(formatted)
        #expect(text.contains("frame f.report {\n  title    \"叙述\"\n  kind     report\n  whole    50\n"))
        #expect(text.contains("  unless   addresses_reader\n"))
        #expect(text.contains("  in       report\n"))
        // Formatting is idempotent and the formatted rules compile to the same frames.
        #expect(RuleFormatter.format(path: "f.fz", text: text).0 == text)
        #expect(try compiledRuleSet(text).rules.filter(\.isFrame).map(\.whole) == [50, nil])
    }

    @Test func aFrameNeedsAKind() {
        let r = compileRules("frame f {\n  title \"x\"\n  match \"受害人\"\n  hit \"受害人\"\n  miss \"你\"\n}\n")
        #expect(r.diagnostics.map(\.id.rawValue) == ["missing-field"])
        let s = compileRules("frame f {\n  title \"x\"\n  kind report\n  score 3\n  match \"受害人\"\n  hit \"受害人\"\n  miss \"你\"\n}\n")
        #expect(s.diagnostics.map(\.id.rawValue) == ["unknown-field"])
    }
}

// The disclaimer attack on the bundled rules: every corpus scam message at high, with a warning
// appended, is still at medium or above — the warning is a frame, the scam's appeal is not.
@Test func aDisclaimerAppendedToABundledScamDoesNotHideIt() throws {
    let rules = try loadBundledRuleSet()
    let scanner = try Fanzha.Screener(rules: rules)
    let labelled = try loadCorpusRecords().filter { !$0.isCall && $0.label != "benign" }
    let scams = labelled.filter { scanner.screen($0).level == .high }
    #expect(scams.count > 50)
    let disclaimers = ["温馨提示：请勿泄露验证码，谨防诈骗。", "警方提醒：凡是陌生人要求转账的都是诈骗，切勿轻信。", "【反诈提醒】请认准官方渠道，谨防上当受骗。"]
    var kept = 0, tried = 0
    var dropped: [String] = []
    for r in scams {
        for d in disclaimers {
            tried += 1
            let v = scanner.screen(Record(id: r.id, text: r.turns[0].text + d))
            if v.level >= .medium { kept += 1 } else { dropped.append("\(r.id) + \(d.prefix(6)): \(v.score)") }
        }
    }
    // Issue 18: at least 95% of (scam, disclaimer) pairs stay at medium or above.
    #expect(Double(kept) >= 0.95 * Double(tried), "\(kept)/\(tried); dropped: \(dropped.prefix(10))")
}

// The project's own reports and warned scams (corpus/reports.jsonl, corpus/warned_scams.jsonl):
// every scam that carries a warning-like phrase is at medium or above, and none of the benign
// reports, PSAs and lecture texts reaches medium (issue 17).
@Test func warnedScamsAreCaughtAndNoReportIs() throws {
    let rules = try loadBundledRuleSet()
    let scanner = try Fanzha.Screener(rules: rules)
    func records(_ name: String) throws -> [Record] {
        let path = PackageFiles.corpus(name)
        let (r, errors) = RecordSource(bytes: try #require(FileManager.default.contents(atPath: path)), name: path, format: .jsonl,
                                       options: ReaderOptions()).readAll()
        #expect(errors.isEmpty, "\(errors)")
        return r
    }
    let scams = try records("warned_scams.jsonl")
    #expect(scams.count >= 25)
    let missed = scams.filter { scanner.screen($0).level < .medium }.map(\.id)
    #expect(missed.isEmpty, "warned scams below medium: \(missed)")
    let reports = try records("reports.jsonl")
    #expect(reports.count >= 45 && reports.allSatisfy { $0.label == "benign" })
    let flagged = reports.filter { scanner.screen($0).level >= .medium }.map(\.id)
    #expect(flagged.isEmpty, "reports at medium: \(flagged)")
}
