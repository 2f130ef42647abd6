import CharRNN
import Foundation
import Hummingbird

/// OpenAI's completions API over the engine: `POST /v1/completions` (whole, or streamed as OpenAI's
/// server-sent events), and `POST /v1/chat/completions` refused with the reason (a character model
/// has no chat template). Each choice is one generation; a request's choices run together in the
/// engine's batch.
struct CompletionRoutes: Sendable {
    let engine: InferenceEngine
    let configuration: ServerConfiguration
    /// Most choices (prompts times n) in one request.
    static let maxChoices = 128
    /// Most alternatives per character with logprobs.
    static let maxLogprobs = 20

    func register(on router: Router<ServerContext>) {
        router.post("/v1/completions") { request, context in try await complete(request, context) }
        router.post("/v1/chat/completions") { _, _ -> Response in
            var e = APIError(.badRequest, "charrnn serves character-level language models, which have no chat template; "
                             + "use POST /v1/completions with a prompt")
            e.code = "unsupported_endpoint"
            throw e
        }
    }

    private func complete(_ request: Request, _ context: ServerContext) async throws -> Response {
        let body = try await Routes.decode(CompletionRequest.self, from: request, configuration: configuration)
        let name = try Routes.modelName(body.model, kind: .generator, in: engine)
        let options = try body.samplingOptions()
        let length = body.maxTokens ?? 16
        guard length >= 0 else { throw refuse("max_tokens", "max_tokens must not be negative (got \(length))") }
        guard length <= configuration.maxLength else {
            throw refuse("max_tokens", "max_tokens \(length) is above this server's maximum of \(configuration.maxLength)")
        }
        let n = body.n ?? 1
        guard n >= 1 else { throw refuse("n", "n must be at least 1 (got \(n))") }
        guard n <= Self.maxChoices, n * body.prompts.count <= Self.maxChoices else {
            throw refuse("n", "\(body.prompts.count) prompt\(body.prompts.count == 1 ? "" : "s") times n = \(n) is more than \(Self.maxChoices) choices")
        }
        if let k = body.logprobs, !(0...Self.maxLogprobs).contains(k) {
            throw refuse("logprobs", "logprobs must be between 0 and \(Self.maxLogprobs) (got \(k))")
        }
        let seed = body.seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        try Routes.admit(engine, generations: n * body.prompts.count)
        let id = "cmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let created = Int(Date().timeIntervalSince1970)
        let promptTokens = body.prompts.reduce(0) { $0 + $1.unicodeScalars.count }

        // Choice i*n + j is prompt i's j-th sample, drawn with seed + (i*n + j).
        var runs: [CompletionRun] = []
        for (i, prompt) in body.prompts.enumerated() {
            for j in 0..<n {
                let index = i * n + j
                let events = engine.generate(GenerationRequest(model: name, prompt: prompt, length: length, options: options,
                                                               seed: seed &+ UInt64(index), category: body.category,
                                                               scoring: body.logprobs))
                // The first event tells whether the engine accepted it, before any status is sent.
                var iterator = events.makeAsyncIterator()
                let first = await iterator.next()
                if case .rejected(let message)? = first {
                    for run in runs { run.events.cancel() }
                    throw refuse("prompt", message)
                }
                var echoScores: [CharacterScore] = []
                if body.echo, let k = body.logprobs {
                    echoScores = try await engine.score(model: name, prompt: prompt, category: body.category, alternatives: k)
                }
                runs.append(CompletionRun(index: index, events: events, iterator: iterator, first: first, stops: StopStrings(body.stop),
                                          echo: body.echo ? prompt : nil, echoScores: echoScores, alternatives: body.logprobs))
            }
        }
        // A client that hangs up ends its generations at the next step.
        let all = runs.map(\.events)
        ClientPresence.of(context.channel)?.whileServing { for events in all { events.cancel() } }
        context.channel.closeFuture.whenComplete { _ in for events in all { events.cancel() } }

        if body.stream {
            let includeUsage = body.includeUsage
            let stream = ResponseBody { [runs] writer in
                let (pieces, sink) = AsyncStream.makeStream(of: (choice: Choice, produced: Int).self)
                let producers = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for run in runs {
                            group.addTask {
                                await run.drain { choice, produced in
                                    sink.yield((choice, produced))
                                    // What the model produces meanwhile goes out with the next chunk.
                                    try? await Task.sleep(for: Routes.streamInterval)
                                }
                            }
                        }
                    }
                    sink.finish()
                }
                do {
                    var completionTokens = 0
                    for await piece in pieces {
                        completionTokens += piece.produced
                        context.tally.add(piece.produced)
                        let chunk = Completion(id: id, created: created, model: name, choices: [piece.choice], usage: nil,
                                               usageIsNull: includeUsage)
                        try await writer.write(Routes.event(data: JSON.encode(chunk)))
                    }
                    if includeUsage {
                        let last = Completion(id: id, created: created, model: name, choices: [],
                                              usage: Usage(promptTokens: promptTokens, completionTokens: completionTokens))
                        try await writer.write(Routes.event(data: JSON.encode(last)))
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                } catch {
                    for events in all { events.cancel() }
                    producers.cancel()
                    throw error
                }
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: stream)
        }

