/// Hides personal data in a text before it leaves the tool: phone numbers, bank cards, ID cards,
/// QQ and WeChat ids, links and e-mail addresses; optionally amounts of money and personal names.
///
/// Works on the ORIGINAL text, in Unicode scalar offsets (the offsets of `EvidenceSpan`), so evidence
/// spans can be mapped through the redaction (`Redaction.mapSpan`). Every scalar is looked at through
/// a 1:1 fold (full-width forms → ASCII, ideographic space → space, 〇一二…九/幺 → digits), so
/// `１３８１２３４５６７８` and `幺三八…` are found like `13812345678`, and separators between digits
/// (spaces, `-`, `.`, `/`, brackets …) do not hide a number: `1 3 8 1 2 3 4 5 6 7 8` is one number.
///
/// Ordinary numbers stay: hotlines (96110, 110, 12381), dates, times, prices and any digit run that
/// is not one of the formats below.
package struct Redactor: Sendable {
    package enum Kind: String, Sendable, CaseIterable {
        case mobile, landline, bankCard, idCard, qq, wechat, url, email, amount, name

        /// The labelled placeholder that replaces the hidden text.
        package var placeholder: String {
            switch self {
            case .mobile: return "[手机号]"
            case .landline: return "[座机号]"
            case .bankCard: return "[银行卡号]"
            case .idCard: return "[身份证号]"
            case .qq: return "[QQ号]"
            case .wechat: return "[微信号]"
            case .url: return "[链接]"
            case .email: return "[邮箱]"
            case .amount: return "[金额]"
            case .name: return "[姓名]"
            }
        }
    }

    /// One hidden run: scalar offsets into the original text, end exclusive.
    package struct Match: Sendable, Equatable {
        package let start: Int
        package let end: Int
        package let kind: Kind
        package init(start: Int, end: Int, kind: Kind) { self.start = start; self.end = end; self.kind = kind }
    }

    /// Also hide amounts of money (5000元, ¥3,000, 3万, 三百多万).
    package var amounts: Bool
    /// Also hide personal names (conservative: 刘桂芳女士, 我是李明, 我叫王小军).
    package var names: Bool

    package init(amounts: Bool = false, names: Bool = false) {
        self.amounts = amounts
        self.names = names
    }

    /// The placeholders this redactor can write.
    package var placeholders: [String] {
        Kind.allCases.filter { ($0 != .amount || amounts) && ($0 != .name || names) }.map(\.placeholder)
    }

    /// A redacted text, with what it hid and how offsets moved.
    package struct Redaction: Sendable {
        package let original: String
        package let text: String
        /// In the original text, sorted, non-overlapping.
        package let matches: [Match]

        /// Where an original offset that starts a span lands: inside a hidden run → the placeholder's start.
        package func mapStart(_ p: Int) -> Int {
            var delta = 0
            for m in matches {
                if m.end <= p { delta += m.kind.placeholder.unicodeScalars.count - (m.end - m.start) }
                else if m.start < p { return m.start + delta }
                else { break }
            }
            return p + delta
        }

        /// Where an original offset that ends a span lands: inside a hidden run → the placeholder's end.
        package func mapEnd(_ p: Int) -> Int {
            var delta = 0
            for m in matches {
                if m.end <= p { delta += m.kind.placeholder.unicodeScalars.count - (m.end - m.start) }
                else if m.start < p { return m.start + delta + m.kind.placeholder.unicodeScalars.count }
                else { break }
            }
            return p + delta
        }

        /// A span of the original text as a span of the redacted text: a span that overlaps a hidden
        /// run covers its whole placeholder; its `text` is the redacted text it covers.
        package func mapSpan(_ s: EvidenceSpan) -> EvidenceSpan {
            let a = mapStart(s.start), b = max(mapStart(s.start), mapEnd(s.end))
            let scalars = Array(text.unicodeScalars)
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[min(a, scalars.count)..<min(b, scalars.count)])
            return EvidenceSpan(turn: s.turn, start: a, end: b, text: String(v))
        }
    }

    /// Redacts one text.
    package func redact(_ text: String) -> Redaction {
        let ms = matches(in: text)
        if ms.isEmpty { return Redaction(original: text, text: text, matches: []) }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var pos = 0
        for m in ms {
            out.append(contentsOf: scalars[pos..<m.start])
            out.append(contentsOf: m.kind.placeholder.unicodeScalars)
            pos = m.end
        }
        out.append(contentsOf: scalars[pos...])
        return Redaction(original: text, text: String(out), matches: ms)
    }

    /// The redacted text alone.
    package func apply(_ text: String) -> String { redact(text).text }

    /// A record with every turn (and speaker name) redacted, and its evidence mapped onto the new text.
    package func redact(record: Record, hits: [RuleHit]) -> (record: Record, hits: [RuleHit]) {
        var out = record
        var redactions: [Redaction] = []
        for (i, t) in record.turns.enumerated() {
            let r = redact(t.text)
            redactions.append(r)
            out.turns[i].text = r.text
            out.turns[i].speaker = apply(t.speaker)
        }
        out.id = apply(record.id)
        let mapped = hits.map { h in
            h.with(spans: h.spans.map { s in
                let t = s.turn ?? 0
                return t < redactions.count ? redactions[t].mapSpan(s) : s
            })
        }
        return (out, mapped)
    }

    // MARK: - Finding

    /// Every run to hide, in original scalar offsets: sorted and non-overlapping.
    package func matches(in text: String) -> [Match] {
        let t = Folded(text)
        var found: [Match] = []
        found += t.digitRuns()
        found += t.wechatIDs()
        found += t.links()
        if amounts { found += t.amounts() }
        if names { found += t.names() }
        // Earliest first, the longest of those; a run overlapping one already taken is dropped.
        found.sort { ($0.start, -$0.end) < ($1.start, -$1.end) }
        var out: [Match] = []
        for m in found where m.end > m.start {
            if let last = out.last, m.start < last.end { continue }
            out.append(m)
        }
        return out
    }
}

