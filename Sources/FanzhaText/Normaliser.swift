import Foundation

/// Turns a text into the normalised form that rules are matched against, remembering for
/// every normalised byte which original scalar produced it.
///
/// Steps, applied in this order (see the module's documentation in each helper):
/// 1. drop zero-width / invisible characters and C0/C1 controls other than \t and \n;
/// 2. width/compatibility folding (full-width ASCII, U+3000, per-scalar NFKC for other
///    non-ASCII non-ideographs), ASCII letters lowercased;
/// 3. Traditional → Simplified: a per-character table (`T2STable`), plus phrase-aware
///    OpenCC on every line that contains a character the table changes, taken position by
///    position when OpenCC keeps the line's length;
/// 4. variant folding (帐→账 …, `variantFold`);
/// 5. separator runs between two Han ideographs are dropped; spaces/dashes between two
///    ASCII digits are dropped; spaces between a Han ideograph and an ASCII letter or digit
///    are dropped (not next to a Chinese digit, which step 6 would join to the number);
/// 6. runs of 3+ characters from [0-9零〇一二三四五六七八九幺] become ASCII digits (not a lone
///    一 after ASCII digits: 800一张 is a price);
/// 7. newlines are kept.
///
/// Every output scalar comes from exactly one original scalar, and output order follows
/// the original order, which is what makes `NormalisedText.originalRange(ofBytes:)` exact.
///
/// Not thread-safe: it owns an OpenCC converter (opened on first use) and a per-instance NFKC cache. Use one
/// `Normaliser` per worker thread.
public final class Normaliser {
    /// OpenCC, opened on the first line that needs it: opening it reads its phrase dictionaries
    /// (about 29 million instructions), which a run on Simplified text never needs. Nil until
    /// then, and for good if it cannot be opened (the per-character table then converts alone).
    @exclusivity(unchecked) private var converter: TraditionalToSimplified?
    @exclusivity(unchecked) private var converterOpened = false
    private let table: T2STable

    /// NFKC cache for BMP scalars, indexed by scalar value. Encoding: 0 = not computed yet,
    /// low two bits 1 = identity, 2 = one scalar (`v >> 2`), 3 = several (`v >> 2` indexes
    /// `multiFold`).
    /// (The class's state is unchecked for exclusive access: a `Normaliser` is used by one thread
    /// and never re-entered, and each check was a runtime call, several a text.)
    @exclusivity(unchecked) private var foldBMP: [UInt32]
    /// The same for scalars outside the BMP.
    @exclusivity(unchecked) private var foldAstral: [UInt32: UInt32] = [:]
    @exclusivity(unchecked) private var multiFold: [[UInt32]] = []

    /// Step 5's filler class for BMP scalars (1 bit each): not a letter or digit.
    private let fillerBMP: FillerTable

    public init() throws {
        table = T2STable.shared
        foldBMP = [UInt32](repeating: 0, count: 0x10000)
        fillerBMP = FillerTable.shared
    }

    /// Time the process-wide Traditional → Simplified table took to build, in nanoseconds
    /// (builds it if that has not happened yet).
    public static var t2sTableBuildNanoseconds: UInt64 { T2STable.shared.buildNanoseconds }

    /// Normalise a rule literal the same way, so literals and texts agree. Returns the normalised string.
    public func normaliseLiteral(_ s: String) -> String {
        normalise(s).string
    }

    public func normalise(_ text: String) -> NormalisedText {
        var text = text
        return text.withUTF8 { normalise(utf8: $0, into: nil, scalarBits: nil) }
    }

    /// The normalised form of `text`, written into `spare` (an earlier text, which it replaces) and
    /// returned: its arrays are refilled in place, so a text costs no allocation once its memory
    /// has grown to fit (a new one costs four, and four frees). The caller must hold the only
    /// reference to `spare`. Without one, a new text.
    ///
    /// With `scalarBits` (`ScalarBits.words` words), also the text's `ScalarBits`, set as each
    /// scalar is written: a second pass over the bytes cost about 30 instructions a scalar.
    public func normalise(_ text: String, into spare: NormalisedText?, scalarBits: UnsafeMutablePointer<UInt64>? = nil) -> NormalisedText {
        var text = text
        return text.withUTF8 { normalise(utf8: $0, into: spare, scalarBits: scalarBits) }
    }

