import Foundation

/// A trained language model, ready to generate and evaluate text, on the CPU or a GPU: the one type an
/// app needs. It wraps a checkpoint with the CPU's Sampler or the GPU's DeviceGenerator and Evaluation,
/// so the calls are the same on either device (the texts are not: the two devices draw differently, and
/// each gives the same text for the same seed and options).
///
///     let model = try LanguageModel(contentsOf: "runs/mine")
///     for try await piece in model.generate(prompt: "ROMEO:", length: 200) { print(piece, terminator: "") }
///
/// One generation or evaluation runs at a time per model (they share its workspaces); calls from
/// several tasks wait their turn.
public final class LanguageModel: @unchecked Sendable {
    // @unchecked: every use of the model objects below holds `lock`.
    public let checkpoint: Checkpoint
    /// The GPU it runs on; nil for the CPU.
    public let device: ComputeDevice?
    private let sampler: Sampler?
    private let generator: DeviceGenerator?
    private let deviceModel: DeviceModel?
    private let lock = NSLock()

    /// Loads a checkpoint file or a training folder (its best, else latest, checkpoint). `device` nil
    /// runs on the CPU; DeviceChoice.open gives one from "auto", "cuda" or "cuda:N".
    public init(contentsOf path: String, device: ComputeDevice? = nil) throws {
        checkpoint = try Checkpoint.load(path)
        self.device = device
        if let device {
            let model = try DeviceModel(config: checkpoint.model.config, device: device)
            try model.setParameters(checkpoint.model.parameters)
            let generator = try DeviceGenerator(model: model, vocabulary: checkpoint.vocabulary, startCharacter: checkpoint.startCharacter)
            generator.namesMode = checkpoint.info.names ?? false
            self.generator = generator
            deviceModel = model
            sampler = nil
        } else {
            sampler = Sampler(checkpoint: checkpoint)
            generator = nil
            deviceModel = nil
        }
    }

    /// The categories a model trained by category generates in (nil for any other model).
    public var categories: [String]? { checkpoint.info.categoryNames }

    /// Generates up to `length` characters after `prompt`, as they come (a names model stops at the end
    /// of a name). Ending the iteration early stops the generation at its next character.
    public func generate(prompt: String, length: Int, options: SamplingOptions = SamplingOptions(),
                         seed: UInt64 = UInt64.random(in: 0...UInt64(Int64.max)), category: String? = nil)
        -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let stopped = StopFlag()
            continuation.onTermination = { _ in stopped.set() }
            let thread = Thread { [self] in
                do {
                    try generateText(prompt: prompt, length: length, options: options, seed: seed, category: category) { piece in
                        continuation.yield(piece)
                        return !stopped.isSet
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// The same, all at once: the generated text (without the prompt). `emit`, when given, gets each
    /// piece as it comes and returns false to stop.
    @discardableResult
    public func generateText(prompt: String, length: Int, options: SamplingOptions = SamplingOptions(), seed: UInt64,
                             category: String? = nil, emit: ((String) -> Bool)? = nil) throws -> String {
        guard length >= 0 else { throw CharRNNError.invalidOption("length must be 0 or more (got \(length))") }
        let index = try categoryIndex(category)
        lock.lock()
        defer { lock.unlock() }
        if let generator {
            return try generator.generate(prime: prompt, streams: 1, length: length, options: options, seed: seed, category: index,
                                          chunk: 16) { pieces in emit?(pieces[0]) ?? true }[0]
        }
        var rng = RandomGenerator(seed: seed)
        return try sampler!.generate(prime: prompt, length: length, options: options, rng: &rng, category: index) { ch in
            emit?(String(ch)) ?? true
        }
    }

    /// How well the model predicts `text`: its mean cross-entropy, perplexity and bits per character,
    /// the hidden state carried through the whole text (a names model: see `charrnn eval`).
    public func evaluate(text: String) throws -> LossReport {
        guard checkpoint.info.names != true else {
            throw CharRNNError.invalidOption("a names model reads each name from its start symbol: evaluate it with 'charrnn eval'")
        }
        let ids = try checkpoint.vocabulary.encode(text, what: "the text")
        guard ids.count >= 2 else { throw CharRNNError.invalidOption("the text needs at least 2 characters to evaluate") }
        lock.lock()
        defer { lock.unlock() }
        if let deviceModel { return try Evaluation.loss(of: deviceModel, ids: ids, streams: 1, chunk: 256) }
        return try Evaluation.loss(of: checkpoint.model, ids: ids, streams: 1, chunk: 256)
    }

    private func categoryIndex(_ category: String?) throws -> Int32? {
        guard let category else { return nil }
        guard let names = categories else { throw CharRNNError.invalidOption("this model was not trained with categories") }
        guard let i = names.firstIndex(of: category) else {
            throw CharRNNError.invalidOption("unknown category '\(category)'; the model knows: \(names.joined(separator: ", "))")
        }
        return Int32(i)
    }
}

/// Set once from any thread (a consumer that went away), read by the generating thread.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
