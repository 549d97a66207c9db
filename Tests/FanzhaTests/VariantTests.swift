import Foundation
import Testing
@testable import Fanzha

// Issue 18, item 2: the variant dictionary (rules/variants.txt) and `exact("…")`.

private let dictionary = """
# test dictionary
刷单 = sd, 刷蛋, shua dan
刷单 != sd卡, sd card
公安 = ga, 攻安
微信 = vx, v信，威信
"""

private func variantScanner(_ rules: String, usePrefilter: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> RuleScanner {
    let r = RuleCompiler.compile(files: [(path: "t.fz", data: Data(rules.utf8))], variants: [(path: "variants.txt", data: Data(dictionary.utf8))])
    #expect(r.errors.isEmpty, "\(r.errors.map(\.message))", sourceLocation: sourceLocation)
    return try RuleScanner(rules: try #require(r.ruleSet, sourceLocation: sourceLocation), usePrefilter: usePrefilter)
}

private func spanTexts(_ s: RuleScanner, _ id: String, _ text: String) -> [String]? {
    fires(s, id, Record(id: "m", text: text))?.map(\.text)
}

@Suite("Evasion: variant dictionary")
struct VariantTests {
    static let rules = ruleText("brush", match: "\"刷单\"") + ruleText("police", match: "\"公安局\"")
        + ruleText("wechat", match: "\"加微信\"") + ruleText("exact", match: "exact(\"刷单\")")
        + "terms chats = \"微信\", \"qq\"\n" + ruleText("chat", match: "chats")

    @Test("a literal matches its variants, and the evidence is the variant as written", arguments: [true, false])
    func variantsMatch(_ prefilter: Bool) throws {
        let s = try variantScanner(Self.rules, usePrefilter: prefilter)
        #expect(spanTexts(s, "brush", "招人刷蛋，日结") == ["刷蛋"])
        #expect(spanTexts(s, "brush", "SD兼职") == ["SD"])
        #expect(spanTexts(s, "brush", "shua dan 日结") == ["shua dan"])
        #expect(spanTexts(s, "police", "我是GA局的") == ["GA局"])
        #expect(spanTexts(s, "police", "我是攻安局的") == ["攻安局"])
        #expect(spanTexts(s, "wechat", "加V信详聊") == ["加V信"])
        #expect(spanTexts(s, "wechat", "加vx123456") == ["加vx"])
        #expect(spanTexts(s, "chat", "我的威信号") == ["威信"])
        #expect(spanTexts(s, "brush", "请刷单") == ["刷单"])
    }

    @Test("Latin variants only match as whole words", arguments: [true, false])
    func latinBoundaries(_ prefilter: Bool) throws {
        let s = try variantScanner(Self.rules, usePrefilter: prefilter)
        for text in ["price in usd", "download the sdk", "gas station", "加vxx"] {
            #expect(spanTexts(s, "brush", text) == nil, "\(text)")
            #expect(spanTexts(s, "police", text + "局") == nil, "\(text)")
            #expect(spanTexts(s, "wechat", text) == nil, "\(text)")
        }
    }

    @Test("a false friend is not its variant: an SD card is not 刷单, with or without the prefilter", arguments: [true, false])
    func falseFriends(_ prefilter: Bool) throws {
        let s = try variantScanner(Self.rules, usePrefilter: prefilter)
        for text in ["学校兼职摄影需要自备相机和SD卡", "相机的sd card满了", "行车记录仪提示SD卡已满"] {
            #expect(spanTexts(s, "brush", text) == nil, "\(text)")
        }
        // The variant elsewhere in the same text is still evidence, and so is the word itself.
        #expect(spanTexts(s, "brush", "买了张SD卡，顺便接个sd兼职") == ["sd"])
        #expect(spanTexts(s, "brush", "SD卡坏了，刷单的钱还没到") == ["刷单"])
    }

    @Test("a false friend that does not begin with one of its word's variants is an error at its line")
    func badFalseFriend() {
        let r = RuleCompiler.compile(files: [(path: "t.fz", data: Data(Self.rules.utf8))],
                                     variants: [(path: "variants.txt", data: Data("刷单 = sd\n刷单 != 存储卡\n".utf8))])
        #expect(r.ruleSet == nil)
        #expect(r.errors.map(\.id.rawValue) == ["syntax"])
        #expect(r.errors.map { r.sources[$0.range.file].lineColumn($0.range.start).line } == [2])
    }

    @Test("exact(\"…\") opts out of the variants")
    func exactOptsOut() throws {
        let s = try variantScanner(Self.rules)
        #expect(spanTexts(s, "exact", "请刷单") == ["刷单"])
        #expect(spanTexts(s, "exact", "请刷蛋") == nil)
        #expect(spanTexts(s, "exact", "sd兼职") == nil)
    }

    @Test("exact parses, prints and formats")
    func exactSyntax() {
        #expect(shape("exact(\"安全账户\") and \"转\"") == "(and exact(\"安全账户\") \"转\")")
        let (_, ds) = parseMatch("exact(安全账户)")
        #expect(ds.contains { $0.id.rawValue == "syntax" })
        let (_, ds2) = parseMatch("exact(\"a\", \"b\")")
        #expect(ds2.contains { $0.id.rawValue == "syntax" })
        let file = ruleText(match: "exact( \"安全账户\" )   or  \"x\"", extra: "  hit \"安全账户\"\n  miss \"无\"\n")
        let (formatted, ds3, _) = RuleFormatter.format(path: "t.fz", text: file)
        #expect(ds3.isEmpty)
        #expect(formatted?.contains("match    exact(\"安全账户\") or \"x\"") == true, "\(formatted ?? "")")
    }

    @Test("a malformed dictionary line is an error at its line")
    func badLine() {
        let r = RuleCompiler.compile(files: [(path: "t.fz", data: Data(Self.rules.utf8))],
                                     variants: [(path: "variants.txt", data: Data("刷单 = sd\n刷蛋\n公安 = ,\n".utf8))])
        #expect(r.ruleSet == nil)
        let lines = r.errors.map { r.sources[$0.range.file].lineColumn($0.range.start).line }
        #expect(r.errors.map(\.id.rawValue) == ["syntax", "empty-literal"])
        #expect(lines == [2, 3])
        #expect(r.errors.allSatisfy { r.sources[$0.range.file].path == "variants.txt" })
    }

    @Test("the bundled dictionary lists at least 150 variants and loads with the rules")
    func bundled() throws {
        let result = try RuleCompiler.compile(paths: [PackageFiles.rulesDirectory])
        let rules = try #require(result.ruleSet)
        #expect(rules.variants.count >= 150)
        #expect(rules.variants.entries["刷单"]?.contains("sd") == true)
        #expect(rules.variants.falseFriends["sd卡"] == "sd")
        #expect(result.warnings.isEmpty && result.errors.isEmpty)
    }

    @Test("a whole word's own variant is kept when its parts' products exceed the cap")
    func wholeWordVariantBeforeProducts() {
        // 8 × 8 spellings of the two parts alone exceed the 48 a literal may take.
        let parts = (1...8).map { "a\($0)" }, others = (1...8).map { "b\($0)" }
        let d = VariantDictionary(entries: ["安全": parts, "账户": others, "安全账户": ["aqzh"]])
        let spellings = d.expand("安全账户").map(\.text)
        #expect(spellings.count == VariantDictionary.maxVariantsPerWord)
        #expect(spellings.contains("aqzh"))
        // Every single replacement comes before any pair.
        #expect(spellings.contains("a1账户") && spellings.contains("安全b8"))
        #expect(spellings.firstIndex(of: "aqzh")! < spellings.firstIndex(of: "a1b1")!)
    }

    /// The bundled dictionary's English words (variants.txt, section 5): a mixed Chinese-English
    /// message reads as its Chinese twin, and a short English word matches only as a whole word.
    @Test("the bundled dictionary reads a mixed English message like its Chinese twin")
    func bundledEnglishWords() throws {
        let result = try RuleCompiler.compile(paths: [PackageFiles.rulesDirectory])
        let rules = try #require(result.ruleSet)
        let screener = try Screener(rules: rules)
        let english = screener.screen(Record(id: "en", text: "I'm in a meeting，有一笔 urgent payment 今天要处理，账户信息我发你，please process ASAP，don't call me"))
        let chinese = screener.screen(Record(id: "zh", text: "我在开会，有一笔紧急付款今天要处理，账户信息我发你，请尽快处理，别给我打电话"))
        #expect(english.level >= .medium && english.category == "boss")
        #expect(chinese.level >= .medium && chinese.category == "boss")
        #expect(Set(english.hits.map(\.rule)) == Set(chinese.hits.map(\.rule)))
        // The evidence is the English as written.
        let busy = try #require(english.hits.first { $0.rule == "boss.busy" })
        #expect(busy.spans.map(\.text).contains("in a meeting"))
        // `pay` (支付) is a whole word: not the start of PayPal.
        #expect(rules.variants.entries["支付"]?.contains("pay") == true)
        let paypal = screener.screen(Record(id: "pp", text: "PayPal账户余额"))
        #expect(!paypal.hits.flatMap(\.spans).contains { $0.text.lowercased() == "pay" })
    }
}
