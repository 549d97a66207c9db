import Foundation
import Testing
@testable import Fanzha

/// The writer behind every JSON line fanzha prints: its output must parse, whatever the values.
@Suite struct JSONWriterTests {
    @Test func integersAreWrittenExactly() throws {
        for v in [0, 7, -4, 10, 256, -1000, 1_234_567_890, Int.max, Int.min] {
            var o = JSONObjectWriter()
            o.add("n", v)
            let text = o.finish()
            #expect(text == "{\"n\":\(v)}")
        }
    }

    @Test func stringsAreEscapedAndChineseIsKeptWhole() throws {
        let tricky = "引号\"反斜杠\\换行\n回车\r制表\t响铃\u{07}结束"
        var o = JSONObjectWriter()
        o.add("text", tricky)
        o.addRaw("keyWith\"quote", jsonString("安全账户"))
        let text = o.finish()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed["text"] == tricky)
        #expect(parsed["keyWith\"quote"] == "安全账户")
        #expect(text.contains("\\u0007"), "control characters as \\u escapes")
    }

    /// Objects written one after another in the same memory (a worker's lines for a batch): each
    /// is what a fresh writer writes, however long the one before it was; emptied (and given back
    /// past what it keeps), the memory writes them the same again.
    @Test func aWriterAppendingToMemoryWritesWhatAFreshOneWrites() throws {
        let memory = JSONBytes(capacity: 16, keeping: 1 << 10)
        let texts = [String(repeating: "安全账户", count: 100_000), "短", "", String(repeating: "a\"b", count: 50), "安全账户"]
        for _ in 0..<2 {
            for text in texts {
                var fresh = JSONObjectWriter()
                fresh.add("text", text)
                fresh.add("n", text.count)
                let start = memory.count
                var appended = JSONObjectWriter(appendingTo: memory)
                appended.add("text", text)
                appended.add("n", text.count)
                appended.end()
                #expect(Array(memory.written(start..<memory.count)) == fresh.finishBytes())
            }
            memory.removeAll()
            #expect(memory.count == 0)
        }
    }

    /// `scan` writes a batch's lines one after another in its worker's memory: each the bytes of
    /// the verdict's own line, in every format.
    @Test func verdictsAppendedToABatchsLinesAreTheirOwnLines() throws {
        let rules = try loadBundledRuleSet()
        let screener = try Screener(rules: rules)
        let records = Array(try loadCorpusRecords().prefix(60))
        for format in OutputFormat.allCases {
            let printer = VerdictPrinter(rules: rules, format: format)
            var written: [(range: Range<Int>, own: [UInt8])] = []
            for r in records {
                let v = screener.screen(r)
                let start = screener.batchLines.count
                printer.render(v, record: r, appendingTo: screener.batchLines)
                written.append((start..<screener.batchLines.count, printer.render(v, record: r)))
            }
            for (range, own) in written { #expect(Array(screener.batchLines.written(range)) == own, "\(format)") }
            screener.batchLines.removeAll()
        }
    }

    /// The workers' lines of a batch are read in input order at its delivery, and emptied before
    /// the next batch is worked on (each worker's first line of a batch starts at zero).
    @Test func aPipelineDeliversEachBatchsLinesThenEmptiesThem() throws {
        let rules = try loadBundledRuleSet()
        let scanner = try ParallelScanner(matcher: CompiledMatcher(rules), threads: 2)
        let printer = VerdictPrinter(rules: rules, format: .jsonl)
        let records = Array(try loadCorpusRecords().prefix(40))
        var delivered: [[UInt8]] = []
        var firstStarts: [Int] = []
        let pipeline = ScanPipeline(scanner: scanner, work: { screener, record -> (lines: JSONBytes, range: Range<Int>) in
            let start = screener.batchLines.count
            printer.render(screener.screen(record), record: record, appendingTo: screener.batchLines)
            return (screener.batchLines, start..<screener.batchLines.count)
        }, deliver: { _, lines in
            delivered += lines.map { Array($0.lines.written($0.range)) }
            firstStarts += lines.prefix(2).map(\.range.lowerBound)
        })
        pipeline.submit(Array(records[..<20]))
        pipeline.submit(Array(records[20...]))
        pipeline.finish()
        let alone = try Screener(rules: rules)
        #expect(delivered == records.map { printer.render(alone.screen($0), record: $0) })
        #expect(firstStarts == [0, 0, 0, 0])
    }

    @Test func bytesAreEscapedAsTheirString() throws {
        for text in ["安全账户", "引号\"反斜杠\\换行\n回车\r制表\t响铃\u{07}结束", "", "😀\u{2028}尾"] {
            var fromString = JSONObjectWriter()
            fromString.add("text", text)
            var fromBytes = JSONObjectWriter()
            Array(text.utf8).withUnsafeBufferPointer { fromBytes.add("text", utf8: $0) }
            #expect(fromBytes.finish() == fromString.finish(), "\(text.debugDescription)")
        }
    }

    /// The eight-byte test that lets a run of plain bytes be skipped: true exactly when one of the
    /// bytes is a control character, a quote or a backslash, wherever it is and whatever (UTF-8
    /// lead and continuation bytes included) surrounds it.
    @Test func wordEscapeTestIsExact() throws {
        let edges: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0x9F, 0xA0, 0xA2, 0xDC, 0xE4, 0xFF]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let word = (0..<8).map { _ in Bool.random(using: &random) ? edges.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random) }
            let x = word.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let expected = word.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
            #expect(JSONBytes.mayNeedEscape(x) == expected, "\(word)")
        }
    }

    /// Strings long enough for the eight-byte skip, an escape at every offset: they read back as written.
    @Test func longStringsReadBackWithEscapesAnywhere() throws {
        let base = "请把验证码发给安全账户的客服abc😀"
        for special in ["\"", "\\", "\n", "\u{01}", "\t"] {
            for cut in 0...base.unicodeScalars.count {
                var scalars = Array(base.unicodeScalars)
                scalars.insert(contentsOf: special.unicodeScalars, at: cut)
                let text = String(String.UnicodeScalarView(scalars)) + base
                var o = JSONObjectWriter()
                o.add("text", text)
                let parsed = try #require(try JSONSerialization.jsonObject(with: Data(o.finish().utf8)) as? [String: String])
                #expect(parsed["text"] == text, "\(text.debugDescription)")
            }
        }
    }

    /// A verdict's evidence is printed straight from its evidence table: the same bytes as its
    /// spans given one by one (as a hit whose spans were renumbered or redacted is printed).
    @Test func evidenceFromTheTablePrintsAsItsSpans() throws {
        let s = try makeScanner(ruleText("r", match: "/安全.{0,3}账户/") + ruleText("q", match: "\"验证码\""))
        let printer = VerdictPrinter(rules: s.rules, format: .jsonl)
        let message = Record(id: "1", text: "😀请转到安全\"\t\\账户，验证码给我，安全的账户")
        let records = [message, call("caller: 我是安全账户的客服\ncallee: 验证码？\ncaller: 对，验证码")]
        var found = 0
        for record in records {
            let v = s.screen(record)
            #expect(v.hits.count == 2)
            for hit in v.hits {
                guard case .found = hit.evidence else { continue }
                found += 1
                var fromTable = JSONObjectWriter()
                printer.writeHit(hit, to: &fromTable)
                var fromSpans = JSONObjectWriter()
                printer.writeHit(hit.with(spans: hit.spans), to: &fromSpans)
                #expect(fromTable.finish() == fromSpans.finish())
            }
        }
        #expect(found == 4, "every hit's evidence is in its verdict's table")
        let line = printer.json(s.screen(message), record: message)
        #expect(line.contains(#"{"start":4,"end":11,"text":"安全\"\t\\账户"}"#), "\(line)")
        #expect(line.contains(#"{"start":18,"end":23,"text":"安全的账户"}"#), "\(line)")
    }

    /// A verdict's line says what the verdict's public fields say: its categories, main category,
    /// advice and referral (kept as indexes and a shared outcome), and each hit's rule, title,
    /// score, tags and spans (written from the hits where the verdict keeps them).
    @Test func aVerdictsLineSaysWhatTheVerdictSays() throws {
        let rules = try loadBundledRuleSet()
        let screener = try Screener(rules: rules)
        let printer = VerdictPrinter(rules: rules, format: .jsonl)
        var flagged = 0, spans = 0
        for r in try loadCorpusRecords().prefix(300) {
            let v = screener.screen(r)
            let line = try #require(try JSONSerialization.jsonObject(with: Data(printer.render(v, record: r))) as? [String: Any])
            #expect(line["categories"] as? [String] == v.categories.map(\.category))
            #expect(line["category"] as? String == v.category)
            #expect(v.category == (v.level > .none ? v.categories.first?.category : nil))
            let category = v.category.flatMap { name in rules.categories.first { $0.id == name } }
            #expect(v.advice == rules.policy.advice(level: v.level, category: category))
            #expect(v.referral == rules.policy.referral(level: v.level, category: category))
            #expect(line["advice"] as? String == v.advice)
            #expect((line["referral"] as? [String: Any])?["script"] as? String == v.referral?.script)
            let hits = try #require(line["hits"] as? [[String: Any]])
            #expect(hits.count == v.hits.count)
            for (json, hit) in zip(hits, v.hits) {
                #expect(json["rule"] as? String == hit.rule && json["title"] as? String == hit.title)
                #expect(json["score"] as? Int == hit.score && json["tags"] as? [String] == hit.tags)
                let written = try #require(json["spans"] as? [[String: Any]])
                #expect(written.map { [$0["start"] as? Int, $0["end"] as? Int] } == hit.spans.map { [$0.start, $0.end] })
                #expect(written.map { $0["text"] as? String } == hit.spans.map(\.text))
                spans += written.count
            }
            if v.level > .none { flagged += 1 }
        }
        #expect(flagged > 20 && spans > 50)
    }

    @Test func nestedObjectsAndPrewrittenFields() throws {
        var inner = JSONObjectWriter()
        inner.add("rule", "police.safe_account")
        inner.add("score", 3)
        let fields = inner.fields
        var o = JSONObjectWriter()
        o.addObjects("hits", [1, 2]) { h, i in
            fields.withUnsafeBufferPointer { h.addFields($0) }
            h.add("i", i)
        }
        o.addRaw("raw", bytes: Array("[1,2]".utf8))
        let text = o.finish()
        #expect(text == #"{"hits":[{"rule":"police.safe_account","score":3,"i":1},{"rule":"police.safe_account","score":3,"i":2}],"raw":[1,2]}"#)
    }
}
