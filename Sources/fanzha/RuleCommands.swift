import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Check rule files: every error and warning with file, line and column.",
        discussion: "Exit status: 0 clean, 1 on errors (or warnings with --strict), 2 on usage errors.")

    @Argument(help: "Rule files or directories (default: the bundled rules).") var paths: [String] = []
    @Flag(help: "Fail on warnings too.") var strict = false
    @Option(help: "Output: text or json (one JSON object per diagnostic, per line).") var format: String = "text"
    @Flag(help: "Print the prefilter's dictionary (every normalised literal word, one per line) instead of diagnostics.") var printWords = false
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        try guarded {
            guard format == "text" || format == "json" else { throw Failure("unknown --format `\(format)` (text, json)") }
            let resolved = try resolveRulePaths(paths)
            let started = DispatchTime.now().uptimeNanoseconds
            let result = try compileReporting(resolved)
            // What every scan pays before its first record: compile, then build the prefilter.
            let matcher = result.ruleSet.map { CompiledMatcher($0) }
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            let out = OutputSink.stdout
            if printWords, let set = result.ruleSet {
                for w in set.words { out.line(w) }
                return strict && !result.warnings.isEmpty ? 1 : 0
            }
            for d in result.diagnostics {
                out.write(format == "json" ? d.json(sources: result.sources) + "\n" : d.rendered(sources: result.sources, colour: useColour(out)) + "\n")
            }
            var e = result.errors.count, w = result.warnings.count
            // The model the rules read: a bad file is an error, no file a warning (`model` is then false).
            if let set = result.ruleSet, set.usesModel || modelOptions.settings.modelPath != nil {
                if let path = modelOptions.settings.path(rulePaths: resolved) {
                    do { _ = try TextModel.load(path: path) } catch {
                        out.line("error[model]: \(error)")
                        e += 1
                    }
                } else if !modelOptions.settings.noModel {
                    out.line("warning[no-model]: the rules use `model` but no model is loaded (no \(TextModel.defaultFileName) beside them, "
                             + "no --model): every `model` condition is false")
                    w += 1
                }
            }
            if format == "text" {
                let rules = matcher.map { " (\($0.rules.rules.count) rules, \($0.rules.categories.count) categories, \($0.rules.words.count) words; compiled in \(String(format: "%.1f", milliseconds)) ms)" } ?? ""
                OutputSink.stderr.line("\(result.sources.count) file\(result.sources.count == 1 ? "" : "s") checked: \(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s")\(rules)")
            }
            return e > 0 || (strict && w > 0) ? 1 : 0
        }
    }
}

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run every rule's embedded hit and miss examples.",
        discussion: "Prints each failure with its rule, example and why, then `N passed, N failed`. Exit 0 when all pass, 1 otherwise.")

    @Argument(help: "Rule files or directories (default: the bundled rules).") var paths: [String] = []
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        try guarded {
            let rules = try loadRules(paths)
            let model = try modelOptions.settings.load(for: rules, rulePaths: try resolveRulePaths(paths))
            let report = ExampleRunner.run(rules, screener: try Screener(matcher: CompiledMatcher(rules, model: model)))
            let out = OutputSink.stdout
            for f in report.failures {
                let src = rules.sources[f.example.range.file]
                let (line, col) = src.lineColumn(f.example.range.start)
                out.line("\(src.path):\(line):\(col): FAIL \(f.rule): \(f.expectedHit ? "hit" : "miss") example \(f.detail)")
                out.line("    \(f.example.text.replacingOccurrences(of: "\n", with: "\n    "))")
            }
            out.line("\(report.passed) passed, \(report.failures.count) failed")
            return report.failures.isEmpty ? 0 : 1
        }
    }
}


struct Fmt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fmt",
        abstract: "Rewrite rule files in the canonical layout (comments are kept).")

    @Argument(help: "Rule files or directories to format (required; with --check, the default is the bundled rules).") var paths: [String] = []
    @Flag(help: "Change nothing; list the files that are not formatted and exit 1 if any.") var check = false

    func run() throws {
        try guarded {
            // Formatting rewrites files: only those named. With no path, --check reads the bundled rules.
            if paths.isEmpty && !check {
                throw Failure("fmt rewrites the rule files it is given: name them (fanzha fmt rules/), or use --check")
            }
            let resolved = try resolveRulePaths(paths)
            let files: [String]
            do { files = try RuleCompiler.ruleFiles(at: resolved) } catch let e as RuleLoadError { throw Failure(e.description) }
            var unformatted = 0, failed = 0
            for f in files {
                guard let data = FileManager.default.contents(atPath: f) else { throw Failure("\(f): cannot read") }
                let text = String(decoding: data, as: UTF8.self)
                let (formatted, diagnostics, source) = RuleFormatter.format(path: f, data: data)
                guard let formatted else {
                    failed += 1
                    for d in diagnostics { OutputSink.stderr.write(d.rendered(sources: [source], colour: useColour(OutputSink.stderr))) }
                    continue
                }
                if formatted == text { continue }
                unformatted += 1
                if check {
                    OutputSink.stdout.line(f)
                } else {
                    // Through a symlink to its file, keeping the file's permissions.
                    let target = URL(fileURLWithPath: f).resolvingSymlinksInPath().path
                    let permissions = (try? FileManager.default.attributesOfItem(atPath: target))?[.posixPermissions]
                    do { try formatted.write(toFile: target, atomically: true, encoding: .utf8) } catch { throw Failure("\(f): cannot write: \(error)") }
                    if let permissions { try? FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: target) }
                    OutputSink.stderr.line("formatted \(f)")
                }
            }
            if failed > 0 { throw Failure("\(failed) file\(failed == 1 ? "" : "s") did not parse and were left alone") }
            return check && unformatted > 0 ? 1 : 0
        }
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show why a text scores what it scores: the evidence highlighted and a table of points per rule.")

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "The text to explain, or a file holding it ('-' for standard input).") var text: String = "-"
    @Flag(help: "Read the text as a `speaker: text` call transcript.") var call = false
    @Option(help: "Speaker names on the caller's side, comma-separated.") var callerNames: String = SpeakerSides.defaultCallerNames.joined(separator: ",")

    func run() throws {
        try guarded {
            let rules = try ruleOptions.load()
            var body = text
            var name = "<text>"   // where a transcript error is
            if text == "-" {
                body = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                name = "<stdin>"
            } else if FileManager.default.fileExists(atPath: text), let d = FileManager.default.contents(atPath: text) {
                body = String(decoding: d, as: UTF8.self)
                name = text
            }
            // One trailing line end is the file's, not the text's ("\r\n" is one Character).
            if body.hasSuffix("\r\n") || body.hasSuffix("\n") { body.removeLast() }
            var record = Record(id: "text", text: body)
            if call {
                let sides = SpeakerSides(commaSeparated: callerNames)
                switch CallTranscript.record(body, id: "call", origin: name, sides: sides) {
                case .success(let call): record = call
                case .failure(let e): throw Failure(e.description)
                }
            }
            let model = try modelOptions.settings.load(for: rules, rulePaths: try ruleOptions.resolvedPaths())
            let scanner = try Screener(matcher: CompiledMatcher(rules, model: model))
            let verdict = scanner.screen(record)
            let out = OutputSink.stdout
            out.write(Explanation.render(verdict, record: record, rules: rules, colour: useColour(out)))
            if let report = scanner.modelReport(record, frames: verdict.frames) { out.write(ModelExplanation.render(report, model: model!)) }
            return verdict.level > .none ? 0 : 1
        }
    }
}
