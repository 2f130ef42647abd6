import Foundation

/// A generation as a request describes it.
public struct GenerationRequest: Sendable {
    public var model: String
    public var prompt: String
    public var length: Int
    public var options: SamplingOptions
    public var seed: UInt64
    public var category: String?
    /// Score each generated character with this many alternatives (logprobs); nil: no scores.
    public var scoring: Int?

    public init(model: String, prompt: String, length: Int, options: SamplingOptions, seed: UInt64, category: String? = nil,
                scoring: Int? = nil) {
        self.model = model; self.prompt = prompt; self.length = length
        self.options = options; self.seed = seed; self.category = category; self.scoring = scoring
    }
}

/// Owns every loaded model and runs all model computation on one thread of its own.
///
/// Why one thread: the kernels' worker pool and each model's workspaces are not reentrant, and a long
/// compute loop must not occupy Swift's cooperative threads, which also serve the HTTP connections.
/// Generations for the same model that are in flight together advance in one batched forward step per
/// character (continuous batching): a request joins the batch at the next step and leaves when it ends.
public final class InferenceEngine: @unchecked Sendable {
    // @unchecked: `models`, `active` and the model objects are used only on the compute thread after
    // init; `pending`, `jobs` and `stopping` are only touched while holding `condition`.
    public let catalog: [ModelSummary]
    /// Most generations of one model that share a step; 1 turns batching off (requests take turns).
    public let maxBatch: Int

    private enum Loaded {
        case generator(GenerationBatch)
        case classifier(ClassifierEnsemble)
    }

    private final class Active {
        let stream: GenerationStream
        let events: GenerationEventBuffer
        init(_ stream: GenerationStream, _ events: GenerationEventBuffer) { self.stream = stream; self.events = events }
    }

    private struct Pending {
        let request: GenerationRequest
        let events: GenerationEventBuffer
    }

    private let models: [String: Loaded]
    private var active: [String: [Active]] = [:]
    private let condition = NSCondition()
    private var pending: [String: [Pending]] = [:]
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false
    private var thread: Thread?
    private var steps = 0, rows = 0, inFlight = 0

    /// Generations queued or running.
    public var generationsInFlight: Int {
        condition.lock(); defer { condition.unlock() }
        return inFlight
    }

    /// Batched steps run so far and the rows they carried (rows / steps is the mean batch size).
    public var statistics: (steps: Int, rows: Int) {
        condition.lock(); defer { condition.unlock() }
        return (steps, rows)
    }

    /// Loads every checkpoint (language model or classifier); a name must be unique.
    /// With `device`, the language models' steps and the classifiers' forward passes run there.
    public init(checkpoints: [(name: String, path: String)], maxBatch: Int = 64, device: ComputeDevice? = nil) throws {
        guard maxBatch >= 1 && maxBatch <= GenerationBatch.largestBatch else {
            throw CharRNNError.invalidOption("--max-batch must be between 1 and \(GenerationBatch.largestBatch) (got \(maxBatch))")
        }
        self.maxBatch = maxBatch
        var models: [String: Loaded] = [:]
        var catalog: [ModelSummary] = []
        for (name, path) in checkpoints {
            guard models[name] == nil else {
                throw CharRNNError.invalidOption("two models are named '\(name)'; name them with NAME=PATH")
            }
            if try ModelSummary.isClassifier(path) {
                let cp = try ClassifierEnsemble.load(path).placed(on: device)
                models[name] = .classifier(cp)
                catalog.append(ModelSummary(name: name, classifier: cp))
            } else {
                let cp = try Checkpoint.load(path)
                models[name] = .generator(try GenerationBatch(checkpoint: cp, device: device))
                catalog.append(ModelSummary(name: name, generator: cp))
            }
        }
        self.models = models
        self.catalog = catalog
    }

    public func model(named name: String) -> ModelSummary? { catalog.first { $0.name == name } }

