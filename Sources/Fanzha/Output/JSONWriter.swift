import Foundation

/// Builds one JSON object as UTF-8 bytes, in field order. Output records are written with this
/// rather than a generic encoder: it is the hot path of `scan --format jsonl`, and field order is
/// part of the format.
package struct JSONObjectWriter {
    private var buffer: [UInt8] = [0x7B]
    private var first = true
    package init() { buffer.reserveCapacity(512) }

    /// `v` in decimal: its digits written backwards into a small stack buffer, then appended at
    /// once (no String per number: a verdict has dozens).
    private mutating func appendDecimal(_ v: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { t in
            var m = v.magnitude
            var i = 20   // Int.min: 19 digits and the sign
            repeat {
                i &-= 1
                t[i] = 0x30 &+ UInt8(truncatingIfNeeded: m % 10)
                m /= 10
            } while m > 0
            if v < 0 { i &-= 1; t[i] = 0x2D }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: t[i..<20]))
        }
    }

    /// The comma before every field but the first.
    private mutating func separate() {
        if !first { buffer.append(0x2C) }
        first = false
    }

    /// A key the program spells out: a static string of plain characters, copied as it is (the
    /// keys of a verdict are dozens per record; scanning each for escapes showed in profiles).
    /// The comma, quotes and colon go in with the key as one append: each append to the array
    /// checks its uniqueness and capacity, and the five appends a key took were most of its cost.
    private mutating func key(_ k: StaticString) {
        let n = k.utf8CodeUnitCount
        assert(UnsafeBufferPointer(start: k.utf8Start, count: n).allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C },
               "a key that needs escaping: use addRaw(_:_:)")
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n &+ 4) { t in
            let base = t.baseAddress!
            var w = 0
            if !first { base[0] = 0x2C; w = 1 }
            base[w] = 0x22
            (base + (w &+ 1)).update(from: k.utf8Start, count: n)
            base[w &+ n &+ 1] = 0x22
            base[w &+ n &+ 2] = 0x3A
            buffer.append(contentsOf: UnsafeBufferPointer(start: base, count: w &+ n &+ 3))
        }
        first = false
    }
    package mutating func add(_ k: StaticString, _ v: String) { key(k); appendJSONString(v, to: &buffer) }
    package mutating func add(_ k: StaticString, _ v: Int) { key(k); appendDecimal(v) }
    package mutating func add(_ k: StaticString, _ v: Double) {
        key(k)
        buffer.append(contentsOf: (v.isFinite ? String(format: "%.4f", v) : "null").utf8)
    }
    package mutating func add(_ k: StaticString, _ v: Bool) { key(k); buffer.append(contentsOf: (v ? "true" : "false").utf8) }
    package mutating func addNull(_ k: StaticString) { key(k); buffer.append(contentsOf: "null".utf8) }
    /// A value that is already JSON text, under any key (escaped: keys from the input go here).
    package mutating func addRaw(_ k: String, _ json: String) {
        separate()
        appendJSONString(k, to: &buffer)
        buffer.append(0x3A)
        buffer.append(contentsOf: json.utf8)
    }
    /// A value already written as JSON bytes.
    package mutating func addRaw(_ k: StaticString, bytes json: [UInt8]) { key(k); buffer.append(contentsOf: json) }
    /// Fields already written as JSON (`"k":v,"k2":v2`), e.g. rendered once and reused per record.
    package mutating func addFields(_ fields: [UInt8]) {
        guard !fields.isEmpty else { return }
        separate()
        buffer.append(contentsOf: fields)
    }
    package mutating func add(_ k: StaticString, _ v: [String]) {
        key(k)
        buffer.append(0x5B)
        for (i, s) in v.enumerated() {
            if i > 0 { buffer.append(0x2C) }
            appendJSONString(s, to: &buffer)
        }
        buffer.append(0x5D)
    }
    /// An array of objects, each written straight into this object's buffer (no string per item).
    package mutating func addObjects<T>(_ k: StaticString, _ items: [T], _ each: (inout JSONObjectWriter, T) -> Void) {
        key(k)
        buffer.append(0x5B)
        for (i, item) in items.enumerated() {
            if i > 0 { buffer.append(0x2C) }
            buffer.append(0x7B)
            var inner = JSONObjectWriter(continuing: &buffer)
            each(&inner, item)
            swap(&inner.buffer, &buffer)
            buffer.append(0x7D)
        }
        buffer.append(0x5D)
    }

    /// One object nested under `k`, written straight into this object's buffer.
    package mutating func addObject(_ k: StaticString, _ body: (inout JSONObjectWriter) -> Void) {
        key(k)
        buffer.append(0x7B)
        var inner = JSONObjectWriter(continuing: &buffer)
        body(&inner)
        swap(&inner.buffer, &buffer)
        buffer.append(0x7D)
    }

    /// Takes over `buffer` (already holding the opening brace) to write an object's fields into it.
    private init(continuing buffer: inout [UInt8]) {
        self.buffer = []
        swap(&self.buffer, &buffer)
    }

    package mutating func finish() -> String {
        String(decoding: finishBytes(), as: UTF8.self)
    }

    /// The object as UTF-8 bytes (what an output sink writes, without a String in between).
    package mutating func finishBytes() -> [UInt8] {
        buffer.append(0x7D)
        return buffer
    }

    /// The fields written so far without the braces, to be added elsewhere with `addFields`.
    package var fields: [UInt8] { Array(buffer.dropFirst()) }
}

package func jsonString(_ s: String) -> String {
    var out: [UInt8] = []
    appendJSONString(s, to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// Appends `s` as a JSON string. Works on UTF-8 bytes: only ASCII needs escaping, and multi-byte
/// characters are copied whole.
package func appendJSONString(_ s: String, to out: inout [UInt8]) {
    out.append(0x22)
    var s = s
    s.withUTF8 { bytes in
        let n = bytes.count
        var clean = 0   // start of the run not yet copied
        var i = 0
        while i < n {
            let b = bytes[i]
            // Most text (Chinese, ASCII letters) needs no escape: one comparison per byte.
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i &+= 1
                continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<i]))
            i &+= 1
            clean = i
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            default:
                let hex: StaticString = "0123456789abcdef"
                hex.withUTF8Buffer { h in
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, h[Int(b >> 4)], h[Int(b & 15)]])
                }
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<n]))
    }
    out.append(0x22)
}
