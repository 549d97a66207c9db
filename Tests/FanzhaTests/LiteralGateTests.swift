import Foundation
import Testing
@testable import Fanzha
import FanzhaPCRE
import FanzhaText

// The literal gate (Engine/LiteralGate.swift): a regex is not run on a turn without the
// characters every match needs. It may let a regex run needlessly, never stop one that matches.

private func admits(_ gate: Screener.LiteralGate, _ text: String) -> Bool {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer { buf in
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ScalarBits.words) { bits in
            ScalarBits.fill(bits.baseAddress!, from: buf)
            return gate.admits(buf, scalars: bits.baseAddress!)
        }
    }
}

@Suite struct LiteralGateTests {
    @Test func singleCharactersAreRequiredToo() throws {
        let gate = try #require(Screener.LiteralGate(source: "[王李]某{1,2}(?:在|到)", extended: false))
        #expect(admits(gate, "后来王某到了银行"))
        #expect(admits(gate, "某在李"))   // the literals alone, out of order: a gate is a necessary condition only
        #expect(!admits(gate, "某在"), "no 王 or 李")
        #expect(!admits(gate, "王某说"), "no 在 or 到")
        #expect(!admits(gate, "您好，这里是客服中心"))
        #expect(!admits(gate, ""))
        // A literal of several characters, digits, and one split across the text.
        let words = try #require(Screener.LiteralGate(source: "(女士|先生|110)(说|称)", extended: false))
        #expect(admits(words, "王女士称"))
        #expect(admits(words, "拨打110后他说"))
        #expect(!admits(words, "女和士说"))
        #expect(!admits(words, "11 0说"))
    }

    @Test func noGateWhenTheLiteralsSayNothing() {
        #expect(Screener.LiteralGate(source: "\\d{11}", extended: false) == nil)
        #expect(Screener.LiteralGate(source: "某|[0-9]+", extended: false) == nil, "one branch needs nothing")
        // Letters are caseless in the regex (k also matches the Kelvin sign): never required.
        #expect(Screener.LiteralGate(source: "app", extended: false) == nil)
        #expect(Screener.LiteralGate(source: "app下载", extended: false) == nil, "one run, letters in it")
        #expect(Screener.LiteralGate(source: "app(下载)", extended: false) != nil)
    }

    @Test func punctuationAndShortClassesAreRequired() throws {
        let quoted = try #require(Screener.LiteralGate(source: "(说|称)[:：]\\s*[\"“「]", extended: false))
        #expect(admits(quoted, "他说：“明天来”"))
        #expect(admits(quoted, "称:\"好\""))
        #expect(!admits(quoted, "他说明天来"), "no colon")
        #expect(!admits(quoted, "他说：明天来"), "no quotation mark")
        let kin = try #require(Screener.LiteralGate(source: "表[哥姐]被骗", extended: false))
        #expect(admits(kin, "我表姐被骗了"))
        #expect(!admits(kin, "我表妹被骗了"))
        // A class with a letter, a range, a negation or an escape, a long class, or one that
        // may be absent: nothing required of it.
        for source in ["说[a：]", "说[0-9]", "说[^：]", "说[\\s：]", "说[：]?", "说[一二三四五六七八九]"] {
            let gate = try #require(Screener.LiteralGate(source: source, extended: false))
            #expect(admits(gate, "说"), "/\(source)/ needs only 说")
        }
        #expect(Screener.LiteralGate(source: "(?:a|[:：])", extended: false) == nil)
    }

    @Test func aRegexWithWordsIsGatedOnlyForWhatItsWordsDoNotSay() throws {
        let gate = try #require(Screener.LiteralGate(source: "(刷单|返利)(类|型)", extended: false, beyondWords: true))
        #expect(admits(gate, "刷单类诈骗"))
        #expect(!admits(gate, "刷单返利"))
        #expect(Screener.LiteralGate(source: "(刷单|返利)[^。]{0,8}诈骗", extended: false, beyondWords: true) == nil)
        #expect(Screener.LiteralGate(source: "(刷单|返利)[^。]{0,8}诈骗", extended: false) != nil)
    }

