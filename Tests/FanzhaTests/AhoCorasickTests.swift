import Testing
@testable import Fanzha

// The literal prefilter's automaton, checked against the naive search on random inputs.

/// (word id, start, end) triples, comparable.
private struct Hit: Hashable, Comparable, CustomStringConvertible {
    let word: Int, start: Int, end: Int
    static func < (a: Hit, b: Hit) -> Bool { (a.end, a.start, a.word) < (b.end, b.start, b.word) }
    var description: String { "\(word)@\(start)..<\(end)" }
}

private func automatonHits(_ ac: AhoCorasick, _ text: [UInt8]) -> [Hit] {
    var out: [Hit] = []
    text.withUnsafeBufferPointer { buf in ac.forEachMatch(in: buf) { out.append(Hit(word: $0, start: $1, end: $2)) } }
    return out
}

private func naiveHits(_ words: [[UInt8]], _ text: [UInt8]) -> [Hit] {
    AhoCorasick.naiveMatches(words: words, in: text).map { Hit(word: $0.0, start: $0.1, end: $0.2) }
}

/// Compares the automaton with the naive search over bytes: same occurrences (as a multiset),
/// reported in order of end position, each one really the word at that place.
private func check(_ strings: [String], _ text: [UInt8], _ note: @autoclosure () -> String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let ac = AhoCorasick(words: strings)
    let words = strings.map { Array($0.utf8) }
    let got = automatonHits(ac, text)
    let want = naiveHits(words, text)
    #expect(got.sorted() == want.sorted(), "\(note())", sourceLocation: sourceLocation)
    #expect(zip(got, got.dropFirst()).allSatisfy { $0.end <= $1.end }, "not in order of end: \(note())", sourceLocation: sourceLocation)
    for h in got {
        #expect(text[h.start..<h.end].elementsEqual(words[h.word]), "\(h) is not word \(h.word): \(note())", sourceLocation: sourceLocation)
    }
}

private func describe(_ words: [String], _ text: [UInt8]) -> String {
    "words \(words) text \(String(decoding: text, as: UTF8.self))"
}

@Suite struct AhoCorasickTests {
    @Test func knownExampleWithOverlapsPrefixesAndSuffixes() throws {
        let words = ["he", "she", "his", "hers", "安全", "安全账户", "账户", "全账"]
        let ac = AhoCorasick(words: words)
        let text = Array("ushers把钱转入安全账户".utf8)
        let got = automatonHits(ac, text)
        // "she" and "he" end together; "hers" after; the Chinese words overlap each other.
        let strings = got.map { String(decoding: text[$0.start..<$0.end], as: UTF8.self) }
        #expect(Set(strings) == ["she", "he", "hers", "安全", "全账", "安全账户", "账户"])
        #expect(got.count == 7)
        #expect(got.sorted() == naiveHits(words.map { Array($0.utf8) }, text).sorted())
        let safe = try #require(got.first { $0.word == 5 })
        #expect(safe.start == 18 && safe.end == 30)
    }

    @Test func emptyTextEmptyWordsAndNoWords() {
        check(["安全"], [], "empty text")
        check([], Array("安全账户".utf8), "no words")
        check(["", "a", ""], Array("aaa".utf8), "empty words are never reported")
        check(["", ""], [], "nothing at all")
        let ac = AhoCorasick(words: [""])
        #expect(automatonHits(ac, Array("abc".utf8)).isEmpty)
    }

    @Test func duplicateWordsAreReportedUnderEachID() {
        let words = ["账户", "安全账户", "账户"]
        let text = Array("安全账户".utf8)
        let got = automatonHits(AhoCorasick(words: words), text)
        #expect(Set(got) == [Hit(word: 0, start: 6, end: 12), Hit(word: 1, start: 0, end: 12), Hit(word: 2, start: 6, end: 12)])
        check(words, text, "duplicates")
    }

    @Test func charactersSharingLeadBytesAndOfEveryLength() {
        // 安 E5 AE 89, 宋 E5 AE 8B, 宝 E5 AE 9D differ only in their last byte; é is two bytes,
        // 😀 four; the automaton steps a character at a time and reports byte offsets.
        check(["安宋", "宋宝", "宝", "é安", "😀", "a😀b", "宝é"], Array("安宋宝安宋宝宝安é安😀a😀b宝é".utf8), "shared lead bytes")
        let got = automatonHits(AhoCorasick(words: ["😀b"]), Array("a😀b".utf8))
        #expect(got == [Hit(word: 0, start: 1, end: 6)])
    }

