import Foundation
import Fanzha

// libFuzzer target: a rule file (`.fz`) — the lexer, parser, checker and compiler (PCRE2 patterns,
// the prefilter), and `fanzha fmt`. Any bytes give a rule set or diagnostics, never a crash or a
// hang. What must hold besides:
//   - a rule set is loaded exactly when there is no error, and every diagnostic renders;
//   - a rule set that compiles screens a message and a call, and its verdicts print;
//   - `fmt`'s output is a fixed point, and it compiles to as many rules as the input did.

private let samples: [Record] = [
    Record(id: "sms", text: "【快递】您的包裹丢失，请添加客服微信kefu8888办理理赔，点击 http://x.cn/a 领取88元补偿"),
    Record(id: "call", turns: [
        Turn(speaker: "caller", text: "你好，我是公安局的，你的账户涉嫌洗钱，需要把钱转到安全账户。"),
        Turn(speaker: "callee", text: "真的吗？我该怎么办"),
        Turn(speaker: "caller", text: "下载这个会议软件，开启屏幕共享，不要告诉家人。"),
    ]),
]

func fuzzRules(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let data = Data(bytes: bytes, count: count)
    let result = RuleCompiler.compile(files: [(path: "fuzz.fz", data: data)])
    precondition((result.ruleSet == nil) == !result.errors.isEmpty, "a rule set loaded despite errors, or none without one")
    for d in result.diagnostics {
        precondition(result.location(of: d) != nil, "a diagnostic outside the file")
        _ = d.rendered(sources: result.sources)
        _ = d.json(sources: result.sources)
    }
    if let rules = result.ruleSet {
        let screener = try! Screener(rules: rules)
        let printer = VerdictPrinter(rules: rules, format: .jsonl)
        for record in samples { _ = printer.render(screener.screen(record), record: record) }
    }
    let (formatted, _, _) = RuleFormatter.format(path: "fuzz.fz", data: data)
    if let formatted {
        let (again, errors, _) = RuleFormatter.format(path: "fuzz.fz", data: Data(formatted.utf8))
        precondition(errors.isEmpty && again == formatted, "fmt's output is not a fixed point")
        if let rules = result.ruleSet {
            let reformatted = RuleCompiler.compile(source: formatted, path: "fuzz.fz")
            precondition(reformatted.ruleSet?.rules.count == rules.rules.count, "fmt changed what the file compiles to")
        }
    }
    return 0
}
