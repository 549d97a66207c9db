import ArgumentParser
import Fanzha
import Foundation

/// Opens an input path ("-" is stdin).
package func openInput(_ path: String) throws -> FileHandle {
    if path == "-" { return FileHandle.standardInput }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw Failure("\(path): no such file") }
    guard !isDir.boolValue else { throw Failure("\(path): is a directory") }
    guard let h = FileHandle(forReadingAtPath: path) else { throw Failure("\(path): cannot open") }
    return h
}

/// Options for reading records: every command that reads records takes these (docs/INPUT.md).
/// The defaults are `InputSettings`'s.
package struct InputOptions: ParsableArguments {
    package init() {}

    @Option(help: "Input format: text, jsonl, csv (a header row), transcript (one call per file) or events (live calls; scan only). Default: from the file name, else text. See docs/INPUT.md.")
    var input: String?
    @Option(help: "JSON/CSV field holding the text (default: text, then content; CSV: content, then text).")
    var textField: String?
    @Option(help: "JSON/CSV field holding the record id.")
    var idField: String = InputSettings.defaults.idField
    @Option(help: "Speaker names on the caller's (suspect's) side, comma-separated.")
    var callerNames: String = InputSettings.defaults.callerNames
    @Option(help: ArgumentHelp("Which speaker names are which side, on top of the default table (caller/callee, A/B, agent/customer, 客服/用户, 坐席/客户, 主叫/被叫, …): `caller=agent,坐席;callee=customer,客户`. A call with a speaker on neither side is warned about and its verdict lists `speakers_unmapped`.", valueName: "spec"))
    var speakers: String?
    @Flag(help: "Stop at the first malformed input record (exit 2).") var strict = false
    @Flag(help: "Malformed input records are still reported, but do not make the exit status 2.") var skipBad = false
    @Option(help: "Longest input line (one record, call turn or event) in bytes; a longer one is reported and skipped.") var maxRecordBytes: Int = InputSettings.defaults.maxRecordBytes

    package func validate() throws {
        if let message = settings.validationError { throw ValidationError(message) }
    }

    package var settings: InputSettings {
        InputSettings(input: input, textField: textField, idField: idField, callerNames: callerNames, speakers: speakers,
                      strict: strict, skipBad: skipBad, maxRecordBytes: maxRecordBytes)
    }
}

/// The input options' values, and reading records with them (`InputOptions` parses them; so does
/// `ScanCommandLine` for `scan`).
package struct InputSettings: Equatable, Sendable {
    package var input: String? = nil
    package var textField: String? = nil
    package var idField = "id"
    package var callerNames = SpeakerSides.defaultCallerNames.joined(separator: ",")
    package var speakers: String? = nil
    package var strict = false
    package var skipBad = false
    package var maxRecordBytes = LineReader.defaultMaxLineBytes

    package static let defaults = InputSettings()

    package init() {}

    package init(input: String?, textField: String?, idField: String, callerNames: String, speakers: String?,
                 strict: Bool, skipBad: Bool, maxRecordBytes: Int) {
        self.input = input
        self.textField = textField
        self.idField = idField
        self.callerNames = callerNames
        self.speakers = speakers
        self.strict = strict
        self.skipBad = skipBad
        self.maxRecordBytes = maxRecordBytes
    }

    /// Why these values cannot be used, if they cannot.
    package var validationError: String? {
        if let speakers {
            do { _ = try SpeakerSides(speakers: speakers) } catch { return "--speakers: \(error)" }
        }
        if maxRecordBytes < 1 { return "--max-record-bytes must be at least 1" }
        return nil
    }

    package var readerOptions: ReaderOptions { readerOptions(labelField: "label") }

    package func readerOptions(labelField: String) -> ReaderOptions {
        var o = ReaderOptions()
        o.textField = textField
        o.idField = idField
        o.labelField = labelField
        o.sides = SpeakerSides(commaSeparated: callerNames)
        if let speakers, let sides = try? SpeakerSides(speakers: speakers, base: o.sides) { o.sides = sides }   // checked in validationError
        return o
    }

    package func format(for path: String) throws -> InputFormat {
        if let input {
            guard let f = InputFormat(rawValue: input) else {
                throw Failure("unknown input format `\(input)` (one of: \(InputFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return f
        }
        return path == "-" ? .text : InputFormat.guess(path: path)
    }

    /// The records of one input ("-": standard input), through the input layer.
    package func source(_ path: String, format: InputFormat, labelField: String = "label") throws -> RecordSource {
        let handle = try openInput(path)
        return RecordSource(handle: handle, name: path == "-" ? "<stdin>" : path, format: format,
                            options: readerOptions(labelField: labelField), maxRecordBytes: maxRecordBytes,
                            hintJSON: input == nil ? { OutputSink.stderr.line("fanzha: \($0)") } : nil)
    }

    /// Reads the records of `paths` in order and hands them on in batches of up to `batchSize`
    /// (never across files): the reading loop of the commands that take a whole data set (eval,
    /// cases, train). A record that cannot be read is named on stderr (file, line, why) where it
    /// is met, and so is a file that cannot be opened; the rest is still read, as grep does, and
    /// `--strict` stops at the first. The caller exits 2 at the end when `tally.troubled`, unless
    /// `--skip-bad`.
    package func readRecords(_ paths: [String], command: String, labelField: String, batchSize: Int = 512,
                             _ body: (_ path: String, _ batch: [Record]) throws -> Void) throws -> InputTally {
        var tally = InputTally()
        for path in paths {
            let format = try format(for: path)
            if format == .events { throw Failure("\(command) reads records, not live call events (--input events is for scan)") }
            let source: RecordSource
            do { source = try self.source(path, format: format, labelField: labelField) } catch let e as Failure {
                OutputSink.stderr.line("fanzha: \(e.description)")
                tally.unopened += 1
                continue
            }
            var batch: [Record] = []
            while let next = source.next() {
                switch next {
                case .success(let record):
                    batch.append(record)
                    tally.read += 1
                    if batch.count >= batchSize {
                        try body(path, batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                case .failure(let e):
                    tally.failed += 1
                    OutputSink.stderr.line("fanzha: \(e.description)")
                    if strict {
                        if !batch.isEmpty { try body(path, batch) }
                        throw Failure("stopped at the first malformed record (--strict)")
                    }
                }
            }
            if !batch.isEmpty { try body(path, batch) }
        }
        if tally.failed > 0 {
            OutputSink.stderr.line("fanzha: \(tally.failed) record\(tally.failed == 1 ? "" : "s") could not be read")
        }
        return tally
    }
}

/// How reading the inputs went, for the exit status.
package struct InputTally {
    package var read = 0
    /// Records that could not be read (each named on stderr).
    package var failed = 0
    /// Files that could not be opened.
    package var unopened = 0
    package var troubled: Bool { failed > 0 || unopened > 0 }
}

