import Foundation

// The public entry points: compile rules, screen records. README "Using Fanzha as a library" shows
// them together; Tests/FanzhaTests/LibraryAPITests.swift compiles the same example.

extension RuleCompiler {
    /// Compiles rule text held in memory (`path` only names it in diagnostics). The variant
    /// dictionary of a rules directory is not read: `compile(paths:)` does that.
    public static func compile(source: String, path: String = "<rules>") -> CompileResult {
        compile(files: [(path: path, data: Data(source.utf8))])
    }
}

extension CompileResult {
    /// Where a diagnostic is: its file's path, and 1-based line and column (in characters).
    public func location(of d: Diagnostic) -> (path: String, line: Int, column: Int)? {
        guard d.range.file < sources.count else { return nil }
        let (line, column) = sources[d.range.file].lineColumn(d.range.start)
        return (sources[d.range.file].path, line, column)
    }
}

extension Screener {
    /// A screener for `rules`, with the learned model their `model` conditions read (none: those
    /// conditions are false). Compiling the prefilter takes a moment; a screener is for one thread
    /// at a time, and `sibling()` gives another thread its own without compiling again.
    public convenience init(rules: RuleSet, model: TextModel? = nil) throws {
        try self.init(matcher: CompiledMatcher(rules, model: model))
    }

    /// Another screener sharing this one's compiled rules, prefilter and model: one per thread.
    public func sibling() throws -> Screener {
        try Screener(matcher: matcher, usePrefilter: usePrefilter)
    }

    /// The verdict on one record: a message, or a call (with its timeline).
    public func screen(_ record: Record) -> Verdict {
        evaluate(prepare(record), timeline: record.isCall)
    }
}
