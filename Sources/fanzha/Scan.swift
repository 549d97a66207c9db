import ArgumentParser
import Fanzha
import FanzhaCommandLine
import FanzhaReferrals
import Foundation

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Screen messages or calls and print a verdict per record (a pipe filter, like grep).",
        discussion: """
        Reads FILEs (standard input when none): one message per line, JSON Lines (messages or calls \
        with `turns`), CSV with a header row, a `speaker: text` call transcript, or live call events \
        (the input formats: docs/INPUT.md). Prints one record per input record, in order. \
        Exit status: 0 when some record reached --min-level, 1 when none did, 2 on error.
        """)

    @OptionGroup var arguments: ScanArguments

    func run() throws {
        let settings = arguments.settings
        try guarded { try settings.run() }
    }
}

/// Counts for the summary: `read` and `flagged` where verdicts are delivered, `failed` where input is read.
private final class Counts: @unchecked Sendable { var read = 0, flagged = 0, failed = 0 }

/// One record's outcome as the output needs it: its level, errors, and its printed form if printed.
private struct Screened {
    let level: Level
    let errors: [String]
    let line: WrittenLine?
    /// What only some records have, apart: each result is destroyed after its batch, and with
    /// the two inline that went through their optionals' generic value witnesses (about 240
    /// instructions a record, and 130 more for a verdict's result as it was made).
    let aside: Aside?

    init(level: Level, errors: [String], line: WrittenLine?, aside: Aside? = nil) {
        self.level = level; self.errors = errors; self.line = line; self.aside = aside
    }

    var unreadable: RecordError? { aside?.unreadable }
    var warning: Warning? { aside?.warning }   // --refer
}

/// A record that could not be read, or the warning `--refer` files for a verdict.
private final class Aside: Sendable {
    let unreadable: RecordError?
    let warning: Warning?
    init(unreadable: RecordError? = nil, warning: Warning? = nil) { self.unreadable = unreadable; self.warning = warning }
}

/// A record's output line where its worker wrote it, in that worker's lines for the batch.
private struct WrittenLine {
    let lines: JSONBytes
    let range: Range<Int>

    /// `write` appends the line to the worker's lines.
    init(in lines: JSONBytes, _ write: (JSONBytes) -> Void) {
        let start = lines.count
        write(lines)
        self.lines = lines
        range = start..<lines.count
    }

    var bytes: UnsafeBufferPointer<UInt8> { lines.written(range) }
}

