// Character classes used by the normaliser. All take a scalar value as UInt32.

/// Step 1: zero-width and invisible characters, dropped. ASCII controls are handled by
/// the caller (everything below U+0020 except \t and \n, plus U+007F).
///
/// The list: C1 controls U+0080–U+009F, soft hyphen U+00AD, combining grapheme joiner
/// U+034F, Arabic letter mark U+061C, Hangul fillers U+115F U+1160 U+3164 U+FFA0, Khmer
/// inherent vowels U+17B4 U+17B5, Mongolian selectors/vowel separator U+180B–U+180F,
/// U+200B–U+200F (zero-width space/joiners, LRM, RLM), bidi embeddings U+202A–U+202E,
/// U+2060–U+2064 (word joiner, invisible operators), bidi isolates and deprecated format
/// characters U+2066–U+206F, variation selectors U+FE00–U+FE0F and U+E0100–U+E01EF,
/// BOM/ZWNBSP U+FEFF, interlinear annotation U+FFF9–U+FFFB, shorthand format controls
/// U+1BCA0–U+1BCA3, musical formatting U+1D173–U+1D17A, tags U+E0000–U+E007F.
@inline(__always)
func isInvisible(_ c: UInt32) -> Bool {
    switch c {
    case 0x80...0x9F, 0xAD, 0x34F, 0x61C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B...0x180F,
         0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x206F, 0x3164,
         0xFE00...0xFE0F, 0xFEFF, 0xFFA0, 0xFFF9...0xFFFB, 0x1BCA0...0x1BCA3,
         0x1D173...0x1D17A, 0xE0000...0xE007F, 0xE0100...0xE01EF:
        return true
    default:
        return false
    }
}

/// CJK ideographs that never change under NFKC (step 2 fast path: no Foundation call).
/// Excludes the compatibility ideographs U+F900–U+FAFF and U+2F800–U+2FA1F, which NFKC
/// maps to unified ideographs.
@inline(__always)
func isUnifiedIdeographFast(_ c: UInt32) -> Bool {
    (c >= 0x3400 && c <= 0x9FFF) || (c >= 0x20000 && c <= 0x3FFFF && !(c >= 0x2F800 && c <= 0x2FA1F))
}

/// Han ideographs for the separator rule (step 5), including 〇 U+3007.
@inline(__always)
func isHan(_ c: UInt32) -> Bool {
    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || c == 0x3007
        || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3FFFF)
}

/// Step 5 separators (checked after width folding, so U+3000 is already a space and
/// full-width ，／－ etc. are already ASCII): space, tab, - _ . · * | / ~ + = , 、 and in
/// addition the look-alikes ・ (U+30FB), • (U+2022), 〜 (U+301C) and the dashes
/// U+2010–U+2015, U+2212.
@inline(__always)
func isSeparator(_ c: UInt32) -> Bool {
    switch c {
    case 0x20, 0x09, 0x2D, 0x5F, 0x2E, 0xB7, 0x2A, 0x7C, 0x2F, 0x7E, 0x2B, 0x3D, 0x2C, 0x3001,
         0x30FB, 0x2022, 0x301C, 0x2010...0x2015, 0x2212:
        return true
    default:
        return false
    }
}

/// Separators that may be dropped between two ASCII digits: spaces and dashes.
@inline(__always)
func isDigitGlue(_ c: UInt32) -> Bool {
    c == 0x20 || c == 0x2D || (c >= 0x2010 && c <= 0x2015) || c == 0x2212
}

@inline(__always)
func isASCIIDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }

/// Step 5: a Han ideograph on one side and an ASCII letter or digit on the other, the Han one not
/// a Chinese digit (周三 100元 stays apart: joined, step 6 would read 三100 as 3100).
@inline(__always)
func hanMeetsASCII(_ a: UInt32, _ b: UInt32) -> Bool {
    (isHan(a) && chineseDigitValue(a) == nil && isASCIILetterOrDigit(b))
        || (isASCIILetterOrDigit(a) && isHan(b) && chineseDigitValue(b) == nil)
}

/// Step 6: the ASCII value of a Chinese/spoken digit (零〇一二三四五六七八九幺), or nil.
@inline(__always)
func chineseDigitValue(_ c: UInt32) -> UInt32? {
    switch c {
    case 0x96F6, 0x3007: return 0x30  // 零 〇
    case 0x4E00: return 0x31  // 一
    case 0x5E7A: return 0x31  // 幺 (spoken "one" in phone numbers)
    case 0x4E8C: return 0x32  // 二
    case 0x4E09: return 0x33  // 三
    case 0x56DB: return 0x34  // 四
    case 0x4E94: return 0x35  // 五
    case 0x516D: return 0x36  // 六
    case 0x4E03: return 0x37  // 七
    case 0x516B: return 0x38  // 八
    case 0x4E5D: return 0x39  // 九
    default: return nil
    }
}

