import Foundation
import Testing
@testable import Fanzha
import FanzhaPCRE
import FanzhaText

// The compiled rule cache (issue 22): a `.fzc` file gives the same verdicts as the rules it was
// compiled from, and a damaged or stale file is never used.

@Suite(.serialized) struct CompiledRuleCacheTests {
    private func temporaryFolder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Each text screened with `rules` and with `loaded` (with the bundled model) gives the same
    /// JSON verdict, byte for byte.
    /// The bundled rules written to `rules.fzc` in a fresh folder (the caller removes it) and
    /// read back from that file.
    private func writeAndReadBundledRules() throws -> (rules: RuleSet, loaded: RuleSet, dir: String, file: String) {
        let rules = try loadBundledRuleSet()
        let dir = try temporaryFolder()
        let file = dir + "/rules.fzc"
        do {
            try CompiledRuleCache.write(rules, model: nil, to: file)
            return (rules, try CompiledRuleCache.read(path: file), dir, file)
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    private func expectSameVerdicts(_ rules: RuleSet, _ loaded: RuleSet, on texts: [String]) throws {
        let model = try bundledModel()
        let fresh = try Fanzha.Screener(matcher: CompiledMatcher(rules, model: model))
        let cached = try Fanzha.Screener(matcher: CompiledMatcher(loaded, model: model))
        let freshPrinter = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        let cachedPrinter = VerdictPrinter(rules: loaded, format: .jsonl, colour: false)
        for (i, text) in texts.enumerated() {
            let record = Record(id: "r\(i)", text: text)
            #expect(freshPrinter.json(fresh.screen(record), record: record) == cachedPrinter.json(cached.screen(record), record: record), "\(text)")
        }
    }

    /// A file made from `loaded` (read from `file`) is `file` again, byte for byte.
    private func expectWritesTheSameFile(_ loaded: RuleSet, as file: String) throws {
        let again = file + ".again.fzc"
        try CompiledRuleCache.write(loaded, model: nil, to: again)
        #expect(FileManager.default.contents(atPath: again) == FileManager.default.contents(atPath: file))
    }

    /// Every embedded example of the bundled rules, and a few texts of our own, through both
    /// scanners: the JSON verdicts must be byte-identical.
    @Test func aCompiledFileGivesTheSameVerdictsAsTheRules() throws {
        let (rules, loaded, dir, file) = try writeAndReadBundledRules()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(loaded.prebuilt != nil)
        #expect(loaded.words == rules.words)
        #expect(loaded.rules.map(\.id) == rules.rules.map(\.id))
        #expect(loaded.rules.map(\.status) == rules.rules.map(\.status))
        #expect(loaded.wordEdges == rules.wordEdges)
        #expect(loaded.variants.entries == rules.variants.entries)
        #expect(loaded.variants.falseFriends == rules.variants.falseFriends && !rules.variants.falseFriends.isEmpty)
        #expect(loaded.sources.map(\.path) == rules.sources.map(\.path))
        #expect(loaded.sources.map { $0.scalars.count } == rules.sources.map { $0.scalars.count })
        var texts = rules.rules.flatMap { $0.hits.map(\.text) + $0.misses.map(\.text) }
        texts += ["您好，这里是市公安局，您的账户涉嫌洗钱，请立即转账到安全账户配合调查", "今晚一起吃饭吗？", "刷単返利，日赚三百",
                  "ＡＰＰ下载链接：http://example.com 验证码123456", "你好\n我是客服\n退款需要先交保证金",
                  "学校兼职摄影需要自备相机和SD卡", "买了张SD卡，顺便接个sd兼职"]
        #expect(texts.count > 100)
        try expectSameVerdicts(rules, loaded, on: texts)
        try expectWritesTheSameFile(loaded, as: file)
    }

    /// Loading reads only what a scan needs: a scan of one message decodes none of the details
    /// (conditions, examples, sources, words) and compiles only the regexes its prefilter selects;
    /// asking for the details later gives exactly what was written.
    @Test func aScanReadsNoDetailsAndCompilesOnlyTheRegexesItRuns() throws {
        let (rules, loaded, dir, _) = try writeAndReadBundledRules()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let details = try #require(loaded.prebuilt?.details)
        let regexes = loaded.atoms.filter { $0.kind == .regex }
        #expect(regexes.count > 20)
        #expect(regexes.allSatisfy { !$0.regexes.isCompiled })
        let screener = try Fanzha.Screener(matcher: CompiledMatcher(loaded, model: try bundledModel()))
        let record = Record(id: "1", text: "您好，这里是市公安局，您的账户涉嫌洗钱，请立即转账到安全账户配合调查")
        let verdict = screener.screen(record)
        #expect(verdict.level >= .medium)
        _ = VerdictPrinter(rules: loaded, format: .jsonl, colour: false).json(verdict, record: record)
        #expect(!details.isDecoded)
        let compiled = regexes.filter { $0.regexes.isCompiled }.count
        #expect(compiled > 0 && compiled < regexes.count)
        #expect(loaded.usesModel == rules.usesModel)
        // The details, decoded on demand, are the ones written.
        #expect(loaded.words == rules.words)
        #expect(details.isDecoded)
        for (a, b) in zip(loaded.rules, rules.rules) {
            #expect(a.condition == b.condition && a.requirement == b.requirement && a.unless == b.unless, "\(a.id)")
            #expect(a.hits.map(\.text) == b.hits.map(\.text) && a.misses.map(\.text) == b.misses.map(\.text), "\(a.id)")
        }
        for (a, b) in zip(loaded.atoms, rules.atoms) {
            #expect(a.display == b.display && a.words == b.words && a.wordIDs == b.wordIDs, "\(a.display)")
            #expect(a.requirement == b.requirement && a.literalSources == b.literalSources, "\(a.display)")
            #expect(a.regexes.specs.map(\.source) == b.regexes.specs.map(\.source), "\(a.display)")
        }
    }

    /// Each regex atom's PCRE2 code is stored in the file (`SerializedPatterns`) and decoded on
    /// first use instead of compiling its source, with the same matches. Code that fails its
    /// checksum is not decoded; a file written with another PCRE2 library has its code ignored
    /// (the sources are compiled, the verdicts the same, and writing the set again stores this
    /// library's code).
    @Test func regexesAreDecodedFromStoredCodeUnlessItCannotBeUsed() throws {
        let (rules, loaded, dir, file) = try writeAndReadBundledRules()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let regexes = zip(loaded.atoms, rules.atoms).filter { $0.0.kind == .regex }
        #expect(regexes.count > 20 && regexes.allSatisfy { $0.0.regexes.code != nil })
        let scratch = MatchScratch()
        let texts = ["您好，这里是市公安局，您的账户涉嫌洗钱，请立即转账到安全账户配合调查", "刷単返利，日赚三百，先垫付298元",
                     "ＡＰＰ下载链接：http://example.com 验证码123456", "我是你领导，明天来我办公室，先转两万给这个账户"]
            .map { Array($0.utf8) }
        for (a, b) in regexes {
            let code = try #require(a.regexes.code)
            let decoded = try #require(code.patterns(of: a.regexes.specs), "\(b.display)")
            let fresh = try b.regexes.patterns()
            #expect(decoded.map(\.isJIT) == fresh.map(\.isJIT), "\(b.display)")
            for text in texts {
                for (x, y) in zip(decoded, fresh) {
                    #expect(try x.matches(inBytes: text, using: scratch) == y.matches(inBytes: text, using: scratch), "\(b.display)")
                }
            }
            var damaged = Array(code.bytes)
            damaged[damaged.count / 2] ^= 0x01
            damaged.withUnsafeBytes { bytes in
                let bad = SerializedPatterns(bytes: bytes, checksum: code.checksum, storage: code.storage)
                #expect(bad.patterns(of: a.regexes.specs) == nil, "\(b.display)")
            }
        }

        // The same file as another PCRE2 library's: its name changed in place, checksum made good.
        var bytes = try #require(FileManager.default.contents(atPath: file))
        let name = Array(Pattern.library.utf8)
        let at = try #require(bytes.indices.first { bytes[$0..<min($0 + name.count, bytes.count)].elementsEqual(name) })
        bytes[at + 6] ^= 0x01   // "PCRE2 1" → "PCRE2 0"
        var h = ContentHash()
        bytes[CompiledRuleCache.headerSize...].withUnsafeBytes { h.add($0) }
        withUnsafeBytes(of: h.value.littleEndian) { for (k, b) in $0.enumerated() { bytes[40 + k] = b } }
        let foreign = dir + "/foreign.fzc"
        try bytes.write(to: URL(fileURLWithPath: foreign))
        let other = try CompiledRuleCache.read(path: foreign)
        #expect(other.atoms.allSatisfy { $0.regexes.code == nil })
        try expectSameVerdicts(rules, other, on: rules.rules.flatMap { $0.hits.map(\.text) })
        try expectWritesTheSameFile(other, as: file)
    }

    /// A regex that gets a literal gate has it stored in the file (`StoredGate`): the layout its
    /// source makes, or none when its literals say nothing. A stored layout that could not have
    /// been made (an index outside its table, a child before its parent, an empty literal, a bit
    /// outside `ScalarBits`, trailing or missing bytes) is refused, and the gate made afresh.
    @Test func literalGatesAreStoredAndDamagedOnesRefused() throws {
        let (_, loaded, dir, _) = try writeAndReadBundledRules()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = try #require(loaded.prebuilt?.program)
        var stored = 0, none = 0
        var layouts: [Screener.LiteralGate.Layout] = []
        for (i, atom) in loaded.atoms.enumerated() {
            guard let spec = Screener.gatedRegex(atom, clauseCount: program.atomClauseCount[i]) else {
                #expect(atom.regexes.storedGate == nil)
                continue
            }
            let made = Screener.LiteralGate.layout(source: spec.source, extended: spec.options.contains(.extended), beyondWords: spec.beyondWords)
            switch atom.regexes.storedGate {
            case .noGate?:
                #expect(made == nil, "\(spec.source)")
                none += 1
            case .layout(let bytes, _)?:
                let layout = try #require(Screener.LiteralGate.Layout(stored: bytes), "\(spec.source)")
                #expect(layout == made, "\(spec.source)")
                layouts.append(layout)
                stored += 1
            case nil:
                Issue.record("no gate stored for \(spec.source)")
            }
        }
        #expect(stored > 5 && none > 0)

        func storedForm(_ layout: Screener.LiteralGate.Layout) -> [UInt8] {
            var w = ByteWriter()
            layout.encode(into: &w)
            return w.bytes
        }
        func refused(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { Screener.LiteralGate.Layout(stored: $0) } == nil }
        let layout = try #require(layouts.first { $0.tables[3].count >= 2 })   // a node with children
        #expect(!refused(storedForm(layout)))
        let good = storedForm(layout)
        #expect(refused(Array(good.dropLast())) && refused(good + [0]) && refused([]))
        var damaged: [(String, Screener.LiteralGate.Layout)] = []
        func with(_ name: String, _ change: (inout Screener.LiteralGate.Layout) -> Void) {
            var l = layout
            change(&l)
            damaged.append((name, l))
        }
        with("a child before its parent") { $0.tables[3][0] = 0 }
        with("a child past the last node") { $0.tables[3][0] = Int32($0.tables[0].count) }
        with("an unknown kind") { $0.tables[0][0] = 3 }
        with("children past the kids table") { $0.tables[2][0] = Int32($0.tables[3].count + 1) }
        with("a literal past the last") { l in
            let leaf = l.tables[0].firstIndex(of: 0)!
            l.tables[1][leaf] = Int32(l.tables[4].count - 1)
        }
        with("an empty literal") { $0.tables[4][1] = 0 }
        with("a bit outside ScalarBits") { $0.tables[6][0] = 4096 }
        with("a negative bit") { $0.tables[6][0] = -1 }
        with("bytes past the table") { $0.bytes.removeLast() }
        with("a table missing") { $0.tables.removeLast() }
        for (name, l) in damaged { #expect(refused(storedForm(l)), "\(name)") }
    }

    /// A regex that may be searched from its start anchors has them stored (`StoredAnchors`), with
    /// its anchored twin's code: the anchors its source gives, or none when it gives none; the
    /// twin decodes and runs under JIT, and a search made from them finds what the regex finds.
    /// Stored anchors that a search could not use (an empty literal, a negative distance, a span
    /// of `widestSpan` or more, trailing or missing bytes) are refused, and read from the source.
    @Test func startAnchorsAreStoredWithTheirTwinAndDamagedOnesRefused() throws {
        let (_, loaded, dir, _) = try writeAndReadBundledRules()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = try #require(loaded.prebuilt?.program)
        var stored = 0, none = 0
        var good: [UInt8] = []
        for (i, atom) in loaded.atoms.enumerated() {
            guard let spec = Screener.anchoredRegex(atom, clauseCount: program.atomClauseCount[i]) else {
                #expect(atom.regexes.storedAnchors == nil)
                continue
            }
            let made = Screener.AnchoredSearch.anchors(source: spec.source, options: spec.options)
            switch atom.regexes.storedAnchors {
            case .noAnchors?:
                #expect(made == nil, "\(spec.source)")
                none += 1
            case .stored(let bytes, let twin, _)?:
                #expect(StartAnchors(stored: bytes) == made, "\(spec.source)")
                let decoded = try #require(twin?.patterns(of: [(spec.source, spec.options.union(.anchored))])?.first, "\(spec.source)")
                #expect(decoded.isJIT)
                if good.isEmpty { good = Array(bytes) }
                stored += 1
            case nil:
                Issue.record("no anchors stored for \(spec.source)")
            }
        }
        #expect(stored > 5 && none > 0)

        // A search from stored anchors and twin finds what the pattern finds.
        let source = "[王李]某{1,2}(?:在|到)"
        let anchors = try #require(Screener.AnchoredSearch.anchors(source: source, options: []))
        let twin = try #require(Screener.AnchoredSearch.twin(source: source, options: []).flatMap { Pattern.serialized([$0]) })
        try twin.withUnsafeBytes { code in
            let owner = NSObject()
            let search = Screener.AnchoredSearch(source: source, options: [], anchors: anchors,
                                                 storedTwin: SerializedPatterns(bytes: code, checksum: SerializedPatterns.checksum(code), storage: owner))
            let pattern = try Pattern(source, options: [], validSubjects: true)
            let scratch = MatchScratch()
            for t in ["后来王某到了银行，李某某在家", "王某说", "您好"] {
                let text = Array(t.utf8)
                var bits = [UInt64](repeating: 0, count: ScalarBits.words)
                bits.withUnsafeMutableBufferPointer { b in text.withUnsafeBufferPointer { ScalarBits.fill(b.baseAddress!, from: $0) } }
                let found = text.withUnsafeBufferPointer { b in bits.withUnsafeBufferPointer { search.matches(in: b, scalars: $0.baseAddress!, scratch: scratch) } }
                let expected = text.withUnsafeBufferPointer { Screener.matches([pattern], inBytes: $0, scratch: scratch) }
                #expect(found?.ranges == expected.ranges, "\(t)")
            }
        }

        func refused(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { StartAnchors(stored: $0) } == nil }
        #expect(!refused(good))
        #expect(refused(Array(good.dropLast())) && refused(good + [0]) && refused([]))
        func storedForm(_ entries: [StartAnchors.Entry]) -> [UInt8] {
            var w = ByteWriter()
            StartAnchors(entries: entries).encode(into: &w)
            return w.bytes
        }
        #expect(!refused(storedForm([.init(literal: "某", lo: 1, hi: 2)])))
        #expect(refused(storedForm([])), "no entry")
        #expect(refused(storedForm([.init(literal: "", lo: 0, hi: 0)])), "an empty literal")
        #expect(refused(storedForm([.init(literal: "某", lo: -1, hi: 0)])), "a negative distance")
        #expect(refused(storedForm([.init(literal: "某", lo: 2, hi: 1)])), "a span backwards")
        #expect(refused(storedForm([.init(literal: "某", lo: 0, hi: Screener.AnchoredSearch.widestSpan)])), "a span too wide")
    }

    @Test func damagedFilesAreRejected() throws {
        let rules = try compiledRuleSet(ruleText(match: #""安全账户" and /转(账|帐)/"#) + ruleText("e", match: #""验证码""#, extra: "  status experimental\n"))
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/r.fzc"
        try CompiledRuleCache.write(rules, model: [1, 2, 3], to: file)
        let good = try #require(FileManager.default.contents(atPath: file))
        #expect(try CompiledRuleCache.read(path: file).embeddedModel == [1, 2, 3])
        #expect(try CompiledRuleCache.read(path: file).rules.map(\.status) == [.stable, .experimental])
        var damaged: [(String, Data)] = [("empty", Data()), ("truncated", good.dropLast(7)), ("header only", good.prefix(48)),
                                         ("longer", good + Data([0])), ("not one", Data("rule x { }".utf8))]
        for at in [0, 9, 20, 47, 48, good.count / 2, good.count - 1] {
            var flipped = good
            flipped[at] ^= 0x10
            damaged.append(("byte \(at) flipped", flipped))
        }
        for (name, bytes) in damaged {
            let path = dir + "/damaged.fzc"
            try bytes.write(to: URL(fileURLWithPath: path))
            #expect(throws: CompiledRuleCache.CacheError.self, "\(name)") { try CompiledRuleCache.read(path: path) }
        }
        #expect(throws: CompiledRuleCache.CacheError.self) { try CompiledRuleCache.read(path: dir + "/missing.fzc") }
    }

    /// The evaluation program's Int32 tables are read in place from the mapped file when they are
    /// aligned there, and copied when not; either way each table equals the one written, and an
    /// index out of its table's bounds is refused (a stamped cache file is not checksummed again,
    /// so these checks are what stand between a damaged file and the evaluation's memory).
    @Test func programTablesAreReadInPlaceAndChecked() throws {
        let rules = try compiledRuleSet(ruleText("a", match: #""安全账户" and /转(账|帐)/"#) + ruleText("b", match: #"a or "验证码""#))
        let program = Program(rules)
        defer { program.deallocate() }
        var w = ByteWriter()
        program.encode(into: &w)
        let words = rules.words.count, atoms = rules.atoms.count, ruleCount = rules.rules.count
        func tables(_ p: Program) -> [[Int32]] {
            [p.kids, p.roots, p.clauseFirst, p.clauseCount, p.clausesByWordStart, p.clausesByWord, p.scores, p.categories, p.frameRules,
             p.unlessRoots, p.frameWhole, p.regexAtoms, p.atomClauseFirst, p.atomClauseCount, p.rulesByWordStart, p.rulesByWord,
             p.unfiltered, p.atomsByWordStart, p.atomsByWord, p.ruledOutBy].map { Array($0) }
        }
        final class Keeper {}
        /// `bytes` placed `offset` bytes into memory of its own (an offset of 1 puts every table off
        /// its 4-byte boundary): the decoded tables, and whether they were read in place.
        func decode(_ bytes: [UInt8], offset: Int, owner: AnyObject?) throws -> (tables: [[Int32]], inPlace: Bool) {
            let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + offset, alignment: 16)
            defer { memory.deallocate() }
            memory.copyBytes(from: [UInt8](repeating: 0, count: offset) + bytes)
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: memory[offset...]), path: "test", owner: owner)
            let decoded = try Program(from: &r, rules: ruleCount, atoms: atoms, words: words)
            defer { decoded.deallocate() }
            let start = UnsafeRawPointer(memory.baseAddress!)
            let kids = try #require(decoded.kids.buffer.baseAddress)
            return (tables(decoded), UnsafeRawPointer(kids) >= start && UnsafeRawPointer(kids) < start + memory.count)
        }
        let inPlace = try decode(w.bytes, offset: 0, owner: Keeper())
        #expect(inPlace.inPlace)
        #expect(inPlace.tables == tables(program))
        for (offset, owner) in [(1, Keeper() as AnyObject?), (0, nil)] {
            let copied = try decode(w.bytes, offset: offset, owner: owner)
            #expect(!copied.inPlace)
            #expect(copied.tables == tables(program))
        }
        // The last entry of the last table (ruledOutBy, node indices) made one past the last node,
        // and made a node that `Evaluation.ruledOut` cannot check (one that names no node).
        // After it: clauseTotal, then counted bytes per rule (5 tables) and per atom (1).
        let tail = 8 + 5 * (4 + ruleCount) + (4 + atoms)
        let last = w.bytes.count - tail - 4
        let lastEntry = try #require(Array(program.ruledOutBy).last)
        #expect(w.bytes[last..<(last + 4)].elementsEqual(withUnsafeBytes(of: lastEntry.littleEndian) { Array($0) }))
        let unchecked = try #require(Array(program.ruledOutBy).firstIndex(of: -1))
        for entry in [Int32(program.nodes.count), Int32(unchecked)] {
            var bad = w.bytes
            withUnsafeBytes(of: entry.littleEndian) { for (k, b) in $0.enumerated() { bad[last + k] = b } }
            #expect(throws: CompiledRuleCache.CacheError.self) { _ = try decode(bad, offset: 0, owner: Keeper()) }
            #expect(throws: CompiledRuleCache.CacheError.self) { _ = try decode(bad, offset: 1, owner: Keeper()) }
        }
    }

    /// The automatic cache's stamp (`CompiledRuleCache.Stamp`): a cache file checked in full
    /// gets one once it is old enough, a stamped file is loaded without its checksum, and any
    /// write to the file voids the stamp (the file is checked in full again, and rebuilt if damaged).
    @Test func aStampSparesTheChecksumUntilTheFileIsWrittenAgain() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rulesDir = dir + "/rules", cache = dir + "/cache"
        try FileManager.default.createDirectory(atPath: rulesDir, withIntermediateDirectories: true)
        try ruleText("a", match: #""安全账户""#, extra: "  score 5\n").write(toFile: rulesDir + "/a.fz", atomically: true, encoding: .utf8)
        func load(stampAge: Double = CompiledRuleCache.Stamp.minimumAge) throws -> RuleSet {
            try #require(try CompiledRuleCache.load(paths: [rulesDir], cacheFolder: cache, stampAge: stampAge).ruleSet)
        }
        func entry() throws -> String {
            let names = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasSuffix(".fzc") }
            return cache + "/" + (try #require(names.first))
        }
        #expect(try load().prebuilt == nil)                      // compiled and written
        let file = try entry(), stamp = file + CompiledRuleCache.Stamp.suffix
        #expect(try load().prebuilt != nil)
        #expect(!FileManager.default.fileExists(atPath: stamp), "a file written just now is not stamped")
        #expect(try load(stampAge: 0).prebuilt != nil)
        #expect(FileManager.default.fileExists(atPath: stamp), "checked in full: stamped")

        // A file with a wrong checksum, stamped as it is: loaded from the stamp, without its checksum.
        var bytes = try #require(FileManager.default.contents(atPath: file))
        bytes[44] ^= 0x01   // in the header's checksum
        try bytes.write(to: URL(fileURLWithPath: file))
        #expect(throws: CompiledRuleCache.CacheError.self) { try CompiledRuleCache.read(path: file, expectedKey: nil) }
        CompiledRuleCache.Stamp(path: stamp, minimumAge: 0).record(try MappedFile(path: file).identity)
        #expect(try load().prebuilt != nil, "the stamp vouches for the file: no checksum")

        // Written again in place, same size and inode, a clock tick later: the stamp no longer
        // matches, the file is checked in full, fails, and is compiled and written again.
        Thread.sleep(forTimeInterval: 0.05)
        try bytes.write(to: URL(fileURLWithPath: file))
        #expect(try load().prebuilt == nil)
        #expect(try load().prebuilt != nil)
        #expect(try Fanzha.Screener(rules: try load()).screen(Record(id: "x", text: "请转到安全账户")).level != .none)
    }

    /// The automatic cache: the first load compiles and writes an entry, the second uses it; an
    /// edited rule file or a damaged entry is compiled again, never loaded from the cache.
    @Test func theAutomaticCacheIsRebuiltWhenStaleOrDamaged() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rulesDir = dir + "/rules", cache = dir + "/cache"
        try FileManager.default.createDirectory(atPath: rulesDir, withIntermediateDirectories: true)
        let ruleFile = rulesDir + "/a.fz"
        try ruleText("a", match: #""安全账户""#, extra: "  score 5\n").write(toFile: ruleFile, atomically: true, encoding: .utf8)
        func entries() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { $0.hasSuffix(".fzc") }.sorted()
        }
        func load() throws -> RuleSet { try #require(try CompiledRuleCache.load(paths: [rulesDir], cacheFolder: cache).ruleSet) }

        #expect(try load().prebuilt == nil)       // compiled
        #expect(entries().count == 1)
        let cached = try load()
        #expect(cached.prebuilt != nil)            // from the cache
        #expect(try Fanzha.Screener(rules: cached).screen(Record(id: "x", text: "请转到安全账户")).level != .none)

        // Another rule: another key, compiled again.
        try ruleText("a", match: #""验证码""#, extra: "  score 5\n").write(toFile: ruleFile, atomically: true, encoding: .utf8)
        let edited = try load()
        #expect(edited.prebuilt == nil)
        #expect(try Fanzha.Screener(rules: edited).screen(Record(id: "x", text: "请转到安全账户")).level == .none)
        #expect(entries().count == 2)
        #expect(try load().prebuilt != nil)

        // A damaged entry: compiled again and rewritten.
        for name in entries() {
            let path = cache + "/" + name
            var bytes = try #require(FileManager.default.contents(atPath: path))
            bytes[bytes.count - 3] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        #expect(try load().prebuilt == nil)
        #expect(try load().prebuilt != nil)

        // A variant dictionary is part of the key too.
        try "验证码 = yzm\n".write(toFile: rulesDir + "/variants.txt", atomically: true, encoding: .utf8)
        let withVariants = try load()
        #expect(withVariants.prebuilt == nil)
        #expect(try Fanzha.Screener(rules: try load()).screen(Record(id: "x", text: "把yzm发给我")).level != .none)
    }
}