// MARK: - The folded view of a text

/// A text's scalars folded 1:1 (same offsets): full-width → ASCII, ASCII letters lower-cased,
/// ideographic and no-break spaces → space; and each scalar's digit value (Han digits included).
private struct Folded {
    let s: [UInt32]
    /// The scalars as written (for characters that must really be ASCII, as in a URL).
    let raw: [UInt32]
    let digit: [Int8]
    var n: Int { s.count }

    init(_ text: String) {
        var s: [UInt32] = []
        var d: [Int8] = []
        var raw: [UInt32] = []
        for u in text.unicodeScalars {
            raw.append(u.value)
            var v = u.value
            if v >= 0xFF01 && v <= 0xFF5E { v -= 0xFEE0 }
            if v == 0x3000 || v == 0xA0 || v == 0x09 { v = 0x20 }
            if v >= 0x41 && v <= 0x5A { v += 0x20 }
            s.append(v)
            if v >= 0x30 && v <= 0x39 { d.append(Int8(v - 0x30)) }
            else if let h = Folded.hanDigits[v] { d.append(h) }
            else if v >= 0x80, let digit = Folded.otherDigit(u) { d.append(digit) }
            else { d.append(-1) }
        }
        self.s = s
        self.raw = raw
        self.digit = d
    }

    /// A digit in another script or form that the normaliser folds to one ASCII digit (so rules
    /// read it as a number): ① ⓵ 𝟏 ١ ۱ … Anything the rules can read as a phone number must be
    /// hidden too.
    static func otherDigit(_ u: Unicode.Scalar) -> Int8? {
        let p = u.properties
        guard p.numericType == .decimal || p.numericType == .digit, let n = p.numericValue,
              n >= 0, n <= 9, n == n.rounded(.towardZero) else { return nil }
        return Int8(n)
    }

