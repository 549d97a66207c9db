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

@inline(__always)
func isDigitRunMember(_ c: UInt32) -> Bool {
    isASCIIDigit(c) || chineseDigitValue(c) != nil
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
