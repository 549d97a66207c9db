import ArgumentParser
import Fanzha
import FanzhaCommandLine
import Foundation

/// `fanzha compile rules/ -o rules.fzc`: the rules (and the model beside them) as one file that
/// `--rules rules.fzc` loads without parsing, checking or building anything (docs/BENCHMARKS.md,
/// start-up). Scans cache the same thing automatically; this makes one on purpose, to ship.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile rules into one file that loads without compiling (use it with --rules FILE.fzc).",
        discussion: "The file holds the rules, the prefilter and the model beside the rules; it is tied to this fanzha build. Exit 0 on success, 2 on errors.")

    @Argument(help: "Rule files or directories (default: the bundled rules).") var paths: [String] = []
    @Option(name: [.short, .customLong("output")], help: "The compiled rule set to write (.fzc).") var output: String
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        try guarded {
            let resolved = try resolveRulePaths(paths)
            let result = try compileReporting(resolved)
            let err = OutputSink.stderr
            for d in result.errors { err.write(d.rendered(sources: result.sources, colour: useColour(err))) }
            guard let set = result.ruleSet else {
                throw Failure("\(result.errors.count) error\(result.errors.count == 1 ? "" : "s") in the rules; nothing was written")
            }
            var model: [UInt8]? = nil
            if set.usesModel || modelOptions.settings.modelPath != nil, let path = modelOptions.settings.path(rulePaths: resolved) {
                do { _ = try TextModel.load(path: path) } catch let e as ModelError { throw Failure(e.description) }
                model = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
            }
            do { try CompiledRuleCache.write(set, model: model, to: output) } catch let e as CompiledRuleCache.CacheError {
                throw Failure(e.description)
            }
            err.line("\(output): \(set.rules.count) rules, \(set.words.count) words\(model == nil ? "" : ", with the model")")
            return 0
        }
    }
}