    deinit {
        scratch.free()
        output.free()
    }

    // MARK: - Implementation

    /// Scalars after steps 1–2 and their origins; reused between calls.
    @exclusivity(unchecked) private var scratch = ScalarBuffer()
    /// The UTF-8 bytes, their origins and the scalar-start bits written by the steps 4–6 pass;
    /// reused between calls.
    @exclusivity(unchecked) private var output = ByteBuffer()

    private func normalise(utf8 u: UnsafeBufferPointer<UInt8>, into spare: NormalisedText?,
                           scalarBits: UnsafeMutablePointer<UInt64>?) -> NormalisedText {
        let n = u.count
        precondition(n < Int(Int32.max), "text too large for 32-bit offsets")
        var buf = scratch
        var bytesOut = output
        defer {
            // Keep the scratch space for the next text unless it is unusually large.
            if buf.capacity > 1 << 20 { buf.free() }
            if bytesOut.capacity > 1 << 22 {
                bytesOut.free()
                bytesOut = ByteBuffer()
            }
            buf.count = 0
            scratch = buf
            output = bytesOut
        }
        buf.count = 0
        buf.reserve(n)
        // Lines (ranges of the buffer, without the "\n") containing a character the table changes.
        var changedLines: [Range<Int>] = []
        var originalCount = 0

        table.map.withUnsafeBufferPointer { tmap in
            var lineStart = 0
            var lineChanged = false
            var pos: Int32 = 0

            // Pass 1: decode, steps 1 and 2, and detect characters the T→S table changes.
            var i = 0
            while i < n {
                let b0 = UInt32(u[i])
                let o = pos
                pos &+= 1
                if b0 < 0x80 {
                    i &+= 1
                    if b0 >= 0x20 {
                        if b0 == 0x7F { continue }
                        buf.append(b0 >= 0x41 && b0 <= 0x5A ? b0 | 0x20 : b0, o)
                    } else if b0 == 0x0A {
                        if lineChanged { changedLines.append(lineStart..<buf.count) }
                        buf.append(b0, o)
                        lineStart = buf.count
                        lineChanged = false
                    } else if b0 == 0x09 {
                        buf.append(b0, o)
                    }
                    continue
                }
                let c: UInt32
                if b0 < 0xE0 {
                    c = ((b0 & 0x1F) << 6) | (UInt32(u[i &+ 1]) & 0x3F)
                    i &+= 2
                } else if b0 < 0xF0 {
                    c = ((b0 & 0x0F) << 12) | ((UInt32(u[i &+ 1]) & 0x3F) << 6) | (UInt32(u[i &+ 2]) & 0x3F)
                    i &+= 3
                } else {
                    c = ((b0 & 0x07) << 18) | ((UInt32(u[i &+ 1]) & 0x3F) << 12)
                        | ((UInt32(u[i &+ 2]) & 0x3F) << 6) | (UInt32(u[i &+ 3]) & 0x3F)
                    i &+= 4
                }
                if c >= 0x3400 && c <= 0x9FFF {
                    // Fast path: BMP ideographs (NFKC-stable, no Foundation).
                    if tmap[Int(c &- 0x3400)] != 0 { lineChanged = true }
                    buf.append(c, o)
                    continue
                }
                if c >= 0x20000 && isUnifiedIdeographFast(c) {
                    buf.append(c, o)
                    continue
                }
                if isInvisible(c) || isCombiningMark(c) { continue }
                if c >= 0xFF01 && c <= 0xFF5E {
                    let a = c &- 0xFEE0
                    buf.append(a >= 0x41 && a <= 0x5A ? a | 0x20 : a, o)
                    continue
                }
                if c == 0x3000 {
                    buf.append(0x20, o)
                    continue
                }
                // Everything else: NFKC of this one scalar, cached.
                let f = fold(c)
                switch f & 3 {
                case 1:
                    buf.append(c, o)
                case 2:
                    let s = f >> 2
                    if s >= 0x3400 && s <= 0x9FFF && tmap[Int(s &- 0x3400)] != 0 { lineChanged = true }
                    buf.append(s, o)
                default:
                    for s in multiFold[Int(f >> 2)] {
                        if s >= 0x3400 && s <= 0x9FFF && tmap[Int(s &- 0x3400)] != 0 { lineChanged = true }
                        buf.append(s, o)
                    }
                }
            }
            if lineChanged { changedLines.append(lineStart..<buf.count) }
            originalCount = Int(pos)

            // Step 3: Traditional → Simplified, line by line, only where something changes.
            // (Phrases never span a newline, so this equals converting the whole text, but a
            // length change in one line only costs that line its phrase awareness.)
            for r in changedLines {
                simplify(buf.sc, r, tmap)
            }
        }

        let sc = buf.sc
        let org = buf.org

        // Steps 4, 5 and 6 in one compacting pass (writes never overtake reads), which also
        // writes the UTF-8 bytes: at most 4 a scalar.
        let fillerBMP = self.fillerBMP
        bytesOut.reserve(bytes: buf.count &* 4)
        scalarBits?.update(repeating: 0, count: ScalarBits.words)
        var out = Compactor(sc: sc, org: org, output: bytesOut, scalarBits: scalarBits)
        // Step 5's bracket state: whether the last opening quote or bracket was kept (it encloses
        // a word: 下载“会议”app, 【网信通知】), so its closing one is kept too.
        var openKept: UInt16 = 0
        // Where the last line break of the original was (for vertical text), or -1.
        var lastNewline = -1
        // Where the last 口 dropped as a filler box was, or far before the text.
        var lastBox = -100
        let m = buf.count
        var r = 0
        while r < m {
            let c = sc[r]
            if c &- 0x4E00 <= 0x9FFF - 0x4E00 && !mayBeSpecialIdeograph(c) {
                // The usual scalar: an ideograph that no step changes or drops, written as it is
                // (what the branch below does with it, without its tests).
                out.emitPlain(c, org[r])
                r &+= 1
                continue
            }
            if (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x61 && c <= 0x7A && c != 0x78) {
                // Common non-separators: ideographs (variants fold), lowercase letters.
                if (c == 0x53E3 || c == 0x56D7) && isFillerBox(c, r, m, sc, out, lastBox) {
                    lastBox = r
                    r &+= 1  // Step 5: 口 or 囗 used as a filler box between two Han ideographs (刷口单)
                    continue
                }
                out.emit(c < 0x56EF ? c : variantFold(c), org[r])  // 0x56EF: lowest variant ≥ U+4E00
                r &+= 1
                continue
            }
            if c == 0x78, r > 0, r &+ 1 < m, out.w > 0, isHan(out.last), isHan(variantFold(sc[r &+ 1])) {
                // Step 5: a lone `x` between two Han ideographs is filler (刷x单).
                r &+= 1
                continue
            }
            if isSeparator(c) || isFiller(c, fillerBMP) {
                var j = r &+ 1
                var glueOnly = isDigitGlue(c)
                var spacesOnly = c == 0x20 || c == 0x09
                while j < m {
                    let d = sc[j]
                    if isSeparator(d) || isFiller(d, fillerBMP) {
                        if !isDigitGlue(d) { glueOnly = false }
                        if d != 0x20 && d != 0x09 { spacesOnly = false }
                    } else if d == 0x78 && (j &+ 1 >= m || !isASCIILetterOrDigit(sc[j &+ 1])) && !isASCIILetterOrDigit(sc[j &- 1]) {
                        glueOnly = false  // a lone `x` inside a filler run (刷#x#单)
                    } else {
                        break
                    }
                    j &+= 1
                }
                var marksSeen = false
                if out.w > 0 && j < m {
                    // Step 5: drop the run between two Han ideographs, or spaces/dashes
                    // between two ASCII digits. (`prev` is already variant-folded.)
                    let prev = out.last
                    let next = variantFold(sc[j])
                    if isHan(prev) && isHan(next) {
                        marksSeen = true
                        if !structural(r, j, m, sc, out, &openKept) {
                            for x in r..<j where sc[x] == 0x0A { lastNewline = x }
                            r = j
                            continue
                        }
                    } else if glueOnly && isASCIIDigit(prev) && isASCIIDigit(next) {
                        r = j
                        continue
                    } else if spacesOnly && hanMeetsASCII(prev, next) {
                        // Step 5: spaces between a Han ideograph and an ASCII letter or digit
                        // (客 服 V, 充 100 送 50, 报 jing): a spaced-out message's words run on
                        // across them, as a Latin word does in 加vx or 安全account.
                        r = j
                        continue
                    }
                }
                if !marksSeen {
                    for x in r..<j {
                    let bit = bracketBit(sc[x])
                    if isClosingMark(sc[x]) || (sc[x] == 0x22 && openKept & bit != 0) { openKept &= ~bit }
                    else if isOpeningMark(sc[x]) { openKept |= bit }
                    }
                }
                while r < j {
                    if sc[r] == 0x0A {
                        // Vertical text: a line break next to a line of at most two characters
                        // (`过\nQQ\n群`, `【\n某`) joins the lines, except between two Latin
                        // words or numbers.
                        let vertical = isShortLine(r, lastNewline, m, sc)
                        lastNewline = r
                        if vertical && !(out.w > 0 && isASCIILetterOrDigit(out.last) && j < m && isASCIILetterOrDigit(sc[j])) {
                            r &+= 1
                            continue
                        }
                    }
                    out.emit(sc[r], org[r])
                    r &+= 1
                }
                continue
            }
            out.emit(c < 0x3000 ? c : variantFold(c), org[r])
            r &+= 1
        }
        if out.runStart >= 0 { out.finishDigitRun() }
        buf.count = out.w

        return finish(out, originalCount: originalCount, into: spare)
    }

