import Foundation

/// Builds one JSON object as UTF-8 bytes, in field order. Output records are written with this
/// rather than a generic encoder: it is the hot path of `scan --format jsonl`, and field order is
/// part of the format.
///
/// The bytes are written into plain memory (`JSONBytes`), not an array: an array's append checks
/// the buffer's uniqueness and capacity on every call, and the dozens of keys, numbers and
/// punctuation marks of a verdict made that most of its cost. A nested object is written into the
/// same memory by a writer sharing it. A writer is not meant to be copied and written on twice.
package struct JSONObjectWriter {
    private let out: JSONBytes
    /// Where this object's opening brace is in `out`.
    private let start: Int
    private var first = true
    /// A writer of a new object in memory of its own, with room for `capacity` bytes before it grows.
    package init(capacity: Int = 512) { self.init(appendingTo: JSONBytes(capacity: capacity)) }

    /// A writer of a new object after whatever `memory` holds: a worker writes each of a batch's
    /// output lines after the one before (`Screener.batchLines`), with no allocation of its own.
    package init(appendingTo memory: JSONBytes) {
        out = memory
        start = memory.count
        out.append(0x7B)
    }

    /// Writes the fields of an object nested in `outer`'s (its opening brace already written).
    private init(nestedIn outer: JSONBytes) { out = outer; start = outer.count }

    /// `v` in decimal, its digits written backwards into place (no String per number: a verdict
    /// has dozens).
    private mutating func appendDecimal(_ v: Int) {
        var m = v.magnitude
        var digits = 1
        var t = m
        while t >= 10 { t /= 10; digits &+= 1 }
        if v < 0 { out.append(0x2D) }
        let p = out.reserve(digits)
        var i = digits
        repeat {
            i &-= 1
            p[i] = 0x30 &+ UInt8(truncatingIfNeeded: m % 10)
            m /= 10
        } while m > 0
    }

    /// The comma before every field but the first.
    private mutating func separate() {
        if !first { out.append(0x2C) }
        first = false
    }

    /// A key the program spells out: a static string of plain characters, copied as it is (the
    /// keys of a verdict are dozens per record; scanning each for escapes showed in profiles).
    /// Inlined, with the `add`s that call it: at each call site the key's length is then known,
    /// and the copy is a few moves, not a call (each evidence span alone writes three keys).
    @inline(__always)
    private mutating func key(_ k: StaticString) {
        let n = k.utf8CodeUnitCount
        assert(UnsafeBufferPointer(start: k.utf8Start, count: n).allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C },
               "a key that needs escaping: use addRaw(_:_:)")
        let comma = first ? 0 : 1
        first = false
        let p = out.reserve(n &+ comma &+ 3)
        if comma != 0 { p[0] = 0x2C }
        p[comma] = 0x22
        (p + (comma &+ 1)).update(from: k.utf8Start, count: n)
        p[comma &+ n &+ 1] = 0x22
        p[comma &+ n &+ 2] = 0x3A
    }
    @inline(__always)
    package mutating func add(_ k: StaticString, _ v: String) { key(k); out.appendJSONString(v) }
    /// A string given as its UTF-8 bytes.
    @inline(__always)
    package mutating func add(_ k: StaticString, utf8 v: UnsafeBufferPointer<UInt8>) { key(k); out.appendJSONString(utf8: v) }
    @inline(__always)
    package mutating func add(_ k: StaticString, _ v: Int) { key(k); appendDecimal(v) }
    package mutating func add(_ k: StaticString, _ v: Double) {
        key(k)
        out.append(contentsOf: (v.isFinite ? String(format: "%.4f", v) : "null").utf8)
    }
    package mutating func add(_ k: StaticString, _ v: Bool) { key(k); out.append(v ? "true" : "false") }
    @inline(__always)
    package mutating func addNull(_ k: StaticString) { key(k); out.append("null") }
    /// A value that is already JSON text, under any key (escaped: keys from the input go here).
    package mutating func addRaw(_ k: String, _ json: String) {
        separate()
        out.appendJSONString(k)
        out.append(0x3A)
        out.append(contentsOf: json.utf8)
    }
    /// A value already written as JSON bytes.
    package mutating func addRaw(_ k: StaticString, bytes json: [UInt8]) { key(k); out.append(contentsOf: json) }
    /// Fields already written as JSON (`"k":v,"k2":v2`), e.g. rendered once and reused per record.
    package mutating func addFields(_ fields: UnsafeBufferPointer<UInt8>) {
        guard !fields.isEmpty else { return }
        separate()
        out.append(fields)
    }
    package mutating func add<S: Sequence<String>>(_ k: StaticString, _ v: S) {
        key(k)
        out.append(0x5B)
        var first = true
        for s in v {
            if !first { out.append(0x2C) }
            first = false
            out.appendJSONString(s)
        }
        out.append(0x5D)
    }
    /// An array of objects, each written straight into this object's memory (no string per item).
    package mutating func addObjects<C: Collection>(_ k: StaticString, _ items: C, _ each: (inout JSONObjectWriter, C.Element) -> Void) {
        key(k)
        out.append(0x5B)
        var first = true
        for item in items {
            if !first { out.append(0x2C) }
            first = false
            out.append(0x7B)
            var inner = JSONObjectWriter(nestedIn: out)
            each(&inner, item)
            out.append(0x7D)
        }
        out.append(0x5D)
    }

    /// Evidence spans as a verdict gives them: `start`, `end`, `text`, and `turn` in a call.
    package mutating func addSpans(_ k: StaticString, _ spans: [EvidenceSpan]) {
        addObjects(k, spans) { j, s in
            j.add("start", s.start); j.add("end", s.end); j.add("text", s.text)
            if let t = s.turn { j.add("turn", t) }
        }
    }

    /// One object nested under `k`, written straight into this object's memory.
    package mutating func addObject(_ k: StaticString, _ body: (inout JSONObjectWriter) -> Void) {
        key(k)
        out.append(0x7B)
        var inner = JSONObjectWriter(nestedIn: out)
        body(&inner)
        out.append(0x7D)
    }

    package mutating func finish() -> String {
        String(decoding: finishBytes(), as: UTF8.self)
    }

    /// The object as UTF-8 bytes (what an output sink writes, without a String in between).
    package mutating func finishBytes() -> [UInt8] {
        end()
        return out.bytes(from: start)
    }

    /// Closes the object where it was written, in the memory it was given (no copy made).
    package mutating func end() { out.append(0x7D) }

    /// The fields written so far without the braces, to be added elsewhere with `addFields`.
    package var fields: [UInt8] { out.bytes(from: start &+ 1) }
}

