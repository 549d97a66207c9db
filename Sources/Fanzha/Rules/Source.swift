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
