/// Generates text from a trained model on the CPU (Sampler) or a GPU (DeviceGenerator) with one call
/// and one seed rule: stream b of a call seeded s draws as StreamDraws(seed: s, stream: b) on either
/// device, so a seed names the same texts everywhere, whatever the number of streams. Names mode (each
/// text stops at the end of a name) and a conditional model's categories are decided here, for every
/// caller alike.
public final class TextGenerator {
    public let vocabulary: Vocabulary
    public let startCharacter: Unicode.Scalar
    /// A names model: every text starts after the start symbol and ends at the end of a name.
    public let namesMode: Bool
    /// The categories of a model trained by category (nil for any other model).
    public let categoryNames: [String]?
    /// The GPU it runs on; nil for the CPU.
    public let device: ComputeDevice?
    private let sampler: Sampler?
    private let deviceGenerator: DeviceGenerator?

    public convenience init(checkpoint: Checkpoint, device: ComputeDevice? = nil) throws {
        try self.init(model: checkpoint.model, vocabulary: checkpoint.vocabulary, startCharacter: checkpoint.startCharacter,
                      namesMode: checkpoint.info.names ?? false, categoryNames: checkpoint.info.categoryNames, device: device)
    }

    /// On a GPU the model's parameters are copied there once: later changes to `model` are not seen.
    package init(model: CharRNNModel, vocabulary: Vocabulary, startCharacter: Unicode.Scalar, namesMode: Bool = false,
                categoryNames: [String]? = nil, device: ComputeDevice? = nil) throws {
        self.vocabulary = vocabulary
        self.startCharacter = startCharacter
        self.namesMode = namesMode
        self.categoryNames = categoryNames
        self.device = device
        if let device {
            let onDevice = try DeviceModel(config: model.config, device: device)
            try onDevice.setParameters(model.parameters)
            let generator = try DeviceGenerator(model: onDevice, vocabulary: vocabulary, startCharacter: startCharacter)
            generator.namesMode = namesMode
            deviceGenerator = generator
            sampler = nil
        } else {
            let sampler = Sampler(model: model, vocabulary: vocabulary, startCharacter: startCharacter)
            sampler.namesMode = namesMode
            self.sampler = sampler
            deviceGenerator = nil
        }
    }

    /// The index of `category` for a model trained by category (which needs one); nil for another model
    /// (which takes none).
    public func categoryIndex(_ category: String?) throws -> Int32? {
        try Self.categoryIndex(category, of: categoryNames)
    }

    /// The same for any model whose categories (nil: none) are `names`: the server's batch and the CLI
    /// ask too. `option`, where given, is how the caller's user names the category (the CLI's
    /// "--category") in the messages.
    package static func categoryIndex(_ category: String?, of names: [String]?, option: String? = nil) throws -> Int32? {
        guard let names else {
            guard category == nil else {
                throw CharRNNError.invalidOption("this model was not trained with categories; drop \(option ?? "the category")")
            }
            return nil
        }
        guard let category else {
            throw CharRNNError.invalidOption("this model generates by category: give \(option ?? "a category") (one of \(names.joined(separator: ", ")))")
        }
        guard let i = names.firstIndex(of: category) else {
            throw CharRNNError.invalidOption("unknown category '\(category)'; the model knows: \(names.joined(separator: ", "))")
        }
        return Int32(i)
    }

    /// Feeds `prime` (the start character when empty) to each of `streams` texts from the zero state,
    /// then draws up to `length` characters of each. `emit` gets every stream's new characters (an empty
    /// string for a stream with none) at most `chunk` characters apart, and returns false to stop. A text
    /// ends at the options' stop character (not emitted). Returns the texts without the prime, or empty
    /// ones with `keep: false`, for a caller that takes them from `emit`.
    ///
    /// `score` (the CPU only) gets each character's CharacterScore with `alternatives` alternatives, with
    /// its stream, before `emit` gets the character. On the CPU the streams run one after another, and
    /// `emit` hears of each character as it comes.
    @discardableResult
    public func generate(prime: String, streams: Int = 1, length: Int, options: SamplingOptions, seed: UInt64,
                         category: Int32? = nil, chunk: Int = 16, keep: Bool = true,
                         emit: ([String]) -> Bool = { _ in true },
                         alternatives: Int = 0, score: ((Int, CharacterScore) -> Void)? = nil) throws -> [String] {
        guard streams >= 1 else { throw CharRNNError.invalidOption("streams must be at least 1 (got \(streams))") }
        guard length >= 0 else { throw CharRNNError.invalidOption("length must be 0 or more (got \(length))") }
        guard chunk >= 1 else { throw CharRNNError.invalidOption("chunk must be at least 1 (got \(chunk))") }
        if let deviceGenerator {
            guard score == nil else { throw CharRNNError.invalidOption("each character's score is computed on the CPU") }
            return try deviceGenerator.generate(prime: prime, streams: streams, length: length, options: options, seed: seed,
                                                category: category, chunk: chunk, keep: keep, emit: emit)
        }
        var texts: [String] = []
        var fresh = [String](repeating: "", count: streams)
        var going = true
        for b in 0..<streams where going {
            let text = try sampler!.generate(prime: prime, length: length, options: options, seed: seed, stream: b, category: category,
                                             keep: keep, alternatives: alternatives, emit: { ch in
                fresh[b] = String(ch)
                going = emit(fresh)
                fresh[b] = ""
                return going
            }, score: score.map { score in { score(b, $0) } })
            texts.append(text)
        }
        texts += [String](repeating: "", count: streams - texts.count)
        return texts
    }

    /// Why generating on the GPU fell back from replayed CUDA graphs to step-by-step launches, if it did
    /// (the text is the same either way).
    public var graphFailure: String? { deviceGenerator?.graphFailure }

    /// The model's copy on the GPU (nil on the CPU), for evaluation beside generation.
    var deviceModel: DeviceModel? { deviceGenerator?.model }
}
