import Testing
@testable import Fanzha
import FanzhaPCRE
import FanzhaText

// The engine's regexes are compiled for valid UTF-8 subjects (`Pattern`'s `validSubjects`: no
// MATCH_INVALID_UTF). On valid text they must find exactly what a pattern compiled with it finds.

@Suite struct ValidSubjectPatternTests {
    @Test func randomRegexesFindTheSameMatchesEitherWay() throws {
        var random = RandomRegexes(seed: 20261206, chars: ["某", "王", "说", "安", "全", "k", "K", "\u{212A}", "1", "：", " ", "é", "\n", "😀"],
                                   items: [".", "[王李]", "\\d", "[^某]", "\\x{67d0}", "^", "$", "\\b", "\\s", "\\w", "\\p{Han}", "\\X"],
                                   groups: ["(", "(?:", "(?<!", "(?>", "(?="],
                                   quantifiers: ["", "", "", "?", "*", "+", "{0,2}", "{1,2}", "+?", "{1,3}"])
        let scratch = MatchScratch()
        var compared = 0, matched = 0
        for _ in 0..<3_000 {
            let source = random.regex()
            let options: Pattern.Options = random.next() % 4 == 0 ? [.caseless, .multiline, .dotAll] : [.caseless]
            guard let checked = try? Pattern(source, options: options),
                  let valid = try? Pattern(source, options: options, validSubjects: true) else { continue }
            #expect(valid.isJIT == checked.isJIT)
            for _ in 0..<20 {
                let text = random.text(maxLength: 16)
                let expected = try checked.matches(in: text, using: scratch)
                #expect(try valid.matches(in: text, using: scratch) == expected, "/\(source)/ on \(text.debugDescription)")
                compared += 1
                if !expected.isEmpty { matched += 1 }
            }
        }
        #expect(compared > 5_000 && matched > 2_000, "\(compared) texts, \(matched) matched")
    }

    @Test func bundledRegexesFindTheSameMatchesOnTheCorpus() throws {
        let rules = try loadBundledRuleSet()
        let normaliser = try Normaliser()
        let texts = try loadCorpusRecords().flatMap { $0.turns.map { normaliser.normalise($0.text) } }
        let scratch = MatchScratch()
        var matched = 0
        for atom in rules.atoms where atom.kind == .regex {
            for valid in try atom.patterns {
                let checked = try Pattern(valid.source, options: valid.options)
                for text in texts {
                    let expected = try checked.matches(inBytes: text.bytes, using: scratch)
                    #expect(try valid.matches(inBytes: text.bytes, using: scratch) == expected, "\(atom.display)")
                    if !expected.isEmpty { matched += 1 }
                }
            }
        }
        #expect(matched > 100)
    }
}
