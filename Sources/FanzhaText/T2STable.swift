import Dispatch

/// Per-character Traditional → Simplified table for the BMP CJK range U+3400–U+9FFF.
///
/// Derived from OpenCC by running all 27,648 characters of the range through it in a single
/// call, separated by "\n", and keeping every character that OpenCC turns into exactly one
/// different character. That derivation takes about 13 ms, a third of loading the rules, so
/// its result is committed (`T2SData.pairs`) and read at start-up in microseconds; a test checks
/// that the committed table still equals what the installed OpenCC gives.
/// The normaliser uses it as a fast path and as the trigger for the (phrase-aware)
/// whole-line OpenCC conversion.
struct T2STable: Sendable {
    static let first: UInt32 = 0x3400
    static let last: UInt32 = 0x9FFF

    /// `map[c - first]` is the simplified scalar, or 0 when the character does not change.
    let map: [UInt32]
    /// Number of characters that change.
    let changedCount: Int
    /// Time the build took (OpenCC open + one conversion + table fill), in nanoseconds.
    let buildNanoseconds: UInt64

    static let shared: T2STable = fromCommittedData() ?? fromOpenCC()

    /// The committed table, or nil if it is missing or malformed (then OpenCC is asked).
    static func fromCommittedData() -> T2STable? {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var map = [UInt32](repeating: 0, count: Int(last - first + 1))
        var pending: UInt32? = nil
        var changed = 0
        for u in T2SData.pairs.unicodeScalars {
            guard let t = pending else { pending = u.value; continue }
            guard t >= first, t <= last else { return nil }
            map[Int(t - first)] = u.value
            changed += 1
            pending = nil
        }
        guard pending == nil, changed > 0 else { return nil }
        return T2STable(map: map, changedCount: changed, buildNanoseconds: DispatchTime.now().uptimeNanoseconds &- t0)
    }

    /// The committed data's format: traditional, simplified, traditional, simplified, …
    var pairs: String {
        var out = String.UnicodeScalarView()
        for (k, s) in map.enumerated() where s != 0 {
            out.append(Unicode.Scalar(T2STable.first + UInt32(k))!)
            out.append(Unicode.Scalar(s)!)
        }
        return String(out)
    }

    /// The characters whose conversion can depend on the phrase they stand in
    /// (`T2SPhraseData`, derived from OpenCC's dictionaries by scripts/t2s_phrase_characters.py):
    /// OpenCC's value for some key holding one differs from the key converted character by
    /// character by this table. A line holding none of them converts by OpenCC exactly as by
    /// the table.
    static let phraseCharacters = Set(T2SPhraseData.characters.unicodeScalars.map(\.value))

    /// Whether `c` is one of `phraseCharacters`.
    static func needsPhrases(_ c: UInt32) -> Bool { phraseCharacters.contains(c) }

    /// The keys behind `phraseCharacters` (`T2SPhraseData.keys`): those whose value in OpenCC's
    /// dictionaries differs from the key converted character by character by this table. Their
    /// scalars one after another, each key ended by a 0, in the committed order (sorted, so
    /// the keys with the same first scalar are together), and where each first scalar's keys
    /// start. (Built from the string in one pass: about a tenth of the instructions of an
    /// array per key.)
    static let phraseKeys: (scalars: [UInt32], start: [UInt32: Int]) = {
        var scalars: [UInt32] = []
        var start: [UInt32: Int] = [:]
        var keyStart = true
        for u in T2SPhraseData.keys.unicodeScalars {
            if u == " " {
                scalars.append(0)
                keyStart = true
                continue
            }
            if keyStart && start[u.value] == nil { start[u.value] = scalars.count }
            keyStart = false
            scalars.append(u.value)
        }
        scalars.append(0)
        return (scalars, start)
    }()

