import Foundation

/// One rule file's text, kept as Unicode scalars so that columns count characters, not bytes.
public struct SourceFile: Sendable {
    public let path: String
    package let scalars: [Unicode.Scalar]
    /// Scalar offset at which each line starts.
    let lineStarts: [Int]

    /// A byte-order mark is dropped (it is not a column of line 1) and a lone CR ends a line as
    /// LF does (old Mac files), one scalar for one, so offsets keep their meaning.
    package init(path: String, text: String) {
        self.path = path
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        for i in scalars.indices where scalars[i] == "\r" && (i + 1 == scalars.count || scalars[i + 1] != "\n") {
            scalars[i] = "\n"
        }
        self.scalars = scalars
        var starts = [0]
        for (i, s) in scalars.enumerated() where s == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    /// A source whose scalars were already read (a compiled rule cache's copy).
    init(path: String, scalars: [Unicode.Scalar]) {
        self.path = path
        self.scalars = scalars
        var starts = [0]
        for (i, s) in scalars.enumerated() where s == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    /// 1-based line and column of a scalar offset.
    public func lineColumn(_ offset: Int) -> (line: Int, column: Int) {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return (lo + 1, offset - lineStarts[lo] + 1)
    }

    /// The text of a 1-based line, without its newline.
    public func lineText(_ line: Int) -> String {
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] - 1 : scalars.count
        if end > start, scalars[end - 1] == "\r" { end -= 1 }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[start..<max(start, end)])
        return String(s)
    }

    package func text(_ range: Range<Int>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[range.clamped(to: 0..<scalars.count)])
        return String(s)
    }
}

/// A range of scalars in one source file: `file` indexes the compilation's `sources`.
public struct SourceRange: Sendable, Hashable {
    public var file: Int
    public var start: Int
    public var end: Int
    package init(file: Int, start: Int, end: Int) { self.file = file; self.start = start; self.end = end }
    package func joined(_ other: SourceRange) -> SourceRange {
        SourceRange(file: file, start: min(start, other.start), end: max(end, other.end))
    }
}

/// A rule file's bytes checked as UTF-8 before anything reads them as text.
extension RuleCompiler {
    /// The `invalid-utf8` error for a file that is not UTF-8, at the first damaged place.
    static func invalidUTF8(_ data: Data, file index: Int) -> Diagnostic? {
        guard let bad = firstInvalidUTF8(data) else { return nil }
        // Locate the damage in the decoded text: the number of scalars before the bad byte.
        let offset = String(decoding: data.prefix(bad), as: UTF8.self).unicodeScalars.count
        return Diagnostic(.invalidUTF8, "the file is not valid UTF-8 (byte \(bad))",
                          at: SourceRange(file: index, start: offset, end: offset + 1), help: "save the file as UTF-8")
    }

    static func firstInvalidUTF8(_ data: Data) -> Int? {
        let bytes = [UInt8](data)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n: Int
            switch b {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: n = 1
            case 0xE0...0xEF: n = 2
            case 0xF0...0xF4: n = 3
            default: return i
            }
            guard i + n < bytes.count else { return i }   // the sequence is cut off by the end
            for k in 1...n where bytes[i + k] & 0xC0 != 0x80 { return i }
            // Overlong and surrogate forms.
            if b == 0xE0 && bytes[i + 1] < 0xA0 { return i }
            if b == 0xED && bytes[i + 1] > 0x9F { return i }
            if b == 0xF0 && bytes[i + 1] < 0x90 { return i }
            if b == 0xF4 && bytes[i + 1] > 0x8F { return i }
            i += n + 1
        }
        return nil
    }
}
