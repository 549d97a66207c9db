import ArgumentParser
import Fanzha
import Foundation

// What both executables' commands share: `fanzha` and `fanzha-serve` (which `fanzha serve` hands
// over to, so that the command-line tool does not carry the HTTP server; docs/BENCHMARKS.md).

/// Options every command that loads rules shares.
package struct RuleOptions: ParsableArguments {
    package init() {}

    @Option(name: .customLong("rules"), help: "Rule file or directory (repeatable). Default: the bundled rules.")
    package var rulePaths: [String] = []

    package func resolvedPaths() throws -> [String] { try resolveRulePaths(rulePaths) }
    package func load() throws -> RuleSet { try loadRules(rulePaths) }
}

/// The given rule paths, or the bundled rules when none are given.
package func resolveRulePaths(_ paths: [String]) throws -> [String] {
    if !paths.isEmpty { return paths }
    guard let bundled = BundledRules.path() else {
        throw Failure("cannot find the bundled rules; pass --rules PATH or set FANZHA_RULES")
    }
    return [bundled]
}

/// Compiles the rules; on any error prints every diagnostic and fails (never half-loaded).
/// Through the compiled rule cache (`CompiledRuleCache`): a `.fzc` file, or rules compiled once per edit.
package func loadRules(_ paths: [String]) throws -> RuleSet {
    let result: CompileResult
    do { result = try CompiledRuleCache.load(paths: try resolveRulePaths(paths)) } catch let e as RuleLoadError {
        throw Failure(e.description)
    } catch let e as CompiledRuleCache.CacheError { throw Failure(e.description) }
    let err = OutputSink.stderr
    for d in result.errors { err.write(d.rendered(sources: result.sources, colour: useColour(err))) }
    err.flush()
    guard let set = result.ruleSet else {
        throw Failure("\(result.errors.count) error\(result.errors.count == 1 ? "" : "s") in the rules; nothing was loaded")
    }
    return set
}

package func compileReporting(_ paths: [String]) throws -> CompileResult {
    do { return try RuleCompiler.compile(paths: paths) } catch let e as RuleLoadError { throw Failure(e.description) }
}

/// An error the user caused: printed as `fanzha: message`, exit status 2.
package struct Failure: Error, CustomStringConvertible {
    package let description: String
    package init(_ message: String) { description = message }
}

/// Runs `body`, turning failures into a message and exit status 2 (grep's "trouble").
package func guarded(_ body: () throws -> Int32) throws {
    let status: Int32
    do {
        status = try body()
    } catch let e as Failure {
        OutputSink.stdout.close()
        // After the messages already queued, as they explain what came before the stop.
        OutputSink.stderr.line("fanzha: \(e.description)")
        OutputSink.stderr.flush()
        throw ExitCode(2)
    } catch {
        OutputSink.stdout.close()
        OutputSink.stderr.flush()
        throw error
    }
    OutputSink.stdout.close()   // every write checked, the close too: a lost verdict is exit 2
    OutputSink.stderr.flush()
    if status != 0 { throw ExitCode(status) }
}

package func useColour(_ sink: OutputSink) -> Bool {
    sink.isTerminal && (environmentValue("NO_COLOR") ?? "").isEmpty   // no-color.org: set and not empty
}

