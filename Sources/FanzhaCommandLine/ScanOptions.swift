import ArgumentParser
import Fanzha

/// `fanzha scan`'s command line, declared once: swift-argument-parser's declaration (help, errors,
/// validation) and the table of `ScanCommandLine`, the direct reader of its ordinary forms, both
/// give a `ScanSettings`, and `scan` runs from that. The defaults are `ScanSettings`'s.
package struct ScanArguments: ParsableArguments {
    package init() {}

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions
    // `--refer` and its options (docs/REFERRALS.md), declared here rather than as an option group:
    // only scan takes them, and each option group is a type that ArgumentParser reflects on, which
    // costs every start-up searches of the binary's protocol conformances (issue 22).
    @Option(help: ArgumentHelp("Open or join a 96110 referral case in this SQLite file for every record at or above --refer-level (created when missing; docs/REFERRALS.md).", valueName: "db"))
    var refer: String?
    @Option(help: "The level that opens a case: low, medium or high.") var referLevel: String = ScanSettings.defaults.referLevel
    @Option(help: "With --refer: the input field naming the person at risk (the callee's or recipient's number); a record without one is a case of its own.") var subjectField: String?
    @Option(help: "With --refer: the input field naming the suspected counterparty (calling number, account, link).") var counterpartyField: String?
    @Argument(help: "Files to scan ('-' for standard input).") var files: [String] = []
    @Option(help: "Output: text, jsonl or tsv (default: text; live call events: jsonl).") var format: String?
    @Flag(name: [.customShort("H"), .customLong("with-filename")], help: "Text output: prefix each line with its file name (the default with several files, as grep).") var withFilename = false
    @Flag(help: "Text output: never prefix lines with the file name.") var noFilename = false
    @Option(help: "The level that counts as flagged: low, medium or high.") var minLevel: String = ScanSettings.defaults.minLevel
    @Flag(help: "Print only records at or above --min-level.") var flaggedOnly = false
    @Flag(name: .shortAndLong, help: "Print nothing; the exit status alone says whether anything was flagged.") var quiet = false
    @Flag(name: .shortAndLong, help: "Print only how many records reached --min-level (`FILE:N` per file when there are several), like grep -c.") var count = false
    @Option(help: "Worker threads (default: all cores). Live call events: the calls are spread over them by id, the output as one thread's (one thread with --refer).") var threads: Int?
    @Flag(help: "Run every rule on every record, without the literal prefilter (for measurements).") var noPrefilter = false
    @Option(help: "Live calls (--input events): close a call after this many input lines without an event.") var idleLines: Int = ScanSettings.defaults.idleLines
    @Option(help: "Live calls: close a call after this many seconds of event time (`t`) without an event.") var idleSeconds: Double = ScanSettings.defaults.idleSeconds
    @Option(help: "Live calls: at most this many open calls; the least recently active is closed first.") var maxOpenCalls: Int = ScanSettings.defaults.maxOpenCalls
    @Option(help: "Live calls: a call with this many turns is closed when its next turn arrives, which starts a new call.") var maxCallTurns: Int = ScanSettings.defaults.maxCallTurns
    @Option(help: "Live calls: alerts judge a longer call on its last N turns, so an event's cost does not grow with the call; a call keeps the text of at most 2N turns (the final verdict adds what fired on the turns it let go).") var windowTurns: Int = ScanSettings.defaults.windowTurns
    @Option(help: "Live calls: a call keeps at most twice this many bytes of text (always its latest turn).") var windowBytes: Int = ScanSettings.defaults.windowBytes

    package func validate() throws {
        // The option groups' own checks ran first, as they were parsed; this repeats them harmlessly.
        if let message = settings.validationError { throw ValidationError(message) }
    }

    package var settings: ScanSettings {
        var s = ScanSettings()
        s.rulePaths = ruleOptions.rulePaths
        s.model = modelOptions.settings
        s.input = inputOptions.settings
        s.refer = refer
        s.referLevel = referLevel
        s.subjectField = subjectField
        s.counterpartyField = counterpartyField
        s.files = files
        s.format = format
        s.withFilename = withFilename
        s.noFilename = noFilename
        s.minLevel = minLevel
        s.flaggedOnly = flaggedOnly
        s.quiet = quiet
        s.count = count
        s.threads = threads
        s.noPrefilter = noPrefilter
        s.idleLines = idleLines
        s.idleSeconds = idleSeconds
        s.maxOpenCalls = maxOpenCalls
        s.maxCallTurns = maxCallTurns
        s.windowTurns = windowTurns
        s.windowBytes = windowBytes
        return s
    }
}

