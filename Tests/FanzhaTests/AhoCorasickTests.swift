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

/// Compares the automaton with the naive search: same occurrences (as a multiset), reported in
/// order of end position, each one really the word at that place.
private func check(_ words: [[UInt8]], _ text: [UInt8], _ note: @autoclosure () -> String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let ac = AhoCorasick(byteWords: words)
    let got = automatonHits(ac, text)
    let want = naiveHits(words, text)
    #expect(got.sorted() == want.sorted(), "\(note())", sourceLocation: sourceLocation)
    #expect(zip(got, got.dropFirst()).allSatisfy { $0.end <= $1.end }, "not in order of end: \(note())", sourceLocation: sourceLocation)
    for h in got {
        #expect(text[h.start..<h.end].elementsEqual(words[h.word]), "\(h) is not word \(h.word): \(note())", sourceLocation: sourceLocation)
    }
}

private func describe(_ units: [String], _ words: [[UInt8]], _ text: [UInt8]) -> String {
    "words \(words.map { String(decoding: $0, as: UTF8.self) }) text \(String(decoding: text, as: UTF8.self))"
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
        check([Array("安全".utf8)], [], "empty text")
        check([], Array("安全账户".utf8), "no words")
        check([[], Array("a".utf8), []], Array("aaa".utf8), "empty words are never reported")
        check([[], []], [], "nothing at all")
        let ac = AhoCorasick(byteWords: [[]])
        #expect(automatonHits(ac, Array("abc".utf8)).isEmpty)
    }

    @Test func duplicateWordsAreReportedUnderEachID() {
        let words = ["账户", "安全账户", "账户"].map { Array($0.utf8) }
        let text = Array("安全账户".utf8)
        let got = automatonHits(AhoCorasick(byteWords: words), text)
        #expect(Set(got) == [Hit(word: 0, start: 6, end: 12), Hit(word: 1, start: 0, end: 12), Hit(word: 2, start: 6, end: 12)])
        check(words, text, "duplicates")
    }

    @Test func wordsSharingLeadBytesAcrossCharacters() {
        // 安 E5 AE 89, 宋 E5 AE 8B, 宝 E5 AE 9D: characters that differ only in the last byte,
        // and words that break in the middle of a character: the automaton works on bytes.
        let words: [[UInt8]] = [Array("安宋".utf8), Array("宋宝".utf8), [0xAE, 0x89], [0x89, 0xE5], Array("宝".utf8)]
        check(words, Array("安宋宝安宋宝宝安".utf8), "shared lead bytes")
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
            func randomString(_ maxUnits: Int) -> [UInt8] {
                let n = Int.random(in: 0...maxUnits, using: &rng)
                return (0..<n).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
            }
            var words: [[UInt8]] = (0..<Int.random(in: 0...12, using: &rng)).map { _ in randomString(4) }
            // Make prefixes and suffixes of existing words on purpose.
            for w in words where w.count > 1 && Bool.random(using: &rng) {
                let cut = Int.random(in: 1..<w.count, using: &rng)
                words.append(Bool.random(using: &rng) ? Array(w[..<cut]) : Array(w[cut...]))
            }
            words.shuffle(using: &rng)
            let text = round % 10 == 0 ? [] : randomString(60)
            check(words, text, "seed \(seed) round \(round): " + describe(units, words, text))
        }
    }

    @Test(arguments: [11, 12, 13])
    func randomisedOverRawBytes(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for round in 0..<100 {
            // A tiny byte alphabet makes long overlapping runs likely; sometimes all 256 values.
            let alphabet: [UInt8] = round % 4 == 0 ? Array(0...255) : (0..<Int.random(in: 1...3, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let words: [[UInt8]] = (0..<Int.random(in: 1...20, using: &rng)).map { _ in
                (0..<Int.random(in: 0...5, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            }
            let text: [UInt8] = (0..<Int.random(in: 0...200, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            check(words, text, "seed \(seed) round \(round) words \(words) text \(text)")
        }
    }

    @Test func manyWordsAgainstLongText() {
        var rng = SplitMix64(seed: 99)
        let units = ["安", "全", "账", "户", "转", "钱"]
        let words: [[UInt8]] = (0..<300).map { _ in
            (0..<Int.random(in: 1...6, using: &rng)).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
        }
        let text: [UInt8] = (0..<3000).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
        let ac = AhoCorasick(byteWords: words)
        let got = automatonHits(ac, text)
        let want = naiveHits(words, text)
        #expect(got.count == want.count)
        #expect(got.sorted() == want.sorted())
        // One state per distinct prefix (plus the root).
        var prefixes = Set<[UInt8]>()
        for w in words { for k in 1...w.count { prefixes.insert(Array(w[..<k])) } }
        #expect(ac.stateCount == prefixes.count + 1)
    }

    /// An automaton made from another's tables, as a compiled rule cache makes it (here copied
    /// into tables of its own), holds the same tables and finds the same hits.
    @Test func anAutomatonMadeFromTablesIsTheSame() {
        var rng = SplitMix64(seed: 7)
        let units = ["安", "全", "账", "户", "a", "b"]
        let words: [[UInt8]] = (0..<40).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
        }
        let built = AhoCorasick(byteWords: words)
        let made = AhoCorasick(byteClass: Table(Array(built.byteClass.buffer)), classCount: built.classCount,
                               nodes: Table(Array(built.nodes.buffer)), outputs: Table(Array(built.outputs.buffer)),
                               wordLength: Table(Array(built.wordLength.buffer)), stateCount: built.stateCount)
        #expect(Array(made.byteClass.buffer) == Array(built.byteClass.buffer) && Array(made.nodes.buffer) == Array(built.nodes.buffer))
        #expect(Array(made.outputs.buffer) == Array(built.outputs.buffer) && Array(made.wordLength.buffer) == Array(built.wordLength.buffer))
        #expect(AhoCorasick.tablesAreConsistent(byteClass: made.byteClass, classCount: made.classCount, nodes: made.nodes,
                                                outputs: made.outputs, wordLength: made.wordLength, stateCount: made.stateCount,
                                                wordCount: words.count))
        for round in 0..<50 {
            let text: [UInt8] = (0..<Int.random(in: 0...40, using: &rng)).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
            #expect(automatonHits(made, text) == automatonHits(built, text), "round \(round)")
            check(words, text, "round \(round)")
        }
    }

    /// The check that lets the scan walk tables read from a file without bounds checks: tables
    /// damaged one entry at a time are refused, or else still walk inside their memory and end
    /// (a damaged target may send the walk to another state, which only changes the hits).
    @Test func damagedTablesAreRefusedOrStillSafeToWalk() {
        var rng = SplitMix64(seed: 5)
        let units = ["安", "全", "账", "户", "a"]
        let words: [[UInt8]] = (0..<30).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
        }
        let built = AhoCorasick(byteWords: words)
        let nodes = Array(built.nodes.buffer), outputs = Array(built.outputs.buffer)
        var refused = 0, kept = 0
        for round in 0..<600 {
            var damagedNodes = nodes, damagedOutputs = outputs
            if round % 4 == 3 {
                let i = Int.random(in: 0..<outputs.count, using: &rng)
                damagedOutputs[i] = [Int32.random(in: -2...Int32(words.count + 2), using: &rng), damagedOutputs[i] + 1].randomElement(using: &rng)!
            } else {
                let i = Int.random(in: 0..<nodes.count, using: &rng)
                damagedNodes[i] = [Int32.random(in: -3...Int32(nodes.count + 3), using: &rng), nodes[i] ^ 1, nodes[i] ^ (1 << 16), ~nodes[i], 0]
                    .randomElement(using: &rng)!
            }
            guard damagedNodes != nodes || damagedOutputs != outputs else { continue }
            let consistent = AhoCorasick.tablesAreConsistent(
                byteClass: built.byteClass, classCount: built.classCount, nodes: Table(damagedNodes), outputs: Table(damagedOutputs),
                wordLength: built.wordLength, stateCount: built.stateCount, wordCount: words.count)
            guard consistent else { refused += 1; continue }
            kept += 1
            let made = AhoCorasick(byteClass: Table(Array(built.byteClass.buffer)), classCount: built.classCount,
                                   nodes: Table(damagedNodes), outputs: Table(damagedOutputs),
                                   wordLength: Table(Array(built.wordLength.buffer)), stateCount: built.stateCount)
            let text: [UInt8] = (0..<200).flatMap { _ in Array(units.randomElement(using: &rng)!.utf8) }
            #expect(automatonHits(made, text).allSatisfy { $0.word >= 0 && $0.word < words.count }, "round \(round)")
        }
        #expect(refused > 300, "refused \(refused), kept \(kept)")
    }
}