    /// Bytes that are not UTF-8 are read safely (every hit inside the text, on the word's bytes
    /// where the text around it is valid); they are not matched as bytes.
    @Test func invalidUTF8IsReadSafely() {
        var rng = SplitMix64(seed: 3)
        let words = ["安全", "a", "账户", "é"]
        let ac = AhoCorasick(words: words)
        for round in 0..<300 {
            var text: [UInt8] = Array("安全a".utf8)
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                text.append(Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : Array("账户é".utf8).randomElement(using: &rng)!)
            }
            let got = automatonHits(ac, text)
            #expect(got.allSatisfy { $0.start >= 0 && $0.end <= text.count && $0.start < $0.end }, "round \(round)")
            #expect(got.prefix(2) == [Hit(word: 0, start: 0, end: 6), Hit(word: 1, start: 6, end: 7)], "round \(round)")
        }
        // A sequence cut short by the end of the text.
        #expect(automatonHits(ac, Array("安全".utf8) + [0xE8, 0xB4]) == [Hit(word: 0, start: 0, end: 6)])
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomisedAgainstNaive(seed: UInt64) {
        var rng = SplitMix64(seed: seed &* 0x1234_5678_9ABC_DEF1)
        let alphabets: [[String]] = [
            ["a", "b"],
            ["a", "b", "c", "ab"],
            ["安", "全", "账", "户"],
            ["安", "宋", "宝", "a"],
            ["转账", "账户", "户", "安全", "全"],
            ["验证码", "码", "证", "告诉我", "x", "\u{1F600}"],
            ["九", "六", "幺", "零", "0", "1", "6", "9"],
        ]
        for round in 0..<150 {
            let units = alphabets[Int.random(in: 0..<alphabets.count, using: &rng)]
            func randomString(_ maxUnits: Int) -> String {
                (0..<Int.random(in: 0...maxUnits, using: &rng)).map { _ in units.randomElement(using: &rng)! }.joined()
            }
            var words: [String] = (0..<Int.random(in: 0...12, using: &rng)).map { _ in randomString(4) }
            // Make prefixes and suffixes of existing words on purpose.
            for w in words where w.count > 1 && Bool.random(using: &rng) {
                let cut = Int.random(in: 1..<w.count, using: &rng)
                words.append(Bool.random(using: &rng) ? String(w.prefix(cut)) : String(w.dropFirst(cut)))
            }
            words.shuffle(using: &rng)
            let text = round % 10 == 0 ? [] : Array(randomString(60).utf8)
            check(words, text, "seed \(seed) round \(round): " + describe(words, text))
        }
    }

    @Test(arguments: [11, 12, 13])
    func randomisedOverCharactersOfEveryLength(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // One-, two-, three- and four-byte characters, a few at a time, so that runs overlap.
        let pool: [Character] = ["a", "Z", "0", "é", "ж", "安", "宋", "宝", "账", "😀", "𠀀", "\u{7F}", "\u{80}", "\u{FFFD}"]
        for round in 0..<100 {
            let alphabet = (0..<Int.random(in: 1...4, using: &rng)).map { _ in pool.randomElement(using: &rng)! }
            let words: [String] = (0..<Int.random(in: 1...20, using: &rng)).map { _ in
                String((0..<Int.random(in: 0...5, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            }
            let text = Array(String((0..<Int.random(in: 0...120, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }).utf8)
            check(words, text, "seed \(seed) round \(round): " + describe(words, text))
        }
    }

    @Test func manyWordsAgainstLongText() {
        var rng = SplitMix64(seed: 99)
        let units = ["安", "全", "账", "户", "转", "钱"]
        let words: [String] = (0..<300).map { _ in
            (0..<Int.random(in: 1...6, using: &rng)).map { _ in units.randomElement(using: &rng)! }.joined()
        }
        let text: [UInt8] = Array((0..<3000).map { _ in units.randomElement(using: &rng)! }.joined().utf8)
        let ac = AhoCorasick(words: words)
        let got = automatonHits(ac, text)
        let want = naiveHits(words.map { Array($0.utf8) }, text)
        #expect(got.count == want.count)
        #expect(got.sorted() == want.sorted())
        // One state per distinct prefix of characters (plus the root).
        var prefixes = Set<Substring>()
        for w in words { for k in 1...w.count { prefixes.insert(w.prefix(k)) } }
        #expect(ac.stateCount == prefixes.count + 1)
    }

    /// An automaton made from another's tables, as a compiled rule cache makes it (here copied
    /// into tables of its own), holds the same tables and finds the same hits.
    @Test func anAutomatonMadeFromTablesIsTheSame() {
        var rng = SplitMix64(seed: 7)
        let units = ["安", "全", "账", "户", "a", "b"]
        let words: [String] = (0..<40).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in units.randomElement(using: &rng)! }.joined()
        }
        let built = AhoCorasick(words: words)
        let made = remade(built)
        #expect(Array(made.classBlocks.buffer) == Array(built.classBlocks.buffer) && Array(made.classes.buffer) == Array(built.classes.buffer))
        #expect(Array(made.nodes.buffer) == Array(built.nodes.buffer))
        #expect(AhoCorasick.tablesAreConsistent(classBlocks: made.classBlocks, classes: made.classes, classCount: made.classCount,
                                                nodes: made.nodes, stateCount: made.stateCount, wordCount: words.count))
        for round in 0..<50 {
            let text = Array((0..<Int.random(in: 0...40, using: &rng)).map { _ in units.randomElement(using: &rng)! }.joined().utf8)
            #expect(automatonHits(made, text) == automatonHits(built, text), "round \(round)")
            check(words, text, "round \(round)")
        }
    }