    /// Step 3 for one line `r` of `sc`: OpenCC on the line, taken position by position when
    /// it keeps the scalar count (and changes only Han characters); otherwise the table. A line
    /// with no character whose conversion depends on its phrase (`T2STable.needsPhrases`), or
    /// with such characters but none of the dictionary keys that make them depend on it
    /// (`T2STable.holdsPhraseKey`), is converted by the table alone: OpenCC would give the
    /// same, at about 270,000 instructions a line, and opening it costs ten million.
    private func simplify(_ sc: UnsafeMutablePointer<UInt32>, _ r: Range<Int>, _ tmap: UnsafeBufferPointer<UInt32>) {
        if r.contains(where: { T2STable.needsPhrases(sc[$0]) }), T2STable.holdsPhraseKey(sc, r),
           simplifyByPhrases(sc, r) { return }
        for x in r {
            let c = sc[x]
            if c >= 0x3400 && c <= 0x9FFF {
                let t = tmap[Int(c &- 0x3400)]
                if t != 0 { sc[x] = t }
            }
        }
    }

    /// OpenCC on line `r` of `sc`: whether its output replaced the line (it does when it keeps
    /// the scalar count and changes only Han characters; what it leaves traditional, as in
    /// 乾隆, then stays so).
    private func simplifyByPhrases(_ sc: UnsafeMutablePointer<UInt32>, _ r: Range<Int>) -> Bool {
        var line = [UInt8]()
        line.reserveCapacity(r.count * 3)
        for x in r { appendUTF8(sc[x], to: &line) }
        if !converterOpened {
            converterOpened = true
            converter = try? TraditionalToSimplified()
        }
        guard let converter, let out = line.withUnsafeBufferPointer({ converter.convertUTF8($0) }) else { return false }
        var conv = [UInt32]()
        conv.reserveCapacity(r.count)
        var p = 0
        while p < out.count {
            let (s, len) = decodeUTF8(out, p)
            conv.append(s)
            p &+= len
        }
        guard conv.count == r.count else { return false }
        var x = r.lowerBound
        for s in conv {
            let before = sc[x]
            if s != before && !(isHan(s) && isHan(before)) { return false }
            x &+= 1
        }
        x = r.lowerBound
        for s in conv {
            sc[x] = s
            x &+= 1
        }
        return true
    }

