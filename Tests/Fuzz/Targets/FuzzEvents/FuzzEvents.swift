import Foundation
import Fanzha

// libFuzzer target: live-call event lines (`--input events`) — CallEventInput.decode and the live
// screener's per-call state (turn limit, window, idle lines and times, eviction), with small limits
// so a short input reaches all of them, the bundled rules, and the event printer. The input is
// an event stream, one event per line. What must hold besides never crashing: every event line
// gives what it should (nothing for a blank line), each output event prints as one JSON object,
// and every call opened is closed once by the end.

private let bundled: (rules: RuleSet, screener: Screener) = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../../rules").standardized.path
    guard let rules = (try? RuleCompiler.compile(paths: [root]))?.ruleSet else { fatalError("cannot compile the bundled rules at \(root)") }
    return (rules, try! Screener(rules: rules))
}()

private let printer = LiveEventPrinter(rules: bundled.rules, format: .jsonl)
private let textPrinter = LiveEventPrinter(rules: bundled.rules, format: .text)

func fuzzEvents(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    var limits = LiveCallScreener.Limits()
    limits.idleLines = 6
    limits.idleSeconds = 30
    limits.maxOpenCalls = 3
    limits.maxTurns = 8
    limits.window = 3
    let live = LiveCallScreener(screener: bundled.screener, limits: limits)
    var opened = 0, closed = 0
    func check(_ events: [LiveCallEvent]) {
        for e in events {
            if case .final = e { closed += 1 }
            guard let line = printer.render(e) else { continue }
            precondition(!line.contains("\n"), "an output event spans lines")
            guard case .success = JSONLine.object(Array(line.utf8)[...]) else { preconditionFailure("an output event is not one JSON object: \(line)") }
            _ = textPrinter.render(e)
        }
    }
    let input = UnsafeBufferPointer(start: bytes, count: count)
    var number = 0
    for var line in input.split(separator: 0x0A, omittingEmptySubsequences: false) {
        number += 1
        if line.last == 0x0D { line = line.dropLast() }
        let before = live.openCalls
        let events = live.handle(line: ArraySlice(line), number: number, source: "fuzz.events")
        let finals = events.filter { if case .final = $0 { return true } else { return false } }.count
        // A call opened by this line: open calls grew by more than the finals shrank them.
        opened += max(0, live.openCalls - before + finals)
        check(events)
        precondition(live.openCalls <= limits.maxOpenCalls, "more calls open than the limit")
    }
    check(live.finish())
    precondition(live.openCalls == 0 && opened == closed, "\(opened) calls opened, \(closed) closed")
    return 0
}

/// Compiles the bundled rules before libFuzzer starts timing inputs (in an instrumented build that
/// takes longer than the per-input timeout).
func warmUp() { _ = bundled }
