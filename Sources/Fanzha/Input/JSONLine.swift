import Foundation

/// A JSON number kept as the text it was written in: `12345678901234567890` and `1e400` pass
/// through unchanged, and an id written as a number is that text.
package struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    package let text: String
    package var description: String { text }
    /// Its value as a Double (infinite when out of range, as `1e400`).
    package var double: Double {
        // A whole number within ±2^53 (an event's `t`, mostly) is its integer's Double exactly,
        // as `Double(text)` reads it, which costs about 500 instructions more; `-0` keeps its
        // sign there, so it is left to it.
        if let whole = Int(text), whole.magnitude <= 1 << 53, whole != 0 || !text.hasPrefix("-") { return Double(whole) }
        return Double(text) ?? .nan
    }
}

/// The JSON parser for one input line (JSON Lines records and call events).
///
/// Unlike JSONSerialization it keeps what a pipe filter needs: the top-level keys in order with
/// the raw text of each value (so fields pass through exactly as written), numbers as their text,
/// lone UTF-16 surrogate escapes (`"\ud800"`) as U+FFFD instead of failing the record, and a
/// stated nesting limit (`maxDepth`) with that reason when it is exceeded. Values decode to
/// `String`, `JSONNumber`, `Bool`, `NSNull`, `[Any]` and `[String: Any]` (a duplicate key: the
/// last one wins, as in JSONSerialization).
package enum JSONLine {
    /// Arrays and objects nest at most this deep (the line's object is depth 1).
    package static let maxDepth = 64

    package struct Field {
        package let key: String
        package let value: Any
        /// The value's bytes in the line, as written.
        package let raw: Range<Int>
    }

    package struct ParseError: Error, CustomStringConvertible, Equatable {
        package let description: String
    }

    /// The line's top-level object: its fields in order, or why it is not one.
    package static func object(_ bytes: ArraySlice<UInt8>) -> Result<[Field], ParseError> {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { buffer in
            var p = Parser(b: buffer)
            do {
                return .success(try p.topLevelObject())
            } catch let e as ParseError {
                return .failure(e)
            } catch {
                return .failure(ParseError(description: "not valid JSON"))
            }
        }
    }

    /// One JSON value (any kind) from its text, for a field's raw text; nil when invalid.
    package static func value(_ text: String) -> Any? {
        let array = Array(text.utf8)
        return array.withUnsafeBufferPointer { buffer -> Any? in
            var p = Parser(b: buffer)
            p.skipSpace()
            guard let v = try? p.value(depth: 1) else { return nil }
            p.skipSpace()
            return p.i == buffer.count ? v : nil
        }
    }

    struct Parser {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0

        init(b: UnsafeBufferPointer<UInt8>) { self.b = b }

        func fail(_ why: String) -> ParseError { ParseError(description: "not valid JSON: \(why) at byte \(i + 1)") }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
        }

        mutating func topLevelObject() throws -> [Field] {
            if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { i = 3 }   // a file's byte-order mark
            skipSpace()
            guard i < b.count else { throw ParseError(description: "not valid JSON: an empty line") }
            if b[i] != 0x7B {
                // Name what it is, when it is some other JSON value.
                let start = i
                if let v = try? value(depth: 1) {
                    skipSpace()
                    if i == b.count { throw ParseError(description: "a JSON line must be an object, not \(JSONTypes.name(of: v))") }
                }
                i = start
                throw fail("expected `{`")
            }
            var fields: [Field] = []
            try members(depth: 2) { key, v, raw in fields.append(Field(key: key, value: v, raw: raw)) }
            skipSpace()
            guard i == b.count else { throw fail("text after the object") }
            return fields
        }

        /// The members of the object whose `{` is at `i`, up to and past its `}`: each key, its value
        /// (read at `depth`) and the value's raw byte range.
        mutating func members(depth: Int, _ each: (String, Any, Range<Int>) -> Void) throws {
            i += 1
            skipSpace()
            if i < b.count && b[i] == 0x7D { i += 1; return }
            while true {
                skipSpace()
                guard i < b.count, b[i] == 0x22 else { throw fail("expected a key in quotes") }
                let key = try string()
                skipSpace()
                guard i < b.count, b[i] == 0x3A else { throw fail("expected `:`") }
                i += 1
                skipSpace()
                let start = i
                let v = try value(depth: depth)
                each(key, v, start..<i)
                skipSpace()
                guard i < b.count else { throw fail("unterminated object") }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x7D { i += 1; return }
                throw fail("expected `,` or `}`")
            }
        }

        mutating func value(depth: Int) throws -> Any {
            guard i < b.count else { throw fail("unexpected end") }
            switch b[i] {
            case 0x22: return try string()
            case 0x7B:
                guard depth <= JSONLine.maxDepth else { throw ParseError(description: "nested deeper than \(JSONLine.maxDepth) levels") }
                var dict: [String: Any] = [:]
                try members(depth: depth + 1) { key, v, _ in dict[key] = v }
                return dict
            case 0x5B:
                guard depth <= JSONLine.maxDepth else { throw ParseError(description: "nested deeper than \(JSONLine.maxDepth) levels") }
                i += 1
                var array: [Any] = []
                skipSpace()
                if i < b.count && b[i] == 0x5D { i += 1; return array }
                while true {
                    skipSpace()
                    array.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < b.count else { throw fail("unterminated array") }
                    if b[i] == 0x2C { i += 1; continue }
                    if b[i] == 0x5D { i += 1; return array }
                    throw fail("expected `,` or `]`")
                }
            case 0x74: try word("true"); return true
            case 0x66: try word("false"); return false
            case 0x6E: try word("null"); return NSNull()
            case 0x2D, 0x30...0x39: return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func word(_ w: StaticString) throws {
            let n = w.utf8CodeUnitCount
            guard i + n <= b.count else { throw fail("unexpected end") }
            for k in 0..<n where b[i + k] != w.utf8Start[k] { throw fail("unexpected character") }
            i += n
        }

        mutating func number() throws -> JSONNumber {
            let start = i
            if b[i] == 0x2D { i += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.b.count, p.b[p.i] >= 0x30 && p.b[p.i] <= 0x39 { p.i += 1 }
                return p.i - s
            }
            guard i < b.count, b[i] >= 0x30 && b[i] <= 0x39 else { throw fail("a number without digits") }
            if b[i] == 0x30 { i += 1 } else { _ = digits(&self) }
            if i < b.count && b[i] == 0x2E {
                i += 1
                guard digits(&self) > 0 else { throw fail("a number without digits after `.`") }
            }
            if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
                i += 1
                if i < b.count && (b[i] == 0x2B || b[i] == 0x2D) { i += 1 }
                guard digits(&self) > 0 else { throw fail("a number without an exponent") }
            }
            return JSONNumber(text: String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
        }

        /// A string at `i` (on its opening quote).
        mutating func string() throws -> String {
            i += 1
            let start = i
            var ascii = true
            // Fast path: no escapes. Eight bytes at a time while none of them is a quote, a
            // backslash or a control character (the bulk of a text; the writer's own word test),
            // then byte by byte.
            if let base = b.baseAddress {
                var seen: UInt64 = 0
                while i + 8 <= b.count {
                    let w = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if JSONBytes.mayNeedEscape(w) { break }
                    seen |= w
                    i += 8
                }
                if seen & 0x8080_8080_8080_8080 != 0 { ascii = false }
            }
            while i < b.count {
                let c = b[i]
                if c == 0x22 {
                    let slice = UnsafeBufferPointer(rebasing: b[start..<i])
                    i += 1
                    return try text(slice, ascii: ascii)
                }
                if c == 0x5C { break }
                if c < 0x20 { throw fail("a control character inside a string") }
                if c >= 0x80 { ascii = false }
                i += 1
            }
            guard i < b.count else { throw fail("unterminated string") }
            // With escapes: decode into bytes (UTF-8), surrogates paired or replaced.
            var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: b[start..<i]))
            while i < b.count {
                let c = b[i]
                if c == 0x22 {
                    i += 1
                    return try out.withUnsafeBufferPointer { try text($0, ascii: ascii) }
                }
                if c < 0x20 { throw fail("a control character inside a string") }
                if c != 0x5C {
                    if c >= 0x80 { ascii = false }
                    out.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < b.count else { throw fail("unterminated string") }
                let e = b[i]
                i += 1
                switch e {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x2F: out.append(0x2F)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate pairs with a following low one; alone, it is U+FFFD.
                        if i + 1 < b.count, b[i] == 0x5C, b[i + 1] == 0x75 {
                            let save = i
                            i += 2
                            let low = try hex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                i = save
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        scalar = 0xFFFD
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    i -= 1
                    throw fail("an unknown escape `\\\(Character(Unicode.Scalar(e)))`")
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= b.count else { throw fail("a short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw fail("a bad \\u escape")
                }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }

        /// The string of a JSON string's UTF-8 bytes (escapes decoded); refused when they are not
        /// valid UTF-8.
        ///
        /// `String(decoding:)` repairs what is not valid UTF-8 (each bad sequence becomes U+FFFD),
        /// so its bytes are `bytes` exactly when `bytes` were valid: valid bytes decode to
        /// themselves, and a repair writes valid bytes where invalid ones were. Comparing them
        /// refuses what `String(validating:)` refuses, without its generic path, which is not
        /// specialised and looked up type metadata for about 700 instructions a string (an
        /// event's text: a third of reading an event line).
        func text(_ bytes: UnsafeBufferPointer<UInt8>, ascii: Bool) throws -> String {
            var s = String(decoding: bytes, as: UTF8.self)
            if ascii { return s }
            let valid = s.withUTF8 { decoded in
                decoded.count == bytes.count && memcmp(decoded.baseAddress!, bytes.baseAddress!, bytes.count) == 0
            }
            guard valid else { throw fail("invalid UTF-8 in a string") }
            return s
        }
    }
}
