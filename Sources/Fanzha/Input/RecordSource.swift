import Foundation

/// Records from one input — a file or standard input — read as they stream in: the one reader of
/// records that `scan`, `eval`, `cases`, `train` and `explain --call` share, in every format but
/// live call events (which `LiveCallScreener` reads line by line). docs/INPUT.md describes the formats.
///
/// A record that cannot be read comes back as a `RecordError` naming its file and line (and the
/// record's id when it could be read), and reading goes on with the next one; what to do about it
/// (report it, stop, exit 2 at the end) is the caller's.
package final class RecordSource {
    package let name: String
    package let format: InputFormat
    private let lines: LineReader
    private let decoder: RecordDecoder
    // Unchecked for exclusive access: a source is read by one thread, and the run-time check
    // ran at every record.
    @exclusivity(unchecked) private var csv: CSVRecords?
    @exclusivity(unchecked) private var transcriptRead = false
    /// Said once when text input starts with `{`: JSON Lines read as plain text by mistake.
    @exclusivity(unchecked) private var jsonHint: ((String) -> Void)?

    /// - Parameters:
    ///   - name: the input's name in messages and origins (`<stdin>` for standard input).
    ///   - hintJSON: called once with a hint when `.text` input starts with `{` (when the format
    ///     was guessed, not given).
    package init(lines: LineReader, name: String, format: InputFormat, options: ReaderOptions, hintJSON: ((String) -> Void)? = nil) {
        precondition(format != .events, "live call events are read by LiveCallScreener")
        precondition(format != .csv || lines.keepsCarriageReturns, "CSV keeps carriage returns inside quotes")
        self.lines = lines
        self.name = name
        self.format = format
        self.decoder = RecordDecoder(format: format, options: options, source: name)
        self.jsonHint = format == .text ? hintJSON : nil
        if format == .csv { csv = CSVRecords(rows: CSVRows(lines: lines), name: name, options: options) }
    }

    /// Reads from a file handle, in chunks.
    package convenience init(handle: FileHandle, name: String, format: InputFormat, options: ReaderOptions,
                             maxRecordBytes: Int = LineReader.defaultMaxLineBytes, hintJSON: ((String) -> Void)? = nil) {
        self.init(lines: LineReader(handle: handle, maxLineBytes: maxRecordBytes, keepsCarriageReturns: format == .csv),
                  name: name, format: format, options: options, hintJSON: hintJSON)
    }

    /// Reads bytes already in memory (tests, request bodies).
    package convenience init(bytes: some Collection<UInt8>, name: String, format: InputFormat, options: ReaderOptions,
                             maxRecordBytes: Int = LineReader.defaultMaxLineBytes) {
        self.init(lines: LineReader(bytes: bytes, maxLineBytes: maxRecordBytes, keepsCarriageReturns: format == .csv),
                  name: name, format: format, options: options)
    }

    /// The next record, or why the next one cannot be read; nil at the end of the input.
    package func next() -> Result<Record, RecordError>? {
        switch format {
        case .text, .jsonl:
            while let item = lines.next() {
                switch item {
                case .tooLong(let bytes): return .failure(tooLong(bytes))
                case .line(let line):
                    if let hint = jsonHint {
                        jsonHint = nil
                        if line.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF }).first == 0x7B {
                            hint("\(name) starts with `{`: read as plain text, one message per line; for JSON Lines pass --input jsonl")
                        }
                    }
                    if let decoded = decoder.decode(line: line, number: lines.lineNumber) { return decoded }
                }
            }
            return nil
        case .csv:
            return csv?.next()
        case .transcript:
            if transcriptRead { return nil }
            transcriptRead = true
            return readTranscript()
        case .events:
            return nil
        }
    }

    /// Every record of the input, and every error, in input order.
    package func readAll() -> (records: [Record], errors: [RecordError]) {
        var records: [Record] = [], errors: [RecordError] = []
        while let next = next() {
            switch next {
            case .success(let r): records.append(r)
            case .failure(let e): errors.append(e)
            }
        }
        return (records, errors)
    }

    /// The whole input is one call of `speaker: text` lines.
    private func readTranscript() -> Result<Record, RecordError> {
        var text: [String] = []
        while let item = lines.next() {
            switch item {
            case .line(let l): text.append(String(decoding: l, as: UTF8.self))
            case .tooLong(let bytes):
                // The call cannot be judged without this turn: reported, never half-read.
                return .failure(tooLong(bytes))
            }
        }
        return CallTranscript.record(text.joined(separator: "\n"), id: name, origin: name, sides: decoder.options.sides)
    }

    private func tooLong(_ bytes: Int) -> RecordError {
        lines.tooLongError(bytes: bytes, source: name)
    }
}