/// The scan itself, from its settings: `Scan` (swift-argument-parser) and `ScanCommandLine` (the
/// ordinary command lines, at start-up) both run it.
extension ScanSettings {
    func run() throws -> Int32 {
        guard let outputFormat = OutputFormat(rawValue: format ?? "text") else { throw Failure("unknown --format `\(format ?? "")` (text, jsonl, tsv)") }
        guard let minimum = Level(name: minLevel), minimum != .none else { throw Failure("unknown --min-level `\(minLevel)` (low, medium, high)") }
        let rulePaths = try resolveRulePaths(self.rulePaths)
        let rules = try loadRules(rulePaths)
        let model = try self.model.load(for: rules, rulePaths: rulePaths)
        let scanner = try ParallelScanner(matcher: CompiledMatcher(rules, model: model), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                          usePrefilter: !noPrefilter)
        let out = OutputSink.stdout
        let stats = Counts()
        let referrer = try Referrer.forScan(refer: refer, referLevel: referLevel, subjectField: subjectField, counterpartyField: counterpartyField, rules: rules)
        let printsRecords = !quiet && !count
        // Only when records are printed: its set-up writes every rule's and category's JSON once.
        let printer = printsRecords ? VerdictPrinter(rules: rules, format: outputFormat, colour: useColour(out)) : nil
        let paths = files.isEmpty ? ["-"] : files
        // grep: file names with several files, -H always, --no-filename never (text output).
        let filenames = outputFormat == .text && !noFilename && (withFilename || paths.count > 1)
        // Live call events are always JSON Lines: no TSV header unless some input gives records.
        let givesRecords = try paths.contains { try input.format(for: $0) != .events }
        if outputFormat == .tsv && printsRecords && givesRecords { out.line(VerdictPrinter.tsvHeader) }

        let quiet = quiet, onlyFlagged = flaggedOnly
        // Counting (and -q) needs only each record's level; --flagged-only needs the full
        // verdict of the flagged records only. A decision skips evidence, timeline and output.
        let pipeline = ScanPipeline(scanner: scanner, work: { scanner, record -> Screened in
            if let bad = record.inputError {
                let line = printer?.renderError(bad).map { error in WrittenLine(in: scanner.batchLines) { $0.append(contentsOf: error) } }
                return Screened(level: .none, errors: [], line: line, aside: Aside(unreadable: bad))
            }
            let prepared = scanner.prepare(record)
            if !printsRecords || onlyFlagged {
                let d = scanner.decide(prepared)
                if (!printsRecords || d.level < minimum) && !(referrer?.wants(d.level) ?? false) { return Screened(level: d.level, errors: d.errors, line: nil) }
            }
            let v = scanner.evaluate(prepared, timeline: record.isCall)
            var line: WrittenLine? = nil
            if let printer, !onlyFlagged || v.level >= minimum {
                line = WrittenLine(in: scanner.batchLines) { lines in
                    if filenames { lines.append(contentsOf: (VerdictPrinter.visible(record.originFile) + ":").utf8) }
                    printer.render(v, record: record, appendingTo: lines)
                }
            }
            return Screened(level: v.level, errors: v.errors, line: line,
                            aside: referrer.flatMap { $0.warning(v, record).map { Aside(warning: $0) } })
        }, deliver: { batch, results in
            // The batch's cases are committed before its verdicts are written.
            referrer?.refer(results.compactMap(\.warning))
            // By index, each record and result read in place: `zip` copied both out for every
            // record (a record's strings and arrays retained and released again).
            for k in batch.indices {
                if let bad = results[k].unreadable {
                    // In input order: the message on stderr, and its line in JSON Lines or TSV.
                    stats.failed += 1
                    out.flush()
                    OutputSink.stderr.line("fanzha: \(bad.description)")
                    OutputSink.stderr.flush()
                    if let line = results[k].line { out.line(bytes: line.bytes) }
                    continue
                }
                stats.read += 1
                if results[k].level >= minimum { stats.flagged += 1 }
                if batch[k].isCall && !batch[k].unmappedSpeakers.isEmpty {
                    // Once per call: `caller:` rules see nothing of a side they cannot name.
                    let record = batch[k]
                    let names = record.unmappedSpeakers.map(jsonString).joined(separator: ", ")
                    OutputSink.stderr.line("fanzha: \(record.origin): call \(record.id): speaker\(record.unmappedSpeakers.count == 1 ? "" : "s") \(names) match\(record.unmappedSpeakers.count == 1 ? "es" : "") no side; read as the callee's (name the sides with --speakers)")
                }
                if !results[k].errors.isEmpty {
                    let origin = batch[k].origin
                    for e in results[k].errors { OutputSink.stderr.line("fanzha: \(origin): \(e)") }
                }
                if let line = results[k].line { out.line(bytes: line.bytes) }
            }
            out.flush()
            OutputSink.stderr.flush()
            if quiet && stats.flagged > 0 && referrer == nil { Foundation.exit(0) }
        })

        var flaggedBefore = 0
        var unreadable = 0
        do {
            for path in paths {
                let name = path == "-" ? "<stdin>" : path
                let handle: FileHandle
                do { handle = try openInput(path) } catch let e as Failure {
                    // Like grep: say so, and go on with the other files (exit 2 at the end).
                    pipeline.finish()
                    out.flush()
                    OutputSink.stderr.line("fanzha: \(e.description)")
                    unreadable += 1
                    continue
                }
                let format = try input.format(for: path)
                if format == .events {
                    pipeline.finish()   // earlier files first
                    try scanEvents(LineReader(handle: handle, maxLineBytes: input.maxRecordBytes), name: name,
                                   matcher: scanner.matcher, minimum: minimum, stats: stats, referrer: referrer)
                } else {
                    try scanRecords(RecordSource(handle: handle, name: name, format: format, options: input.readerOptions,
                                                 maxRecordBytes: input.maxRecordBytes,
                                                 hintJSON: input.input == nil ? { OutputSink.stderr.line("fanzha: \($0)") } : nil),
                                    pipeline: pipeline)
                }
                if count && !quiet && paths.count > 1 {
                    pipeline.finish()   // every record of this file is counted
                    out.line("\(name):\(stats.flagged - flaggedBefore)")
                    flaggedBefore = stats.flagged
                }
            }
        } catch {
            // Whatever stops the scan, the records already read are delivered first.
            pipeline.finish()
            throw error
        }
        pipeline.finish()
        try referrer?.finish()
        if count && !quiet && paths.count == 1 { out.line("\(stats.flagged)") }
        out.flush()
        if !quiet {
            OutputSink.stderr.line("fanzha: \(stats.read) record\(stats.read == 1 ? "" : "s") read, \(stats.flagged) flagged (≥ \(minimum)), \(stats.failed) failed")
        }
        if unreadable > 0 { return 2 }
        // Every good record was scanned; a record that could not be read still makes it trouble.
        if stats.failed > 0 && !input.skipBad { return 2 }
        return stats.flagged > 0 ? 0 : 1
    }

