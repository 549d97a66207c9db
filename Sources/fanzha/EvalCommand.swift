import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure the rules on labelled data: precision, recall, per category and per rule.",
        discussion: """
        Reads what scan reads (docs/INPUT.md): JSON Lines messages or calls with `turns`, CSV with a header \
        row, text lines, transcripts. Labels map to categories \
        through each category's `labels`; benign labels are set with --benign. A label that only says fraud \
        (--fraud: scam, fraud, …) takes its kind from --category-field, or counts any category as right. A \
        label that maps to nothing is reported and left out, never counted as benign. A record that cannot \
        be read is named on stderr and makes the exit status 2 once the report is written (--skip-bad: 0).
        """)

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var labelOptions: LabelOptions
    @Argument(help: "Labelled data files (.csv or .jsonl; '-' for standard input).") var data: [String]
    @Option(help: "Output: text, json or markdown.") var format: String = "text"
    @Option(help: "Labels that mean benign, comma-separated.") var benign: String = "正常,normal,0,benign"
    @Option(help: "Labels that mean fraud of an unnamed kind, comma-separated; the kind is read from --category-field.") var fraud: String = "scam,fraud,诈骗,1"
    @Option(help: "Field naming the kind of fraud when the label only says fraud.") var categoryField: String = "category"
    @Option(help: "Break results down by this field's values (e.g. scene, category, kind).") var groupBy: String?
    @Option(help: "Show up to N misses and N false alarms.") var showErrors: Int = 0
    @Option(help: "Worker threads (default: all cores).") var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        if showErrors < 0 { throw ValidationError("--show-errors must be 0 or more") }
    }

    func run() throws {
        try guarded {
            guard let fmt = EvalFormat(rawValue: format) else { throw Failure("unknown --format `\(format)` (text, json, markdown)") }
            let rules = try ruleOptions.load()
            let model = try modelOptions.settings.load(for: rules, rulePaths: try ruleOptions.resolvedPaths())
            let scanner = try ParallelScanner(matcher: CompiledMatcher(rules, model: model), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            var options = EvalOptions()
            options.benignLabels = Set(commaSeparatedList(benign))
            options.labelField = labelOptions.labelField
            options.fraudLabels = Set(commaSeparatedList(fraud))
            options.categoryField = categoryField
            options.groupBy = groupBy
            options.showErrors = showErrors
            let evaluator = Evaluator(scanner: scanner, options: options)
            let progress = OutputSink.stderr.isTerminal
            var done = 0
            let tally = try inputOptions.settings.readRecords(data, command: "eval", labelField: labelOptions.labelField) { path, batch in
                evaluator.add(batch)
                done += batch.count
                if progress {
                    OutputSink.stderr.write("\r\(path): \(done) records")
                    OutputSink.stderr.flush()
                }
            }
            if progress { OutputSink.stderr.write("\r\u{1B}[K"); OutputSink.stderr.flush() }
            OutputSink.stdout.write(EvalRenderer.render(evaluator.report, rules: rules, format: fmt))
            return tally.troubled && !inputOptions.settings.skipBad ? 2 : 0
        }
    }
}
