import Fanzha
import Foundation
import NIOConcurrencyHelpers

// The one file of the server that knows how the engine is called. Everything else asks it for
// verdicts as JSON bytes written by the library's own printer, so `POST /v1/scan` answers with
// exactly what `fanzha scan --format jsonl` prints for the same record.

/// One compiled rule set, immutable once built, with everything needed to screen against it.
/// A reload builds a new one and swaps it in whole (`RuleStore`); requests that started on the old
/// one finish on it.
package final class ScreeningEngine: @unchecked Sendable {
    package let rules: RuleSet
    package let matcher: CompiledMatcher
    package let printer: VerdictPrinter
    /// Live-call events of this rule set as `scan --input events` writes them.
    package let eventPrinter: LiveEventPrinter
    package let paths: [String]
    package let loadedAt: Date
    package let warnings: Int
    /// A screener is for one thread at a time (each keeps its PCRE2 match data): a pool, grown on
    /// demand to the number of requests screening at once, of siblings sharing the compiled rules.
    private let pool = NIOLockedValueBox<[Screener]>([])
    private let firstScreener: Screener
    /// Hits per rule since this rule set was loaded (the console's rules page).
    private let hitCounts: NIOLockedValueBox<[Int]>
    let readerOptions: ReaderOptions

    init(rules: RuleSet, model: TextModel?, paths: [String], warnings: Int, readerOptions: ReaderOptions) throws {
        self.rules = rules
        self.matcher = CompiledMatcher(rules, model: model)
        self.printer = VerdictPrinter(rules: rules, format: .jsonl, colour: false)
        self.eventPrinter = LiveEventPrinter(rules: rules, format: .jsonl)
        self.paths = paths
        self.loadedAt = Date()
        self.warnings = warnings
        self.readerOptions = readerOptions
        self.hitCounts = NIOLockedValueBox(Array(repeating: 0, count: rules.rules.count))
        // A rule set that cannot be screened fails here, at load, not at the first request.
        let first = try Screener(matcher: matcher)
        firstScreener = first
        pool.withLockedValue { $0.append(first) }
    }

    /// Compiles the rules at `paths` (and loads their model). On errors, the diagnostics rendered
    /// as `lint` prints them; nothing is half-loaded.
    package static func load(paths: [String], modelPath: String?, noModel: Bool, readerOptions: ReaderOptions = ReaderOptions()) -> Result<ScreeningEngine, LoadFailure> {
        let result: CompileResult
        do { result = try RuleCompiler.compile(paths: paths) } catch {
            return .failure(LoadFailure(message: "\(error)", diagnostics: []))
        }
        guard let set = result.ruleSet, result.errors.isEmpty else {
            let rendered = result.errors.map { $0.rendered(sources: result.sources, colour: false) }
            return .failure(LoadFailure(message: "\(result.errors.count) error\(result.errors.count == 1 ? "" : "s") in the rules; nothing was loaded",
                                        diagnostics: rendered))
        }
        var model: TextModel? = nil
        if !noModel, set.usesModel || modelPath != nil, let path = modelPath ?? TextModel.defaultPath(forRules: paths) {
            do { model = try TextModel.load(path: path) } catch {
                return .failure(LoadFailure(message: "\(error)", diagnostics: []))
            }
        }
        do {
            return .success(try ScreeningEngine(rules: set, model: model, paths: paths, warnings: result.warnings.count, readerOptions: readerOptions))
        } catch {
            return .failure(LoadFailure(message: "\(error)", diagnostics: []))
        }
    }

    package struct LoadFailure: Error, CustomStringConvertible, Sendable {
        package let message: String
        /// Each error as `file:line:col: error: …` with its source line, as `fanzha lint` prints it.
        package let diagnostics: [String]
        package var description: String { ([message] + diagnostics).joined(separator: "\n") }
    }

    func withScreener<T>(_ body: (Screener) -> T) -> T {
        // A sibling shares what was compiled at load, which has already made one screener.
        let screener = pool.withLockedValue { $0.popLast() } ?? (try! firstScreener.sibling())
        defer { pool.withLockedValue { $0.append(screener) } }
        return body(screener)
    }

    /// A record from one JSON object's bytes, as `scan --input jsonl` reads a line.
    func decode(_ json: ArraySlice<UInt8>, number: Int) -> Result<Record, RecordError> {
        let decoder = RecordDecoder(format: .jsonl, options: readerOptions, source: "api")
        return decoder.decode(line: json, number: number) ?? .failure(RecordError(origin: "request", message: "not valid JSON: an empty body"))
    }

    package struct Screened {
        package let verdict: Verdict
        package let record: Record
        /// The verdict as `scan --format jsonl` prints it.
        package let json: [UInt8]
    }

    func screen(_ record: Record) -> Screened {
        let verdict = withScreener { $0.screen(record) }
        count(verdict)
        return Screened(verdict: verdict, record: record, json: printer.jsonBytes(verdict, record: record))
    }

    /// The line `scan --format jsonl` writes in place of a record that could not be read.
    func errorJSON(_ e: RecordError) -> [UInt8] {
        printer.renderError(e) ?? []
    }

    private func count(_ v: Verdict) {
        guard !v.hits.isEmpty else { return }
        hitCounts.withLockedValue { counts in for h in v.hits { counts[h.ruleIndex] += 1 } }
    }

    /// What `fanzha explain` prints, the marked text alone, and the points table.
    func explanation(_ s: Screened) -> [UInt8] {
        var o = JSONObjectWriter()
        o.addRaw("verdict", bytes: s.json)
        o.add("marked", Highlighter(style: .brackets).mark(record: s.record, hits: s.verdict.hits))
        o.addObjects("points", s.verdict.hits.sorted { $0.score > $1.score }) { j, h in
            j.add("points", h.score)
            j.add("rule", h.rule)
            j.add("title", h.title)
            j.add("evidence", h.spans.map(\.text))
        }
        var report = Explanation.render(s.verdict, record: s.record, rules: rules, colour: false)
        // The model's part, as `fanzha explain` gives it: its probability (and outside the
        // frames, when there are frames) and the n-grams that pushed it most, with their places.
        if let model = matcher.model, let m = withScreener({ $0.modelReport(s.record, frames: s.verdict.frames) }) {
            report += ModelExplanation.render(m, model: model)
            o.addObject("model") { j in
                j.add("probability", m.probability)
                if let outside = m.outsideFrames { j.add("outside_frames", outside) }
                let contribution: (inout JSONObjectWriter, ModelReport.Contribution) -> Void = { c, x in
                    c.add("ngram", x.ngram)
                    c.add("contribution", x.contribution)
                    c.addSpans("spans", x.spans)
                }
                j.addObjects("up", m.up, contribution)
                j.addObjects("down", m.down, contribution)
            }
        }
        o.add("report", report)
        return o.finishBytes()
    }

    /// The rules page: categories with their rule counts and hits since load, and every rule.
    func summary() -> [UInt8] {
        let hits = hitCounts.withLockedValue { $0 }
        var perCategory = Array(repeating: (rules: 0, hits: 0), count: rules.categories.count)
        for (i, r) in rules.rules.enumerated() where !r.isFrame {
            guard let c = r.category else { continue }
            perCategory[c].rules += 1
            perCategory[c].hits += hits[i]
        }
        var o = JSONObjectWriter()
        o.add("rules", rules.rules.count)
        o.add("loaded_at", ISO8601DateFormatter().string(from: loadedAt))
        o.add("paths", paths)
        o.add("warnings", warnings)
        o.addObjects("categories", Array(rules.categories.indices)) { j, c in
            j.add("id", rules.categories[c].id)
            j.add("title", rules.categories[c].title)
            j.add("description", rules.categories[c].description)
            j.add("rules", perCategory[c].rules)
            j.add("hits", perCategory[c].hits)
        }
        o.addObjects("rule_hits", Array(rules.rules.indices.filter { hits[$0] > 0 }.sorted { hits[$0] > hits[$1] })) { j, i in
            j.add("rule", rules.rules[i].id)
            j.add("title", rules.rules[i].title)
            j.add("score", rules.rules[i].score)
            j.add("hits", hits[i])
        }
        return o.finishBytes()
    }

    /// A live-call screener of this rule set (one per WebSocket, one per shard of HTTP calls).
    func liveScreener(limits: LiveCallScreener.Limits) -> LiveCallScreener {
        LiveCallScreener(screener: try! firstScreener.sibling(), limits: limits, sides: readerOptions.sides)
    }

}
