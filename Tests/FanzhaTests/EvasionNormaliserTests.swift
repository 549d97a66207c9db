import Testing
@testable import FanzhaText

// Issue 18, item 1: each trick used to write around keyword filters has its own test. The
// normalised text must read as the plain words, and the words' span must map back to exactly the
// characters of the original text that hid them (Unicode scalar offsets, end exclusive).

/// The normalised text and the original scalar range of the first occurrence of `needle`.
private func find(_ n: Normaliser, _ text: String, _ needle: String) -> (String, Range<Int>?) {
    let t = n.normalise(text)
    let hay = t.bytes, pat = Array(needle.utf8)
    guard hay.count >= pat.count else { return (t.string, nil) }
    for s in 0...(hay.count - pat.count) where hay[s..<(s + pat.count)].elementsEqual(pat) {
        return (t.string, t.originalRange(ofBytes: s..<(s + pat.count)))
    }
    return (t.string, nil)
}

private func slice(_ text: String, _ r: Range<Int>) -> String {
    var v = String.UnicodeScalarView()
    v.append(contentsOf: Array(text.unicodeScalars)[r])
    return String(v)
}

@Suite("Evasion: normaliser")
struct EvasionNormaliserTests {
    let n = try! Normaliser()

    /// (text written around a filter, the words it hides, the original characters that hide them)
    @Test("fillers between Han characters are dropped and offsets map back", arguments: [
        ("请刷❤单返利", "刷单", "刷❤单"),
        ("公🔥检法来电", "公检法", "公🔥检法"),
        ("刷♥️单", "刷单", "刷♥️单"),
        ("刷👨‍👩‍👧单", "刷单", "刷👨‍👩‍👧单"),
        ("刷口单返利", "刷单", "刷口单"),
        ("公囗安局", "公安", "公囗安"),
        ("安；全；账；户", "安全账户", "安；全；账；户"),
        ("安：全：账：户", "安全账户", "安：全：账：户"),
        ("刷!单!返!利", "刷单", "刷!单"),
        ("刷！单", "刷单", "刷！单"),
        ("刷。单。返。利", "刷单返利", "刷。单。返。利"),
        ("安#全#账#户", "安全账户", "安#全#账#户"),
        ("安^全^账^户", "安全账户", "安^全^账^户"),
        ("刷x单", "刷单", "刷x单"),
        ("刷X单", "刷单", "刷X单"),
        ("安\n全\n账\n户", "安全账户", "安\n全\n账\n户"),
        ("安\u{301}全账户", "安全账户", "安\u{301}全账户"),
        ("安\u{2800}全\u{2800}账户", "安全账户", "安\u{2800}全\u{2800}账户"),
        ("安全「账」户", "安全账户", "安全「账」户"),
        ("安全(账)户", "安全账户", "安全(账)户"),
        ("安全【账】户", "安全账户", "安全【账】户"),
        ("安全（账）户", "安全账户", "安全（账）户"),
        ("刷★单", "刷单", "刷★单"),
        ("刷□单", "刷单", "刷□单"),
        ("安全账\r\n户", "安全账户", "安全账\r\n户"),
    ])
    func fillers(_ text: String, _ words: String, _ original: String) {
        expectWords(text, words, hiddenBy: original)
    }