/// What `fanzha scan` was asked to do: every option's value, defaults included.
package struct ScanSettings: Equatable, Sendable {
    package var rulePaths: [String] = []
    package var model = ModelSettings()
    package var input = InputSettings()
    package var refer: String? = nil
    package var referLevel = "medium"
    package var subjectField: String? = nil
    package var counterpartyField: String? = nil
    package var files: [String] = []
    package var format: String? = nil
    package var withFilename = false
    package var noFilename = false
    package var minLevel = "low"
    package var flaggedOnly = false
    package var quiet = false
    package var count = false
    package var threads: Int? = nil
    package var noPrefilter = false
    package var idleLines = LiveCallScreener.Limits().idleLines
    package var idleSeconds = LiveCallScreener.Limits().idleSeconds
    package var maxOpenCalls = LiveCallScreener.Limits().maxOpenCalls
    package var maxCallTurns = LiveCallScreener.Limits().maxTurns
    package var windowTurns = LiveCallScreener.Limits().window
    package var windowBytes = LiveCallScreener.Limits().windowBytes

    package static let defaults = ScanSettings()

    package init() {}

    /// Why these values cannot be used, if they cannot: the message `validate()` throws.
    package var validationError: String? {
        if let message = model.validationError ?? input.validationError { return message }
        if let threads, !(1...256).contains(threads) { return "--threads must be between 1 and 256" }
        for (flag, value) in [("--idle-lines", idleLines),
                              ("--max-open-calls", maxOpenCalls), ("--max-call-turns", maxCallTurns), ("--window-turns", windowTurns), ("--window-bytes", windowBytes)] where value < 1 {
            return "\(flag) must be at least 1"
        }
        if !(idleSeconds > 0) { return "--idle-seconds must be more than 0" }
        return nil
    }
}