/// A quick filter before `chineseDigitValue`: false for most scalars, true for every Chinese
/// digit (by the low six bits of its value: one shift and test instead of a dozen comparisons
/// for each ideograph of a text).
@inline(__always)
func mayBeChineseDigit(_ c: UInt32) -> Bool {
    // Low six bits of 零 〇 一 幺 二 三 四 五 六 七 八 九: 54 7 0 58 12 9 27 20 45 3 43 29.
    let mask: UInt64 = (1 << 54) | (1 << 7) | (1 << 0) | (1 << 58) | (1 << 12) | (1 << 9)
        | (1 << 27) | (1 << 20) | (1 << 45) | (1 << 3) | (1 << 43) | (1 << 29)
    return (mask &>> UInt64(c & 63)) & 1 != 0
}

/// A quick filter for the compacting pass: false for most ideographs, true for every one that
/// step 4, 5 or 6 may change or drop: the Chinese digits (`chineseDigitValue`), the filler boxes
/// 口 and 囗 (`isFillerBox`) and the variants `variantFold` changes. By the low six bits of its
/// value, as `mayBeChineseDigit`: about three ideographs in four then skip a dozen comparisons.
@inline(__always)
func mayBeSpecialIdeograph(_ c: UInt32) -> Bool {
    // Low six bits of 零 一 幺 二 三 四 五 六 七 八 九: 54 0 58 12 9 27 20 45 3 43 29; of 口 囗:
    // 35 23; of 帐 賬 囯 戸: 16 44 47 56.
    let mask: UInt64 = (1 << 54) | (1 << 0) | (1 << 58) | (1 << 12) | (1 << 9) | (1 << 27) | (1 << 20)
        | (1 << 45) | (1 << 3) | (1 << 43) | (1 << 29) | (1 << 35) | (1 << 23) | (1 << 16) | (1 << 44)
        | (1 << 47) | (1 << 56)
    return (mask &>> UInt64(c & 63)) & 1 != 0
}

/// Step 4: variant folding, applied after Traditional → Simplified. Kept deliberately short:
///
/// | from | to | why |
/// |------|----|-----|
/// | 帐 U+5E10 | 账 U+8D26 | OpenCC t2s gives 帐 for 帳; fraud scripts write 帐户/账户 interchangeably |
/// | 賬 U+8CEC | 账 U+8D26 | safety net if OpenCC leaves it |
/// | 〇 U+3007 | 零 U+96F6 | ideographic zero (inside digit runs it becomes 0 anyway) |
/// | 囯 U+56EF | 国 U+56FD | common variant used to dodge keyword filters (中囯银行) |
/// | 戸 U+6238 | 户 U+6237 | Japanese form of 户 (账戸) |
///
/// 幺 is *not* folded here: it only means "one" inside a digit run (step 6).
@inline(__always)
func variantFold(_ c: UInt32) -> UInt32 {
    switch c {
    case 0x5E10, 0x8CEC: return 0x8D26
    case 0x3007: return 0x96F6
    case 0x56EF: return 0x56FD
    case 0x6238: return 0x6237
    default: return c
    }
}

// MARK: - Evasion (issue 18)

/// Step 1: combining marks, dropped like invisible characters (a U+0301 accent on a Han
/// ideograph, `安́全`, or on a Latin letter): combining diacritical marks U+0300–U+036F and their
/// extensions and supplement U+1AB0–U+1AFF, U+1DC0–U+1DFF, marks for symbols U+20D0–U+20FF
/// (keycap U+20E3, enclosing circle U+20DD), half marks U+FE20–U+FE2F. (The combining
/// grapheme joiner U+034F is already invisible.)
@inline(__always)
func isCombiningMark(_ c: UInt32) -> Bool {
    switch c {
    case 0x300...0x36F, 0x1AB0...0x1AFF, 0x1DC0...0x1DFF, 0x20D0...0x20FF, 0xFE20...0xFE2F:
        return true
    default:
        return false
    }
}

@inline(__always)
func isASCIILetterOrDigit(_ c: UInt32) -> Bool {
    (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A)
}

