import ArgumentParser
import Fanzha

/// `fanzha serve`'s command line, declared once for both executables: `fanzha` parses it (help,
/// errors and validation are its own, as for every command) and hands the arguments over to
/// `fanzha-serve`, which parses the same declaration again and runs the service (FanzhaServer).
package struct ServeOptions: ParsableArguments {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the screening service: an HTTP API, live calls over HTTP and WebSocket, and a web console.",
        discussion: """
        Loads the rules once and answers until SIGTERM or SIGINT (requests in flight finish; open live \
        calls are closed and their final verdicts written to standard output). SIGHUP, or POST \
        /v1/rules/reload, compiles the rules anew and swaps them in; rules with errors are refused and \
        the old ones keep serving. The API is described in docs/openapi.yaml.
        """)

    @OptionGroup package var ruleOptions: RuleOptions
    @OptionGroup package var modelOptions: ModelOptions
    @Option(help: "Address to listen on.") package var bind: String = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") package var port: Int = 8110
    @Option(help: "Tokens file: `NAME ROLE[,ROLE…] TOKEN` per line, roles screen, dispatch, admin. Without it every request is allowed, and only on a loopback address.") package var tokens: String?
    @Option(help: "Largest request body in bytes (413 beyond).") package var maxBodyBytes: Int = 1 << 20
    @Option(help: "Most records in one POST /v1/scan array.") package var maxBatch: Int = 1000
    @Option(help: "Seconds a client has to send a request body (408 beyond).") package var bodyTimeout: Int = 10
    @Option(help: "Seconds a connection may stay idle before it is closed.") package var idleTimeout: Int = 75
    @Option(help: "Live calls: close a call after this many events (of its shard or stream) without one of its own.") package var idleLines: Int = 100_000
    @Option(help: "Live calls: close a call after this many seconds of event time (`t`) without an event.") package var idleSeconds: Double = 1800
    @Option(help: "Live calls: at most this many open calls over HTTP (and per WebSocket stream).") package var maxOpenCalls: Int = 100_000
    @Option(help: "Live calls: a call with this many turns is closed when its next turn arrives.") package var maxCallTurns: Int = Screener.timelineTurns
    @Option(help: "Live calls: alerts judge a longer call on its last N turns.") package var windowTurns: Int = LiveCallScreener.Limits().window
    @Option(help: "Live calls: a call keeps at most twice this many bytes of text (always its latest turn).") package var windowBytes: Int = LiveCallScreener.Limits().windowBytes
    @Option(help: "Referral case database (SQLite; created when missing): the /v1/referrals routes, the console's queue, and POST /v1/scan?refer=1.") package var referrals: String?
    @Option(help: "POST /v1/scan?refer=1 opens a case for each record at or above this level: low, medium or high.") package var referLevel: String = "medium"
    @Option(help: "Input field naming the person at risk (the case's subject; default: the record's id).") package var subjectField: String?
    @Option(help: "Input field naming the suspected counterparty (calling number, account, link).") package var counterpartyField: String?
    @Option(help: ArgumentHelp("A referral deadline, `KEY=DURATION` (high.call, high.visit, medium.call, low.sms; e.g. high.call=5m); repeatable.", valueName: "KEY=DURATION")) package var deadline: [String] = []

    package func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        for (flag, value) in [("--max-body-bytes", maxBodyBytes), ("--max-batch", maxBatch), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout),
                              ("--idle-lines", idleLines), ("--max-open-calls", maxOpenCalls), ("--max-call-turns", maxCallTurns), ("--window-turns", windowTurns),
                              ("--window-bytes", windowBytes)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
        if !(idleSeconds > 0) { throw ValidationError("--idle-seconds must be more than 0") }
    }

}