    /// The normalised text from what the compacting pass wrote: its bytes, their origins, and
    /// the rank structure (each 64 bytes' start bits, already set, and the count of starts
    /// before them).
    ///
    /// Each array is made as a copy of the scratch memory: an array made with
    /// `init(repeating:count:)` or `init(unsafeUninitializedCapacity:)` takes the standard
    /// library's unspecialised allocation path (about 600 instructions of generic metadata
    /// look-up each), one copied from a buffer the specialised one. Into a `spare` text, each
    /// array is emptied and refilled, keeping its memory.
    private func finish(_ out: Compactor, originalCount: Int, into spare: NormalisedText?) -> NormalisedText {
        let total = out.p
        let words = (total &+ 63) &>> 6
        let rank = out.rank
        var acc: UInt64 = 0
        for x in 0..<words {
            rank[x &* 2 &+ 1] = acc
            acc &+= UInt64(rank[x &* 2].nonzeroBitCount)
        }
        let bytes = UnsafeBufferPointer(start: out.bytes, count: total)
        let origins = UnsafeBufferPointer(start: out.origins, count: total)
        let rankWords = UnsafeBufferPointer(start: UnsafePointer(rank), count: words &* 2)
        guard let t = spare else {
            return NormalisedText(bytes: Array(bytes), originStart: Array(origins),
                                  originalScalarCount: originalCount, scalarCount: out.w, rank: Array(rankWords))
        }
        t.storedBytes.refill(from: bytes)
        t.storedOriginStart.refill(from: origins)
        t.rank.refill(from: rankWords)
        t.storedOriginalScalarCount = originalCount
        t.storedScalarCount = out.w
        return t
    }