    /// An escaped mark is the mark itself (`\.` in a domain); an escaped digit or letter (a
    /// back-reference, a class) requires nothing.
    @Test func escapedMarksAreRequired() throws {
        let domain = try #require(Screener.LiteralGate(source: "[a-z0-9-]{1,40}\\.(?:top|cc)(?![a-z])", extended: false))
        #expect(admits(domain, "请至 jf-dh.top 兑换"))
        #expect(!admits(domain, "请至 jf-dh点top 兑换"), "no full stop")
        #expect(Screener.LiteralGate(source: "(a)\\1", extended: false) == nil)
        #expect(Screener.LiteralGate(source: "\\d\\w", extended: false) == nil)
    }

    /// An `any` within an `any` is one list, without the literals that hold another of it
    /// (named_third_person: 一男子 beside 男子), so that it is tested as masked words of the bitmap.
    @Test func nestedAlternativesAreOneList() throws {
        // A class of more than 8 surnames requires nothing, so its branch is its titles alone.
        let source = "(?:[王李张刘陈杨黄赵吴](?:女士|先生)|一男子|男子|老人)(?:的|在)"
        let layout = try #require(Screener.LiteralGate.layout(source: source, extended: false))
        let (kinds, byteStart) = (layout.tables[0], layout.tables[4])
        let literals = (0..<(byteStart.count - 1)).map { String(decoding: layout.bytes[Int(byteStart[$0])..<Int(byteStart[$0 + 1])], as: UTF8.self) }
        #expect(Set(literals) == ["女士", "先生", "男子", "老人", "的", "在"] && literals.count == 6)
        #expect(kinds.filter { $0 == 1 }.count == 1 && kinds.filter { $0 == 2 }.count == 2, "all(any(4 titles), any(的, 在)): \(kinds)")
        let gate = Screener.LiteralGate(layout)
        for (text, admitted) in [("王女士在家", true), ("一男子的", true), ("老人在", true), ("一男在", false), ("男子说", false), ("女士", false)] {
            #expect(admits(gate, text) == admitted, "\(text)")
        }
    }

