import Foundation
import Testing
@testable import Fanzha

/// The writer behind every JSON line fanzha prints: its output must parse, whatever the values.
@Suite struct JSONWriterTests {
    @Test func integersAreWrittenExactly() throws {
        for v in [0, 7, -4, 10, 256, -1000, 1_234_567_890, Int.max, Int.min] {
            var o = JSONObjectWriter()
            o.add("n", v)
            let text = o.finish()
            #expect(text == "{\"n\":\(v)}")
        }
    }

    @Test func stringsAreEscapedAndChineseIsKeptWhole() throws {
        let tricky = "引号\"反斜杠\\换行\n回车\r制表\t响铃\u{07}结束"
        var o = JSONObjectWriter()
        o.add("text", tricky)
        o.addRaw("keyWith\"quote", jsonString("安全账户"))
        let text = o.finish()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed["text"] == tricky)
        #expect(parsed["keyWith\"quote"] == "安全账户")
        #expect(text.contains("\\u0007"), "control characters as \\u escapes")
    }

    @Test func nestedObjectsAndPrewrittenFields() throws {
        var inner = JSONObjectWriter()
        inner.add("rule", "police.safe_account")
        inner.add("score", 3)
        let fields = inner.fields
        var o = JSONObjectWriter()
        o.addObjects("hits", [1, 2]) { h, i in
            h.addFields(fields)
            h.add("i", i)
        }
        o.addRaw("raw", bytes: Array("[1,2]".utf8))
        let text = o.finish()
        #expect(text == #"{"hits":[{"rule":"police.safe_account","score":3,"i":1},{"rule":"police.safe_account","score":3,"i":2}],"raw":[1,2]}"#)
    }
}