    /// Step 2 for one non-ASCII, non-ideograph scalar: NFKC via Foundation, cached.
    /// Returns the cache encoding described at `foldBMP`.
    @inline(__always)
    private func fold(_ c: UInt32) -> UInt32 {
        if c < 0x10000 {
            let v = foldBMP[Int(c)]
            if v != 0 { return v }
            let e = computeFold(c)
            foldBMP[Int(c)] = e
            return e
        }
        if let v = foldAstral[c] { return v }
        let e = computeFold(c)
        foldAstral[c] = e
        return e
    }

    private func computeFold(_ c: UInt32) -> UInt32 {
        guard let scalar = Unicode.Scalar(c) else { return 1 }
        let folded = String(Character(scalar)).precomposedStringWithCompatibilityMapping
        var out: [UInt32] = []
        for s in folded.unicodeScalars {
            var v = s.value
            if v >= 0x41 && v <= 0x5A { v |= 0x20 }  // NFKC can produce ASCII capitals (Ⅻ → XII)
            out.append(v)
        }
        // Look-alike letters (Cyrillic, Greek, enclosed and styled forms NFKC leaves) become the
        // Latin letter they imitate: `АРР` in Cyrillic is `app`.
        if out.count == 1, let latin = confusableLatin(out[0]) { out[0] = latin }
        if out.count == 1 {
            return out[0] == c ? 1 : (out[0] << 2) | 2
        }
        multiFold.append(out)
        return (UInt32(multiFold.count - 1) << 2) | 3
    }
}

/// Appends the UTF-8 encoding of scalar `c`.
@inline(__always)
func appendUTF8(_ c: UInt32, to a: inout [UInt8]) {
    if c < 0x80 {
        a.append(UInt8(truncatingIfNeeded: c))
    } else if c < 0x800 {
        a.append(UInt8(truncatingIfNeeded: 0xC0 | (c >> 6)))
        a.append(UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F)))
    } else if c < 0x10000 {
        a.append(UInt8(truncatingIfNeeded: 0xE0 | (c >> 12)))
        a.append(UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F)))
        a.append(UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F)))
    } else {
        a.append(UInt8(truncatingIfNeeded: 0xF0 | (c >> 18)))
        a.append(UInt8(truncatingIfNeeded: 0x80 | ((c >> 12) & 0x3F)))
        a.append(UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F)))
        a.append(UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F)))
    }
}

