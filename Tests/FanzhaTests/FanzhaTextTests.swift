import Testing
@testable import FanzhaText

// Tests for the FanzhaText module: the OpenCC binding and the normaliser with its offset map.

/// Normalises `text`, finds `needle` (already normalised) in the result and returns the
/// normalised string and the original scalar range of the first match.
private func match(_ n: Normaliser, _ text: String, _ needle: String) -> (String, Range<Int>?) {
    let t = n.normalise(text)
    let hay = t.bytes
    let pat = Array(needle.utf8)
    guard !pat.isEmpty, hay.count >= pat.count else { return (t.string, nil) }
    for start in 0...(hay.count - pat.count) where hay[start..<(start + pat.count)].elementsEqual(pat) {
        return (t.string, t.originalRange(ofBytes: start..<(start + pat.count)))
    }
    return (t.string, nil)
}

/// The substring of `text` covered by a scalar range.
private func slice(_ text: String, _ r: Range<Int>) -> String {
    let s = Array(text.unicodeScalars)[r]
    var out = String.UnicodeScalarView()
    out.append(contentsOf: s)
    return String(out)
}

/// Checks the invariants every NormalisedText must satisfy.
private func checkInvariants(_ t: NormalisedText, _ original: String) {
    #expect(t.originStart.count == t.bytes.count)
    #expect(t.originalScalarCount == original.unicodeScalars.count)
    var previous: Int32 = 0
    for i in 0..<t.bytes.count {
        #expect(Int(t.originStart[i]) < t.originEnd(ofByte: i))
        #expect(t.originStart[i] >= previous)
        #expect(t.originEnd(ofByte: i) <= t.originalScalarCount)
        previous = t.originStart[i]
    }
    #expect(t.normalisedScalarOffset(ofByte: t.bytes.count) == t.string.unicodeScalars.count)
}

/// Everything for FanzhaText lives under this suite, so `swift test --filter FanzhaTextTests` selects it.
@Suite("FanzhaText")
struct FanzhaTextTests {
    @Suite("OpenCC binding")
    struct OpenCCTests {
        @Test("t2s folds traditional text")
        func convertsTraditional() throws {
            let cc = try TraditionalToSimplified()
            #expect(cc.convert("請將資金轉入安全帳戶") == "请将资金转入安全帐户")
            #expect(cc.convert("您的銀行卡已被凍結，請聯繫客服") == "您的银行卡已被冻结，请联系客服")
            // Phrase-aware: 乾隆 keeps 乾, 乾淨 becomes 干净.
            #expect(cc.convert("乾隆年間衣服很乾淨") == "乾隆年间衣服很干净")
        }

        @Test("simplified, ASCII, empty and NUL pass through")
        func passThrough() throws {
            let cc = try TraditionalToSimplified()
            #expect(cc.convert("") == "")
            #expect(cc.convert("安全账户 ABC 123") == "安全账户 ABC 123")
            #expect(cc.convert("轉\u{0}賬") == "转\u{0}账")
        }