/// Step 5 fillers: what a run dropped between two Han ideographs may hold besides the
/// separators: anything that is not a letter or a digit. ASCII punctuation and symbols, a
/// newline (vertical text, text split across lines), full stops, colons, quotes and brackets
/// (`。：；！「」()【】`), symbols and emoji (`❤`, `🔥`, `⠀` U+2800), private-use and unassigned
/// code points. Letters of any script and digits (`0-9`, `①`, `〇`) are not fillers.
@inline(__always)
func isFiller(_ c: UInt32, _ table: FillerTable) -> Bool {
    if c < 0x80 {
        // Everything printable that is not a letter or digit, plus \n and \t.
        return c == 0x0A || c == 0x09 || (c >= 0x20 && !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A)))
    }
    if c < 0x10000 { return table.isFiller(c) }
    // Astral: emoji and pictographs, mahjong, cards, legacy computing symbols; else by property.
    if c >= 0x1F000 && c <= 0x1FBFF { return true }
    if c >= 0x20000 && c <= 0x3FFFF { return false }
    return FillerTable.computeFiller(c)
}

/// One bit per BMP scalar: not a letter or digit (Unicode `Alphabetic` and numeric types).
/// Computing it asks Unicode about 64 K scalars (13 million instructions, a tenth of a
/// one-message run's start-up), so the result is committed (`FillerData`) and a test checks it
/// against `computeBits()`.
public final class FillerTable: Sendable {
    static let shared = FillerTable()
    private let bits: [UInt64]

    private init() {
        bits = FillerData.bits.count == 0x10000 / 64 ? FillerData.bits : FillerTable.computeBits()
    }

    /// The table from Unicode's properties.
    static func computeBits() -> [UInt64] {
        var b = [UInt64](repeating: 0, count: 0x10000 / 64)
        var c: UInt32 = 0x80
        while c < 0x10000 {
            // Blocks known to hold only letters (CJK, Yi, Hangul syllables) or no characters
            // (surrogates) are skipped; private use is all filler. The rest asks Unicode.
            switch c {
            case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA48C, 0xAC00...0xD7A3, 0xD800...0xDFFF:
                break
            case 0xE000...0xF8FF:
                b[Int(c >> 6)] |= UInt64(1) << UInt64(c & 63)
            default:
                if FillerTable.computeFiller(c) { b[Int(c >> 6)] |= UInt64(1) << UInt64(c & 63) }
            }
            c += 1
        }
        return b
    }

    @inline(__always)
    func isFiller(_ c: UInt32) -> Bool {
        bits.withUnsafeBufferPointer { ($0[Int(c >> 6)] >> UInt64(c & 63)) & 1 != 0 }
    }

    static func computeFiller(_ c: UInt32) -> Bool {
        if c >= 0xD800 && c <= 0xDFFF { return false }
        guard let s = Unicode.Scalar(c) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.numericType != nil { return false }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber:
            return false
        default:
            return true
        }
    }
}

/// Step 5: whether 口 (U+53E3) or the box 囗 (U+56D7) at `r` sits between two Han ideographs as
/// a filler (`刷口单`, `公囗安`). 囗 always does; 口 when it makes no common word with either
/// neighbour (人口, 口令, 窗口, 三口 … keep it), so real words are not broken, or when another 口
/// was a filler at most four characters before (`诈口骗口出口所`: a text filled with boxes).
@inline(__always)
func isFillerBox(_ c: UInt32, _ r: Int, _ m: Int, _ sc: UnsafeMutablePointer<UInt32>, _ out: Compactor, _ lastBox: Int) -> Bool {
    guard out.w > 0, r &+ 1 < m else { return false }
    let prev = out.last, next = variantFold(sc[r &+ 1])
    guard isHan(prev), isHan(next), next != 0x53E3, prev != 0x53E3 else { return false }
    if c == 0x56D7 || r &- lastBox <= 4 { return true }
    return !kouWordBefore.contains(prev) && !kouWordAfter.contains(next)
}

/// Characters X for which X口 is a common word (人口, 出口, 窗口, 三口 …).
let kouWordBefore: Set<UInt32> = Set("人出入进接端窗门路港关户借开胃伤缺渡街巷洞井河海虎一二两三四五六七八九十几每半满随顺亲改张住闭插创刀风隘裂破袖领切豁枪炮道村闸档可爽适漱糊家牲对藉信脱夸松绕拗哑苦交众灭活红灶码出检收排进通瓶袋袖江湖山谷峡隘病刀疮伤火闸".unicodeScalars.map(\.value))
/// Characters Y for which 口Y is a common word (口令, 口罩, 口袋, 口头 …).
let kouWordAfter: Set<UInt32> = Set("令罩袋头号碑音径语味气才腔红水吻子岸角诀供感福粮算述试舌服交播授误哨渴琴信齿条若内外径蘑腹蹄".unicodeScalars.map(\.value))

