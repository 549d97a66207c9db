import Foundation
import Testing
@testable import Fanzha

// Event lines are read in place (`CallEventInput.decodeFlat`), without a dictionary of every
// member; the reading through any JSON object (`decodeAnyObject`) is what that must agree with,
// for every line, and it is the one that says why a line is not an event.

@Suite struct CallEventDecodingTests {
    @Test func theFlatReadingAgreesOnFixedLines() {
        let lines = [
            #"{"call":"c1","speaker":"caller","text":"您好","t":3}"#,
            #"{"call": 42, "text": "a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800x", "t": -0.5e1}"#,
            #"{"call":"c","end":true}"#, #"{"call":"c","event":"end","t":1e400}"#, #"{"call":"c","t":"3"}"#,
            #"{"call":true,"text":"x"}"#, #"{"call":"","text":"x"}"#, #"{"text":"x"}"#, #"{"call":null}"#,
            #"{"call":"c","speaker":false,"text":"x","extra":{"a":[1,{"b":null}]}}"#, #"{"call":"c","text":1}"#,
            #"{"call":"c","call":"d","text":"x","text":"y"}"#, "\u{FEFF}{\"call\":\"c\",\"text\":\"x\"}", #" { "call" : "c" , "text" : "x" } "#,
            #"{"call":"c","text":"x",}"#, #"{"call":"c" "text":"x"}"#, #"["call"]"#, #"{"call":"c","text":"x"} x"#, #"{"#,
            #"{"call":"c","text":"\x"}"#, #"{"call":"c","t":01}"#, #"{"call":"c","t":1.}"#, #"{"call":"c","end":tru}"#,
            #"{"call":"c","end":"true"}"#, #"{"call":"c","end":false,"event":"end"}"#, #"{"call":1.0e2,"speaker":12,"text":""}"#,
            #"{"call":"c","extra":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}",
            "{\"call\":\"c\",\"text\":\"\u{1}\"}", "{}",
            // Keys matched on their bytes: near misses, escapes, a bad key after a good one.
            #"{"calls":"c","call":"d","Text":"x","tex":"y","text":"z","t ":1,"":2}"#, #"{"\u0063all":"c","te\u0078t":"转账"}"#,
            "{\"call\":\"c\",\"te\u{1}xt\":\"x\"}", #"{"call":"c","text"#,
        ]
        for line in lines {
            let bytes = ArraySlice(Array(line.utf8))
            #expect(CallEventInput.decode(line: bytes) == CallEventInput.decodeAnyObject(bytes), "\(line)")
        }
        #expect(CallEventInput.decodeFlat(ArraySlice(Array(lines[1].utf8))) != nil)
    }

