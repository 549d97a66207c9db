import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

struct Cases: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cases",
        abstract: "Pick representative flagged cases per category and write a handout for anti-fraud lectures.",
        discussion: """
        Scans DATA as scan reads it (docs/INPUT.md: JSON Lines messages or calls, CSV with a text column, text \
        with one message per line, transcripts), \
        picks per category up to --per-category cases at medium level or above (high score, different rules, \
        short enough to read aloud), and writes a Markdown or self-contained HTML handout: how each scam works, \
        the cases with the scam phrases marked and labelled, the advice, the 96110 / 110 reminder and a one-page \
        summary. Phone numbers, bank cards, ID cards, QQ / WeChat ids and links are always redacted. The same \
        data and --seed give the same handout. See docs/CASES.md.
        Exit status: 0 when some case was chosen, 1 when none, 2 on error (a record that cannot be read \
        too, once the handout is written; --skip-bad: not).
        """)

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var labelOptions: LabelOptions
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
            let model = try modelOptions.settings.load(for: rules, rulePaths: try ruleOptions.resolvedPaths())
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

            // Only records at the handout's level can be cases: the rest are counted, not kept.
            let scanner = try ParallelScanner(matcher: CompiledMatcher(rules, model: model), threads: ProcessInfo.processInfo.activeProcessorCount)
            var candidates: [Record] = [], verdicts: [Verdict] = []
            let tally = try inputOptions.settings.readRecords(data, command: "cases", labelField: labelOptions.labelField) { path, batch in
                // A handout quotes cases from several files: a text line's number alone would not say where it is.
                let lineFile = try inputOptions.settings.format(for: path) == .text ? (path == "-" ? "<stdin>" : (path as NSString).lastPathComponent) : nil
                for (record, verdict) in zip(batch, scanner.screen(batch)) where verdict.level >= options.minLevel {
                    var record = record
                    if let lineFile { record.id = "\(lineFile):\(record.id)" }
                    candidates.append(record)
                    verdicts.append(verdict)
                }
            }
            let handout = Handout.select(records: candidates, verdicts: verdicts, rules: rules, options: options, recordsRead: tally.read)
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
            OutputSink.stderr.line("fanzha: \(tally.read) record\(tally.read == 1 ? "" : "s") read, \(n) case\(n == 1 ? "" : "s") in \(handout.sections.count) categor\(handout.sections.count == 1 ? "y" : "ies")"
                                   + (output.map { $0 == "-" ? "" : " written to \($0)" } ?? ""))
            if tally.troubled && !inputOptions.settings.skipBad { return 2 }
            return n > 0 ? 0 : 1
        }
    }
}
