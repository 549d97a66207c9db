import Foundation
import Testing
@testable import FanzhaText

/// A line converted by the per-character table alone (what a line without OpenCC's phrases gets).
private func byTable(_ s: String) -> String {
    String(String.UnicodeScalarView(s.unicodeScalars.map { u in
        let t = T2STable.shared.lookup(u.value)
        return t == 0 ? u : Unicode.Scalar(t)!
    }))
}

/// The committed Traditional → Simplified table must be exactly what the installed OpenCC gives.
/// To regenerate it after an OpenCC upgrade: `FANZHA_WRITE_T2S=1 swift test --filter T2SDataTests`.
@Suite struct T2SDataTests {
    @Test func committedTableEqualsOpenCC() throws {
        let derived = T2STable.fromOpenCC()
        #expect(derived.changedCount > 3000)
        if ProcessInfo.processInfo.environment["FANZHA_WRITE_T2S"] != nil {
            let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Sources/FanzhaText/T2SData.swift").path
            let source = """
            // Generated from OpenCC's t2s by T2SDataTests (FANZHA_WRITE_T2S=1); do not edit by hand.
            // Pairs of characters: traditional, then its simplified form.
            enum T2SData {
                static let pairs = "\(derived.pairs)"
            }

            """
            try source.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let committed = try #require(T2STable.fromCommittedData(), "Sources/FanzhaText/T2SData.swift is empty or malformed")
        #expect(committed.changedCount == derived.changedCount)
        #expect(committed.map == derived.map, "regenerate with FANZHA_WRITE_T2S=1 swift test --filter T2SDataTests")
        #expect(committed.lookup(0x5E33) == 0x5E10)   // 帳 → 帐 (variant folding makes it 账 later)
    }

    /// A line without a phrase character (T2SPhraseData) is converted by the table alone, so
    /// OpenCC must give the same for it: every traditional character outside the set, in runs
    /// of neighbours (so that two-character keys of the dictionaries meet), and sentences.
    @Test func tableAloneAgreesWithOpenCCWithoutPhraseCharacters() throws {
        let cc = try TraditionalToSimplified()
        let table = T2STable.shared
        let traditional = (T2STable.first...T2STable.last).filter { table.lookup($0) != 0 && !T2STable.needsPhrases($0) }
        #expect(traditional.count > 3000)
        var lines: [String] = []
        for from in stride(from: 0, to: traditional.count, by: 40) {
            let run = traditional[from..<min(from + 40, traditional.count)]
            lines.append(String(String.UnicodeScalarView(run.map { Unicode.Scalar($0)! })))
        }
        lines += ["您的帳戶存在異常，請立即轉賬到安全賬戶配合調查", "警方提醒：凡是自稱公檢法要求轉賬的，都是詐騙",
                  "經警方查證，陳姓男子先後匯款三次", "頭髮洗了嗎", "這個軟體的後台發現異常登錄"]
        for line in lines where !line.unicodeScalars.contains(where: { T2STable.needsPhrases($0.value) }) {
            #expect(cc.convert(line) == byTable(line), "\(line)")
        }
        // A line holding one still takes OpenCC's phrases: 乾隆 keeps its 乾, 乾燥 does not.
        let n = try Normaliser()
        #expect(T2STable.needsPhrases(Unicode.Scalar("乾").value))
        #expect(n.normalise("乾隆年間").string == "乾隆年间")
        #expect(n.normalise("乾燥").string == "干燥")
    }

    /// OpenCC is opened only for a line holding one of the dictionary keys behind the phrase
    /// characters (`T2STable.holdsPhraseKey`). Each committed key must still convert otherwise
    /// than by the table, and a line with phrase characters but none of the keys must convert by
    /// OpenCC exactly as by the table.
    @Test func phraseKeysDecideWhereOpenCCIsNeeded() throws {
        let cc = try TraditionalToSimplified()
        func holds(_ s: String) -> Bool {
            let v = s.unicodeScalars.map(\.value)
            return v.withUnsafeBufferPointer { T2STable.holdsPhraseKey($0.baseAddress!, 0..<v.count) }
        }
        let keys = T2SPhraseData.keys.split(separator: " ").map(String.init)
        #expect(keys.count > 500)
        for key in keys {
            #expect(cc.convert(key) != byTable(key), "\(key)")
            #expect(holds(key) && holds("請將" + key + "轉帳"), "\(key)")
        }
        // Every phrase character of the BMP among traditional neighbours, and in the sentences
        // of a traditional scam text: where no key is held, OpenCC agrees with the table.
        let phrase = T2SPhraseData.characters.unicodeScalars.filter { $0.value <= 0xFFFF }.map { String($0) }
        #expect(phrase.count > 20)
        var lines: [String] = []
        for c in phrase {
            lines += [c + "帳戶", "轉" + c + "賬", "請立即" + c + "匯款", c, "經警方查證" + c + "係詐騙", "這" + c + "個", c + c]
        }
        lines += ["瞭解一下您的帳戶", "於是轉賬", "畫面顯示異常", "覆蓋範圍", "沈先生請聯繫客服", "乾隆年間", "乾淨的錢"]
        var checked = 0
        for line in lines where !holds(line) {
            #expect(cc.convert(line) == byTable(line), "\(line)")
            checked += 1
        }
        #expect(checked > 100)
        // 乾淨 converts by the table (干净); 乾隆 is a key that keeps its 乾.
        #expect(!holds("乾淨的錢") && holds("乾隆年間"))
        // Through the normaliser: the table alone, and OpenCC's phrases where a key is held.
        let n = try Normaliser()
        #expect(n.normalise("於是轉賬到安全帳戶").string == "于是转账到安全账户")
        #expect(n.normalise("衣服很乾淨，乾隆年間").string == "衣服很干净乾隆年间")
    }
}