/// Look-alike letters that NFKC leaves alone, folded to the lower-case Latin letter they
/// imitate: Cyrillic (`АРР` → `app`), Greek capitals and the clearly Latin-looking small
/// letters, Latin small capitals, and the negative circled / squared letters 🅐 🅰 (NFKC
/// already folds full-width, circled Ⓐ, parenthesised, squared 🄰 and mathematical 𝐀 letters).
@inline(__always)
func confusableLatin(_ c: UInt32) -> UInt32? {
    if c >= 0x1F150 && c <= 0x1F169 { return 0x61 + (c - 0x1F150) }  // negative circled A–Z
    if c >= 0x1F170 && c <= 0x1F189 { return 0x61 + (c - 0x1F170) }  // negative squared A–Z
    guard (c >= 0x262 && c <= 0x51D) || (c >= 0x1D00 && c <= 0x1D22) else { return nil }
    switch c {
    // Cyrillic capitals and small letters.
    case 0x410, 0x430: return 0x61  // А а
    case 0x412, 0x432, 0x44C, 0x42C: return 0x62  // В в ь Ь (b)
    case 0x415, 0x435, 0x401, 0x451: return 0x65  // Е е Ё ё
    case 0x41A, 0x43A: return 0x6B  // К к
    case 0x41C, 0x43C: return 0x6D  // М м
    case 0x41D, 0x43D: return 0x68  // Н н
    case 0x41E, 0x43E: return 0x6F  // О о
    case 0x420, 0x440: return 0x70  // Р р
    case 0x421, 0x441: return 0x63  // С с
    case 0x422, 0x442: return 0x74  // Т т
    case 0x423, 0x443, 0x40E, 0x45E: return 0x79  // У у Ў ў
    case 0x425, 0x445: return 0x78  // Х х
    case 0x406, 0x456: return 0x69  // І і
    case 0x408, 0x458: return 0x6A  // Ј ј
    case 0x405, 0x455: return 0x73  // Ѕ ѕ
    case 0x501: return 0x64  // ԁ
    case 0x51B, 0x51A: return 0x71  // ԛ Ԛ
    case 0x51D, 0x51C: return 0x77  // ԝ Ԝ
    case 0x4BB, 0x4BA: return 0x68  // һ Һ
    case 0x4CF, 0x4C0: return 0x6C  // ӏ Ӏ
    case 0x417: return 0x33  // З (3)
    // Greek capitals and the Latin-looking small letters.
    case 0x391, 0x3B1: return 0x61  // Α α
    case 0x392, 0x3B2: return 0x62  // Β β
    case 0x395, 0x3B5: return 0x65  // Ε ε
    case 0x396: return 0x7A  // Ζ
    case 0x397: return 0x68  // Η
    case 0x399, 0x3B9: return 0x69  // Ι ι
    case 0x39A, 0x3BA: return 0x6B  // Κ κ
    case 0x39C: return 0x6D  // Μ
    case 0x39D: return 0x6E  // Ν
    case 0x3BD: return 0x76  // ν
    case 0x39F, 0x3BF: return 0x6F  // Ο ο
    case 0x3A1, 0x3C1: return 0x70  // Ρ ρ
    case 0x3A4, 0x3C4: return 0x74  // Τ τ
    case 0x3A5, 0x3C5: return 0x75  // Υ υ
    case 0x3A7, 0x3C7: return 0x78  // Χ χ
    // Latin small capitals (ᴀ ʙ ᴄ …).
    case 0x1D00: return 0x61
    case 0x299: return 0x62
    case 0x1D04: return 0x63
    case 0x1D05: return 0x64
    case 0x1D07: return 0x65
    case 0x262: return 0x67
    case 0x29C: return 0x68
    case 0x26A: return 0x69
    case 0x1D0A: return 0x6A
    case 0x1D0B: return 0x6B
    case 0x29F: return 0x6C
    case 0x1D0D: return 0x6D
    case 0x274: return 0x6E
    case 0x1D0F: return 0x6F
    case 0x1D18: return 0x70
    case 0x280: return 0x72
    case 0x1D1B: return 0x74
    case 0x1D1C: return 0x75
    case 0x1D20: return 0x76
    case 0x1D21: return 0x77
    case 0x28F: return 0x79
    case 0x1D22: return 0x7A
    default: return nil
    }
}

