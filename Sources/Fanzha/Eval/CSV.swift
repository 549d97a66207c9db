/// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
public enum CSV {
    /// Rows of fields, with the 1-based line each row starts on.
    public static func parse(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var line = 1, rowStart = 1
        var it = text.unicodeScalars.makeIterator()
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
                rows.append((rowStart, fields)); fields = []
                line += 1; rowStart = line
            default: field.append(c)
            }
        }
        if sawAny && (!field.isEmpty || !fields.isEmpty) {
            fields.append(String(field))
            rows.append((rowStart, fields))
        }
        return rows
    }
}