/// A JSON writer's bytes: plain memory, grown by doubling, freed with the last writer using it.
package final class JSONBytes {
    // The three values in memory of their own, so that writing them is a plain store (a class's
    // own stored properties are checked for exclusive access at run time).
    private struct State {
        var base: UnsafeMutablePointer<UInt8>
        var count: Int
        var capacity: Int
    }
    private let state: UnsafeMutablePointer<State>
    /// The most memory `removeAll` keeps for the next use.
    private let kept: Int

    /// `keeping`: how much memory emptying keeps (what a batch of ordinary records needs); more,
    /// grown for a long call, is given back rather than held for every later use.
    package init(capacity: Int, keeping: Int = 1 << 20) {
        state = .allocate(capacity: 1)
        state.initialize(to: State(base: .allocate(capacity: capacity), count: 0, capacity: capacity))
        kept = keeping
    }

    /// How many bytes are written.
    package var count: Int { state.pointee.count }

    /// Empty again, for the next use.
    package func removeAll() {
        let s = state
        s.pointee.count = 0
        if s.pointee.capacity > kept {
            s.pointee.base.deallocate()
            s.pointee.base = .allocate(capacity: 512)
            s.pointee.capacity = 512
        }
    }

    /// The bytes written in `range`, in place: valid until the next write or `removeAll`.
    package func written(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return UnsafeBufferPointer(start: state.pointee.base + range.lowerBound, count: range.count)
    }

    deinit {
        state.pointee.base.deallocate()
        state.deallocate()
    }

    /// Room for `n` more bytes, counted as written: the caller fills them at once.
    @inline(__always)
    func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        let s = state
        let count = s.pointee.count
        if s.pointee.capacity &- count < n { grow(count &+ n) }
        s.pointee.count = count &+ n
        return s.pointee.base + count
    }

    private func grow(_ needed: Int) {
        let s = state
        let capacity = Swift.max(needed, s.pointee.capacity &* 2)
        let base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        base.update(from: s.pointee.base, count: s.pointee.count)
        s.pointee.base.deallocate()
        s.pointee.base = base
        s.pointee.capacity = capacity
    }

    @inline(__always)
    func append(_ b: UInt8) { reserve(1).pointee = b }

    func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count).update(from: from, count: bytes.count)
    }

    package func append(contentsOf a: [UInt8]) { a.withUnsafeBufferPointer { append($0) } }

    /// Text the program spells out (`null`, `true`), copied as it is.
    func append(_ s: StaticString) { append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }

    package func append(contentsOf s: String.UTF8View) {
        var s = String(s)
        s.withUTF8 { append($0) }
    }

    /// `s` as a JSON string. Works on UTF-8 bytes: only ASCII needs escaping, and multi-byte
    /// characters are copied whole.
    func appendJSONString(_ s: String) {
        var s = s
        s.withUTF8 { appendJSONString(utf8: $0) }
    }

    /// UTF-8 `bytes` as a JSON string.
    func appendJSONString(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        append(0x22)
        let n = bytes.count
        var clean = 0   // start of the run not yet copied
        var i = 0
        while i < n {
            // Eight bytes at a time while none of them needs an escape (evidence and ids are
            // mostly Chinese: three bytes a character, none of them ASCII).
            if i &+ 8 <= n, !JSONBytes.mayNeedEscape(UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)) {
                i &+= 8
                continue
            }
            let b = bytes[i]
            // Most text (Chinese, ASCII letters) needs no escape: one comparison per byte.
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i &+= 1
                continue
            }
            append(UnsafeBufferPointer(rebasing: bytes[clean..<i]))
            i &+= 1
            clean = i
            let p: UnsafeMutablePointer<UInt8>
            switch b {
            case 0x22: p = reserve(2); p[0] = 0x5C; p[1] = 0x22
            case 0x5C: p = reserve(2); p[0] = 0x5C; p[1] = 0x5C
            case 0x0A: p = reserve(2); p[0] = 0x5C; p[1] = 0x6E
            case 0x0D: p = reserve(2); p[0] = 0x5C; p[1] = 0x72
            case 0x09: p = reserve(2); p[0] = 0x5C; p[1] = 0x74
            default:
                let hex: StaticString = "0123456789abcdef"
                p = reserve(6)
                p[0] = 0x5C; p[1] = 0x75; p[2] = 0x30; p[3] = 0x30
                hex.withUTF8Buffer { h in
                    p[4] = h[Int(b >> 4)]
                    p[5] = h[Int(b & 15)]
                }
            }
        }
        append(UnsafeBufferPointer(rebasing: bytes[clean..<n]))
        append(0x22)
    }

    /// Whether any of the eight bytes of `x` is below 0x20, a quote or a backslash (a byte a JSON
    /// string cannot hold as it is; `JSONLine`'s reader stops at the same): exact, by the
    /// usual word tests for a byte below a bound and a zero byte (a borrow reaches a higher byte's
    /// test only from a byte that already passed it).
    @inline(__always)
    static func mayNeedEscape(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let control = (x &- ones &* 0x20) & ~x
        let q = x ^ (ones &* 0x22), bs = x ^ (ones &* 0x5C)
        let quote = (q &- ones) & ~q, backslash = (bs &- ones) & ~bs
        return (control | quote | backslash) & highs != 0
    }

    /// The bytes from `start` on, as an array.
    func bytes(from start: Int) -> [UInt8] {
        let s = state.pointee
        return Array(UnsafeBufferPointer(start: s.base + start, count: Swift.max(0, s.count &- start)))
    }
}

package func jsonString(_ s: String) -> String {
    var out: [UInt8] = []
    appendJSONString(s, to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// Appends `s` as a JSON string (escaped as `JSONBytes.appendJSONString` does).
package func appendJSONString(_ s: String, to out: inout [UInt8]) {
    let bytes = JSONBytes(capacity: s.utf8.count &+ 2)
    bytes.appendJSONString(s)
    out.append(contentsOf: bytes.bytes(from: 0))
}