        var choices: [Choice] = []
        var completionTokens = 0
        for run in runs {
            var whole = Choice(text: "", index: run.index, logprobs: body.logprobs.map { _ in Logprobs() }, finishReason: nil)
            await run.drain { piece, produced in
                whole.text += piece.text
                completionTokens += produced
                if let part = piece.logprobs { whole.logprobs?.extend(with: part) }
                if let reason = piece.finishReason { whole.finishReason = reason }
            }
            choices.append(whole)
        }
        context.tally.add(completionTokens)
        return Routes.json(Completion(id: id, created: created, model: name, choices: choices,
                                      usage: Usage(promptTokens: promptTokens, completionTokens: completionTokens)))
    }

    private func refuse(_ param: String, _ message: String) -> APIError {
        var e = APIError(.badRequest, message)
        e.param = param
        return e
    }
}

/// One choice in flight: its generation's events, cut at the stop strings, as pieces of OpenAI's choice.
final class CompletionRun: @unchecked Sendable {
    // @unchecked: the request's task hands a run over to the one task that drains it.
    let index: Int
    let events: GenerationEvents
    private var iterator: GenerationEvents.AsyncIterator
    private var first: GenerationEvent?
    private var stops: StopStrings
    /// The prompt, when echoed, and its scores (with logprobs).
    private let echo: String?
    private let echoScores: [CharacterScore]
    private let alternatives: Int?
    /// Characters of the choice's text so far, the echoed prompt's included: the next text offset.
    private var offset = 0

    init(index: Int, events: GenerationEvents, iterator: GenerationEvents.AsyncIterator, first: GenerationEvent?,
         stops: StopStrings, echo: String?, echoScores: [CharacterScore], alternatives: Int?) {
        self.index = index; self.events = events; self.iterator = iterator; self.first = first; self.stops = stops
        self.echo = echo; self.echoScores = echoScores; self.alternatives = alternatives
    }

    /// Hands each piece of the choice to `emit`, with how many generated characters it holds; the last
    /// piece carries the finish reason ("stop" at a stop string or the model's own stop, else "length").
    func drain(_ emit: (Choice, Int) async -> Void) async {
        if let echo, !echo.isEmpty {
            var logprobs: Logprobs? = nil
            if let k = alternatives {
                logprobs = Logprobs()
                logprobs!.append(echoScores, from: 0, alternatives: k)
            }
            offset = echo.unicodeScalars.count
            await emit(Choice(text: echo, index: index, logprobs: logprobs, finishReason: nil), 0)
        }
        var next = first
        first = nil
        var reason = "length"
        while let event = next {
            var pieces: [StopStrings.Piece] = []
            var ended = false
            switch event {
            case .text(let text): pieces = text.unicodeScalars.map { ($0, nil) }
            case .scored(let text, let scores): pieces = zip(text.unicodeScalars, scores).map { ($0, $1) }
            case .finished(_, let why): reason = why; ended = true
            case .rejected: reason = "error"; ended = true
            }
            let kept = stops.feed(pieces)
            if !kept.isEmpty { await emit(piece(kept), kept.count) }
            if stops.stopped {
                reason = "stop"
                events.cancel()
                break
            }
            if ended { break }
            next = await iterator.next()
        }
        let rest = stops.flush()
        var last = piece(rest)
        last.finishReason = reason
        await emit(last, rest.count)
    }

    private func piece(_ pieces: [StopStrings.Piece]) -> Choice {
        let text = StopStrings.text(of: pieces)
        var logprobs: Logprobs? = nil
        if let k = alternatives {
            logprobs = Logprobs()
            logprobs!.append(pieces.map { $0.score ?? CharacterScore(unscored: $0.character) }, from: offset, alternatives: k)
        }
        offset += pieces.count
        return Choice(text: text, index: index, logprobs: logprobs, finishReason: nil)
    }
}