    static let hanDigits: [UInt32: Int8] = [
        0x3007: 0, 0x96F6: 0, 0x4E00: 1, 0x5E7A: 1, 0x4E8C: 2, 0x4E09: 3, 0x56DB: 4, 0x4E94: 5,
        0x516D: 6, 0x4E03: 7, 0x516B: 8, 0x4E5D: 9,
        // 大写 (financial) digits, simplified and traditional: 壹贰叁肆伍陆柒捌玖, 貳參陸, 两/兩.
        0x58F9: 1, 0x8D30: 2, 0x53C1: 3, 0x8086: 4, 0x4F0D: 5, 0x9646: 6, 0x67D2: 7, 0x634C: 8, 0x7396: 9,
        0x8CB3: 2, 0x53C3: 3, 0x9678: 6, 0x4E24: 2, 0x5169: 2,
    ]

    subscript(i: Int) -> UInt32 { i >= 0 && i < s.count ? s[i] : 0 }

    func isDigit(_ i: Int) -> Bool { i >= 0 && i < n && digit[i] >= 0 }
    func isASCIIDigit(_ i: Int) -> Bool { let c = self[i]; return c >= 0x30 && c <= 0x39 }
    func isLetter(_ i: Int) -> Bool { let c = self[i]; return c >= 0x61 && c <= 0x7A }
    func isAlnum(_ i: Int) -> Bool { isLetter(i) || isASCIIDigit(i) }
    func isHan(_ i: Int) -> Bool { let c = self[i]; return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) }

    /// Does `word` (ASCII lower case or Han) end just before `end`? Spaces and dots between its
    /// characters do not hide it (`微 信`, `Ｑ Ｑ`, `v.x`).
    func hasSuffix(_ word: String, endingAt end: Int) -> Bool { suffixStart(word, endingAt: end) != nil }

    /// Where `word` starts when it ends just before `end` (see `hasSuffix`).
    func suffixStart(_ word: String, endingAt end: Int) -> Int? {
        let w = Array(word.unicodeScalars).map(\.value)
        var i = end
        for (k, c) in w.enumerated().reversed() {
            if k < w.count - 1 {
                var gap = 0
                while gap < 2, i > 0, Folded.labelGaps.contains(self[i - 1]) { i -= 1; gap += 1 }
            }
            guard i > 0, self[i - 1] == c else { return nil }
            i -= 1
        }
        return i
    }

    /// What may stand between the characters of a label word (`微 信`, `Q-Q`, `v·x`).
    static let labelGaps: Set<UInt32> = [0x20, 0x2E, 0x2D, 0x5F, 0x2A, 0xB7, 0x30FB, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF]

    /// Does `word` start at `i`?
    func hasPrefix(_ word: String, at i: Int) -> Bool {
        let w = Array(word.unicodeScalars).map(\.value)
        guard i + w.count <= n else { return false }
        for (k, c) in w.enumerated() where self[i + k] != c { return false }
        return true
    }

    // MARK: Numbers

    /// Separators that may stand between the digits of one number (at most three in a row).
    static let separators: Set<UInt32> = [0x20, 0x2D, 0x2E, 0x5F, 0x2F, 0x7C, 0x7E, 0x28, 0x29, 0xB7, 0x2022,
                                          0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212, 0x30FB, 0x200B]

    /// Whether the scalar at `i` may stand between the digits of one number: the separators above,
    /// and any symbol or emoji (`138🔥1234☎5678`, with its variation selector or joiner).
    func isSeparator(_ i: Int) -> Bool {
        let c = self[i]
        if Folded.separators.contains(c) { return true }
        guard c >= 0x80, let u = Unicode.Scalar(raw[i]) else { return false }
        if c == 0xFE0F || c == 0xFE0E || c == 0x200D || c == 0x20E3 { return true }
        switch u.properties.generalCategory {
        case .otherSymbol, .mathSymbol, .modifierSymbol, .currencySymbol, .dashPunctuation: return true
        default: return u.properties.isEmojiPresentation
        }
    }

    /// Past the marks that make the last digit a keycap emoji (`8️⃣`).
    func keycapEnd(_ end: Int) -> Int {
        var e = end
        while e < n, self[e] == 0xFE0F || self[e] == 0x20E3 { e += 1 }
        return e
    }

    enum Cue { case qq, wechat, card }

    /// A QQ, WeChat or bank-account word just before `start`, past a few filler characters
    /// (`QQ号：`, `微信是 `, `卡号是`); the nearest word wins, but `QQ账号` is QQ.
    func cue(before start: Int) -> Cue? {
        let fillers: Set<UInt32> = [0x20, 0x3A, 0x3D, 0x28, 0x29, 0x2D, 0x53F7 /*号*/, 0x7801 /*码*/, 0x662F /*是*/, 0x4E3A /*为*/,
                                    0x7FA4 /*群*/, 0x52A0 /*加*/, 0x8D26 /*账*/, 0x5E10 /*帐*/, 0x3001 /*、*/]
        func chatWord(endingAt i: Int) -> Cue? {
            if let q = suffixStart("qq", endingAt: i), !isLetter(q - 1) { return .qq }
            if hasSuffix("扣扣", endingAt: i) || hasSuffix("企鹅", endingAt: i) { return .qq }
            for w in Folded.wechatHanCues where hasSuffix(w, endingAt: i) { return .wechat }
            for w in Folded.wechatASCIICues {
                if let a = suffixStart(w, endingAt: i), !isLetter(a - 1) { return .wechat }
            }
            // `V：kefu8888`, `v:` — a lone v only with a colon after it.
            if i > 0, self[i - 1] == 0x76, !isLetter(i - 2), self[i] == 0x3A { return .wechat }
            return nil
        }
        var i = start
        var skipped = 0
        while true {
            if let c = chatWord(endingAt: i) { return c }
            for w in Folded.cardCues where hasSuffix(w, endingAt: i) {
                return chatWord(endingAt: i - w.unicodeScalars.count) ?? .card
            }
            guard skipped < 6, i > 0, fillers.contains(self[i - 1]) else { return nil }
            i -= 1
            skipped += 1
        }
    }

    static let cardCues = ["卡号", "账号", "帐号", "银行卡", "账户", "帐户"]
    static let wechatHanCues = ["微信", "薇信", "威信", "维信", "v信", "微x", "徽信", "喂信", "魏信", "伟信", "卫星号", "绿泡泡"]
    static let wechatASCIICues = ["vx", "wx", "wechat", "weixin", "vx号", "weix"]

    /// Phone numbers, bank cards, ID cards, and QQ / WeChat numbers after their cue words.
    func digitRuns() -> [Redactor.Match] {
        var out: [Redactor.Match] = []
        var i = 0
        while i < n {
            guard isDigit(i) else { i += 1; continue }
            // A number: chunks of digits, joined by short runs of separators.
            var chunks: [(start: Int, end: Int)] = []
            var j = i
            while true {
                let cs = j
                while isDigit(j) { j += 1 }
                chunks.append((cs, j))
                var k = j, seps = 0
                while k < n, seps < 4, isSeparator(k) { k += 1; seps += 1 }
                if seps > 0 && isDigit(k) { j = k } else { break }
            }
            let xAt: Int? = (self[j] == 0x78 && !isAlnum(j + 1)) ? j : nil   // 18th character of an ID card
            out += classify(chunks: chunks, xAt: xAt)
            i = j
        }
        return out
    }

    /// Splits one number into hidden runs. A QQ, WeChat or account word claims the number right after
    /// it (a QQ number 5–11 digits, a WeChat id 5–20, an account 8–19: `卡号是六二幺七零零三九幺`);
    /// otherwise stretches of whole chunks that are a known format are hidden, longest first
    /// (a longer stretch hides more), then mobile, ID card, landline, bank card.
    func classify(chunks: [(start: Int, end: Int)], xAt: Int?) -> [Redactor.Match] {
        var out: [Redactor.Match] = []
        let digits: [[Int8]] = chunks.map { c in (c.start..<c.end).map { digit[$0] } }
        var first = 0
        if let cue = cue(before: chunks[0].start) {
            let (least, most): (Int, Int) = cue == .qq ? (5, 11) : cue == .wechat ? (5, 20) : (8, 19)
            var count = 0
            var best: Int?
            for b in 0..<chunks.count {
                count += digits[b].count
                if count > most { break }
                if count >= least { best = b }
            }
            if let b = best {
                let kind: Redactor.Kind = cue == .qq ? .qq : cue == .wechat ? .wechat : .bankCard
                out.append(Redactor.Match(start: chunks[0].start, end: keycapEnd(chunks[b].end), kind: kind))
                first = b + 1
            }
        }
        struct Candidate { let a: Int, b: Int, length: Int, kind: Redactor.Kind }
        let rank: [Redactor.Kind: Int] = [.mobile: 0, .idCard: 1, .landline: 2, .bankCard: 3]
        var candidates: [Candidate] = []
        for a in first..<max(first, chunks.count) {
            var joined: [Int8] = []
            for b in a..<chunks.count {
                joined += digits[b]
                if joined.count > 22 { break }
                guard joined.count >= 10 else { continue }
                if let kind = Folded.kind(of: joined, x: b == chunks.count - 1 && xAt != nil) {
                    candidates.append(Candidate(a: a, b: b, length: joined.count, kind: kind))
                }
            }
        }
        candidates.sort { ($1.length, rank[$0.kind]!, $0.a) < ($0.length, rank[$1.kind]!, $1.a) }
        var used = [Bool](repeating: false, count: chunks.count)
        for c in candidates where !(c.a...c.b).contains(where: { used[$0] }) {
            for k in c.a...c.b { used[k] = true }
            var start = chunks[c.a].start
            var end = chunks[c.b].end
            if c.kind == .idCard && c.length == 17, let x = xAt { end = x + 1 }
            end = keycapEnd(end)
            if self[start - 1] == 0x2B { start -= 1 }   // +86
            if self[start - 1] == 0x28 && (start..<end).contains(where: { self[$0] == 0x29 }) { start -= 1 }   // (010)
            out.append(Redactor.Match(start: start, end: end, kind: c.kind))
        }
        return out
    }

    /// What a digit string is, if it is something to hide. `x`: an `X` follows the digits.
    static func kind(of d: [Int8], x: Bool) -> Redactor.Kind? {
        if x && d.count == 17 && idDate(d, at: 6, fullYear: true) && d[0] >= 1 { return .idCard }
        var m = d[...]
        if m.count == 13 && m.starts(with: [8, 6]) { m = m.dropFirst(2) }
        else if m.count == 15 && m.starts(with: [0, 0, 8, 6]) { m = m.dropFirst(4) }
        if m.count == 11 && m.first == 1 && (3...9).contains(m[m.startIndex + 1]) { return .mobile }
        if d.count == 18 && d[0] >= 1 && idDate(d, at: 6, fullYear: true) { return .idCard }
        if d.count == 15 && d[0] >= 1 && idDate(d, at: 6, fullYear: false) { return .idCard }
        if d.first == 0 && d.count >= 10 && d.count <= 12 && d[1] != 0 { return .landline }
        if d.count == 10 && (d.starts(with: [4, 0, 0]) || d.starts(with: [8, 0, 0])) { return .landline }
        if d.count >= 16 && d.count <= 19 { return .bankCard }
        return nil
    }

    /// A plausible birth date at `at`: yyyymmdd (18xx–20xx) or yymmdd.
    static func idDate(_ d: [Int8], at: Int, fullYear: Bool) -> Bool {
        var k = at
        if fullYear {
            let century = Int(d[k]) * 10 + Int(d[k + 1])
            guard (18...20).contains(century) else { return false }
            k += 2
        }
        k += 2
        let month = Int(d[k]) * 10 + Int(d[k + 1])
        let day = Int(d[k + 2]) * 10 + Int(d[k + 3])
        return (1...12).contains(month) && (1...31).contains(day)
    }

    // MARK: WeChat ids, links

    /// `微信：abc_123`, `vx kefu8888`, `wxid_xxx`: a letter-led id after a WeChat word.
    func wechatIDs() -> [Redactor.Match] {
        var out: [Redactor.Match] = []
        var i = 0
        while i < n {
            defer { i += 1 }
            guard isLetter(i) && !isLetter(i - 1) && !isASCIIDigit(i - 1) else { continue }
            if hasPrefix("wxid_", at: i) {
                // the id itself
            } else if cue(before: i) != .wechat {
                continue
            }
            var j = i
            while isAlnum(j) || self[j] == 0x5F || self[j] == 0x2D { j += 1 }
            if self[j] == 0x2E && isAlnum(j + 1) { continue }   // a domain: left to links()
            if self[j] == 0x40 { continue }                       // an e-mail address
            guard j - i >= 5 && j - i <= 30 else { continue }
            out.append(Redactor.Match(start: i, end: j, kind: .wechat))
            i = j
        }
        return out
    }

    static let tlds: Set<String> = [
        "com", "cn", "net", "org", "top", "xyz", "vip", "cc", "club", "info", "site", "online", "shop", "app",
        "io", "me", "co", "tk", "ml", "ga", "cf", "gq", "wang", "ren", "link", "ltd", "icu", "fun", "pro", "biz",
        "tv", "hk", "asia", "work", "live", "cloud", "store", "tech", "space", "website", "win", "bid", "loan",
        "men", "ink", "mobi", "kim", "xin", "cyou", "buzz", "sbs", "life", "world", "today", "group", "news",
        "pw", "la", "ws", "ru", "us", "uk", "jp", "kr", "tw", "mo", "sg", "gov", "edu", "bet", "cash", "money",
        "finance", "bank", "games", "vin", "zone", "run", "one", "best", "plus", "chat",
    ]

    func isURLChar(_ i: Int) -> Bool {
        guard i >= 0 && i < n else { return false }
        let c = raw[i]
        // full-width letters, digits, `．`, `／`, `：` are folded; other full-width punctuation ends a URL
        if (0xFF10...0xFF1A).contains(c) || (0xFF21...0xFF3A).contains(c) || (0xFF41...0xFF5A).contains(c) || c == 0xFF0E || c == 0xFF0F { return true }
        guard c > 0x20 && c < 0x7F else { return false }
        return !"\"<>\\^`{|}".unicodeScalars.contains { $0.value == c }
    }

    func isHostChar(_ i: Int) -> Bool { isAlnum(i) || self[i] == 0x2D }

    /// The end of a URL's tail starting at `i` (path, query, port), trailing punctuation left out.
    func urlTail(from i: Int) -> Int {
        var j = i
        while isURLChar(j) { j += 1 }
        while j > i, ".,;:!?')]".unicodeScalars.contains(where: { $0.value == self[j - 1] }) { j -= 1 }
        return j
    }

    /// http(s)://…, www.…, bare domains with a known top-level domain (abc-xyz.top/…), e-mail addresses.
    func links() -> [Redactor.Match] {
        var out: [Redactor.Match] = []
        var i = 0
        while i < n {
            if (hasPrefix("http://", at: i) || hasPrefix("https://", at: i)) && !isLetter(i - 1) {
                let j = max(urlTail(from: i), i + 7)
                out.append(Redactor.Match(start: i, end: j, kind: .url))
                i = j
                continue
            }
            // A host name: labels of letters, digits and '-', joined by '.'.
            guard isHostChar(i), !isHostChar(i - 1), self[i - 1] != 0x2E else { i += 1; continue }
            var labels: [(start: Int, end: Int)] = []
            var j = i
            while true {
                let ls = j
                while isHostChar(j) { j += 1 }
                labels.append((ls, j))
                if self[j] == 0x2E && isHostChar(j + 1) { j += 1 } else { break }
            }
            var hostEnd: Int?
            if labels.count >= 2 {
                for k in stride(from: labels.count - 1, through: 1, by: -1) {
                    let l = labels[k]
                    let tld = String(String.UnicodeScalarView((l.start..<l.end).compactMap { Unicode.Scalar(self[$0]) }))
                    if Folded.tlds.contains(tld) { hostEnd = l.end; break }
                }
            }
            let www = hasPrefix("www.", at: i) && labels.count >= 2
            guard let end = hostEnd ?? (www ? labels.last!.end : nil) else { i = j; continue }
            // e-mail: local@host
            if self[i - 1] == 0x40 {
                var s = i - 1
                while s > 0, isAlnum(s - 1) || ".-_+%".unicodeScalars.contains(where: { $0.value == self[s - 1] }) { s -= 1 }
                if s < i - 1 {
                    out.append(Redactor.Match(start: s, end: end, kind: .email))
                    i = end
                    continue
                }
            }
            var e = end
            if self[e] == 0x3A && isASCIIDigit(e + 1) { e += 1; while isASCIIDigit(e) { e += 1 } }   // :port
            if self[e] == 0x2F || self[e] == 0x3F || self[e] == 0x23 { e = max(e, urlTail(from: e)) }
            out.append(Redactor.Match(start: i, end: e, kind: .url))
            i = e
        }
        return out
    }

    // MARK: Amounts, names

    static let hanNumerals: Set<UInt32> = Set("零〇一二两三四五六七八九十百千万亿几".unicodeScalars.map(\.value))
    static let hanLeading: Set<UInt32> = Set("一二两三四五六七八九十几".unicodeScalars.map(\.value))
    static let approx: Set<UInt32> = Set("多余来".unicodeScalars.map(\.value))
    /// After 万/千/百/亿 these make a count of things, not money.
    static let notMoney: Set<UInt32> = Set("人个次名户条字步里米件份张家年天粉赞岁位倍分秒公".unicodeScalars.map(\.value))

    /// 5000元, ¥3,000, 3万, 2.5万元, 三百多万, 二十来万, RMB 800, 人民币5000.
    func amounts() -> [Redactor.Match] {
        var out: [Redactor.Match] = []
        var i = 0
        while i < n {
            // Digits.
            if isASCIIDigit(i) && !isASCIIDigit(i - 1) && (!isLetter(i - 1) || hasSuffix("rmb", endingAt: i)) {
                var start = i
                var prefixed = false
                var p = i
                while p > 0 && self[p - 1] == 0x20 && i - p < 2 { p -= 1 }
                if self[p - 1] == 0xA5 || self[p - 1] == 0xFFE5 || self[p - 1] == 0x24 { start = p - 1; prefixed = true }
                else if hasSuffix("rmb", endingAt: p) { start = p - 3; prefixed = true }
                else if hasSuffix("人民币", endingAt: p) { prefixed = true }
                var j = i
                while isASCIIDigit(j) || (self[j] == 0x2C && isASCIIDigit(j + 1) && isASCIIDigit(j - 1)) { j += 1 }
                if self[j] == 0x2E && isASCIIDigit(j + 1) { j += 1; while isASCIIDigit(j) { j += 1 } }
                var k = j
                if Folded.approx.contains(self[k]) { k += 1 }
                var unit = false
                if "万千百亿wk".unicodeScalars.contains(where: { $0.value == self[k] }) && !Folded.notMoney.contains(self[k + 1]) && !isLetter(k + 1) {
                    k += 1; unit = true
                    if self[k] == 0x4E07 { k += 1 }   // 千万, 百万
                    if isASCIIDigit(k) && !isASCIIDigit(k + 1) && !Folded.notMoney.contains(self[k + 1]) { k += 1 }   // 2万8: the next unit down
                    if Folded.approx.contains(self[k]) { k += 1 }   // 5万多, 10万余元
                }
                var m = k
                while self[m] == 0x20 && m - k < 1 { m += 1 }
                var currency = false
                for w in ["元", "块钱", "块", "圆", "美元", "美金", "rmb", "usdt"] where hasPrefix(w, at: m) {
                    m += w.unicodeScalars.count; currency = true; break
                }
                if currency { k = m }
                if prefixed || currency || unit {
                    out.append(Redactor.Match(start: start, end: k, kind: .amount))
                    i = k
                    continue
                }
                i = j
                continue
            }
            // Han numerals.
            if Folded.hanLeading.contains(self[i]) && !Folded.hanNumerals.contains(self[i - 1]) {
                var j = i
                var lastNumeral = i
                while Folded.hanNumerals.contains(self[j]) || (Folded.approx.contains(self[j]) && j > i) {
                    if Folded.hanNumerals.contains(self[j]) { lastNumeral = j }
                    j += 1
                }
                var k = lastNumeral + 1
                if Folded.approx.contains(self[k]) { k += 1 }
                var currency = false
                for w in ["元", "块钱", "块"] where hasPrefix(w, at: k) { k += w.unicodeScalars.count; currency = true; break }
                let big = (i...lastNumeral).contains { self[$0] == 0x4E07 || self[$0] == 0x4EBF }   // 万 亿: 四万八, 三百多万
                let long = lastNumeral > i
                if (currency && (long || self[i] != 0x4E00)) || (big && long && !Folded.notMoney.contains(self[lastNumeral + 1])) {
                    out.append(Redactor.Match(start: i, end: currency ? k : lastNumeral + 1, kind: .amount))
                    i = k
                    continue
                }
                i = max(j, i + 1)
                continue
            }
            i += 1
        }
        return out
    }

    static let surnames: Set<UInt32> = Set(("王李张刘陈杨黄赵吴周徐孙朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏吕丁"
        + "任沈姚卢姜崔钟谭陆汪范金廖贾夏韦付方邹孟熊秦邱江尹薛闫段雷侯史陶黎贺顾毛郝龚邵钱严覃戴莫孔汤"
        + "庞樊兰殷施陈洪龙牛温芦季俞章鲁葛伍申尤毕聂柴焦阎齐康蒲").unicodeScalars.map(\.value))
    static let compoundSurnames = ["欧阳", "司马", "诸葛", "上官", "司徒", "慕容", "令狐", "皇甫", "东方", "尉迟"]
    /// Characters that are not part of a given name here (titles, pronouns, particles, verbs).
    static let notGiven: Set<UInt32> = Set(("先生女士警官经理老师主任总局队科处部长姐哥叔姨师医律客服专员"
        + "的了在是你我他她们吗呢吧啊呀和跟给要说就也都还从来去过到会能想叫请让对把被向这那个家人同学"
        + "公司银行平台中心办案民警察官员工作董總經長師務群组組店厂區区").unicodeScalars.map(\.value))
    static let titles = ["先生", "女士", "警官", "小姐"]

    /// 刘桂芳女士, 李建国警官; 我是李明, 我叫王小军, 名叫张伟: a surname and one or two more Han characters.
    func names() -> [Redactor.Match] {
        var out: [Redactor.Match] = []
        func surnameLength(at i: Int) -> Int {
            for c in Folded.compoundSurnames where hasPrefix(c, at: i) { return 2 }
            return Folded.surnames.contains(self[i]) ? 1 : 0
        }
        func givenOK(_ a: Int, _ b: Int) -> Bool { (a..<b).allSatisfy { isHan($0) && !Folded.notGiven.contains(self[$0]) } }
        var taken = -1
        // Before a title: prefer a three-character name, then two.
        for i in 0..<n {
            guard Folded.titles.contains(where: { hasPrefix($0, at: i) }) else { continue }
            for len in [4, 3, 2] where i - len >= 0 && i - len > taken {
                let s = i - len
                let sl = surnameLength(at: s)
                guard sl > 0, len - sl >= 1, len - sl <= 2, givenOK(s + sl, i) else { continue }
                if len == 4 && sl != 2 { continue }
                out.append(Redactor.Match(start: s, end: i, kind: .name))
                taken = i
                break
            }
        }
        // After 我是 / 我叫 / 名叫 / 叫做 …: a name followed by a boundary or a title.
        for cueWord in ["我是", "我叫", "名叫", "叫做", "他叫", "她叫", "本人"] {
            var i = 0
            while i < n {
                defer { i += 1 }
                guard hasPrefix(cueWord, at: i) else { continue }
                let s = i + 2
                let sl = surnameLength(at: s)
                guard sl > 0 else { continue }
                for glen in [2, 1] {
                    let e = s + sl + glen
                    guard e <= n, givenOK(s + sl, e) else { continue }
                    let boundary = e == n || !isHan(e) || Folded.titles.contains(where: { hasPrefix($0, at: e) })
                        || "啊呀，。".unicodeScalars.contains(where: { $0.value == self[e] })
                    guard boundary else { continue }
                    out.append(Redactor.Match(start: s, end: e, kind: .name))
                    break
                }
            }
        }
        return out
    }
}