    /// Starts the compute thread.
    public func start() {
        condition.lock(); defer { condition.unlock() }
        guard thread == nil else { return }
        let t = Thread { [self] in run() }
        t.name = "charrnn-compute"
        thread = t
        t.start()
    }

    /// Ends every generation still queued or running (their requests see reason "cancelled") and stops
    /// the compute thread. New requests are refused from here on.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Told of the engine's counts as they change (the server's metrics); set before the first request.
    public var observer: (any InferenceEngineObserver)?

    /// Most generations queued or running at once; one more is refused at once (the server answers
    /// 503 with Retry-After).
    public var maxInFlight = Int.max

    /// Whether `count` more generations would go beyond maxInFlight.
    public func isFull(adding count: Int) -> Bool {
        condition.lock(); defer { condition.unlock() }
        return inFlight + count > maxInFlight
    }

    /// Queues a generation; its events arrive on the returned sequence. Releasing the sequence (a client
    /// that went away) cancels the generation at its next step.
    public func generate(_ request: GenerationRequest) -> GenerationEvents {
        let buffer = GenerationEventBuffer()
        condition.lock()
        if stopping {
            condition.unlock()
            buffer.finish(.rejected("the server is shutting down"))
            return GenerationEvents(buffer)
        }
        pending[request.model, default: []].append(Pending(request: request, events: buffer))
        inFlight += 1
        observer?.generationsInFlight(inFlight)
        condition.signal()
        condition.unlock()
        return GenerationEvents(buffer)
    }

    /// Refuses a classification of `items` whose forward passes would hold more than `limit` bytes.
    public func checkClassificationMemory(model name: String, items: [String], limit: Int) throws {
        guard case .classifier(let cp)? = models[name] else { return }
        try cp.checkClassificationMemory(items, limit: limit, limitName: "this server's --max-request-memory")
    }

    /// The score of each character of `prompt` (logprobs of an echoed prompt), on the compute thread.
    public func score(model name: String, prompt: String, category: String?, alternatives: Int) async throws -> [CharacterScore] {
        guard case .generator(let batch)? = models[name] else {
            throw CharRNNError.invalidOption("'\(name)' is not a language model")
        }
        let box = UncheckedBox(batch)
        return try await onComputeThread { try box.value.score(prompt: prompt, category: category, alternatives: alternatives) }
    }

    /// Beam search for the most likely continuation of `prompt`, on the compute thread between steps.
    package func beamSearch(model name: String, prompt: String, beams: Int, length: Int, stop: Unicode.Scalar?,
                           category: String?) async throws -> BeamSearch.Result {
        guard case .generator(let batch)? = models[name] else {
            throw CharRNNError.invalidOption("'\(name)' is not a language model")
        }
        let box = UncheckedBox(batch)
        return try await onComputeThread {
            try box.value.beamSearch(prompt: prompt, beams: beams, length: length, stop: stop, category: category)
        }
    }