/// The kind of a quote or bracket (its bit in the normaliser's kept-brackets mask), opening or
/// closing alike; 0 for anything else.
@inline(__always)
func bracketBit(_ c: UInt32) -> UInt16 {
    switch c {
    case 0x201C, 0x201D: return 1 << 0
    case 0x2018, 0x2019: return 1 << 1
    case 0x300C, 0x300D: return 1 << 2
    case 0x300E, 0x300F: return 1 << 3
    case 0x300A, 0x300B: return 1 << 4
    case 0x3008, 0x3009: return 1 << 5
    case 0x3010, 0x3011: return 1 << 6
    case 0x3014, 0x3015: return 1 << 7
    case 0x3016, 0x3017: return 1 << 8
    case 0x28, 0x29: return 1 << 9
    case 0x5B, 0x5D: return 1 << 10
    case 0x7B, 0x7D: return 1 << 11
    case 0x22: return 1 << 12
    default: return 0
    }
}

/// Opening quotes and brackets: “ ‘ 「 『 《 〈 【 〔 〖 ( [ { and the ASCII `"` (after width folding).
@inline(__always)
func isOpeningMark(_ c: UInt32) -> Bool {
    switch c {
    case 0x201C, 0x2018, 0x300C, 0x300E, 0x300A, 0x3008, 0x3010, 0x3014, 0x3016, 0x28, 0x5B, 0x7B, 0x22: return true
    default: return false
    }
}

/// Closing quotes and brackets: ” ’ 」 』 》 〉 】 〕 〗 ) ] }.
@inline(__always)
func isClosingMark(_ c: UInt32) -> Bool {
    switch c {
    case 0x201D, 0x2019, 0x300D, 0x300F, 0x300B, 0x3009, 0x3011, 0x3015, 0x3017, 0x29, 0x5D, 0x7D: return true
    default: return false
    }
}

/// Sentence punctuation (after width folding): 。 ! ? ; : … and the newline is not one (a line
/// break between two Han ideographs is always dropped: vertical text, text split across lines).
@inline(__always)
func isSentenceMark(_ c: UInt32) -> Bool {
    c == 0x3002 || c == 0x21 || c == 0x3F || c == 0x3B || c == 0x3A || c == 0x2026 || c == 0xFF61
}

/// Step 5: whether the filler run `sc[r..<j]` between two Han ideographs is real structure that
/// rules read, and so is kept: a quote or bracket around two or more characters (“会议”,
/// 【网信通知】; `安全「账」户` encloses one, so it is filler), its closing partner, or sentence
/// punctuation between two runs of three or more Han ideographs (`我是公安局的。你涉嫌洗钱`; the
/// `刷。单。返。利` of a text written around a filter has runs of one).
func structural(_ r: Int, _ j: Int, _ m: Int, _ sc: UnsafeMutablePointer<UInt32>, _ out: Compactor, _ openKept: inout UInt16) -> Bool {
    var keep = false
    var sentence = false
    for x in r..<j {
        let c = sc[x]
        let bit = bracketBit(c)
        if isClosingMark(c) || (c == 0x22 && openKept & bit != 0) {
            if openKept & bit != 0 { keep = true }
            openKept &= ~bit
        } else if isOpeningMark(c) {
            // Find its closing partner within 24 characters; two or more letters inside
            // (other brackets not counted): a word.
            var y = j, inside = 0
            while y < m && y < j &+ 24 && !(bracketBit(sc[y]) == bit && (isClosingMark(sc[y]) || c == 0x22)) {
                if isHan(sc[y]) || isASCIILetterOrDigit(sc[y]) { inside &+= 1 }
                y &+= 1
            }
            if y < m && y < j &+ 24 && inside >= 2 { keep = true; openKept |= bit } else { openKept &= ~bit }
        } else if isSentenceMark(c) {
            sentence = true
        }
    }
    if keep { return true }
    guard sentence else { return false }
    // Han runs on both sides, up to 3.
    var left = 0
    while left < 3 && left < out.w && isHan(out.sc[out.w &- 1 &- left]) { left &+= 1 }
    var right = 0, y = j
    while right < 3 && y < m {
        if isHan(sc[y]) { right &+= 1 } else if !isSeparator(sc[y]) && sc[y] != 0x0A { break }
        y &+= 1
    }
    return left >= 3 && right >= 3
}

/// Step 5, vertical text: whether the line break at `r` ends a line of at most two characters
/// (the previous line break was at `lastNewline`) or starts one (text written one character, or
/// one short word, a line).
@inline(__always)
func isShortLine(_ r: Int, _ lastNewline: Int, _ m: Int, _ sc: UnsafeMutablePointer<UInt32>) -> Bool {
    if r &- lastNewline &- 1 <= 2 { return true }
    var after = 0, y = r &+ 1
    while y < m && sc[y] != 0x0A {
        if sc[y] != 0x20 && sc[y] != 0x09 { after &+= 1; if after > 2 { return false } }
        y &+= 1
    }
    return true
}
