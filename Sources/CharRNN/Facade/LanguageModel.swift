import Foundation

/// A trained language model, ready to generate and evaluate text, on the CPU or a GPU: the one type an
/// app needs. It wraps a checkpoint with a TextGenerator and Evaluation, so the calls are the same on
/// either device, and so is a seed's text (up to rounding at a draw's edge: TextGenerator).
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
    private let generator: TextGenerator
    private let lock = NSLock()

    /// Loads a checkpoint file or a training folder (its best, else latest, checkpoint). `device` nil
    /// runs on the CPU; DeviceChoice.open gives one from "auto", "cuda" or "cuda:N".
    public init(contentsOf path: String, device: ComputeDevice? = nil) throws {
        checkpoint = try Checkpoint.load(path)
        self.device = device
        generator = try TextGenerator(checkpoint: checkpoint, device: device)
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
        let index = try generator.categoryIndex(category)
        lock.lock()
        defer { lock.unlock() }
        return try generator.generate(prime: prompt, length: length, options: options, seed: seed, category: index) { pieces in
            emit?(pieces[0]) ?? true
        }[0]
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
        if let deviceModel = generator.deviceModel { return try Evaluation.loss(of: deviceModel, ids: ids, streams: 1, chunk: 256) }
        return try Evaluation.loss(of: checkpoint.model, ids: ids, streams: 1, chunk: 256)
    }
}

/// Set once from any thread (a consumer that went away), read by the generating thread.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
