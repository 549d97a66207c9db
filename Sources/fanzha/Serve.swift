import ArgumentParser
import Fanzha
import FanzhaReferrals
import FanzhaServer
import Foundation

/// `fanzha serve`: the screening service (docs/SERVICE.md). The service itself is FanzhaServer.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the screening service: an HTTP API, live calls over HTTP and WebSocket, and a web console.",
        discussion: """
        Loads the rules once and answers until SIGTERM or SIGINT (requests in flight finish; open live \
        calls are closed and their final verdicts written to standard output). SIGHUP, or POST \
        /v1/rules/reload, compiles the rules anew and swaps them in; rules with errors are refused and \
        the old ones keep serving. The API is described in docs/openapi.yaml.
        """)

    @OptionGroup var ruleOptions: RuleOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Address to listen on.") var bind: String = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port: Int = 8110
    @Option(help: "Tokens file: `NAME ROLE[,ROLE…] TOKEN` per line, roles screen, dispatch, admin. Without it every request is allowed, and only on a loopback address.") var tokens: String?
    @Option(help: "Largest request body in bytes (413 beyond).") var maxBodyBytes: Int = 1 << 20
    @Option(help: "Most records in one POST /v1/scan array.") var maxBatch: Int = 1000
    @Option(help: "Seconds a client has to send a request body (408 beyond).") var bodyTimeout: Int = 10
    @Option(help: "Seconds a connection may stay idle before it is closed.") var idleTimeout: Int = 75
    @Option(help: "Live calls: close a call after this many events (of its shard or stream) without one of its own.") var idleLines: Int = 100_000
    @Option(help: "Live calls: close a call after this many seconds of event time (`t`) without an event.") var idleSeconds: Double = 1800
    @Option(help: "Live calls: at most this many open calls over HTTP (and per WebSocket stream).") var maxOpenCalls: Int = 100_000
    @Option(help: "Live calls: a call with this many turns is closed when its next turn arrives.") var maxCallTurns: Int = Screener.timelineTurns
    @Option(help: "Live calls: alerts judge a longer call on its last N turns.") var windowTurns: Int = LiveCallScreener.Limits().window
    @Option(help: "Live calls: a call keeps at most twice this many bytes of text (always its latest turn).") var windowBytes: Int = LiveCallScreener.Limits().windowBytes
    @Option(help: "Referral case database (SQLite; created when missing): the /v1/referrals routes, the console's queue, and POST /v1/scan?refer=1.") var referrals: String?
    @Option(help: "POST /v1/scan?refer=1 opens a case for each record at or above this level: low, medium or high.") var referLevel: String = "medium"
    @Option(help: "Input field naming the person at risk (the case's subject; default: the record's id).") var subjectField: String?
    @Option(help: "Input field naming the suspected counterparty (calling number, account, link).") var counterpartyField: String?
    @Option(help: ArgumentHelp("A referral deadline, `KEY=DURATION` (high.call, high.visit, medium.call, low.sms; e.g. high.call=5m); repeatable.", valueName: "KEY=DURATION")) var deadline: [String] = []

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        for (flag, value) in [("--max-body-bytes", maxBodyBytes), ("--max-batch", maxBatch), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout),
                              ("--idle-lines", idleLines), ("--max-open-calls", maxOpenCalls), ("--max-call-turns", maxCallTurns), ("--window-turns", windowTurns),
                              ("--window-bytes", windowBytes)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
        if !(idleSeconds > 0) { throw ValidationError("--idle-seconds must be more than 0") }
    }

    func run() throws {
        try guarded {
            let paths = try ruleOptions.resolvedPaths()
            var config = ServeConfiguration(rules: .init(paths: paths, modelPath: modelOptions.modelPath, noModel: modelOptions.noModel))
            config.host = bind
            config.port = port
            if let tokens {
                do { config.tokens = try TokenTable.load(path: tokens) } catch { throw Failure("\(error)") }
            }
            guard let level = Level(name: referLevel), level != .none else { throw Failure("unknown --refer-level `\(referLevel)` (low, medium, high)") }
            config.referLevel = level
            config.subjectField = subjectField
            config.counterpartyField = counterpartyField
            if let referrals {
                var deadlines = Deadlines()
                do {
                    for d in deadline { try deadlines.set(d) }
                    config.referrals = try ReferralStore(path: referrals, deadlines: deadlines)
                } catch { throw Failure("\(error)") }
            } else if !deadline.isEmpty {
                throw Failure("--deadline needs --referrals")
            }
            config.maxBodyBytes = maxBodyBytes
            config.maxBatch = maxBatch
            config.bodyTimeout = .seconds(bodyTimeout)
            config.idleTimeout = .seconds(idleTimeout)
            config.callLimits.idleLines = idleLines
            config.callLimits.idleSeconds = idleSeconds
            config.callLimits.maxOpenCalls = maxOpenCalls
            config.callLimits.maxTurns = maxCallTurns
            config.callLimits.window = windowTurns
            config.callLimits.windowBytes = windowBytes
            let out = OutputSink.stdout
            config.log = { line in out.line(line); out.flush() }
            let service: FanzhaService
            do { service = try FanzhaService(configuration: config) } catch {
                throw Failure("\(error)")
            }
            let rules = service.store.current.rules.rules.count
            let host = bind
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