    /// Randomised event-like lines, well-formed and not: the two readings give the same result.
    @Test func theFlatReadingAgreesOnRandomLines() {
        var rng = SplitMix64(seed: 20261205)
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        let keys = ["call", "speaker", "text", "t", "end", "event", "id", "call", "text", "t\\u0020", "\\u0063all"]
        let strings = ["c1", "", "end", "您好，请转账", "a\\\"b", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\udc00x", "\\n\\t\\/", "\\q", "\u{1}", "é", "true"]
        let numbers = ["0", "-0", "12", "3.25", "-1e3", "1e400", "-1E-400", "01", "1.", "-", "2e", "12345678901234567890"]
        func value(_ depth: Int) -> String {
            switch rng.next() % (depth > 2 ? 6 : 9) {
            case 0, 1: return "\"" + pick(strings) + "\""
            case 2, 3: return pick(numbers)
            case 4: return pick(["true", "false", "null", "tru", "nul"])
            case 5: return pick(["\"unterminated", "'x'", "NaN"])
            case 6: return "[" + (0..<Int(rng.next() % 3)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
            default: return "{" + (0..<Int(rng.next() % 3)).map { _ in "\"" + pick(keys) + "\":" + value(depth + 1) }.joined(separator: ",") + "}"
            }
        }
        var fast = 0
        for _ in 0..<20_000 {
            var members: [String] = []
            if rng.next() % 8 != 0 { members.append("\"call\":" + pick(["\"c\"", "\"c2\"", "7", "true", "\"\"", "null"])) }
            if rng.next() % 4 != 0 { members.append("\"text\":" + (rng.next() % 5 == 0 ? value(1) : "\"" + pick(strings) + "\"")) }
            for _ in 0..<Int(rng.next() % 4) { members.append("\"" + pick(keys) + "\"" + pick([":", ":", " : ", ""]) + value(1)) }
            members.shuffle(using: &rng)
            var line = pick(["{", "{", "{", " {", "\u{FEFF}{", "["]) + members.joined(separator: pick([",", ",", ", ", ",,"])) + pick(["}", "}", "} ", "}x", ""])
            if rng.next() % 50 == 0 { line = String(line.prefix(Int(rng.next() % UInt64(line.count + 1)))) }
            let bytes = ArraySlice(Array(line.utf8))
            if CallEventInput.decodeFlat(bytes) != nil { fast += 1 }
            let decoded = CallEventInput.decode(line: bytes)
            if decoded == .blank { continue }   // cut to nothing: a blank line, before either reading
            #expect(decoded == CallEventInput.decodeAnyObject(bytes), "\(line)")
        }
        #expect(fast > 2_000, "lines the flat reading decided: \(fast)")
    }
}

/// A number's value (`JSONNumber.double`: a whole number within ±2^53 through its integer) is
/// the one `Double(text)` reads, to the bit: `-0` keeps its sign, and larger or fractional
/// numbers are left to it.
@Suite struct JSONNumberTests {
    @Test func aNumbersValueIsTheDoubleItsTextReadsAs() {
        let texts = ["0", "-0", "1", "-1", "7", "12", "3600", "-42", "1700000000", "9007199254740991", "9007199254740992",
                     "-9007199254740992", "9007199254740993", "-9007199254740993", "9223372036854775807", "9223372036854775808",
                     "12345678901234567890", "0.0", "-0.0", "3.25", "0.1", "-1e3", "1e400", "-1E-400", "1E2"]
        for text in texts {
            let value = JSONNumber(text: text).double
            let expected = Double(text)!
            #expect(value.bitPattern == expected.bitPattern, "\(text): \(value) against \(expected)")
        }
    }
}

/// A JSON string is read eight bytes at a time up to the first word holding a quote, a backslash
/// or a control character (`JSONLine.Parser.string`): each of those, and a non-ASCII byte, at
/// every position of a word, reads as the byte-by-byte reading would.
@Suite struct JSONLineStringTests {
    @Test func anyByteAtAnyPositionOfAWordReadsAsItsOwn() {
        // A piece of a string's JSON, and the text it reads as (nil: the string is refused).
        let pieces: [([UInt8], String?)] = [
            (Array("a".utf8), "a"), (Array("é".utf8), "é"), (Array("转".utf8), "转"), (Array("😀".utf8), "😀"),
            (Array(#"\""#.utf8), "\""), (Array(#"\\"#.utf8), "\\"), (Array(#"\n"#.utf8), "\n"), (Array(#"\u00e9"#.utf8), "é"),
            ([0x7F], "\u{7F}"), ([0x20], " "), ([0x1F], nil), ([0x01], nil), ([0xFF], nil), ([0x80], nil),
            // Read by decoding with repairs and comparing (`text`): U+FFFD written as such is
            // valid; a cut sequence, an overlong one and a surrogate are not, whatever follows.
            (Array("\u{FFFD}".utf8), "\u{FFFD}"), ([0xE8, 0xBD, 0x61], nil), ([0xF0, 0x9F, 0x98, 0x61], nil),
            ([0xC0, 0xAF], nil), ([0xED, 0xA0, 0x80], nil),
        ]
        var rng = SplitMix64(seed: 20261206)
        var refused = 0, read = 0
        for _ in 0..<20_000 {
            var json: [UInt8] = [0x22], expected: String? = ""
            for _ in 0..<Int(rng.next() % 24) {
                // Mostly letters, so that the others fall at every position of a word.
                let (bytes, text) = rng.next() % 4 == 0 ? pieces[Int(rng.next() % UInt64(pieces.count))] : pieces[0]
                json += bytes
                expected = expected.flatMap { e in text.map { e + $0 } }
            }
            json.append(0x22)
            // What follows the string on its line (read past by a word, never taken into it).
            json += Array(#","t":1}"#.utf8).prefix(Int(rng.next() % 7))
            let got: String? = json.withUnsafeBufferPointer { buffer in
                var parser = JSONLine.Parser(b: buffer)
                return try? parser.string()
            }
            #expect(got == expected, "\(json)")
            if expected == nil { refused += 1 } else { read += 1 }
        }
        #expect(refused > 1_000 && read > 1_000, "\(read) read, \(refused) refused")
    }
}
