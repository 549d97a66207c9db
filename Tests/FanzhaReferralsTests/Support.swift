import Foundation
@testable import FanzhaReferrals

// Fixtures for the referral tests: a settable clock, temporary databases, warnings written here.

/// A clock the test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    var now: Date { lock.lock(); defer { lock.unlock() }; return current }
    var start = Date(timeIntervalSince1970: 1_800_000_000)
    /// Sets the time to `minutes` after the start.
    func at(minutes: Double) { lock.lock(); current = start.addingTimeInterval(minutes * 60); lock.unlock() }
    var clock: ReferralStore.Clock { { [self] in now } }
}

/// A fresh temporary directory, removed when the value goes away.
final class ScratchDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fanzha-referrals-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = path(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }
}

/// A warning about `subject`, from record `key`, firing `rules`.
func warning(_ key: String, subject: String?, tier: Tier, category: String? = "police", rules: [String] = ["police.safe_account"],
             counterparty: String? = "95566001", text: String = "我是公安局的，请把钱转到安全账户") -> Warning {
    Warning(recordKey: key, recordID: key, origin: "test.jsonl:\(key)", tier: tier, score: tier == .high ? 12 : tier == .medium ? 7 : 4,
            category: category, subject: subject, counterparty: counterparty, isCall: false,
            turns: [WarningTurn(speaker: "", text: text)],
            hits: rules.map { WarningHit(rule: $0, title: "标题 \($0)", score: 6, spans: [WarningSpan(turn: nil, start: 11, end: 15, text: "安全账户")]) })
}
