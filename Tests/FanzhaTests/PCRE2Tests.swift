import Foundation
import Testing
@testable import FanzhaPCRE

// The PCRE2 wrapper: offsets, broken UTF-8, resource limits, compile errors, threads, long subjects.

/// Unicode scalar offset of a UTF-8 byte offset (counts the lead bytes before it).
private func scalarOffset(_ bytes: [UInt8], _ byte: Int) -> Int {
    bytes[..<byte].filter { $0 & 0xC0 != 0x80 }.count
}

private func scalarRanges(_ subject: String, _ ranges: [Range<Int>]) -> [Range<Int>] {
    let bytes = Array(subject.utf8)
    return ranges.map { scalarOffset(bytes, $0.lowerBound)..<scalarOffset(bytes, $0.upperBound) }
}

/// The text a byte range covers.
private func text(_ subject: [UInt8], _ r: Range<Int>) -> String {
    String(decoding: subject[r], as: UTF8.self)
}

@Suite struct PCRE2Tests {
    @Test func chineseLiteralByteAndScalarOffsets() throws {
        let scratch = MatchScratch()
        let subject = "请把钱转到安全账户，安全账户由公安监管"
        let p = try Pattern("安全账户")
        let found = try p.matches(in: subject, using: scratch)
        // Each of these Han characters and the full-width comma is 3 UTF-8 bytes.
        #expect(found == [15..<27, 30..<42])
        #expect(scalarRanges(subject, found) == [5..<9, 10..<14])
        #expect(Pattern.scalarOffset(in: Array(subject.utf8), byte: 30) == 10)
        for r in found { #expect(text(Array(subject.utf8), r) == "安全账户") }
    }

    @Test func literalOptionTakesMetacharactersLiterally() throws {
        let scratch = MatchScratch()
        let p = try Pattern("(账户)*", options: .literal)
        #expect(try p.matches(in: "请转入(账户)*中", using: scratch) == [9..<18])
        #expect(try p.matches(in: "请转入账户账户", using: scratch).isEmpty)
    }

    @Test func escapedLiteralMatchesItself() throws {
        let scratch = MatchScratch()
        let literal = "安全.账户 (A+B)/#-?"
        let p = try Pattern(pcre2Escape(literal), options: .extended)
        let subject = "前缀" + literal + "后缀安全x账户 (AAB)"
        let found = try p.matches(in: subject, using: scratch)
        #expect(scalarRanges(subject, found) == [2..<(2 + literal.unicodeScalars.count)])
    }

    @Test func chineseRegexesWithMixedScripts() throws {
        let scratch = MatchScratch()
        // Emoji (4 bytes), Han (3 bytes) and ASCII mixed: scalar offsets must count each as one.
        let subject = "😀案件编号:ab12345 请拨打96110或９６１１０"
        let bytes = Array(subject.utf8)

        let caseNumber = try Pattern(#"案件编号:?\s*[a-z0-9]{6,}"#)
        let m1 = try caseNumber.matches(in: subject, using: scratch)
        #expect(m1 == [4..<24])
        #expect(scalarRanges(subject, m1) == [1..<13])
        #expect(text(bytes, m1[0]) == "案件编号:ab12345")

        // \d is ASCII-only without UCP digits... but UCP is on, so full-width digits are digits too.
        let digits = try Pattern(#"\d{5}"#)
        let m2 = try digits.matches(in: subject, using: scratch)
        #expect(m2.map { text(bytes, $0) } == ["12345", "96110", "９６１１０"])
        #expect(scalarRanges(subject, m2) == [8..<13, 17..<22, 23..<28])

        let han = try Pattern(#"\p{Han}{2,}"#)
        let m3 = try han.matches(in: subject, using: scratch)
        #expect(m3.map { text(bytes, $0) } == ["案件编号", "请拨打"])
        #expect(scalarRanges(subject, m3) == [1..<5, 14..<17])
    }

    @Test func caselessAppliesOnlyWhenAsked() throws {
        let scratch = MatchScratch()
        let subject = "请下载APP，再下载App和app"
        let plain = try Pattern("app")
        let caseless = try Pattern("app", options: .caseless)
        #expect(scalarRanges(subject, try plain.matches(in: subject, using: scratch)) == [14..<17])
        #expect(scalarRanges(subject, try caseless.matches(in: subject, using: scratch)) == [3..<6, 10..<13, 14..<17])
        // Caseless is Unicode-aware (UTF + UCP): Greek and Cyrillic fold too.
        let greek = try Pattern("σοφία", options: .caseless)
        #expect(try greek.matches(in: "ΣΟΦΊΑ", using: scratch) == [0..<10])
    }

    @Test func dotAllAndMultiline() throws {
        let scratch = MatchScratch()
        let subject = "验证码\n告诉我"
        #expect(try Pattern("验证码.告诉我").matches(in: subject, using: scratch).isEmpty)
        #expect(try Pattern("验证码.告诉我", options: .dotAll).matches(in: subject, using: scratch) == [0..<19])
        #expect(try Pattern("^告诉我").matches(in: subject, using: scratch).isEmpty)
        #expect(try Pattern("^告诉我", options: .multiline).matches(in: subject, using: scratch) == [10..<19])
    }

    @Test func invalidUTF8SubjectsNeverCrashAndLaterMatchesAreFound() throws {
        let scratch = MatchScratch()
        let word = Array("安全账户".utf8)
        // A stray continuation byte, bytes that are never UTF-8, a truncated sequence, an
        // overlong form and a UTF-16 surrogate encoded in UTF-8, each followed by a real match.
        let garbage: [[UInt8]] = [[0x80], [0xFF, 0xFE], [0xE5, 0xAE], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]]
        var subject: [UInt8] = []
        var expected: [Range<Int>] = []
        for g in garbage {
            subject += g
            expected.append(subject.count..<(subject.count + word.count))
            subject += word
        }
        subject += [0xE5] // ends in the middle of a character
        let literal = try Pattern("安全账户")
        #expect(try literal.matches(inBytes: subject, using: scratch) == expected)

        // A Han run is cut by the bad bytes: the valid pieces on either side are still found.
        let han = try Pattern(#"\p{Han}+"#)
        let cut = Array("安全".utf8) + [0x80] + Array("账户".utf8) + [0xFF] + Array("转账".utf8)
        #expect(try han.matches(inBytes: cut, using: scratch) == [0..<6, 7..<13, 14..<20])

        // Bad bytes never match anything, not even `.` or a negated class.
        #expect(try Pattern(".").matches(inBytes: [0xFF, 0x80, 0xC0, 0xE5, 0xAE], using: scratch).isEmpty)
        #expect(try Pattern("[^a]").matches(inBytes: [0xFF, 0x61, 0x80], using: scratch).isEmpty)
        #expect(try Pattern(".+").matches(inBytes: [0x61, 0x62, 0xFF, 0x63], using: scratch) == [0..<2, 3..<4])
        // Only garbage: no match, no error.
        #expect(try literal.matches(inBytes: [0xFF, 0xFE, 0xFD, 0x80, 0x80], using: scratch).isEmpty)
    }

    @Test func emptyMatchesStepOverInvalidBytesOneAtATime() throws {
        let scratch = MatchScratch()
        // After an empty match the search moves on by one character; an invalid lead byte is
        // one byte long, so the valid text right after it must still be searched.
        let p = try Pattern("x*")
        let subject: [UInt8] = [0xE5, 0x78, 0x78, 0x61, 0xF0, 0x78]
        let nonEmpty = try p.matches(inBytes: subject, using: scratch).filter { !$0.isEmpty }
        #expect(nonEmpty == [1..<3, 5..<6])
        // Valid multi-byte characters are stepped over whole: no match starts inside one.
        let han = Array("安x全".utf8)
        let all = try p.matches(inBytes: han, using: scratch)
        #expect(all.filter { !$0.isEmpty } == [3..<4])
        for r in all { #expect(r.lowerBound == han.count || han[r.lowerBound] & 0xC0 != 0x80) }
    }

    @Test func emptyAndShortSubjects() throws {
        let scratch = MatchScratch()
        let p = try Pattern("安全账户")
        #expect(try p.matches(in: "", using: scratch).isEmpty)
        #expect(try p.matches(inBytes: [], using: scratch).isEmpty)
        #expect(try p.firstMatch(in: UnsafeBufferPointer(start: nil, count: 0), using: scratch) == nil)
        #expect(try Pattern("^$").matches(in: "", using: scratch) == [0..<0])
        let bytes = Array("安全账户".utf8)
        let results: [Range<Int>?] = try bytes.withUnsafeBufferPointer { buf throws -> [Range<Int>?] in
            [try p.firstMatch(in: buf, from: 0, using: scratch), try p.firstMatch(in: buf, from: 3, using: scratch),
             try p.firstMatch(in: buf, from: 12, using: scratch), try p.firstMatch(in: buf, from: 13, using: scratch)]
        }
        #expect(results == [0..<12, nil, nil, nil])
    }

    @Test func catastrophicBacktrackingIsStoppedByTheMatchLimit() throws {
        let p = try Pattern(#"^(\p{Han}+)+$"#)
        let scratch = MatchScratch()
        let line = String(repeating: "汉", count: 4000) + "!"
        var failure: MatchFailure?
        do {
            _ = try p.matches(in: line, using: scratch)
        } catch {
            failure = error
        }
        let f = try #require(failure, "the search should be stopped, not answer match or no match")
        #expect(f.kind == .matchLimit)
        #expect(f.code == -47)
        #expect(f.description.contains("match limit exceeded"))

        // The same pattern on the same scratch still answers normal questions afterwards.
        let ok = String(repeating: "汉", count: 4000)
        #expect(try p.matches(in: ok, using: scratch) == [0..<12000])
        #expect(try p.matches(in: "abc!", using: scratch).isEmpty)

        // A small limit stops even a short catastrophic line; a plain no-match is never a failure.
        let tight = MatchScratch(matchLimit: 1000)
        #expect(throws: MatchFailure.self) { try p.matches(in: String(repeating: "汉", count: 30) + "!", using: tight) }
        #expect(try Pattern("安全账户").matches(in: String(repeating: "汉", count: 4000), using: tight).isEmpty)
    }

    @Test func catastrophicPatternWithoutJITIsStoppedToo() throws {
        // `(*NO_JIT)` forces the interpreter: it must still match, and its limits must hold as well.
        let p = try Pattern(#"(*NO_JIT)^(\p{Han}+)+$"#)
        #expect(!p.isJIT)
        let scratch = MatchScratch()
        #expect(try p.matches(in: "安全账户", using: scratch) == [0..<12])
        #expect(try p.matches(in: "安全账户!", using: scratch).isEmpty)
        var failure: MatchFailure?
        do { _ = try p.matches(in: String(repeating: "汉", count: 200) + "!", using: scratch) } catch { failure = error }
        let f = try #require(failure)
        #expect([MatchFailure.Kind.matchLimit, .depthLimit, .heapLimit].contains(f.kind))
    }

    @Test(arguments: [
        // pattern, message fragment, byte offset, scalar offset
        ("安全(账户", "missing closing parenthesis", 13, 5),
        ("[账户", "missing terminating ]", 7, 3),
        ("账户)", "unmatched closing parenthesis", 6, 2),
        ("安全账户{3,2}", "out of order", 16, 8),
        ("*转账", "quantifier does not follow a repeatable item", 0, 0),
        (#"转账\p{Hanzi}"#, "unknown property", 15, 11),
    ])
    func compileErrorsCarryPCRE2MessageAndOffset(pattern: String, message: String, byteOffset: Int, scalarOffset: Int) {
        do {
            _ = try Pattern(pattern)
            Issue.record("`\(pattern)` should not compile")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.byteOffset == byteOffset)
            #expect(error.scalarOffset == scalarOffset)
            #expect(error.description == "\(error.message) at offset \(scalarOffset)")
        }
    }

    /// PCRE2's compiled code kept between runs (a compiled rule set's regexes): decoded, a
    /// pattern matches exactly as the one compiled from its source; bytes that are not this
    /// library's code of exactly these sources' options are refused, never decoded into a pattern.
    @Test func serialisedPatternsMatchAsCompiledOnesAndForeignBytesAreRefused() throws {
        let specs: [(source: String, options: Pattern.Options)] = [
            ("安全(账|帐)户", []), ("(?<![\\p{Han}])[a-z]{2,4}\\d+", .caseless), ("转 账 # 空白", .extended), ("(账户)*", .literal),
            ("(*NO_JIT)验证码\\d{4,6}", [])]
        for validSubjects in [true, false] {
            let compiled = try specs.map { try Pattern($0.source, options: $0.options, validSubjects: validSubjects) }
            let bytes = try #require(Pattern.serialized(compiled))
            let decoded = try #require(bytes.withUnsafeBytes { Pattern.deserialized($0, specs: specs, validSubjects: validSubjects) })
            #expect(decoded.map(\.source) == specs.map(\.source) && decoded.map(\.options) == specs.map(\.options))
            #expect(decoded.map(\.isJIT) == compiled.map(\.isJIT) && decoded.map(\.isJIT) == [true, true, true, true, false])
            let scratch = MatchScratch()
            for subject in ["请转入安全账户，安全帐户", "abc123 和ab1，中文xyz99", "转账空白", "(账户)*", "验证码123456", "ABCD12"] {
                for (a, b) in zip(compiled, decoded) {
                    #expect(try a.matches(in: subject, using: scratch) == b.matches(in: subject, using: scratch), "\(a.source) on \(subject)")
                }
            }
            // The same patterns from the other `validSubjects` (other options given to PCRE2), fewer
            // or more specs, other options, other sources' code, a damaged header: refused.
            #expect(bytes.withUnsafeBytes { Pattern.deserialized($0, specs: specs, validSubjects: !validSubjects) } == nil)
            #expect(bytes.withUnsafeBytes { Pattern.deserialized($0, specs: Array(specs.dropLast()), validSubjects: validSubjects) } == nil)
            #expect(bytes.withUnsafeBytes { Pattern.deserialized($0, specs: specs + specs.prefix(1), validSubjects: validSubjects) } == nil)
            var otherOptions = specs
            otherOptions[1].options = []
            #expect(bytes.withUnsafeBytes { Pattern.deserialized($0, specs: otherOptions, validSubjects: validSubjects) } == nil)
            for at in [0, 4, 8, 12] {   // magic, version, configuration, number of codes
                var damaged = bytes
                damaged[at] ^= 0x40
                #expect(damaged.withUnsafeBytes { Pattern.deserialized($0, specs: specs, validSubjects: validSubjects) } == nil, "byte \(at)")
            }
            #expect(Array(bytes.prefix(15)).withUnsafeBytes { Pattern.deserialized($0, specs: specs, validSubjects: validSubjects) } == nil)
        }
        #expect(Pattern.library.hasPrefix("PCRE2 10.") && Pattern.library.hasSuffix(", 8-bit"))
    }

    @Test func compileErrorMessageComesFromPCRE2() {
        #expect(Pattern.message(for: 114).contains("missing closing parenthesis"))
        #expect(Pattern.message(for: -47).contains("match limit"))
        // `\C` is forbidden (it could split a UTF-8 character).
        #expect(throws: PatternCompileError.self) { try Pattern(#"安\C全"#) }
    }

    @Test func samePatternFromManyThreadsGivesIdenticalResults() throws {
        let p = try Pattern(#"(?:安全|国家)账户|\d{5,}|验证码"#)
        var subject = ""
        for i in 0..<2000 { subject += "第\(i)条：请把钱转入安全账户，验证码\(10000 + i)，国家账户！" }
        let expected = try p.matches(in: subject, using: MatchScratch())
        #expect(expected.count == 8000)

        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [[Range<Int>]?] = Array(repeating: nil, count: 16)
            var failures = 0
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let scratch = MatchScratch()
            var mine: [Range<Int>]?
            // Each worker matches several times to overlap with the others.
            for _ in 0..<3 { mine = try? p.matches(in: subject, using: scratch) }
            results.lock.lock()
            results.all[i] = mine
            if mine == nil { results.failures += 1 }
            results.lock.unlock()
        }
        #expect(results.failures == 0)
        for r in results.all { #expect(r == expected) }
    }

    @Test func twoHundredThousandHanCharactersNeedTheBigJITStack() throws {
        let scratch = MatchScratch()
        let subject = String(repeating: "安全账户转账汇款", count: 25_000) // 200 000 Han characters
        let bytes = subject.utf8.count
        #expect(bytes == 600_000)

        let run = try Pattern(#"\p{Han}+"#)
        #expect(run.isJIT)
        #expect(try run.matches(in: subject, using: scratch) == [0..<bytes])

        // A group repeated once per character: each iteration uses JIT stack.
        let group = try Pattern(#"(?:安全|账户|转账|汇款)+"#)
        #expect(try group.matches(in: subject, using: scratch) == [0..<bytes])

        let anchored = try Pattern(#"^(?:\p{Han}\p{Han})+$"#)
        #expect(try anchored.matches(in: subject, using: scratch) == [0..<bytes])

        let last = try Pattern("汇款$")
        #expect(try last.matches(in: subject, using: scratch) == [(bytes - 6)..<bytes])

        // With PCRE2's old 32 KiB JIT stack the same search is stopped, as a failure, not a crash.
        let small = MatchScratch(jitStackSize: 32 * 1024)
        var failure: MatchFailure?
        do { _ = try group.matches(in: subject, using: small) } catch { failure = error }
        #expect(failure?.kind == .jitStackLimit)

        // Every occurrence of a literal across the whole subject.
        #expect(try Pattern("账户转账").matches(in: subject, using: scratch).count == 25_000)
    }
}
