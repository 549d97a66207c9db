import Fanzha
import FanzhaReferrals
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOConcurrencyHelpers
import ServiceLifecycle
import UnixSignals

/// How `fanzha serve` runs: where it listens, what it loads, and its limits.
package struct ServeConfiguration: Sendable {
    package var host = "127.0.0.1"
    package var port = 8110
    package var rules: RuleStore.Source
    /// nil: no tokens file, every request is allowed (only on a loopback address).
    package var tokens: TokenTable?
    /// Largest request body (413 beyond).
    package var maxBodyBytes = 1 << 20
    /// Most records in one `POST /v1/scan` array (413 beyond).
    package var maxBatch = 1000
    /// A request body must arrive within this time (408 otherwise); a connection with no traffic
    /// for `idleTimeout` is closed.
    package var bodyTimeout: Duration = .seconds(10)
    package var idleTimeout: Duration = .seconds(75)
    package var callLimits = LiveCallScreener.Limits()
    /// The referral case store (`--referrals FILE`); nil: no referral routes.
    package var referrals: ReferralStore?
    /// `POST /v1/scan?refer=1` opens or joins a case for each verdict at this level or above.
    package var referLevel: Level = .medium
    /// Input fields naming the person at risk and the suspected counterparty (as `scan --refer`).
    package var subjectField: String?
    package var counterpartyField: String?
    /// Shards of HTTP live calls (default: one per core).
    package var callShards = ProcessInfo.processInfo.activeProcessorCount
    /// Where finals and notices that no client is waiting for go (idle, evicted, shutdown).
    package var log: @Sendable (String) -> Void = { line in
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    package init(rules: RuleStore.Source) { self.rules = rules }

    /// What turns a screener's live calls into warnings for the case store (one per screener:
    /// a shard of HTTP calls, a WebSocket). Service calls are keyed `api:CALL`, as its scans.
    func liveCallReferrals() -> LiveCallReferrals {
        LiveCallReferrals(level: referLevel, subjectField: subjectField, counterpartyField: counterpartyField, keyPrefix: "api:")
    }
}

/// Per request: who is calling (after the token check).
package struct ServiceContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    package init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

/// `fanzha serve`: the screening service.
package final class FanzhaService: Sendable {
    package let configuration: ServeConfiguration
    package let store: RuleStore
    package let metrics = ServiceMetrics()
    let calls: HTTPLiveCalls
    let streams = NIOLockedValueBox<Int>(0)   // open calls on WebSocket streams
    let logger: Logger

    /// `store`: rules already compiled from `configuration.rules` (tests share one), else compiled here.
    package init(configuration: ServeConfiguration, store: RuleStore? = nil) throws {
        self.configuration = configuration
        self.store = try store ?? RuleStore(source: configuration.rules)
        var logger = Logger(label: "fanzha.serve")
        logger.logLevel = .info
        self.logger = logger
        let metrics = self.metrics
        let log = configuration.log
        let referrals: (() -> LiveCallReferrals)? = configuration.referrals == nil ? nil : { configuration.liveCallReferrals() }
        calls = HTTPLiveCalls(shards: configuration.callShards, limits: configuration.callLimits, referrals: referrals,
                              unclaimed: log, notice: { message in
            FileHandle.standardError.write(Data("fanzha: \(message)\n".utf8))
        }, onFinal: { final in
            metrics.screened(level: final.verdict.level, category: final.verdict.category)
        })
        metrics.rulesLoaded.set(Double(self.store.current.rules.rules.count))
    }

    /// The token's caller if it may act as `role`: 401 without a valid token, 403 with one that lacks the role.
    func authorize(_ request: Request, _ role: Role?) throws -> Caller {
        guard let table = configuration.tokens else { return .open }
        var token: Substring? = nil
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            token = Substring(auth.dropFirst(7).trimmingCharacters(in: .whitespaces))
        } else if let q = request.uri.queryParameters["token"] {
            token = q   // browsers cannot set headers on a WebSocket
        }
        guard let token, let entry = table.entry(token: token) else {
            throw APIError(.unauthorized, "a valid token is needed: Authorization: Bearer TOKEN")
        }
        if let role, !entry.roles.contains(role) {
            throw APIError(.forbidden, "the token of `\(entry.name)` has no `\(role.rawValue)` role",
                           fields: [("roles", Array(jsonString(entry.roles.map(\.rawValue).sorted().joined(separator: ",")).utf8))])
        }
        return Caller(name: entry.name, roles: entry.roles)
    }

    /// The application: routes, the WebSocket upgrade, and the HTTP limits.
    package func application(port: Int? = nil, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: ServiceContext.self)
        router.middlewares.add(MetricsAndErrors(metrics: metrics))
        var table = RouteTable(router: router)
        addRoutes(to: &table)
        addConsole(to: router)
        let http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount.nanoseconds(Int64(configuration.idleTimeout.components.seconds) * 1_000_000_000))
        let service = self
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(http1: http1, ws: .init(maxFrameSize: configuration.maxBodyBytes))) { request, _, _ in
                guard request.path?.split(separator: "?").first == "/v1/calls/stream" else { return .dontUpgrade }
                // Without a valid token: not upgraded, and the router's GET route answers 401/403.
                let uri = URI(request.path ?? "")
                guard let caller = service.streamCaller(authorization: request.headerFields[.authorization], query: uri.queryParameters["token"].map(String.init)) else {
                    return .dontUpgrade
                }
                return .upgrade([:]) { inbound, outbound, _ in
                    await service.stream(inbound: inbound, outbound: outbound, caller: caller)
                }
            },
            configuration: .init(address: .hostname(configuration.host, port: port ?? configuration.port), serverName: "fanzha"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// Who opens a WebSocket, if the token may (role screen).
    func streamCaller(authorization: String?, query: String?) -> Caller? {
        guard let table = configuration.tokens else { return .open }
        var token: Substring? = nil
        if let auth = authorization, auth.lowercased().hasPrefix("bearer ") { token = Substring(auth.dropFirst(7).trimmingCharacters(in: .whitespaces)) }
        else if let query { token = Substring(query) }
        guard let token, let entry = table.entry(token: token), entry.roles.contains(.screen) else { return nil }
        return Caller(name: entry.name, roles: entry.roles)
    }

    /// Reloads the rules (SIGHUP and `POST /v1/rules/reload`).
    func reload(by who: String) -> Result<ScreeningEngine, ScreeningEngine.LoadFailure> {
        let result = store.reload()
        switch result {
        case .success(let e):
            metrics.reloads.increment()
            metrics.rulesLoaded.set(Double(e.rules.rules.count))
            logger.info("rules reloaded by \(who): \(e.rules.rules.count) rules from \(e.paths.joined(separator: ", "))")
        case .failure(let f):
            metrics.reloadFailures.increment()
            logger.error("rules reload by \(who) refused, the old rules keep serving: \(f.description)")
        }
        return result
    }

    /// Runs until SIGTERM or SIGINT: in-flight requests finish, then open live calls are closed and
    /// their finals written. SIGHUP reloads the rules.
    package func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        if configuration.tokens == nil && !["127.0.0.1", "::1", "localhost"].contains(configuration.host) {
            throw ScreeningEngine.LoadFailure(message: "--bind \(configuration.host) is not a loopback address: give --tokens so that requests need a token", diagnostics: [])
        }
        let app = application(onRunning: onRunning)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { _ = self.reload(by: "SIGHUP") }
        }
        defer { hangups.cancel() }
        try await group.run()
        let warnings = calls.closeAll()
        if let referrals = configuration.referrals, !warnings.isEmpty {
            do { _ = try referrals.refer(warnings, actor: "fanzha serve (shutdown)") } catch {
                logger.error("the cases of \(warnings.count) live calls closed at shutdown could not be written: \(error)")
            }
        }
        logger.info("stopped: open live calls closed, their finals written")
    }
}

/// Times each request by its route template, and turns unexpected errors into a JSON 500 that
/// names no internals.
struct MetricsAndErrors: RouterMiddleware {
    typealias Context = ServiceContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var status = 500
        defer {
            let route = context.endpointPath ?? "unmatched"
            metrics.request(method: request.method.rawValue, route: route, status: status, duration: ContinuousClock.now - start)
        }
        do {
            let response = try await next(request, context)
            status = response.status.code
            return response
        } catch let e as APIError {
            status = e.status.code
            throw e
        } catch let e as HTTPResponseError {
            status = e.status.code
            throw e
        } catch {
            metrics.errors.increment()
            throw APIError(.internalServerError, "internal error")
        }
    }
}