/// Reads the ordinary forms of `fanzha scan`'s command line without swift-argument-parser.
///
/// Why: parsing with swift-argument-parser reflects on every option's declaration on each run
/// (`Mirror`, field types demangled anew, the runtime's first conformance look-ups walking all
/// 6,495 records): about 24.6M of the 57.2M instructions of a one-message `fanzha scan -q`
/// (docs/BENCHMARKS.md, issue 22, thirteenth round). The table below names each option once; a
/// command line with anything it does not know for certain is handed back (`nil`), and
/// swift-argument-parser parses it as always, so help, errors, usage text and exit statuses stay
/// its own. Tests hold the table to `ScanArguments` (names, kinds, value types, defaults) and both
/// parsers to the same settings on thousands of generated command lines.
package enum ScanCommandLine {
    /// Of what type an option's value is, and where it goes (closures, not key paths: the runtime
    /// builds each key path object on first use, 0.6M instructions for the table).
    package enum Value {
        case flag((inout ScanSettings) -> Void)
        case string((inout ScanSettings, String) -> Void)
        /// Repeatable: each occurrence adds one.
        case strings((inout ScanSettings, String) -> Void)
        case int((inout ScanSettings, Int) -> Void)
        case double((inout ScanSettings, Double) -> Void)
    }

    package struct Option {
        /// `--name`, as swift-argument-parser spells it.
        package let long: String
        /// `-x`, if it has one.
        package let short: String?
        package let value: Value
    }

    /// scan's options, in `ScanArguments`'s order (the file operands are `ScanSettings.files`).
    package static let options: [Option] = [
        Option(long: "--rules", short: nil, value: .strings { $0.rulePaths.append($1) }),
        Option(long: "--model", short: nil, value: .string { $0.model.modelPath = $1 }),
        Option(long: "--no-model", short: nil, value: .flag { $0.model.noModel = true }),
        Option(long: "--input", short: nil, value: .string { $0.input.input = $1 }),
        Option(long: "--text-field", short: nil, value: .string { $0.input.textField = $1 }),
        Option(long: "--id-field", short: nil, value: .string { $0.input.idField = $1 }),
        Option(long: "--caller-names", short: nil, value: .string { $0.input.callerNames = $1 }),
        Option(long: "--speakers", short: nil, value: .string { $0.input.speakers = $1 }),
        Option(long: "--strict", short: nil, value: .flag { $0.input.strict = true }),
        Option(long: "--skip-bad", short: nil, value: .flag { $0.input.skipBad = true }),
        Option(long: "--max-record-bytes", short: nil, value: .int { $0.input.maxRecordBytes = $1 }),
        Option(long: "--refer", short: nil, value: .string { $0.refer = $1 }),
        Option(long: "--refer-level", short: nil, value: .string { $0.referLevel = $1 }),
        Option(long: "--subject-field", short: nil, value: .string { $0.subjectField = $1 }),
        Option(long: "--counterparty-field", short: nil, value: .string { $0.counterpartyField = $1 }),
        Option(long: "--format", short: nil, value: .string { $0.format = $1 }),
        Option(long: "--with-filename", short: "-H", value: .flag { $0.withFilename = true }),
        Option(long: "--no-filename", short: nil, value: .flag { $0.noFilename = true }),
        Option(long: "--min-level", short: nil, value: .string { $0.minLevel = $1 }),
        Option(long: "--flagged-only", short: nil, value: .flag { $0.flaggedOnly = true }),
        Option(long: "--quiet", short: "-q", value: .flag { $0.quiet = true }),
        Option(long: "--count", short: "-c", value: .flag { $0.count = true }),
        Option(long: "--threads", short: nil, value: .int { $0.threads = $1 }),
        Option(long: "--no-prefilter", short: nil, value: .flag { $0.noPrefilter = true }),
        Option(long: "--idle-lines", short: nil, value: .int { $0.idleLines = $1 }),
        Option(long: "--idle-seconds", short: nil, value: .double { $0.idleSeconds = $1 }),
        Option(long: "--max-open-calls", short: nil, value: .int { $0.maxOpenCalls = $1 }),
        Option(long: "--max-call-turns", short: nil, value: .int { $0.maxCallTurns = $1 }),
        Option(long: "--window-turns", short: nil, value: .int { $0.windowTurns = $1 }),
        Option(long: "--window-bytes", short: nil, value: .int { $0.windowBytes = $1 }),
    ]

    /// The settings of `arguments` (the process's, without the program's name) when they are
    /// `scan` followed only by what the table knows: its options, each at most once (`--rules`
    /// repeatable), as `--name value` or `--name=value` (a value neither empty nor starting with
    /// `-`), its flags and short flags as tokens of their own, and file operands (`-` is standard
    /// input). Anything else, and settings `validate()` refuses, are swift-argument-parser's: nil.
    package static func read(_ arguments: ArraySlice<String>) -> ScanSettings? {
        guard arguments.first == "scan" else { return nil }
        var settings = ScanSettings()
        var given: [String] = []
        var rest = arguments.dropFirst()
        while let token = rest.popFirst() {
            if token == "-" || !(token.isEmpty || token.hasPrefix("-")) {
                // `help` is swift-argument-parser's word for help.
                guard token != "help" else { return nil }
                settings.files.append(token)
                continue
            }
            var name = token, attached: String? = nil
            if token.hasPrefix("--"), let eq = token.firstIndex(of: "=") {
                name = String(token[..<eq])
                attached = String(token[token.index(after: eq)...])
            }
            // Unknown: --help, -h, --version, a cluster such as -qc, `--`, the completion options.
            guard let option = options.first(where: { $0.long == name || $0.short == name }) else { return nil }
            if case .strings = option.value {} else {
                guard !given.contains(option.long) else { return nil }
                given.append(option.long)
            }
            if case .flag(let set) = option.value {
                guard attached == nil else { return nil }
                set(&settings)
                continue
            }
            guard let value = attached ?? rest.popFirst(), !value.isEmpty, !value.hasPrefix("-"),
                  store(value, as: option.value, in: &settings) else { return nil }
        }
        return settings.validationError == nil ? settings : nil
    }

    /// Sets an option's value, parsed as swift-argument-parser parses its type; false if it does not parse.
    private static func store(_ value: String, as kind: Value, in settings: inout ScanSettings) -> Bool {
        switch kind {
        case .flag: return false
        case .string(let set), .strings(let set): set(&settings, value)
        case .int(let set):
            guard let n = Int(value) else { return false }
            set(&settings, n)
        case .double(let set):
            guard let x = Double(value) else { return false }
            set(&settings, x)
        }
        return true
    }
}
