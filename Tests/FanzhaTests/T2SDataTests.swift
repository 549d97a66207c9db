import Foundation
import Testing
@testable import FanzhaText

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
}
