import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation
import Testing

// `ScanCommandLine`, the direct reader of ordinary `fanzha scan` command lines, held to
// swift-argument-parser's reading of the same declaration (`ScanArguments`): its table against
// the declaration, and both parsers on generated command lines.

/// `fanzha` and its `scan` as swift-argument-parser sees them (the root's version, as `fanzha`'s).
private struct RootProbe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fanzha", version: "0.1.0", subcommands: [ScanProbe.self])
}

private struct ScanProbe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scan")
    @OptionGroup var arguments: ScanArguments
}

/// swift-argument-parser's settings for `fanzha scan ARGS`, or nil when it refuses them or
/// answers with help, a version or an error.
private func parsed(_ args: [String]) -> ScanSettings? {
    guard let command = try? RootProbe.parseAsRoot(["scan"] + args) else { return nil }
    return (command as? ScanProbe)?.arguments.settings
}

private func read(_ args: [String]) -> ScanSettings? { ScanCommandLine.read(ArraySlice(["scan"] + args)) }


@Suite struct ScanCommandLineTests {
    @Test func tableIsTheDeclaration() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ScanProbe._dumpHelp().utf8)) as? [String: Any])
        let command = try #require(json["command"] as? [String: Any])
        let arguments = try #require(command["arguments"] as? [[String: Any]])
        var declared: [(names: [String], kind: String, repeating: Bool)] = []
        for a in arguments {
            let names = (a["names"] as? [[String: Any]] ?? []).map { n in
                (n["kind"] as? String == "short" ? "-" : "--") + (n["name"] as? String ?? "")
            }
            // swift-argument-parser's own: the reader hands them back.
            if names.contains("--help") || names.contains("--version") { continue }
            declared.append((names.sorted(), a["kind"] as? String ?? "", a["isRepeating"] as? Bool ?? false))
        }
        // The one positional is the file operands.
        let positionals = declared.filter { $0.kind == "positional" }
        #expect(positionals.count == 1 && positionals[0].repeating)
        let named = declared.filter { $0.kind != "positional" }
        try #require(named.count == ScanCommandLine.options.count)
        for (option, d) in zip(ScanCommandLine.options, named) {
            #expect(d.names == ([option.long] + (option.short.map { [$0] } ?? [])).sorted(), "\(option.long)")
            let isFlag: Bool, isRepeating: Bool
            switch option.value {
            case .flag: (isFlag, isRepeating) = (true, false)
            case .strings: (isFlag, isRepeating) = (false, true)
            default: (isFlag, isRepeating) = (false, false)
            }
            #expect(d.kind == (isFlag ? "flag" : "option"), "\(option.long)")
            #expect(d.repeating == isRepeating, "\(option.long)")
        }
        // Every default (`ScanSettings`'s, which the declaration names): the settings of a bare `fanzha scan`.
        #expect(read([]) != nil && read([]) == parsed([]))
    }

    /// The value types: a string option takes any of these values, an integer only `7`, a
    /// number `7` and `2.5`; both parsers agree on each, and on the settings.
    @Test func valueTypesAreTheDeclarations() {
        for option in ScanCommandLine.options {
            if case .flag = option.value {
                #expect(read([option.long]) != nil && read([option.long]) == parsed([option.long]), "\(option.long)")
                continue
            }
            for value in ["7", "2.5", "x", "caller=agent"] {
                for args in [[option.long, value], ["\(option.long)=\(value)"]] {
                    let mine = read(args), theirs = parsed(args)
                    #expect(mine == theirs, "\(args)")
                }
            }
            let expected: [String]
            switch option.value {
            case .int: expected = ["7"]
            case .double: expected = ["7", "2.5"]
            default: expected = option.long == "--speakers" ? ["caller=agent"] : ["7", "2.5", "x", "caller=agent"]
            }
            #expect(["7", "2.5", "x", "caller=agent"].filter { parsed([option.long, $0]) != nil } == expected, "\(option.long)")
        }
    }

    @Test func readsTheOrdinaryForms() throws {
        let s = try #require(read(["-q", "--rules", "r", "--rules=s", "--format=jsonl", "--threads", "2", "a.txt", "-", "-H", "--idle-seconds", "2.5"]))
        var expected = ScanSettings()
        expected.quiet = true
        expected.rulePaths = ["r", "s"]
        expected.format = "jsonl"
        expected.threads = 2
        expected.files = ["a.txt", "-"]
        expected.withFilename = true
        expected.idleSeconds = 2.5
        #expect(s == expected)
        #expect(read([]) == ScanSettings())
        #expect(read(["--no-model", "-c", "x.jsonl"])?.model.noModel == true)
    }

    @Test func handsBackWhatIsNotOrdinary() {
        let refused: [[String]] = [
            ["--help"], ["-h"], ["help"], ["--version"], ["-qc"], ["--", "a.txt"], ["--bogus"], ["-x"],
            ["-q", "-q"], ["--format", "jsonl", "--format", "tsv"], ["--quiet=true"], ["--format"], ["--format", "-x"],
            ["--format="], ["--threads", "x"], ["--threads", "0"], ["--threads", "-1"], ["--idle-seconds", "nan"],
            ["--max-record-bytes", "0"], ["--model", "m", "--no-model"], ["--speakers", "nonsense"], [""],
            ["--generate-completion-script", "bash"], ["--experimental-dump-help"],
        ]
        for args in refused { #expect(read(args) == nil, "\(args)") }
        #expect(ScanCommandLine.read(["eval", "a.txt"]) == nil)
        #expect(ScanCommandLine.read([]) == nil)
    }

    /// Thousands of generated command lines: whenever the reader accepts one, swift-argument-parser
    /// accepts it too with the same settings; so whenever swift-argument-parser refuses one, the
    /// reader has handed it back.
    @Test func agreesWithArgumentParser() {
        var rng = SplitMix64(seed: 22)
        let values = ["7", "0", "300", "2.5", "-1", "", "x", "jsonl", "tsv", "text", "high", "nan", "1e3", "inf",
                      "caller=agent", "a.txt", "-", "--quiet", "=", "help", "+5", "07", " 7", "１"]
        let loose = ["a.txt", "b.jsonl", "-", "help", "--", "-x", "-qc", "-cq", "--bogus", "--help", "-h", "--version",
                     "", "scan", "-H", "-q", "-c", "--quiet=1", "-q=1", "--=x"]
        var accepted = 0, refused = 0
        for _ in 0..<3000 {
            var args: [String] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                if Bool.random(using: &rng) || Int.random(in: 0..<4, using: &rng) == 0 {
                    let option = ScanCommandLine.options.randomElement(using: &rng)!
                    let name = Bool.random(using: &rng) ? option.long : (option.short ?? option.long)
                    if case .flag = option.value {
                        args.append(Int.random(in: 0..<20, using: &rng) == 0 ? name + "=" + values.randomElement(using: &rng)! : name)
                    } else {
                        let value = values.randomElement(using: &rng)!
                        if Bool.random(using: &rng) { args += [name, value] } else { args.append(name + "=" + value) }
                    }
                } else {
                    args.append(loose.randomElement(using: &rng)!)
                }
            }
            // "When swift-argument-parser refuses, the reader has handed back" is the same
            // statement as "when the reader accepts, swift-argument-parser accepts": only the
            // accepted lines need swift-argument-parser's reading (slow in a debug build).
            guard let mine = read(args) else { refused += 1; continue }
            accepted += 1
            #expect(parsed(args) == mine, "\(args)")
        }
        // The generated lines exercise both answers.
        #expect(accepted > 300 && refused > 300, "accepted \(accepted), handed back \(refused)")
    }
}