    /// Whether the scalars `sc[r]` hold one of the `phraseKeys`. OpenCC converts a line piece
    /// by piece, each piece a key of its dictionaries or a character of neither; in a line that
    /// holds none of the `phraseKeys`, every piece converts as the table converts its
    /// characters, so OpenCC's conversion of the whole line is the table's
    /// (scripts/t2s_phrase_characters.py).
    static func holdsPhraseKey(_ sc: UnsafePointer<UInt32>, _ r: Range<Int>) -> Bool {
        let (scalars, start) = phraseKeys
        for x in r {
            guard var k = start[sc[x]] else { continue }
            // The keys starting with sc[x], one after another.
            while k < scalars.count && scalars[k] == sc[x] {
                var y = 0
                while scalars[k &+ y] != 0 && x &+ y < r.upperBound && sc[x &+ y] == scalars[k &+ y] { y &+= 1 }
                if scalars[k &+ y] == 0 { return true }
                while scalars[k] != 0 { k &+= 1 }
                k &+= 1
            }
        }
        return false
    }

    @inline(__always)
    func lookup(_ c: UInt32) -> UInt32 {
        if c < T2STable.first || c > T2STable.last { return 0 }
        return map[Int(c &- T2STable.first)]
    }

    static func fromOpenCC() -> T2STable {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let count = Int(last - first + 1)
        var map = [UInt32](repeating: 0, count: count)
        var changed = 0
        guard let cc = try? TraditionalToSimplified() else {
            // No OpenCC data: the normaliser cannot be constructed anyway (its init throws),
            // so an empty table is only ever seen by code that never normalises.
            return T2STable(map: map, changedCount: 0, buildNanoseconds: 0)
        }
        // Input: every character of the range, one per line (3 UTF-8 bytes each + "\n").
        var input: [UInt8] = []
        input.reserveCapacity(count * 4)
        for c in first...last {
            if c > first { input.append(0x0A) }
            input.append(UInt8(0xE0 | (c >> 12)))
            input.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            input.append(UInt8(0x80 | (c & 0x3F)))
        }
        let output = input.withUnsafeBufferPointer { cc.convertUTF8($0) } ?? []

        // Split the output on "\n"; line k is the conversion of first + k.
        var lineOK = true
        var k = 0
        var i = 0
        let n = output.count
        while true {
            var j = i
            while j < n && output[j] != 0x0A { j += 1 }
            if k >= count { lineOK = false; break }
            // Record the line if it is exactly one scalar and differs from the input.
            if j > i {
                let (s, len) = decodeUTF8(output, i)
                let original = first + UInt32(k)
                if i + len == j && s != original {
                    map[k] = s
                    changed += 1
                }
            }
            k += 1
            if j >= n { break }
            i = j + 1
        }
        if k != count { lineOK = false }
        if !lineOK {
            // OpenCC did not keep one line per character (never seen in practice): fall back
            // to converting the characters one by one, which is slow but exact.
            map = [UInt32](repeating: 0, count: count)
            changed = 0
            for k in 0..<count {
                let c = first + UInt32(k)
                let one: [UInt8] = [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
                guard let out = one.withUnsafeBufferPointer({ cc.convertUTF8($0) }), !out.isEmpty else { continue }
                let (s, len) = decodeUTF8(out, 0)
                if len == out.count && s != c {
                    map[k] = s
                    changed += 1
                }
            }
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        return T2STable(map: map, changedCount: changed, buildNanoseconds: t1 &- t0)
    }
}

/// Decodes one scalar from valid UTF-8 at `i`; returns the scalar and its length in bytes.
@inline(__always)
func decodeUTF8(_ b: [UInt8], _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(b[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(b[i + 1]) & 0x3F), 2) }
    if b0 < 0xF0 {
        return (((b0 & 0x0F) << 12) | ((UInt32(b[i + 1]) & 0x3F) << 6) | (UInt32(b[i + 2]) & 0x3F), 3)
    }
    return (((b0 & 0x07) << 18) | ((UInt32(b[i + 1]) & 0x3F) << 12)
        | ((UInt32(b[i + 2]) & 0x3F) << 6) | (UInt32(b[i + 3]) & 0x3F), 4)
}
