import Foundation

/// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
package enum CSV {
    /// Rows of fields, with the 1-based line each row starts on; `unclosedQuote` marks the last
    /// row when a quoted field in it is never closed (it then runs to the end of the text).
    package static func parse(_ text: String) -> [(line: Int, fields: [String], unclosedQuote: Bool)] {
        var rows: [(Int, [String], Bool)] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var line = 1, rowStart = 1
        var it = text.unicodeScalars.makeIterator()
        if text.unicodeScalars.first == "\u{FEFF}" { _ = it.next() }   // a BOM is not part of the first field
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return it.next()
        }
        var sawAny = false
        while let c = next() {
            sawAny = true
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty: inQuotes = true
            case ",": fields.append(String(field)); field = String.UnicodeScalarView()
            case "\r": break
            case "\n":
                fields.append(String(field)); field = String.UnicodeScalarView()
                rows.append((rowStart, fields, false)); fields = []
                line += 1; rowStart = line
            default: field.append(c)
            }
        }
        if sawAny && (inQuotes || !field.isEmpty || !fields.isEmpty) {
            fields.append(String(field))
            rows.append((rowStart, fields, inQuotes))
        }
        return rows
    }

    /// Records from a CSV file with a header row: a text column (`textField`, else `content`,
    /// else `text`), a label column (required when `labelRequired`) and an optional id column.
    /// Rows that cannot be used are reported in `errors` with their line, never dropped silently.
    package static func records(path: String, data: Data, textField: String?, labelField: String, idField: String,
                               labelRequired: Bool, errors: inout [String]) -> [Record] {
        let rows = parse(String(decoding: data, as: UTF8.self))
        guard let header = rows.first?.fields.map({ $0.trimmingSpaces() }) else { return [] }
        if let textField, !header.contains(textField) {
            errors.append("\(path):1: no `\(textField)` column (--text-field); the header has \(header.joined(separator: ", "))")
            return []
        }
        let ti = textField.flatMap { header.firstIndex(of: $0) } ?? header.firstIndex(of: "content") ?? header.firstIndex(of: "text")
        let li = header.firstIndex(of: labelField)
        guard let ti, li != nil || !labelRequired else {
            errors.append("\(path):1: the header needs a text column (content or text, or --text-field)"
                          + (labelRequired ? " and a `\(labelField)` column" : ""))
            return []
        }
        let ii = header.firstIndex(of: idField)
        var out: [Record] = []
        for (n, row) in rows.dropFirst().enumerated() {
            if row.fields == [""] && !row.unclosedQuote { continue }   // a blank line
            if row.unclosedQuote {
                errors.append("\(path):\(row.line): a quoted field is never closed; the rest of the file was read into it")
                continue
            }
            guard row.fields.count == header.count else {
                errors.append("\(path):\(row.line): \(row.fields.count) fields, the header has \(header.count)")
                continue
            }
            out.append(Record(id: ii.map { row.fields[$0] } ?? String(n + 1), text: row.fields[ti],
                              label: li.map { row.fields[$0] }, origin: "\(path):\(row.line)"))
        }
        return out
    }
}