/// A growable pair of buffers (scalar, origin) with manual memory management, so the hot
/// loops append without uniqueness checks.
struct ScalarBuffer {
    var sc: UnsafeMutablePointer<UInt32>
    var org: UnsafeMutablePointer<Int32>
    var count = 0
    var capacity: Int

    init() {
        capacity = 64
        sc = .allocate(capacity: capacity)
        org = .allocate(capacity: capacity)
    }

    mutating func reserve(_ n: Int) {
        if n > capacity { grow(to: n) }
    }

    mutating func grow(to n: Int) {
        let newCapacity = Swift.max(n, capacity &* 2, 64)
        let nsc = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        let norg = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
        nsc.update(from: sc, count: count)
        norg.update(from: org, count: count)
        sc.deallocate()
        org.deallocate()
        sc = nsc
        org = norg
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ c: UInt32, _ o: Int32) {
        if count == capacity { grow(to: capacity &* 2) }
        sc[count] = c
        org[count] = o
        count &+= 1
    }

    /// Frees the memory and leaves a small fresh buffer.
    mutating func free() {
        sc.deallocate()
        org.deallocate()
        self = ScalarBuffer()
    }
}

/// The output memory of the steps 4–6 pass, reused between texts: the UTF-8 bytes, each byte's
/// origin, and the rank words (`NormalisedText.rank`: start bits at even indices, the count
/// of starts before them at odd ones).
struct ByteBuffer {
    var bytes: UnsafeMutablePointer<UInt8>
    var origins: UnsafeMutablePointer<Int32>
    var rank: UnsafeMutablePointer<UInt64>
    /// Bytes there is room for.
    var capacity: Int

    init() {
        capacity = 256
        bytes = .allocate(capacity: capacity)
        origins = .allocate(capacity: capacity)
        rank = .allocate(capacity: ByteBuffer.rankWords(capacity))
    }

    static func rankWords(_ bytes: Int) -> Int { ((bytes &+ 63) &>> 6) &* 2 }

    /// Room for `n` bytes, with the start bits for them cleared.
    mutating func reserve(bytes n: Int) {
        if n > capacity {
            free()
            capacity = Swift.max(n, 256)
            bytes = .allocate(capacity: capacity)
            origins = .allocate(capacity: capacity)
            rank = .allocate(capacity: ByteBuffer.rankWords(capacity))
        }
        rank.update(repeating: 0, count: ByteBuffer.rankWords(n))
    }

    /// Frees the memory (the buffer is not used again).
    func free() {
        bytes.deallocate()
        origins.deallocate()
        rank.deallocate()
    }
}

/// The writing side of the steps 4–6 pass: appends kept scalars in place, converts digit
/// runs (step 6) as soon as they end, and writes each kept scalar's UTF-8 bytes, their
/// origins and start bit (a digit run's once it has ended, since step 6 may change it), and,
/// when asked for, its bit in the text's `ScalarBits`.
struct Compactor {
    let sc: UnsafeMutablePointer<UInt32>
    let org: UnsafeMutablePointer<Int32>
    let bytes: UnsafeMutablePointer<UInt8>
    let origins: UnsafeMutablePointer<Int32>
    let rank: UnsafeMutablePointer<UInt64>
    let scalarBits: UnsafeMutablePointer<UInt64>?
    /// Scalars kept.
    var w = 0
    /// Bytes written.
    var p = 0
    /// Start (in output positions) of the current run of digit characters, or -1.
    var runStart = -1
    var runHasChinese = false

    init(sc: UnsafeMutablePointer<UInt32>, org: UnsafeMutablePointer<Int32>, output: ByteBuffer, scalarBits: UnsafeMutablePointer<UInt64>?) {
        self.sc = sc
        self.org = org
        bytes = output.bytes
        origins = output.origins
        rank = output.rank
        self.scalarBits = scalarBits
    }