    /// An automaton of the bundled rules' size (its nodes copied into huge-page memory) finds
    /// what the naive search finds.
    @Test func aLargeAutomatonInHugePageMemory() {
        var rng = SplitMix64(seed: 21)
        let units = Array("安全账户转钱验证码公检法客服退款刷单返利投资理财贷款征信").map(String.init)
        let words: [String] = (0..<20_000).map { _ in
            (0..<Int.random(in: 2...6, using: &rng)).map { _ in units.randomElement(using: &rng)! }.joined()
        }
        let ac = AhoCorasick(words: words)
        #expect(ac.nodes.count * 4 >= AhoCorasick.hugePageCopyFrom)
        let text = Array((0..<40).map { _ in units.randomElement(using: &rng)! }.joined().utf8)
        #expect(automatonHits(ac, text).sorted() == naiveHits(words.map { Array($0.utf8) }, text).sorted())
    }

    /// The check that lets the scan walk tables read from a file without bounds checks: tables
    /// damaged one entry at a time are refused, or else still walk inside their memory and end
    /// (a damaged target may send the walk to another state, which only changes the hits).
    @Test func damagedTablesAreRefusedOrStillSafeToWalk() {
        var rng = SplitMix64(seed: 5)
        let units = ["安", "全", "账", "户", "a"]
        let words: [String] = (0..<30).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in units.randomElement(using: &rng)! }.joined()
        }
        let built = AhoCorasick(words: words)
        let nodes = Array(built.nodes.buffer), classes = Array(built.classes.buffer)
        var refused = 0, kept = 0
        for round in 0..<600 {
            var damagedNodes = nodes, damagedClasses = classes
            if round % 6 == 5 {
                let i = Int.random(in: 0..<classes.count, using: &rng)
                damagedClasses[i] = UInt16.random(in: 0...UInt16(built.classCount + 1), using: &rng)
            } else {
                let i = Int.random(in: 0..<nodes.count, using: &rng)
                damagedNodes[i] = [Int32.random(in: -3...Int32(nodes.count + 3), using: &rng), nodes[i] ^ 1, nodes[i] ^ (1 << 16), ~nodes[i], 0,
                                   -Int32(words.count + 2)].randomElement(using: &rng)!
            }
            guard damagedNodes != nodes || damagedClasses != classes else { continue }
            let consistent = AhoCorasick.tablesAreConsistent(
                classBlocks: built.classBlocks, classes: Table(damagedClasses), classCount: built.classCount, nodes: Table(damagedNodes),
                stateCount: built.stateCount, wordCount: words.count)
            guard consistent else { refused += 1; continue }
            kept += 1
            let made = AhoCorasick(classBlocks: Table(Array(built.classBlocks.buffer)), classes: Table(damagedClasses),
                                   classCount: built.classCount, nodes: Table(damagedNodes), stateCount: built.stateCount)
            let text = Array((0..<200).map { _ in units.randomElement(using: &rng)! }.joined().utf8)
            #expect(automatonHits(made, text).allSatisfy { $0.word >= 0 && $0.word < words.count }, "round \(round)")
        }
        #expect(refused > 300, "refused \(refused), kept \(kept)")
    }
}

/// `built`'s tables copied into tables of their own, as `CompiledRuleCache` would read them.
private func remade(_ built: AhoCorasick) -> AhoCorasick {
    AhoCorasick(classBlocks: Table(Array(built.classBlocks.buffer)), classes: Table(Array(built.classes.buffer)), classCount: built.classCount,
                nodes: Table(Array(built.nodes.buffer)), stateCount: built.stateCount)
}