    /// The normalised `text` holds `words`, and their span maps back to `original` in `text`.
    private func expectWords(_ text: String, _ words: String, hiddenBy original: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let (normalised, range) = find(n, text, words)
        #expect(range != nil, "\(text) → \(normalised)", sourceLocation: sourceLocation)
        if let range { #expect(slice(text, range) == original, sourceLocation: sourceLocation) }
    }

    @Test("vertical text: one character a line")
    func vertical() {
        let text = "请\n把\n钱\n转\n到\n安\n全\n账\n户"
        let (normalised, range) = find(n, text, "安全账户")
        #expect(normalised == "请把钱转到安全账户")
        #expect(range.map { slice(text, $0) } == "安\n全\n账\n户")
    }

    @Test("text split across lines")
    func splitLines() {
        let text = "您的银行卡涉嫌洗钱，请转入安全\n账户配合调查"
        let (_, range) = find(n, text, "安全账户")
        #expect(range.map { slice(text, $0) } == "安全\n账户")
    }

    @Test("real words with 口 are kept", arguments: ["人口普查", "验证口令", "请戴口罩", "出入口处", "三口之家", "窗口期", "口袋里"])
    func kouWords(_ text: String) {
        #expect(n.normalise(text).string == text)
    }

    @Test("structure rules read is kept: quoted names, bracketed headers, sentences")
    func structureKept() {
        #expect(n.normalise("请下载“会议”APP").string == "请下载“会议”app")
        #expect(n.normalise("叫做\"含讯畅聊\"的app").string == "叫做\"含讯畅聊\"的app")
        #expect(n.normalise("【网信经办通知】尊敬的用户").string == "【网信经办通知】尊敬的用户")
        #expect(n.normalise("我是公安局的。你涉嫌洗钱").string == "我是公安局的。你涉嫌洗钱")
        #expect(n.normalise("微信x2").string == "微信x2")
        #expect(n.normalise("xx银行").string == "xx银行")
    }

    @Test("look-alike letters fold to Latin", arguments: [
        ("下载АРР", "下载app"),          // Cyrillic А Р Р
        ("下载ΑΡΡ", "下载app"),          // Greek Α Ρ Ρ
        ("下载ＡＰＰ", "下载app"),        // full-width
        ("下载ⒶⓅⓅ", "下载app"),          // circled
        ("下载𝐀𝐏𝐏", "下载app"),          // mathematical bold
        ("下载🅰🅿🅿", "下载app"),          // negative squared
        ("加ᴠx", "加vx"),                // small capital
        ("ＱＱ号", "qq号"),
        ("转账１０００元", "转账1000元"),  // full-width digits
    ])
    func lookAlikes(_ text: String, _ expected: String) {
        #expect(n.normalise(text).string == expected)
    }

    @Test("a look-alike's span maps back to the look-alike")
    func lookAlikeSpan() {
        let text = "请下载АРР领取"
        let (_, range) = find(n, text, "app")
        #expect(range.map { slice(text, $0) } == "АРР")
    }

    /// A message spaced out character by character keeps its Latin and digit parts apart from
    /// the Han ones too: the spaces between a Han ideograph and an ASCII letter or digit go, so
    /// 客服v, 报jing and 充100送50 read as written without the spaces.
    @Test("spaces between Han and ASCII are dropped", arguments: [
        ("领 奖 请 添 加 客 服 V：zj88", "客服v", "客 服 V"),
        ("别 报 jing ，等 我 通 知", "报jing", "报 jing"),
        ("充 100 送 50 ，提 款 秒 到", "充100送50", "充 100 送 50"),
        ("月 入 3W+，包 机 票", "月入3w", "月 入 3W"),
        ("加 vx 详聊", "加vx", "加 vx"),
    ])
    func spacesBetweenHanAndASCII(_ text: String, _ words: String, _ original: String) {
        expectWords(text, words, hiddenBy: original)
    }

    @Test("a Chinese digit keeps its space from an ASCII number, and Latin words keep theirs")
    func spacesKeptBesideChineseDigitsAndBetweenWords() {
        // Joined, step 6 would read 三100 as the number 3100.
        #expect(n.normalise("周三 100元").string == "周三 100元")
        #expect(n.normalise("800 一张").string == "800 一张")
        #expect(n.normalise("in a meeting").string == "in a meeting")
        // Punctuation between them is not a space.
        #expect(n.normalise("客服, v").string == "客服, v")
    }

    @Test("fillers outside Han text are kept")
    func keptOutsideHan() {
        #expect(n.normalise("a❤b").string == "a❤b")
        #expect(n.normalise("1#2").string == "1#2")
        #expect(n.normalise("ok!").string == "ok!")
    }
}
