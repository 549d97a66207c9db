import ArgumentParser
import Fanzha
import FanzhaCommandLine
import FanzhaReferrals
import FanzhaServer
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// `fanzha serve`: the screening service (docs/SERVICE.md). `fanzha` parses the command line and
// executes this program, found beside it, with the same arguments (Sources/fanzha/Serve.swift):
// the HTTP server and its libraries stay out of the command-line tool, whose start-up pays for
// every protocol conformance it carries (docs/BENCHMARKS.md). The service itself is FanzhaServer.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanzha-serve",
        abstract: ServeOptions.configuration.abstract,
        discussion: ServeOptions.configuration.discussion + " Usually run as `fanzha serve`.",
        version: "0.1.0")

    @OptionGroup var options: ServeOptions

    func run() throws {
        let o = options
        try guarded {
            let paths = try o.ruleOptions.resolvedPaths()
            var config = ServeConfiguration(rules: .init(paths: paths, modelPath: o.modelOptions.settings.modelPath, noModel: o.modelOptions.settings.noModel))
            config.host = o.bind
            config.port = o.port
            if let tokens = o.tokens {
                do { config.tokens = try TokenTable.load(path: tokens) } catch { throw Failure("\(error)") }
            }
            guard let level = Level(name: o.referLevel), level != .none else { throw Failure("unknown --refer-level `\(o.referLevel)` (low, medium, high)") }
            config.referLevel = level
            config.subjectField = o.subjectField
            config.counterpartyField = o.counterpartyField
            if let referrals = o.referrals {
                var deadlines = Deadlines()
                do {
                    for d in o.deadline { try deadlines.set(d) }
                    config.referrals = try ReferralStore(path: referrals, deadlines: deadlines)
                } catch { throw Failure("\(error)") }
            } else if !o.deadline.isEmpty {
                throw Failure("--deadline needs --referrals")
            }
            config.maxBodyBytes = o.maxBodyBytes
            config.maxBatch = o.maxBatch
            config.bodyTimeout = .seconds(o.bodyTimeout)
            config.idleTimeout = .seconds(o.idleTimeout)
            config.callLimits.idleLines = o.idleLines
            config.callLimits.idleSeconds = o.idleSeconds
            config.callLimits.maxOpenCalls = o.maxOpenCalls
            config.callLimits.maxTurns = o.maxCallTurns
            config.callLimits.window = o.windowTurns
            config.callLimits.windowBytes = o.windowBytes
            let out = OutputSink.stdout
            config.log = { line in out.line(line); out.flush() }
            let service: FanzhaService
            do { service = try FanzhaService(configuration: config) } catch {
                throw Failure("\(error)")
            }
            let rules = service.store.current.rules.rules.count
            let host = o.bind
            let outcome = Outcome()
            let done = DispatchSemaphore(value: 0)
            Task {
                do {
                    try await service.run { port in
                        OutputSink.stderr.line("fanzha: serving \(rules) rules on http://\(host.contains(":") ? "[\(host)]" : host):\(port) (console: /console/, API: docs/openapi.yaml)")
                        OutputSink.stderr.flush()
                    }
                } catch {
                    outcome.error = error
                }
                done.signal()
            }
            done.wait()
            if let e = outcome.error { throw Failure("\(e)") }
            return 0
        }
    }

    final class Outcome: @unchecked Sendable { var error: Error? }
}

ServeCommand.runAsRoot()
