import CharRNN
import CoreMetrics
import Foundation
import Prometheus

/// The server's metrics, in Prometheus's text format at GET /metrics: requests by route, method and
/// status, their latency, characters generated, rows per batched step, the queue, generations in
/// flight and open connections. They are made with a Prometheus factory of the server's own, not
/// through the process-wide MetricsSystem, which an app that embeds the server may have set up.
enum ServerMetrics {
    static let registry = PrometheusCollectorRegistry()
    static let factory: PrometheusMetricsFactory = {
        var f = PrometheusMetricsFactory(registry: registry)
        f.valueHistogramBuckets["charrnn_batch_rows"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        return f
    }()

    static let charactersGenerated = CoreMetrics.Counter(label: "charrnn_characters_generated_total", factory: factory)
    static let batchRows = CoreMetrics.Recorder(label: "charrnn_batch_rows", aggregate: true, factory: factory)
    static let queueDepth = CoreMetrics.Gauge(label: "charrnn_queue_depth", factory: factory)
    static let generationsInFlight = CoreMetrics.Gauge(label: "charrnn_generations_in_flight", factory: factory)
    static let openConnections = CoreMetrics.Gauge(label: "charrnn_open_connections", factory: factory)

    private static let lock = NSLock()
    nonisolated(unsafe) private static var requests: [String: (CoreMetrics.Counter, CoreMetrics.Timer)] = [:]

    static func recordRequest(route: String, method: String, status: Int, nanoseconds: UInt64) {
        let key = "\(route) \(method) \(status)"
        let (counter, timer) = lock.withLock {
            if let pair = requests[key] { return pair }
            let pair = (CoreMetrics.Counter(label: "charrnn_http_requests_total",
                                dimensions: [("route", route), ("method", method), ("status", "\(status)")], factory: factory),
                        CoreMetrics.Timer(label: "charrnn_http_request_duration_seconds", dimensions: [("route", route)], factory: factory))
            requests[key] = pair
            return pair
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// Every metric in Prometheus's text exposition format.
    static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

/// The engine's counts, as the server's metrics.
final class EngineMetrics: InferenceEngineObserver {
    func generationsInFlight(_ count: Int) { ServerMetrics.generationsInFlight.record(count) }
    func queueDepth(_ count: Int) { ServerMetrics.queueDepth.record(count) }
    func batchRows(_ count: Int) { ServerMetrics.batchRows.record(count) }
    func characterGenerated() { ServerMetrics.charactersGenerated.increment() }
}
