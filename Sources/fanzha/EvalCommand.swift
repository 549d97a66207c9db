import ArgumentParser
import Fanzha
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure the rules on labelled data: precision, recall, per category and per rule.",
        discussion: """
        Reads CSV (header row) and JSON Lines (messages, or calls with `turns`). Labels map to categories \
        through each category's `labels`; benign labels are set with --benign. A label that only says fraud \
        (--fraud: scam, fraud, …) takes its kind from --category-field, or counts any category as right. A \
        label that maps to nothing is reported and left out, never counted as benign.
        """)

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Labelled data files (.csv or .jsonl).") var data: [String]
    @Option(help: "Output: text, json or markdown.") var format: String = "text"
    @Option(help: "Field or column with the text (default: content, then text).") var textField: String?
    @Option(help: "Field or column with the label.") var labelField: String = "label"
    @Option(help: "Field or column with the id.") var idField: String = "id"
    @Option(help: "Labels that mean benign, comma-separated.") var benign: String = "正常,normal,0,benign"
    @Option(help: "Labels that mean fraud of an unnamed kind, comma-separated; the kind is read from --category-field.") var fraud: String = "scam,fraud,诈骗,1"
    @Option(help: "Field naming the kind of fraud when the label only says fraud.") var categoryField: String = "category"
    @Option(help: "Break results down by this field's values (e.g. scene, category, kind).") var groupBy: String?
    @Option(help: "Show up to N misses and N false alarms.") var showErrors: Int = 0
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Option(help: "Speaker names on the caller's side, comma-separated.") var callerNames: String = SpeakerRoles.defaultCallerNames.joined(separator: ",")

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        if showErrors < 0 { throw ValidationError("--show-errors must be 0 or more") }
    }

    func run() throws {
        try guarded {
            guard let fmt = EvalFormat(rawValue: format) else { throw Failure("unknown --format `\(format)` (text, json, markdown)") }
            let rules = try ruleOptions.load()
            let model = try modelOptions.load(for: rules, rulePaths: try ruleOptions.resolvedPaths())
            let scanner = try ParallelScanner(matcher: CompiledMatcher(rules, model: model), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            var options = EvalOptions()
            options.benignLabels = Set(commaSeparatedList(benign))
            options.labelField = labelField
            options.fraudLabels = Set(commaSeparatedList(fraud))
            options.categoryField = categoryField
            options.groupBy = groupBy
            options.showErrors = showErrors
            let evaluator = Evaluator(scanner: scanner, options: options)
            let roles = SpeakerRoles(commaSeparated: callerNames)
            let progress = OutputSink.stderr.isTerminal
            for path in data {
                guard let bytes = FileManager.default.contents(atPath: path) else { throw Failure("\(path): cannot read") }
                var errors: [String] = []
                let records = LabelledData.read(path: path, data: bytes, textField: textField, labelField: labelField, idField: idField,
                                                roles: roles, errors: &errors)
                for e in errors { OutputSink.stderr.line("fanzha: \(e)") }
                let chunk = 512
                var done = 0
                while done < records.count {
                    let slice = Array(records[done..<min(done + chunk, records.count)])
                    evaluator.add(slice)
                    done += slice.count
                    if progress {
                        let width = 30, filled = width * done / max(1, records.count)
                        OutputSink.stderr.write("\r\(path) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(records.count)")
                        OutputSink.stderr.flush()
                    }
                }
                if progress { OutputSink.stderr.write("\r\u{1B}[K"); OutputSink.stderr.flush() }
                if !errors.isEmpty { OutputSink.stderr.line("fanzha: \(path): \(errors.count) record\(errors.count == 1 ? "" : "s") could not be read") }
            }
            OutputSink.stdout.write(EvalRenderer.render(evaluator.report, rules: rules, format: fmt))
            return 0
        }
    }
}
