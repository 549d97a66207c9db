import Foundation
import Testing
@testable import Fanzha
import FanzhaPCRE
import FanzhaText

// Start anchors (Engine/StartAnchors.swift): a regex whose matches hold a literal near their
// start is tried only at the starts its literals' occurrences give. The matches must be exactly
// those of the unanchored search.

private func anchoredMatches(_ search: Screener.AnchoredSearch, _ bytes: [UInt8], _ scratch: MatchScratch) -> [Range<Int>] {
    bytes.withUnsafeBufferPointer { buf in
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ScalarBits.words) { bits in
            ScalarBits.fill(bits.baseAddress!, from: buf)
            return search.matches(in: buf, scalars: bits.baseAddress!, scratch: scratch)?.ranges ?? []
        }
    }
}

private func plainMatches(_ pattern: Pattern, _ text: String, _ scratch: MatchScratch) -> [Range<Int>] {
    // As `Screener.matches` keeps them: the non-empty ones.
    ((try? pattern.matches(in: text, using: scratch)) ?? []).filter { !$0.isEmpty }
}

@Suite struct StartAnchorsTests {
    @Test func literalsNearTheStartAreFound() throws {
        let surname = try #require(StartAnchors.of("(?:[王李](?:女士|某)|一男子)(?:在|到)", extended: false))
        #expect(surname.entries == [.init(literal: "女士", lo: 1, hi: 1), .init(literal: "某", lo: 1, hi: 1),
                                    .init(literal: "一男子", lo: 0, hi: 0)])
        // A lookbehind consumes nothing; a lookahead after the literal changes nothing.
        let mou = try #require(StartAnchors.of("(?<![在于某])(?!某)[\\x{4e00}-\\x{9fff}]某{1,2}(?![\\x{4e00}-\\x{9fff}]{0,2}银行)", extended: false))
        #expect(mou.entries == [.init(literal: "某", lo: 1, hi: 1)])
        // The distance may vary within a bound; of several places, the one with fewest starts to try.
        let spread = try #require(StartAnchors.of("\\d{1,3}岁的?(?:男子|女子)", extended: false))
        #expect(spread.entries == [.init(literal: "男子", lo: 2, hi: 5), .init(literal: "女子", lo: 2, hi: 5)])
        #expect(StartAnchors.of("\\d{1,3}岁", extended: false)?.entries == [.init(literal: "岁", lo: 1, hi: 3)])
        #expect(StartAnchors.of("市民(?:在|到)", extended: false)?.entries == [.init(literal: "市民", lo: 0, hi: 0)])
        // What PCRE2 ignores (an empty quote, a comment) does not split a literal; a quoted class
        // is one character.
        #expect(StartAnchors.of("王\\Q\\E(?#注)某", extended: false)?.entries == [.init(literal: "王某", lo: 0, hi: 0)])
        #expect(StartAnchors.of("[\\Q]\\E]某", extended: false)?.entries == [.init(literal: "某", lo: 1, hi: 1)])
    }

    @Test func noAnchorsWhereSomeMatchNeedsNone() {
        #expect(StartAnchors.of("\\d{11}", extended: false) == nil)
        #expect(StartAnchors.of("某|[0-9]+", extended: false) == nil, "one branch holds no literal")
        #expect(StartAnchors.of(".*某", extended: false) == nil, "the literal may be anywhere")
        #expect(StartAnchors.of("某?在", extended: false)?.entries == [.init(literal: "在", lo: 0, hi: 1)])
        #expect(StartAnchors.of("(?=某)", extended: false) == nil, "a lookahead's literal is not in the match")
        // Widths this reading does not follow: a line break of two characters, a back reference,
        // \K moving the start, recursion, a brace that is not a count.
        for source in ["\\R某", "(王)\\1某", "王\\K某", "(?R)某", "王{,2}某"] {
            #expect(StartAnchors.of(source, extended: false) == nil, "\(source)")
        }
        // Letters are caseless (k matches the Kelvin sign): never an anchor, but one character wide.
        #expect(StartAnchors.of("app", extended: false) == nil)
        #expect(StartAnchors.of("app下载", extended: false)?.entries == [.init(literal: "下载", lo: 3, hi: 3)])
        #expect(StartAnchors.of("(?x) 王 \\s 某 ", extended: false)?.entries == [.init(literal: "王", lo: 0, hi: 0)])
    }

    /// Randomised: whatever a regex is, the anchored search finds exactly the unanchored matches.
    @Test func anchoredSearchFindsExactlyTheUnanchoredMatches() throws {
        var random = RandomRegexes(seed: 20261205, chars: ["某", "王", "说", "称", "安", "全", "k", "K", "\u{212A}", "1", "：", " ", "é", "\n"],
                                   items: [".", "[王李]", "\\d", "[^某]", "\\x{67d0}", "^", "$", "\\b", "\\s", "\\Q\\E", "[\\Q]\\E]"],
                                   groups: ["(", "(", "(?:", "(?<!", "(?>", "(?="],
                                   quantifiers: ["", "", "", "?", "*", "+", "{0,2}", "{1,2}", "{2}", "+?", "{0}", "{1,3}"])
        let scratch = MatchScratch()
        var searches = 0, matched = 0
        for _ in 0..<20_000 {
            let source = random.regex()
            let options: Pattern.Options = random.next() % 4 == 0 ? [.caseless, .multiline] : [.caseless]
            guard let pattern = try? Pattern(source, options: options),
                  let anchors = Screener.AnchoredSearch.anchors(source: source, options: options) else { continue }
            let search = Screener.AnchoredSearch(source: source, options: options, anchors: anchors, storedTwin: nil)
            searches += 1
            for _ in 0..<30 {
                let text = random.text(maxLength: 12)
                let expected = plainMatches(pattern, text, scratch)
                if !expected.isEmpty { matched += 1 }
                #expect(anchoredMatches(search, Array(text.utf8), scratch) == expected, "/\(source)/ on \(text.debugDescription)")
            }
        }
        #expect(searches > 400, "regexes with anchors: \(searches)")
        #expect(matched > 2000, "texts matched: \(matched)")
    }

    /// With the bundled rules: every regex with anchors finds exactly its matches on every corpus
    /// turn, and the frames' two regexes that need no word are among them.
    @Test func bundledAnchoredRegexesFindTheirMatchesOnTheCorpus() throws {
        let screener = try Screener(rules: loadBundledRuleSet(), usePrefilter: true)
        let normaliser = try Normaliser()
        let texts = try loadCorpusRecords().flatMap { $0.turns.map { normaliser.normalise($0.text) } }
        let scratch = MatchScratch()
        var anchored: [String] = [], matched = 0
        for a in screener.rules.atoms.indices where screener.rules.atoms[a].kind == .regex {
            guard let search = screener.anchoredSearch(ofAtom: a)?.takeUnretainedValue() else { continue }
            let patterns = try screener.rules.atoms[a].patterns
            anchored.append(screener.rules.atoms[a].display)
            for text in texts {
                let expected = Screener.matches(patterns, in: text, scratch: scratch).ranges
                if !expected.isEmpty { matched += 1 }
                let found = anchoredMatches(search, text.bytes, scratch)
                #expect(found == expected, "\(screener.rules.atoms[a].display)")
            }
        }
        #expect(anchored.contains { $0.hasPrefix("/(?:[王李张") }, "named_third_person's first regex")
        #expect(anchored.contains { $0.contains("]某{1,2}") }, "report.case's 某 regex")
        #expect(matched > 100, "corpus turns matched: \(matched)")
    }
}