    /// Runs `work` on the compute thread between generation steps.
    private func onComputeThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job: @Sendable () -> Void = { continuation.resume(with: Result { try work() }) }
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(throwing: CharRNNError.invalidOption("the server is shutting down"))
                return
            }
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }
    }

    /// Top categories for each item, computed on the compute thread between generation steps.
    public func classify(model name: String, items: [String], top: Int) async throws -> [[(category: String, probability: Float)]] {
        guard case .classifier(let cp)? = models[name] else {
            throw CharRNNError.invalidOption("'\(name)' is not a classifier")
        }
        let box = UncheckedBox(cp)
        return try await onComputeThread { try box.value.predict(items, top: top) }
    }

    // MARK: the compute thread

    private func run() {
        while true {
            condition.lock()
            while !stopping && jobs.isEmpty && pending.values.allSatisfy(\.isEmpty) && active.values.allSatisfy(\.isEmpty) {
                condition.wait()
            }
            if stopping {
                let left = pending.values.flatMap { $0 }
                pending = [:]
                jobs = []
                condition.unlock()
                for p in left { close(p.events, .finished(tokens: 0, reason: "cancelled")) }
                for a in active.values.flatMap({ $0 }) { finish(a, reason: "cancelled") }
                active = [:]
                return
            }
            let runNow = jobs
            jobs = []
            var admitted: [String: [Pending]] = [:]
            for (name, queue) in pending where !queue.isEmpty {
                let room = maxBatch - (active[name]?.count ?? 0)
                guard room > 0 else { continue }
                admitted[name] = Array(queue.prefix(room))
                pending[name] = Array(queue.dropFirst(room))
            }
            let queued = pending.values.reduce(0) { $0 + $1.count }
            condition.unlock()
            observer?.queueDepth(queued)

            for job in runNow { job() }
            for (name, list) in admitted { for p in list { admit(p, model: name) } }
            for name in active.keys.sorted() { stepModel(name) }
        }
    }

    private func admit(_ p: Pending, model name: String) {
        guard case .generator(let batch)? = models[name] else {
            close(p.events, .rejected("unknown model '\(name)'"))
            return
        }
        do {
            let r = p.request
            let stream = try batch.start(prompt: r.prompt, length: r.length, options: r.options, seed: r.seed, category: r.category,
                                         scoring: r.scoring)
            let a = Active(stream, p.events)
            if stream.finished { finish(a, reason: "length") } else { active[name, default: []].append(a) }
        } catch let error as CharRNNError {
            close(p.events, .rejected(error.description))
        } catch {
            close(p.events, .rejected("\(error)"))
        }
    }

    private func stepModel(_ name: String) {
        guard case .generator(let batch)? = models[name], var list = active[name], !list.isEmpty else { return }
        list.removeAll { a in
            guard a.events.isCancelled else { return false }
            finish(a, reason: "cancelled")
            return true
        }
        if !list.isEmpty {
            let outcomes: [GenerationStream.Outcome]
            do {
                outcomes = try batch.step(list.map(\.stream))
            } catch {
                // A device failure (a GPU that went away): each generation ends with what it produced,
                // and the operator reads why.
                FileHandle.standardError.write(Data("charrnn: serve: a step of '\(name)' failed: \(error)\n".utf8))
                for a in list { finish(a, reason: "error") }
                active[name] = []
                return
            }
            condition.lock()
            steps += 1
            rows += list.count
            condition.unlock()
            observer?.batchRows(list.count)
            var keep: [Active] = []
            keep.reserveCapacity(list.count)
            for (a, outcome) in zip(list, outcomes) {
                switch outcome {
                case .character(let ch):
                    observer?.characterGenerated()
                    if !a.events.append(ch, score: a.stream.lastScore) {
                        finish(a, reason: "cancelled")
                        continue
                    }
                    if a.stream.finished { finish(a, reason: "length") } else { keep.append(a) }
                case .stopped:
                    finish(a, reason: "stop")
                }
            }
            list = keep
        }
        active[name] = list
    }

    private func finish(_ a: Active, reason: String) {
        close(a.events, .finished(tokens: a.stream.produced, reason: reason))
    }

    /// Counts the generation out before its request can see the end, so a client never reads a stale count.
    private func close(_ events: GenerationEventBuffer, _ last: GenerationEvent) {
        condition.lock()
        inFlight -= 1
        let now = inFlight
        condition.unlock()
        observer?.generationsInFlight(now)
        events.finish(last)
    }
}

/// Carries a value that is used on one thread at a time to the compute thread.
struct UncheckedBox<Value>: @unchecked Sendable {
    // @unchecked: the classifier inside is only used by jobs, which run on the compute thread one at a time.
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// What an app may watch of an InferenceEngine (the server turns these into Prometheus metrics). Called
/// on the thread where the count changed; keep it quick.
public protocol InferenceEngineObserver: AnyObject, Sendable {
    func generationsInFlight(_ count: Int)
    func queueDepth(_ count: Int)
    func batchRows(_ count: Int)
    func characterGenerated()
}
