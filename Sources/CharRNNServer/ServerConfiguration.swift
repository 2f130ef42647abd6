import CharRNN
import Foundation
import Logging

/// Limits and address of `charrnn serve`.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port = 8080
    /// Longest generation a request may ask for.
    public var maxLength = 2000
    /// Largest request body accepted, in bytes.
    public var maxBodyBytes = 64 * 1024
    /// Most items in one classify request.
    public var maxItems = 1000
    /// Most generations of one model that share a step; 1 serves one request at a time (InferenceEngine
    /// checks the range).
    public var maxBatch = 64
    /// Seconds a connection may wait idle, or in the middle of sending a request, before it is closed.
    public var idleTimeout = 30.0
    /// Open connections at most; one more is answered 503 and closed.
    public var maxConnections = 512
    /// Most memory one classify request's forward passes may hold (MemoryEstimate); a larger one is
    /// refused with 400 before it runs.
    public var maxRequestBytes = 512 << 20
    /// Seconds a client may take to send a whole request body once its headers are in; a slower
    /// one gets 408 and the connection is closed, so trickled bodies cannot hold every connection.
    public var bodyTimeout = 10.0
    /// A key every /v1 and /metrics request must carry as `Authorization: Bearer KEY` (nil: none).
    public var apiKey: String? = nil
    /// Origins whose browser pages may call the API (CORS); empty: none but the server's own page.
    public var corsOrigins: [String] = []
    /// Generations queued or running at once, at most; one more request is refused with 503.
    public var maxQueue = 1024
    /// Requests are logged at info, one line each; warning (the default) logs only what goes wrong.
    public var logLevel: Logger.Level = .warning
    /// When the server started (seconds since 1970): the `created` of its models.
    public var startedAt = Int(Date().timeIntervalSince1970)

    public init() {}

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw CharRNNError.invalidOption(message) }
        }
        try check((0...65535).contains(port), "--port must be between 0 and 65535 (got \(port))")
        try check(maxLength >= 1, "--max-length must be at least 1 (got \(maxLength))")
        try check(maxBodyBytes >= 1024, "--max-body must be at least 1024 bytes (got \(maxBodyBytes))")
        try check(maxItems >= 1, "--max-items must be at least 1 (got \(maxItems))")
        try check(!host.isEmpty, "--host must not be empty")
        try check(idleTimeout.isFinite && idleTimeout >= 0.1 && idleTimeout <= 86400,
                  "--idle-timeout must be between 0.1 and 86400 seconds (got \(idleTimeout))")
        try check(maxRequestBytes >= 1 << 20, "--max-request-memory must be at least 1 MB")
        try check(maxQueue >= 1, "--max-queue must be at least 1 (got \(maxQueue))")
        if let apiKey { try check(!apiKey.isEmpty && !apiKey.contains(where: \.isWhitespace), "--api-key must be a non-empty word") }
        for origin in corsOrigins {
            try check(origin == "*" || (origin.hasPrefix("http://") || origin.hasPrefix("https://")) && !origin.hasSuffix("/"),
                      "--cors-origin takes an origin such as https://example.com (scheme and host, no path) or *, got '\(origin)'")
        }
        try check(bodyTimeout.isFinite && bodyTimeout >= 0.1 && bodyTimeout <= 86400,
                  "--body-timeout must be between 0.1 and 86400 seconds (got \(bodyTimeout))")
        try check((1...1_000_000).contains(maxConnections), "--max-connections must be between 1 and 1000000 (got \(maxConnections))")
    }
}
