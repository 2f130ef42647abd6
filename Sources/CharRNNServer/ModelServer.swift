import CharRNN
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `charrnn serve`: loads the checkpoints, starts the compute thread and serves HTTP until SIGTERM or
/// SIGINT, then lets in-flight requests finish (their generations are bounded by --max-length) and
/// cancels whatever the engine still holds.
public enum ModelServer {
    /// The Hummingbird application over an engine; `onRunning` receives the bound port.
    public static func application(engine: InferenceEngine, configuration: ServerConfiguration,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        if engine.observer == nil { engine.observer = EngineMetrics() }
        let router = Router(context: ServerContext.self)
        var logger = Logger(label: "charrnn.serve")
        logger.logLevel = configuration.logLevel
        // Outermost first: the record sees every reply, CORS answers preflights before the key is
        // asked for, and the key is checked before any route runs.
        router.add(middleware: RequestRecordMiddleware(logger: logger))
        if !configuration.corsOrigins.isEmpty { router.add(middleware: OriginsMiddleware(origins: Set(configuration.corsOrigins))) }
        if let key = configuration.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }
        engine.maxInFlight = configuration.maxQueue
        Routes(engine: engine, configuration: configuration).register(on: router)
        let connections = ConnectionCount(limit: configuration.maxConnections)
        let http = HTTP1Channel.Configuration(additionalChannelHandlers: [ConnectionGuard(count: connections)],
                                              idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1000)))
        return Application(
            router: router,
            server: .http1(configuration: http),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "charrnn"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }

    public static func run(checkpoints: [String], configuration: ServerConfiguration, device: ComputeDevice? = nil,
                           onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        try configuration.validate()
        raiseDescriptorLimit(to: configuration.maxConnections + 256)
        guard !checkpoints.isEmpty else { throw CharRNNError.invalidOption("give at least one --checkpoint") }
        let engine = try InferenceEngine(checkpoints: checkpoints.map(ModelSummary.parse), maxBatch: configuration.maxBatch,
                                         device: device)
        engine.start()
        defer { engine.shutdown() }
        let app = application(engine: engine, configuration: configuration, onRunning: onRunning)
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw CharRNNError.invalidOption("cannot listen on \(configuration.host):\(configuration.port): the port is in use")
        } catch let error as IOError {
            throw CharRNNError.invalidOption("cannot listen on \(configuration.host):\(configuration.port): \(error.description)")
        } catch let error as SocketAddressError.UnknownHost {
            throw CharRNNError.invalidOption("cannot listen on \(error.host): no such host or address")
        }
    }
}

/// Lets the process open enough descriptors for the connection limit (the soft limit is often 1024),
/// up to the hard limit.
func raiseDescriptorLimit(to wanted: Int) {
    var limit = rlimit()
    #if canImport(Glibc)
    let resource = Int32(RLIMIT_NOFILE.rawValue)
    #else
    let resource = RLIMIT_NOFILE
    #endif
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
    limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
    _ = setrlimit(resource, &limit)
}