    /// A gate asks an `all`'s parts' bitmap tests before their bytes, and an `any`'s literals
    /// before its nested parts: the outcome is still its tree's, read plainly (each literal's bytes
    /// looked for in the text), on texts made of some of its literals and near misses.
    @Test func aGateHoldsExactlyWhenItsTreeDoes() throws {
        // Each regex with its literals and near misses (士 without 女, 告诉 without 她).
        let cases: [(source: String, pieces: [String])] = [
            ("我(?:的)?[儿女孩][^。]{0,13}被[^。]{0,8}骗(?:了|走|去)", ["我", "女", "孩", "被", "骗", "了", "走", "说"]),
            ("(?:[王李](?:女士|先生)|男子|老人)(?:的|在|称)", ["王", "女士", "先生", "男子", "老人", "在", "的", "士", "男"]),
            ("(说|称|告诉(?:她|他))[:：]\\s*[\"“]", ["说", "称", "：", ":", "“", "\"", "告诉她", "告诉", "他"]),
            ("(?:先(?:给你|让你)|再(?:让你|要你))骗", ["先给你", "先让", "再要你", "让你", "骗", "再"]),
            // A long `any` of literals, looked for by their first scalars' bitmap words.
            ("[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑]某(?:在|到)", ["王", "李", "周", "郑", "林", "某", "在", "到", "说", "黄某"]),
        ]
        for (source, pieces) in cases {
            let layout = try #require(Screener.LiteralGate.layout(source: source, extended: false))
            let gate = Screener.LiteralGate(layout)
            let (kind, first, count, kids, byteStart) = (layout.tables[0], layout.tables[1], layout.tables[2], layout.tables[3], layout.tables[4])
            func holds(_ i: Int, _ text: [UInt8]) -> Bool {
                let f = Int(first[i]), parts = (f..<(f + Int(count[i]))).map { Int(kids[$0]) }
                switch kind[i] {
                case 0:
                    let literal = Array(layout.bytes[Int(byteStart[f])..<Int(byteStart[f + 1])])
                    return text.count >= literal.count && (0...(text.count - literal.count)).contains { Array(text[$0..<($0 + literal.count)]) == literal }
                case 1: return parts.allSatisfy { holds($0, text) }
                default: return parts.contains { holds($0, text) }
                }
            }
            var random = SplitMix64(seed: 20261207)
            var admitted = 0, refused = 0
            for _ in 0..<3_000 {
                let text = (0..<Int(random.next() % 7)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined(separator: "，")
                let expected = holds(0, Array(text.utf8))
                #expect(admits(gate, text) == expected, "/\(source)/ on \(text)")
                if expected { admitted += 1 } else { refused += 1 }
            }
            #expect(admitted > 20 && refused > 20, "/\(source)/: \(admitted) admitted, \(refused) refused")
        }
    }

    /// Randomised: whatever a regex is, every text it matches passes its gate.
    @Test func aGateAdmitsEveryTextItsRegexMatches() throws {
        var random = RandomRegexes(seed: 20261205, chars: ["某", "王", "说", "称", "安", "全", "k", "K", "\u{212A}", "1", "：", ":", "“", " ", "é"],
                                   items: [".", "[王李]", "\\d", "[^某]", "\\x{67d0}", "[:：]", "[“k]", "[：-；]", "\\:"],
                                   groups: ["(", "(", "(?:", "(?<!", "(?="],
                                   quantifiers: ["", "", "", "?", "*", "+", "{0,2}", "{1,2}", "{2}", "+?", "{0}"])
        let scratch = MatchScratch()
        var checked = 0, rejected = 0
        for _ in 0..<20_000 {
            let source = random.regex()
            guard let pattern = try? Pattern(source, options: [.caseless]),
                  let gate = Screener.LiteralGate(source: source, extended: false) else { continue }
            for _ in 0..<40 {
                let text = random.text(maxLength: 8)
                let matched = Array(text.utf8).withUnsafeBufferPointer { (try? pattern.firstMatch(in: $0, using: scratch)) ?? nil } != nil
                if matched {
                    checked += 1
                    #expect(admits(gate, text), "/\(source)/ matches \(text) but its gate refused it")
                } else if !admits(gate, text) {
                    rejected += 1
                }
            }
        }
        #expect(checked > 2000, "regexes with a gate matched \(checked) texts")
        #expect(rejected > 2000, "the gate turned away \(rejected) texts")
    }

    /// With the bundled rules: the gate never refuses a corpus turn its regex matches, and
    /// spares PCRE2 most of the turns of the regexes it applies to.
    @Test func bundledRegexGatesAdmitEveryCorpusTurnTheyMatch() throws {
        let screener = try Screener(rules: loadBundledRuleSet(), usePrefilter: true)
        let normaliser = try Normaliser()
        let texts = try loadCorpusRecords().flatMap { $0.turns.map { normaliser.normalise($0.text) } }
        let scratch = MatchScratch()
        var gated = 0, checked = 0, spared = 0
        for a in screener.rules.atoms.indices where screener.rules.atoms[a].kind == .regex {
            guard let gate = screener.makeLiteralGate(ofAtom: a) else { continue }
            gated += 1
            for text in texts {
                let matched = try text.bytes.withUnsafeBufferPointer { buf in
                    try screener.rules.atoms[a].patterns.contains { (try? $0.firstMatch(in: buf, using: scratch)) != nil }
                }
                let admitted = text.bytes.withUnsafeBufferPointer { buf in
                    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ScalarBits.words) { bits in
                        ScalarBits.fill(bits.baseAddress!, from: buf)
                        return gate.admits(buf, scalars: bits.baseAddress!)
                    }
                }
                if matched { checked += 1; #expect(admitted, "\(screener.rules.atoms[a].display) matches a turn its gate refused") }
                if !admitted { spared += 1 }
            }
        }
        #expect(gated >= 3, "bundled regexes with a gate: \(gated)")
        #expect(checked > 0 && spared > texts.count, "matched \(checked), spared \(spared) of \(gated) × \(texts.count)")
    }

    /// A gate's pretest (a bitmap word, and an `any`'s bits in one or two: `gateTurnsAway`) turns
    /// away only texts the gate refuses, and some: with the bundled rules, on every corpus turn.
    @Test func aGatesPretestTurnsAwayOnlyWhatItRefuses() throws {
        let screener = try Screener(rules: loadBundledRuleSet(), usePrefilter: true)
        let normaliser = try Normaliser()
        let texts = try loadCorpusRecords().flatMap { $0.turns.map { normaliser.normalise($0.text) } }
        var pretested = 0, anyPretested = 0, turnedAway = 0
        for a in screener.rules.atoms.indices where screener.rules.atoms[a].kind == .regex {
            guard let gate = screener.makeLiteralGate(ofAtom: a) else { continue }
            if gate.pretest.mask != 0 { pretested += 1 }
            if gate.pretest.anyMasks.0 != 0 { anyPretested += 1 }
            for text in texts {
                text.bytes.withUnsafeBufferPointer { buf in
                    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ScalarBits.words) { bits in
                        ScalarBits.fill(bits.baseAddress!, from: buf)
                        guard !gate.pretest.passes(UnsafePointer(bits.baseAddress!)) else { return }
                        turnedAway += 1
                        #expect(!gate.admits(buf, scalars: bits.baseAddress!), "\(screener.rules.atoms[a].display): its pretest turned away a turn its gate admits")
                    }
                }
            }
        }
        #expect(pretested >= 3 && anyPretested >= 3 && turnedAway > texts.count,
                "gates with a pretest: \(pretested), of an any: \(anyPretested), turns turned away: \(turnedAway)")
    }

    /// A worker's gate is held by its screener (unmanaged: retained once when made), checked in
    /// place as the gate itself checks, and released when the screener goes.
    @Test func screenerHoldsItsGatesUntilItGoes() throws {
        let rules = try loadBundledRuleSet()
        var screener: Screener? = try Screener(rules: rules, usePrefilter: true)
        // A regex without words: its gate is made on first use.
        let a = try #require(rules.atoms.indices.first { a in
            screener!.matcher.programPointer.pointee.atomClauseCount[a] == 0 && screener!.makeLiteralGate(ofAtom: a) != nil
        })
        weak var held: Screener.LiteralGate?
        do {
            #expect(!screener!.atomMatchers[a].hasGate)
            let gate = try #require(screener!.literalGate(ofAtom: a))
            held = gate
            #expect(screener!.atomMatchers[a].hasGate)
            #expect(screener!.literalGate(ofAtom: a) === gate)
            #expect(screener!.atomMatchers[a].pretest == gate.pretest, "the screener reads the gate's pretest without the gate")
            let normaliser = try Normaliser()
            for record in try loadCorpusRecords().prefix(200) {
                let text = normaliser.normalise(record.turns[0].text)
                text.bytes.withUnsafeBufferPointer { buf in
                    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ScalarBits.words) { bits in
                        ScalarBits.fill(bits.baseAddress!, from: buf)
                        #expect(screener!.atomMatchers[a].gateAdmits(buf, scalars: bits.baseAddress!) == gate.admits(buf, scalars: bits.baseAddress!))
                    }
                }
            }
        }
        #expect(held != nil, "the screener keeps its gate")
        screener = nil
        #expect(held == nil, "the gate goes with its screener")
    }
}