    /// The records of one input, in batches: they bound memory and let all cores work.
    private func scanRecords(_ source: RecordSource, pipeline: ScanPipeline<Screened>) throws {
        var batch: [Record] = []
        var turnsInBatch = 0
        func submit() {
            // Handed over, not shared: the workers read its records in place, and a batch still
            // held here would be copied first (`ScanPipeline`). The next one starts as roomy.
            var full: [Record] = []
            full.reserveCapacity(batch.capacity)
            swap(&full, &batch)
            pipeline.submit(consume full)
            turnsInBatch = 0
        }
        while let next = source.next() {
            // Consumed, and the record moved into the batch: switched on as it was, the result
            // was copied (its record's strings and arrays retained) and then destroyed.
            switch consume next {
            case .success(let r):
                turnsInBatch += r.turns.count
                batch.append(consume r)
            case .failure(let e):
                // A stand-in keeps its place in the output: reported when its batch is delivered.
                batch.append(Record(unreadable: e))
                if input.strict {
                    submit()
                    pipeline.finish()
                    throw Failure("stopped at the first malformed record (--strict)")
                }
            }
            if batch.count >= 1024 || turnsInBatch > 4096 { submit() }
        }
        submit()
    }

    /// Live call events: alerts as levels rise, a final verdict per call.
    private func scanEvents(_ reader: LineReader, name: String, matcher: CompiledMatcher, minimum: Level, stats: Counts, referrer: Referrer?) throws {
        var limits = LiveCallScreener.Limits()
        limits.idleLines = idleLines
        limits.idleSeconds = idleSeconds
        limits.maxOpenCalls = maxOpenCalls   // all checked in validationError
        limits.maxTurns = maxCallTurns
        limits.window = windowTurns
        limits.windowBytes = windowBytes
        let sides = input.readerOptions.sides
        let out = OutputSink.stdout
        // JSON Lines unless --format says tsv or text (given explicitly: the default is JSON Lines here).
        let printer = LiveEventPrinter(rules: matcher.rules, format: format.flatMap(OutputFormat.init(rawValue:)) ?? .jsonl)
        if printer.format == .tsv && !quiet && !count { out.line(LiveEventPrinter.tsvHeader) }
        let prints = !quiet && !count, onlyFlagged = flaggedOnly
        // An event's output line, if it is printed (on the worker that screened its call).
        let render: @Sendable (LiveCallEvent) -> [UInt8]? = { event in
            guard prints, !onlyFlagged || event.level.map({ $0 >= minimum }) ?? true else { return nil }
            return printer.renderBytes(event)
        }
        func write(_ events: [(event: LiveCallEvent, rendered: [UInt8]?)]) throws {
            for (event, line) in events {
                switch event {
                case .alert(let a):
                    try referrer?.alert(a, source: name)   // the case is opened at the alert
                    if let line { out.line(bytes: line) }
                case .final(let f):
                    try referrer?.final(f, source: name)
                    stats.read += 1
                    if f.verdict.level >= minimum { stats.flagged += 1 }
                    if let line { out.line(bytes: line) }
                case .malformed(let e):
                    stats.failed += 1
                    OutputSink.stderr.line("fanzha: \(e.description)")
                    // One line for the event that could not be used, in the output's own terms.
                    if let line { out.line(bytes: line) }
                    if input.strict {
                        out.flush()
                        throw Failure("stopped at the first malformed event (--strict)")
                    }
                case .notice(let message):
                    OutputSink.stderr.line("fanzha: \(message)")
                }
            }
            out.flush()
            OutputSink.stderr.flush()
        }
        let workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let live: any LiveCallLines
        if workers > 1 && referrer == nil {
            live = ShardedLiveCalls(screeners: try (0..<workers).map { _ in try Screener(matcher: matcher, usePrefilter: !noPrefilter) },
                                    limits: limits, sides: sides, render: render, deliver: write)
        } else {
            // The referral store sees each event as it is read and its alerts as they are
            // screened, in one order: with --refer, one thread.
            live = SerialLiveCalls(screener: LiveCallScreener(screener: try Screener(matcher: matcher, usePrefilter: !noPrefilter), limits: limits, sides: sides),
                                   seeing: referrer.map { referrer in { referrer.see(event: $0) } }, render: render, deliver: write)
        }
        try live.read(reader, source: name)
    }
}
