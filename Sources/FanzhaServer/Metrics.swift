import Fanzha
import NIOConcurrencyHelpers
import Prometheus

/// The service's Prometheus metrics (`GET /metrics`).
///
/// swift-prometheus's registry is used directly rather than through swift-metrics and
/// Hummingbird's MetricsMiddleware: swift-metrics has one process-wide backend that can be
/// bootstrapped once, while each server here (and each test's server) owns its registry; and the
/// labels we want (level, category, route template) are ours to choose.
package final class ServiceMetrics: Sendable {
    package let registry = PrometheusCollectorRegistry()
    let openCalls: Gauge
    let rulesLoaded: Gauge
    let reloads: Counter
    let reloadFailures: Counter
    let errors: Counter
    let latencyBuckets: [Duration] = [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                      .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                      .milliseconds(500), .seconds(1), .seconds(5)]

    package init() {
        openCalls = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "open_calls", unitName: "",
                                                                         helpText: "Live calls open now (HTTP and WebSocket)"))
        rulesLoaded = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "rules_loaded", unitName: "",
                                                                           helpText: "Rules in the rule set serving now"))
        reloads = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "rule_reloads", unitName: "total",
                                                                         helpText: "Rule sets compiled and swapped in since start"),
                                       labels: [("result", "ok")])
        reloadFailures = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "rule_reloads", unitName: "total",
                                                                                helpText: "Rule sets compiled and swapped in since start"),
                                              labels: [("result", "refused")])
        errors = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "errors", unitName: "total",
                                                                        helpText: "Records that could not be screened"))
    }

    // The series already made, by their labels: the registry's own lookup builds the metric's name
    // and checks its help text on every call (about 3% of the CPU under wrk).
    private struct ScreenedKey: Hashable { let level: Level; let category: String? }
    private struct RequestKey: Hashable { let method: String; let route: String; let status: Int }
    private let screenedSeries = NIOLockedValueBox<[ScreenedKey: Counter]>([:])
    private let requestSeries = NIOLockedValueBox<[RequestKey: DurationHistogram]>([:])

    /// A screened record (a message or a whole call), by its level and category.
    func screened(level: Level, category: String?) {
        let key = ScreenedKey(level: level, category: category)
        let counter = screenedSeries.withLockedValue { series in
            if let c = series[key] { return c }
            let c = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "records_screened", unitName: "total",
                                                                          helpText: "Records screened, by level and category"),
                                         labels: [("level", level.description), ("category", category ?? "none")])
            series[key] = c
            return c
        }
        counter.increment()
    }

    /// One HTTP request: its route template (never the raw path, whose ids would make a series each) and status.
    func request(method: String, route: String, status: Int, duration: Duration) {
        let key = RequestKey(method: method, route: route, status: status)
        let histogram = requestSeries.withLockedValue { series in
            if let h = series[key] { return h }
            let h = registry.makeDurationHistogram(descriptor: MetricNameDescriptor(namespace: "fanzha", metricName: "request_duration", unitName: "seconds",
                                                                                    helpText: "HTTP request latency"),
                                                   labels: [("method", method), ("route", route), ("status", String(status))],
                                                   buckets: latencyBuckets)
            series[key] = h
            return h
        }
        histogram.record(duration)
    }

    package func text() -> [UInt8] { registry.emitToBuffer() }
}