    var last: UInt32 { sc[w &- 1] }

    @inline(__always)
    mutating func emit(_ c: UInt32, _ o: Int32) {
        if c &- 0x30 < 10 || (c >= 0x4E00 && mayBeChineseDigit(c) && chineseDigitValue(c) != nil) {
            if runStart < 0 {
                runStart = w
                runHasChinese = false
            }
            if c > 0x39 { runHasChinese = true }
            sc[w] = c
            org[w] = o  // read when the run ends
            w &+= 1
            return
        }
        emitPlain(c, o)
    }

    /// `emit` for a scalar that is no digit (ASCII or Chinese): it ends a digit run.
    @inline(__always)
    mutating func emitPlain(_ c: UInt32, _ o: Int32) {
        if runStart >= 0 { finishDigitRun() }
        sc[w] = c
        w &+= 1
        write(c, o)
    }

    /// Step 6 for the run that just ended: 3+ characters with at least one Chinese digit
    /// become ASCII digits. Then the run's bytes are written. A lone 一 after ASCII digits is
    /// a price and its unit (800一张, 300一天, 50一单), not a spelt-out number: it stays text.
    mutating func finishDigitRun() {
        var convert = runHasChinese && w &- runStart >= 3
        if convert && sc[w &- 1] == 0x4E00 && sc[w &- 2] &- 0x30 < 10 {
            convert = false
            for x in runStart..<(w &- 1) where sc[x] > 0x39 {
                convert = true
                break
            }
        }
        for x in runStart..<w {
            var c = sc[x]
            if convert, let d = chineseDigitValue(c) {
                c = d
                sc[x] = d
            }
            write(c, org[x])
        }
        runStart = -1
    }

    /// Writes scalar `c`'s UTF-8 bytes, each with origin `o`, and marks its first byte.
    @inline(__always)
    mutating func write(_ c: UInt32, _ o: Int32) {
        rank[(p &>> 6) &<< 1] |= UInt64(1) &<< UInt64(p & 63)
        if let scalarBits { ScalarBits.insert(c, into: scalarBits) }
        if c < 0x80 {
            bytes[p] = UInt8(truncatingIfNeeded: c)
            origins[p] = o
            p &+= 1
        } else if c < 0x800 {
            bytes[p] = UInt8(truncatingIfNeeded: 0xC0 | (c >> 6))
            bytes[p &+ 1] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
            origins[p] = o
            origins[p &+ 1] = o
            p &+= 2
        } else if c < 0x10000 {
            bytes[p] = UInt8(truncatingIfNeeded: 0xE0 | (c >> 12))
            bytes[p &+ 1] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F))
            bytes[p &+ 2] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
            origins[p] = o
            origins[p &+ 1] = o
            origins[p &+ 2] = o
            p &+= 3
        } else {
            bytes[p] = UInt8(truncatingIfNeeded: 0xF0 | (c >> 18))
            bytes[p &+ 1] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 12) & 0x3F))
            bytes[p &+ 2] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F))
            bytes[p &+ 3] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
            origins[p] = o
            origins[p &+ 1] = o
            origins[p &+ 2] = o
            origins[p &+ 3] = o
            p &+= 4
        }
    }
}

extension Array where Element: BitwiseCopyable {
    /// The array made equal to `source`, keeping its memory: written over in place, then cut or
    /// extended by one call. Emptying it (`removeAll(keepingCapacity:)`) and appending all of
    /// `source` made two calls into the array's code: about 175 instructions more for a text's
    /// three arrays.
    @inline(__always)
    mutating func refill(from source: UnsafeBufferPointer<Element>) {
        let old = count, new = source.count
        let kept = Swift.min(old, new)
        if kept > 0 { withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: source.baseAddress!, count: kept) } }
        if new < old {
            removeLast(old &- new)
        } else if new > old {
            append(contentsOf: UnsafeBufferPointer(rebasing: source[old...]))
        }
    }
}
