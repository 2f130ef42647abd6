import ArgumentParser
import CharRNN
import CharRNNServer
import Foundation
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve models over HTTP: a web page at / and a JSON API under /v1.",
        discussion: """
        Endpoints: GET / (the page), GET /openapi.json, GET /healthz, GET /v1/models, POST /v1/generate \
        (add "stream": true for server-sent events), POST /v1/classify. Requests for the same model that \
        are in flight together share one forward step per character. SIGTERM or Ctrl-C lets in-flight \
        requests finish, then stops. With --device on a GPU, the language models' steps and the \
        classifiers' forward passes run there (each generation request draws on the CPU).

        Example:
          charrnn serve --checkpoint runs/shakespeare --checkpoint names=runs/names-classifier
        """
    )

    @Option(name: [.short, .long], help: "A checkpoint file or training folder, optionally NAME=PATH; repeat for more models.")
    var checkpoint: [String] = []
    @Option(help: "Address to bind (loopback unless told otherwise).")
    var host = "127.0.0.1"
    @Option(parsing: .unconditional, help: "Port to listen on (0: any free port).")
    var port = 8080
    @Option(parsing: .unconditional, help: "Longest generation a request may ask for, in characters.")
    var maxLength = 2000
    @Option(parsing: .unconditional, help: "Largest request body accepted, in bytes.")
    var maxBody = 64 * 1024
    @Option(parsing: .unconditional, help: "Most items in one classify request.")
    var maxItems = 1000
    @Option(parsing: .unconditional, help: "Most requests of one model that share a step, 1 to 256 (1 turns batching off).")
    var maxBatch = 64
    @Option(parsing: .unconditional, help: "Seconds a connection may stay idle, or stall while sending a request, before it is closed.")
    var idleTimeout = 30.0
    @Option(parsing: .unconditional, help: "Most open connections; one more is answered 503 and closed.")
    var maxConnections = 512
    @Option(parsing: .unconditional, help: "Most memory, in MB, one classify request may take; a larger one is refused (400) before it runs.")
    var maxRequestMemory = 512
    @Option(parsing: .unconditional, help: "Seconds a client may take to send a request body once its headers are in (408 after that).")
    var bodyTimeout = 10.0
    @Option(help: "Require 'Authorization: Bearer KEY' on /v1/ and /metrics (default: the CHARRNN_API_KEY environment variable, if set; else none).")
    var apiKey: String?
    @Option(help: "Let browser pages from this origin call the API (CORS), e.g. https://example.com; repeat for more, or * for any.")
    var corsOrigin: [String] = []
    @Option(parsing: .unconditional, help: "Most generations queued or running at once; one more request gets 503 with Retry-After.")
    var maxQueue = 1024
    @Option(help: "trace, debug, info (a line per request: method, path, status, ms, characters; never the text), notice, warning, error or critical.")
    var logLevel = "warning"
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var deviceOption: DeviceOption

    func run() async throws {
        let gpu = try deviceOption.device.open()
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.maxLength = maxLength
        configuration.maxBodyBytes = maxBody
        configuration.maxItems = maxItems
        configuration.maxBatch = maxBatch
        configuration.idleTimeout = idleTimeout
        configuration.maxConnections = maxConnections
        guard (1...(1 << 40)).contains(maxRequestMemory) else {
            throw CharRNNError.invalidOption("--max-request-memory must be between 1 and 2^40 MB (got \(maxRequestMemory))")
        }
        configuration.maxRequestBytes = maxRequestMemory << 20
        configuration.bodyTimeout = bodyTimeout
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["CHARRNN_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.corsOrigins = corsOrigin
        configuration.maxQueue = maxQueue
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw CharRNNError.invalidOption("--log-level must be trace, debug, info, notice, warning, error or critical (got \(logLevel))")
        }
        configuration.logLevel = level
        BLAS.setThreads(threads.count)
        let on = gpu.map { "on \($0.name)" } ?? "\(threads.count) threads"
        try await ModelServer.run(checkpoints: checkpoint, configuration: configuration, device: gpu) { [host] port in
            Terminal.error("charrnn: serving on http://\(host):\(port)/ (\(on))")
        }
    }
}
