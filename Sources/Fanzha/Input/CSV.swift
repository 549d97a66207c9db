import Foundation

/// RFC 4180 CSV, read row by row as the lines stream in: quoted fields may hold commas, doubled
/// quotes and line breaks (a carriage return inside quotes is data; outside, it is dropped). A byte
/// order mark at the start of the file is not part of the first field.
package final class CSVRows {
    package enum Item: Equatable {
        /// A row, with the 1-based line it starts on; `unclosedQuote` when a quoted field in it is
        /// never closed (it then runs to the end of the input).
        case row(line: Int, fields: [String], unclosedQuote: Bool)
        /// A row longer than the reader's limit (a line, or a quoted field over several lines):
        /// skipped, never held whole in memory.
        case tooLong(line: Int, bytes: Int)
    }

    private let lines: LineReader
    private var atStart = true
    private var ended = false

    /// `lines` must keep carriage returns (`LineReader(keepsCarriageReturns: true)`): inside a
    /// quoted field they are data.
    package init(lines: LineReader) {
        self.lines = lines
    }

    package var maxRowBytes: Int { lines.maxLineBytes }

    /// The next row, or nil at the end.
    package func next() -> Item? {
        if ended { return nil }
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var quoteInQuotes = false   // a quote inside quotes: its meaning depends on what follows
        var rowStart = 0
        var bytes = 0
        while true {
            guard let item = lines.next() else {
                ended = true
                // Every line was given its "\n" (a closing quote is settled by it), so a row is left
                // only when a quote never closed.
                guard rowStart > 0, inQuotes else { return nil }
                fields.append(String(field))
                return .row(line: rowStart, fields: fields, unclosedQuote: true)
            }
            let line: ArraySlice<UInt8>
            switch item {
            case .tooLong(let length):
                // A quoted field the line belonged to is given up with it: the next line starts a row.
                return .tooLong(line: rowStart > 0 ? rowStart : lines.lineNumber, bytes: bytes + length)
            case .line(let l): line = l
            }
            if rowStart == 0 { rowStart = lines.lineNumber }
            bytes += line.count + 1
            if bytes > lines.maxLineBytes + 1 { return .tooLong(line: rowStart, bytes: bytes - 1) }
            var scalars = String(decoding: line, as: UTF8.self).unicodeScalars[...]
            if atStart {
                atStart = false
                if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
            }
            for c in scalars + ["\n"] {
                if quoteInQuotes {
                    quoteInQuotes = false
                    if c == "\"" { field.append("\""); continue }
                    inQuotes = false   // it closed the field; `c` is read as outside quotes
                }
                if inQuotes {
                    if c == "\"" { quoteInQuotes = true } else { field.append(c) }
                    continue
                }
                switch c {
                case "\"" where field.isEmpty: inQuotes = true
                case ",":
                    fields.append(String(field))
                    field = String.UnicodeScalarView()
                case "\r": break
                case "\n":
                    fields.append(String(field))
                    return .row(line: rowStart, fields: fields, unclosedQuote: false)
                default: field.append(c)
                }
            }
        }
    }
}

/// Records from CSV with a header row: the text column (`--text-field`, else `content`, else
/// `text`), and the id and label columns when the header has them. A row without an id column's
/// value is numbered from 1 (the rows after the header, blank ones too).
struct CSVRecords {
    private let rows: CSVRows
    private let name: String
    private let options: ReaderOptions
    private var columns: (header: [String], text: Int, label: Int?, id: Int?)?
    private var rowNumber = 0
    private var done = false

    init(rows: CSVRows, name: String, options: ReaderOptions) {
        self.rows = rows
        self.name = name
        self.options = options
    }

    mutating func next() -> Result<Record, RecordError>? {
        while !done, let item = rows.next() {
            guard let columns else {
                guard case .row(_, let fields, _) = item else {
                    done = true
                    return .failure(RecordError(origin: "\(name):1", message: "the header row is longer than --max-record-bytes \(rows.maxRowBytes)"))
                }
                switch CSVRecords.columns(fields.map { $0.trimmingSpaces() }, options: options) {
                case .success(let c): self.columns = c
                case .failure(let e):
                    done = true   // without its columns no row can be read
                    return .failure(RecordError(origin: "\(name):1", message: e.message))
                }
                continue
            }
            rowNumber += 1
            switch item {
            case .tooLong(let line, let bytes):
                return .failure(RecordError(origin: "\(name):\(line)", message: "row of \(bytes) bytes is longer than --max-record-bytes \(rows.maxRowBytes); skipped"))
            case .row(let line, let fields, let unclosedQuote):
                if fields == [""] && !unclosedQuote { continue }   // a blank line
                let origin = "\(name):\(line)"
                if unclosedQuote {
                    return .failure(RecordError(origin: origin, message: "a quoted field is never closed; the rest of the file was read into it"))
                }
                guard fields.count == columns.header.count else {
                    return .failure(RecordError(origin: origin, message: "\(fields.count) fields, the header has \(columns.header.count)"))
                }
                return .success(Record(id: columns.id.map { fields[$0] } ?? String(rowNumber), text: fields[columns.text],
                                       label: columns.label.map { fields[$0] }, file: name, line: line))
            }
        }
        return nil
    }

    private static func columns(_ header: [String], options: ReaderOptions) -> Result<(header: [String], text: Int, label: Int?, id: Int?), ColumnError> {
        if let field = options.textField, !header.contains(field) {
            return .failure(ColumnError("no `\(field)` column (--text-field); the header has \(header.joined(separator: ", "))"))
        }
        guard let text = options.textField.flatMap({ header.firstIndex(of: $0) }) ?? header.firstIndex(of: "content") ?? header.firstIndex(of: "text") else {
            return .failure(ColumnError("the header needs a text column (content or text, or --text-field); it has \(header.joined(separator: ", "))"))
        }
        return .success((header, text, header.firstIndex(of: options.labelField), header.firstIndex(of: options.idField)))
    }

    private struct ColumnError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}
