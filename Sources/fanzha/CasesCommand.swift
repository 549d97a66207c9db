import ArgumentParser
import Fanzha
import Foundation

struct Cases: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cases",
        abstract: "Pick representative flagged cases per category and write a handout for anti-fraud lectures.",
        discussion: """
        Scans DATA (JSON Lines messages or calls, CSV with a text column, or text with one message per line), \
        picks per category up to --per-category cases at medium level or above (high score, different rules, \
        short enough to read aloud), and writes a Markdown or self-contained HTML handout: how each scam works, \
        the cases with the scam phrases marked and labelled, the advice, the 96110 / 110 reminder and a one-page \
        summary. Phone numbers, bank cards, ID cards, QQ / WeChat ids and links are always redacted. The same \
        data and --seed give the same handout. See docs/CASES.md.
        Exit status: 0 when some case was chosen, 1 when none, 2 on error.
        """)

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Data files: .jsonl (messages or calls), .csv, or text with one message per line ('-' for standard input).")
    var data: [String]
    @Option(help: "Only this category (repeatable, or comma-separated ids).") var category: [String] = []
    @Option(help: ArgumentHelp("Cases per category (at most; each shows a different sign).", valueName: "n")) var perCategory: Int = 3
    @Option(help: "markdown or html (default: html when --output ends in .html or .htm, else markdown).") var format: String?
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write the handout to FILE (default: standard output).", valueName: "file"))
    var output: String?
    @Option(help: ArgumentHelp("Seed for the choice among near-equal cases: the same data and seed give the same handout.", valueName: "n")) var seed: UInt64 = 1
    @Flag(help: "Also redact amounts of money (5000元, ¥3,000, 3万).") var redactAmounts = false
    @Flag(help: "Also redact personal names (刘桂芳女士, 我是李明; conservative).") var redactNames = false
    @Option(help: "Longest message to use, in characters.") var maxChars: Int = 200
    @Option(help: "Longest call to use (all turns), in characters.") var maxCallChars: Int = 400
    @Option(help: "Field or column with the text (default: text, then content).") var textField: String?
    @Option(help: "Field or column with the label (benign-labelled records are never cases).") var labelField: String = "label"
    @Option(help: "Field or column with the id.") var idField: String = "id"
    @Option(help: "Speaker names on the caller's side, comma-separated.") var callerNames: String = SpeakerRoles.defaultCallerNames.joined(separator: ",")

    func run() throws {
        try guarded {
            let fmt: HandoutFormat
            if let format {
                guard let f = HandoutFormat(rawValue: format) else { throw Failure("unknown --format `\(format)` (markdown, html)") }
                fmt = f
            } else {
                let lower = output?.lowercased() ?? ""
                fmt = lower.hasSuffix(".html") || lower.hasSuffix(".htm") ? .html : .markdown
            }
            guard perCategory >= 1 else { throw Failure("--per-category must be at least 1") }
            let rules = try ruleOptions.load()
            let model = try modelOptions.load(for: rules, rulePaths: try ruleOptions.resolvedPaths())
            var options = CaseOptions()
            options.perCategory = perCategory
            options.seed = seed
            options.maxMessageChars = maxChars
            options.maxCallChars = maxCallChars
            options.redactor = Redactor(amounts: redactAmounts, names: redactNames)
            options.categories = category.flatMap(commaSeparatedList)
            for c in options.categories where rules.category(named: c) == nil {
                throw Failure("unknown category `\(c)` (one of: \(rules.categories.map(\.id).joined(separator: ", ")))")
            }

            let roles = SpeakerRoles(commaSeparated: callerNames)
            var records: [Record] = []
            for path in data {
                let bytes: Data
                if path == "-" {
                    bytes = FileHandle.standardInput.readDataToEndOfFile()
                } else {
                    _ = try openInput(path)   // the usual messages for a missing file or a directory
                    guard let d = FileManager.default.contents(atPath: path) else { throw Failure("\(path): cannot read") }
                    bytes = d
                }
                var errors: [String] = []
                records += CaseData.read(path: path == "-" ? "<stdin>" : path, data: bytes, textField: textField, labelField: labelField,
                                         idField: idField, roles: roles, errors: &errors)
                for e in errors { OutputSink.stderr.line("fanzha: \(e)") }
            }

            let scanner = try ParallelScanner(matcher: CompiledMatcher(rules, model: model), threads: ProcessInfo.processInfo.activeProcessorCount)
            let verdicts = scanner.screen(records)
            let handout = Handout.select(records: records, verdicts: verdicts, rules: rules, options: options)
            let text = handout.render(fmt)
            if let output, output != "-" {
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                    throw Failure("\(output): cannot write (\(error.localizedDescription))")
                }
            } else {
                OutputSink.stdout.write(text)
            }
            for c in handout.emptyCategories where !options.categories.isEmpty {
                OutputSink.stderr.line("fanzha: no case for category `\(rules.categories[c].id)` at medium level or above")
            }
            let n = handout.caseCount
            OutputSink.stderr.line("fanzha: \(records.count) record\(records.count == 1 ? "" : "s") read, \(n) case\(n == 1 ? "" : "s") in \(handout.sections.count) categor\(handout.sections.count == 1 ? "y" : "ies")"
                                   + (output.map { $0 == "-" ? "" : " written to \($0)" } ?? ""))
            return n > 0 ? 0 : 1
        }
    }
}