        @Test("a missing configuration throws instead of returning a bad handle")
        func missingConfigThrows() {
            #expect(throws: OpenCCError.self) {
                _ = try TraditionalToSimplified(config: "no-such-config-文件.json")
            }
        }
    }

    @Suite("filler table")
    struct FillerTableTests {
        @Test("the committed filler bits equal what this toolchain's Unicode properties give")
        func committedBitsMatchUnicode() {
            #expect(FillerData.bits == FillerTable.computeBits())
        }
    }

    @Suite("ideograph classes")
    struct IdeographClassTests {
        @Test("an ideograph the compacting pass writes as it is is no digit, filler box or variant")
        func plainIdeographsAreLeftAlone() {
            var special = 0
            for c in UInt32(0x4E00)...0x9FFF {
                if mayBeSpecialIdeograph(c) { special += 1; continue }
                #expect(chineseDigitValue(c) == nil && variantFold(c) == c && c != 0x53E3 && c != 0x56D7, "U+\(String(c, radix: 16))")
            }
            // Most are left alone.
            #expect(special < (0x9FFF - 0x4E00) / 3)
            // Each special one is flagged.
            for c: UInt32 in [0x96F6, 0x4E00, 0x5E7A, 0x4E8C, 0x4E09, 0x56DB, 0x4E94, 0x516D, 0x4E03, 0x516B, 0x4E5D,
                              0x53E3, 0x56D7, 0x5E10, 0x8CEC, 0x56EF, 0x6238] {
                #expect(mayBeSpecialIdeograph(c))
            }
        }
    }

    @Suite("T2S table")
    struct T2STableTests {
        @Test("table maps single characters and leaves simplified ones alone")
        func table() {
            let t = T2STable.shared
            #expect(t.changedCount > 2000)
            #expect(t.lookup(0x8CEC) == 0x8D26)  // 賬 → 账
            #expect(t.lookup(0x9280) == 0x94F6)  // 銀 → 银
            #expect(t.lookup(0x8F49) == 0x8F6C)  // 轉 → 转
            #expect(t.lookup(0x8D26) == 0)  // 账 unchanged
            #expect(t.lookup(0x5B89) == 0)  // 安 unchanged
            #expect(t.lookup(0x41) == 0)  // outside the range
            #expect(Normaliser.t2sTableBuildNanoseconds > 0)
        }
    }

    @Suite("Normaliser")
    struct NormaliserTests {
        let n: Normaliser
        init() throws { n = try Normaliser() }

        /// The engine's regexes are compiled for valid UTF-8 subjects only (`Pattern`'s
        /// `validSubjects`: PCRE2's JIT code does not check what it reads), so every normalised
        /// text must be valid UTF-8: every scalar, alone, between Han characters and as digits' neighbour.
        @Test("every scalar normalises to valid UTF-8")
        func everyScalarNormalisesToValidUTF8() {
            var invalid = 0
            var block = String.UnicodeScalarView()
            for v in UInt32(0)...0x10FFFF {
                guard let c = Unicode.Scalar(v) else { continue }
                block.append(c)
                block.append(v % 3 == 0 ? "汉" : v % 3 == 1 ? "\u{3000}" : "七")
                if block.count >= 1024 || v == 0x10FFFF {
                    let bytes = n.normalise(String(block)).bytes
                    if !String(decoding: bytes, as: UTF8.self).utf8.elementsEqual(bytes) { invalid += 1 }
                    block = String.UnicodeScalarView()
                }
            }
            #expect(invalid == 0)
        }

        @Test("traditional text is simplified with a 1:1 offset map")
        func traditional() {
            let text = "請將資金轉入安全帳戶"
            let t = n.normalise(text)
            #expect(t.string == "请将资金转入安全账户")
            checkInvariants(t, text)
            // Every character maps to its own original position.
            #expect(t.originStart == (0..<10).flatMap { [Int32($0), Int32($0), Int32($0)] })
            #expect(t.bytes.indices.map { t.originEnd(ofByte: $0) } == (1...10).flatMap { [$0, $0, $0] })
            let (_, r) = match(n, text, "安全账户")
            #expect(r == 6..<10)
            #expect(slice(text, r!) == "安全帳戶")
            #expect(match(n, text, "资金").1 == 2..<4)
        }

        @Test("traditional inside mixed text keeps offsets of the surrounding text")
        func traditionalMixed() {
            let text = "【通知】Your帳號\n請於今日匯款到:6222 0200 1234"
            let t = n.normalise(text)
            checkInvariants(t, text)
            #expect(t.string == "【通知】your账号请于今日汇款到:622202001234")  // a line break between Han is dropped
            let (_, r) = match(n, text, "汇款")
            #expect(slice(text, r!) == "匯款")
        }

        @Test("separators between Han characters are dropped, evidence covers them",
              arguments: [
                  ("安 全 账 户", 0..<7),
                  ("安-全-账-户", 0..<7),
                  ("安*全 账|户", 0..<7),
                  ("安　全／账・户", 0..<7),
                  ("安\u{200B}全账户", 0..<5),
                  ("请转入安 全 账 户。", 3..<10),
              ])
        func separators(_ text: String, _ expected: Range<Int>) {
            let t = n.normalise(text)
            checkInvariants(t, text)
            #expect(t.string.contains("安全账户"))
            let (_, r) = match(n, text, "安全账户")
            #expect(r == expected)
            #expect(slice(text, r!).hasPrefix("安") && slice(text, r!).hasSuffix("户"))
        }

        @Test("separators are kept when not between two Han characters (but for spaces beside ASCII)")
        func separatorsKept() {
            #expect(n.normaliseLiteral("hello world") == "hello world")
            // Spaces between Han and an ASCII letter or digit go (EvasionNormaliserTests); a dash stays.
            #expect(n.normaliseLiteral("安全 account") == "安全account")
            #expect(n.normaliseLiteral("a-b 你") == "a-b你")
            #expect(n.normaliseLiteral("安全-account") == "安全-account")
            #expect(n.normaliseLiteral(" 安全 ") == " 安全 ")
            #expect(n.normaliseLiteral("请转账\nokay") == "请转账\nokay")
            // Sentence punctuation between two longer runs of Han is structure (issue 18).
            #expect(n.normaliseLiteral("我是公安局的。请你转账") == "我是公安局的。请你转账")
        }

        @Test("full-width digits and spoken Chinese digits become ASCII",
              arguments: [
                  ("９６１１０", "96110", 0..<5),
                  ("九六幺幺零", "96110", 0..<5),
                  ("请拨打九 六 幺 幺 零", "请拨打96110", 3..<12),
                  ("9 6 1 1 0", "96110", 0..<9),
                  ("幺三八", "138", 0..<3),
                  ("一一零", "110", 0..<3),
                  ("〇一〇", "010", 0..<3),
              ])
        func digits(_ text: String, _ expected: String, _ range: Range<Int>) {
            let t = n.normalise(text)
            checkInvariants(t, text)
            #expect(t.string == expected || t.string.hasSuffix(expected))
            let (_, r) = match(n, text, expected.filter(\.isASCII))
            #expect(r == range)
        }

        @Test("phone numbers with dashes and spaces collapse, decimals stay")
        func phoneNumbers() {
            let text = "客服电话138-1234-5678，退款1.5元"
            let t = n.normalise(text)
            checkInvariants(t, text)
            #expect(t.string == "客服电话13812345678,退款1.5元")
            let (_, r) = match(n, text, "13812345678")
            #expect(r == 4..<17)
            #expect(slice(text, r!) == "138-1234-5678")
            #expect(n.normaliseLiteral("1.5") == "1.5")
            #expect(n.normaliseLiteral("v1.2.3") == "v1.2.3")
        }

        @Test("a text refilled in place is what a fresh one would be, and a copy taken out stays")
        func refilledText() {
            // Long then short then long again (the arrays shrink and grow in place), with
            // Traditional text, digit runs, separators and a text outside the BMP.
            let texts = [String(repeating: "請將資金轉入安全帳戶，客服电话一三八-1234-5678；", count: 40),
                         "短", "", "ＡＰＰ下载 𠀀 三十一", String(repeating: "於是轉賬 x2\n", count: 90)]
            var spare = n.normalise("seed")
            for text in texts {
                let kept = spare.bytes
                let before = spare.string
                let t = n.normalise(text, into: spare)
                #expect(t === spare)
                checkInvariants(t, text)
                let fresh = n.normalise(text)
                #expect(t.bytes == fresh.bytes && t.originStart == fresh.originStart && t.rank == fresh.rank)
                #expect(t.scalarCount == fresh.scalarCount && t.originalScalarCount == fresh.originalScalarCount)
                #expect(String(decoding: kept, as: UTF8.self) == before)
                spare = t
            }
        }

        @Test("the scalar bits written with a text are those of its bytes")
        func scalarBitsWithTheText() {
            // Digit runs (step 6 rewrites them once they end), Traditional text, fillers, a
            // dropped `x`, letters folded, text outside the BMP, and an empty text.
            let texts = ["请将资金转入安全帐戶，客服电话一三八-1234-5678；验证码幺九三七零八", "刷x单 ＡＰＰ下载 𠀀 三十一",
                         "", String(repeating: "於是轉賬 x2\n", count: 90), "【通知】验​证​码"]
            let bits = UnsafeMutablePointer<UInt64>.allocate(capacity: ScalarBits.words)
            let expected = UnsafeMutablePointer<UInt64>.allocate(capacity: ScalarBits.words)
            defer { bits.deallocate(); expected.deallocate() }
            bits.initialize(repeating: ~0, count: ScalarBits.words)  // written over, not added to
            var spare: NormalisedText? = nil
            for text in texts {
                let t = n.normalise(text, into: spare, scalarBits: bits)
                #expect(t.bytes == n.normalise(text).bytes)
                t.bytes.withUnsafeBufferPointer { ScalarBits.fill(expected, from: $0) }
                #expect((0..<ScalarBits.words).allSatisfy { bits[$0] == expected[$0] })
                spare = t
            }
        }

        @Test("a price's 一 before its unit stays text; a spelt-out number with it converts",
              arguments: [
                  ("一类卡800一张", "一类卡800一张"), ("日结300一天", "日结300一天"), ("12一单", "12一单"),
                  ("1三8一", "1381"), ("138幺2345678", "13812345678"), ("一三八一", "1381"),
              ])
        func priceBeforeItsUnit(_ text: String, _ expected: String) {
            let t = n.normalise(text)
            checkInvariants(t, text)
            #expect(t.string == expected)
        }

        @Test("short digit-character runs stay text", arguments: ["一起", "统一", "十一", "万一", "一二", "三十一", "幺"])
        func shortRunsUnchanged(_ word: String) {
            #expect(n.normaliseLiteral(word) == word)
            let t = n.normalise("我们\(word)去")
            #expect(t.string == "我们\(word)去")
        }

        @Test("variant folding after OpenCC")
        func variants() {
            #expect(n.normaliseLiteral("帐户") == "账户")
            #expect(n.normaliseLiteral("帳戶") == "账户")
            #expect(n.normaliseLiteral("賬號") == "账号")
            #expect(n.normaliseLiteral("中囯银行") == "中国银行")
            #expect(n.normaliseLiteral("〇") == "零")
        }

        @Test("width folding, NFKC and case folding")
        func widthFolding() {
            #expect(n.normaliseLiteral("ＡＢＣ") == "abc")
            #expect(n.normaliseLiteral("Ｑ Ｑ号") == "q q号")
            #expect(n.normaliseLiteral("ＶＩＰ会员") == "vip会员")
            #expect(n.normaliseLiteral("①②③") == "123")
            #expect(n.normaliseLiteral("⼈民币") == "人民币")  // Kangxi radical ⼈ U+2F08
            #expect(n.normaliseLiteral("WeChat") == "wechat")
            let text = "Ⅻ号"
            let t = n.normalise(text)
            #expect(t.string == "xii号")
            #expect(t.originalRange(ofBytes: 0..<3) == 0..<1)
            #expect(t.originalRange(ofBytes: 1..<2) == 0..<1)
            #expect(t.originalRange(ofBytes: 3..<6) == 1..<2)
        }

        @Test("invisible characters and controls are dropped, tabs and newlines kept outside Han text")
        func invisibles() {
            let text = "\u{FEFF}转\u{200D}账\u{00AD}到\r\n安全\t账户\u{2060}\u{7}"
            let t = n.normalise(text)
            checkInvariants(t, text)
            #expect(t.string == "转账到安全账户")  // a line break between Han is dropped (issue 18)
            #expect(n.normalise("ok\r\n\tyes").string == "ok\n\tyes")
            let (_, r) = match(n, text, "转账到")
            #expect(r == 1..<6)
            let (_, r2) = match(n, text, "安全账户")
            #expect(slice(text, r2!) == "安全\t账户")
        }

        @Test("empty string")
        func empty() {
            let t = n.normalise("")
            #expect(t.bytes.isEmpty)
            #expect(t.originStart.isEmpty)
            #expect(t.originalScalarCount == 0)
            #expect(t.string == "")
            #expect(t.normalisedScalarOffset(ofByte: 0) == 0)
            #expect(t.originalRange(ofBytes: 0..<0) == 0..<0)
            #expect(n.normaliseLiteral("") == "")
            #expect(n.normalise("\u{200B}\u{FEFF}").bytes.isEmpty)
            #expect(n.normalise("\u{200B}\u{FEFF}").originalScalarCount == 2)
        }

        @Test("normalised scalar offsets")
        func scalarOffsets() {
            let text = "ab安全a账户xyz"
            let t = n.normalise(text)
            #expect(t.string == "ab安全a账户xyz")
            #expect(t.normalisedScalarOffset(ofByte: 0) == 0)
            #expect(t.normalisedScalarOffset(ofByte: 1) == 1)
            #expect(t.normalisedScalarOffset(ofByte: 2) == 2)
            #expect(t.normalisedScalarOffset(ofByte: 5) == 3)
            #expect(t.normalisedScalarOffset(ofByte: 8) == 4)
            #expect(t.normalisedScalarOffset(ofByte: 9) == 5)
            #expect(t.normalisedScalarOffset(ofByte: 15) == 7)
            #expect(t.normalisedScalarOffset(ofByte: t.bytes.count) == 10)
        }

        @Test("a line of 200k Han characters")
        func longLine() {
            let unit = "請將資金轉入安全帳戶"  // 10 traditional characters
            let text = String(repeating: unit, count: 20_000)
            let t = n.normalise(text)
            #expect(t.originalScalarCount == 200_000)
            #expect(t.bytes.count == 600_000)
            #expect(t.string == String(repeating: "请将资金转入安全账户", count: 20_000))
            #expect(t.originalRange(ofBytes: 599_988..<600_000) == 199_996..<200_000)
            #expect(t.normalisedScalarOffset(ofByte: 300_000) == 100_000)
            #expect(t.normalisedScalarOffset(ofByte: 599_997) == 199_999)
            // Simplified input of the same size passes unchanged.
            let simplified = String(repeating: "请将资金转入安全账户", count: 20_000)
            let s = n.normalise(simplified)
            #expect(s.bytes == Array(simplified.utf8))
            #expect(s.originEnd(ofByte: s.bytes.count - 1) == 200_000)
        }

        @Test("every byte maps back inside the original, also for mixed input")
        func invariantsOnMixedInput() {
            let texts = [
                "您好，我是「公安局」的王警官😀。您涉嫌洗錢，請撥打 ０１０－６６２６２１１０ 配合調查！",
                "Dear 客户: 您的ETC已失效,请点击 http://etc-xx.cn 更新……",
                "㈱①\u{FE0F}\u{E0041}ﬁ\u{301}e\u{301}",
                "\u{1}\u{2}\u{1F}",
                "\u{20000}\u{2F800}\u{F900}",
            ]
            for text in texts {
                checkInvariants(n.normalise(text), text)
            }
        }

        @Test("bytes, origins and scalar ranks written in the compacting pass agree with a plain encoding")
        func fusedEncoding() {
            // Each kind of text the one-pass writer handles differently: Han, ASCII, full-width,
            // traditional (per character and by phrase), digit runs (converted or kept, ending
            // the text or not, across a 64-byte rank word), emoji and other astral scalars,
            // combining marks, invisible characters, a replaced invalid UTF-8 sequence, two-byte
            // and multi-scalar NFKC folds.
            let digits = "联系一三八零零一三八零零零客服"
            let texts = [
                "您的账户存在异常，请立即转账到安全账户",
                "ＶＩＰ会员请拨打４００－８８８－９９９９咨询",
                "請立即轉帳到安全賬戶，乾淨的錢不怕查",
                "乾隆年間衣服很乾淨",
                digits, "幺三八", "一二", "号码是一三八零零一三八零零零", "三个人在二楼",
                String(repeating: "安全账户", count: 5) + digits + String(repeating: "转账", count: 30) + "一三八",
                "点击🔥领取🎁红包💰，刷\u{1F600}单返利",
                "安\u{301}全\u{20DD}账户 café naïve",
                "转\u{200B}账\u{FEFF}到\u{2060}安全账户",
                String(decoding: [0xE9, 0xAA, 0x8C, 0xFF, 0xE8, 0xAF, 0x81, 0xC3, 0xE7, 0xA0, 0x81], as: UTF8.self),
                "Ⅻ号㈱①ﬁ ㍻ é ß ø ω",
                "\u{20000}\u{2A6D6}\u{F900}中文",
                "刷#x#单，返 利，【网信通知】下载“会议”app",
                "",
            ]
            for text in texts {
                let t = n.normalise(text)
                checkInvariants(t, text)
                // The plain encoding: each scalar's UTF-8 bytes, all with the origin of its first.
                var bytes: [UInt8] = [], origins: [Int32] = []
                for s in t.string.unicodeScalars {
                    let origin = t.originStart[bytes.count]
                    let utf8 = Array(String(s).utf8)
                    bytes += utf8
                    origins += Array(repeating: origin, count: utf8.count)
                }
                #expect(t.bytes == bytes, "\(text)")
                #expect(t.originStart == origins, "\(text)")
                #expect(t.scalarCount == t.string.unicodeScalars.count)
                var starts = 0
                for i in 0...t.bytes.count {
                    // A byte inside a scalar gives the offset of the scalar after it.
                    #expect(t.normalisedScalarOffset(ofByte: i) == starts, "\(text) byte \(i)")
                    if i < t.bytes.count && t.bytes[i] & 0xC0 != 0x80 { starts += 1 }
                }
            }
            #expect(n.normalise(digits).string == "联系13800138000客服")
            #expect(n.normalise("一二").string == "一二")
            #expect(n.normalise(String(decoding: [0xE9, 0xAA, 0x8C, 0xFF, 0xE8, 0xAF, 0x81], as: UTF8.self)).string == "验证")  // U+FFFD is a filler between Han
        }

        @Test("the Chinese digits pass the quick filter")
        func chineseDigitFilter() {
            for d in "零〇一幺二三四五六七八九".unicodeScalars {
                #expect(chineseDigitValue(d.value) != nil)
                #expect(mayBeChineseDigit(d.value))
            }
            // A filter: most ideographs do not pass it.
            let passed = (UInt32(0x4E00)...0x9FFF).filter(mayBeChineseDigit).count
            #expect(passed < (0x9FFF - 0x4E00) / 4)
        }

        @Test("literals and texts normalise the same way")
        func literalsAgree() {
            let text = "請立即轉帳到安全賬戶"
            let literal = n.normaliseLiteral("转账")
            #expect(literal == "转账")
            #expect(n.normalise(text).string.contains(literal))
            #expect(n.normaliseLiteral("安 全 帐 户") == "安全账户")
        }
    }
}
