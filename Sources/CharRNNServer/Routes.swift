import CharRNN
import Foundation
import Hummingbird

/// The HTTP face of an InferenceEngine: the web page, the OpenAPI document and the JSON API.
struct Routes: Sendable {
    let engine: InferenceEngine
    let configuration: ServerConfiguration

    func register(on router: Router<ServerContext>) {
        router.add(middleware: JSONErrorMiddleware())
        readable(router, "/") { Self.static(WebPage.html, type: "text/html; charset=utf-8") }
        readable(router, "/openapi.json") { Self.static(OpenAPIDocument.json(configuration: configuration), type: "application/json") }
        readable(router, "/healthz") {
            let stats = engine.statistics
            return Self.json(HealthReply(status: "ok", models: engine.catalog.count, generationsInFlight: engine.generationsInFlight,
                                         steps: stats.steps, rows: stats.rows))
        }
        readable(router, "/v1/models") { Self.json(ModelsReply(models: engine.catalog, created: configuration.startedAt)) }
        readable(router, "/metrics") {
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: ServerMetrics.exposition())))
        }
        CompletionRoutes(engine: engine, configuration: configuration).register(on: router)
        router.post("/v1/generate") { request, context in try await generate(request, context) }
        router.post("/v1/classify") { request, context in try await classify(request, context) }
    }

    /// GET `path`, and HEAD with the same head and no body (as monitors and curl -I ask).
    private func readable(_ router: Router<ServerContext>, _ path: RouterPath, _ response: @escaping @Sendable () -> Response) {
        router.get(path) { _, _ in response() }
        router.head(path) { _, _ in
            let full = response()
            let length = full.body.contentLength
            return Response(status: full.status, headers: full.headers,
                            body: ResponseBody(contentLength: length) { writer in try await writer.finish(nil) })
        }
    }

    // MARK: generate

    private func generate(_ request: Request, _ context: ServerContext) async throws -> Response {
        let body = try await decode(GenerateBody.self, from: request)
        let name = try modelName(body.model, kind: .generator)
        let length = body.length ?? min(200, configuration.maxLength)
        guard length >= 0 else { throw APIError(.badRequest, "length must not be negative (got \(length))") }
        guard length <= configuration.maxLength else {
            throw APIError(.badRequest, "length \(length) is above this server's maximum of \(configuration.maxLength)")
        }
        let temperature = body.temperature ?? 1
        guard Float(temperature) > 0, Float(temperature).isFinite else {
            throw APIError(.badRequest, "temperature must be a finite number above 0 (got \(temperature))")
        }
        if let k = body.topK, k < 1 { throw APIError(.badRequest, "top_k must be at least 1 (got \(k))") }
        var stop: Unicode.Scalar? = nil
        if let s = body.stop {
            guard s.unicodeScalars.count == 1 else { throw APIError(.badRequest, "stop must be exactly one character") }
            stop = s.unicodeScalars.first
        }
        if let p = body.topP, !(p > 0 && p <= 1) { throw APIError(.badRequest, "top_p must be above 0 and at most 1 (got \(p))") }
        for (name, v) in [("presence_penalty", body.presencePenalty), ("frequency_penalty", body.frequencyPenalty)] {
            if let v, !(v >= -2 && v <= 2) { throw APIError(.badRequest, "\(name) must be between -2 and 2 (got \(v))") }
        }
        let seed = body.seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        if let beams = body.beams {
            return try await beamSearch(body, model: name, beams: beams, length: length, stop: stop, seed: seed, context: context)
        }
        try Self.admit(engine, generations: 1)
        let options = SamplingOptions(temperature: Float(temperature), topK: body.topK, greedy: body.greedy ?? false, stop: stop,
                                      topP: body.topP.flatMap { $0 < 1 ? Float($0) : nil },
                                      presencePenalty: Float(body.presencePenalty ?? 0), frequencyPenalty: Float(body.frequencyPenalty ?? 0))
        let started = ContinuousClock.now
        let events = engine.generate(GenerationRequest(model: name, prompt: body.prompt ?? "", length: length,
                                                       options: options, seed: seed, category: body.category))
        // A client that hangs up ends its generation at the next step, streaming or not.
        ClientPresence.of(context.channel)?.whileServing { [weak events] in events?.cancel() }
        context.channel.closeFuture.whenComplete { [weak events] _ in events?.cancel() }
        // The first event tells whether the engine accepted the request, before any status is sent.
        var iterator = events.makeAsyncIterator()
        guard let first = await iterator.next() else { throw APIError(.serviceUnavailable, "the generation ended unexpectedly") }
        if case .rejected(let message) = first { throw APIError(.badRequest, message) }

        if body.stream ?? false {
            let response = ResponseBody { writer in
                var next: GenerationEvent? = first
                var rest = events.makeAsyncIterator()
                while let event = next {
                    switch event {
                    case .text(let text), .scored(let text, _):
                        try await writer.write(Self.event(data: JSON.encode(StreamChunk(text: text))))
                        // What the model produces meanwhile goes out with the next event.
                        try await Task.sleep(for: Self.streamInterval)
                    case .finished(let tokens, let reason):
                        context.tally.add(tokens)
                        let done = StreamDone(tokens: tokens, ms: Self.ms(since: started), finishReason: reason, seed: seed)
                        try await writer.write(Self.event(name: "done", data: JSON.encode(done)))
                    case .rejected(let message):
                        try await writer.write(Self.event(name: "error", data: JSON.encode(["message": message])))
                    }
                    next = await rest.next()
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: response)
        }

        var text = ""
        var next: GenerationEvent? = first
        while let event = next {
            switch event {
            case .text(let t), .scored(let t, _): text += t
            case .finished(let tokens, let reason):
                context.tally.add(tokens)
                return Self.json(GenerateReply(model: name, text: text, tokens: tokens, ms: Self.ms(since: started),
                                               finishReason: reason, seed: seed))
            case .rejected(let message): throw APIError(.badRequest, message)
            }
            next = await iterator.next()
        }
        throw APIError(.serviceUnavailable, "the generation ended unexpectedly")
    }

    /// `beams`: the most likely continuation, all at once (the beams are ranked by the model's own
    /// probabilities, so the sampling fields and streaming do not go with it).
    private func beamSearch(_ body: GenerateBody, model name: String, beams: Int, length: Int, stop: Unicode.Scalar?, seed: UInt64,
                            context: ServerContext) async throws -> Response {
        guard (1...Self.maxBeams).contains(beams) else {
            throw APIError(.badRequest, "beams must be from 1 to \(Self.maxBeams) (got \(beams))")
        }
        let sampling = [("temperature", body.temperature != nil), ("top_k", body.topK != nil), ("top_p", body.topP != nil),
                        ("presence_penalty", body.presencePenalty != nil), ("frequency_penalty", body.frequencyPenalty != nil),
                        ("greedy", body.greedy != nil), ("stream", body.stream == true)]
        if let given = sampling.first(where: \.1) {
            throw APIError(.badRequest, "beams searches the model's own probabilities for one whole text; \(given.0) does not go with it")
        }
        try Self.admit(engine, generations: 1)
        let started = ContinuousClock.now
        let found: BeamSearch.Result
        do {
            found = try await engine.beamSearch(model: name, prompt: body.prompt ?? "", beams: beams, length: length, stop: stop,
                                                category: body.category)
        } catch let error as CharRNNError {
            throw APIError(.badRequest, error.description)
        }
        let tokens = found.text.unicodeScalars.count
        context.tally.add(tokens)
        return Self.json(GenerateReply(model: name, text: found.text, tokens: tokens, ms: Self.ms(since: started),
                                       finishReason: found.stopped ? "stop" : "length", seed: seed))
    }

    /// Most beams one request may ask for: each step scores beams x vocabulary extensions.
    static let maxBeams = 16

    // MARK: classify

    private func classify(_ request: Request, _ context: ServerContext) async throws -> Response {
        let body = try await decode(ClassifyBody.self, from: request)
        let name = try modelName(body.model, kind: .classifier)
        guard !body.items.isEmpty else { throw APIError(.badRequest, "items must not be empty") }
        guard body.items.count <= configuration.maxItems else {
            throw APIError(.badRequest, "\(body.items.count) items is above this server's maximum of \(configuration.maxItems)")
        }
        let categories = engine.model(named: name)?.categories?.count ?? 1
        let top = body.top ?? 3
        guard top >= 1 else { throw APIError(.badRequest, "top must be at least 1 (got \(top))") }
        do {
            try engine.checkClassificationMemory(model: name, items: body.items, limit: configuration.maxRequestBytes)
        } catch let error as CharRNNError {
            throw APIError(.badRequest, error.description)
        }
        let started = ContinuousClock.now
        let ranked: [[(category: String, probability: Float)]]
        do {
            ranked = try await engine.classify(model: name, items: body.items, top: min(top, categories))
        } catch let error as CharRNNError {
            // A GPU that failed is the server's fault, not the request's.
            if case .cuda = error { throw APIError(.internalServerError, error.description) }
            throw APIError(.badRequest, error.description)
        }
        let results = zip(body.items, ranked).map { item, list in
            ClassifyReply.Result(item: item, categories: list.map { .init(category: $0.category, probability: $0.probability) })
        }
        return Self.json(ClassifyReply(model: name, results: results, ms: Self.ms(since: started)))
    }

    // MARK: helpers

    /// The body as JSON. It must arrive within --body-timeout of the headers: the idle timeout alone
    /// lets a client that sends a byte a second hold its connection for as long as it likes.
    private func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try await Self.decode(type, from: request, configuration: configuration)
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request, configuration: ServerConfiguration) async throws -> T {
        let limit = configuration.maxBodyBytes, seconds = configuration.bodyTimeout
        let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await request.body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw APIError(.requestTimeout, "the request body did not arrive within \(seconds) s", closing: true)
            }
            return buffer
        }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    private func modelName(_ name: String?, kind: ModelSummary.Kind) throws -> String {
        try Self.modelName(name, kind: kind, in: engine)
    }

    /// The named model, or the only model of the kind when no name is given.
    static func modelName(_ name: String?, kind: ModelSummary.Kind, in engine: InferenceEngine) throws -> String {
        let candidates = engine.catalog.filter { $0.kind == kind }
        guard let name else {
            guard candidates.count == 1 else {
                throw APIError(.badRequest, param: "model", candidates.isEmpty
                    ? "this server has no \(kind.rawValue) model"
                    : "give a model: one of \(candidates.map(\.name).joined(separator: ", "))")
            }
            return candidates[0].name
        }
        guard let model = engine.model(named: name) else {
            var e = APIError(.notFound, "unknown model '\(name)'; this server has: \(engine.catalog.map(\.name).joined(separator: ", "))")
            e.param = "model"
            e.code = "model_not_found"
            throw e
        }
        guard model.kind == kind else {
            var e = APIError(.badRequest, "'\(name)' is a \(model.kind.rawValue), not a \(kind.rawValue)")
            e.param = "model"
            throw e
        }
        return name
    }

    /// The shortest time between two events of a streamed generation: text still arrives 50 times a
    /// second, while a fast model's characters go out many to an event instead of an event each (each is
    /// a JSON encoding, a wake-up and a socket write, on a core the model could use).
    static let streamInterval = Duration.milliseconds(20)

    /// Refuses work beyond the engine's --max-queue at once, with 503 and Retry-After.
    static func admit(_ engine: InferenceEngine, generations: Int) throws {
        guard !engine.isFull(adding: generations) else {
            throw APIError(.serviceUnavailable, "the server has \(engine.maxInFlight) generations queued or running, its maximum; try again shortly")
        }
    }

    static func json<T: Encodable>(_ value: T) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSON.encode(value))))
    }

    static func `static`(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func event(name: String? = nil, data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        if let name { buffer.writeString("event: \(name)\n") }
        buffer.writeString("data: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }

    static func ms(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return (Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15).rounded(toPlaces: 2)
    }
}

private extension Double {
    func rounded(toPlaces p: Int) -> Double {
        let f = pow(10, Double(p))
        return (self * f).rounded() / f
    }
}
