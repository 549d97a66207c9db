import Foundation
import Fanzha

// libFuzzer target: JSON Lines input (`--input jsonl`) — Input/JSONLine.swift's parser and the
// record decoder, then the bundled rules and the printers. The input is a file: each line is one
// record. What must hold besides never crashing:
//   - every line gives a record or an error (one output per input line), and either prints as
//     one JSON object that our own parser reads back;
//   - text output sends no control or bidirectional character to the terminal.

/// The bundled rules (`rules/`), compiled once: found from this file's place in the package.
private let bundled: (screener: Screener, jsonl: VerdictPrinter, text: VerdictPrinter) = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../../rules").standardized.path
    guard let rules = (try? RuleCompiler.compile(paths: [root]))?.ruleSet else { fatalError("cannot compile the bundled rules at \(root)") }
    return (try! Screener(rules: rules), VerdictPrinter(rules: rules, format: .jsonl), VerdictPrinter(rules: rules, format: .text))
}()

private let decoder = RecordDecoder(format: .jsonl, options: ReaderOptions(), source: "fuzz.jsonl")

private func isOneJSONObject(_ bytes: [UInt8]) -> Bool {
    var line = bytes[...]
    if line.last == 0x0A { line = line.dropLast() }
    guard !line.contains(0x0A) else { return false }
    if case .success = JSONLine.object(line) { return true }
    return false
}

private func reachesTheTerminalRaw(_ s: String) -> Bool {
    s.unicodeScalars.contains { c in
        (c.value < 0x20 && c != "\n" && c != "\t") || c.value == 0x7F || (0x80...0x9F).contains(c.value)
            || (0x202A...0x202E).contains(c.value) || (0x2066...0x2069).contains(c.value)
    }
}

func fuzzJSONL(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: bytes, count: count)
    var number = 0
    for var line in input.split(separator: 0x0A, omittingEmptySubsequences: false) {
        number += 1
        if line.last == 0x0D { line = line.dropLast() }   // as LineReader hands lines out
        switch decoder.decode(line: ArraySlice(line), number: number) {
        case nil:
            precondition(line.allSatisfy { $0 == 0x20 || $0 == 0x09 }, "a line skipped that is not blank")
        case .failure(let error):
            precondition(!error.message.isEmpty)
            guard let out = bundled.jsonl.renderError(error) else { preconditionFailure("a bad record without an output line") }
            precondition(isOneJSONObject(out), "the error line is not one JSON object")
        case .success(let record):
            let verdict = bundled.screener.screen(record)
            precondition(isOneJSONObject(bundled.jsonl.render(verdict, record: record)), "the verdict is not one JSON object")
            precondition(!reachesTheTerminalRaw(String(decoding: bundled.text.render(verdict, record: record), as: UTF8.self)),
                         "a control or bidi character in text output")
        }
    }
    return 0
}

/// Compiles the bundled rules before libFuzzer starts timing inputs (in an instrumented build that
/// takes longer than the per-input timeout).
func warmUp() { _ = bundled }
