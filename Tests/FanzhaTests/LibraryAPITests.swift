import Foundation
import Testing
import Fanzha

/// The README's "Using Fanzha as a library" example, compiled and run: the code between the
/// markers is the README's code block (a test checks they are the same text).
@Suite struct LibraryAPITests {
    @Test func theReadmeExampleRuns() throws {
        // README example: begin

        // Rules: from files (`RuleCompiler.compile(paths: ["rules"])`, a directory of .fz files and its
        // variants.txt) or from a string. Diagnostics are values: an id, a severity, a place, a message.
        let compiled = RuleCompiler.compile(source: """
            levels low 3, medium 6, high 10
            category police {
              title "冒充公检法"
              advice "公检法机关不会通过电话办案，也没有安全账户。请挂断，拨打110核实。"
              script "您好，这里是96110反诈中心。自称公安要您转账的是骗子，请不要转账。"
            }
            rule police.safe_account {
              title "安全账户"
              category police
              score 7
              tags money_request
              match "安全账户" and ("转到" or "汇入")
              hit "请把钱转到安全账户"
              miss "根本没有什么安全账户"
            }
            """, path: "police.fz")
        for d in compiled.diagnostics {
            let at = compiled.location(of: d)
            print("\(at?.path ?? "?"):\(at?.line ?? 0):\(at?.column ?? 0): \(d.severity)[\(d.id.rawValue)]: \(d.message)")
        }
        guard let rules = compiled.ruleSet else { fatalError("the rules have errors") }

        // A message, or a call (turns with speakers). A screener is for one thread; `sibling()` gives
        // another thread its own, sharing the compiled rules.
        let screener = try Screener(rules: rules)
        let verdict = screener.screen(Record(id: "sms-1", text: "我是公安局的，请把钱转到安全账户"))
        print(verdict.level, verdict.category ?? "-", verdict.score)   // medium police 7
        for hit in verdict.hits {
            print(hit.rule, hit.score, hit.spans.map(\.text))             // police.safe_account 7 ["转到安全账户"]
        }
        print(verdict.referral?.hotline ?? "-", verdict.advice ?? "-")     // 96110 公检法机关不会…

        let call = Record(id: "call-1", turns: [
            Turn(speaker: "caller", text: "你好，我是市公安局的"),
            Turn(speaker: "callee", text: "什么事？"),
            Turn(speaker: "caller", text: "请把钱转到安全账户配合调查"),
        ])
        print(screener.screen(call).firstWarningTurn ?? -1)                // 2

        // Live calls: events in, typed events out (`.alert`, `.final`, …); a printer writes them.
        let live = LiveCallScreener(screener: try screener.sibling())
        let printer = LiveEventPrinter(rules: rules, format: .jsonl)
        let events = live.handle(.turn(call: "c1", speaker: "caller", text: "请把钱转到安全账户", time: nil), number: 1)
            + live.finish()
        for event in events {
            switch event {
            case .alert(let alert): print("alert", alert.call, alert.level, alert.newHits.map(\.rule))
            case .final(let final): print("final", final.call, final.closed, final.verdict.level)
            case .malformed(let error): print("bad input", error)
            case .notice(let notice): print(notice)
            }
            if let line = printer.render(event) { print(line) }            // {"event":"alert","call":"c1",…}
        }
        // README example: end
        #expect(compiled.diagnostics.isEmpty)
        #expect(verdict.level == .medium && verdict.category == "police" && verdict.score == 7)
        #expect(verdict.hits.map(\.rule) == ["police.safe_account"])
        #expect(verdict.hits.first?.spans.map(\.text) == ["转到安全账户"])
        #expect(verdict.referral?.hotline == "96110")
        #expect(verdict.advice == rules.categories.first?.advice)
        #expect(screener.screen(call).firstWarningTurn == 2)
        #expect(events.compactMap(\.alert).map(\.level) == [.medium])
        #expect(events.compactMap(\.final).map(\.closed) == [.eof])
        #expect(printer.render(events[0])?.hasPrefix(#"{"event":"alert","call":"c1","turn":0,"level":"medium""#) == true)
    }

    @Test func theReadmeShowsTheSameCode() throws {
        let readme = try String(contentsOf: PackageFiles.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Using Fanzha as a library"))
        let rest = readme[section.upperBound...]
        let open = try #require(rest.range(of: "```swift\n"))
        let close = try #require(rest[open.upperBound...].range(of: "\n```"))
        let shown = rest[open.upperBound..<close.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(source.firstIndex { $0.hasSuffix("// README example: begin") })
        let end = try #require(source.firstIndex { $0.hasSuffix("// README example: end") })
        let tested = source[(begin + 1)..<end].map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }
        #expect(shown == ["import Fanzha"] + tested)
    }
}
